"""Uploads are measured before their rows are checked (size, header width, row count), the check
keeps to a time budget, and without a broker it runs in the background: the upload answers at once."""

from __future__ import annotations

import io
import itertools
import re
import threading
import time
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from enterprises.imports import IMPORTERS, base, files, jobs
from enterprises.models import Enterprise, ImportJob, ImportStatus
from tests.enterprises.test_imports import as_csv, as_xlsx, enterprise_row, run

pytestmark = pytest.mark.django_db


def upload(client, name: str, data: bytes, kind: str = "enterprises"):
    return client.post(
        "/field-data/imports/", {"kind": kind, "file": SimpleUploadedFile(name, data)}, follow=True
    )


class ReadTracker(io.BytesIO):
    """A file that remembers how far it was ever read."""

    furthest = 0

    def read(self, size=-1):
        data = super().read(size)
        ReadTracker.furthest = max(ReadTracker.furthest, self.tell())
        return data

    def readinto(self, buffer):
        count = super().readinto(buffer)
        ReadTracker.furthest = max(ReadTracker.furthest, self.tell())
        return count


@pytest.fixture
def no_row_is_checked(monkeypatch):
    """Fails the test if any row reaches the row-by-row check."""
    checked = []
    monkeypatch.setattr(base.Importer, "plan_chunk", lambda self, rows, *a: checked.extend(rows) or [])
    return checked


# --- Width --------------------------------------------------------------------------------------------


def test_a_header_of_50000_columns_is_refused_at_once_from_the_page(client, po1, sp_one):
    client.force_login(po1)
    header = [f"column_{index}" for index in range(50_000)]
    data = (",".join(header) + "\n" + ",".join("x" for _ in header) + "\n").encode()

    started = time.monotonic()
    page = upload(client, "wide.csv", data).content.decode()
    elapsed = time.monotonic() - started

    job = ImportJob.objects.get()
    assert elapsed < 5  # it took 57 s before the header's width was checked first
    assert job.status == ImportStatus.INVALID
    assert job.errors == [
        {
            "row": 1,
            "column": "",
            "message": "The header row has 50,000 columns; at most 100 can be read: keep only the "
            "template's columns.",
        }
    ]
    assert "The header row has 50,000 columns" in page
    assert not Enterprise.objects.exists()


def test_the_column_limit_is_a_setting_and_every_template_fits_the_default(settings, sp_one, po_one):
    assert (
        max(len(importer.columns) for importer in IMPORTERS.values())
        <= settings.ENTERPRISES_IMPORT_MAX_COLUMNS
    )
    settings.ENTERPRISES_IMPORT_MAX_COLUMNS = 5

    report = run("enterprises", as_xlsx([enterprise_row(1, sp_one)]), po_one, file_format="xlsx")

    assert [(e.row, e.message) for e in report.errors] == [
        (1, "The header row has 20 columns; at most 5 can be read: keep only the template's columns.")
    ]


# --- Length: counted by streaming, stopped at the limit, before any row is checked ----------------


def test_a_csv_longer_than_the_limit_is_refused_before_any_row_is_checked_and_read_no_further(
    settings, sp_one, po_one, no_row_is_checked
):
    settings.ENTERPRISES_IMPORT_MAX_ROWS = 50
    data = as_csv([enterprise_row(i, sp_one) for i in range(5_000)])
    ReadTracker.furthest = 0

    importer = IMPORTERS["enterprises"](partner_organization=po_one)

    report = importer.check(lambda: ReadTracker(data), "csv")

    assert [(e.row, e.message) for e in report.errors] == [
        (52, "The file has more than 50 rows: split it into smaller files.")
    ]
    assert no_row_is_checked == []
    assert ReadTracker.furthest < len(data) / 5  # the count stopped at the limit


@pytest.mark.parametrize("layout", ["usual", "unusual"])
def test_an_xlsx_longer_than_the_limit_is_refused_before_any_row_is_checked(
    settings, sp_one, po_one, no_row_is_checked, monkeypatch, layout
):
    settings.ENTERPRISES_IMPORT_MAX_ROWS = 50
    opened = []
    real_load = files.load_workbook
    monkeypatch.setattr(files, "load_workbook", lambda *a, **k: opened.append(1) or real_load(*a, **k))
    if layout == "unusual":  # the sheet's XML is not found by the fast scan: counted by openpyxl
        monkeypatch.setattr(files, "_first_sheet_path", lambda archive: None)

    report = run(
        "enterprises", as_xlsx([enterprise_row(i, sp_one) for i in range(400)]), po_one, file_format="xlsx"
    )

    assert [(e.row, e.message) for e in report.errors] == [
        (52, "The file has more than 50 rows: split it into smaller files.")
    ]
    assert no_row_is_checked == []
    # The usual workbook is measured from its raw XML, before openpyxl even loads it.
    assert opened == ([] if layout == "usual" else [1])
    assert not Enterprise.objects.exists()


def test_blank_rows_do_not_count_and_a_wrong_declared_size_loses_no_row(settings, sp_one, po_one):
    settings.ENTERPRISES_IMPORT_MAX_ROWS = 3
    blank = dict.fromkeys(enterprise_row(0, sp_one), "")
    rows = [enterprise_row(1, sp_one), *[blank] * 10, enterprise_row(2, sp_one), enterprise_row(3, sp_one)]
    # A workbook whose <dimension> claims two rows: the rows past it are still read.
    data = _rewrite_sheet(
        as_xlsx(rows),
        lambda xml: re.sub(rb'<dimension ref="[A-Z0-9:]+" ?/>', b'<dimension ref="A1:B2"/>', xml),
    )

    report = run("enterprises", data, po_one, file_format="xlsx")

    assert report.ok, report.errors
    codes = sorted(Enterprise.objects.values_list("po_code", flat=True))
    assert codes == ["ME-00001", "ME-00002", "ME-00003"]


def _rewrite_sheet(data: bytes, change) -> bytes:
    source, target = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as rewritten:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                changed = change(content)
                assert changed != content, "the sheet's <dimension> was not where the test expects it"
                content = changed
            rewritten.writestr(info, content)
    return target.getvalue()


# --- Size ---------------------------------------------------------------------------------------------


def test_a_file_larger_than_the_limit_is_refused_by_the_command_too(settings, sp_one, po_one, tmp_path):
    settings.ENTERPRISES_IMPORT_MAX_MB = 1
    path = tmp_path / "big.csv"
    path.write_bytes(as_csv([enterprise_row(1, sp_one)]) + b"\n" * 1_200_000)

    with pytest.raises(CommandError, match="1 problem"):
        call_command("import_enterprises", str(path), po=po_one.code)

    report = run("enterprises", path.read_bytes(), po_one)
    assert [e.message for e in report.errors] == [
        "The file is 1.1 MB; at most 1 MB can be imported: split it into smaller files."
    ]
    assert not Enterprise.objects.exists()


def test_a_workbook_that_unpacks_to_far_more_than_a_spreadsheet_is_refused_unopened(
    settings, sp_one, po_one, monkeypatch
):
    settings.ENTERPRISES_IMPORT_MAX_MB = 1
    data = io.BytesIO(as_xlsx([enterprise_row(1, sp_one)]))
    with zipfile.ZipFile(data, "a", zipfile.ZIP_DEFLATED) as workbook:
        workbook.writestr("xl/media/padding.bin", b"\0" * (31 * 1024 * 1024))  # compresses to ~30 KB
    opened = []
    monkeypatch.setattr(files, "load_workbook", lambda *a, **k: opened.append(1))

    report = run("enterprises", data.getvalue(), po_one, file_format="xlsx")

    assert report.errors[0].message.startswith("The workbook unpacks to 31 MB, far more than a spreadsheet")
    assert opened == []


# --- Time budget --------------------------------------------------------------------------------------


def test_a_check_over_its_time_budget_is_refused_and_writes_nothing(
    client, settings, po1, sp_one, monkeypatch
):
    settings.ENTERPRISES_IMPORT_PARSE_SECONDS = 300
    ticks = itertools.count(0, 1000)  # every look at the clock finds 1,000 s more gone
    monkeypatch.setattr(files, "_now", lambda: next(ticks))
    client.force_login(po1)

    page = upload(client, "mes.csv", as_csv([enterprise_row(i, sp_one) for i in range(600)])).content.decode()

    job = ImportJob.objects.get()
    assert job.status == ImportStatus.INVALID
    assert [e["message"] for e in job.errors] == [
        "Checking the file took more than 300 seconds, so it was stopped and nothing was imported: "
        "split it into smaller files."
    ]
    assert "Checking the file took more than 300 seconds" in page
    assert not Enterprise.objects.exists()


def test_within_the_budget_nothing_changes(settings, sp_one, po_one):
    settings.ENTERPRISES_IMPORT_PARSE_SECONDS = 300

    report = run("enterprises", as_csv([enterprise_row(i, sp_one) for i in range(600)]), po_one)

    assert report.committed
    assert report.created == 600


# --- In the background whatever the setup -------------------------------------------------------------


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_without_a_broker_the_upload_answers_at_once_and_a_thread_checks_the_file(
    client, settings, po1, sp_one, monkeypatch
):
    settings.ENTERPRISES_IMPORTS_INLINE = False  # as in production without a broker
    # Each run waits for the test's go, given once the page has answered: the request cannot have
    # done the work, and the test's own queries never overlap the thread's.
    go = {False: threading.Event(), True: threading.Event()}
    real_run_job = jobs.run_job

    def slow_run_job(job_id, *, commit):
        assert threading.current_thread() is not threading.main_thread()
        go[commit].wait(30)
        return real_run_job(job_id, commit=commit)

    monkeypatch.setattr(jobs, "run_job", slow_run_job)
    client.force_login(po1)

    page = upload(
        client, "mes.csv", as_csv([enterprise_row(i, sp_one) for i in range(1, 4)])
    ).content.decode()

    job = ImportJob.objects.get()
    assert job.status == ImportStatus.PENDING
    assert "Waiting for a worker to start" in page
    assert 'hx-trigger="every 1s"' in page  # the page polls the job
    go[False].set()
    assert jobs.wait_for_background_jobs(timeout=30)
    job.refresh_from_db()
    assert (job.status, job.rows_total, job.created_count) == (ImportStatus.VALIDATED, 3, 3)

    committed = client.post(f"/field-data/imports/{job.pk}/commit/")

    assert committed.status_code == 302
    go[True].set()
    assert jobs.wait_for_background_jobs(timeout=30)
    job.refresh_from_db()
    assert job.status == ImportStatus.DONE
    assert Enterprise.objects.count() == 3
