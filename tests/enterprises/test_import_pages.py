"""Imports in the browser: upload, preview, commit; templates; who may import and see what."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import load_workbook

from enterprises.models import Enterprise, ImportJob, ImportStatus
from tests.enterprises.test_imports import as_csv, as_xlsx, enterprise_row

pytestmark = pytest.mark.django_db


def upload(client, name: str, data: bytes, kind: str = "enterprises"):
    return client.post(
        "/field-data/imports/", {"kind": kind, "file": SimpleUploadedFile(name, data)}, follow=True
    )


def test_po_staff_upload_see_the_preview_then_import(client, po1, sp_one):
    client.force_login(po1)

    response = upload(client, "mes.xlsx", as_xlsx([enterprise_row(i, sp_one) for i in range(1, 4)]))

    page = response.content.decode()
    job = ImportJob.objects.get()
    assert response.redirect_chain[-1][0] == f"/field-data/imports/{job.pk}/"
    assert "The file is valid: 3 rows. Importing it would create 3, update 0 and leave 0 unchanged." in page
    assert "ME-00001 · Shoe Works 1" in page
    assert not Enterprise.objects.exists()

    committed = client.post(f"/field-data/imports/{job.pk}/commit/", follow=True)

    assert "3 created, 0 updated, 0 unchanged" in committed.content.decode()
    assert Enterprise.objects.count() == 3
    job.refresh_from_db()
    assert (job.status, job.committed_by) == (ImportStatus.DONE, po1)


def test_a_file_with_errors_shows_each_row_column_and_reason_and_offers_them_as_csv(client, po1, sp_one):
    client.force_login(po1)
    rows = [
        enterprise_row(1, sp_one),
        enterprise_row(2, sp_one, owner_gender="x", registered_on="2099-01-01"),
    ]

    page = upload(client, "mes.csv", as_csv(rows)).content.decode()
    job = ImportJob.objects.get()
    report = client.get(f"/field-data/imports/{job.pk}/errors.csv").content.decode("utf-8-sig")

    assert "The file has 2 problems: nothing was imported." in page
    assert "<code>owner_gender</code>" in page
    assert report.splitlines()[1].startswith("3,owner_gender,")
    assert 'data-testid="commit-form"' not in page
    assert client.post(f"/field-data/imports/{job.pk}/commit/").status_code == 302
    assert not Enterprise.objects.exists()


def test_a_file_that_is_not_a_spreadsheet_is_refused_by_its_content(client, po1):
    client.force_login(po1)

    page = upload(client, "mes.xlsx", b"<html><body>not a workbook</body></html>").content.decode()

    assert "does not contain what its name says" in page
    assert not ImportJob.objects.exists()


def test_an_unreadable_workbook_ends_the_job_with_a_message(client, po1):
    client.force_login(po1)
    broken = as_xlsx([{"a": "b"}])[:-200]  # a zip cut short

    upload(client, "mes.xlsx", broken)

    job = ImportJob.objects.get()
    if job.status == ImportStatus.FAILED:
        assert "could not be read as XLSX" in job.failure
    else:  # libmagic may not even recognise the truncated zip
        assert job.status == ImportStatus.INVALID


def test_another_po_cannot_see_or_commit_the_import(client, po1, po2, sp_one):
    client.force_login(po1)
    upload(client, "mes.csv", as_csv([enterprise_row(1, sp_one)]))
    job = ImportJob.objects.get()
    client.force_login(po2)

    assert client.get(f"/field-data/imports/{job.pk}/").status_code == 404
    assert client.post(f"/field-data/imports/{job.pk}/commit/").status_code == 404
    assert "mes.csv" not in client.get("/field-data/imports/").content.decode()
    assert not Enterprise.objects.exists()


def test_the_pmu_follows_imports_but_does_not_upload_or_commit(client, po1, pmu, sp_one):
    client.force_login(po1)
    upload(client, "mes.csv", as_csv([enterprise_row(1, sp_one)]))
    job = ImportJob.objects.get()
    client.force_login(pmu)

    assert client.get(f"/field-data/imports/{job.pk}/").status_code == 200
    assert client.post(f"/field-data/imports/{job.pk}/commit/").status_code == 403
    assert upload(client, "x.csv", as_csv([enterprise_row(2, sp_one)])).status_code == 403
    assert ImportJob.objects.count() == 1


def test_progress_fragment_polls_while_running_and_stops_when_done(client, po1, sp_one):
    client.force_login(po1)
    upload(client, "mes.csv", as_csv([enterprise_row(1, sp_one)]))
    job = ImportJob.objects.get()
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.VALIDATING, rows_done=400, rows_total=1000)

    running = client.get(
        f"/field-data/imports/{job.pk}/progress/", headers={"HX-Request": "true"}
    ).content.decode()
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.VALIDATED)
    finished = client.get(
        f"/field-data/imports/{job.pk}/progress/", headers={"HX-Request": "true"}
    ).content.decode()

    assert 'hx-trigger="every 1s"' in running
    assert "40%" in running
    assert "hx-trigger" not in finished
    assert "The file is valid" in finished


@pytest.mark.parametrize(
    "kind",
    [
        "enterprises",
        "financial-supports",
        "trainings",
        "attendances",
        "adoptions",
        "kpi-readings",
        "facilities",
    ],
)
def test_every_kind_has_a_csv_and_an_excel_template(client, po1, kind):
    client.force_login(po1)

    csv_template = client.get(f"/field-data/imports/templates/{kind}.csv")
    xlsx_template = client.get(f"/field-data/imports/templates/{kind}.xlsx")

    header = csv_template.content.decode("utf-8-sig").strip().split(",")
    workbook = load_workbook(io.BytesIO(xlsx_template.content))
    assert [cell.value for cell in workbook.worksheets[0][1]] == header
    assert "help" in workbook.sheetnames


def test_an_imported_template_with_the_help_sheet_left_in_reads_only_the_first_sheet(client, po1, sp_one):
    client.force_login(po1)
    workbook = load_workbook(io.BytesIO(client.get("/field-data/imports/templates/enterprises.xlsx").content))
    sheet = workbook.worksheets[0]
    row = enterprise_row(1, sp_one)
    sheet.append([row[cell.value] for cell in sheet[1]])
    buffer = io.BytesIO()
    workbook.save(buffer)

    upload(client, "filled.xlsx", buffer.getvalue())

    assert ImportJob.objects.get().status == ImportStatus.VALIDATED
