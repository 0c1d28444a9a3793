"""Computes every indicator as of a date and stores the snapshot; the Celery task, the PMU's button,
the API and `manage.py aggregate_indicators` all come here.

The per-ME facts (monitoring.facts) are caught up first: only the MEs whose records changed since the
last run are recomputed (`--full` recounts them all, with the same SQL). Then one INSERT ... SELECT
(monitoring.rollup) reads the grouped sources (monitoring.indicators) and writes every indicator in
total and by every breakdown, for the programme and within each PO; a second (monitoring.outcomes)
writes the environmental outcomes the same way. A snapshot replaces that date's
values in one transaction, so running twice changes nothing and a failed run leaves the last good
values in place.
Two runs never overlap: a run takes the aggregation lock or is skipped. On PostgreSQL the lock is an
advisory lock of the run's own database connection (core.jobs), so a worker that dies frees it at
once; elsewhere it is the lock row, taken with a compare-and-set update and freed when the sweeper
fails the run whose worker died. A run's task may be delivered twice (the outbox publishes at least
once): a delivery first takes the run's own lock, and one that finds it held leaves the run to the
delivery holding it; a run is skipped only when another run holds the aggregation lock, never
because of itself. A running run stamps its heartbeat between indicators; the sweeper
(core.jobs) fails a run whose worker is gone. Every move of a run (start, skip, succeed, fail) goes
through its lifecycle (monitoring.lifecycles), which also makes sure a run handed to two workers is
started by one only.
"""

from __future__ import annotations

import calendar
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from enum import Enum

from django.db import transaction
from django.db.models import Min, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from core import jobs, lifecycle, outbox
from core.errors import ActionRefused
from core.validators import check_in_programme_span
from finance.rates import NoExchangeRate
from monitoring import facts, outcomes, rollup
from monitoring.indicators import committed_sub_projects, programme_start, project_financing
from monitoring.models import (
    AggregationLock,
    AggregationRun,
    IndicatorValue,
    RunStatus,
    RunTrigger,
    Snapshot,
)

log = logging.getLogger(__name__)

LOCK_NAME = "indicators"
# Without PostgreSQL: a lock row left by a run that died is free after this long at the latest (the
# sweeper frees it sooner, when it fails the run).
LOCK_TIMEOUT = timedelta(minutes=30)
# The runs the PMU may run again (a new run for the same date).
RERUNNABLE = (RunStatus.FAILED, RunStatus.SKIPPED)
NO_KEY = ""


def _check_rates(as_of: date) -> None:
    """Money in USD needs a rate: with none recorded, a snapshot with money to convert fails (as
    finance.rates.usd_total does) rather than store wrong figures."""
    from finance.models import ExchangeRate

    if ExchangeRate.objects.exists():
        return
    if project_financing(as_of).exists() or committed_sub_projects(as_of).exists():
        raise NoExchangeRate


def refresh_facts(*, full: bool = False) -> int:
    """Bring the per-ME facts up to date: only the MEs changed since the last run, or all (`full`)."""
    return facts.recount() if full else facts.catch_up()


def compute(as_of: date, run: AggregationRun | None = None) -> list[IndicatorValue]:
    """Every indicator value as of the date, as a snapshot would store it, without storing it (the
    rows are written and read back in a transaction that is rolled back)."""
    with transaction.atomic():
        refresh_facts()
        _check_rates(as_of)
        rollup.write(as_of, run.pk if run else None)
        values = list(IndicatorValue.objects.filter(as_of=as_of).order_by("pk"))
        transaction.set_rollback(True)
    return values


def refresh_snapshot(
    as_of: date,
    run: AggregationRun | None = None,
    heartbeat: Callable[[], None] | None = None,
    *,
    full: bool = False,
) -> int:
    """Compute and store the snapshot of `as_of` (indicators and environmental outcomes), replacing
    that date's values atomically (only those that differ are rewritten). The per-ME facts are caught
    up first (recounted with `full`)."""
    refresh_facts(full=full)
    if heartbeat is not None:
        heartbeat()
    _check_rates(as_of)
    with transaction.atomic():
        written = rollup.write(as_of, run.pk if run else None)
        written += outcomes.write(as_of, run.pk if run else None)
        Snapshot.objects.update_or_create(as_of=as_of, defaults={"computed_at": timezone.now(), "run": run})
    return written


# --- Runs, lock and backfill ----------------------------------------------------------------------


class LockState(Enum):
    """What a run found when it asked for the aggregation lock."""

    TAKEN = "taken"
    HELD_BY_OTHER_RUN = "held by another run"
    HELD_BY_THIS_RUN = "held by this run"  # another delivery of the same run (lock row, SQLite)


@contextmanager
def _aggregation_lock(run: AggregationRun) -> Iterator[LockState]:
    """Hold the aggregation lock for `run` during the block (released at its end if taken).
    On PostgreSQL: an advisory lock of this connection, which the database frees if the worker dies;
    the lock row then only names the run. Elsewhere: the lock row, with a compare-and-set update."""
    if jobs.uses_advisory_locks():
        with jobs.advisory_lock(jobs.LockSpace.AGGREGATION) as taken:
            if taken:
                AggregationLock.objects.update_or_create(
                    name=LOCK_NAME, defaults={"held_by": run, "held_until": timezone.now()}
                )
            try:
                # Not taken: the caller holds this run's own lock, so the session holding the
                # aggregation lock works on another run.
                yield LockState.TAKEN if taken else LockState.HELD_BY_OTHER_RUN
            finally:
                if taken:
                    _release_lock(run)
        return
    state = _take_lock(run)
    try:
        yield state
    finally:
        if state is LockState.TAKEN:
            _release_lock(run)


def _take_lock(run: AggregationRun) -> LockState:
    """The lock row (without PostgreSQL): free when never taken, released, expired, or held by a run
    that has ended (its worker died before releasing it). A row naming `run` itself, queued or
    running, belongs to another delivery of the same run: neither taken nor a reason to skip."""
    AggregationLock.objects.get_or_create(name=LOCK_NAME)
    now = timezone.now()
    free = (
        Q(held_by__isnull=True)
        | Q(held_until__lt=now)
        | ~Q(held_by__status__in=[RunStatus.QUEUED, RunStatus.RUNNING])
    )
    taken = AggregationLock.objects.filter(free, name=LOCK_NAME).update(
        held_by=run, held_until=now + LOCK_TIMEOUT
    )
    if taken == 1:
        return LockState.TAKEN
    holder = AggregationLock.objects.filter(name=LOCK_NAME).values_list("held_by", flat=True).first()
    return LockState.HELD_BY_THIS_RUN if holder == run.pk else LockState.HELD_BY_OTHER_RUN


def _release_lock(run: AggregationRun) -> None:
    AggregationLock.objects.filter(name=LOCK_NAME, held_by=run).update(
        held_by=None, held_until=timezone.now()
    )


def _holder(run: AggregationRun) -> int | None:
    """Which run holds the lock, for the skipped run's message: the one the lock row names, else the
    run running now (the row is written a moment after the lock is taken); None if unknown."""
    holder = AggregationLock.objects.filter(name=LOCK_NAME).values_list("held_by", flat=True).first()
    if holder is None or holder == run.pk:
        holder = (
            AggregationRun.objects.filter(status=RunStatus.RUNNING)
            .exclude(pk=run.pk)
            .values_list("pk", flat=True)
            .first()
        )
    return holder or None


def skip_reason(holder: int | None) -> str:
    """Why a run was skipped, stored on it and shown on the runs page."""
    if holder is None:
        return _("another run was in progress")
    return _("run %(run)s was in progress") % {"run": holder}


def request_run(*, as_of: date | None = None, trigger: str, user=None, wait: bool = False) -> AggregationRun:
    """Record a run request and queue it (after the transaction commits). With `wait`, and no broker
    (tasks in-process), the run happens now, so the caller can read its snapshot at once."""
    from monitoring.tasks import run_aggregation
    from smart_portal.celery import app

    if as_of is not None:
        check_in_programme_span(as_of)  # a date asked for: from the programme start to today
    requested_by = user if user and user.pk else None
    if wait and app.conf.task_always_eager:
        run = AggregationRun.objects.create(
            as_of=as_of or timezone.localdate(), trigger=trigger, requested_by=requested_by
        )
        return execute(run)
    with transaction.atomic():  # the run and its queued task are saved together
        run = AggregationRun.objects.create(
            as_of=as_of or timezone.localdate(), trigger=trigger, requested_by=requested_by
        )
        outbox.enqueue(run_aggregation, run.pk)
    return run


def run_again(run: AggregationRun, *, trigger: str, user=None) -> AggregationRun:
    """A new run for the date of a run that failed or was skipped ("Run again": the PMU's page and
    API), queued like any request. A run queued, running or succeeded is refused (409): it is
    computing, or its figures are stored."""
    if run.status not in RERUNNABLE:
        raise ActionRefused(
            _("Run %(run)s has the status “%(status)s”: only a failed or skipped run can be run again.")
            % {"run": run.pk, "status": run.get_status_display()},
            code="wrong_state",
        )
    return request_run(as_of=run.as_of, trigger=trigger, user=user)


def month_ends(start: date, end: date) -> list[date]:
    """The last day of each month from `start`'s month to the month before `end`'s, then `end`."""
    dates, year, month = [], start.year, start.month
    while (year, month) < (end.year, end.month):
        dates.append(date(year, month, calendar.monthrange(year, month)[1]))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return [*dates, end]


def first_data_date() -> date:
    from enterprises.models import FinancialSupport
    from subprojects.models import SubProject

    start = programme_start()
    candidates = [
        FinancialSupport.objects.filter(disbursed_on__gte=start).aggregate(first=Min("disbursed_on"))[
            "first"
        ],
        SubProject.objects.aggregate(first=Min("award_date"))["first"],
    ]
    return max(start, min([c for c in candidates if c] or [start]))


def execute(run: AggregationRun, *, backfill: bool = False, full: bool = False) -> AggregationRun:
    """Run the aggregation of `run` (and, with backfill, every month-end before it), under the lock.
    Each move of the run goes through its lifecycle (monitoring.lifecycles), taken by the portal. A run
    no longer queued (another worker was handed it too) is left as it is and returned as stored."""
    # The run's own lock first, before the aggregation lock and the claim: a second delivery of the
    # same run must neither skip it (while the first waits for, or holds, the aggregation lock) nor
    # compute it twice. While it is held, the sweeper also knows the run's worker is alive (core.jobs).
    with jobs.advisory_lock(jobs.LockSpace.AGGREGATION_RUN, run.pk) as mine:
        if not mine:  # another delivery handles this very run: leave it to that one
            return AggregationRun.objects.get(pk=run.pk)
        with _aggregation_lock(run) as state:
            if state is LockState.HELD_BY_THIS_RUN:  # the lock row names this run (SQLite): as above
                return AggregationRun.objects.get(pk=run.pk)
            if state is LockState.HELD_BY_OTHER_RUN:
                error = skip_reason(_holder(run))
                skipped = _move(run, "skip", comment=error, error=error)
                if skipped is not None:
                    log.info("aggregation run %s skipped: %s", run.pk, error)
                    return skipped
                return AggregationRun.objects.get(pk=run.pk)
            return _compute_run(run, backfill=backfill, full=full)


def _compute_run(run: AggregationRun, *, backfill: bool, full: bool = False) -> AggregationRun:
    started = _move(run, "start")
    if started is None:
        return AggregationRun.objects.get(pk=run.pk)
    run = started
    heartbeat = jobs.Heartbeat(AggregationRun, run.pk)
    try:
        dates = month_ends(first_data_date(), run.as_of) if backfill else [run.as_of]
        written = 0
        for index, as_of in enumerate(dates):  # the facts recounted once (`full`), then only caught up
            written += refresh_snapshot(as_of, run, heartbeat, full=full and index == 0)
    except Exception as exc:  # any failure is recorded; the last good snapshot stays
        log.exception("aggregation run %s failed", run.pk)
        error = f"{type(exc).__name__}: {exc}"
        return _move(run, "fail", comment=error, error=error) or AggregationRun.objects.get(pk=run.pk)
    return _move(run, "succeed", rows_written=written) or AggregationRun.objects.get(pk=run.pk)


def _move(run: AggregationRun, action: str, comment: str = "", **params) -> AggregationRun | None:
    """The run after the portal's `action`, or None when it was no longer in a state to take it (another
    worker took it first; `apply()` then changed nothing)."""
    try:
        return lifecycle.apply(run, action, None, comment=comment, **params)
    except ActionRefused as exc:
        if exc.code != "wrong_state":
            raise
        log.warning("aggregation run %s: %s refused (%s)", run.pk, action, exc)
        return None


def run_now(
    *,
    as_of: date | None = None,
    trigger: str = RunTrigger.COMMAND,
    backfill: bool = False,
    full: bool = False,
    user=None,
):
    """Synchronous run, for the management command and the nightly task. A date given must lie in
    the programme's span (ValidationError otherwise); the default is today. `full` recounts every
    ME's facts from scratch instead of catching up the changed ones."""
    if as_of is not None:
        check_in_programme_span(as_of)
    run = AggregationRun.objects.create(
        as_of=as_of or timezone.localdate(),
        trigger=RunTrigger.BACKFILL if backfill else trigger,
        requested_by=user,
    )
    return execute(run, backfill=backfill, full=full)
