"""Demo quarterly spending reports (issue 14), for `seed_demo`; runs after demo/finance_releases.py.

For each active sub-project with money transferred to its PO, one report per calendar quarter from
its start to the last complete quarter, with lines against its approved budget lines and voucher
numbers. What it spends on World Bank and PKSF lines by the end of each quarter stays below what had
been released by then; the PO's own lines are spent at the pace of the work plan. The story:

- the first sub-project (its second tranche transferred) spends steadily and is on track;
- the second spent more on its common service facility than its approved line (the one deliberate
  budget line overrun, which flags it "overrun", within what was released);
- the third spends slowly: visibly lagging behind its time; its latest report is still a draft,
  past its due day (overdue);
- the fourth submitted its latest report late.
All other reports were submitted on time and accepted by PKSF finance; the first two sub-projects'
latest reports await the PMU's acceptance.

(With the releases demo, only the first sub-project has more than its advance released after about
two years, so the others' spending necessarily trails their time too: their second tranches are in
the release pipeline.)

History is written through the engine (core.lifecycle.replay_history), dated. Safe to run again: a
sub-project that has spending reports is left as it is. Without transferred releases nothing is
seeded.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from core.lifecycle import replay_history
from core.models import User
from core.roles import GROUP_NAMES, Role
from finance import spending
from finance.models import Expenditure, Release, SpendingReport, SpendingReportStatus
from subprojects.models import BudgetCategory, Financier, SubProject, SubProjectStatus

DRAFT, SUBMITTED, ACCEPTED = (
    SpendingReportStatus.DRAFT,
    SpendingReportStatus.SUBMITTED,
    SpendingReportStatus.ACCEPTED,
)
TAKA = Decimal("1")
# Per story (by the sub-project's rank among those with releases): the share of what is released and
# not yet spent that is spent each quarter, and how its latest report stands.
STORIES: list[dict[str, Any]] = [
    {"pace": Decimal("0.45"), "latest": SUBMITTED},
    {"pace": Decimal("0.15"), "latest": SUBMITTED, "overrun": BudgetCategory.CSF},
    {"pace": Decimal("0.10"), "latest": DRAFT, "po_pace": Decimal("0.5")},
    {"pace": Decimal("0.40"), "latest": SUBMITTED, "late": True},
]
# Never spend more than this share of what was released by a quarter's end.
CAP = Decimal("0.95")
WHAT: dict[str, str] = {
    BudgetCategory.ME_FINANCE: "Loan disbursements to MEs (batch {n})",
    BudgetCategory.CSF: "CSF civil works and equipment, bill {n}",
    BudgetCategory.TRAINING: "Training sessions and materials, round {n}",
    BudgetCategory.TECHNICAL_ASSISTANCE: "RECP assessment consultants, invoice {n}",
    BudgetCategory.MONITORING: "KPI meters and laboratory tests, lot {n}",
    BudgetCategory.MANAGEMENT: "Sub-project staff salaries, month {n}",
}


def _at(day: date, hour: int = 11) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour)))


def _po_staff(sub_project: SubProject) -> User | None:
    return (
        User.objects.filter(
            partner_organization_id=sub_project.partner_organization_id,
            groups__name=GROUP_NAMES[Role.PO_STAFF],
            is_active=True,
        )
        .order_by("pk")
        .first()
    )


def _released_by(sub_project: SubProject, day: date) -> dict[str, Decimal]:
    sums = (
        Release.objects.transferred(day)
        .filter(sub_project=sub_project)
        .aggregate(wb=Sum("amount_world_bank"), pksf=Sum("amount_pksf"))
    )
    return {Financier.WORLD_BANK: sums["wb"] or Decimal(0), Financier.PKSF: sums["pksf"] or Decimal(0)}


def _split(amount: Decimal, weights: list[Decimal]) -> list[Decimal]:
    total = sum(weights)
    if not total or amount <= 0:
        return [Decimal(0)] * len(weights)
    return [(amount * weight / total).quantize(TAKA, rounding=ROUND_DOWN) for weight in weights]


def _plan(
    sub_project: SubProject, story: dict[str, Any], quarters: list[date], first_day: date, today: date
) -> list[dict]:
    """Per quarter, the amount per budget line (in the line's order)."""
    numbered = spending.numbered_budget_lines(sub_project)
    lines = [line for _n, line in numbered]
    spent = {line.pk: Decimal(0) for line in lines}
    duration = Decimal((sub_project.end_date - sub_project.start_date).days or 1)
    plans = []
    for quarter_end in quarters:
        released = _released_by(sub_project, min(quarter_end, today))
        amounts = {line.pk: Decimal(0) for line in lines}
        for financier in (Financier.WORLD_BANK, Financier.PKSF):
            funded = [line for line in lines if line.financier == financier]
            used = sum((spent[line.pk] for line in funded), Decimal(0))
            available = released[financier] * CAP - used
            overrun_line = next((line for line in funded if line.category == story.get("overrun")), None)
            if overrun_line is not None:
                # The deliberate overrun: the CSF's works cost more than its line, built over four quarters
                # and within the money released.
                target = overrun_line.amount * Decimal("1.04")
                extra = min(available, target - spent[overrun_line.pk], target / 4)
                if extra > 0:
                    amounts[overrun_line.pk] += extra.quantize(TAKA, rounding=ROUND_DOWN)
                    available -= extra
                funded = [line for line in funded if line is not overrun_line]
            share = available * story["pace"]
            # Each line takes its share of the money released, never above what remains of it.
            weights = [max(line.amount - spent[line.pk], Decimal(0)) for line in funded]
            for line, amount in zip(funded, _split(share, weights), strict=True):
                amounts[line.pk] += amount
        begun = max(spending.quarter_start(quarter_end), first_day)
        days = Decimal((min(quarter_end, today) - begun).days + 1)
        for line in lines:
            if line.financier == Financier.PO:
                amounts[line.pk] += (
                    line.amount * days / duration * story.get("po_pace", Decimal("0.9"))
                ).quantize(TAKA, rounding=ROUND_DOWN)
        for pk, amount in amounts.items():
            spent[pk] += amount
        plans.append(
            {"quarter_end": quarter_end, "amounts": amounts, "numbers": {ln.pk: n for n, ln in numbered}}
        )
    return plans


def _lines(report: SpendingReport, plan: dict, first_day: date, today: date, po_number: int) -> int:
    start = max(spending.quarter_start(report.quarter_end), first_day)
    end = min(report.quarter_end, today - timedelta(days=1))
    span = max((end - start).days, 0)
    lines = {line.pk: line for _n, line in spending.numbered_budget_lines(report.sub_project)}
    written = 0
    label = spending.quarter_label(report.quarter_end).replace("-", "")
    for pk, amount in plan["amounts"].items():
        if amount <= 0:
            continue
        line = lines[pk]
        number = plan["numbers"][pk]
        parts = 3 if amount >= 300_000 else 1
        pieces = _split(amount, [Decimal(1)] * parts)
        pieces[-1] += amount - sum(pieces)
        for index, piece in enumerate(pieces):
            if piece <= 0:
                continue
            Expenditure.objects.create(
                report=report,
                partner_organization_id=report.partner_organization_id,
                sub_project_id=report.sub_project_id,
                budget_line=line,
                spent_on=start + timedelta(days=span * (index + 1) // (parts + 1)),
                amount=piece,
                voucher_reference=f"PV-{po_number:03d}-{label}-{number}{index + 1}",
                description=WHAT.get(line.category, "{n}").format(n=index + 1),
                created_by=report.created_by,
            )
            written += 1
    return written


def _history(report: SpendingReport, staff: User, finance: User, stage: str, late: bool, today: date) -> None:
    due = spending.due_on(report.quarter_end)
    created = report.quarter_end + timedelta(days=5)
    submitted = due + timedelta(days=11) if late else due - timedelta(days=9)
    submitted = min(submitted, today - timedelta(days=1))
    steps = [("create", DRAFT, DRAFT, staff, _at(min(created, submitted), 10), "")]
    if stage in (SUBMITTED, ACCEPTED):
        report.submitted_at = _at(submitted, 12)
        steps.append(("submit", DRAFT, SUBMITTED, staff, report.submitted_at, ""))
    if stage == ACCEPTED:
        accepted = min(submitted + timedelta(days=12), today - timedelta(days=1))
        steps.append(
            (
                "accept",
                SUBMITTED,
                ACCEPTED,
                finance,
                _at(accepted, 15),
                "Vouchers checked against the ledger.",
            )
        )
    replay_history(report, steps)


def seed(stdout) -> None:
    finance = User.objects.filter(username="finance").first()
    if finance is None:
        stdout.write("  Spending: no demo finance login, no spending report written")
        return
    today = timezone.localdate()
    last = spending.last_complete_quarter_end(today)
    funded = list(
        SubProject.objects.filter(status=SubProjectStatus.ACTIVE, releases__status="transferred")
        .distinct()
        .order_by("agreement_number")
    )
    if not funded:
        stdout.write("  Spending: no transferred release yet, no spending report written")
        return
    reports = lines = 0
    for rank, sub_project in enumerate(funded):
        if SpendingReport.objects.filter(sub_project=sub_project).exists():
            continue
        staff = _po_staff(sub_project)
        first_transfer = (
            Release.objects.transferred().filter(sub_project=sub_project).order_by("transferred_on").first()
        )
        if staff is None or first_transfer is None or first_transfer.transferred_on > last:
            continue
        story = STORIES[rank % len(STORIES)]
        first_day = first_transfer.transferred_on
        quarters = spending.quarters_between(first_day, last)
        plans = _plan(sub_project, story, quarters, first_day, today)
        code = sub_project.partner_organization.code.split("-")[-1]
        po_number = int(code) if code.isdigit() else rank + 1
        with transaction.atomic():
            for index, plan in enumerate(plans):
                latest = index == len(plans) - 1
                report = SpendingReport.objects.create(
                    sub_project=sub_project,
                    partner_organization_id=sub_project.partner_organization_id,
                    quarter_end=plan["quarter_end"],
                    created_by=staff,
                )
                lines += _lines(report, plan, first_day, today, po_number)
                stage = str(story["latest"]) if latest else ACCEPTED
                late = latest and bool(story.get("late", False))
                _history(report, staff, finance, stage, late=late, today=today)
                reports += 1
    stdout.write(
        f"  Spending: {reports} quarterly reports with {lines} expenditure lines "
        f"({SpendingReport.objects.filter(status=ACCEPTED).count()} accepted, "
        f"{SpendingReport.objects.filter(status=SUBMITTED).count()} submitted, "
        f"{SpendingReport.objects.filter(status=DRAFT).count()} draft)"
    )
