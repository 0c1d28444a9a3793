"""Spreadsheet import jobs."""

from __future__ import annotations

import uuid
from pathlib import PurePath

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.models import PartnerOrganization
from subprojects.models import POScopedQuerySet

__all__ = [
    "ImportJob",
    "ImportJobQuerySet",
    "ImportStatus",
    "import_file_path",
]


# --- Import jobs ----------------------------------------------------------------------------------


class ImportStatus(models.TextChoices):
    PENDING = "pending", _("waiting to start")
    VALIDATING = "validating", _("checking the file")
    INVALID = "invalid", _("has errors")
    VALIDATED = "validated", _("ready to import")
    COMMITTING = "committing", _("importing")
    DONE = "done", _("imported")
    FAILED = "failed", _("failed")
    CANCELLED = "cancelled", _("cancelled")


class ImportJobQuerySet(POScopedQuerySet):
    pass


def import_file_path(instance: ImportJob, filename: str) -> str:
    suffix = PurePath(filename).suffix.lower()[:10]
    return f"imports/{timezone.now():%Y/%m}/{uuid.uuid4().hex}{suffix}"


class ImportJob(models.Model):
    """One spreadsheet import: checked first (the preview), then committed on request.

    Status, progress and the report live here, so the page (and the API) can follow a job that a
    Celery worker runs."""

    kind = models.CharField(_("kind of data"), max_length=30)
    partner_organization = models.ForeignKey(
        PartnerOrganization, on_delete=models.PROTECT, related_name="import_jobs", verbose_name=_("PO")
    )
    file = models.FileField(_("file"), upload_to=import_file_path, max_length=200)
    original_name = models.CharField(_("file name"), max_length=200)
    file_format = models.CharField(_("format"), max_length=4)
    # Moved only through core.lifecycle.apply (enterprises.lifecycles), each move logged.
    status = models.CharField(
        _("status"), max_length=12, choices=ImportStatus.choices, default=ImportStatus.PENDING
    )
    phase = models.CharField(_("phase"), max_length=60, blank=True)
    rows_total = models.PositiveIntegerField(_("rows"), default=0)
    rows_done = models.PositiveIntegerField(_("rows processed"), default=0)
    created_count = models.PositiveIntegerField(_("created"), default=0)
    updated_count = models.PositiveIntegerField(_("updated"), default=0)
    unchanged_count = models.PositiveIntegerField(_("unchanged"), default=0)
    error_count = models.PositiveIntegerField(_("errors"), default=0)
    duplicate_count = models.PositiveIntegerField(_("possible duplicates"), default=0)
    # [{"row": 7, "column": "phone", "message": "..."}], capped; `error_count` has the total.
    errors = models.JSONField(_("errors"), default=list, blank=True)
    # {"create": [...first rows...], "update": [...], "unchanged": [...]} for the preview.
    preview = models.JSONField(_("preview"), default=dict, blank=True)
    failure = models.TextField(_("failure"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    committed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    # The worker's last sign of life while it checks or writes the file (core.jobs: the sweeper);
    # while rows are written the job's row cannot change, and the time goes to the cache instead.
    heartbeat_at = models.DateTimeField(_("last sign of life"), null=True, blank=True)
    checked_at = models.DateTimeField(_("checked at"), null=True, blank=True)
    committed_at = models.DateTimeField(_("imported at"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True, db_index=True)

    objects = ImportJobQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("import")
        verbose_name_plural = _("imports")

    def __str__(self) -> str:
        return f"{self.original_name} ({self.get_status_display()})"

    def get_absolute_url(self) -> str:
        return reverse("enterprises:import-detail", args=[self.pk])

    @property
    def is_running(self) -> bool:
        return self.status in {ImportStatus.PENDING, ImportStatus.VALIDATING, ImportStatus.COMMITTING}

    @property
    def percent(self) -> int:
        if not self.rows_total:
            return 0
        return min(100, round(100 * self.rows_done / self.rows_total))

    @property
    def progress_cache_key(self) -> str:
        return f"import-job-progress-{self.pk}"

    def live_progress(self) -> tuple | None:
        """What the writer posted to the cache while it writes the rows: (phase, done, total, time)."""
        from django.core.cache import cache

        live = cache.get(self.progress_cache_key) if self.is_running else None
        return tuple(live) if live else None

    def with_live_progress(self) -> ImportJob:
        """While rows are written, the job's row is inside the import's transaction and cannot show
        progress to others; the writer posts it to the cache instead, read here."""
        live = self.live_progress()
        if live:
            self.phase, self.rows_done, self.rows_total = live[:3]
        return self

    def last_sign_of_life(self):
        """When the worker last showed it was alive: the row's heartbeat, or the progress it posts
        to the cache while it writes the rows (None: never claimed)."""
        live = self.live_progress()
        posted = live[3] if live and len(live) > 3 else None
        seen = [moment for moment in (self.heartbeat_at, posted) if moment is not None]
        return max(seen) if seen else None
