"""Query budgets of the field-data lists, the PMU's review lists and the enterprises API: one item
costs the same number of queries as several (see tests/query_budget.py)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from itertools import count

import pytest
from django.utils import timezone

from enterprises.models import (
    Cluster,
    ClusterSuggestion,
    DuplicateSuspect,
    ImportJob,
    ImportStatus,
    ProfileStatus,
    RecpPractice,
)
from tests.enterprises.factories import (
    AdoptionFactory,
    AttendanceFactory,
    EnterpriseFactory,
    FacilityFactory,
    FinancialSupportFactory,
    KpiReadingFactory,
    RecpProfileFactory,
    TrainingSessionFactory,
    kpi,
    practice,
    training_module,
)
from tests.factories import sub_sector
from tests.query_budget import assert_flat_queries

MORE = 3


def _copy(obj, **changes):
    """A new catalogue row like `obj` (a module, practice or KPI), with other values."""
    obj.pk = None
    for name, value in changes.items():
        setattr(obj, name, value)
    obj.save()
    return obj


@pytest.fixture
def add(sp_one, sp_two, pmu, po1):
    """For each list: a function adding one row of po1's PO, returning what identifies it on the
    page and in the API."""
    numbers = count(1)

    def me():
        return EnterpriseFactory(sub_project=sp_one)

    def adoption():
        # Every other one verified by the PMU: the list shows who verified.
        n = next(numbers)
        verified = {"verified_by": pmu, "verified_on": date(2025, 3, 1)} if n % 2 else {}
        return AdoptionFactory(enterprise=me(), adopted_on=date(2025, 2, 1), **verified).enterprise.po_code

    def profile():
        n = next(numbers)
        status = [ProfileStatus.DRAFT, ProfileStatus.PREPARED, ProfileStatus.VALIDATED][n % 3]
        validated = {"validated_by": pmu, "validated_on": date(2025, 3, 3)} if status == "validated" else {}
        return RecpProfileFactory(enterprise=me(), status=status, **validated).enterprise.po_code

    def session():
        n = next(numbers)
        module = None if n % 2 else training_module("CV-01")
        return TrainingSessionFactory(sub_project=sp_one, module=module).po_code

    def duplicate():
        first = me()
        second = EnterpriseFactory(sub_project=sp_two, phone=first.phone)
        DuplicateSuspect.objects.create(enterprise=second, matched_enterprise=first, same_phone=True)
        return second.name

    def cluster():
        n = next(numbers)
        made = Cluster.objects.create(
            name=f"Bhairab footwear cluster {n}",
            sub_sector=sub_sector("leather-products"),
            district=sp_one.proposal.target_districts.first(),
            centre_latitude=Decimal("24.052400"),
            centre_longitude=Decimal("90.976400"),
            created_by=pmu,
        )
        for _ in range(2):
            EnterpriseFactory(sub_project=sp_one, cluster=made)
        return made.name

    def suggestion():
        members = [me() for _ in range(2)]
        made = ClusterSuggestion.objects.create(
            sub_sector=sub_sector("leather-products"),
            district=members[0].district,
            centre_latitude=Decimal("24.052400"),
            centre_longitude=Decimal("90.976400"),
            radius_km=Decimal("2.50"),
            member_count=len(members),
            signature=f"signature-{next(numbers)}",
        )
        made.members.set(members)
        return made.pk

    def import_job():
        n = next(numbers)
        return ImportJob.objects.create(
            kind="enterprises",
            partner_organization=sp_one.partner_organization,
            created_by=po1,
            file_format="csv",
            original_name=f"mes-{n}.csv",
            status=[ImportStatus.VALIDATED, ImportStatus.DONE, ImportStatus.INVALID][n % 3],
            created_at=timezone.now(),
        ).original_name

    def module():
        n = next(numbers)
        return _copy(training_module("CV-01"), code=f"TST-{n:02d}", name=f"Test module {n}").name

    def recp_practice():
        n = next(numbers)
        made = _copy(practice("AQ-04"), code=f"TST-{n:02d}", name=f"Test practice {n}")
        made.applicable_sub_sectors.set([sub_sector("leather-products")])
        return made.name

    return {
        "enterprises": lambda: me().name,
        "financial-supports": lambda: FinancialSupportFactory(enterprise=me()).enterprise.po_code,
        "attendances": lambda: (
            AttendanceFactory(
                session=TrainingSessionFactory(sub_project=sp_one), enterprise=me()
            ).enterprise.po_code
        ),
        "adoptions": adoption,
        "recp-profiles": profile,
        "kpi-readings": lambda: KpiReadingFactory(enterprise=me(), kpi=kpi()).enterprise.po_code,
        "trainings": session,
        "training-modules": module,
        "recp-practices": recp_practice,
        "kpis": lambda: _copy(kpi(), code=f"TST_{next(numbers)}", name=f"Test KPI {next(numbers)}").name,
        "facilities": lambda: FacilityFactory(sub_project=sp_one).name,
        "duplicates": duplicate,
        "clusters": cluster,
        "suggestions": suggestion,
        "imports": import_job,
        "unmapped sessions": lambda: TrainingSessionFactory(sub_project=sp_one, module=None).po_code,
    }


PAGES = {
    "enterprises": "/enterprises/",
    "financial-supports": "/financial-supports/",
    "attendances": "/attendances/",
    "adoptions": "/adoptions/",
    "recp-profiles": "/recp-profiles/",
    "kpi-readings": "/kpi-readings/",
    "trainings": "/trainings/",
    "unmapped sessions": "/trainings/to-map/",
    "training-modules": "/training-modules/",
    "recp-practices": "/recp-practices/",
    "kpis": "/kpis/",
    "facilities": "/facilities/",
    "imports": "/field-data/imports/",
    "duplicates": "/enterprises/duplicates/",
    "clusters": "/clusters/",
    "suggestions": "/clusters/suggestions/",
}
PMU_ONLY = {"duplicates", "suggestions", "unmapped sessions"}


@pytest.mark.parametrize(
    ("kind", "persona"),
    [
        (kind, persona)
        for kind in PAGES
        for persona in ("pmu", "po1")
        if persona == "pmu" or kind not in PMU_ONLY
    ],
)
def test_list_page(client, request, add, kind, persona):
    client.force_login(request.getfixturevalue(persona))
    add[kind]()

    def more():
        # A suggestion has no name: the page links to it.
        return [
            f"/clusters/suggestions/{made}/" if kind == "suggestions" else made
            for made in (add[kind]() for _ in range(MORE))
        ]

    assert_flat_queries(client, PAGES[kind], more)


def test_field_data_hub(client, po1, add):
    client.force_login(po1)
    for kind in (
        "financial-supports",
        "trainings",
        "attendances",
        "adoptions",
        "recp-profiles",
        "kpi-readings",
    ):
        add[kind]()

    def more():
        for kind in ("financial-supports", "trainings", "attendances", "adoptions", "recp-profiles"):
            for _ in range(MORE):
                add[kind]()

    assert_flat_queries(client, "/field-data/", more)


def test_enterprise_page_with_its_records(client, pmu, sp_one):
    """The enterprise's page lists its support, trainings, adoptions and readings."""
    client.force_login(pmu)
    me = EnterpriseFactory(sub_project=sp_one)
    practices = iter(RecpPractice.objects.order_by("code"))
    months = iter(range(1, 13))

    def one_of_each():
        month = next(months)
        FinancialSupportFactory(enterprise=me, disbursed_on=date(2024, month, 1))
        AttendanceFactory(session=TrainingSessionFactory(sub_project=sp_one), enterprise=me)
        adoption = AdoptionFactory(enterprise=me, practice=next(practices), adopted_on=date(2025, 2, 1))
        KpiReadingFactory(enterprise=me, kpi=kpi(), period=date(2024, month, 1))
        return adoption.practice.name

    one_of_each()
    assert_flat_queries(client, f"/enterprises/{me.pk}/", lambda: [one_of_each() for _ in range(MORE)])


def test_training_session_page_with_its_attendance(client, po1, sp_one):
    client.force_login(po1)
    session = TrainingSessionFactory(sub_project=sp_one)
    AttendanceFactory(session=session, enterprise=EnterpriseFactory(sub_project=sp_one))

    def more():
        return [
            AttendanceFactory(
                session=session, enterprise=EnterpriseFactory(sub_project=sp_one)
            ).enterprise.po_code
            for _ in range(MORE)
        ]

    assert_flat_queries(client, f"/trainings/{session.pk}/", more)


def test_cluster_page_with_its_members(client, pmu, add, sp_one):
    client.force_login(pmu)
    add["clusters"]()
    cluster = Cluster.objects.get()

    def more():
        return [EnterpriseFactory(sub_project=sp_one, cluster=cluster).name for _ in range(MORE)]

    assert_flat_queries(client, cluster.get_absolute_url(), more)


def test_suggestion_page_with_its_members(client, pmu, add, sp_one):
    client.force_login(pmu)
    add["suggestions"]()
    suggestion = ClusterSuggestion.objects.get()

    def more():
        members = [EnterpriseFactory(sub_project=sp_one) for _ in range(MORE)]
        suggestion.members.add(*members)
        return [member.name for member in members]

    assert_flat_queries(client, suggestion.get_absolute_url(), more)


API = {
    "enterprises": "enterprises",
    "financial-supports": "financial-supports",
    "trainings": "trainings",
    "training-modules": "training-modules",
    "attendances": "attendances",
    "recp-practices": "recp-practices",
    "adoptions": "adoptions",
    "recp-profiles": "recp-profiles",
    "kpis": "kpis",
    "kpi-readings": "kpi-readings",
    "facilities": "facilities",
    "clusters": "clusters",
    "suggestions": "cluster-suggestions",
    "duplicates": "duplicate-suspects",
    "imports": "import-jobs",
}


@pytest.mark.parametrize(
    ("kind", "persona"),
    [
        (kind, persona)
        for kind in API
        for persona in ("pmu", "po1")
        if persona == "pmu" or kind not in PMU_ONLY
    ],
)
def test_api_list(api, request, add, kind, persona):
    api.as_user(request.getfixturevalue(persona))
    add[kind]()

    def more():
        # A suggestion has no name: the API lists it by id.
        return [
            f'"id":{made}' if kind == "suggestions" else made for made in (add[kind]() for _ in range(MORE))
        ]

    assert_flat_queries(api, f"/api/v1/{API[kind]}/", more)
