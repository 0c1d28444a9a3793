"""Spreadsheet import of expenditure lines (kind "expenditures"), on the import engine of
enterprises.imports (dry run, a report naming each bad row and column, all-or-nothing commit).

Stable key: the budget line and the voucher reference (a voucher is entered once per budget line), so
re-importing a file changes nothing. A row names its sub-project by agreement number, its quarter
(e.g. 2025-Q3) and its budget line by the number the report page shows (1, 2, ... in the order the
lines were approved). The draft report of that quarter is created when missing (logged as the event
"create"), under the same rules as on the page. Rows for another PO's sub-project are refused as for
one that does not exist; rows that would change a submitted or accepted report are refused (a row
already stored as it is, unchanged, is not).
"""

from __future__ import annotations

from collections.abc import Hashable
from datetime import date
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from core import lifecycle
from core.numbers import group
from enterprises.imports.base import Column, Importer, ImportReport, Planned, RowProblems
from enterprises.imports.files import RawRow
from enterprises.validation import parse_date, parse_decimal, parse_int
from finance import spending
from finance.models import Expenditure, SpendingReport, SpendingReportStatus
from subprojects.models import BudgetLine, SubProject, SubProjectStatus

# The line's fields, as the file's columns name them.
COLUMN_OF = {
    "budget_line": "budget_line",
    "spent_on": "spent_on",
    "amount": "amount",
    "voucher_reference": "voucher_reference",
    "description": "description",
}


class ExpenditureImporter(Importer):
    kind = "expenditures"
    label = _lazy("Expenditures (spending against budget lines)")
    model = Expenditure
    with_history = True
    columns = (
        Column(
            "agreement_number",
            _lazy("Agreement number of one of your PO's sub-projects."),
            True,
            "PKSF/SMART/SP-2024/001",
            field="sub_project",
        ),
        Column(
            "quarter",
            _lazy("Calendar quarter of the spending report, e.g. 2025-Q3 (its draft is created if missing)."),
            True,
            "2025-Q3",
            field="report",
        ),
        Column(
            "budget_line",
            _lazy(
                "Number of the approved budget line, as the spending report page numbers them (1, 2, ...)."
            ),
            True,
            "1",
        ),
        Column(
            "spent_on",
            _lazy("Date of the payment, within the quarter: YYYY-MM-DD or DD/MM/YYYY."),
            True,
            "2025-08-14",
        ),
        Column("amount", _lazy("Amount paid in BDT, above zero, e.g. 250000 or 2,50,000."), True, "250000"),
        Column(
            "voucher_reference",
            _lazy("Voucher number, once per budget line. Importing it again updates that line."),
            True,
            "PV-2025-0143",
        ),
        Column(
            "description", _lazy("What was paid for (optional)."), False, "Cutting machine, first instalment"
        ),
    )
    key_fields = ("budget_line", "voucher_reference")

    def prepare(self) -> None:
        self.sub_projects = {
            sp.agreement_number.casefold(): sp
            for sp in SubProject.objects.filter(partner_organization=self.po)
        }
        by_proposal: dict[int, list[BudgetLine]] = {}
        for line in BudgetLine.objects.filter(proposal__sub_project__partner_organization=self.po).order_by(
            "pk"
        ):
            by_proposal.setdefault(line.proposal_id, []).append(line)
        self.budget_lines = {sp.pk: by_proposal.get(sp.proposal_id, []) for sp in self.sub_projects.values()}
        self.reports: dict[tuple[int, date], SpendingReport] = {
            (report.sub_project_id, report.quarter_end): report
            for report in SpendingReport.objects.filter(partner_organization=self.po)
        }

    def key_column(self) -> str:
        return "voucher_reference"

    def key(self, values: dict[str, Any]) -> Hashable | None:
        if values.get("budget_line") is None or not values.get("voucher_reference"):
            return None
        return (values["budget_line"].pk, values["voucher_reference"])

    # --- a row ----------------------------------------------------------------------------------

    def _sub_project(self, row: RawRow, problems: RowProblems) -> SubProject | None:
        text = self.required_text(row, "agreement_number", problems)
        if not text:
            return None
        found = self.sub_projects.get(text.casefold())
        if found is None:
            problems.add(
                "agreement_number",
                _("%(value)s is not a sub-project of your PO (use its agreement number).") % {"value": text},
            )
        return found

    def _spending_report(
        self, sub_project: SubProject, quarter_end: date, problems: RowProblems
    ) -> SpendingReport | None:
        """The stored report of the quarter, or the draft this import creates (once for all its rows)."""
        key = (sub_project.pk, quarter_end)
        report = self.reports.get(key)
        if report is not None:
            return report
        problem = spending.quarter_problem(sub_project, quarter_end)
        if not problem and sub_project.status != SubProjectStatus.ACTIVE:
            problem = _("%(ref)s is %(status)s: spending is reported for active sub-projects.") % {
                "ref": sub_project.agreement_number,
                "status": sub_project.get_status_display(),
            }
        if not problem and self.user is None:
            problem = _("A new spending report needs the name of the person importing it.")
        if problem:
            problems.add("quarter", problem)
            return None
        report = SpendingReport(
            sub_project=sub_project,
            partner_organization=self.po,
            quarter_end=quarter_end,
            created_by=self.user,
        )
        self.reports[key] = report
        return report

    def _budget_line(
        self, row: RawRow, sub_project: SubProject | None, problems: RowProblems
    ) -> BudgetLine | None:
        number = self.convert(
            problems, "budget_line", parse_int, row.cells.get("budget_line"), "budget_line", required=True
        )
        if number is None or sub_project is None:
            return None
        lines = self.budget_lines.get(sub_project.pk, [])
        if not 1 <= number <= len(lines):
            problems.add(
                "budget_line",
                _("%(ref)s has no budget line %(number)s (its lines are numbered 1 to %(count)s).")
                % {"ref": sub_project.agreement_number, "number": number, "count": len(lines)},
            )
            return None
        return lines[number - 1]

    def parse(self, row: RawRow, problems: RowProblems) -> dict[str, Any]:
        sub_project = self._sub_project(row, problems)
        quarter_text = self.required_text(row, "quarter", problems)
        report = None
        if quarter_text:
            try:
                quarter_end = spending.parse_quarter(quarter_text)
            except ValueError:
                problems.add(
                    "quarter",
                    _("“%(value)s” is not a quarter; write it as 2025-Q3.") % {"value": quarter_text},
                )
            else:
                if sub_project is not None:
                    report = self._spending_report(sub_project, quarter_end, problems)
        values = {
            "sub_project": sub_project,
            "report": report,
            "budget_line": self._budget_line(row, sub_project, problems),
            "spent_on": self.convert(
                problems, "spent_on", parse_date, row.cells.get("spent_on"), required=True
            ),
            "amount": self.convert(
                problems, "amount", parse_decimal, row.cells.get("amount"), "amount", required=True
            ),
            "voucher_reference": self.required_text(
                row, "voucher_reference", problems, max_length=spending.VOUCHER_MAX
            ),
            "description": self.text(row, "description"),
        }
        if report is not None and sub_project is not None:
            reported = {column for column, _message in problems.items}
            lines = {line.pk: line for line in self.budget_lines.get(sub_project.pk, [])}
            for name, message in spending.line_problems(report, values, lines).items():
                column = COLUMN_OF.get(name, "")
                if column not in reported:
                    problems.add(column, message)
        return values

    def existing_queryset(self) -> QuerySet[Expenditure]:
        return Expenditure.objects.filter(partner_organization=self.po).select_related("report")

    def new_instance(self, values: dict[str, Any]) -> Expenditure:
        return Expenditure(partner_organization=self.po, created_by=self.user, **values)

    def extra_checks(self, plan: Planned, problems: RowProblems) -> None:
        if plan.action == "unchanged":
            return
        report = plan.values["report"]
        if "report" in plan.before:
            stored = Expenditure.objects.select_related("report").get(pk=plan.instance.pk).report
            problems.add(
                "voucher_reference",
                spending.voucher_taken_message(
                    plan.values["voucher_reference"],
                    self._number(plan.values["budget_line"]),
                    stored.reference,
                ),
            )
        elif report.pk is not None and report.status != SpendingReportStatus.DRAFT:
            problems.add(
                "quarter",
                _("%(ref)s is %(state)s: its lines can no longer change.")
                % {"ref": report.reference, "state": report.get_status_display()},
            )

    def _number(self, line: BudgetLine) -> int | None:
        for lines in self.budget_lines.values():
            if line in lines:
                return lines.index(line) + 1
        return None

    def describe(self, values: dict[str, Any]) -> str:
        sub_project, line = values["sub_project"], values["budget_line"]
        quarter = spending.quarter_label(values["report"].quarter_end) if values.get("report") else "?"
        number = self._number(line) if line is not None else "?"
        amount = values.get("amount")
        shown = f"{group(amount, 2)} BDT" if amount is not None else "?"
        voucher = values["voucher_reference"]
        return f"{sub_project.agreement_number} {quarter} · line {number} · {voucher} · {shown}"

    def write(self, plans: list[Planned], report: ImportReport) -> None:
        """New reports first (each logged as the event "create"), then the lines in bulk."""
        for plan in plans:
            spending_report = plan.values["report"]
            if plan.action == "create" and spending_report.pk is None:
                spending_report.save()
                lifecycle.record(spending_report, "create", self.user, _("Created by a spreadsheet import."))
        super().write(plans, report)
