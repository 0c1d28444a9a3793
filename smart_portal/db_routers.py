"""Reads of dashboards, reports and exports from a PostgreSQL read replica (issue 17), when
DATABASE_REPLICA_URL names one; without it everything runs on the one database.

Only what may be a few seconds old reads from the replica, and only while `reading_from_replica()`
is in force:
- the pages and API reads named in REPLICA_VIEWS (GET/HEAD only), by `ReplicaReadsMiddleware`, so no
  view needs to know about the replica;
- list downloads: the rows of a CSV/XLSX made at once (core.exports) and of one written in the
  background (core.export_jobs), and the API's downloads (core.api.exports).

Everything else reads from the primary, even inside such a block: every write (`db_for_write`), a
read that locks (`select_for_update`) or belongs to a write (`get_or_create`: Django routes them as
writes), any read while a transaction is open on the primary (it must see its own writes), and the
models in PRIMARY_ONLY (sign-in, sessions, tokens, two-factor devices, lockouts, and the rows of
background jobs, which a request reads right after writing them).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.http import HttpRequest, HttpResponseBase

log = logging.getLogger(__name__)

REPLICA = "replica"

# The pages and API reads served from the replica, by URL name (namespaced as `reverse` takes it).
# Only reads that may be a few seconds old: not a page shown right after its own form was saved
# (e.g. the reports page lists the report just requested; the targets page the milestone just saved).
REPLICA_VIEWS = frozenset(
    {
        # The results dashboard and its drill-downs (monitoring.views.dashboard).
        "monitoring:dashboard",
        "monitoring:indicator",
        "monitoring:outcomes",
        "monitoring:framework",
        # The data-quality report (monitoring.views.quality) and its API.
        "monitoring:data-quality",
        "data-quality-list",
        # Indicators with their values, and outcomes, through the API (read-only resources).
        "indicator-list",
        "indicator-detail",
        "environmental-outcome-list",
        "environmental-outcome-detail",
    }
)

# Read from the primary whatever the block: a request reads them right after writing them (a
# session just signed in, a token just made, a job just queued, an indicator just edited), or they
# decide who may read at all.
PRIMARY_ONLY_APPS = frozenset(
    {"sessions", "auth", "admin", "contenttypes", "axes", "knox", "otp_totp", "otp_static"}
)
PRIMARY_ONLY = frozenset(
    {
        "core.User",
        "core.UserSession",
        "core.ExportJob",
        "core.IdempotencyRecord",
        "core.OutboxMessage",
        "core.SavedFilter",
        "enterprises.ImportJob",
        "monitoring.ReportJob",
        "monitoring.AggregationRun",
        "monitoring.AggregationLock",
        # The results framework as the PMU just edited it (the edit page leads back to the indicator).
        "monitoring.Indicator",
        "monitoring.Milestone",
    }
)

_reading: ContextVar[bool] = ContextVar("reading_from_replica", default=False)

# A replica that did not answer is left alone for this long (requests read from the primary
# meanwhile) rather than making every dashboard wait for its connect timeout.
RETRY_AFTER_SECONDS = 30.0
_down_until = 0.0


def replica_configured() -> bool:
    """Whether a "replica" database is configured (DATABASE_REPLICA_URL, or a test's mirror)."""
    return REPLICA in connections.settings


def _replica_answers() -> bool:
    global _down_until
    if time.monotonic() < _down_until:
        return False
    try:
        connections[REPLICA].ensure_connection()
    except DatabaseError:
        _down_until = time.monotonic() + RETRY_AFTER_SECONDS
        log.warning("the read replica does not answer: reading from the primary for %ss", RETRY_AFTER_SECONDS)
        return False
    return True


@contextmanager
def reading_from_replica() -> Iterator[bool]:
    """Within the block (or the decorated function), reads that may be a few seconds old go to the
    replica, if one is configured and answers. Yields whether they do."""
    if not replica_configured() or not _replica_answers():
        yield False
        return
    token = _reading.set(True)
    try:
        yield True
    finally:
        _reading.reset(token)


class ReplicaRouter:
    """DATABASE_ROUTERS entry (set only when DATABASE_REPLICA_URL is): see the module's docstring."""

    def db_for_read(self, model: type, **hints: Any) -> str | None:
        if not _reading.get() or not replica_configured():
            # None: Django's own choice (an object's related rows from where the object came).
            return None
        if model._meta.app_label in PRIMARY_ONLY_APPS or model._meta.label in PRIMARY_ONLY:
            return DEFAULT_DB_ALIAS
        if connections[DEFAULT_DB_ALIAS].in_atomic_block:
            # A transaction on the primary may hold writes the replica has not seen.
            return DEFAULT_DB_ALIAS
        return REPLICA

    def db_for_write(self, model: type, **hints: Any) -> str:
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool | None:
        # Both hold the same rows: an object read from the replica may be linked to one from the primary.
        databases = {DEFAULT_DB_ALIAS, REPLICA}
        if obj1._state.db in databases and obj2._state.db in databases:
            return True
        return None

    def allow_migrate(self, db: str, app_label: str, model_name: str | None = None, **hints: Any) -> bool:
        # The replica copies the primary's schema through replication.
        return db == DEFAULT_DB_ALIAS


class ReplicaReadsMiddleware:
    """Serves the GET/HEAD requests of REPLICA_VIEWS with `reading_from_replica()` (a no-op without a
    replica). The view is known only once the URL is resolved, hence `process_view`; the block ends
    when the response is made (a template rendered late included)."""

    ATTRIBUTE = "_replica_block"

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        try:
            return self.get_response(request)
        finally:
            block = getattr(request, self.ATTRIBUTE, None)
            if block is not None:
                block.__exit__(None, None, None)

    def process_view(
        self, request: HttpRequest, view_func: Callable, view_args: tuple, view_kwargs: dict
    ) -> None:
        match = request.resolver_match
        if request.method not in ("GET", "HEAD") or match is None or match.view_name not in REPLICA_VIEWS:
            return None
        if not replica_configured():
            return None
        # The session and the signed-in user are read from the primary before the block begins.
        user = getattr(request, "user", None)
        if user is not None:
            user.is_authenticated  # noqa: B018 - loads the lazy user now
        block = reading_from_replica()
        block.__enter__()
        setattr(request, self.ATTRIBUTE, block)
        return None
