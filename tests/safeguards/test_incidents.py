"""E&S incidents: the PO's report (late flag, the PMU emailed at once, once), the 48-hour flag for the
Bank, closing only when every corrective action is verified, and who may see and do what, by page
and API (another PO's incident answers 404; a refusal changes nothing)."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from core import lifecycle
from core.errors import ActionRefused, Forbidden
from core.models import SentEmail
from core.roles import Role
from safeguards import incidents
from safeguards.models import CorrectiveAction, CorrectiveActionStatus, Incident, IncidentStatus
from tests.enterprises.factories import EnterpriseFactory
from tests.factories import make_user

TODAY = timezone.localdate


@pytest.fixture
def es(db):
    """The PMU's E&S officer (a PMU officer too, as in the demo)."""
    return make_user("es", Role.PMU_OFFICER, Role.ES_OFFICER, email="es@example.org")


def report(user, severity="serious", **overrides):
    data = {
        "kind": "accident",
        "severity": severity,
        "title": "Boiler burst at a dyeing unit",
        "description": "A worker was scalded when a boiler valve failed.",
        "occurred_on": TODAY() - timedelta(days=1),
        "learned_on": TODAY() - timedelta(days=1),
        "people_injured": 1,
        **overrides,
    }
    return incidents.report_incident(user=user, data=data)


def report_now(user, django_capture_on_commit_callbacks, **kwargs) -> Incident:
    with django_capture_on_commit_callbacks(execute=True):
        return report(user, **kwargs)


def followed_up(incident: Incident, officer) -> Incident:
    return lifecycle.apply(incident, "acknowledge", officer)


# --- Reporting ------------------------------------------------------------------------------------


def test_a_serious_report_emails_the_pmu_at_once_and_only_once(
    po1, pmu, es, django_capture_on_commit_callbacks
):
    pmu.email = "pmu@example.org"
    pmu.save()
    make_user("wbx", Role.WORLD_BANK, email="wb@example.org")  # not the PMU: not told
    incident = report_now(po1, django_capture_on_commit_callbacks)

    assert incident.status == IncidentStatus.REPORTED
    # Due 48 hours from the start of the day the PO learned of it (local time), not from the report.
    learned = datetime.combine(incident.learned_on, time.min)
    assert incident.bank_due_at == timezone.make_aware(learned) + timedelta(hours=48)
    assert sorted(message.to[0] for message in mail.outbox) == ["es@example.org", "pmu@example.org"]
    assert incident.reference in mail.outbox[0].subject
    # The report is logged on the engine, as the event "report".
    assert [t.action for t in lifecycle.transitions_of(incident)] == ["report"]

    # The task delivered again (at least once): nobody gets a second copy.
    assert incidents.send_alert(incident.pk) == 0
    assert len(mail.outbox) == 2
    assert SentEmail.objects.filter(key__startswith=f"incident:{incident.pk}:").count() == 2


def test_an_indicative_report_emails_nobody_and_has_no_bank_deadline(
    po1, es, django_capture_on_commit_callbacks
):
    incident = report_now(po1, django_capture_on_commit_callbacks, severity="indicative")
    assert incident.bank_due_at is None
    assert not incident.bank_notification_overdue
    assert mail.outbox == []


def test_a_late_report_is_flagged_and_still_accepted(po1, es, django_capture_on_commit_callbacks):
    learned = TODAY() - timedelta(days=10)
    incident = report_now(po1, django_capture_on_commit_callbacks, occurred_on=learned, learned_on=learned)
    assert incident.reported_late
    on_time = report_now(po1, django_capture_on_commit_callbacks, severity="indicative")
    assert not on_time.reported_late


def test_the_bank_deadline_runs_from_learning_of_it_so_a_late_serious_report_is_overdue_at_once(
    po1, es, client, django_capture_on_commit_callbacks
):
    learned = TODAY() - timedelta(days=3)
    late = report_now(po1, django_capture_on_commit_callbacks, occurred_on=learned, learned_on=learned)
    # Learned of today: due at the end of tomorrow, whenever today it was reported.
    fresh = report_now(po1, django_capture_on_commit_callbacks, occurred_on=TODAY(), learned_on=TODAY())

    assert late.bank_due_at == timezone.make_aware(datetime.combine(learned, time.min)) + timedelta(hours=48)
    assert late.bank_due_at < late.reported_at
    assert late.bank_notification_overdue
    assert list(Incident.objects.bank_notification_overdue()) == [late]
    assert timezone.localtime(fresh.bank_due_at).date() == TODAY() + timedelta(days=2)
    assert timezone.localtime(fresh.bank_due_at).time() == time.min
    assert not fresh.bank_notification_overdue
    client.force_login(es)
    page = client.get(reverse("safeguards:incident-detail", args=[late.pk])).content.decode()
    assert 'data-testid="bank-overdue"' in page


def test_a_report_with_dates_that_do_not_fit_is_refused_by_field(po1, client):
    client.force_login(po1)
    response = client.post(
        reverse("safeguards:incident-report"),
        {
            "kind": "pollution",
            "severity": "serious",
            "title": "Effluent in the canal",
            "description": "Dye effluent released.",
            "occurred_on": TODAY().isoformat(),
            "learned_on": (TODAY() - timedelta(days=2)).isoformat(),
            "people_injured": 0,
            "fatalities": 0,
        },
    )
    assert response.status_code == 400
    assert "before it happened" in response.content.decode()
    assert "Effluent in the canal" in response.content.decode()  # kept as typed
    assert not Incident.objects.exists()


def test_another_pos_enterprise_is_refused_as_not_found(po1, po2, api):
    theirs = EnterpriseFactory(partner_organization=po2.partner_organization)
    response = api.as_user(po1).post(
        "/api/v1/incidents/",
        {
            "kind": "labour",
            "severity": "indicative",
            "title": "Overtime",
            "description": "Long hours.",
            "occurred_on": TODAY().isoformat(),
            "learned_on": TODAY().isoformat(),
            "enterprise": theirs.pk,
        },
        format="json",
    )
    assert response.status_code == 400
    assert "enterprise" in response.json()["fields"]
    assert not Incident.objects.exists()


def test_po_staff_report_by_api(po1, api, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = api.as_user(po1).post(
            "/api/v1/incidents/",
            {
                "kind": "community",
                "severity": "severe",
                "title": "Road accident of a delivery van",
                "description": "A child was hurt.",
                "occurred_on": TODAY().isoformat(),
                "learned_on": TODAY().isoformat(),
                "people_injured": 1,
            },
            format="json",
        )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["partner_organization"] == po1.partner_organization.code
    assert body["bank_due_at"]
    assert not body["bank_notification_overdue"]


def test_the_pmu_cannot_report(pmu, api):
    response = api.as_user(pmu).post("/api/v1/incidents/", {"kind": "other"}, format="json")
    assert response.status_code == 403


# --- The 48-hour flag -----------------------------------------------------------------------------


def test_the_48_hour_flag_appears_after_the_deadline_and_clears_when_notified(
    po1, es, client, django_capture_on_commit_callbacks
):
    incident = report_now(po1, django_capture_on_commit_callbacks, severity="severe")
    assert not incident.bank_notification_overdue
    assert not Incident.objects.bank_notification_overdue().exists()

    # 49 hours later, not yet notified.
    Incident.objects.filter(pk=incident.pk).update(bank_due_at=timezone.now() - timedelta(hours=1))
    incident.refresh_from_db()
    assert incident.bank_notification_overdue
    assert list(Incident.objects.bank_notification_overdue()) == [incident]
    client.force_login(es)
    page = client.get(reverse("safeguards:incident-detail", args=[incident.pk]))
    assert 'data-testid="bank-overdue"' in page.content.decode()
    listed = client.get(reverse("safeguards:incident-list") + "?overdue=yes")
    assert incident.reference in listed.content.decode()
    assert [item.reference for item in incidents.incidents_waiting(es)] == [incident.reference]
    assert incidents.incidents_waiting(es)[0].overdue
    assert incidents.es_panel(es)["overdue"] == 1

    lifecycle.apply(incident, "notify_bank", es, comment="Emailed the Bank's task team leader.")
    incident.refresh_from_db()
    assert incident.bank_notified_at is not None
    assert incident.bank_notified_by == es
    assert not incident.bank_notification_overdue
    assert not Incident.objects.bank_notification_overdue().exists()
    page = client.get(reverse("safeguards:incident-detail", args=[incident.pk]))
    assert 'data-testid="bank-overdue"' not in page.content.decode()
    assert incidents.es_panel(es)["overdue"] == 0

    # Once only; and never for an indicative incident.
    with pytest.raises(ActionRefused):
        lifecycle.apply(incident, "notify_bank", es, comment="again")
    minor = report(po1, severity="indicative")
    with pytest.raises(ActionRefused) as refused:
        lifecycle.apply(minor, "notify_bank", es, comment="by email")
    assert refused.value.code == "not_notifiable"


# --- Closing --------------------------------------------------------------------------------------


def test_close_is_refused_while_an_action_is_not_verified_and_nothing_changes(
    po1, es, django_capture_on_commit_callbacks
):
    incident = followed_up(report_now(po1, django_capture_on_commit_callbacks), es)
    lifecycle.apply(incident, "notify_bank", es, comment="By email to the TTL.")
    lifecycle.apply(incident, "record_root_cause", po1, root_cause="No pressure relief valve.")
    action = incidents.add_corrective_action(
        user=es,
        incident=incident,
        data={"description": "Fit relief valves", "responsible": "ME owner", "due_on": TODAY()},
    )
    lifecycle.apply(action, "complete", po1, comment="Valves fitted; invoice attached.")
    before = lifecycle.transitions_of(incident).count()

    with pytest.raises(ActionRefused) as refused:
        lifecycle.apply(incident, "close", es)
    assert "not yet verified" in str(refused.value)
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.UNDER_FOLLOW_UP
    assert lifecycle.transitions_of(incident).count() == before

    lifecycle.apply(action, "verify", es)
    lifecycle.apply(incident, "close", es)
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.CLOSED


def test_a_serious_incident_needs_actions_root_cause_and_the_bank_before_closing(
    po1, es, django_capture_on_commit_callbacks
):
    incident = followed_up(report_now(po1, django_capture_on_commit_callbacks), es)
    problems = incidents.closing_problems(incident)
    assert len(problems) == 3
    with pytest.raises(ActionRefused):
        lifecycle.apply(incident, "close", es)
    # An indicative incident closes with none of these.
    minor = followed_up(report(po1, severity="indicative"), es)
    lifecycle.apply(minor, "close", es)


def test_the_close_page_shows_the_refusal_and_changes_nothing(
    po1, es, client, django_capture_on_commit_callbacks
):
    incident = followed_up(report_now(po1, django_capture_on_commit_callbacks), es)
    client.force_login(es)
    response = client.post(
        reverse("safeguards:incident-transition", args=[incident.pk, "close"]), {"close-comment": "done"}
    )
    assert response.status_code == 409
    assert "cannot be closed" in response.content.decode()
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.UNDER_FOLLOW_UP


# --- Who may see and do what ----------------------------------------------------------------------


def test_another_pos_staff_get_404_by_page_and_api(
    po1, po2, es, client, api, django_capture_on_commit_callbacks
):
    incident = report_now(po1, django_capture_on_commit_callbacks)
    client.force_login(po2)
    assert client.get(reverse("safeguards:incident-detail", args=[incident.pk])).status_code == 404
    assert (
        client.post(reverse("safeguards:incident-transition", args=[incident.pk, "acknowledge"])).status_code
        == 404
    )
    assert incident.reference not in client.get(reverse("safeguards:incident-list")).content.decode()
    api.as_user(po2)
    assert api.get(f"/api/v1/incidents/{incident.pk}/").status_code == 404
    assert api.get("/api/v1/incidents/").json()["count"] == 0
    assert (
        api.post(
            f"/api/v1/incidents/{incident.pk}/record-root-cause/", {"root_cause": "x"}, format="json"
        ).status_code
        == 404
    )
    # Their own PO's staff and the PMU see it.
    client.force_login(po1)
    assert client.get(reverse("safeguards:incident-detail", args=[incident.pk])).status_code == 200
    client.force_login(es)
    assert client.get(reverse("safeguards:incident-detail", args=[incident.pk])).status_code == 200


@pytest.mark.parametrize("action", ["acknowledge", "notify_bank", "close"])
def test_po_staff_are_refused_the_pmus_actions(po1, api, client, action, django_capture_on_commit_callbacks):
    incident = report_now(po1, django_capture_on_commit_callbacks)
    client.force_login(po1)
    page = client.post(
        reverse("safeguards:incident-transition", args=[incident.pk, action]), {f"{action}-comment": "x"}
    )
    assert page.status_code == 403
    response = api.as_user(po1).post(
        f"/api/v1/incidents/{incident.pk}/{action.replace('_', '-')}/", {"comment": "x"}, format="json"
    )
    assert response.status_code == 403
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.REPORTED
    assert incident.bank_notified_at is None
    assert [t.action for t in lifecycle.transitions_of(incident)] == ["report"]


def test_a_po_with_its_own_es_officer_still_cannot_follow_up_its_own_incident(
    po_one, django_capture_on_commit_callbacks
):
    own_es = make_user("po_es", Role.PO_STAFF, Role.ES_OFFICER, po=po_one)
    incident = report_now(own_es, django_capture_on_commit_callbacks)
    with pytest.raises(Forbidden):
        lifecycle.apply(incident, "acknowledge", own_es)


def test_a_pmu_officer_is_refused_completing_a_corrective_action(
    po1, es, api, client, django_capture_on_commit_callbacks
):
    incident = followed_up(report_now(po1, django_capture_on_commit_callbacks), es)
    action = incidents.add_corrective_action(
        user=es,
        incident=incident,
        data={"description": "Train workers", "responsible": "PO", "due_on": TODAY()},
    )
    client.force_login(es)
    page = client.post(
        reverse("safeguards:corrective-action-transition", args=[action.pk, "complete"]),
        {"complete-comment": "done"},
    )
    assert page.status_code == 403
    response = api.as_user(es).post(
        f"/api/v1/corrective-actions/{action.pk}/complete/", {"comment": "done"}, format="json"
    )
    assert response.status_code == 403
    action.refresh_from_db()
    assert action.status == CorrectiveActionStatus.OPEN
    assert action.evidence == ""

    # The PO completes it (evidence required), the PMU sends it back or verifies.
    api.as_user(po1)
    assert api.post(f"/api/v1/corrective-actions/{action.pk}/complete/", {}, format="json").status_code == 409
    done = api.post(
        f"/api/v1/corrective-actions/{action.pk}/complete/", {"comment": "Training held"}, format="json"
    )
    assert done.status_code == 200, done.content
    assert done.json()["evidence"] == "Training held"
    api.as_user(es)
    assert api.post(f"/api/v1/corrective-actions/{action.pk}/verify/", {}, format="json").status_code == 200


def test_po_staff_cannot_add_corrective_actions(po1, es, api, django_capture_on_commit_callbacks):
    incident = followed_up(report_now(po1, django_capture_on_commit_callbacks), es)
    payload = {"incident": incident.pk, "description": "x", "responsible": "y", "due_on": TODAY().isoformat()}
    assert api.as_user(po1).post("/api/v1/corrective-actions/", payload, format="json").status_code == 403
    assert not CorrectiveAction.objects.exists()
    created = api.as_user(es).post("/api/v1/corrective-actions/", payload, format="json")
    assert created.status_code == 201, created.content


def test_an_overdue_corrective_action_is_flagged(po1, es, django_capture_on_commit_callbacks):
    incident = followed_up(report_now(po1, django_capture_on_commit_callbacks), es)
    action = incidents.add_corrective_action(
        user=es,
        incident=incident,
        data={
            "description": "Fence the pit",
            "responsible": "ME owner",
            "due_on": TODAY() - timedelta(days=1),
        },
    )
    assert action.is_overdue
    assert list(CorrectiveAction.objects.overdue()) == [action]


def test_the_pages_answer(po1, es, client, django_capture_on_commit_callbacks):
    incident = report_now(po1, django_capture_on_commit_callbacks)
    client.force_login(po1)
    assert client.get(reverse("safeguards:incident-report")).status_code == 200
    assert client.get(reverse("safeguards:incident-list")).status_code == 200
    export = client.get(reverse("safeguards:incident-list") + "?export=csv")
    assert export.status_code == 200
    content = b"".join(export.streaming_content) if export.streaming else export.content
    assert incident.reference in content.decode()
    client.force_login(es)
    assert client.get(reverse("safeguards:incident-report")).status_code == 403
    home = client.get(reverse("home"))
    assert home.status_code == 200
    assert 'data-testid="incident-panel"' in home.content.decode()
    assert incident.reference in home.content.decode()  # waiting on the E&S officer


def test_transition_emails_reach_the_po_and_the_pmu_never_another_pos_specialist(
    po1, po_two, es, django_capture_on_commit_callbacks
):
    po1.email = "po1@example.org"
    po1.save()
    make_user("po2_es", Role.PO_STAFF, Role.ES_OFFICER, po=po_two, email="po2es@example.org")
    incident = report_now(po1, django_capture_on_commit_callbacks)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        followed_up(incident, es)
    assert [message.to for message in mail.outbox] == [["po1@example.org"]]
    action = incidents.add_corrective_action(
        user=es, incident=incident, data={"description": "Fix", "responsible": "ME", "due_on": TODAY()}
    )
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.apply(action, "complete", po1, comment="Fixed.")
    assert [message.to for message in mail.outbox] == [["es@example.org"]]
    assert action.reference in mail.outbox[0].subject


def test_a_search_with_odd_digits_answers_never_500(po1, es, client, api, django_capture_on_commit_callbacks):
    incident = report_now(po1, django_capture_on_commit_callbacks)
    client.force_login(es)
    api.as_user(es)
    for query in ("INC-²", "INC-١٢", "INC-99999999999999999999999", "INC-"):
        assert client.get(reverse("safeguards:incident-list"), {"q": query}).status_code in (200, 400)
        assert api.get("/api/v1/incidents/", {"q": query}).status_code == 200
    found = api.get("/api/v1/incidents/", {"q": incident.reference}).json()
    assert [row["id"] for row in found["results"]] == [incident.pk]
