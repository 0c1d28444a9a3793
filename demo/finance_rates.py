"""Demo exchange rates (issue 14), for `seed_demo`: runs first among the money demos, so that every USD
figure computed afterwards (the results snapshots, the IFRs) converts each amount at the rate of its
own day.

The first row is the migration's (the former BDT_PER_USD setting, from the programme start), kept as
it is. After it, approximate Bangladesh Bank mid-rates over the programme, entered by PKSF finance
(`finance`): about 109.50 in late 2023, 117.00 from 8 May 2024 (the crawling peg), 122.00 in 2025.
They are illustrative, not official figures. Safe to run again: a date already in the table is left
as it is.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from core.errors import ActionRefused
from core.models import User
from finance import rates
from finance.models import ExchangeRate

SOURCE = "Bangladesh Bank mid-rate, approximate (demo)"
DEMO_RATES = (
    (date(2023, 9, 1), Decimal("109.50")),
    (date(2024, 5, 8), Decimal("117.00")),
    (date(2025, 1, 1), Decimal("122.00")),
)


def seed(stdout) -> None:
    finance = User.objects.filter(username="finance").first()
    if finance is None:
        stdout.write("  exchange rates: no demo login 'finance', no rate entered")
        return
    added = 0
    for valid_from, bdt_per_usd in DEMO_RATES:
        if ExchangeRate.objects.filter(valid_from=valid_from).exists():
            continue
        try:
            rates.add_rate(
                user=finance, data={"valid_from": valid_from, "bdt_per_usd": bdt_per_usd, "source": SOURCE}
            )
        except ActionRefused as exc:
            stdout.write(f"  exchange rates: {valid_from} not entered: {exc}")
            continue
        added += 1
    stdout.write(f"  exchange rates: {ExchangeRate.objects.count()} in the table ({added} added)")
