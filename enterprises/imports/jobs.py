"""Import jobs: an uploaded file is checked by a Celery task (the preview), then, when the PO asks,
committed by another run of the task. Progress and the report are kept on the ImportJob row, so the
page can poll it. Without a broker the task runs in-process (CELERY_TASK_ALWAYS_EAGER) and the page
shows the finished result straight away.
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

from core.errors import ActionRefused
from core.permissions import is_po_staff
from core.uploads import CSV, SPREADSHEET_KINDS, check_upload
from enterprises.imports import IMPORTERS, import_file
from enterprises.imports.base import ImportReport
from enterprises.imports.files import csv_bytes
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
        raise ActionRefused(_("Only PO staff import their PO's field data."), code="forbidden")
    if kind not in IMPORTERS:
        raise ValidationError({"kind": _("Choose what the file contains.")})
    file_kind = check_upload(upload, SPREADSHEET_KINDS, max_upload_bytes())
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
    return is_po_staff(user) and user.partner_organization_id == job.partner_organization_id


def request_commit(*, user, job: ImportJob) -> ImportJob:
    """Write a checked file. Only its PO's staff, only once, only if the check found no error."""
    if not may_commit(user, job):
        raise ActionRefused(_("Only the PO's own staff import its data."), code="forbidden")
    claimed = ImportJob.objects.filter(pk=job.pk, status=ImportStatus.VALIDATED).update(
        status=ImportStatus.COMMITTING, phase="queued", rows_done=0, committed_by=user
    )
    if not claimed:
        job.refresh_from_db()
        raise ActionRefused(
            _("This file cannot be imported now (its status: %(status)s).")
            % {"status": job.get_status_display()},
            code="wrong_state",
        )
    start(job.pk, commit=True)
    job.refresh_from_db()
    return job


def start(job_id: int, *, commit: bool) -> None:
    from enterprises.tasks import run_import_job
    from smart_portal.celery import app

    if app.conf.task_always_eager:
        run_import_job.delay(job_id, commit)
    else:
        # A worker must not look for the job before its row is committed.
        transaction.on_commit(lambda: run_import_job.delay(job_id, commit))


def run_job(job_id: int, *, commit: bool) -> str:
    """The task's body. A compare-and-set claims the job, so a redelivered task does nothing."""
    if commit:
        claimed = ImportJob.objects.filter(pk=job_id, status=ImportStatus.COMMITTING, phase="queued").update(
            phase="checking"
        )
    else:
        claimed = ImportJob.objects.filter(pk=job_id, status=ImportStatus.PENDING).update(
            status=ImportStatus.VALIDATING, phase="checking"
        )
    if not claimed:
        return "skipped"
    job = ImportJob.objects.select_related("partner_organization", "created_by", "committed_by").get(
        pk=job_id
    )

    def progress(phase: str, done: int, total: int | None) -> None:
        if phase == "writing":
            # The writing happens in one transaction that also holds this job's row: others would
            # see no progress until the end, so it goes to the (shared) cache meanwhile.
            cache.set(job.progress_cache_key, (phase, done, total or done), 3600)
        else:
            ImportJob.objects.filter(pk=job_id).update(phase=phase, rows_done=done, rows_total=total or done)

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
        ImportJob.objects.filter(pk=job_id).update(status=ImportStatus.FAILED, phase="", failure=failure)
        cache.delete(job.progress_cache_key)
        return "failed"
    _store(job_id, report, commit=commit)
    cache.delete(job.progress_cache_key)
    return str(ImportJob.objects.values_list("status", flat=True).get(pk=job_id))


def _store(job_id: int, report: ImportReport, *, commit: bool) -> None:
    now = timezone.now()
    if commit:
        status = ImportStatus.DONE if report.committed else ImportStatus.INVALID
    else:
        status = ImportStatus.VALIDATED if report.ok else ImportStatus.INVALID
    fields = {
        "status": status,
        "phase": "",
        "rows_total": report.rows,
        "rows_done": report.rows,
        "created_count": report.created,
        "updated_count": report.updated,
        "unchanged_count": report.unchanged,
        "error_count": report.error_count,
        "duplicate_count": report.duplicates,
        "errors": [error.as_dict() for error in report.errors],
        "preview": report.preview,
    }
    if commit:
        fields["committed_at"] = now
    else:
        fields["checked_at"] = now
    ImportJob.objects.filter(pk=job_id).update(**fields)


def error_report_csv(job: ImportJob) -> bytes:
    return csv_bytes(
        [_("row"), _("column"), _("problem")],
        [[error["row"], error["column"], error["message"]] for error in job.errors],
    )
