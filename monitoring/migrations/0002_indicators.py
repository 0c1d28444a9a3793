"""The indicators of the results framework (SPEC 6) with their end-of-project targets.

Targets are the SMART project's (newsletter, January to June 2024); the PMU edits them and adds
yearly milestones in the portal.
"""

from django.db import migrations

INDICATORS = [
    # code, name, definition, unit, target, parent
    (
        "ME_FINANCED",
        "MEs receiving financial support",
        "Distinct MEs (confirmed duplicates counted once) with at least one loan or grant disbursed.",
        "enterprises",
        80000,
        "",
    ),
    (
        "ME_CLIMATE_KNOWLEDGE",
        "MEs with increased knowledge on climate vulnerability",
        "Distinct MEs with a training attendance whose post-test score is above its pre-test score.",
        "enterprises",
        72000,
        "",
    ),
    (
        "ME_RECP_2PLUS",
        "MEs adopting at least two climate-resilient RECP practices",
        "Distinct MEs with at least two distinct verified RECP practice adoptions.",
        "enterprises",
        64000,
        "",
    ),
    (
        "ME_KPI_TRACKING",
        "MEs tracking at least one environmental KPI",
        "Distinct MEs with, for some KPI, a baseline reading and at least one later reading.",
        "enterprises",
        50000,
        "",
    ),
    (
        "RECP_PROFILES_VALIDATED",
        "Climate-resilient RECP profiles prepared and validated",
        "MEs with a validated RECP profile.",
        "enterprises",
        30000,
        "",
    ),
    (
        "CSF_ESTABLISHED",
        "Shared facilities (CSFs) established",
        "Operational common service facilities (opened on or before the date).",
        "facilities",
        100,
        "",
    ),
    (
        "CSF_REVENUE",
        "Revenue-generating CSFs established",
        "Operational revenue-generating common service facilities.",
        "facilities",
        50,
        "CSF_ESTABLISHED",
    ),
    (
        "CSF_NON_REVENUE",
        "Non-revenue-generating CSFs established",
        "Operational non-revenue-generating common service facilities.",
        "facilities",
        50,
        "CSF_ESTABLISHED",
    ),
    (
        "MONEY_COMMITTED",
        "Money committed to sub-projects",
        "Approved budgets of awarded sub-projects (World Bank, PKSF and PO shares), not cancelled, in USD.",
        "usd",
        300000000,
        "",
    ),
    (
        "MONEY_DISBURSED",
        "Money disbursed to MEs",
        "Loans and grants disbursed to MEs, in USD.",
        "usd",
        300000000,
        "",
    ),
    (
        "WOMEN_LED_SHARE",
        "Share of women-led MEs",
        "MEs whose owner is a woman, as a share of all MEs registered (confirmed duplicates counted once).",
        "percent",
        None,
        "",
    ),
]


def load(apps, schema_editor):
    Indicator = apps.get_model("monitoring", "Indicator")
    created = {}
    for position, (code, name, definition, unit, target, parent) in enumerate(INDICATORS):
        created[code] = Indicator.objects.create(
            code=code,
            name=name,
            definition=definition,
            unit=unit,
            target=target,
            parent=created.get(parent),
            position=position,
        )


def unload(apps, schema_editor):
    Indicator = apps.get_model("monitoring", "Indicator")
    Indicator.objects.filter(parent__isnull=False).delete()
    Indicator.objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("monitoring", "0001_results_framework")]

    operations = [migrations.RunPython(load, unload)]
