"""Field data at programme scale: spreadsheet import throughput and the enterprise list API.

- Import: a 10,000-row enterprise file (and a 10,000-row KPI reading file) checked and written in
  one transaction, rolled back afterwards so every run starts from the same database.
- List API: `GET /api/v1/enterprises/` at 80,000 enterprises, as a PMU officer (all of them) and as
  PO staff (their PO's), with and without filters: median and 95th percentile over repeated
  requests, and the number of SQL queries per request.
"""

from __future__ import annotations

import io
import time

from django.db import transaction
from django.test import Client
from knox.models import AuthToken

from benchmarks._common import Report, bench_user, request_latency
from core.models import PartnerOrganization, Upazila, User
from core.roles import Role
from enterprises.imports import import_file, template_csv
from enterprises.models import Enterprise, Kpi
from subprojects.models import SubProject

ROWS = 10_000
REPEATS = 30


class Rollback(Exception):
    pass


def _busiest_po() -> PartnerOrganization:
    return PartnerOrganization.objects.get(code="SYN-001")


def _enterprise_file(po: PartnerOrganization) -> bytes:
    sub_project = SubProject.objects.filter(partner_organization=po).select_related("sector").first()
    sub_sectors = list(sub_project.sector.sub_sectors.values_list("code", flat=True))
    upazilas = list(Upazila.objects.filter(district__in=po.districts.all()).select_related("district")[:40])
    lines = [template_csv("enterprises").decode("utf-8-sig").strip()]
    for index in range(ROWS):
        upazila = upazilas[index % len(upazilas)]
        gender = "female" if index % 5 < 2 else "male"
        formal = index % 4 == 0
        licence = f"BENCH/{index:06d}/2024" if formal else ""
        lat = float(upazila.latitude or 23.7) + (index % 17) * 0.001
        lon = float(upazila.longitude or 90.4) + (index % 13) * 0.001
        lines.append(
            f"BENCH-{index:05d},{sub_project.agreement_number},Bench Works {index},Owner {index},{gender},"
            f"019{index:08d},{'yes' if formal else 'no'},{licence},{sub_sectors[index % len(sub_sectors)]},,"
            f"{upazila.district.pcode},{upazila.pcode},{lat:.6f},{lon:.6f},,"
            f"1,{index % 5},{index % 3},2015,15/09/2024"
        )
    return ("\n".join(lines) + "\n").encode("utf-8")


def _reading_file(po: PartnerOrganization) -> bytes:
    codes = list(
        Enterprise.objects.filter(partner_organization=po).order_by("pk").values_list("po_code", flat=True)
    )
    kpi = Kpi.objects.get(code="DIESEL")
    lines = [template_csv("kpi-readings").decode("utf-8-sig").strip()]
    months = [f"2021-{m:02d}" for m in range(1, 13)] + [f"2022-{m:02d}" for m in range(1, 13)]
    for index in range(ROWS):
        code = codes[index % len(codes)]
        month = months[index // len(codes)]
        lines.append(f"{code},{kpi.code},{month},{100 + index % 50},{'no'},estimate")
    return ("\n".join(lines) + "\n").encode("utf-8")


def _timed_import(
    kind: str, po: PartnerOrganization, user: User, data: bytes, commit: bool
) -> tuple[float, object]:
    started = time.perf_counter()
    try:
        with transaction.atomic():
            result = import_file(
                kind,
                partner_organization=po,
                user=user,
                open_file=lambda: io.BytesIO(data),
                file_format="csv",
                commit=commit,
            )
            elapsed = time.perf_counter() - started
            raise Rollback
    except Rollback:
        pass
    return elapsed, result


def _check(ok: bool, result) -> None:
    """A benchmark of a failed import would measure the wrong thing: stop with its first errors."""
    if not ok:
        raise RuntimeError(f"the benchmark import failed: {result.errors[:5]}")


def import_throughput(report: Report) -> None:
    po = _busiest_po()
    user = bench_user("bench-po-staff", Role.PO_STAFF, po)
    data = _enterprise_file(po)
    elapsed, result = _timed_import("enterprises", po, user, data, commit=False)
    _check(result.ok, result)
    report("import_enterprises_check_10k_rows_per_s", ROWS / elapsed, "rows/s")
    elapsed, result = _timed_import("enterprises", po, user, data, commit=True)
    _check(result.committed and result.created == ROWS, result)
    report("import_enterprises_10k_rows_per_s", ROWS / elapsed, "rows/s")
    report("import_enterprises_10k_seconds", elapsed, "s")
    data = _reading_file(po)
    elapsed, result = _timed_import("kpi-readings", po, user, data, commit=True)
    _check(result.committed and result.created == ROWS, result)
    report("import_kpi_readings_10k_rows_per_s", ROWS / elapsed, "rows/s")


def list_latency(report: Report) -> None:
    po = _busiest_po()
    pmu = bench_user("bench-pmu", Role.PMU_OFFICER)
    staff = bench_user("bench-po-staff", Role.PO_STAFF, po)
    district = (
        Enterprise.objects.filter(partner_organization__code__startswith="SYN-")
        .values_list("district__pcode", flat=True)
        .first()
    )
    scenarios = [
        ("pmu", pmu, "/api/v1/enterprises/"),
        ("pmu_women_climate", pmu, "/api/v1/enterprises/?owner_gender=female&climate_vulnerable=true"),
        ("pmu_district_recp2", pmu, f"/api/v1/enterprises/?district={district}&min_verified_practices=2"),
        ("pmu_search", pmu, "/api/v1/enterprises/?q=Rahima"),
        ("po", staff, "/api/v1/enterprises/"),
        ("po_women_profile", staff, "/api/v1/enterprises/?owner_gender=female&has_validated_profile=true"),
    ]
    client = Client()
    tokens = []
    try:
        for label, user, url in scenarios:
            instance, token = AuthToken.objects.create(user)
            tokens.append(instance.pk)
            latency = request_latency(
                client,
                url,
                REPEATS,
                warm_up=3,
                HTTP_AUTHORIZATION=f"Token {token}",
                HTTP_ACCEPT="application/json",
            )
            report(f"enterprise_list_api_{label}_median", latency.median_ms, "ms")
            report(f"enterprise_list_api_{label}_p95", latency.p95_ms, "ms")
            report(f"enterprise_list_api_{label}_queries", latency.queries, "queries")
            matching = latency.last_response.json()["count"]
            report(f"enterprise_list_api_{label}_matching", matching, "enterprises")
    finally:
        AuthToken.objects.filter(pk__in=tokens).delete()


def run(report: Report) -> None:
    report("enterprises_in_database", Enterprise.objects.count(), "enterprises")
    import_throughput(report)
    list_latency(report)
