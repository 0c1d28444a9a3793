"""The Grievance Redress Mechanism (issue 13): grievances lodged by anyone (the public page, PO staff,
the PMU), handled tier by tier under deadlines, with SEA/SH cases seen by named focal points only.

Visibility is the model's own rule (`GrievanceQuerySet.visible_to`): every list, page, API answer,
export and search goes through it, so no screen can show a case to someone it must not reach."""

from __future__ import annotations

import secrets
import uuid
from pathlib import PurePath

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from core.models import District, PartnerOrganization, Upazila
from core.roles import Role
from subprojects.models import WorkflowObject


class Category(models.TextChoices):
    ENVIRONMENTAL_SOCIAL = "es", _("environmental or social")
    FINANCIAL = "financial", _("financial or loan")
    SERVICE = "service", _("service quality")
    PROCUREMENT = "procurement", _("procurement")
    SEAH = "seah", _("sexual exploitation, abuse or harassment (SEA/SH)")
    OTHER = "other", _("other")


class Channel(models.TextChoices):
    WEB = "web", _("public web page")
    PHONE = "phone", _("phone")
    LETTER = "letter", _("letter")
    IN_PERSON = "in_person", _("in person")
    CSF = "csf", _("at a common service facility")
    EMAIL = "email", _("email")
    PKSF = "pksf", _("sent to PKSF")
    WORLD_BANK = "world_bank", _("sent to the World Bank")


class Tier(models.IntegerChoices):
    PO = 1, _("PO grievance committee")
    PMU = 2, _("PMU grievance committee")
    APPEAL = 3, _("appeal")


class ComplainantGender(models.TextChoices):
    FEMALE = "female", _("woman")
    MALE = "male", _("man")
    OTHER = "other", _("other")
    NOT_STATED = "not_stated", _("not stated")


class ComplainantKind(models.TextChoices):
    ME_OWNER = "me_owner", _("ME owner")
    WORKER = "worker", _("worker")
    COMMUNITY = "community", _("neighbour or community member")
    PO_STAFF = "po_staff", _("PO staff")
    OTHER = "other", _("other")


class GrievanceStatus(models.TextChoices):
    RECEIVED = "received", _("received")
    ACKNOWLEDGED = "acknowledged", _("acknowledged, being looked into")
    RESOLVED = "resolved", _("resolution proposed, awaiting feedback")
    CLOSED = "closed", _("closed")


class Feedback(models.TextChoices):
    SATISFIED = "satisfied", _("satisfied")
    NOT_SATISFIED = "not_satisfied", _("not satisfied")


def new_tracking_code() -> str:
    """A long random code (about 100 bits) in groups a person can read out on the phone; no order or
    count can be guessed from it."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I
    raw = "".join(secrets.choice(alphabet) for _ in range(20))
    return "-".join(raw[i : i + 5] for i in range(0, 20, 5))


class GrievanceQuerySet(models.QuerySet):
    def visible_to(self, user) -> GrievanceQuerySet:
        """SEA/SH cases: the named SEA/SH focal points only (a PO's of its PO's, the PMU's of all).
        Other cases: the grievance focal points (a PO's of its PO's, the PMU's of all). Nobody else,
        whatever their other roles: not ordinary PMU or PO staff, not the admin's superusers."""
        if user is None or not user.is_authenticated or not user.is_active:
            return self.none()
        visible = Q(pk__in=[])
        po_id = user.partner_organization_id
        if user.has_role(Role.GRIEVANCE_FOCAL_POINT):
            others = ~Q(category=Category.SEAH)
            visible |= others & Q(partner_organization_id=po_id) if po_id else others
        if user.has_role(Role.SEAH_FOCAL_POINT):
            seah = Q(category=Category.SEAH)
            visible |= seah & Q(partner_organization_id=po_id) if po_id else seah
        return self.filter(visible)

    def open(self) -> GrievanceQuerySet:
        return self.exclude(status=GrievanceStatus.CLOSED)


class Grievance(WorkflowObject):
    tracking_code = models.CharField(
        _("tracking code"), max_length=30, unique=True, default=new_tracking_code, editable=False
    )
    # Blank when the complainant did not know which PO (the PMU then handles it, from tier 2).
    partner_organization = models.ForeignKey(
        PartnerOrganization,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("PO concerned"),
    )
    category = models.CharField(_("category"), max_length=15, choices=Category.choices)
    channel = models.CharField(_("received by"), max_length=15, choices=Channel.choices)
    tier = models.PositiveSmallIntegerField(_("tier"), choices=Tier.choices, default=Tier.PO)
    subject = models.CharField(_("subject"), max_length=200)
    description = models.TextField(_("what happened"))
    district = models.ForeignKey(
        District,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("district"),
    )
    upazila = models.ForeignKey(
        Upazila, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("upazila")
    )
    # The complainant: blank when anonymous. Shown only to the people handling the case.
    anonymous = models.BooleanField(_("anonymous"), default=False)
    complainant_name = models.CharField(_("name"), max_length=120, blank=True)
    complainant_phone = models.CharField(_("phone"), max_length=20, blank=True)
    complainant_email = models.EmailField(_("email"), blank=True)
    complainant_address = models.CharField(_("address"), max_length=250, blank=True)
    complainant_gender = models.CharField(
        _("gender"), max_length=12, choices=ComplainantGender.choices, default=ComplainantGender.NOT_STATED
    )
    complainant_kind = models.CharField(
        _("the complainant is"), max_length=12, choices=ComplainantKind.choices, default=ComplainantKind.OTHER
    )
    received_at = models.DateTimeField(_("received at"), default=timezone.now)
    # Deadlines of the current tier (settings.GRIEVANCE_ACKNOWLEDGE_DAYS / _RESOLVE_DAYS from when the
    # tier received the case); the case as a whole is due `GRIEVANCE_RESOLVE_DAYS` after `received_at`.
    tier_received_at = models.DateTimeField(_("with this tier since"), default=timezone.now)
    acknowledge_by = models.DateTimeField(_("to be acknowledged by"))
    resolve_by = models.DateTimeField(_("to be resolved by"))
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    resolution = models.TextField(_("resolution"), blank=True)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    feedback = models.CharField(
        _("complainant's feedback"), max_length=15, choices=Feedback.choices, blank=True
    )
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=15, choices=GrievanceStatus.choices, default=GrievanceStatus.RECEIVED
    )
    # Null for the public page.
    logged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("logged by"),
    )

    # The complainant's details are personal data: the history keeps the handling, not the identity.
    history = HistoricalRecords(
        excluded_fields=[
            "updated_at",
            "complainant_name",
            "complainant_phone",
            "complainant_email",
            "complainant_address",
        ]
    )
    objects = GrievanceQuerySet.as_manager()

    class Meta:
        ordering = ["-received_at", "-pk"]
        verbose_name = _("grievance")
        verbose_name_plural = _("grievances")
        indexes = [
            models.Index(fields=["status", "acknowledge_by"], name="grievance_ack_due_idx"),
            models.Index(fields=["status", "resolve_by"], name="grievance_resolve_due_idx"),
            models.Index(fields=["received_at"], name="grievance_received_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(anonymous=False)
                | Q(complainant_name="", complainant_phone="", complainant_email="", complainant_address=""),
                name="anonymous_grievance_names_nobody",
                violation_error_message=_("An anonymous grievance keeps no name or contact details."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference} · {self.get_category_display()}"

    @property
    def reference(self) -> str:
        return f"GRV-{self.pk:05d}" if self.pk else "GRV-new"

    def get_absolute_url(self) -> str:
        return reverse("grievances:detail", args=[self.pk])

    @property
    def is_seah(self) -> bool:
        return self.category == Category.SEAH


def grievance_file_path(instance: GrievanceAttachment, filename: str) -> str:
    suffix = PurePath(filename).suffix.lower()[:10]
    return f"grievances/{timezone.now():%Y/%m}/{uuid.uuid4().hex}{suffix}"


class GrievanceAttachmentQuerySet(models.QuerySet):
    def visible_to(self, user) -> GrievanceAttachmentQuerySet:
        return self.filter(grievance__in=Grievance.objects.visible_to(user).values("pk"))


class GrievanceAttachment(models.Model):
    grievance = models.ForeignKey(
        Grievance, on_delete=models.CASCADE, related_name="attachments", verbose_name=_("grievance")
    )
    file = models.FileField(_("file"), upload_to=grievance_file_path, max_length=200)
    original_name = models.CharField(_("file name"), max_length=200)
    mime_type = models.CharField(_("type"), max_length=100)
    size = models.PositiveIntegerField(_("size (bytes)"))
    uploaded_at = models.DateTimeField(_("uploaded at"), default=timezone.now)

    objects = GrievanceAttachmentQuerySet.as_manager()

    class Meta:
        ordering = ["uploaded_at", "pk"]
        verbose_name = _("grievance attachment")
        verbose_name_plural = _("grievance attachments")

    def __str__(self) -> str:
        return self.original_name
