"""Factories for money. `funded_sub_project(po)` is an active sub-project of that PO with budget lines
by category and financier that add up to its approved shares."""

from __future__ import annotations

from decimal import Decimal

from subprojects.models import BudgetCategory, Financier, SubProject
from tests.enterprises.factories import sub_project_for

# (category, financier, amount): 25 M BDT, the shares of SubProjectFactory (20 M / 3.75 M / 1.25 M).
DEFAULT_LINES = [
    (BudgetCategory.CSF, Financier.WORLD_BANK, Decimal("12000000")),
    (BudgetCategory.ME_FINANCE, Financier.WORLD_BANK, Decimal("8000000")),
    (BudgetCategory.TRAINING, Financier.PKSF, Decimal("2250000")),
    (BudgetCategory.MANAGEMENT, Financier.PKSF, Decimal("1500000")),
    (BudgetCategory.MONITORING, Financier.PO, Decimal("1250000")),
]


def funded_sub_project(po, lines=DEFAULT_LINES, **kwargs) -> SubProject:
    """An active sub-project of `po` whose approved shares are the sums of `lines` by financier."""
    totals = {financier: Decimal("0") for financier in Financier.values}
    for _category, financier, amount in lines:
        totals[financier] += amount
    sub_project = sub_project_for(
        po,
        proposal__budget=[],
        budget_world_bank=totals[Financier.WORLD_BANK],
        budget_pksf=totals[Financier.PKSF],
        budget_po=totals[Financier.PO],
        **kwargs,
    )
    for category, financier, amount in lines:
        sub_project.proposal.budget_lines.create(
            category=category, description=f"{category} ({financier})", amount=amount, financier=financier
        )
    return sub_project
