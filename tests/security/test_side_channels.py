"""No side channels (issue 11, items 4-6): what a user may not see does not show through the browsable
API's forms and filters, OPTIONS, filters by a related id, refusal messages, the admin, or the
cluster-suggestion pages. Small hand-made data; tests/security/test_matrix.py walks every URL with
the demo programme.

The setting: po1 (PO-T01) and po2 (PO-T02); po2's proposal is on a TEC meeting of tec1 and tec2; the
PMU has a draft call it has not published.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from enterprises.models import Cluster, ClusterSuggestion
from subprojects import evaluation
from subprojects.models import AgendaItem, CallStatus, NoteStatus, ProposalStatus
from tests.assertions import field_errors
from tests.enterprises.factories import EnterpriseFactory, sub_project_for
from tests.factories import district
from tests.subprojects.factories import CallFactory, ConceptNoteFactory, ProposalFactory

DRAFT_CALL = "SMART/SPCN/DRAFT-9"
DRAFT_TITLE = "Second window, not yet published"
SECRET = "Meghna salt works modernisation"  # po2's proposal
HTML = {"HTTP_ACCEPT": "text/html"}


@pytest.fixture
def setting(pmu, po1, po2, tec1, tec2):
    draft = CallFactory(
        reference=DRAFT_CALL,
        title=DRAFT_TITLE,
        status=CallStatus.DRAFT,
        created_by=pmu,
        closes_at=timezone.now() + timedelta(days=61),
    )
    call = CallFactory(created_by=pmu)
    own = ConceptNoteFactory(
        call=call, partner_organization=po1.partner_organization, created_by=po1, title="Bhairab soles"
    )
    theirs = ProposalFactory(
        concept_note__call=call,
        concept_note__partner_organization=po2.partner_organization,
        concept_note__created_by=po2,
        concept_note__title=SECRET,
        invited_by=pmu,
        status=ProposalStatus.UNDER_EVALUATION,
    )
    evaluation.seed_default_rubric(call)
    meeting = evaluation.save_meeting(
        user=pmu,
        meeting=None,
        data={
            "number": 1,
            "held_on": timezone.now() + timedelta(days=3),
            "venue": "PKSF Bhaban",
            "chair": tec1,
            "members": [tec1, tec2],
        },
    )
    item = AgendaItem.objects.create(meeting=meeting, proposal=theirs, position=1)
    evaluation.declare(user=tec2, item=item, has_conflict=False)
    criteria = call.rubric.criteria.all()
    evaluation.save_scores(
        user=tec2, item=item, values={c.pk: (Decimal("7"), "") for c in criteria}, submit=True
    )
    return {"draft": draft, "call": call, "own": own, "theirs": theirs, "item": item, "meeting": meeting}


def _text(response) -> str:
    return response.content.decode()


# --- The browsable API and OPTIONS --------------------------------------------------------------

FORM_PAGES = [
    "/api/v1/concept-notes/",
    "/api/v1/concept-notes/{own}/",
    "/api/v1/proposals/",
    "/api/v1/scores/",
    "/api/v1/conflict-declarations/",
    "/api/v1/conditions/",
    "/api/v1/tec-meetings/",
    "/api/v1/sub-projects/",
]


@pytest.mark.django_db
def test_browsable_forms_and_options_offer_po_staff_only_what_they_may_see(client, setting, po1):
    client.force_login(po1)
    for url in FORM_PAGES:
        url = url.format(own=setting["own"].pk)
        for answer in (client.get(url, **HTML), client.options(url)):
            text = _text(answer)
            assert answer.status_code == 200, url
            for secret in (SECRET, DRAFT_CALL, DRAFT_TITLE, ">tec1", ">tec2", ">po2", "tec1 ", "po2 "):
                assert secret not in text, f"{url} shows {secret!r} to po1"
    # What po1 may see is offered: the form is there, with their own call.
    page = _text(client.get("/api/v1/concept-notes/", **HTML))
    assert setting["call"].reference in page


@pytest.mark.django_db
def test_the_same_forms_offer_the_pmu_everything(client, setting, pmu):
    """The check above can fail: where everything is in scope, the forms list it."""
    client.force_login(pmu)
    assert DRAFT_CALL in _text(client.get("/api/v1/concept-notes/", **HTML))
    scores = _text(client.get("/api/v1/scores/", **HTML))
    assert "tec2" in scores
    assert SECRET in _text(client.get("/api/v1/proposals/", **HTML))


@pytest.mark.django_db
def test_a_tec_member_is_offered_the_agenda_of_their_meetings_only(client, setting, tec1, pmu, tec3):
    other = evaluation.save_meeting(
        user=pmu,
        meeting=None,
        data={
            "number": 2,
            "held_on": timezone.now() + timedelta(days=9),
            "venue": "Elsewhere",
            "chair": tec3,
            "members": [tec3],
        },
    )
    client.force_login(tec1)
    page = _text(client.get("/api/v1/scores/", **HTML))
    assert f"TEC-1 · {setting['theirs'].reference}" in page  # their meeting's item
    assert "tec3" not in page
    assert str(other) not in page


# --- Filters by a related id ----------------------------------------------------------------------

FILTERS = [
    # (persona, list, parameter, the id of something out of the persona's scope)
    ("po1", "/api/v1/concept-notes/", "call", lambda s: s["draft"].pk),
    ("po1", "/api/v1/proposals/", "call", lambda s: s["draft"].pk),
    ("po1", "/api/v1/sub-projects/", "call", lambda s: s["draft"].pk),
    ("po1", "/api/v1/scores/", "agenda_item", lambda s: s["item"].pk),
    ("po1", "/api/v1/scores/", "member", lambda s: s["item"].meeting.chair_id),
    ("po1", "/api/v1/conflict-declarations/", "agenda_item", lambda s: s["item"].pk),
    ("po1", "/api/v1/conditions/", "proposal", lambda s: s["theirs"].pk),
    ("po1", "/api/v1/enterprises/", "cluster", lambda s: s["cluster"].pk),
    ("po1", "/api/v1/enterprises/", "sub_project", lambda s: s["their_me"].sub_project_id),
    ("po1", "/api/v1/financial-supports/", "enterprise", lambda s: s["their_me"].pk),
    ("po1", "/api/v1/proposals/", "partner_organization", lambda s: s["theirs"].partner_organization.code),
    ("tec1", "/api/v1/scores/", "member", lambda s: s["po2"].pk),
    ("tec1", "/api/v1/proposals/", "call", lambda s: s["draft"].pk),
]


@pytest.fixture
def with_field_data(setting, po2, pmu):
    their_me = EnterpriseFactory(sub_project=sub_project_for(po2.partner_organization))
    cluster = Cluster.objects.create(
        name="Khulna salt cluster",
        sub_sector=their_me.sub_sector,
        district=their_me.district,
        centre_latitude=Decimal("22.8"),
        centre_longitude=Decimal("89.5"),
        created_by=pmu,
    )
    their_me.cluster = cluster
    their_me.save(update_fields=["cluster"])
    return {**setting, "their_me": their_me, "cluster": cluster, "po2": po2}


@pytest.mark.django_db
@pytest.mark.parametrize(("persona", "url", "parameter", "hidden"), FILTERS)
def test_a_related_id_out_of_scope_answers_as_one_that_does_not_exist(
    client, request, with_field_data, persona, url, parameter, hidden
):
    client.force_login(request.getfixturevalue(persona))
    value = hidden(with_field_data)
    unknown = 987654 if isinstance(value, int) else "PO-NONE"

    out_of_scope = client.get(url, {parameter: value})
    missing = client.get(url, {parameter: unknown})

    assert out_of_scope.status_code == missing.status_code == 400
    assert out_of_scope.json() == missing.json()
    assert field_errors(out_of_scope) == {
        parameter: ["Select a valid choice. That choice is not one of the available choices."]
    }


@pytest.mark.django_db
def test_a_related_id_in_scope_still_filters(client, with_field_data, po1, po2):
    client.force_login(po2)
    mine = client.get("/api/v1/enterprises/", {"cluster": with_field_data["cluster"].pk})
    assert mine.status_code == 200
    assert [me["id"] for me in mine.json()["results"]] == [with_field_data["their_me"].pk]
    client.force_login(po1)
    assert client.get("/api/v1/concept-notes/", {"call": with_field_data["call"].pk}).json()["count"] == 1


# --- Refusal messages -----------------------------------------------------------------------------


def _note(call_pk) -> dict:
    return {
        "call": call_pk,
        "title": "Bhairab soles, second window",
        "sector": "footwear-leather",
        "sub_sectors": ["leather-products"],
        "target_districts": [district("Kishoreganj").pcode],
        "mes_targeted": 100,
        "women_led_mes_targeted": 10,
        # Above the draft call's ceiling: were the call accepted, the refusal would name its ceiling.
        "estimated_budget": "60000000",
    }


@pytest.mark.django_db
def test_a_note_for_a_draft_call_is_refused_as_for_a_call_that_does_not_exist(api, setting, po1):
    api.as_user(po1)
    draft = setting["draft"]

    refused = api.post("/api/v1/concept-notes/", _note(draft.pk), format="json")
    unknown = api.post("/api/v1/concept-notes/", _note(987654), format="json")

    assert refused.status_code == unknown.status_code == 400
    text = refused.content.decode()
    for secret in (draft.reference, draft.title, "ceiling", "deadline"):
        assert secret not in text
    assert field_errors(refused)["call"] == [f'Invalid pk "{draft.pk}" - object does not exist.']
    assert field_errors(unknown)["call"] == ['Invalid pk "987654" - object does not exist.']
    assert not draft.concept_notes.exists()


# --- The admin ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_admin_hides_the_drafts_a_po_never_submitted(client, pmu, po1, setting):
    hidden = ConceptNoteFactory(
        call=setting["call"],
        partner_organization=po1.partner_organization,
        created_by=po1,
        title="Half-written idea of PO-T01",
    )
    submitted = ConceptNoteFactory(
        call=setting["call"],
        partner_organization=po1.partner_organization,
        created_by=po1,
        title="Submitted idea of PO-T01",
        status=NoteStatus.SUBMITTED,
        submitted_at=timezone.now(),
    )
    client.force_login(pmu)

    listed = _text(client.get("/admin/subprojects/conceptnote/"))
    assert submitted.title in listed
    assert hidden.title not in listed
    assert client.get(f"/admin/subprojects/conceptnote/{submitted.pk}/change/").status_code == 200
    opened = client.get(f"/admin/subprojects/conceptnote/{hidden.pk}/change/", follow=True)
    assert hidden.title not in _text(opened)
    assert opened.redirect_chain[-1][0] == "/admin/"  # "... doesn't exist. Perhaps it was deleted?"


# --- Cluster suggestions: one rule for pages and API ----------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("persona", "status"),
    [("pmu", 200), ("wb", 403), ("approver", 403), ("po1", 403), ("tec1", 403), ("verifier", 403)],
)
def test_cluster_suggestions_answer_alike_on_pages_and_in_the_api(client, request, po1, persona, status):
    me = EnterpriseFactory(sub_project=sub_project_for(po1.partner_organization))
    suggestion = ClusterSuggestion.objects.create(
        sub_sector=me.sub_sector,
        district=me.district,
        centre_latitude=Decimal("24.05"),
        centre_longitude=Decimal("90.97"),
        radius_km=Decimal("2.5"),
        member_count=1,
        signature="x" * 64,
    )
    suggestion.members.set([me])
    client.force_login(request.getfixturevalue(persona))

    answers = {
        "page list": client.get("/clusters/suggestions/").status_code,
        "page": client.get(f"/clusters/suggestions/{suggestion.pk}/").status_code,
        "API list": client.get("/api/v1/cluster-suggestions/").status_code,
        "API": client.get(f"/api/v1/cluster-suggestions/{suggestion.pk}/").status_code,
    }

    assert set(answers.values()) == {status}, answers
