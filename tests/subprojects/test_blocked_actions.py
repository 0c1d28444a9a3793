"""Actions that cannot succeed are not offered (issue 15): pages ask the guards apply() runs, before
anyone fills a form. The World Bank's no-objection records its letter; the award form says what
blocks the award before any field; "Submit" waits for a complete proposal or concept note, the page
listing what is missing by section of the form. Refusals themselves are unchanged (409 with why)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from core import lifecycle
from core.errors import ActionRefused
from subprojects import evaluation, workflow
from subprojects.models import Call, NoteStatus, Proposal, ProposalStatus, Transition
from tests.assertions import assert_refused, field_errors
from tests.subprojects.conftest import no_objection_letter, score


@pytest.fixture
def recommended(tec1, tec2, on_agenda, proposal_in):
    """Recommended by the TEC (chaired by tec1) with one condition, waiting for the Bank."""
    item = on_agenda(proposal_in(ProposalStatus.UNDER_EVALUATION))
    score(item, tec1, 8)
    score(item, tec2, 8)
    workflow.apply(item.proposal, "recommend_with_conditions", tec1, conditions=["DoE site clearance"])
    return Proposal.objects.get(pk=item.proposal_id)


def unchanged(proposal: Proposal, logged: int) -> None:
    stored = Proposal.objects.get(pk=proposal.pk)
    assert stored.status == ProposalStatus.RECOMMENDED_WITH_CONDITIONS
    assert (stored.no_objection_reference, stored.no_objection_date) == ("", None)
    assert Transition.objects.count() == logged


# --- The no-objection's letter --------------------------------------------------------------------


def test_a_no_objection_without_its_letter_is_refused_naming_the_field(client, api, wb, recommended):
    logged = Transition.objects.count()
    client.force_login(wb)

    form = client.post(f"/proposals/{recommended.pk}/no-objection/", {"comment": "Fine by us."})
    button = client.post(f"/proposals/{recommended.pk}/do/no_objection/")
    by_api = api.as_user(wb).post(f"/api/v1/proposals/{recommended.pk}/no-objection/", {}, format="json")
    future = api.as_user(wb).post(
        f"/api/v1/proposals/{recommended.pk}/no-objection/",
        {
            "no_objection_reference": "WB/NOL/1",
            "no_objection_date": (timezone.localdate() + timedelta(days=3)).isoformat(),
        },
        format="json",
    )
    with pytest.raises(ActionRefused) as direct:
        workflow.apply(recommended, "no_objection", wb, no_objection_date=timezone.localdate())

    assert form.status_code == 200
    assert "Give the reference of the World Bank&#x27;s no-objection letter." in form.content.decode()
    assert "Fine by us." in form.content.decode()  # kept as typed
    assert "World Bank letter reference is missing" in button.content.decode()
    assert by_api.status_code == 400
    assert set(by_api.json()["fields"]) == {"no_objection_reference", "no_objection_date"}
    assert future.status_code == 400
    assert "cannot be in the future" in str(field_errors(future)["no_objection_date"])
    assert_refused(direct, 409, code="no_objection_letter")
    assert "World Bank letter reference is missing" in str(direct.value)
    assert "Date of the World Bank letter is missing" not in str(direct.value)  # it was given
    unchanged(recommended, logged)


def test_the_letter_is_stored_and_shown_with_the_no_objection(client, api, wb, approver, recommended):
    client.force_login(wb)
    proposal_page = client.get(recommended.get_absolute_url()).content.decode()
    letter_day = timezone.localdate() - timedelta(days=2)

    response = client.post(
        f"/proposals/{recommended.pk}/no-objection/",
        {"no_objection_reference": "WB/SMART/NOL/2026-031", "no_objection_date": letter_day.isoformat()},
    )

    # Offered as its own form (the letter is more than a comment), not as a bare button.
    assert f"/proposals/{recommended.pk}/no-objection/" in proposal_page
    assert 'data-action="no_objection"' not in proposal_page
    assert response.status_code == 302
    stored = Proposal.objects.get(pk=recommended.pk)
    assert (stored.status, stored.no_objection_reference, stored.no_objection_date) == (
        ProposalStatus.NO_OBJECTION,
        "WB/SMART/NOL/2026-031",
        letter_day,
    )
    page = client.get(recommended.get_absolute_url()).content.decode()
    timeline = re.search(r'data-testid="timeline".*?</section>', page, re.S).group(0)
    assert "letter WB/SMART/NOL/2026-031 of" in page
    assert "WB/SMART/NOL/2026-031" in timeline  # with the no-objection's entry
    assert "World Bank letter reference" in timeline
    api_proposal = api.as_user(wb).get(f"/api/v1/proposals/{recommended.pk}/").json()
    assert (api_proposal["no_objection_reference"], api_proposal["no_objection_date"]) == (
        "WB/SMART/NOL/2026-031",
        letter_day.isoformat(),
    )
    history = api.as_user(wb).get(f"/api/v1/proposals/{recommended.pk}/history/").json()
    entry = next(entry for entry in history if entry["action"] == "no_objection")
    assert {detail["value"] for detail in entry["details"]} >= {"WB/SMART/NOL/2026-031"}

    workflow.apply(stored, "approve", approver)
    client.force_login(approver)
    award_page = client.get(f"/proposals/{recommended.pk}/award/").content.decode()
    assert "letter WB/SMART/NOL/2026-031 of" in award_page


def test_the_api_records_the_letter_with_the_transition(api, wb, recommended):
    response = api.as_user(wb).post(
        f"/api/v1/proposals/{recommended.pk}/no-objection/",
        {**no_objection_letter("WB/NOL/API-2"), "no_objection_date": timezone.localdate().isoformat()},
        format="json",
    )

    assert response.status_code == 200, response.json()
    assert (response.json()["status"], response.json()["no_objection_reference"]) == (
        "no_objection",
        "WB/NOL/API-2",
    )


# --- The award form says what blocks the award, before any field --------------------------------


def test_the_award_form_shows_the_open_condition_first_and_offers_no_award(
    client, wb, approver, pmu, recommended
):
    workflow.apply(recommended, "no_objection", wb, **no_objection_letter())
    workflow.apply(recommended, "approve", approver)
    client.force_login(approver)

    page = client.get(f"/proposals/{recommended.pk}/award/").content.decode()

    blockers = page.index('data-testid="award-blockers"')
    assert blockers < page.index('name="agreement_number"')
    assert "1 condition(s) of the TEC recommendation are still open" in page[blockers:]
    form = re.search(r"<form[^>]*data-confirm.*?</form>", page, re.S).group(0)
    assert 'type="submit"' not in form
    assert "<fieldset disabled>" in form

    # The same check, as apply() runs it: once the condition is met, the award is offered.
    evaluation.meet_condition(user=pmu, condition=recommended.conditions.get(), note="DoE letter seen.")
    page = client.get(f"/proposals/{recommended.pk}/award/").content.decode()
    assert 'data-testid="award-blockers"' not in page
    assert 'data-testid="award-submit"' in page


def test_the_award_form_names_the_missing_no_objection_and_the_e_and_s_review(client, approver, recommended):
    Proposal.objects.filter(pk=recommended.pk).update(risk_category="high")
    client.force_login(approver)

    page = client.get(f"/proposals/{recommended.pk}/award/").content.decode()

    blockers = re.search(r'data-testid="award-blockers".*?</div>', page, re.S).group(0)
    assert "The World Bank&#x27;s no-objection is not recorded yet" in blockers
    assert "is high-risk and has no E&amp;S review" in blockers
    assert "condition(s) of the TEC recommendation are still open" in blockers
    assert 'data-testid="award-submit"' not in page


def test_award_refusals_through_the_api_are_unchanged(api, wb, approver, recommended):
    workflow.apply(recommended, "no_objection", wb, **no_objection_letter())
    workflow.apply(recommended, "approve", approver)
    terms = {
        "agreement_number": "PKSF/SMART/BLOCKED/1",
        "award_date": timezone.localdate().isoformat(),
        "start_date": (timezone.localdate() + timedelta(days=10)).isoformat(),
        "end_date": (timezone.localdate() + timedelta(days=900)).isoformat(),
        "budget_world_bank": "20000000",
        "budget_pksf": "3000000",
        "budget_po": "1000000",
    }

    response = api.as_user(approver).post(f"/api/v1/proposals/{recommended.pk}/award/", terms, format="json")

    assert_refused(response, 409, code="conditions_open")
    assert "still open" in response.json()["detail"]
    assert Proposal.objects.get(pk=recommended.pk).status == ProposalStatus.APPROVED


# --- "Submit" waits for a complete proposal or concept note ---------------------------------------


def test_an_incomplete_proposal_offers_no_submit_and_lists_what_is_missing(client, api, po1, proposal_in):
    proposal = proposal_in(ProposalStatus.DRAFT, objectives="", doe_clearance_required=None)
    proposal.budget_lines.all().delete()
    client.force_login(po1)

    page = client.get(proposal.get_absolute_url()).content.decode()
    form_page = client.get(f"/proposals/{proposal.pk}/edit/").content.decode()
    refused = api.as_user(po1).post(f"/api/v1/proposals/{proposal.pk}/submit/", {}, format="json")

    assert 'data-action="submit"' not in page
    assert 'data-blocked-action="submit"' in page
    missing = re.search(r'<div[^>]*id="missing".*?</div>', page, re.S).group(0)
    edit = f"/proposals/{proposal.pk}/edit/"
    sections = dict(re.findall(rf'<a href="{edit}#section-([a-z-]+)">([^<]+)</a>', missing))
    assert sections == {
        "objectives-and-work-plan": "4. Objectives and work plan",
        "budget": "5. Budget",
        "es-screening": "7. Environmental and social screening",
    }
    assert "Objectives are missing" in missing
    assert "Add at least one budget line" in missing
    assert "Say whether Department of Environment clearance is needed" in missing
    for anchor in sections:  # each link lands on its part of the form
        assert f'id="section-{anchor}"' in form_page
    # The refusal itself is unchanged: 409 with everything missing at once.
    assert_refused(refused, 409)
    assert "Objectives are missing" in refused.json()["detail"]
    assert "Add at least one budget line" in refused.json()["detail"]
    assert Proposal.objects.get(pk=proposal.pk).status == ProposalStatus.DRAFT


def test_a_complete_proposal_offers_submit(client, po1, proposal_in):
    proposal = proposal_in(ProposalStatus.DRAFT)
    client.force_login(po1)

    page = client.get(proposal.get_absolute_url()).content.decode()
    done = client.post(f"/proposals/{proposal.pk}/do/submit/")

    assert 'data-action="submit"' in page
    assert 'id="missing"' not in page
    assert 'data-blocked-action="submit"' not in page
    assert done.status_code == 302
    assert Proposal.objects.get(pk=proposal.pk).status == ProposalStatus.SUBMITTED


def test_a_concept_note_offers_submit_only_once_complete(client, po1, note_in):
    note = note_in(NoteStatus.DRAFT, estimated_budget=None, problem="")
    client.force_login(po1)

    page = client.get(note.get_absolute_url()).content.decode()
    type(note).objects.filter(pk=note.pk).update(estimated_budget=5_000_000, problem="Open burning of waste.")
    complete = client.get(note.get_absolute_url()).content.decode()

    assert 'data-action="submit"' not in page
    missing = re.search(r'<div[^>]*id="missing".*?</div>', page, re.S).group(0)
    edit = f"/concept-notes/{note.pk}/edit/"
    assert f'<a href="{edit}#section-budget">4. Budget</a>' in missing
    assert f'<a href="{edit}#section-problem-and-solutions">3. Problem and solutions</a>' in missing
    assert "Estimated budget is missing" in missing
    assert 'data-action="submit"' in complete
    assert 'id="missing"' not in complete


def test_an_action_its_guard_refuses_is_listed_with_why_instead_of_a_button(client, pmu, open_call):
    Call.objects.filter(pk=open_call.pk).update(status="draft", closes_at=timezone.now() - timedelta(days=1))
    client.force_login(pmu)

    page = client.get(open_call.get_absolute_url()).content.decode()

    assert 'data-action="open"' not in page
    blocked = re.search(r'data-blocked-action="open".*?</div>', page, re.S).group(0)
    assert "deadline has already passed" in blocked


# --- The engine ------------------------------------------------------------------------------------


def test_blockers_are_the_guards_apply_runs(po1, proposal_in, recommended):
    draft = proposal_in(ProposalStatus.DRAFT, objectives="")
    submit = workflow.get_rule(Proposal, "submit")
    award = workflow.get_rule(Proposal, "award")

    found = lifecycle.blockers(None, draft, submit)

    assert [blocker.guard for blocker in found] == ["proposal_complete"]
    with pytest.raises(ActionRefused) as refused:
        workflow.apply(draft, "submit", po1)
    assert str(refused.value) == found[0].message
    # A rule with parameters asks only its prechecks (the award's terms are checked when given).
    assert award.checked_before == ("es_review_cleared", "no_open_conditions")
    assert workflow.get_rule(Proposal, "no_objection").checked_before == ()
    codes = [blocker.code for blocker in lifecycle.blockers(None, recommended, award)]
    assert codes == ["wrong_state", "conditions_open"]


def test_a_precheck_must_be_one_of_the_rules_guards():
    stray = lifecycle.rule("open", "Open", ["draft"], "open", [], prechecks=("call_can_open",))

    with pytest.raises(ImproperlyConfigured, match="prechecks not guards"):
        lifecycle.Lifecycle(Call, [stray], guards={"call_can_open": lambda call, **kw: None})
