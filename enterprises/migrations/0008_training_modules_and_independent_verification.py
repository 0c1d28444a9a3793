"""Data for the seed-exact indicators (issue "Results the World Bank can rely on").

1. The training-module catalogue, and each existing session mapped to a module by keywords of its
   free-text topic. Sessions no keyword matches keep no module: the PMU maps them on the "Sessions
   to map" list; until then they count for no indicator.
2. Adoptions "verified" by the reporting PO's own staff are not independent verifications: the date
   becomes the PO's evidence ("seen in use on") and the adoption is reported, not yet verified.
3. Employment at registration, for the jobs indicators: the earliest recorded version of each ME
   (its history), else its current figures.
4. The outcome settings of the KPI catalogue: concentrations don't add up across MEs; diesel has the
   IPCC 2006 default emission factor.
"""

from functools import partial

from django.db import migrations
from django.db.models import F, OuterRef, Subquery
from django.db.models.functions import Coalesce

from core.roles import grant_permissions, revoke_permissions

# code, name, tagged climate vulnerability, what it covers
MODULES = [
    ("CV-01", "Climate risks and the vulnerability of your enterprise", True,
     "How floods, heat, cyclones, salinity and drought affect the enterprise, its workers, supplies and "
     "market; finding the enterprise's own exposure."),
    ("CV-02", "Preparing for floods, cyclones, heat and drought", True,
     "Early warnings, protecting stock, machines and workers, keeping the business running during and "
     "after a disaster."),
    ("CV-03", "Climate-resilient practices for your sector", True,
     "Adapting production, premises and water and energy supply of the sub-sector to a changing climate."),
    ("RE-01", "Resource efficiency: energy, water and materials", False,
     "Using less electricity, fuel, water and raw material per unit produced."),
    ("CP-01", "Cleaner production and waste management", False,
     "Reducing, separating, reusing and recycling waste; handling chemicals and effluent safely."),
    ("OSH-01", "Occupational safety, health and clean air at work", False,
     "Protective equipment, ventilation, dust and fumes, safe machines and first aid."),
    ("KPI-01", "Measuring and recording environmental KPIs", False,
     "Reading meters and bills, weighing waste, keeping the monthly KPI record."),
    ("BUS-01", "Business management, records and access to finance", False,
     "Book-keeping, costing, marketing and using loans well."),
]  # fmt: skip

# First match wins: hazards and climate words before the resource and safety themes.
KEYWORDS = [
    ("CV-02", ("flood", "cyclone", "heat", "drought", "storm", "disaster", "erosion", "salinity",
               "early warning")),
    ("CV-01", ("climate", "vulnerab")),
    ("CV-03", ("adapt", "resilien")),
    ("RE-01", ("resource efficien", "energy", "water", "electric", "fuel")),
    ("CP-01", ("cleaner production", "waste", "recycl", "effluent", "chemical")),
    ("OSH-01", ("safety", "health", "clean air", "dust", "ppe")),
    ("KPI-01", ("kpi", "measur", "monitoring", "meter")),
    ("BUS-01", ("business", "finance", "book-keeping", "bookkeeping", "marketing", "account")),
]  # fmt: skip

DIESEL_FACTOR = "2.6800"
DIESEL_SOURCE = (
    "IPCC 2006 Guidelines, vol. 2, tables 1.2 and 1.4: 74,100 kg CO2/TJ at 43.0 TJ/Gg, 0.84 kg/L "
    "(about 2.68 kg CO2 per litre)"
)


def module_for(topic: str) -> str | None:
    text = (topic or "").lower()
    for code, words in KEYWORDS:
        if any(word in text for word in words):
            return code
    return None


def forward(apps, schema_editor):
    TrainingModule = apps.get_model("enterprises", "TrainingModule")
    TrainingSession = apps.get_model("enterprises", "TrainingSession")
    Adoption = apps.get_model("enterprises", "Adoption")
    Enterprise = apps.get_model("enterprises", "Enterprise")
    HistoricalEnterprise = apps.get_model("enterprises", "HistoricalEnterprise")
    Kpi = apps.get_model("enterprises", "Kpi")

    modules = {}
    for position, (code, name, climate, description) in enumerate(MODULES):
        modules[code], _created = TrainingModule.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "climate_vulnerability": climate,
                "description": description,
                "position": position,
            },
        )
    topics = TrainingSession.objects.filter(module__isnull=True).values_list("topic", flat=True).distinct()
    for topic in topics:
        code = module_for(topic)
        if code:
            TrainingSession.objects.filter(module__isnull=True, topic=topic).update(module=modules[code])

    Adoption.objects.filter(verified_by__partner_organization__isnull=False).update(
        evidence_observed_on=F("verified_on"), verified_on=None, verified_by=None
    )
    Adoption.objects.filter(verified_by__isnull=True, verified_on__isnull=False).update(
        evidence_observed_on=F("verified_on"), verified_on=None
    )

    first = HistoricalEnterprise.objects.filter(id=OuterRef("pk")).order_by("history_date", "history_id")
    Enterprise.objects.filter(wage_employed_male_at_registration__isnull=True).update(
        wage_employed_male_at_registration=Coalesce(
            Subquery(first.values("wage_employed_male")[:1]), "wage_employed_male"
        ),
        wage_employed_female_at_registration=Coalesce(
            Subquery(first.values("wage_employed_female")[:1]), "wage_employed_female"
        ),
    )

    Kpi.objects.filter(code__in=["PM25", "COD"]).update(adds_up=False)
    Kpi.objects.filter(code="DIESEL", co2e_kg_per_unit__isnull=True).update(
        co2e_kg_per_unit=DIESEL_FACTOR, co2e_factor_source=DIESEL_SOURCE
    )


def backward(apps, schema_editor):
    # The catalogue goes with the schema (previous migration); mappings and evidence dates stay.
    apps.get_model("enterprises", "TrainingSession").objects.update(module=None)


GRANTS = {
    "PMU officer": [
        "enterprises.view_trainingmodule",
        "enterprises.add_trainingmodule",
        "enterprises.change_trainingmodule",
    ],
    "PO staff": ["enterprises.view_trainingmodule"],
    "World Bank reviewer": ["enterprises.view_trainingmodule"],
    "PKSF approver": ["enterprises.view_trainingmodule"],
    "TEC member": ["enterprises.view_trainingmodule"],
}


class Migration(migrations.Migration):
    dependencies = [("enterprises", "0007_field_evidence_and_results"), ("core", "0004_verifier_role")]

    operations = [
        migrations.RunPython(forward, backward),
        migrations.RunPython(
            partial(grant_permissions, grants=GRANTS), partial(revoke_permissions, grants=GRANTS)
        ),
    ]
