from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from subprojects.models import Call, CallStatus, Transition


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_transition_emails(transition_id: int) -> int:
    """Email whoever must act next (and the PO concerned) about one transition."""
    from subprojects.notifications import send_for

    transition = Transition.objects.select_related("actor", "content_type").get(pk=transition_id)
    return send_for(transition)


@shared_task
def close_calls_past_deadline() -> list[str]:
    """Close open calls whose deadline has passed (submissions are refused after it anyway)."""
    from core.errors import ActionRefused
    from subprojects.workflow import apply

    closed = []
    for call in Call.objects.filter(status=CallStatus.OPEN, closes_at__lt=timezone.now()):
        try:
            apply(call, "close", None, comment="Deadline passed; closed by the portal.")
        except ActionRefused:  # closed meanwhile (an overlapping run, or the PMU): nothing to do
            continue
        closed.append(call.reference)
    return closed
