"""Imports in the browser: upload, preview, commit; templates; who may import and see what."""

from __future__ import annotations

import io
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import load_workbook

from core import jobs, lifecycle
from core.errors import ActionRefused
from enterprises.imports.base import Importer
from enterprises.imports.jobs import request_commit, run_job
from enterprises.models import Enterprise, ImportJob, ImportStatus
from subprojects.models import Transition
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


# --- An import job's status moves through the one engine ------------------------------------------


def _log(job) -> list[tuple]:
    return [(t.action, t.from_state, t.to_state, t.actor) for t in lifecycle.transitions_of(job)]


def test_each_move_of_an_import_is_one_log_row_shown_on_its_page(client, po1, sp_one):
    client.force_login(po1)
    upload(client, "mes.csv", as_csv([enterprise_row(1, sp_one)]))
    job = ImportJob.objects.get()

    client.post(f"/field-data/imports/{job.pk}/commit/")
    page = client.get(f"/field-data/imports/{job.pk}/").content.decode()

    assert _log(job) == [
        ("check", "pending", "validating", None),
        ("pass_check", "validating", "validated", None),
        ("commit", "validated", "committing", po1),
        ("finish", "committing", "done", None),
    ]
    assert 'data-testid="timeline"' in page
    assert "Import requested: ready to import → importing" in page
    assert "Imported: importing → imported" in page


def test_a_redelivered_task_does_nothing_and_logs_nothing(client, po1, sp_one):
    client.force_login(po1)
    upload(client, "mes.csv", as_csv([enterprise_row(1, sp_one)]))
    job = ImportJob.objects.get()
    client.post(f"/field-data/imports/{job.pk}/commit/")
    rows = Transition.objects.count()

    assert (run_job(job.pk, commit=False), run_job(job.pk, commit=True)) == ("skipped", "skipped")
    assert Transition.objects.count() == rows
    assert Enterprise.objects.count() == 1


def test_of_two_requests_to_import_one_wins_and_the_other_changes_nothing(client, po1, sp_one):
    client.force_login(po1)
    upload(client, "mes.csv", as_csv([enterprise_row(1, sp_one)]))
    job = ImportJob.objects.get()
    stale = ImportJob.objects.get(pk=job.pk)  # read by a second tab before the first request
    request_commit(user=po1, job=job)

    with pytest.raises(ActionRefused) as refused:
        request_commit(user=po1, job=stale)

    assert refused.value.code == "wrong_state"
    assert "cannot be imported now (its status: imported)" in str(refused.value)
    assert [row[0] for row in _log(job)].count("commit") == 1
    assert Enterprise.objects.count() == 1


def test_a_failure_is_logged_with_its_reason(client, po1, sp_one, monkeypatch):
    from enterprises.imports import jobs

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(jobs, "import_file", broken)
    client.force_login(po1)
    upload(client, "mes.csv", as_csv([enterprise_row(1, sp_one)]))

    job = ImportJob.objects.get()
    assert job.status == ImportStatus.FAILED
    assert _log(job)[-1] == ("fail", "validating", "failed", None)
    assert lifecycle.transitions_of(job).last().comment == job.failure
    assert "RuntimeError" in job.failure


def test_the_api_commit_refuses_by_role_and_state_and_logs_one_commit(api, po1, pmu, sp_one):
    client = api.as_user(po1)
    job = client.post(
        "/api/v1/import-jobs/",
        {"kind": "enterprises", "file": SimpleUploadedFile("mes.csv", as_csv([enterprise_row(1, sp_one)]))},
        format="multipart",
    ).json()

    by_pmu = api.as_user(pmu).post(f"/api/v1/import-jobs/{job['id']}/commit/")
    first = api.as_user(po1).post(f"/api/v1/import-jobs/{job['id']}/commit/")
    again = api.post(f"/api/v1/import-jobs/{job['id']}/commit/")

    assert (by_pmu.status_code, first.status_code, again.status_code) == (403, 200, 409)
    assert Transition.objects.filter(action="commit").count() == 1


def test_an_import_status_cannot_be_saved_outside_the_engine(client, po1, sp_one):
    client.force_login(po1)
    upload(client, "mes.csv", as_csv([enterprise_row(1, sp_one)]))
    job = ImportJob.objects.get()
    job.status = ImportStatus.DONE

    with pytest.raises(lifecycle.StateChangedOutsideLifecycle):
        job.save()

    assert ImportJob.objects.get().status == ImportStatus.VALIDATED


# --- A job whose worker died is failed, then retried or cancelled by its PO's staff ---------------


class WorkerKilled(BaseException):
    """What a killed worker leaves behind: its code stops where it is (no `except Exception` runs)."""


def job_fields(job: ImportJob) -> dict:
    job.refresh_from_db()
    return {f.attname: getattr(job, f.attname) for f in ImportJob._meta.concrete_fields} | {"log": _log(job)}


def checked_job(client, po1, sp_one, rows: int = 3) -> ImportJob:
    client.force_login(po1)
    upload(client, "mes.csv", as_csv([enterprise_row(i, sp_one) for i in range(1, rows + 1)]))
    job = ImportJob.objects.get()
    assert job.status == ImportStatus.VALIDATED
    return job


def failed_job(client, po1, sp_one, monkeypatch) -> ImportJob:
    """A file whose check stopped on an unexpected error."""
    from enterprises.imports import jobs

    with monkeypatch.context() as patch:
        patch.setattr(jobs, "import_file", mock.Mock(side_effect=RuntimeError("disk full")))
        client.force_login(po1)
        upload(client, "mes.csv", as_csv([enterprise_row(i, sp_one) for i in range(1, 4)]))
    job = ImportJob.objects.get()
    assert job.status == ImportStatus.FAILED
    return job


def test_an_import_whose_worker_died_while_writing_is_failed_then_retried_to_exactly_the_files_rows(
    client, po1, pmu, sp_one, settings, monkeypatch
):
    job = checked_job(client, po1, sp_one)
    # The import is queued for a worker (none runs it here), which then dies in the middle of writing.
    settings.ENTERPRISES_IMPORTS_INLINE = False
    client.post(f"/field-data/imports/{job.pk}/commit/")
    settings.ENTERPRISES_IMPORTS_INLINE = True
    write = Importer.write

    def dying_write(self, plans, report):
        write(self, plans, report)
        raise WorkerKilled

    with monkeypatch.context() as patch:
        patch.setattr(Importer, "write", dying_write)
        with pytest.raises(WorkerKilled):
            run_job(job.pk, commit=True)
    job.refresh_from_db()
    assert (job.status, job.phase) == (ImportStatus.COMMITTING, "checking")
    assert not Enterprise.objects.exists()  # the rows are written all together or not at all

    settings.JOB_HEARTBEAT_TIMEOUT_SECONDS = 0  # without PostgreSQL's locks: silent long enough
    assert jobs.sweep()["enterprises.ImportJob"] == 1

    page = client.get(f"/field-data/imports/{job.pk}/").content.decode()
    job.refresh_from_db()
    assert job.status == ImportStatus.FAILED
    assert "The worker importing this file stopped (no sign of life since" in job.failure
    assert "nothing was written" in job.failure
    assert 'data-testid="import-failure"' in page
    assert "no sign of life since" in page
    assert 'data-action="retry"' in page
    assert 'data-action="cancel"' in page
    client.force_login(pmu)
    pmu_page = client.get(f"/field-data/imports/{job.pk}/").content.decode()
    assert "no sign of life since" in pmu_page
    assert 'data-testid="import-actions"' not in pmu_page
    client.force_login(po1)

    retried = client.post(f"/field-data/imports/{job.pk}/?action=retry", follow=True).content.decode()

    job.refresh_from_db()
    assert job.status == ImportStatus.VALIDATED  # checked again (inline here)
    assert (job.failure, job.created_count, job.committed_by) == ("", 3, None)
    assert "The file is being checked again." in retried
    assert "Importing it would create 3" in retried

    client.post(f"/field-data/imports/{job.pk}/commit/")

    job.refresh_from_db()
    assert (job.status, job.created_count) == (ImportStatus.DONE, 3)
    assert sorted(Enterprise.objects.values_list("po_code", flat=True)) == [
        "ME-00001",
        "ME-00002",
        "ME-00003",
    ]
    assert [row[0] for row in _log(job)] == [
        "check", "pass_check", "commit", "fail", "retry", "check", "pass_check", "commit", "finish",
    ]  # fmt: skip
    assert _log(job)[4] == ("retry", "failed", "pending", po1)


def test_the_owner_cancels_an_import_that_then_cannot_be_imported(client, api, po1, sp_one):
    job = checked_job(client, po1, sp_one)

    page = client.get(f"/field-data/imports/{job.pk}/").content.decode()
    cancelled = client.post(f"/field-data/imports/{job.pk}/?action=cancel", follow=True).content.decode()
    commit = api.as_user(po1).post(f"/api/v1/import-jobs/{job.pk}/commit/")
    client.post(f"/field-data/imports/{job.pk}/commit/")

    job.refresh_from_db()
    assert 'data-action="cancel"' in page
    assert 'data-action="retry"' not in page
    assert job.status == ImportStatus.CANCELLED
    assert "nothing of this file was imported" in cancelled
    assert 'data-testid="commit-form"' not in cancelled
    assert commit.status_code == 409
    assert not Enterprise.objects.exists()
    assert _log(job)[-1] == ("cancel", "validated", "cancelled", po1)


def test_the_api_retries_a_failed_import_and_imports_it(client, api, po1, sp_one, monkeypatch):
    job = failed_job(client, po1, sp_one, monkeypatch)
    po_api = api.as_user(po1)

    retried = po_api.post(f"/api/v1/import-jobs/{job.pk}/retry/")
    committed = po_api.post(f"/api/v1/import-jobs/{job.pk}/commit/")

    assert retried.status_code == 200
    assert (retried.json()["status"], retried.json()["failure"]) == ("validated", "")
    assert committed.json()["status"] == "done"
    assert Enterprise.objects.count() == 3


def test_only_the_pos_own_staff_retry_or_cancel_and_a_refusal_changes_nothing(
    client, api, po1, po2, pmu, sp_one, monkeypatch
):
    job = failed_job(client, po1, sp_one, monkeypatch)
    before = job_fields(job)

    answers = {}
    for name, user in (("po2", po2), ("pmu", pmu)):
        client.force_login(user)
        for action in ("retry", "cancel"):
            page = client.post(f"/field-data/imports/{job.pk}/?action={action}")
            answer = api.as_user(user).post(f"/api/v1/import-jobs/{job.pk}/{action}/")
            answers[(name, action)] = (page.status_code, answer.status_code)
    client.force_login(po1)
    not_an_action = [
        client.post(f"/field-data/imports/{job.pk}/?action={a}").status_code for a in ("fail", "")
    ]

    # Another PO's job does not exist for po2 (404); the PMU sees it but may not act (403).
    assert answers == {
        ("po2", "retry"): (404, 404),
        ("po2", "cancel"): (404, 404),
        ("pmu", "retry"): (403, 403),
        ("pmu", "cancel"): (403, 403),
    }
    assert not_an_action == [403, 403]
    assert job_fields(job) == before


@pytest.mark.parametrize(
    ("status", "action"),
    [
        (ImportStatus.VALIDATED, "retry"),
        (ImportStatus.INVALID, "retry"),
        (ImportStatus.DONE, "retry"),
        (ImportStatus.DONE, "cancel"),
        (ImportStatus.COMMITTING, "cancel"),
        (ImportStatus.VALIDATING, "retry"),
        (ImportStatus.CANCELLED, "retry"),
        (ImportStatus.CANCELLED, "cancel"),
    ],
)
def test_retry_and_cancel_in_the_wrong_state_are_refused_and_change_nothing(
    client, api, po1, sp_one, status, action
):
    job = checked_job(client, po1, sp_one)
    ImportJob.objects.filter(pk=job.pk).update(status=status)
    before = job_fields(job)

    page = client.post(f"/field-data/imports/{job.pk}/?action={action}", follow=True)
    answer = api.as_user(po1).post(f"/api/v1/import-jobs/{job.pk}/{action}/")

    assert page.status_code == 200
    assert "is not possible while" in page.content.decode()
    assert (answer.status_code, answer.json()["code"]) == (409, "wrong_state")
    assert job_fields(job) == before
    assert Enterprise.objects.count() == 0
