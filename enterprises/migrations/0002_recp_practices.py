"""The RECP practice catalogue: 45 climate-resilient Resource-Efficient and Cleaner Production
practices in the six categories of SPEC 5, each with the sub-sectors it suits (an empty list means
every sub-sector). Compiled from the SMART sub-sectors' typical processes (the World Bank expert
team's areas: air quality, energy efficiency, water and waste); the PMU maintains it in the admin
site from here on."""

from django.db import migrations

ALL = []
AGRI = ["high-value-crops", "cattle-buffalo", "poultry", "pisciculture"]
TEXTILE = ["mini-garments", "loom", "handicrafts"]
ENGINEERING = ["machinery-equipment", "metal-products", "automobile-workshop"]
FOOD = ["salt-processing", "dry-fish", "rice-mill", "jaggery", "food-service"]

PRACTICES = [
    # code, name, category, sub-sectors, description
    ("EE-01", "LED lighting and daylighting", "energy", ALL,
     "Replace incandescent and tube lights with LEDs; use skylights and light-coloured walls."),
    ("EE-02", "Energy-efficient motors and variable-speed drives", "energy",
     ["machinery-equipment", "metal-products", "rice-mill", "loom", "mini-garments", "plastic-recycling", "salt-processing"],
     "IE3 motors sized to the load; drives on pumps, fans and crushers."),
    ("EE-03", "Fuel-efficient cookstoves and ovens", "energy", ["food-service", "salt-processing", "dry-fish", "eco-tourism"],
     "Improved chulas and insulated ovens that cut firewood or gas use by a third or more."),
    ("EE-04", "Solar PV for lighting, pumping or machinery", "energy", ALL,
     "Rooftop or ground-mounted solar with batteries or net metering."),
    ("EE-05", "Husk-fired boiler and improved parboiling", "energy", ["rice-mill"],
     "Efficient husk furnace and parboiling vessel with steam recovery."),
    ("EE-06", "Energy-efficient jaggery furnace", "energy", ["jaggery"],
     "Multi-pan furnace with heat recovery, fired with dried bagasse instead of firewood."),
    ("EE-07", "Solar dryers", "energy", ["dry-fish", "high-value-crops", "pisciculture"],
     "Closed solar tunnel or cabinet dryers: faster, hygienic drying without fuel."),
    ("EE-08", "Power-factor correction and machine maintenance", "energy",
     ["machinery-equipment", "metal-products", "plastic-recycling", "automobile-workshop", "loom"],
     "Capacitor banks, compressed-air leak repair and a maintenance schedule."),
    ("EE-09", "Efficient cold chain (insulated boxes, solar or efficient chillers)", "energy",
     ["pisciculture", "dry-fish", "food-service", "high-value-crops"],
     "Insulated ice boxes and efficient refrigeration that cut losses and electricity."),
    ("EE-10", "Energy-efficient kilns", "energy", ["eco-construction-materials"],
     "Zigzag, hybrid Hoffman or tunnel kilns in place of fixed-chimney kilns."),
    ("EE-11", "Climate-smart animal sheds", "energy", ["poultry", "cattle-buffalo"],
     "Natural ventilation, insulated roofs and efficient fans and lights in sheds."),
    ("EE-12", "Route planning and vehicle maintenance", "energy", ["logistics-it", "automobile-workshop"],
     "Planned routes, tyre pressure and engine tuning to save fuel."),
    ("WA-01", "Drip or sprinkler irrigation", "water", ["high-value-crops"],
     "Micro-irrigation with scheduling; saves water and pumping energy."),
    ("WA-02", "Rainwater harvesting", "water", ALL,
     "Roof catchment and storage for washing, animals or irrigation."),
    ("WA-03", "Water metering and leak repair", "water", ALL,
     "Meters on the main uses, repaired taps and pipes, trigger nozzles on hoses."),
    ("WA-04", "Re-use of process and washing water", "water",
     ["dry-fish", "salt-processing", "rice-mill", "food-service", "leather-products", "automobile-workshop", "plastic-recycling"],
     "Settle and re-use washing water for the first wash or cleaning."),
    ("WA-05", "Pond water-quality management and recirculation", "water", ["pisciculture"],
     "Aeration, stocking density and water exchange by measured quality; biofloc where suited."),
    ("WA-06", "Low-cost effluent treatment", "water",
     ["leather-products", "dry-fish", "rice-mill", "cattle-buffalo", "metal-products", "loom", "mini-garments"],
     "Screens, settling tanks and a planted filter bed before discharge."),
    ("WS-01", "Waste segregation at source", "waste", ALL,
     "Separate bins for organic, recyclable and hazardous waste; sold or collected separately."),
    ("WS-02", "Composting and vermicomposting", "waste",
     ["high-value-crops", "cattle-buffalo", "poultry", "food-service", "jaggery", "waste-management", "eco-tourism"],
     "Organic waste turned into compost for own use or sale."),
    ("WS-03", "Biogas digester", "waste", ["cattle-buffalo", "poultry", "food-service", "waste-management"],
     "Manure or kitchen waste digested to cooking gas and slurry fertiliser."),
    ("WS-04", "Recycling of production off-cuts", "waste",
     ["leather-products", "mini-garments", "loom", "handicrafts", "metal-products", "machinery-equipment", "plastic-recycling"],
     "Leather, fabric, metal or plastic scrap collected and recycled, e.g. into soles or pellets."),
    ("WS-05", "Used oil and battery take-back", "waste", ["automobile-workshop", "machinery-equipment", "logistics-it", "metal-products"],
     "Used oil, filters and batteries stored in drums and handed to licensed recyclers."),
    ("WS-06", "Rice husk and bran by-products", "waste", ["rice-mill"],
     "Husk briquettes, husk ash for cement and bran oil instead of dumping."),
    ("WS-07", "Litter and fish-waste valorisation", "waste", ["poultry", "dry-fish", "pisciculture"],
     "Poultry litter and fish offal processed into fertiliser or feed."),
    ("WS-08", "Plastic washing line with sorting by polymer", "waste", ["plastic-recycling", "waste-management"],
     "Sorting by polymer and colour, washing with water recovery, fines captured."),
    ("WS-09", "Reusable or recyclable packaging", "waste",
     ["food-service", "logistics-it", "high-value-crops", "jaggery", "handicrafts", "salt-processing"],
     "Jute, paper or returnable crates instead of single-use plastic."),
    ("WS-10", "E-waste collection through licensed recyclers", "waste", ["logistics-it"],
     "Old phones, computers and batteries handed to licensed e-waste recyclers."),
    ("WS-11", "Door-to-door collection with segregated transport", "waste", ["waste-management"],
     "Collection vans with separate compartments and a material recovery point."),
    ("AQ-01", "Adequate chimney and simple dust control", "air",
     ["eco-construction-materials", "rice-mill", "jaggery", "metal-products", "salt-processing"],
     "Stack of adequate height, cyclone or wet scrubber for dust and smoke."),
    ("AQ-02", "Local exhaust ventilation at work stations", "air",
     ["leather-products", "machinery-equipment", "metal-products", "plastic-recycling", "handicrafts", "automobile-workshop"],
     "Hoods and fans over gluing, welding, grinding, melting and painting."),
    ("AQ-03", "Water-based adhesives and low-VOC paints", "air",
     ["leather-products", "handicrafts", "automobile-workshop", "eco-construction-materials"],
     "Solvent-free glues and paints that cut fumes in the workshop."),
    ("AQ-04", "No open burning of waste", "air", ALL,
     "Waste collected or recycled instead of burnt in the open."),
    ("AQ-05", "Clean cooking and heating fuel", "air", ["food-service", "eco-tourism", "jaggery", "dry-fish"],
     "LPG, electric or biogas instead of firewood, kerosene or tyres."),
    ("MC-01", "Safe chemical storage and handling", "materials",
     ["leather-products", "metal-products", "automobile-workshop", "plastic-recycling", "mini-garments", "loom", "high-value-crops"],
     "Labelled, bunded storage, safety data sheets and personal protective equipment."),
    ("MC-02", "Integrated pest management and bio-pesticides", "materials", ["high-value-crops"],
     "Pheromone traps, bio-pesticides and threshold-based spraying."),
    ("MC-03", "Natural or azo-free dyes and dye-bath re-use", "materials", ["loom", "mini-garments", "handicrafts"],
     "Safer dyes and re-used dye baths."),
    ("MC-04", "Hygienic fish drying without pesticides", "materials", ["dry-fish"],
     "Raised racks, nets and salt curing instead of pesticides on drying fish."),
    ("MC-05", "Efficient brine use and iodisation quality control", "materials", ["salt-processing"],
     "Measured iodisation and brine re-use in salt refining."),
    ("MC-06", "Non-fired blocks and fly-ash bricks", "materials", ["eco-construction-materials"],
     "Compressed stabilised earth or concrete blocks instead of fired clay bricks."),
    ("MC-07", "Prudent feed and veterinary medicine use", "materials", ["poultry", "cattle-buffalo", "pisciculture"],
     "Balanced feed, no antibiotic growth promoters, vaccination schedules."),
    ("MC-08", "Cutting-pattern optimisation", "materials", ["leather-products", "mini-garments", "metal-products", "handicrafts"],
     "Marker planning or design software to cut more pieces from the same material."),
    ("CR-01", "Raised plinths and flood-proof storage", "climate_resilience", ALL,
     "Machinery, stock and inputs kept above the highest recent flood level."),
    ("CR-02", "Stress-tolerant crop varieties", "climate_resilience", ["high-value-crops"],
     "Saline-, flood- or drought-tolerant varieties suited to the area."),
    ("CR-03", "Heat-stress management for animals", "climate_resilience", ["cattle-buffalo", "poultry"],
     "Shade, cooling, clean water and adjusted feeding in heatwaves."),
    ("CR-04", "Raised pond dykes and net fencing", "climate_resilience", ["pisciculture"],
     "Dykes above flood level and nets so fish are not lost in floods."),
    ("CR-05", "Cyclone-resistant structures and early-warning plan", "climate_resilience",
     ["salt-processing", "dry-fish", "pisciculture", "eco-tourism"],
     "Anchored roofs, storage on high ground and a plan triggered by cyclone signals."),
    ("CR-06", "Business continuity plan for climate shocks", "climate_resilience", ALL,
     "What to protect, whom to call and how to restart after a flood, cyclone or heatwave."),
    ("CR-07", "Nature-based eco-tourism practices", "climate_resilience", ["eco-tourism"],
     "Local materials, no single-use plastic and visitor limits that protect the site."),
]  # fmt: skip


def load(apps, schema_editor):
    RecpPractice = apps.get_model("enterprises", "RecpPractice")
    SubSector = apps.get_model("core", "SubSector")
    sub_sectors = {sub.code: sub for sub in SubSector.objects.all()}
    for code, name, category, subs, description in PRACTICES:
        practice = RecpPractice.objects.create(
            code=code, name=name, category=category, description=description
        )
        practice.applicable_sub_sectors.set([sub_sectors[sub] for sub in subs])


def unload(apps, schema_editor):
    apps.get_model("enterprises", "RecpPractice").objects.filter(code__in=[p[0] for p in PRACTICES]).delete()


class Migration(migrations.Migration):
    dependencies = [("enterprises", "0001_initial"), ("core", "0002_reference_data")]

    operations = [migrations.RunPython(load, unload)]
