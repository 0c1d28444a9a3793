"""Phone-ready forms (issue 15), the server's side: the score levels shown beside each score, the
scoring page's proposal panel (and who does not get it), labelled formset cards, the drafts' per-user
keys, and the district and upazila pickers on every form and filter bar that offers them."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django import forms
from django.urls import reverse

from core.models import District, Upazila
from core.pickers import mark_pickers, search_words
from subprojects import evaluation
from subprojects.evaluation_forms import ScoreSheetForm, score_levels, standard_levels
from subprojects.models import AgendaItem, Criterion, ProposalStatus
from tests.subprojects.factories import ConceptNoteFactory, ProposalFactory

pytestmark = pytest.mark.django_db


def levels(criterion_levels) -> list[tuple[str, str]]:
    return [(level.label, level.text) for level in criterion_levels]


# --- Score levels ----------------------------------------------------------------------------------


def test_the_standard_scale_splits_ten_points_into_five_levels():
    assert levels(standard_levels(10)) == [
        ("0", "not addressed"),
        ("1\u20133", "weak"),
        ("4\u20136", "adequate"),
        ("7\u20138", "good"),
        ("9\u201310", "excellent"),
    ]


def test_the_standard_scale_skips_levels_a_small_maximum_leaves_empty():
    assert levels(standard_levels(5)) == [
        ("0", "not addressed"),
        ("1", "weak"),
        ("2\u20133", "adequate"),
        ("4", "good"),
        ("5", "excellent"),
    ]
    assert levels(standard_levels(1)) == [("0", "not addressed"), ("1", "excellent")]


def test_levels_written_in_the_guidance_replace_the_standard_scale():
    criterion = Criterion(
        name="Inclusion",
        max_score=10,
        guidance="Women-led MEs served.\n0-3: none named\n4 \u2013 7 = a few, named\n8 to 10) most, named",
    )
    written, guidance = score_levels(criterion)
    assert levels(written) == [
        ("0\u20133", "none named"),
        ("4\u20137", "a few, named"),
        ("8\u201310", "most, named"),
    ]
    assert guidance == "Women-led MEs served."


@pytest.mark.parametrize(
    "guidance",
    [
        "Fit with the SMART objectives: climate resilience first.",  # no score in it
        "3: only one line reads as a level",
        "0-5: low\n3-10: overlapping",  # out of order
        "0-5: low\n6-12: above the maximum of 10",
    ],
)
def test_guidance_that_does_not_spell_out_levels_is_shown_whole_beside_the_standard_scale(guidance):
    written, shown = score_levels(Criterion(name="Relevance", max_score=10, guidance=guidance))
    assert levels(written) == levels(standard_levels(10))
    assert shown == guidance


def test_the_score_sheet_form_gives_each_criterion_its_levels():
    criteria = [
        Criterion(pk=1, name="Relevance", weight=Decimal("60"), max_score=10, guidance="Fit."),
        Criterion(pk=2, name="Inclusion", weight=Decimal("40"), max_score=3, guidance="0-1: none\n2-3: most"),
    ]
    rows = ScoreSheetForm(criteria=criteria).rows()
    assert [row.criterion.name for row in rows] == ["Relevance", "Inclusion"]
    assert (rows[0].guidance, rows[1].guidance) == ("Fit.", "")
    assert levels(rows[1].levels) == [("0\u20131", "none"), ("2\u20133", "most")]
    assert rows[1].score.html_name == "score_2"
    assert rows[1].comment.label == "Comment on Inclusion"


# --- The scoring page -------------------------------------------------------------------------------


@pytest.fixture
def item(po1, pmu, make_meeting) -> AgendaItem:
    note = ConceptNoteFactory(
        partner_organization=po1.partner_organization, created_by=po1, status="shortlisted"
    )
    proposal = ProposalFactory(
        concept_note=note,
        invited_by=pmu,
        status=ProposalStatus.UNDER_EVALUATION,
        objectives="Stop open burning of leather offcuts in Hemayetpur.",
    )
    evaluation.seed_default_rubric(proposal.call)
    return AgendaItem.objects.create(meeting=make_meeting(), proposal=proposal, position=1)


def test_a_member_scoring_reads_the_proposal_beside_levels_weights_and_a_kept_draft(client, item, tec1):
    evaluation.declare(user=tec1, item=item, has_conflict=False)
    client.force_login(tec1)

    html = client.get(reverse("subprojects:agenda-item", args=[item.pk])).content.decode()

    assert 'data-testid="proposal-panel"' in html
    assert "Stop open burning of leather offcuts in Hemayetpur." in html
    relevance = item.proposal.call.rubric.criteria.get(name="Relevance to RECP and climate resilience")
    score_input = re.search(rf'<input type="text"[^>]*name="score_{relevance.pk}"[^>]*>', html, re.S).group(0)
    assert 'data-weight="25.00"' in score_input
    assert 'data-max="10"' in score_input
    assert f'aria-describedby="id_score_{relevance.pk}-help id_score_{relevance.pk}-levels"' in score_input
    assert '<li data-high="3"><strong>1\u20133</strong> weak</li>' in html
    assert f'data-autosave="scores" data-autosave-user="{tec1.pk}"' in html
    assert 'data-autosave-restore="Restore unsaved changes from {time}"' in html
    assert "subprojects/scoring" in html


def test_a_member_who_declared_a_conflict_gets_neither_the_sheet_nor_the_panel(client, item, tec2):
    evaluation.declare(user=tec2, item=item, has_conflict=True, explanation="My brother chairs the PO.")
    client.force_login(tec2)

    html = client.get(reverse("subprojects:agenda-item", args=[item.pk])).content.decode()

    assert "You do not score this proposal." in html
    assert 'data-testid="score-form"' not in html
    assert 'data-testid="proposal-panel"' not in html
    assert "data-autosave=" not in html


def test_a_member_who_has_not_declared_yet_sees_no_proposal_panel(client, item, tec1):
    client.force_login(tec1)

    html = client.get(reverse("subprojects:agenda-item", args=[item.pk])).content.decode()

    assert 'data-testid="declaration-form"' in html
    assert 'data-testid="proposal-panel"' not in html


# --- The proposal form ------------------------------------------------------------------------------


def test_every_formset_cell_is_labelled_for_the_phone_cards_and_the_draft_is_the_users_own(client, po1, pmu):
    note = ConceptNoteFactory(
        partner_organization=po1.partner_organization, created_by=po1, status="shortlisted"
    )
    proposal = ProposalFactory(concept_note=note, invited_by=pmu, status=ProposalStatus.DRAFT)
    client.force_login(po1)

    html = client.get(reverse("subprojects:proposal-edit", args=[proposal.pk])).content.decode()

    for prefix, fields in {
        "budget_lines": ["category", "description", "amount", "financier"],
        "activities": ["description", "start_month", "end_month"],
        "committed_results": ["indicator", "target"],
    }.items():
        for name in fields:
            assert f'<label class="formset-label" for="id_{prefix}-0-{name}">' in html, (prefix, name)
            # ... and in the row that "Add a row" copies.
            assert f'<label class="formset-label" for="id_{prefix}-__prefix__-{name}">' in html, (
                prefix,
                name,
            )
        assert f'<label class="form-check-label" for="id_{prefix}-0-DELETE">Remove</label>' in html
    assert f'data-autosave="proposal" data-autosave-user="{po1.pk}"' in html
    assert 'data-autosave-locale="en-GB"' in html


def test_another_pos_staff_cannot_open_the_proposal_form(client, po1, po2, pmu):
    note = ConceptNoteFactory(
        partner_organization=po1.partner_organization, created_by=po1, status="shortlisted"
    )
    proposal = ProposalFactory(concept_note=note, invited_by=pmu, status=ProposalStatus.DRAFT)
    client.force_login(po2)

    response = client.get(reverse("subprojects:proposal-edit", args=[proposal.pk]))

    assert response.status_code == 404
    assert b"data-autosave=" not in response.content


# --- District and upazila pickers ------------------------------------------------------------------


def select_tag(html: str, name: str) -> str:
    match = re.search(rf'<select[^>]*\bname="{name}"[^>]*>', html)
    assert match, f"no <select name={name!r}>"
    return match.group(0)


def test_mark_pickers_marks_only_the_place_drop_downs():
    class Form(forms.Form):
        district = forms.ModelChoiceField(District.objects.all())
        upazilas = forms.ModelMultipleChoiceField(Upazila.objects.all())
        typed_district = forms.ModelChoiceField(District.objects.all(), widget=forms.NumberInput)
        name = forms.CharField()

    form = mark_pickers(Form())

    assert "data-picker" in str(form["district"])
    assert "data-picker" in str(form["upazilas"])
    assert "data-picker" not in str(form["typed_district"])
    assert "data-picker" not in str(form["name"])


@pytest.mark.parametrize(
    ("path", "names"),
    [
        ("/enterprises/new/", ["district", "upazila"]),
        ("/facilities/new/", ["district", "upazila"]),
        ("/trainings/new/", ["district"]),
        ("/safeguards/incidents/report/", ["district"]),
        ("/enterprises/", ["district"]),
        ("/concept-notes/", ["district"]),
        ("/verification/checks/", ["district"]),
    ],
)
def test_district_and_upazila_drop_downs_of_po_pages_are_pickers(client, po1, path, names):
    client.force_login(po1)
    html = client.get(path).content.decode()
    for name in names:
        assert "data-picker" in select_tag(html, name), (path, name)


def test_each_place_can_be_found_by_its_english_or_its_bangla_name(client, po1, open_call):
    assert search_words("Satkhira") == "Satkhira সাতক্ষীরা"
    assert search_words("A place the catalogue does not know") == "A place the catalogue does not know"
    client.force_login(po1)
    satkhira = District.objects.get(name="Satkhira")

    html = client.get("/enterprises/new/").content.decode()
    assert f'<option value="{satkhira.pk}" data-search="Satkhira সাতক্ষীরা">Satkhira</option>' in html
    # The upazilas htmx loads for the chosen district carry both names too.
    options = client.get("/enterprises/upazila-options/", {"district": satkhira.pk}).content.decode()
    assert 'data-search="Shyamnagar শ্যামনগর">Shyamnagar</option>' in options
    # Grouped choices (upazilas under their district) are plain ids: the names are looked up.
    note_form = client.get(reverse("subprojects:note-create", args=[open_call.pk])).content.decode()
    shyamnagar = Upazila.objects.get(name="Shyamnagar")
    assert f'<option value="{shyamnagar.pk}" data-search="Shyamnagar শ্যামনগর">' in note_form


def test_the_upazila_list_still_follows_the_district_through_htmx(client, po1):
    client.force_login(po1)
    html = client.get("/enterprises/new/").content.decode()
    district = select_tag(html, "district")
    assert 'hx-get="/enterprises/upazila-options/"' in district
    assert 'hx-target="#id_upazila"' in district
    options = client.get(
        "/enterprises/upazila-options/", {"district": District.objects.get(name="Satkhira").pk}
    )
    assert "Shyamnagar" in options.content.decode()


def test_the_concept_note_form_offers_districts_and_upazilas_as_pickers(client, po1, open_call):
    client.force_login(po1)
    html = client.get(reverse("subprojects:note-create", args=[open_call.pk])).content.decode()
    assert "data-picker" in select_tag(html, "target_districts")
    assert "data-picker" in select_tag(html, "target_upazilas")
    assert f'data-autosave="note" data-autosave-user="{po1.pk}"' in html


def test_the_pmu_partner_organization_pages_and_the_public_grievance_form_offer_pickers(client, pmu):
    client.force_login(pmu)
    form = client.get(reverse("core:po-create")).content.decode()
    assert "data-picker" in select_tag(form, "head_office_district")
    assert "data-picker" in select_tag(form, "districts")
    assert "data-picker" in select_tag(client.get(reverse("core:po-list")).content.decode(), "district")
    client.logout()
    assert "data-picker" in select_tag(client.get("/grievances/lodge/").content.decode(), "district")
