"""Aggregation runs and results reports move only through their lifecycles (monitoring.lifecycles):
every move is the portal's and writes one log row; a refused move changes nothing; of two workers
handed the same job, only one starts it."""

from __future__ import annotations

import threading
import time
from datetime import date
from unittest import mock

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from core import lifecycle
from core.errors import ActionRefused
from monitoring import aggregation, reports
from monitoring.models import AggregationLock, AggregationRun, ReportJob, RunStatus, RunTrigger, Snapshot
from tests.core.test_jobs_sweeper import aggregation_held_by

AS_OF = date(2025, 6, 30)
QUEUED, RUNNING, SUCCEEDED, FAILED, SKIPPED = (
    RunStatus.QUEUED,
    RunStatus.RUNNING,
    RunStatus.SUCCEEDED,
    RunStatus.FAILED,
    RunStatus.SKIPPED,
)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    """Report files go under a temporary media root, never the developer's."""
    settings.MEDIA_ROOT = tmp_path / "media"


def log_of(obj) -> list[tuple]:
    """The object's log: (action, from, to, actor, comment) per row, oldest first."""
    return [
        (row.action, row.from_state, row.to_state, row.actor, row.comment)
        for row in lifecycle.transitions_of(obj)
    ]


def queued_run() -> AggregationRun:
    return AggregationRun.objects.create(as_of=AS_OF, trigger=RunTrigger.BUTTON)


def queued_job(user) -> ReportJob:
    return ReportJob.objects.create(kind="isr", file_format="xlsx", as_of=AS_OF, requested_by=user)


def fields(obj) -> dict:
    obj.refresh_from_db()
    return {f.name: getattr(obj, f.name) for f in obj._meta.concrete_fields if f.name != "file"} | (
        {"file": obj.file.name} if hasattr(obj, "file") else {}
    )


# --- The tables -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "table"),
    [
        (
            AggregationRun,
            {
                "start": ({QUEUED}, RUNNING),
                "skip": ({QUEUED}, SKIPPED),
                "succeed": ({RUNNING}, SUCCEEDED),
                "fail": ({RUNNING}, FAILED),
            },
        ),
        (
            ReportJob,
            {"start": ({QUEUED}, RUNNING), "succeed": ({RUNNING}, SUCCEEDED), "fail": ({RUNNING}, FAILED)},
        ),
    ],
)
def test_only_the_portal_moves_a_job(model, table):
    rules = lifecycle.rules_for(model)

    assert {r.action: (set(r.sources), r.target) for r in rules} == table
    assert all(r.by_portal and not r.roles and not r.button for r in rules)


@pytest.mark.parametrize("persona", ["pmu", "wb", "approver", "po1"])
def test_no_person_may_move_a_run_or_a_report(db, request, persona):
    user = request.getfixturevalue(persona)
    run, job = queued_run(), queued_job(user)

    for obj, action, params in ((run, "start", {}), (job, "fail", {"error": "no"})):
        before = fields(obj)
        assert lifecycle.available_rules(user, obj) == []
        with pytest.raises(ActionRefused) as refusal:
            lifecycle.apply(obj, action, user, **params)
        assert refusal.value.is_forbidden
        assert fields(obj) == before
        assert log_of(obj) == []


def test_a_status_saved_outside_the_engine_is_refused(db):
    run = queued_run()
    run.status = RunStatus.SUCCEEDED

    with pytest.raises(lifecycle.StateChangedOutsideLifecycle):
        run.save()
    assert AggregationRun.objects.get(pk=run.pk).status == QUEUED


# --- Each move writes one log row, by the portal --------------------------------------------------


def test_a_run_that_succeeds_logs_its_start_and_its_end(db):
    run = aggregation.run_now(as_of=AS_OF)

    assert log_of(run) == [("start", QUEUED, RUNNING, None, ""), ("succeed", RUNNING, SUCCEEDED, None, "")]
    assert run.started_at <= run.finished_at
    assert run.rows_written == AggregationRun.objects.get(pk=run.pk).rows_written > 0
    assert Snapshot.objects.get(as_of=AS_OF).run == run


def test_a_run_that_fails_logs_why(db):
    with mock.patch.object(aggregation, "refresh_snapshot", side_effect=RuntimeError("disk full")):
        run = aggregation.run_now(as_of=AS_OF)

    assert run.status == FAILED
    assert run.error == "RuntimeError: disk full"
    assert run.finished_at is not None
    assert log_of(run) == [
        ("start", QUEUED, RUNNING, None, ""),
        ("fail", RUNNING, FAILED, None, "RuntimeError: disk full"),
    ]


def test_a_skipped_run_logs_which_run_was_in_progress(db):
    holder = AggregationRun.objects.create(as_of=AS_OF, trigger=RunTrigger.SCHEDULE, status=RUNNING)

    with aggregation_held_by(holder):
        run = aggregation.run_now(as_of=AS_OF, trigger=RunTrigger.API)

    assert (run.status, run.error, run.started_at) == (SKIPPED, f"run {holder.pk} was in progress", None)
    assert run.finished_at is not None
    assert log_of(run) == [("skip", QUEUED, SKIPPED, None, f"run {holder.pk} was in progress")]
    assert log_of(holder) == []  # the holder is not moved


def test_a_report_logs_its_start_and_its_end(pmu):
    aggregation.refresh_snapshot(AS_OF)
    job = reports.generate(queued_job(pmu))

    assert job.status == SUCCEEDED, job.error
    assert job.file.name.endswith(".xlsx")
    assert job.finished_at is not None
    assert log_of(job) == [("start", QUEUED, RUNNING, None, ""), ("succeed", RUNNING, SUCCEEDED, None, "")]


def test_a_report_that_fails_logs_why_and_stores_no_file(pmu):
    aggregation.refresh_snapshot(AS_OF)
    with mock.patch.object(reports, "render", side_effect=RuntimeError("disk full")):
        job = reports.generate(queued_job(pmu))

    assert job.status == FAILED
    assert "RuntimeError: disk full" in job.error
    assert not job.file
    assert log_of(job) == [("start", QUEUED, RUNNING, None, ""), ("fail", RUNNING, FAILED, None, job.error)]


def test_a_report_whose_file_cannot_be_stored_fails(pmu):
    aggregation.refresh_snapshot(AS_OF)
    with mock.patch.object(ReportJob.file.field.storage, "save", side_effect=OSError("no space left")):
        job = reports.generate(queued_job(pmu))

    assert job.status == FAILED
    assert "OSError: no space left" in job.error
    assert [row[0] for row in log_of(job)] == ["start", "fail"]


# --- A refused move changes nothing ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "action", "params"),
    [
        (SUCCEEDED, "start", {}),
        (SKIPPED, "start", {}),
        (QUEUED, "succeed", {"rows_written": 5}),
        (FAILED, "fail", {"error": "again"}),
        (RUNNING, "skip", {"error": "run 1 was in progress"}),
    ],
)
def test_a_move_from_the_wrong_state_changes_nothing(db, status, action, params):
    run = AggregationRun.objects.create(as_of=AS_OF, trigger=RunTrigger.SCHEDULE, status=status)
    before = fields(run)

    with pytest.raises(ActionRefused) as refusal:
        lifecycle.apply(run, action, None, **params)

    assert refusal.value.code == "wrong_state"
    assert fields(run) == before
    assert log_of(run) == []


def test_a_run_handed_again_after_it_ended_is_left_alone(db):
    """A task delivered twice: the second delivery finds the run finished and changes nothing."""
    run = queued_run()
    stale = AggregationRun.objects.get(pk=run.pk)
    aggregation.execute(run)
    before = fields(run)

    again = aggregation.execute(stale)

    assert again.status == SUCCEEDED
    assert fields(run) == before
    assert [row[0] for row in log_of(run)] == ["start", "succeed"]
    assert AggregationLock.objects.get().held_by is None  # the lock taken for nothing is given back
    assert aggregation.run_now(as_of=AS_OF).status == SUCCEEDED


def test_a_run_handed_again_while_it_runs_is_not_marked_skipped(db):
    """The second delivery finds the lock held by the run itself: the run stays running, untouched."""
    run = queued_run()
    stale = AggregationRun.objects.get(pk=run.pk)
    lifecycle.apply(run, "start", None)
    before = fields(run)

    with aggregation_held_by(run):
        again = aggregation.execute(stale)

        assert again.status == RUNNING
        assert fields(run) == before
        assert [row[0] for row in log_of(run)] == ["start"]
        assert AggregationLock.objects.get().held_by == run  # still the running worker's


def test_a_report_handed_again_after_it_was_made_is_left_alone(pmu):
    aggregation.refresh_snapshot(AS_OF)
    job = queued_job(pmu)
    stale = ReportJob.objects.get(pk=job.pk)
    reports.generate(job)
    before = fields(job)

    with mock.patch.object(reports, "render") as render:
        again = reports.generate(stale)

    render.assert_not_called()  # not made twice
    assert again.status == SUCCEEDED
    assert fields(job) == before
    assert [row[0] for row in log_of(job)] == ["start", "succeed"]


# --- Two workers, one claim -----------------------------------------------------------------------


def _claim_concurrently(model, pk: int) -> tuple[list, list]:
    """Two threads (two database connections) start the same job at the same moment; the first in
    lingers before it commits, so the other asks while the first holds the row."""
    barrier = threading.Barrier(2)
    won, refused = [], []
    record = lifecycle.record

    def slow_record(*args, **kwargs):
        time.sleep(0.5)
        return record(*args, **kwargs)

    def worker():
        try:
            stale = model.objects.get(pk=pk)  # both load it queued, as two workers would
            barrier.wait(timeout=10)
            try:
                won.append(lifecycle.apply(stale, "start", None))
            except ActionRefused as exc:
                refused.append(exc.code)
        finally:
            connections.close_all()

    with mock.patch.object(lifecycle, "record", slow_record):
        threads = [threading.Thread(target=worker) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    return won, refused


@pytest.mark.skipif(
    not connection.features.has_select_for_update,
    reason="SQLite's in-memory test database locks whole tables; CI's PostgreSQL pass runs it",
)
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("model", [AggregationRun, ReportJob])
def test_of_two_concurrent_claims_only_one_wins(model):
    if model is AggregationRun:
        obj = queued_run()
    else:
        obj = ReportJob.objects.create(kind="isr", file_format="xlsx", as_of=AS_OF)

    won, refused = _claim_concurrently(model, obj.pk)

    assert (len(won), refused) == (1, ["wrong_state"])
    assert model.objects.get(pk=obj.pk).status == RUNNING
    assert [row[0] for row in log_of(obj)] == ["start"]


def test_claims_lock_the_row_first(db):
    """The claim reads the row with a lock (FOR UPDATE on PostgreSQL) before checking its state."""
    run = queued_run()
    with CaptureQueriesContext(connection) as captured:
        lifecycle.apply(run, "start", None)

    reads = [q["sql"] for q in captured if 'FROM "monitoring_aggregationrun"' in q["sql"]]
    assert reads
    if connection.features.has_select_for_update:
        assert "FOR UPDATE" in reads[0]
