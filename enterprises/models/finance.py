"""Financial support (loans and grants) disbursed to enterprises."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from core.numbers import group
from core.validators import programme_event
from enterprises import validation
from enterprises.models.common import (
    FieldRecordQuerySet,
    _collect,
    check_enterprise_open,
)
from enterprises.models.registry import Enterprise
from subprojects.models import Financier

__all__ = [
    "FinancialSupport",
    "FinancialSupportQuerySet",
    "SupportKind",
    "programme_start",
]


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
    disbursed_on = models.DateField(
        _("disbursed on"), validators=[programme_event(_("The disbursement date"))]
    )
    reference = models.CharField(
        _("reference"), max_length=60, blank=True, help_text=_("Loan account or voucher number, if any.")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True, db_index=True)

    history = HistoricalRecords(excluded_fields=["updated_at"])
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
        return f"{self.get_kind_display()} {group(self.amount)} BDT · {self.disbursed_on}"

    @property
    def is_before_programme_start(self) -> bool:
        """Disbursed before the programme start: not counted as project financing. The row-level
        twin of `FinancialSupport.objects.before_programme()` (same boundary, no query)."""
        return bool(self.disbursed_on and self.disbursed_on < programme_start())

    def clean(self) -> None:
        super().clean()
        errors: dict[str, list[str]] = {}
        _collect(errors, "amount", validation.check_amount, self.amount)
        if self.enterprise_id:
            check_enterprise_open(self.enterprise, errors)
            if not getattr(self, "_enterprise_excluded", False):
                self._check_screening(errors)
        if not self._state.adding and self.pk:
            self._check_repayment_history(errors)
        if errors:
            raise ValidationError(errors)

    def has_repayment_history(self) -> bool:
        """Repayments or a write-off are recorded against this loan (finance.loans)."""
        return (
            self.repayments.exists()
            or type(self).objects.filter(pk=self.pk, write_off__isnull=False).exists()
        )

    def _check_repayment_history(self, errors: dict[str, list[str]]) -> None:
        """A loan the PO's books already repay keeps its terms: not turned into a grant, not lowered
        below what was repaid and written off, not dated after its first repayment."""
        from django.db.models import Min, Sum

        if not self.changed_terms():
            return  # the reference or the financier: nothing the repayments depend on
        repaid = self.repayments.aggregate(principal=Sum("principal"), first=Min("paid_on"))
        written = type(self).objects.filter(pk=self.pk).values_list(
            "write_off__principal", flat=True
        ).first() or Decimal("0")
        if repaid["first"] is None and not written:
            return
        if self.kind != SupportKind.LOAN:
            errors.setdefault("kind", []).append(
                _("This loan has repayments or a write-off recorded: it cannot become a grant.")
            )
        floor = (repaid["principal"] or Decimal("0")) + written
        if self.amount is not None and self.amount < floor:
            errors.setdefault("amount", []).append(
                _(
                    "The amount cannot be less than the principal already repaid and written off "
                    "(%(floor)s BDT)."
                )
                % {"floor": group(floor, 2)}
            )
        if self.disbursed_on and repaid["first"] and self.disbursed_on > repaid["first"]:
            errors.setdefault("disbursed_on", []).append(
                _("The loan cannot be disbursed after its first repayment (%(date)s).")
                % {"date": repaid["first"].isoformat()}
            )

    def full_clean(self, exclude=None, validate_unique=True, validate_constraints=True) -> None:
        # A page form without the enterprise field cannot show an error on it: the screening check
        # then waits for the service's own full_clean (with the enterprise), whose refusal the page shows.
        self._enterprise_excluded = bool(exclude) and "enterprise" in exclude
        try:
            super().full_clean(exclude, validate_unique, validate_constraints)
        finally:
            self._enterprise_excluded = False

    # What an ME barred by a failed screening may not change on a support already recorded: raising
    # the amount or moving the date to today would be a new disbursement in disguise.
    SCREENED_TERMS = ("amount", "kind", "disbursed_on")

    def _check_screening(self, errors: dict[str, list[str]]) -> None:
        if self._state.adding:
            refusal = self.screening_refusal()
            if refusal:
                errors.setdefault("enterprise", []).append(refusal)
            return
        changed = self.changed_terms()
        if not changed:
            return  # correcting the financier or the reference stays possible
        refusal = self.screening_refusal()
        if refusal:
            message = _(
                "%(refusal)s The amount, type or disbursement date of a recorded support cannot change "
                "either; its other details (e.g. the reference) may be corrected."
            ) % {"refusal": refusal}
            for name in changed:
                errors.setdefault(name, []).append(message)

    def changed_terms(self) -> list[str]:
        """Which of SCREENED_TERMS differ from the stored row (one query; imports set `_stored_terms`
        from the row they loaded, so none per row)."""
        stored = getattr(self, "_stored_terms", None)
        if stored is None:
            stored = type(self)._base_manager.filter(pk=self.pk).values(*self.SCREENED_TERMS).first()
            if stored is None:
                return []
        return [name for name in self.SCREENED_TERMS if stored[name] != getattr(self, name)]

    def screening_refusal(self) -> str | None:
        """Why the ME may receive no new disbursement: its latest completed E&S screening failed
        (safeguards.screenings). Imports set `_screening_refusal` from one query per chunk."""
        if hasattr(self, "_screening_refusal"):
            return self._screening_refusal
        from safeguards.screenings import financing_refusal

        return financing_refusal(self.enterprise_id)
