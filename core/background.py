"""Work that runs after the response in a thread of the web process, when no broker is configured
(`make run`, a small installation): an import's check, a large download. The page answers at once
and follows the job's progress by polling, as it does when a Celery worker runs the job.

Each thread uses its own database connections (Django's are per thread) and closes them when it
ends, since no request cycle does it for a thread. The job itself records its progress and its
heartbeat on its row, so the sweeper (core.jobs) fails a job whose process died with its thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from django.db import connections, transaction

log = logging.getLogger(__name__)

_threads: list[threading.Thread] = []
_threads_lock = threading.Lock()


def start_after_commit(name: str, target: Callable[..., Any], *args: Any) -> None:
    """Run `target(*args)` in a new thread once the current transaction commits (at once outside
    one): the thread then reads what the request saved."""
    transaction.on_commit(lambda: start_thread(name, target, *args))


def start_thread(name: str, target: Callable[..., Any], *args: Any) -> threading.Thread:
    thread = threading.Thread(target=_run, args=(name, target, args), name=name, daemon=True)
    with _threads_lock:
        _threads[:] = [t for t in _threads if t.is_alive()]
        _threads.append(thread)
    thread.start()
    return thread


def _run(name: str, target: Callable[..., Any], args: tuple) -> None:
    try:
        target(*args)
    except Exception:  # a thread's exception would only reach stderr: log it with its name
        log.exception("background work %s failed", name)
    finally:
        # The thread's own database connections are not closed by any request cycle.
        connections.close_all()


def wait_for_threads(timeout: float = 30) -> bool:
    """Wait for the background threads of this process (tests, shutdown); True if all have ended."""
    with _threads_lock:
        running = list(_threads)
    for thread in running:
        thread.join(timeout)
    return not any(thread.is_alive() for thread in running)
