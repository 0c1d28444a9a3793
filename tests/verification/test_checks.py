"""Results of checks on the shared lifecycle engine: each rule's success and refusals, the evidence
kept, the confirmation's effect on the adoption or facility, the log, notifications and waiting."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from core import lifecycle
from core.errors import ActionRefused
from core.roles import Role
from enterprises import services as enterprise_services
from subprojects import workflow
from subprojects.models import Transition
from tests.assertions import assert_refused
from tests.days import FromToday, resolved
from tests.verification.conftest import tiny_png
from verification import checks, hooks
from verification.models import CheckStatus, VerificationCheck

RULES = workflow.rules_for(VerificationCheck)
TARGET = {"confirm": CheckStatus.CONFIRMED, "partly": CheckStatus.PARTLY, "not_found": CheckStatus.NOT_FOUND}


def visit(**extra) -> dict:
    return {"visited_on": timezone.localdate(), **extra}


def test_the_rules_are_in_the_shared_table():
    assert {rule.action: (set(rule.sources), rule.target) for rule in RULES} == {
        action: ({CheckStatus.PENDING}, target) for action, target in TARGET.items()
    }
    assert all(rule.roles == {Role.PMU_OFFICER, Role.VERIFIER} for rule in RULES)
    assert {rule.action for rule in RULES if rule.comment_required} == {"partly", "not_found"}


@pytest.mark.parametrize("action", list(TARGET))
@pytest.mark.parametrize("persona", ["verifier", "pmu"])
def test_a_verifier_or_the_pmu_records_each_result(request, check_of, adoption_one, action, persona):
    user = request.getfixturevalue(persona)
    check = check_of(adoption_one)

    updated = workflow.apply(
        check,
        action,
        user,
        comment="Seen at the workshop.",
        **visit(latitude=Decimal("24.050000"), longitude=Decimal("90.980000")),
    )

    assert updated.status == TARGET[action]
    check.refresh_from_db()
    assert (check.status, check.finding, check.checked_by, check.visited_on) == (
        TARGET[action],
        "Seen at the workshop.",
        user,
        timezone.localdate(),
    )
    assert (check.latitude, check.longitude) == (Decimal("24.050000"), Decimal("90.980000"))
    log = Transition.objects.get(object_id=check.pk, action=action)
    assert (log.from_state, log.to_state, log.actor, log.comment) == (
        CheckStatus.PENDING,
        TARGET[action],
        user,
        "Seen at the workshop.",
    )


@pytest.mark.parametrize("action", list(TARGET))
@pytest.mark.parametrize("persona", ["po1", "po2", "tec1", "wb", "approver", "verifier_with_po"])
def test_everyone_else_is_refused_and_nothing_changes(request, check_of, adoption_one, action, persona):
    user = request.getfixturevalue(persona)
    check = check_of(adoption_one)

    with pytest.raises(ActionRefused) as refusal:
        workflow.apply(check, action, user, comment="I saw it.", **visit())

    assert_refused(refusal, 403)
    check.refresh_from_db()
    adoption_one.refresh_from_db()
    assert check.status == CheckStatus.PENDING
    assert check.checked_by is None
    assert adoption_one.verified_on is None
    assert not Transition.objects.filter(object_id=check.pk).exists()


@pytest.mark.parametrize("action", list(TARGET))
@pytest.mark.parametrize("done", [CheckStatus.CONFIRMED, CheckStatus.PARTLY, CheckStatus.NOT_FOUND])
def test_a_done_check_cannot_be_recorded_again(check_of, adoption_one, verifier, action, done):
    check = check_of(adoption_one, status=done, finding="First visit.")

    with pytest.raises(ActionRefused) as refusal:
        workflow.apply(check, action, verifier, comment="Second visit.", **visit())

    assert refusal.value.code == "wrong_state"
    check.refresh_from_db()
    assert (check.status, check.finding) == (done, "First visit.")


@pytest.mark.parametrize("action", ["partly", "not_found"])
def test_partly_and_not_found_need_the_finding(check_of, adoption_one, verifier, action):
    check = check_of(adoption_one)
    with pytest.raises(ActionRefused) as refusal:
        workflow.apply(check, action, verifier, comment="  ", **visit())
    assert refusal.value.code == "comment_required"
    check.refresh_from_db()
    assert check.status == CheckStatus.PENDING


@pytest.mark.parametrize(
    ("details", "message"),
    [
        ({}, "date of the visit"),
        ({"visited_on": FromToday(1)}, "cannot be in the future"),
        ({"visited_on": FromToday(-30)}, "before the sample was drawn"),
        ({"visited_on": FromToday(0), "latitude": Decimal("24.1")}, "both latitude and longitude"),
        (
            {"visited_on": FromToday(0), "latitude": Decimal("48.85"), "longitude": Decimal("2.35")},
            "outside Bangladesh",
        ),
        (
            {"visited_on": FromToday(0), "photo": SimpleUploadedFile("site.png", b"not an image")},
            "does not contain what its name says",
        ),
    ],
)
def test_a_badly_recorded_visit_is_refused(check_of, adoption_one, verifier, details, message):
    check = check_of(adoption_one)
    with pytest.raises(ActionRefused) as refusal:
        workflow.apply(check, "confirm", verifier, **resolved(details))
    assert message in refusal.value.message
    check.refresh_from_db()
    adoption_one.refresh_from_db()
    assert check.status == CheckStatus.PENDING
    assert adoption_one.verified_on is None


def test_the_draw_day_is_the_day_in_dhaka(check_of, adoption_one):
    """A visit is compared with the day of the draw where the portal works, not in UTC."""
    check = check_of(adoption_one)
    check.round.drawn_at = datetime(2025, 3, 31, 20, 0, tzinfo=UTC)  # 1 April, 02:00 in Dhaka

    refused = checks.visit_problems(check, visited_on=date(2025, 3, 31))

    assert "before the sample was drawn (2025-04-01)" in refused["visited_on"]
    assert checks.visit_problems(check, visited_on=date(2025, 4, 1)) == {}


def test_the_photo_is_kept(check_of, adoption_one, verifier):
    check = check_of(adoption_one)
    workflow.apply(check, "confirm", verifier, photo=SimpleUploadedFile("site.png", tiny_png()), **visit())
    check.refresh_from_db()
    assert check.photo.name.startswith("verification/")
    assert check.photo.name.endswith(".png")


# --- What a confirmation does to the item ---------------------------------------------------------


def test_confirming_an_adoption_verifies_it_as_of_the_visit(check_of, adoption_one, verifier):
    check = check_of(adoption_one)

    workflow.apply(check, "confirm", verifier, comment="LED tubes in use.", **visit())

    adoption_one.refresh_from_db()
    assert (adoption_one.verified_on, adoption_one.verified_by) == (timezone.localdate(), verifier)


@pytest.mark.parametrize("action", ["partly", "not_found"])
def test_other_results_verify_nothing(check_of, adoption_one, facility_one, verifier, action):
    adoption_check, facility_check = check_of(adoption_one), check_of(facility_one)

    workflow.apply(adoption_check, action, verifier, comment="Only half the lights.", **visit())
    workflow.apply(facility_check, action, verifier, comment="Machines not installed.", **visit())

    adoption_one.refresh_from_db()
    facility_one.refresh_from_db()
    assert adoption_one.verified_on is None
    assert facility_one.operational_confirmed_on is None


def test_confirming_a_facility_confirms_it_operational(check_of, facility_one, verifier):
    check = check_of(facility_one)

    workflow.apply(check, "confirm", verifier, **visit())

    facility_one.refresh_from_db()
    assert facility_one.operational_confirmed_on == timezone.localdate()
    assert facility_one.operational_confirmed_by == verifier


def test_an_item_already_verified_stays_as_it_was(check_of, adoption_one, pmu, verifier):
    enterprise_services.verify_adoption(
        user=pmu, adoption=adoption_one, verified_on=timezone.localdate() - timedelta(days=5)
    )
    check = check_of(adoption_one)

    workflow.apply(check, "confirm", verifier, **visit())

    adoption_one.refresh_from_db()
    check.refresh_from_db()
    assert check.status == CheckStatus.CONFIRMED
    assert (adoption_one.verified_on, adoption_one.verified_by) == (
        timezone.localdate() - timedelta(days=5),
        pmu,
    )


def test_a_facility_no_longer_operational_cannot_be_confirmed(check_of, facility_one, po1, verifier):
    check = check_of(facility_one)
    enterprise_services.save_facility(
        user=po1, facility=facility_one, data={"status": "under_construction", "opened_on": None}
    )

    with pytest.raises(ActionRefused):
        workflow.apply(check, "confirm", verifier, **visit())

    check.refresh_from_db()
    assert check.status == CheckStatus.PENDING
    assert not lifecycle.transitions_of(check).exists()


def test_a_profile_check_records_the_result(check_of, profile_one, verifier):
    check = check_of(profile_one)
    workflow.apply(check, "confirm", verifier, **visit())
    check.refresh_from_db()
    assert check.status == CheckStatus.CONFIRMED


def test_po_staff_can_never_cause_a_verification(client, api, check_of, adoption_one, facility_one, po1):
    """Neither through the engine, nor the check's page or API, nor the work list."""
    adoption_check = check_of(adoption_one)
    facility_check = check_of(facility_one, status=CheckStatus.NOT_FOUND, finding="Closed.")
    client.force_login(po1)

    with pytest.raises(ActionRefused):
        workflow.apply(adoption_check, "confirm", po1, **visit())
    page = client.post(
        reverse("verification:check-result", args=[adoption_check.pk]),
        {"action": "confirm", "visited_on": timezone.localdate().isoformat()},
    )
    done_page = client.post(
        reverse("verification:check-result", args=[facility_check.pk]),
        {"action": "confirm", "visited_on": timezone.localdate().isoformat()},
    )
    listed = client.post(
        reverse("verification:adoption-verify", args=[adoption_one.pk]),
        {"verified_on": timezone.localdate().isoformat()},
    )
    confirmed = client.post(
        reverse("verification:facility-confirm", args=[facility_one.pk]),
        {"on": timezone.localdate().isoformat()},
    )
    by_api = api.as_user(po1).post(
        f"/api/v1/verification-checks/{adoption_check.pk}/confirm/",
        {"visited_on": timezone.localdate().isoformat()},
        format="json",
    )

    assert (page.status_code, done_page.status_code, listed.status_code, confirmed.status_code) == (
        404,
        403,
        403,
        403,
    )
    assert by_api.status_code == 404  # the pending check is not announced to the PO
    adoption_one.refresh_from_db()
    facility_one.refresh_from_db()
    assert adoption_one.verified_on is None
    assert facility_one.operational_confirmed_on is None


# --- Notifications and "waiting on you" -----------------------------------------------------------


def test_the_po_hears_the_result(
    check_of, adoption_one, verifier, po1, po2, pmu, django_capture_on_commit_callbacks
):
    check = check_of(adoption_one)

    with django_capture_on_commit_callbacks(execute=True):
        workflow.apply(check, "not_found", verifier, comment="No LED tubes at the workshop.", **visit())

    recipients = sorted(address for message in mail.outbox for address in message.to)
    assert recipients == [po1.email]
    message = mail.outbox[0]
    assert check.reference in message.subject
    assert "No LED tubes at the workshop." in message.body
    assert f"/verification/checks/{check.pk}/" in message.body


def test_a_refused_result_sends_nothing(check_of, adoption_one, po1, django_capture_on_commit_callbacks):
    check = check_of(adoption_one)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ActionRefused):
        workflow.apply(check, "confirm", po1, **visit())
    assert mail.outbox == []


def test_pending_checks_wait_on_verifiers(client, check_of, adoption_one, facility_one, verifier, pmu):
    waiting, done = check_of(adoption_one), check_of(facility_one)
    workflow.apply(done, "confirm", verifier, **visit())

    client.force_login(verifier)
    home = client.get("/").content.decode()

    assert waiting.reference in home
    assert done.reference not in home
    assert 'data-testid="verifier-panel"' in home
    client.force_login(pmu)
    assert waiting.reference not in client.get("/").content.decode()


def test_a_waiting_check_names_its_kind(check_of, profile_one, verifier):
    check = check_of(profile_one, subject_label="ME-0001 · Rahima Shoe Works")
    [item] = hooks.checks_waiting(verifier)
    assert (item.reference, item.title) == (
        check.reference,
        "validated RECP profile: ME-0001 · Rahima Shoe Works",
    )


def test_a_pmu_officer_from_a_po_never_sees_that_pos_pending_checks(
    client, check_of, adoption_one, adoption_two, pmu_with_po
):
    own_pending, other_pending = check_of(adoption_one), check_of(adoption_two)
    client.force_login(pmu_with_po)

    listing = client.get(reverse("verification:check-list")).content.decode()

    assert other_pending.reference in listing
    assert own_pending.reference not in listing
    assert client.get(own_pending.get_absolute_url()).status_code == 404
    assert set(VerificationCheck.objects.visible_to(pmu_with_po)) == {other_pending}


def test_a_verifier_with_a_po_has_nothing_waiting(client, check_of, adoption_one, verifier_with_po):
    check = check_of(adoption_one)
    client.force_login(verifier_with_po)
    assert check.reference not in client.get("/").content.decode()


def test_the_history_shows_the_result(client, check_of, adoption_one, verifier):
    check = check_of(adoption_one)
    workflow.apply(check, "partly", verifier, comment="Half the tubes replaced.", **visit())
    client.force_login(verifier)
    page = client.get(check.get_absolute_url()).content.decode()
    assert "Partly confirmed: to check → partly confirmed" in page
    assert "Half the tubes replaced." in page
