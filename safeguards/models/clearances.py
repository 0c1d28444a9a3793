"""DoE environmental clearance certificates and BSTI certifications of MEs and CSFs."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from pathlib import PurePath

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from core.models import PartnerOrganization
from enterprises.models import CommonServiceFacility, Enterprise
from safeguards.models.screening import EcrCategory, SafeguardsQuerySet


def clearance_path(instance: Clearance, filename: str) -> str:
    # Stored names are random: the original name is kept in the row, never used on disk.
    suffix = PurePath(filename).suffix.lower()[:10]
    return f"clearances/{timezone.now():%Y/%m}/{uuid.uuid4().hex}{suffix}"


class ClearanceKind(models.TextChoices):
    DOE_ECC = "doe_ecc", _("DoE environmental clearance certificate")
    DOE_SITE = "doe_site", _("DoE site clearance")
    BSTI = "bsti", _("BSTI certification")


class ClearanceQuerySet(SafeguardsQuerySet):
    def expired(self, on: date | None = None) -> ClearanceQuerySet:
        return self.filter(expires_on__lt=on or timezone.localdate())

    def expiring_within(self, days: int, on: date | None = None) -> ClearanceQuerySet:
        today = on or timezone.localdate()
        return self.filter(expires_on__gte=today, expires_on__lte=today + timedelta(days=days))

    def valid_on(self, on: date | None = None) -> ClearanceQuerySet:
        today = on or timezone.localdate()
        return self.filter(issued_on__lte=today, expires_on__gte=today)


class Clearance(models.Model):
    """A certificate held by an ME or a CSF: its number, category, dates and the scanned document.
    Reminders go to the PO before it expires (settings.CLEARANCE_REMINDER_DAYS, Celery beat)."""

    partner_organization = models.ForeignKey(
        PartnerOrganization, on_delete=models.PROTECT, related_name="+", verbose_name=_("PO")
    )
    enterprise = models.ForeignKey(
        Enterprise,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="clearances",
        verbose_name=_("enterprise"),
    )
    facility = models.ForeignKey(
        CommonServiceFacility,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="clearances",
        verbose_name=_("common service facility"),
    )
    kind = models.CharField(_("kind"), max_length=12, choices=ClearanceKind.choices)
    number = models.CharField(_("certificate number"), max_length=80)
    category = models.CharField(
        _("category (ECR 2023)"),
        max_length=10,
        choices=EcrCategory.choices,
        blank=True,
        help_text=_("For DoE certificates: green, yellow, orange or red."),
    )
    scope = models.CharField(
        _("product or standard"),
        max_length=200,
        blank=True,
        help_text=_("For BSTI: the product and standard."),
    )
    issued_on = models.DateField(_("issued on"))
    expires_on = models.DateField(_("expires on"))
    document = models.FileField(_("document"), upload_to=clearance_path, max_length=200, blank=True)
    document_name = models.CharField(_("file name"), max_length=200, blank=True)
    document_type = models.CharField(_("type"), max_length=100, blank=True)
    document_size = models.PositiveIntegerField(_("size (bytes)"), null=True, blank=True)
    # The reminder threshold (days before expiry) last emailed, so each reminder goes once.
    last_reminder_days = models.PositiveSmallIntegerField(null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True, db_index=True)

    history = HistoricalRecords(excluded_fields=["updated_at", "last_reminder_days"])
    objects = ClearanceQuerySet.as_manager()

    class Meta:
        ordering = ["expires_on", "pk"]
        verbose_name = _("clearance")
        verbose_name_plural = _("clearances")
        indexes = [models.Index(fields=["expires_on"], name="clearance_expiry_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(enterprise__isnull=False, facility__isnull=True)
                | Q(enterprise__isnull=True, facility__isnull=False),
                name="clearance_held_by_one",
                violation_error_message=_("A clearance belongs to one enterprise or one facility."),
            ),
            models.CheckConstraint(
                condition=Q(expires_on__gt=F("issued_on")),
                name="clearance_expires_after_issue",
                violation_error_message=_("The expiry date must be after the issue date."),
            ),
            models.UniqueConstraint(
                fields=["kind", "number"],
                name="clearance_number_unique",
                violation_error_message=_("A certificate of this kind with this number is already recorded."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.number}"

    def get_absolute_url(self) -> str:
        return reverse("safeguards:clearance-detail", args=[self.pk])

    @property
    def holder(self) -> Enterprise | CommonServiceFacility | None:
        return self.enterprise or self.facility

    def is_expired(self, on: date | None = None) -> bool:
        return self.expires_on < (on or timezone.localdate())
