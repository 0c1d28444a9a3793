"""Query budgets of the role home pages ("waiting on you" and the panels), the Partner Organization
and reference lists and core's API: one item costs the same number of queries as several (see
tests/query_budget.py)."""

from __future__ import annotations

from datetime import date

import pytest

from core.models import District, Upazila
from subprojects import evaluation, workflow
from subprojects.models import NoteStatus, ProposalStatus
from tests.enterprises.factories import AdoptionFactory, EnterpriseFactory, sub_project_for
from tests.factories import PartnerOrganizationFactory, district
from tests.query_budget import assert_flat_queries
from tests.subprojects.conftest import (  # noqa: F401  (fixtures of the lifecycle's tests)
    make_meeting,
    note_in,
    on_agenda,
    open_call,
    proposal_in,
    score,
)
from tests.subprojects.factories import CallFactory
from tests.verification.factories import CheckFactory, RoundFactory

MORE = 3


def _times(make, n: int = MORE) -> list[str]:
    return [text for _ in range(n) for text in make()]


# --- Role home pages ------------------------------------------------------------------------------


@pytest.fixture
def decided(pmu, proposal_in, on_agenda, tec1, tec2):  # noqa: F811
    """A proposal the committee decided on (tec1 and tec2 scored)."""

    def make(action: str = "recommend", **params):
        proposal = proposal_in(ProposalStatus.UNDER_EVALUATION)
        on_agenda(proposal, scored=(tec1, tec2))
        return workflow.apply(proposal, action, pmu, comment="Decided", **params)

    return make


def test_pmu_home(client, pmu, note_in, proposal_in, on_agenda, decided, tec1, tec2):  # noqa: F811
    """Notes to screen, proposals to put on an agenda, decisions to record, conditions to check."""
    client.force_login(pmu)

    def one_of_each():
        note = note_in(NoteStatus.SUBMITTED)
        submitted = proposal_in(ProposalStatus.SUBMITTED)
        scored = proposal_in(ProposalStatus.UNDER_EVALUATION)
        on_agenda(scored, scored=(tec1, tec2))
        with_conditions = decided("recommend_with_conditions", conditions=["Hire an engineer"])
        return [note.reference, submitted.reference, scored.reference, with_conditions.reference]

    one_of_each()
    assert_flat_queries(client, "/", lambda: _times(one_of_each))


def test_po_staff_home(client, po1, pmu, note_in, proposal_in, decided):  # noqa: F811
    """Drafts, invitations, revisions asked for, calls without a note, conditions needing evidence."""
    client.force_login(po1)

    def one_of_each():
        draft = note_in(NoteStatus.DRAFT)
        invited = proposal_in(ProposalStatus.INVITED)
        revision = decided("request_revision")
        with_conditions = decided("recommend_with_conditions", conditions=["Send the DoE clearance"])
        call = CallFactory(created_by=pmu)
        return [
            draft.reference,
            invited.reference,
            revision.reference,
            with_conditions.reference,
            call.reference,
        ]

    one_of_each()
    assert_flat_queries(client, "/", lambda: _times(one_of_each))


def test_tec_chair_home(client, tec1, tec2, proposal_in, on_agenda, make_meeting):  # noqa: F811
    """The chair (tec1): agenda items to declare and score, decisions to record once scores are in."""
    client.force_login(tec1)
    meeting = make_meeting()

    def one_of_each():
        to_score = on_agenda(proposal_in(ProposalStatus.UNDER_EVALUATION), meeting=meeting)
        declared = on_agenda(proposal_in(ProposalStatus.UNDER_EVALUATION), meeting=meeting)
        evaluation.declare(user=tec1, item=declared, has_conflict=False)
        drafted = on_agenda(proposal_in(ProposalStatus.UNDER_EVALUATION), meeting=meeting)
        score(drafted, tec1, submit=False)
        to_decide = on_agenda(
            proposal_in(ProposalStatus.UNDER_EVALUATION), meeting=meeting, scored=(tec1, tec2)
        )
        return [item.proposal.reference for item in (to_score, declared, drafted, to_decide)]

    one_of_each()
    assert_flat_queries(client, "/", lambda: _times(one_of_each))


def test_tec_member_home(client, tec2, tec1, proposal_in, on_agenda, make_meeting):  # noqa: F811
    """A member who does not chair: their own scoring only, not the decisions."""
    client.force_login(tec2)
    meeting = make_meeting()

    def one_of_each():
        to_score = on_agenda(proposal_in(ProposalStatus.UNDER_EVALUATION), meeting=meeting, scored=(tec1,))
        return [to_score.proposal.reference]

    one_of_each()
    assert_flat_queries(client, "/", lambda: _times(one_of_each))


def test_world_bank_home(client, wb, decided):
    client.force_login(wb)

    def one_of_each():
        return [
            decided("recommend").reference,
            decided("recommend_with_conditions", conditions=["Hire an engineer"]).reference,
        ]

    one_of_each()
    assert_flat_queries(client, "/", lambda: _times(one_of_each))


def test_pksf_approver_home(client, approver, proposal_in):  # noqa: F811
    client.force_login(approver)

    def one_of_each():
        return [
            proposal_in(status).reference for status in (ProposalStatus.NO_OBJECTION, ProposalStatus.APPROVED)
        ]

    one_of_each()
    assert_flat_queries(client, "/", lambda: _times(one_of_each))


def test_verifier_home(client, verifier, po_one, pmu):
    """Pending checks: in "waiting on you" and in the verifier's panel."""
    client.force_login(verifier)
    sub_project = sub_project_for(po_one)
    round_ = RoundFactory(year=2025, quarter=1, drawn_by=pmu)

    def one_of_each():
        adoption = AdoptionFactory(
            enterprise=EnterpriseFactory(sub_project=sub_project), adopted_on=date(2025, 2, 1)
        )
        check = CheckFactory(round=round_, adoption=adoption)
        return [check.get_absolute_url()]

    one_of_each()
    assert_flat_queries(client, "/", lambda: _times(one_of_each))


# --- Partner Organizations and reference data -----------------------------------------------------


@pytest.mark.parametrize("persona", ["pmu", "wb"])
def test_partner_organization_list(db, client, persona, request):
    client.force_login(request.getfixturevalue(persona))
    PartnerOrganizationFactory(districts=[district("Satkhira")])

    def more():
        return [
            PartnerOrganizationFactory(districts=[district("Satkhira"), district("Kishoreganj")]).code
            for _ in range(MORE)
        ]

    assert_flat_queries(client, "/partner-organizations/", more)


def test_partner_organization_page_with_its_history_and_staff(client, pmu, po_one):
    from tests.factories import make_user

    client.force_login(pmu)
    make_user("staff-0", po=po_one)
    po_one.contact_person = "Director 0"
    po_one.save()

    def more():
        users = [make_user(f"staff-{n}", po=po_one).get_display_name() for n in range(1, MORE + 1)]
        for n in range(1, MORE + 1):
            po_one.contact_person = f"Director {n}"
            po_one.save()
        return users

    assert_flat_queries(client, f"/partner-organizations/{po_one.pk}/", more)


def test_district_list(client, pmu):
    """Filtered to the climate-vulnerable areas, so that flagging more of them lists more rows."""
    client.force_login(pmu)
    District.objects.update(climate_vulnerable=False)
    Upazila.objects.update(climate_vulnerable=False)
    districts = list(District.objects.order_by("name")[: MORE + 1])
    District.objects.filter(pk=districts[0].pk).update(climate_vulnerable=True)

    def more():
        for flagged in districts[1:]:
            Upazila.objects.filter(pk=flagged.upazilas.first().pk).update(climate_vulnerable=True)
        return [flagged.name for flagged in districts[1:]]

    assert_flat_queries(client, "/reference/districts/?climate_vulnerable=yes", more)


@pytest.mark.parametrize("resource", ["partner-organizations"])
def test_api_list(api, pmu, resource):
    api.as_user(pmu)
    PartnerOrganizationFactory(districts=[district("Satkhira")])

    def more():
        return [
            PartnerOrganizationFactory(districts=[district("Satkhira"), district("Kishoreganj")]).code
            for _ in range(MORE)
        ]

    assert_flat_queries(api, f"/api/v1/{resource}/", more)
