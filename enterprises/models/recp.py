"""RECP (resource-efficient and cleaner production): the practice catalogue, enterprises' adoptions
and RECP profiles."""

from __future__ import annotations

import uuid
from pathlib import PurePath

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from core.models import SubSector
from core.reference_names import translated_name
from core.validators import past_event, programme_event
from enterprises import validation
from enterprises.models.common import (
    GPS,
    FieldRecordQuerySet,
    check_enterprise_open,
)
from enterprises.models.registry import Enterprise

__all__ = [
    "Adoption",
    "AdoptionQuerySet",
    "AdoptionVerification",
    "ProfileStatus",
    "RecpCategory",
    "RecpPractice",
    "RecpPracticeQuerySet",
    "RecpProfile",
    "adoption_photo_path",
    "check_practice_applies",
    "profile_report_path",
]


# --- RECP practices and adoptions -----------------------------------------------------------------


class RecpCategory(models.TextChoices):
    ENERGY = "energy", _("energy efficiency")
    WATER = "water", _("water")
    WASTE = "waste", _("waste")
    AIR = "air", _("air quality")
    MATERIALS = "materials", _("materials and chemicals")
    CLIMATE_RESILIENCE = "climate_resilience", _("climate resilience")


class RecpPracticeQuerySet(models.QuerySet):
    def applicable_to(self, sub_sector_id: int) -> RecpPracticeQuerySet:
        """Practices listing this sub-sector, and those that suit every sub-sector (empty list)."""
        listed = RecpPractice.applicable_sub_sectors.through.objects.filter(recppractice_id=OuterRef("pk"))
        return self.filter(Exists(listed.filter(subsector_id=sub_sector_id)) | ~Exists(listed))


class RecpPractice(models.Model):
    code = models.CharField(_("code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=200)
    category = models.CharField(_("category"), max_length=30, choices=RecpCategory.choices)
    description = models.TextField(_("description"), blank=True)
    applicable_sub_sectors = models.ManyToManyField(
        SubSector,
        blank=True,
        related_name="recp_practices",
        verbose_name=_("applicable sub-sectors"),
        help_text=_("Leave empty if the practice suits every sub-sector."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True, db_index=True)

    objects = RecpPracticeQuerySet.as_manager()

    class Meta:
        ordering = ["code"]
        verbose_name = _("RECP practice")
        verbose_name_plural = _("RECP practices")

    def __str__(self) -> str:
        return f"{self.code} · {translated_name(self.name)}"


def _verified_independently() -> Q:
    """Verified (a date and a verifier) by someone who belongs to no PO. Only IS [NOT] NULL tests: the
    condition is never unknown, so its negation is its exact complement."""
    return Q(
        verified_on__isnull=False,
        verified_by__isnull=False,
        verified_by__partner_organization__isnull=True,
    )


class AdoptionVerification(models.TextChoices):
    """Where an adoption's verification stands: the state of its lifecycle (enterprises.lifecycles:
    only the rule "verify" moves it, by a PMU officer or a verifier belonging to no PO)."""

    REPORTED = "reported", _("reported, not yet verified")
    # Recorded as verified before verification had to be independent (no verifier recorded, or one
    # who belongs to a PO): it does not count, and may be verified again.
    NOT_INDEPENDENT = "not_independent", _("recorded as verified, not independently")
    VERIFIED = "verified", _("verified independently")


def verification_state(verified_on, verified_by_id: int | None, verifier_po_id: int | None) -> str:
    """The state a verification record stands for (the data migration and records created with a
    verification carried over, e.g. demo data, derive it the same way)."""
    if verified_on is None:
        return AdoptionVerification.REPORTED
    if verified_by_id is not None and verifier_po_id is None:
        return AdoptionVerification.VERIFIED
    return AdoptionVerification.NOT_INDEPENDENT


def _derive_verification(adoptions: list[Adoption]) -> None:
    """Set the state of new adoptions from their verification fields, with one query for the
    verifiers' POs (a verification is recorded at creation only for data carried over)."""
    from django.contrib.auth import get_user_model

    unknown = {
        a.verified_by_id
        for a in adoptions
        if a.verified_on is not None and a.verified_by_id and not Adoption.verified_by.is_cached(a)
    }
    pos = dict(
        get_user_model().objects.filter(pk__in=unknown).values_list("pk", "partner_organization_id")
        if unknown
        else []
    )
    for adoption in adoptions:
        if adoption.verified_on is None or not adoption.verified_by_id:
            po_id = None
        elif Adoption.verified_by.is_cached(adoption):
            po_id = adoption.verified_by.partner_organization_id
        else:
            po_id = pos.get(adoption.verified_by_id)
        adoption.verification = verification_state(adoption.verified_on, adoption.verified_by_id, po_id)


class AdoptionQuerySet(FieldRecordQuerySet):
    def bulk_create(self, objs, *args, **kwargs):
        """Creation is not a change of state: new adoptions start in the state their verification
        fields say (reported, unless carried over with a verification)."""
        objs = list(objs)
        _derive_verification(objs)
        return super().bulk_create(objs, *args, **kwargs)

    def verified_independently(self, as_of=None) -> AdoptionQuerySet:
        """Adoptions verified by someone outside any PO (a PMU officer or a verifier): the only ones
        that count towards ME_RECP_2PLUS. A date limits them to those verified on or before it."""
        verified = self.filter(_verified_independently())
        return verified if as_of is None else verified.filter(verified_on__lte=as_of)

    def awaiting_verification(self) -> AdoptionQuerySet:
        """The exact complement of `verified_independently()`: never verified, or recorded as verified
        without counting (no verifier recorded, or a verifier who belongs to a PO). Each may be
        verified (again) by `enterprises.services.verify_adoption`."""
        return self.exclude(_verified_independently())


def adoption_photo_path(instance: Adoption, filename: str) -> str:
    suffix = PurePath(filename).suffix.lower()[:10]
    return f"adoption-evidence/{timezone.now():%Y/%m}/{uuid.uuid4().hex}{suffix}"


class Adoption(models.Model):
    """An ME's adoption of a RECP practice, reported by its PO with evidence; it counts once verified
    independently (by the PMU or a verifier)."""

    enterprise = models.ForeignKey(
        Enterprise, on_delete=models.PROTECT, related_name="adoptions", verbose_name=_("enterprise")
    )
    practice = models.ForeignKey(
        RecpPractice, on_delete=models.PROTECT, related_name="adoptions", verbose_name=_("RECP practice")
    )
    adopted_on = models.DateField(_("adopted on"), validators=[past_event(_("The adoption date"))])
    note = models.CharField(_("note"), max_length=250, blank=True)
    # The PO's evidence that the practice is in use: what its officer saw, where and when.
    evidence_observed_on = models.DateField(
        _("seen in use on"),
        null=True,
        blank=True,
        validators=[programme_event(_("The date it was seen in use"))],
    )
    evidence_photo = models.FileField(_("photo"), upload_to=adoption_photo_path, max_length=200, blank=True)
    evidence_latitude = models.DecimalField(_("latitude of the photo"), **GPS)
    evidence_longitude = models.DecimalField(_("longitude of the photo"), **GPS)
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("reported by"),
        editable=False,
    )
    # Independent verification (PMU or a verifier, never the PO's own staff): only verified adoptions
    # count towards ME_RECP_2PLUS. Set by enterprises.services.verify_adoption only.
    # PROTECT: deleting the verifier's account would silently un-count everything they verified
    # (deactivate the account instead).
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("verified by"),
        editable=False,
    )
    verified_on = models.DateField(
        _("verified on"),
        null=True,
        blank=True,
        editable=False,
        validators=[programme_event(_("The verification date"))],
    )
    # The state of the verification: moved only by core.lifecycle.apply (rule "verify"), each move
    # logged with who, when and why. Kept consistent with `verified_on` by a constraint.
    verification = models.CharField(
        _("verification"),
        max_length=20,
        choices=AdoptionVerification.choices,
        default=AdoptionVerification.REPORTED,
        editable=False,
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True, db_index=True)

    objects = AdoptionQuerySet.as_manager()

    class Meta:
        ordering = ["-adopted_on", "-pk"]
        verbose_name = _("RECP adoption")
        verbose_name_plural = _("RECP adoptions")
        constraints = [
            models.UniqueConstraint(
                fields=["enterprise", "practice"],
                name="adoption_once_per_practice",
                violation_error_message=_("This enterprise already adopted this practice."),
            ),
            models.CheckConstraint(
                condition=Q(verified_on__isnull=True) | Q(verified_on__gte=models.F("adopted_on")),
                name="adoption_verified_after_adopted",
            ),
            # The state says what the verification fields say: reported has no date; verified
            # (independently) has a date and a verifier.
            models.CheckConstraint(
                condition=Q(verification="reported", verified_on__isnull=True)
                | Q(verification="not_independent", verified_on__isnull=False)
                | Q(verification="verified", verified_on__isnull=False, verified_by__isnull=False),
                name="adoption_verification_state_matches",
            ),
        ]
        indexes = [
            models.Index(fields=["enterprise", "verified_on"], name="adoption_verified_idx"),
            # The lists' default order, newest first, at 155,000 adoptions.
            models.Index(fields=["-adopted_on", "-id"], name="adoption_newest_idx"),
            models.Index(fields=["evidence_observed_on", "id"], name="adoption_seen_idx"),
            models.Index(fields=["practice", "id"], name="adoption_practice_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.practice.code} @ {self.enterprise_id}"

    def save(self, *args, **kwargs):
        if self._state.adding:
            _derive_verification([self])
        super().save(*args, **kwargs)

    @property
    def is_verified(self) -> bool:
        """A verification is recorded: the PO may no longer edit or delete the adoption."""
        return self.verified_on is not None

    @property
    def is_verified_independently(self) -> bool:
        """Counts towards ME_RECP_2PLUS: the row-level twin of `Adoption.objects.verified_independently()`
        (reads `verified_by`: select it with the adoption)."""
        return (
            self.verified_on is not None
            and self.verified_by_id is not None
            and self.verified_by.partner_organization_id is None
        )

    def clean(self) -> None:
        super().clean()
        errors: dict[str, list[str]] = {}
        if self.evidence_observed_on and self.adopted_on and self.evidence_observed_on < self.adopted_on:
            errors.setdefault("evidence_observed_on", []).append(
                str(_("A practice is seen in use on or after the day it was adopted."))
            )
        for field, message in validation.check_gps(self.evidence_latitude, self.evidence_longitude).items():
            errors.setdefault(f"evidence_{field}", []).append(message)
        if self.enterprise_id and self.practice_id:
            check_practice_applies(self.practice, self.enterprise.sub_sector_id, errors)
            check_enterprise_open(self.enterprise, errors)
        if errors:
            raise ValidationError(errors)


def check_practice_applies(
    practice: RecpPractice, sub_sector_id: int, errors: dict, sub_sector_ids=None
) -> None:
    """`sub_sector_ids` may be given (prefetched) to avoid a query per row."""
    if not practice.is_active:
        errors.setdefault("practice", []).append(
            str(_("%(code)s is no longer in the catalogue.") % {"code": practice.code})
        )
    allowed = (
        sub_sector_ids
        if sub_sector_ids is not None
        else {s.pk for s in practice.applicable_sub_sectors.all()}
    )
    if allowed and sub_sector_id not in allowed:
        errors.setdefault("practice", []).append(
            str(_("%(code)s does not apply to the enterprise's sub-sector.") % {"code": practice.code})
        )


# --- RECP profiles --------------------------------------------------------------------------------


class ProfileStatus(models.TextChoices):
    DRAFT = "draft", _("draft")
    PREPARED = "prepared", _("prepared")
    VALIDATED = "validated", _("validated")


def profile_report_path(instance: RecpProfile, filename: str) -> str:
    suffix = PurePath(filename).suffix.lower()[:10]
    return f"recp-profiles/{timezone.now():%Y/%m}/{uuid.uuid4().hex}{suffix}"


class RecpProfile(models.Model):
    """The climate-resilient RECP profile of one ME: the PO prepares it, the PMU validates it."""

    enterprise = models.OneToOneField(
        Enterprise, on_delete=models.PROTECT, related_name="recp_profile", verbose_name=_("enterprise")
    )
    assessment_date = models.DateField(
        _("assessment date"), validators=[programme_event(_("The assessment date"))]
    )
    baseline = models.TextField(_("baseline situation"), blank=True)
    climate_risks = models.TextField(_("climate risks"), blank=True)
    opportunities = models.TextField(_("RECP opportunities"), blank=True)
    recommended_practices = models.ManyToManyField(
        RecpPractice, blank=True, related_name="+", verbose_name=_("recommended practices")
    )
    report = models.FileField(
        _("assessment report"), upload_to=profile_report_path, max_length=200, blank=True
    )
    report_name = models.CharField(_("report file name"), max_length=200, blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=ProfileStatus.choices, default=ProfileStatus.DRAFT, editable=False
    )
    prepared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("prepared by"),
        editable=False,
    )
    prepared_on = models.DateField(
        _("prepared on"),
        null=True,
        blank=True,
        editable=False,
        validators=[programme_event(_("The preparation date"))],
    )
    validated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("validated by"),
        editable=False,
    )
    validated_on = models.DateField(
        _("validated on"),
        null=True,
        blank=True,
        editable=False,
        validators=[programme_event(_("The validation date"))],
    )
    review_comment = models.TextField(_("PMU comment"), blank=True, editable=False)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True, db_index=True)

    history = HistoricalRecords(m2m_fields=[recommended_practices], excluded_fields=["updated_at"])
    objects = FieldRecordQuerySet.as_manager()

    class Meta:
        ordering = ["-assessment_date", "-pk"]
        verbose_name = _("RECP profile")
        verbose_name_plural = _("RECP profiles")
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="validated") | Q(validated_on__isnull=False),
                name="validated_profile_has_date",
            )
        ]
        indexes = [models.Index(fields=["status", "validated_on"], name="profile_status_idx")]

    def __str__(self) -> str:
        return str(_("RECP profile of %(me)s") % {"me": self.enterprise})

    def get_absolute_url(self) -> str:
        return reverse("enterprises:enterprise-detail", args=[self.enterprise_id]) + "#recp-profile"

    @property
    def is_editable(self) -> bool:
        return self.status == ProfileStatus.DRAFT

    def clean(self) -> None:
        super().clean()
        # The assessment date's range is its field's validator (core.validators).
