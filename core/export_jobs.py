"""Large list downloads, written in the background and kept under Downloads.

An XLSX of more than settings.EXPORT_INLINE_ROWS rows is not made inside the request (core.exports;
a page's CSV is streamed at once whatever its length, the API's long CSV comes here too): the download
records an ExportJob with the list's address, its filters, the format and the
user's language, and the person goes back to the list with a message. The worker then:

1. takes the job's lock (core.jobs) and claims it (rule "start": queued → running);
2. calls the list's own view again, as the user who asked, with the same filters (`read_list`): the
   view checks who may see the list and builds its rows in that user's scope, exactly as for a
   download made at once, and hands them over instead of answering (core.exports.capture_export).
   Someone who may no longer read the list gets a failed job saying so, never more rows than theirs;
3. writes the file a chunk of rows at a time (CSV line by line, XLSX in openpyxl's write-only mode:
   memory stays flat), recording the rows written and its heartbeat after each chunk;
4. stores it ("succeed": running → ready) or records why it could not ("fail": running → failed).

Downloads (core.download_views) lists the user's exports with their progress; only the owner
downloads a file (anyone else: 404). A ready export not yet seen is announced in the page header
(`ready_notice`) until it is downloaded or Downloads is opened. Exports are deleted after
settings.EXPORT_KEEP_DAYS days (`prune`: nightly, and the user's own when they open Downloads).

Without a broker the worker is a thread of the web process (core.background), so the request never
waits for the file; the tests write it inline (EXPORT_JOBS_INLINE). A worker that dies mid-file
leaves a running job the sweeper (core.jobs) fails, saying so.
"""

from __future__ import annotations

import logging
import tempfile
import uuid
from datetime import datetime, timedelta
from importlib import import_module
from pathlib import Path
from typing import Any

from celery import shared_task
from django.conf import settings
from django.contrib.messages.storage import default_storage as message_storage
from django.core.exceptions import PermissionDenied
from django.core.files import File
from django.db import DEFAULT_DB_ALIAS, transaction
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, QueryDict
from django.urls import Resolver404, resolve
from django.utils import timezone, translation
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from core import background, jobs, lifecycle, navigation
from core.errors import ActionRefused
from core.exports import (
    CHUNK_ROWS,
    CONTENT_TYPES,
    EXPORT_LIMITS,
    ExportSource,
    capture_export,
    download_name,
    read_where,
    stream_rows,
    write_csv,
    write_xlsx,
)
from core.models import ExportJob, ExportStatus, User
from core.numbers import group
from smart_portal.db_routers import reading_from_replica

log = logging.getLogger(__name__)

MISSING = "missing"
SKIPPED = "skipped"
# The filters a job keeps: everything but the export switch itself.
EXPORT_PARAM = "export"
# A ready export is announced in the header for this many of the newest.
NOTICE_MAX = 3
# How many of a user's exports the Downloads page lists.
LISTED = 50


class ExportError(Exception):
    """An export that cannot be written, with a message for the person who asked for it."""


# --- The lifecycle (core.lifecycle): only the portal moves an export --------------------------------

PORTAL = {"by_portal": True, "button": False, "waits": False}


def store_file(job: ExportJob, **context: Any) -> list[str]:
    """EFFECT: the file, copied into storage (only once the job is known to be this worker's); how
    many rows it holds; when it was made."""
    job.file.save(context["name"], context["content"], save=False)
    job.rows_written = context["rows_written"]
    job.finished_at = job.heartbeat_at = timezone.now()
    return ["file", "rows_written", "finished_at", "heartbeat_at"]


EXPORT_RULES = [
    lifecycle.rule(
        "start",
        _lazy("Started"),
        [ExportStatus.QUEUED],
        ExportStatus.RUNNING,
        [],
        effect="stamp_heartbeat",
        **PORTAL,
    ),
    lifecycle.rule(
        "succeed",
        _lazy("Ready"),
        [ExportStatus.RUNNING],
        ExportStatus.READY,
        [],
        effect="store_file",
        params=("name", "content", "rows_written"),
        **PORTAL,
    ),
    lifecycle.rule(
        "fail",
        _lazy("Failed"),
        [ExportStatus.RUNNING],
        ExportStatus.FAILED,
        [],
        effect="record_error",
        params=("error",),
        **PORTAL,
    ),
]

EXPORT_LIFECYCLE = lifecycle.register(
    lifecycle.Lifecycle(
        ExportJob,
        EXPORT_RULES,
        effects={
            "stamp_heartbeat": jobs.stamp_heartbeat,
            "store_file": store_file,
            "record_error": jobs.record_error,
        },
    )
)


def worker_gone(job: ExportJob, since: datetime | None) -> str:
    return _(
        "The worker writing this file stopped (no sign of life since %(time)s); no file was made. "
        "Download the list again."
    ) % {"time": jobs.moment(since)}


EXPORT_KIND = jobs.watch(
    jobs.JobKind(
        ExportJob,
        jobs.LockSpace.EXPORT_JOB,
        Q(status=ExportStatus.RUNNING),
        worker_gone,
        since_field="requested_at",
        fail_params=lambda reason: {"error": reason},
    )
)


# --- Asking for an export ---------------------------------------------------------------------------


def list_title(request: HttpRequest, fallback: str) -> str:
    """How the Downloads page names a list: its entry in the user's menu, else `fallback`."""
    for item in navigation.items_for(request.user):
        try:
            if item.url == request.path:
                return str(item.label)
        except Exception:  # noqa: BLE001, S112 - a menu entry whose address needs arguments: not this list
            continue
    return fallback


# How many of one person's downloads may wait or be written at once: each reads up to a million rows.
ACTIVE_PER_USER = 3


def too_many_waiting(user, path: str, params, file_format: str) -> bool:
    """Whether `user` already has ACTIVE_PER_USER downloads waiting or being written, other than one of
    this very list (asking again for that one gives it back, see request_export)."""
    query = params.copy()
    query.pop(EXPORT_PARAM, None)
    active = ExportJob.objects.filter(user=user, status__in=(ExportStatus.QUEUED, ExportStatus.RUNNING))
    if active.filter(path=path, query=query.urlencode(), file_format=file_format).exists():
        return False
    return active.count() >= ACTIVE_PER_USER


def request_export(
    request: HttpRequest, *, file_format: str, title: str | None, filename_stem: str, row_count: int
) -> ExportJob:
    """Record the export of the list `request` asked for (its address and filters) and start it once
    the transaction commits. The same list asked again while its export is still waiting or being
    written gives that export, not a second one."""
    params = request.GET.copy()
    params.pop(EXPORT_PARAM, None)
    query = params.urlencode()
    user = request.user
    with transaction.atomic():
        same = (
            ExportJob.objects.filter(
                user=user,
                path=request.path,
                query=query,
                file_format=file_format,
                status__in=(ExportStatus.QUEUED, ExportStatus.RUNNING),
            )
            .order_by("-requested_at", "-pk")
            .first()
        )
        if same is not None:
            return same
        job = ExportJob.objects.create(
            user=user,
            title=str(title or list_title(request, filename_stem))[:200],
            path=request.path[:300],
            query=query,
            language=translation.get_language() or settings.LANGUAGE_CODE,
            file_format=file_format,
            row_count=row_count,
        )
        start(job.pk)
    return job


def start(job_id: int) -> None:
    """Write the export in the background whatever the setup: a Celery worker when a broker is
    configured (queued through the outbox, with the job), else a thread of this process after the
    commit. The tests write it inline instead (EXPORT_JOBS_INLINE), which is deterministic."""
    from core import outbox

    if not outbox.in_process() or getattr(settings, "EXPORT_JOBS_INLINE", False):
        # Without a broker, publishing after the commit runs the task right there (the tests).
        outbox.enqueue(write_export_task, job_id)
    else:
        background.start_after_commit(f"export-job-{job_id}", run, job_id)


# --- The worker ---------------------------------------------------------------------------------------


def run(job_id: int) -> str:
    """The task's body: take the job's lock, claim the job, write the file, store the result (or the
    reason there is none). A job another worker holds, or no longer queued, is left alone."""
    job = ExportJob.objects.select_related("user").filter(pk=job_id).first()
    if job is None:
        return MISSING
    with jobs.advisory_lock(jobs.LockSpace.EXPORT_JOB, job.pk) as mine:
        if not mine:  # another worker writes this very export (a task delivered twice)
            return SKIPPED
        return _run_claimed(job)


def _run_claimed(job: ExportJob) -> str:
    started = _move(job, "start")
    if started is None:
        return SKIPPED
    job = started
    # The file's headers and values, and any message, in the language the user had when asking.
    with translation.override(job.language):
        try:
            _write(job)
        except ExportError as exc:
            _move(job, "fail", error=str(exc))
        except Exception as exc:  # any failure is recorded on the job; Downloads shows it
            log.exception("export job %s failed", job.pk)
            _move(job, "fail", error=_unexpected(exc))
    return str(ExportJob.objects.values_list("status", flat=True).get(pk=job.pk))


def _write(job: ExportJob) -> None:
    # The list's rows from the read replica when there is one (smart_portal.db_routers): the view runs
    # as for a page; the job's own row (its progress, its moves) is written to and read from the primary.
    with reading_from_replica():
        source = read_list(job)
        queryset = read_where(source.queryset)
    count = queryset.count()
    limit = EXPORT_LIMITS[job.file_format]
    if count > limit:
        raise ExportError(
            _(
                "This list has %(count)s rows; a %(format)s download holds at most %(limit)s. Filter the "
                "list first (for example by PO, sub-project, district or dates), or use the API."
            )
            % {"count": group(count), "format": job.file_format.upper(), "limit": group(limit)}
        )
    ExportJob.objects.filter(pk=job.pk).update(row_count=count, heartbeat_at=timezone.now())

    written = 0

    def progress(rows: int) -> None:
        nonlocal written
        written = rows
        # Outside any transaction: the Downloads page and the sweeper see it at once.
        ExportJob.objects.filter(pk=job.pk).update(rows_written=rows, heartbeat_at=timezone.now())

    # On the replica the rows are read inside a transaction there (see stream_rows); on the one database
    # without, so that the progress written meanwhile is seen at once.
    rows = (
        stream_rows(queryset) if queryset.db != DEFAULT_DB_ALIAS else queryset.iterator(chunk_size=CHUNK_ROWS)
    )
    with tempfile.TemporaryDirectory(prefix="export-") as folder:
        path = Path(folder) / f"export.{job.file_format}"
        if job.file_format == "csv":
            with path.open("w", encoding="utf-8", newline="") as out:
                write_csv(rows, source.columns, out, progress)
        else:
            write_xlsx(rows, source.columns, str(path), source.filename_stem, progress)
        # A short random tail: two exports of one list on one day never share a file name.
        stem = Path(download_name(source.filename_stem, job.file_format)).stem
        name = f"{stem}-{uuid.uuid4().hex[:8]}.{job.file_format}"
        with path.open("rb") as handle:
            _move(job, "succeed", name=name, content=File(handle, name=name), rows_written=written)


def read_list(job: ExportJob) -> ExportSource:
    """The list's rows and columns, read by the list's own view as the user who asked, with the
    filters they had: the view decides who may read it and in which scope, as for any request.
    Raises ExportError (with a message for the user) when the list no longer gives them."""
    user = User.objects.filter(pk=job.user_id).first()
    if user is None or not user.is_active:
        raise ExportError(_("The account that asked for this download is no longer active."))
    try:
        match = resolve(job.path)
    except Resolver404:
        raise ExportError(_("This list no longer exists at %(path)s.") % {"path": job.path}) from None
    request = replayed_request(job, user)
    request.resolver_match = match
    captured = capture_export(request)
    refused = ExportError(_("You may no longer read this list, or not with these filters: no file was made."))
    try:
        response = match.func(request, *match.args, **match.kwargs)
    except (PermissionDenied, Http404):
        raise refused from None
    if not captured or getattr(response, "status_code", None) != 204:
        raise refused
    source = captured[0]
    if source.file_format != job.file_format:
        raise refused
    return source


def replayed_request(job: ExportJob, user: User) -> HttpRequest:
    """A GET of the list as `user` made it, with the export switch on: what the view reads of a
    request (the user, the filters, the language, a session and messages it may touch)."""
    query = QueryDict(job.query, mutable=True)
    query[EXPORT_PARAM] = job.file_format
    request = HttpRequest()
    request.method = "GET"
    request.path = request.path_info = job.path
    request.GET = query
    request.META = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": job.path,
        "QUERY_STRING": query.urlencode(),
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
    }
    request.user = user
    request.LANGUAGE_CODE = job.language
    request.session = import_module(settings.SESSION_ENGINE).SessionStore()
    request._messages = message_storage(request)
    from django_htmx.middleware import HtmxDetails

    request.htmx = HtmxDetails(request)
    return request


def _unexpected(exc: Exception) -> str:
    return _(
        "The file could not be written (%(error)s). Download the list again; if it fails again, tell the PMU."
    ) % {"error": type(exc).__name__}


def _move(job: ExportJob, action: str, **params: Any) -> ExportJob | None:
    """The job after the portal's `action`, or None when it was no longer in a state to take it."""
    comment = params.get("error", "")
    try:
        return lifecycle.apply(job, action, None, comment=comment, **params)
    except ActionRefused as exc:
        if exc.code != "wrong_state":
            raise
        log.warning("export job %s: %s refused (%s)", job.pk, action, exc)
        return None


# --- What a user sees of their exports ----------------------------------------------------------------


def keep_days() -> int:
    return int(getattr(settings, "EXPORT_KEEP_DAYS", 7))


def exports_of(user) -> QuerySet[ExportJob]:
    """The user's own exports, newest first (nobody sees another's)."""
    return ExportJob.objects.filter(user=user)


def visible_export(user, pk: int) -> ExportJob:
    """One of the user's own exports; anyone else's, or none: 404."""
    job = exports_of(user).filter(pk=pk).first()
    if job is None:
        raise Http404(_("No download matches the given query."))
    return job


def mark_seen(user, *, job: ExportJob | None = None) -> int:
    """The ready exports (or this one) are seen: the header no longer announces them."""
    ready = exports_of(user).filter(status=ExportStatus.READY, seen_at__isnull=True)
    if job is not None:
        ready = ready.filter(pk=job.pk)
    return ready.update(seen_at=timezone.now())


def fail_lost(user) -> int:
    """Fail the user's running exports whose worker is gone (a thread that died with its process,
    where no sweeper runs), saying so; the page then offers nothing to wait for."""
    failed = 0
    for job in exports_of(user).filter(status=ExportStatus.RUNNING):
        if jobs.worker_gone(EXPORT_KIND, job):
            with translation.override(job.language):
                if _move(job, "fail", error=worker_gone(job, EXPORT_KIND.seen(job))):
                    failed += 1
    return failed


def prune(*, user=None, days: int | None = None) -> int:
    """Delete the exports (files and rows) requested more than EXPORT_KEEP_DAYS days ago, of `user`
    or everyone's; one still being written is left to finish. Returns how many were deleted."""
    cutoff = timezone.now() - timedelta(days=keep_days() if days is None else days)
    old = ExportJob.objects.filter(requested_at__lt=cutoff).exclude(status=ExportStatus.RUNNING)
    if user is not None:
        old = old.filter(user=user)
    deleted = 0
    for job in old.only("pk", "file"):
        if job.file:
            try:
                job.file.delete(save=False)
            except OSError:
                log.warning(
                    "export %s: its file %s could not be deleted", job.pk, job.file.name, exc_info=True
                )
                continue
        ExportJob.objects.filter(pk=job.pk).delete()
        deleted += 1
    return deleted


def ready_notice(request: HttpRequest) -> Any:
    """The user's ready exports not yet seen (newest first, at most NOTICE_MAX), for the page header:
    one indexed query, only when a page shows it, once per request."""

    def load() -> list[ExportJob]:
        cached = getattr(request, "_ready_exports", None)
        if cached is None:
            cached = list(
                exports_of(request.user)
                .filter(status=ExportStatus.READY, seen_at__isnull=True)
                .only("pk", "title", "file_format", "rows_written", "finished_at", "requested_at")[
                    :NOTICE_MAX
                ]
            )
            request._ready_exports = cached
        return cached

    return SimpleLazyObject(load)


def percent(job: ExportJob) -> int:
    """How far the file is written, 0 to 100."""
    if not job.row_count:
        return 100 if job.status == ExportStatus.READY else 0
    return min(100, round(100 * job.rows_written / job.row_count))


def file_name(job: ExportJob) -> str:
    """The name the file is downloaded as: the list's name and the day, without the stored tail."""
    stored = Path(job.file.name).stem
    head, _sep, _tail = stored.rpartition("-")
    return f"{head or stored}.{job.file_format}"


def content_type(job: ExportJob) -> str:
    return CONTENT_TYPES.get(job.file_format, "application/octet-stream")


# --- Tasks (thin: ids in, the functions above) --------------------------------------------------------


@shared_task(name="core.export_jobs.write_export")
def write_export_task(job_id: int) -> str:
    """Write one requested export; failures are recorded on the job."""
    return run(job_id)


@shared_task(name="core.export_jobs.prune_exports")
def prune_exports_task() -> int:
    """Delete the exports older than EXPORT_KEEP_DAYS (beat, nightly)."""
    return prune()
