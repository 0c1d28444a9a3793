"""The lifecycles of the monitoring app's background jobs on the portal's one engine (core.lifecycle).

An aggregation run (monitoring.aggregation) and a results report (monitoring.reports) record work the
portal does on its own, in a Celery task or in-process: every move is the portal's (`apply(...,
user=None)`, rules `by_portal` with no role), and each one writes one Transition row with no actor.
Nobody cancels or retries a job in place: "request again" (page or API) makes a new one.

Aggregation runs (RUN_RULES):

    start    queued  → running    the run took the aggregation lock   effect: started_at, heartbeat_at
    skip     queued  → skipped    another run holds the lock          effect: error (which run), finished_at
    succeed  running → succeeded  the snapshot is stored              effect: rows_written, finished_at
    fail     running → failed     computing or storing it failed,     effect: error, finished_at; the
                                  or its worker died (the sweeper)    table lock freed if the run held it

Results reports (REPORT_RULES):

    start    queued  → running    a worker takes the job              effect: heartbeat_at
    succeed  running → succeeded  the file is made                    effect: the file stored, finished_at
    fail     running → failed     it could not be made, or its        effect: error, finished_at
                                  worker died (the sweeper)

`start` is the claim: `apply()` locks the row and checks it is still queued, so of two workers handed
the same job (a task delivered twice) only one starts it; the other is refused ("wrong_state") and
leaves the job alone. Skip and fail keep their reason in `error` and as the log row's comment.

A running run or report whose worker died (core.jobs: on PostgreSQL nobody holds its lock any more;
elsewhere no heartbeat for JOB_HEARTBEAT_TIMEOUT_SECONDS) is failed by the sweeper, saying so.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from django.core.files.base import ContentFile
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from core import jobs, lifecycle
from monitoring.models import AggregationLock, AggregationRun, ReportJob, RunStatus

# Only the portal moves a job: no role may, so no page or API client can.
PORTAL = {"by_portal": True, "button": False, "waits": False}


# --- Effects --------------------------------------------------------------------------------------


def stamp_started(run: AggregationRun, **context) -> list[str]:
    """EFFECT: when the run started computing (its first sign of life)."""
    run.started_at = run.heartbeat_at = timezone.now()
    return ["started_at", "heartbeat_at"]


def record_failure(run: AggregationRun, **context) -> list[str]:
    """EFFECT: why the run failed; the table lock (SQLite) is freed if this run still holds it (its
    worker died without releasing it), so the next run is not skipped."""
    AggregationLock.objects.filter(held_by=run).update(held_by=None, held_until=timezone.now())
    return jobs.record_error(run, **context)


def record_rows(run: AggregationRun, **context) -> list[str]:
    """EFFECT: how many values the snapshot holds; when the run ended."""
    run.rows_written = context["rows_written"]
    run.finished_at = timezone.now()
    return ["rows_written", "finished_at"]


def store_file(job: ReportJob, **context) -> list[str]:
    """EFFECT: the report's file, stored under the media root (only once the job is known to be this
    worker's, so a refused move writes no file); when it was made."""
    job.file.save(f"{uuid.uuid4().hex}.{job.file_format}", ContentFile(context["content"]), save=False)
    job.finished_at = timezone.now()
    return ["file", "finished_at"]


# --- The tables -----------------------------------------------------------------------------------

RUN_RULES = [
    lifecycle.rule(
        "start", _lazy("Started"), [RunStatus.QUEUED], RunStatus.RUNNING, [], effect="stamp_started", **PORTAL
    ),
    lifecycle.rule(
        "skip",
        _lazy("Skipped: another run was in progress"),
        [RunStatus.QUEUED],
        RunStatus.SKIPPED,
        [],
        effect="record_error",
        params=("error",),
        **PORTAL,
    ),
    lifecycle.rule(
        "succeed",
        _lazy("Succeeded"),
        [RunStatus.RUNNING],
        RunStatus.SUCCEEDED,
        [],
        effect="record_rows",
        params=("rows_written",),
        **PORTAL,
    ),
    lifecycle.rule(
        "fail",
        _lazy("Failed"),
        [RunStatus.RUNNING],
        RunStatus.FAILED,
        [],
        effect="record_failure",
        params=("error",),
        **PORTAL,
    ),
]

REPORT_RULES = [
    lifecycle.rule(
        "start",
        _lazy("Started"),
        [RunStatus.QUEUED],
        RunStatus.RUNNING,
        [],
        effect="stamp_heartbeat",
        **PORTAL,
    ),
    lifecycle.rule(
        "succeed",
        _lazy("Ready"),
        [RunStatus.RUNNING],
        RunStatus.SUCCEEDED,
        [],
        effect="store_file",
        params=("content",),
        **PORTAL,
    ),
    lifecycle.rule(
        "fail",
        _lazy("Failed"),
        [RunStatus.RUNNING],
        RunStatus.FAILED,
        [],
        effect="record_error",
        params=("error",),
        **PORTAL,
    ),
]

RUN_LIFECYCLE = lifecycle.register(
    lifecycle.Lifecycle(
        AggregationRun,
        RUN_RULES,
        effects={
            "stamp_started": stamp_started,
            "record_error": jobs.record_error,
            "record_failure": record_failure,
            "record_rows": record_rows,
        },
    )
)
REPORT_LIFECYCLE = lifecycle.register(
    lifecycle.Lifecycle(
        ReportJob,
        REPORT_RULES,
        effects={
            "stamp_heartbeat": jobs.stamp_heartbeat,
            "store_file": store_file,
            "record_error": jobs.record_error,
        },
    )
)


# --- Runs and reports whose worker died (core.jobs) -----------------------------------------------


def run_worker_gone(run: AggregationRun, since: datetime | None) -> str:
    return _(
        "The worker running this aggregation stopped (no sign of life since %(time)s); nothing was "
        "written and the previous figures stay. Run it again."
    ) % {"time": jobs.moment(since)}


def report_worker_gone(job: ReportJob, since: datetime | None) -> str:
    return _(
        "The worker making this report stopped (no sign of life since %(time)s); no file was made. "
        "Request it again."
    ) % {"time": jobs.moment(since)}


jobs.watch(
    jobs.JobKind(
        AggregationRun,
        jobs.LockSpace.AGGREGATION_RUN,
        Q(status=RunStatus.RUNNING),
        run_worker_gone,
        since_field="started_at",
        fail_params=lambda reason: {"error": reason},
    )
)
jobs.watch(
    jobs.JobKind(
        ReportJob,
        jobs.LockSpace.REPORT_JOB,
        Q(status=RunStatus.RUNNING),
        report_worker_gone,
        since_field="requested_at",
        fail_params=lambda reason: {"error": reason},
    )
)
