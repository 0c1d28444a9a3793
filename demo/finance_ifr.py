"""Demo funds received and interim financial reports (issue 14), for `seed_demo` (after the releases,
spending and loans seeders).

- **Receipts**: at the start of every quarter in which PKSF transfers money to the POs, the World Bank
  (a withdrawal into the designated account) and PKSF (its counterpart allocation) put in what the
  quarter's transfers need beyond the balance, plus a cushion, rounded up to 5 million BDT; in the
  current quarter they also cover the releases still in progress. So the account never goes
  negative. Without any transferred release yet, an advance of the first tranche's share of the
  budgets is received at the first sub-project's start (and the seeder says so).
- **Reports**: one for every quarter from the first in which money moved to the last ended quarter:
  the older ones sent to the Bank, the one before the last finalised, the last a draft (with its
  forecast prefilled from the budget). Each was prepared by the finance officer (finance), reviewed
  by the PMU (pmu), finalised and sent about five weeks after its quarter.
- **A correction**: the report of the third-last quarter left out a PKSF counterpart allocation
  recorded late; version 2 adds it and was sent in its turn.

History is written through the engine (core.lifecycle.replay_history) with past dates. Figures are
frozen from the data as they are when seeded. The finalised report's files are stored; the older ones'
are rendered from their frozen figures at their first download. Safe to run again: a quarter that has
a report is left as it is, receipts are keyed by their reference.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import ROUND_CEILING, Decimal

from django.conf import settings
from django.db.models import Min, Sum
from django.utils import timezone

from core import lifecycle
from core.models import User
from finance import ifr
from finance.models import (
    ACTIVE_RELEASE_STATUSES,
    FinancialReport,
    ForecastLine,
    FundReceipt,
    FundSource,
    Release,
    ReleaseStatus,
    ReportStatus,
)
from subprojects.models import SubProject

CUSHION = Decimal("10000000")  # kept in the account beyond the quarter's transfers
ROUND_TO = Decimal("5000000")
LATE_RECEIPT = Decimal("7500000")
LATE_REFERENCE = "PKSF-CP-LATE-{label}"
FUNDS = (("world_bank", FundSource.WORLD_BANK, "amount_world_bank"), ("pksf", FundSource.PKSF, "amount_pksf"))


def _at(day: date, hour: int = 11) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour)))


def _rounded_up(amount: Decimal) -> Decimal:
    return (amount / ROUND_TO).to_integral_value(rounding=ROUND_CEILING) * ROUND_TO


def _receipt(source: str, reference: str, day: date, amount: Decimal, description: str, user: User) -> bool:
    _receipt_row, created = FundReceipt.objects.update_or_create(
        source=source,
        reference=reference,
        defaults={"received_on": day, "amount": amount, "description": description, "recorded_by": user},
    )
    return created


def _plan_receipts(finance: User, today: date) -> tuple[int, str]:
    """The receipts that keep the designated account above nil (see the module's docstring)."""
    transferred = Release.objects.filter(status=ReleaseStatus.TRANSFERRED, transferred_on__lte=today)
    if not transferred.exists():
        return _advance_only(finance, today)
    created = 0
    first = transferred.aggregate(first=Min("transferred_on"))["first"]
    current = ifr.quarter_end_of(today)
    balance = {fund: Decimal("0") for fund, _source, _column in FUNDS}
    for quarter_end in ifr.quarters_between(first, current):
        start = max(ifr.quarter_start(quarter_end), ifr.programme_start())
        in_quarter = transferred.filter(transferred_on__gte=start, transferred_on__lte=quarter_end)
        sums = in_quarter.aggregate(world_bank=Sum("amount_world_bank"), pksf=Sum("amount_pksf"))
        if quarter_end == current:
            pending = Release.objects.filter(status__in=ACTIVE_RELEASE_STATUSES).exclude(
                status=ReleaseStatus.TRANSFERRED
            )
            waiting = pending.aggregate(world_bank=Sum("amount_world_bank"), pksf=Sum("amount_pksf"))
            sums = {key: (sums[key] or 0) + (waiting[key] or 0) for key in sums}
        # Received some ten days before the quarter's first transfer (in the quarter, not after today).
        first_transfer = in_quarter.aggregate(day=Min("transferred_on"))["day"]
        day = max(start, first_transfer - timedelta(days=10)) if first_transfer else start + timedelta(days=2)
        day = min(day, today)
        label = ifr.quarter_label(quarter_end)
        for fund, source, _column in FUNDS:
            need = Decimal(sums[fund] or 0)
            if need == 0 and balance[fund] > 0:
                continue
            shortfall = need + CUSHION - balance[fund]
            if shortfall <= 0:
                balance[fund] -= need
                continue
            amount = _rounded_up(shortfall)
            if source == FundSource.WORLD_BANK:
                reference, text = (
                    f"WA-{label}",
                    f"Withdrawal application for {label}: advance to the designated account",
                )
            else:
                reference, text = f"PKSF-CP-{label}", f"PKSF counterpart allocation for {label}"
            created += _receipt(source, reference, day, amount, text, finance)
            balance[fund] += amount - need
    return created, ""


def _advance_only(finance: User, today: date) -> tuple[int, str]:
    """No transfer yet: the first tranche's share of the budgets, received at the first start."""
    first_start = SubProject.objects.aggregate(first=Min("start_date"))["first"]
    if first_start is None or first_start > today:
        return 0, " (no sub-project under way: no receipt)"
    share = Decimal(settings.FINANCE_DEFAULT_TRANCHES[0] if settings.FINANCE_DEFAULT_TRANCHES else 30) / 100
    budgets = SubProject.objects.aggregate(world_bank=Sum("budget_world_bank"), pksf=Sum("budget_pksf"))
    created = 0
    label = ifr.quarter_label(ifr.quarter_end_of(first_start))
    created += _receipt(
        FundSource.WORLD_BANK,
        f"WA-{label}",
        first_start,
        _rounded_up(Decimal(budgets["world_bank"] or 0) * share),
        "Initial advance to the designated account",
        finance,
    )
    created += _receipt(
        FundSource.PKSF,
        f"PKSF-CP-{label}",
        first_start,
        _rounded_up(Decimal(budgets["pksf"] or 0) * share),
        "PKSF counterpart allocation: first tranche",
        finance,
    )
    return created, " (no transferred release yet: seeded the advances only)"


def _new_report(
    quarter_end: date, version: int, finance: User, notes: str, supersedes=None
) -> FinancialReport:
    report = FinancialReport.objects.create(
        quarter_end=quarter_end, version=version, prepared_by=finance, notes=notes, supersedes=supersedes
    )
    if supersedes is None:
        ifr.prefill_forecast(report)
    else:
        ForecastLine.objects.bulk_create(
            [
                ForecastLine(
                    report=report,
                    quarter_end=line.quarter_end,
                    category=line.category,
                    financier=line.financier,
                    amount=line.amount,
                )
                for line in ForecastLine.objects.filter(report=supersedes)
            ]
        )
    return report


def _take(
    report: FinancialReport,
    stage: str,
    finance: User,
    pmu: User,
    first_step: tuple,
    now: datetime,
    files: bool,
) -> FinancialReport:
    """Write the report's history up to `stage` (draft, finalised or sent): reviewed ten days after the
    first step, finalised eight days later, sent a week after that (steps still in the future are left
    out)."""
    base = timezone.localdate(first_step[4])
    steps = [first_step]
    plan = [
        ("review", ReportStatus.DRAFT, ReportStatus.REVIEWED, pmu, _at(base + timedelta(days=10), 15), ""),
        (
            "finalise",
            ReportStatus.REVIEWED,
            ReportStatus.FINALISED,
            finance,
            _at(base + timedelta(days=18), 12),
            "",
        ),
        (
            "send",
            ReportStatus.FINALISED,
            ReportStatus.SENT,
            finance,
            _at(base + timedelta(days=25), 16),
            "Sent to the World Bank's task team leader by email.",
        ),
    ]
    wanted = {ReportStatus.DRAFT: 0, ReportStatus.FINALISED: 2, ReportStatus.SENT: 3}[stage]
    steps += [step for step in plan[:wanted] if step[4] < now]
    if any(step[0] == "finalise" for step in steps):
        finalised_at = next(step[4] for step in steps if step[0] == "finalise")
        report.figures = ifr.figures_for(report)
        report.finalised_at = finalised_at
        if files:
            report.status = ReportStatus.FINALISED  # as the files state it
            ifr.store_files(report, report.figures)
            report.status = ReportStatus.DRAFT
    if any(step[0] == "send" for step in steps):
        report.sent_on = timezone.localdate(next(step[4] for step in steps if step[0] == "send"))
    lifecycle.replay_history(report, steps)
    FinancialReport.objects.filter(pk=report.pk).update(created_at=first_step[4])
    return report


def seed(stdout) -> None:
    users = {u.username: u for u in User.objects.filter(username__in=["pmu", "finance"])}
    if "pmu" not in users or "finance" not in users:
        stdout.write("  IFRs: no demo pmu/finance logins, nothing written")
        return
    finance, pmu = users["finance"], users["pmu"]
    today = timezone.localdate()
    now = timezone.now()
    receipts, caveat = _plan_receipts(finance, today)

    first = ifr.first_reporting_quarter()
    last = ifr.last_ended_quarter_end(today)
    quarters = ifr.quarters_between(first, last) if first is not None and first <= last else []
    corrected = quarters[-3] if len(quarters) >= 3 else None
    written = 0
    for index, quarter_end in enumerate(quarters):
        if ifr.reports_of(quarter_end).exists():
            continue
        label = ifr.quarter_label(quarter_end)
        if index == len(quarters) - 1:
            stage = ReportStatus.DRAFT
        elif index == len(quarters) - 2:
            stage = ReportStatus.FINALISED
        else:
            stage = ReportStatus.SENT
        created_at = min(_at(quarter_end + timedelta(days=10), 10), now - timedelta(minutes=5))
        report = _new_report(
            quarter_end,
            1,
            finance,
            "Prepared from the receipts, releases to POs and spending recorded in the portal.",
        )
        _take(
            report,
            stage,
            finance,
            pmu,
            ("create", ReportStatus.DRAFT, ReportStatus.DRAFT, finance, created_at, ""),
            now,
            files=stage == ReportStatus.FINALISED,
        )
        written += 1
        if quarter_end != corrected or report.status != ReportStatus.SENT:
            continue
        # Version 2: a PKSF counterpart allocation of the quarter was recorded after version 1 was sent.
        corrected_at = _at(quarter_end + timedelta(days=50), 10)
        late_day = quarter_end - timedelta(days=20)
        receipts += _receipt(
            FundSource.PKSF,
            LATE_REFERENCE.format(label=label),
            late_day,
            LATE_RECEIPT,
            "PKSF counterpart allocation recorded after the first version of the IFR was sent",
            finance,
        )
        second = _new_report(
            quarter_end,
            2,
            finance,
            f"Version 2 adds the PKSF counterpart allocation of {LATE_RECEIPT:,.0f} BDT received on "
            f"{late_day.isoformat()}, recorded after version 1 was sent.",
            supersedes=report,
        )
        lifecycle.record(report, "correct", finance, f"Corrected by {second.reference}.", at=corrected_at)
        _take(
            second,
            ReportStatus.SENT,
            finance,
            pmu,
            (
                "correct",
                ReportStatus.DRAFT,
                ReportStatus.DRAFT,
                finance,
                corrected_at,
                f"Corrects {report.reference}.",
            ),
            now,
            files=False,
        )
        written += 1
    stdout.write(
        f"  IFRs: {receipts} fund receipts recorded{caveat}; {written} reports written "
        f"({FinancialReport.objects.count()} in all)"
    )
