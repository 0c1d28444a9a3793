"""Believable synthetic field data, for the demo (`seed_demo`) and for programme-scale benchmarks
(`generate_scale`). Everything is drawn from one seeded random generator, so a run is repeatable.

Distributions follow the seeds' facts where they exist (5.91 jobs per ME; a women-led share set by
the sub-project, about 35-40 % overall) and otherwise aim at the programme's targets, so dashboards
look plausible: ~95 % of MEs financed (mostly World Bank money, some PKSF and PO money), ~75 % with a
knowledge gain (half the sessions of a module tagged climate vulnerability), adoptions reported by the
PO's staff with the date seen in use and ~60 % of them verified independently (by a verifier or the
PMU), ~35 % with a validated RECP profile, ~60 % tracking KPIs, most operational facilities confirmed.
Rows are written with `bulk_create` in batches, enterprise by enterprise batch, so memory stays flat
at 80,000 MEs; with `copy=True` on PostgreSQL (the scale data) they go through COPY instead, readings
as plain tuples rather than model instances, so 800,000 MEs and their ~15 M KPI readings are practical.
"""

from __future__ import annotations

import io
import math
import random
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.contrib.contenttypes.models import ContentType
from django.db import connection, models
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from core.models import SubSector, Upazila
from enterprises import validation
from enterprises.imports.copy import copy_text, is_plain, stamped
from enterprises.models import (
    Adoption,
    Attendance,
    CommonServiceFacility,
    Enterprise,
    FacilityKind,
    FacilityStatus,
    FinancialSupport,
    Gender,
    Kpi,
    KpiReading,
    ProfileStatus,
    ReadingSource,
    RecpPractice,
    RecpProfile,
    SupportKind,
    TrainingModule,
    TrainingSession,
)
from enterprises.models.recp import verification_state
from subprojects.models import Financier, SubProject, Transition

FEMALE_NAMES = [
    "Rahima",
    "Fatema",
    "Nasima",
    "Shahnaz",
    "Rokeya",
    "Jesmin",
    "Morsheda",
    "Salma",
    "Shirin",
    "Hosne Ara",
    "Kulsum",
    "Rupali",
    "Laily",
    "Parvin",
    "Taslima",
    "Anjuara",
    "Shilpi",
    "Bilkis",
    "Sharmin",
    "Moriom",
    "Jahanara",
    "Rina",
    "Shefali",
    "Kohinur",
    "Nurjahan",
    "Popy",
    "Mousumi",
    "Sathi",
    "Asma",
    "Dipali",
]
MALE_NAMES = [
    "Abdul Karim",
    "Rafiqul",
    "Jamal",
    "Kamal",
    "Mizanur",
    "Shahidul",
    "Anwar",
    "Habibur",
    "Aminul",
    "Nurul",
    "Selim",
    "Harun",
    "Faruk",
    "Babul",
    "Sohel",
    "Jahangir",
    "Monir",
    "Alamgir",
    "Delwar",
    "Mostafa",
    "Abul Kalam",
    "Shafiqul",
    "Rashed",
    "Tofazzal",
    "Gopal",
    "Nitai",
    "Sujon",
    "Masud",
    "Ripon",
    "Liton",
]
FEMALE_SURNAMES = ["Begum", "Khatun", "Akter", "Bibi", "Rani", "Sultana", "Parvin", "Das"]
MALE_SURNAMES = [
    "Islam",
    "Hossain",
    "Rahman",
    "Uddin",
    "Ahmed",
    "Mia",
    "Sarkar",
    "Sheikh",
    "Saha",
    "Mondal",
    "Biswas",
]
PREFIXES = [
    "Maa",
    "Bismillah",
    "Padma",
    "Meghna",
    "Jamuna",
    "Sonali",
    "Nobin",
    "Alif",
    "Madina",
    "Rupsha",
    "Shapla",
    "Nayan",
    "Bhai Bhai",
    "Janata",
    "Ma Babar Doa",
    "Sathi",
    "Amena",
    "Tisha",
    "Rajib",
    "Ekota",
    "Notun Alo",
]
NOUNS = {
    "high-value-crops": ["Agro Farm", "Nursery", "Krishi Khamar", "Vegetable Farm"],
    "cattle-buffalo": ["Dairy Farm", "Gavi Palan Khamar", "Cattle Farm"],
    "poultry": ["Poultry Farm", "Hatchery", "Murgi Khamar"],
    "pisciculture": ["Fish Farm", "Matsya Khamar", "Fish Hatchery"],
    "leather-products": ["Shoe Works", "Leather House", "Footwear", "Shoe Factory"],
    "mini-garments": ["Tailors", "Garments", "Fashion House"],
    "loom": ["Tant Ghar", "Weaving", "Handloom", "Dyeing"],
    "handicrafts": ["Handicrafts", "Nakshi Kantha", "Crafts"],
    "machinery-equipment": ["Engineering Works", "Machine Tools"],
    "eco-construction-materials": ["Block Factory", "Eco Bricks"],
    "metal-products": ["Metal Works", "Steel Furniture", "Welding"],
    "plastic-recycling": ["Plastic Recycling", "Plastic Industries"],
    "salt-processing": ["Salt Industries", "Lobon Mill"],
    "dry-fish": ["Dry Fish", "Shutki Arot", "Shutki Khola"],
    "rice-mill": ["Rice Mill", "Chatal"],
    "jaggery": ["Gur Ghar", "Jaggery"],
    "eco-tourism": ["Eco Resort", "Homestay"],
    "logistics-it": ["Courier", "IT Solutions", "Transport"],
    "waste-management": ["Waste Services", "Recycling Centre"],
    "food-service": ["Restaurant", "Bakery", "Hotel"],
    "automobile-workshop": ["Auto Workshop", "Motors"],
}
# The KPIs an enterprise of a sub-sector would track (electricity for all).
KPI_CODES = {
    "high-value-crops": ["WATER", "DIESEL"],
    "cattle-buffalo": ["WATER", "SOLID_WASTE"],
    "poultry": ["WATER", "SOLID_WASTE"],
    "pisciculture": ["WATER", "DIESEL"],
    "leather-products": ["SOLID_WASTE", "WASTE_RECYCLED", "PM25"],
    "mini-garments": ["SOLID_WASTE", "WASTE_RECYCLED"],
    "loom": ["WATER", "COD", "BIOMASS_FUEL"],
    "handicrafts": ["SOLID_WASTE", "WASTE_RECYCLED"],
    "machinery-equipment": ["PM25", "SOLID_WASTE"],
    "eco-construction-materials": ["PM25", "BIOMASS_FUEL"],
    "metal-products": ["PM25", "SOLID_WASTE", "WASTE_RECYCLED"],
    "plastic-recycling": ["WATER", "WASTE_RECYCLED", "PM25"],
    "salt-processing": ["BIOMASS_FUEL", "PM25", "WATER"],
    "dry-fish": ["WATER", "SOLID_WASTE", "COD"],
    "rice-mill": ["BIOMASS_FUEL", "PM25", "SOLID_WASTE"],
    "jaggery": ["BIOMASS_FUEL", "PM25"],
    "eco-tourism": ["WATER", "SOLID_WASTE"],
    "logistics-it": ["DIESEL", "SOLID_WASTE"],
    "waste-management": ["WASTE_RECYCLED", "DIESEL"],
    "food-service": ["BIOMASS_FUEL", "WATER", "SOLID_WASTE"],
    "automobile-workshop": ["PM25", "WATER", "DIESEL"],
}
# Typical monthly value of a microenterprise, before any RECP practice.
KPI_TYPICAL = {
    "ELECTRICITY": 420,
    "WATER": 35,
    "SOLID_WASTE": 320,
    "WASTE_RECYCLED": 60,
    "PM25": 140,
    "COD": 1600,
    "BIOMASS_FUEL": 2200,
    "DIESEL": 140,
}
PLACES = ["Union Parishad hall", "PO branch office", "CSF training room", "School hall"]
# How POs name their sessions (the module says what it covers; the title is optional).
SESSION_TITLES = [
    "Batch {n} for {sector} entrepreneurs",
    "{sector}: session {n}",
    "Refresher for {sector} owners",
]
# Whose money: mostly the World Bank's credit, some PKSF's own, some the PO's.
FINANCIER_WEIGHTS = ((Financier.WORLD_BANK, 80), (Financier.PKSF, 13), (Financier.PO, 7))
VERIFIED_SHARE = 0.72  # of adoptions seen long enough ago: ~60 % of all adoptions
CONFIRMED_SHARE = 0.85  # of operational facilities opened long enough ago
FACILITY_NAMES = {FacilityKind.REVENUE: "Common Service Centre", FacilityKind.NON_REVENUE: "Shared Facility"}
RISKS = [
    "Workshop and stock flood in heavy monsoon rain",
    "Heat stress for workers in April-June",
    "Cyclone and tidal surge damage to sheds and stock",
    "Power cuts stop machines in summer",
    "Salinity in ground water used for processing",
    "River erosion threatens the premises",
]


READING_FIELDS = ("enterprise_id", "kpi_id", "period", "value", "is_baseline", "source")
SOURCES = [ReadingSource.METER, ReadingSource.MEASUREMENT, ReadingSource.ESTIMATE]


@dataclass
class Plan:
    """How many MEs to create in one sub-project, and from what."""

    sub_project: SubProject
    count: int
    sub_sectors: list[SubSector]
    upazilas: list[Upazila]
    women_share: float
    code_prefix: str = "ME"
    staff_user_id: int | None = None
    start_index: int = 1


@dataclass
class Written:
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, name: str, n: int) -> None:
        self.counts[name] += n


def months_between(first: date, last: date) -> int:
    return (last.year - first.year) * 12 + last.month - first.month


def add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    return date(day.year + month // 12, month % 12 + 1, 1)


class CopyWriter:
    """Model rows into PostgreSQL through COPY FROM STDIN (psycopg2's copy_expert).

    Every concrete field is written, so a column another change adds is filled from its default
    rather than breaking the load. Instances get primary keys reserved from the table's sequence
    first (their children need them); plain tuples (`rows`) leave the key to the column's default."""

    def __init__(self) -> None:
        self.connection = connection

    def _copy(self, model: type[models.Model], columns: list[str], lines: Iterable[str]) -> None:
        buffer = io.StringIO()
        buffer.writelines(lines)
        buffer.seek(0)
        quoted = ", ".join(connection.ops.quote_name(column) for column in columns)
        table = connection.ops.quote_name(model._meta.db_table)
        with connection.cursor() as cursor:
            cursor.cursor.copy_expert(f"COPY {table} ({quoted}) FROM STDIN", buffer)

    def _reserve_keys(self, model: type[models.Model], objects: list) -> None:
        missing = [obj for obj in objects if obj.pk is None]
        if not missing:
            return
        pk = model._meta.pk
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [model._meta.db_table, pk.column, len(missing)],
            )
            for obj, (key,) in zip(missing, cursor.fetchall(), strict=True):
                obj.pk = key

    def _value_of(self, field: models.Field, now_text: str) -> Callable[[models.Model], str]:
        """How one field of an instance becomes COPY text: its attribute as it is for plain fields,
        the time of the batch for `auto_now` ones, Django's preparation for the rest."""
        if stamped(field):
            return lambda _obj: now_text
        attname = field.attname
        if is_plain(field):
            return lambda obj: copy_text(obj.__dict__[attname])
        return lambda obj: copy_text(field.get_db_prep_save(field.pre_save(obj, True), self.connection))

    def instances(self, model: type[models.Model], objects: list) -> list:
        if not objects:
            return objects
        self._reserve_keys(model, objects)
        fields = list(model._meta.concrete_fields)
        now_text = timezone.now().isoformat()
        values = [self._value_of(field, now_text) for field in fields]
        self._copy(
            model,
            [field.column for field in fields],
            ("\t".join([value(obj) for value in values]) + "\n" for obj in objects),
        )
        conn = self.connection
        for obj in objects:
            obj._state.adding = False
            obj._state.db = conn.alias
        return objects

    def rows(self, model: type[models.Model], attnames: tuple[str, ...], rows: list[tuple]) -> int:
        """Plain value tuples for `attnames`; the other columns (but the key) get their defaults,
        computed once for the batch (`auto_now` fields: now)."""
        if not rows:
            return 0
        given = {model._meta.get_field(name).attname: index for index, name in enumerate(attnames)}
        others = [
            field
            for field in model._meta.concrete_fields
            if not field.primary_key and field.attname not in given
        ]
        now = timezone.now()
        constants = "".join(
            "\t"
            + copy_text(
                field.get_db_prep_save(
                    now if stamped(field) else field.get_default(),
                    self.connection,
                )
            )
            for field in others
        )
        fields = [model._meta.get_field(name) for name in attnames]
        text = copy_text
        self._copy(
            model,
            [field.column for field in fields] + [field.column for field in others],
            ("\t".join([text(value) for value in row]) + constants + "\n" for row in rows),
        )
        return len(rows)


class FieldDataGenerator:
    def __init__(
        self,
        *,
        seed: int = 2024,
        today: date | None = None,
        with_history: bool = False,
        readings_per_tracking_me: int = 30,
        kpis_per_me: tuple[int, ...] = (1, 2, 2, 3),
        batch_size: int = 2000,
        report: Callable[[str], None] | None = None,
        copy: bool = False,
    ) -> None:
        self.rng = random.Random(seed)  # noqa: S311 - synthetic data, not security
        self.today = today or validation.today()
        self.last_month = add_months(self.today.replace(day=1), -1)
        self.with_history = with_history
        self.readings_per_tracking_me = readings_per_tracking_me
        self.kpis_per_me = kpis_per_me
        self.batch_size = batch_size
        # COPY only where there is one (PostgreSQL); SQLite keeps bulk_create.
        self.copy = CopyWriter() if copy and connection.vendor == "postgresql" else None
        self.report = report or (lambda message: None)
        self.kpis = {kpi.code: kpi for kpi in Kpi.objects.filter(is_active=True)}
        practices = list(
            RecpPractice.objects.filter(is_active=True).prefetch_related("applicable_sub_sectors")
        )
        self.practices_for: dict[int, list[int]] = defaultdict(list)
        all_subs = list(SubSector.objects.values_list("pk", flat=True))
        for practice in practices:
            subs = [s.pk for s in practice.applicable_sub_sectors.all()] or all_subs
            for sub in subs:
                self.practices_for[sub].append(practice.pk)
        modules = list(TrainingModule.objects.filter(is_active=True))
        self.climate_modules = [m for m in modules if m.climate_vulnerability] or modules
        self.other_modules = [m for m in modules if not m.climate_vulnerability] or modules
        self.written = Written()
        self.phones: list[tuple[int, str]] = []  # (PO, phone) of MEs so far, to plant cross-PO duplicates
        self.planted_phones: set[str] = set()

    # --- enterprises --------------------------------------------------------------------------

    def _date_between(self, first: date, last: date, skew: float = 1.0) -> date:
        if last <= first:
            return first
        span = (last - first).days
        return first + timedelta(days=int(span * self.rng.random() ** skew))

    def _phone(self, po_id: int, plant_rate: float) -> str:
        if self.phones and self.rng.random() < plant_rate:
            others = [
                phone
                for owner, phone in self.rng.sample(self.phones, min(20, len(self.phones)))
                if owner != po_id
            ]
            if others:
                self.planted_phones.add(others[0])
                return others[0]
        phone = f"+8801{self.rng.choice('3456789')}{self.rng.randrange(10**8):08d}"
        if len(self.phones) < 200_000:
            self.phones.append((po_id, phone))
        return phone

    def build_enterprises(
        self, plan: Plan, start: int, count: int, plant_rate: float = 0.0
    ) -> list[Enterprise]:
        rng = self.rng
        sp = plan.sub_project
        hotspots = [
            (u, float(u.latitude) + rng.uniform(-0.02, 0.02), float(u.longitude) + rng.uniform(-0.02, 0.02))
            for u in rng.sample(plan.upazilas, min(3, len(plan.upazilas)))
            if u.latitude is not None
        ]
        latest = max(sp.start_date, self.today - timedelta(days=45))
        built = []
        for index in range(start, start + count):
            female = rng.random() < plan.women_share
            first = rng.choice(FEMALE_NAMES if female else MALE_NAMES)
            owner = f"{first} {rng.choice(FEMALE_SURNAMES if female else MALE_SURNAMES)}"
            sub_sector = rng.choice(plan.sub_sectors)
            prefix = first.split()[0] if rng.random() < 0.4 else rng.choice(PREFIXES)
            name = f"{prefix} {rng.choice(NOUNS.get(sub_sector.code, ['Enterprise']))}"
            roll = rng.random()
            if hotspots and roll < 0.6:
                upazila, lat0, lon0 = rng.choice(hotspots)
                lat, lon = lat0 + rng.gauss(0, 0.008), lon0 + rng.gauss(0, 0.008)  # within ~2 km
            else:
                upazila = rng.choice(plan.upazilas)
                lat = float(upazila.latitude or 23.7) + rng.gauss(0, 0.04)
                lon = float(upazila.longitude or 90.4) + rng.gauss(0, 0.04)
            has_gps = roll < 0.85
            formal = rng.random() < 0.3
            # 5.91 jobs per ME on average (the baseline survey): owner and family plus wage workers.
            self_employed = 1 + (rng.random() < 0.55) + (rng.random() < 0.25)
            wage = min(60, round(rng.lognormvariate(1.15, 0.7)))
            wage_female = sum(rng.random() < (0.45 if female else 0.25) for _ in range(wage))
            enterprise = Enterprise(
                partner_organization_id=sp.partner_organization_id,
                sub_project=sp,
                po_code=f"{plan.code_prefix}-{index:05d}",
                name=name,
                owner_name=owner,
                owner_gender=Gender.FEMALE
                if female
                else (Gender.THIRD_GENDER if rng.random() < 0.002 else Gender.MALE),
                phone=self._phone(sp.partner_organization_id, plant_rate) if rng.random() < 0.93 else "",
                is_formal=formal,
                trade_licence_number=(
                    f"TL/{upazila.district.name[:3].upper()}/{rng.randrange(10**6):06d}/"
                    f"{rng.randint(2010, 2024)}"
                )
                if formal
                else "",
                sub_sector=sub_sector,
                division_id=upazila.district.division_id,
                district=upazila.district,
                upazila=upazila,
                latitude=Decimal(f"{min(max(lat, 20.6), 26.6):.6f}") if has_gps else None,
                longitude=Decimal(f"{min(max(lon, 88.1), 92.6):.6f}") if has_gps else None,
                self_employed=self_employed,
                wage_employed_male=wage - wage_female,
                wage_employed_female=wage_female,
                year_started=rng.randint(1995, min(2023, self.today.year)),
                registered_on=self._date_between(sp.start_date, latest, skew=1.6),
            )
            enterprise.refresh_derived_fields()
            built.append(enterprise)
        return built

    def write_enterprises(self, enterprises: list[Enterprise]) -> list[Enterprise]:
        if self.with_history:
            saved = bulk_create_with_history(enterprises, Enterprise, batch_size=1000)
        elif self.copy:
            saved = self.copy.instances(Enterprise, enterprises)
        else:
            saved = Enterprise.objects.bulk_create(enterprises, batch_size=1000)
        self.written.add("enterprises", len(saved))
        return saved

    # --- field records ------------------------------------------------------------------------

    def sessions(self, sub_project: SubProject, count: int, start: int = 1) -> list[TrainingSession]:
        rng = self.rng
        first = sub_project.start_date + timedelta(days=30)
        last = max(first, self.today - timedelta(days=7))
        sessions = []
        for index in range(start, start + count):
            # About half the sessions are of a module tagged climate vulnerability.
            pool = self.climate_modules if rng.random() < 0.5 else self.other_modules
            title = rng.choice(SESSION_TITLES) if rng.random() < 0.5 else ""
            sessions.append(
                TrainingSession(
                    partner_organization_id=sub_project.partner_organization_id,
                    sub_project=sub_project,
                    po_code=f"TR-{sub_project.pk}-{index:03d}",
                    module=rng.choice(pool) if pool else None,
                    topic=title.format(sector=sub_project.sector.name, n=index),
                    held_on=self._date_between(first, last),
                    place=rng.choice(PLACES),
                )
            )
        saved = TrainingSession.objects.bulk_create(sessions)
        self.written.add("training sessions", len(saved))
        return saved

    def records(
        self,
        enterprises: list[Enterprise],
        sessions: list[TrainingSession],
        *,
        staff_id: int | None = None,
        validator_id: int | None = None,
        verifier_id: int | None = None,
    ) -> None:
        """Support, attendance, adoptions, profiles and KPI readings of saved enterprises. Adoptions
        are reported by `staff_id` (the PO's staff) and some verified by `verifier_id` (a verifier or
        a PMU officer: never the PO's staff); profiles are validated by `validator_id` (the PMU)."""
        rng = self.rng
        supports, attendances, adoptions, profiles, readings = [], [], [], [], []
        financiers = [code for code, _weight in FINANCIER_WEIGHTS]
        weights = [weight for _code, weight in FINANCIER_WEIGHTS]
        profile_practices: list[tuple[int, list[int]]] = []
        sessions = sorted(sessions, key=lambda s: s.held_on)
        for me in enterprises:
            joined = me.registered_on
            if rng.random() < 0.95:
                amount = min(800_000, max(30_000, round(rng.lognormvariate(11.6, 0.5) / 5000) * 5000))
                supports.append(
                    FinancialSupport(
                        enterprise=me,
                        kind=SupportKind.LOAN,
                        amount=Decimal(amount),
                        financier=rng.choices(financiers, weights)[0],
                        disbursed_on=min(self.today, joined + timedelta(days=rng.randint(0, 60))),
                    )
                )
                if rng.random() < 0.25:
                    supports.append(
                        FinancialSupport(
                            enterprise=me,
                            kind=SupportKind.GRANT,
                            amount=Decimal(rng.randrange(20_000, 150_000, 5_000)),
                            financier=rng.choices(financiers, weights)[0],
                            disbursed_on=min(self.today, joined + timedelta(days=rng.randint(61, 240))),
                        )
                    )
            later = [s for s in sessions if s.held_on >= joined]
            if later and rng.random() < 0.88:
                for session in rng.sample(later[:12], min(len(later[:12]), 1 + (rng.random() < 0.2))):
                    pre = min(95, max(5, round(rng.gauss(45, 12))))
                    post = min(100, max(0, round(pre + rng.gauss(16, 11))))
                    attendances.append(
                        Attendance(
                            session=session,
                            enterprise=me,
                            pre_test_score=Decimal(pre),
                            post_test_score=Decimal(post),
                        )
                    )
            choices = self.practices_for.get(me.sub_sector_id, [])
            n_practices = rng.choices([0, 1, 2, 3, 4], weights=[18, 14, 34, 24, 10])[0]
            adopted_practices = rng.sample(choices, min(n_practices, len(choices)))
            for practice_id in adopted_practices:
                adopted = min(self.today, joined + timedelta(days=rng.randint(20, 300)))
                seen = min(self.today, adopted + timedelta(days=rng.randint(7, 60)))
                verified = seen + timedelta(days=rng.randint(10, 120))
                is_verified = bool(verifier_id) and verified <= self.today and rng.random() < VERIFIED_SHARE
                adoptions.append(
                    Adoption(
                        enterprise=me,
                        practice_id=practice_id,
                        adopted_on=adopted,
                        evidence_observed_on=seen,
                        reported_by_id=staff_id,
                        verified_on=verified if is_verified else None,
                        verified_by_id=verifier_id if is_verified else None,
                        # What bulk_create derives (COPY does not): the verifier is outside every PO.
                        verification=verification_state(
                            verified if is_verified else None, verifier_id if is_verified else None, None
                        ),
                    )
                )
            if rng.random() < 0.5:
                profiles.append(self._profile(me, staff_id, validator_id))
                recommended = adopted_practices or rng.sample(choices, min(2, len(choices)))
                profile_practices.append((me.pk, recommended))
            if rng.random() < 0.62:
                readings.extend(self._readings(me))
        self._bulk(FinancialSupport, supports, "financial supports")
        self._bulk(Attendance, attendances, "attendances")
        saved_adoptions = self._bulk(Adoption, adoptions, "adoptions")
        if self.with_history:
            self._log_decisions(
                [
                    (a, "verify", "reported", "verified", a.verified_by_id, a.verified_on)
                    for a in saved_adoptions
                    if a.verified_on
                ]
            )
        saved_profiles = self._bulk(RecpProfile, profiles, "RECP profiles")
        by_me = {profile.enterprise_id: profile.pk for profile in saved_profiles}
        through = RecpProfile.recommended_practices.through
        self._bulk(
            through,
            [
                through(recpprofile_id=by_me[me_id], recppractice_id=p)
                for me_id, ps in profile_practices
                for p in ps
            ],
            "",
        )
        if self.copy:
            self.written.add("KPI readings", self.copy.rows(KpiReading, READING_FIELDS, readings))
        else:
            self._bulk(
                KpiReading,
                [KpiReading(**dict(zip(READING_FIELDS, row, strict=True))) for row in readings],
                "KPI readings",
                batch_size=5000,
            )

    def _profile(self, me: Enterprise, staff_id: int | None, validator_id: int | None) -> RecpProfile:
        rng = self.rng
        assessed = min(self.today, me.registered_on + timedelta(days=rng.randint(20, 200)))
        prepared = assessed + timedelta(days=rng.randint(10, 40))
        validated = prepared + timedelta(days=rng.randint(5, 60))
        # The PMU validates within weeks: profiles still waiting were prepared recently.
        status = ProfileStatus.DRAFT
        if validated <= self.today and rng.random() < 0.85:
            status = ProfileStatus.VALIDATED
        elif prepared <= self.today and (self.today - prepared).days < 75:
            status = ProfileStatus.PREPARED
        return RecpProfile(
            enterprise=me,
            assessment_date=assessed,
            baseline=f"{me.total_jobs} workers; electricity from the grid, no metering of water or waste.",
            climate_risks="; ".join(rng.sample(RISKS, 2)) + ".",
            opportunities=(
                "Segregate and sell waste; efficient lighting and motors; protect stock from floods."
            ),
            status=status,
            prepared_on=prepared if status != ProfileStatus.DRAFT else None,
            prepared_by_id=staff_id if status != ProfileStatus.DRAFT else None,
            validated_on=validated if status == ProfileStatus.VALIDATED else None,
            validated_by_id=validator_id if status == ProfileStatus.VALIDATED else None,
        )

    def _readings(self, me: Enterprise) -> list[tuple]:
        """The readings of one ME as READING_FIELDS tuples (millions at scale: no model instances)."""
        rng = self.rng
        codes = ["ELECTRICITY", *KPI_CODES.get(me.sub_sector.code, [])]
        chosen = [
            code
            for code in rng.sample(codes, min(len(codes), rng.choice(self.kpis_per_me)))
            if code in self.kpis
        ]
        if not chosen:
            return []
        baseline = add_months(me.registered_on.replace(day=1), rng.randint(0, 2))
        available = months_between(baseline, self.last_month)
        if available < 1:
            return []
        months = min(
            available, max(2, round(self.readings_per_tracking_me / len(chosen) * rng.uniform(0.6, 1.4)))
        )
        readings = []
        for code in chosen:
            kpi = self.kpis[code]
            level = KPI_TYPICAL.get(code, 100) * rng.lognormvariate(0, 0.45)
            # Lower-is-better KPIs fall by up to a third once practices take hold; recycling rises.
            target = level * (rng.uniform(0.65, 0.95) if kpi.direction == "lower" else rng.uniform(1.2, 2.5))
            for step in range(months + 1):
                if step and rng.random() < 0.08:
                    continue  # a month without a reading
                progress = min(1.0, step / 12)
                value = (level + (target - level) * progress) * rng.uniform(0.92, 1.08)
                value = min(float(kpi.max_value or math.inf), max(float(kpi.min_value or 0), value))
                readings.append(
                    (
                        me.pk,
                        kpi.pk,
                        add_months(baseline, step),
                        Decimal(f"{value:.1f}"),
                        step == 0,
                        rng.choice(SOURCES),
                    )
                )
        return readings

    def _log_decisions(self, decisions: list[tuple]) -> None:
        """The audit trail of synthetic checks (subject, action, from, to, actor id, date), as the
        services record them; written for the demo only (the benchmark data skips it)."""
        if not decisions:
            return
        content_types = {}
        rows = []
        for subject, action, source, target, actor_id, on in decisions:
            model = type(subject)
            if model not in content_types:
                content_types[model] = ContentType.objects.get_for_model(model)
            rows.append(
                Transition(
                    content_type=content_types[model],
                    object_id=subject.pk,
                    action=action,
                    from_state=source,
                    to_state=target,
                    actor_id=actor_id,
                    at=timezone.make_aware(datetime.combine(on, time(15, 0))),
                    comment="Seen during the field visit.",
                )
            )
        self._bulk(Transition, rows, "")

    def facilities(
        self,
        sub_project: SubProject,
        enterprises: list[Enterprise],
        count: int,
        kinds: list[str],
        confirmer_id: int | None = None,
    ) -> int:
        """Facilities of a sub-project; most operational ones opened long enough ago are confirmed
        operating by `confirmer_id` (a PMU officer or a verifier)."""
        rng = self.rng
        created = 0
        for index in range(count):
            kind = kinds[index % len(kinds)]
            roll = rng.random()
            status = (
                FacilityStatus.OPERATIONAL
                if roll < 0.7
                else FacilityStatus.UNDER_CONSTRUCTION
                if roll < 0.9
                else FacilityStatus.PLANNED
            )
            anchor = rng.choice(enterprises)
            opened = (
                self._date_between(sub_project.start_date + timedelta(days=120), self.today)
                if status == FacilityStatus.OPERATIONAL
                else None
            )
            confirmed = opened + timedelta(days=rng.randint(7, 60)) if opened else None
            if not (
                confirmer_id and confirmed and confirmed <= self.today and rng.random() < CONFIRMED_SHARE
            ):
                confirmed = None
            facility = CommonServiceFacility.objects.create(
                partner_organization_id=sub_project.partner_organization_id,
                sub_project=sub_project,
                name=f"{anchor.upazila.name} {FACILITY_NAMES[kind]} {index + 1}",
                kind=kind,
                sub_sector=anchor.sub_sector,
                district=anchor.district,
                upazila=anchor.upazila,
                latitude=anchor.latitude,
                longitude=anchor.longitude,
                services=rng.choice(
                    [
                        "Waste collection and recycling; design and testing services.",
                        "Solar drying yard and cyclone-safe storage.",
                        "Common effluent treatment and a dye kitchen.",
                        "Shared machinery, training room and testing laboratory.",
                    ]
                ),
                status=status,
                opened_on=opened,
                operational_confirmed_on=confirmed,
                operational_confirmed_by_id=confirmer_id if confirmed else None,
            )
            if confirmed and self.with_history:
                self._log_decisions(
                    [(facility, "confirm_operational", "operational", "operational", confirmer_id, confirmed)]
                )
            served = rng.sample(enterprises, min(len(enterprises), rng.randint(20, 150)))
            facility.mes_served.set(served)
            created += 1
        self.written.add("facilities", created)
        return created

    def _bulk(self, model: type[models.Model], objects: list, label: str, batch_size: int = 2000) -> list:
        if not objects:
            return []
        if self.copy:
            saved = self.copy.instances(model, objects)
        else:
            saved = model.objects.bulk_create(objects, batch_size=batch_size)
        if label:
            self.written.add(label, len(saved))
        return saved
