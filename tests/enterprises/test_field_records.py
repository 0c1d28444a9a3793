"""Entering field records one at a time in the browser: who may, and what is refused."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from core import lifecycle
from core.errors import ActionRefused
from enterprises.lifecycles import status_action
from enterprises.models import (
    Adoption,
    Attendance,
    CommonServiceFacility,
    FacilityStatus,
    FinancialSupport,
    KpiReading,
    TrainingSession,
)
from subprojects.models import Transition
from tests.enterprises.factories import (
    AdoptionFactory,
    EnterpriseFactory,
    FacilityFactory,
    FinancialSupportFactory,
    KpiReadingFactory,
    TrainingSessionFactory,
    kpi,
    practice,
    training_module,
)
from tests.factories import district, sub_sector

pytestmark = pytest.mark.django_db

SUPPORT = {
    "kind": "loan",
    "amount": "150000",
    "financier": "world_bank",
    "disbursed_on": "2024-10-01",
    "reference": "LN-1",
}


def test_po_staff_record_financial_support(client, po1, me_one):
    client.force_login(po1)

    response = client.post(f"/enterprises/{me_one.pk}/supports/new/", SUPPORT)

    assert response.status_code == 302
    assert response["Location"] == f"/enterprises/{me_one.pk}/#support"
    support = FinancialSupport.objects.get()
    assert (support.enterprise, support.amount, support.created_by) == (me_one, Decimal("150000"), po1)
    assert support.financier == "world_bank"


def test_refused_support_keeps_what_was_typed_and_says_why(client, po1, me_one):
    FinancialSupportFactory(enterprise=me_one, disbursed_on=date(2024, 10, 1))
    client.force_login(po1)

    response = client.post(f"/enterprises/{me_one.pk}/supports/new/", {**SUPPORT, "reference": "LN-TYPED"})

    page = response.content.decode()
    assert response.status_code == 200
    assert "This enterprise already has a support of this type on this date." in page
    assert 'value="LN-TYPED"' in page
    assert FinancialSupport.objects.count() == 1


def test_another_po_gets_404_and_the_pmu_403_when_adding_a_record(client, po2, pmu, me_one):
    client.force_login(po2)
    assert client.post(f"/enterprises/{me_one.pk}/supports/new/", SUPPORT).status_code == 404
    client.force_login(pmu)
    assert client.post(f"/enterprises/{me_one.pk}/supports/new/", SUPPORT).status_code == 403
    assert not FinancialSupport.objects.exists()


def test_po_staff_edit_and_delete_a_support(client, po1, me_one):
    support = FinancialSupportFactory(enterprise=me_one)
    client.force_login(po1)

    client.post(f"/financial-supports/{support.pk}/edit/", {**SUPPORT, "amount": "90000"})
    support.refresh_from_db()
    assert support.amount == Decimal("90000")
    client.post(f"/field-data/support/{support.pk}/delete/")

    assert not FinancialSupport.objects.exists()


def test_another_po_cannot_delete_a_record(client, po2, me_one):
    support = FinancialSupportFactory(enterprise=me_one)
    client.force_login(po2)

    assert client.post(f"/field-data/support/{support.pk}/delete/").status_code == 404
    assert FinancialSupport.objects.filter(pk=support.pk).exists()


def test_attendance_recorded_from_the_enterprise_page(client, po1, me_one, sp_one):
    session = TrainingSessionFactory(sub_project=sp_one)
    client.force_login(po1)

    client.post(
        f"/enterprises/{me_one.pk}/attendances/new/",
        {"session": session.pk, "pre_test_score": "35", "post_test_score": "70"},
    )

    assert Attendance.objects.get().knowledge_increased is True


def test_attendance_recorded_from_the_session_page_by_me_code(client, po1, me_one, me_two, sp_one):
    session = TrainingSessionFactory(sub_project=sp_one)
    client.force_login(po1)

    refused = client.post(f"/trainings/{session.pk}/", {"enterprise_code": "ME-9999", "pre_test_score": "40"})
    client.post(
        f"/trainings/{session.pk}/",
        {"enterprise_code": me_one.po_code, "pre_test_score": "40", "post_test_score": "41"},
    )

    assert "Your PO has no enterprise with the ME code ME-9999." in refused.content.decode()
    assert Attendance.objects.get().enterprise == me_one
    assert "1 attended; 1 scored higher" in client.get(f"/trainings/{session.pk}/").content.decode()


def test_po_staff_create_a_training_session_only_in_their_sub_projects(client, po1, sp_one, sp_two):
    client.force_login(po1)
    data = {
        "po_code": "TR-1",
        "module": training_module("CV-02").pk,
        "topic": "Heat stress",
        "held_on": "2024-10-10",
        "place": "Bhairab",
    }

    client.post("/trainings/new/", {**data, "sub_project": sp_two.pk})
    assert not TrainingSession.objects.exists()
    client.post("/trainings/new/", {**data, "sub_project": sp_one.pk})

    session = TrainingSession.objects.get()
    assert (session.partner_organization, session.module.code) == (sp_one.partner_organization, "CV-02")


def test_another_po_cannot_open_a_session(client, po2, sp_one):
    session = TrainingSessionFactory(sub_project=sp_one)
    client.force_login(po2)

    assert client.get(f"/trainings/{session.pk}/").status_code == 404


def test_po_staff_report_an_adoption_but_cannot_verify_it(client, po1, me_one):
    client.force_login(po1)

    client.post(
        f"/enterprises/{me_one.pk}/adoptions/new/",
        {
            "practice": practice("WS-04").pk,
            "adopted_on": "2024-11-01",
            "evidence_observed_on": "2024-11-20",
            "evidence_latitude": "24.0524",
            "evidence_longitude": "90.9764",
        },
    )
    adoption = Adoption.objects.get()
    refused = client.post(f"/adoptions/{adoption.pk}/verify/", {"verified_on": "2024-12-01"})

    assert refused.status_code == 403
    adoption.refresh_from_db()
    assert (adoption.reported_by, adoption.evidence_observed_on) == (po1, date(2024, 11, 20))
    assert (adoption.verified_on, adoption.verified_by) == (None, None)
    assert not Transition.objects.exists()
    page = client.get(f"/enterprises/{me_one.pk}/").content.decode()
    assert "reported, not yet verified" in page
    assert 'data-testid="verify-form"' not in page


def test_pmu_may_verify_an_adoption_but_not_twice(client, pmu, me_one):
    adoption = AdoptionFactory(enterprise=me_one)
    client.force_login(pmu)

    client.post(f"/adoptions/{adoption.pk}/verify/", {"verified_on": "2024-12-15", "comment": "Seen in use"})
    response = client.post(f"/adoptions/{adoption.pk}/verify/", {"verified_on": "2024-12-20"}, follow=True)

    adoption.refresh_from_db()
    assert (adoption.verified_on, adoption.verified_by) == (date(2024, 12, 15), pmu)
    assert "already verified on 2024-12-15" in response.content.decode()
    decision = Transition.objects.get()
    assert (decision.subject, decision.action, decision.from_state, decision.to_state, decision.actor) == (
        adoption,
        "verify",
        "reported",
        "verified",
        pmu,
    )
    assert decision.comment == "Seen in use"
    page = response.content.decode()
    assert f"verified by {pmu.get_display_name()} on 15 Dec 2024" in page
    assert f"by {pmu.get_display_name()}: Seen in use" in page


@pytest.mark.parametrize("persona", ["wb", "approver", "tec1", "verifier"])
def test_other_roles_cannot_verify_on_the_page(client, request, me_one, persona):
    adoption = AdoptionFactory(enterprise=me_one)
    client.force_login(request.getfixturevalue(persona))

    assert client.post(f"/adoptions/{adoption.pk}/verify/", {"verified_on": "2024-12-15"}).status_code == 403
    adoption.refresh_from_db()
    assert adoption.verified_on is None


def test_another_po_cannot_verify(client, po2, me_one):
    adoption = AdoptionFactory(enterprise=me_one)
    client.force_login(po2)

    assert client.post(f"/adoptions/{adoption.pk}/verify/").status_code == 404
    adoption.refresh_from_db()
    assert adoption.verified_on is None


def test_a_verified_adoption_cannot_be_deleted(client, po1, pmu, me_one):
    adoption = AdoptionFactory(enterprise=me_one, verified_on=date(2025, 1, 5), verified_by=pmu)
    client.force_login(po1)

    response = client.post(f"/field-data/adoption/{adoption.pk}/delete/", follow=True)

    assert "A verified adoption cannot be deleted." in response.content.decode()
    assert Adoption.objects.filter(pk=adoption.pk).exists()


def test_the_practice_choice_offers_only_practices_fitting_the_sub_sector(client, po1, me_one):
    client.force_login(po1)

    page = client.get(f"/enterprises/{me_one.pk}/adoptions/new/").content.decode()

    assert "Water-based adhesives" in page  # AQ-03: leather products
    assert "Husk-fired boiler" not in page  # EE-05: rice mills


def test_po_staff_record_a_kpi_reading_for_a_month(client, po1, me_one):
    client.force_login(po1)
    data = {"kpi": kpi().pk, "period": "2024-09", "value": "420", "is_baseline": "on", "source": "meter"}

    client.post(f"/enterprises/{me_one.pk}/readings/new/", data)
    refused = client.post(
        f"/enterprises/{me_one.pk}/readings/new/", {**data, "value": "999999", "period": "2024-10"}
    )

    reading = KpiReading.objects.get()
    assert (reading.period, reading.is_baseline) == (date(2024, 9, 1), True)
    assert "is not plausible for Electricity consumption" in refused.content.decode()


def test_po_staff_edit_a_reading(client, po1, me_one):
    reading = KpiReadingFactory(enterprise=me_one)
    client.force_login(po1)

    client.post(
        f"/kpi-readings/{reading.pk}/edit/",
        {"kpi": reading.kpi_id, "period": "2024-09", "value": "410", "source": "estimate"},
    )

    reading.refresh_from_db()
    assert (reading.value, reading.source) == (Decimal("410"), "estimate")


def test_po_staff_create_a_facility_serving_their_own_mes_only(client, po1, sp_one, me_one, me_two):
    client.force_login(po1)
    data = {
        "sub_project": sp_one.pk,
        "name": "Bhairab Footwear CSF",
        "kind": "revenue",
        "sub_sector": sub_sector("leather-products").pk,
        "district": district("Kishoreganj").pk,
        "status": "operational",
        "opened_on": "2025-01-20",
    }

    refused = client.post("/facilities/new/", {**data, "mes_served_codes": "ME-0001, ME-4040"})
    client.post("/facilities/new/", {**data, "mes_served_codes": me_one.po_code})

    assert "ME-4040" in refused.content.decode()
    facility = CommonServiceFacility.objects.get()
    assert list(facility.mes_served.all()) == [me_one]
    assert me_two not in facility.mes_served.all()


def test_facility_pages_are_scoped(client, po2, pmu, sp_one):
    facility = FacilityFactory(sub_project=sp_one)
    client.force_login(po2)
    assert client.get(f"/facilities/{facility.pk}/").status_code == 404
    assert client.get(f"/facilities/{facility.pk}/edit/").status_code == 404
    client.force_login(pmu)
    assert client.get(f"/facilities/{facility.pk}/").status_code == 200
    assert client.get(f"/facilities/{facility.pk}/edit/").status_code == 403


def test_no_new_enterprise_form_for_a_po_without_active_sub_project(client, po1, pmu, sp_one):
    lifecycle.apply(sp_one, "complete", pmu, comment="All activities done.")
    client.force_login(po1)

    page = client.get("/enterprises/new/").content.decode()

    assert sp_one.agreement_number not in page
    assert EnterpriseFactory(sub_project=sp_one).pk  # existing data stays


@pytest.mark.parametrize(
    ("verified_on", "reason"),
    [
        ("2099-01-01", "The verification date cannot be in the future"),
        ("2024-11-30", "A practice is verified after it is adopted."),
    ],
)
def test_a_verification_date_in_the_future_or_before_the_adoption_is_refused(
    client, pmu, me_one, verified_on, reason
):
    adoption = AdoptionFactory(enterprise=me_one, adopted_on=date(2024, 12, 1))
    client.force_login(pmu)

    response = client.post(f"/adoptions/{adoption.pk}/verify/", {"verified_on": verified_on}, follow=True)

    assert reason in response.content.decode()
    adoption.refresh_from_db()
    assert (adoption.verified_on, adoption.verified_by) == (None, None)


def test_a_verified_adoption_cannot_be_changed_through_the_api(api, po1, pmu, me_one):
    adoption = AdoptionFactory(enterprise=me_one, verified_on=date(2025, 1, 5), verified_by=pmu)

    response = api.as_user(po1).patch(
        f"/api/v1/adoptions/{adoption.pk}/", {"note": "changed"}, format="multipart"
    )

    assert response.status_code == 409
    assert response.json()["detail"] == "A verified adoption cannot be changed."
    adoption.refresh_from_db()
    assert adoption.note == ""


def test_deleting_an_unknown_kind_of_record_is_404(client, po1, me_one):
    support = FinancialSupportFactory(enterprise=me_one)
    client.force_login(po1)

    assert client.post(f"/field-data/enterprise/{support.pk}/delete/").status_code == 404
    assert FinancialSupport.objects.filter(pk=support.pk).exists()


def test_a_facility_cannot_serve_another_pos_enterprises(po1, sp_one, me_one, me_two):
    from django.core.exceptions import ValidationError

    from enterprises import services

    data = {
        "sub_project": sp_one,
        "name": "Bhairab Footwear CSF",
        "kind": "revenue",
        "sub_sector": sub_sector("leather-products"),
        "district": district("Kishoreganj"),
        "status": "planned",
        "mes_served": [me_one, me_two],
    }

    with pytest.raises(ValidationError) as refused:
        services.save_facility(user=po1, data=data)

    assert refused.value.message_dict == {"mes_served": [f"Not enterprises of this PO: {me_two.po_code}."]}
    assert not CommonServiceFacility.objects.exists()


def test_only_the_pos_own_staff_edit_a_training_session(client, pmu, sp_one):
    session = TrainingSessionFactory(sub_project=sp_one, topic="Before")
    client.force_login(pmu)

    refused = client.post(f"/trainings/{session.pk}/edit/", {"topic": "After"})

    assert refused.status_code == 403
    session.refresh_from_db()
    assert session.topic == "Before"


# --- A facility's status moves through the one engine ---------------------------------------------


def _facility_form(facility, **changes) -> dict:
    data = {
        "sub_project": facility.sub_project_id,
        "name": facility.name,
        "kind": facility.kind,
        "sub_sector": facility.sub_sector_id,
        "district": facility.district_id,
        "status": facility.status,
        "opened_on": facility.opened_on.isoformat() if facility.opened_on else "",
        "mes_served_codes": "",
    }
    return {**data, **changes}


def _log(obj) -> list[tuple]:
    return [(t.action, t.from_state, t.to_state, t.actor, t.comment) for t in lifecycle.transitions_of(obj)]


def test_every_change_between_two_statuses_has_exactly_one_rule():
    """Any status may follow any other, as the form has always allowed: one rule leads each way."""
    states = list(FacilityStatus.values)
    for source in states:
        for target in states:
            if source == target:
                with pytest.raises(ActionRefused):
                    status_action(source, target)
                continue
            action = status_action(source, target)
            rule = lifecycle.get_rule(CommonServiceFacility, action)
            assert (source in rule.sources, rule.target) == (True, target)


def test_a_status_changed_on_the_form_is_one_logged_move(client, po1, sp_one):
    facility = FacilityFactory(sub_project=sp_one, status="planned", opened_on=None)
    client.force_login(po1)

    client.post(
        f"/facilities/{facility.pk}/edit/",
        _facility_form(
            facility, status="under_construction", status_comment="Foundations laid", address="Road 2"
        ),
    )
    client.post(  # saved again as it is: no move, no row
        f"/facilities/{facility.pk}/edit/",
        _facility_form(facility, status="under_construction", address="Road 2"),
    )
    page = client.get(f"/facilities/{facility.pk}/").content.decode()

    facility.refresh_from_db()
    assert (facility.status, facility.address) == ("under_construction", "Road 2")
    assert _log(facility) == [
        ("start_construction", "planned", "under_construction", po1, "Foundations laid")
    ]
    assert "Under construction: planned → under construction" in page
    assert "Foundations laid" in page


def test_opening_and_leaving_operation_carry_the_opening_date(po1, pmu, sp_one):
    from enterprises import services

    facility = FacilityFactory(sub_project=sp_one, status="under_construction", opened_on=None)
    data = {"status": "operational", "opened_on": date(2025, 1, 20)}

    services.save_facility(user=po1, facility=facility, data=data, comment="Opened")
    services.confirm_facility_operational(user=pmu, facility=facility, on=date(2025, 2, 1))
    services.save_facility(user=po1, facility=facility, data={"status": "planned", "opened_on": None})

    facility.refresh_from_db()
    assert (facility.status, facility.opened_on, facility.operational_confirmed_on) == ("planned", None, None)
    assert _log(facility) == [
        ("open", "under_construction", "operational", po1, "Opened"),
        ("confirm_operational", "operational", "operational", pmu, ""),
        ("replan", "operational", "planned", po1, ""),
    ]


def test_a_refused_status_move_changes_nothing_not_even_the_other_fields(po1, sp_one, monkeypatch):
    from enterprises import services
    from enterprises.lifecycles import FACILITY_LIFECYCLE

    facility = FacilityFactory(sub_project=sp_one, status="planned", opened_on=None, address="Before")

    def refuse(facility, **context):
        raise ActionRefused("Not now.")

    monkeypatch.setitem(FACILITY_LIFECYCLE.guards, "opening_date_given", refuse)

    with pytest.raises(ActionRefused, match="Not now"):
        services.save_facility(
            user=po1,
            facility=facility,
            data={"status": "operational", "opened_on": date(2025, 1, 20), "address": "After"},
        )

    facility.refresh_from_db()
    assert (facility.status, facility.opened_on, facility.address) == ("planned", None, "Before")
    assert not Transition.objects.exists()


@pytest.mark.parametrize(
    ("who", "action", "params", "code"),
    [
        ("po2", "start_construction", {}, "forbidden"),  # another PO's staff
        ("pmu", "start_construction", {}, "forbidden"),  # the PMU does not report a PO's facility
        ("po1", "open", {"opened_on": date(2025, 1, 20)}, "wrong_state"),  # operational already
    ],
)
def test_the_engine_refuses_a_move_by_role_or_state_and_changes_nothing(
    request, sp_one, who, action, params, code
):
    facility = FacilityFactory(sub_project=sp_one)

    with pytest.raises(ActionRefused) as refused:
        lifecycle.apply(facility, action, request.getfixturevalue(who), **params)

    assert refused.value.code == code
    facility.refresh_from_db()
    assert (facility.status, facility.opened_on) == ("operational", date(2025, 1, 20))
    assert not Transition.objects.exists()


def test_a_facility_status_cannot_be_saved_outside_the_engine(sp_one):
    facility = FacilityFactory(sub_project=sp_one)
    facility.status, facility.opened_on = "under_construction", None

    with pytest.raises(lifecycle.StateChangedOutsideLifecycle):
        facility.save()

    facility.refresh_from_db()
    assert facility.status == "operational"


def test_a_status_changed_through_the_api_is_one_logged_move_and_refusals_are_403(api, po1, po2, pmu, sp_one):
    facility = FacilityFactory(sub_project=sp_one)
    change = {"status": "planned", "opened_on": None, "status_comment": "Site moved"}

    by_pmu = api.as_user(pmu).patch(f"/api/v1/facilities/{facility.pk}/", change, format="json")
    by_other_po = api.as_user(po2).patch(f"/api/v1/facilities/{facility.pk}/", change, format="json")
    moved = api.as_user(po1).patch(f"/api/v1/facilities/{facility.pk}/", change, format="json")
    confirm_planned = api.as_user(pmu).post(f"/api/v1/facilities/{facility.pk}/confirm-operational/", {})

    assert (by_pmu.status_code, by_other_po.status_code) == (403, 404)
    assert moved.status_code == 200, moved.json()
    assert (moved.json()["status"], moved.json()["opened_on"]) == ("planned", None)
    assert "status_comment" not in moved.json()
    assert (confirm_planned.status_code, confirm_planned.json()["code"]) == (409, "wrong_state")
    assert _log(facility) == [("replan", "operational", "planned", po1, "Site moved")]


def test_a_status_changed_by_an_import_is_one_logged_move_by_the_importer(po_one, po1, sp_one):
    from tests.enterprises.test_imports import as_csv, facility_row, run

    rows = [facility_row(sp_one, status="under construction", opened_on="")]
    assert run("facilities", as_csv(rows), po_one, po1).committed
    facility = CommonServiceFacility.objects.get()

    rows[0].update(status="operational", opened_on="2025-01-20", services="Recycling, cutting")
    report = run("facilities", as_csv(rows), po_one, po1)

    assert (report.committed, report.updated) == (True, 1)
    facility.refresh_from_db()
    assert (facility.status, facility.opened_on, facility.services) == (
        "operational",
        date(2025, 1, 20),
        "Recycling, cutting",
    )
    assert _log(facility) == [
        ("open", "under_construction", "operational", po1, "Spreadsheet import, row 2.")
    ]
    assert run("facilities", as_csv(rows), po_one, po1).unchanged == 1
    assert Transition.objects.count() == 1
