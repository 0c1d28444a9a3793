"""Background work of results monitoring. Every task may be delivered more than once (at-least-once
delivery, core.outbox): each claims its job through the job's lifecycle, so a second delivery finds
it no longer queued and changes nothing; a job deleted meanwhile is skipped."""

from __future__ import annotations

from celery import shared_task

from monitoring import aggregation
from monitoring.models import AggregationRun, RunTrigger

MISSING = "missing"


@shared_task
def run_aggregation(run_id: int) -> str:
    """Run a requested aggregation (PMU button or API)."""
    run = AggregationRun.objects.filter(pk=run_id).first()
    if run is None:
        return MISSING
    return aggregation.execute(run).status


@shared_task
def nightly_aggregation() -> str:
    """The beat schedule's run: today's snapshot (a second delivery makes a second run, which stores
    the same figures, or is skipped while the first computes)."""
    return aggregation.run_now(trigger=RunTrigger.SCHEDULE).status


@shared_task
def generate_report(job_id: int) -> str:
    """Make a requested results report (page or API); failures are recorded on the job."""
    from monitoring import reports
    from monitoring.models import ReportJob

    job = ReportJob.objects.filter(pk=job_id).first()
    if job is None:
        return MISSING
    return reports.generate(job).status
