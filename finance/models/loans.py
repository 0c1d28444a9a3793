"""The ME loan portfolio: each loan's repayment schedule (instalments), its repayments and any
write-off. A loan is a financial support of kind "loan" (enterprises.FinancialSupport)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from enterprises.models import FinancialSupport
from finance.models.common import MONEY, NOT_NEGATIVE, POSITIVE, MoneyQuerySet


class LoanRecordQuerySet(MoneyQuerySet):
    po_field = "loan__enterprise__partner_organization"


class Instalment(models.Model):
    """One due date of a loan's schedule. `principal_due_to_date` is the principal due on this and
    every earlier instalment: days past due and arrears are then one comparison per loan, in SQL."""

    loan = models.ForeignKey(
        FinancialSupport, on_delete=models.CASCADE, related_name="instalments", verbose_name=_("loan")
    )
    number = models.PositiveSmallIntegerField(_("instalment"))
    due_on = models.DateField(_("due on"))
    principal = models.DecimalField(_("principal due (BDT)"), **MONEY, validators=NOT_NEGATIVE)
    interest = models.DecimalField(_("interest due (BDT)"), **MONEY, validators=NOT_NEGATIVE, default=0)
    principal_due_to_date = models.DecimalField(_("principal due to date (BDT)"), **MONEY)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True, db_index=True)

    objects = LoanRecordQuerySet.as_manager()

    class Meta:
        ordering = ["loan", "number"]
        verbose_name = _("instalment")
        verbose_name_plural = _("instalments")
        constraints = [
            models.UniqueConstraint(fields=["loan", "number"], name="instalment_number_unique"),
            models.UniqueConstraint(fields=["loan", "due_on"], name="instalment_due_unique"),
        ]
        indexes = [
            models.Index(fields=["loan", "due_on", "principal_due_to_date"], name="instalment_loan_due_idx")
        ]

    def __str__(self) -> str:
        return f"#{self.number} {self.due_on}"


class Repayment(models.Model):
    """Money the ME paid back, as the PO's MIS recorded it."""

    loan = models.ForeignKey(
        FinancialSupport, on_delete=models.PROTECT, related_name="repayments", verbose_name=_("loan")
    )
    paid_on = models.DateField(_("paid on"))
    principal = models.DecimalField(_("principal (BDT)"), **MONEY, validators=NOT_NEGATIVE)
    interest = models.DecimalField(_("interest and fees (BDT)"), **MONEY, validators=NOT_NEGATIVE, default=0)
    reference = models.CharField(_("receipt reference"), max_length=60, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True, db_index=True)

    history = HistoricalRecords(excluded_fields=["updated_at"])
    objects = LoanRecordQuerySet.as_manager()

    class Meta:
        ordering = ["loan", "paid_on", "pk"]
        verbose_name = _("repayment")
        verbose_name_plural = _("repayments")
        constraints = [
            # The stable key of imported rows: one repayment per loan, day and receipt.
            models.UniqueConstraint(
                fields=["loan", "paid_on", "reference"],
                name="repayment_unique_per_receipt",
                violation_error_message=_("This repayment is already recorded."),
            ),
            models.CheckConstraint(
                condition=Q(principal__gte=0) & Q(interest__gte=0) & (Q(principal__gt=0) | Q(interest__gt=0)),
                name="repayment_amount_positive",
            ),
        ]
        indexes = [models.Index(fields=["loan", "paid_on", "principal"], name="repayment_loan_paid_idx")]

    def __str__(self) -> str:
        return f"{self.paid_on}: {self.principal:,.2f} BDT"


class WriteOff(models.Model):
    """The principal a PO gave up on: from that day the loan leaves the outstanding portfolio."""

    loan = models.OneToOneField(
        FinancialSupport, on_delete=models.PROTECT, related_name="write_off", verbose_name=_("loan")
    )
    written_off_on = models.DateField(_("written off on"))
    principal = models.DecimalField(_("principal written off (BDT)"), **MONEY, validators=POSITIVE)
    reason = models.TextField(_("reason"))
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("recorded by")
    )
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True, db_index=True)

    history = HistoricalRecords(excluded_fields=["updated_at"])
    objects = LoanRecordQuerySet.as_manager()

    class Meta:
        ordering = ["-written_off_on"]
        verbose_name = _("write-off")
        verbose_name_plural = _("write-offs")
        constraints = [models.CheckConstraint(condition=Q(principal__gt=0), name="write_off_positive")]
        indexes = [models.Index(fields=["written_off_on"], name="write_off_date_idx")]

    def __str__(self) -> str:
        return f"{self.written_off_on}: {self.principal:,.2f} BDT"
