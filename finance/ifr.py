"""Interim financial reports (IFRs) to the World Bank, and the funds received they start from (SPEC 8,
issue 14). Business rules live here; pages, the API, the demo and the tests call them.

Rules, as the pages, the files and the notes sheet of each report state them:

- **Periods**: the calendar quarter; the fiscal year to date (Bangladesh's fiscal year starts on
  1 July, FISCAL_YEAR_START_MONTH); cumulative from the programme start (settings.PROGRAMME_START).
  No period starts before the programme start, so quarter ⊆ year to date ⊆ cumulative.
- **Sources of funds**, by financier: World Bank and PKSF receipts (FundReceipt, by `received_on`);
  the PO contribution is the reported spending on PO-financed budget lines.
- **Uses of funds**: reported spending (lines of submitted or accepted spending reports, by
  `spent_on`), by budget category and by the financier of the budget line. Spending counts whatever
  the sub-project's status is now (money spent before a cancellation was spent).
- **Budget**: the approved budget lines of the sub-projects that are active, suspended or completed
  (a cancelled sub-project's budget is no longer a plan). The budget of a period is each line's
  amount pro-rated by the days of the sub-project's duration (start to end date, both included)
  that fall in the period; the cumulative budget is the share of the duration elapsed at the period
  end. Each sub-project's pro-rated amount is rounded to the paisa, then summed. Variance = budget minus
  actual; its percentage is of the budget (none when the budget is nil).
- **Releases to POs**: transferred releases, by `transferred_on`; per PO, released in the quarter, the
  year to date and cumulatively.
- **Designated account**: opening balance (receipts less releases before the period), receipts,
  releases to POs, closing balance; for the World Bank and PKSF funds and in total.
- **Forecast** of the next two quarters by category and financier: the report's forecast lines,
  prefilled at creation with the pro-rated budget of those quarters, editable while the report is a
  draft or reviewed.
- **USD** at the rate of the quarter's last day (finance.rates.bdt_per_usd).
- **Lifecycle**: a PMU finance officer creates the report of an ended quarter (event "create"; one
  report per quarter, later versions only by correction); "review" by a PMU officer or a finance
  officer of the PMU other than the preparer; "send_back" (comment required); "finalise" (finance)
  freezes the figures and stores the XLSX and PDF; "send" (finance) records the day it went to the
  Bank. A finalised or sent report is never edited: `start_correction` makes the next version, a
  draft that supersedes it. Draft and reviewed reports show live figures, the others frozen ones.
- **Due**: settings.IFR_DUE_DAYS after the quarter's end; a quarter is overdue when that day has
  passed and no version of its report was sent. Quarters are due from the first quarter in which
  money moved (a receipt or a transfer to a PO).
- **Receipts** dated in a quarter whose current report is finalised or sent cannot be added, changed
  or deleted: correct the report first.
"""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import partial
from typing import Any

from celery import shared_task
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import F, Q, Sum
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from core import lifecycle
from core.errors import ActionRefused, Forbidden
from core.integrity import refusing_races
from core.quarters import (  # noqa: F401 - the module's own names for its callers
    is_quarter_end,
    next_quarter_end,
    previous_quarter_end,
    quarter_end_of,
    quarter_label,
    quarter_start,
    quarters_between,
)
from core.quarters import last_complete_quarter_end as last_ended_quarter_end
from core.roles import GROUP_NAMES, Role
from core.waiting import WaitingItem
from finance.models import (
    Expenditure,
    FinancialReport,
    ForecastLine,
    FundReceipt,
    FundSource,
    Release,
    ReleaseStatus,
    ReportStatus,
    is_pmu_finance,
    sees_all_money,
)
from finance.models.common import belongs_to_no_po as common_belongs_to_no_po
from finance.progress import percent
from subprojects.models import BudgetCategory, BudgetLine, Financier, SubProjectStatus

# Bangladesh's fiscal year runs from 1 July to 30 June.
FISCAL_YEAR_START_MONTH = 7
PERIODS = ("quarter", "ytd", "cumulative")
# The sub-projects whose approved budget is a plan still (a cancelled one's is not).
BUDGETED_STATUSES = (SubProjectStatus.ACTIVE, SubProjectStatus.SUSPENDED, SubProjectStatus.COMPLETED)
LOCKED_STATUSES = (ReportStatus.FINALISED, ReportStatus.SENT)
EDITABLE_STATUSES = (ReportStatus.DRAFT, ReportStatus.REVIEWED)
FORECAST_QUARTERS = 2
# The shape of `figures` (bumped if it ever changes, so that old frozen figures still render).
FIGURES_FORMAT = 1
CENT = Decimal("0.01")
TENTH = Decimal("0.1")
ZERO = Decimal("0")
CONTENT_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}
PER_KIND_LIMIT = 100


# --- Who ------------------------------------------------------------------------------------------


def may_read(user) -> bool:
    """The PMU's side: PMU officers, the World Bank, PKSF approvers and the PMU's finance officers.
    A PO (its own finance officer included) never sees a whole-programme report."""
    return sees_all_money(user)


def may_prepare(user) -> bool:
    """A finance officer of the PMU (belonging to no PO): records receipts, prepares and corrects IFRs."""
    return is_pmu_finance(user)


def ifr_reviewer(user, report) -> bool:
    """WHO: someone of the PMU's side (no PO) other than the report's preparer."""
    return user.partner_organization_id is None and user.pk != report.prepared_by_id


# WHO: belonging to no PO (a PO's own finance officer never acts on the programme's reports).
ifr_pmu_side = common_belongs_to_no_po


# --- Dates ----------------------------------------------------------------------------------------


def fiscal_year_start(day: date) -> date:
    year = day.year if day.month >= FISCAL_YEAR_START_MONTH else day.year - 1
    return date(year, FISCAL_YEAR_START_MONTH, 1)


def fiscal_year_label(day: date) -> str:
    """E.g. "FY2025-26" for the fiscal year from 1 July 2025."""
    start = fiscal_year_start(day)
    return f"FY{start.year}-{(start.year + 1) % 100:02d}"


def programme_start() -> date:
    value = settings.PROGRAMME_START
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def first_quarter_end() -> date:
    return quarter_end_of(programme_start())


def due_on(quarter_end: date) -> date:
    """The day the quarter's IFR is due to the Bank."""
    return quarter_end + timedelta(days=settings.IFR_DUE_DAYS)


def due_at(quarter_end: date) -> datetime:
    """The end of the due day, local time (a deadline for "waiting on you")."""
    return timezone.make_aware(datetime.combine(due_on(quarter_end) + timedelta(days=1), time.min))


def periods(quarter_end: date) -> dict[str, tuple[date, date]]:
    """The quarter, the fiscal year to date and the cumulative period, none before the programme start."""
    start = programme_start()
    return {
        "quarter": (max(quarter_start(quarter_end), start), quarter_end),
        "ytd": (max(fiscal_year_start(quarter_end), start), quarter_end),
        "cumulative": (start, quarter_end),
    }


def forecast_quarter_ends(quarter_end: date) -> list[date]:
    quarters, quarter = [], quarter_end
    for _index in range(FORECAST_QUARTERS):
        quarter = next_quarter_end(quarter)
        quarters.append(quarter)
    return quarters


# --- Rate of exchange -----------------------------------------------------------------------------


def bdt_per_usd(on: date) -> Decimal:
    """BDT per USD on a day, from the portal's rate table (finance.rates: the latest rate valid from
    that day or before; the earliest one for a day before any)."""
    from finance import rates

    return rates.bdt_per_usd(on)


def in_usd(amount: Decimal, rate: Decimal) -> Decimal:
    return (amount / rate).quantize(CENT, ROUND_HALF_UP) if rate else ZERO


# --- The figures ----------------------------------------------------------------------------------


def _money(value: Decimal | None) -> str:
    return str((value or ZERO).quantize(CENT, ROUND_HALF_UP))


def _percent(part: Decimal, whole: Decimal) -> str | None:
    share = percent(part, whole)
    return None if share is None else str(share)


def _in_periods(field_name: str, spans: dict[str, tuple[date, date]]) -> dict[str, Q]:
    return {
        name: Q(**{f"{field_name}__gte": start, f"{field_name}__lte": end})
        for name, (start, end) in spans.items()
    }


def _per_period(total, spans, field_name: str) -> dict[str, Sum]:
    """One conditional sum per period (one grouped query answers all three)."""
    return {name: Sum(total, filter=q) for name, q in _in_periods(field_name, spans).items()}


def _zeros() -> dict[str, Decimal]:
    return dict.fromkeys(PERIODS, ZERO)


def _as_text(values: dict[str, Decimal]) -> dict[str, str]:
    return {name: _money(value) for name, value in values.items()}


def _add(into: dict[str, Decimal], values: dict[str, Any]) -> None:
    for name in into:
        into[name] += values.get(name) or ZERO


def _spending(spans) -> list[dict]:
    """Reported spending per (category, financier of the budget line), per period: one grouped query."""
    start, end = spans["cumulative"]
    return list(
        Expenditure.objects.reported()
        .filter(spent_on__gte=start, spent_on__lte=end)
        .values("budget_line__category", "budget_line__financier")
        .annotate(**_per_period("amount", spans, "spent_on"))
        .order_by()
    )


def _receipts(spans) -> dict[str, dict[str, Decimal]]:
    """Receipts per source: per period and to date (before the period: to date less the period)."""
    end = spans["cumulative"][1]
    rows = (
        FundReceipt.objects.filter(received_on__lte=end)
        .values("source")
        .annotate(to_date=Sum("amount"), **_per_period("amount", spans, "received_on"))
        .order_by()
    )
    found = {row["source"]: row for row in rows}
    return {
        source: {name: (found.get(source, {}).get(name) or ZERO) for name in (*PERIODS, "to_date")}
        for source in FundSource.values
    }


def _transferred(end: date):
    return Release.objects.filter(status=ReleaseStatus.TRANSFERRED, transferred_on__lte=end)


def _released(spans) -> dict[str, dict[str, Decimal]]:
    """Transferred releases per fund (World Bank and PKSF shares): per period and to date."""
    end = spans["cumulative"][1]
    sums: dict[str, Any] = {}
    for fund, column in (("world_bank", "amount_world_bank"), ("pksf", "amount_pksf")):
        sums[f"{fund}__to_date"] = Sum(column)
        for name, q in _in_periods("transferred_on", spans).items():
            sums[f"{fund}__{name}"] = Sum(column, filter=q)
    row = _transferred(end).order_by().aggregate(**sums)
    return {
        fund: {name: row[f"{fund}__{name}"] or ZERO for name in (*PERIODS, "to_date")}
        for fund in ("world_bank", "pksf")
    }


def _releases_by_po(spans) -> list[dict]:
    end = spans["cumulative"][1]
    both = F("amount_world_bank") + F("amount_pksf")
    cumulative = _in_periods("transferred_on", spans)["cumulative"]
    return list(
        _transferred(end)
        .values("partner_organization_id", "partner_organization__code", "partner_organization__name")
        .annotate(
            **_per_period(both, spans, "transferred_on"),
            cumulative_world_bank=Sum("amount_world_bank", filter=cumulative),
            cumulative_pksf=Sum("amount_pksf", filter=cumulative),
        )
        .order_by("partner_organization__code")
    )


def _releases_of_quarter(spans) -> list[dict]:
    start, end = spans["quarter"]
    releases = (
        Release.objects.filter(
            status=ReleaseStatus.TRANSFERRED, transferred_on__gte=start, transferred_on__lte=end
        )
        .select_related("partner_organization", "sub_project", "tranche")
        .order_by("transferred_on", "reference")
    )
    return [
        {
            "transferred_on": release.transferred_on.isoformat(),
            "reference": release.reference,
            "transfer_reference": release.transfer_reference,
            "po_code": release.partner_organization.code,
            "po_name": release.partner_organization.name,
            "sub_project": release.sub_project.agreement_number,
            "tranche": release.tranche.number,
            "tranche_title": release.tranche.title,
            "world_bank": _money(release.amount_world_bank),
            "pksf": _money(release.amount_pksf),
            "total": _money(release.amount_world_bank + release.amount_pksf),
        }
        for release in releases
    ]


def budget_rows() -> list[dict]:
    """The approved budget per sub-project, category and financier (one grouped query), with the
    sub-project's dates, for the budgeted sub-projects (active, suspended or completed)."""
    return list(
        BudgetLine.objects.filter(proposal__sub_project__status__in=BUDGETED_STATUSES)
        .values(
            "proposal__sub_project",
            "proposal__sub_project__start_date",
            "proposal__sub_project__end_date",
            "category",
            "financier",
        )
        .annotate(amount=Sum("amount"))
        .order_by()
    )


def prorated(amount: Decimal, start: date, end: date, first: date, last: date) -> Decimal:
    """The part of `amount`, spread evenly over the days from `start` to `end` (both included), that
    falls from `first` to `last`; rounded to the paisa. A sub-project whose end is before its start
    counts as one day at its start."""
    end = max(end, start)
    total = (end - start).days + 1
    low, high = max(start, first), min(end, last)
    days = (high - low).days + 1 if high >= low else 0
    return (amount * days / total).quantize(CENT, ROUND_HALF_UP)


def _budget(rows: list[dict], spans) -> dict[tuple[str, str], dict[str, Decimal]]:
    """The pro-rated budget per (category, financier): approved, and per period."""
    end = spans["cumulative"][1]
    windows = {
        "quarter": spans["quarter"],
        "ytd": spans["ytd"],
        # Cumulative: the share of the duration elapsed at the period end.
        "cumulative": (date.min, end),
    }
    budget: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(
        lambda: dict.fromkeys(("approved", *PERIODS), ZERO)
    )
    for row in rows:
        amount = row["amount"] or ZERO
        start, finish = row["proposal__sub_project__start_date"], row["proposal__sub_project__end_date"]
        line = budget[(row["category"], row["financier"])]
        line["approved"] += amount
        for name, (first, last) in windows.items():
            line[name] += prorated(amount, start, finish, first, last)
    return budget


def _forecast_budget(rows: list[dict], quarter_end: date) -> dict[str, Any]:
    """The pro-rated budget of the next two quarters by category and financier (the forecast's prefill)."""
    quarters = forecast_quarter_ends(quarter_end)
    lines: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(
        lambda: {q.isoformat(): ZERO for q in quarters}
    )
    for row in rows:
        line = lines[(row["category"], row["financier"])]
        for quarter in quarters:
            line[quarter.isoformat()] += prorated(
                row["amount"] or ZERO,
                row["proposal__sub_project__start_date"],
                row["proposal__sub_project__end_date"],
                quarter_start(quarter),
                quarter,
            )
    return {
        "quarters": [q.isoformat() for q in quarters],
        "lines": [
            {"category": category, "financier": financier, **_as_text(values)}
            for (category, financier), values in sorted(lines.items(), key=_line_order)
        ],
    }


def _line_order(item) -> tuple[int, int]:
    (category, financier), _values = item
    return BudgetCategory.values.index(category), Financier.values.index(financier)


def _variance(budget: Decimal, actual: Decimal) -> dict[str, str | None]:
    return {
        "budget": _money(budget),
        "actual": _money(actual),
        "variance": _money(budget - actual),
        "variance_percent": _percent(budget - actual, budget),
        "actual_percent": _percent(actual, budget),
    }


def compute(quarter_end: date) -> dict[str, Any]:
    """The IFR of the quarter ending `quarter_end`, from the transactions as they are now: JSON (amounts
    as strings of BDT with paisa, percentages with one decimal). Set-based: a handful of grouped
    queries whatever the number of transactions; the budget is pro-rated per sub-project in Python
    over its grouped rows."""
    if not is_quarter_end(quarter_end):
        raise ValueError(f"{quarter_end} is not the last day of a calendar quarter")
    spans = periods(quarter_end)
    rate = bdt_per_usd(quarter_end)

    # Uses: spending by category and financier.
    lines: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(_zeros)
    for row in _spending(spans):
        _add(lines[(row["budget_line__category"], row["budget_line__financier"])], row)
    by_category = {category: _zeros() for category in BudgetCategory.values}
    by_financier = {financier: _zeros() for financier in Financier.values}
    uses_total = _zeros()
    for (category, financier), values in lines.items():
        _add(by_category[category], values)
        _add(by_financier[financier], values)
        _add(uses_total, values)

    # Sources: receipts by source, and the PO contribution (spending on PO lines).
    receipts = _receipts(spans)
    sources = {
        "world_bank": {name: receipts[FundSource.WORLD_BANK][name] for name in PERIODS},
        "pksf": {name: receipts[FundSource.PKSF][name] for name in PERIODS},
        "po": dict(by_financier[Financier.PO]),
    }
    sources_total = _zeros()
    for values in sources.values():
        _add(sources_total, values)
    net = {name: sources_total[name] - uses_total[name] for name in PERIODS}

    # Budget and variance.
    rows = budget_rows()
    budget = _budget(rows, spans)
    budget_by_category = {
        category: dict.fromkeys(("approved", *PERIODS), ZERO) for category in BudgetCategory.values
    }
    budget_by_financier = {
        financier: dict.fromkeys(("approved", *PERIODS), ZERO) for financier in Financier.values
    }
    budget_total = dict.fromkeys(("approved", *PERIODS), ZERO)
    for (category, financier), values in budget.items():
        for target in (budget_by_category[category], budget_by_financier[financier], budget_total):
            for name in target:
                target[name] += values[name]

    # Releases to POs and the designated account.
    released = _released(spans)
    account: dict[str, dict[str, dict[str, str]]] = {}
    account_numbers: dict[str, dict[str, dict[str, Decimal]]] = {}
    for fund, source in (("world_bank", FundSource.WORLD_BANK), ("pksf", FundSource.PKSF)):
        account_numbers[fund] = {}
        for name in PERIODS:
            received, paid = receipts[source], released[fund]
            opening = (received["to_date"] - received[name]) - (paid["to_date"] - paid[name])
            account_numbers[fund][name] = {
                "opening": opening,
                "receipts": received[name],
                "releases": paid[name],
                "closing": opening + received[name] - paid[name],
            }
    account_numbers["total"] = {
        name: {
            key: account_numbers["world_bank"][name][key] + account_numbers["pksf"][name][key]
            for key in ("opening", "receipts", "releases", "closing")
        }
        for name in PERIODS
    }
    for fund, fund_numbers in account_numbers.items():
        account[fund] = {name: _as_text(numbers) for name, numbers in fund_numbers.items()}

    by_po = _releases_by_po(spans)
    by_po_total = dict.fromkeys((*PERIODS, "cumulative_world_bank", "cumulative_pksf"), ZERO)
    for row in by_po:
        _add(by_po_total, row)
    quarter_released = {
        "world_bank": released["world_bank"]["quarter"],
        "pksf": released["pksf"]["quarter"],
    }

    def usd(values: dict[str, Decimal]) -> dict[str, str]:
        return {name: _money(in_usd(value, rate)) for name, value in values.items()}

    start, end = spans["quarter"]
    return {
        "format": FIGURES_FORMAT,
        "quarter_end": quarter_end.isoformat(),
        "quarter": quarter_label(quarter_end),
        "fiscal_year": fiscal_year_label(quarter_end),
        "due_on": due_on(quarter_end).isoformat(),
        "computed_at": timezone.now().isoformat(),
        "periods": {name: {"start": s.isoformat(), "end": e.isoformat()} for name, (s, e) in spans.items()},
        "rate": {"bdt_per_usd": str(rate), "on": quarter_end.isoformat()},
        "sources": {
            **{key: _as_text(values) for key, values in sources.items()},
            "total": _as_text(sources_total),
        },
        "uses": {
            "by_category": {key: _as_text(values) for key, values in by_category.items()},
            "by_financier": {key: _as_text(values) for key, values in by_financier.items()},
            "total": _as_text(uses_total),
            "lines": [
                {"category": category, "financier": financier, **_as_text(values)}
                for (category, financier), values in sorted(lines.items(), key=_line_order)
            ],
        },
        "net": _as_text(net),
        "budget": {
            "sub_projects": len({row["proposal__sub_project"] for row in rows}),
            "by_category": {key: _as_text(values) for key, values in budget_by_category.items()},
            "by_financier": {key: _as_text(values) for key, values in budget_by_financier.items()},
            "total": _as_text(budget_total),
            "lines": [
                {"category": category, "financier": financier, **_as_text(values)}
                for (category, financier), values in sorted(budget.items(), key=_line_order)
            ],
        },
        "variance": {
            "by_category": {
                key: {
                    name: _variance(budget_by_category[key][name], by_category[key][name]) for name in PERIODS
                }
                for key in BudgetCategory.values
            },
            "by_financier": {
                key: {
                    name: _variance(budget_by_financier[key][name], by_financier[key][name])
                    for name in PERIODS
                }
                for key in Financier.values
            },
            "total": {name: _variance(budget_total[name], uses_total[name]) for name in PERIODS},
        },
        "releases": {
            "start": start.isoformat(),
            "end": end.isoformat(),
            "rows": _releases_of_quarter(spans),
            "total": {
                "world_bank": _money(quarter_released["world_bank"]),
                "pksf": _money(quarter_released["pksf"]),
                "total": _money(quarter_released["world_bank"] + quarter_released["pksf"]),
            },
            "by_po": [
                {
                    "po_code": row["partner_organization__code"],
                    "po_name": row["partner_organization__name"],
                    **_as_text({key: row[key] or ZERO for key in by_po_total}),
                }
                for row in by_po
            ],
            "by_po_total": _as_text(by_po_total),
        },
        "account": account,
        "forecast_budget": _forecast_budget(rows, quarter_end),
        "usd": {
            "sources": {**{key: usd(values) for key, values in sources.items()}, "total": usd(sources_total)},
            "uses": {
                "by_category": {key: usd(values) for key, values in by_category.items()},
                "by_financier": {key: usd(values) for key, values in by_financier.items()},
                "total": usd(uses_total),
            },
            "net": usd(net),
            "account": {
                fund: {name: usd(numbers) for name, numbers in values.items()}
                for fund, values in account_numbers.items()
            },
        },
    }


def forecast_figures(report: FinancialReport) -> dict[str, Any]:
    """The report's forecast lines, with their totals by category, financier and quarter."""
    quarters = [q.isoformat() for q in forecast_quarter_ends(report.quarter_end)]
    lines = list(
        ForecastLine.objects.filter(report=report).values("quarter_end", "category", "financier", "amount")
    )
    grid: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(lambda: dict.fromkeys(quarters, ZERO))
    for line in lines:
        key = line["quarter_end"].isoformat()
        if key in quarters:
            grid[(line["category"], line["financier"])][key] += line["amount"]
    by_category = {c: dict.fromkeys(quarters, ZERO) for c in BudgetCategory.values}
    by_financier = {f: dict.fromkeys(quarters, ZERO) for f in Financier.values}
    total = dict.fromkeys(quarters, ZERO)
    for (category, financier), values in grid.items():
        for target in (by_category[category], by_financier[financier], total):
            for key in quarters:
                target[key] += values[key]
    return {
        "quarters": quarters,
        "lines": [
            {"category": category, "financier": financier, **_as_text(values)}
            for (category, financier), values in sorted(grid.items(), key=_line_order)
        ],
        "by_category": {key: _as_text(values) for key, values in by_category.items()},
        "by_financier": {key: _as_text(values) for key, values in by_financier.items()},
        "total": _as_text(total),
    }


def figures_for(report: FinancialReport) -> dict[str, Any]:
    """What the report shows: its frozen figures once finalised, else the live ones with its forecast."""
    if report.is_locked and report.figures:
        return report.figures
    figures = compute(report.quarter_end)
    figures["forecast"] = forecast_figures(report)
    return figures


# --- Tables: what the page, the XLSX and the PDF show ----------------------------------------------


@dataclass
class Cell:
    value: Any
    kind: str = "money"  # "money", "percent", "text"

    @property
    def number(self) -> Decimal | None:
        if self.kind == "text" or self.value in (None, ""):
            return None
        try:
            return Decimal(str(self.value))
        except InvalidOperation:
            return None

    @property
    def display(self) -> str:
        number = self.number
        if self.kind == "text":
            return "" if self.value is None else str(self.value)
        if number is None:
            return "—"
        if self.kind == "percent":
            return f"{formats.number_format(number.quantize(TENTH, ROUND_HALF_UP), 1, use_l10n=True)} %"
        whole = number.quantize(Decimal("1"), ROUND_HALF_UP)
        return formats.number_format(whole, 0, use_l10n=True, force_grouping=True)


@dataclass
class Row:
    label: str
    cells: list[Cell] = field(default_factory=list)
    kind: str = "line"  # "line", "total", "heading"


@dataclass
class Table:
    key: str
    title: str
    columns: list[str]
    rows: list[Row]
    note: str = ""


@dataclass
class Sheet:
    key: str
    title: str
    tables: list[Table]


def period_names() -> dict[str, str]:
    return {"quarter": _("Quarter"), "ytd": _("Year to date"), "cumulative": _("Cumulative")}


def _source_names() -> dict[str, str]:
    return {
        "world_bank": str(FundSource.WORLD_BANK.label),
        "pksf": str(FundSource.PKSF.label),
        "po": str(Financier.PO.label),
    }


def _money_row(label: str, values: dict, usd: dict | None = None, kind: str = "line") -> Row:
    cells = [Cell(values.get(name)) for name in PERIODS]
    if usd is not None:
        cells += [Cell(usd.get(name)) for name in PERIODS]
    return Row(label, cells, kind)


def _bdt_usd_columns(first: str) -> list[str]:
    names = period_names()
    return [
        first,
        *(_("%(period)s (BDT)") % {"period": names[p]} for p in PERIODS),
        *(_("%(period)s (USD)") % {"period": names[p]} for p in PERIODS),
    ]


def sheets(figures: dict[str, Any]) -> list[Sheet]:
    """The report's tables, sheet by sheet, with labels in the reader's language (the figures keep
    codes only)."""
    categories = dict(BudgetCategory.choices)
    financiers = dict(Financier.choices)
    sources = _source_names()
    names = period_names()
    usd = figures["usd"]

    flows = [Row(_("Sources of funds"), kind="heading")]
    for key in ("world_bank", "pksf", "po"):
        flows.append(_money_row(sources[key], figures["sources"][key], usd["sources"][key]))
    flows.append(
        _money_row(_("Total sources"), figures["sources"]["total"], usd["sources"]["total"], "total")
    )
    flows.append(Row(_("Uses of funds (reported spending), by financier"), kind="heading"))
    for key in Financier.values:
        flows.append(
            _money_row(
                str(financiers[key]), figures["uses"]["by_financier"][key], usd["uses"]["by_financier"][key]
            )
        )
    flows.append(_money_row(_("Total uses"), figures["uses"]["total"], usd["uses"]["total"], "total"))
    flows.append(_money_row(_("Sources less uses"), figures["net"], usd["net"], "total"))

    account_rows: list[Row] = []
    fund_names = {
        "world_bank": str(FundSource.WORLD_BANK.label),
        "pksf": str(FundSource.PKSF.label),
        "total": _("Total"),
    }
    item_names = {
        "opening": _("Opening balance"),
        "receipts": _("Receipts"),
        "releases": _("Releases to POs"),
        "closing": _("Closing balance"),
    }
    for fund in ("world_bank", "pksf", "total"):
        account_rows.append(Row(fund_names[fund], kind="heading"))
        for item, item_label in item_names.items():
            account_rows.append(
                Row(
                    f"{fund_names[fund]}: {item_label}",
                    [Cell(figures["account"][fund][p][item]) for p in PERIODS]
                    + [Cell(usd["account"][fund][p][item]) for p in PERIODS],
                    "total" if item == "closing" else "line",
                )
            )

    by_category = [
        _money_row(str(categories[key]), figures["uses"]["by_category"][key], usd["uses"]["by_category"][key])
        for key in BudgetCategory.values
    ]
    by_category.append(_money_row(_("Total uses"), figures["uses"]["total"], usd["uses"]["total"], "total"))
    line_rows = [
        Row(
            str(categories[line["category"]]),
            [Cell(str(financiers[line["financier"]]), "text"), *(Cell(line[p]) for p in PERIODS)],
        )
        for line in figures["uses"]["lines"]
    ]
    line_rows.append(
        Row(
            _("Total uses"),
            [Cell("", "text"), *(Cell(figures["uses"]["total"][p]) for p in PERIODS)],
            "total",
        )
    )

    variance_columns = [_("Budget line"), _("Approved budget")]
    for p in PERIODS:
        variance_columns += [
            _("%(period)s: budget") % {"period": names[p]},
            _("%(period)s: actual") % {"period": names[p]},
            _("%(period)s: variance") % {"period": names[p]},
            _("%(period)s: variance %%") % {"period": names[p]},
        ]

    def variance_row(label: str, approved: str, variance: dict, kind: str = "line") -> Row:
        cells = [Cell(approved)]
        for p in PERIODS:
            v = variance[p]
            cells += [
                Cell(v["budget"]),
                Cell(v["actual"]),
                Cell(v["variance"]),
                Cell(v["variance_percent"], "percent"),
            ]
        return Row(label, cells, kind)

    budget = figures["budget"]
    variance = figures["variance"]
    variance_by_category = [
        variance_row(
            str(categories[key]), budget["by_category"][key]["approved"], variance["by_category"][key]
        )
        for key in BudgetCategory.values
    ]
    variance_by_category.append(
        variance_row(_("Total"), budget["total"]["approved"], variance["total"], "total")
    )
    variance_by_financier = [
        variance_row(
            str(financiers[key]), budget["by_financier"][key]["approved"], variance["by_financier"][key]
        )
        for key in Financier.values
    ]
    variance_by_financier.append(
        variance_row(_("Total"), budget["total"]["approved"], variance["total"], "total")
    )

    forecast_tables = _forecast_tables(figures, categories, financiers)

    releases = figures["releases"]
    release_rows = [
        Row(
            row["transferred_on"],
            [
                Cell(f"{row['po_code']} {row['po_name']}", "text"),
                Cell(row["sub_project"], "text"),
                Cell(f"T{row['tranche']}: {row['tranche_title']}", "text"),
                Cell(row["reference"], "text"),
                Cell(row["transfer_reference"], "text"),
                Cell(row["world_bank"]),
                Cell(row["pksf"]),
                Cell(row["total"]),
            ],
        )
        for row in releases["rows"]
    ]
    release_rows.append(
        Row(
            _("Total released in the quarter"),
            [Cell("", "text")] * 5
            + [
                Cell(releases["total"]["world_bank"]),
                Cell(releases["total"]["pksf"]),
                Cell(releases["total"]["total"]),
            ],
            "total",
        )
    )
    po_rows = [
        Row(
            f"{row['po_code']} {row['po_name']}",
            [Cell(row[p]) for p in PERIODS]
            + [Cell(row["cumulative_world_bank"]), Cell(row["cumulative_pksf"])],
        )
        for row in releases["by_po"]
    ]
    total = releases["by_po_total"]
    po_rows.append(
        Row(
            _("Total"),
            [Cell(total[p]) for p in PERIODS]
            + [Cell(total["cumulative_world_bank"]), Cell(total["cumulative_pksf"])],
            "total",
        )
    )

    return [
        Sheet(
            "sources",
            _("Sources and uses"),
            [
                Table("sources_uses", _("Sources and uses of funds"), _bdt_usd_columns(_("Item")), flows),
                Table(
                    "account",
                    _("Designated account"),
                    _bdt_usd_columns(_("Item")),
                    account_rows,
                    _("Opening balance: receipts less releases to POs before the period."),
                ),
            ],
        ),
        Sheet(
            "categories",
            _("Uses by category"),
            [
                Table(
                    "uses_by_category",
                    _("Uses of funds by budget category"),
                    _bdt_usd_columns(_("Category")),
                    by_category,
                ),
                Table(
                    "uses_lines",
                    _("Uses of funds by category and financier (BDT)"),
                    [_("Category"), _("Financier"), *(names[p] for p in PERIODS)],
                    line_rows,
                ),
            ],
        ),
        Sheet(
            "variance",
            _("Budget variance"),
            [
                Table(
                    "variance_by_category",
                    _("Budget and actual by category (BDT)"),
                    variance_columns,
                    variance_by_category,
                    _(
                        "Budget: approved lines of active, suspended and completed sub-projects, pro-rated "
                        "by time elapsed."
                    ),
                ),
                Table(
                    "variance_by_financier",
                    _("Budget and actual by financier (BDT)"),
                    variance_columns,
                    variance_by_financier,
                ),
            ],
        ),
        Sheet("forecast", _("Forecast"), forecast_tables),
        Sheet(
            "releases",
            _("Releases to POs"),
            [
                Table(
                    "releases",
                    _("Releases to POs transferred in the quarter (BDT)"),
                    [
                        _("Transferred on"),
                        _("PO"),
                        _("Sub-project"),
                        _("Tranche"),
                        _("Release"),
                        _("Transfer reference"),
                        str(Financier.WORLD_BANK.label),
                        str(Financier.PKSF.label),
                        _("Total"),
                    ],
                    release_rows,
                ),
                Table(
                    "releases_by_po",
                    _("Released to each PO (BDT)"),
                    [
                        _("PO"),
                        *(names[p] for p in PERIODS),
                        _("Cumulative: World Bank"),
                        _("Cumulative: PKSF"),
                    ],
                    po_rows,
                ),
            ],
        ),
    ]


def _forecast_tables(figures: dict, categories: dict, financiers: dict) -> list[Table]:
    forecast = figures.get("forecast") or {"quarters": figures["forecast_budget"]["quarters"], "lines": []}
    quarters = forecast["quarters"]
    planned = {(line["category"], line["financier"]): line for line in figures["forecast_budget"]["lines"]}
    entered = {(line["category"], line["financier"]): line for line in forecast["lines"]}
    keys = sorted(
        set(planned) | set(entered),
        key=lambda k: (BudgetCategory.values.index(k[0]), Financier.values.index(k[1])),
    )
    labels = [quarter_label(date.fromisoformat(q)) for q in quarters]
    rows = []
    totals = {"forecast": dict.fromkeys(quarters, ZERO), "budget": dict.fromkeys(quarters, ZERO)}
    for key in keys:
        forecast_line, budget_line = entered.get(key, {}), planned.get(key, {})
        cells = [Cell(str(financiers[key[1]]), "text")]
        cells += [Cell(forecast_line.get(q, "0.00")) for q in quarters]
        cells += [Cell(budget_line.get(q, "0.00")) for q in quarters]
        for q in quarters:
            totals["forecast"][q] += Decimal(forecast_line.get(q, "0"))
            totals["budget"][q] += Decimal(budget_line.get(q, "0"))
        rows.append(Row(str(categories[key[0]]), cells))
    rows.append(
        Row(
            _("Total"),
            [Cell("", "text")]
            + [Cell(_money(totals["forecast"][q])) for q in quarters]
            + [Cell(_money(totals["budget"][q])) for q in quarters],
            "total",
        )
    )
    columns = [
        _("Category"),
        _("Financier"),
        *(_("Forecast %(quarter)s") % {"quarter": label} for label in labels),
        *(_("Budget %(quarter)s (pro-rated)") % {"quarter": label} for label in labels),
    ]
    return [Table("forecast", _("Forecast of spending in the next two quarters (BDT)"), columns, rows)]


def notes(report: FinancialReport, figures: dict[str, Any]) -> list[tuple[str, str]]:
    """The notes sheet: the report's own notes, its state, and how every figure is counted."""
    spans = figures["periods"]
    draft = not report.is_locked
    state = (
        _("DRAFT: live figures, not finalised; they change as transactions are recorded.")
        if draft
        else _("Finalised on %(when)s: the figures are frozen.")
        % {
            "when": formats.date_format(timezone.localtime(report.finalised_at), "DATETIME_FORMAT")
            if report.finalised_at
            else "—"
        }
    )
    if report.sent_on:
        state += " " + _("Sent to the Bank on %(day)s.") % {"day": report.sent_on.isoformat()}
    rows = [
        (_("Report"), f"{report.reference} · {report.get_status_display()}"),
        (_("State"), state),
        (
            _("Periods"),
            _(
                "Quarter %(q1)s to %(q2)s; fiscal year to date (the fiscal year starts on 1 July) %(y1)s to "
                "%(y2)s; cumulative from the programme start %(c1)s to %(c2)s."
            )
            % {
                "q1": spans["quarter"]["start"],
                "q2": spans["quarter"]["end"],
                "y1": spans["ytd"]["start"],
                "y2": spans["ytd"]["end"],
                "c1": spans["cumulative"]["start"],
                "c2": spans["cumulative"]["end"],
            },
        ),
        (
            _("Rate of exchange"),
            _("%(rate)s BDT per USD, the rate of %(day)s.")
            % {"rate": figures["rate"]["bdt_per_usd"], "day": figures["rate"]["on"]},
        ),
        (
            _("Sources of funds"),
            _(
                "World Bank withdrawals and PKSF counterpart allocations received (by date received); the PO "
                "contribution is the reported spending on PO-financed budget lines."
            ),
        ),
        (
            _("Uses of funds"),
            _(
                "Reported spending: lines of submitted or accepted spending reports, by the date spent, by "
                "the budget category and the financier of the budget line."
            ),
        ),
        (
            _("Budget"),
            _(
                "Approved budget lines of the active, suspended and completed sub-projects (%(count)s; "
                "cancelled ones are left out). Each line is spread evenly over its sub-project's days from "
                "start to end date; a period's budget is the part in the period, the cumulative budget the "
                "part elapsed at its end. Variance = budget minus actual; its percentage is of the budget."
            )
            % {"count": figures["budget"]["sub_projects"]},
        ),
        (
            _("Designated account"),
            _(
                "Receipts less transferred releases to POs (World Bank and PKSF shares); the opening balance "
                "is what was received less what was released before the period."
            ),
        ),
        (
            _("Forecast"),
            _("Entered by the PMU's finance officer; prefilled with the pro-rated budget of those quarters."),
        ),
        (_("Due to the Bank"), _("By %(day)s.") % {"day": figures["due_on"]}),
    ]
    corrected = report.supersedes if report.supersedes_id else None
    if corrected is not None:
        rows.insert(1, (_("Correction"), _("This version corrects %(ref)s.") % {"ref": corrected.reference}))
    if report.notes.strip():
        rows.insert(0, (_("Notes to the report"), report.notes.strip()))
    return rows


# --- Files ----------------------------------------------------------------------------------------


def download_name(report: FinancialReport, kind: str) -> str:
    """E.g. "IFR-2025-Q3-v1.xlsx" (a draft's "IFR-2025-Q3-v1-DRAFT.xlsx")."""
    suffix = "" if report.is_locked else "-DRAFT"
    return f"IFR-{quarter_label(report.quarter_end)}-v{report.version}{suffix}.{kind}"


def _title(report: FinancialReport, figures: dict) -> str:
    return _("Interim financial report %(quarter)s (version %(version)s), SMART, PKSF") % {
        "quarter": figures["quarter"],
        "version": report.version,
    }


def render_xlsx(report: FinancialReport, figures: dict[str, Any], *, draft: bool) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    book = Workbook()
    heading_font = Font(bold=True, color="FFFFFF")
    heading_fill = PatternFill("solid", fgColor="1F5C4A")
    for index, sheet_def in enumerate(sheets(figures)):
        sheet = book.active if index == 0 else book.create_sheet()
        sheet.title = sheet_def.title[:31]
        sheet.append([_title(report, figures)])
        sheet.cell(1, 1).font = Font(bold=True, size=13)
        if draft:
            sheet.append([_("DRAFT: not finalised; the figures are live and may change.")])
            sheet.cell(2, 1).font = Font(bold=True, color="AA0000")
        widths: dict[int, int] = {}
        for table in sheet_def.tables:
            sheet.append([])
            sheet.append([table.title])
            sheet.cell(sheet.max_row, 1).font = Font(bold=True)
            sheet.append([str(c) for c in table.columns])
            for cell in sheet[sheet.max_row]:
                cell.font, cell.fill = heading_font, heading_fill
                cell.alignment = Alignment(wrap_text=True, vertical="top")
            for column, title in enumerate(table.columns, start=1):
                widths[column] = max(
                    widths.get(column, 0), 44 if column == 1 else min(max(len(str(title)) + 2, 14), 22)
                )
            for row in table.rows:
                values: list[Any] = [row.label]
                for cell in row.cells:
                    if cell.kind == "text":
                        values.append(cell.value)
                    elif cell.kind == "percent":
                        number = cell.number
                        values.append(None if number is None else float(number) / 100)
                    else:
                        values.append(cell.number)
                sheet.append(values)
                line = sheet.max_row
                for column, cell in enumerate(row.cells, start=2):
                    if cell.kind == "money":
                        sheet.cell(line, column).number_format = "#,##0.00"
                    elif cell.kind == "percent":
                        sheet.cell(line, column).number_format = "0.0%"
                if row.kind in ("total", "heading"):
                    for cell in sheet[line]:
                        cell.font = Font(bold=True)
            if table.note:
                sheet.append([table.note])
                sheet.cell(sheet.max_row, 1).font = Font(italic=True, color="555555")
        for column, width in widths.items():
            sheet.column_dimensions[get_column_letter(column)].width = width
    notes_sheet = book.create_sheet(_("Notes")[:31])
    notes_sheet.column_dimensions["A"].width = 28
    notes_sheet.column_dimensions["B"].width = 110
    notes_sheet.append([_title(report, figures)])
    notes_sheet.cell(1, 1).font = Font(bold=True, size=13)
    for topic, text in notes(report, figures):
        notes_sheet.append([str(topic), str(text)])
        notes_sheet.cell(notes_sheet.max_row, 1).font = Font(bold=True)
        notes_sheet.cell(notes_sheet.max_row, 2).alignment = Alignment(wrap_text=True, vertical="top")
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def render_pdf(report: FinancialReport, figures: dict[str, Any], *, draft: bool) -> bytes:
    """The same tables on A4 landscape pages (WeasyPrint, as monitoring's reports)."""
    from weasyprint import HTML

    html = render_to_string(
        "finance/ifr_pdf.html",
        {
            "report": report,
            "title": _title(report, figures),
            "figures": figures,
            "sheets": sheets(figures),
            "notes": notes(report, figures),
            "draft": draft,
        },
    )
    return HTML(string=html, base_url=str(settings.BASE_DIR)).write_pdf()


RENDERERS = {"xlsx": render_xlsx, "pdf": render_pdf}


def store_files(
    report: FinancialReport, figures: dict[str, Any], kinds: Iterable[str] = ("xlsx", "pdf")
) -> None:
    for kind in kinds:
        content = RENDERERS[kind](report, figures, draft=False)
        getattr(report, kind).save(download_name(report, kind), ContentFile(content), save=False)


def report_file(report: FinancialReport, kind: str) -> tuple[bytes, str, str]:
    """The report as a file: (content, filename, content type). A draft or reviewed report is rendered
    on the fly from the live figures and marked DRAFT; a finalised or sent one is the stored file (if
    storage lost it, or the report was carried over without it, it is rendered again from the frozen
    figures and stored)."""
    if kind not in RENDERERS:
        raise ValueError(kind)
    name, content_type = download_name(report, kind), CONTENT_TYPES[kind]
    if not report.is_locked:
        return RENDERERS[kind](report, figures_for(report), draft=True), name, content_type
    stored = getattr(report, kind)
    if stored:
        try:
            with stored.open("rb") as handle:
                return handle.read(), name, content_type
        except FileNotFoundError:
            pass
    store_files(report, report.figures or figures_for(report), [kind])
    FinancialReport.objects.filter(pk=report.pk).update(**{kind: getattr(report, kind).name})
    with getattr(report, kind).open("rb") as handle:
        return handle.read(), name, content_type


# --- Creating a report, its notes and its forecast -------------------------------------------------


def reports_of(quarter_end: date):
    return FinancialReport.objects.filter(quarter_end=quarter_end)


def creatable_quarters(today: date | None = None) -> list[date]:
    """Ended quarters since the programme start without any report yet, latest first."""
    quarters = quarters_between(first_quarter_end(), last_ended_quarter_end(today))
    taken = set(FinancialReport.objects.values_list("quarter_end", flat=True).distinct())
    return [q for q in reversed(quarters) if q not in taken]


def _quarter_problems(quarter_end: Any, today: date | None = None) -> dict[str, str]:
    today = today or timezone.localdate()
    if not isinstance(quarter_end, date):
        return {"quarter_end": _("Choose the quarter the report is for.")}
    if not is_quarter_end(quarter_end):
        return {
            "quarter_end": _(
                "Give the last day of a calendar quarter (31 March, 30 June, 30 September or 31 December)."
            )
        }
    if quarter_end >= today:
        return {"quarter_end": _("This quarter has not ended yet: its report is made once it has.")}
    if quarter_end < first_quarter_end():
        return {"quarter_end": _("This quarter is before the programme started.")}
    existing = reports_of(quarter_end).order_by("-version").first()
    if existing is not None:
        return {
            "quarter_end": _(
                "%(quarter)s already has a report (%(ref)s): correct it rather than make another."
            )
            % {"quarter": quarter_label(quarter_end), "ref": existing.reference}
        }
    return {}


def prefill_forecast(report: FinancialReport) -> None:
    """The forecast lines of a new report: the pro-rated budget of the next two quarters."""
    planned = _forecast_budget(budget_rows(), report.quarter_end)
    ForecastLine.objects.bulk_create(
        [
            ForecastLine(
                report=report,
                quarter_end=date.fromisoformat(quarter),
                category=line["category"],
                financier=line["financier"],
                amount=Decimal(line[quarter]),
            )
            for line in planned["lines"]
            for quarter in planned["quarters"]
        ]
    )


def create_report(user, quarter_end: Any, notes_text: str = "") -> FinancialReport:
    """A PMU finance officer makes the report of an ended quarter that has none (version 1, a draft),
    with its forecast prefilled. Forbidden for anyone else; ValidationError on `quarter_end`."""
    if not may_prepare(user):
        raise Forbidden(_("Only a finance officer of the PMU prepares the interim financial reports."))
    problems = _quarter_problems(quarter_end)
    if problems:
        raise ValidationError(problems)

    def recheck() -> None:
        again = _quarter_problems(quarter_end)
        if again:
            raise ValidationError(again)

    with transaction.atomic():
        with refusing_races(recheck, where="ifr.create_report"):
            report = FinancialReport.objects.create(
                quarter_end=quarter_end, version=1, prepared_by=user, notes=(notes_text or "").strip()
            )
        prefill_forecast(report)
        lifecycle.record(report, "create", user)
    return report


def check_editable(report: FinancialReport) -> None:
    """Refuses (409) any edit of a finalised or sent report."""
    if report.is_locked:
        raise ActionRefused(
            _(
                "%(ref)s is %(state)s: a finalised or sent report is never edited. Start a correction (a new "
                "version) to change it."
            )
            % {"ref": report.reference, "state": report.get_status_display()},
            code="locked",
        )


def _locked_copy(report: FinancialReport) -> FinancialReport:
    return FinancialReport.objects.select_for_update().get(pk=report.pk)


def set_notes(report: FinancialReport, user, notes_text: str) -> FinancialReport:
    """The notes of a draft or reviewed report (PMU finance officers)."""
    if not may_prepare(user):
        raise Forbidden(_("Only a finance officer of the PMU edits an interim financial report."))
    with transaction.atomic():
        locked = _locked_copy(report)
        check_editable(locked)
        locked.notes = (notes_text or "").strip()
        locked.save(update_fields=["notes", "updated_at"])
    return locked


def _forecast_problems(report: FinancialReport, rows: list[dict]) -> dict[str, str]:
    quarters = forecast_quarter_ends(report.quarter_end)
    problems: dict[str, str] = {}
    seen = set()
    for index, row in enumerate(rows):
        where = f"lines.{index}"  # the API's dotted path to the row (smart_portal.api.error_body)
        quarter = row.get("quarter_end")
        if isinstance(quarter, str):
            try:
                quarter = date.fromisoformat(quarter)
            except ValueError:
                quarter = None
        if quarter not in quarters:
            problems[f"{where}.quarter_end"] = _("The forecast is for %(quarters)s only.") % {
                "quarters": ", ".join(quarter_label(q) for q in quarters)
            }
        if row.get("category") not in BudgetCategory.values:
            problems[f"{where}.category"] = _("Choose a budget category.")
        if row.get("financier") not in Financier.values:
            problems[f"{where}.financier"] = _("Choose a financier.")
        try:
            amount = Decimal(str(row.get("amount")))
        except (InvalidOperation, ValueError):
            amount = None
        if amount is None or not amount.is_finite() or amount < 0 or amount != amount.quantize(CENT):
            problems[f"{where}.amount"] = _("Give an amount in BDT, zero or more, with at most two decimals.")
        elif amount >= Decimal("1e12"):
            problems[f"{where}.amount"] = _("This amount is too large.")
        key = (quarter, row.get("category"), row.get("financier"))
        if key in seen:
            problems[f"{where}.category"] = _("This quarter, category and financier are given twice.")
        seen.add(key)
    return problems


def set_forecast(report: FinancialReport, user, rows: list[dict]) -> list[ForecastLine]:
    """Set forecast amounts (quarter_end, category, financier, amount) of a draft or reviewed report;
    lines not named keep their amount. All or nothing: any wrong row refuses them all, by field."""
    if not may_prepare(user):
        raise Forbidden(_("Only a finance officer of the PMU edits an interim financial report."))
    problems = _forecast_problems(report, rows)
    if problems:
        raise ValidationError(problems)
    with transaction.atomic():
        locked = _locked_copy(report)
        check_editable(locked)
        changed = 0
        for row in rows:
            quarter = row["quarter_end"]
            quarter = date.fromisoformat(quarter) if isinstance(quarter, str) else quarter
            amount = Decimal(str(row["amount"]))
            line, created = ForecastLine.objects.get_or_create(
                report=locked,
                quarter_end=quarter,
                category=row["category"],
                financier=row["financier"],
                defaults={"amount": amount},
            )
            if created or line.amount != amount:
                changed += 1
                if not created:
                    line.amount = amount
                    line.save(update_fields=["amount"])
        if changed:
            lifecycle.record(
                locked, "edit_forecast", user, _("%(count)s forecast line(s) changed.") % {"count": changed}
            )
    return list(ForecastLine.objects.filter(report=locked))


def start_correction(report: FinancialReport, user) -> FinancialReport:
    """The next version of a finalised or sent report: a draft that supersedes it, with its notes and
    forecast copied; logged as "correct" on both. The corrected version stays as it was."""
    if not may_prepare(user):
        raise Forbidden(_("Only a finance officer of the PMU corrects an interim financial report."))
    with transaction.atomic():
        old = _locked_copy(report)
        if not old.is_locked:
            raise ActionRefused(
                _(
                    "%(ref)s is %(state)s: edit it; only a finalised or sent report is corrected by a new "
                    "version."
                )
                % {"ref": old.reference, "state": old.get_status_display()},
                code="wrong_state",
            )
        newer = FinancialReport.objects.filter(supersedes=old).first()
        if newer is not None:
            raise ActionRefused(
                _("%(ref)s was already corrected by %(newer)s.")
                % {"ref": old.reference, "newer": newer.reference},
                code="already_corrected",
            )

        def recheck() -> None:
            raise ActionRefused(
                _("%(ref)s was corrected at the same moment.") % {"ref": old.reference}, code="conflict"
            )

        with refusing_races(recheck, where="ifr.start_correction"):
            new = FinancialReport.objects.create(
                quarter_end=old.quarter_end,
                version=old.version + 1,
                supersedes=old,
                prepared_by=user,
                notes=old.notes,
            )
        ForecastLine.objects.bulk_create(
            [
                ForecastLine(
                    report=new,
                    quarter_end=line.quarter_end,
                    category=line.category,
                    financier=line.financier,
                    amount=line.amount,
                )
                for line in ForecastLine.objects.filter(report=old)
            ]
        )
        lifecycle.record(old, "correct", user, _("Corrected by %(ref)s.") % {"ref": new.reference})
        lifecycle.record(new, "correct", user, _("Corrects %(ref)s.") % {"ref": old.reference})
    return new


# --- Funds received -------------------------------------------------------------------------------

RECEIPT_FIELDS = ("source", "received_on", "amount", "reference", "description")


def locked_quarters() -> set[date]:
    """Quarters whose current report is finalised or sent."""
    return set(
        FinancialReport.objects.live()
        .filter(status__in=LOCKED_STATUSES)
        .values_list("quarter_end", flat=True)
    )


def _closed_by(day: date) -> FinancialReport | None:
    return (
        FinancialReport.objects.live()
        .filter(status__in=LOCKED_STATUSES, quarter_end=quarter_end_of(day))
        .first()
    )


def _closed_message(report: FinancialReport) -> str:
    return _(
        "%(ref)s is %(state)s: the receipts of %(quarter)s cannot change. Start a correction of the report "
        "first."
    ) % {
        "ref": report.reference,
        "state": report.get_status_display(),
        "quarter": quarter_label(report.quarter_end),
    }


def receipt_problems(data: dict, instance: FundReceipt | None = None) -> dict[str, str]:
    """What is wrong with a receipt, by field (the form, the API and the service share it)."""
    problems: dict[str, str] = {}
    today = timezone.localdate()
    if data.get("source") not in FundSource.values:
        problems["source"] = _("Choose the source: World Bank or PKSF counterpart.")
    received_on = data.get("received_on")
    if not isinstance(received_on, date):
        problems["received_on"] = _("Give the date the money was received.")
    elif received_on > today:
        problems["received_on"] = _("The date received cannot be in the future.")
    elif received_on < programme_start():
        problems["received_on"] = _("The date received cannot be before the programme start (%(day)s).") % {
            "day": programme_start().isoformat()
        }
    else:
        closed = _closed_by(received_on)
        if closed is not None:
            problems["received_on"] = _closed_message(closed)
    amount = data.get("amount")
    try:
        amount = Decimal(str(amount)) if amount not in (None, "") else None
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite() or amount <= 0:
        problems["amount"] = _("Give the amount received in BDT, more than zero.")
    elif amount != amount.quantize(CENT) or amount >= Decimal("1e12"):
        problems["amount"] = _("Give the amount in BDT with at most two decimals, below one lakh crore.")
    reference = str(data.get("reference") or "").strip()
    if not reference:
        problems["reference"] = _("Give the withdrawal application or voucher number.")
    elif "source" not in problems:
        twins = FundReceipt.objects.filter(source=data["source"], reference__iexact=reference)
        if instance is not None:
            twins = twins.exclude(pk=instance.pk)
        if twins.exists():
            problems["reference"] = _("A receipt from this source already has this reference.")
    return problems


def _refuse_closed(receipt: FundReceipt) -> None:
    closed = _closed_by(receipt.received_on)
    if closed is not None:
        raise ActionRefused(_closed_message(closed), code="locked")


def _receipt_values(data: dict) -> dict:
    return {
        "source": data["source"],
        "received_on": data["received_on"],
        "amount": Decimal(str(data["amount"])),
        "reference": str(data["reference"]).strip(),
        "description": str(data.get("description") or "").strip(),
    }


def record_receipt(user, data: dict) -> FundReceipt:
    """A World Bank withdrawal or PKSF counterpart allocation received (PMU finance officers)."""
    if not may_prepare(user):
        raise Forbidden(_("Only a finance officer of the PMU records the funds received."))
    problems = receipt_problems(data)
    if problems:
        raise ValidationError(problems)

    def recheck() -> None:
        again = receipt_problems(data)
        if again:
            raise ValidationError(again)

    with transaction.atomic(), refusing_races(recheck, where="ifr.record_receipt"):
        return FundReceipt.objects.create(**_receipt_values(data), recorded_by=user)


def update_receipt(receipt: FundReceipt, user, data: dict) -> FundReceipt:
    """Change a receipt (PMU finance officers), unless it belongs to a closed quarter, or would move there."""
    if not may_prepare(user):
        raise Forbidden(_("Only a finance officer of the PMU records the funds received."))
    with transaction.atomic():
        locked = FundReceipt.objects.select_for_update().get(pk=receipt.pk)
        _refuse_closed(locked)
        merged = {name: getattr(locked, name) for name in RECEIPT_FIELDS} | {
            name: data[name] for name in RECEIPT_FIELDS if name in data
        }
        problems = receipt_problems(merged, instance=locked)
        if problems:
            raise ValidationError(problems)

        def recheck() -> None:
            again = receipt_problems(merged, instance=locked)
            if again:
                raise ValidationError(again)

        with refusing_races(recheck, where="ifr.update_receipt"):
            for name, value in _receipt_values(merged).items():
                setattr(locked, name, value)
            locked.save()
    return locked


def delete_receipt(receipt: FundReceipt, user) -> None:
    """Remove a receipt entered by mistake (PMU finance officers), unless its quarter is closed."""
    if not may_prepare(user):
        raise Forbidden(_("Only a finance officer of the PMU records the funds received."))
    with transaction.atomic():
        locked = FundReceipt.objects.select_for_update().get(pk=receipt.pk)
        _refuse_closed(locked)
        locked.delete()


# --- The lifecycle --------------------------------------------------------------------------------


def freeze(report: FinancialReport, **context) -> list[str]:
    """EFFECT of "finalise": the figures as they are now, frozen, and the XLSX and PDF stored."""
    report.finalised_at = timezone.now()
    report.figures = figures_for(report)
    report.status = ReportStatus.FINALISED  # the files state it
    store_files(report, report.figures)
    return ["figures", "finalised_at", "xlsx", "pdf"]


def _as_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except (TypeError, ValueError):
        return None


def sent_on_valid(report: FinancialReport, **context) -> None:
    """GUARD of "send": the day it went to the Bank, not in the future, not before it was finalised."""
    sent_on = _as_date(context.get("sent_on"))
    if sent_on is None:
        raise ActionRefused(_("Give the day the report was sent to the Bank."), code="invalid")
    if sent_on > timezone.localdate():
        raise ActionRefused(_("The day it was sent cannot be in the future."), code="invalid")
    if report.finalised_at and sent_on < timezone.localdate(report.finalised_at):
        raise ActionRefused(_("The day it was sent cannot be before it was finalised."), code="invalid")


def is_current_version(report: FinancialReport, **context) -> None:
    """GUARD: a version a correction superseded is not sent."""
    newer = FinancialReport.objects.filter(supersedes=report).first()
    if newer is not None:
        raise ActionRefused(
            _("%(ref)s was corrected by %(newer)s: send the correction.")
            % {"ref": report.reference, "newer": newer.reference},
            code="superseded",
        )


def record_sending(report: FinancialReport, **context) -> list[str]:
    report.sent_on = _as_date(context["sent_on"])
    return ["sent_on"]


PREPARERS = (Role.FINANCE_OFFICER,)
REVIEWERS = (Role.PMU_OFFICER, Role.FINANCE_OFFICER)
IFR_RULES = [
    lifecycle.rule(
        "review",
        _lazy("Mark reviewed"),
        [ReportStatus.DRAFT],
        ReportStatus.REVIEWED,
        REVIEWERS,
        who="ifr_reviewer",
    ),
    lifecycle.rule(
        "send_back",
        _lazy("Send back to draft"),
        [ReportStatus.REVIEWED],
        ReportStatus.DRAFT,
        REVIEWERS,
        comment_required=True,
        style="danger",
        who="ifr_pmu_side",
        waits=False,
    ),
    lifecycle.rule(
        "finalise",
        _lazy("Finalise"),
        [ReportStatus.REVIEWED],
        ReportStatus.FINALISED,
        PREPARERS,
        effect="freeze",
        who="ifr_pmu_side",
        confirm=_lazy("Finalise this report? Its figures are frozen and it can no longer be edited."),
    ),
    lifecycle.rule(
        "send",
        _lazy("Record as sent to the Bank"),
        [ReportStatus.FINALISED],
        ReportStatus.SENT,
        PREPARERS,
        guards=("sent_on_valid", "is_current_version"),
        effect="record_sending",
        params=("sent_on",),
        who="ifr_pmu_side",
        button=False,  # from its own form (the day it was sent) on the report's page
    ),
]

# A step written with a past date (replay_history: the demo, records carried over) is not news.
NEWS_WITHIN = timedelta(hours=1)


def transition_recipients(transition) -> list:
    """Who hears of a step: the people of the PMU's side whose rule is next (reviewers after a creation
    or a send-back, finance officers after a review or a finalisation), never the actor; the preparer
    when the report is sent back."""
    from core.models import User

    report = transition.subject
    state = transition.to_state
    roles: set[Role] = set()
    for candidate in IFR_RULES:
        if state in candidate.sources and candidate.waits:
            roles |= set(candidate.roles)
    audience = Q(pk__in=[])
    if roles:
        audience |= Q(
            groups__name__in=[GROUP_NAMES[role] for role in roles], partner_organization__isnull=True
        )
    if transition.action == "send_back":
        audience |= Q(pk=report.prepared_by_id)
    users = User.objects.filter(is_active=True).exclude(email="").filter(audience).distinct()
    if state == ReportStatus.DRAFT:
        # Reviewing is for someone other than the preparer.
        users = users.exclude(pk=report.prepared_by_id) if transition.action != "send_back" else users
    if transition.actor_id:
        users = users.exclude(pk=transition.actor_id)
    return list(users.order_by("pk"))


def send_transition(transition_id: int) -> int:
    from core.emails import in_language_of, send_once
    from subprojects.models import Transition
    from subprojects.notifications import build_message

    transition = Transition.objects.select_related("actor", "content_type").get(pk=transition_id)
    return send_once(
        (
            f"transition:{transition.pk}:user:{user.pk}",
            in_language_of(user, partial(build_message, transition, user)),
        )
        for user in transition_recipients(transition)
    )


@shared_task(
    name="finance.ifr.send_ifr_transition_emails",
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=5,
)
def send_ifr_transition_emails(transition_id: int) -> int:
    return send_transition(transition_id)


def _notify(transition) -> None:
    from core import outbox

    if transition.action in ("edit_forecast",):
        return
    if transition.at >= timezone.now() - NEWS_WITHIN:
        outbox.enqueue(send_ifr_transition_emails, transition.pk)


IFR_LIFECYCLE = lifecycle.Lifecycle(
    FinancialReport,
    IFR_RULES,
    guards={"sent_on_valid": sent_on_valid, "is_current_version": is_current_version},
    effects={"freeze": freeze, "record_sending": record_sending},
    who={"ifr_reviewer": ifr_reviewer, "ifr_pmu_side": ifr_pmu_side},
    follow_up=_notify,
    event_labels={
        "create": _lazy("Created"),
        "correct": _lazy("Correction"),
        "edit_forecast": _lazy("Forecast edited"),
    },
    url_name="finance:ifr-transition",
)


# --- Lists: the quarters, overdue flags and "waiting on you" ----------------------------------------


def first_reporting_quarter() -> date | None:
    """The first quarter in which money moved (a receipt, or a transfer to a PO): IFRs are due from it."""
    first_receipt = FundReceipt.objects.order_by("received_on").values_list("received_on", flat=True).first()
    first_release = (
        Release.objects.filter(status=ReleaseStatus.TRANSFERRED)
        .order_by("transferred_on")
        .values_list("transferred_on", flat=True)
        .first()
    )
    days = [day for day in (first_receipt, first_release) if day is not None]
    return quarter_end_of(max(min(days), programme_start())) if days else None


@dataclass
class QuarterRow:
    quarter_end: date
    reports: list[FinancialReport]  # newest version first

    @property
    def label(self) -> str:
        return quarter_label(self.quarter_end)

    @property
    def current(self) -> FinancialReport | None:
        return self.reports[0] if self.reports else None

    @property
    def due_on(self) -> date:
        return due_on(self.quarter_end)

    @property
    def sent(self) -> bool:
        return any(report.status == ReportStatus.SENT for report in self.reports)

    @property
    def overdue(self) -> bool:
        return not self.sent and timezone.localdate() > self.due_on


def quarter_rows(today: date | None = None) -> list[QuarterRow]:
    """Every quarter that has a report or is due one (from the first quarter money moved to the last
    ended quarter), latest first, with its versions. Two queries."""
    reports = list(FinancialReport.objects.select_related("prepared_by").order_by("-quarter_end", "-version"))
    by_quarter: dict[date, list[FinancialReport]] = defaultdict(list)
    for report in reports:
        by_quarter[report.quarter_end].append(report)
    first = first_reporting_quarter()
    due = set(quarters_between(first, last_ended_quarter_end(today))) if first else set()
    return [
        QuarterRow(quarter, by_quarter.get(quarter, []))
        for quarter in sorted(due | set(by_quarter), reverse=True)
    ]


def overdue_quarters(today: date | None = None) -> list[QuarterRow]:
    return [row for row in quarter_rows(today) if row.overdue]


def ifr_waiting(user) -> list[WaitingItem]:
    """The reports waiting on this person (to review, finalise or send), and for the PMU's finance
    officers the ended quarters without a report; each with its due date."""
    if not may_read(user):
        return []
    items = []
    live = (
        FinancialReport.objects.live()
        .filter(status__in=(ReportStatus.DRAFT, ReportStatus.REVIEWED, ReportStatus.FINALISED))
        .order_by("status_changed_at", "pk")[:PER_KIND_LIMIT]
    )
    for report in live:
        rules = [r for r in lifecycle.available_rules(user, report) if r.waits]
        if not rules:
            continue
        items.append(
            WaitingItem(
                reference=report.reference,
                title=_("Interim financial report %(quarter)s")
                % {"quarter": quarter_label(report.quarter_end)},
                url=report.get_absolute_url(),
                what=" · ".join(str(r.label) for r in rules),
                since=report.status_changed_at,
                due=None if report.status == ReportStatus.SENT else due_at(report.quarter_end),
                note=report.get_status_display(),
            )
        )
    if may_prepare(user):
        first = first_reporting_quarter()
        if first is not None:
            for quarter in creatable_quarters():
                if quarter < first:
                    continue
                items.append(
                    WaitingItem(
                        reference=f"IFR {quarter_label(quarter)}",
                        title=_("Interim financial report %(quarter)s: not started")
                        % {"quarter": quarter_label(quarter)},
                        url=reverse("finance:ifr-create") + f"?quarter_end={quarter.isoformat()}",
                        what=_("Prepare the report"),
                        since=timezone.make_aware(datetime.combine(quarter + timedelta(days=1), time.min)),
                        due=due_at(quarter),
                    )
                )
    return items


def home_panel(user) -> dict | None:
    """The IFR panel of the PMU's side: the last quarters, their state and overdue flags."""
    if not may_read(user):
        return None
    rows = quarter_rows()[:4]
    if not rows:
        return None
    return {"rows": rows, "overdue": sum(1 for row in rows if row.overdue)}


# --- Wiring ---------------------------------------------------------------------------------------


def ready() -> None:
    from core import home, waiting
    from core.navigation import NavItem, register

    lifecycle.register(IFR_LIFECYCLE)
    readers = (Role.PMU_OFFICER, Role.WORLD_BANK, Role.PKSF_APPROVER, Role.FINANCE_OFFICER)
    register(
        NavItem(
            _lazy("Interim financial reports"),
            "finance:ifr-list",
            _lazy(
                "Quarterly sources and uses of funds to the World Bank, against budget, with releases to POs."
            ),
            roles=readers,
            condition=may_read,
            order=76,
        ),
        NavItem(
            _lazy("Funds received"),
            "finance:receipt-list",
            _lazy("World Bank withdrawals and PKSF counterpart allocations received for the programme."),
            roles=readers,
            condition=may_read,
            order=77,
        ),
        group=_lazy("Money"),
    )
    home.register(
        home.HomePanel(
            key="finance-ifr",
            template_name="finance/ifr_home_panel.html",
            roles=readers,
            get_context=home_panel,
            order=40,
        )
    )
    waiting.register(ifr_waiting)
