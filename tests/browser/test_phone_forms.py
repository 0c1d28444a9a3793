"""Long forms on a phone (issue 15): drafts kept on the device while typed (autosave.js), restored after a
reload or a connection dropped while saving, cleared once saved and on sign-out; the TEC score sheet's
live weighted total and score levels; searchable district pickers."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from subprojects import evaluation
from subprojects.models import AgendaItem, Criterion, Proposal, ProposalStatus, ScoreSheet
from tests.browser.layout import PHONE, layout_problems
from tests.factories import PASSWORD
from tests.subprojects.factories import ConceptNoteFactory, ProposalFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

DRAFTS_JS = """() => Object.keys(localStorage).filter((key) => key.startsWith("smart-autosave:"))"""


def drafts(page: Page) -> list[str]:
    return page.evaluate(DRAFTS_JS)


def wait_for_draft_with(page: Page, text: str) -> None:
    page.wait_for_function(
        """(text) => Object.keys(localStorage).some((key) =>
            key.startsWith("smart-autosave:") && localStorage.getItem(key).includes(text))""",
        arg=text,
    )


def expect_no_drafts(page: Page) -> None:
    """autosave.js clears the copy as the page loads: wait for it, and fail if it stays."""
    page.wait_for_function(f"() => ({DRAFTS_JS})().length === 0")


def field(page: Page, label: str):
    """The form field labelled exactly `label` (crispy marks required fields with an asterisk)."""
    return page.get_by_label(re.compile(rf"^\s*{re.escape(label)}\*?\s*$"))


@pytest.fixture
def proposal(po1, pmu) -> Proposal:
    note = ConceptNoteFactory(
        partner_organization=po1.partner_organization, created_by=po1, status="shortlisted"
    )
    return ProposalFactory(concept_note=note, invited_by=pmu, status=ProposalStatus.DRAFT)


@pytest.fixture
def proposal_form(sign_in, live_server, proposal, po1) -> Page:
    page = sign_in("po1", PASSWORD)
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}{reverse('subprojects:proposal-edit', args=[proposal.pk])}")
    expect(page.get_by_test_id("proposal-form")).to_be_visible()
    return page


def type_a_budget_line_in_a_new_row(page: Page) -> str:
    """Add a budget row in the page and fill it; its id prefix, e.g. "#id_budget_lines-3"."""
    index = page.locator("#id_budget_lines-TOTAL_FORMS").input_value()
    page.locator("[data-formset=budget_lines]").get_by_role("button", name="Add a row").click()
    row = f"#id_budget_lines-{index}"
    page.locator(f"{row}-category").select_option("csf")
    page.locator(f"{row}-description").fill("Sorting yard")
    page.locator(f"{row}-amount").fill("1500000")
    page.locator(f"{row}-financier").select_option("world_bank")
    return row


def test_proposal_draft_comes_back_after_a_reload_and_is_cleared_once_saved(proposal_form, proposal, po1):
    page = proposal_form
    rows = page.locator("#id_budget_lines-TOTAL_FORMS").input_value()
    field(page, "Objectives").fill("Halve the leather offcuts burnt in the open.")
    row = type_a_budget_line_in_a_new_row(page)
    wait_for_draft_with(page, "Sorting yard")
    # One copy, the user's own, of this form.
    assert drafts(page) == [
        f"smart-autosave:{po1.pk}:{reverse('subprojects:proposal-edit', args=[proposal.pk])}#proposal"
    ]

    page.reload()
    banner = page.get_by_test_id("autosave-banner")
    expect(banner).to_contain_text("This device kept changes to this form that were not saved.")
    expect(field(page, "Objectives")).to_have_value(proposal.objectives)  # the page shows the server's
    expect(page.locator(f"{row}-description")).to_have_count(0)
    banner.get_by_role(
        "button", name=re.compile(r"^Restore unsaved changes from \d{1,2} \w{3} \d{4}")
    ).click()

    expect(field(page, "Objectives")).to_have_value("Halve the leather offcuts burnt in the open.")
    expect(page.locator(f"{row}-description")).to_have_value("Sorting yard")
    expect(page.locator(f"{row}-amount")).to_have_value("1500000")
    expect(page.locator(f"{row}-category")).to_have_value("csf")
    expect(page.locator("#id_budget_lines-TOTAL_FORMS")).to_have_value(str(int(rows) + 1))
    expect(page.locator("#budget-total")).to_have_text("2,65,00,000")  # 25 M before, and the new line
    expect(banner).to_contain_text("Your unsaved changes are back in the form.")
    assert layout_problems(page) == []  # the card rows with the restored one, on the phone

    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text(f"Proposal {proposal.reference} saved.")).to_be_visible()
    expect_no_drafts(page)
    proposal.refresh_from_db()
    assert proposal.objectives == "Halve the leather offcuts burnt in the open."
    assert proposal.budget_lines.get(description="Sorting yard").amount == Decimal("1500000.00")

    page.go_back()  # the form again, as saved: nothing to restore
    page.reload()
    expect(page.get_by_test_id("proposal-form")).to_be_visible()
    expect(page.get_by_test_id("autosave-banner")).to_have_count(0)


def test_discarding_the_draft_keeps_the_page_as_the_server_has_it(proposal_form, proposal):
    page = proposal_form
    field(page, "Objectives").fill("A draft to throw away.")
    wait_for_draft_with(page, "A draft to throw away.")
    page.reload()
    page.get_by_test_id("autosave-banner").get_by_role("button", name="Discard").click()
    expect(page.get_by_test_id("autosave-banner")).to_have_count(0)
    expect(field(page, "Objectives")).to_have_value(proposal.objectives)
    assert drafts(page) == []
    page.reload()
    expect(page.get_by_test_id("proposal-form")).to_be_visible()
    expect(page.get_by_test_id("autosave-banner")).to_have_count(0)


def test_a_connection_dropped_while_saving_loses_nothing(proposal_form, proposal, live_server):
    page = proposal_form
    field(page, "Objectives").fill("Typed in the field office, sent from the bus.")
    row = type_a_budget_line_in_a_new_row(page)

    page.context.set_offline(True)
    with page.expect_event("requestfailed") as sending:
        page.get_by_role("button", name="Save", exact=True).click(no_wait_after=True)
    assert sending.value.method == "POST"
    assert "ERR_INTERNET_DISCONNECTED" in sending.value.failure
    page.context.set_offline(False)
    proposal.refresh_from_db()
    assert proposal.objectives != "Typed in the field office, sent from the bus."  # never reached the server

    page.goto(f"{live_server.url}{reverse('subprojects:proposal-edit', args=[proposal.pk])}")
    page.get_by_test_id("autosave-banner").get_by_role(
        "button", name=re.compile("^Restore unsaved changes")
    ).click()
    expect(field(page, "Objectives")).to_have_value("Typed in the field office, sent from the bus.")
    expect(page.locator(f"{row}-description")).to_have_value("Sorting yard")


def test_a_refused_save_keeps_the_draft_until_it_is_saved(proposal_form, proposal, live_server):
    page = proposal_form
    field(page, "Objectives").fill("Kept through a refusal.")
    field(page, "Of them women-led").fill("9999")  # more than the MEs targeted: refused
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("Please correct the fields marked below.")).to_be_visible()
    # The answer shows what was typed: nothing to offer, but the copy stays until the form is saved.
    expect(page.get_by_test_id("autosave-banner")).to_have_count(0)
    wait_for_draft_with(page, "Kept through a refusal.")

    page.goto(f"{live_server.url}{reverse('subprojects:proposal-edit', args=[proposal.pk])}")
    page.get_by_test_id("autosave-banner").get_by_role(
        "button", name=re.compile("^Restore unsaved changes")
    ).click()
    expect(field(page, "Objectives")).to_have_value("Kept through a refusal.")


def test_signing_out_forgets_every_draft_on_the_device(proposal_form):
    page = proposal_form
    field(page, "Objectives").fill("Not for the next person on this phone.")
    wait_for_draft_with(page, "Not for the next person on this phone.")
    page.set_viewport_size({"width": 1280, "height": 800})  # the user menu outside the folded menu
    page.get_by_test_id("user-menu").click()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert drafts(page) == []


# --- The TEC score sheet ---------------------------------------------------------------------------


@pytest.fixture
def agenda_item(po1, pmu, tec1, tec2) -> AgendaItem:
    """A proposal under evaluation whose rubric makes rounding matter: 2.5/10 * 40.30 = 10.075."""
    note = ConceptNoteFactory(
        partner_organization=po1.partner_organization, created_by=po1, status="shortlisted"
    )
    proposal = ProposalFactory(concept_note=note, invited_by=pmu, status=ProposalStatus.UNDER_EVALUATION)
    rubric = evaluation.rubric_for(proposal.call)
    for position, (name, weight, max_score, guidance) in enumerate(
        [
            ("Relevance", "40.30", 10, "Fit with the SMART objectives."),
            ("Soundness", "29.70", 10, ""),
            (
                "Inclusion",
                "30",
                3,
                "Women-led MEs served.\n0-1: none named\n1.5-2: some\n2.5-3: most, with names",
            ),
        ]
    ):
        Criterion.objects.create(
            rubric=rubric,
            name=name,
            weight=Decimal(weight),
            max_score=max_score,
            guidance=guidance,
            position=position,
        )
    meeting = evaluation.save_meeting(
        user=pmu,
        meeting=None,
        data={
            "number": 7,
            "held_on": "2030-06-02T10:00+06:00",
            "venue": "PKSF Bhaban",
            "chair": tec1,
            "members": [tec1, tec2],
        },
    )
    item = AgendaItem.objects.create(meeting=meeting, proposal=proposal, position=1)
    evaluation.declare(user=tec1, item=item, has_conflict=False)
    return item


def test_score_sheet_shows_the_weighted_total_as_scores_are_typed(sign_in, live_server, agenda_item, tec1):
    page = sign_in("tec1", PASSWORD)
    page.goto(f"{live_server.url}{reverse('subprojects:agenda-item', args=[agenda_item.pk])}")
    form = page.get_by_test_id("score-form")
    total = form.get_by_test_id("live-total")
    expect(total).to_have_text("0.00")
    expect(form.get_by_test_id("live-total-line")).to_contain_text("0 of 3 criteria scored")

    form.get_by_label("Relevance", exact=True).fill("1")
    expect(total).to_have_text("4.03")
    form.get_by_label("Soundness", exact=True).fill("3.5")
    form.get_by_label("Inclusion", exact=True).fill("2.5")
    # 1/10 * 40.30 + 3.5/10 * 29.70 + 2.5/3 * 30 = 39.425: halves up, as the server rounds (floating
    # point would make it 39.42).
    expect(total).to_have_text("39.43")
    expect(form.get_by_test_id("live-total-line")).not_to_contain_text("criteria scored")
    form.get_by_label("Inclusion", exact=True).fill("4")  # over the maximum of 3
    expect(total).to_have_text("—")
    form.get_by_label("Inclusion", exact=True).fill("2.5")

    # Each score's level is marked beside it: the standard scale, or the levels the rubric spells out.
    relevance_levels = form.get_by_role("list", name="Score levels of Relevance")
    expect(relevance_levels.locator("li.current")).to_have_text("1\u20133 weak")
    expect(form.get_by_role("list", name="Score levels of Inclusion").locator("li.current")).to_have_text(
        "2.5\u20133 most, with names"
    )
    expect(form).to_contain_text("Women-led MEs served.")

    criteria = {c.name: c for c in agenda_item.proposal.call.rubric.criteria.all()}
    server = evaluation.weighted_total(
        {
            criteria[name].pk: Decimal(value)
            for name, value in [("Relevance", "1"), ("Soundness", "3.5"), ("Inclusion", "2.5")]
        },
        list(criteria.values()),
    )
    assert str(server) == "39.43"

    page.once("dialog", lambda dialog: dialog.accept())
    form.get_by_role("button", name="Submit my scores").click()
    expect(page.get_by_text(re.compile(r"Your scores for SPP-\d+ are submitted and locked"))).to_be_visible()
    expect(
        page.get_by_test_id("consolidation").get_by_role("row", name=re.compile(tec1.get_display_name()))
    ).to_contain_text("39.43")
    assert ScoreSheet.objects.get(member=tec1).is_submitted
    expect_no_drafts(page)  # the copy of the sheet went with the successful submission


def test_score_sheet_sits_beside_the_proposal_on_a_wide_screen_and_fits_a_phone(
    sign_in, live_server, agenda_item
):
    page = sign_in("tec1", PASSWORD)
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(f"{live_server.url}{reverse('subprojects:agenda-item', args=[agenda_item.pk])}")
    panel = page.get_by_test_id("proposal-panel")
    form = page.get_by_test_id("score-form")
    expect(panel).to_contain_text(agenda_item.proposal.objectives)
    panel_box, form_box = panel.bounding_box(), form.bounding_box()
    assert panel_box["x"] + panel_box["width"] <= form_box["x"]  # side by side
    assert panel_box["y"] < form_box["y"] + form_box["height"]
    assert panel.evaluate("(el) => getComputedStyle(el).overflowY") == "auto"  # scrolls on its own

    page.set_viewport_size(PHONE)
    expect(panel).not_to_have_attribute("open", "")  # folded above the sheet
    assert layout_problems(page) == []
    panel.locator("summary").click()
    expect(panel).to_contain_text(agenda_item.proposal.objectives)
    assert layout_problems(page) == []


def test_score_draft_comes_back_after_a_reload(sign_in, live_server, agenda_item):
    page = sign_in("tec1", PASSWORD)
    page.goto(f"{live_server.url}{reverse('subprojects:agenda-item', args=[agenda_item.pk])}")
    form = page.get_by_test_id("score-form")
    form.get_by_label("Soundness", exact=True).fill("6.5")
    form.get_by_label("Comment on Soundness").fill("Proven furnaces; the CSF plan is thin.")
    wait_for_draft_with(page, "the CSF plan is thin")
    page.reload()
    page.get_by_test_id("autosave-banner").get_by_role(
        "button", name=re.compile("^Restore unsaved changes")
    ).click()
    expect(form.get_by_label("Soundness", exact=True)).to_have_value("6.5")
    expect(form.get_by_label("Comment on Soundness")).to_have_value("Proven furnaces; the CSF plan is thin.")
    expect(form.get_by_test_id("live-total")).to_have_text("19.31")  # 6.5/10 * 29.70 = 19.305


# --- District pickers ------------------------------------------------------------------------------


def test_district_picker_filters_by_english_or_bangla_and_keeps_the_upazila_list_working(
    sign_in, live_server, po1
):
    page = sign_in("po1", PASSWORD)
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}/enterprises/new/")
    district = field(page, "District")
    search = page.get_by_label("Type to filter: District")
    expect(search).to_be_visible()

    search.fill("satk")
    assert district.locator("option").all_inner_texts()[1:] == ["Satkhira"]
    search.fill("সাতক্ষীরা")  # Satkhira in Bangla script, as the catalogue spells it
    assert district.locator("option").all_inner_texts()[1:] == ["Satkhira"]
    search.fill("সাতখিরা")  # ... and as someone may spell it: matched by sound
    assert district.locator("option").all_inner_texts()[1:] == ["Satkhira"]
    search.fill("কক্সবা")
    assert district.locator("option").all_inner_texts()[1:] == ["Cox's Bazar"]
    search.fill("satk")
    search.press("Enter")  # the only match is chosen; the form is not sent
    expect(district).to_have_value(str(_district_pk("Satkhira")))
    expect(page).to_have_url(f"{live_server.url}/enterprises/new/")
    search.press("Escape")
    assert len(district.locator("option").all_inner_texts()) == 65  # the blank choice and 64 districts

    # Choosing the district still loads its upazilas (htmx), and the upazila list filters in turn.
    upazila = field(page, "Upazila")
    expect(upazila.locator("option", has_text="Shyamnagar")).to_have_count(1)
    expect(upazila.locator("option", has_text="Dacope")).to_have_count(0)  # Khulna's
    page.get_by_label("Type to filter: Upazila").fill("shyam")
    assert upazila.locator("option").all_inner_texts()[1:] == ["Shyamnagar"]
    assert layout_problems(page) == []


def _district_pk(name: str) -> int:
    from core.models import District

    return District.objects.get(name=name).pk
