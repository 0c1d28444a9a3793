"""The checks behind /healthz and /readyz, each bounded in time whatever is down.

A check that waits on the network (the database, the broker, a Redis cache) runs in a thread of its
own and is given HEALTH_CHECK_TIMEOUT_SECONDS; the checks run side by side, so the answer comes
within about that time even when a server is blackholed (packets dropped, no refusal) rather than
after a connect timeout of several seconds. A check still running at the deadline is reported as
`Timeout` and left to finish on its own (its own socket timeouts end it); at most a few of each
kind are left running at once, later requests report `Timeout` without starting another.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import redis
from django.conf import settings
from django.core.cache import caches
from django.db import DEFAULT_DB_ALIAS, connections

from core import outbox

# Checks of one kind still running from earlier requests beyond which no new one is started.
MAX_RUNNING_PER_CHECK = 4

_running: dict[str, int] = {}
_running_lock = threading.Lock()
# Set once every migration is applied: this process's code cannot gain migrations later.
_migrations_applied = False

Result = dict[str, Any]


def check_seconds() -> float:
    """The time each check is given (setting HEALTH_CHECK_TIMEOUT_SECONDS, 0.5 s by default)."""
    return float(getattr(settings, "HEALTH_CHECK_TIMEOUT_SECONDS", 0.5))


def _error(exc: BaseException) -> Result:
    # The type only: a message may name hosts or users, and /healthz answers anyone.
    return {"status": "error", "error": type(exc).__name__}


class _Check:
    """One check running in its own thread; `result(deadline)` waits for it until then."""

    def __init__(self, name: str, function: Callable[[float], Result]) -> None:
        self.name = name
        self._result: Result | None = None
        self._done = threading.Event()
        with _running_lock:
            self.started = _running.get(name, 0) < MAX_RUNNING_PER_CHECK
            if self.started:
                _running[name] = _running.get(name, 0) + 1
        if self.started:
            thread = threading.Thread(
                target=self._run, args=(function, check_seconds()), name=f"health-{name}", daemon=True
            )
            thread.start()

    def _run(self, function: Callable[[float], Result], seconds: float) -> None:
        try:
            self._result = function(seconds)
        except Exception as exc:  # noqa: BLE001 - any failure is the check's answer
            self._result = _error(exc)
        finally:
            with _running_lock:
                _running[self.name] -= 1
            self._done.set()

    def result(self, deadline: float) -> Result:
        if not self.started or not self._done.wait(max(0.0, deadline - time.monotonic())):
            return {"status": "error", "error": "Timeout"}
        return self._result or {"status": "error", "error": "NoResult"}


def running(name: str) -> int:
    """Checks of this kind still running (for tests)."""
    with _running_lock:
        return _running.get(name, 0)


# --- The database ---------------------------------------------------------------------------------


def _statement_timeout(connection: Any, seconds: float) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET statement_timeout = %s", [max(1, int(seconds * 1000))])


def database(seconds: float) -> Result:
    """SELECT 1 on a connection of this thread (closed at the end), then the outbox backlog."""
    connection = connections[DEFAULT_DB_ALIAS]
    try:
        try:
            _statement_timeout(connection, seconds)
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
                cursor.fetchone()
        except Exception as exc:  # noqa: BLE001 - any failure means "down"
            return {"vendor": connection.vendor, **_error(exc)}
        result: Result = {"vendor": connection.vendor, "status": "ok"}
        try:
            result["outbox"] = {"status": "ok", **outbox.backlog()}
        except Exception as exc:  # noqa: BLE001 - the table may be missing before `migrate`
            result["outbox"] = _error(exc)
        return result
    finally:
        connection.close()


def migrations(seconds: float) -> Result:
    """Whether every migration of the code is applied to the database (for /readyz)."""
    global _migrations_applied
    if _migrations_applied:
        return {"status": "ok"}
    from django.db.migrations.executor import MigrationExecutor

    connection = connections[DEFAULT_DB_ALIAS]
    try:
        _statement_timeout(connection, seconds)
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    finally:
        connection.close()
    if pending:
        return {"status": "error", "error": "UnappliedMigrations", "unapplied": len(pending)}
    _migrations_applied = True
    return {"status": "ok"}


# --- The broker -----------------------------------------------------------------------------------


def _celery_app():
    from smart_portal.celery import app

    return app


def broker_url() -> str:
    conf = _celery_app().conf
    return conf.broker_write_url or conf.broker_url


def broker(seconds: float) -> Result:
    """A PING to Redis (or a connection to another broker) with socket timeouts of `seconds`,
    without kombu's retries and their back-off."""
    url = broker_url()
    if url.startswith(("redis://", "rediss://", "unix://")):
        client = redis.Redis.from_url(url, socket_connect_timeout=seconds, socket_timeout=seconds)
        try:
            client.ping()
        finally:
            client.close()
    else:
        from kombu import Connection

        with Connection(url, connect_timeout=seconds) as connection:
            connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=seconds)
    return {"mode": "broker", "status": "ok"}


# --- The cache ------------------------------------------------------------------------------------


def cache(seconds: float, backend: Any = None) -> Result:
    """The default cache answers (Redis: a PING, even while core.cache treats it as down). Pass the
    request thread's backend: `caches` gives each thread its own, with its own connections."""
    backend = backend or caches["default"]
    ping = getattr(backend, "ping", None)
    if callable(ping):
        ping()
    else:
        backend._cache.get_client(write=True).ping()
    return {"backend": "redis", "status": "ok"}


def _cache_is_remote() -> bool:
    backend = caches["default"]
    return callable(getattr(backend, "ping", None)) or hasattr(getattr(backend, "_cache", None), "get_client")


# --- The two answers ------------------------------------------------------------------------------


def health() -> tuple[Result, bool]:
    """Liveness: the body of /healthz and whether the web process can serve (its database answers).
    A broker or cache that is down is reported but does not fail it: requests still succeed (work
    waits in the outbox, the cache answers as empty), and restarting the web would not help."""
    deadline = time.monotonic() + check_seconds()
    database_check = _Check("database", database)
    in_process = bool(_celery_app().conf.task_always_eager)
    broker_check = None if in_process else _Check("broker", broker)
    backend = caches["default"]
    cache_check = _Check("cache", lambda seconds: cache(seconds, backend)) if _cache_is_remote() else None

    database_result = database_check.result(deadline)
    outbox_result = database_result.pop("outbox", {"status": "error", "error": "DatabaseUnavailable"})
    database_result.setdefault("vendor", connections[DEFAULT_DB_ALIAS].vendor)
    if broker_check is None:
        broker_result: Result = {"mode": "in-process", "status": "ok"}
    else:
        broker_result = {"mode": "broker", **broker_check.result(deadline)}
    cache_result = cache_check.result(deadline) if cache_check else {"backend": "local", "status": "ok"}
    cache_result.setdefault("backend", "redis")

    alive = database_result["status"] == "ok"
    everything = all(
        r["status"] == "ok" for r in (database_result, broker_result, cache_result, outbox_result)
    )
    body = {
        "status": "ok" if everything else ("degraded" if alive else "error"),
        "database": database_result,
        "broker": broker_result,
        "cache": cache_result,
        "outbox": outbox_result,
    }
    return body, alive


def readiness() -> tuple[Result, bool]:
    """Readiness: the body of /readyz and whether to send this process traffic (its database
    answers and has every migration of the code applied)."""
    deadline = time.monotonic() + check_seconds()
    database_check = _Check("database", database)
    migrations_check = _Check("migrations", migrations)
    database_result = database_check.result(deadline)
    database_result.pop("outbox", None)
    database_result.setdefault("vendor", connections[DEFAULT_DB_ALIAS].vendor)
    migrations_result = migrations_check.result(deadline)
    ready = database_result["status"] == "ok" and migrations_result["status"] == "ok"
    body = {
        "status": "ready" if ready else "not ready",
        "database": database_result,
        "migrations": migrations_result,
    }
    return body, ready
