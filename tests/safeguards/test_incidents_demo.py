"""The demo incidents: the story they tell, written through the engine, and safe to seed twice."""

from __future__ import annotations

import io

import pytest

from core import lifecycle
from demo import core as demo_core
from demo import es_incidents
from safeguards import incidents
from safeguards.models import CorrectiveAction, CorrectiveActionStatus, Incident, IncidentStatus


@pytest.mark.django_db
def test_demo_incidents_tell_the_story_and_seed_twice_alike():
    out = io.StringIO()
    demo_core.seed(out)
    es_incidents.seed(out)
    es_incidents.seed(out)
    assert Incident.objects.count() == 3

    closed, serious, severe = (
        Incident.objects.get(title=es_incidents.CUT_HAND),
        Incident.objects.get(title=es_incidents.EFFLUENT),
        Incident.objects.get(title=es_incidents.BOILER),
    )
    assert closed.status == IncidentStatus.CLOSED
    assert [t.action for t in lifecycle.transitions_of(closed)] == [
        "report",
        "acknowledge",
        "record_root_cause",
        "add_action",
        "close",
    ]
    assert serious.status == IncidentStatus.UNDER_FOLLOW_UP
    assert serious.bank_notified_at - serious.reported_at < serious.bank_due_at - serious.reported_at
    assert not serious.bank_notification_overdue
    assert sorted(
        CorrectiveAction.objects.filter(incident=serious).values_list("status", flat=True)
    ) == sorted([CorrectiveActionStatus.VERIFIED, CorrectiveActionStatus.DONE, CorrectiveActionStatus.OPEN])
    assert CorrectiveAction.objects.overdue().filter(incident=serious).count() == 1
    assert severe.status == IncidentStatus.REPORTED
    assert severe.bank_notification_overdue
    assert list(Incident.objects.bank_notification_overdue()) == [severe]

    from core.models import User

    es = User.objects.get(username="es")
    waiting = {item.reference for item in incidents.incidents_waiting(es)}
    assert severe.reference in waiting
    assert incidents.es_panel(es)["overdue"] == 1
