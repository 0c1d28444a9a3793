"""Large list downloads are written in the background (core.export_jobs) and kept under Downloads;
small ones still download at once. The worker reads the list again as the user who asked, so the
file holds what that user may see and nothing more."""

from __future__ import annotations

import io
import threading
from datetime import date, timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from openpyxl import load_workbook

from core import background, export_jobs, exports, jobs
from core.models import ExportJob, ExportStatus
from tests.enterprises.factories import EnterpriseFactory, KpiReadingFactory
from tests.locks import other_session_holds

pytestmark = pytest.mark.django_db

TODAY = date.today  # the file names carry the day the file was made


@pytest.fixture
def inline_up_to_two(settings):
    """Lists of more than two rows are written in the background (CSV too: pages stream a long CSV
    at once unless EXPORT_STREAM_CSV is off, and these tests are about the background writer)."""
    settings.EXPORT_INLINE_ROWS = 2
    settings.EXPORT_STREAM_CSV = False


def five_enterprises(sp_one) -> list:
    return [EnterpriseFactory(sub_project=sp_one, name=f"Shoe Works {i}") for i in range(5)]


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def ask_in_background(client, url: str, params: dict, capture, *, run: bool = True):
    """GET the list's download; the export's task runs once the request commits (if `run`)."""
    with capture(execute=run):
        response = client.get(url, params)
    return response


def stored(job: ExportJob) -> bytes:
    job.refresh_from_db()
    with job.file.open("rb") as handle:
        return handle.read()


def xlsx_rows(content: bytes) -> list[tuple]:
    sheet = load_workbook(io.BytesIO(content), read_only=True).active
    return [tuple(row) for row in sheet.iter_rows(values_only=True)]


# --- Small lists: at once, as before ----------------------------------------------------------------


def test_a_small_list_downloads_at_once_and_csv_streams(client, pmu, sp_one):
    five_enterprises(sp_one)
    client.force_login(pmu)

    response = client.get("/enterprises/", {"export": "csv"})

    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Disposition"] == f'attachment; filename="enterprises-{TODAY().isoformat()}.csv"'
    assert body(response).decode("utf-8-sig").count("Shoe Works") == 5
    assert not ExportJob.objects.exists()


# --- Large lists: in the background ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "file_format"),
    [
        ("/enterprises/", "csv"),
        ("/enterprises/", "xlsx"),
        ("/kpi-readings/", "csv"),
        ("/kpi-readings/", "xlsx"),
    ],
)
def test_a_large_list_is_written_in_the_background_with_the_rows_of_the_download_at_once(
    client, pmu, sp_one, settings, django_capture_on_commit_callbacks, url, file_format
):
    for enterprise in five_enterprises(sp_one):
        KpiReadingFactory(enterprise=enterprise)
    client.force_login(pmu)
    params = {"export": file_format, "district": "BD3048"}  # Kishoreganj: a filter is kept too
    at_once = body(client.get(url, params))
    settings.EXPORT_INLINE_ROWS = 2
    settings.EXPORT_STREAM_CSV = False

    response = ask_in_background(client, url, params, django_capture_on_commit_callbacks)

    assert response.status_code == 302
    assert response["Location"] == f"{url}?district=BD3048"
    page = client.get(response["Location"]).content.decode()
    assert "Your download is being prepared (5 rows, " in page
    assert "you will find it under Downloads" in page
    assert '<a class="alert-link" href="/downloads/">' in page
    job = ExportJob.objects.get()
    assert (job.user, job.path, job.query, job.file_format) == (pmu, url, "district=BD3048", file_format)
    assert (job.status, job.row_count, job.rows_written) == (ExportStatus.READY, 5, 5)
    if file_format == "csv":
        assert stored(job) == at_once
    else:
        assert xlsx_rows(stored(job)) == xlsx_rows(at_once)
        assert len(xlsx_rows(at_once)) == 6  # the headers and the five rows


def test_the_file_is_in_the_language_of_the_user_who_asked(
    client, pmu, sp_one, settings, django_capture_on_commit_callbacks
):
    five_enterprises(sp_one)
    pmu.language = "bn"
    pmu.save(update_fields=["language"])
    client.force_login(pmu)
    at_once = body(client.get("/enterprises/", {"export": "csv"}))
    settings.EXPORT_INLINE_ROWS = 2
    settings.EXPORT_STREAM_CSV = False

    ask_in_background(client, "/enterprises/", {"export": "csv"}, django_capture_on_commit_callbacks)

    job = ExportJob.objects.get()
    assert job.language == "bn"
    assert "উদ্যোগের নাম" in at_once.decode("utf-8-sig").splitlines()[0]  # "Enterprise name"
    assert stored(job) == at_once


def test_progress_is_recorded_after_each_chunk_of_rows(
    client, pmu, sp_one, inline_up_to_two, monkeypatch, django_capture_on_commit_callbacks
):
    five_enterprises(sp_one)
    monkeypatch.setattr(exports, "CHUNK_ROWS", 2)
    seen: list[tuple[str, int, int | None]] = []
    real_cell = exports._csv_cell

    def watching_cell(value):
        job = ExportJob.objects.get()
        seen.append((job.status, job.rows_written, job.row_count))
        return real_cell(value)

    monkeypatch.setattr(exports, "_csv_cell", watching_cell)
    client.force_login(pmu)

    ask_in_background(client, "/enterprises/", {"export": "csv"}, django_capture_on_commit_callbacks)

    # While the rows are written, the job shows the rows written so far, two more after each chunk.
    assert {written for _status, written, _total in seen} == {0, 2, 4}
    assert {(status, total) for status, _written, total in seen} == {(ExportStatus.RUNNING, 5)}
    assert ExportJob.objects.get().rows_written == 5


def test_asking_again_while_it_is_written_gives_the_same_export(
    client, pmu, sp_one, inline_up_to_two, django_capture_on_commit_callbacks
):
    five_enterprises(sp_one)
    client.force_login(pmu)

    for _twice in range(2):
        ask_in_background(
            client, "/enterprises/", {"export": "csv"}, django_capture_on_commit_callbacks, run=False
        )

    assert ExportJob.objects.count() == 1
    assert ExportJob.objects.get().status == ExportStatus.QUEUED


def test_a_fourth_list_waiting_at_once_is_refused_and_nothing_is_queued(
    client, pmu, sp_one, inline_up_to_two, django_capture_on_commit_callbacks
):
    five_enterprises(sp_one)
    client.force_login(pmu)
    for _thrice in range(3):
        ask_in_background(
            client,
            "/enterprises/",
            {"export": "csv", "q": "Shoe Works"},
            django_capture_on_commit_callbacks,
            run=False,
        )
    assert ExportJob.objects.count() == 1  # the same list (same filters) three times: one export

    for variant in ("Shoe", "Works", "Shoe Works"):
        ask_in_background(
            client,
            "/enterprises/",
            {"export": "csv", "q": variant},
            django_capture_on_commit_callbacks,
            run=False,
        )
    assert ExportJob.objects.count() == 3
    response = ask_in_background(
        client,
        "/enterprises/",
        {"export": "xlsx", "q": "Works"},
        django_capture_on_commit_callbacks,
        run=False,
    )

    assert response.status_code == 302
    assert ExportJob.objects.count() == 3
    page = client.get(response.headers["Location"]).content.decode()
    assert "You already have 3 downloads being prepared." in page
    # Asking again for one already waiting still answers with it.
    ask_in_background(
        client, "/enterprises/", {"export": "csv", "q": "Shoe"}, django_capture_on_commit_callbacks, run=False
    )
    assert ExportJob.objects.count() == 3


def test_an_absurdly_large_list_is_still_refused(client, pmu, sp_one, inline_up_to_two, monkeypatch):
    five_enterprises(sp_one)
    monkeypatch.setitem(exports.EXPORT_LIMITS, "csv", 4)
    client.force_login(pmu)

    page = client.get("/enterprises/", {"export": "csv"}, follow=True).content.decode()

    assert "This list has 5 rows; a CSV download holds at most 4" in page
    assert not ExportJob.objects.exists()


# --- Downloads: only the owner's --------------------------------------------------------------------


@pytest.fixture
def ready_export(client, po1, sp_one, inline_up_to_two, django_capture_on_commit_callbacks) -> ExportJob:
    five_enterprises(sp_one)
    client.force_login(po1)
    ask_in_background(client, "/enterprises/", {"export": "csv"}, django_capture_on_commit_callbacks)
    job = ExportJob.objects.get()
    assert job.status == ExportStatus.READY
    return job


def test_the_owner_lists_and_downloads_the_file(client, ready_export):
    page = client.get("/downloads/").content.decode()
    response = client.get(f"/downloads/{ready_export.pk}/file/")

    assert f'data-testid="download-{ready_export.pk}" data-status="ready"' in page
    assert f'href="/downloads/{ready_export.pk}/file/"' in page
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="enterprises-{TODAY().isoformat()}.csv"'
    assert response["Cache-Control"] == "private, no-store"
    assert body(response).decode("utf-8-sig").count("Shoe Works") == 5


@pytest.mark.parametrize("other", ["po2", "pmu"])
def test_nobody_else_gets_the_file_or_sees_it_listed(client, ready_export, request, other):
    client.force_login(request.getfixturevalue(other))

    response = client.get(f"/downloads/{ready_export.pk}/file/")
    page = client.get("/downloads/").content.decode()

    assert response.status_code == 404
    assert f"download-{ready_export.pk}" not in page
    assert 'data-testid="empty-nothing-yet"' in page


def test_downloads_need_a_sign_in(client, ready_export):
    client.logout()

    assert client.get("/downloads/").status_code == 302
    assert client.get(f"/downloads/{ready_export.pk}/file/").status_code == 302


def test_a_running_export_shows_its_progress_and_the_page_polls(client, po1, sp_one):
    job = ExportJob.objects.create(
        user=po1, title="Enterprises", path="/enterprises/", file_format="csv", row_count=8_000
    )
    ExportJob.objects.filter(pk=job.pk).update(
        status=ExportStatus.RUNNING, rows_written=2_000, heartbeat_at=timezone.now()
    )
    client.force_login(po1)

    # Its worker is alive: on PostgreSQL it holds the job's advisory lock in its own session.
    with other_session_holds((jobs.LockSpace.EXPORT_JOB, job.pk)):
        fragment = client.get("/downloads/", headers={"HX-Request": "true"}).content.decode()

    assert 'role="progressbar"' in fragment
    assert 'aria-valuenow="25"' in fragment
    assert "2,000 of 8,000 rows written" in fragment
    assert 'hx-trigger="every 2s"' in fragment
    assert "<html" not in fragment


# --- The worker reads the list as the user who asked -------------------------------------------------


def test_the_file_holds_only_the_rows_the_user_who_asked_may_see(
    client, po1, sp_one, sp_two, inline_up_to_two, django_capture_on_commit_callbacks
):
    five_enterprises(sp_one)
    for i in range(3):
        EnterpriseFactory(sub_project=sp_two, name=f"Other PO Works {i}")
    client.force_login(po1)

    ask_in_background(client, "/enterprises/", {"export": "csv"}, django_capture_on_commit_callbacks)

    text = stored(ExportJob.objects.get()).decode("utf-8-sig")
    assert text.count("Shoe Works") == 5
    assert "Other PO Works" not in text


def test_someone_who_lost_access_before_the_worker_ran_gets_no_file(
    client, po1, sp_one, inline_up_to_two, django_capture_on_commit_callbacks
):
    five_enterprises(sp_one)
    client.force_login(po1)
    with django_capture_on_commit_callbacks() as queued:
        client.get("/enterprises/", {"export": "csv"})
    po1.groups.clear()  # no longer PO staff: may not read field data

    for callback in queued:
        callback()

    job = ExportJob.objects.get()
    assert job.status == ExportStatus.FAILED
    assert not job.file
    assert "You may no longer read this list" in job.error
    page = client.get("/downloads/").content.decode()
    assert 'data-testid="download-error"' in page
    assert "You may no longer read this list" in page


def test_an_export_of_a_list_the_user_may_not_open_is_refused_by_the_worker(tec1):
    # A job naming a list its user may not read (as a forged or stale request would): the list's own
    # view refuses the user in the worker, so no row is read.
    job = ExportJob.objects.create(user=tec1, title="Enterprises", path="/enterprises/", file_format="csv")

    assert export_jobs.run(job.pk) == ExportStatus.FAILED
    job.refresh_from_db()
    assert "You may no longer read this list" in job.error
    assert not job.file


def test_a_failing_export_is_marked_failed_with_a_message(
    client, pmu, sp_one, inline_up_to_two, monkeypatch, django_capture_on_commit_callbacks
):
    five_enterprises(sp_one)

    def disk_full(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(export_jobs, "write_csv", disk_full)
    client.force_login(pmu)

    ask_in_background(client, "/enterprises/", {"export": "csv"}, django_capture_on_commit_callbacks)

    job = ExportJob.objects.get()
    assert job.status == ExportStatus.FAILED
    assert job.error.startswith("The file could not be written (OSError).")
    assert job.finished_at is not None
    assert not job.file


def test_a_running_export_whose_worker_died_is_failed_by_the_sweeper(pmu, settings):
    job = ExportJob.objects.create(user=pmu, title="Enterprises", path="/enterprises/", file_format="csv")
    ExportJob.objects.filter(pk=job.pk).update(
        status=ExportStatus.RUNNING, heartbeat_at=timezone.now() - timedelta(minutes=10)
    )
    settings.JOB_HEARTBEAT_TIMEOUT_SECONDS = 60  # without PostgreSQL's locks: silent long enough

    assert jobs.sweep()["core.ExportJob"] == 1
    job.refresh_from_db()
    assert job.status == ExportStatus.FAILED
    assert "The worker writing this file stopped (no sign of life since" in job.error


# --- The "ready" notice ---------------------------------------------------------------------------


def test_the_ready_notice_shows_until_the_file_is_downloaded(client, ready_export):
    first = client.get("/field-data/imports/").content.decode()
    again = client.get("/enterprises/").content.decode()
    client.get(f"/downloads/{ready_export.pk}/file/")
    after = client.get("/enterprises/").content.decode()

    for page in (first, again):
        assert 'data-testid="downloads-ready"' in page
        assert "Your download is ready: Enterprises (CSV, 5 rows)." in page
        assert f'href="/downloads/{ready_export.pk}/file/"' in page
    assert 'data-testid="downloads-ready"' not in after
    ready_export.refresh_from_db()
    assert ready_export.seen_at is not None


def test_opening_downloads_clears_the_notice(client, ready_export):
    client.get("/downloads/")

    assert 'data-testid="downloads-ready"' not in client.get("/enterprises/").content.decode()


def test_the_notice_is_the_owners_only(client, ready_export, po2):
    client.force_login(po2)

    assert 'data-testid="downloads-ready"' not in client.get("/enterprises/").content.decode()


def test_the_notice_is_one_query_read_once_per_request(pmu, ready_export, django_assert_num_queries):
    from django.test import RequestFactory

    request = RequestFactory().get("/")
    request.user = ready_export.user
    with django_assert_num_queries(1):
        assert [job.pk for job in export_jobs.ready_notice(request)] == [ready_export.pk]
        assert len(export_jobs.ready_notice(request)) == 1  # the same request: not read again
    someone_else = RequestFactory().get("/")
    someone_else.user = pmu
    with django_assert_num_queries(1):
        assert not export_jobs.ready_notice(someone_else)


# --- Old exports are deleted ----------------------------------------------------------------------


def test_exports_older_than_the_keeping_time_are_deleted_with_their_files(
    client, ready_export, settings, django_capture_on_commit_callbacks
):
    settings.EXPORT_KEEP_DAYS = 7
    old_file = Path(ready_export.file.path)
    ExportJob.objects.filter(pk=ready_export.pk).update(requested_at=timezone.now() - timedelta(days=8))
    ask_in_background(
        client, "/enterprises/", {"export": "xlsx"}, django_capture_on_commit_callbacks
    )  # a recent one, kept
    recent = ExportJob.objects.exclude(pk=ready_export.pk).get()

    page = client.get("/downloads/").content.decode()

    assert not ExportJob.objects.filter(pk=ready_export.pk).exists()
    assert not old_file.exists()
    assert f"download-{recent.pk}" in page
    assert Path(recent.file.path).exists()
    ExportJob.objects.filter(pk=recent.pk).update(requested_at=timezone.now() - timedelta(days=8))
    assert export_jobs.prune_exports_task() == 1  # the nightly task deletes everyone's
    assert not ExportJob.objects.exists()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_without_a_broker_the_list_answers_at_once_and_a_thread_writes_the_file(
    client, pmu, sp_one, settings, monkeypatch
):
    settings.EXPORT_JOBS_INLINE = False  # as in production without a broker
    settings.EXPORT_INLINE_ROWS = 2
    settings.EXPORT_STREAM_CSV = False
    five_enterprises(sp_one)
    # The thread waits for the test's go, given once the list has answered: the request cannot have
    # written the file, and the test's own queries never overlap the thread's.
    go = threading.Event()
    real_run = export_jobs.run

    def slow_run(job_id):
        assert threading.current_thread() is not threading.main_thread()
        go.wait(30)
        return real_run(job_id)

    monkeypatch.setattr(export_jobs, "run", slow_run)
    client.force_login(pmu)

    response = client.get("/enterprises/", {"export": "csv"})

    assert response.status_code == 302
    job = ExportJob.objects.get()
    assert job.status == ExportStatus.QUEUED
    waiting = client.get("/downloads/").content.decode()
    assert "waiting to start" in waiting
    assert 'hx-trigger="every 2s"' in waiting  # the page polls the export
    go.set()
    assert background.wait_for_threads(timeout=30)
    job.refresh_from_db()
    assert (job.status, job.rows_written) == (ExportStatus.READY, 5)
    assert body(client.get(f"/downloads/{job.pk}/file/")).decode("utf-8-sig").count("Shoe Works") == 5
