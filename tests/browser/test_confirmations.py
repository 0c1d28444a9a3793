"""Confirmation dialogs (data-confirm), on a submit button or on a whole form: nothing is sent until the
person confirms; dismissing the dialog leaves everything as it was."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from playwright.sync_api import Dialog, Page, expect

from subprojects import evaluation
from subprojects.models import AgendaItem, ConceptNote, NoteStatus, ProposalStatus, ScoreSheet
from tests.factories import PASSWORD
from tests.subprojects.factories import ConceptNoteFactory, ProposalFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def answer_next_dialog(page: Page, *, accept: bool) -> list[str]:
    """Answer the next dialog; the returned list receives its message."""
    messages: list[str] = []

    def handle(dialog: Dialog) -> None:
        messages.append(dialog.message)
        if accept:
            dialog.accept()
        else:
            dialog.dismiss()

    page.once("dialog", handle)
    return messages


def posts_sent(page: Page) -> list[str]:
    """Every POST the page sends from now on."""
    posts: list[str] = []
    page.on("request", lambda request: posts.append(request.url) if request.method == "POST" else None)
    return posts


def settle(page: Page) -> None:
    """Give a submission that should not happen the time to start, and any navigation the time to end."""
    page.wait_for_timeout(300)
    page.wait_for_load_state("load")


def test_submit_my_scores_asks_first_and_dismissing_keeps_the_draft(sign_in, live_server, pmu, tec1, po1):
    note = ConceptNoteFactory(
        partner_organization=po1.partner_organization, created_by=po1, status="shortlisted"
    )
    proposal = ProposalFactory(concept_note=note, invited_by=pmu, status=ProposalStatus.UNDER_EVALUATION)
    evaluation.seed_default_rubric(proposal.call)
    meeting = evaluation.save_meeting(
        user=pmu,
        meeting=None,
        data={
            "number": 7,
            "held_on": "2030-06-02T10:00+06:00",
            "venue": "PKSF Bhaban",
            "chair": tec1,
            "members": [tec1],
        },
    )
    item = AgendaItem.objects.create(meeting=meeting, proposal=proposal, position=1)
    criteria = list(proposal.call.rubric.criteria.all())
    evaluation.declare(user=tec1, item=item, has_conflict=False)
    evaluation.save_scores(
        user=tec1, item=item, values={c.pk: (Decimal(6), "") for c in criteria}, submit=False
    )
    sheet = ScoreSheet.objects.get(member=tec1, agenda_item=item)
    assert not sheet.is_submitted

    page: Page = sign_in("tec1", PASSWORD)
    page.goto(f"{live_server.url}/tec/agenda/{item.pk}/")
    form = page.get_by_test_id("score-form")
    submit = form.get_by_role("button", name="Submit my scores")
    posts = posts_sent(page)

    # Dismissed: nothing is sent, the sheet stays a draft and the buttons stay usable.
    asked = answer_next_dialog(page, accept=False)
    submit.click()
    settle(page)
    assert asked == ["Submit your scores? They cannot be changed afterwards."]
    assert posts == []
    sheet.refresh_from_db()
    assert not sheet.is_submitted
    expect(submit).to_be_enabled()
    expect(form.get_by_role("button", name="Save draft")).to_be_enabled()

    # "Save draft" asks nothing (the question is the submit button's, not the form's).
    form.get_by_label(criteria[0].name, exact=True).fill("8")
    form.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text("Draft scores saved. Only you can see them.")).to_be_visible()
    sheet.refresh_from_db()
    assert not sheet.is_submitted
    assert sheet.scores.get(criterion=criteria[0]).value == Decimal(8)

    # Confirmed: submitted and locked.
    asked = answer_next_dialog(page, accept=True)
    page.get_by_test_id("score-form").get_by_role("button", name="Submit my scores").click()
    expect(page.get_by_text(re.compile(r"Your scores for SPP-\d+ are submitted and locked"))).to_be_visible()
    assert asked == ["Submit your scores? They cannot be changed afterwards."]
    sheet.refresh_from_db()
    assert sheet.is_submitted


def test_a_form_level_confirmation_guards_a_transition(sign_in, live_server, po1):
    note = ConceptNoteFactory(partner_organization=po1.partner_organization, created_by=po1)
    page: Page = sign_in("po1", PASSWORD)
    page.goto(f"{live_server.url}{note.get_absolute_url()}")
    submit = page.get_by_test_id("actions").get_by_role("button", name="Submit to the PMU")
    posts = posts_sent(page)

    asked = answer_next_dialog(page, accept=False)
    submit.click()
    settle(page)
    assert asked == ["Submit the concept note? You cannot edit it unless the PMU returns it."]
    assert posts == []
    assert ConceptNote.objects.get(pk=note.pk).status == NoteStatus.DRAFT
    expect(submit).to_be_enabled()

    asked = answer_next_dialog(page, accept=True)
    submit.click()
    expect(page.get_by_test_id("status")).to_have_text("submitted")
    assert len(asked) == 1
    assert ConceptNote.objects.get(pk=note.pk).status == NoteStatus.SUBMITTED
