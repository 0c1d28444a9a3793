"""The money indicators' definitions say how USD figures are now converted (issue 14): each amount at
the BDT/USD rate of its own day, from the portal's rate table (finance.ExchangeRate), instead of one
rate. Only the wording this framework seeded is replaced: a definition the PMU rewrote is left alone."""

from django.db import migrations

COMMITTED = "in USD, each budget at the BDT/USD rate of its award date (the portal's rate table)."
DISBURSED = "in USD, each disbursement at the BDT/USD rate of its day (the portal's rate table)."
REPLACEMENTS = {
    "MONEY_COMMITTED": [("in USD at the portal's rate.", COMMITTED)],
    "MONEY_COMMITTED_WORLD_BANK": [("in USD.", COMMITTED)],
    "MONEY_COMMITTED_PKSF": [("in USD.", COMMITTED)],
    "MONEY_COMMITTED_PO": [("in USD.", COMMITTED)],
    "MONEY_DISBURSED": [("date, in USD.", "date, " + DISBURSED)],
}


def _replace(apps, forward: bool) -> None:
    Indicator = apps.get_model("monitoring", "Indicator")
    for code, pairs in REPLACEMENTS.items():
        indicator = Indicator.objects.filter(code=code).first()
        if indicator is None:
            continue
        text = indicator.definition
        for old, new in pairs:
            before, after = (old, new) if forward else (new, old)
            if before in text:
                text = text.replace(before, after, 1)
        if text != indicator.definition:
            indicator.definition = text
            indicator.save(update_fields=["definition"])


class Migration(migrations.Migration):
    dependencies = [("monitoring", "0008_job_heartbeat"), ("finance", "0002_rates_and_weights")]

    operations = [
        migrations.RunPython(
            lambda apps, editor: _replace(apps, True), lambda apps, editor: _replace(apps, False)
        )
    ]
