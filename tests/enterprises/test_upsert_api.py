"""Upserts by natural key (`POST /api/v1/<resource>/?upsert=true`) and the exact filters on natural
keys: what a system pushing its records every night relies on."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from enterprises.models import Attendance, Enterprise, FinancialSupport, KpiReading, TrainingSession
from tests.enterprises.factories import (
    AttendanceFactory,
    EnterpriseFactory,
    FinancialSupportFactory,
    KpiReadingFactory,
    TrainingSessionFactory,
)
from tests.enterprises.test_api import NEW_ME

pytestmark = pytest.mark.django_db


def reading(me, **changes) -> dict:
    return {
        "enterprise": me.pk,
        "kpi": "ELECTRICITY",
        "period": "2024-09-01",
        "value": "420.000",
        "is_baseline": False,
        "source": "meter",
        **changes,
    }


# --- Upsert: created, updated, refused ------------------------------------------------------------


def test_upsert_creates_201_then_updates_200_the_same_reading(api, po1, me_one):
    api.as_user(po1)

    first = api.post("/api/v1/kpi-readings/?upsert=true", reading(me_one))
    again = api.post("/api/v1/kpi-readings/?upsert=true", reading(me_one, value="455.5", period="2024-09-17"))

    assert first.status_code == 201, first.json()
    assert again.status_code == 200, again.json()
    assert again.json()["id"] == first.json()["id"]
    stored = KpiReading.objects.get()
    assert (stored.value, stored.period) == (Decimal("455.5"), date(2024, 9, 1))


def test_without_upsert_a_stored_reading_is_refused_naming_the_key_and_the_existing_id(api, po1, me_one):
    stored = KpiReadingFactory(enterprise=me_one)

    response = api.as_user(po1).post("/api/v1/kpi-readings/", reading(me_one, value="1"))

    assert response.status_code == 400
    body = response.json()
    assert body["existing_id"] == stored.pk
    assert [error["code"] for error in body["fields"]["period"]] == ["unique"]
    assert KpiReading.objects.get().value == Decimal("420")


@pytest.mark.parametrize("upsert", [False, True])
def test_a_reading_stored_between_the_lookup_and_the_write_is_answered_as_a_stored_one(
    api, po1, me_one, monkeypatch, upsert
):
    """A concurrent identical request may commit after this one looked the key up and before it
    writes: the model's own unique check refuses the write, and the answer is the ordinary one (400
    naming the key and the id; with upsert, the update)."""
    from enterprises.api.bulk import NaturalKeyMixin

    stored = KpiReadingFactory(enterprise=me_one, period=date(2024, 9, 1))
    ordinary = api.as_user(po1).post("/api/v1/kpi-readings/", reading(me_one, value="1"))
    real_lookup, lookups = NaturalKeyMixin.stored_by_natural_key, []

    def late_lookup(view, data):
        lookups.append(data)
        return None if len(lookups) == 1 else real_lookup(view, data)

    monkeypatch.setattr(NaturalKeyMixin, "stored_by_natural_key", late_lookup)
    url = "/api/v1/kpi-readings/" + ("?upsert=true" if upsert else "")
    response = api.post(url, reading(me_one, value="7"))

    assert len(lookups) == 2
    if upsert:
        assert (response.status_code, response.json()["id"]) == (200, stored.pk), response.json()
        assert KpiReading.objects.get().value == Decimal("7")
    else:
        assert (response.status_code, response.json()) == (400, ordinary.json())
        assert KpiReading.objects.get().value == stored.value


def test_an_enterprise_is_upserted_by_its_me_code_within_the_po(api, po1, sp_one):
    api.as_user(po1)
    created = api.post("/api/v1/enterprises/?upsert=true", {**NEW_ME, "sub_project": sp_one.pk})
    updated = api.post(
        "/api/v1/enterprises/?upsert=true", {**NEW_ME, "sub_project": sp_one.pk, "name": "Shapla Leather"}
    )
    duplicate = api.post("/api/v1/enterprises/", {**NEW_ME, "sub_project": sp_one.pk})

    assert (created.status_code, updated.status_code) == (201, 200), updated.json()
    assert Enterprise.objects.get(po_code="ME-API-1").name == "Shapla Leather"
    assert duplicate.status_code == 400
    assert duplicate.json()["existing_id"] == created.json()["id"]
    assert duplicate.json()["fields"]["po_code"][0]["code"] == "unique"


def test_the_same_me_code_in_another_po_is_another_enterprise(api, po2, sp_two, me_one):
    """po1's ME-0001 exists; po2 upserting its own ME-0001 creates po2's, never touches po1's."""
    payload = {**NEW_ME, "po_code": me_one.po_code, "sub_project": sp_two.pk}
    payload.update(district="BD4087", upazila="BD40870047")  # Satkhira, Satkhira Sadar

    response = api.as_user(po2).post("/api/v1/enterprises/?upsert=true", payload)

    assert response.status_code == 201, response.json()
    assert response.json()["id"] != me_one.pk
    me_one.refresh_from_db()
    assert me_one.name == "Rahima Shoe Works"


def test_upsert_of_a_training_session_by_its_code(api, po1, sp_one):
    api.as_user(po1)
    session = {
        "po_code": "TR-2024-015",
        "sub_project": sp_one.pk,
        "module": "CV-01",
        "held_on": "2024-10-12",
        "place": "Bhairab CSF training room",
    }

    first = api.post("/api/v1/trainings/?upsert=true", session)
    second = api.post("/api/v1/trainings/?upsert=true", {**session, "place": "Bhairab Pourashava hall"})
    refused = api.post("/api/v1/trainings/", session)

    assert (first.status_code, second.status_code, refused.status_code) == (201, 200, 400)
    assert TrainingSession.objects.get().place == "Bhairab Pourashava hall"
    assert refused.json()["existing_id"] == first.json()["id"]


def test_upsert_of_attendance_and_financial_support(api, po1, sp_one, me_one):
    session = TrainingSessionFactory(sub_project=sp_one)
    AttendanceFactory(session=session, enterprise=me_one, post_test_score=Decimal("50"))
    FinancialSupportFactory(enterprise=me_one)
    api.as_user(po1)

    attendance = api.post(
        "/api/v1/attendances/?upsert=true",
        {"session": session.pk, "enterprise": me_one.pk, "pre_test_score": "40", "post_test_score": "80"},
    )
    support = api.post(
        "/api/v1/financial-supports/?upsert=true",
        {
            "enterprise": me_one.pk,
            "kind": "loan",
            "amount": "175000",
            "financier": "world_bank",
            "disbursed_on": "2024-10-01",
        },
    )

    assert (attendance.status_code, support.status_code) == (200, 200), (attendance.json(), support.json())
    assert Attendance.objects.get().post_test_score == Decimal("80")
    assert FinancialSupport.objects.get().amount == Decimal("175000")


def test_an_update_by_upsert_keeps_the_rules_of_an_update(api, po1, me_one):
    KpiReadingFactory(enterprise=me_one)

    response = api.as_user(po1).post("/api/v1/kpi-readings/?upsert=true", reading(me_one, value="-5"))

    assert response.status_code == 400
    assert "value" in response.json()["fields"]
    assert KpiReading.objects.get().value == Decimal("420")


def test_a_meaningless_upsert_value_is_refused(api, po1, me_one):
    response = api.as_user(po1).post("/api/v1/kpi-readings/?upsert=perhaps", reading(me_one))

    assert response.status_code == 400
    assert "upsert" in response.json()["fields"]
    assert not KpiReading.objects.exists()


# --- Refusals: who may not upsert -----------------------------------------------------------------


def test_another_pos_staff_cannot_upsert_into_a_reading_of_ours(api, po2, me_one):
    KpiReadingFactory(enterprise=me_one)

    response = api.as_user(po2).post("/api/v1/kpi-readings/?upsert=true", reading(me_one, value="1"))

    assert response.status_code == 400
    assert response.json()["fields"]["enterprise"][0]["code"] == "does_not_exist"
    assert "existing_id" not in response.json()
    assert KpiReading.objects.get().value == Decimal("420")


@pytest.mark.parametrize("persona", ["tec1", "pmu", "wb"])
def test_roles_that_do_not_enter_field_data_cannot_upsert(api, request, persona, me_one):
    KpiReadingFactory(enterprise=me_one)

    response = api.as_user(request.getfixturevalue(persona)).post(
        "/api/v1/kpi-readings/?upsert=true", reading(me_one, value="1")
    )

    assert response.status_code == 403
    assert KpiReading.objects.get().value == Decimal("420")


# --- Exact filters on natural keys ----------------------------------------------------------------


def test_exact_filters_find_a_record_by_its_natural_key(api, po1, sp_one, me_one):
    other = EnterpriseFactory(sub_project=sp_one, po_code="ME-0001-B")
    KpiReadingFactory(enterprise=me_one, period=date(2024, 9, 1))
    wanted = KpiReadingFactory(enterprise=me_one, period=date(2024, 10, 1))
    KpiReadingFactory(enterprise=other, period=date(2024, 10, 1))
    session = TrainingSessionFactory(sub_project=sp_one, po_code="TR-9")
    TrainingSessionFactory(sub_project=sp_one, po_code="TR-90")
    attendance = AttendanceFactory(session=session, enterprise=me_one)
    support = FinancialSupportFactory(enterprise=me_one, disbursed_on=date(2024, 11, 3))
    FinancialSupportFactory(enterprise=me_one, disbursed_on=date(2024, 11, 4))
    api.as_user(po1)

    def ids(url: str, **params) -> list[int]:
        response = api.get(url, params)
        assert response.status_code == 200, response.json()
        return [row["id"] for row in response.json()["results"]]

    assert ids("/api/v1/enterprises/", po_code="ME-0001") == [me_one.pk]
    assert ids("/api/v1/enterprises/", po_code="me-0001") == []
    assert ids("/api/v1/kpi-readings/", enterprise=me_one.pk, kpi="ELECTRICITY", period="2024-10-01") == [
        wanted.pk
    ]
    assert ids("/api/v1/kpi-readings/", enterprise_code="ME-0001", period="2024-10-15") == [wanted.pk]
    assert ids("/api/v1/trainings/", po_code="TR-9") == [session.pk]
    assert ids("/api/v1/attendances/", session_code="TR-9", enterprise_code="ME-0001") == [attendance.pk]
    assert ids(
        "/api/v1/financial-supports/", enterprise=me_one.pk, kind="loan", disbursed_on="2024-11-03"
    ) == [support.pk]


def test_exact_filters_never_show_another_pos_records(api, po2, me_one, me_two):
    """Both POs have an ME-0001: po2 finds its own only."""
    response = api.as_user(po2).get("/api/v1/enterprises/", {"po_code": "ME-0001"})

    assert [row["id"] for row in response.json()["results"]] == [me_two.pk]
