"""Microenterprises and their field data (SPEC 5): the registry, financial support, trainings, RECP
practices and profiles, environmental KPIs, common service facilities and clusters.

Contracts the results aggregation (monitoring) relies on, "as of a date D":
- `Enterprise.objects.countable()`: the MEs that count (confirmed duplicates excluded). Field records
  entered on a confirmed duplicate count for its original: group by `counted_enterprise()`.
- ME_FINANCED: `FinancialSupport.objects.project_financing(D)`, i.e.
  `settings.PROGRAMME_START <= disbursed_on <= D` (`before_programme()`: the rest).
- ME_CLIMATE_KNOWLEDGE: `Attendance.post_test_score > pre_test_score`, `session.held_on <= D` and
  `session.module.climate_vulnerability`.
- ME_RECP_2PLUS: >= 2 distinct `Adoption.practice` in `Adoption.objects.verified_independently(D)`
  (`awaiting_verification()`: its exact complement, what a checker still has to verify).
- ME_KPI_TRACKING: for one KPI, a reading with `is_baseline` and a later `period`, both `<= D`.
- RECP_PROFILES_VALIDATED: `RecpProfile.status == validated` and `validated_on <= D`.
- CSF_ESTABLISHED: `CommonServiceFacility.status == operational`, `opened_on <= D` and
  `operational_confirmed_on <= D` (`awaiting_confirmation()`: operational, not yet confirmed).
- Breakdowns: `Enterprise.sub_sector` (→ sector → business area), `division`, `district`,
  `partner_organization`, `owner_gender`, `climate_vulnerable` (stored, indexed).

Every queryset starts from `visible_to(user)`: PO staff see their own PO's records, programme-wide
roles see everything, anyone else (TEC members) sees nothing.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from pathlib import PurePath

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from core.models import District, Division, PartnerOrganization, Sector, SubSector, Upazila
from enterprises import validation
from subprojects.models import Financier, POScopedQuerySet, SubProject, SubProjectStatus

GPS = {"max_digits": 9, "decimal_places": 6, "null": True, "blank": True}
SCORE = {
    "max_digits": 4,
    "decimal_places": 1,
    "null": True,
    "blank": True,
    "validators": [MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(100))],
}


def _collect(errors: dict, field: str, check, *args) -> None:
    """Run one check of enterprises.validation and file its message under `field`."""
    try:
        check(*args)
    except ValidationError as exc:
        errors.setdefault(field, []).extend(exc.messages)


def _merge(errors: dict, found: dict[str, str]) -> None:
    for field, message in found.items():
        errors.setdefault(field, []).append(message)


# Sub-projects in which new field data may be entered: suspended and cancelled ones are frozen.
OPEN_FOR_NEW_ENTERPRISES = {SubProjectStatus.ACTIVE}
OPEN_FOR_FIELD_RECORDS = {SubProjectStatus.ACTIVE, SubProjectStatus.COMPLETED}


def take_po_of_sub_project(obj: models.Model) -> None:
    """Objects of a sub-project (enterprises, sessions, facilities) belong to the sub-project's PO."""
    if obj.sub_project_id and not obj.partner_organization_id:
        obj.partner_organization_id = obj.sub_project.partner_organization_id


def check_sub_project_po(obj: models.Model, errors: dict) -> None:
    if (
        obj.sub_project_id
        and obj.partner_organization_id
        and obj.partner_organization_id != obj.sub_project.partner_organization_id
    ):
        errors.setdefault("sub_project", []).append(str(_("This sub-project belongs to another PO.")))


def check_sub_project_open(sub_project: SubProject, statuses: set[str], message: str, errors: dict) -> None:
    """`message` names the sub-project as %(sp)s and its status as %(status)s."""
    if sub_project.status not in statuses:
        errors.setdefault("sub_project", []).append(
            str(message % {"sp": sub_project.agreement_number, "status": sub_project.get_status_display()})
        )


# --- Enterprises ----------------------------------------------------------------------------------


class Gender(models.TextChoices):
    FEMALE = "female", _("female")
    MALE = "male", _("male")
    THIRD_GENDER = "third_gender", _("third gender")


# What people write in spreadsheets, besides the values and labels above.
GENDER_SYNONYMS = {
    "f": Gender.FEMALE,
    "woman": Gender.FEMALE,
    "women": Gender.FEMALE,
    "নারী": Gender.FEMALE,
    "মহিলা": Gender.FEMALE,
    "m": Gender.MALE,
    "man": Gender.MALE,
    "পুরুষ": Gender.MALE,
    "hijra": Gender.THIRD_GENDER,
    "third": Gender.THIRD_GENDER,
    "তৃতীয় লিঙ্গ": Gender.THIRD_GENDER,
    "হিজড়া": Gender.THIRD_GENDER,
}


class EnterpriseQuerySet(POScopedQuerySet):
    def countable(self) -> EnterpriseQuerySet:
        """MEs that count in the indicators: a confirmed duplicate counts once, as its original."""
        return self.filter(duplicate_of__isnull=True)

    def with_suspected_duplicate(self) -> EnterpriseQuerySet:
        """Only whether a suspicion exists: callers never learn from it who the match is."""
        return self.annotate(suspected_duplicate=_open_suspicion())

    def suspected_duplicates(self) -> EnterpriseQuerySet:
        """MEs with an open suspicion (either side of the pair)."""
        return self.filter(_open_suspicion())


def _open_suspicion() -> Exists:
    return Exists(DuplicateSuspect.objects.open().involving(OuterRef("pk")))


def counted_enterprise(prefix: str = "enterprise") -> Coalesce:
    """The enterprise a field record counts for: its enterprise, or that one's original if the
    enterprise is a confirmed duplicate. Use as `.values(me=counted_enterprise()).distinct()`."""
    return Coalesce(f"{prefix}__duplicate_of_id", f"{prefix}_id")


class Enterprise(models.Model):
    partner_organization = models.ForeignKey(
        PartnerOrganization, on_delete=models.PROTECT, related_name="enterprises", verbose_name=_("PO")
    )
    sub_project = models.ForeignKey(
        SubProject, on_delete=models.PROTECT, related_name="enterprises", verbose_name=_("sub-project")
    )
    po_code = models.CharField(
        _("ME code"),
        max_length=40,
        help_text=_("Your PO's own code for this enterprise; it identifies the row in imports."),
    )
    name = models.CharField(_("enterprise name"), max_length=200)
    owner_name = models.CharField(_("owner name"), max_length=150)
    owner_gender = models.CharField(_("owner gender"), max_length=20, choices=Gender.choices)
    phone = models.CharField(
        _("phone"), max_length=16, blank=True, help_text=_("Stored as +880…, e.g. +8801712345678.")
    )
    is_formal = models.BooleanField(_("formal (has a trade licence)"), default=False)
    trade_licence_number = models.CharField(_("trade licence number"), max_length=60, blank=True)
    sub_sector = models.ForeignKey(
        SubSector, on_delete=models.PROTECT, related_name="enterprises", verbose_name=_("sub-sector")
    )
    division = models.ForeignKey(
        Division, on_delete=models.PROTECT, related_name="enterprises", verbose_name=_("division")
    )
    district = models.ForeignKey(
        District, on_delete=models.PROTECT, related_name="enterprises", verbose_name=_("district")
    )
    upazila = models.ForeignKey(
        Upazila, on_delete=models.PROTECT, related_name="enterprises", verbose_name=_("upazila")
    )
    latitude = models.DecimalField(_("latitude"), **GPS)
    longitude = models.DecimalField(_("longitude"), **GPS)
    climate_vulnerable = models.BooleanField(
        _("climate-vulnerable"),
        default=False,
        editable=False,
        help_text=_("From the upazila's or district's flag, unless overridden."),
    )
    climate_vulnerable_override = models.BooleanField(
        _("climate-vulnerable (override)"),
        null=True,
        blank=True,
        help_text=_("Leave empty to follow the area's flag."),
    )
    self_employed = models.PositiveSmallIntegerField(_("self-employed (owner and family)"), default=1)
    wage_employed_male = models.PositiveSmallIntegerField(_("wage-employed men"), default=0)
    wage_employed_female = models.PositiveSmallIntegerField(_("wage-employed women"), default=0)
    # Wage jobs when the ME joined, kept for the jobs indicators ("change since registration"): set once
    # from the first values entered, never edited.
    wage_employed_male_at_registration = models.PositiveSmallIntegerField(
        _("wage-employed men at registration"), null=True, blank=True, editable=False
    )
    wage_employed_female_at_registration = models.PositiveSmallIntegerField(
        _("wage-employed women at registration"), null=True, blank=True, editable=False
    )
    year_started = models.PositiveSmallIntegerField(_("year started"), null=True, blank=True)
    cluster = models.ForeignKey(
        "Cluster",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="members",
        verbose_name=_("cluster"),
    )
    registered_on = models.DateField(_("joined the sub-project on"), default=timezone.localdate)
    duplicate_of = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="duplicates",
        verbose_name=_("confirmed duplicate of"),
        editable=False,
    )
    # Matching keys for the duplicate check (indexed; derived on save and by the importer).
    name_key = models.CharField(max_length=200, editable=False, default="")
    trade_licence_key = models.CharField(max_length=60, editable=False, default="", db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    history = HistoricalRecords(excluded_fields=["name_key", "trade_licence_key", "updated_at"])
    objects = EnterpriseQuerySet.as_manager()

    class Meta:
        ordering = ["-pk"]
        verbose_name = _("microenterprise")
        verbose_name_plural = _("microenterprises")
        constraints = [
            models.UniqueConstraint(
                fields=["partner_organization", "po_code"],
                name="enterprise_code_unique_in_po",
                violation_error_message=_("Your PO already has an enterprise with this ME code."),
            ),
            models.CheckConstraint(
                condition=~Q(duplicate_of=models.F("id")),
                name="enterprise_not_duplicate_of_itself",
            ),
        ]
        indexes = [
            models.Index(fields=["phone"], name="enterprise_phone_idx"),
            models.Index(fields=["upazila", "name_key"], name="enterprise_name_upazila_idx"),
            models.Index(fields=["owner_gender"], name="enterprise_gender_idx"),
            models.Index(fields=["climate_vulnerable"], name="enterprise_climate_idx"),
            models.Index(fields=["registered_on"], name="enterprise_registered_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.po_code} · {self.name}"

    def save(self, *args, **kwargs):
        self.refresh_derived_fields()
        take_po_of_sub_project(self)
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("enterprises:enterprise-detail", args=[self.pk])

    @property
    def total_jobs(self) -> int:
        return self.self_employed + self.wage_employed_male + self.wage_employed_female

    @property
    def is_women_led(self) -> bool:
        return self.owner_gender == Gender.FEMALE

    @property
    def sector(self) -> Sector:
        return self.sub_sector.sector

    def refresh_derived_fields(self) -> None:
        """Matching keys and the climate flag; needs `upazila` and `district` (cached or fetched)."""
        self.name_key = validation.name_key(self.name)
        self.trade_licence_key = validation.licence_key(self.trade_licence_number) if self.is_formal else ""
        if self.district_id and not self.division_id:
            self.division_id = self.district.division_id
        self.climate_vulnerable = self.derived_climate_flag()
        # The first values saved are the jobs at registration (imports and bulk writes come here too).
        if self.wage_employed_male_at_registration is None:
            self.wage_employed_male_at_registration = self.wage_employed_male
        if self.wage_employed_female_at_registration is None:
            self.wage_employed_female_at_registration = self.wage_employed_female

    def derived_climate_flag(self) -> bool:
        if self.climate_vulnerable_override is not None:
            return self.climate_vulnerable_override
        upazila_flag = bool(self.upazila_id and self.upazila.climate_vulnerable)
        district_flag = bool(self.district_id and self.district.climate_vulnerable)
        return upazila_flag or district_flag

    def clean_fields(self, exclude=None) -> None:
        # The division may be left out: it is the district's (and checked against it if given).
        if self.district_id and not self.division_id:
            self.division_id = self.district.division_id
        # The jobs at registration are copies of the wage jobs, whose own checks name the problem.
        exclude = {
            *(exclude or ()),
            "wage_employed_male_at_registration",
            "wage_employed_female_at_registration",
        }
        super().clean_fields(exclude=exclude)

    def clean(self) -> None:
        super().clean()
        errors: dict[str, list[str]] = {}
        if self.phone:
            try:
                self.phone = validation.normalise_phone(self.phone)
            except ValidationError as exc:
                errors.setdefault("phone", []).extend(exc.messages)
        self.trade_licence_number = (self.trade_licence_number or "").strip()
        if self.is_formal and not self.trade_licence_number:
            errors.setdefault("trade_licence_number", []).append(
                str(_("A formal enterprise needs its trade licence number."))
            )
        if not self.is_formal and self.trade_licence_number:
            errors.setdefault("trade_licence_number", []).append(
                str(_("An informal enterprise has no trade licence: mark it formal or clear the number."))
            )
        if (
            self.is_formal
            and self.trade_licence_number
            and not validation.licence_key(self.trade_licence_number)
        ):
            errors.setdefault("trade_licence_number", []).append(
                str(_("A trade licence number contains letters or digits."))
            )
        division = self.division if self.division_id else None
        district = self.district if self.district_id else None
        upazila = self.upazila if self.upazila_id else None
        if district is not None and division is None:
            self.division_id = district.division_id
            division = district.division
        _merge(errors, validation.check_geography(division, district, upazila))
        _merge(errors, validation.check_gps(self.latitude, self.longitude))
        if self.sub_project_id and self.sub_sector_id:
            _collect(
                errors, "sub_sector", validation.check_sub_sector_fits, self.sub_project, self.sub_sector
            )
        check_sub_project_po(self, errors)
        if self.pk is None and self.sub_project_id:
            check_sub_project_open(
                self.sub_project,
                OPEN_FOR_NEW_ENTERPRISES,
                _("Sub-project %(sp)s is %(status)s: new enterprises cannot be added to it."),
                errors,
            )
        _collect(errors, "year_started", validation.check_year_started, self.year_started)
        _collect(
            errors, "registered_on", validation.check_not_future, self.registered_on, _("The joining date")
        )
        _collect(
            errors,
            "self_employed",
            validation.check_employment,
            self.self_employed,
            self.wage_employed_male,
            self.wage_employed_female,
        )
        if errors:
            raise ValidationError(errors)


# --- Financial support ----------------------------------------------------------------------------


class FieldRecordQuerySet(POScopedQuerySet):
    """Records that hang on one enterprise: scoped through the enterprise's PO."""

    po_field = "enterprise__partner_organization"


def check_enterprise_open(enterprise: Enterprise | None, errors: dict) -> None:
    if enterprise is None:
        return
    status = enterprise.sub_project.status
    if status not in OPEN_FOR_FIELD_RECORDS:
        errors.setdefault("enterprise", []).append(
            str(
                _("The sub-project of %(me)s is %(status)s: no field data can be entered for it.")
                % {"me": enterprise.po_code, "status": enterprise.sub_project.get_status_display()}
            )
        )


def programme_start():
    """The day the programme began (settings.PROGRAMME_START): earlier disbursements are recorded and
    shown, never counted as project financing."""
    return settings.PROGRAMME_START


class FinancialSupportQuerySet(FieldRecordQuerySet):
    def project_financing(self, as_of=None) -> FinancialSupportQuerySet:
        """Disbursements from the programme start (to `as_of`, if given): the only project financing."""
        counted = self.filter(disbursed_on__gte=programme_start())
        return counted if as_of is None else counted.filter(disbursed_on__lte=as_of)

    def before_programme(self) -> FinancialSupportQuerySet:
        """Disbursements dated before the programme start: the exact complement of
        `project_financing()`."""
        return self.filter(disbursed_on__lt=programme_start())


class SupportKind(models.TextChoices):
    LOAN = "loan", _("loan")
    GRANT = "grant", _("grant")


class FinancialSupport(models.Model):
    enterprise = models.ForeignKey(
        Enterprise, on_delete=models.PROTECT, related_name="financial_supports", verbose_name=_("enterprise")
    )
    kind = models.CharField(_("type"), max_length=10, choices=SupportKind.choices)
    amount = models.DecimalField(
        _("amount (BDT)"), max_digits=12, decimal_places=2, validators=[MinValueValidator(Decimal("0.01"))]
    )
    # Whose money was lent or granted: the results framework splits disbursements by financier. Rows
    # entered before the split was recorded keep "" (shown as "not stated"); every save must state it.
    financier = models.CharField(_("financed by"), max_length=12, choices=Financier.choices)
    disbursed_on = models.DateField(_("disbursed on"))
    reference = models.CharField(
        _("reference"), max_length=60, blank=True, help_text=_("Loan account or voucher number, if any.")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    history = HistoricalRecords()
    objects = FinancialSupportQuerySet.as_manager()

    class Meta:
        ordering = ["-disbursed_on", "-pk"]
        verbose_name = _("financial support")
        verbose_name_plural = _("financial supports")
        constraints = [
            # One disbursement of a kind per ME and day: the stable key of imported rows.
            models.UniqueConstraint(
                fields=["enterprise", "kind", "disbursed_on"],
                name="support_unique_per_day",
                violation_error_message=_("This enterprise already has a support of this type on this date."),
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="support_amount_positive"),
        ]
        indexes = [models.Index(fields=["disbursed_on"], name="support_disbursed_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount:,.0f} BDT · {self.disbursed_on}"

    @property
    def is_before_programme_start(self) -> bool:
        """Disbursed before the programme start: not counted as project financing. The row-level
        twin of `FinancialSupport.objects.before_programme()` (same boundary, no query)."""
        return bool(self.disbursed_on and self.disbursed_on < programme_start())

    def clean(self) -> None:
        super().clean()
        errors: dict[str, list[str]] = {}
        _collect(errors, "amount", validation.check_amount, self.amount)
        _collect(
            errors, "disbursed_on", validation.check_not_future, self.disbursed_on, _("The disbursement date")
        )
        if self.enterprise_id:
            check_enterprise_open(self.enterprise, errors)
        if errors:
            raise ValidationError(errors)


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

    history = HistoricalRecords()

    class Meta:
        ordering = ["position", "code"]
        verbose_name = _("training module")
        verbose_name_plural = _("training modules")

    def __str__(self) -> str:
        return f"{self.code} · {self.name}"


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
    held_on = models.DateField(_("held on"), db_index=True)
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
        return f"{self.po_code} · {title} ({self.held_on:%d %b %Y})"

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
        _collect(errors, "held_on", validation.check_not_future, self.held_on, _("The session date"))
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

    objects = RecpPracticeQuerySet.as_manager()

    class Meta:
        ordering = ["code"]
        verbose_name = _("RECP practice")
        verbose_name_plural = _("RECP practices")

    def __str__(self) -> str:
        return f"{self.code} · {self.name}"


def _verified_independently() -> Q:
    """Verified (a date and a verifier) by someone who belongs to no PO. Only IS [NOT] NULL tests: the
    condition is never unknown, so its negation is its exact complement."""
    return Q(
        verified_on__isnull=False,
        verified_by__isnull=False,
        verified_by__partner_organization__isnull=True,
    )


class AdoptionQuerySet(FieldRecordQuerySet):
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
    adopted_on = models.DateField(_("adopted on"))
    note = models.CharField(_("note"), max_length=250, blank=True)
    # The PO's evidence that the practice is in use: what its officer saw, where and when.
    evidence_observed_on = models.DateField(_("seen in use on"), null=True, blank=True)
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
    verified_on = models.DateField(_("verified on"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

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
        ]
        indexes = [
            models.Index(fields=["enterprise", "verified_on"], name="adoption_verified_idx"),
            # The lists' default order, newest first, at 155,000 adoptions.
            models.Index(fields=["-adopted_on", "-id"], name="adoption_newest_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.practice.code} @ {self.enterprise_id}"

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
        _collect(errors, "adopted_on", validation.check_not_future, self.adopted_on, _("The adoption date"))
        _collect(
            errors,
            "evidence_observed_on",
            validation.check_not_future,
            self.evidence_observed_on,
            _("The date it was seen in use"),
        )
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
    assessment_date = models.DateField(_("assessment date"))
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
    prepared_on = models.DateField(_("prepared on"), null=True, blank=True, editable=False)
    validated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("validated by"),
        editable=False,
    )
    validated_on = models.DateField(_("validated on"), null=True, blank=True, editable=False)
    review_comment = models.TextField(_("PMU comment"), blank=True, editable=False)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

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
        errors: dict[str, list[str]] = {}
        _collect(
            errors,
            "assessment_date",
            validation.check_not_future,
            self.assessment_date,
            _("The assessment date"),
        )
        if errors:
            raise ValidationError(errors)


# --- Environmental KPIs ---------------------------------------------------------------------------


class KpiCategory(models.TextChoices):
    AIR = "air", _("air")
    WATER = "water", _("water")
    WASTE = "waste", _("waste")
    ENERGY = "energy", _("energy")


class KpiDirection(models.TextChoices):
    LOWER = "lower", _("lower is better")
    HIGHER = "higher", _("higher is better")


class Kpi(models.Model):
    code = models.CharField(_("code"), max_length=30, unique=True)
    name = models.CharField(_("name"), max_length=150)
    unit = models.CharField(_("unit"), max_length=30)
    category = models.CharField(_("category"), max_length=10, choices=KpiCategory.choices)
    direction = models.CharField(_("direction"), max_length=10, choices=KpiDirection.choices)
    min_value = models.DecimalField(
        _("lowest plausible value"), max_digits=14, decimal_places=3, null=True, blank=True
    )
    max_value = models.DecimalField(
        _("highest plausible value"), max_digits=14, decimal_places=3, null=True, blank=True
    )
    description = models.TextField(_("how to measure"), blank=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    is_active = models.BooleanField(_("active"), default=True)
    # Environmental outcomes (monitoring.outcomes): monthly quantities add up across MEs into programme
    # totals; concentrations (PM2.5, COD) do not, and are reported as MEs improved.
    adds_up = models.BooleanField(
        _("totals across MEs are meaningful"),
        default=True,
        help_text=_("Yes for a quantity per month (kWh, m³, kg, L); no for a concentration (µg/m³, mg/L)."),
    )
    co2e_kg_per_unit = models.DecimalField(
        _("emission factor (kg CO₂e per unit)"),
        max_digits=10,
        decimal_places=4,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(0))],
        help_text=_("Only with a documented source: a saving then counts as emissions avoided."),
    )
    co2e_factor_source = models.CharField(_("source of the emission factor"), max_length=250, blank=True)

    class Meta:
        ordering = ["position", "code"]
        verbose_name = _("environmental KPI")
        verbose_name_plural = _("environmental KPIs")
        constraints = [
            models.CheckConstraint(
                condition=Q(min_value__isnull=True)
                | Q(max_value__isnull=True)
                | Q(max_value__gt=models.F("min_value")),
                name="kpi_range_ordered",
                violation_error_message=_("The highest plausible value must be above the lowest."),
            ),
            models.CheckConstraint(
                condition=Q(co2e_kg_per_unit__isnull=True) | ~Q(co2e_factor_source=""),
                name="kpi_emission_factor_has_source",
                violation_error_message=_("An emission factor needs its source."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.unit})"


class ReadingSource(models.TextChoices):
    METER = "meter", _("meter")
    MEASUREMENT = "measurement", _("measurement")
    ESTIMATE = "estimate", _("estimate")


class KpiReading(models.Model):
    """One month's value of one KPI at one ME. High-volume (≈1.5 M at programme scale): no history
    table; the row carries who entered it and when."""

    enterprise = models.ForeignKey(
        Enterprise, on_delete=models.PROTECT, related_name="kpi_readings", verbose_name=_("enterprise")
    )
    kpi = models.ForeignKey(Kpi, on_delete=models.PROTECT, related_name="readings", verbose_name=_("KPI"))
    period = models.DateField(_("month"), help_text=_("The first day of the month the value covers."))
    value = models.DecimalField(_("value"), max_digits=14, decimal_places=3)
    is_baseline = models.BooleanField(_("baseline"), default=False)
    source = models.CharField(_("source"), max_length=15, choices=ReadingSource.choices)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    objects = FieldRecordQuerySet.as_manager()

    class Meta:
        ordering = ["enterprise", "kpi", "period"]
        verbose_name = _("KPI reading")
        verbose_name_plural = _("KPI readings")
        constraints = [
            models.UniqueConstraint(
                fields=["enterprise", "kpi", "period"],
                name="reading_unique_per_month",
                violation_error_message=_(
                    "This enterprise already has a reading of this KPI for this month."
                ),
            ),
            models.UniqueConstraint(
                fields=["enterprise", "kpi"],
                condition=Q(is_baseline=True),
                name="one_baseline_per_kpi",
                violation_error_message=_("This enterprise already has a baseline for this KPI."),
            ),
        ]
        indexes = [models.Index(fields=["period"], name="reading_period_idx")]

    def __str__(self) -> str:
        return f"{self.kpi_id} {self.period:%Y-%m} = {self.value}"

    def clean(self) -> None:
        super().clean()
        errors: dict[str, list[str]] = {}
        _collect(errors, "period", validation.check_period, self.period)
        if self.kpi_id:
            _collect(errors, "value", validation.check_kpi_value, self.kpi, self.value)
        if self.enterprise_id:
            check_enterprise_open(self.enterprise, errors)
        if errors:
            raise ValidationError(errors)


# --- Common service facilities --------------------------------------------------------------------


class FacilityKind(models.TextChoices):
    REVENUE = "revenue", _("revenue-generating")
    NON_REVENUE = "non_revenue", _("non-revenue-generating")


class FacilityStatus(models.TextChoices):
    PLANNED = "planned", _("planned")
    UNDER_CONSTRUCTION = "under_construction", _("under construction")
    OPERATIONAL = "operational", _("operational")


class FacilityQuerySet(POScopedQuerySet):
    def awaiting_confirmation(self) -> FacilityQuerySet:
        """Reported operational by the PO, operation not yet confirmed by the PMU or a verifier."""
        return self.filter(status=FacilityStatus.OPERATIONAL, operational_confirmed_on__isnull=True)


class CommonServiceFacility(models.Model):
    partner_organization = models.ForeignKey(
        PartnerOrganization, on_delete=models.PROTECT, related_name="facilities", verbose_name=_("PO")
    )
    sub_project = models.ForeignKey(
        SubProject, on_delete=models.PROTECT, related_name="facilities", verbose_name=_("sub-project")
    )
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=15, choices=FacilityKind.choices)
    sub_sector = models.ForeignKey(
        SubSector, on_delete=models.PROTECT, related_name="facilities", verbose_name=_("sub-sector")
    )
    district = models.ForeignKey(
        District, on_delete=models.PROTECT, related_name="facilities", verbose_name=_("district")
    )
    upazila = models.ForeignKey(
        Upazila,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="facilities",
        verbose_name=_("upazila"),
    )
    address = models.CharField(_("address"), max_length=250, blank=True)
    latitude = models.DecimalField(_("latitude"), **GPS)
    longitude = models.DecimalField(_("longitude"), **GPS)
    services = models.TextField(_("services offered"), blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=FacilityStatus.choices, default=FacilityStatus.PLANNED
    )
    opened_on = models.DateField(_("opened on"), null=True, blank=True)
    # A facility the PO reports operational counts in CSF_ESTABLISHED only once the PMU or a verifier
    # has confirmed it (enterprises.services.confirm_facility_operational); cleared when the PO changes
    # its status or opening date.
    # PROTECT, like Adoption.verified_by: a confirmation outlives no deleted account silently.
    operational_confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("operation confirmed by"),
        editable=False,
    )
    operational_confirmed_on = models.DateField(
        _("operation confirmed on"), null=True, blank=True, editable=False
    )
    mes_served = models.ManyToManyField(
        Enterprise, blank=True, related_name="facilities_used", verbose_name=_("MEs served")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    history = HistoricalRecords(excluded_fields=["updated_at"])
    objects = FacilityQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("common service facility")
        verbose_name_plural = _("common service facilities")
        constraints = [
            models.UniqueConstraint(
                fields=["sub_project", "name"],
                name="facility_name_unique_in_sub_project",
                violation_error_message=_("This sub-project already has a facility with this name."),
            ),
            models.CheckConstraint(
                condition=~Q(status="operational") | Q(opened_on__isnull=False),
                name="operational_facility_has_opening_date",
                violation_error_message=_("An operational facility needs its opening date."),
            ),
            models.CheckConstraint(
                condition=Q(operational_confirmed_on__isnull=True) | Q(status="operational"),
                name="only_operational_facility_confirmed",
                violation_error_message=_("Only an operational facility can be confirmed as operating."),
            ),
        ]
        indexes = [models.Index(fields=["status", "opened_on"], name="facility_status_idx")]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        take_po_of_sub_project(self)
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("enterprises:facility-detail", args=[self.pk])

    @property
    def awaits_confirmation(self) -> bool:
        """The row-level twin of `CommonServiceFacility.objects.awaiting_confirmation()`."""
        return self.status == FacilityStatus.OPERATIONAL and self.operational_confirmed_on is None

    def clean(self) -> None:
        super().clean()
        errors: dict[str, list[str]] = {}
        if self.status == FacilityStatus.OPERATIONAL and not self.opened_on:
            errors.setdefault("opened_on", []).append(
                str(_("An operational facility needs its opening date."))
            )
        if self.status != FacilityStatus.OPERATIONAL and self.opened_on:
            errors.setdefault("opened_on", []).append(
                str(_("Only an operational facility has an opening date; set the status to operational."))
            )
        _collect(errors, "opened_on", validation.check_not_future, self.opened_on, _("The opening date"))
        district = self.district if self.district_id else None
        upazila = self.upazila if self.upazila_id else None
        _merge(errors, validation.check_geography(None, district, upazila))
        _merge(errors, validation.check_gps(self.latitude, self.longitude))
        if self.sub_project_id and self.sub_sector_id:
            _collect(
                errors, "sub_sector", validation.check_sub_sector_fits, self.sub_project, self.sub_sector
            )
        check_sub_project_po(self, errors)
        if errors:
            raise ValidationError(errors)


# --- Clusters -------------------------------------------------------------------------------------


class ClusterQuerySet(models.QuerySet):
    def visible_to(self, user) -> ClusterQuerySet:
        """Clusters are programme-wide (their members may come from several POs): PO staff see the
        clusters their own enterprises belong to, and only their own members in them."""
        if not user.is_authenticated:
            return self.none()
        if user.sees_whole_programme:
            return self
        if user.partner_organization_id:
            own = Enterprise.objects.filter(
                cluster=OuterRef("pk"), partner_organization_id=user.partner_organization_id
            )
            return self.filter(Exists(own))
        return self.none()


class Cluster(models.Model):
    """Enterprises of similar production or services within about a 5 km area (SME Foundation)."""

    name = models.CharField(_("name"), max_length=200, unique=True)
    sub_sector = models.ForeignKey(
        SubSector, on_delete=models.PROTECT, related_name="clusters", verbose_name=_("sub-sector")
    )
    district = models.ForeignKey(
        District, on_delete=models.PROTECT, related_name="clusters", verbose_name=_("district")
    )
    centre_latitude = models.DecimalField(_("centre latitude"), max_digits=9, decimal_places=6)
    centre_longitude = models.DecimalField(_("centre longitude"), max_digits=9, decimal_places=6)
    description = models.TextField(_("description"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    objects = ClusterQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("cluster")
        verbose_name_plural = _("clusters")

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("enterprises:cluster-detail", args=[self.pk])

    def clean(self) -> None:
        super().clean()
        errors: dict[str, list[str]] = {}
        found = validation.check_gps(self.centre_latitude, self.centre_longitude)
        for field, message in found.items():
            errors.setdefault(f"centre_{field}", []).append(message)
        if errors:
            raise ValidationError(errors)


class SuggestionStatus(models.TextChoices):
    PROPOSED = "proposed", _("proposed")
    ACCEPTED = "accepted", _("accepted")
    DISMISSED = "dismissed", _("dismissed")


class ClusterSuggestion(models.Model):
    """A group of same-sub-sector MEs found close together by `enterprises.clusters.suggest()`."""

    sub_sector = models.ForeignKey(
        SubSector, on_delete=models.CASCADE, related_name="+", verbose_name=_("sub-sector")
    )
    district = models.ForeignKey(
        District, on_delete=models.CASCADE, related_name="+", verbose_name=_("district")
    )
    centre_latitude = models.DecimalField(_("centre latitude"), max_digits=9, decimal_places=6)
    centre_longitude = models.DecimalField(_("centre longitude"), max_digits=9, decimal_places=6)
    radius_km = models.DecimalField(_("radius (km)"), max_digits=5, decimal_places=2)
    members = models.ManyToManyField(Enterprise, related_name="+", verbose_name=_("members"))
    member_count = models.PositiveIntegerField(_("members"))
    # The sorted member ids, hashed: a dismissed group is not proposed again.
    signature = models.CharField(max_length=64, db_index=True)
    status = models.CharField(
        _("status"), max_length=12, choices=SuggestionStatus.choices, default=SuggestionStatus.PROPOSED
    )
    cluster = models.ForeignKey(Cluster, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    computed_at = models.DateTimeField(_("computed at"), default=timezone.now)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)

    class Meta:
        ordering = ["-member_count", "pk"]
        verbose_name = _("cluster suggestion")
        verbose_name_plural = _("cluster suggestions")

    def __str__(self) -> str:
        return f"{self.sub_sector} · {self.district} ({self.member_count})"

    def get_absolute_url(self) -> str:
        return reverse("enterprises:suggestion-detail", args=[self.pk])


# --- Duplicates -----------------------------------------------------------------------------------


class DuplicateStatus(models.TextChoices):
    SUSPECTED = "suspected", _("suspected")
    CONFIRMED = "confirmed", _("confirmed duplicate")
    DISMISSED = "dismissed", _("not a duplicate")


class DuplicateSuspectQuerySet(models.QuerySet):
    def visible_to(self, user) -> DuplicateSuspectQuerySet:
        """Only programme-wide roles see pairs: a pair shows two POs' personal data side by side."""
        if user.is_authenticated and user.sees_whole_programme:
            return self
        return self.none()

    def open(self) -> DuplicateSuspectQuerySet:
        """Pairs the PMU has not decided yet."""
        return self.filter(status=DuplicateStatus.SUSPECTED)

    def involving(self, enterprise) -> DuplicateSuspectQuerySet:
        """Pairs with this enterprise on either side (an Enterprise, an id or an `OuterRef`)."""
        return self.filter(Q(enterprise=enterprise) | Q(matched_enterprise=enterprise))

    def involving_any(self, enterprise_ids) -> DuplicateSuspectQuerySet:
        return self.filter(Q(enterprise_id__in=enterprise_ids) | Q(matched_enterprise_id__in=enterprise_ids))


class DuplicateSuspect(models.Model):
    """Two MEs that may be the same enterprise: `enterprise` is the one entered later, and the
    one that becomes `duplicate_of` the other when the PMU confirms."""

    enterprise = models.ForeignKey(
        Enterprise, on_delete=models.CASCADE, related_name="duplicate_suspects", verbose_name=_("enterprise")
    )
    matched_enterprise = models.ForeignKey(
        Enterprise, on_delete=models.CASCADE, related_name="+", verbose_name=_("matches")
    )
    same_phone = models.BooleanField(_("same phone"), default=False)
    same_trade_licence = models.BooleanField(_("same trade licence"), default=False)
    same_name_and_upazila = models.BooleanField(_("same name in the same upazila"), default=False)
    cross_po = models.BooleanField(_("across POs"), default=True)
    status = models.CharField(
        _("status"), max_length=12, choices=DuplicateStatus.choices, default=DuplicateStatus.SUSPECTED
    )
    found_at = models.DateTimeField(_("found at"), default=timezone.now)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    resolution_note = models.TextField(_("note"), blank=True)

    objects = DuplicateSuspectQuerySet.as_manager()

    class Meta:
        ordering = ["found_at", "pk"]
        verbose_name = _("suspected duplicate")
        verbose_name_plural = _("suspected duplicates")
        constraints = [
            models.UniqueConstraint(
                fields=["enterprise", "matched_enterprise"], name="duplicate_pair_unique"
            ),
            models.CheckConstraint(
                condition=Q(enterprise__gt=models.F("matched_enterprise")), name="duplicate_pair_ordered"
            ),
        ]
        indexes = [models.Index(fields=["status", "found_at"], name="duplicate_status_idx")]

    def __str__(self) -> str:
        return f"{self.enterprise_id} ~ {self.matched_enterprise_id}"

    def get_absolute_url(self) -> str:
        return reverse("enterprises:duplicate-detail", args=[self.pk])

    @property
    def reasons(self) -> list[str]:
        labels = []
        if self.same_phone:
            labels.append(str(_("same phone")))
        if self.same_trade_licence:
            labels.append(str(_("same trade licence")))
        if self.same_name_and_upazila:
            labels.append(str(_("same name in the same upazila")))
        return labels


# --- Import jobs ----------------------------------------------------------------------------------


class ImportStatus(models.TextChoices):
    PENDING = "pending", _("waiting to start")
    VALIDATING = "validating", _("checking the file")
    INVALID = "invalid", _("has errors")
    VALIDATED = "validated", _("ready to import")
    COMMITTING = "committing", _("importing")
    DONE = "done", _("imported")
    FAILED = "failed", _("failed")


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
    checked_at = models.DateTimeField(_("checked at"), null=True, blank=True)
    committed_at = models.DateTimeField(_("imported at"), null=True, blank=True)

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

    def with_live_progress(self) -> ImportJob:
        """While rows are written, the job's row is inside the import's transaction and cannot show
        progress to others; the writer posts it to the cache instead, read here."""
        from django.core.cache import cache

        live = cache.get(self.progress_cache_key) if self.is_running else None
        if live:
            self.phase, self.rows_done, self.rows_total = live
        return self
