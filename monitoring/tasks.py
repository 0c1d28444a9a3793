from __future__ import annotations

from celery import shared_task

from monitoring import aggregation
from monitoring.models import AggregationRun, RunTrigger


@shared_task
def run_aggregation(run_id: int) -> str:
    """Run a requested aggregation (PMU button or API)."""
    run = aggregation.execute(AggregationRun.objects.get(pk=run_id))
    return run.status


@shared_task
def nightly_aggregation() -> str:
    """The beat schedule's run: today's snapshot."""
    return aggregation.run_now(trigger=RunTrigger.SCHEDULE).status


@shared_task
def generate_report(job_id: int) -> str:
    """Make a requested results report (page or API); failures are recorded on the job."""
    from monitoring import reports
    from monitoring.models import ReportJob

    return reports.generate(ReportJob.objects.get(pk=job_id)).status
