"""What a PO spends against the approved budget lines, reported per quarter with voucher references."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from finance.models.common import MONEY, POSITIVE, MoneyQuerySet
from subprojects.models import BudgetLine, SubProject, WorkflowObject


class SpendingReportStatus(models.TextChoices):
    DRAFT = "draft", _("draft")
    SUBMITTED = "submitted", _("submitted")
    ACCEPTED = "accepted", _("accepted")


# The reports whose lines count as spending (a draft is the PO's work in progress).
REPORTED_STATUSES = (SpendingReportStatus.SUBMITTED, SpendingReportStatus.ACCEPTED)


class SpendingReport(WorkflowObject):
    """A sub-project's expenditure of one calendar quarter: the PO enters lines, submits; the PMU
    accepts or returns it for correction."""

    sub_project = models.ForeignKey(
        SubProject, on_delete=models.PROTECT, related_name="spending_reports", verbose_name=_("sub-project")
    )
    partner_organization = models.ForeignKey(
        "core.PartnerOrganization",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("partner organization"),
    )
    # The last day of the calendar quarter reported (31 Mar, 30 Jun, 30 Sep or 31 Dec).
    quarter_end = models.DateField(_("quarter ending"))
    status = models.CharField(
        _("status"), max_length=20, choices=SpendingReportStatus.choices, default=SpendingReportStatus.DRAFT
    )
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("created by")
    )

    history = HistoricalRecords()
    objects = MoneyQuerySet.as_manager()

    class Meta:
        ordering = ["-quarter_end", "sub_project"]
        verbose_name = _("spending report")
        verbose_name_plural = _("spending reports")
        constraints = [
            models.UniqueConstraint(
                fields=["sub_project", "quarter_end"],
                name="spending_report_one_per_quarter",
                violation_error_message=_("This sub-project already has a spending report for this quarter."),
            ),
        ]

    def __str__(self) -> str:
        return self.reference

    @property
    def reference(self) -> str:
        quarter = (self.quarter_end.month - 1) // 3 + 1
        return f"{self.sub_project.agreement_number} {self.quarter_end.year}-Q{quarter}"

    def get_absolute_url(self) -> str:
        return reverse("finance:spending-report", args=[self.pk])


class ExpenditureQuerySet(MoneyQuerySet):
    def reported(self, as_of=None) -> ExpenditureQuerySet:
        """Lines of submitted or accepted reports (to `as_of`, by the date spent): the spending that
        counts."""
        lines = self.filter(report__status__in=REPORTED_STATUSES)
        return lines if as_of is None else lines.filter(spent_on__lte=as_of)


class Expenditure(models.Model):
    """One payment against an approved budget line, with its voucher."""

    report = models.ForeignKey(
        SpendingReport, on_delete=models.CASCADE, related_name="lines", verbose_name=_("spending report")
    )
    # Copied from the report (never changes): PO scoping and sub-project sums without a join.
    partner_organization = models.ForeignKey(
        "core.PartnerOrganization",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("partner organization"),
    )
    sub_project = models.ForeignKey(
        SubProject, on_delete=models.PROTECT, related_name="expenditures", verbose_name=_("sub-project")
    )
    budget_line = models.ForeignKey(
        BudgetLine, on_delete=models.PROTECT, related_name="expenditures", verbose_name=_("budget line")
    )
    spent_on = models.DateField(_("spent on"))
    amount = models.DecimalField(_("amount (BDT)"), **MONEY, validators=POSITIVE)
    voucher_reference = models.CharField(_("voucher reference"), max_length=60)
    description = models.CharField(_("description"), max_length=250, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True, db_index=True)

    history = HistoricalRecords()
    objects = ExpenditureQuerySet.as_manager()

    class Meta:
        ordering = ["spent_on", "pk"]
        verbose_name = _("expenditure")
        verbose_name_plural = _("expenditures")
        constraints = [
            # A voucher is entered once per budget line: the stable key of imported rows.
            models.UniqueConstraint(
                fields=["budget_line", "voucher_reference"],
                name="expenditure_voucher_unique",
                violation_error_message=_("This voucher is already entered against this budget line."),
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="expenditure_amount_positive"),
        ]
        indexes = [
            models.Index(fields=["sub_project", "spent_on"], name="expenditure_subproject_idx"),
            models.Index(fields=["spent_on"], name="expenditure_spent_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.voucher_reference}: {self.amount:,.2f} BDT"
