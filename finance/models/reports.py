"""Interim financial reports to the World Bank (SPEC 8), the funds PKSF receives, and the rate of
exchange by date."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from finance.models.common import MONEY, POSITIVE, sees_all_money
from subprojects.models import BudgetCategory, Financier, WorkflowObject


class ExchangeRate(models.Model):
    """BDT per USD from a date on: a figure of a day is converted at the rate of that day, so past
    figures keep their rate when a new one is entered."""

    valid_from = models.DateField(_("valid from"), unique=True)
    bdt_per_usd = models.DecimalField(
        _("BDT per USD"), max_digits=10, decimal_places=4, validators=[POSITIVE[0]]
    )
    source = models.CharField(_("source"), max_length=120, blank=True, help_text=_("e.g. Bangladesh Bank"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True, db_index=True)

    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["-valid_from"]
        verbose_name = _("exchange rate")
        verbose_name_plural = _("exchange rates")
        constraints = [models.CheckConstraint(condition=Q(bdt_per_usd__gt=0), name="exchange_rate_positive")]

    def __str__(self) -> str:
        return f"{self.valid_from}: {self.bdt_per_usd} BDT/USD"


class FundSource(models.TextChoices):
    WORLD_BANK = "world_bank", _("World Bank (IDA)")
    PKSF = "pksf", _("PKSF counterpart")


class ProgrammeMoneyQuerySet(models.QuerySet):
    """Whole-programme money (the funds PKSF receives, the IFRs): the PMU's side (programme-wide roles
    and the PMU's finance officers) sees all of it; a PO's staff, its own finance officer included, and
    anyone else see nothing."""

    def visible_to(self, user):
        return self if sees_all_money(user) else self.none()


class FundReceipt(models.Model):
    """Money PKSF received for the programme: a World Bank withdrawal into the designated account, or
    PKSF's own counterpart allocation. The sources side of the IFR."""

    source = models.CharField(_("source"), max_length=20, choices=FundSource.choices)
    received_on = models.DateField(_("received on"))
    amount = models.DecimalField(_("amount (BDT)"), **MONEY, validators=POSITIVE)
    reference = models.CharField(
        _("reference"), max_length=60, help_text=_("Withdrawal application or voucher number.")
    )
    description = models.CharField(_("description"), max_length=250, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("recorded by")
    )
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True, db_index=True)

    history = HistoricalRecords(excluded_fields=["updated_at"])
    objects = ProgrammeMoneyQuerySet.as_manager()

    class Meta:
        ordering = ["-received_on", "-pk"]
        verbose_name = _("fund receipt")
        verbose_name_plural = _("fund receipts")
        constraints = [
            models.UniqueConstraint(fields=["source", "reference"], name="fund_receipt_reference_unique"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="fund_receipt_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.get_source_display()} {self.reference}"


class ReportStatus(models.TextChoices):
    DRAFT = "draft", _("draft")
    REVIEWED = "reviewed", _("reviewed")
    FINALISED = "finalised", _("finalised")
    SENT = "sent", _("sent to the Bank")


class FinancialReportQuerySet(ProgrammeMoneyQuerySet):
    def live(self) -> FinancialReportQuerySet:
        """The current version of each quarter's report: the ones no correction supersedes."""
        return self.filter(superseded_by__isnull=True)


class FinancialReport(WorkflowObject):
    """An interim financial report for one calendar quarter. Its figures are computed from the
    transactions while it is a draft or reviewed, and frozen when it is finalised (`figures`); a
    finalised report is never edited: a correction is a new version of the same quarter."""

    quarter_end = models.DateField(_("quarter ending"))
    version = models.PositiveSmallIntegerField(_("version"), default=1)
    supersedes = models.OneToOneField(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="superseded_by",
        verbose_name=_("corrects version"),
    )
    status = models.CharField(
        _("status"), max_length=20, choices=ReportStatus.choices, default=ReportStatus.DRAFT
    )
    notes = models.TextField(_("notes to the report"), blank=True)
    # The report's numbers as finalised (finance.ifr): what the Bank received, whatever changes later.
    figures = models.JSONField(_("figures"), null=True, blank=True, editable=False)
    xlsx = models.FileField(_("spreadsheet"), upload_to="ifr/%Y", blank=True, max_length=200)
    pdf = models.FileField(_("PDF"), upload_to="ifr/%Y", blank=True, max_length=200)
    finalised_at = models.DateTimeField(_("finalised at"), null=True, blank=True)
    sent_on = models.DateField(_("sent to the Bank on"), null=True, blank=True)
    prepared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("prepared by")
    )

    history = HistoricalRecords()
    objects = FinancialReportQuerySet.as_manager()

    class Meta:
        ordering = ["-quarter_end", "-version"]
        verbose_name = _("interim financial report")
        verbose_name_plural = _("interim financial reports")
        constraints = [
            models.UniqueConstraint(fields=["quarter_end", "version"], name="ifr_version_unique"),
            models.CheckConstraint(
                condition=Q(status__in=["draft", "reviewed"]) | Q(figures__isnull=False),
                name="ifr_finalised_has_figures",
            ),
        ]

    def __str__(self) -> str:
        return self.reference

    @property
    def reference(self) -> str:
        quarter = (self.quarter_end.month - 1) // 3 + 1
        suffix = f" v{self.version}" if self.version > 1 else ""
        return f"IFR {self.quarter_end.year}-Q{quarter}{suffix}"

    @property
    def is_locked(self) -> bool:
        return self.status in (ReportStatus.FINALISED, ReportStatus.SENT)

    def get_absolute_url(self) -> str:
        return reverse("finance:ifr-detail", args=[self.pk])


class ForecastLine(models.Model):
    """The spending the PMU expects in one of the two quarters after the report's, by budget category
    and financier."""

    report = models.ForeignKey(
        FinancialReport, on_delete=models.CASCADE, related_name="forecast_lines", verbose_name=_("report")
    )
    quarter_end = models.DateField(_("quarter ending"))
    category = models.CharField(_("category"), max_length=30, choices=BudgetCategory.choices)
    financier = models.CharField(_("financier"), max_length=20, choices=Financier.choices)
    amount = models.DecimalField(_("forecast (BDT)"), **MONEY, default=0)

    class Meta:
        ordering = ["quarter_end", "category", "financier"]
        verbose_name = _("forecast line")
        verbose_name_plural = _("forecast lines")
        constraints = [
            models.UniqueConstraint(
                fields=["report", "quarter_end", "category", "financier"], name="forecast_line_unique"
            ),
            models.CheckConstraint(condition=Q(amount__gte=0), name="forecast_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.quarter_end} {self.category} {self.financier}: {self.amount}"
