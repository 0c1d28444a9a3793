"""Pushing KPI readings through the API, as a PO's own MIS does every night.

- `bulk_upsert_readings`: 10,000 readings in one `POST /api/v1/kpi-readings/bulk/` with upsert (all
  of them new), end to end through the API (JSON in and out, the import's checks, the write).
- `bulk_upsert_readings_update`: the same 10,000 pushed again with other values (all updates), and
  `bulk_upsert_readings_unchanged` once more as they are (nothing to write); the table then holds
  10,000 rows for them (`bulk_upsert_readings_rows`).
- `single_create_readings`: readings created one `POST /api/v1/kpi-readings/` at a time.

All of it inside one transaction rolled back at the end, so every run starts from the same database.
The requests are answered synchronously (BULK_SYNC_MAX_ITEMS is raised to 10,000 for the run).
"""

from __future__ import annotations

import json
import os
import time
from datetime import date

from django.db import transaction
from django.test import Client
from django.test.utils import override_settings
from knox.models import AuthToken

from benchmarks._common import Report, bench_user
from core.models import PartnerOrganization
from core.roles import Role
from enterprises.models import Enterprise, KpiReading
from enterprises.models.common import OPEN_FOR_FIELD_RECORDS

ROWS = 10_000
SINGLE_REQUESTS = int(os.environ.get("BENCH_SINGLE_REQUESTS", "300"))
MONTHS = 25
KPIS = ("WATER", "SOLID_WASTE")
SINGLE_KPI = "COD"
# Enterprises of one PO, for the 10,000 readings and for the single creates.
NEEDED = max(ROWS // (MONTHS * len(KPIS)), SINGLE_REQUESTS)


class Rollback(Exception):
    pass


def _months(count: int) -> list[date]:
    """The `count` months up to last month."""
    today = date.today()
    year, month = today.year, today.month
    months = []
    for _step in range(count):
        month -= 1
        if month == 0:
            year, month = year - 1, 12
        months.append(date(year, month, 1))
    return sorted(months)


def _post(client: Client, url: str, body: object, token: str):
    return client.post(
        url,
        json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {token}",
        HTTP_ACCEPT="application/json",
    )


def _timed_bulk(client: Client, token: str, items: list[dict]) -> tuple[float, dict]:
    started = time.perf_counter()
    response = _post(client, "/api/v1/kpi-readings/bulk/", {"items": items, "upsert": True}, token)
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise RuntimeError(f"the bulk request answered {response.status_code}: {response.content[:500]!r}")
    return elapsed, response.json()


def run(report: Report) -> None:
    po = PartnerOrganization.objects.get(code="SYN-001")
    user = bench_user("bench-po-staff", Role.PO_STAFF, po)
    months = _months(MONTHS)
    enterprises = list(
        Enterprise.objects.filter(partner_organization=po, sub_project__status__in=OPEN_FOR_FIELD_RECORDS)
        .order_by("pk")
        .values_list("pk", flat=True)[:NEEDED]
    )
    if len(enterprises) < NEEDED:
        raise RuntimeError(f"SYN-001 has {len(enterprises)} enterprises open for field data; {NEEDED} needed")
    bulk_mes = enterprises[: ROWS // (MONTHS * len(KPIS))]
    items = [
        {"enterprise": me, "kpi": kpi, "period": month.isoformat(), "value": "12.5", "source": "meter"}
        for me in bulk_mes
        for kpi in KPIS
        for month in months
    ]
    client = Client()
    instance, token = AuthToken.objects.create(user)
    try:
        with override_settings(BULK_SYNC_MAX_ITEMS=ROWS), transaction.atomic():
            # Clean slate for the readings measured (rolled back with everything else).
            KpiReading.objects.filter(
                enterprise_id__in=enterprises, kpi__code__in=[*KPIS, SINGLE_KPI]
            ).delete()
            # The process's first API request pays for loading what every later one reuses.
            client.get("/api/v1/kpi-readings/?page_size=1", HTTP_AUTHORIZATION=f"Token {token}")
            elapsed, body = _timed_bulk(client, token, items)
            if body["created"] != ROWS:
                raise RuntimeError(f"expected {ROWS} created, got {body['created']}")
            report("bulk_upsert_readings", ROWS / elapsed, "rows/s")
            report("bulk_upsert_readings_seconds", elapsed, "s")
            changed = [{**item, "value": "13.75"} for item in items]
            elapsed, body = _timed_bulk(client, token, changed)
            if body["updated"] != ROWS:
                raise RuntimeError(f"expected {ROWS} updated, got {body['updated']}")
            report("bulk_upsert_readings_update", ROWS / elapsed, "rows/s")
            elapsed, body = _timed_bulk(client, token, changed)
            if body["unchanged"] != ROWS:
                raise RuntimeError(f"expected {ROWS} unchanged, got {body['unchanged']}")
            report("bulk_upsert_readings_unchanged", ROWS / elapsed, "rows/s")
            stored = KpiReading.objects.filter(enterprise_id__in=bulk_mes, kpi__code__in=KPIS).count()
            report("bulk_upsert_readings_rows", stored, "rows")
            started = time.perf_counter()
            for me in enterprises[:SINGLE_REQUESTS]:
                single = {"enterprise": me, "kpi": SINGLE_KPI, "period": months[-1].isoformat()}
                response = _post(
                    client, "/api/v1/kpi-readings/", {**single, "value": "80", "source": "measurement"}, token
                )
                if response.status_code != 201:
                    raise RuntimeError(
                        f"a single create answered {response.status_code}: {response.content!r}"
                    )
            elapsed = time.perf_counter() - started
            report("single_create_readings", SINGLE_REQUESTS / elapsed, "rows/s")
            raise Rollback
    except Rollback:
        pass
    finally:
        instance.delete()
