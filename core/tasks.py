from __future__ import annotations

from celery import shared_task

from core.models import Division


@shared_task(bind=True)
def ping(self) -> dict:
    """Diagnostic: proves a worker takes tasks from the broker and reads the portal's database."""
    return {
        "pong": True,
        "divisions": Division.objects.count(),
        "worker": self.request.hostname or "in-process",
    }
