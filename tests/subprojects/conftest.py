from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from subprojects import evaluation
from subprojects.models import AgendaItem, NoteStatus
from tests.subprojects.factories import CallFactory, ConceptNoteFactory, ProposalFactory


@pytest.fixture
def open_call(pmu):
    return CallFactory(created_by=pmu)


@pytest.fixture
def draft_note(open_call, po1):
    return ConceptNoteFactory(call=open_call, partner_organization=po1.partner_organization, created_by=po1)


@pytest.fixture
def note_in(open_call, po1):
    """A concept note of po1's PO in the given state."""

    def make(status: str, **kwargs):
        submitted = None if status == NoteStatus.DRAFT else timezone.now() - timedelta(days=1)
        return ConceptNoteFactory(
            call=open_call,
            partner_organization=po1.partner_organization,
            created_by=po1,
            status=status,
            submitted_at=submitted,
            **kwargs,
        )

    return make


@pytest.fixture
def proposal_in(open_call, po1, pmu):
    """A complete proposal of po1's PO in the given state."""

    def make(status: str, **kwargs):
        note = ConceptNoteFactory(
            call=open_call,
            partner_organization=po1.partner_organization,
            created_by=po1,
            status=NoteStatus.SHORTLISTED,
            submitted_at=timezone.now() - timedelta(days=20),
        )
        proposal = ProposalFactory(concept_note=note, invited_by=pmu, status=status, **kwargs)
        proposal.activities.create(description="Baseline survey", start_month=1, end_month=3)
        proposal.committed_results.create(indicator="ME_FINANCED", target=400)
        return proposal

    return make


@pytest.fixture
def make_meeting(pmu, tec1, tec2):
    """A TEC meeting chaired by tec1 with tec1 and tec2 (and any extra members)."""
    numbers = iter(range(1, 1000))

    def make(*extra_members, chair=None, number=None):
        chair = chair or tec1
        return evaluation.save_meeting(
            user=pmu,
            meeting=None,
            data={
                "number": number or next(numbers),
                "held_on": timezone.now() + timedelta(days=7),
                "venue": "PKSF Bhaban, Agargaon",
                "chair": chair,
                "members": [tec1, tec2, *extra_members],
            },
        )

    return make


@pytest.fixture
def on_agenda(make_meeting):
    """Put a proposal on a meeting's agenda; while under evaluation, `scored` members declare no
    conflict and submit the given score on every criterion (of 10)."""

    def put(proposal, *, meeting=None, scored=(), value=Decimal("7")):
        rubric = evaluation.seed_default_rubric(proposal.call)
        meeting = meeting or make_meeting()
        item = AgendaItem.objects.create(
            meeting=meeting, proposal=proposal, position=meeting.agenda.count() + 1
        )
        for member in scored:
            score(item, member, value)
        assert rubric.criteria.count() == 6
        return item

    return put


def no_objection_letter(reference: str = "WB/SMART/NOL/2026-014") -> dict:
    """The World Bank's letter, which its no-objection records (the transition's parameters)."""
    return {"no_objection_reference": reference, "no_objection_date": timezone.localdate()}


def score(item, member, value=Decimal("7"), submit=True):
    evaluation.declare(user=member, item=item, has_conflict=False)
    criteria = item.proposal.call.rubric.criteria.all()
    return evaluation.save_scores(
        user=member, item=item, values={c.pk: (Decimal(value), "") for c in criteria}, submit=submit
    )
