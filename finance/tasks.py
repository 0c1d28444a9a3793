"""Background work of the money app. Tasks are thin: they call the same functions pages use, and may be
delivered more than once (core.outbox): each one is idempotent."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="finance.tasks.compute_scorecards")
def compute_scorecards(today: str | None = None) -> dict[str, int]:
    """Daily (Celery beat) and on the PMU's "recompute now": the PO scorecards of the last complete
    quarter and of the current quarter to date (finance.scorecards.compute_scheduled). Computing again
    stores the same figures. `today` (ISO date) is for replays; the default is today in Dhaka."""
    from datetime import date

    from finance.scorecards import compute_scheduled

    return compute_scheduled(date.fromisoformat(today) if today else None)
