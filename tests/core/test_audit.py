"""Audit: refused transitions are structured log lines on "smart_portal.audit" (never database
rows), and the transition log and field history are append-only in PostgreSQL itself."""

from __future__ import annotations

import json
import logging

import pytest
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.urls import reverse
from django.utils.module_loading import import_string
from simple_history.models import HistoricalChanges

from core import append_only, lifecycle
from core.audit import AUDIT_LOGGER, JsonFormatter, audit
from core.errors import ActionRefused
from core.models import PartnerOrganization
from subprojects.models import ConceptNote, NoteStatus, Transition
from tests.assertions import assert_refused
from tests.subprojects.factories import ConceptNoteFactory


def audit_events(caplog) -> list[dict]:
    return [record.audit for record in caplog.records if record.name == AUDIT_LOGGER]


# --- The helper and the JSON format -------------------------------------------------------------------


def test_audit_logs_one_event_with_its_fields_and_json_renders_them(caplog, po1):
    with caplog.at_level(logging.INFO, logger=AUDIT_LOGGER):
        audit("login_refused", user="po1", address="10.0.0.7", reason="locked out")
        audit("transition_refused", user=po1, object=po1.partner_organization, action="x")

    first, second = caplog.records
    line = json.loads(JsonFormatter().format(first))
    assert {k: line[k] for k in ("level", "logger", "event", "user", "address", "reason")} == {
        "level": "WARNING",
        "logger": "smart_portal.audit",
        "event": "login_refused",
        "user": "po1",
        "address": "10.0.0.7",
        "reason": "locked out",
    }
    assert second.audit == {
        "event": "transition_refused",
        "user": "po1",
        "object": f"core.partnerorganization:{po1.partner_organization_id}",
        "action": "x",
    }
    assert 'user="po1"' in second.getMessage()  # the plain format carries the fields too


def test_the_json_format_is_a_logging_option():
    assert settings.LOG_FORMAT in {"plain", "json"}
    assert import_string(settings.LOGGING["formatters"]["json"]["()"]) is JsonFormatter
    assert settings.LOGGING["handlers"]["console"]["formatter"] == settings.LOG_FORMAT


def test_anonymous_and_the_portal_itself_are_named_as_such(caplog):
    from django.contrib.auth.models import AnonymousUser

    with caplog.at_level(logging.INFO, logger=AUDIT_LOGGER):
        audit("x", user=AnonymousUser())
        audit("y", user=None)

    assert [event["user"] for event in audit_events(caplog)] == ["anonymous", None]


# --- Refused transitions ------------------------------------------------------------------------------


def test_a_transition_refused_for_the_role_is_logged_with_user_object_action_reason_and_403(caplog, api, po1):
    note = ConceptNoteFactory(status=NoteStatus.SUBMITTED, partner_organization=po1.partner_organization)

    with caplog.at_level(logging.INFO, logger=AUDIT_LOGGER):
        response = api.as_user(po1).post(f"/api/v1/concept-notes/{note.pk}/shortlist/", {})

    assert_refused(response, 403)
    [event] = audit_events(caplog)
    assert event == {
        "event": "transition_refused",
        "user": "po1",
        "object": f"subprojects.conceptnote:{note.pk}",
        "action": "shortlist",
        "code": "forbidden",
        "status": 403,
        "reason": response.json()["detail"],
    }
    assert not Transition.objects.exists()  # logged, not stored


def test_a_transition_refused_on_a_page_is_logged_too(caplog, client, po1):
    note = ConceptNoteFactory(status=NoteStatus.SUBMITTED, partner_organization=po1.partner_organization)
    client.force_login(po1)

    with caplog.at_level(logging.INFO, logger=AUDIT_LOGGER):
        response = client.post(reverse("subprojects:note-transition", args=[note.pk, "shortlist"]))

    assert response.status_code == 403
    assert [(e["user"], e["action"], e["status"]) for e in audit_events(caplog)] == [
        ("po1", "shortlist", 403)
    ]


def test_a_transition_refused_for_the_state_is_logged_with_409(caplog, pmu):
    note = ConceptNoteFactory(status=NoteStatus.SUBMITTED)

    with caplog.at_level(logging.INFO, logger=AUDIT_LOGGER), pytest.raises(ActionRefused) as refusal:
        lifecycle.apply(note, "shortlist", pmu)  # only from "under review"

    assert_refused(refusal, 409, code="wrong_state")
    [event] = audit_events(caplog)
    assert (event["user"], event["action"], event["code"], event["status"]) == (
        "pmu",
        "shortlist",
        "wrong_state",
        409,
    )
    assert event["reason"] == str(refusal.value)
    assert ConceptNote.objects.get(pk=note.pk).status == NoteStatus.SUBMITTED


def test_a_transition_taken_logs_no_audit_event(caplog, pmu):
    note = ConceptNoteFactory(status=NoteStatus.SUBMITTED)

    with caplog.at_level(logging.INFO, logger=AUDIT_LOGGER):
        lifecycle.apply(note, "start_review", pmu)

    assert audit_events(caplog) == []


# --- Append-only history (PostgreSQL) -----------------------------------------------------------------


def test_the_transition_log_and_every_history_table_are_covered():
    tables = set(append_only.append_only_tables())
    from django.apps import apps

    history = {m._meta.db_table for m in apps.get_models() if issubclass(m, HistoricalChanges)}
    assert Transition._meta.db_table in tables
    assert len(history) > 20
    assert history <= tables


postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the append-only triggers exist on PostgreSQL only"
)


@postgres_only
@pytest.mark.django_db
def test_every_covered_table_has_its_trigger_after_migrate():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid WHERE t.tgname = %s",
            [append_only.TRIGGER],
        )
        covered = {row[0] for row in cursor.fetchall()}

    assert set(append_only.append_only_tables()) <= covered
    assert append_only.install() == []  # idempotent: nothing missing, nothing redone


def _refused(sql: str, params: list) -> str:
    with pytest.raises(DatabaseError) as refusal, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
    return str(refusal.value)


@postgres_only
def test_the_database_refuses_to_update_or_delete_a_transition(pmu):
    note = ConceptNoteFactory(status=NoteStatus.SUBMITTED)
    lifecycle.apply(note, "start_review", pmu, comment="Looks complete.")
    row = Transition.objects.get()
    table = Transition._meta.db_table

    updated = _refused(f"UPDATE {table} SET comment = 'rewritten' WHERE id = %s", [row.pk])  # noqa: S608
    deleted = _refused(f"DELETE FROM {table} WHERE id = %s", [row.pk])  # noqa: S608
    with pytest.raises(DatabaseError), transaction.atomic():
        Transition.objects.filter(pk=row.pk).update(actor=None)

    assert "append-only" in updated
    assert "append-only" in deleted
    assert Transition.objects.get().comment == "Looks complete."
    lifecycle.apply(note, "shortlist", pmu)  # appending still works
    assert Transition.objects.count() == 2


@postgres_only
def test_the_database_refuses_to_update_or_delete_a_history_row(po_one):
    history = PartnerOrganization.history.model
    before = history.objects.count()
    po_one.name = "Renamed"
    po_one.save()  # one more history row: appending works
    table = history._meta.db_table
    first = history.objects.order_by("history_id").first()

    updated = _refused(f"UPDATE {table} SET name = 'forged' WHERE history_id = %s", [first.pk])  # noqa: S608
    deleted = _refused(f"DELETE FROM {table} WHERE history_id = %s", [first.pk])  # noqa: S608

    assert "append-only" in updated
    assert "append-only" in deleted
    assert history.objects.count() == before + 1
    assert history.objects.get(pk=first.pk).name != "forged"


def test_nothing_is_installed_on_sqlite(db):
    if connection.vendor == "postgresql":
        pytest.skip("SQLite only")
    assert append_only.install() == []
