"""Grievance handling on the lifecycle engine: tiers, who acts, deadlines and escalation."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from core import lifecycle
from core.errors import ActionRefused
from core.waiting import items_for
from grievances import handling
from grievances.models import Category, Feedback, Grievance, GrievanceStatus, Tier
from grievances.tasks import escalate_overdue
from tests.grievances.test_handling_fixtures import *  # noqa: F403
from tests.grievances.test_handling_fixtures import lodge, reload


def _rows(grievance, action=None):
    rows = lifecycle.transitions_of(grievance)
    return rows.filter(action=action) if action else rows


def _post_action(client, user, grievance, action, comment=""):
    client.force_login(user)
    return client.post(
        reverse("grievances:transition", args=[grievance.pk, action]), {f"{action}-comment": comment}
    )


def _overdue(grievance, days=1):
    """Move the grievance's deadlines into the past (as time passing would)."""
    past = timezone.now() - timedelta(days=days)
    Grievance.objects.filter(pk=grievance.pk).update(acknowledge_by=past, resolve_by=past)


# --- Starting tier and deadlines --------------------------------------------------------------------


def test_a_grievance_starts_at_its_pos_tier_with_deadlines_and_a_log_row(po_one, settings):
    grievance = lodge(po_one)
    assert grievance.tier == Tier.PO
    assert grievance.status == GrievanceStatus.RECEIVED
    assert grievance.acknowledge_by - grievance.tier_received_at == timedelta(
        days=settings.GRIEVANCE_ACKNOWLEDGE_DAYS
    )
    assert grievance.resolve_by - grievance.tier_received_at == timedelta(
        days=settings.GRIEVANCE_RESOLVE_DAYS
    )
    assert list(_rows(grievance).values_list("action", flat=True)) == ["lodge"]


def test_a_grievance_with_no_po_starts_at_the_pmu(db):
    assert lodge(None).tier == Tier.PMU


# --- The happy path, page and API -------------------------------------------------------------------


def test_the_pos_focal_point_acknowledges_resolves_and_closes_on_the_page(client, gfp1, po_one):
    grievance = lodge(po_one)
    assert _post_action(client, gfp1, grievance, "acknowledge").status_code == 302
    grievance = reload(grievance)
    assert grievance.status == GrievanceStatus.ACKNOWLEDGED
    assert grievance.acknowledged_at
    response = _post_action(client, gfp1, grievance, "resolve", "Fee refunded; officer warned.")
    assert response.status_code == 302
    grievance = reload(grievance)
    assert grievance.status == GrievanceStatus.RESOLVED
    assert grievance.resolution == "Fee refunded; officer warned."
    assert grievance.resolved_at
    assert _post_action(client, gfp1, grievance, "record_feedback_satisfied").status_code == 302
    grievance = reload(grievance)
    assert grievance.status == GrievanceStatus.CLOSED
    assert grievance.feedback == Feedback.SATISFIED
    assert grievance.closed_at
    rows = list(_rows(grievance).values_list("action", "actor__username"))
    assert rows == [
        ("lodge", None),
        ("acknowledge", "gfp1"),
        ("resolve", "gfp1"),
        ("record_feedback_satisfied", "gfp1"),
    ]


def test_the_same_by_the_api(api, gfp1, po_one):
    grievance = lodge(po_one)
    api.as_user(gfp1)
    url = f"/api/v1/grievances/{grievance.pk}/"
    assert api.post(url + "acknowledge/", {}).status_code == 200
    answer = api.post(url + "resolve/", {"comment": "Refunded."})
    assert answer.status_code == 200, answer.content
    assert answer.json()["status"] == "resolved"
    assert answer.json()["resolution"] == "Refunded."
    assert api.post(url + "record-feedback-satisfied/", {}).json()["status"] == "closed"


def test_a_resolution_needs_its_text_and_a_refusal_changes_nothing(client, api, gfp1, po_one):
    grievance = lodge(po_one)
    lifecycle.apply(grievance, "acknowledge", gfp1)
    response = _post_action(client, gfp1, grievance, "resolve", "")
    assert response.status_code == 409
    api.as_user(gfp1)
    assert api.post(f"/api/v1/grievances/{grievance.pk}/resolve/", {}).status_code == 409
    assert reload(grievance).status == GrievanceStatus.ACKNOWLEDGED
    assert not _rows(grievance, "resolve").exists()


# --- Who acts ----------------------------------------------------------------------------------------


def test_only_the_handlers_of_the_current_tier_act(client, api, gfp1, gfp2, grm, pmu, po1, po_one):
    grievance = lodge(po_one)
    # The PMU's focal point sees the case but PO-T01 has its own focal point: 403, page and API.
    assert _post_action(client, grm, grievance, "acknowledge").status_code == 403
    assert api.as_user(grm).post(f"/api/v1/grievances/{grievance.pk}/acknowledge/", {}).status_code == 403
    # Another PO's focal point, ordinary PO staff and PMU officers do not even see it: 404.
    for outsider in (gfp2, po1, pmu):
        assert _post_action(client, outsider, grievance, "acknowledge").status_code == 404
        api.credentials()
        answer = api.as_user(outsider).post(f"/api/v1/grievances/{grievance.pk}/acknowledge/", {})
        assert answer.status_code == 404
    assert reload(grievance).status == GrievanceStatus.RECEIVED
    assert not _rows(grievance, "acknowledge").exists()


def test_the_pmu_handles_tier_one_of_a_po_without_a_focal_point(client, grm, po_two):
    grievance = lodge(po_two)
    assert handling.is_handler(grm, grievance)
    assert [user.username for user in handling.handlers(grievance)] == ["grm"]
    assert _post_action(client, grm, grievance, "acknowledge").status_code == 302


def test_sea_sh_cases_are_handled_by_sea_sh_focal_points_only(grm, gfp1, seah, seah1, po_one):
    grievance = lodge(po_one, Category.SEAH)
    assert handling.is_handler(seah1, grievance)
    assert not handling.is_handler(seah, grievance)  # the PO has its own SEA/SH focal point
    assert not handling.is_handler(gfp1, grievance)
    assert not handling.is_handler(grm, grievance)
    with pytest.raises(ActionRefused):
        lifecycle.apply(grievance, "acknowledge", gfp1)
    lifecycle.apply(grievance, "escalate", seah1, comment="Needs the PMU.")
    grievance = reload(grievance)
    assert handling.is_handler(seah, grievance)
    assert not handling.is_handler(seah1, grievance)


# --- Appeal and escalation --------------------------------------------------------------------------


def test_an_appeal_moves_the_case_to_the_next_tier_with_fresh_deadlines(
    gfp1, grm, po_one, django_capture_on_commit_callbacks
):
    grievance = lodge(po_one)
    lifecycle.apply(grievance, "acknowledge", gfp1)
    lifecycle.apply(grievance, "resolve", gfp1, comment="Refunded half.")
    before = reload(grievance)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.apply(grievance, "appeal", gfp1, comment="Wants the whole fee back.")
    grievance = reload(grievance)
    assert grievance.tier == Tier.PMU
    assert grievance.status == GrievanceStatus.RECEIVED
    assert grievance.tier_received_at > before.tier_received_at
    assert grievance.acknowledge_by > before.acknowledge_by
    assert grievance.feedback == Feedback.NOT_SATISFIED
    assert grievance.acknowledged_at is None
    assert grievance.resolved_at is None
    assert handling.is_handler(grm, grievance)
    assert not handling.is_handler(gfp1, grievance)
    # The new tier's handler hears of it.
    assert [message.to for message in mail.outbox] == [[grm.email]]
    assert "Wants the whole fee" not in mail.outbox[0].body


def test_at_the_appeal_tier_not_satisfied_closes_and_nothing_escalates(grm, po_one):
    grievance = lodge(None)  # tier 2, the PMU's
    lifecycle.apply(grievance, "escalate", grm, comment="Straight to the appeal committee.")
    grievance = reload(grievance)
    assert grievance.tier == Tier.APPEAL
    lifecycle.apply(grievance, "acknowledge", grm)
    lifecycle.apply(grievance, "resolve", grm, comment="Final answer.")
    for action in ("appeal", "escalate"):
        with pytest.raises(ActionRefused):
            lifecycle.apply(reload(grievance), action, grm, comment="Again")
    lifecycle.apply(reload(grievance), "close_not_satisfied", grm, comment="Complainant still unhappy.")
    grievance = reload(grievance)
    assert grievance.status == GrievanceStatus.CLOSED
    assert grievance.feedback == Feedback.NOT_SATISFIED


def test_not_satisfied_below_the_appeal_is_an_appeal_not_a_close(gfp1, po_one):
    grievance = lodge(po_one)
    lifecycle.apply(grievance, "acknowledge", gfp1)
    lifecycle.apply(grievance, "resolve", gfp1, comment="Done.")
    with pytest.raises(ActionRefused) as refused:
        lifecycle.apply(grievance, "close_not_satisfied", gfp1, comment="Unhappy")
    assert refused.value.code == "not_last_tier"
    assert reload(grievance).status == GrievanceStatus.RESOLVED


def test_escalating_by_hand_needs_a_comment_and_closing_out_of_scope_too(gfp1, po_one):
    grievance = lodge(po_one)
    for action in ("escalate", "close_out_of_scope"):
        with pytest.raises(ActionRefused):
            lifecycle.apply(grievance, action, gfp1, comment="")
    lifecycle.apply(grievance, "close_out_of_scope", gfp1, comment="About a bank not in the project.")
    grievance = reload(grievance)
    assert grievance.status == GrievanceStatus.CLOSED
    assert grievance.closed_at


# --- The scheduled escalation -----------------------------------------------------------------------


def test_an_unacknowledged_grievance_past_its_deadline_is_escalated_once_with_one_log_row(
    gfp1, grm, po_one, django_capture_on_commit_callbacks
):
    grievance = lodge(po_one)
    untouched = lodge(po_one, subject="Not yet due")
    _overdue(grievance)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert escalate_overdue() == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert escalate_overdue() == 0  # fresh deadlines: a second run changes nothing
    grievance = reload(grievance)
    assert grievance.tier == Tier.PMU
    assert grievance.status == GrievanceStatus.RECEIVED
    assert grievance.acknowledge_by > timezone.now()
    rows = list(_rows(grievance, "escalate"))
    assert len(rows) == 1
    assert rows[0].actor is None
    assert "Escalated by the portal" in rows[0].comment
    assert reload(untouched).tier == Tier.PO
    # The PMU's focal point is told, once.
    assert [message.to for message in mail.outbox] == [[grm.email]]


def test_an_acknowledged_grievance_past_its_resolution_deadline_is_escalated(gfp1, grm, po_one):
    grievance = lodge(po_one)
    lifecycle.apply(grievance, "acknowledge", gfp1)
    Grievance.objects.filter(pk=grievance.pk).update(resolve_by=timezone.now() - timedelta(hours=1))
    assert escalate_overdue() == 1
    assert reload(grievance).tier == Tier.PMU


def test_an_overdue_appeal_is_flagged_not_escalated(client, grm):
    grievance = lodge(None)
    lifecycle.apply(grievance, "escalate", grm, comment="To the appeal.")
    _overdue(grievance)
    assert escalate_overdue() == 0
    assert reload(grievance).tier == Tier.APPEAL
    client.force_login(grm)
    assert b'data-testid="overdue"' in client.get(reverse("grievances:list") + "?overdue=true").content


def test_the_portal_does_not_escalate_what_is_not_overdue(po_one):
    grievance = lodge(po_one)
    with pytest.raises(ActionRefused) as refused:
        lifecycle.apply(grievance, "escalate", None, comment="by the portal")
    assert refused.value.code == "not_overdue"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_escalation_runs_at_once_escalate_once(po_one):
    grievance = lodge(po_one)
    _overdue(grievance)
    results: list[int] = []

    def run() -> None:
        try:
            results.append(handling.escalate_overdue())
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [0, 1]
    assert _rows(grievance, "escalate").count() == 1
    assert reload(grievance).tier == Tier.PMU


# --- Waiting on you ---------------------------------------------------------------------------------


def test_the_handler_finds_the_grievance_waiting_on_them(gfp1, gfp2, grm, po_one):
    grievance = lodge(po_one)
    assert [item.reference for item in items_for(gfp1)] == [grievance.reference]
    assert not [item for item in items_for(gfp2) if item.reference == grievance.reference]
    assert not [item for item in items_for(grm) if item.reference == grievance.reference]


# --- The portal never uses up the appeal (review 1) ------------------------------------------------


def test_an_overdue_case_at_tier_two_stays_there_flagged_so_the_appeal_is_kept(client, grm):
    grievance = lodge(None)  # tier 2, the PMU's
    _overdue(grievance)
    assert escalate_overdue() == 0
    grievance = reload(grievance)
    assert grievance.tier == Tier.PMU
    assert grievance.status == GrievanceStatus.RECEIVED
    assert not _rows(grievance, "escalate").exists()
    assert handling.is_overdue(grievance)
    with pytest.raises(ActionRefused) as refused:
        lifecycle.apply(grievance, "escalate", None, comment="by the portal")
    assert refused.value.code == "not_portal_tier"
    client.force_login(grm)
    listed = client.get(reverse("grievances:list") + "?overdue=true").content
    assert grievance.reference.encode() in listed
    assert b'data-testid="overdue"' in client.get(grievance.get_absolute_url()).content
    # A handler may still take it to the appeal by hand.
    lifecycle.apply(grievance, "escalate", grm, comment="The committee cannot meet this month.")
    assert reload(grievance).tier == Tier.APPEAL


def test_an_acknowledged_case_at_tier_two_past_its_resolution_deadline_is_not_escalated(grm):
    grievance = lodge(None)
    lifecycle.apply(grievance, "acknowledge", grm)
    Grievance.objects.filter(pk=grievance.pk).update(resolve_by=timezone.now() - timedelta(hours=1))
    assert escalate_overdue() == 0
    assert reload(grievance).tier == Tier.PMU


# --- A grievance logged late counts from when it was received (review 3) ---------------------------


def test_a_back_dated_grievance_has_its_deadlines_from_when_it_was_received(settings, po_one):
    received_at = timezone.now() - timedelta(days=20)
    grievance = lodge(po_one, channel="letter", received_at=received_at)
    assert grievance.received_at == received_at
    assert grievance.tier_received_at == received_at
    assert grievance.acknowledge_by == received_at + timedelta(days=settings.GRIEVANCE_ACKNOWLEDGE_DAYS)
    assert grievance.resolve_by == received_at + timedelta(days=settings.GRIEVANCE_RESOLVE_DAYS)
    assert handling.is_overdue(grievance)
    assert escalate_overdue() == 1
    assert reload(grievance).tier == Tier.PMU


def test_a_received_at_in_the_future_is_not_kept(po_one):
    grievance = lodge(po_one, received_at=timezone.now() + timedelta(days=3))
    assert grievance.received_at <= timezone.now()
    assert not handling.is_overdue(grievance)


# --- History written after the fact emails nobody (review 5) ----------------------------------------


def test_steps_replayed_in_the_past_email_nobody_and_fresh_ones_do(
    gfp1, po_one, django_capture_on_commit_callbacks
):
    grievance = lodge(po_one)
    past = timezone.now() - timedelta(days=12)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.replay_history(
            grievance,
            [("escalate", GrievanceStatus.RECEIVED, GrievanceStatus.RECEIVED, None, past, "By the portal.")],
        )
    assert mail.outbox == []
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.record(grievance, "lodge", None, "", at=timezone.now() - timedelta(minutes=5))
    assert [message.to for message in mail.outbox] == [[gfp1.email]]


# --- Reclassification (review 6) --------------------------------------------------------------------


def _reclassify(client, user, grievance, category, comment="Misfiled at intake."):
    client.force_login(user)
    return client.post(
        reverse("grievances:reclassify", args=[grievance.pk]),
        {"reclassify-category": category, "reclassify-comment": comment},
    )


def test_the_handler_changes_the_category_with_a_reason_and_the_state_stays(client, gfp1, po_one):
    grievance = lodge(po_one)
    lifecycle.apply(grievance, "acknowledge", gfp1)
    client.force_login(gfp1)
    assert b'data-testid="reclassify"' in client.get(grievance.get_absolute_url()).content
    refused = _reclassify(client, gfp1, grievance, Category.PROCUREMENT, comment="")
    assert refused.status_code == 400
    assert 'data-field="comment"' in refused.content.decode()
    assert reload(grievance).category == Category.FINANCIAL
    response = _reclassify(client, gfp1, grievance, Category.PROCUREMENT)
    assert response.status_code == 302
    assert response.url == grievance.get_absolute_url()
    grievance = reload(grievance)
    assert grievance.category == Category.PROCUREMENT
    assert grievance.status == GrievanceStatus.ACKNOWLEDGED
    row = _rows(grievance, "reclassify").get()
    assert (row.actor, row.comment, row.from_state, row.to_state) == (
        gfp1,
        "Misfiled at intake.",
        "acknowledged",
        "acknowledged",
    )


def test_moving_a_case_into_sea_sh_hands_it_to_the_sea_sh_focal_points(
    client, gfp1, seah1, po_one, django_capture_on_commit_callbacks
):
    grievance = lodge(po_one)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = _reclassify(client, gfp1, grievance, Category.SEAH, "She describes harassment.")
    # The case has left the handler's sight: the list, with a message, not a 404.
    assert response.status_code == 302
    assert response.url == reverse("grievances:list")
    page = client.get(response.url)
    assert grievance.reference in page.content.decode()  # the message names it
    assert client.get(grievance.get_absolute_url()).status_code == 404
    grievance = reload(grievance)
    assert grievance.category == Category.SEAH
    assert handling.is_handler(seah1, grievance)
    assert [message.to for message in mail.outbox] == [[seah1.email]]
    assert "She describes" not in mail.outbox[0].body
    # Only a SEA/SH focal point moves it out again.
    with pytest.raises(ActionRefused) as refused:
        handling.category_change_allowed(grievance, _user=gfp1, category=Category.FINANCIAL)
    assert refused.value.is_forbidden
    assert (
        _reclassify(client, seah1, grievance, Category.FINANCIAL, "Not SEA/SH after all.").status_code == 302
    )
    assert reload(grievance).category == Category.FINANCIAL


def test_reclassifying_by_the_api_and_its_refusals(api, gfp1, gfp2, grm, po_one):
    grievance = lodge(po_one)
    url = f"/api/v1/grievances/{grievance.pk}/reclassify/"
    # Another PO's focal point does not see it (404); the PMU's sees it but does not handle tier 1.
    assert api.as_user(gfp2).post(url, {"category": "service", "comment": "x"}).status_code == 404
    api.credentials()
    assert api.as_user(grm).post(url, {"category": "service", "comment": "x"}).status_code == 403
    api.credentials()
    api.as_user(gfp1)
    assert api.post(url, {"category": "nonsense", "comment": "x"}).status_code == 400
    assert api.post(url, {"category": "service"}).status_code == 409  # the reason is required
    same = api.post(url, {"category": "financial", "comment": "x"})
    assert same.status_code == 409
    assert same.json()["code"] == "same_category"
    assert reload(grievance).category == Category.FINANCIAL
    assert not _rows(grievance, "reclassify").exists()
    answer = api.post(url, {"category": "seah", "comment": "Harassment by the loan officer."})
    assert answer.status_code == 200, answer.content
    assert answer.json()["visible_to_you"] is False
    assert answer.json()["category"] == "seah"
    assert api.get(f"/api/v1/grievances/{grievance.pk}/").status_code == 404


def test_a_closed_case_is_not_reclassified(client, gfp1, po_one):
    grievance = lodge(po_one)
    lifecycle.apply(grievance, "close_out_of_scope", gfp1, comment="Not the project's.")
    client.force_login(gfp1)
    assert b'data-testid="reclassify"' not in client.get(grievance.get_absolute_url()).content
    assert _reclassify(client, gfp1, reload(grievance), Category.SERVICE).status_code == 409
    assert reload(grievance).category == Category.FINANCIAL
