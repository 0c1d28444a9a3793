""" "Waiting on you" through the API: the items of the home page's panel for the caller, in the same
order, each saying what it opens (its API resource and id); another PO's work never shows."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from subprojects.models import NoteStatus, ProposalStatus
from tests.subprojects.factories import CallFactory

URL = "/api/v1/waiting/"


def _panel(client, user) -> list:
    client.force_login(user)
    return client.get("/").context["panels"][0][1]["items"]


def test_the_pmu_waits_on_the_same_items_as_on_its_home_page(api, client, pmu, note_in):
    newer = note_in(NoteStatus.SUBMITTED)
    older = note_in(NoteStatus.UNDER_REVIEW)
    older.status_changed_at = timezone.now() - timedelta(days=10)
    older.save()
    note_in(NoteStatus.SHORTLISTED)  # nothing to do on it

    body = api.as_user(pmu).get(URL).json()

    assert body["count"] == 2
    assert (
        [row["reference"] for row in body["results"]]
        == [item.reference for item in _panel(client, pmu)]
        == [older.reference, newer.reference]
    )
    first = body["results"][0]
    assert first["kind"] == "concept-notes"
    assert first["object"] == older.pk
    assert first["action"] == "Shortlist · Reject"
    assert first["api_url"].endswith(f"/api/v1/concept-notes/{older.pk}/")
    assert first["url"].endswith(f"/concept-notes/{older.pk}/")
    assert first["overdue"] is False


def test_po_staff_see_their_own_work_only(api, pmu, po1, po2, note_in, proposal_in):
    draft = note_in(NoteStatus.DRAFT)
    invited = proposal_in(ProposalStatus.INVITED, deadline=timezone.now() + timedelta(days=5))
    other_call = CallFactory(created_by=pmu, title="Second round")

    mine = {row["reference"]: row for row in api.as_user(po1).get(URL).json()["results"]}
    theirs = {row["reference"] for row in api.as_user(po2).get(URL).json()["results"]}

    assert set(mine) == {draft.reference, invited.reference, other_call.reference}
    assert mine[invited.reference]["kind"] == "proposals"
    assert mine[invited.reference]["due"] is not None
    assert draft.reference not in theirs
    assert invited.reference not in theirs


def test_the_list_is_paginated(api, pmu, note_in):
    for _ in range(3):
        note_in(NoteStatus.SUBMITTED)

    first = api.as_user(pmu).get(URL, {"page_size": 2}).json()
    second = api.get(first["next"]).json()

    assert first["count"] == 3
    assert len(first["results"]) == 2
    assert len(second["results"]) == 1


def test_nothing_waits_on_a_role_without_work(api, tec3):
    assert api.as_user(tec3).get(URL).json() == {"count": 0, "next": None, "previous": None, "results": []}


def test_anonymous_callers_are_refused(api):
    assert api.get(URL).status_code == 401


def test_a_tec_members_evaluation_opens_its_agenda_item(api, tec1, proposal_in, on_agenda):
    item = on_agenda(proposal_in(ProposalStatus.UNDER_EVALUATION))

    [row] = api.as_user(tec1).get(URL).json()["results"]

    assert (row["kind"], row["object"], row["api_url"]) == ("agenda-item", item.pk, None)
    assert row["action"] == "Declare conflicts of interest, then score"
    assert row["reference"] == item.proposal.reference


def test_every_page_it_maps_and_its_api_resource_exist():
    """A page renamed or a resource removed would otherwise show as `api_url: null`, silently."""
    from django.urls import reverse

    from core.api.waiting import RESOURCES

    for view_name, (basename, path) in RESOURCES.items():
        page = reverse(view_name, kwargs={"pk": 7}) if "create" not in view_name else reverse(view_name)
        assert page.startswith("/"), view_name
        assert reverse(f"{basename}-detail", args=[7]) == f"/api/v1/{path}/7/", view_name
