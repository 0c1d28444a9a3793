"""Demo data for core: a dozen Partner Organizations, the demo logins of SPEC 7, climate flags.

Organization and person names are invented; the districts, sectors and dates are real.
"""

from __future__ import annotations

from datetime import date

from django.contrib.auth.models import Group

from core.models import ClimateHazard, District, PartnerOrganization, RegistrationAuthority, User
from core.roles import GROUP_NAMES, Role

DEMO_PASSWORD = "smart-demo"  # noqa: S105 - published demo password, refused outside DEBUG

# username, role, first name, last name, PO code
DEMO_USERS = [
    ("pmu", Role.PMU_OFFICER, "Farhana", "Akter", None),
    ("approver", Role.PKSF_APPROVER, "Kamrul", "Hasan", None),
    ("wb", Role.WORLD_BANK, "Elena", "Marsh", None),
    ("tec1", Role.TEC_MEMBER, "Nazmul", "Ahsan", None),
    ("tec2", Role.TEC_MEMBER, "Shirin", "Sultana", None),
    ("tec3", Role.TEC_MEMBER, "Anwar", "Hossain", None),
    ("po1", Role.PO_STAFF, "Rafiqul", "Islam", "PO-001"),
    ("po2", Role.PO_STAFF, "Tahmina", "Begum", "PO-002"),
    ("verifier", Role.VERIFIER, "Nusrat", "Jahan", None),
    # The PMU's specialists (SPEC 2) and a PO's grievance focal point.
    ("es", Role.ES_OFFICER, "Sabrina", "Rahman", None),
    ("grm", Role.GRIEVANCE_FOCAL_POINT, "Mahbub", "Alam", None),
    ("seah", Role.SEAH_FOCAL_POINT, "Rokeya", "Khatun", None),
    ("grm1", Role.GRIEVANCE_FOCAL_POINT, "Jahangir", "Kabir", "PO-001"),
    # PKSF finance: approves and records releases, prepares the interim financial reports.
    ("finance", Role.FINANCE_OFFICER, "Mizanur", "Rahman", None),
]

# Roles a demo login holds besides its own: the specialists are PMU officers, a PO's focal point is
# one of its staff.
DEMO_EXTRA_ROLES: dict[str, tuple[Role, ...]] = {
    "es": (Role.PMU_OFFICER,),
    "grm": (Role.PMU_OFFICER,),
    "seah": (Role.PMU_OFFICER,),
    "grm1": (Role.PO_STAFF,),
}

DEMO_NOTES = {
    "tec1": "chairs the TEC meetings",
    "verifier": "field monitor of Delta M&E Consultants, the third-party monitoring firm",
    "es": "PMU officer and E&S officer",
    "grm": "PMU officer and the PMU's grievance focal point",
    "seah": "PMU officer and SEA/SH focal point: the only one who sees SEA/SH cases",
    "grm1": "staff of PO-001 and its grievance focal point",
    "finance": "PKSF finance officer: approves releases to POs and prepares the IFRs",
}

# Shown on the account (invented firm).
DEMO_DESIGNATIONS = {"verifier": "Field monitor, Delta M&E Consultants"}

# code, name, short name, head-office district, districts of operation
DEMO_POS = [
    (
        "PO-001",
        "Padma Unnayan Sangstha",
        "PUS",
        "Kishoreganj",
        ["Kishoreganj", "Narsingdi", "Dhaka", "Gazipur"],
    ),
    ("PO-002", "Meghna Jono Kallyan Foundation", "MJKF", "Satkhira", ["Satkhira", "Khulna", "Bagerhat"]),
    ("PO-003", "Jamuna Samaj Kalyan Sangstha", "JSKS", "Sirajganj", ["Sirajganj", "Bogura", "Pabna"]),
    (
        "PO-004",
        "Karnaphuli Palli Unnayan Kendra",
        "KPUK",
        "Chattogram",
        ["Chattogram", "Cox's Bazar", "Feni"],
    ),
    ("PO-005", "Teesta Gramin Bikash Sangstha", "TGBS", "Rangpur", ["Rangpur", "Kurigram", "Lalmonirhat"]),
    ("PO-006", "Surma Nari Unnayan Foundation", "SNUF", "Sylhet", ["Sylhet", "Sunamganj", "Moulvibazar"]),
    (
        "PO-007",
        "Barind Krishi Unnayan Sangstha",
        "BKUS",
        "Rajshahi",
        ["Rajshahi", "Naogaon", "Chapainababganj"],
    ),
    (
        "PO-008",
        "Kirtankhola Shishu o Paribar Kalyan Sangstha",
        "KSPKS",
        "Barishal",
        ["Barishal", "Patuakhali", "Bhola"],
    ),
    ("PO-009", "Madhumati Shilpa Unnayan Sangstha", "MSUS", "Jashore", ["Jashore", "Narail", "Magura"]),
    (
        "PO-010",
        "Brahmaputra Samaj Unnayan Sangstha",
        "BSUS",
        "Mymensingh",
        ["Mymensingh", "Jamalpur", "Netrakona"],
    ),
    ("PO-011", "Dhaleshwari Palli Sheba", "DPS", "Tangail", ["Tangail", "Manikganj"]),
    ("PO-012", "Gorai Jibika Unnayan Kendra", "GJUK", "Kushtia", ["Kushtia", "Jhenaidah", "Chuadanga"]),
]

# Demo climate flags. The 19 districts of the Coastal Zone Policy (2005), the haor basin, the Barind
# drought belt and the Jamuna/Teesta erosion belt. The PMU sets the programme's real flags.
DEMO_CLIMATE_FLAGS = {
    ClimateHazard.COASTAL: [
        "Bagerhat",
        "Barguna",
        "Barishal",
        "Bhola",
        "Chandpur",
        "Chattogram",
        "Cox's Bazar",
        "Feni",
        "Gopalganj",
        "Jashore",
        "Jhalokati",
        "Khulna",
        "Lakshmipur",
        "Narail",
        "Noakhali",
        "Patuakhali",
        "Pirojpur",
        "Satkhira",
        "Shariatpur",
    ],
    ClimateHazard.CYCLONE: [
        "Bagerhat",
        "Barguna",
        "Bhola",
        "Cox's Bazar",
        "Khulna",
        "Patuakhali",
        "Satkhira",
    ],
    ClimateHazard.FLASH_FLOOD: ["Sunamganj", "Netrakona", "Kishoreganj", "Habiganj", "Sylhet", "Moulvibazar"],
    ClimateHazard.DROUGHT: ["Rajshahi", "Naogaon", "Chapainababganj"],
    ClimateHazard.RIVER_EROSION: ["Kurigram", "Gaibandha", "Sirajganj", "Jamalpur", "Lalmonirhat"],
}


def seed(stdout) -> None:
    districts = {district.name: district for district in District.objects.all()}
    _seed_climate_flags(districts)
    for index, (code, name, short_name, head_office, operating) in enumerate(DEMO_POS, start=1):
        po, created = PartnerOrganization.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "short_name": short_name,
                "registration_authority": RegistrationAuthority.MRA,
                "registration_number": f"{1000 + 37 * index:05d}-{index:05d}-{200 + index}",
                "registered_on": date(2008 + index % 9, 1 + index % 12, 5 + index),
                "pksf_partner_since": 1995 + index,
                "head_office_address": f"House {10 + index}, Sadar Road\n{head_office}",
                "head_office_district": districts[head_office],
                "contact_person": "Executive Director",
                "contact_designation": "Executive Director",
                "email": f"ed@{short_name.lower()}.org.bd",
                "phone": f"+88017{index:02d}{index * 7919 % 1000000:06d}",
            },
        )
        if created:
            po.districts.set([districts[d] for d in operating])
    _seed_users()
    stdout.write(f"  core: {PartnerOrganization.objects.count()} Partner Organizations, demo logins ready")


def _seed_climate_flags(districts: dict[str, District]) -> None:
    if District.objects.filter(climate_vulnerable=True).exists():
        return  # the PMU (or an earlier run) has set flags: leave them alone
    hazards_by_district: dict[str, list[str]] = {}
    for hazard, names in DEMO_CLIMATE_FLAGS.items():
        for district_name in names:
            hazards_by_district.setdefault(district_name, []).append(hazard.value)
    for district_name, hazards in hazards_by_district.items():
        district = districts[district_name]
        district.climate_vulnerable = True
        district.climate_hazards = hazards
        district.save(update_fields=["climate_vulnerable", "climate_hazards"])


def _seed_users() -> None:
    pos = {po.code: po for po in PartnerOrganization.objects.all()}
    for username, role, first_name, last_name, po_code in DEMO_USERS:
        user, created = User.objects.get_or_create(
            username=username,
            defaults={
                "first_name": first_name,
                "last_name": last_name,
                "email": f"{username}@demo.smart.pksf.org.bd",
                "partner_organization": pos.get(po_code),
                # PMU officers manage reference data in the admin site as well.
                "is_staff": Role.PMU_OFFICER in (role, *DEMO_EXTRA_ROLES.get(username, ())),
                "designation": DEMO_DESIGNATIONS.get(username, ""),
            },
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        for held in (role, *DEMO_EXTRA_ROLES.get(username, ())):
            user.groups.add(Group.objects.get(name=GROUP_NAMES[held]))
