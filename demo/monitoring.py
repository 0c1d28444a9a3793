"""Demo results: illustrative yearly targets (invented), an illustrative budget line for financing MEs
(the real one comes from the project's cost tables, entered by the PMU), and the indicators computed at
every month-end since the demo data begin, so the dashboard has figures and trend lines from the start."""

from __future__ import annotations

from decimal import Decimal

from django.db import connection

from monitoring import aggregation
from monitoring.models import Indicator, Milestone, RunStatus, RunTrigger, Snapshot

# Share of the end-of-project target expected by the end of each year.
MILESTONE_SHARES = {
    2024: Decimal("0.05"),
    2025: Decimal("0.25"),
    2026: Decimal("0.55"),
    2027: Decimal("0.85"),
    2028: Decimal("1"),
}


# Invented for the demo: the share of the USD 300 M budgeted for loans and grants to MEs.
DEMO_ME_FINANCE_BUDGET_USD = Decimal("180000000")


def seed(stdout) -> None:
    Indicator.objects.filter(code="MONEY_DISBURSED", target__isnull=True).update(
        target=DEMO_ME_FINANCE_BUDGET_USD
    )
    if not Milestone.objects.exists():
        for indicator in Indicator.objects.filter(target__isnull=False, parent__isnull=True):
            for year, share in MILESTONE_SHARES.items():
                Milestone.objects.create(
                    indicator=indicator, year=year, target=(indicator.target * share).quantize(1)
                )
    if Snapshot.objects.exists():
        stdout.write(
            "  monitoring: snapshots already computed (manage.py aggregate_indicators refreshes them)"
        )
        return
    if connection.vendor == "postgresql":
        # The demo's field data were bulk-written a moment ago: without fresh statistics the planner
        # takes the tables for empty and picks nested loops over them.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    run = aggregation.run_now(trigger=RunTrigger.COMMAND, backfill=True)
    if run.status != RunStatus.SUCCEEDED:
        stdout.write(f"  monitoring: the indicators could not be computed ({run.error})")
        return
    stdout.write(f"  monitoring: {Snapshot.objects.count()} monthly snapshots of the indicators")
