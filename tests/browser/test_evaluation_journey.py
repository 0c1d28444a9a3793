"""Browser journey of a TEC member: declare no conflict of interest, score, save a draft, submit."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from subprojects import evaluation
from subprojects.models import AgendaItem, ProposalStatus, ScoreSheet
from tests.factories import PASSWORD
from tests.subprojects.factories import ConceptNoteFactory, ProposalFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_tec_member_declares_scores_and_submits(sign_in, live_server, pmu, tec1, tec2, po1):
    note = ConceptNoteFactory(
        partner_organization=po1.partner_organization, created_by=po1, status="shortlisted"
    )
    proposal = ProposalFactory(concept_note=note, invited_by=pmu, status=ProposalStatus.UNDER_EVALUATION)
    evaluation.seed_default_rubric(proposal.call)
    meeting = evaluation.save_meeting(
        user=pmu,
        meeting=None,
        data={
            "number": 4,
            "held_on": "2030-06-02T10:00+06:00",
            "venue": "PKSF Bhaban",
            "chair": tec1,
            "members": [tec1, tec2],
        },
    )
    item = AgendaItem.objects.create(meeting=meeting, proposal=proposal, position=1)
    criteria = list(proposal.call.rubric.criteria.all())
    # tec2 has already submitted: tec1 must not see those scores before submitting.
    evaluation.declare(user=tec2, item=item, has_conflict=False)
    evaluation.save_scores(
        user=tec2, item=item, values={c.pk: (Decimal(9), "") for c in criteria}, submit=True
    )

    page: Page = sign_in("tec1", PASSWORD)
    page.get_by_test_id("waiting-on-you").get_by_role("link", name=proposal.reference).click()
    expect(page.get_by_text("scores stay hidden until you submit yours")).to_be_visible()

    page.get_by_label("No, I have no conflict of interest").check()
    page.get_by_role("button", name="Record my declaration").click()
    expect(page.get_by_text("Declaration recorded.")).to_be_visible()

    form = page.get_by_test_id("score-form")
    for criterion in criteria:
        form.get_by_label(criterion.name, exact=True).fill("7")
    form.get_by_label(f"Comment on {criteria[0].name}").fill("Clear link to the cluster's waste problem.")
    form.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text("Draft scores saved. Only you can see them.")).to_be_visible()
    expect(page.get_by_test_id("consolidation")).to_have_count(0)

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("score-form").get_by_role("button", name="Submit my scores").click()

    expect(page.get_by_text(re.compile(r"Your scores for SPP-\d+ are submitted and locked"))).to_be_visible()
    expect(page.get_by_test_id("mean")).to_have_text("80.00")  # (70 + 90) / 2
    sheet = ScoreSheet.objects.get(member=tec1)
    assert sheet.is_submitted
    assert sheet.scores.get(criterion=criteria[0]).comment == "Clear link to the cluster's waste problem."
