"""Each rule of the models is stated once (the model's clean() and check constraints, or one function
of subprojects.validation / subprojects.evaluation) and both the page's form and the API's serializer
answer it, with the same message on the same field; the API maps every domain error to HTTP in one
place (smart_portal.api.exception_handler)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.http import Http404
from django.utils import timezone

from core.errors import ActionRefused, Forbidden
from smart_portal.api import exception_handler
from subprojects import evaluation, services
from subprojects.models import Call, ProposalStatus, SubProject, TecMeeting
from tests.assertions import assert_refused, field_errors
from tests.subprojects.factories import SubProjectFactory
from tests.subprojects.test_pages import _proposal_post

# --- One mapping of domain errors to HTTP ---------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "status", "body"),
    [
        (
            ValidationError({"end_date": "The end date must be after the start date."}),
            400,
            {
                "code": "invalid",
                "detail": "The request has an error in 1 field: end_date.",
                "fields": {
                    "end_date": [{"code": "invalid", "message": "The end date must be after the start date."}]
                },
            },
        ),
        (
            ValidationError("Not like this."),
            400,
            {
                "code": "invalid",
                "detail": "Not like this.",
                "fields": {"non_field_errors": [{"code": "invalid", "message": "Not like this."}]},
            },
        ),
        (Forbidden("Only PMU officers amend sub-projects."), 403, None),
        (ActionRefused("A closed call cannot be edited.", code="wrong_state"), 409, None),
        (Http404(), 404, None),
    ],
)
def test_the_api_maps_each_domain_error_to_one_answer(error, status, body):
    response = exception_handler(error, {})

    assert response.status_code == status
    if body is not None:
        assert response.data == body
    if isinstance(error, ActionRefused):
        assert response.data == {"code": error.code, "detail": str(error), "fields": {}}


def test_a_rule_broken_inside_a_service_is_a_400_naming_the_field(api, pmu, proposal_in, monkeypatch):
    sub_project = SubProjectFactory(proposal=proposal_in(ProposalStatus.AWARDED))

    def broken(**_kwargs):
        raise ValidationError({"budget_po": "The PO's contribution is not agreed."})

    monkeypatch.setattr(services, "update_sub_project", broken)
    response = api.as_user(pmu).patch(f"/api/v1/sub-projects/{sub_project.pk}/", {"title": "Renamed"})

    assert response.status_code == 400
    assert field_errors(response) == {"budget_po": ["The PO's contribution is not agreed."]}


# --- Calls: the deadline after the opening (Call.clean and its check constraint) ------------------

CALL = {
    "reference": "SMART/SPCN/RULES",
    "title": "A call",
    "description": "Its deadline comes before its opening.",
    "ceiling_budget": "50000000",
}


def test_a_call_closing_before_it_opens_is_refused_on_the_field_by_page_and_api(client, api, pmu):
    client.force_login(pmu)

    page = client.post(
        "/calls/new/", {**CALL, "opens_at": "2030-02-01T10:00", "closes_at": "2030-01-01T10:00"}
    )
    response = api.as_user(pmu).post(
        "/api/v1/calls/",
        {**CALL, "opens_at": "2030-02-01T10:00Z", "closes_at": "2030-01-01T10:00Z", "eligible_sectors": []},
    )

    assert page.context["form"].errors["closes_at"] == ["The deadline must be after the opening."]
    assert response.status_code == 400
    assert field_errors(response) == {"closes_at": ["The deadline must be after the opening."]}
    assert not Call.objects.filter(reference=CALL["reference"]).exists()


def test_moving_an_open_calls_deadline_before_its_opening_is_refused_by_the_api(api, pmu, open_call):
    closes = (open_call.opens_at - timedelta(days=1)).isoformat()

    response = api.as_user(pmu).patch(f"/api/v1/calls/{open_call.pk}/", {"closes_at": closes})

    assert response.status_code == 400
    assert field_errors(response) == {"closes_at": ["The deadline must be after the opening."]}


# --- Sub-projects: the end after the start (SubProject.clean and its check constraint) ------------


def test_a_sub_project_ending_before_it_starts_is_refused_on_the_field_by_page_and_api(
    client, api, pmu, proposal_in
):
    sub_project = SubProjectFactory(proposal=proposal_in(ProposalStatus.AWARDED))
    client.force_login(pmu)
    form = {
        "title": sub_project.title,
        "start_date": "2025-01-01",
        "end_date": "2024-12-31",
        "budget_world_bank": "20000000",
        "budget_pksf": "3750000",
        "budget_po": "1250000",
    }

    page = client.post(f"/sub-projects/{sub_project.pk}/edit/", form)
    response = api.as_user(pmu).patch(f"/api/v1/sub-projects/{sub_project.pk}/", {"end_date": "2024-07-15"})

    assert page.context["form"].errors["end_date"] == ["The end date must be after the start date."]
    assert response.status_code == 400
    assert field_errors(response) == {"end_date": ["The end date must be after the start date."]}
    assert SubProject.objects.get(pk=sub_project.pk).end_date == sub_project.end_date


# --- Work plan: an activity ends after it starts (Activity.clean and its check constraint) --------


def test_an_activity_ending_before_it_starts_is_refused_on_the_field_by_page_and_api(
    client, api, po1, proposal_in
):
    proposal = proposal_in(ProposalStatus.DRAFT)
    client.force_login(po1)

    page = client.post(
        f"/proposals/{proposal.pk}/edit/",
        _proposal_post(proposal, **{"activities-0-start_month": "6", "activities-0-end_month": "2"}),
    )
    response = api.as_user(po1).patch(
        f"/api/v1/proposals/{proposal.pk}/",
        {"activities": [{"description": "Backwards", "start_month": 6, "end_month": 2}]},
        format="json",
    )

    assert page.context["formsets"]["activities"].forms[0].errors == {
        "end_month": ["An activity cannot end before it starts."]
    }
    assert response.status_code == 400
    assert field_errors(response) == {"activities.0.end_month": ["An activity cannot end before it starts."]}
    assert not proposal.activities.filter(description="Backwards").exists()


# --- Committed results: each indicator once --------------------------------------------------------


def test_an_indicator_committed_twice_is_refused_by_page_and_api(client, api, po1, proposal_in):
    proposal = proposal_in(ProposalStatus.DRAFT)
    client.force_login(po1)
    twice = {
        "committed_results-TOTAL_FORMS": "2",
        "committed_results-1-indicator": "CSF_ESTABLISHED",
        "committed_results-1-target": "2",
    }

    page = client.post(f"/proposals/{proposal.pk}/edit/", _proposal_post(proposal, **twice))
    response = api.as_user(po1).patch(
        f"/api/v1/proposals/{proposal.pk}/",
        {
            "committed_results": [
                {"indicator": "ME_FINANCED", "target": 1},
                {"indicator": "ME_FINANCED", "target": 2},
            ]
        },
        format="json",
    )

    # The model's unique constraint, as the formset checks it.
    forms = page.context["formsets"]["committed_results"].forms
    assert forms[0].errors == {}
    assert forms[1].errors == {"__all__": ["Please correct the duplicate values below."]}
    assert not proposal.committed_results.filter(indicator="CSF_ESTABLISHED").exists()
    assert response.status_code == 400
    assert field_errors(response) == {"committed_results": ["An indicator is listed twice."]}


# --- The award's dates (subprojects.validation.award_date_rules) -----------------------------------


@pytest.mark.parametrize(
    ("change", "field", "error", "problem"),
    [
        (
            {"award_date": 3, "start_date": 5, "end_date": 500},
            "award_date",
            "The award date cannot be in the future.",
            "Award date cannot be in the future",
        ),
        (
            {"award_date": 0, "start_date": -5, "end_date": 500},
            "start_date",
            "The start date cannot be before the award date.",
            "Start date cannot be before the award date",
        ),
        (
            {"award_date": 0, "start_date": 10, "end_date": 10},
            "end_date",
            "The end date must be after the start date.",
            "End date must be after the start date",
        ),
    ],
)
def test_the_award_dates_are_refused_alike_by_the_form_and_the_rule(
    client, api, approver, proposal_in, change, field, error, problem
):
    proposal = proposal_in(ProposalStatus.APPROVED)
    today = timezone.localdate()
    terms = {
        "agreement_number": "PKSF/SMART/RULES/1",
        **{name: (today + timedelta(days=days)).isoformat() for name, days in change.items()},
        "budget_world_bank": "20000000",
        "budget_pksf": "3000000",
        "budget_po": "1000000",
    }
    client.force_login(approver)

    page = client.post(f"/proposals/{proposal.pk}/award/", terms)
    response = api.as_user(approver).post(f"/api/v1/proposals/{proposal.pk}/award/", terms)

    assert page.context["form"].errors == {field: [error]}
    assert_refused(response, 409)
    assert problem in response.json()["detail"]
    assert not SubProject.objects.exists()


# --- Evaluation: the rubric's weights, the meeting's chair -----------------------------------------


def test_the_weights_rule_is_the_same_for_the_service(pmu, open_call):
    with pytest.raises(ActionRefused) as refusal:
        evaluation.save_rubric(
            user=pmu,
            rubric=evaluation.rubric_for(open_call),
            pass_mark=60,
            spread_threshold=20,
            criteria=[{"name": "Relevance", "weight": 60, "max_score": 10}],
        )

    assert_refused(refusal, 409, code="weights")
    assert str(refusal.value) == "The weights add up to 60; they must add up to 100."


def test_a_chair_who_is_not_a_member_is_refused_by_page_api_and_service(client, api, pmu, tec1, tec2):
    client.force_login(pmu)
    held_on = timezone.now() + timedelta(days=3)
    meeting = {"number": 5, "venue": "PKSF Bhaban", "chair": tec1.pk, "members": [tec2.pk]}

    page = client.post("/tec-meetings/new/", {**meeting, "held_on": held_on.strftime("%Y-%m-%dT%H:%M")})
    response = api.as_user(pmu).post(
        "/api/v1/tec-meetings/", {**meeting, "held_on": held_on.isoformat()}, format="json"
    )
    with pytest.raises(ActionRefused) as refusal:
        evaluation.save_meeting(
            user=pmu, meeting=None, data={**meeting, "held_on": held_on, "chair": tec1, "members": [tec2]}
        )

    assert page.context["form"].errors["chair"] == ["The chair must be one of the members."]
    assert response.status_code == 400
    assert field_errors(response) == {"chair": ["The chair must be one of the members."]}
    assert_refused(refusal, 409, code="chair")
    assert str(refusal.value) == "The chair must be one of the members."
    assert not TecMeeting.objects.exists()
