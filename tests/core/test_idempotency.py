"""`Idempotency-Key` on API POSTs (smart_portal.idempotency): a repeated POST creates one object and
gets the first answer again; another request under the same key is refused; keys are each account's."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from unittest import mock

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from core import tasks
from core.models import IdempotencyRecord
from core.roles import Role
from smart_portal import idempotency
from subprojects.api.views import ConceptNoteViewSet
from subprojects.models import Attachment, ConceptNote, NoteStatus
from tests.factories import make_user
from tests.subprojects.factories import CONCEPT_NOTE_BODY, CallFactory, ConceptNoteFactory

NOTES = "/api/v1/concept-notes/"
NOTE = CONCEPT_NOTE_BODY
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"

# Skipped before any database is set up: a transactional test's serialized rollback is not for SQLite.
ON_POSTGRESQL_ONLY = pytest.mark.skipif(
    "postgresql" not in settings.DATABASES["default"]["ENGINE"],
    reason="two requests in concurrent transactions: PostgreSQL",
)


@pytest.fixture
def call(pmu):
    return CallFactory(created_by=pmu)


def _note(call, **changes) -> dict:
    return {**NOTE, "call": call.pk, **changes}


def _post(api, data, key: str | None = "nightly-2031-01-01-note-1", **extra):
    if key is not None:
        extra["HTTP_IDEMPOTENCY_KEY"] = key
    return api.post(NOTES, data, format="json", **extra)


def test_a_repeated_post_creates_one_object_and_gets_the_first_answer_again(api, po1, call):
    api.as_user(po1)

    first = _post(api, _note(call))
    again = _post(api, _note(call))

    assert first.status_code == 201, first.json()
    assert "Idempotent-Replayed" not in first.headers
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Content-Type"] == first.headers["Content-Type"]
    assert again.json() == first.json()
    assert ConceptNote.objects.count() == 1
    assert ConceptNote.objects.get().pk == first.json()["id"]


def test_the_same_json_in_another_key_order_and_spacing_is_the_same_request(api, po1, call):
    api.as_user(po1)
    first = _post(api, _note(call))
    shuffled = json.dumps(dict(reversed(list(_note(call).items()))), indent=2)

    again = api.post(
        NOTES, shuffled, content_type="application/json", HTTP_IDEMPOTENCY_KEY="nightly-2031-01-01-note-1"
    )

    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert ConceptNote.objects.count() == 1


def test_the_same_key_with_another_body_is_refused_422_and_writes_nothing(api, po1, call):
    api.as_user(po1)
    _post(api, _note(call))

    other = _post(api, _note(call, title="Another title"))

    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"
    assert other.json()["fields"] == {}
    assert other.json()["detail"]
    assert list(ConceptNote.objects.values_list("title", flat=True)) == [NOTE["title"]]


def test_the_same_key_on_another_path_or_query_is_another_request(api, po1, call):
    api.as_user(po1)
    _post(api, _note(call))
    note = ConceptNote.objects.get()

    elsewhere = api.post(
        f"/api/v1/concept-notes/{note.pk}/submit/",
        {},
        format="json",
        HTTP_IDEMPOTENCY_KEY="nightly-2031-01-01-note-1",
    )

    assert elsewhere.status_code == 422
    assert ConceptNote.objects.get().status == NoteStatus.DRAFT


def test_keys_are_each_accounts_own(api, po1, po_one, call):
    colleague = make_user("po1b", Role.PO_STAFF, po=po_one)

    mine = _post(api.as_user(po1), _note(call), key="k-1")
    theirs = _post(api.as_user(colleague), _note(call, title="Their own note"), key="k-1")

    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert "Idempotent-Replayed" not in theirs.headers
    assert ConceptNote.objects.count() == 2


def test_another_token_of_the_same_account_shares_the_keys(api, po1, call):
    first = _post(api.as_user(po1), _note(call))
    again = _post(api.as_user(po1), _note(call))  # a new token

    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert ConceptNote.objects.count() == 1


def test_without_a_key_every_post_is_its_own(api, po1, call):
    api.as_user(po1)

    assert _post(api, _note(call), key=None).status_code == 201
    assert _post(api, _note(call), key=None).status_code == 201

    assert ConceptNote.objects.count() == 2
    assert not IdempotencyRecord.objects.exists()


def test_a_signed_in_session_is_a_caller_too(client, po1, call):
    client.force_login(po1)
    sent = {
        "data": json.dumps(_note(call)),
        "content_type": "application/json",
        "HTTP_IDEMPOTENCY_KEY": "s-1",
    }

    first = client.post(NOTES, **sent)
    again = client.post(NOTES, **sent)

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert ConceptNote.objects.count() == 1


def test_a_session_post_without_its_csrf_token_is_refused_and_nothing_is_kept(po1, call):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(po1)

    response = browser.post(
        NOTES, json.dumps(_note(call)), content_type="application/json", HTTP_IDEMPOTENCY_KEY="s-2"
    )

    assert response.status_code == 403
    assert not IdempotencyRecord.objects.exists()
    assert not ConceptNote.objects.exists()


@pytest.mark.parametrize("key", ["", "x" * 256, "tab\there", "কী"])
def test_an_invalid_key_is_refused_400_naming_the_header(api, po1, call, key):
    response = api.as_user(po1).post(
        NOTES, json.dumps(_note(call)), content_type="application/json", HTTP_IDEMPOTENCY_KEY=key
    )

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert [error["code"] for error in body["fields"]["Idempotency-Key"]] == ["invalid"]
    assert not ConceptNote.objects.exists()


def test_a_key_does_not_change_which_bodies_are_accepted(api, po1, call, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100  # Django's in-memory limit, which DRF's JSON ignores
    api.as_user(po1)

    first = _post(api, _note(call))
    again = _post(api, _note(call))

    assert first.status_code == 201, first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert ConceptNote.objects.count() == 1


def test_the_longest_key_is_accepted(api, po1, call):
    assert _post(api.as_user(po1), _note(call), key="k" * 255).status_code == 201


def test_an_anonymous_post_with_a_key_is_refused_401_and_nothing_is_kept(api, call):
    response = _post(api, _note(call))

    assert response.status_code == 401
    assert not IdempotencyRecord.objects.exists()


def test_a_bad_token_with_a_key_is_refused_401(api, call):
    api.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")

    assert _post(api, _note(call)).status_code == 401
    assert not IdempotencyRecord.objects.exists()


def test_a_refusal_is_kept_and_replayed_too(api, po1, call):
    api.as_user(po1)
    refused = _post(api, _note(call, mes_targeted=-5))

    again = _post(api, _note(call, mes_targeted=-5))

    assert refused.status_code == 400
    assert again.status_code == 400
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == refused.json()


def test_a_server_error_is_not_kept_so_the_key_can_be_sent_again(api, po1, call):
    api.as_user(po1)
    with mock.patch.object(ConceptNoteViewSet, "perform_create", side_effect=RuntimeError("disk full")):
        failed = _post(api, _note(call))

    retried = _post(api, _note(call))

    assert failed.status_code == 500
    assert retried.status_code == 201
    assert "Idempotent-Replayed" not in retried.headers
    assert ConceptNote.objects.count() == 1


def test_a_key_still_in_progress_answers_409_after_waiting(api, po1, call, monkeypatch):
    monkeypatch.setattr(idempotency, "WAIT_SECONDS", 0.3)
    api.as_user(po1)
    _post(api, _note(call))
    IdempotencyRecord.objects.update(status_code=None, completed_at=None)  # as while the first runs

    started = time.monotonic()
    response = _post(api, _note(call))

    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_key_in_use"
    assert response.headers["Retry-After"] == "1"
    assert time.monotonic() - started >= 0.3
    assert ConceptNote.objects.count() == 1


def test_an_expired_key_is_a_new_request_and_the_clean_up_deletes_it(api, po1, call, settings):
    settings.IDEMPOTENCY_KEEP_HOURS = 24
    api.as_user(po1)
    _post(api, _note(call), key="old")
    _post(api, _note(call, title="Recent"), key="recent")
    IdempotencyRecord.objects.filter(key="old").update(created_at=timezone.now() - timedelta(hours=25))

    tasks.prune_outbox()

    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["recent"]
    again = _post(api, _note(call), key="old")
    assert again.status_code == 201
    assert "Idempotent-Replayed" not in again.headers
    assert ConceptNote.objects.count() == 3


def test_a_key_past_its_time_counts_as_absent_before_the_clean_up(api, po1, call, settings):
    settings.IDEMPOTENCY_KEEP_HOURS = 1
    api.as_user(po1)
    _post(api, _note(call))
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(hours=2))

    again = _post(api, _note(call, title="A new note under an expired key"))

    assert again.status_code == 201
    assert ConceptNote.objects.count() == 2


def test_a_multipart_upload_is_replayed_by_its_content(api, po1, pmu, call):
    note = ConceptNoteFactory(call=call, partner_organization=po1.partner_organization, created_by=po1)
    url = f"/api/v1/concept-notes/{note.pk}/attachments/"
    api.as_user(po1)

    def upload(content: bytes):
        file = SimpleUploadedFile("plan.pdf", content, "application/pdf")
        return api.post(url, {"file": file}, format="multipart", HTTP_IDEMPOTENCY_KEY="upload-1")

    first = upload(PDF)
    again = upload(PDF)  # a new multipart boundary, the same file
    other = upload(PDF + b"% another version\n")

    assert first.status_code == 201, first.json()
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert other.status_code == 422
    assert Attachment.objects.count() == 1


@pytest.mark.slow
@ON_POSTGRESQL_ONLY
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_identical_concurrent_posts_create_one_object(po1, pmu):
    if connection.vendor != "postgresql":
        pytest.skip("two requests in concurrent transactions: PostgreSQL")
    call = CallFactory(created_by=pmu)
    _instance, token = AuthToken.objects.create(po1)
    create = ConceptNoteViewSet.perform_create

    def slow_create(view, serializer):
        time.sleep(0.5)  # the second request arrives while the first is being answered
        create(view, serializer)

    start = threading.Barrier(2)
    answers, sent, answered = [], [], []

    def send() -> None:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        try:
            start.wait()
            sent.append(time.monotonic())
            answers.append(_post(client, _note(call), key="concurrent"))
            answered.append(time.monotonic())
        finally:
            connection.close()

    with mock.patch.object(ConceptNoteViewSet, "perform_create", slow_create):
        threads = [threading.Thread(target=send) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)

    assert max(sent) < min(answered)  # the second was sent while the first was being answered
    assert [answer.status_code for answer in answers] == [201, 201]
    assert sorted(answer.headers.get("Idempotent-Replayed", "") for answer in answers) == ["", "true"]
    assert answers[0].json() == answers[1].json()
    assert ConceptNote.objects.count() == 1
