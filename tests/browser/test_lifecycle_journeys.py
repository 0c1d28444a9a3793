"""Browser journeys of the lifecycle: a PO writes and submits a concept note; the PMU screens it,
shortlists it and invites the full proposal."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from subprojects.models import ConceptNote, NoteStatus, Proposal
from tests.factories import PASSWORD
from tests.subprojects.factories import CallFactory, ConceptNoteFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def field(page: Page, label: str):
    """The form field labelled exactly `label` (crispy marks required fields with an asterisk)."""
    return page.get_by_label(re.compile(rf"^\s*{re.escape(label)}\*?\s*$"))


def test_po_staff_writes_and_submits_a_concept_note(sign_in, live_server, po1, pmu):
    call = CallFactory(created_by=pmu, reference="SMART/SPCN/BROWSER")
    page: Page = sign_in("po1", PASSWORD)

    # The home page says a call is waiting for a concept note.
    waiting = page.get_by_test_id("waiting-on-you")
    expect(waiting).to_contain_text("Write a concept note")
    waiting.get_by_role("link", name=call.reference).click()
    page.get_by_role("link", name="Write a concept note").click()

    field(page, "Title").fill("Cleaner salt processing in Cox's Bazar")
    field(page, "Sector").select_option(label="Food Processing")
    field(page, "Sub-sectors").select_option(label="Salt Processing")
    field(page, "Target districts").select_option(label="Cox's Bazar")
    field(page, "MEs targeted").fill("300")
    field(page, "Of them women-led").fill("900")  # a slip: more women-led MEs than MEs
    field(page, "Problem addressed").fill("Open furnaces burn wood from the hills.")
    field(page, "Environmental issues addressed").fill("Smoke and deforestation.")
    field(page, "Proposed RECP practices and technologies").fill("Efficient furnaces; lined salt beds.")
    field(page, "Estimated budget (BDT)").fill("20000000")
    page.get_by_role("button", name="Save draft").click()

    # Refused: the form names the field and keeps everything typed.
    expect(page.get_by_text("Women-led MEs cannot exceed the MEs targeted.")).to_be_visible()
    expect(field(page, "Problem addressed")).to_have_value("Open furnaces burn wood from the hills.")
    field(page, "Of them women-led").fill("90")
    page.get_by_role("button", name="Save draft").click()

    expect(page.get_by_text(re.compile(r"Draft SPCN-\d+ saved"))).to_be_visible()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Submit to the PMU").click()

    expect(page.get_by_test_id("status")).to_have_text("submitted")
    note = ConceptNote.objects.get()
    assert (note.status, note.partner_organization, note.women_led_mes_targeted) == (
        NoteStatus.SUBMITTED,
        po1.partner_organization,
        90,
    )


def test_pmu_shortlists_a_note_and_invites_the_proposal(sign_in, live_server, pmu, po1):
    call = CallFactory(created_by=pmu)
    note = ConceptNoteFactory(
        call=call,
        partner_organization=po1.partner_organization,
        created_by=po1,
        status=NoteStatus.SUBMITTED,
        title="Greening the Bhairab footwear cluster",
    )
    note.submitted_at = note.created_at
    note.save()
    page: Page = sign_in("pmu", PASSWORD)

    navigation = page.get_by_role("navigation", name="Main navigation")
    navigation.get_by_role("button", name="Sub-projects").click()
    navigation.get_by_role("link", name="Concept notes", exact=True).click()
    field(page, "State").select_option(label="submitted")
    page.get_by_role("button", name="Filter").click()
    page.get_by_role("link", name=note.reference).click()
    page.get_by_role("button", name="Start review").click()
    expect(page.get_by_test_id("status")).to_have_text("under review")

    page.get_by_role("button", name="Shortlist").click()
    expect(page.get_by_test_id("status")).to_have_text("shortlisted")

    page.get_by_role("link", name="Invite a full proposal").click()
    field(page, "Proposal deadline").fill("2099-06-30T17:00")
    field(page, "Message to the PO").fill("Please submit the full proposal with the E&S screening.")
    page.get_by_role("button", name="Invite").click()

    expect(page.get_by_test_id("status")).to_have_text("invited")
    expect(page.get_by_test_id("timeline")).to_contain_text("Please submit the full proposal")
    proposal = Proposal.objects.get()
    assert (proposal.concept_note, proposal.title) == (note, note.title)
