"""The exclusion list as first kept by the PMU: activities the programme never finances, in the style
of the World Bank Group / IFC exclusion list, adapted to microenterprise finance in Bangladesh.

The codes are stable slugs (the API, imports and tests name items by them). Running the seed again
adds what is missing and leaves the PMU's later edits alone; reversing removes the seeded items.
"""

from django.db import migrations

# (code, activity, what it covers), in the order the list shows them.
EXCLUSION_LIST = [
    (
        "forced-child-labour",
        "Forced labour or harmful child labour",
        "Production or activities involving forced labour, or child labour: any worker under 14, or "
        "under 18 in hazardous work (Bangladesh Labour Act 2006; ILO conventions 29, 105, 138, 182).",
    ),
    (
        "illegal-under-bangladesh-law",
        "Production or trade illegal under Bangladesh law",
        "Any product or activity illegal under the laws or regulations of Bangladesh, or under "
        "international conventions and agreements Bangladesh has ratified.",
    ),
    (
        "weapons-munitions",
        "Weapons and munitions",
        "Production of or trade in weapons, munitions, explosives and their parts, fireworks included.",
    ),
    (
        "hazardous-chemicals-phase-out",
        "Hazardous chemicals and pesticides under international phase-out",
        "Production of or trade in pharmaceuticals, pesticides, herbicides or other hazardous chemicals "
        "subject to international phase-out or bans (Stockholm Convention on persistent organic "
        "pollutants, Rotterdam Convention, WHO class Ia/Ib pesticides).",
    ),
    (
        "ozone-depleting-substances",
        "Ozone-depleting substances",
        "Production of or trade in ozone-depleting substances subject to international phase-out "
        "(Montreal Protocol), e.g. CFC refrigerants and halons.",
    ),
    (
        "cites-wildlife",
        "Wildlife and wildlife products regulated under CITES",
        "Trade in wild animals, plants or their products regulated under the Convention on "
        "International Trade in Endangered Species (CITES), and hunting or trade banned by the "
        "Bangladesh Wildlife (Conservation and Security) Act 2012.",
    ),
    (
        "protected-areas-critical-habitats",
        "Activities in protected areas or critical habitats",
        "Activities inside, or that degrade or destroy, protected areas, ecologically critical areas, "
        "critical natural habitats, wetlands of importance (e.g. the Sundarbans, haors) or "
        "archaeological and cultural heritage sites.",
    ),
    (
        "primary-forest-logging",
        "Commercial logging in primary tropical forest",
        "Commercial logging, or purchase of logging equipment for use, in primary tropical moist "
        "forest or old-growth forest; conversion of natural forest.",
    ),
    (
        "unsustainable-fishing",
        "Unsustainable fishing methods",
        "Drift-net fishing in the marine environment with nets longer than 2.5 km, fishing with "
        "current nets (monofilament gill nets), poison or explosives, and fishing of banned species or "
        "in banned seasons (e.g. hilsa jatka).",
    ),
    (
        "radioactive-materials",
        "Radioactive materials",
        "Production of or trade in radioactive materials (medical, measuring and quality control "
        "equipment with a negligible source excepted).",
    ),
    (
        "asbestos",
        "Asbestos fibres and asbestos products",
        "Production of, trade in or use of unbonded asbestos fibres, or of bonded asbestos products "
        "(asbestos-cement sheets included).",
    ),
    (
        "transboundary-waste",
        "Cross-border trade in waste",
        "Import, export or trade in waste and waste products, hazardous waste included, unless "
        "compliant with the Basel Convention and Bangladesh law; ship-breaking without the required "
        "clearances.",
    ),
    (
        "pcbs",
        "Products containing PCBs",
        "Production of or trade in products containing polychlorinated biphenyls (PCBs), e.g. old "
        "transformers and capacitors.",
    ),
    (
        "tobacco",
        "Tobacco",
        "Production of or trade in tobacco and tobacco products (bidi and jarda included).",
    ),
    (
        "alcohol-drugs",
        "Alcoholic beverages and narcotics",
        "Production of or trade in alcoholic beverages (beer and wine excepted where lawful) and "
        "narcotics or psychotropic substances.",
    ),
    (
        "gambling",
        "Gambling, casinos and equivalent",
        "Gambling, casinos, lotteries and equivalent enterprises.",
    ),
    (
        "pornography-prostitution",
        "Pornography and prostitution",
        "Production, trade or services involving pornography or prostitution, and any activity "
        "involving human trafficking.",
    ),
    (
        "involuntary-resettlement",
        "Activities needing involuntary resettlement",
        "Activities that need land acquisition with involuntary resettlement or the physical or "
        "economic displacement of people, or that affect indigenous peoples' land without their free, "
        "prior and informed consent.",
    ),
]


def seed(apps, schema_editor):
    ExclusionItem = apps.get_model("safeguards", "ExclusionItem")
    for position, (code, name, description) in enumerate(EXCLUSION_LIST, start=1):
        ExclusionItem.objects.get_or_create(
            code=code, defaults={"name": name, "description": description, "position": position * 10}
        )


def unseed(apps, schema_editor):
    ExclusionItem = apps.get_model("safeguards", "ExclusionItem")
    ExclusionItem.objects.filter(code__in=[code for code, _name, _description in EXCLUSION_LIST]).delete()


class Migration(migrations.Migration):
    dependencies = [("safeguards", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
