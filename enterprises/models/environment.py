"""Environmental KPIs and their monthly readings at enterprises (with their emission factors)."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.reference_names import translated_name
from core.validators import PROGRAMME_START_MONTH, DateRange
from enterprises import validation
from enterprises.models.common import (
    FieldRecordQuerySet,
    _collect,
    check_enterprise_open,
)
from enterprises.models.registry import Enterprise

__all__ = [
    "Kpi",
    "KpiCategory",
    "KpiDirection",
    "KpiReading",
    "ReadingSource",
]


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
    updated_at = models.DateTimeField(_("updated at"), auto_now=True, db_index=True)

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
        return f"{translated_name(self.name)} ({self.unit})"


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
    # From the programme start's month; a month not yet begun is refused by validation.check_period.
    period = models.DateField(
        _("month"),
        help_text=_("The first day of the month the value covers."),
        validators=[DateRange(_("The month"), PROGRAMME_START_MONTH, latest=None)],
    )
    value = models.DecimalField(_("value"), max_digits=14, decimal_places=3)
    is_baseline = models.BooleanField(_("baseline"), default=False)
    source = models.CharField(_("source"), max_length=15, choices=ReadingSource.choices)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True, db_index=True)

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
        # Every sort the KPI-readings list offers, with the id that breaks ties (keyset pages).
        indexes = [
            models.Index(fields=["period", "id"], name="reading_period_idx"),
            models.Index(fields=["kpi", "id"], name="reading_kpi_idx"),
            models.Index(fields=["value", "id"], name="reading_value_idx"),
            models.Index(fields=["is_baseline", "id"], name="reading_baseline_idx"),
            models.Index(fields=["source", "id"], name="reading_source_idx"),
        ]

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
