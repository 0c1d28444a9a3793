"""Trainings: the module catalogue, sessions held by POs and who attended them."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from core.models import District, PartnerOrganization
from core.reference_names import translated_name
from core.validators import programme_event
from enterprises import validation
from enterprises.models.common import (
    OPEN_FOR_FIELD_RECORDS,
    SCORE,
    FieldRecordQuerySet,
    _collect,
    check_enterprise_open,
    check_sub_project_open,
    check_sub_project_po,
    take_po_of_sub_project,
)
from enterprises.models.registry import Enterprise
from subprojects.models import POScopedQuerySet, SubProject

__all__ = [
    "Attendance",
    "TrainingModule",
    "TrainingSession",
    "TrainingSessionQuerySet",
]


# --- Trainings ------------------------------------------------------------------------------------


class TrainingModule(models.Model):
    """The PMU's catalogue of training modules. A module tagged *climate vulnerability* is what makes
    an attendance count towards ME_CLIMATE_KNOWLEDGE (with a post-test above the pre-test)."""

    code = models.CharField(_("code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("what it covers"), blank=True)
    climate_vulnerability = models.BooleanField(
        _("tagged: climate vulnerability"),
        default=False,
        help_text=_(
            "Attendances at sessions of this module count towards “MEs with increased knowledge on climate "
            "vulnerability” when the post-test score is above the pre-test score."
        ),
    )
    is_active = models.BooleanField(_("active"), default=True, help_text=_("Offered for new sessions."))
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True, db_index=True)

    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["position", "code"]
        verbose_name = _("training module")
        verbose_name_plural = _("training modules")

    def __str__(self) -> str:
        return f"{self.code} · {translated_name(self.name)}"


class TrainingSessionQuerySet(POScopedQuerySet):
    pass


class TrainingSession(models.Model):
    """A training on climate vulnerability held by a PO for the MEs of one of its sub-projects."""

    partner_organization = models.ForeignKey(
        PartnerOrganization, on_delete=models.PROTECT, related_name="training_sessions", verbose_name=_("PO")
    )
    sub_project = models.ForeignKey(
        SubProject, on_delete=models.PROTECT, related_name="training_sessions", verbose_name=_("sub-project")
    )
    po_code = models.CharField(
        _("session code"), max_length=40, help_text=_("Your PO's code for the session, used in imports.")
    )
    # Sessions recorded before the catalogue existed may have no module until the PMU maps them; every
    # save must name one (the field is required in forms, the API and imports).
    module = models.ForeignKey(
        TrainingModule,
        on_delete=models.PROTECT,
        null=True,
        related_name="sessions",
        verbose_name=_("training module"),
    )
    topic = models.CharField(
        _("title or notes"),
        max_length=200,
        blank=True,
        help_text=_("Optional: how your PO names the session."),
    )
    held_on = models.DateField(
        _("held on"), db_index=True, validators=[programme_event(_("The session date"))]
    )
    place = models.CharField(_("place"), max_length=200)
    district = models.ForeignKey(
        District,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("district"),
    )
    facilitator = models.CharField(_("facilitator"), max_length=150, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True, db_index=True)

    objects = TrainingSessionQuerySet.as_manager()

    class Meta:
        ordering = ["-held_on", "-pk"]
        verbose_name = _("training session")
        verbose_name_plural = _("training sessions")
        constraints = [
            models.UniqueConstraint(
                fields=["partner_organization", "po_code"],
                name="training_code_unique_in_po",
                violation_error_message=_("Your PO already has a session with this code."),
            )
        ]
        indexes = [models.Index(fields=["held_on"], name="training_held_idx")]

    def __str__(self) -> str:
        title = self.topic or (self.module.name if self.module_id else "")
        return f"{self.po_code} · {title} ({date_format(self.held_on, 'DATE_FORMAT')})"

    def save(self, *args, **kwargs):
        take_po_of_sub_project(self)
        super().save(*args, **kwargs)
        self._stored_module_id = self.module_id

    def get_absolute_url(self) -> str:
        return reverse("enterprises:training-detail", args=[self.pk])

    @classmethod
    def from_db(cls, db, field_names, values):
        session = super().from_db(db, field_names, values)
        # A module retired from the catalogue stays on the sessions that had it; only a change is checked.
        session._stored_module_id = session.__dict__.get("module_id")
        return session

    def clean_fields(self, exclude=None) -> None:
        errors: dict[str, list[str]] = {}
        if self.module_id is None and "module" not in (exclude or ()):
            errors["module"] = [str(_("Choose the training module of the session (see the catalogue)."))]
            exclude = {*(exclude or ()), "module"}
        try:
            super().clean_fields(exclude=exclude)
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                errors.setdefault(field, []).extend(messages)
        if errors:
            raise ValidationError(errors)

    def clean(self) -> None:
        super().clean()
        errors: dict[str, list[str]] = {}
        if (
            self.module_id
            and self.module_id != getattr(self, "_stored_module_id", None)
            and not self.module.is_active
        ):
            errors.setdefault("module", []).append(
                str(
                    _("The module %(code)s is no longer offered: choose an active one.")
                    % {"code": self.module.code}
                )
            )
        check_sub_project_po(self, errors)
        if self.sub_project_id:
            check_sub_project_open(
                self.sub_project, OPEN_FOR_FIELD_RECORDS, _("Sub-project %(sp)s is %(status)s."), errors
            )
        if errors:
            raise ValidationError(errors)


class Attendance(models.Model):
    session = models.ForeignKey(
        TrainingSession, on_delete=models.CASCADE, related_name="attendances", verbose_name=_("session")
    )
    enterprise = models.ForeignKey(
        Enterprise, on_delete=models.PROTECT, related_name="attendances", verbose_name=_("enterprise")
    )
    pre_test_score = models.DecimalField(_("pre-test score"), **SCORE)
    post_test_score = models.DecimalField(_("post-test score"), **SCORE)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True, db_index=True)

    objects = FieldRecordQuerySet.as_manager()

    class Meta:
        ordering = ["session", "enterprise"]
        verbose_name = _("attendance")
        verbose_name_plural = _("attendances")
        constraints = [
            models.UniqueConstraint(
                fields=["session", "enterprise"],
                name="attendance_once_per_session",
                violation_error_message=_("This enterprise is already recorded at this session."),
            )
        ]
        # The list's score sorts, with the id that breaks ties (keyset pages, core.lists).
        indexes = [
            models.Index(fields=["pre_test_score", "id"], name="attendance_pre_idx"),
            models.Index(fields=["post_test_score", "id"], name="attendance_post_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.enterprise_id} @ {self.session_id}"

    @property
    def knowledge_increased(self) -> bool | None:
        if self.pre_test_score is None or self.post_test_score is None:
            return None
        return self.post_test_score > self.pre_test_score

    def clean(self) -> None:
        super().clean()
        errors: dict[str, list[str]] = {}
        _collect(errors, "pre_test_score", validation.check_score, self.pre_test_score)
        _collect(errors, "post_test_score", validation.check_score, self.post_test_score)
        if self.session_id and self.enterprise_id:
            if self.session.partner_organization_id != self.enterprise.partner_organization_id:
                errors.setdefault("enterprise", []).append(
                    str(_("The enterprise and the session belong to different POs."))
                )
            check_enterprise_open(self.enterprise, errors)
        if errors:
            raise ValidationError(errors)
