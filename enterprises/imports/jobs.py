"""Import jobs: an uploaded file is checked by a Celery task (the preview), then, when the PO asks,
committed by another run of the task. Progress and the report are kept on the ImportJob row, so the
page can poll it. Without a broker the job runs in a background thread of the web process (see
`start`), so the upload's request answers at once whatever the file holds.

Every change of a job's status is a rule of its lifecycle (enterprises.lifecycles), taken by the
portal (the task) or, for "commit", "retry" and "cancel", by the PO's staff, and logged with who and
when. The moves that give the worker work (commit, retry) queue it themselves (the lifecycle's
follow-up), in the move's transaction.

A worker may die mid-job (killed, out of memory): it holds the job's lock (core.jobs) from before its
claim to its end and stamps the job's heartbeat as it goes, so the sweeper sees the job has lost its
worker and fails it, saying so; the PO's staff then retry it or cancel it. The rows of a file are
written in one transaction, so a worker that dies while writing leaves none of them.
"""

from __future__ import annotations

import csv
import logging
import zipfile

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl.utils.exceptions import InvalidFileException

from core import background, jobs, lifecycle
from core.errors import ActionRefused, Forbidden
from core.permissions import is_po_staff
from core.uploads import CSV, SPREADSHEET_KINDS, check_upload
from enterprises.imports import IMPORTERS, import_file
from enterprises.imports.base import ImportReport
from enterprises.imports.files import csv_bytes
from enterprises.lifecycles import WRITTEN
from enterprises.models import ImportJob, ImportStatus

# What a damaged or mislabelled spreadsheet raises while it is read.
UNREADABLE_FILE_ERRORS = (UnicodeDecodeError, csv.Error, zipfile.BadZipFile, InvalidFileException)

logger = logging.getLogger(__name__)


def max_upload_bytes() -> int:
    return getattr(settings, "ENTERPRISES_IMPORT_MAX_MB", 25) * 1024 * 1024


def create_job(*, user, kind: str, upload: UploadedFile) -> ImportJob:
    """Store the upload and queue its check. Raises ValidationError for a file that is not a
    spreadsheet (type read from the content), ActionRefused for a user who may not import."""
    if not is_po_staff(user):
        raise Forbidden(_("Only PO staff import their PO's field data."))
    if kind not in IMPORTERS:
        raise ValidationError({"kind": _("Choose what the file contains.")})
    file_kind = check_upload(upload, SPREADSHEET_KINDS, max_upload_bytes())
    with transaction.atomic():  # the job and its queued check are saved together
        job = ImportJob.objects.create(
            kind=kind,
            partner_organization_id=user.partner_organization_id,
            file=upload,
            original_name=(upload.name or "upload")[:200],
            file_format="csv" if file_kind == CSV else "xlsx",
            created_by=user,
        )
        start(job.pk, commit=False)
    job.refresh_from_db()
    return job


def may_commit(user, job: ImportJob) -> bool:
    """Only the PO's own staff import its data (the page shows the button by the same rule)."""
    return lifecycle.may_act(user, job, lifecycle.get_rule(ImportJob, "commit"))


def request_commit(*, user, job: ImportJob) -> ImportJob:
    """Write a checked file. Only its PO's staff, only once, only if the check found no error: the
    rule "commit" of the job's lifecycle (enterprises.lifecycles), which locks the row and checks it
    is still "ready to import", so of two requests only one is taken; the move queues the writing."""
    try:
        lifecycle.apply(job, "commit", user)
    except ActionRefused as exc:
        if exc.is_forbidden:
            raise Forbidden(_("Only the PO's own staff import its data.")) from None
        job.refresh_from_db()
        raise ActionRefused(
            _("This file cannot be imported now (its status: %(status)s).")
            % {"status": job.get_status_display()},
            code="wrong_state",
        ) from None
    job.refresh_from_db()
    return job


# What the PO's staff may do to a job besides importing it (rules of its lifecycle).
OWNER_ACTIONS = ("retry", "cancel")


def owner_action(*, user, job: ImportJob, action: str) -> ImportJob:
    """Retry a failed job (its file is checked again from the start, then imported on request) or
    cancel one that failed, is ready or has errors (it can no longer be imported). Only the PO's own
    staff (Forbidden: 403), only from those states (ActionRefused "wrong_state": 409)."""
    if action not in OWNER_ACTIONS:
        raise ActionRefused(_("An import is retried or cancelled, nothing else."), code="unknown")
    try:
        lifecycle.apply(job, action, user)
    except ActionRefused as exc:
        if exc.is_forbidden:
            raise Forbidden(_("Only the PO's own staff retry or cancel its imports.")) from None
        raise
    job.refresh_from_db()
    return job


def start(job_id: int, *, commit: bool) -> None:
    """Run the job in the background whatever the setup: a Celery worker when a broker is
    configured, else a thread of this process, so the upload's request answers at once and the
    page polls the job (a file that is slow to check never holds a web worker). The tests run it
    inline instead (ENTERPRISES_IMPORTS_INLINE), which is deterministic."""
    from core import outbox
    from enterprises.tasks import run_import_job

    if not outbox.in_process():
        # Saved with the job's change and published once it commits, whatever the broker's state.
        outbox.enqueue(run_import_job, job_id, commit)
    elif getattr(settings, "ENTERPRISES_IMPORTS_INLINE", False):
        run_import_job.delay(job_id, commit)
    else:
        background.start_after_commit(f"import-job-{job_id}", _run_in_thread, job_id, commit)


def _run_in_thread(job_id: int, commit: bool) -> None:
    # `run_job` looked up when the thread starts (the tests slow it down to see the page answer first).
    run_job(job_id, commit=commit)


def wait_for_background_jobs(timeout: float = 30) -> bool:
    """Wait for the background threads of this process (tests, shutdown); True if all have ended."""
    return background.wait_for_threads(timeout)


def _claim(job_id: int, *, commit: bool) -> bool:
    """Whether this run takes the job, so that a redelivered task does nothing. A check claims a
    pending job by the rule "check" (pending → validating: the engine locks the row and refuses a job
    no longer pending). An import was moved to "importing" by the person who asked for it ("commit",
    queued): a compare-and-set on its phase, not a change of state, claims it."""
    if commit:
        return bool(
            ImportJob.objects.filter(pk=job_id, status=ImportStatus.COMMITTING, phase="queued").update(
                phase="checking", heartbeat_at=timezone.now()
            )
        )
    job = ImportJob.objects.filter(pk=job_id).first()
    if job is None:
        return False
    try:
        lifecycle.apply(job, "check", None)
    except ActionRefused:
        return False
    return True


def _move(job_id: int, action: str, comment: str = "", **params) -> None:
    """The portal moves the job on (the worker's own rules); a job moved meanwhile stays as it is."""
    try:
        lifecycle.apply(ImportJob.objects.get(pk=job_id), action, None, comment=comment, **params)
    except ActionRefused as exc:
        logger.warning("import job %s: %s refused: %s", job_id, action, exc)


def run_job(job_id: int, *, commit: bool) -> str:
    """The task's body: take the job's lock, claim the job, check (or check and write) the file,
    store the result. A job another worker holds, or no longer waiting for this, is left alone."""
    with jobs.advisory_lock(jobs.LockSpace.IMPORT_JOB, job_id) as mine:
        if not mine:  # another worker runs this very job (a task delivered twice)
            return "skipped"
        return _run_claimed(job_id, commit=commit)


def _run_claimed(job_id: int, *, commit: bool) -> str:
    if not _claim(job_id, commit=commit):
        return "skipped"
    job = ImportJob.objects.select_related("partner_organization", "created_by", "committed_by").get(
        pk=job_id
    )
    heartbeat_in_row = not jobs.uses_advisory_locks()

    def progress(phase: str, done: int, total: int | None) -> None:
        now = timezone.now()
        total = total or done
        if phase != "writing":
            ImportJob.objects.filter(pk=job_id).update(
                phase=phase, rows_done=done, rows_total=total, heartbeat_at=now
            )
            return
        # The rows are written in one transaction: an update of the job's row there would be seen by
        # nobody until the end (and would hold the row), so progress and the heartbeat go to the
        # (shared) cache meanwhile.
        cache.set(job.progress_cache_key, (phase, done, total, now), 3600)
        if not done:
            return  # called before the writing's transaction opens
        if done >= total:
            # The last rows: the row says so in the same transaction, so that a worker dying before
            # it records the result leaves a job known to be written.
            ImportJob.objects.filter(pk=job_id).update(phase=WRITTEN, heartbeat_at=now)
        elif heartbeat_in_row:
            # SQLite: the writer holds the whole database anyway; its heartbeat shows at the commit.
            ImportJob.objects.filter(pk=job_id).update(heartbeat_at=now)

    def open_file():
        return default_storage.open(job.file.name, "rb")

    try:
        report = import_file(
            job.kind,
            partner_organization=job.partner_organization,
            user=job.committed_by or job.created_by,
            open_file=open_file,
            file_format=job.file_format,
            commit=commit,
            progress=progress,
        )
    except Exception as exc:
        logger.exception("import job %s failed", job_id)
        if isinstance(exc, UNREADABLE_FILE_ERRORS):
            failure = _(
                "The file could not be read as %(format)s (%(error)s). "
                "Save it again from your spreadsheet program and upload it."
            ) % {"format": job.file_format.upper(), "error": type(exc).__name__}
        else:
            failure = _(
                "The import stopped on an unexpected error (%(error)s); nothing was written. "
                "Try again later; if it happens again, tell the PMU."
            ) % {"error": type(exc).__name__}
        _move(job_id, "fail", comment=failure)
        cache.delete(job.progress_cache_key)
        return "failed"
    _store(job_id, report, commit=commit)
    cache.delete(job.progress_cache_key)
    return str(ImportJob.objects.values_list("status", flat=True).get(pk=job_id))


def _store(job_id: int, report: ImportReport, *, commit: bool) -> None:
    """The result, by the rule that leads to it; the report is stored by its effect."""
    if commit:
        action = "finish" if report.committed else "find_errors"
    else:
        action = "pass_check" if report.ok else "find_errors"
    _move(job_id, action, report=report)


def error_report_csv(job: ImportJob) -> bytes:
    return csv_bytes(
        [_("row"), _("column"), _("problem")],
        [[error["row"], error["column"], error["message"]] for error in job.errors],
    )
