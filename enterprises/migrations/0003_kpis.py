"""The environmental KPI catalogue: SPEC 5's six, and two energy KPIs the SMART sub-sectors need.

Biomass fuel (rice husk, firewood, bagasse) is the main energy of rice mills, jaggery furnaces,
salt boiling and food stalls; diesel runs generators, irrigation pumps and delivery vehicles. Without
them the energy-efficiency practices of those sub-sectors (EE-03, EE-05, EE-06, EE-12) would have no
KPI to show their effect. Plausible ranges catch typing errors (an extra zero) for a microenterprise.
"""

from django.db import migrations

KPIS = [
    # code, name, unit, category, direction, min, max, how to measure
    ("ELECTRICITY", "Electricity consumption", "kWh/month", "energy", "lower", 0, 100_000,
     "From the monthly electricity bill or a sub-meter."),
    ("WATER", "Water consumption", "m³/month", "water", "lower", 0, 50_000,
     "From a water meter, or pump running hours × pump flow."),
    ("SOLID_WASTE", "Solid waste generated", "kg/month", "waste", "lower", 0, 500_000,
     "Weighed waste leaving the enterprise (all streams)."),
    ("WASTE_RECYCLED", "Waste recycled or reused", "kg/month", "waste", "higher", 0, 500_000,
     "Weighed waste sold, given for recycling or reused on site."),
    ("PM25", "PM2.5 concentration at the workplace", "µg/m³", "air", "lower", 0, 1_000,
     "Handheld particle counter, mean over a working shift."),
    ("COD", "Wastewater chemical oxygen demand", "mg/L", "water", "lower", 0, 50_000,
     "Laboratory test of a grab sample of the effluent."),
    ("BIOMASS_FUEL", "Biomass fuel used", "kg/month", "energy", "lower", 0, 500_000,
     "Rice husk, firewood or bagasse bought or used, weighed or from purchase records."),
    ("DIESEL", "Diesel used", "L/month", "energy", "lower", 0, 20_000,
     "From fuel purchase records for generators, pumps and vehicles."),
]  # fmt: skip


def load(apps, schema_editor):
    Kpi = apps.get_model("enterprises", "Kpi")
    for position, (code, name, unit, category, direction, low, high, how) in enumerate(KPIS):
        Kpi.objects.create(
            code=code,
            name=name,
            unit=unit,
            category=category,
            direction=direction,
            min_value=low,
            max_value=high,
            description=how,
            position=position,
        )


def unload(apps, schema_editor):
    apps.get_model("enterprises", "Kpi").objects.filter(code__in=[k[0] for k in KPIS]).delete()


class Migration(migrations.Migration):
    dependencies = [("enterprises", "0002_recp_practices")]

    operations = [migrations.RunPython(load, unload)]
