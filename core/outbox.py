"""Durable task publishing: work that must follow a saved change is never lost with the broker.

`enqueue(task, *args)` writes an OutboxMessage in the caller's transaction, so the change and the
work it calls for commit together or not at all. After the commit the message is published at
once, with short timeouts and no retries, so a request never waits on a broker that is down (and
after one failure this process leaves new messages to the relay for a few seconds instead of
trying the broker again for each). What could not be published stays in the table; the relay
(`relay()`: Celery beat every OUTBOX_RELAY_SECONDS, at every worker start, `manage.py relay_outbox`)
publishes it once the broker answers.

Each message is published with its uuid as the Celery task id. The worker marks it started and done
(Celery's task signals); a message published long ago that no worker ever started was lost by the
broker (a restart without persistence) and is published again. A task that raised goes back to the
relay with a growing delay, up to OUTBOX_MAX_ATTEMPTS. Delivery is therefore at least
once, and every task is idempotent: a job is claimed through its lifecycle, so a second delivery
finds it no longer waiting and changes nothing.

Without a broker (`make run`, the tests) publishing runs the task in this process, after the
commit, as Celery's eager mode always did.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Min
from django.utils import timezone

from core.models import OutboxMessage

log = logging.getLogger(__name__)

# After a failed publish this process leaves new messages to the relay for this long.
BROKER_DOWN_PAUSE_SECONDS = 5.0
# The relay leaves a message this long to the request that queued it (which publishes it at once).
FIRST_RELAY_DELAY = timedelta(seconds=5)
MAX_BACKOFF_SECONDS = 60

_pause_lock = threading.Lock()
_broker_down_until = 0.0


def _app():
    from smart_portal.celery import app

    return app


def in_process() -> bool:
    """Whether tasks run in this process (no broker configured)."""
    return bool(_app().conf.task_always_eager)


def broker_seen_down() -> bool:
    """Whether a publish from this process failed in the last few seconds."""
    return time.monotonic() < _broker_down_until


def _mark_broker_down() -> None:
    global _broker_down_until
    with _pause_lock:
        _broker_down_until = time.monotonic() + BROKER_DOWN_PAUSE_SECONDS


def _task_name(task: Any) -> str:
    return task if isinstance(task, str) else task.name


def enqueue(task: Any, *args: Any, **kwargs: Any) -> OutboxMessage:
    """Queue `task(*args, **kwargs)` to run after the current transaction commits (at once when no
    transaction is open). Arguments must be JSON: ids, dates as strings, flags."""
    message = OutboxMessage.objects.create(
        task=_task_name(task),
        args=list(args),
        kwargs=kwargs,
        available_at=timezone.now() + FIRST_RELAY_DELAY,
    )
    message_id = message.pk
    transaction.on_commit(lambda: _publish_after_commit(message_id))
    return message


def _publish_after_commit(message_id: int) -> None:
    if not in_process() and broker_seen_down():
        return  # the relay publishes it once the broker answers
    message = OutboxMessage.objects.filter(pk=message_id, published_at__isnull=True).first()
    if message is not None:
        publish(message)


PUBLISHED = "published"
BROKER_DOWN = "broker down"
UNKNOWN_TASK = "unknown task"


def publish(message: OutboxMessage) -> str:
    """Hand one message to the broker (or run it here, without one): PUBLISHED, or BROKER_DOWN (the
    message stays for the relay, with the error and the time of the next attempt), or UNKNOWN_TASK
    (a task this code does not know, e.g. renamed by an upgrade: kept for an operator, tried again
    only hourly, and never in the way of the others)."""
    app = _app()
    now = timezone.now()
    task = app.tasks.get(message.task)
    if task is None:
        OutboxMessage.objects.filter(pk=message.pk).update(
            attempts=F("attempts") + 1,
            last_error=f"unknown task {message.task!r} (renamed or removed?)"[:500],
            available_at=now + timedelta(hours=1),
        )
        log.error("outbox message %s names an unknown task %r", message.uuid, message.task)
        return UNKNOWN_TASK
    if app.conf.task_always_eager:
        OutboxMessage.objects.filter(pk=message.pk).update(
            published_at=now, done_at=now, attempts=F("attempts") + 1, last_error=""
        )
        # Runs the task now; an error in it propagates as eager Celery's always did.
        task.apply_async(args=message.args, kwargs=message.kwargs, task_id=str(message.uuid))
        return PUBLISHED
    try:
        task.apply_async(args=message.args, kwargs=message.kwargs, task_id=str(message.uuid), retry=False)
    except Exception as exc:  # noqa: BLE001 - any failure to publish leaves the message to the relay
        _mark_broker_down()
        attempts = message.attempts + 1
        backoff = timedelta(seconds=min(MAX_BACKOFF_SECONDS, 2**attempts))
        OutboxMessage.objects.filter(pk=message.pk).update(
            attempts=F("attempts") + 1,
            last_error=f"{type(exc).__name__}: {exc}"[:500],
            available_at=now + backoff,
        )
        log.warning("task %s (%s) not published, the relay will retry: %s", message.task, message.uuid, exc)
        return BROKER_DOWN
    OutboxMessage.objects.filter(pk=message.pk).update(
        published_at=now, attempts=F("attempts") + 1, last_error=""
    )
    return PUBLISHED


def relay(limit: int = 500) -> dict[str, int]:
    """Publish the messages that wait (oldest first), and publish again those the broker lost (no
    worker started them long after they were published). Stops at the first refusal: the broker is
    down, the next pass tries again. Each message is taken in its own short transaction, so several
    relays may run at once (SKIP LOCKED on PostgreSQL) and one message never holds up the others."""
    now = timezone.now()
    lost_before = now - timedelta(seconds=settings.OUTBOX_REPUBLISH_AFTER_SECONDS)
    republished = OutboxMessage.objects.filter(
        published_at__lt=lost_before, started_at__isnull=True, done_at__isnull=True
    ).update(published_at=None, available_at=now)
    if republished:
        log.warning("%s published task(s) never started: publishing them again", republished)
    published = failed = 0
    for _ in range(limit):
        with transaction.atomic():
            message = (
                OutboxMessage.objects.select_for_update(skip_locked=True)
                .filter(published_at__isnull=True, done_at__isnull=True, available_at__lte=now)
                .order_by("pk")
                .first()
            )
            if message is None:
                break
            outcome = publish(message)
        if outcome == PUBLISHED:
            published += 1
        elif outcome == BROKER_DOWN:
            failed += 1
            break
    return {"published": published, "republished": republished, "failed": failed}


def mark_started(task_id: str) -> None:
    """A worker started the task of this id (a message's uuid; other tasks match nothing)."""
    OutboxMessage.objects.filter(uuid=task_id, started_at__isnull=True).update(started_at=timezone.now())


def mark_done(task_id: str) -> None:
    """The worker ran the task of this id to its end."""
    OutboxMessage.objects.filter(uuid=task_id, done_at__isnull=True).update(done_at=timezone.now())


def task_failed(task_id: str, exc: BaseException) -> None:
    """The task raised (e.g. the database was restarting before it claimed its job): it goes back to
    the relay, later after each failure, until OUTBOX_MAX_ATTEMPTS, then it is given up (done, the
    error kept for an operator). Every task is idempotent, so running it again is safe."""
    message = OutboxMessage.objects.filter(uuid=task_id, done_at__isnull=True).first()
    if message is None:
        return
    error = f"{type(exc).__name__}: {exc}"
    now = timezone.now()
    if message.attempts >= settings.OUTBOX_MAX_ATTEMPTS:
        OutboxMessage.objects.filter(pk=message.pk).update(
            done_at=now, last_error=f"gave up after {message.attempts} attempts: {error}"[:500]
        )
        log.error(
            "task %s (%s) gave up after %s attempts: %s", message.task, task_id, message.attempts, error
        )
        return
    backoff = timedelta(seconds=min(3600, 60 * 2**message.attempts))
    OutboxMessage.objects.filter(pk=message.pk).update(
        published_at=None, started_at=None, available_at=now + backoff, last_error=f"failed: {error}"[:500]
    )


def prune(keep_days: int = 14) -> int:
    """Forget tasks done more than `keep_days` ago, and the record of emails sent as long ago (a
    task is delivered again within hours, never weeks)."""
    from core.models import SentEmail

    cutoff = timezone.now() - timedelta(days=keep_days)
    deleted, _ = OutboxMessage.objects.filter(done_at__lt=cutoff).delete()
    SentEmail.objects.filter(sent_at__lt=cutoff).delete()
    return deleted


def backlog() -> dict[str, Any]:
    """Messages not yet published and the age of the oldest, for /healthz and operators."""
    waiting = OutboxMessage.objects.filter(published_at__isnull=True).aggregate(
        count=Count("pk"), oldest=Min("created_at")
    )
    oldest = waiting["oldest"]
    return {
        "waiting": waiting["count"],
        "oldest_seconds": int((timezone.now() - oldest).total_seconds()) if oldest else 0,
    }


# Work waiting this long (or a broker just seen down) is announced on every page.
DELAY_NOTICE_AFTER_SECONDS = 60
DELAY_CHECK_EVERY_SECONDS = 15.0
_delay_checked: tuple[float, int] = (0.0, 0)


def delayed_count() -> int:
    """How many tasks wait for the broker when the wait is long enough to tell users (0 otherwise;
    always 0 without a broker). Checked at most every few seconds per process."""
    global _delay_checked
    if in_process():
        return 0
    checked_at, count = _delay_checked
    if time.monotonic() - checked_at < DELAY_CHECK_EVERY_SECONDS:
        return count
    cutoff = timezone.now() - timedelta(seconds=DELAY_NOTICE_AFTER_SECONDS)
    try:
        waiting = OutboxMessage.objects.filter(published_at__isnull=True)
        count = waiting.count() if broker_seen_down() or waiting.filter(created_at__lt=cutoff).exists() else 0
    except Exception:
        log.exception("could not read the outbox backlog")
        count = 0
    _delay_checked = (time.monotonic(), count)
    return count


def _eager(task: Any) -> bool:
    return bool(getattr(getattr(task, "request", None), "is_eager", False))


def _on_task_prerun(sender=None, task_id=None, **kwargs) -> None:
    if task_id and not _eager(sender):
        try:
            mark_started(task_id)
        except Exception:
            log.exception("could not mark task %s started", task_id)


def _on_task_postrun(sender=None, task_id=None, state=None, **kwargs) -> None:
    if task_id and state == "SUCCESS":
        try:
            mark_done(task_id)
        except Exception:
            log.exception("could not mark task %s done", task_id)


def _on_task_failure(sender=None, task_id=None, exception=None, **kwargs) -> None:
    if task_id and exception is not None and not _eager(sender):
        try:
            task_failed(task_id, exception)
        except Exception:
            log.exception("could not put failed task %s back in the outbox", task_id)


def _on_worker_ready(sender=None, **kwargs) -> None:
    try:
        relay()
    except Exception:
        log.exception("outbox relay at worker start failed")


def connect_signals() -> None:
    from celery.signals import task_failure, task_postrun, task_prerun, worker_ready

    task_prerun.connect(_on_task_prerun, dispatch_uid="core-outbox-started", weak=False)
    task_postrun.connect(_on_task_postrun, dispatch_uid="core-outbox-done", weak=False)
    task_failure.connect(_on_task_failure, dispatch_uid="core-outbox-failed", weak=False)
    worker_ready.connect(_on_worker_ready, dispatch_uid="core-outbox-relay-at-start", weak=False)
