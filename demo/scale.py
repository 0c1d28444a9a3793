"""Programme-scale synthetic data for benchmarks (`manage.py generate_scale`).

Creates clearly synthetic Partner Organizations (codes SYN-001…), one awarded sub-project each, and
the requested number of enterprises spread over them, with the field data of demo.synthetic:
about 1.5 million KPI readings at 80,000 MEs (about 15 million at 800,000) and 100 common service
facilities. All rows are written without history: on PostgreSQL through COPY, with foreign-key triggers
off for the load (the generator makes every reference itself), then vacuumed and analysed as a
database in service would be; elsewhere (SQLite, small sizes) with bulk_create.
`remove_synthetic()` takes them all away again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from decimal import Decimal

from django.db import DatabaseError, connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from core.models import District, PartnerOrganization, RegistrationAuthority, Sector, Upazila, User
from core.roles import GROUP_NAMES, Role
from demo.core import DEMO_CLIMATE_FLAGS
from demo.synthetic import FieldDataGenerator, Plan
from enterprises import duplicates
from enterprises.models import (
    Adoption,
    Attendance,
    ClusterSuggestion,
    CommonServiceFacility,
    DuplicateSuspect,
    Enterprise,
    FacilityKind,
    FinancialSupport,
    ImportJob,
    KpiReading,
    RecpProfile,
    TrainingSession,
)
from subprojects.models import Call, CallStatus, ConceptNote, NoteStatus, Proposal, ProposalStatus, SubProject

PREFIX = "SYN-"
SYNTHETIC_USER = "synthetic-data"
FACILITIES = 100
# The tables the load fills, vacuumed afterwards (visibility map and statistics, as in service).
LOADED_TABLES = (
    Enterprise,
    KpiReading,
    FinancialSupport,
    Attendance,
    Adoption,
    RecpProfile,
    RecpProfile.recommended_practices.through,
)


def synthetic_enterprises() -> QuerySet:
    return Enterprise.objects.filter(partner_organization__code__startswith=PREFIX)


def _raw_delete(queryset: QuerySet) -> int:
    # The high-volume synthetic rows have no history and nothing else pointing at them: one
    # statement per table instead of Django's object-by-object collector (minutes at 1.5 M rows).
    return queryset._raw_delete(queryset.db)


def remove_synthetic() -> None:
    with transaction.atomic():
        pos = PartnerOrganization.objects.filter(code__startswith=PREFIX)
        mes = Enterprise.objects.filter(partner_organization__in=pos).values("pk")
        for queryset in (
            KpiReading.objects.filter(enterprise__in=mes),
            Attendance.objects.filter(enterprise__in=mes),
            Adoption.objects.filter(enterprise__in=mes),
            FinancialSupport.objects.filter(enterprise__in=mes),
            RecpProfile.recommended_practices.through.objects.filter(recpprofile__enterprise__in=mes),
            RecpProfile.objects.filter(enterprise__in=mes),
            DuplicateSuspect.objects.filter(Q(enterprise__in=mes) | Q(matched_enterprise__in=mes)),
            ClusterSuggestion.members.through.objects.filter(enterprise__in=mes),
            CommonServiceFacility.mes_served.through.objects.filter(enterprise__in=mes),
            Enterprise.history.model.objects.filter(partner_organization_id__in=pos.values("pk")),
        ):
            _raw_delete(queryset)
        Enterprise.objects.filter(partner_organization__in=pos).update(duplicate_of=None, cluster=None)
        _raw_delete(Enterprise.objects.filter(partner_organization__in=pos))
        # Accounts made for the synthetic POs (e.g. by the benchmark) outlive them, detached.
        User.objects.filter(partner_organization__in=pos).update(partner_organization=None)
        # A hundred rows each: Django's delete, so whatever other apps keep about them goes too.
        for queryset in (
            CommonServiceFacility.objects.filter(partner_organization__in=pos),
            TrainingSession.objects.filter(partner_organization__in=pos),
            ImportJob.objects.filter(partner_organization__in=pos),
            SubProject.objects.filter(partner_organization__in=pos),
            Proposal.objects.filter(partner_organization__in=pos),
            ConceptNote.objects.filter(partner_organization__in=pos),
            Call.objects.filter(reference__startswith=PREFIX),
            pos,
        ):
            queryset.delete()


def _programme(n_pos: int, today: date) -> list[SubProject]:
    """One awarded sub-project per synthetic PO, sectors in turn, districts spread over the country."""
    user, _ = User.objects.get_or_create(username=SYNTHETIC_USER, defaults={"is_active": False})
    sectors = list(Sector.objects.order_by("position"))
    districts = list(District.objects.order_by("pcode"))
    pos = PartnerOrganization.objects.bulk_create(
        PartnerOrganization(
            code=f"{PREFIX}{index:03d}",
            name=f"Synthetic Partner Organization {index:03d}",
            short_name=f"SYN{index:03d}",
            registration_authority=RegistrationAuthority.MRA,
            registration_number=f"SYN-{index:06d}",
            head_office_address="Synthetic data for benchmarks",
            contact_person="Synthetic",
            email=f"syn{index:03d}@example.invalid",
            phone="+8801700000000",
        )
        for index in range(1, n_pos + 1)
    )
    through = PartnerOrganization.districts.through
    through.objects.bulk_create(
        through(
            partnerorganization_id=po.pk, district_id=districts[(index * 7 + step * 23) % len(districts)].pk
        )
        for index, po in enumerate(pos)
        for step in range(2)
    )
    now = timezone.now()
    call = Call.objects.create(
        reference=f"{PREFIX}CALL",
        title="Synthetic call",
        description="Synthetic data for benchmarks.",
        opens_at=now - timedelta(days=900),
        closes_at=now - timedelta(days=860),
        ceiling_budget=Decimal("300000000"),
        status=CallStatus.CLOSED,
        created_by=user,
    )
    notes = ConceptNote.objects.bulk_create(
        ConceptNote(
            call=call,
            partner_organization=po,
            title=f"Synthetic sub-project {index + 1:03d}",
            sector=sectors[index % len(sectors)],
            mes_targeted=1000,
            women_led_mes_targeted=380,
            status=NoteStatus.SHORTLISTED,
            created_by=user,
        )
        for index, po in enumerate(pos)
    )
    proposals = Proposal.objects.bulk_create(
        Proposal(
            concept_note=note,
            call=call,
            partner_organization_id=note.partner_organization_id,
            deadline=now - timedelta(days=800),
            title=note.title,
            sector=note.sector,
            mes_targeted=1000,
            women_led_mes_targeted=380,
            status=ProposalStatus.AWARDED,
            invited_by=user,
        )
        for note in notes
    )
    programme_start = date(2023, 9, 1)
    span = max(1, (today - timedelta(days=400) - programme_start).days)
    return SubProject.objects.bulk_create(
        SubProject(
            proposal=proposal,
            partner_organization_id=proposal.partner_organization_id,
            title=proposal.title,
            sector=proposal.sector,
            agreement_number=f"{PREFIX}SP/{index + 1:03d}",
            award_date=programme_start + timedelta(days=span * index // len(proposals)),
            start_date=programme_start + timedelta(days=span * index // len(proposals) + 14),
            end_date=programme_start + timedelta(days=span * index // len(proposals) + 14 + 3 * 365),
            budget_world_bank=Decimal("200000000"),
            budget_pksf=Decimal("40000000"),
            budget_po=Decimal("10000000"),
        )
        for index, proposal in enumerate(proposals)
    )


def _climate_flags() -> None:
    """A database where the PMU has flagged no area yet gets the demo's flags (the coastal zone, the
    haor, the Barind and the erosion belts), so the climate breakdowns have something to show."""
    if District.objects.filter(climate_vulnerable=True).exists():
        return
    hazards: dict[str, list[str]] = {}
    for hazard, names in DEMO_CLIMATE_FLAGS.items():
        for name in names:
            hazards.setdefault(name, []).append(hazard.value)
    for district in District.objects.filter(name__in=hazards):
        district.climate_vulnerable = True
        district.climate_hazards = hazards[district.name]
        district.save(update_fields=["climate_vulnerable", "climate_hazards"])


def _independent_checker() -> User | None:
    """Who verifies the synthetic adoptions and confirms the facilities: an account outside every PO
    (a verifier, else a PMU officer, else the synthetic-data account made by `_programme`)."""
    outside = User.objects.filter(partner_organization__isnull=True, is_active=True)
    for group in (GROUP_NAMES[Role.VERIFIER], GROUP_NAMES[Role.PMU_OFFICER]):
        found = outside.filter(groups__name=group).order_by("pk").first()
        if found is not None:
            return found
    return User.objects.filter(username=SYNTHETIC_USER, partner_organization__isnull=True).first()


@contextmanager
def _foreign_key_checks_off() -> Iterator[None]:
    """On PostgreSQL, inside the load's transaction: the loaded tables' foreign-key check triggers
    off (15 M COPY'd readings would queue 30 M deferred checks; the generator makes every reference
    itself), and back on before it commits. Other triggers (monitoring's change marks) stay on.
    Needs a superuser; without one the checks simply stay on."""
    if connection.vendor != "postgresql":
        yield
        return
    tables = [model._meta.db_table for model in LOADED_TABLES]
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT t.tgrelid::regclass::text, t.tgname FROM pg_trigger t
               JOIN pg_constraint c ON c.oid = t.tgconstraint
               WHERE t.tgisinternal AND c.contype = 'f' AND c.conrelid = t.tgrelid
                 AND t.tgrelid::regclass::text = ANY(%s)""",
            [tables],
        )
        triggers = cursor.fetchall()
    switched = []
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            for table, name in triggers:
                cursor.execute(f'ALTER TABLE {table} DISABLE TRIGGER "{name}"')
        switched = triggers
    except DatabaseError:
        pass
    yield
    with connection.cursor() as cursor:
        for table, name in switched:
            cursor.execute(f'ALTER TABLE {table} ENABLE TRIGGER "{name}"')


@contextmanager
def _indexes_built_after_load(report: Callable[[str], None]) -> Iterator[None]:
    """On PostgreSQL, inside the load's transaction: the loaded tables' plain indexes (those backing no
    primary key or constraint: sort orders, foreign keys, search) dropped for the load and built again
    after it. One sorted build per index instead of 15 M random insertions into each of a dozen
    indexes; the definitions are read from the catalogue, so indexes added later are kept too."""
    if connection.vendor != "postgresql":
        yield
        return
    tables = [model._meta.db_table for model in LOADED_TABLES]
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x
               JOIN pg_class i ON i.oid = x.indexrelid
               WHERE x.indrelid::regclass::text = ANY(%s) AND NOT x.indisprimary
                 AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)""",
            [tables],
        )
        indexes = cursor.fetchall()
        for name, _definition in indexes:
            cursor.execute(f"DROP INDEX {connection.ops.quote_name(name)}")
    yield
    started = time.monotonic()
    with connection.cursor() as cursor:
        # CREATE INDEX refuses a table with deferred checks still pending (rows written in this
        # transaction before the checks were switched off, or without a superuser): run them now.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        # Sorts in memory rather than in temporary files (a throw-away benchmark database).
        cursor.execute("SET LOCAL maintenance_work_mem = '1GB'")
        for _name, definition in indexes:
            cursor.execute(definition)
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
    report(f"  {len(indexes)} indexes built in {time.monotonic() - started:.0f} s")


def generate(
    *, enterprises: int, pos: int = 100, seed: int = 2024, report: Callable[[str], None] = print
) -> dict[str, int]:
    """Create the synthetic programme; return the rows written by kind."""
    started = time.monotonic()
    _climate_flags()
    generator = FieldDataGenerator(
        seed=seed, readings_per_tracking_me=60, kpis_per_me=(2, 2, 3), report=report, copy=True
    )
    with transaction.atomic(), _foreign_key_checks_off():
        sub_projects = _programme(pos, generator.today)
        checker = _independent_checker()
        checker_id = checker.pk if checker else None
        upazilas_by_district: dict[int, list[Upazila]] = {}
        for upazila in Upazila.objects.select_related("district"):
            upazilas_by_district.setdefault(upazila.district_id, []).append(upazila)
        district_ids: dict[int, list[int]] = {}
        for po_id, district_id in PartnerOrganization.districts.through.objects.filter(
            partnerorganization__code__startswith=PREFIX
        ).values_list("partnerorganization_id", "district_id"):
            district_ids.setdefault(po_id, []).append(district_id)
        sub_sectors = {sector.pk: list(sector.sub_sectors.all()) for sector in Sector.objects.all()}
        per_project, extra = divmod(enterprises, len(sub_projects))
        done = 0
        planted: list[Enterprise] = []
        with _indexes_built_after_load(report):
            for index, sub_project in enumerate(sub_projects):
                count = per_project + (1 if index < extra else 0)
                upazilas = [
                    u
                    for d in district_ids.get(sub_project.partner_organization_id, [])
                    for u in upazilas_by_district[d]
                ]
                plan = Plan(
                    sub_project=sub_project,
                    count=count,
                    sub_sectors=sub_sectors[sub_project.sector_id],
                    upazilas=upazilas,
                    women_share=generator.rng.uniform(0.25, 0.5),
                    code_prefix="SYN",
                )
                sessions = generator.sessions(sub_project, max(2, count // 35))
                built = generator.build_enterprises(plan, 1, count, plant_rate=0.003)
                saved = generator.write_enterprises(built)
                planted.extend(me for me in saved if me.phone and me.phone in generator.planted_phones)
                generator.records(saved, sessions, verifier_id=checker_id)
                if index < FACILITIES:
                    kind = FacilityKind.REVENUE if index % 2 == 0 else FacilityKind.NON_REVENUE
                    generator.facilities(sub_project, saved, 1, [kind], confirmer_id=checker_id)
                done += count
                if done // 10_000 != (done - count) // 10_000 or index == len(sub_projects) - 1:
                    elapsed = time.monotonic() - started
                    report(f"  {done:,} enterprises with their field data ({elapsed:.0f} s)")
        duplicates.flag_duplicates([me.pk for me in planted])
    if connection.vendor == "postgresql":
        # Fresh statistics, or the planner guesses a 1.5 M-row bulk load has no rows; and a visibility
        # map, so index-only scans work as they would on a database in service.
        report(f"  vacuuming and analysing ({time.monotonic() - started:.0f} s)")
        with connection.cursor() as cursor:
            if not connection.in_atomic_block:  # VACUUM cannot run inside a transaction (tests)
                for model in LOADED_TABLES:
                    cursor.execute(f"VACUUM (ANALYZE) {connection.ops.quote_name(model._meta.db_table)}")
            cursor.execute("ANALYZE")
    counts = dict(generator.written.counts)
    counts["suspected duplicates"] = DuplicateSuspect.objects.filter(
        enterprise__in=synthetic_enterprises()
    ).count()
    return counts
