"""Independent verification of reported results (issue "Results the World Bank can rely on").

Each quarter the PMU draws a reproducible random sample, stratified by PO, of what POs reported:
RECP adoptions, validated RECP profiles and facilities claimed operational. Verifiers (a third-party
monitoring firm or PMU field staff, belonging to no PO) visit each sampled item and record what they
found. A check is a lifecycle on the shared engine (core.lifecycle, rules in verification.checks):
pending → confirmed | partly confirmed | not found, each decision logged with who, when and the
evidence comment.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from pathlib import PurePath
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from core.roles import Role
from core.validators import programme_event
from subprojects.models import POScopedQuerySet, WorkflowObject

# Who records verification results and verifies adoptions and facilities: never a PO's own staff.
VERIFYING_ROLES = (Role.PMU_OFFICER, Role.VERIFIER)

GPS = {"max_digits": 9, "decimal_places": 6, "null": True, "blank": True}

if TYPE_CHECKING:
    from django.db.models.expressions import Combinable

    # A `**GPS` field is nullable, which the django-stubs plugin cannot read through the dict.
    GPSField = models.DecimalField[str | float | Decimal | Combinable | None, Decimal | None]


class VerificationPolicy(models.Model):
    """The PMU's verification settings: one row (`VerificationPolicy.current()`), with history."""

    threshold_percent = models.DecimalField(
        _("confirmation rate below which a PO is flagged (%)"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("90"),
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(100))],
    )
    margin_percent = models.DecimalField(
        _("margin of error per PO (± %, at 95 % confidence)"),
        max_digits=4,
        decimal_places=1,
        default=Decimal("5"),
        validators=[MinValueValidator(Decimal("1")), MaxValueValidator(Decimal("25"))],
    )
    floor = models.PositiveSmallIntegerField(
        _("smallest sample per PO"),
        default=10,
        validators=[MinValueValidator(1)],
        help_text=_("A PO with fewer reported items than this has every item checked."),
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True, db_index=True)

    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        verbose_name = _("verification policy")
        verbose_name_plural = _("verification policy")

    def __str__(self) -> str:
        return str(_("Verification policy"))

    @classmethod
    def current(cls, *, for_update: bool = False) -> VerificationPolicy:
        """The policy; `for_update`: locked until the end of the transaction (draws take it so that
        they run one at a time)."""
        rows = cls.objects.select_for_update() if for_update else cls.objects
        policy, _created = rows.get_or_create(pk=1)
        return policy


class VerificationRoundQuerySet(models.QuerySet):
    def with_progress(self) -> VerificationRoundQuerySet:
        """Each round with `checks_sampled` (its checks) and `checks_done` (those with a result)."""
        return self.annotate(
            checks_sampled=Count("checks"),
            checks_done=Count("checks", filter=~Q(checks__status=CheckStatus.PENDING)),
        )


class VerificationRound(models.Model):
    """One quarter's sample. Drawn once; the seed and the rule's settings are kept so the same draw
    can be repeated and checked by anyone (verification.sampling.replan)."""

    year = models.PositiveSmallIntegerField(_("year"), validators=[MinValueValidator(2023)])
    quarter = models.PositiveSmallIntegerField(
        _("quarter"), validators=[MinValueValidator(1), MaxValueValidator(4)]
    )
    seed = models.PositiveIntegerField(_("random seed"))
    margin_percent = models.DecimalField(_("margin of error (± %)"), max_digits=4, decimal_places=1)
    floor = models.PositiveSmallIntegerField(_("smallest sample per PO"))
    drawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        related_name="+",
        verbose_name=_("drawn by"),
    )
    drawn_at = models.DateTimeField(_("drawn at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True, db_index=True)

    objects = VerificationRoundQuerySet.as_manager()

    class Meta:
        ordering = ["-year", "-quarter"]
        verbose_name = _("verification round")
        verbose_name_plural = _("verification rounds")
        constraints = [
            models.UniqueConstraint(
                fields=["year", "quarter"],
                name="one_verification_round_per_quarter",
                violation_error_message=_("A sample has already been drawn for this quarter."),
            )
        ]

    def __str__(self) -> str:
        return self.reference

    def get_absolute_url(self) -> str:
        return reverse("verification:round-detail", args=[self.pk])

    @property
    def reference(self) -> str:
        return f"VR-{self.year}-Q{self.quarter}"


SHA256 = {"max_length": 64, "blank": True, "editable": False}


class RoundStratum(models.Model):
    """One PO's part of a round, as drawn: its population by kind, a fingerprint of each kind's
    population (SHA-256 of its sorted ids, verification.sampling.fingerprint) and its sample size.
    Kept because the data change after the draw: the fingerprints tell whether a repeat of the draw
    (verification.sampling.replan) starts from the same items. The sample size always equals the
    number of the PO's checks in the round (the draw refuses otherwise; checks are never deleted)."""

    round = models.ForeignKey(
        VerificationRound, on_delete=models.CASCADE, related_name="strata", verbose_name=_("round")
    )
    partner_organization = models.ForeignKey(
        "core.PartnerOrganization", on_delete=models.PROTECT, related_name="+", verbose_name=_("PO")
    )
    adoptions = models.PositiveIntegerField(_("adoptions in the population"), default=0)
    profiles = models.PositiveIntegerField(_("validated profiles in the population"), default=0)
    facilities = models.PositiveIntegerField(_("facilities in the population"), default=0)
    # Empty for rounds drawn before the fingerprints were kept.
    adoptions_sha256 = models.CharField(_("fingerprint of the adoptions (SHA-256)"), **SHA256)
    profiles_sha256 = models.CharField(_("fingerprint of the profiles (SHA-256)"), **SHA256)
    facilities_sha256 = models.CharField(_("fingerprint of the facilities (SHA-256)"), **SHA256)
    sample_size = models.PositiveIntegerField(_("sample size"))

    class Meta:
        ordering = ["round", "partner_organization__code"]
        verbose_name = _("PO stratum of a round")
        verbose_name_plural = _("PO strata of rounds")
        constraints = [
            models.UniqueConstraint(
                fields=["round", "partner_organization"], name="one_stratum_per_po_and_round"
            )
        ]

    def __str__(self) -> str:
        return f"{self.round.reference} · {self.partner_organization_id}"

    @property
    def population(self) -> int:
        return self.adoptions + self.profiles + self.facilities

    @property
    def fingerprints(self) -> dict[str, str]:
        """Per kind (CheckKind value), the SHA-256 of the population's sorted ids as drawn."""
        return {
            CheckKind.ADOPTION: self.adoptions_sha256,
            CheckKind.PROFILE: self.profiles_sha256,
            CheckKind.FACILITY: self.facilities_sha256,
        }


class CheckKind(models.TextChoices):
    ADOPTION = "adoption", _("RECP adoption")
    PROFILE = "profile", _("validated RECP profile")
    FACILITY = "facility", _("facility claimed operational")


class CheckStatus(models.TextChoices):
    PENDING = "pending", _("to check")
    CONFIRMED = "confirmed", _("confirmed")
    PARTLY = "partly", _("partly confirmed")
    NOT_FOUND = "not_found", _("not found")


class VerificationCheckQuerySet(POScopedQuerySet):
    def with_subject(self) -> VerificationCheckQuerySet:
        """With everything the check's page and API show of the sampled record (the ME or facility,
        where it is, the practice, the PO's evidence, who decided): no query per check."""
        return self.select_related(
            "round",
            "partner_organization",
            "district",
            "checked_by",
            "adoption__practice",
            "adoption__reported_by",
            "adoption__verified_by",
            "adoption__enterprise__partner_organization",
            "adoption__enterprise__district",
            "adoption__enterprise__upazila",
            "profile__validated_by",
            "profile__enterprise__partner_organization",
            "profile__enterprise__district",
            "profile__enterprise__upazila",
            "facility__partner_organization",
            "facility__district",
            "facility__upazila",
            "facility__operational_confirmed_by",
        ).prefetch_related("profile__recommended_practices")

    def visible_to(self, user):
        """PMU officers and verifiers belonging to no PO see every check; programme-wide readers too.
        PO staff see their own PO's checks once done. Whoever belongs to a PO (a PMU officer seconded
        from one included) never sees that PO's pending checks: the sample is not announced before
        the visit."""
        from enterprises.permissions import is_independent_checker  # enterprises imports this module

        if is_independent_checker(user):
            return self
        checks = super().visible_to(user)
        if user.is_authenticated and not user.sees_whole_programme:
            checks = checks.exclude(status=CheckStatus.PENDING)
        if user.is_authenticated and user.partner_organization_id:
            checks = checks.exclude(
                status=CheckStatus.PENDING, partner_organization_id=user.partner_organization_id
            )
        return checks


def check_photo_path(instance: VerificationCheck, filename: str) -> str:
    suffix = PurePath(filename).suffix.lower()[:10]
    return f"verification/{timezone.now():%Y/%m}/{uuid.uuid4().hex}{suffix}"


class VerificationCheck(WorkflowObject):
    """One sampled item and what the verifier found."""

    round = models.ForeignKey(
        VerificationRound, on_delete=models.PROTECT, related_name="checks", verbose_name=_("round")
    )
    partner_organization = models.ForeignKey(
        "core.PartnerOrganization", on_delete=models.PROTECT, related_name="+", verbose_name=_("PO")
    )
    kind = models.CharField(_("what is checked"), max_length=10, choices=CheckKind.choices)
    # The sampled record; if the PO deletes it after the draw, the check keeps what was sampled.
    adoption = models.ForeignKey(
        "enterprises.Adoption", on_delete=models.SET_NULL, null=True, blank=True, related_name="checks"
    )
    profile = models.ForeignKey(
        "enterprises.RecpProfile", on_delete=models.SET_NULL, null=True, blank=True, related_name="checks"
    )
    facility = models.ForeignKey(
        "enterprises.CommonServiceFacility",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="checks",
    )
    # Codes and names only (no words of any language): shown after the kind (`get_kind_display`).
    subject_label = models.CharField(_("sampled item"), max_length=250)
    # Where the item is, copied at the draw: the lists filter and group by it in one indexed column,
    # and it stays if the PO deletes the sampled record.
    district = models.ForeignKey(
        "core.District",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("district"),
    )
    status = models.CharField(
        _("result"), max_length=12, choices=CheckStatus.choices, default=CheckStatus.PENDING, db_index=True
    )
    visited_on = models.DateField(
        _("visited on"), null=True, blank=True, validators=[programme_event(_("The visit date"))]
    )
    finding = models.TextField(_("what was found"), blank=True)
    photo = models.FileField(_("photo"), upload_to=check_photo_path, max_length=200, blank=True)
    latitude: GPSField = models.DecimalField(_("latitude"), **GPS)
    longitude: GPSField = models.DecimalField(_("longitude"), **GPS)
    checked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("checked by"),
    )

    objects = VerificationCheckQuerySet.as_manager()

    class Meta:
        ordering = ["round", "partner_organization", "kind", "pk"]
        verbose_name = _("verification check")
        verbose_name_plural = _("verification checks")
        constraints = [
            models.UniqueConstraint(fields=["round", "adoption"], name="adoption_checked_once_per_round"),
            models.UniqueConstraint(fields=["round", "profile"], name="profile_checked_once_per_round"),
            models.UniqueConstraint(fields=["round", "facility"], name="facility_checked_once_per_round"),
            models.CheckConstraint(
                condition=(
                    Q(adoption__isnull=True, profile__isnull=True)
                    | Q(adoption__isnull=True, facility__isnull=True)
                    | Q(profile__isnull=True, facility__isnull=True)
                ),
                name="check_has_one_subject",
            ),
            models.CheckConstraint(
                condition=Q(status="pending") | Q(visited_on__isnull=False),
                name="done_check_has_visit_date",
            ),
        ]
        indexes = [
            models.Index(fields=["partner_organization", "status"], name="check_po_status_idx"),
            models.Index(fields=["district", "status"], name="check_district_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.reference} · {self.subject_label}"

    def get_absolute_url(self) -> str:
        return reverse("verification:check-detail", args=[self.pk])

    @property
    def reference(self) -> str:
        return f"{self.round.reference}-{self.pk}"

    @property
    def subject(self):
        return self.adoption or self.profile or self.facility
