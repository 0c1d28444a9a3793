"""TEC minutes through the API: the minutes page's content as JSON and its PDF, for the same readers
as the page (a member who has not scored everything: 403; a meeting one does not sit on, or a PO's
staff: 404, as a meeting that does not exist)."""

from __future__ import annotations

import pytest

from subprojects import evaluation, workflow
from subprojects.models import ProposalStatus
from tests.subprojects.conftest import score

MINUTES = "/api/v1/tec-meetings/{pk}/minutes/"
PDF = "/api/v1/tec-meetings/{pk}/minutes/pdf/"


@pytest.fixture
def item(proposal_in, on_agenda):
    """A proposal under evaluation on a meeting chaired by tec1, with tec1 and tec2 as members."""
    return on_agenda(proposal_in(ProposalStatus.UNDER_EVALUATION))


@pytest.fixture
def decided(item, tec1, tec2, pmu):
    score(item, tec1, 8)
    score(item, tec2, 6)
    evaluation.take_attendance(user=pmu, meeting=item.meeting, present=[tec1])
    workflow.apply(item.proposal, "recommend", tec1, comment="Sound proposal.")
    return item


def test_the_minutes_as_json_say_what_the_page_says(api, pmu, tec1, decided):
    body = api.as_user(pmu).get(MINUTES.format(pk=decided.meeting_id)).json()

    assert body["meeting"] == decided.meeting_id
    assert body["final"] is True
    assert body["chair"] == {"id": tec1.pk, "name": tec1.get_display_name()}
    assert body["attendance"]["taken"] is True
    assert body["attendance"]["present_count"] == 1
    assert [row["present"] for row in body["attendance"]["members"]] == [True, False]
    [row] = body["items"]
    assert row["reference"] == decided.proposal.reference
    assert row["redacted"] is False
    assert row["consolidation"]["mean"] == "70.00"  # the mean of 80 and 60, as on the page
    assert row["decision"]["outcome"] == "recommended"
    assert row["decision"]["text"] == "Sound proposal."
    assert row["decision"]["decided_by"]["id"] == tec1.pk


def test_minutes_are_not_final_until_every_item_is_decided(api, pmu, item):
    body = api.as_user(pmu).get(MINUTES.format(pk=item.meeting_id)).json()

    assert body["final"] is False
    assert body["items"][0]["decision"] is None
    assert body["attendance"]["taken"] is False


def test_the_minutes_as_a_pdf(api, pmu, decided):
    response = api.as_user(pmu).get(PDF.format(pk=decided.meeting_id), HTTP_ACCEPT="application/pdf")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert b"".join(response.streaming_content if response.streaming else [response.content]).startswith(
        b"%PDF"
    )
    assert "minutes.pdf" in response["Content-Disposition"]


def test_a_member_who_has_not_scored_everything_is_refused_as_on_the_page(
    api, client, tec1, item, on_agenda, proposal_in
):
    second = on_agenda(proposal_in(ProposalStatus.UNDER_EVALUATION), meeting=item.meeting)
    score(item, tec1, 8)
    api.as_user(tec1)
    client.force_login(tec1)

    before = api.get(MINUTES.format(pk=item.meeting_id))
    before_pdf = api.get(PDF.format(pk=item.meeting_id), HTTP_ACCEPT="application/pdf")
    page_before = client.get(f"/tec-meetings/{item.meeting_id}/minutes/")
    evaluation.declare(user=tec1, item=second, has_conflict=True, explanation="Advises the PO.")
    after = api.get(MINUTES.format(pk=item.meeting_id))

    assert before.status_code == page_before.status_code == 403
    assert before["Content-Type"] == "application/json"
    assert before.json()["code"] == "permission_denied"
    assert before_pdf.status_code == 403
    assert before_pdf["Content-Type"] == "application/json"
    assert after.status_code == 200
    rows = {row["agenda_item"]: row for row in after.json()["items"]}
    assert rows[second.pk]["redacted"] is True
    assert rows[second.pk]["consolidation"] is None
    assert after.json()["conflicts"][0]["explanation"] == "Advises the PO."


@pytest.mark.parametrize("persona", ["po1", "tec3"])
def test_another_meeting_answers_as_a_missing_one(api, request, persona, decided):
    api.as_user(request.getfixturevalue(persona))

    for url in (MINUTES, PDF):
        theirs = api.get(url.format(pk=decided.meeting_id))
        missing = api.get(url.format(pk=decided.meeting_id + 1000))
        assert theirs.status_code == missing.status_code == 404
        assert theirs.json() == missing.json()


def test_anonymous_callers_are_refused(api, decided):
    assert api.get(MINUTES.format(pk=decided.meeting_id)).status_code == 401
