"""Each right of subprojects.permissions is stated once and asked everywhere: a person without it is
refused (403) by the service, the page and the API alike, and the page shows them no button for it.
Another PO's objects stay a 404 (scoping), so the object rights are refused by the services."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from core.errors import ActionRefused
from subprojects import evaluation, permissions, services
from subprojects.models import (
    Call,
    Condition,
    Decision,
    DecisionOutcome,
    NoteStatus,
    Proposal,
    ProposalStatus,
    SubProject,
    TecMeeting,
)
from tests.assertions import assert_refused
from tests.subprojects.factories import SubProjectFactory

PERSONAS = ["pmu", "po1", "wb", "approver", "tec1", "verifier"]

# Who holds each right that depends on the person alone.
RIGHTS = {
    permissions.may_edit_call: {"pmu"},
    permissions.may_write_for_po: {"po1"},
    permissions.may_invite: {"pmu"},
    permissions.may_change_deadline: {"pmu"},
    permissions.may_amend_sub_project: {"pmu"},
    permissions.may_edit_rubric: {"pmu"},
    permissions.may_organise_meetings: {"pmu"},
    permissions.may_meet_conditions: {"pmu"},
    permissions.is_tec_member: {"tec1"},
}


@pytest.mark.parametrize("right", RIGHTS, ids=lambda right: right.__name__)
def test_who_holds_each_right(db, request, right):
    holders = {persona for persona in PERSONAS if right(request.getfixturevalue(persona))}

    assert holders == RIGHTS[right]


def test_object_rights_belong_to_the_objects_po(note_in, proposal_in, po1, po2, pmu):
    note, proposal = note_in(NoteStatus.DRAFT), proposal_in(ProposalStatus.DRAFT)

    for right, obj in ((permissions.may_edit_note, note), (permissions.may_edit_proposal, proposal)):
        assert [right(user, obj) for user in (po1, po2, pmu)] == [True, False, False], right.__name__
    assert [permissions.may_add_evidence(user, proposal) for user in (po1, po2, pmu)] == [True, False, False]


# --- Calls ----------------------------------------------------------------------------------------

CALL = {
    "reference": "SMART/SPCN/RIGHTS",
    "title": "A call",
    "description": "For the rights.",
    "opens_at": "2030-01-01T10:00",
    "closes_at": "2030-02-01T10:00",
    "ceiling_budget": "50000000",
}


@pytest.mark.parametrize("persona", ["po1", "wb", "tec1"])
def test_only_the_pmu_creates_and_edits_calls_on_every_path(db, client, api, request, open_call, persona):
    user = request.getfixturevalue(persona)
    client.force_login(user)
    api.as_user(user)

    assert_refused(client.get("/calls/new/"), 403)
    assert_refused(client.post(f"/calls/{open_call.pk}/edit/", CALL), 403)
    assert_refused(api.post("/api/v1/calls/", CALL), 403)
    assert_refused(api.patch(f"/api/v1/calls/{open_call.pk}/", {"title": "Mine"}), 403)
    with pytest.raises(ActionRefused) as created:
        services.create_call(user=user, data=CALL)
    with pytest.raises(ActionRefused) as edited:
        services.update_call(user=user, call=open_call, data={"title": "Mine"})
    assert_refused(created, 403)
    assert_refused(edited, 403)
    assert not Call.objects.filter(reference=CALL["reference"]).exists()
    assert Call.objects.get(pk=open_call.pk).title != "Mine"


def test_call_pages_show_the_create_and_edit_buttons_to_the_pmu_only(client, pmu, po1, open_call):
    client.force_login(pmu)
    pmu_list, pmu_call = client.get("/calls/"), client.get(f"/calls/{open_call.pk}/")
    client.force_login(po1)
    po_list, po_call = client.get("/calls/"), client.get(f"/calls/{open_call.pk}/")

    assert (pmu_list.context["can_create"], po_list.context["can_create"]) == (True, False)
    assert (pmu_call.context["can_edit"], po_call.context["can_edit"]) == (True, False)
    assert "/calls/new/" in pmu_list.content.decode()
    assert "/calls/new/" not in po_list.content.decode()
    assert (pmu_call.context.get("can_write_note"), po_call.context["can_write_note"]) == (None, True)


# --- Concept notes and proposals ------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["pmu", "wb", "tec1"])
def test_only_po_staff_write_notes_and_proposals_on_every_path(
    db, client, api, request, open_call, proposal_in, persona
):
    user = request.getfixturevalue(persona)
    proposal = proposal_in(ProposalStatus.DRAFT)
    client.force_login(user)
    api.as_user(user)

    assert_refused(client.get(f"/calls/{open_call.pk}/concept-notes/new/"), 403)
    assert_refused(client.get(f"/proposals/{proposal.pk}/edit/"), 403)
    assert_refused(api.patch(f"/api/v1/proposals/{proposal.pk}/", {"title": "Mine"}), 403)
    with pytest.raises(ActionRefused) as refusal:
        services.create_concept_note(user=user, call=open_call, data={"title": "Mine"})
    assert_refused(refusal, 403)


def test_only_the_notes_po_edits_it_and_its_attachments(note_in, po2):
    note = note_in(NoteStatus.DRAFT)
    pdf = SimpleUploadedFile("plan.pdf", b"%PDF-1.4\n%%EOF\n", "application/pdf")

    with pytest.raises(ActionRefused) as edited:
        services.update_concept_note(user=po2, note=note, data={"title": "Mine"})
    with pytest.raises(ActionRefused) as attached:
        services.add_attachment(user=po2, owner=note, upload=pdf, description="", mime_type="application/pdf")

    assert_refused(edited, 403)
    assert_refused(attached, 403)
    assert not note.attachments.exists()


def test_only_the_proposals_po_edits_it(proposal_in, po2):
    proposal = proposal_in(ProposalStatus.DRAFT)

    with pytest.raises(ActionRefused) as refusal:
        services.save_proposal(user=po2, proposal=proposal, data={"title": "Mine"})

    assert_refused(refusal, 403)


def test_the_edit_buttons_follow_the_edit_rights(client, pmu, po1, note_in, proposal_in):
    note, proposal = note_in(NoteStatus.DRAFT), proposal_in(ProposalStatus.DRAFT)
    client.force_login(po1)
    po_note, po_proposal = client.get(f"/concept-notes/{note.pk}/"), client.get(f"/proposals/{proposal.pk}/")
    client.force_login(pmu)
    pmu_proposal = client.get(f"/proposals/{proposal.pk}/")

    assert po_note.context["can_edit"] is True
    assert (po_proposal.context["can_edit"], pmu_proposal.context["can_edit"]) == (True, False)
    assert f"/proposals/{proposal.pk}/edit/" not in pmu_proposal.content.decode()


@pytest.mark.parametrize("persona", ["po1", "wb", "approver"])
def test_only_the_pmu_invites_on_every_path(db, client, api, request, note_in, persona):
    note = note_in(NoteStatus.SHORTLISTED)
    user = request.getfixturevalue(persona)
    client.force_login(user)
    deadline = (timezone.now() + timedelta(days=20)).isoformat()

    page = client.get(f"/concept-notes/{note.pk}/invite/")
    response = api.as_user(user).post(f"/api/v1/concept-notes/{note.pk}/invite/", {"deadline": deadline})

    assert_refused(page, 403)
    # API clients read the code of a refusal: `forbidden` says it is about who asks.
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert not Proposal.objects.exists()
    assert client.get(f"/concept-notes/{note.pk}/").context["can_invite"] is False


def test_the_invite_button_is_the_pmus(client, pmu, note_in):
    note = note_in(NoteStatus.SHORTLISTED)
    client.force_login(pmu)

    assert client.get(f"/concept-notes/{note.pk}/").context["can_invite"] is True


@pytest.mark.parametrize("persona", ["po1", "wb", "approver"])
def test_only_the_pmu_changes_a_deadline_on_every_path(db, client, api, request, proposal_in, persona):
    proposal = proposal_in(ProposalStatus.DRAFT)
    user = request.getfixturevalue(persona)
    deadline = timezone.now() + timedelta(days=45)
    client.force_login(user)

    page = client.post(
        f"/proposals/{proposal.pk}/deadline/", {"deadline": deadline.strftime("%Y-%m-%dT%H:%M")}
    )
    response = api.as_user(user).post(
        f"/api/v1/proposals/{proposal.pk}/deadline/", {"deadline": deadline.isoformat()}
    )
    with pytest.raises(ActionRefused) as refusal:
        services.change_proposal_deadline(user=user, proposal=proposal, deadline=deadline)

    assert_refused(page, 403)
    assert_refused(response, 403, code="forbidden")
    assert_refused(refusal, 403)
    assert client.get(f"/proposals/{proposal.pk}/").context["can_change_deadline"] is False


def test_the_deadline_button_is_the_pmus(client, pmu, proposal_in):
    proposal = proposal_in(ProposalStatus.DRAFT)
    client.force_login(pmu)

    assert client.get(f"/proposals/{proposal.pk}/").context["can_change_deadline"] is True


# --- Sub-projects ---------------------------------------------------------------------------------


@pytest.fixture
def sub_project(proposal_in):
    return SubProjectFactory(proposal=proposal_in(ProposalStatus.AWARDED))


@pytest.mark.parametrize("persona", ["po1", "wb", "approver"])
def test_only_the_pmu_amends_a_sub_project_on_every_path(db, client, api, request, sub_project, persona):
    user = request.getfixturevalue(persona)
    client.force_login(user)

    page = client.get(f"/sub-projects/{sub_project.pk}/edit/")
    response = api.as_user(user).patch(f"/api/v1/sub-projects/{sub_project.pk}/", {"title": "Mine"})
    with pytest.raises(ActionRefused) as refusal:
        services.update_sub_project(user=user, sub_project=sub_project, data={"title": "Mine"})

    assert_refused(page, 403)
    assert_refused(response, 403)
    assert_refused(refusal, 403)
    assert SubProject.objects.get(pk=sub_project.pk).title != "Mine"
    assert client.get(f"/sub-projects/{sub_project.pk}/").context["can_edit"] is False


def test_the_amend_button_is_the_pmus(client, pmu, sub_project):
    client.force_login(pmu)

    assert client.get(f"/sub-projects/{sub_project.pk}/").context["can_edit"] is True


# --- Evaluation -----------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["po1", "tec1", "wb"])
def test_only_the_pmu_edits_a_rubric_through_the_api(db, client, api, request, open_call, persona):
    user = request.getfixturevalue(persona)
    criteria = [{"name": "Only", "guidance": "", "weight": "100", "max_score": 10}]
    client.force_login(user)

    response = api.as_user(user).put(
        f"/api/v1/calls/{open_call.pk}/rubric/",
        {"pass_mark": "50", "spread_threshold": "20", "criteria": criteria},
        format="json",
    )

    assert_refused(response, 403)
    assert not evaluation.rubric_for(open_call).criteria.filter(name="Only").exists()
    assert client.get(f"/calls/{open_call.pk}/rubric/").context["editable"] is False


@pytest.mark.parametrize("persona", ["tec1", "wb", "po1"])
def test_only_the_pmu_organises_meetings_through_the_pages(db, client, request, tec1, tec2, persona):
    client.force_login(request.getfixturevalue(persona))

    assert_refused(client.get("/tec-meetings/new/"), 403)
    assert_refused(
        client.post(
            "/tec-meetings/new/",
            {
                "number": "4",
                "held_on": "2030-01-01T10:00",
                "venue": "x",
                "chair": tec1.pk,
                "members": [tec1.pk],
            },
        ),
        403,
    )
    assert not TecMeeting.objects.exists()


def test_the_meeting_buttons_are_the_pmus(client, pmu, tec1, make_meeting):
    meeting = make_meeting()
    client.force_login(pmu)
    pmu_list, pmu_meeting = client.get("/tec-meetings/"), client.get(f"/tec-meetings/{meeting.pk}/")
    client.force_login(tec1)
    tec_list, tec_meeting = client.get("/tec-meetings/"), client.get(f"/tec-meetings/{meeting.pk}/")

    assert (pmu_list.context["can_create"], tec_list.context["can_create"]) == (True, False)
    assert (pmu_meeting.context["can_edit"], tec_meeting.context["can_edit"]) == (True, False)
    assert "agenda_form" in pmu_meeting.context
    assert "agenda_form" not in tec_meeting.context


@pytest.fixture
def condition(proposal_in, pmu):
    proposal = proposal_in(ProposalStatus.APPROVED)
    meeting = TecMeeting.objects.create(
        number=99, held_on=timezone.now(), venue="x", chair=pmu, created_by=pmu
    )
    item = meeting.agenda.create(proposal=proposal, position=1)
    decision = Decision.objects.create(
        agenda_item=item,
        outcome=DecisionOutcome.RECOMMENDED_WITH_CONDITIONS,
        decided_by=pmu,
        decided_at=timezone.now(),
    )
    return Condition.objects.create(proposal=proposal, decision=decision, text="DoE clearance", position=0)


def test_only_the_pos_staff_add_evidence_on_every_path(client, api, pmu, po1, condition):
    client.force_login(pmu)

    page = client.post(f"/conditions/{condition.pk}/evidence/", {"evidence": "Seen it"})
    response = api.as_user(pmu).post(f"/api/v1/conditions/{condition.pk}/evidence/", {"evidence": "Seen it"})
    with pytest.raises(ActionRefused) as refusal:
        evaluation.add_evidence(user=pmu, condition=condition, evidence="Seen it")

    assert_refused(page, 403)
    assert_refused(response, 403)
    assert_refused(refusal, 403)
    condition.refresh_from_db()
    assert condition.evidence == ""
    pmu_page = client.get(f"/proposals/{condition.proposal_id}/")
    client.force_login(po1)
    po_page = client.get(f"/proposals/{condition.proposal_id}/")
    assert (pmu_page.context["can_add_evidence"], po_page.context["can_add_evidence"]) == (False, True)
    assert (pmu_page.context["can_meet_conditions"], po_page.context["can_meet_conditions"]) == (True, False)


def test_no_conditions_to_check_off_once_awarded(client, pmu, condition):
    Proposal.objects.filter(pk=condition.proposal_id).update(status=ProposalStatus.AWARDED)
    client.force_login(pmu)

    assert client.get(f"/proposals/{condition.proposal_id}/").context["can_meet_conditions"] is False
