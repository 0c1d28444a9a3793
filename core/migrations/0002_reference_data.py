"""Reference data of SPEC 5: 3 business areas, 9 sectors, 21 sub-sectors (names as in the SMART
newsletter, Jan-Jun 2024) and Bangladesh's 8 divisions, 64 districts and 507 upazilas / city
corporations from OCHA/HDX COD-AB v03 (see core/data/README.md for source and licence)."""

import json
from pathlib import Path

from django.db import migrations

SECTORS = [
    (
        "agriculture",
        "Agriculture",
        [
            ("horticulture", "Horticulture", [("high-value-crops", "High-value Crops")]),
            ("livestock", "Livestock", [("cattle-buffalo", "Cattle and Buffalo"), ("poultry", "Poultry")]),
            ("aquaculture", "Aquaculture", [("pisciculture", "Pisciculture")]),
        ],
    ),
    (
        "manufacturing",
        "Manufacturing and processing",
        [
            ("footwear-leather", "Footwear and Leather Products", [("leather-products", "Leather Products")]),
            (
                "mini-textile",
                "Mini Textile",
                [
                    ("mini-garments", "Mini Garments"),
                    ("loom", "Loom"),
                    ("handicrafts", "High-value Handicrafts"),
                ],
            ),
            (
                "light-engineering",
                "Light Engineering",
                [
                    ("machinery-equipment", "Machinery and Equipment"),
                    ("eco-construction-materials", "Eco-friendly Construction Materials"),
                    ("metal-products", "Metal Products (imitation, metallic, steel)"),
                ],
            ),
            ("plastic-recycling", "Plastic Recycling", [("plastic-recycling", "Plastic Recycling")]),
            (
                "food-processing",
                "Food Processing",
                [
                    ("salt-processing", "Salt Processing"),
                    ("dry-fish", "Dry Fish Processing and Trade"),
                    ("rice-mill", "Rice Mill"),
                    ("jaggery", "Jaggery Processing"),
                ],
            ),
        ],
    ),
    (
        "service",
        "Service",
        [
            (
                "service",
                "Service",
                [
                    ("eco-tourism", "Eco-friendly Tourism Development"),
                    (
                        "logistics-it",
                        "New Logistics, Packaging, Transportation including courier service, IT Services",
                    ),
                    ("waste-management", "Waste Management Services"),
                    ("food-service", "Restaurants, Street and Bakery Food"),
                    ("automobile-workshop", "Automobile Workshop"),
                ],
            ),
        ],
    ),
]

AREAS_FILE = Path(__file__).resolve().parent.parent / "data" / "bd_admin_areas.json"


def load(apps, schema_editor):
    BusinessArea = apps.get_model("core", "BusinessArea")
    Sector = apps.get_model("core", "Sector")
    SubSector = apps.get_model("core", "SubSector")
    sector_position = sub_position = 0
    for area_position, (area_code, area_name, sectors) in enumerate(SECTORS):
        area = BusinessArea.objects.create(code=area_code, name=area_name, position=area_position)
        for sector_code, sector_name, sub_sectors in sectors:
            sector_position += 1
            sector = Sector.objects.create(
                code=sector_code, name=sector_name, business_area=area, position=sector_position
            )
            for sub_code, sub_name in sub_sectors:
                sub_position += 1
                SubSector.objects.create(code=sub_code, name=sub_name, sector=sector, position=sub_position)

    Division = apps.get_model("core", "Division")
    District = apps.get_model("core", "District")
    Upazila = apps.get_model("core", "Upazila")
    areas = json.loads(AREAS_FILE.read_text(encoding="utf-8"))
    divisions = {
        row["pcode"]: Division.objects.create(
            pcode=row["pcode"], name=row["name"], latitude=row["lat"], longitude=row["lon"]
        )
        for row in areas["divisions"]
    }
    districts = {
        row["pcode"]: District.objects.create(
            pcode=row["pcode"],
            name=row["name"],
            division=divisions[row["division"]],
            area_sqkm=row["area_sqkm"],
            latitude=row["lat"],
            longitude=row["lon"],
        )
        for row in areas["districts"]
    }
    Upazila.objects.bulk_create(
        Upazila(
            pcode=row["pcode"],
            name=row["name"],
            district=districts[row["district"]],
            latitude=row["lat"],
            longitude=row["lon"],
        )
        for row in areas["upazilas"]
    )


def unload(apps, schema_editor):
    for model in ("Upazila", "District", "Division", "SubSector", "Sector", "BusinessArea"):
        apps.get_model("core", model).objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial")]

    operations = [migrations.RunPython(load, unload)]
