"""Evaluation integrity (issue 11): a member with a conflict of interest sees nothing of the item
until the committee's decision, a conflicted chair neither records nor overrides it (an acting chair
does, named in the minutes), and a rubric under which scores are submitted is locked everywhere until
the PMU reopens the call's scoring."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core import mail

from core.errors import ActionRefused
from core.roles import Role
from subprojects import evaluation, workflow
from subprojects.models import (
    AgendaItem,
    Criterion,
    Decision,
    Proposal,
    ProposalStatus,
    Rubric,
    RubricLocked,
    ScoreSheet,
    Transition,
)
from tests.assertions import assert_refused
from tests.factories import make_user
from tests.subprojects.conftest import score

DECISION_URL = "/api/v1/proposals/{pk}/{action}/"
REDACTED = "its scores are not shown to you until the committee"


@pytest.fixture
def item(proposal_in, on_agenda, make_meeting, tec3):
    """A proposal under evaluation on a meeting chaired by tec1, with tec1, tec2 and tec3."""
    return on_agenda(proposal_in(ProposalStatus.UNDER_EVALUATION), meeting=make_meeting(tec3))


@pytest.fixture
def pdf_html(monkeypatch):
    """The HTML the minutes PDF is made of, as the view hands it to WeasyPrint (read back here)."""
    import weasyprint

    rendered: list[str] = []

    class FakeHTML:
        def __init__(self, string: str, base_url: str = "") -> None:
            rendered.append(string)

        def write_pdf(self) -> bytes:
            return b"%PDF-1.7 test"

    monkeypatch.setattr(weasyprint, "HTML", FakeHTML)
    return rendered


def draft(item, member, value):
    evaluation.declare(user=member, item=item, has_conflict=False)
    criteria = item.proposal.call.rubric.criteria.all()
    evaluation.save_scores(user=member, item=item, values={c.pk: (Decimal(value), "") for c in criteria})


def conflict(item, member, why="My cousin directs the PO."):
    return evaluation.declare(user=member, item=item, has_conflict=True, explanation=why)


# --- Conflicts mean out ---------------------------------------------------------------------------


def test_a_conflicted_member_sees_no_score_of_the_item_until_the_decision(
    client, api, tec1, tec2, tec3, item, pdf_html
):
    """The issue's repro: tec3 declares a conflict while tec2 is still drafting; tec1 has submitted."""
    conflict(item, tec3)
    score(item, tec1, 8)  # a total of 80.00
    draft(item, tec2, 6)
    tec1_sheet = ScoreSheet.objects.get(member=tec1)
    client.force_login(tec3)
    api.as_user(tec3)
    minutes_url = f"/tec-meetings/{item.meeting_id}/minutes/"

    minutes = client.get(minutes_url)
    pdf = client.get(f"/tec-meetings/{item.meeting_id}/minutes.pdf")
    item_page = client.get(f"/tec/agenda/{item.pk}/").content.decode()
    meeting_page = client.get(f"/tec-meetings/{item.meeting_id}/").content.decode()
    consolidation = api.get(f"/api/v1/tec-meetings/{item.meeting_id}/consolidation/").json()
    sheets = api.get("/api/v1/scores/").json()["results"]
    by_item = api.get("/api/v1/scores/", {"agenda_item": item.pk}).json()

    assert minutes.status_code == 200  # the minutes open, the conflicted item redacted
    assert REDACTED in minutes.content.decode()
    assert pdf.status_code == 200
    for html in (minutes.content.decode(), pdf_html[0], item_page, meeting_page):
        assert "80.00" not in html
        assert 'data-testid="consolidation"' not in html
    assert REDACTED in pdf_html[0]
    assert "stay hidden from you until the committee" in item_page
    assert "you declared a conflict of interest (until the decision)" in meeting_page
    assert consolidation == []
    assert sheets == []
    assert by_item.get("results", []) == []
    assert api.get(f"/api/v1/scores/{tec1_sheet.pk}/").status_code == 404

    # tec2 submits, the chair records the decision: now tec3 sees everything.
    evaluation.save_scores(
        user=tec2,
        item=item,
        values={c.pk: (Decimal(6), "") for c in item.proposal.call.rubric.criteria.all()},
        submit=True,
    )
    workflow.apply(item.proposal, "recommend", tec1, comment="Sound.")
    after = client.get(minutes_url).content.decode()
    api_after = api.get(f"/api/v1/tec-meetings/{item.meeting_id}/consolidation/").json()

    assert "80.00" in after  # tec1's total
    assert "70.00" in after  # the mean of 80 and 60
    assert REDACTED not in after
    assert [c["agenda_item"] for c in api_after] == [item.pk]
    assert api_after[0]["mean"] == "70.00"
    assert {sheet["member"] for sheet in api.get("/api/v1/scores/").json()["results"]} == {tec1.pk, tec2.pk}
    assert "80.00" in client.get(f"/tec/agenda/{item.pk}/").content.decode()


def test_a_conflict_redacts_only_its_own_item(client, tec1, tec2, tec3, item, on_agenda, proposal_in):
    """On the other items the blind-scoring rule holds: tec3 sees an item once they submit on it."""
    second = on_agenda(proposal_in(ProposalStatus.UNDER_EVALUATION), meeting=item.meeting)
    conflict(item, tec3)
    score(item, tec1, 8)
    score(second, tec1, 5)
    client.force_login(tec3)
    url = f"/tec-meetings/{item.meeting_id}/minutes/"

    before = client.get(url)
    score(second, tec3, 7)  # 50 and 70: a mean of 60.00
    after = client.get(url).content.decode()

    assert before.status_code == 403  # tec3 has not scored the second proposal yet
    assert "60.00" in after
    assert "80.00" not in after
    assert after.count(REDACTED) == 1


def test_the_minutes_list_each_conflict(client, pmu, tec1, tec2, tec3, item, pdf_html):
    conflict(item, tec2, "Sat on the PO's board until 2024.")
    conflict(item, tec3, "My cousin directs the PO.")
    client.force_login(pmu)

    page = client.get(f"/tec-meetings/{item.meeting_id}/minutes/").content.decode()
    client.get(f"/tec-meetings/{item.meeting_id}/minutes.pdf")

    for html in (page, pdf_html[0]):
        assert 'data-testid="conflicts"' in html
        for member, why in (
            (tec2, "Sat on the PO&#x27;s board until 2024."),
            (tec3, "My cousin directs the PO."),
        ):
            cells = (member.get_display_name(), item.proposal.reference, why)
            assert "<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>" in html


def test_a_conflict_outweighs_the_pmu_role_of_a_member_who_is_both(api, client, tec1, tec2, tec3, item):
    both = make_user("both", Role.PMU_OFFICER, Role.TEC_MEMBER)
    item.meeting.members.add(both)
    conflict(item, both)
    for member in (tec1, tec2, tec3):
        score(item, member, 8)  # every score is in

    decided = api.as_user(both).post(DECISION_URL.format(pk=item.proposal_id, action="recommend"))
    consolidation = api.get(f"/api/v1/tec-meetings/{item.meeting_id}/consolidation/").json()
    sheets = api.get("/api/v1/scores/").json()["results"]
    client.force_login(both)
    minutes = client.get(f"/tec-meetings/{item.meeting_id}/minutes/").content.decode()

    assert_refused(decided, 403)
    assert consolidation == []
    assert sheets == []
    assert REDACTED in minutes
    assert "80.00" not in minutes


# --- A conflicted chair does not decide; an acting chair does -------------------------------------


def test_a_conflicted_chair_can_neither_record_nor_override_the_decision(api, client, tec1, tec2, item):
    conflict(item, tec1)  # tec1 chairs the meeting
    score(item, tec2, 8)  # tec3 has not scored
    url = DECISION_URL.format(pk=item.proposal_id, action="recommend")

    override = api.as_user(tec1).post(url, {"override_reason": "tec3 is away."}, format="json")
    plain = api.post(url, {"comment": "Sound."}, format="json")
    client.force_login(tec1)
    page = client.get(f"/tec/agenda/{item.pk}/")
    form = client.get(f"/tec/agenda/{item.pk}/decision/")
    posted = client.post(
        f"/tec/agenda/{item.pk}/decision/", {"outcome": "recommended", "override_reason": "tec3 is away."}
    )

    assert_refused(override, 403)
    assert_refused(plain, 403)
    assert form.status_code == 403
    assert posted.status_code == 403
    assert "Record the decision" not in page.content.decode()
    assert "you cannot record or override the committee" in page.content.decode()
    assert not Decision.objects.exists()
    assert Proposal.objects.get(pk=item.proposal_id).status == ProposalStatus.UNDER_EVALUATION
    with pytest.raises(ActionRefused) as refusal:
        workflow.apply(item.proposal, "recommend", tec1, override_reason="tec3 is away.")
    assert_refused(refusal, 403)


def test_an_acting_chair_named_by_the_pmu_decides_and_the_minutes_say_so(
    api, client, pmu, tec1, tec2, tec3, item
):
    conflict(item, tec1)
    score(item, tec2, 8)  # tec3 has not scored: the acting chair overrides
    client.force_login(pmu)

    named = client.post(
        f"/tec/agenda/{item.pk}/acting-chair/",
        {"acting_chair": tec2.pk, "reason": "The chair declared a conflict of interest."},
    )
    decided = api.as_user(tec2).post(
        DECISION_URL.format(pk=item.proposal_id, action="recommend"),
        {"override_reason": "tec3 is abroad; the committee agreed to decide."},
        format="json",
    )
    minutes = client.get(f"/tec-meetings/{item.meeting_id}/minutes/").content.decode()

    assert named.status_code == 302
    assert decided.status_code == 200, decided.json()
    decision = Decision.objects.get()
    assert (decision.decided_by, decision.override_reason) == (
        tec2,
        "tec3 is abroad; the committee agreed to decide.",
    )
    assert (
        f"Acting chair:</strong> {tec2.get_display_name()}. The chair declared a conflict of interest."
        in minutes
    )
    logged = Transition.objects.get(action="name_acting_chair")
    assert (logged.actor, logged.to_state, logged.comment) == (
        pmu,
        tec2.username,
        "The chair declared a conflict of interest.",
    )


def test_the_acting_chair_replaces_the_chair_and_the_pmu_still_decides(api, pmu, tec1, tec2, tec3, item):
    conflict(item, tec1)
    score(item, tec2, 8)
    score(item, tec3, 8)
    response = api.as_user(tec1).post(
        f"/api/v1/tec-meetings/{item.meeting_id}/acting-chair/",
        {"agenda_item": item.pk, "acting_chair": tec2.pk, "reason": "I am conflicted."},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["acting_chair"] == tec2.pk

    # tec1 remains refused; the PMU keeps its power to record decisions.
    assert_refused(api.post(DECISION_URL.format(pk=item.proposal_id, action="recommend")), 403)
    recorded = api.as_user(pmu).post(DECISION_URL.format(pk=item.proposal_id, action="recommend"))
    assert recorded.status_code == 200
    assert Decision.objects.get().decided_by == pmu


def test_who_may_be_named_acting_chair_and_by_whom(api, client, tec1, tec2, tec3, item):
    conflict(item, tec3)
    url = f"/api/v1/tec-meetings/{item.meeting_id}/acting-chair/"

    by_a_member = api.as_user(tec2).post(
        url, {"agenda_item": item.pk, "acting_chair": tec2.pk, "reason": "Me."}, format="json"
    )
    client.force_login(tec2)
    by_a_member_page = client.post(
        f"/tec/agenda/{item.pk}/acting-chair/", {"acting_chair": tec2.pk, "reason": "Me."}
    )
    api.as_user(tec1)
    conflicted = api.post(
        url, {"agenda_item": item.pk, "acting_chair": tec3.pk, "reason": "Away."}, format="json"
    )
    no_reason = api.post(url, {"agenda_item": item.pk, "acting_chair": tec2.pk}, format="json")
    stranger = api.post(url, {"agenda_item": item.pk, "acting_chair": 99999, "reason": "x"}, format="json")

    assert_refused(by_a_member, 403)
    assert by_a_member_page.status_code == 403
    assert_refused(conflicted, 409, code="acting_chair")
    assert "declared a conflict of interest" in conflicted.json()["detail"]
    assert_refused(no_reason, 409, code="reason")
    assert stranger.status_code == 400
    assert "acting_chair" in stranger.json()["fields"]
    assert AgendaItem.objects.get(pk=item.pk).acting_chair is None


# --- Locked is locked -----------------------------------------------------------------------------


@pytest.fixture
def locked(tec1, tec2, item):
    """tec1 has submitted (8 everywhere: 80.00), tec2 has a draft: the call's rubric is locked."""
    score(item, tec1, 8)
    draft(item, tec2, 6)
    return item.proposal.call.rubric


def test_a_locked_rubric_refuses_any_change_in_the_models(locked, tec1, item):
    criterion = locked.criteria.first()
    weight = criterion.weight

    criterion.weight = weight + 2
    with pytest.raises(RubricLocked):
        criterion.save()
    with pytest.raises(RubricLocked):
        criterion.delete()
    with pytest.raises(RubricLocked):
        Criterion.objects.create(rubric=locked, name="New", weight=1, max_score=10)
    with pytest.raises(RubricLocked):
        Criterion.objects.filter(rubric=locked).update(weight=1)
    locked.pass_mark = Decimal("10")
    with pytest.raises(RubricLocked):
        locked.save()
    with pytest.raises(RubricLocked):
        Rubric.objects.filter(pk=locked.pk).update(pass_mark=1)

    assert Criterion.objects.get(pk=criterion.pk).weight == weight
    assert Rubric.objects.get(pk=locked.pk).pass_mark == Decimal("60")
    assert evaluation.consolidate(item).row_of(tec1).total == Decimal("80.00")


def test_the_admin_shows_a_locked_rubric_read_only_and_refuses_changes(client, pmu, locked, tec1, item):
    criterion = locked.criteria.first()
    client.force_login(pmu)
    rubric_url = f"/admin/subprojects/rubric/{locked.pk}/change/"
    criterion_url = f"/admin/subprojects/criterion/{criterion.pk}/change/"

    page = client.get(rubric_url).content.decode()
    criterion_post = client.post(
        criterion_url,
        {"rubric": locked.pk, "name": criterion.name, "weight": "27", "max_score": "10", "position": "0"},
    )
    rubric_post = client.post(rubric_url, {"pass_mark": "10", "spread_threshold": "20"})
    delete = client.post(f"/admin/subprojects/criterion/{criterion.pk}/delete/", {"post": "yes"})
    added = client.post(
        "/admin/subprojects/criterion/add/",
        {"rubric": locked.pk, "name": "New", "weight": "2", "max_score": "10", "position": "9"},
    )

    assert "scores have been submitted under this rubric" in page
    assert 'name="criteria-0-weight"' not in page  # the criteria shown, not as inputs
    assert 'name="criteria-__prefix__-weight"' not in page  # no row to add
    assert 'name="_save"' not in page
    assert criterion_post.status_code == 403
    assert rubric_post.status_code == 403
    assert delete.status_code == 403
    assert added.status_code == 200  # the form again, with the reason
    assert "scores have been submitted under this rubric" in added.content.decode()
    assert Criterion.objects.get(pk=criterion.pk).weight == criterion.weight
    assert locked.criteria.count() == 6
    assert evaluation.consolidate(item).row_of(tec1).total == Decimal("80.00")


def test_the_api_and_the_service_refuse_a_locked_rubric(api, pmu, locked):
    criteria = [
        {"id": c.pk, "name": c.name, "weight": str(c.weight), "max_score": c.max_score}
        for c in locked.criteria.all()
    ]
    # The repro: two weights moved by 2 points, still adding up to 100.
    criteria[0]["weight"] = str(Decimal(criteria[0]["weight"]) + 2)
    criteria[1]["weight"] = str(Decimal(criteria[1]["weight"]) - 2)

    response = api.as_user(pmu).put(
        f"/api/v1/calls/{locked.call_id}/rubric/",
        {"pass_mark": "60", "spread_threshold": "20", "criteria": criteria},
        format="json",
    )

    assert_refused(response, 409, code="locked")
    assert api.get(f"/api/v1/calls/{locked.call_id}/rubric/").json()["locked"] is True
    with pytest.raises(RubricLocked):
        evaluation.save_rubric(
            user=pmu, rubric=locked, pass_mark=Decimal(60), spread_threshold=Decimal(20), criteria=criteria
        )


# --- Reopening scoring ----------------------------------------------------------------------------


def test_the_pmu_reopens_scoring_logged_and_members_told_then_the_rubric_can_change(
    client, api, pmu, tec1, tec2, locked, item, django_capture_on_commit_callbacks
):
    call = item.proposal.call
    sheet = ScoreSheet.objects.get(member=tec1)
    client.force_login(pmu)
    call_page = client.get(f"/calls/{call.pk}/").content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/calls/{call.pk}/do/reopen_scoring/",
            {"reopen_scoring-comment": "Budget weight entered as 15 instead of 20."},
        )

    assert 'data-action="reopen_scoring"' in call_page
    assert response.status_code == 302
    sheet = ScoreSheet.objects.get(pk=sheet.pk)
    assert (sheet.status, sheet.submitted_at) == ("draft", None)
    assert ScoreSheet.objects.get(member=tec2).status == "draft"  # the draft stays a draft
    reopened = Transition.objects.get(action="reopen")
    assert (reopened.subject, reopened.actor, reopened.from_state, reopened.to_state) == (
        sheet,
        None,
        "submitted",
        "draft",
    )
    assert "Budget weight entered as 15 instead of 20." in reopened.comment
    history = api.as_user(pmu).get(f"/api/v1/calls/{call.pk}/history/").json()
    assert any("Budget weight entered as 15 instead of 20." in str(entry) for entry in history)
    assert "Reopen scoring" in client.get(f"/calls/{call.pk}/").content.decode()
    assert [message.to for message in mail.outbox] == [[tec1.email]]
    assert item.proposal.reference in mail.outbox[0].subject
    assert f"/tec/agenda/{item.pk}/" in mail.outbox[0].body

    # The rubric can be corrected now, and the member submits again.
    criterion = locked.criteria.first()
    criterion.weight += 1
    criterion.save()
    criterion.weight -= 1
    criterion.save()
    score_again = {c.pk: (Decimal(8), "") for c in locked.criteria.all()}
    evaluation.save_scores(user=tec1, item=item, values=score_again, submit=True)
    assert ScoreSheet.objects.get(pk=sheet.pk).status == "submitted"


@pytest.mark.parametrize("persona", ["tec1", "wb", "po1"])
def test_only_the_pmu_reopens_scoring(api, client, request, persona, locked, item):
    user = request.getfixturevalue(persona)
    call = item.proposal.call

    response = api.as_user(user).post(
        f"/api/v1/calls/{call.pk}/reopen-scoring/", {"comment": "Let me fix it."}
    )
    client.force_login(user)
    page = client.post(
        f"/calls/{call.pk}/do/reopen_scoring/",
        {"reopen_scoring-comment": "Let me fix it."},
    )

    assert response.status_code in {403, 404}
    assert page.status_code in {403, 404}
    if persona != "po1":  # an open call is visible to PO staff too; either way, refused
        assert_refused(response, 403)
    assert ScoreSheet.objects.get(member__username="tec1").status == "submitted"
    assert not Transition.objects.filter(action__startswith="reopen").exists()


def test_reopening_needs_a_reason_and_something_to_reopen(api, pmu, tec1, item):
    call = item.proposal.call
    url = f"/api/v1/calls/{call.pk}/reopen-scoring/"

    nothing = api.as_user(pmu).post(url, {"comment": "Just in case."})
    score(item, tec1, 8)
    no_reason = api.post(url, {"comment": ""})

    assert_refused(nothing, 409, code="not_locked")
    assert_refused(no_reason, 409, code="comment_required")
    assert ScoreSheet.objects.get().status == "submitted"


def test_the_call_page_offers_reopening_only_once_a_score_is_submitted(client, pmu, tec1, item):
    call = item.proposal.call
    client.force_login(pmu)

    before = client.get(f"/calls/{call.pk}/").content.decode()
    score(item, tec1, 8)
    after = client.get(f"/calls/{call.pk}/").content.decode()

    assert 'data-action="reopen_scoring"' not in before
    assert 'data-action="reopen_scoring"' in after


def test_scoring_is_not_reopened_once_an_item_of_the_call_is_decided(
    api, pmu, tec1, tec2, tec3, item, on_agenda, proposal_in, make_meeting
):
    """Decisions stand on the scores as they were: reopening is refused, naming the decided items."""
    for member in (tec1, tec2, tec3):
        score(item, member, 8)
    workflow.apply(item.proposal, "recommend", tec1, comment="Sound.")
    other = on_agenda(proposal_in(ProposalStatus.UNDER_EVALUATION), meeting=make_meeting())
    score(other, tec1, 5)

    response = api.as_user(pmu).post(
        f"/api/v1/calls/{item.proposal.call_id}/reopen-scoring/", {"comment": "Fix weights."}
    )

    assert_refused(response, 409, code="decided")
    assert item.proposal.reference in response.json()["detail"]
    assert not ScoreSheet.objects.filter(status="draft").exists()
    assert not Transition.objects.filter(action__startswith="reopen").exists()
