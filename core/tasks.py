from __future__ import annotations

from celery import shared_task

from core.models import Division


@shared_task(bind=True, ignore_result=False)
def ping(self) -> dict:
    """Diagnostic: proves a worker takes tasks from the broker and reads the portal's database."""
    return {
        "pong": True,
        "divisions": Division.objects.count(),
        "worker": self.request.hostname or "in-process",
    }


@shared_task
def relay_outbox() -> dict[str, int]:
    """Publish the queued tasks the broker has not taken yet (core.outbox); beat runs it often."""
    from core import outbox

    return outbox.relay()


@shared_task
def sweep_stale_jobs() -> dict[str, int]:
    """Fail the running jobs whose worker died (core.jobs): beat runs it every JOB_SWEEP_SECONDS."""
    from core import jobs

    return jobs.sweep()


@shared_task
def prune_outbox() -> int:
    """Forget tasks done weeks ago (the outbox and the record of sent emails stay small), and the API's
    idempotency keys kept past IDEMPOTENCY_KEEP_HOURS (smart_portal.idempotency), and the deletions
    listed to syncing clients past TOMBSTONE_KEEP_DAYS (core.tombstones)."""
    from core import outbox, tombstones
    from smart_portal import idempotency

    idempotency.purge()
    tombstones.prune()
    return outbox.prune()
