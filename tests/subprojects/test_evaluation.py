"""Technical evaluation: rubric weights, conflicts of interest, blind and locked scoring, consolidation
arithmetic, the committee's decision rules, conditions and minutes."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.errors import ActionRefused
from core.roles import Role
from subprojects import evaluation, workflow
from subprojects.models import (
    AgendaItem,
    Call,
    Condition,
    ConflictDeclaration,
    Decision,
    Proposal,
    ProposalStatus,
    Score,
    ScoreSheet,
    SubProject,
    TecMeeting,
    Transition,
)
from subprojects.models.evaluation import LockedError
from tests.assertions import assert_refused, field_errors
from tests.factories import make_user
from tests.subprojects.conftest import no_objection_letter, score
from tests.subprojects.test_pages import management_form
from tests.subprojects.test_workflow import AWARD_TERMS

DECISION_URL = "/api/v1/proposals/{pk}/{action}/"


@pytest.fixture
def item(proposal_in, on_agenda):
    """A proposal under evaluation on a meeting chaired by tec1, with tec1 and tec2 as members."""
    return on_agenda(proposal_in(ProposalStatus.UNDER_EVALUATION))


def values(item, value):
    return {c.pk: (Decimal(value), "") for c in item.proposal.call.rubric.criteria.all()}


# --- Rubric ---------------------------------------------------------------------------------------


def rubric_post(**weights):
    data = {
        "rubric-pass_mark": "60",
        "rubric-spread_threshold": "15",
        **management_form("criteria", len(weights)),
    }
    for index, (name, weight) in enumerate(weights.items()):
        data.update(
            {
                f"criteria-{index}-name": name,
                f"criteria-{index}-weight": weight,
                f"criteria-{index}-max_score": "10",
            }
        )
    return data


def test_rubric_weights_must_add_up_to_100(client, pmu, open_call):
    client.force_login(pmu)

    refused = client.post(f"/calls/{open_call.pk}/rubric/", rubric_post(Relevance="60", Capacity="30"))
    accepted = client.post(f"/calls/{open_call.pk}/rubric/", rubric_post(Relevance="60", Capacity="40"))

    assert "The weights add up to 90; they must add up to 100." in refused.content.decode()
    assert 'value="Relevance"' in refused.content.decode()  # the form keeps what was typed
    assert accepted.status_code == 302
    assert [(c.name, c.weight) for c in open_call.rubric.criteria.all()] == [
        ("Relevance", Decimal("60")),
        ("Capacity", Decimal("40")),
    ]


def test_rubric_api_refuses_bad_weights(api, pmu, open_call):
    criteria = [
        {"name": "Relevance", "weight": "70", "max_score": 10},
        {"name": "Budget", "weight": "20", "max_score": 10},
    ]

    response = api.as_user(pmu).put(
        f"/api/v1/calls/{open_call.pk}/rubric/",
        {"pass_mark": "60", "spread_threshold": "20", "criteria": criteria},
    )

    assert response.status_code == 400
    assert "must add up to 100" in field_errors(response)["criteria"][0]


def test_rubric_locks_at_the_first_submitted_score(client, pmu, tec1, item):
    client.force_login(pmu)
    editable = client.get(f"/calls/{item.proposal.call_id}/rubric/").content.decode()
    score(item, tec1)

    locked_page = client.get(f"/calls/{item.proposal.call_id}/rubric/").content.decode()
    post = client.post(f"/calls/{item.proposal.call_id}/rubric/", rubric_post(Only="100"))

    assert 'data-testid="rubric-form"' in editable
    assert "it can no longer change" in locked_page
    assert 'data-testid="rubric-form"' not in locked_page
    assert post.status_code == 403
    with pytest.raises(ActionRefused, match="can no longer change"):
        evaluation.save_rubric(
            user=pmu,
            rubric=item.proposal.call.rubric,
            pass_mark=Decimal(50),
            spread_threshold=Decimal(20),
            criteria=[{"name": "Only", "weight": 100, "max_score": 10}],
        )
    assert item.proposal.call.rubric.criteria.count() == 6


@pytest.mark.parametrize("persona", ["po1", "tec1", "wb"])
def test_only_pmu_edits_rubrics(db, client, request, open_call, persona):
    user = request.getfixturevalue(persona)
    client.force_login(user)

    assert client.post(f"/calls/{open_call.pk}/rubric/", rubric_post(Relevance="100")).status_code == 403
    with pytest.raises(ActionRefused) as refusal:
        evaluation.save_rubric(
            user=user,
            rubric=evaluation.rubric_for(open_call),
            pass_mark=Decimal(50),
            spread_threshold=Decimal(20),
            criteria=[{"name": "Only", "weight": 100, "max_score": 10}],
        )
    assert_refused(refusal, 403)
    assert not open_call.rubric.criteria.exists()


def test_rubric_criteria_have_distinct_names(pmu, open_call):
    with pytest.raises(ActionRefused) as refusal:
        evaluation.save_rubric(
            user=pmu,
            rubric=evaluation.rubric_for(open_call),
            pass_mark=Decimal(50),
            spread_threshold=Decimal(20),
            criteria=[
                {"name": "Relevance", "weight": 50, "max_score": 10},
                {"name": " relevance ", "weight": 50, "max_score": 10},
            ],
        )

    assert refusal.value.code == "duplicate"
    assert not open_call.rubric.criteria.exists()


def test_a_criterion_with_draft_scores_cannot_be_removed(pmu, tec1, item):
    rubric = item.proposal.call.rubric
    evaluation.declare(user=tec1, item=item, has_conflict=False)
    evaluation.save_scores(user=tec1, item=item, values=values(item, 5))  # a draft: the rubric is open
    kept = [
        {"id": c.pk, "name": c.name, "weight": c.weight, "max_score": c.max_score}
        for c in rubric.criteria.all()
    ]
    kept[1]["weight"] += kept.pop(0)["weight"]

    with pytest.raises(ActionRefused) as refusal:
        evaluation.save_rubric(
            user=pmu, rubric=rubric, pass_mark=Decimal(60), spread_threshold=Decimal(20), criteria=kept
        )

    assert refusal.value.code == "in_use"
    assert rubric.criteria.count() == 6


# --- Meetings and agendas -------------------------------------------------------------------------


def test_putting_a_proposal_on_an_agenda_starts_its_evaluation(pmu, proposal_in, make_meeting):
    proposal = proposal_in(ProposalStatus.SUBMITTED)
    evaluation.seed_default_rubric(proposal.call)
    meeting = make_meeting()

    workflow.apply(proposal, "start_evaluation", pmu, meeting=meeting)

    assert Proposal.objects.get(pk=proposal.pk).status == ProposalStatus.UNDER_EVALUATION
    assert meeting.agenda.get().proposal == proposal


def test_no_evaluation_without_a_complete_rubric(pmu, proposal_in, make_meeting):
    proposal = proposal_in(ProposalStatus.SUBMITTED)
    rubric = evaluation.rubric_for(proposal.call)
    rubric.criteria.create(name="Relevance", weight=50, max_score=10)

    with pytest.raises(ActionRefused, match=r"weights add up to 50\.00, not 100"):
        workflow.apply(proposal, "start_evaluation", pmu, meeting=make_meeting())

    assert Proposal.objects.get(pk=proposal.pk).status == ProposalStatus.SUBMITTED
    assert not AgendaItem.objects.exists()
    assert not Transition.objects.filter(object_id=proposal.pk).exists()


def meeting_data(chair, *members) -> dict:
    return {"number": 1, "held_on": "2030-01-01T10:00Z", "venue": "x", "chair": chair, "members": members}


def test_the_chair_must_be_a_member_and_members_tec(pmu, tec1, tec2, po1):
    with pytest.raises(ActionRefused, match="Not TEC members"):
        evaluation.save_meeting(user=pmu, meeting=None, data=meeting_data(tec1, tec1, po1))
    with pytest.raises(ActionRefused) as refusal:
        evaluation.save_meeting(user=pmu, meeting=None, data=meeting_data(tec1, tec2))

    assert refusal.value.code == "chair"
    assert not TecMeeting.objects.exists()


@pytest.mark.parametrize("persona", ["tec1", "wb", "po1"])
def test_only_pmu_organises_meetings(db, api, request, tec1, tec2, persona):
    user = request.getfixturevalue(persona)

    with pytest.raises(ActionRefused) as refusal:
        evaluation.save_meeting(user=user, meeting=None, data=meeting_data(tec1, tec1, tec2))
    response = api.as_user(user).post(
        "/api/v1/tec-meetings/",
        {"number": 1, "held_on": "2030-01-01T10:00Z", "venue": "x", "chair": tec1.pk, "members": [tec1.pk]},
        format="json",
    )

    assert_refused(refusal, 403)
    assert response.status_code == 403
    assert not TecMeeting.objects.exists()


def test_a_member_who_started_scoring_stays_on_the_meeting(pmu, tec1, tec2, tec3, item):
    evaluation.declare(user=tec2, item=item, has_conflict=False)
    evaluation.save_scores(user=tec2, item=item, values=values(item, 5))

    with pytest.raises(ActionRefused, match="cannot be removed") as refusal:
        evaluation.save_meeting(user=pmu, meeting=item.meeting, data=meeting_data(tec1, tec1, tec3))

    assert refusal.value.code == "members"
    assert set(item.meeting.members.all()) == {tec1, tec2}


def test_a_proposal_goes_on_an_agenda_once_and_needs_a_meeting(pmu, item, proposal_in):
    with pytest.raises(ActionRefused) as again:
        evaluation.meeting_ready(item.proposal, meeting=item.meeting)
    submitted = proposal_in(ProposalStatus.SUBMITTED)
    with pytest.raises(ActionRefused) as no_meeting:
        workflow.apply(submitted, "start_evaluation", pmu)

    assert again.value.code == "exists"
    assert no_meeting.value.code == "meeting"
    assert Proposal.objects.get(pk=submitted.pk).status == ProposalStatus.SUBMITTED


def test_only_pmu_sets_agendas_through_the_api(api, tec1, proposal_in, make_meeting):
    proposal = proposal_in(ProposalStatus.SUBMITTED)
    evaluation.seed_default_rubric(proposal.call)
    meeting = make_meeting()

    response = api.as_user(tec1).post(f"/api/v1/tec-meetings/{meeting.pk}/agenda/", {"proposal": proposal.pk})

    assert response.status_code == 403
    assert not meeting.agenda.exists()
    assert Proposal.objects.get(pk=proposal.pk).status == ProposalStatus.SUBMITTED


def test_po_staff_cannot_see_or_plan_meetings(client, api, po1, item):
    client.force_login(po1)

    assert client.get("/tec-meetings/").status_code == 403
    assert client.get(f"/tec-meetings/{item.meeting_id}/").status_code == 404
    assert client.get("/tec-meetings/new/").status_code == 403
    assert client.get(f"/tec/agenda/{item.pk}/").status_code == 404
    assert api.as_user(po1).get("/api/v1/tec-meetings/").json()["count"] == 0


def test_a_tec_member_sees_only_the_meetings_they_sit_on(client, api, tec3, item, proposal_in):
    client.force_login(tec3)

    assert client.get(f"/tec-meetings/{item.meeting_id}/").status_code == 404
    assert client.get(f"/tec/agenda/{item.pk}/").status_code == 404
    assert client.get(f"/proposals/{item.proposal_id}/").status_code == 404
    assert api.as_user(tec3).get("/api/v1/tec-meetings/").json()["count"] == 0


def test_members_read_the_proposals_on_their_agenda(client, tec1, item):
    client.force_login(tec1)

    assert client.get(f"/proposals/{item.proposal_id}/").status_code == 200


# --- Conflicts of interest ------------------------------------------------------------------------


def test_scoring_needs_a_declaration_first(tec1, item):
    with pytest.raises(ActionRefused, match="Declare any conflict of interest before scoring"):
        evaluation.save_scores(user=tec1, item=item, values=values(item, 7))

    assert not ScoreSheet.objects.exists()


def test_a_conflicted_member_cannot_score_and_is_shown_as_such(client, tec1, tec2, item, pmu):
    evaluation.declare(user=tec2, item=item, has_conflict=True, explanation="My brother chairs the PO.")

    with pytest.raises(ActionRefused, match="conflict of interest"):
        evaluation.save_scores(user=tec2, item=item, values=values(item, 7))
    score(item, tec1, 8)

    consolidation = evaluation.consolidate(item)
    assert [row.status for row in consolidation.rows if row.member == tec2] == ["conflict"]
    assert consolidation.complete  # the conflicted member is not waited for
    client.force_login(pmu)
    meeting_page = client.get(f"/tec-meetings/{item.meeting_id}/minutes/").content.decode()
    assert "My brother chairs the PO." in meeting_page
    assert "conflict of interest declared: does not score" in meeting_page


def test_a_conflict_needs_an_explanation_and_declarations_are_final(tec1, item):
    with pytest.raises(ActionRefused, match="Say what the conflict of interest is"):
        evaluation.declare(user=tec1, item=item, has_conflict=True, explanation=" ")
    evaluation.declare(user=tec1, item=item, has_conflict=False)

    with pytest.raises(ActionRefused, match="already declared"):
        evaluation.declare(user=tec1, item=item, has_conflict=True, explanation="Changed my mind")


def test_only_members_declare_and_score(tec3, pmu, item):
    for user in (tec3, pmu):
        with pytest.raises(ActionRefused) as refusal:
            evaluation.declare(user=user, item=item, has_conflict=False)
        assert_refused(refusal, 403)


@pytest.mark.parametrize("persona", ["tec3", "pmu", "po1"])
def test_only_members_declare_and_score_through_the_api_and_pages(db, api, client, request, item, persona):
    user = request.getfixturevalue(persona)
    api.as_user(user)
    client.force_login(user)
    scores = [{"criterion": c, "value": "7"} for c in values(item, 7)]

    declared = api.post("/api/v1/conflict-declarations/", {"agenda_item": item.pk, "has_conflict": False})
    scored = api.post("/api/v1/scores/", {"agenda_item": item.pk, "scores": scores}, format="json")
    page_declared = client.post(f"/tec/agenda/{item.pk}/declare/", {"has_conflict": "no"})
    page_scored = client.post(f"/tec/agenda/{item.pk}/score/", {f"score_{c}": "7" for c in values(item, 7)})

    if persona == "tec3":
        # A TEC member off the meeting: its agenda item answers as one that does not exist.
        unknown = {"agenda_item": [f'Invalid pk "{item.pk}" - object does not exist.']}
        assert (declared.status_code, field_errors(declared)) == (400, unknown)
        assert (scored.status_code, field_errors(scored)) == (400, unknown)
    else:
        assert declared.status_code == 403
        assert scored.status_code == 403
    assert page_declared.status_code in {403, 404}
    assert page_scored.status_code in {403, 404}
    assert not ConflictDeclaration.objects.exists()
    assert not ScoreSheet.objects.exists()


def test_no_scoring_once_the_committee_has_decided(tec1, tec2, tec3, item):
    item.meeting.members.add(tec3)
    score(item, tec1, 8)
    score(item, tec2, 8)
    evaluation.declare(user=tec3, item=item, has_conflict=False)
    workflow.apply(item.proposal, "recommend", tec1, override_reason="tec3 is travelling.")
    item = AgendaItem.objects.get(pk=item.pk)

    with pytest.raises(ActionRefused) as refusal:
        evaluation.save_scores(user=tec3, item=item, values=values(item, 7))

    assert refusal.value.code == "wrong_state"
    assert not ScoreSheet.objects.filter(member=tec3).exists()


def test_scores_only_for_the_rubrics_criteria(tec1, item):
    evaluation.declare(user=tec1, item=item, has_conflict=False)

    with pytest.raises(ActionRefused) as refusal:
        evaluation.save_scores(user=tec1, item=item, values={**values(item, 5), 999_999: (Decimal(5), "")})

    assert refusal.value.code == "criteria"
    assert not ScoreSheet.objects.exists()


# --- Blindness and locking ------------------------------------------------------------------------


def test_before_submitting_a_member_sees_no_other_scores_anywhere(client, api, tec1, tec2, item):
    score(item, tec2, 9)  # tec2 has submitted
    evaluation.declare(user=tec1, item=item, has_conflict=False)
    evaluation.save_scores(user=tec1, item=item, values=values(item, 5))  # tec1: a draft only

    client.force_login(tec1)
    page = client.get(f"/tec/agenda/{item.pk}/").content.decode()
    meeting = client.get(f"/tec-meetings/{item.meeting_id}/").content.decode()
    api.as_user(tec1)
    sheets = api.get("/api/v1/scores/").json()["results"]
    consolidation = api.get(f"/api/v1/tec-meetings/{item.meeting_id}/consolidation/").json()

    assert "scores stay hidden until you submit yours." in page
    assert 'data-testid="consolidation"' not in page
    assert "hidden until you submit your scores" in meeting
    assert [sheet["member"] for sheet in sheets] == [tec1.pk]
    assert consolidation == []
    assert client.get(f"/tec-meetings/{item.meeting_id}/minutes/").status_code == 403
    assert api.get(f"/api/v1/scores/{ScoreSheet.objects.get(member=tec2).pk}/").status_code == 404


def test_after_submitting_a_member_sees_the_others_submitted_scores(client, api, tec1, tec2, item):
    score(item, tec2, 9)
    score(item, tec1, 5)

    client.force_login(tec1)
    page = client.get(f"/tec/agenda/{item.pk}/").content.decode()
    sheets = api.as_user(tec1).get("/api/v1/scores/").json()["results"]

    assert 'data-testid="consolidation"' in page
    assert {sheet["member"] for sheet in sheets} == {tec1.pk, tec2.pk}
    assert api.get(f"/api/v1/tec-meetings/{item.meeting_id}/consolidation/").json()[0]["mean"] == "70.00"


def test_draft_scores_of_others_stay_hidden_even_after_submitting(api, tec1, tec2, item):
    evaluation.declare(user=tec2, item=item, has_conflict=False)
    evaluation.save_scores(user=tec2, item=item, values=values(item, 2))  # tec2's draft
    score(item, tec1, 5)

    sheets = api.as_user(tec1).get("/api/v1/scores/").json()["results"]

    assert [sheet["member"] for sheet in sheets] == [tec1.pk]


def test_submitted_scores_cannot_be_changed_by_anyone(api, tec1, pmu, item):
    sheet = score(item, tec1, 6)

    with pytest.raises(ActionRefused, match="can no longer change"):
        evaluation.save_scores(user=tec1, item=item, values=values(item, 9))
    refused = api.as_user(tec1).post(
        "/api/v1/scores/",
        {"agenda_item": item.pk, "scores": [{"criterion": c, "value": "9"} for c in values(item, 9)]},
        format="json",
    )
    score_row = sheet.scores.first()
    score_row.value = Decimal("10")
    with pytest.raises(LockedError):
        score_row.save()
    with pytest.raises(LockedError):
        sheet.save()
    with pytest.raises(LockedError):
        Score.objects.get(pk=score_row.pk).delete()

    assert refused.status_code == 409
    assert set(Score.objects.filter(sheet=sheet).values_list("value", flat=True)) == {Decimal("6")}


def test_every_change_before_submission_is_in_the_audit_trail(tec1, item):
    evaluation.declare(user=tec1, item=item, has_conflict=False)
    first = next(iter(values(item, 0)))
    evaluation.save_scores(user=tec1, item=item, values={first: (Decimal("4"), "weak")})
    evaluation.save_scores(user=tec1, item=item, values={first: (Decimal("6"), "better on re-reading")})

    history = Score.history.filter(criterion_id=first).order_by("history_date")

    assert [(h.value, h.comment) for h in history] == [
        (Decimal("4"), "weak"),
        (Decimal("6"), "better on re-reading"),
    ]


def test_scores_stay_within_each_criterion_maximum(tec1, item):
    evaluation.declare(user=tec1, item=item, has_conflict=False)

    with pytest.raises(ActionRefused, match="between 0 and 10"):
        evaluation.save_scores(user=tec1, item=item, values=values(item, 11))
    with pytest.raises(ActionRefused, match="Score every criterion before submitting"):
        evaluation.save_scores(
            user=tec1, item=item, values={next(iter(values(item, 1))): (Decimal(5), "")}, submit=True
        )


# --- Consolidation --------------------------------------------------------------------------------


def test_consolidation_equals_a_hand_computation(tec1, tec2, pmu, item, make_meeting):
    rubric = item.proposal.call.rubric
    rubric.criteria.all().delete()
    relevance = rubric.criteria.create(name="Relevance", weight=Decimal("50"), max_score=10)
    capacity = rubric.criteria.create(name="Capacity", weight=Decimal("30"), max_score=5)
    budget = rubric.criteria.create(name="Budget", weight=Decimal("20"), max_score=20)
    for member, marks in ((tec1, (9, 3, 10)), (tec2, (4, 2, 20))):
        evaluation.declare(user=member, item=item, has_conflict=False)
        evaluation.save_scores(
            user=member,
            item=item,
            values={
                c.pk: (Decimal(m), "") for c, m in zip((relevance, capacity, budget), marks, strict=True)
            },
            submit=True,
        )

    consolidation = evaluation.consolidate(item)

    # tec1: 9/10*50 + 3/5*30 + 10/20*20 = 45 + 18 + 10 = 73
    # tec2: 4/10*50 + 2/5*30 + 20/20*20 = 20 + 12 + 20 = 52
    assert {row.member: row.total for row in consolidation.rows} == {
        tec1: Decimal("73.00"),
        tec2: Decimal("52.00"),
    }
    assert consolidation.mean == Decimal("62.50")
    assert consolidation.spread == Decimal("21.00")
    assert consolidation.wide_spread  # default threshold 20
    assert not consolidation.below_pass_mark  # default pass mark 60
    # The flags follow the rubric's thresholds (which are locked now that scores are submitted).
    again = dataclasses.replace(consolidation, pass_mark=Decimal("65"), spread_threshold=Decimal("25"))
    assert again.below_pass_mark
    assert not again.wide_spread


# --- Decisions ------------------------------------------------------------------------------------


def test_a_decision_waits_for_every_non_conflicted_members_scores(api, pmu, tec1, item):
    score(item, tec1, 8)  # tec2 has not scored

    response = api.as_user(pmu).post(DECISION_URL.format(pk=item.proposal_id, action="recommend"))

    assert response.status_code == 409
    assert response.json()["code"] == "scores_missing"
    assert Proposal.objects.get(pk=item.proposal_id).status == ProposalStatus.UNDER_EVALUATION
    assert not Decision.objects.exists()


def test_the_chair_may_override_with_a_reason(api, tec1, item):
    score(item, tec1, 8)

    response = api.as_user(tec1).post(
        DECISION_URL.format(pk=item.proposal_id, action="recommend"),
        {"override_reason": "tec2 fell ill; the committee agreed to decide today."},
        format="json",
    )

    assert response.status_code == 200, response.json()
    decision = Decision.objects.get()
    assert decision.override_reason == "tec2 fell ill; the committee agreed to decide today."
    assert decision.decided_by == tec1
    assert decision.mean_score == Decimal("80.00")


def test_no_decision_on_a_proposal_that_is_on_no_agenda(api, pmu, proposal_in):
    proposal = proposal_in(ProposalStatus.UNDER_EVALUATION)

    response = api.as_user(pmu).post(DECISION_URL.format(pk=proposal.pk, action="recommend"))

    assert response.status_code == 409
    assert response.json()["code"] == "no_agenda"
    assert not Decision.objects.exists()


def test_only_the_chair_overrides(api, pmu, tec1, item):
    score(item, tec1, 8)

    response = api.as_user(pmu).post(
        DECISION_URL.format(pk=item.proposal_id, action="recommend"),
        {"override_reason": "In a hurry."},
        format="json",
    )

    assert response.status_code == 403
    assert not Decision.objects.exists()


def test_members_other_than_the_chair_do_not_decide(api, client, tec1, tec2, item):
    score(item, tec1, 8)
    score(item, tec2, 8)

    client.force_login(tec2)
    assert client.get(f"/tec/agenda/{item.pk}/decision/").status_code == 403
    assert (
        api.as_user(tec2).post(DECISION_URL.format(pk=item.proposal_id, action="recommend")).status_code
        == 403
    )
    assert Proposal.objects.get(pk=item.proposal_id).status == ProposalStatus.UNDER_EVALUATION


def test_recommendation_with_conditions_lists_them(api, tec1, tec2, item):
    score(item, tec1, 8)
    score(item, tec2, 8)
    url = DECISION_URL.format(pk=item.proposal_id, action="recommend-with-conditions")

    refused = api.as_user(tec1).post(url, {"conditions": []}, format="json")
    accepted = api.post(url, {"conditions": ["DoE site clearance", "Women-led share of 40%"]}, format="json")

    assert refused.status_code == 409
    assert accepted.status_code == 200
    assert list(Condition.objects.values_list("text", flat=True)) == [
        "DoE site clearance",
        "Women-led share of 40%",
    ]


def test_revision_requested_goes_back_to_the_po_and_a_new_agenda(
    api, pmu, po1, tec1, tec2, item, make_meeting
):
    score(item, tec1, 5)
    score(item, tec2, 5)

    api.as_user(tec1).post(
        DECISION_URL.format(pk=item.proposal_id, action="request-revision"),
        {"comment": "Detail the CSF budget."},
    )
    assert (
        api.as_user(po1).post(DECISION_URL.format(pk=item.proposal_id, action="revise")).json()["status"]
        == "draft"
    )
    assert api.post(DECISION_URL.format(pk=item.proposal_id, action="submit")).json()["status"] == "submitted"
    second = make_meeting()
    again = api.as_user(pmu).post(f"/api/v1/tec-meetings/{second.pk}/agenda/", {"proposal": item.proposal_id})

    assert again.status_code == 201
    assert evaluation.current_agenda_item(Proposal.objects.get(pk=item.proposal_id)).meeting == second


def test_decision_page_for_the_chair(client, tec1, tec2, item):
    score(item, tec1, 4)
    score(item, tec2, 4)
    client.force_login(tec1)

    refused = client.post(f"/tec/agenda/{item.pk}/decision/", {"outcome": "not_recommended", "text": ""})
    done = client.post(
        f"/tec/agenda/{item.pk}/decision/",
        {"outcome": "not_recommended", "text": "Mean under the pass mark."},
    )

    assert "Say why, or what the PO must revise." in refused.content.decode()
    assert done.status_code == 302
    assert Proposal.objects.get(pk=item.proposal_id).status == ProposalStatus.NOT_RECOMMENDED


# --- Conditions and the award ---------------------------------------------------------------------


@pytest.fixture
def approved_with_condition(tec1, tec2, wb, approver, item):
    score(item, tec1, 8)
    score(item, tec2, 8)
    proposal = item.proposal
    workflow.apply(proposal, "recommend_with_conditions", tec1, conditions=["DoE site clearance"])
    workflow.apply(proposal, "no_objection", wb, **no_objection_letter())
    workflow.apply(proposal, "approve", approver)
    return Proposal.objects.get(pk=proposal.pk)


def test_award_is_refused_while_a_condition_is_open(client, approver, pmu, po1, approved_with_condition):
    proposal = approved_with_condition
    condition = proposal.conditions.get()

    with pytest.raises(ActionRefused, match="still open"):
        workflow.apply(proposal, "award", approver, **AWARD_TERMS)
    assert not SubProject.objects.exists()

    client.force_login(po1)
    client.post(f"/conditions/{condition.pk}/evidence/", {"evidence": "DoE letter 45/2026"})
    client.force_login(pmu)
    client.post(f"/conditions/{condition.pk}/met/", {"note": ""})
    condition.refresh_from_db()
    assert condition.met
    assert condition.met_by == pmu
    workflow.apply(proposal, "award", approver, **AWARD_TERMS)
    assert SubProject.objects.get().proposal == proposal


@pytest.mark.parametrize("persona", ["po1", "wb", "tec1", "approver"])
def test_only_pmu_checks_conditions_off(db, client, api, request, approved_with_condition, persona):
    condition = approved_with_condition.conditions.get()
    user = request.getfixturevalue(persona)
    client.force_login(user)

    page = client.post(f"/conditions/{condition.pk}/met/", {"note": "Done"})
    response = api.as_user(user).post(f"/api/v1/conditions/{condition.pk}/meet/", {"note": "Done"})

    assert page.status_code == 403
    assert response.status_code == 403
    assert not Condition.objects.get(pk=condition.pk).met


def test_checking_a_condition_off_needs_a_note_or_evidence_and_happens_once(
    pmu, po1, approved_with_condition
):
    condition = approved_with_condition.conditions.get()

    with pytest.raises(ActionRefused) as no_note:
        evaluation.meet_condition(user=pmu, condition=condition, note=" ")
    with pytest.raises(ActionRefused) as no_evidence:
        evaluation.add_evidence(user=po1, condition=condition, evidence=" ")
    evaluation.meet_condition(user=pmu, condition=condition, note="DoE letter seen.")
    with pytest.raises(ActionRefused) as again:
        evaluation.meet_condition(user=pmu, condition=condition, note="Seen twice.")
    with pytest.raises(ActionRefused) as late_evidence:
        evaluation.add_evidence(user=po1, condition=condition, evidence="DoE letter 45/2026")

    assert (no_note.value.code, no_evidence.value.code) == ("note_required", "evidence_required")
    assert (again.value.code, late_evidence.value.code) == ("wrong_state", "wrong_state")
    condition.refresh_from_db()
    assert (condition.met_note, condition.evidence) == ("DoE letter seen.", "")


def test_another_po_cannot_add_evidence(client, po2, approved_with_condition):
    condition = approved_with_condition.conditions.get()
    client.force_login(po2)

    assert client.post(f"/conditions/{condition.pk}/evidence/", {"evidence": "Not mine"}).status_code == 404
    assert Condition.objects.get(pk=condition.pk).evidence == ""


# --- Minutes --------------------------------------------------------------------------------------


def test_minutes_as_a_page_and_a_pdf(client, pmu, tec1, tec2, item):
    score(item, tec1, 8)
    score(item, tec2, 6)
    workflow.apply(item.proposal, "recommend", tec1, comment="Sound proposal.")
    client.force_login(pmu)

    page = client.get(f"/tec-meetings/{item.meeting_id}/minutes/").content.decode()
    pdf = client.get(f"/tec-meetings/{item.meeting_id}/minutes.pdf")

    assert "Attendance" in page
    assert item.proposal.reference in page
    assert "Sound proposal." in page
    assert "70.00" in page  # the mean of 80 and 60
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")


def test_a_member_reads_the_minutes_once_every_item_is_scored_or_conflicted(
    client, tec1, tec2, item, on_agenda, proposal_in
):
    second = on_agenda(proposal_in(ProposalStatus.UNDER_EVALUATION), meeting=item.meeting)
    score(item, tec1, 8)
    client.force_login(tec1)
    url = f"/tec-meetings/{item.meeting_id}/minutes/"

    before = client.get(url)
    evaluation.declare(user=tec1, item=second, has_conflict=True, explanation="Advises the PO.")
    after = client.get(url)

    assert before.status_code == 403
    assert after.status_code == 200
    assert "Advises the PO." in after.content.decode()


def test_the_meeting_page_shows_each_members_step(client, tec1, tec2, item):
    score(item, tec2, 8)
    client.force_login(tec2)

    page = client.get(f"/tec-meetings/{item.meeting_id}/").content.decode()

    assert '<td class="small">submitted</td>' in page
    assert "80.00" in page  # tec2 has submitted: the mean of the submitted scores shows


def test_meeting_pages_cost_the_same_queries_however_long_the_agenda(
    client, pmu, tec1, tec2, item, on_agenda, proposal_in, django_assert_max_num_queries
):
    score(item, tec1, 8)
    client.force_login(pmu)
    urls = [f"/tec-meetings/{item.meeting_id}/", f"/tec-meetings/{item.meeting_id}/minutes/"]
    with CaptureQueriesContext(connection) as one_item:
        for url in urls:
            assert client.get(url).status_code == 200
    for _index in range(3):
        on_agenda(proposal_in(ProposalStatus.UNDER_EVALUATION), meeting=item.meeting, scored=(tec1, tec2))

    with django_assert_max_num_queries(len(one_item)):
        for url in urls:
            assert client.get(url).status_code == 200


@pytest.mark.parametrize("persona", ["po1", "wb", "pmu"])
def test_my_evaluations_is_for_tec_members(db, client, request, persona):
    client.force_login(request.getfixturevalue(persona))

    assert client.get("/tec/my-evaluations/").status_code == 403


# --- Demo data ------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.django_db
class TestOnTheDemoData:
    """The demo programme (`seed_demo`, loaded once per test process), for the tests of this class only."""

    def test_demo_consolidation_equals_a_hand_computation(self, demo_data):
        items = AgendaItem.objects.select_related("meeting").filter(meeting__number__in=[1, 2])
        assert items.count() == 10
        assert Decision.objects.filter(outcome__startswith="recommended").count() == 10
        for item in items:
            criteria = {c.pk: c for c in item.proposal.call.rubric.criteria.all()}
            totals = []
            for sheet in ScoreSheet.objects.filter(agenda_item=item, status="submitted"):
                total = sum(
                    s.value / criteria[s.criterion_id].max_score * criteria[s.criterion_id].weight
                    for s in sheet.scores.all()
                )
                totals.append(total.quantize(Decimal("0.01")))
            consolidation = evaluation.consolidate(item)
            assert sorted(row.total for row in consolidation.submitted) == sorted(totals)
            assert consolidation.mean == (sum(totals) / len(totals)).quantize(Decimal("0.01"))
            assert consolidation.spread == max(totals) - min(totals)
            assert item.decision.mean_score == consolidation.mean


def test_a_new_member_of_the_pmu_and_the_tec_may_both_record_and_score(db, item):
    both = make_user("both", Role.PMU_OFFICER, Role.TEC_MEMBER)
    item.meeting.members.add(both)

    evaluation.declare(user=both, item=item, has_conflict=False)
    evaluation.save_scores(user=both, item=item, values=values(item, 7), submit=True)

    assert ScoreSheet.objects.get(member=both).is_submitted


def test_a_new_call_starts_with_the_six_default_criteria(client, pmu):
    client.force_login(pmu)
    client.post(
        "/calls/new/",
        {
            "reference": "SMART/SPCN/RUBRIC",
            "title": "Third round",
            "description": "With a rubric.",
            "opens_at": "2030-01-01T10:00",
            "closes_at": "2030-03-01T17:00",
            "ceiling_budget": "50000000",
        },
    )

    call = Call.objects.get(reference="SMART/SPCN/RUBRIC")
    assert call.rubric.criteria.count() == 6
    assert evaluation.weights_total(list(call.rubric.criteria.all())) == 100
