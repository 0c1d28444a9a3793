"""Background jobs whose worker may die: a lock held by the job's own database connection, a
heartbeat, and the sweeper that fails the jobs whose worker is gone.

A worker that is killed (SIGKILL, out of memory, a lost host) runs no `finally`: the job it held stays
"running" for ever unless someone else notices. Here is how the portal notices:

- **The lock of the job** (`advisory_lock`): on PostgreSQL the worker takes a session-level advisory
  lock named after the job *before* it claims the job (moves it to running) and releases it when the
  job ends. The lock belongs to the worker's database connection: when the worker dies, PostgreSQL
  closes the connection and frees the lock at once. A job in a running state whose lock nobody holds
  has therefore lost its worker. The same kind of lock keeps two aggregation runs apart, so a dead
  run can never block the next one. On other databases (SQLite, for development) the lock always
  "succeeds" and holds nothing; the heartbeat decides instead.
- **The heartbeat** (`heartbeat_at` on the job's row, `Heartbeat`): stamped when the job is claimed
  and every so often while it works. It tells people when the job last showed a sign of life and,
  without PostgreSQL, is how the sweeper tells a dead job: no sign of life for
  JOB_HEARTBEAT_TIMEOUT_SECONDS.
- **The sweeper** (`sweep()`: Celery beat every JOB_SWEEP_SECONDS, at every worker start,
  `manage.py sweep_jobs`): moves every job whose worker is gone through its lifecycle's `fail` rule,
  taken by the portal, with a reason saying so; the aggregation's table lock (SQLite) goes with it.
  Each app registers the kinds of job it has (`watch`). Sweeping is idempotent and safe to run in
  several places at once: a job is failed under its row lock, after checking again that it is still
  running and still without a worker, and a job already moved is left alone.

Deployments must give each worker its own database session (no PgBouncer in transaction mode), since a
session-level lock lives on the session.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import IntEnum
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.models import Model, Q
from django.utils import timezone
from django.utils.formats import date_format

from core import lifecycle
from core.errors import ActionRefused

log = logging.getLogger(__name__)

DEFAULT_HEARTBEAT_TIMEOUT_SECONDS = 120
# The lock keys are PostgreSQL int4: a job's id is taken modulo 2**31 (ids never get that far).
_KEY_MASK = 0x7FFFFFFF


class LockSpace(IntEnum):
    """The first key of `pg_try_advisory_lock(int, int)`: one namespace per kind of lock, the second
    key being the job's id (or 0 for a lock of the whole kind)."""

    AGGREGATION = 7301  # held by the one aggregation run computing now (key 0): no two overlap
    AGGREGATION_RUN = 7302  # held by the worker of one run (key: the run's id) while it runs
    REPORT_JOB = 7303  # held by the worker making one results report
    IMPORT_JOB = 7304  # held by the worker checking or writing one import
    EXPORT_JOB = 7305  # held by the worker writing one background download (core.export_jobs)


# --- Effects shared by the jobs' lifecycles (monitoring runs and reports, background downloads) -----


def stamp_heartbeat(job: Any, **context: Any) -> list[str]:
    """EFFECT: the worker's first sign of life."""
    job.heartbeat_at = timezone.now()
    return ["heartbeat_at"]


def record_error(job: Any, **context: Any) -> list[str]:
    """EFFECT: why the job was skipped or failed, for the person who asked; when it ended."""
    job.error = context["error"]
    job.finished_at = timezone.now()
    return ["error", "finished_at"]


# --- Locks held by the job's own connection -------------------------------------------------------


def uses_advisory_locks(using: str = DEFAULT_DB_ALIAS) -> bool:
    """Whether the database frees a dead worker's locks by itself (PostgreSQL)."""
    return connections[using].vendor == "postgresql"


@contextmanager
def advisory_lock(space: LockSpace, key: int = 0, *, using: str = DEFAULT_DB_ALIAS) -> Iterator[bool]:
    """Hold the lock (space, key) on this thread's connection for the block. Yields True when it was
    taken, False when another session holds it (the block then runs without it: the caller decides).
    The lock is the session's, not the transaction's: it outlives commits and rollbacks inside the
    block, and dies with the connection. Without PostgreSQL it yields True and holds nothing."""
    if not uses_advisory_locks(using):
        yield True
        return
    connection = connections[using]
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [int(space), key & _KEY_MASK])
        taken = bool(cursor.fetchone()[0])
    try:
        yield taken
    finally:
        if taken:
            _unlock(space, key, using)


def _unlock(space: LockSpace, key: int, using: str) -> None:
    connection = connections[using]
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [int(space), key & _KEY_MASK])
    except Exception:  # an aborted transaction, or a lost connection (its locks went with it)
        log.warning("could not release lock %s/%s: closing the connection", space.name, key, exc_info=True)
        if not connection.in_atomic_block:
            # A lock left on a kept connection would block the next job: end the session instead.
            connection.close()


def held_keys(space: LockSpace, *, using: str = DEFAULT_DB_ALIAS) -> set[int]:
    """The keys of `space` that some session of this database holds now (any session, this one
    too). Read from pg_locks: looking takes no lock, so it never gets in a starting worker's way.
    Without PostgreSQL: empty."""
    if not uses_advisory_locks(using):
        return set()
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT objid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2 "
            "AND classid = %s::oid "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            [int(space)],
        )
        return {int(row[0]) for row in cursor.fetchall()}


def is_held(space: LockSpace, key: int, *, using: str = DEFAULT_DB_ALIAS) -> bool:
    return (key & _KEY_MASK) in held_keys(space, using=using)


# --- Heartbeat ------------------------------------------------------------------------------------


def heartbeat_timeout() -> timedelta:
    """Without PostgreSQL, a running job silent this long has lost its worker."""
    seconds = getattr(settings, "JOB_HEARTBEAT_TIMEOUT_SECONDS", DEFAULT_HEARTBEAT_TIMEOUT_SECONDS)
    return timedelta(seconds=seconds)


def heartbeat_interval() -> float:
    """How often a working job stamps its heartbeat: a quarter of the timeout, at most 30 s."""
    return max(1.0, min(30.0, heartbeat_timeout().total_seconds() / 4))


class Heartbeat:
    """Stamps `heartbeat_at` on one job's row, at most every `heartbeat_interval()` (call it as
    often as convenient). Call it outside any transaction the job keeps open, or nobody sees it."""

    def __init__(self, model: type[Model], pk: Any, *, stamped_now: bool = True) -> None:
        self.model, self.pk = model, pk
        # The claim stamps the heartbeat: the first beat is due an interval later.
        self._last = time.monotonic() if stamped_now else float("-inf")

    def __call__(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last >= heartbeat_interval():
            self.model._base_manager.filter(pk=self.pk).update(heartbeat_at=timezone.now())
            self._last = now


def moment(when: datetime | None) -> str:
    """A time for a message: "14:05" today (Asia/Dhaka), else with its date."""
    if when is None:
        return "?"
    local = timezone.localtime(when)
    if local.date() == timezone.localdate():
        return date_format(local, "TIME_FORMAT")
    return date_format(local, "DATETIME_FORMAT")


# --- The jobs the sweeper watches -----------------------------------------------------------------


@dataclass(frozen=True)
class JobKind:
    """A kind of background job the sweeper watches.

    `running`: the rows in a state where a live worker holds the job (and its lock). `reason(job,
    since)`: the failure's message, `since` being the last sign of life. `fail_params(reason)`: the
    parameters of the lifecycle's `fail` rule besides the comment. `last_seen(job)`: the last sign
    of life (default: `heartbeat_at`, else `since_field`)."""

    model: type[Model]
    space: LockSpace
    running: Q
    reason: Callable[[Any, datetime | None], str]
    since_field: str
    fail_params: Callable[[str], dict[str, Any]] = field(default=lambda reason: {})
    last_seen: Callable[[Any], datetime | None] | None = None

    @property
    def name(self) -> str:
        return self.model._meta.label

    def seen(self, job: Any) -> datetime | None:
        if self.last_seen is not None:
            return self.last_seen(job)
        return getattr(job, "heartbeat_at", None) or getattr(job, self.since_field, None)


_KINDS: dict[str, JobKind] = {}


def watch(kind: JobKind) -> JobKind:
    """Register a kind of job with the sweeper (each app, at start)."""
    _KINDS[kind.name] = kind
    return kind


def watched() -> list[JobKind]:
    return list(_KINDS.values())


def worker_gone(kind: JobKind, job: Any, held: set[int] | None = None) -> bool:
    """Whether the worker of this running job is gone: on PostgreSQL nobody holds its lock; else it
    showed no sign of life for longer than the heartbeat timeout."""
    if uses_advisory_locks():
        keys = held if held is not None else held_keys(kind.space)
        return (job.pk & _KEY_MASK) not in keys
    seen = kind.seen(job)
    return seen is None or seen < timezone.now() - heartbeat_timeout()


def sweep() -> dict[str, int]:
    """Fail every watched job whose worker is gone; returns how many of each kind (by model label)."""
    counts: dict[str, int] = {}
    for kind in watched():
        counts[kind.name] = 0
        candidates = list(kind.model._base_manager.filter(kind.running).order_by("pk"))
        if not candidates:
            continue
        held = held_keys(kind.space) if uses_advisory_locks() else None
        for job in candidates:
            if not worker_gone(kind, job, held):
                continue
            try:
                if _fail_if_gone(kind, job.pk):
                    counts[kind.name] += 1
            except Exception:  # one job that cannot be failed now must not stop the others
                log.exception("could not fail %s %s whose worker is gone", kind.name, job.pk)
    swept = {name: count for name, count in counts.items() if count}
    if swept:
        log.warning("jobs whose worker was gone, marked failed: %s", swept)
    return counts


def _fail_if_gone(kind: JobKind, pk: Any) -> bool:
    """Under the job's row lock: check it is still running without a worker, then fail it."""
    model = kind.model
    with transaction.atomic():
        job = model._base_manager.select_for_update(of=("self",)).filter(pk=pk).first()
        if job is None or not model._base_manager.filter(kind.running, pk=pk).exists():
            return False  # moved on meanwhile (finished, or failed by another sweeper)
        if not worker_gone(kind, job):
            return False  # a worker took it meanwhile (a retried job, claimed again)
        reason = kind.reason(job, kind.seen(job))
        try:
            lifecycle.apply(job, "fail", None, comment=reason, **kind.fail_params(reason))
        except ActionRefused as exc:
            if exc.code != "wrong_state":
                raise
            return False
    log.warning("%s %s: its worker is gone; marked failed", kind.name, pk)
    return True


# --- At worker start ------------------------------------------------------------------------------


def _on_worker_ready(sender=None, **kwargs) -> None:
    try:
        sweep()
    except Exception:
        log.exception("job sweep at worker start failed")


def connect_signals() -> None:
    """A starting worker fails the jobs its previous life (or any dead worker) left running."""
    from celery.signals import worker_ready

    worker_ready.connect(_on_worker_ready, dispatch_uid="core-jobs-sweep-at-start", weak=False)
