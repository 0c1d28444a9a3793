"""Spreadsheet imports of the loan portfolio, on the field-data import engine (enterprises.imports):
the same template download, dry run, report naming each bad row and column, and all-or-nothing commit.

- **repayments** (monthly, from the PO's MIS): enterprise_code, loan_disbursed_on, paid_on, principal,
  interest, reference. Stable key: the loan + paid_on + reference, so importing the same file again
  changes nothing (a row whose amounts changed updates that repayment).
- **loan-schedules**: enterprise_code, loan_disbursed_on, instalment, due_on, principal, interest. The
  rows of a loan are its whole schedule: numbered 1, 2, 3… without gaps, due dates rising, principal
  adding up to the amount lent. A loan whose schedule differs from the stored one gets the file's (its
  stored instalments are replaced), which is refused once the loan has repayments or a write-off.

A loan is named by its enterprise's ME code in the PO and its disbursement date (one loan per ME and
day). Another PO's enterprise is answered as one that does not exist; a grant is refused.

Registered with the engine by `finance.portfolio.ready()` (see `register`).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal
from itertools import pairwise
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Count, Sum
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from core.numbers import group
from enterprises.imports import kinds
from enterprises.imports.base import Column, ImportAborted, Importer, ImportReport, Planned, RowProblems
from enterprises.imports.files import RawRow
from enterprises.imports.kinds import EnterpriseCodes
from enterprises.models import FinancialSupport, SupportKind
from enterprises.validation import parse_date, parse_decimal, parse_int
from finance.loans import repayment_problems
from finance.models import Instalment, Repayment, WriteOff

ZERO = Decimal("0")
REFERENCE_MAX = 60

# Which column of a file carries a problem the loan rules name by field.
REPAYMENT_COLUMNS = {
    "loan": "loan_disbursed_on",
    "paid_on": "paid_on",
    "principal": "principal",
    "interest": "interest",
}


def _shown(day: date) -> str:
    return date_format(day, "DATE_FORMAT")


def _quiet_date(value: Any) -> date | None:
    try:
        return parse_date(value)
    except ValidationError:
        return None


class LoanLookups(EnterpriseCodes, Importer):
    """Rows name their loan by ME code and disbursement date; a chunk's loans in one query, and what
    the rules need of each loan (principal repaid, write-off, schedule) once per loan and import."""

    def reset_loans(self) -> None:
        self.known_loans: dict[int, FinancialSupport] = {}
        self.stored_repaid: dict[int, Decimal] = {}
        self.stored_write_off: dict[int, Decimal] = {}
        self.stored_instalments: dict[int, int] = {}
        self.with_repayments: set[int] = set()

    def lookup_chunk(self, rows: list[RawRow]) -> None:
        super().lookup_chunk(rows)
        by_id = {me.pk: me for me in self.enterprises.values()}
        days = {_quiet_date(row.cells.get("loan_disbursed_on")) for row in rows} - {None}
        self.loans: dict[tuple[int, date], FinancialSupport] = {}
        self.grants: set[tuple[int, date]] = set()
        for support in FinancialSupport.objects.filter(enterprise_id__in=list(by_id), disbursed_on__in=days):
            support.enterprise = by_id[support.enterprise_id]
            if support.kind == SupportKind.LOAN:
                self.loans[(support.enterprise_id, support.disbursed_on)] = support
            else:
                self.grants.add((support.enterprise_id, support.disbursed_on))
        # Only loans not met before in this import: the stored state of a loan written by an earlier
        # chunk (on commit) would otherwise count the file's own rows twice.
        new = [loan.pk for loan in self.loans.values() if loan.pk not in self.known_loans]
        for loan in self.loans.values():
            self.known_loans.setdefault(loan.pk, loan)
        if not new:
            return
        for loan_id, total in (
            Repayment.objects.filter(loan_id__in=new)
            .order_by()
            .values("loan")
            .annotate(total=Sum("principal"))
        ).values_list("loan", "total"):
            self.stored_repaid[loan_id] = total
            self.with_repayments.add(loan_id)
        self.stored_write_off.update(
            WriteOff.objects.filter(loan_id__in=new).values_list("loan_id", "principal")
        )
        self.stored_instalments.update(
            Instalment.objects.filter(loan_id__in=new)
            .order_by()
            .values("loan")
            .annotate(n=Count("pk"))
            .values_list("loan", "n")
        )

    def loan(self, row: RawRow, problems: RowProblems) -> FinancialSupport | None:
        me = self.enterprise(row, problems)
        day = self.convert(
            problems, "loan_disbursed_on", parse_date, row.cells.get("loan_disbursed_on"), required=True
        )
        if me is None or day is None:
            return None
        loan = self.loans.get((me.pk, day))
        if loan is None:
            if (me.pk, day) in self.grants:
                message = _("The support of %(me)s disbursed on %(day)s is a grant: a grant is not repaid.")
            else:
                message = _("Your PO's enterprise %(me)s has no loan disbursed on %(day)s.")
            problems.add("loan_disbursed_on", message % {"me": me.po_code, "day": _shown(day)})
        return loan

    def money(self, row: RawRow, problems: RowProblems, column: str, *, required: bool) -> Decimal | None:
        return self.convert(problems, column, parse_decimal, row.cells.get(column), column, required=required)


# --- Repayments -------------------------------------------------------------------------------------------


class RepaymentImporter(LoanLookups):
    kind = "repayments"
    label = _lazy("Loan repayments")
    model = Repayment
    with_history = True
    columns = (
        Column(
            "enterprise_code", _lazy("The enterprise's ME code in your PO."), True, "ME-0001", field="loan"
        ),
        Column(
            "loan_disbursed_on",
            _lazy("The disbursement date of the loan repaid (it identifies the enterprise's loan)."),
            True,
            "2024-09-01",
            field="loan",
        ),
        Column("paid_on", _lazy("The day it was paid: YYYY-MM-DD or DD/MM/YYYY."), True, "2024-11-05"),
        Column("principal", _lazy("Principal repaid, in BDT (0 if only interest was paid)."), True, "12500"),
        Column("interest", _lazy("Interest and fees paid, in BDT (empty means 0)."), False, "1250"),
        Column(
            "reference",
            _lazy("Receipt reference in your MIS: a second payment on the same day needs its own."),
            False,
            "RC-2024-11-0457",
        ),
    )
    key_fields = ("loan", "paid_on", "reference")

    def prepare(self) -> None:
        self.reset_loans()
        # Principal this file adds to each loan (rows already checked), across chunks.
        self.file_principal: dict[int, Decimal] = defaultdict(lambda: ZERO)

    def parse(self, row: RawRow, problems: RowProblems) -> dict[str, Any]:
        reference: str | None = self.text(row, "reference")
        if reference is not None and len(reference) > REFERENCE_MAX:
            problems.add(
                "reference",
                _("At most %(max)s characters (this one has %(length)s).")
                % {"max": REFERENCE_MAX, "length": len(reference)},
            )
            reference = None  # never cut a key short
        return {
            "loan": self.loan(row, problems),
            "paid_on": self.convert(problems, "paid_on", parse_date, row.cells.get("paid_on"), required=True),
            "principal": self.money(row, problems, "principal", required=True),
            "interest": self.money(row, problems, "interest", required=False) or ZERO,
            "reference": reference,
        }

    def existing_queryset(self):
        return Repayment.objects.filter(loan__enterprise__partner_organization=self.po)

    def new_instance(self, values: dict[str, Any]) -> Repayment:
        return Repayment(created_by=self.user, **values)

    def extra_checks(self, plan: Planned, problems: RowProblems) -> None:
        if plan.action == "unchanged":
            return
        loan, principal = plan.values["loan"], plan.values["principal"]
        stored = (
            plan.before.get("principal", getattr(plan.instance, "principal", ZERO))
            if plan.action == "update"
            else ZERO
        )
        unrepaid = (
            loan.amount
            - self.stored_write_off.get(loan.pk, ZERO)
            - self.stored_repaid.get(loan.pk, ZERO)
            - self.file_principal[loan.pk]
            + stored
        )
        errors = repayment_problems(
            loan,
            paid_on=plan.values["paid_on"],
            principal=principal,
            interest=plan.values["interest"],
            unrepaid=unrepaid,
        )
        for field, messages in errors.items():
            for message in messages:
                problems.add(REPAYMENT_COLUMNS.get(field, field), message)
        if not errors:
            self.file_principal[loan.pk] += principal - stored

    def describe(self, values: dict[str, Any]) -> str:
        loan, principal = values["loan"], values.get("principal")
        amount = f"{group(principal, 2)} BDT" if principal is not None else "—"
        return f"{loan.enterprise.po_code} · {loan.disbursed_on} · {values.get('paid_on') or '—'} · {amount}"


# --- Schedules --------------------------------------------------------------------------------------------


class LoanScheduleImporter(LoanLookups):
    kind = "loan-schedules"
    label = _lazy("Loan schedules")
    model = Instalment
    columns = (
        Column(
            "enterprise_code", _lazy("The enterprise's ME code in your PO."), True, "ME-0001", field="loan"
        ),
        Column(
            "loan_disbursed_on",
            _lazy("The disbursement date of the loan (it identifies the enterprise's loan)."),
            True,
            "2024-09-01",
            field="loan",
        ),
        Column(
            "instalment",
            _lazy("Instalment number: 1, 2, 3… The rows of a loan are its whole schedule."),
            True,
            "1",
            field="number",
        ),
        Column("due_on", _lazy("The day the instalment falls due."), True, "2024-10-01"),
        Column(
            "principal",
            _lazy("Principal due on it, in BDT; a loan's instalments add up to the amount lent."),
            True,
            "12500",
        ),
        Column("interest", _lazy("Interest due on it, in BDT (empty means 0)."), False, "1250"),
    )
    key_fields = ("loan", "number")

    def prepare(self) -> None:
        self.reset_loans()
        # Every checked row of the file, by loan: (number, row, due_on, principal, action).
        self.file_rows: dict[int, list[tuple[int, int, date, Decimal, str]]] = defaultdict(list)
        self.row_loans: dict[int, int] = {}
        self.replaced: set[int] = set()
        # `schedules` (loan → principal due to date by number) and `changed` (loans whose schedule the
        # file replaces) come from the whole file's check and survive the reload before writing.
        if not hasattr(self, "schedules"):
            self.schedules: dict[int, dict[int, Decimal]] = {}
            self.changed: set[int] = set()

    def parse(self, row: RawRow, problems: RowProblems) -> dict[str, Any]:
        loan = self.loan(row, problems)
        if loan is not None:
            self.row_loans[row.number] = loan.pk
        number = self.convert(
            problems, "instalment", parse_int, row.cells.get("instalment"), "instalment", required=True
        )
        if number is not None and number < 1:
            problems.add("instalment", _("Instalments are numbered from 1."))
            number = None
        return {
            "loan": loan,
            "number": number,
            "due_on": self.convert(problems, "due_on", parse_date, row.cells.get("due_on"), required=True),
            "principal": self.money(row, problems, "principal", required=True),
            "interest": self.money(row, problems, "interest", required=False) or ZERO,
        }

    def existing_queryset(self):
        return Instalment.objects.filter(loan__enterprise__partner_organization=self.po)

    def new_instance(self, values: dict[str, Any]) -> Instalment:
        # The principal due to date needs the loan's whole schedule: set when the file is written.
        return Instalment(principal_due_to_date=ZERO, **values)

    def _locked_reason(self, loan_id: int) -> str | None:
        if loan_id in self.stored_write_off:
            return _("This loan is written off: its schedule can no longer change.")
        if loan_id in self.with_repayments:
            return _("This loan already has repayments: its schedule can no longer be replaced.")
        return None

    def extra_checks(self, plan: Planned, problems: RowProblems) -> None:
        loan, due_on = plan.values["loan"], plan.values["due_on"]
        if due_on <= loan.disbursed_on:
            problems.add(
                "due_on",
                _("An instalment falls due after the loan's disbursement (%(day)s).")
                % {"day": _shown(loan.disbursed_on)},
            )
        if plan.action != "unchanged":
            reason = self._locked_reason(loan.pk)
            if reason:
                problems.add("loan_disbursed_on", reason)
        if problems:
            return
        self.file_rows[loan.pk].append(
            (plan.values["number"], plan.number, due_on, plan.values["principal"], plan.action)
        )

    def describe(self, values: dict[str, Any]) -> str:
        loan = values["loan"]
        return f"{loan.enterprise.po_code} · {loan.disbursed_on} · #{values['number']}"

    # --- the whole file ---------------------------------------------------------------------------

    def check(self, open_file, file_format, progress=None, keep=None) -> ImportReport:
        """Each row, then each loan's schedule as a whole (numbering, dates, total)."""
        self.schedules, self.changed = {}, set()
        report = super().check(open_file, file_format, progress, keep=keep)
        if report.rows == 0 or any(error.row == 1 for error in report.errors):
            return report  # the file or its header was refused: its rows were not read
        with_errors = {self.row_loans.get(error.row) for error in report.errors}
        for loan_id, rows in self.file_rows.items():
            if loan_id in with_errors:
                continue  # its rows' own problems first
            self._check_schedule(self.known_loans[loan_id], sorted(rows), report)
        report.errors.sort(key=lambda error: error.row)
        return report

    def _check_schedule(
        self, loan: FinancialSupport, rows: list[tuple[int, int, date, Decimal, str]], report: ImportReport
    ) -> None:
        numbers = [number for number, *_rest in rows]
        first_row = min(row for _number, row, *_rest in rows)
        missing = sorted(set(range(1, max(numbers) + 1)) - set(numbers))
        if missing:
            report.add_error(
                first_row,
                "instalment",
                _(
                    "The instalments of the loan %(loan)s are numbered 1, 2, 3… without gaps: "
                    "%(missing)s missing."
                )
                % {"loan": self._named(loan), "missing": ", ".join(str(n) for n in missing[:10])},
            )
            return
        for (_n1, _r1, earlier, *_a), (_n2, row, later, *_b) in pairwise(rows):
            if later <= earlier:
                report.add_error(
                    row,
                    "due_on",
                    _("Each instalment falls due after the one before it (%(day)s).")
                    % {"day": _shown(earlier)},
                )
                return
        total = sum((principal for _n, _r, _d, principal, _a in rows), ZERO)
        if total != loan.amount:
            report.add_error(
                max(row for _number, row, *_rest in rows),
                "principal",
                _(
                    "The principal of the instalments of the loan %(loan)s adds up to %(total)s BDT, "
                    "not the %(amount)s BDT lent."
                )
                % {"loan": self._named(loan), "total": group(total, 2), "amount": group(loan.amount, 2)},
            )
            return
        changed = any(action != "unchanged" for *_rest, action in rows) or self.stored_instalments.get(
            loan.pk, 0
        ) != len(rows)
        if not changed:
            return
        reason = self._locked_reason(loan.pk)
        if reason:
            report.add_error(first_row, "loan_disbursed_on", reason)
            return
        if all(action == "unchanged" for *_rest, action in rows):
            report.updated += 1  # only stored instalments beyond the file's last go
        self.changed.add(loan.pk)
        due_so_far, schedule = ZERO, {}
        for number, _row, _day, principal, _action in rows:
            due_so_far += principal
            schedule[number] = due_so_far
        self.schedules[loan.pk] = schedule

    def _named(self, loan: FinancialSupport) -> str:
        return f"{loan.enterprise.po_code} ({_shown(loan.disbursed_on)})"

    def write(self, plans: list[Planned], report: ImportReport) -> None:
        """A changed loan's stored schedule goes (when the file first names the loan) and every row of
        the file for it is written, with its principal due to date; an unchanged loan is left alone."""
        fresh = {plan.values["loan"].pk for plan in plans} & self.changed - self.replaced
        if fresh:
            Instalment.objects.filter(loan_id__in=fresh).delete()
            self.replaced |= fresh
        created = []
        for plan in plans:
            loan_id = plan.values["loan"].pk
            if loan_id not in self.changed:
                continue
            schedule = self.schedules.get(loan_id, {})
            if plan.values["number"] not in schedule:
                raise ImportAborted
            values = {key: plan.values[key] for key in ("number", "due_on", "principal", "interest")}
            created.append(
                Instalment(loan_id=loan_id, principal_due_to_date=schedule[plan.values["number"]], **values)
            )
        Instalment.objects.bulk_create(created, batch_size=1000)


def register() -> None:
    """Offer the portfolio's imports on the import pages, the API and the management commands."""
    for importer in (RepaymentImporter, LoanScheduleImporter):
        kinds.IMPORTERS[importer.kind] = importer


__all__ = ["LoanScheduleImporter", "RepaymentImporter", "register"]
