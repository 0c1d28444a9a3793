"""The registry of microenterprises: an enterprise and what describes it."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import Coalesce, Upper
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from core.models import District, Division, PartnerOrganization, Sector, SubSector, Upazila
from core.validators import past_event
from enterprises import validation
from enterprises.models.common import (
    GPS,
    OPEN_FOR_NEW_ENTERPRISES,
    _collect,
    _merge,
    check_sub_project_open,
    check_sub_project_po,
    take_po_of_sub_project,
)
from subprojects.models import POScopedQuerySet, SubProject

__all__ = [
    "GENDER_SYNONYMS",
    "Enterprise",
    "EnterpriseQuerySet",
    "Gender",
    "counted_enterprise",
]


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
    from enterprises.models.duplicates import DuplicateSuspect  # imports this module

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
    registered_on = models.DateField(
        _("joined the sub-project on"),
        default=timezone.localdate,
        validators=[past_event(_("The joining date"))],
    )
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
    updated_at = models.DateTimeField(_("updated at"), auto_now=True, db_index=True)

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
            # Every sort the list offers, in the PO's scope and programme-wide, with the id that
            # breaks ties: keyset pages read an index range (enterprises.views, core.lists).
            models.Index(fields=["registered_on", "id"], name="enterprise_registered_idx"),
            models.Index(
                fields=["partner_organization", "registered_on", "id"], name="enterprise_po_registered_idx"
            ),
            models.Index(fields=["partner_organization", "id"], name="enterprise_po_newest_idx"),
            models.Index(fields=["po_code", "id"], name="enterprise_code_idx"),
            models.Index(fields=["name", "id"], name="enterprise_list_name_idx"),
            models.Index(fields=["partner_organization", "name", "id"], name="enterprise_po_name_idx"),
            models.Index(fields=["owner_name", "id"], name="enterprise_owner_idx"),
            models.Index(fields=["partner_organization", "owner_name", "id"], name="enterprise_po_owner_idx"),
            models.Index(fields=["sub_sector", "id"], name="enterprise_sub_sector_idx"),
            # The search (enterprises.filters): an ME code typed in any case. Its "contains" parts
            # (name, owner, phone) are served on PostgreSQL by trigram indexes, which migration 0017
            # writes in SQL (they exist on PostgreSQL only).
            models.Index(Upper("po_code"), name="enterprise_code_any_case_idx"),
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
            errors,
            "self_employed",
            validation.check_employment,
            self.self_employed,
            self.wage_employed_male,
            self.wage_employed_female,
        )
        if errors:
            raise ValidationError(errors)
