"""The ME loan portfolio's records: each loan's repayment schedule, its repayments and its write-off.

A loan is a financial support of kind "loan" (enterprises.FinancialSupport). The rules live here, for
the pages, the API, the imports (finance.loan_imports), the demo and the tests alike:

- **Schedule** (`generate_schedule`): equal monthly principal instalments from a first due date, the
  last one absorbing the rounding, with an optional flat interest; each instalment carries the
  principal due on it and every earlier one (`principal_due_to_date`), so arrears and days past due
  are one comparison per loan in SQL (finance.portfolio). A schedule is replaced while the loan has no
  repayment and no write-off; a grant has none.
- **Repayments** (`add_repayment`, `delete_repayment`): dated from the disbursement to today; the
  principal repaid never exceeds the principal lent less what was written off.
- **Write-off** (`record_write_off`): once per loan, a principal no greater than what was outstanding
  on that day; from then on the loan leaves the outstanding portfolio.

Who: the staff of the loan's PO (PO staff, or the PO's own finance officer) record all of it; the
PMU's side (programme-wide readers and the PMU's finance officers) reads every PO's loans, a PO's staff
their own. Another PO's loan is answered as if it did not exist.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet, Sum
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from core.errors import ActionRefused, Forbidden
from core.numbers import group
from enterprises.models import FinancialSupport, SupportKind
from finance.models import Instalment, Repayment, WriteOff, sees_all_money
from finance.models.common import is_po_money_staff as common_is_po_money_staff
from finance.models.common import may_read_money

CENT = Decimal("0.01")
ZERO = Decimal("0")
# A microenterprise loan is repaid within five years; a longer term is a typing error.
MAX_TERM_MONTHS = 60
# The first instalment falls due within a year of the disbursement (grace periods are months long).
MAX_GRACE_DAYS = 366
MAX_INTEREST_RATE = Decimal("100")

__all__ = [
    "MAX_GRACE_DAYS",
    "MAX_TERM_MONTHS",
    "LoanState",
    "add_months",
    "add_repayment",
    "delete_repayment",
    "generate_schedule",
    "is_po_money_staff",
    "loan_state",
    "may_read",
    "may_record",
    "owns",
    "record_write_off",
    "repayment_problems",
    "schedule_rows",
    "schedule_term_problems",
    "visible_loans",
    "write_off_problems",
]


# --- Who --------------------------------------------------------------------------------------------


is_po_money_staff = common_is_po_money_staff


# The loan pages and API: the PMU's side (every PO) and a PO's staff (their own PO).
may_read = may_read_money


def may_record(user) -> bool:
    """Records repayments, schedules and write-offs (of their own PO's loans only: see `owns`)."""
    return is_po_money_staff(user)


def owns(user, loan: FinancialSupport) -> bool:
    return may_record(user) and loan.enterprise.partner_organization_id == user.partner_organization_id


def visible_loans(user) -> QuerySet[FinancialSupport]:
    """The loans (never grants) this person may see: all for the PMU's side, a PO's own for its staff."""
    loans = FinancialSupport.objects.filter(kind=SupportKind.LOAN)
    if sees_all_money(user):
        return loans
    if is_po_money_staff(user):
        return loans.filter(enterprise__partner_organization_id=user.partner_organization_id)
    return loans.none()


def _require_owner(user, loan: FinancialSupport) -> None:
    if not owns(user, loan):
        raise Forbidden(_("Only the staff of the loan's PO record its schedule, repayments and write-off."))


def _refuse_grant(loan: FinancialSupport) -> None:
    if loan.kind != SupportKind.LOAN:
        raise ActionRefused(_("This support is a grant: a grant is not repaid and has no schedule."))


def _locked(loan: FinancialSupport) -> FinancialSupport:
    """The loan's row, locked until the transaction ends: its schedule, repayments and write-off change
    one at a time (two repayments entered at once cannot together repay more than was lent)."""
    return FinancialSupport.objects.select_for_update().select_related("enterprise").get(pk=loan.pk)


def _shown_date(day: date) -> str:
    return date_format(day, "DATE_FORMAT")


def _bdt(amount: Decimal) -> str:
    return group(amount, 2)


# --- The loan's state ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoanState:
    """What the rules need to know of a loan: its principal repaid (all dates, and by one date) and its
    write-off, if any."""

    repaid: Decimal
    repaid_by_date: Decimal | None
    write_off: WriteOff | None
    has_repayments: bool

    def unrepaid(self, amount: Decimal) -> Decimal:
        """What may still be repaid: the principal lent less what was repaid or written off."""
        written_off = self.write_off.principal if self.write_off else ZERO
        return amount - self.repaid - written_off


def loan_state(loan: FinancialSupport, *, by_date: date | None = None) -> LoanState:
    """Two queries whatever the loan's history."""
    totals = Repayment.objects.filter(loan=loan).aggregate(
        repaid=Sum("principal"),
        **({"by_date": Sum("principal", filter=_paid_by(by_date))} if by_date else {}),
    )
    write_off = WriteOff.objects.filter(loan=loan).first()
    return LoanState(
        repaid=totals["repaid"] or ZERO,
        repaid_by_date=(totals.get("by_date") or ZERO) if by_date else None,
        write_off=write_off,
        has_repayments=totals["repaid"] is not None,
    )


def _paid_by(day: date) -> Q:
    return Q(paid_on__lte=day)


# --- Schedule -----------------------------------------------------------------------------------------


def add_months(day: date, months: int) -> date:
    """The same day of the month `months` later, or that month's last day (31 Jan + 1 → 28/29 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def schedule_term_problems(
    loan: FinancialSupport, *, term_months, first_due_on, annual_interest_rate
) -> dict[str, list[str]]:
    """The terms' mistakes, by field (empty: the terms are fine)."""
    errors: dict[str, list[str]] = {}
    if not isinstance(term_months, int) or isinstance(term_months, bool):
        errors["term_months"] = [_("Give the number of monthly instalments as a whole number.")]
    elif not 1 <= term_months <= MAX_TERM_MONTHS:
        errors["term_months"] = [
            _("The term is from 1 to %(max)s monthly instalments (%(value)s given).")
            % {"max": MAX_TERM_MONTHS, "value": term_months}
        ]
    elif (loan.amount / term_months).quantize(CENT, rounding=ROUND_DOWN) <= 0:
        errors["term_months"] = [
            _("%(amount)s BDT cannot be split into %(n)s instalments.")
            % {"amount": _bdt(loan.amount), "n": term_months}
        ]
    if not isinstance(first_due_on, date):
        errors["first_due_on"] = [_("Give the date the first instalment falls due.")]
    elif first_due_on <= loan.disbursed_on:
        errors["first_due_on"] = [
            _("The first instalment falls due after the disbursement (%(day)s).")
            % {"day": _shown_date(loan.disbursed_on)}
        ]
    elif (first_due_on - loan.disbursed_on).days > MAX_GRACE_DAYS:
        errors["first_due_on"] = [
            _("The first instalment falls due within a year of the disbursement (%(day)s): check the year.")
            % {"day": _shown_date(loan.disbursed_on)}
        ]
    try:
        rate = Decimal(annual_interest_rate)
    except (TypeError, ArithmeticError, ValueError):
        errors["annual_interest_rate"] = [_("Give the yearly flat interest rate as a number (0 for none).")]
    else:
        if not rate.is_finite() or not ZERO <= rate <= MAX_INTEREST_RATE:
            errors["annual_interest_rate"] = [
                _("The yearly flat interest rate is from 0 to %(max)s %%.") % {"max": MAX_INTEREST_RATE}
            ]
        elif rate != rate.quantize(CENT):
            errors["annual_interest_rate"] = [_("Give the rate with at most two decimals.")]
    return errors


def schedule_rows(
    loan_id: int, amount: Decimal, *, term_months: int, first_due_on: date, annual_interest_rate: Decimal
) -> list[Instalment]:
    """The instalments (unsaved) of equal monthly principal; the last one absorbs the rounding. A flat
    interest is charged on the amount lent, spread equally over the months."""
    base = (amount / term_months).quantize(CENT, rounding=ROUND_DOWN)
    interest = (amount * Decimal(annual_interest_rate) / 100 / 12).quantize(CENT, rounding=ROUND_HALF_UP)
    rows, due_so_far = [], ZERO
    for number in range(1, term_months + 1):
        principal = base if number < term_months else amount - base * (term_months - 1)
        due_so_far += principal
        rows.append(
            Instalment(
                loan_id=loan_id,
                number=number,
                due_on=add_months(first_due_on, number - 1),
                principal=principal,
                interest=interest,
                principal_due_to_date=due_so_far,
            )
        )
    return rows


def _refuse_schedule_change(loan: FinancialSupport, state: LoanState) -> None:
    _refuse_grant(loan)
    if state.write_off is not None:
        raise ActionRefused(_("This loan is written off: its schedule can no longer change."))
    if state.has_repayments:
        raise ActionRefused(
            _(
                "This loan already has repayments: its schedule can no longer be replaced. A repayment "
                "entered by mistake can be deleted first."
            )
        )


def generate_schedule(
    loan: FinancialSupport,
    *,
    term_months: int,
    first_due_on: date,
    annual_interest_rate: Decimal | int = 0,
    user,
) -> list[Instalment]:
    """Create (or replace, while the loan has no repayment) the loan's monthly schedule. Raises
    Forbidden (not the loan's PO), ActionRefused (a grant, repayments or a write-off already there) or
    ValidationError naming the field (term_months, first_due_on, annual_interest_rate)."""
    _require_owner(user, loan)
    with transaction.atomic():
        loan = _locked(loan)
        _refuse_schedule_change(loan, loan_state(loan))
        errors = schedule_term_problems(
            loan,
            term_months=term_months,
            first_due_on=first_due_on,
            annual_interest_rate=annual_interest_rate,
        )
        if errors:
            raise ValidationError(errors)
        rows = schedule_rows(
            loan.pk,
            loan.amount,
            term_months=term_months,
            first_due_on=first_due_on,
            annual_interest_rate=Decimal(annual_interest_rate),
        )
        Instalment.objects.filter(loan=loan).delete()
        return Instalment.objects.bulk_create(rows)


# --- Repayments ---------------------------------------------------------------------------------------


def repayment_problems(
    loan: FinancialSupport,
    *,
    paid_on: date | None,
    principal: Decimal | None,
    interest: Decimal | None,
    unrepaid: Decimal,
    today: date | None = None,
) -> dict[str, list[str]]:
    """A repayment's mistakes, by field ("loan", "paid_on", "principal", "interest"). `unrepaid` is the
    principal not yet repaid nor written off, before this repayment."""
    errors: dict[str, list[str]] = {}
    today = today or timezone.localdate()
    if loan.kind != SupportKind.LOAN:
        errors["loan"] = [_("This support is a grant: a grant is not repaid.")]
        return errors
    if paid_on is not None:
        if paid_on < loan.disbursed_on:
            errors["paid_on"] = [
                _("A repayment cannot be dated before the loan's disbursement (%(day)s).")
                % {"day": _shown_date(loan.disbursed_on)}
            ]
        elif paid_on > today:
            errors["paid_on"] = [_("A repayment cannot be dated in the future (after today).")]
    if principal is not None and principal < 0:
        errors["principal"] = [_("The principal repaid cannot be negative.")]
    if interest is not None and interest < 0:
        errors["interest"] = [_("The interest paid cannot be negative.")]
    if principal is not None and interest is not None and principal == 0 and interest == 0:
        errors.setdefault("principal", []).append(
            _("Give the principal or the interest paid: both are zero.")
        )
    if principal is not None and principal > 0 and principal > unrepaid:
        errors.setdefault("principal", []).append(
            _("Only %(left)s BDT of this loan's principal is left to repay; %(given)s BDT is more than that.")
            % {"left": _bdt(max(unrepaid, ZERO)), "given": _bdt(principal)}
        )
    return errors


def add_repayment(
    *,
    user,
    loan: FinancialSupport,
    paid_on: date,
    principal: Decimal,
    interest: Decimal = ZERO,
    reference: str = "",
) -> Repayment:
    """Record a repayment of the loan (its PO's staff). Raises Forbidden, ActionRefused (a grant) or
    ValidationError naming the field."""
    _require_owner(user, loan)
    _refuse_grant(loan)
    reference = (reference or "").strip()
    with transaction.atomic():
        loan = _locked(loan)
        state = loan_state(loan)
        repayment = Repayment(
            loan=loan,
            paid_on=paid_on,
            principal=principal,
            interest=interest if interest is not None else ZERO,
            reference=reference,
            created_by=user,
        )
        errors: dict[str, list[str]] = {}
        try:
            repayment.full_clean(
                exclude=["loan", "created_by"], validate_unique=False, validate_constraints=False
            )
        except ValidationError as exc:
            errors.update(exc.message_dict)
        for field, messages in repayment_problems(
            loan,
            paid_on=paid_on if "paid_on" not in errors else None,
            principal=principal if "principal" not in errors else None,
            interest=repayment.interest if "interest" not in errors else None,
            unrepaid=state.unrepaid(loan.amount),
        ).items():
            errors.setdefault(field, []).extend(messages)
        if not errors and Repayment.objects.filter(loan=loan, paid_on=paid_on, reference=reference).exists():
            errors["reference"] = [
                _(
                    "A repayment of this loan on this day with this receipt reference is already recorded "
                    "(give the receipt's own reference to record a second one)."
                )
            ]
        if errors:
            raise ValidationError(_field_errors(errors))
        setattr(repayment, "_history_user", user)  # noqa: B010
        repayment.save()
        return repayment


def delete_repayment(*, user, repayment: Repayment) -> None:
    """Remove a repayment entered by mistake (the loan's PO's staff)."""
    _require_owner(user, repayment.loan)
    with transaction.atomic():
        _locked(repayment.loan)
        locked = Repayment.objects.filter(pk=repayment.pk).first()
        if locked is None:
            return
        setattr(locked, "_history_user", user)  # noqa: B010
        locked.delete()


def _field_errors(errors: dict[str, list[str]]) -> dict[str, list[str]]:
    """Errors on "loan" are about the loan as a whole: no form has a loan field."""
    if "loan" in errors:
        errors.setdefault(NON_FIELD_ERRORS, []).extend(errors.pop("loan"))
    return errors


# --- Write-off ----------------------------------------------------------------------------------------


def write_off_problems(
    loan: FinancialSupport,
    *,
    written_off_on: date | None,
    principal: Decimal | None,
    reason: str,
    repaid_by_date: Decimal,
    repaid: Decimal,
    today: date | None = None,
) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    today = today or timezone.localdate()
    if written_off_on is not None:
        if written_off_on < loan.disbursed_on:
            errors["written_off_on"] = [
                _("A write-off cannot be dated before the loan's disbursement (%(day)s).")
                % {"day": _shown_date(loan.disbursed_on)}
            ]
        elif written_off_on > today:
            errors["written_off_on"] = [_("A write-off cannot be dated in the future (after today).")]
    if principal is not None and "written_off_on" not in errors and written_off_on is not None:
        outstanding = loan.amount - repaid_by_date
        if principal <= 0:
            errors["principal"] = [_("The principal written off is more than zero.")]
        elif principal > outstanding:
            errors["principal"] = [
                _(
                    "On %(day)s only %(left)s BDT of this loan was outstanding; %(given)s BDT is more "
                    "than that."
                )
                % {"day": _shown_date(written_off_on), "left": _bdt(outstanding), "given": _bdt(principal)}
            ]
        elif principal > loan.amount - repaid:
            errors["principal"] = [
                _(
                    "With the repayments recorded after %(day)s, only %(left)s BDT of this loan is left "
                    "unrepaid; %(given)s BDT is more than that."
                )
                % {
                    "day": _shown_date(written_off_on),
                    "left": _bdt(loan.amount - repaid),
                    "given": _bdt(principal),
                }
            ]
    if not (reason or "").strip():
        errors["reason"] = [_("Say why the loan is written off.")]
    return errors


def record_write_off(
    *, user, loan: FinancialSupport, written_off_on: date, principal: Decimal, reason: str
) -> WriteOff:
    """Write the loan off (its PO's staff): once, for no more than was outstanding that day. Raises
    Forbidden, ActionRefused (a grant; already written off) or ValidationError naming the field."""
    _require_owner(user, loan)
    _refuse_grant(loan)
    with transaction.atomic():
        loan = _locked(loan)
        if written_off_on is not None and isinstance(written_off_on, date):
            state = loan_state(loan, by_date=written_off_on)
        else:
            state = loan_state(loan)
        if state.write_off is not None:
            raise ActionRefused(
                _("This loan was already written off on %(day)s.")
                % {"day": _shown_date(state.write_off.written_off_on)}
            )
        write_off = WriteOff(
            loan=loan,
            written_off_on=written_off_on,
            principal=principal,
            reason=(reason or "").strip(),
            recorded_by=user,
        )
        errors: dict[str, list[str]] = {}
        try:
            write_off.full_clean(
                exclude=["loan", "recorded_by"], validate_unique=False, validate_constraints=False
            )
        except ValidationError as exc:
            errors.update(exc.message_dict)
        for field, messages in write_off_problems(
            loan,
            written_off_on=written_off_on if "written_off_on" not in errors else None,
            principal=principal if "principal" not in errors else None,
            reason=write_off.reason,
            repaid_by_date=state.repaid_by_date if state.repaid_by_date is not None else state.repaid,
            repaid=state.repaid,
        ).items():
            if field not in errors:
                errors[field] = messages
        if errors:
            raise ValidationError(errors)
        setattr(write_off, "_history_user", user)  # noqa: B010
        write_off.save()
        return write_off
