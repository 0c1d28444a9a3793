"""The sub-project transition tables through the engine: each action once allowed (it moves the state
and is logged) and once refused (nothing changes, the audit trail included), then the guards and
effects. Every (state, action, role) of every table is checked as data in tests/core/test_rule_tables.py."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from core.errors import ActionRefused
from core.roles import Role
from subprojects import workflow
from subprojects.models import (
    Call,
    CallStatus,
    ConceptNote,
    NoteStatus,
    Proposal,
    ProposalStatus,
    SubProject,
    SubProjectStatus,
    Transition,
)
from tests.assertions import assert_refused
from tests.factories import make_user
from tests.subprojects.conftest import no_objection_letter
from tests.subprojects.factories import CallFactory, SubProjectFactory

AWARD_TERMS = {
    "agreement_number": "PKSF/SMART/SP-TEST/001",
    "award_date": date(2024, 8, 1),
    "start_date": date(2024, 8, 15),
    "end_date": date(2027, 8, 14),
    "budget_world_bank": Decimal("20000000"),
    "budget_pksf": Decimal("3750000"),
    "budget_po": Decimal("1250000"),
}

ROLE_PERSONA = {
    Role.PMU_OFFICER: "pmu",
    Role.WORLD_BANK: "wb",
    Role.PKSF_APPROVER: "approver",
    Role.TEC_MEMBER: "tec1",
    Role.PO_STAFF: "po1",
    Role.VERIFIER: "verifier",
}


def _make(model, state, request, action=""):
    if model is Call and action.startswith("reopen_scoring"):
        # Scores to reopen: a proposal of the call under evaluation, scored by tec1.
        proposal = request.getfixturevalue("proposal_in")(ProposalStatus.UNDER_EVALUATION)
        request.getfixturevalue("on_agenda")(proposal, scored=(request.getfixturevalue("tec1"),))
        call = proposal.call
        if state == CallStatus.CLOSED:
            workflow.apply(call, "close", None)
        return Call.objects.get(pk=call.pk)
    if model is Call:
        return CallFactory(created_by=request.getfixturevalue("pmu"), status=state)
    if model is ConceptNote:
        return request.getfixturevalue("note_in")(state)
    if model is Proposal:
        proposal = request.getfixturevalue("proposal_in")(state)
        # On an agenda chaired by tec1 (the TEC persona of these tests); fully scored when under
        # evaluation, so that the committee may decide.
        scored = ()
        if state == ProposalStatus.UNDER_EVALUATION:
            scored = (request.getfixturevalue("tec1"), request.getfixturevalue("tec2"))
        request.getfixturevalue("on_agenda")(proposal, scored=scored)
        return proposal
    return SubProjectFactory(
        proposal=request.getfixturevalue("proposal_in")(ProposalStatus.AWARDED),
        status=state,
    )


def _params(rule, request):
    if rule.action == "award":
        return AWARD_TERMS
    if rule.action == "start_evaluation":
        return {"meeting": request.getfixturevalue("make_meeting")()}
    if rule.action == "recommend_with_conditions":
        return {"conditions": ["DoE site clearance before civil works."]}
    if rule.action == "no_objection":
        return no_objection_letter()
    return {}


# --- Each action through apply(): one allowed and one refused case ------------------------------
# Every state x role of every table is checked as data, without the database, against the expected
# tables in tests/core/test_rule_tables.py; here each sub-project action runs once through the engine
# (lock, guards, effect, the Transition row) and is refused once, changing nothing. The refusals
# alternate, action by action, between a state outside the rule (409) and a role outside it (403),
# so that each model's refusals go through both checks.

# Who takes an action in the allowed case: the first of its roles in this order (the TEC's decisions
# are taken by tec1, the meeting's chair, which also exercises the rule's `who` check).
ROLE_ORDER = [Role.PO_STAFF, Role.TEC_MEMBER, Role.WORLD_BANK, Role.PKSF_APPROVER, Role.PMU_OFFICER]
SUBPROJECT_TABLES = (Call, ConceptNote, Proposal, SubProject)


def _end_to_end_cases():
    from tests.core.test_rule_tables import EXPECTED

    allowed, refused = [], []
    for model in SUBPROJECT_TABLES:
        states = [choice for choice, _label in model._meta.get_field("status").choices]
        for index, (action, expected) in enumerate(EXPECTED[model].rules.items()):
            source = next(state for state in states if state in expected.sources)
            role = next(role for role in ROLE_ORDER if role in expected.roles)
            case_id = f"{model.__name__}-{action}"
            allowed.append(pytest.param(model, action, source, role, id=f"{case_id}-{source}-{role}"))
            if index % 2 == 0:
                outside = next(state for state in states if state not in expected.sources)
                refused.append(
                    pytest.param(model, action, outside, role, 409, id=f"{case_id}-{outside}-{role}")
                )
            else:
                other = next(other for other in ROLE_ORDER if other not in expected.roles)
                refused.append(
                    pytest.param(model, action, source, other, 403, id=f"{case_id}-{source}-{other}")
                )
    return allowed, refused


ALLOWED, REFUSED = _end_to_end_cases()


@pytest.mark.parametrize(("model", "action", "state", "role"), ALLOWED)
def test_allowed_transition_moves_the_state_and_is_logged(db, request, model, action, state, role):
    obj = _make(model, state, request, action)
    user = request.getfixturevalue(ROLE_PERSONA[role])
    rule = workflow.get_rule(model, action)
    before = timezone.now()

    updated = workflow.apply(obj, action, user, comment="Looks right.", **_params(rule, request))

    target = rule.target_from(state)
    assert updated.status == target
    obj.refresh_from_db()
    assert obj.status == target
    assert obj.status_changed_at >= before
    log = Transition.objects.get(object_id=obj.pk, action=action)
    assert (log.from_state, log.to_state, log.actor, log.comment) == (
        state,
        target,
        user,
        "Looks right.",
    )


@pytest.mark.parametrize(("model", "action", "state", "role", "status"), REFUSED)
def test_transition_outside_the_table_is_refused_and_changes_nothing(
    db, request, model, action, state, role, status
):
    obj = _make(model, state, request)
    user = request.getfixturevalue(ROLE_PERSONA[role])
    rule = workflow.get_rule(model, action)
    logged = Transition.objects.count()
    sub_projects = SubProject.objects.count()

    with pytest.raises(ActionRefused) as refusal:
        workflow.apply(obj, action, user, comment="Trying anyway.", **_params(rule, request))

    if status == 403:
        assert_refused(refusal, 403)
    else:
        assert_refused(refusal, 409, code="wrong_state")
    obj.refresh_from_db()
    assert obj.status == state
    assert Transition.objects.count() == logged
    assert SubProject.objects.count() == sub_projects


def test_po_staff_cannot_act_on_another_pos_note(note_in, po2):
    note = note_in(NoteStatus.DRAFT)

    with pytest.raises(ActionRefused) as refusal:
        workflow.apply(note, "submit", po2)

    assert_refused(refusal, 403)
    note.refresh_from_db()
    assert note.status == NoteStatus.DRAFT


def test_submitting_after_the_deadline_is_refused_and_the_draft_stays(note_in):
    note = note_in(NoteStatus.DRAFT)
    Call.objects.filter(pk=note.call_id).update(closes_at=timezone.now() - timedelta(minutes=1))

    with pytest.raises(ActionRefused, match=r"deadline of the call .* has passed") as refusal:
        workflow.apply(note, "submit", note.created_by)

    assert refusal.value.code == "deadline_passed"
    assert ConceptNote.objects.get(pk=note.pk).status == NoteStatus.DRAFT
    assert not Transition.objects.filter(object_id=note.pk).exists()


def test_submitting_to_a_closed_call_is_refused(note_in):
    note = note_in(NoteStatus.DRAFT)
    Call.objects.filter(pk=note.call_id).update(status=CallStatus.CLOSED)

    with pytest.raises(ActionRefused, match="not open for submissions"):
        workflow.apply(note, "submit", note.created_by)


def test_an_incomplete_note_is_refused_with_every_missing_piece(note_in):
    note = note_in(
        NoteStatus.DRAFT, problem="", estimated_budget=None, mes_targeted=0, women_led_mes_targeted=0
    )
    note.target_districts.clear()

    with pytest.raises(ActionRefused) as refusal:
        workflow.apply(note, "submit", note.created_by)

    message = str(refusal.value)
    for missing in (
        "Problem addressed is missing",
        "Estimated budget is missing",
        "target district",
        "MEs targeted",
    ):
        assert missing in message
    assert ConceptNote.objects.get(pk=note.pk).status == NoteStatus.DRAFT


def test_a_note_over_the_ceiling_cannot_be_submitted(note_in):
    note = note_in(NoteStatus.DRAFT, estimated_budget=Decimal("90000000"))

    with pytest.raises(ActionRefused, match="exceeds the call's ceiling"):
        workflow.apply(note, "submit", note.created_by)


@pytest.mark.parametrize("action", ["reject", "return_for_revision"])
def test_refusing_a_note_needs_a_comment(note_in, pmu, action):
    note = note_in(NoteStatus.UNDER_REVIEW)

    with pytest.raises(ActionRefused, match="needs a comment") as refusal:
        workflow.apply(note, action, pmu, comment="   ")

    assert refusal.value.code == "comment_required"
    assert ConceptNote.objects.get(pk=note.pk).status == NoteStatus.UNDER_REVIEW


def test_returned_note_goes_back_to_draft_with_the_pmus_comment(note_in, pmu, po1):
    note = note_in(NoteStatus.UNDER_REVIEW)

    workflow.apply(note, "return_for_revision", pmu, comment="Add the waste baseline.")

    note.refresh_from_db()
    assert note.status == NoteStatus.DRAFT
    assert note.transitions.last().comment == "Add the waste baseline."
    # ... and the PO can submit it again.
    workflow.apply(note, "submit", po1)
    assert ConceptNote.objects.get(pk=note.pk).status == NoteStatus.SUBMITTED


def test_invitation_creates_a_proposal_prefilled_from_the_note(note_in, pmu):
    note = note_in(NoteStatus.SHORTLISTED)
    deadline = timezone.now() + timedelta(days=30)

    proposal = workflow.invite_proposal(
        note, pmu, deadline=deadline, comment="Please submit by the deadline."
    )

    assert proposal.status == ProposalStatus.INVITED
    assert (proposal.title, proposal.sector, proposal.partner_organization) == (
        note.title,
        note.sector,
        note.partner_organization,
    )
    assert set(proposal.sub_sectors.all()) == set(note.sub_sectors.all())
    assert set(proposal.target_districts.all()) == set(note.target_districts.all())
    assert proposal.deadline == deadline
    assert proposal.transitions.get().action == "invite"


@pytest.mark.parametrize(
    "state", [NoteStatus.DRAFT, NoteStatus.SUBMITTED, NoteStatus.UNDER_REVIEW, NoteStatus.REJECTED]
)
def test_only_shortlisted_notes_can_be_invited(note_in, pmu, state):
    note = note_in(state)

    with pytest.raises(ActionRefused, match="Only a shortlisted concept note"):
        workflow.invite_proposal(note, pmu, deadline=timezone.now() + timedelta(days=30))

    assert not Proposal.objects.exists()


def test_a_note_is_invited_once(note_in, pmu):
    note = note_in(NoteStatus.SHORTLISTED)
    workflow.invite_proposal(note, pmu, deadline=timezone.now() + timedelta(days=30))

    with pytest.raises(ActionRefused, match="already been invited"):
        workflow.invite_proposal(note, pmu, deadline=timezone.now() + timedelta(days=30))


@pytest.mark.parametrize("persona", ["po1", "wb", "approver", "tec1"])
def test_only_pmu_invites(db, request, note_in, persona):
    note = note_in(NoteStatus.SHORTLISTED)

    with pytest.raises(ActionRefused) as refusal:
        workflow.invite_proposal(
            note, request.getfixturevalue(persona), deadline=timezone.now() + timedelta(days=9)
        )

    assert_refused(refusal, 403)


def test_invitation_deadline_must_be_in_the_future(note_in, pmu):
    with pytest.raises(ActionRefused, match="must be in the future"):
        workflow.invite_proposal(
            note_in(NoteStatus.SHORTLISTED), pmu, deadline=timezone.now() - timedelta(hours=1)
        )


def test_proposal_submitted_after_its_deadline_is_refused(proposal_in, po1):
    proposal = proposal_in(ProposalStatus.DRAFT, deadline=timezone.now() - timedelta(minutes=5))

    with pytest.raises(ActionRefused, match="deadline for this proposal") as refusal:
        workflow.apply(proposal, "submit", po1)

    assert refusal.value.code == "deadline_passed"
    assert Proposal.objects.get(pk=proposal.pk).status == ProposalStatus.DRAFT


def test_proposal_over_the_ceiling_is_refused(proposal_in, po1):
    proposal = proposal_in(ProposalStatus.DRAFT)
    proposal.budget_lines.create(
        category="other", description="Extra", amount=Decimal("40000000"), financier="pksf"
    )

    with pytest.raises(ActionRefused, match="exceeds the call's ceiling"):
        workflow.apply(proposal, "submit", po1)


def test_incomplete_proposal_lists_what_is_missing(proposal_in, po1):
    proposal = proposal_in(ProposalStatus.DRAFT, risk_category="", exclusion_list_checked=False)
    proposal.activities.all().delete()
    proposal.committed_results.all().delete()

    with pytest.raises(ActionRefused) as refusal:
        workflow.apply(proposal, "submit", po1)

    message = str(refusal.value)
    for missing in ("activity", "result indicator", "risk category", "exclusion-list"):
        assert missing in message


def test_award_creates_the_sub_project_with_its_terms(proposal_in, approver):
    proposal = proposal_in(ProposalStatus.APPROVED)

    workflow.apply(proposal, "award", approver, **AWARD_TERMS)

    sub_project = SubProject.objects.get(proposal=proposal)
    assert sub_project.agreement_number == "PKSF/SMART/SP-TEST/001"
    assert sub_project.partner_organization == proposal.partner_organization
    assert sub_project.approved_budget == Decimal("25000000")
    assert sub_project.status == SubProjectStatus.ACTIVE


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"agreement_number": " "}, "Agreement number is missing"),
        ({"end_date": date(2024, 8, 1)}, "End date must be after the start date"),
        ({"start_date": date(2024, 7, 1)}, "Start date cannot be before the award date"),
        (
            {
                "award_date": timezone.localdate() + timedelta(days=3),
                "start_date": timezone.localdate() + timedelta(days=5),
            },
            "Award date cannot be in the future",
        ),
        ({"budget_world_bank": Decimal("60000000")}, "exceeds the call's ceiling"),
        (
            {"budget_world_bank": Decimal("0"), "budget_pksf": Decimal("0"), "budget_po": Decimal("0")},
            "must be more than zero",
        ),
    ],
)
def test_award_with_bad_terms_is_refused_and_creates_nothing(proposal_in, approver, change, message):
    proposal = proposal_in(ProposalStatus.APPROVED)

    with pytest.raises(ActionRefused, match=message):
        workflow.apply(proposal, "award", approver, **{**AWARD_TERMS, **change})

    assert Proposal.objects.get(pk=proposal.pk).status == ProposalStatus.APPROVED
    assert not SubProject.objects.exists()
    assert not Transition.objects.filter(object_id=proposal.pk, action="award").exists()


def test_agreement_numbers_are_unique(proposal_in, approver):
    SubProjectFactory(agreement_number=AWARD_TERMS["agreement_number"])
    proposal = proposal_in(ProposalStatus.APPROVED)

    with pytest.raises(ActionRefused, match="already used"):
        workflow.apply(proposal, "award", approver, **AWARD_TERMS)


def test_a_person_with_two_roles_acts_in_each(note_in, db):
    officer = make_user("pmu-and-tec", Role.PMU_OFFICER, Role.TEC_MEMBER)
    note = note_in(NoteStatus.SUBMITTED)

    workflow.apply(note, "start_review", officer)

    assert ConceptNote.objects.get(pk=note.pk).status == NoteStatus.UNDER_REVIEW


def test_calls_past_their_deadline_are_closed_by_the_periodic_task(pmu):
    from subprojects.tasks import close_calls_past_deadline

    late = CallFactory(created_by=pmu, closes_at=timezone.now() - timedelta(hours=1))
    current = CallFactory(created_by=pmu)

    assert close_calls_past_deadline() == [late.reference]

    assert Call.objects.get(pk=late.pk).status == CallStatus.CLOSED
    assert Call.objects.get(pk=current.pk).status == CallStatus.OPEN
    assert Transition.objects.get(object_id=late.pk).actor is None
