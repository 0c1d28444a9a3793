"""Demo field data for `seed_demo`: a few thousand believable MEs across the demo's awarded
sub-projects, with support, trainings, RECP adoptions and profiles, KPI readings, facilities, a
cluster per PO and a few planted cross-PO duplicates for the PMU to resolve. Adoptions are reported
by the PO's staff and about 60 % verified by the demo `verifier` (else `pmu`); most operational
facilities are confirmed by `pmu`; a few disbursements predate the programme start, so the
exclusion shows. Safe to run again: a sub-project that already has enterprises is left as it is."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import F, Q

from core.models import Upazila, User
from demo.synthetic import FieldDataGenerator, Plan
from enterprises import clusters, duplicates
from enterprises.models import (
    Cluster,
    ClusterSuggestion,
    DuplicateSuspect,
    Enterprise,
    FacilityKind,
    FinancialSupport,
    SuggestionStatus,
)
from subprojects.models import SubProject, SubProjectStatus

MES_PER_SUB_PROJECT = 700


def seed(stdout) -> None:
    sub_projects = list(
        SubProject.objects.filter(status=SubProjectStatus.ACTIVE)
        .exclude(partner_organization__code__startswith="SYN-")
        .select_related("partner_organization", "sector", "proposal")
        .order_by("agreement_number")
    )
    if not sub_projects:
        stdout.write("  enterprises: no active sub-project yet, so no enterprise was created")
        return
    pmu = User.objects.filter(username="pmu").first()
    # Adoptions are verified independently: by the demo verifier if there is one, else the PMU.
    checker = User.objects.filter(username="verifier", partner_organization__isnull=True).first() or pmu
    generator = FieldDataGenerator(seed=20240801, with_history=True)
    created_any = False
    for sub_project in sub_projects:
        if sub_project.enterprises.exists():
            continue
        created_any = True
        po = sub_project.partner_organization
        staff = po.staff.filter(is_active=True).order_by("pk").first()
        proposal = sub_project.proposal
        sub_sectors = list(proposal.sub_sectors.filter(sector=sub_project.sector)) or list(
            sub_project.sector.sub_sectors.all()
        )
        districts = list(proposal.target_districts.all()) or list(po.districts.all())
        upazilas = list(Upazila.objects.filter(district__in=districts).select_related("district"))
        women = proposal.women_led_mes_targeted / proposal.mes_targeted if proposal.mes_targeted else 0.38
        plan = Plan(
            sub_project=sub_project,
            count=MES_PER_SUB_PROJECT,
            sub_sectors=sub_sectors,
            upazilas=upazilas,
            women_share=women,
            code_prefix=po.short_name or "ME",
        )
        start = Enterprise.objects.filter(partner_organization=po).count() + 1
        enterprises = generator.write_enterprises(generator.build_enterprises(plan, start, plan.count))
        sessions = generator.sessions(sub_project, max(4, plan.count // 35))
        generator.records(
            enterprises,
            sessions,
            staff_id=staff.pk if staff else None,
            validator_id=pmu.pk if pmu else None,
            verifier_id=checker.pk if checker else None,
        )
        generator.facilities(
            sub_project,
            enterprises,
            2,
            [FacilityKind.REVENUE, FacilityKind.NON_REVENUE],
            confirmer_id=pmu.pk if pmu else None,
        )
    if created_any:
        _plant_duplicates()
        _demo_clusters(pmu)
        _plant_pre_programme_supports()
        _grow_jobs()
    counts = ", ".join(f"{n} {label}" for label, n in generator.written.counts.items()) or "nothing new"
    stdout.write(
        f"  enterprises: {Enterprise.objects.count()} MEs in {len(sub_projects)} sub-projects ({counts}); "
        f"{DuplicateSuspect.objects.count()} suspected duplicates, {Cluster.objects.count()} clusters"
    )


def _grow_jobs() -> None:
    """Employment reported again since registration (the registration figures stay): one financed ME
    in four took on a worker, one in twenty lost one, so the jobs indicators have a change to show."""
    financed = (
        Enterprise.objects.filter(financial_supports__isnull=False, duplicate_of__isnull=True)
        .distinct()
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    ids = list(financed)
    hired_women, hired_men = ids[0::8], ids[4::8]
    Enterprise.objects.filter(pk__in=hired_women).update(wage_employed_female=F("wage_employed_female") + 1)
    Enterprise.objects.filter(pk__in=hired_men).update(wage_employed_male=F("wage_employed_male") + 1)
    Enterprise.objects.filter(pk__in=ids[3::20], wage_employed_male__gt=0).update(
        wage_employed_male=F("wage_employed_male") - 1
    )


def _plant_duplicates() -> None:
    """A few MEs registered by two POs (same phone or trade licence), for the PMU to resolve."""
    if DuplicateSuspect.objects.exists():
        return
    pos = list(
        Enterprise.objects.values_list("partner_organization_id", flat=True)
        .distinct()
        .order_by("partner_organization_id")
    )
    if len(pos) < 2:
        return
    first = list(
        Enterprise.objects.filter(partner_organization_id=pos[0]).exclude(phone="").order_by("pk")[:4]
    )
    second = list(Enterprise.objects.filter(partner_organization_id=pos[1]).order_by("-pk")[:4])
    planted = []
    for original, copy in zip(first, second, strict=False):
        copy.phone = original.phone
        planted.append(copy)
    Enterprise.objects.bulk_update(planted, ["phone"])
    formal = list(Enterprise.objects.filter(~Q(trade_licence_key=""), partner_organization_id=pos[-1])[:1])
    other = list(
        Enterprise.objects.filter(partner_organization_id=pos[0], is_formal=True).order_by("-pk")[:1]
    )
    if formal and other:
        other[0].trade_licence_number = formal[0].trade_licence_number
        other[0].trade_licence_key = formal[0].trade_licence_key
        Enterprise.objects.bulk_update(other, ["trade_licence_number", "trade_licence_key"])
        planted += other
    duplicates.flag_duplicates([me.pk for me in planted])


PRE_PROGRAMME_SUPPORTS = 3


def _plant_pre_programme_supports() -> None:
    """A few loans disbursed before the programme start (bridge loans from PKSF's own funds), so
    the lists show that they are kept but not counted as project financing."""
    start = settings.PROGRAMME_START
    if FinancialSupport.objects.filter(disbursed_on__lt=start).exists():
        return
    supports = list(
        FinancialSupport.objects.filter(kind="loan")
        .exclude(enterprise__partner_organization__code__startswith="SYN-")
        .order_by("pk")[:PRE_PROGRAMME_SUPPORTS]
    )
    for index, support in enumerate(supports):
        support.disbursed_on = start - timedelta(days=45 + 30 * index)
        support.financier = "pksf"
        support.reference = f"PKSF bridge loan BL-2023-{index + 1:03d}"
    FinancialSupport.objects.bulk_update(supports, ["disbursed_on", "financier", "reference"])


def _demo_clusters(pmu) -> None:
    """Suggest clusters, and accept the largest suggestion of each PO's sub-sector as a start."""
    if pmu is None or Cluster.objects.exists():
        return
    clusters.suggest()
    accepted_sub_sectors = set()
    for suggestion in ClusterSuggestion.objects.filter(status=SuggestionStatus.PROPOSED).select_related(
        "sub_sector", "district"
    ):
        if suggestion.sub_sector_id in accepted_sub_sectors:
            continue
        accepted_sub_sectors.add(suggestion.sub_sector_id)
        name = f"{suggestion.district.name} {suggestion.sub_sector.name} cluster"
        clusters.accept_suggestion(user=pmu, suggestion=suggestion, name=name)
