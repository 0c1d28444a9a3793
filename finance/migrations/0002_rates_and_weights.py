"""The first exchange rate (the former BDT_PER_USD setting, from the programme start) and the
scorecard's default weights."""

import datetime
import os
from decimal import Decimal

from django.db import migrations

DEFAULT_WEIGHTS = {
    "mes_reached": 20,
    "women_led": 10,
    "recp_verified": 15,
    "kpi_tracking": 10,
    "fund_utilisation": 15,
    "reporting_timeliness": 10,
    "data_quality": 10,
    "portfolio_quality": 10,
}


def seed(apps, schema_editor):
    ExchangeRate = apps.get_model("finance", "ExchangeRate")
    if not ExchangeRate.objects.exists():
        ExchangeRate.objects.create(
            valid_from=datetime.date(2023, 8, 1),
            bdt_per_usd=Decimal(os.environ.get("BDT_PER_USD", "120")),
            source="BDT_PER_USD setting in force before the rate table",
        )
    ScorecardWeight = apps.get_model("finance", "ScorecardWeight")
    for measure, weight in DEFAULT_WEIGHTS.items():
        ScorecardWeight.objects.get_or_create(measure=measure, defaults={"weight": weight})


def unseed(apps, schema_editor):
    apps.get_model("finance", "ScorecardWeight").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("finance", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
