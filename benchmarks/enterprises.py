"""Field data at programme scale: spreadsheet imports, the lists (pages and API), the hardest
filter and the CSV export of every KPI reading.

- Import: a 10,000-row enterprise file (and a 10,000-row KPI reading file) checked and written in
  one transaction, rolled back afterwards so every run starts from the same database. The floor of
  the committed enterprise import: COPY of the very rows it wrote (enterprises and their history) into
  scratch copies of the two tables (same columns, defaults, constraints, foreign keys and indexes).
  The commit is timed whole (check and write) and its write alone: from the import's "writing"
  progress report (the PO locked, the checked rows confirmed, COPY, history, duplicate flags) to
  its end. Both the import and its floor are timed with the foreign-key checks PostgreSQL defers
  to the commit (the benchmark rolls back: they are run before the clock stops).
- Lists as a PMU officer (every enterprise) and as PO staff: the enterprise list's page 1 and page
  1,000, as a page and through the API, p95 and SQL queries per request. Page 1,000 is reached as a
  person or a client reaches it: by following the `next` links (the API's JSON `next`, the page's
  rel="next") from page 1 when they carry a cursor, else by asking `page=1000`; only the request
  for that page is timed, not the walk.
- The KPI readings list (page and API), and the hardest filter (district + at least two verified
  practices), page and API.
- CSV export of all KPI readings from the list page: time to its first byte (the first chunk of a
  streamed response; the whole response when it is not streamed, which the figure's name says).
"""

from __future__ import annotations

import io
import sys
import time
import traceback
from collections.abc import Callable
from datetime import date

from django.conf import settings
from django.db import connection, transaction
from django.http import StreamingHttpResponse
from django.test import Client
from knox.models import AuthToken

from benchmarks._common import Report, bench_user, nth_page_url, report_ratio, request_latency
from core.models import PartnerOrganization, Upazila, User
from core.roles import Role
from enterprises.imports import import_file, template_csv
from enterprises.models import Enterprise, Kpi, KpiReading
from subprojects.models import SubProject

ROWS = 10_000
REPEATS = 30
DEEP_PAGE = 1_000


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


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
    """10,000 new readings: a KPI none of the PO's MEs tracks, months from the programme start on."""
    mes = Enterprise.objects.filter(partner_organization=po)
    codes = list(mes.order_by("pk").values_list("po_code", flat=True))
    tracked = KpiReading.objects.filter(enterprise__in=mes).values("kpi")
    kpi = Kpi.objects.filter(is_active=True).exclude(pk__in=tracked).order_by("code").first()
    if kpi is None:
        raise RuntimeError(f"every active KPI has readings in {po.code}: no free KPI for the import")
    start = settings.PROGRAMME_START
    months = [
        date(start.year + (start.month - 1 + step) // 12, (start.month - 1 + step) % 12 + 1, 1)
        for step in range(24)
    ]
    lines = [template_csv("kpi-readings").decode("utf-8-sig").strip()]
    for index in range(ROWS):
        code = codes[index % len(codes)]
        month = months[index // len(codes)]
        lines.append(f"{code},{kpi.code},{month:%Y-%m},{100 + index % 50},{'no'},estimate")
    return ("\n".join(lines) + "\n").encode("utf-8")


def _copy_floor(po: PartnerOrganization) -> float:
    """Seconds to COPY the rows the committed import just wrote (its enterprises and their history
    rows, read back inside the import's transaction) into scratch copies of the two tables: their
    columns, defaults, indexes and checks (LIKE ... INCLUDING ALL), and their foreign keys, checked
    before the clock stops as a commit checks them."""
    seconds = 0.0
    history = Enterprise.history.model._meta.db_table
    where = "partner_organization_id = %s AND po_code LIKE 'BENCH-%%'"
    with connection.cursor() as cursor:
        for table in (Enterprise._meta.db_table, history):
            scratch = f"bench_scratch_{table}"
            # A plain table (a temporary one may not have foreign keys), gone with the rollback.
            cursor.execute(f"CREATE TABLE {scratch} (LIKE {table} INCLUDING ALL)")
            cursor.execute(
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass "
                "AND contype = 'f' ORDER BY conname",
                [table],
            )
            for number, (definition,) in enumerate(cursor.fetchall()):
                cursor.execute(f"ALTER TABLE {scratch} ADD CONSTRAINT {scratch}_fk{number} {definition}")
            rows = io.StringIO()
            query = cursor.cursor.mogrify(f"SELECT * FROM {table} WHERE {where}", [po.pk]).decode()  # noqa: S608
            cursor.cursor.copy_expert(f"COPY ({query}) TO STDOUT", rows)
            rows.seek(0)
            started = time.perf_counter()
            cursor.cursor.copy_expert(f"COPY {scratch} FROM STDIN", rows)
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            seconds += time.perf_counter() - started
    return seconds


def _timed_import(
    kind: str, po: PartnerOrganization, user: User, data: bytes, commit: bool, *, floor: bool = False
) -> tuple[float, float | None, object, float | None]:
    """Seconds, the seconds of its write (None for a check), the import's report, and (with
    `floor`) the COPY floor of what it wrote."""
    copy_seconds = None
    writing_from: list[float] = []

    def progress(stage: str, _done: int, _total: int | None) -> None:
        if stage == "writing" and not writing_from:
            writing_from.append(time.perf_counter())

    try:
        with transaction.atomic():
            started = time.perf_counter()
            result = import_file(
                kind,
                partner_organization=po,
                user=user,
                open_file=lambda: io.BytesIO(data),
                file_format="csv",
                commit=commit,
                progress=progress,
            )
            if connection.vendor == "postgresql":
                # The foreign keys PostgreSQL checks at the commit (deferred), checked now: the
                # benchmark rolls back, so its commit never comes, and that work is the write's.
                with connection.cursor() as cursor:
                    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            ended = time.perf_counter()
            elapsed = ended - started
            write = ended - writing_from[0] if writing_from else None
            if floor and connection.vendor == "postgresql":
                copy_seconds = _copy_floor(po)
            raise Rollback
    except Rollback:
        pass
    return elapsed, write, result, copy_seconds


def _check(ok: bool, result) -> None:
    """A benchmark of a failed import would measure the wrong thing: stop with its first errors."""
    if not ok:
        raise RuntimeError(f"the benchmark import failed: {result.errors[:5]}")


def import_throughput(report: Report) -> None:
    po = _busiest_po()
    user = bench_user("bench-po-staff", Role.PO_STAFF, po)
    data = _enterprise_file(po)
    elapsed, _write, result, _floor = _timed_import("enterprises", po, user, data, commit=False)
    _check(result.ok, result)
    report("import_enterprises_check_10k_rows_per_s", ROWS / elapsed, "rows/s")
    elapsed, write, result, floor = _timed_import("enterprises", po, user, data, commit=True, floor=True)
    _check(result.committed and result.created == ROWS, result)
    report("import_enterprises_10k_rows_per_s", ROWS / elapsed, "rows/s")
    report("import_enterprises_10k_seconds", elapsed, "s")
    if floor:
        report("import_enterprises_10k_copy_floor_seconds", floor, "s")
        report("import_enterprises_10k_copy_floor_rows_per_s", ROWS / floor, "rows/s")
        report_ratio(report, "import_enterprises_10k_ratio_to_copy", elapsed, floor)
    if write is not None:
        report("import_enterprises_10k_write_seconds", write, "s")
        if floor:
            report_ratio(report, "import_enterprises_10k_write_ratio_to_copy", write, floor)
    data = _reading_file(po)
    elapsed, _write, result, _floor = _timed_import("kpi-readings", po, user, data, commit=True)
    _check(result.committed and result.created == ROWS, result)
    report("import_kpi_readings_10k_rows_per_s", ROWS / elapsed, "rows/s")


def _measure(report: Report, client: Client, label: str, url: str, **headers: str) -> object:
    latency = request_latency(client, url, REPEATS, warm_up=3, **headers)
    report(f"{label}_median", latency.median_ms, "ms")
    report(f"{label}_p95", latency.p95_ms, "ms")
    report(f"{label}_queries", latency.queries, "queries")
    return latency


def _deep_page(report: Report, client: Client, label: str, url: str, **headers: str) -> None:
    started = time.perf_counter()
    deep, how = nth_page_url(client, url, DEEP_PAGE, **headers)
    if deep is None:
        _log(f"  {label}: the list has fewer than {DEEP_PAGE:,} pages ({how})")
        return
    walked = time.perf_counter() - started
    _log(f"  {label}: page {DEEP_PAGE:,} reached by {how} in {walked:.0f} s: {deep[:90]}")
    _measure(report, client, f"{label}_page{DEEP_PAGE}", deep, **headers)


def _hardest_district() -> str:
    """The district with the most synthetic enterprises: the filter's largest answer."""
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT d.pcode FROM enterprises_enterprise e JOIN core_district d ON d.id = e.district_id
               GROUP BY d.pcode ORDER BY COUNT(*) DESC, d.pcode LIMIT 1"""
        )
        return cursor.fetchone()[0]


def list_latency(report: Report) -> None:
    po = _busiest_po()
    pmu = bench_user("bench-pmu", Role.PMU_OFFICER)
    staff = bench_user("bench-po-staff", Role.PO_STAFF, po)
    district = _hardest_district()
    hardest = f"district={district}&min_verified_practices=2"
    api_scenarios = [
        ("pmu", pmu, "/api/v1/enterprises/", True),
        ("pmu_women_climate", pmu, "/api/v1/enterprises/?owner_gender=female&climate_vulnerable=true", False),
        ("pmu_district_recp2", pmu, f"/api/v1/enterprises/?{hardest}", False),
        ("pmu_search", pmu, "/api/v1/enterprises/?q=Rahima", False),
        ("po", staff, "/api/v1/enterprises/", False),
        (
            "po_women_profile",
            staff,
            "/api/v1/enterprises/?owner_gender=female&has_validated_profile=true",
            False,
        ),
    ]
    client = Client()
    tokens = []
    try:
        for label, user, url, deep in api_scenarios:
            instance, token = AuthToken.objects.create(user)
            tokens.append(instance.pk)
            headers = {"HTTP_AUTHORIZATION": f"Token {token}", "HTTP_ACCEPT": "application/json"}
            latency = _measure(report, client, f"enterprise_list_api_{label}", url, **headers)
            body = latency.last_response.json()
            # Above LIST_COUNT_LIMIT the API's count stops, and says so.
            unit = "enterprises or more" if body.get("count_capped") else "enterprises"
            report(f"enterprise_list_api_{label}_matching", body["count"], unit)
            if deep:
                _deep_page(report, client, f"enterprise_list_api_{label}", url, **headers)
        instance, token = AuthToken.objects.create(pmu)
        tokens.append(instance.pk)
        headers = {"HTTP_AUTHORIZATION": f"Token {token}", "HTTP_ACCEPT": "application/json"}
        _measure(report, client, "kpi_reading_list_api_pmu", "/api/v1/kpi-readings/", **headers)
    finally:
        AuthToken.objects.filter(pk__in=tokens).delete()

    pages = Client()
    pages.force_login(pmu)
    _measure(report, pages, "enterprise_list_page_pmu", "/enterprises/")
    _deep_page(report, pages, "enterprise_list_page_pmu", "/enterprises/")
    _measure(report, pages, "enterprise_list_page_pmu_district_recp2", f"/enterprises/?{hardest}")
    _measure(report, pages, "kpi_reading_list_page_pmu", "/kpi-readings/")
    po_pages = Client()
    po_pages.force_login(staff)
    _measure(report, po_pages, "enterprise_list_page_po", "/enterprises/")


def export_first_byte(report: Report) -> None:
    """The CSV of every KPI reading, as the PMU downloads it from the list page."""
    client = Client()
    client.force_login(bench_user("bench-pmu", Role.PMU_OFFICER))
    url = "/kpi-readings/?export=csv"
    started = time.perf_counter()
    response = client.get(url)
    if response.status_code != 200:
        raise RuntimeError(f"{url} answered {response.status_code}")
    if isinstance(response, StreamingHttpResponse):
        # The first chunk may be only the byte-order mark: also time the first data row (the header
        # line, then one more line).
        chunks = iter(response.streaming_content)
        first = next(chunks, b"")
        report("export_kpi_readings_csv_first_byte_seconds", time.perf_counter() - started, "s")
        received = bytes(first)
        while received.count(b"\n") < 2:
            chunk = next(chunks, None)
            if chunk is None:
                break
            received += chunk
        report("export_kpi_readings_csv_first_row_seconds", time.perf_counter() - started, "s")
        response.close()  # the rest is not read: the rows' cursor is closed
        _log(f"  streamed: first chunk of {len(first):,} bytes")
    else:
        elapsed = time.perf_counter() - started
        report("export_kpi_readings_csv_whole_response_seconds", elapsed, "s")
        _log(f"  not streamed: the whole response ({len(response.content):,} bytes) timed")


def run(report: Report) -> None:
    report("enterprises_in_database", Enterprise.objects.count(), "enterprises")
    failed = []
    # Each part on its own: one that fails must not hide the others' figures.
    parts: list[Callable[[Report], None]] = [import_throughput, list_latency, export_first_byte]
    for part in parts:
        try:
            part(report)
        except Exception:  # noqa: BLE001 - reported, then raised at the end
            _log(f"{part.__name__} failed:\n{traceback.format_exc()}")
            failed.append(part.__name__)
    if failed:
        raise RuntimeError(f"failed: {', '.join(failed)}")
