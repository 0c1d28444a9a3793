"""The results framework as the seed documents word it (issue "Results the World Bank can rely on").

Definitions follow the SMART newsletter (January–June 2024) and SPEC 6: climate knowledge counts only
trainings on climate vulnerability; RECP adoption only independently verified practices; facilities
only once their operation is confirmed; financing only from the programme start. The USD 300 M is the
World Bank's 250 M plus PKSF's 50 M, so PO money is shown beside it; disbursements to MEs are compared
with their own budget line (set by the PMU), not with the 300 M. Each indicator gets its level,
baseline (zero when the project began, 1 August 2023), data source, frequency and responsible unit;
the PMU edits all of it, with history.
"""

from datetime import date

from django.db import migrations

START = date(2023, 8, 1)
PMU_ME = "PMU monitoring and evaluation unit"
PO_ENTRY = "PO field staff; checked by the PMU"

# code, name, level, unit, target, parent, baseline, data source, frequency, responsible, definition
FRAMEWORK = [
    ("ME_FINANCED", "MEs receiving financial support", "pdo", "enterprises", 80000, "", 0,
     "PO disbursement records (financial support in the portal)", "quarterly", PO_ENTRY,
     "Distinct MEs with at least one loan or grant disbursed on or after the programme start "
     "(1 August 2023) and on or before the date. A confirmed duplicate counts once, as its original; "
     "disbursements dated before the programme start are excluded and shown as such."),
    ("ME_RECP_2PLUS", "MEs adopting at least two climate-resilient RECP practices", "pdo", "enterprises",
     64000, "", 0, "PO adoption reports with evidence, verified by the PMU or an independent verifier",
     "quarterly", "PMU M&E unit and the third-party monitoring firm",
     "Distinct MEs with at least two different RECP practices whose adoption was verified, on or "
     "before the date, by someone outside the reporting PO: a PMU officer or an independent verifier. "
     "Adoptions a PO has reported but nobody independent has verified are shown beside the figure as "
     "“reported, not yet verified”, never in it."),
    ("ME_KPI_TRACKING", "MEs tracking at least one environmental KPI", "pdo", "enterprises", 50000, "", 0,
     "Monthly KPI readings entered by POs", "quarterly", PO_ENTRY,
     "Distinct MEs with, for some environmental KPI, a baseline reading and at least one later "
     "reading, both for months on or before the date."),
    ("ME_CLIMATE_KNOWLEDGE", "MEs with increased knowledge on climate vulnerability", "intermediate",
     "enterprises", 72000, "", 0, "Training attendance with pre- and post-test scores", "quarterly",
     PO_ENTRY,
     "Distinct MEs that attended a training session whose module is tagged “climate vulnerability” in "
     "the PMU's training-module catalogue, held on or before the date, and whose post-test score was "
     "above their pre-test score. Sessions of other modules, or not yet mapped to a module, never count."),
    ("RECP_PROFILES_VALIDATED", "Climate-resilient RECP profiles prepared and validated", "intermediate",
     "enterprises", 30000, "", 0, "RECP profiles prepared by POs and validated by the PMU", "quarterly",
     "PMU RECP specialists",
     "MEs whose climate-resilient RECP profile was prepared by the PO and validated by the PMU on or "
     "before the date."),
    ("CSF_ESTABLISHED", "Shared facilities (CSFs) established", "intermediate", "facilities", 100, "", 0,
     "PO facility reports, operation confirmed by the PMU or a verifier", "quarterly", PMU_ME,
     "Common service facilities reported operational, opened on or before the date, whose operation a "
     "PMU officer or an independent verifier confirmed on or before the date."),
    ("CSF_REVENUE", "Revenue-generating CSFs established", "intermediate", "facilities", 50,
     "CSF_ESTABLISHED", 0, "As for all CSFs", "quarterly", PMU_ME,
     "Established CSFs (as above) of the revenue-generating kind."),
    ("CSF_NON_REVENUE", "Non-revenue-generating CSFs established", "intermediate", "facilities", 50,
     "CSF_ESTABLISHED", 0, "As for all CSFs", "quarterly", PMU_ME,
     "Established CSFs (as above) of the non-revenue-generating kind."),
    ("WOMEN_LED_SHARE", "Share of women-led MEs among MEs financed", "intermediate", "percent", None, "",
     None, "ME registry and disbursement records", "quarterly", PMU_ME,
     "MEs financed by the date (as in “MEs receiving financial support”) whose owner is a woman, as a "
     "share of all MEs financed by the date."),
    ("MONEY_COMMITTED", "Financing committed by the World Bank and PKSF", "tracked", "usd", 300000000, "",
     0, "Approved budgets of awarded sub-projects", "quarterly", "PMU finance unit",
     "World Bank and PKSF shares of the approved budgets of sub-projects awarded by the date and not "
     "cancelled by then, in USD at the portal's rate. The USD 300 M target is the World Bank's 250 M "
     "plus PKSF's 50 M; PO contributions are shown beside it, not in it."),
    ("MONEY_COMMITTED_WORLD_BANK", "Committed: World Bank", "tracked", "usd", 250000000, "MONEY_COMMITTED",
     0, "Approved budgets of awarded sub-projects", "quarterly", "PMU finance unit",
     "World Bank share of the approved budgets of sub-projects awarded by the date and not cancelled by "
     "then, in USD."),
    ("MONEY_COMMITTED_PKSF", "Committed: PKSF", "tracked", "usd", 50000000, "MONEY_COMMITTED", 0,
     "Approved budgets of awarded sub-projects", "quarterly", "PMU finance unit",
     "PKSF share of the approved budgets of sub-projects awarded by the date and not cancelled by then, "
     "in USD."),
    ("MONEY_COMMITTED_PO", "PO contributions committed (beside the USD 300 M)", "tracked", "usd", None, "",
     0, "Approved budgets of awarded sub-projects", "quarterly", "PMU finance unit",
     "PO contributions in the approved budgets of sub-projects awarded by the date and not cancelled by "
     "then, in USD. Not part of the programme's USD 300 M."),
    ("MONEY_DISBURSED", "Money disbursed to MEs", "tracked", "usd", None, "", 0,
     "PO disbursement records (financial support in the portal)", "quarterly", "PMU finance unit",
     "Loans and grants disbursed to MEs on or after the programme start and on or before the date, in "
     "USD. Its target is the budget line for financing MEs (set by the PMU), not the programme's USD "
     "300 M, which also pays for facilities, technical assistance and project management."),
    ("MONEY_DISBURSED_WORLD_BANK", "Disbursed to MEs: World Bank funds", "tracked", "usd", None,
     "MONEY_DISBURSED", 0, "PO disbursement records", "quarterly", "PMU finance unit",
     "Disbursements to MEs (as above) the PO recorded as financed by the World Bank."),
    ("MONEY_DISBURSED_PKSF", "Disbursed to MEs: PKSF funds", "tracked", "usd", None, "MONEY_DISBURSED", 0,
     "PO disbursement records", "quarterly", "PMU finance unit",
     "Disbursements to MEs (as above) the PO recorded as financed by PKSF."),
    ("MONEY_DISBURSED_PO", "Disbursed to MEs: PO funds", "tracked", "usd", None, "MONEY_DISBURSED", 0,
     "PO disbursement records", "quarterly", "PMU finance unit",
     "Disbursements to MEs (as above) the PO recorded as financed from its own funds."),
    ("ME_RECP_2PLUS_PENDING", "MEs with two or more practices reported, not yet verified", "tracked",
     "enterprises", None, "", None, "PO adoption reports", "quarterly", PMU_ME,
     "Distinct MEs with at least two different RECP practices reported as adopted on or before the date "
     "that do not yet count in “MEs adopting at least two RECP practices” because fewer than two were "
     "verified independently by then."),
    ("CSF_UNCONFIRMED", "Facilities reported operational, not yet confirmed", "tracked", "facilities",
     None, "", None, "PO facility reports", "quarterly", PMU_ME,
     "Facilities reported operational and opened on or before the date whose operation nobody "
     "independent had confirmed by then."),
    ("WOMEN_LED_SHARE_REGISTERED", "Share of women-led MEs in the registry", "tracked", "percent", None, "",
     None, "ME registry", "quarterly", PMU_ME,
     "MEs registered by the date whose owner is a woman, as a share of all MEs registered by the date "
     "(confirmed duplicates counted once)."),
    ("WAGE_JOBS_WOMEN", "Wage jobs for women in MEs financed", "tracked", "jobs", None, "", None,
     "ME registry (employment as last reported)", "quarterly", PO_ENTRY,
     "Women in wage employment in the MEs financed by the date, as last reported in the ME registry."),
    ("WAGE_JOBS_MEN", "Wage jobs for men in MEs financed", "tracked", "jobs", None, "", None,
     "ME registry (employment as last reported)", "quarterly", PO_ENTRY,
     "Men in wage employment in the MEs financed by the date, as last reported in the ME registry."),
    ("WAGE_JOBS_WOMEN_ADDED", "Wage jobs for women added since registration", "tracked", "jobs", None, "",
     None, "ME registry: employment at registration and as last reported", "quarterly", PO_ENTRY,
     "For the MEs financed by the date: women's wage jobs as last reported minus those at registration "
     "(negative where jobs were lost)."),
    ("WAGE_JOBS_MEN_ADDED", "Wage jobs for men added since registration", "tracked", "jobs", None, "",
     None, "ME registry: employment at registration and as last reported", "quarterly", PO_ENTRY,
     "For the MEs financed by the date: men's wage jobs as last reported minus those at registration "
     "(negative where jobs were lost)."),
]  # fmt: skip

NEW_CODES = [row[0] for row in FRAMEWORK if row[0] not in {
    "ME_FINANCED", "ME_CLIMATE_KNOWLEDGE", "ME_RECP_2PLUS", "ME_KPI_TRACKING", "RECP_PROFILES_VALIDATED",
    "CSF_ESTABLISHED", "CSF_REVENUE", "CSF_NON_REVENUE", "MONEY_COMMITTED", "MONEY_DISBURSED",
    "WOMEN_LED_SHARE",
}]  # fmt: skip


def forward(apps, schema_editor):
    Indicator = apps.get_model("monitoring", "Indicator")
    saved = {}
    for position, row in enumerate(FRAMEWORK):
        code, name, level, unit, target, parent, baseline, source, frequency, responsible, definition = row
        saved[code], _created = Indicator.objects.update_or_create(
            code=code,
            defaults={
                "name": name,
                "level": level,
                "unit": unit,
                "target": target,
                "parent": saved.get(parent),
                "baseline_value": baseline,
                "baseline_date": START if baseline is not None else None,
                "data_source": source,
                "frequency": frequency,
                "responsible_unit": responsible,
                "definition": definition,
                "position": position,
            },
        )


def backward(apps, schema_editor):
    Indicator = apps.get_model("monitoring", "Indicator")
    Indicator.objects.filter(code__in=NEW_CODES, parent__isnull=False).delete()
    Indicator.objects.filter(code__in=NEW_CODES).delete()


class Migration(migrations.Migration):
    dependencies = [("monitoring", "0004_results_framework_outcomes_reports")]

    operations = [migrations.RunPython(forward, backward)]
