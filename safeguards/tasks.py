"""Scheduled work of the safeguards app. Tasks are thin: they call the services."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="safeguards.tasks.send_clearance_reminders")
def send_clearance_reminders() -> int:
    """Daily (Celery beat): remind each PO of its clearances expiring within a threshold of
    settings.CLEARANCE_REMINDER_DAYS, once per threshold (safeguards.clearances.send_reminders)."""
    from safeguards.clearances import send_reminders

    return send_reminders()
