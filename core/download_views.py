"""Downloads: the large list exports a user asked for (core.export_jobs), their progress, and their
files, which only their owner downloads."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from core import export_jobs
from core.models import ExportStatus
from core.uploads import file_response

# The page polls while an export asked for within this time waits or is written (a job left
# "queued" by a process that stopped does not make it poll for ever).
POLL_FOR = timedelta(hours=1)


@login_required
@require_GET
def downloads(request: HttpRequest) -> HttpResponse:
    """The user's exports, newest first, with their progress; htmx polls the table while one is on
    its way. Opening the page clears the header's "ready" notice and deletes the expired exports."""
    user = request.user
    export_jobs.prune(user=user)
    export_jobs.fail_lost(user)
    export_jobs.mark_seen(user)
    jobs = list(export_jobs.exports_of(user)[: export_jobs.LISTED])
    for job in jobs:
        job.percent = export_jobs.percent(job)
    recent = timezone.now() - POLL_FOR
    context = {
        "jobs": jobs,
        "busy": any(
            job.status in (ExportStatus.QUEUED, ExportStatus.RUNNING) and job.requested_at > recent
            for job in jobs
        ),
        "keep_days": export_jobs.keep_days(),
    }
    template = "core/_downloads_table.html" if request.htmx else "core/downloads.html"
    return render(request, template, context)


@login_required
@require_GET
def download_file(request: HttpRequest, pk: int) -> FileResponse:
    """The file of one of the user's ready exports (anyone else's: 404), which is then seen."""
    job = export_jobs.visible_export(request.user, pk)
    if job.status != ExportStatus.READY or not job.file:
        raise Http404(_("This download has no file (yet)."))
    response = file_response(
        job.file, name=export_jobs.file_name(job), content_type=export_jobs.content_type(job)
    )
    export_jobs.mark_seen(request.user, job=job)
    return response
