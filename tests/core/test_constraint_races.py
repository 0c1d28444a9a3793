"""Concurrent identical writes (issue 12): the request that loses the race to a unique constraint is
answered as an ordinary duplicate is (the same 400 naming the field, or the same 409), never a 500;
a page shows the form again with the reason and what was typed.

The race is simulated deterministically, on SQLite and PostgreSQL alike: the identical row is saved
("committed by the other request") at the moment this request saves, after every check passed. On
PostgreSQL, `TestRealConcurrency` also sends 20 identical requests at once from 20 threads."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any
from unittest import mock

import pytest
from django.conf import settings as django_settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, models, transaction
from django.db.models import QuerySet
from django.db.utils import DEFAULT_DB_ALIAS
from django.utils import timezone
from rest_framework.test import APIClient

from core import integrity
from core.errors import Conflict
from core.models import PartnerOrganization
from core.roles import Role
from enterprises.api.views import KpiReadingViewSet
from enterprises.models import (
    Adoption,
    Attendance,
    Cluster,
    CommonServiceFacility,
    Enterprise,
    FinancialSupport,
    Kpi,
    KpiReading,
    RecpPractice,
    RecpProfile,
    TrainingModule,
    TrainingSession,
)
from subprojects.models import Call, ConflictDeclaration, ProposalStatus, TecMeeting
from tests.assertions import field_errors
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
    sub_project_for,
)
from tests.factories import PartnerOrganizationFactory, district, make_user, sub_sector
from tests.subprojects.conftest import make_meeting, on_agenda, open_call, proposal_in  # noqa: F401 (fixtures)
from tests.subprojects.factories import CallFactory

ERROR_ANSWERS = "smart_portal.middleware.ErrorAnswersMiddleware"


def with_error_answers(middleware: list[str]) -> list[str]:
    """MIDDLEWARE with ErrorAnswersMiddleware right after RefuseNullCharactersMiddleware (where the
    settings put it), unless it is there already."""
    if ERROR_ANSWERS in middleware:
        return list(middleware)
    anchor = middleware.index("smart_portal.middleware.RefuseNullCharactersMiddleware")
    return [*middleware[: anchor + 1], ERROR_ANSWERS, *middleware[anchor + 1 :]]


@pytest.fixture(autouse=True)
def _error_answers(settings, tmp_path):
    settings.MIDDLEWARE = with_error_answers(settings.MIDDLEWARE)
    settings.MEDIA_ROOT = tmp_path / "media"


@contextmanager
def checks_blind_until_saved(model: type[models.Model]) -> Iterator[dict]:
    """The race, as the losing request lives it: its checks run before the other request commits
    the identical row (so they see none), its insert after (so the constraint refuses it).

    Create the identical row first, then send the request inside this block: until the request
    saves a `model` row, every check is blind to `model`'s rows (the model's own
    `validate_unique()` and `validate_constraints()`, and any `exists()` or `first()` on it: the serializers'
    unique validators, the services' tests). From the save on, everything sees what is stored.
    Yields a dict whose "saved" says whether the request reached its save (else the race was not
    simulated and the test would prove nothing)."""
    state = {"saved": False}
    real_save, real_exists, real_first = model.save, QuerySet.exists, QuerySet.first
    real_unique, real_constraints = model.validate_unique, model.validate_constraints

    def save(self, *args, **kwargs):
        state["saved"] = True
        return real_save(self, *args, **kwargs)

    def exists(queryset):
        if not state["saved"] and issubclass(queryset.model, model):
            return False
        return real_exists(queryset)

    def first(queryset):  # an upsert's lookup of the natural key (enterprises.api.bulk)
        if not state["saved"] and issubclass(queryset.model, model):
            return None
        return real_first(queryset)

    def validate_unique(self, *args, **kwargs):
        if state["saved"]:
            real_unique(self, *args, **kwargs)

    def validate_constraints(self, *args, **kwargs):
        if state["saved"]:
            real_constraints(self, *args, **kwargs)

    with (
        mock.patch.object(model, "save", save),
        mock.patch.object(QuerySet, "exists", exists),
        mock.patch.object(QuerySet, "first", first),
        mock.patch.object(model, "validate_unique", validate_unique),
        mock.patch.object(model, "validate_constraints", validate_constraints),
    ):
        yield state


def api_client(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


# --- The people and records the cases use ---------------------------------------------------------


@pytest.fixture
def world(db, po_one, po1, pmu):
    sub_project = sub_project_for(po_one, agreement_number="PKSF/SMART/SP/R001")
    me = EnterpriseFactory(sub_project=sub_project, po_code="ME-0001", phone="+8801711000001")
    session = TrainingSessionFactory(sub_project=sub_project, po_code="TR-0001")
    return SimpleNamespace(po1=po1, pmu=pmu, sub_project=sub_project, me=me, session=session)


NEW_ME = {
    "po_code": "ME-RACE-1",
    "name": "Shapla Shoe Works",
    "owner_name": "Shapla Rani",
    "owner_gender": "female",
    "phone": "01712 000 999",
    "sub_sector": "leather-products",
    "district": "BD3048",  # Kishoreganj
    "upazila": "BD30480006",  # Bhairab
    "registered_on": "2024-10-01",
}

PO_FORM = {
    "code": "PO-077",
    "name": "Rupsha Nari Kalyan Sangstha",
    "short_name": "RNKS",
    "registration_authority": "mra",
    "registration_number": "01234-00077-00302",
    "registered_on": "2011-03-14",
    "pksf_partner_since": "2004",
    "head_office_address": "Khan Jahan Ali Road, Khulna",
    "contact_person": "Nasima Khatun",
    "contact_designation": "Executive Director",
    "email": "ed@rnks.org.bd",
    "phone": "+8801711223344",
    "website": "https://rnks.org.bd",
}


@dataclass(frozen=True)
class Case:
    """One create path of the API with a unique rule: who posts what, the identical row the other
    request saves, and the rows that must exist once (and only once) afterwards."""

    name: str
    url: str
    user: str  # an attribute of `world`
    model: type[models.Model]
    payload: Callable[[Any], dict]
    twin: Callable[[Any], object]
    same: Callable[[Any], dict]  # filter for the rows that are "the same record"
    format: str = "json"  # multipart for an upload (an adoption is written with its evidence photo)


def po_twin_identical(w) -> PartnerOrganization:
    return PartnerOrganizationFactory(
        code=PO_FORM["code"],
        name=PO_FORM["name"],
        registration_authority="mra",
        registration_number=PO_FORM["registration_number"],
    )


API_CASES = [
    Case(
        "enterprise",
        "/api/v1/enterprises/",
        "po1",
        Enterprise,
        lambda w: {**NEW_ME, "sub_project": w.sub_project.pk},
        lambda w: EnterpriseFactory(sub_project=w.sub_project, po_code=NEW_ME["po_code"]),
        lambda w: {"partner_organization": w.sub_project.partner_organization, "po_code": NEW_ME["po_code"]},
    ),
    Case(
        "financial support",
        "/api/v1/financial-supports/",
        "po1",
        FinancialSupport,
        lambda w: {
            "enterprise": w.me.pk,
            "kind": "loan",
            "amount": "50000",
            "financier": "pksf",
            "disbursed_on": "2024-10-02",
        },
        lambda w: FinancialSupportFactory(enterprise=w.me, kind="loan", disbursed_on=date(2024, 10, 2)),
        lambda w: {"enterprise": w.me, "kind": "loan", "disbursed_on": date(2024, 10, 2)},
    ),
    Case(
        "KPI reading of a month",
        "/api/v1/kpi-readings/",
        "po1",
        KpiReading,
        lambda w: {
            "enterprise": w.me.pk,
            "kpi": "WATER",
            "period": "2024-09-17",
            "value": "35",
            "source": "meter",
        },
        lambda w: KpiReadingFactory(enterprise=w.me, kpi=kpi("WATER"), period=date(2024, 9, 1)),
        lambda w: {"enterprise": w.me, "kpi__code": "WATER", "period": date(2024, 9, 1)},
    ),
    Case(
        "KPI baseline",
        "/api/v1/kpi-readings/",
        "po1",
        KpiReading,
        lambda w: {
            "enterprise": w.me.pk,
            "kpi": "WATER",
            "period": "2024-10-01",
            "value": "35",
            "is_baseline": True,
            "source": "meter",
        },
        lambda w: KpiReadingFactory(
            enterprise=w.me, kpi=kpi("WATER"), period=date(2024, 9, 1), is_baseline=True
        ),
        lambda w: {"enterprise": w.me, "kpi__code": "WATER", "is_baseline": True},
    ),
    Case(
        "attendance",
        "/api/v1/attendances/",
        "po1",
        Attendance,
        lambda w: {
            "session": w.session.pk,
            "enterprise": w.me.pk,
            "pre_test_score": "30",
            "post_test_score": "60",
        },
        lambda w: AttendanceFactory(session=w.session, enterprise=w.me),
        lambda w: {"session": w.session, "enterprise": w.me},
    ),
    Case(
        "RECP adoption",
        "/api/v1/adoptions/",
        "po1",
        Adoption,
        lambda w: {"enterprise": w.me.pk, "practice": "AQ-04", "adopted_on": "2024-12-01"},
        lambda w: AdoptionFactory(enterprise=w.me, practice=practice("AQ-04")),
        lambda w: {"enterprise": w.me, "practice__code": "AQ-04"},
        format="multipart",
    ),
    Case(
        "RECP profile",
        "/api/v1/recp-profiles/",
        "po1",
        RecpProfile,
        lambda w: {
            "enterprise": w.me.pk,
            "assessment_date": "2024-11-20",
            "baseline": "Hand-cut uppers.",
            "climate_risks": "Floods.",
            "opportunities": "LED lights.",
        },
        lambda w: RecpProfileFactory(enterprise=w.me),
        lambda w: {"enterprise": w.me},
    ),
    Case(
        "training session",
        "/api/v1/trainings/",
        "po1",
        TrainingSession,
        lambda w: {
            "po_code": "TR-RACE",
            "sub_project": w.sub_project.pk,
            "module": "CV-02",
            "held_on": "2024-11-05",
            "place": "Bhairab",
        },
        lambda w: TrainingSessionFactory(sub_project=w.sub_project, po_code="TR-RACE"),
        lambda w: {"partner_organization": w.sub_project.partner_organization, "po_code": "TR-RACE"},
    ),
    Case(
        "facility",
        "/api/v1/facilities/",
        "po1",
        CommonServiceFacility,
        lambda w: {
            "sub_project": w.sub_project.pk,
            "name": "Bhairab Footwear CSF",
            "kind": "revenue",
            "sub_sector": "leather-products",
            "district": "BD3048",
            "status": "planned",
        },
        lambda w: FacilityFactory(
            sub_project=w.sub_project, name="Bhairab Footwear CSF", status="planned", opened_on=None
        ),
        lambda w: {"sub_project": w.sub_project, "name": "Bhairab Footwear CSF"},
    ),
    Case(
        "training module",
        "/api/v1/training-modules/",
        "pmu",
        TrainingModule,
        lambda w: {"code": "RACE-01", "name": "Racing", "position": 9},
        lambda w: TrainingModule.objects.create(code="RACE-01", name="Racing"),
        lambda w: {"code": "RACE-01"},
    ),
    Case(
        "KPI of the catalogue",
        "/api/v1/kpis/",
        "pmu",
        Kpi,
        lambda w: {
            "code": "RACE",
            "name": "Racing",
            "unit": "kWh",
            "category": "energy",
            "direction": "lower",
        },
        lambda w: Kpi.objects.create(
            code="RACE", name="Racing", unit="kWh", category="energy", direction="lower"
        ),
        lambda w: {"code": "RACE"},
    ),
    Case(
        "RECP practice",
        "/api/v1/recp-practices/",
        "pmu",
        RecpPractice,
        lambda w: {"code": "RACE-01", "name": "Racing", "category": "energy"},
        lambda w: RecpPractice.objects.create(code="RACE-01", name="Racing", category="energy"),
        lambda w: {"code": "RACE-01"},
    ),
    Case(
        "Partner Organization",
        "/api/v1/partner-organizations/",
        "pmu",
        PartnerOrganization,
        lambda w: PO_FORM,
        po_twin_identical,
        lambda w: {"code": PO_FORM["code"]},
    ),
]


# Saved by the serializer itself (no service, no savepoint): the database error dooms the test's
# transaction, so these run as transactional tests, as requests run in production (autocommit).
SAVED_BY_SERIALIZER = {"KPI of the catalogue", "RECP practice", "Partner Organization"}
TRANSACTIONAL = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(case, id=case.name, marks=[TRANSACTIONAL] if case.name in SAVED_BY_SERIALIZER else [])
        for case in API_CASES
    ],
)
def test_the_api_answers_the_loser_of_a_race_as_an_ordinary_duplicate(world, case):
    client = api_client(getattr(world, case.user))
    case.twin(world)  # committed by the other request

    with checks_blind_until_saved(case.model) as race:
        raced = client.post(case.url, case.payload(world), format=case.format)
    ordinary = client.post(case.url, case.payload(world), format=case.format)

    assert race["saved"], "the request never reached its save: the race was not simulated"
    assert ordinary.status_code in (400, 409), ordinary.content
    assert (raced.status_code, raced.json()) == (ordinary.status_code, ordinary.json())
    assert raced["Content-Type"] == "application/json"
    assert case.model.objects.filter(**case.same(world)).count() == 1


def september_water_reading(world) -> dict:
    """A water reading of the world's enterprise for September 2024, as an API client posts it."""
    return {
        "enterprise": world.me.pk,
        "kpi": "WATER",
        "period": "2024-09-01",
        "value": "35",
        "source": "meter",
    }


def test_the_race_answer_names_the_field_as_the_check_does(world):
    """What the client reads: the field and the reason, not a server error."""
    client = api_client(world.po1)
    payload = september_water_reading(world)

    KpiReadingFactory(enterprise=world.me, kpi=kpi("WATER"), period=date(2024, 9, 1))

    with checks_blind_until_saved(KpiReading) as race:
        response = client.post("/api/v1/kpi-readings/", payload)

    assert race["saved"]
    assert response.status_code == 400
    # The reading's natural key (enterprise, KPI, month) is refused on its month, with the stored id.
    stored = KpiReading.objects.get(enterprise=world.me, kpi=kpi("WATER"), period=date(2024, 9, 1))
    assert list(field_errors(response)) == ["period"]
    assert field_errors(response)["period"][0].startswith(
        "This enterprise already has a reading of this KPI for this month."
    )
    assert response.json()["existing_id"] == stored.pk


def test_an_update_that_races_to_the_same_key_is_refused_like_a_duplicate(world):
    """Two readings moved to the same month at once: the second mover hits the constraint."""
    second = KpiReadingFactory(enterprise=world.me, kpi=kpi("WATER"), period=date(2024, 7, 1))
    KpiReadingFactory(enterprise=world.me, kpi=kpi("WATER"), period=date(2024, 9, 1))  # the first mover's
    client = api_client(world.po1)

    with checks_blind_until_saved(KpiReading) as race:
        raced = client.patch(f"/api/v1/kpi-readings/{second.pk}/", {"period": "2024-09-01"})
    ordinary = client.patch(f"/api/v1/kpi-readings/{second.pk}/", {"period": "2024-09-01"})

    assert race["saved"]
    assert ordinary.status_code == 400
    assert (raced.status_code, raced.json()) == (400, ordinary.json())
    second.refresh_from_db()
    assert second.period == date(2024, 7, 1)


def test_when_the_recheck_finds_nothing_the_answer_is_409_conflict_and_nothing_is_written(world):
    """The constraint refused the save, yet the check no longer sees the row (the other request's row
    went away meanwhile): a 409 saying so, never a 500."""
    client = api_client(world.po1)
    payload = september_water_reading(world)

    KpiReadingFactory(enterprise=world.me, kpi=kpi("WATER"), period=date(2024, 9, 1))

    # The checks see nothing, before the save and after it (the model's, and the natural-key lookup).
    with (
        mock.patch.object(KpiReading, "validate_constraints"),
        mock.patch.object(KpiReadingViewSet, "stored_by_natural_key", return_value=None),
    ):
        response = client.post("/api/v1/kpi-readings/", payload)

    assert response.status_code == 409
    assert response.json() == {"code": "conflict", "detail": Conflict().message, "fields": {}}
    assert KpiReading.objects.filter(enterprise=world.me).count() == 1


def test_a_request_whose_second_run_succeeds_gets_its_record(world):
    """The other request's row is gone by the time this one runs again (rolled back, say): the
    second run saves, as the same request a moment later would."""
    client = api_client(world.po1)
    payload = september_water_reading(world)
    real_save = KpiReading.save
    refusals = iter([IntegrityError("UNIQUE constraint failed: enterprises_kpireading.period")])

    def save(self, *args, **kwargs):
        refused = next(refusals, None)
        if refused is not None:
            raise refused
        return real_save(self, *args, **kwargs)

    with mock.patch.object(KpiReading, "save", save):
        response = client.post("/api/v1/kpi-readings/", payload)

    assert response.status_code == 201, response.json()
    assert KpiReading.objects.filter(enterprise=world.me, kpi__code="WATER").count() == 1


def test_a_page_the_database_refuses_twice_is_a_409_page_not_a_500(client, world):
    client.force_login(world.pmu)
    attempts = []

    def save(self, *args, **kwargs):
        attempts.append(self.code)
        raise IntegrityError("UNIQUE constraint failed: core_partnerorganization.code")

    with mock.patch.object(PartnerOrganization, "save", save):
        response = client.post("/partner-organizations/new/", {**PO_FORM, "is_active": "on"})

    assert attempts == [PO_FORM["code"], PO_FORM["code"]]  # the page ran twice
    assert response.status_code == 409
    assert Conflict().message in response.content.decode()
    assert not PartnerOrganization.objects.filter(code=PO_FORM["code"]).exists()


@TRANSACTIONAL
def test_a_serializer_save_racing_twice_is_a_409_not_a_500(world):
    """The API runs a request that lost a race once more; should that hit the constraint again (its
    checks cannot see the row), the answer is 409 with code "conflict"."""
    client = api_client(world.pmu)
    payload = {"code": "RACE-01", "name": "Racing", "category": "energy"}
    attempts = []

    def save(self, *args, **kwargs):
        # Each attempt's insert breaks the constraint, and the checks never see the row.
        attempts.append(self.code)
        Kpi.objects.create(code="WATER", name="a duplicate", unit="x")

    with mock.patch.object(RecpPractice, "save", save):
        response = client.post("/api/v1/recp-practices/", payload)

    assert attempts == ["RACE-01", "RACE-01"]
    assert response.status_code == 409
    assert response.json()["code"] == "conflict"
    assert not RecpPractice.objects.filter(code__iexact="RACE-01").exists()


# --- Pages: the form again, with the reason and what was typed ------------------------------------


def _page_case_enterprise(w):
    data = {
        **NEW_ME,
        "sub_project": w.sub_project.pk,
        "district": district("Kishoreganj").pk,
        "sub_sector": w.me.sub_sector_id,
        "upazila": w.me.upazila_id,
        "self_employed": 1,
        "wage_employed_male": 0,
        "wage_employed_female": 0,
    }
    return data


@dataclass(frozen=True)
class PageCase:
    name: str
    url: Callable[[Any], str]
    user: str
    model: type[models.Model]
    form: Callable[[Any], dict]
    twin: Callable[[Any], object]
    message: str
    typed: str  # a value typed in the form, shown again
    same: Callable[[Any], dict]


PAGE_CASES = [
    PageCase(
        "financial support",
        lambda w: f"/enterprises/{w.me.pk}/supports/new/",
        "po1",
        FinancialSupport,
        lambda w: {"kind": "loan", "amount": "51234", "financier": "pksf", "disbursed_on": "2024-10-02"},
        lambda w: FinancialSupportFactory(enterprise=w.me, kind="loan", disbursed_on=date(2024, 10, 2)),
        "already has a support of this type on this date",
        "51234",
        lambda w: {"enterprise": w.me, "kind": "loan", "disbursed_on": date(2024, 10, 2)},
    ),
    PageCase(
        "KPI reading",
        lambda w: f"/enterprises/{w.me.pk}/readings/new/",
        "po1",
        KpiReading,
        lambda w: {"kpi": kpi("WATER").pk, "period": "2024-09-01", "value": "35.125", "source": "meter"},
        lambda w: KpiReadingFactory(enterprise=w.me, kpi=kpi("WATER"), period=date(2024, 9, 1)),
        "already has a reading of this KPI for this month",
        "35.125",
        lambda w: {"enterprise": w.me, "kpi__code": "WATER", "period": date(2024, 9, 1)},
    ),
    PageCase(
        "training module",
        lambda w: "/training-modules/new/",
        "pmu",
        TrainingModule,
        lambda w: {"code": "RACE-01", "name": "Racing workshop", "position": 9, "is_active": "on"},
        lambda w: TrainingModule.objects.create(code="RACE-01", name="Racing"),
        "already exists",
        "Racing workshop",
        lambda w: {"code": "RACE-01"},
    ),
    PageCase(
        "Partner Organization (a page answered by the middleware)",
        lambda w: "/partner-organizations/new/",
        "pmu",
        PartnerOrganization,
        lambda w: {**PO_FORM, "is_active": "on"},
        po_twin_identical,
        "already exists",
        "Khan Jahan Ali Road, Khulna",
        lambda w: {"code": PO_FORM["code"]},
    ),
]


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(case, id=case.name, marks=[TRANSACTIONAL] if "middleware" in case.name else [])
        for case in PAGE_CASES
    ],
)
def test_a_page_that_loses_a_race_shows_the_form_with_the_reason(client, world, case):
    client.force_login(getattr(world, case.user))
    case.twin(world)  # committed by the other request

    with checks_blind_until_saved(case.model) as race:
        raced = client.post(case.url(world), case.form(world))

    page = raced.content.decode()
    assert race["saved"], "the page never reached its save"
    assert raced.status_code == 200, page[:2000]
    assert case.message in page
    assert case.typed in page
    assert case.model.objects.filter(**case.same(world)).count() == 1


def test_the_enterprise_page_that_loses_a_race_shows_the_me_code_refused(client, world):
    client.force_login(world.po1)
    form = {
        "po_code": "ME-RACE-1",
        "sub_project": world.sub_project.pk,
        "name": "Shapla Shoe Works",
        "owner_name": "Shapla Rani",
        "owner_gender": "female",
        "phone": "01712 000 999",
        "sub_sector": world.me.sub_sector_id,
        "district": world.me.district_id,
        "upazila": world.me.upazila_id,
        "registered_on": "2024-10-01",
        "self_employed": 1,
        "wage_employed_male": 0,
        "wage_employed_female": 0,
        "year_started": 2015,
    }
    EnterpriseFactory(sub_project=world.sub_project, po_code="ME-RACE-1")

    with checks_blind_until_saved(Enterprise) as race:
        raced = client.post("/enterprises/new/", form)

    page = raced.content.decode()
    assert race["saved"]
    assert raced.status_code == 200, page[:2000]
    assert "Your PO already has an enterprise with this ME code." in page
    assert "Shapla Shoe Works" in page
    assert Enterprise.objects.filter(po_code="ME-RACE-1").count() == 1


def test_a_page_whose_recheck_finds_nothing_shows_the_conflict_on_the_form(client, world):
    client.force_login(world.pmu)
    TrainingModule.objects.create(code="RACE-01", name="Racing")  # the other request's

    # The checks never see the row: the database refuses the save, and the re-check finds nothing.
    with (
        mock.patch.object(TrainingModule, "validate_unique"),
        checks_blind_until_saved(TrainingModule) as race,
    ):
        response = client.post(
            "/training-modules/new/", {"code": "RACE-01", "name": "Racing workshop", "position": 9}
        )

    page = response.content.decode()
    assert race["saved"]
    assert response.status_code == 200, page[:2000]
    assert "Someone else saved the same record at the same moment" in page
    assert "Racing workshop" in page
    assert TrainingModule.objects.filter(code="RACE-01").count() == 1


# --- Other apps: meetings, declarations, calls, clusters -------------------------------------------


def test_a_tec_meeting_number_taken_at_the_same_moment_is_the_serializers_400(
    pmu,
    tec1,
    tec2,
    make_meeting,  # noqa: F811
):
    make_meeting(number=7)  # the other request's
    client = api_client(pmu)
    payload = {
        "number": 7,
        "held_on": "2030-01-01T10:00Z",
        "venue": "PKSF Bhaban",
        "chair": tec1.pk,
        "members": [tec1.pk, tec2.pk],
    }

    with checks_blind_until_saved(TecMeeting) as race:
        raced = client.post("/api/v1/tec-meetings/", payload, format="json")
    ordinary = client.post("/api/v1/tec-meetings/", payload, format="json")

    assert race["saved"]
    assert ordinary.status_code == 400
    assert (raced.status_code, raced.json()) == (400, ordinary.json())
    assert TecMeeting.objects.filter(number=7).count() == 1


def test_a_second_declaration_at_the_same_moment_is_the_services_409(
    tec2,
    proposal_in,  # noqa: F811
    on_agenda,  # noqa: F811
):
    item = on_agenda(proposal_in(ProposalStatus.UNDER_EVALUATION))
    ConflictDeclaration.objects.create(agenda_item=item, member=tec2, has_conflict=False)  # the other
    client = api_client(tec2)
    payload = {"agenda_item": item.pk, "has_conflict": False}

    with checks_blind_until_saved(ConflictDeclaration) as race:
        raced = client.post("/api/v1/conflict-declarations/", payload)
    ordinary = client.post("/api/v1/conflict-declarations/", payload)

    assert race["saved"]
    assert (ordinary.status_code, ordinary.json()["code"]) == (409, "exists")
    assert (raced.status_code, raced.json()) == (409, ordinary.json())
    assert ConflictDeclaration.objects.filter(agenda_item=item, member=tec2).count() == 1


CALL = {
    "reference": "SMART/SPCN/RACE",
    "title": "A call raced for",
    "description": "Typed by the PMU.",
    "ceiling_budget": "50000000",
}


def _call_times() -> dict:
    now = timezone.localtime()
    return {
        "opens_at": (now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"),
        "closes_at": (now + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M"),
    }


def test_a_call_reference_taken_at_the_same_moment_through_the_api(pmu):
    CallFactory(reference=CALL["reference"], created_by=pmu)  # the other request's
    client = api_client(pmu)
    payload = {**CALL, **_call_times(), "eligible_sectors": []}

    with checks_blind_until_saved(Call) as race:
        raced = client.post("/api/v1/calls/", payload, format="json")
    ordinary = client.post("/api/v1/calls/", payload, format="json")

    assert race["saved"]
    assert ordinary.status_code == 400
    assert (raced.status_code, raced.json()) == (400, ordinary.json())
    assert Call.objects.filter(reference=CALL["reference"]).count() == 1


def test_a_call_reference_taken_at_the_same_moment_on_the_page(client, pmu):
    CallFactory(reference=CALL["reference"], created_by=pmu)
    client.force_login(pmu)

    with checks_blind_until_saved(Call) as race:
        raced = client.post("/calls/new/", {**CALL, **_call_times()})

    page = raced.content.decode()
    assert race["saved"]
    assert raced.status_code == 200, page[:2000]
    assert "Call for concept notes with this Reference already exists." in page
    assert "A call raced for" in page
    assert Call.objects.filter(reference=CALL["reference"]).count() == 1


def _cluster(name: str) -> Cluster:
    return Cluster.objects.create(
        name=name,
        sub_sector=sub_sector("leather-products"),
        district=district("Kishoreganj"),
        centre_latitude=Decimal("24.05"),
        centre_longitude=Decimal("90.98"),
    )


def test_cluster_names_are_unique_whatever_their_case_in_the_database(db):
    _cluster("Bhairab Cobblers")

    with pytest.raises(IntegrityError), transaction.atomic():
        _cluster("bhairab cobblers")
    with pytest.raises(ValidationError) as refused:
        Cluster(name="BHAIRAB COBBLERS").validate_constraints()

    assert refused.value.messages == ["A cluster with this name already exists."]


@TRANSACTIONAL
def test_two_clusters_renamed_alike_at_the_same_moment(world):
    """Rename one cluster as another is being renamed, in another case: the database refuses it
    (names are unique whatever their case) and the API answers as the check does."""
    _cluster("Bhairab Cobblers")  # the other request's rename, committed
    renamed = _cluster("Kuliarchar Cobblers")
    client = api_client(world.pmu)

    with checks_blind_until_saved(Cluster) as race:
        raced = client.patch(f"/api/v1/clusters/{renamed.pk}/", {"name": "bhairab cobblers"})
    ordinary = client.patch(f"/api/v1/clusters/{renamed.pk}/", {"name": "bhairab cobblers"})

    assert race["saved"]
    assert ordinary.status_code == 400
    assert (raced.status_code, raced.json()) == (400, ordinary.json())
    assert Cluster.objects.get(pk=renamed.pk).name == "Kuliarchar Cobblers"


# --- core.integrity -------------------------------------------------------------------------------


def _integrity_error(make: Callable[[], object]) -> IntegrityError:
    try:
        with transaction.atomic():
            make()
    except IntegrityError as exc:
        return exc
    raise AssertionError("no IntegrityError")


def test_violations_are_told_apart_on_this_database(world):
    unique = _integrity_error(lambda: Kpi.objects.create(code="WATER", name="x", unit="x"))
    check = _integrity_error(
        lambda: FinancialSupport.objects.create(
            enterprise=world.me, kind="loan", amount=-1, disbursed_on=date(2024, 1, 1)
        )
    )
    not_null = _integrity_error(lambda: Kpi.objects.create(code="NEW", name=None, unit="x"))

    assert integrity.violation(unique) == integrity.UNIQUE
    assert integrity.is_unique_violation(unique)
    assert integrity.violation(check) == integrity.CHECK
    assert integrity.violation(not_null) == integrity.NOT_NULL
    assert isinstance(integrity.refusal(unique), Conflict)
    assert not isinstance(integrity.refusal(check), Conflict)


def test_refusing_races_raises_the_recheck_else_a_conflict_and_keeps_the_transaction(world):
    def duplicate():
        Kpi.objects.create(code="WATER", name="x", unit="x")

    def recheck():
        raise ValueError("the check's own refusal")

    with transaction.atomic():
        with pytest.raises(Conflict), integrity.refusing_races():
            duplicate()
        with pytest.raises(ValueError, match="the check's own refusal"), integrity.refusing_races(recheck):
            duplicate()
        # Each savepoint was rolled back: the transaction goes on.
        assert Kpi.objects.filter(code="WATER").count() == 1


# --- Real concurrency (PostgreSQL) ----------------------------------------------------------------

THREADS = 20


def _post_at_once(user, url: str, payload: dict, threads: int = THREADS) -> list[tuple[int, str, Any]]:
    """`threads` identical POSTs released together, each on its own connection; their answers."""
    barrier = threading.Barrier(threads)
    answers: list[tuple[int, str, Any]] = []
    lock = threading.Lock()

    def post() -> None:
        from django.db import connections

        try:
            client = api_client(user)
            barrier.wait(timeout=30)
            response = client.post(url, payload, format="json")
            try:
                body = response.json()
            except ValueError:
                body = response.content[:300]
            with lock:
                answers.append((response.status_code, response.get("Content-Type", ""), body))
        finally:
            connections.close_all()

    workers = [threading.Thread(target=post) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    return answers


def _assert_one_created_and_the_rest_refused(answers, model, same: dict, ordinary) -> None:
    """One 201; the 19 others refused in JSON, each exactly as the ordinary duplicate sent afterwards
    (`ordinary`) is refused; no 5xx; one row."""
    statuses = sorted(status for status, _type, _body in answers)
    assert len(answers) == THREADS
    assert not [answer for answer in answers if answer[0] >= 500], answers
    assert statuses.count(201) == 1, statuses
    assert ordinary.status_code in (400, 409)
    refused = [answer for answer in answers if answer[0] != 201]
    assert all(content_type == "application/json" for _status, content_type, _body in refused)
    assert [(status, body) for status, _type, body in refused] == [
        (ordinary.status_code, ordinary.json())
    ] * (THREADS - 1)
    assert model.objects.filter(**same).count() == 1


@pytest.mark.skipif(
    django_settings.DATABASES[DEFAULT_DB_ALIAS]["ENGINE"] != "django.db.backends.postgresql",
    reason="real concurrency needs PostgreSQL (SQLite serialises writers)",
)
@TRANSACTIONAL
class TestRealConcurrency:
    @pytest.fixture
    def people(self, transactional_db):
        po = PartnerOrganizationFactory(
            code="PO-R01", name="Race Test Sangstha", districts=[district("Kishoreganj")]
        )
        sub_project = sub_project_for(po, agreement_number="PKSF/SMART/SP/R900")
        me = EnterpriseFactory(sub_project=sub_project, po_code="ME-0001")
        staff = make_user("po-racer", Role.PO_STAFF, po=po)
        return SimpleNamespace(po=po, sub_project=sub_project, me=me, staff=staff)

    def test_twenty_identical_kpi_readings(self, people):
        assert connection.vendor == "postgresql"
        payload = {
            "enterprise": people.me.pk,
            "kpi": "WATER",
            "period": "2024-09-01",
            "value": "35",
            "source": "meter",
        }

        answers = _post_at_once(people.staff, "/api/v1/kpi-readings/", payload)
        ordinary = api_client(people.staff).post("/api/v1/kpi-readings/", payload)

        _assert_one_created_and_the_rest_refused(
            answers, KpiReading, {"enterprise": people.me, "kpi__code": "WATER"}, ordinary
        )

    def test_twenty_identical_enterprises(self, people):
        payload = {**NEW_ME, "sub_project": people.sub_project.pk}

        answers = _post_at_once(people.staff, "/api/v1/enterprises/", payload)
        ordinary = api_client(people.staff).post("/api/v1/enterprises/", payload)

        _assert_one_created_and_the_rest_refused(
            answers, Enterprise, {"po_code": NEW_ME["po_code"]}, ordinary
        )

    def test_twenty_identical_financial_supports(self, people):
        payload = {
            "enterprise": people.me.pk,
            "kind": "loan",
            "amount": "50000",
            "financier": "pksf",
            "disbursed_on": "2024-10-02",
        }

        answers = _post_at_once(people.staff, "/api/v1/financial-supports/", payload)
        ordinary = api_client(people.staff).post("/api/v1/financial-supports/", payload)

        _assert_one_created_and_the_rest_refused(
            answers, FinancialSupport, {"enterprise": people.me, "disbursed_on": date(2024, 10, 2)}, ordinary
        )

    def test_twenty_identical_catalogue_entries(self, people):
        """A plain serializer save (no service): the API's re-run answers with the serializer's check."""
        pmu = make_user("pmu-racer", Role.PMU_OFFICER)

        payload = {"code": "RACE-01", "name": "Racing", "category": "energy"}

        answers = _post_at_once(pmu, "/api/v1/recp-practices/", payload)
        ordinary = api_client(pmu).post("/api/v1/recp-practices/", payload)

        _assert_one_created_and_the_rest_refused(answers, RecpPractice, {"code": "RACE-01"}, ordinary)
