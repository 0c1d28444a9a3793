"""Jobs whose worker died (core.jobs): the sweeper fails them with a reason, frees their lock, and the
next run is a clean one; a job whose worker is alive is never touched.

A dead worker is simulated as it looks from outside: the job is in its running state and nobody holds
its lock (PostgreSQL), or it showed no sign of life for longer than the timeout (elsewhere). A live
one holds its lock from another database session (PostgreSQL), or stamped its heartbeat just now.
The real SIGKILL of a real worker is in tests/faults/test_worker_killed.py.
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta

import pytest
from celery.signals import worker_ready
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection, connections
from django.utils import timezone

from core import jobs, lifecycle
from core.tasks import sweep_stale_jobs
from enterprises.models import ImportJob, ImportStatus
from monitoring import aggregation
from monitoring.models import (
    AggregationLock,
    AggregationRun,
    IndicatorValue,
    ReportJob,
    RunStatus,
    RunTrigger,
    Snapshot,
)
from tests.enterprises.factories import EnterpriseFactory, FinancialSupportFactory, sub_project_for
from tests.locks import other_session_holds

AS_OF = date(2025, 6, 30)
POSTGRES = connection.vendor == "postgresql"
RUNS, REPORTS, IMPORTS = "monitoring.AggregationRun", "monitoring.ReportJob", "enterprises.ImportJob"
EXPORTS = "core.ExportJob"
LONG_AGO = timedelta(minutes=10)


# --- Live and dead workers ------------------------------------------------------------------------


@contextmanager
def aggregation_held_by(holder: AggregationRun) -> Iterator[AggregationRun]:
    """`holder` is computing in a live worker: it holds the aggregation lock (an advisory lock of
    that worker's session on PostgreSQL, the lock row elsewhere) and its own lock, and the lock row
    names it. Released at the end of the block."""
    AggregationLock.objects.update_or_create(
        name=aggregation.LOCK_NAME,
        defaults={"held_by": holder, "held_until": timezone.now() + timedelta(minutes=5)},
    )
    try:
        with other_session_holds(
            (jobs.LockSpace.AGGREGATION, 0), (jobs.LockSpace.AGGREGATION_RUN, holder.pk)
        ):
            yield holder
    finally:
        AggregationLock.objects.filter(held_by=holder).update(held_by=None, held_until=timezone.now())


def silent_since(job, ago: timedelta = LONG_AGO):
    """The job's last sign of life was `ago` (its heartbeat; nothing in the cache)."""
    type(job).objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - ago)
    if isinstance(job, ImportJob):
        cache.delete(job.progress_cache_key)
    job.refresh_from_db()
    return job


def running_run(**fields) -> AggregationRun:
    """A run its worker claimed (as `execute` does), its heartbeat stamped now."""
    run = AggregationRun.objects.create(as_of=AS_OF, trigger=RunTrigger.SCHEDULE, **fields)
    return lifecycle.apply(run, "start", None)


def dead_run() -> AggregationRun:
    """A run whose worker died mid-run: still running, the lock row still naming it (and, without
    PostgreSQL, not yet expired), nobody holding its lock, silent for ten minutes."""
    run = running_run()
    AggregationLock.objects.update_or_create(
        name=aggregation.LOCK_NAME,
        defaults={"held_by": run, "held_until": timezone.now() + timedelta(minutes=20)},
    )
    return silent_since(run)


def running_report(user=None) -> ReportJob:
    job = ReportJob.objects.create(kind="isr", file_format="xlsx", as_of=AS_OF, requested_by=user)
    return lifecycle.apply(job, "start", None)


def import_job(po, user, status: str, phase: str = "") -> ImportJob:
    """An import job as a worker left it: in `status` and `phase`, its heartbeat stamped now."""
    job = ImportJob.objects.create(
        kind="enterprises",
        partner_organization=po,
        file="imports/none.csv",
        original_name="mes.csv",
        file_format="csv",
        created_by=user,
    )
    ImportJob.objects.filter(pk=job.pk).update(status=status, phase=phase, heartbeat_at=timezone.now())
    job.refresh_from_db()
    return job


def log_of(obj) -> list[tuple]:
    return [(t.action, t.from_state, t.to_state, t.actor, t.comment) for t in lifecycle.transitions_of(obj)]


def values_of(as_of: date = AS_OF) -> set[tuple]:
    """The stored snapshot as people read it (no ids, no run)."""
    fields = [f.attname for f in IndicatorValue._meta.concrete_fields if f.attname not in {"id", "run_id"}]
    return set(IndicatorValue.objects.filter(as_of=as_of).values_list(*fields))


def clean_values(as_of: date = AS_OF) -> set[tuple]:
    """What a clean run computes now, not stored."""
    fields = [f.attname for f in IndicatorValue._meta.concrete_fields if f.attname not in {"id", "run_id"}]
    return {tuple(getattr(row, name) for name in fields) for row in aggregation.compute(as_of)}


@pytest.fixture
def programme(po_one, po_two):
    for po in (po_one, po_two):
        sp = sub_project_for(po)
        for index in range(4):
            me = EnterpriseFactory(sub_project=sp, wage_employed_male=index)
            if index % 2 == 0:
                FinancialSupportFactory(enterprise=me, disbursed_on=date(2025, 1, 1 + index))


# --- Aggregation runs -----------------------------------------------------------------------------


def test_a_run_whose_worker_died_is_failed_saying_so_and_the_next_run_equals_a_clean_one(programme, po_one):
    aggregation.run_now(as_of=AS_OF)
    stored = values_of()
    FinancialSupportFactory(enterprise=EnterpriseFactory(sub_project=sub_project_for(po_one)))
    dead = dead_run()
    seen = dead.heartbeat_at

    swept = jobs.sweep()

    dead.refresh_from_db()
    assert swept[RUNS] == 1
    assert dead.status == RunStatus.FAILED
    assert "The worker running this aggregation stopped (no sign of life since" in dead.error
    assert jobs.moment(seen) in dead.error
    assert "nothing was written" in dead.error
    assert dead.finished_at is not None
    assert log_of(dead)[-1] == ("fail", RunStatus.RUNNING, RunStatus.FAILED, None, dead.error)
    assert AggregationLock.objects.get().held_by is None  # freed at once, not in 20 minutes
    assert values_of() == stored  # the dead run wrote nothing: the last good figures stay

    again = aggregation.run_now(as_of=AS_OF, trigger=RunTrigger.BUTTON)

    assert again.status == RunStatus.SUCCEEDED
    assert values_of() == clean_values()
    assert values_of() != stored  # the enterprises added since are counted
    assert Snapshot.objects.get(as_of=AS_OF).run == again


def test_a_running_run_whose_worker_is_alive_is_not_swept_and_the_next_request_is_skipped(db):
    live = running_run()
    if POSTGRES:
        # The lock decides, not the heartbeat: a long indicator may keep it quiet for a while.
        silent_since(live)
    before = (live.status, live.error, live.heartbeat_at, log_of(live))

    with aggregation_held_by(live):
        swept = jobs.sweep()
        skipped = aggregation.run_now(as_of=AS_OF, trigger=RunTrigger.API)
        live.refresh_from_db()

        assert swept[RUNS] == 0
        assert (live.status, live.error, live.heartbeat_at, log_of(live)) == before
        assert AggregationLock.objects.get().held_by == live
        assert (skipped.status, skipped.error) == (RunStatus.SKIPPED, f"run {live.pk} was in progress")


@pytest.mark.skipif(not POSTGRES, reason="advisory locks are PostgreSQL's")
def test_a_second_delivery_of_a_run_leaves_it_to_the_worker_holding_it_which_computes_it(programme):
    """The relay published the run's task twice and two workers took both copies at once: the first
    holds the run's lock and the aggregation lock, about to start the run. The second must neither
    skip the run nor compute it."""
    run = AggregationRun.objects.create(as_of=AS_OF, trigger=RunTrigger.SCHEDULE)

    with other_session_holds((jobs.LockSpace.AGGREGATION_RUN, run.pk), (jobs.LockSpace.AGGREGATION, 0)):
        second = aggregation.execute(AggregationRun.objects.get(pk=run.pk))

    run.refresh_from_db()
    assert (second.status, second.error) == (RunStatus.QUEUED, "")
    assert (run.status, run.error, run.started_at, run.finished_at) == (RunStatus.QUEUED, "", None, None)
    assert log_of(run) == []
    assert not Snapshot.objects.exists()

    first = aggregation.execute(run)  # the first delivery goes on

    assert first.status == RunStatus.SUCCEEDED
    assert [row[0] for row in log_of(run)] == ["start", "succeed"]
    assert values_of() == clean_values()


@pytest.mark.skipif(POSTGRES, reason="without PostgreSQL the lock row names the holder")
def test_without_postgresql_a_run_is_never_skipped_because_the_lock_row_names_itself(programme):
    """Another delivery of the same run took the lock row: the run is left to it, not skipped."""
    run = AggregationRun.objects.create(as_of=AS_OF, trigger=RunTrigger.SCHEDULE)

    with aggregation_held_by(run):
        second = aggregation.execute(AggregationRun.objects.get(pk=run.pk))
        assert AggregationLock.objects.get().held_by == run  # the lock stays the other delivery's

    run.refresh_from_db()
    assert (second.status, run.status, run.error, log_of(run)) == (RunStatus.QUEUED, RunStatus.QUEUED, "", [])

    first = aggregation.execute(run)

    assert first.status == RunStatus.SUCCEEDED
    assert values_of() == clean_values()


@pytest.mark.skipif(POSTGRES, reason="without PostgreSQL the heartbeat's age decides")
def test_without_postgresql_the_heartbeat_timeout_decides(db, settings):
    settings.JOB_HEARTBEAT_TIMEOUT_SECONDS = 120
    quiet = silent_since(running_run(), timedelta(seconds=60))

    assert jobs.sweep()[RUNS] == 0
    settings.JOB_HEARTBEAT_TIMEOUT_SECONDS = 30
    assert jobs.sweep()[RUNS] == 1
    quiet.refresh_from_db()
    assert quiet.status == RunStatus.FAILED


@pytest.mark.skipif(not POSTGRES, reason="advisory locks are PostgreSQL's")
def test_on_postgresql_a_silent_run_whose_lock_is_free_is_failed_at_once(db, settings):
    settings.JOB_HEARTBEAT_TIMEOUT_SECONDS = 3600
    run = running_run()  # heartbeat stamped just now, but no session holds its lock

    assert jobs.sweep()[RUNS] == 1
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED


def test_sweeping_again_changes_nothing(db):
    dead = dead_run()
    jobs.sweep()
    dead.refresh_from_db()
    after = (dead.status, dead.error, dead.finished_at, log_of(dead))

    assert jobs.sweep() == {RUNS: 0, REPORTS: 0, IMPORTS: 0, EXPORTS: 0}
    dead.refresh_from_db()
    assert (dead.status, dead.error, dead.finished_at, log_of(dead)) == after


def test_jobs_in_other_states_are_never_swept(db, po_one, po1):
    old = timezone.now() - timedelta(days=2)
    queued = AggregationRun.objects.create(as_of=AS_OF, trigger=RunTrigger.SCHEDULE, requested_at=old)
    report = ReportJob.objects.create(kind="isr", file_format="xlsx", as_of=AS_OF, requested_at=old)
    waiting = import_job(po_one, po1, ImportStatus.COMMITTING, phase="queued")  # no worker took it yet
    silent_since(waiting)
    pending = ImportJob.objects.create(
        kind="enterprises", partner_organization=po_one, file="x.csv", original_name="x.csv",
        file_format="csv", created_by=po1, created_at=old,
    )  # fmt: skip

    assert jobs.sweep() == {RUNS: 0, REPORTS: 0, IMPORTS: 0, EXPORTS: 0}
    assert [o.__class__.objects.get(pk=o.pk).status for o in (queued, report, waiting, pending)] == [
        RunStatus.QUEUED,
        RunStatus.QUEUED,
        ImportStatus.COMMITTING,
        ImportStatus.PENDING,
    ]


# --- A worker's connection that dies (PostgreSQL) -------------------------------------------------


@pytest.mark.skipif(not POSTGRES, reason="advisory locks are PostgreSQL's")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_worker_whose_connection_dies_mid_write_frees_the_locks_at_once_and_leaves_the_last_figures(
    programme,
):
    good = aggregation.run_now(as_of=AS_OF)
    stored = values_of()
    run = AggregationRun.objects.create(as_of=AS_OF, trigger=RunTrigger.SCHEDULE)
    took_locks = threading.Event()

    def worker_that_dies() -> None:
        """Takes the locks and the run, starts replacing the snapshot, and dies (its connection
        closes without a commit or an unlock, as when the process is killed)."""
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_lock(%s, 0)", [int(jobs.LockSpace.AGGREGATION)])
                cursor.execute(
                    "SELECT pg_advisory_lock(%s, %s)", [int(jobs.LockSpace.AGGREGATION_RUN), run.pk]
                )
            lifecycle.apply(AggregationRun.objects.get(pk=run.pk), "start", None)
            connection.set_autocommit(False)
            IndicatorValue.objects.filter(as_of=AS_OF).delete()
            took_locks.set()
        finally:
            connection.close()

    thread = threading.Thread(target=worker_that_dies)
    thread.start()
    thread.join(timeout=30)
    assert took_locks.is_set()
    run.refresh_from_db()
    assert run.status == RunStatus.RUNNING
    # The server ends the dead session (and frees its locks) a moment after the connection drops.
    deadline = time.monotonic() + 10
    while jobs.is_held(jobs.LockSpace.AGGREGATION_RUN, run.pk) and time.monotonic() < deadline:
        time.sleep(0.05)

    swept = jobs.sweep()

    run.refresh_from_db()
    assert swept[RUNS] == 1
    assert run.status == RunStatus.FAILED
    assert "stopped" in run.error
    assert values_of() == stored  # its half-done writing was rolled back with its session
    assert Snapshot.objects.get(as_of=AS_OF).run == good
    again = aggregation.run_now(as_of=AS_OF)
    assert again.status == RunStatus.SUCCEEDED  # not skipped: the dead worker's lock went with it
    assert values_of() == stored == clean_values()


@pytest.mark.skipif(not POSTGRES, reason="row locks and sessions are PostgreSQL's")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_sweepers_at_once_fail_a_dead_job_once(db):
    dead = dead_run()
    barrier = threading.Barrier(2)
    counts: list[int] = []

    def sweeper() -> None:
        try:
            barrier.wait(timeout=10)
            counts.append(jobs.sweep()[RUNS])
        finally:
            connections.close_all()

    threads = [threading.Thread(target=sweeper) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(counts) == [0, 1]
    assert [row[0] for row in log_of(dead)] == ["start", "fail"]


# --- Results reports ------------------------------------------------------------------------------


def test_a_report_whose_worker_died_is_failed_and_one_alive_is_not(db, pmu):
    dead = silent_since(running_report(pmu))
    live = running_report(pmu)
    if POSTGRES:
        silent_since(live)

    with other_session_holds((jobs.LockSpace.REPORT_JOB, live.pk)):
        swept = jobs.sweep()

    dead.refresh_from_db()
    live.refresh_from_db()
    assert swept[REPORTS] == 1
    assert dead.status == RunStatus.FAILED
    assert "The worker making this report stopped (no sign of life since" in dead.error
    assert "Request it again" in dead.error
    assert not dead.file
    assert log_of(dead)[-1] == ("fail", RunStatus.RUNNING, RunStatus.FAILED, None, dead.error)
    assert live.status == RunStatus.RUNNING
    assert [row[0] for row in log_of(live)] == ["start"]


# --- Import jobs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "phase", "says"),
    [
        (ImportStatus.VALIDATING, "checking", "The worker checking this file stopped"),
        (ImportStatus.COMMITTING, "checking", "nothing was written (the rows are written all together"),
        (ImportStatus.COMMITTING, "written", "just after writing its rows: they are in the portal"),
    ],
)
def test_an_import_whose_worker_died_is_failed_saying_what_was_written(db, po_one, po1, status, phase, says):
    job = import_job(po_one, po1, status, phase)
    cache.set(job.progress_cache_key, ("writing", 400, 1000, timezone.now() - LONG_AGO), 3600)
    ImportJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - LONG_AGO)

    swept = jobs.sweep()

    job.refresh_from_db()
    assert swept[IMPORTS] == 1
    assert job.status == ImportStatus.FAILED
    assert "no sign of life since" in job.failure
    assert says in job.failure
    assert job.phase == ""
    assert cache.get(job.progress_cache_key) is None  # the page no longer shows "writing… 40 %"
    assert log_of(job)[-1] == ("fail", status, ImportStatus.FAILED, None, job.failure)


def test_an_import_whose_worker_is_writing_is_not_swept(db, po_one, po1):
    job = import_job(po_one, po1, ImportStatus.COMMITTING, "checking")
    if POSTGRES:
        silent_since(job)
    else:
        # While it writes, the worker's sign of life is in the cache (its row cannot change).
        ImportJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - LONG_AGO)
        cache.set(job.progress_cache_key, ("writing", 400, 1000, timezone.now()), 3600)

    with other_session_holds((jobs.LockSpace.IMPORT_JOB, job.pk)):
        swept = jobs.sweep()

    job.refresh_from_db()
    assert swept[IMPORTS] == 0
    assert (job.status, job.failure) == (ImportStatus.COMMITTING, "")
    cache.delete(job.progress_cache_key)


# --- Where the sweeper runs -----------------------------------------------------------------------


def test_the_command_the_task_and_a_starting_worker_sweep(db):
    out = io.StringIO()
    by_command = dead_run()
    call_command("sweep_jobs", stdout=out)
    by_task = dead_run()
    task_counts = sweep_stale_jobs.delay().get()
    at_start = dead_run()
    worker_ready.send(sender=None)

    assert f"{RUNS} 1" in out.getvalue()
    assert task_counts == {RUNS: 1, REPORTS: 0, IMPORTS: 0, EXPORTS: 0}
    for run in (by_command, by_task, at_start):
        run.refresh_from_db()
        assert run.status == RunStatus.FAILED, run
