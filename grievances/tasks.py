"""Scheduled and queued work of grievance handling: escalation when overdue (Celery beat, hourly) and
the emails telling a tier's focal points that a grievance awaits them."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="grievances.tasks.escalate_overdue")
def escalate_overdue() -> int:
    """Escalate each grievance past its deadline at tier 1 to tier 2, once, by the portal. Overdue
    cases at tier 2 or 3 are not moved (tier 3 is the complainant's appeal): the lists flag them."""
    from grievances import handling

    return handling.escalate_overdue()


@shared_task(
    name="grievances.tasks.send_grievance_emails", autoretry_for=(OSError,), retry_backoff=True, max_retries=5
)
def send_grievance_emails(transition_id: int) -> int:
    """Email the focal points of the tier that just received a grievance (each once)."""
    from grievances import notifications

    return notifications.send_for(transition_id)
