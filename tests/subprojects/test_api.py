"""The lifecycle driven by the API alone, and the API's refusals (403, 404, 409)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from subprojects.models import ConceptNote, NoteStatus, Proposal, ProposalStatus, SubProject, Transition
from tests.assertions import field_errors
from tests.subprojects.factories import CONCEPT_NOTE_BODY, CallFactory

NOTE = CONCEPT_NOTE_BODY
PROPOSAL = {
    "objectives": "Cut open burning of footwear waste by 80%.",
    "duration_months": 36,
    "activities": [
        {"description": "Baseline survey", "start_month": 1, "end_month": 3},
        {"description": "Recycling unit", "start_month": 4, "end_month": 18},
    ],
    "budget_lines": [
        {
            "category": "csf",
            "description": "Recycling unit",
            "amount": "20000000.00",
            "financier": "world_bank",
        },
        {
            "category": "training",
            "description": "RECP trainings",
            "amount": "3000000.00",
            "financier": "pksf",
        },
        {"category": "management", "description": "Staff", "amount": "1000000.00", "financier": "po"},
    ],
    "committed_results": [
        {"indicator": "ME_FINANCED", "target": 400},
        {"indicator": "ME_RECP_2PLUS", "target": 320},
    ],
    "risk_category": "moderate",
    "exclusion_list_checked": True,
    "mitigation_measures": "Ventilation and PPE.",
    "doe_clearance_required": True,
}


def post(client, user, url, data=None, **kwargs):
    return client.as_user(user).post(url, data or {}, **kwargs)


def test_the_whole_lifecycle_by_api_alone(
    api, pmu, po1, wb, approver, tec1, tec2, django_capture_on_commit_callbacks
):
    call = post(
        api,
        pmu,
        "/api/v1/calls/",
        {
            "reference": "SMART/SPCN/API-1",
            "title": "API call",
            "description": "By API.",
            "opens_at": (timezone.now() - timedelta(days=1)).isoformat(),
            "closes_at": (timezone.now() + timedelta(days=30)).isoformat(),
            "ceiling_budget": "50000000.00",
            "eligible_sectors": [],
        },
    ).json()
    assert call["status"] == "draft"
    assert post(api, pmu, f"/api/v1/calls/{call['id']}/open/").json()["status"] == "open"

    note = post(api, po1, "/api/v1/concept-notes/", {**NOTE, "call": call["id"]})
    assert note.status_code == 201, note.json()
    note = note.json()
    assert note["partner_organization"] == po1.partner_organization.code
    with django_capture_on_commit_callbacks(execute=True):
        assert post(api, po1, f"/api/v1/concept-notes/{note['id']}/submit/").json()["status"] == "submitted"
    assert (
        post(api, pmu, f"/api/v1/concept-notes/{note['id']}/start-review/").json()["status"] == "under_review"
    )
    assert (
        post(api, pmu, f"/api/v1/concept-notes/{note['id']}/shortlist/", {"comment": "Strong."}).json()[
            "status"
        ]
        == "shortlisted"
    )

    invited = post(
        api,
        pmu,
        f"/api/v1/concept-notes/{note['id']}/invite/",
        {
            "deadline": (timezone.now() + timedelta(days=20)).isoformat(),
            "comment": "Please go ahead.",
        },
    )
    assert invited.status_code == 201, invited.json()
    spp = invited.json()
    assert (spp["status"], spp["title"], spp["sector"]) == ("invited", NOTE["title"], "footwear-leather")

    edited = api.as_user(po1).patch(f"/api/v1/proposals/{spp['id']}/", PROPOSAL)
    assert edited.status_code == 200, edited.json()
    assert edited.json()["status"] == "draft"  # editing an invited proposal starts it
    assert edited.json()["budget_totals"]["total"] == "24000000.00"

    assert post(api, po1, f"/api/v1/proposals/{spp['id']}/submit/").json()["status"] == "submitted"

    # Technical evaluation: rubric, meeting, agenda, declarations, blind scores, the chair's decision.
    criteria = [
        {"name": "Relevance to RECP", "guidance": "", "weight": "60", "max_score": 10},
        {"name": "PO capacity", "guidance": "", "weight": "40", "max_score": 5},
    ]
    rubric = api.as_user(pmu).put(
        f"/api/v1/calls/{call['id']}/rubric/",
        {"pass_mark": "60", "spread_threshold": "20", "criteria": criteria},
    )
    assert rubric.status_code == 200, rubric.json()
    ids = [criterion["id"] for criterion in rubric.json()["criteria"]]
    meeting = post(
        api,
        pmu,
        "/api/v1/tec-meetings/",
        {
            "number": 7,
            "held_on": (timezone.now() + timedelta(days=3)).isoformat(),
            "venue": "PKSF Bhaban",
            "chair": tec1.pk,
            "members": [tec1.pk, tec2.pk],
        },
    )
    assert meeting.status_code == 201, meeting.json()
    item = post(
        api, pmu, f"/api/v1/tec-meetings/{meeting.json()['id']}/agenda/", {"proposal": spp["id"]}
    ).json()
    assert api.get(f"/api/v1/proposals/{spp['id']}/").json()["status"] == "under_evaluation"
    for member, scores in ((tec1, ("8", "4")), (tec2, ("6", "3"))):
        declared = post(
            api, member, "/api/v1/conflict-declarations/", {"agenda_item": item["id"], "has_conflict": False}
        )
        assert declared.status_code == 201, declared.json()
        sheet = post(
            api,
            member,
            "/api/v1/scores/",
            {
                "agenda_item": item["id"],
                "submit": True,
                "scores": [
                    {"criterion": ids[0], "value": scores[0]},
                    {"criterion": ids[1], "value": scores[1]},
                ],
            },
            format="json",
        )
        assert sheet.status_code == 200, sheet.json()
    consolidation = api.as_user(pmu).get(f"/api/v1/tec-meetings/{meeting.json()['id']}/consolidation/").json()
    # tec1: 8/10 x 60 + 4/5 x 40 = 80; tec2: 6/10 x 60 + 3/5 x 40 = 60
    assert (consolidation[0]["mean"], consolidation[0]["spread"]) == ("70.00", "20.00")
    decided = post(
        api,
        tec1,
        f"/api/v1/proposals/{spp['id']}/recommend-with-conditions/",
        {
            "comment": "Recommended by TEC meeting 7.",
            "conditions": ["DoE site clearance before civil works."],
        },
        format="json",
    )
    assert decided.status_code == 200, decided.json()
    assert decided.json()["status"] == "recommended_with_conditions"

    letter = {"no_objection_reference": "WB/NOL/7", "no_objection_date": timezone.localdate().isoformat()}
    for user, action, state, data in (
        (wb, "no-objection", "no_objection", letter),
        (approver, "approve", "approved", {}),
    ):
        response = post(api, user, f"/api/v1/proposals/{spp['id']}/{action}/", data)
        assert response.status_code == 200, (action, response.json())
        assert response.json()["status"] == state

    terms = {
        "agreement_number": "PKSF/SMART/API/1",
        "award_date": timezone.localdate().isoformat(),
        "start_date": (timezone.localdate() + timedelta(days=10)).isoformat(),
        "end_date": (timezone.localdate() + timedelta(days=1000)).isoformat(),
        "budget_world_bank": "20000000",
        "budget_pksf": "3000000",
        "budget_po": "1000000",
    }
    blocked = post(api, approver, f"/api/v1/proposals/{spp['id']}/award/", terms)
    assert blocked.status_code == 409
    assert blocked.json()["code"] == "conditions_open"
    condition = api.as_user(pmu).get("/api/v1/conditions/", {"proposal": spp["id"]}).json()["results"][0]
    post(api, po1, f"/api/v1/conditions/{condition['id']}/evidence/", {"evidence": "DoE letter 12/2026."})
    assert post(api, pmu, f"/api/v1/conditions/{condition['id']}/meet/").json()["met"] is True

    awarded = post(api, approver, f"/api/v1/proposals/{spp['id']}/award/", terms)
    assert awarded.status_code == 200, awarded.json()
    assert awarded.json()["status"] == "awarded"
    sub_project = api.as_user(po1).get(f"/api/v1/sub-projects/{awarded.json()['sub_project']}/").json()
    assert (sub_project["agreement_number"], sub_project["approved_budget"]) == (
        "PKSF/SMART/API/1",
        "24000000.00",
    )

    history = api.as_user(pmu).get(f"/api/v1/proposals/{spp['id']}/history/").json()
    actions = [entry["action"] for entry in history if entry["kind"] == "transition"]
    assert actions == [
        "award",
        "approve",
        "no_objection",
        "recommend_with_conditions",
        "start_evaluation",
        "submit",
        "start",
        "invite",
    ]


def test_refused_transition_answers_409_with_the_reason_and_changes_nothing(api, pmu, note_in):
    note = note_in(NoteStatus.SUBMITTED)
    logged = Transition.objects.count()

    response = post(api, pmu, f"/api/v1/concept-notes/{note.pk}/shortlist/")

    assert response.status_code == 409
    assert response.json()["code"] == "wrong_state"
    assert "not possible while" in response.json()["detail"]
    assert ConceptNote.objects.get(pk=note.pk).status == NoteStatus.SUBMITTED
    assert Transition.objects.count() == logged


def test_pmu_does_not_see_drafts_never_submitted(api, pmu, note_in):
    draft = note_in(NoteStatus.DRAFT)

    assert api.as_user(pmu).get(f"/api/v1/concept-notes/{draft.pk}/").status_code == 404
    assert api.get("/api/v1/concept-notes/").json()["count"] == 0


def test_transition_by_a_role_that_may_not_take_it_answers_403(api, po1, note_in):
    note = note_in(NoteStatus.SUBMITTED)

    response = post(api, po1, f"/api/v1/concept-notes/{note.pk}/shortlist/")

    assert response.status_code == 403
    assert ConceptNote.objects.get(pk=note.pk).status == NoteStatus.SUBMITTED


def test_late_submission_answers_409_and_keeps_the_draft(api, po1, note_in):
    note = note_in(NoteStatus.DRAFT)
    note.call.closes_at = timezone.now() - timedelta(seconds=1)
    note.call.save()

    response = post(api, po1, f"/api/v1/concept-notes/{note.pk}/submit/")

    assert response.status_code == 409
    assert response.json()["code"] == "deadline_passed"
    assert api.get(f"/api/v1/concept-notes/{note.pk}/").json()["status"] == "draft"


def test_missing_comment_answers_409(api, pmu, note_in):
    note = note_in(NoteStatus.UNDER_REVIEW)

    response = post(api, pmu, f"/api/v1/concept-notes/{note.pk}/reject/", {"comment": ""})

    assert response.status_code == 409
    assert response.json()["code"] == "comment_required"


def test_other_pos_objects_are_404_everywhere(api, po2, note_in, proposal_in):
    note = note_in(NoteStatus.SUBMITTED)
    proposal = proposal_in(ProposalStatus.DRAFT)
    api.as_user(po2)

    for url in (
        f"/api/v1/concept-notes/{note.pk}/",
        f"/api/v1/concept-notes/{note.pk}/history/",
        f"/api/v1/concept-notes/{note.pk}/attachments/",
        f"/api/v1/proposals/{proposal.pk}/",
    ):
        assert api.get(url).status_code == 404, url
    assert api.post(f"/api/v1/proposals/{proposal.pk}/submit/").status_code == 404
    assert api.patch(f"/api/v1/proposals/{proposal.pk}/", {"title": "Mine now"}).status_code == 404
    assert api.get("/api/v1/concept-notes/").json()["count"] == 0
    # Filtering by another PO answers as filtering by a PO that does not exist.
    foreign = api.get("/api/v1/proposals/", {"partner_organization": note.partner_organization.code})
    unknown = api.get("/api/v1/proposals/", {"partner_organization": "PO-NONE"})
    assert foreign.status_code == unknown.status_code == 400
    assert foreign.json() == unknown.json()


def test_po_staff_cannot_create_a_note_for_a_closed_call(api, po1, pmu):
    call = CallFactory(created_by=pmu, closes_at=timezone.now() - timedelta(hours=1))

    response = post(api, po1, "/api/v1/concept-notes/", {**NOTE, "call": call.pk})

    assert response.status_code == 409
    assert not ConceptNote.objects.exists()


@pytest.mark.parametrize("persona", ["pmu", "wb", "approver"])
def test_only_po_staff_write_concept_notes(db, request, api, open_call, persona):
    response = post(
        api, request.getfixturevalue(persona), "/api/v1/concept-notes/", {**NOTE, "call": open_call.pk}
    )

    assert response.status_code == 403


def test_inconsistent_note_names_the_fields(api, po1, open_call):
    response = post(
        api,
        po1,
        "/api/v1/concept-notes/",
        {
            **NOTE,
            "call": open_call.pk,
            "sub_sectors": ["poultry"],
            "women_led_mes_targeted": 900,
            "target_upazilas": ["BD40870004"],
            "estimated_budget": "99000000",
        },
    )

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {
        "sub_sectors",
        "women_led_mes_targeted",
        "target_upazilas",
        "estimated_budget",
    }
    assert not ConceptNote.objects.exists()


def test_submitted_notes_cannot_be_edited(api, po1, note_in):
    note = note_in(NoteStatus.SUBMITTED)

    response = api.as_user(po1).patch(f"/api/v1/concept-notes/{note.pk}/", {"title": "Changed"})

    assert response.status_code == 409
    assert ConceptNote.objects.get(pk=note.pk).title != "Changed"


def test_proposal_budget_over_the_ceiling_is_refused_by_the_api(api, po1, proposal_in):
    proposal = proposal_in(ProposalStatus.DRAFT)
    lines = [{"category": "csf", "description": "Too much", "amount": "60000000", "financier": "world_bank"}]

    response = api.as_user(po1).patch(f"/api/v1/proposals/{proposal.pk}/", {"budget_lines": lines})

    assert response.status_code == 400
    assert "ceiling" in field_errors(response)["budget_lines"][0]
    assert proposal.budget_totals()["total"] == 25000000


def test_proposal_rows_keep_their_identity_when_sent_back_with_their_id(api, po1, proposal_in):
    proposal = proposal_in(ProposalStatus.DRAFT)
    api.as_user(po1)
    lines = api.get(f"/api/v1/proposals/{proposal.pk}/").json()["budget_lines"]
    lines[0]["amount"] = "19000000.00"

    response = api.patch(f"/api/v1/proposals/{proposal.pk}/", {"budget_lines": lines[:2]}, format="json")

    assert response.status_code == 200
    assert [line["id"] for line in response.json()["budget_lines"]] == [lines[0]["id"], lines[1]["id"]]
    assert response.json()["budget_totals"]["total"] == "22750000.00"


def test_award_with_bad_terms_answers_409_and_creates_nothing(api, approver, proposal_in):
    proposal = proposal_in(ProposalStatus.APPROVED)

    response = post(
        api,
        approver,
        f"/api/v1/proposals/{proposal.pk}/award/",
        {
            "agreement_number": "A-1",
            "award_date": "2024-08-01",
            "start_date": "2024-07-01",
            "end_date": "2027-07-01",
            "budget_world_bank": "1",
            "budget_pksf": "0",
            "budget_po": "0",
        },
    )

    assert response.status_code == 409
    assert "Start date cannot be before the award date" in response.json()["detail"]
    assert not SubProject.objects.exists()


def test_award_names_missing_terms(api, approver, proposal_in):
    proposal = proposal_in(ProposalStatus.APPROVED)

    response = post(api, approver, f"/api/v1/proposals/{proposal.pk}/award/", {"agreement_number": "A-1"})

    assert response.status_code == 400
    assert {"award_date", "start_date", "end_date", "budget_world_bank"} <= set(response.json()["fields"])


def test_pmu_changes_a_proposal_deadline(api, pmu, po1, proposal_in):
    proposal = proposal_in(ProposalStatus.DRAFT)
    new_deadline = timezone.now() + timedelta(days=45)

    assert (
        post(
            api, po1, f"/api/v1/proposals/{proposal.pk}/deadline/", {"deadline": new_deadline.isoformat()}
        ).status_code
        == 403
    )
    response = post(
        api, pmu, f"/api/v1/proposals/{proposal.pk}/deadline/", {"deadline": new_deadline.isoformat()}
    )

    assert response.status_code == 200
    assert abs(Proposal.objects.get(pk=proposal.pk).deadline - new_deadline) < timedelta(seconds=1)


def test_attachments_are_checked_by_content_and_served_only_within_scope(api, po1, po2, pmu, note_in):
    note = note_in(NoteStatus.DRAFT)
    disguised = SimpleUploadedFile("budget.pdf", b"<html><script>alert(1)</script></html>", "application/pdf")
    pdf = SimpleUploadedFile(
        "plan.pdf", b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n", "application/pdf"
    )
    api.as_user(po1)

    refused = api.post(
        f"/api/v1/concept-notes/{note.pk}/attachments/", {"file": disguised}, format="multipart"
    )
    created = api.post(f"/api/v1/concept-notes/{note.pk}/attachments/", {"file": pdf}, format="multipart")

    assert refused.status_code == 400
    assert "does not contain what its name says" in field_errors(refused)["file"][0]
    assert created.status_code == 201, created.json()
    download = created.json()["download_url"]
    assert api.get(download).status_code == 200
    assert b"".join(api.get(download).streaming_content).startswith(b"%PDF")
    assert api.as_user(pmu).get(download).status_code == 404  # a draft never submitted is the PO's own
    ConceptNote.objects.filter(pk=note.pk).update(status=NoteStatus.SUBMITTED, submitted_at=timezone.now())
    assert api.as_user(pmu).get(download).status_code == 200
    assert api.as_user(po2).get(download).status_code == 404
    assert api.as_user(po2).delete(f"/api/v1/attachments/{created.json()['id']}/").status_code == 404


def test_call_drafts_are_hidden_from_po_staff(api, po1, pmu):
    draft = CallFactory(created_by=pmu, status="draft")

    assert api.as_user(po1).get(f"/api/v1/calls/{draft.pk}/").status_code == 404
    assert api.as_user(pmu).get(f"/api/v1/calls/{draft.pk}/").status_code == 200


def test_available_actions_tell_a_client_what_it_may_do(api, pmu, po1, note_in):
    note = note_in(NoteStatus.UNDER_REVIEW)

    pmu_actions = {
        a["action"]
        for a in api.as_user(pmu).get(f"/api/v1/concept-notes/{note.pk}/").json()["available_actions"]
    }
    po_actions = api.as_user(po1).get(f"/api/v1/concept-notes/{note.pk}/").json()["available_actions"]

    assert pmu_actions == {"shortlist", "reject", "return_for_revision"}
    assert po_actions == []


def test_screening_queue_filters(api, pmu, note_in, po2):
    from tests.factories import district
    from tests.subprojects.factories import ConceptNoteFactory

    note_in(NoteStatus.SUBMITTED)
    other = ConceptNoteFactory(
        call=note_in(NoteStatus.SUBMITTED).call,
        partner_organization=po2.partner_organization,
        created_by=po2,
        status=NoteStatus.UNDER_REVIEW,
        submitted_at=timezone.now(),
        target_districts=[district("Satkhira")],
    )
    api.as_user(pmu)

    assert api.get("/api/v1/concept-notes/", {"status": "under_review"}).json()["count"] == 1
    assert api.get("/api/v1/concept-notes/", {"district": "BD4087"}).json()["results"][0]["id"] == other.pk
    assert api.get("/api/v1/concept-notes/", {"partner_organization": "PO-T02"}).json()["count"] == 1
    assert api.get("/api/v1/concept-notes/", {"sector": "livestock"}).json()["count"] == 0
