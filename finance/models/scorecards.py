"""PO scorecards: each PO's quarterly figures, scored 0 to 100 per measure, and the weights the PMU sets
for the composite rating."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from finance.models.common import MoneyQuerySet


class ScorecardMeasure(models.TextChoices):
    MES_REACHED = "mes_reached", _("MEs reached vs committed")
    WOMEN_LED = "women_led", _("Women-led MEs reached vs committed")
    RECP_VERIFIED = "recp_verified", _("RECP adoptions verified vs committed")
    KPI_TRACKING = "kpi_tracking", _("MEs tracking a KPI vs committed")
    FUND_UTILISATION = "fund_utilisation", _("Fund utilisation (spent of released)")
    REPORTING_TIMELINESS = "reporting_timeliness", _("Reporting on time")
    DATA_QUALITY = "data_quality", _("Data quality")
    PORTFOLIO_QUALITY = "portfolio_quality", _("Loan portfolio quality (PAR > 30 days)")


class ScorecardWeight(models.Model):
    """How much a measure counts in the composite rating (the PMU sets them; they need not add to 100)."""

    measure = models.CharField(_("measure"), max_length=30, choices=ScorecardMeasure.choices, unique=True)
    weight = models.PositiveSmallIntegerField(_("weight"), default=10)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True, db_index=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["measure"]
        verbose_name = _("scorecard weight")
        verbose_name_plural = _("scorecard weights")
        constraints = [
            models.CheckConstraint(condition=Q(weight__lte=100), name="scorecard_weight_at_most_100")
        ]

    def __str__(self) -> str:
        return f"{self.get_measure_display()}: {self.weight}"


class Scorecard(models.Model):
    """One PO's measures at the end of one quarter, computed by a task (never on a page request).
    `measures` holds, per ScorecardMeasure, {"value", "target", "score"} (score 0 to 100 or null when
    the measure does not apply, e.g. no loans). The composite is computed when read, from the weights
    in force, so a change of weights re-ranks every quarter at once."""

    partner_organization = models.ForeignKey(
        "core.PartnerOrganization",
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("partner organization"),
    )
    quarter_end = models.DateField(_("quarter ending"))
    measures = models.JSONField(_("measures"), default=dict)
    computed_at = models.DateTimeField(_("computed at"))
    updated_at = models.DateTimeField(_("updated at"), auto_now=True, db_index=True)

    objects = MoneyQuerySet.as_manager()

    class Meta:
        ordering = ["-quarter_end", "partner_organization"]
        verbose_name = _("PO scorecard")
        verbose_name_plural = _("PO scorecards")
        constraints = [
            models.UniqueConstraint(fields=["partner_organization", "quarter_end"], name="scorecard_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.partner_organization_id} {self.quarter_end}"
