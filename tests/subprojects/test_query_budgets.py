"""Query budgets of the lifecycle's lists, timelines and API: one item costs the same number of
queries as several (see tests/query_budget.py)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from core.models import District, Sector
from safeguards import reviews
from subprojects import evaluation, services, workflow
from subprojects.models import AgendaItem, NoteStatus, ProposalStatus
from tests.enterprises.factories import sub_project_for
from tests.query_budget import assert_flat_queries
from tests.subprojects.conftest import score
from tests.subprojects.factories import CallFactory

MORE = 3


def _times(make, n: int = MORE) -> list[str]:
    """Call `make` n times; what each returns (a URL, a reference) must then be on the page."""
    return [make() for _ in range(n)]


# --- Lists ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["pmu", "po1"])
def test_call_list(client, persona, request, open_call, po1):
    client.force_login(request.getfixturevalue(persona))

    def more():
        return _times(lambda: CallFactory(created_by=open_call.created_by).get_absolute_url())

    assert_flat_queries(client, "/calls/", more)


@pytest.mark.parametrize("persona", ["pmu", "po1", "wb"])
def test_concept_note_list(client, persona, request, note_in):
    client.force_login(request.getfixturevalue(persona))
    note_in(NoteStatus.SUBMITTED)

    assert_flat_queries(
        client, "/concept-notes/", lambda: _times(lambda: note_in(NoteStatus.SUBMITTED).reference)
    )


@pytest.mark.parametrize("persona", ["pmu", "po1", "approver"])
def test_proposal_list(client, persona, request, proposal_in):
    client.force_login(request.getfixturevalue(persona))
    proposal_in(ProposalStatus.SUBMITTED)

    assert_flat_queries(
        client, "/proposals/", lambda: _times(lambda: proposal_in(ProposalStatus.SUBMITTED).reference)
    )


def test_proposal_list_for_a_tec_member(client, tec1, proposal_in, on_agenda, make_meeting):
    client.force_login(tec1)
    meeting = make_meeting()
    on_agenda(proposal_in(ProposalStatus.UNDER_EVALUATION), meeting=meeting)

    def more():
        return _times(
            lambda: (
                on_agenda(proposal_in(ProposalStatus.UNDER_EVALUATION), meeting=meeting).proposal.reference
            )
        )

    assert_flat_queries(client, "/proposals/", more)


@pytest.mark.parametrize("persona", ["pmu", "po1"])
def test_sub_project_list(client, persona, request, po_one):
    client.force_login(request.getfixturevalue(persona))
    sub_project_for(po_one)

    assert_flat_queries(
        client, "/sub-projects/", lambda: _times(lambda: sub_project_for(po_one).agreement_number)
    )


@pytest.mark.parametrize("persona", ["pmu", "tec1"])
def test_meeting_list(client, persona, request, make_meeting, tec3):
    client.force_login(request.getfixturevalue(persona))
    make_meeting()

    assert_flat_queries(
        client, "/tec-meetings/", lambda: _times(lambda: make_meeting(tec3).get_absolute_url())
    )


@pytest.fixture
def agenda(make_meeting, tec3):
    """A meeting of tec1 (chair), tec2 and tec3."""
    return make_meeting(tec3)


def _scored_item(proposal_in, on_agenda, meeting, members):
    return on_agenda(proposal_in(ProposalStatus.UNDER_EVALUATION), meeting=meeting, scored=members)


@pytest.mark.parametrize("persona", ["pmu", "tec1", "tec3", "wb"])
def test_meeting_agenda(client, persona, request, agenda, proposal_in, on_agenda, tec1, tec2):
    client.force_login(request.getfixturevalue(persona))
    _scored_item(proposal_in, on_agenda, agenda, (tec1, tec2))

    def more():
        items = [
            _scored_item(proposal_in, on_agenda, agenda, scored) for scored in ((tec1,), (tec1, tec2), ())
        ]
        return [item.proposal.reference for item in items]

    assert_flat_queries(client, f"/tec-meetings/{agenda.pk}/", more)


def test_meeting_minutes(client, pmu, agenda, proposal_in, on_agenda, tec1, tec2, tec3):
    client.force_login(pmu)
    item = _scored_item(proposal_in, on_agenda, agenda, (tec1, tec2, tec3))
    workflow.apply(item.proposal, "recommend_with_conditions", pmu, conditions=["Hire an engineer"])

    def more():
        references = []
        for action in ("recommend", "recommend_with_conditions", "not_recommend"):
            item = _scored_item(proposal_in, on_agenda, agenda, (tec1, tec2, tec3))
            conditions = (
                ["Hire an engineer", "Train the staff"] if action == "recommend_with_conditions" else None
            )
            workflow.apply(item.proposal, action, pmu, comment="Decided", conditions=conditions)
            references.append(item.proposal.reference)
        return references

    assert_flat_queries(client, f"/tec-meetings/{agenda.pk}/minutes/", more)


def test_my_evaluations(client, tec1, tec2, agenda, proposal_in, on_agenda):
    client.force_login(tec1)
    _scored_item(proposal_in, on_agenda, agenda, ())

    def more():
        items = [_scored_item(proposal_in, on_agenda, agenda, scored) for scored in ((), (tec2,), ())]
        evaluation.declare(user=tec1, item=items[0], has_conflict=False)
        score(items[1], tec1, submit=False)
        return [item.proposal.reference for item in items]

    assert_flat_queries(client, "/tec/my-evaluations/", more)


# --- Timelines ------------------------------------------------------------------------------------


def _edit_note(note, po1, round_: int) -> None:
    """An edit of plain, foreign-key and many-to-many fields (the sub-sectors stay the sector's)."""
    sector = Sector.objects.order_by("code")[round_ % 3]
    districts = list(District.objects.order_by("name"))
    services.update_concept_note(
        user=po1,
        note=note,
        data={
            "title": f"Greener footwear, version {round_}",
            "sector": sector,
            "sub_sectors": [sector.sub_sectors.order_by("code").first()],
            "target_districts": districts[round_ : round_ + 2],
            "target_upazilas": [],
            "estimated_budget": Decimal(1_000_000 + round_),
        },
    )


def test_concept_note_timeline(client, pmu, po1, draft_note):
    client.force_login(pmu)
    _edit_note(draft_note, po1, 0)
    workflow.apply(draft_note, "submit", po1)

    def more():
        for round_ in range(1, MORE + 1):
            workflow.apply(draft_note, "return_for_revision", pmu, comment=f"Revise {round_}")
            _edit_note(draft_note, po1, round_)
            workflow.apply(draft_note, "submit", po1)
        return [f"Revise {round_}" for round_ in range(1, MORE + 1)] + [f"version {MORE}"]

    assert_flat_queries(client, f"/concept-notes/{draft_note.pk}/", more)


def _edit_proposal(proposal, po1, round_: int) -> None:
    lines = list(proposal.budget_lines.all())
    services.save_proposal(
        user=po1,
        proposal=proposal,
        data={
            "title": f"Proposal version {round_}",
            "risk_category": ["low", "moderate", "substantial", "high"][round_ % 4],
            "target_districts": list(District.objects.order_by("name")[round_ : round_ + 2]),
            "duration_months": 24 + round_,
            "doe_clearance_required": bool(round_ % 2),
        },
        children={
            "budget_lines": [
                {
                    "id": line.pk,
                    "category": line.category,
                    "description": f"{line.description} {round_}",
                    "amount": line.amount + round_,
                    "financier": line.financier,
                }
                for line in lines
            ],
            "activities": [{"description": f"Survey {round_}", "start_month": 1, "end_month": 2 + round_}],
        },
    )
    # Substantial and high risk need the ESMP's measures (safeguards.reviews); one more each round.
    measures = [
        {"risk": f"Dust {number}", "measure": "Masks and wetting", "responsible": "PO", "timing": "Always"}
        for number in range(round_ + 1)
    ]
    reviews.save_screening(user=po1, proposal=proposal, measures=measures)


def _attach_esmp(proposal, po1) -> None:
    upload = SimpleUploadedFile("esmp.pdf", b"%PDF-1.4 plan", content_type="application/pdf")
    attachment = services.add_attachment(
        user=po1, owner=proposal, upload=upload, description="ESMP", mime_type="application/pdf"
    )
    reviews.mark_esmp(user=po1, attachment=attachment)


def _revision_cycle(proposal, pmu, po1, meeting, members, round_: int) -> None:
    """Submitted, put on the agenda, scored, returned for revision by the committee, revised."""
    workflow.apply(proposal, "submit", po1)
    workflow.apply(proposal, "start_evaluation", pmu, meeting=meeting)
    item = AgendaItem.objects.get(proposal=proposal, meeting=meeting)
    for member in members:
        score(item, member)
    workflow.apply(proposal, "request_revision", pmu, comment=f"Revise {round_}")
    workflow.apply(proposal, "revise", po1)


def test_proposal_timeline(client, pmu, po1, tec1, tec2, proposal_in, make_meeting):
    client.force_login(pmu)
    proposal = proposal_in(ProposalStatus.INVITED)
    evaluation.seed_default_rubric(proposal.call)
    workflow.apply(proposal, "start", po1)
    _attach_esmp(proposal, po1)
    _edit_proposal(proposal, po1, 0)
    _revision_cycle(proposal, pmu, po1, make_meeting(), (tec1, tec2), 0)

    def more():
        for round_ in range(1, MORE + 1):
            _edit_proposal(proposal, po1, round_)
            _revision_cycle(proposal, pmu, po1, make_meeting(), (tec1, tec2), round_)
        return [f"Proposal version {MORE}", f"Survey {MORE}", f"Revise {MORE}"]

    assert_flat_queries(client, f"/proposals/{proposal.pk}/", more)


def _amend(sub_project, pmu, round_: int) -> None:
    """A transition there and back, and an amendment of plain, date and foreign-key fields."""
    workflow.apply(sub_project, "suspend", pmu, comment=f"Paused {round_}")
    workflow.apply(sub_project, "resume", pmu)
    services.update_sub_project(
        user=pmu,
        sub_project=sub_project,
        data={
            "title": f"Amended {round_}",
            "sector": Sector.objects.order_by("code")[round_],
            "end_date": sub_project.end_date + timedelta(days=round_),
        },
    )


def test_sub_project_timeline(client, pmu, po_one):
    client.force_login(pmu)
    sub_project = sub_project_for(po_one)
    _amend(sub_project, pmu, 0)

    def more():
        for round_ in range(1, MORE + 1):
            _amend(sub_project, pmu, round_)
        return [f"Paused {MORE}", f"Amended {MORE}"]

    assert_flat_queries(client, f"/sub-projects/{sub_project.pk}/", more)


def _edit_call(call, pmu, round_: int) -> None:
    sectors = list(Sector.objects.order_by("code"))
    services.update_call(
        user=pmu,
        call=call,
        data={
            "title": f"Call {round_}",
            "eligible_sectors": sectors[round_ : round_ + 2],
            "ceiling_budget": Decimal(40_000_000 + round_),
        },
    )


def test_call_timeline(client, pmu):
    client.force_login(pmu)
    call = CallFactory(created_by=pmu, status="draft")
    _edit_call(call, pmu, 0)

    def more():
        for round_ in range(1, MORE + 1):
            _edit_call(call, pmu, round_)
        return [f"Call {MORE}"]

    assert_flat_queries(client, f"/calls/{call.pk}/", more)


# --- API ------------------------------------------------------------------------------------------


@pytest.fixture
def api_pmu(api, pmu):
    return api.as_user(pmu)


def test_api_history_of_a_concept_note(api_pmu, pmu, po1, draft_note):
    _edit_note(draft_note, po1, 0)
    workflow.apply(draft_note, "submit", po1)

    def more():
        for round_ in range(1, MORE + 1):
            workflow.apply(draft_note, "return_for_revision", pmu, comment=f"Revise {round_}")
            _edit_note(draft_note, po1, round_)
            workflow.apply(draft_note, "submit", po1)
        return [f"Revise {MORE}"]

    assert_flat_queries(api_pmu, f"/api/v1/concept-notes/{draft_note.pk}/history/", more)


def test_api_history_of_a_proposal(api_pmu, po1, proposal_in):
    proposal = proposal_in(ProposalStatus.INVITED)
    workflow.apply(proposal, "start", po1)
    _attach_esmp(proposal, po1)
    _edit_proposal(proposal, po1, 0)

    def more():
        for round_ in range(1, MORE + 1):
            _edit_proposal(proposal, po1, round_)
        return [f"Proposal version {MORE}"]

    assert_flat_queries(api_pmu, f"/api/v1/proposals/{proposal.pk}/history/", more)


def test_api_history_of_a_sub_project(api_pmu, pmu, po_one):
    sub_project = sub_project_for(po_one)
    _amend(sub_project, pmu, 0)

    def more():
        for round_ in range(1, MORE + 1):
            _amend(sub_project, pmu, round_)
        return [f"Paused {MORE}", f"Amended {MORE}"]

    assert_flat_queries(api_pmu, f"/api/v1/sub-projects/{sub_project.pk}/history/", more)


def test_api_history_of_a_call(api_pmu, pmu):
    call = CallFactory(created_by=pmu, status="draft")
    _edit_call(call, pmu, 0)

    def more():
        for round_ in range(1, MORE + 1):
            _edit_call(call, pmu, round_)
        return [f"Call {MORE}"]

    assert_flat_queries(api_pmu, f"/api/v1/calls/{call.pk}/history/", more)


@pytest.fixture
def api_lists(po_one, pmu, note_in, proposal_in, agenda, on_agenda, tec1, tec2, tec3):
    """For each list of the API: a function adding one item, returning what identifies it in the JSON."""

    def agenda_item():
        return on_agenda(proposal_in(ProposalStatus.UNDER_EVALUATION), meeting=agenda, scored=(tec1, tec2))

    def condition():
        item = on_agenda(
            proposal_in(ProposalStatus.UNDER_EVALUATION), meeting=agenda, scored=(tec1, tec2, tec3)
        )
        workflow.apply(item.proposal, "recommend_with_conditions", pmu, conditions=["Hire", "Train"])
        return f'"proposal":{item.proposal.pk}'

    return {
        "calls": lambda: CallFactory(created_by=pmu).reference,
        "concept-notes": lambda: note_in(NoteStatus.SUBMITTED).title,
        "proposals": lambda: proposal_in(ProposalStatus.SUBMITTED).title,
        "sub-projects": lambda: sub_project_for(po_one).agreement_number,
        "tec-meetings": lambda: agenda_item().proposal.reference,
        "proposals under evaluation": lambda: agenda_item().proposal.title,
        "conflict-declarations": lambda: f'"agenda_item":{agenda_item().pk}',
        "scores": lambda: f'"agenda_item":{agenda_item().pk}',
        "conditions": condition,
    }


API_LISTS = [
    ("calls", "pmu"),
    ("calls", "po1"),
    ("concept-notes", "pmu"),
    ("concept-notes", "po1"),
    ("proposals", "pmu"),
    ("proposals", "po1"),
    ("sub-projects", "pmu"),
    ("sub-projects", "po1"),
    ("proposals under evaluation", "tec1"),
    ("proposals under evaluation", "tec2"),
    ("proposals under evaluation", "pmu"),
    ("tec-meetings", "pmu"),
    ("tec-meetings", "tec1"),
    ("conflict-declarations", "tec1"),
    ("scores", "tec1"),
    ("conditions", "pmu"),
    ("conditions", "po1"),
]


@pytest.mark.parametrize(("resource", "persona"), API_LISTS)
def test_api_list(api, request, api_lists, resource, persona):
    api.as_user(request.getfixturevalue(persona))
    add = api_lists[resource]
    add()

    assert_flat_queries(api, f"/api/v1/{resource.split()[0]}/", lambda: _times(add))
