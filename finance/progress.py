"""Financial progress per sub-project and per PO, as of any date, set-based: one grouped query per
measure over all the sub-projects asked about, never a sum in Python over their rows.

Per sub-project (`progress(as_of, sub_projects)`):
- approved: the award's shares (World Bank, PKSF, PO contribution) and their total;
- released: the World Bank and PKSF shares of its releases transferred on or before `as_of`;
- spent: the lines of its submitted and accepted spending reports spent on or before `as_of`
  (`Expenditure.objects.reported(as_of)`), in total and by the financier of their budget line;
- balance = released less spent on World Bank and PKSF lines (the PO's contribution is its own money);
- spent % of released = spent on World Bank and PKSF lines ÷ released;
- burn rate: spent ÷ approved (all financiers) against time elapsed ÷ duration (start to end date);
- flags: "lagging" when the share of time elapsed exceeds the share of the approved budget spent by
  more than settings.SPENDING_LAG_POINTS percentage points; "overrun" when the spending on World Bank
  and PKSF lines exceeds what was released, or any budget line's spending exceeds its approved amount.

Contract others rely on:
    utilisation_by_po(as_of: date) -> dict[int, tuple[Decimal, Decimal]]
        po_id -> (released to the PO by then (transferred releases), spent by then (reported spending
        of World Bank and PKSF lines)). POs with nothing released are absent.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db.models import F, Q, QuerySet, Sum

from finance.models import Expenditure, Release
from subprojects.models import Financier

ZERO = Decimal("0")
HUNDRED = Decimal("100")
POINT = Decimal("0.1")
FUNDED = (Financier.WORLD_BANK, Financier.PKSF)
FLAGS = ("lagging", "overrun")


def percent(part: Decimal, whole: Decimal) -> Decimal | None:
    """part ÷ whole in per cent, to one decimal place (None when there is no whole)."""
    if not whole:
        return None
    return (Decimal(part) * HUNDRED / Decimal(whole)).quantize(POINT, rounding=ROUND_HALF_UP)


def elapsed_percent(start: date, end: date, as_of: date) -> Decimal:
    """The share of the sub-project's time (start to end date) gone by `as_of`, 0 to 100."""
    duration = (end - start).days
    if duration <= 0:
        return HUNDRED
    gone = min(max((as_of - start).days, 0), duration)
    return (Decimal(gone) * HUNDRED / Decimal(duration)).quantize(POINT, rounding=ROUND_HALF_UP)


@dataclass
class SubProjectProgress:
    sub_project_id: int
    agreement_number: str
    title: str
    partner_organization_id: int
    po_code: str
    status: str
    start_date: date
    end_date: date
    as_of: date
    approved_world_bank: Decimal
    approved_pksf: Decimal
    approved_po: Decimal
    released_world_bank: Decimal = ZERO
    released_pksf: Decimal = ZERO
    spent_world_bank: Decimal = ZERO
    spent_pksf: Decimal = ZERO
    spent_po: Decimal = ZERO
    # Budget lines whose reported spending exceeds their approved amount.
    lines_overrun: int = 0

    @property
    def approved(self) -> Decimal:
        return self.approved_world_bank + self.approved_pksf + self.approved_po

    @property
    def released(self) -> Decimal:
        return self.released_world_bank + self.released_pksf

    @property
    def spent(self) -> Decimal:
        return self.spent_world_bank + self.spent_pksf + self.spent_po

    @property
    def spent_funded(self) -> Decimal:
        """Spent on World Bank and PKSF lines: what the releases pay for."""
        return self.spent_world_bank + self.spent_pksf

    @property
    def balance(self) -> Decimal:
        return self.released - self.spent_funded

    @property
    def spent_of_released(self) -> Decimal | None:
        return percent(self.spent_funded, self.released)

    @property
    def spent_of_approved(self) -> Decimal:
        return percent(self.spent, self.approved) or ZERO

    @property
    def elapsed(self) -> Decimal:
        return elapsed_percent(self.start_date, self.end_date, self.as_of)

    @property
    def lag_points(self) -> Decimal:
        """How far spending trails time, in percentage points (negative: ahead of time)."""
        return self.elapsed - self.spent_of_approved

    @property
    def lagging(self) -> bool:
        return self.lag_points > settings.SPENDING_LAG_POINTS

    @property
    def overspent_releases(self) -> bool:
        return self.spent_funded > self.released

    @property
    def overrun(self) -> bool:
        return self.overspent_releases or self.lines_overrun > 0

    @property
    def flags(self) -> list[str]:
        return [name for name in FLAGS if getattr(self, name)]


def _ids(sub_projects: QuerySet) -> QuerySet:
    return sub_projects.order_by().values("pk")


def released_by_sub_project(as_of: date, sub_projects: QuerySet) -> dict[int, dict]:
    return {
        row["sub_project"]: row
        for row in Release.objects.transferred(as_of)
        .filter(sub_project__in=_ids(sub_projects))
        .values("sub_project")
        .annotate(world_bank=Sum("amount_world_bank"), pksf=Sum("amount_pksf"))
        .order_by()
    }


def spent_by_sub_project(as_of: date, sub_projects: QuerySet) -> dict[int, dict]:
    return {
        row["sub_project"]: row
        for row in Expenditure.objects.reported(as_of)
        .filter(sub_project__in=_ids(sub_projects))
        .values("sub_project")
        .annotate(
            **{
                financier: Sum("amount", filter=Q(budget_line__financier=financier))
                for financier in Financier.values
            }
        )
        .order_by()
    }


def overrun_lines(as_of: date, sub_projects: QuerySet) -> Counter:
    """Sub-project id -> how many of its budget lines have more reported spending than approved."""
    rows = (
        Expenditure.objects.reported(as_of)
        .filter(sub_project__in=_ids(sub_projects))
        .values("sub_project", "budget_line", "budget_line__amount")
        .annotate(spent=Sum("amount"))
        .filter(spent__gt=F("budget_line__amount"))
        .order_by()
    )
    return Counter(row["sub_project"] for row in rows)


def progress(as_of: date, sub_projects: QuerySet) -> list[SubProjectProgress]:
    """The financial progress of each sub-project of `sub_projects` as of `as_of`, by agreement
    number: four queries whatever their number."""
    released = released_by_sub_project(as_of, sub_projects)
    spent = spent_by_sub_project(as_of, sub_projects)
    overruns = overrun_lines(as_of, sub_projects)
    rows = []
    for sp in sub_projects.order_by("agreement_number").values(
        "pk",
        "agreement_number",
        "title",
        "partner_organization_id",
        "partner_organization__code",
        "status",
        "start_date",
        "end_date",
        "budget_world_bank",
        "budget_pksf",
        "budget_po",
    ):
        pk = sp["pk"]
        money_in, money_out = released.get(pk, {}), spent.get(pk, {})
        rows.append(
            SubProjectProgress(
                sub_project_id=pk,
                agreement_number=sp["agreement_number"],
                title=sp["title"],
                partner_organization_id=sp["partner_organization_id"],
                po_code=sp["partner_organization__code"],
                status=sp["status"],
                start_date=sp["start_date"],
                end_date=sp["end_date"],
                as_of=as_of,
                approved_world_bank=sp["budget_world_bank"],
                approved_pksf=sp["budget_pksf"],
                approved_po=sp["budget_po"],
                released_world_bank=money_in.get("world_bank") or ZERO,
                released_pksf=money_in.get("pksf") or ZERO,
                spent_world_bank=money_out.get(Financier.WORLD_BANK) or ZERO,
                spent_pksf=money_out.get(Financier.PKSF) or ZERO,
                spent_po=money_out.get(Financier.PO) or ZERO,
                lines_overrun=overruns.get(pk, 0),
            )
        )
    return rows


def utilisation_by_po(as_of: date) -> dict[int, tuple[Decimal, Decimal]]:
    """po_id -> (released by `as_of`, spent by then on World Bank and PKSF lines); POs with nothing
    released are absent. Two grouped queries."""
    released = {
        row["partner_organization"]: row["total"]
        for row in Release.objects.transferred(as_of)
        .values("partner_organization")
        .annotate(total=Sum(F("amount_world_bank") + F("amount_pksf")))
        .order_by()
    }
    spent = {
        row["partner_organization"]: row["total"]
        for row in Expenditure.objects.reported(as_of)
        .filter(budget_line__financier__in=FUNDED)
        .values("partner_organization")
        .annotate(total=Sum("amount"))
        .order_by()
    }
    return {
        po: (total or ZERO, spent.get(po) or ZERO) for po, total in released.items() if total and total > 0
    }
