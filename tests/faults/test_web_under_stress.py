"""The web server (gunicorn, as in production) when PostgreSQL drops its connections, and when
twenty identical requests arrive at the same moment (a double-click, a client retrying in a loop,
two offices entering the same sheet): no 5xx, one object or transition, the others told why."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from knox.models import AuthToken

from core.models import OutboxMessage
from enterprises.models import Enterprise, FinancialSupport, KpiReading
from subprojects.models import ConceptNote, NoteStatus, Transition
from tests.enterprises.factories import EnterpriseFactory
from tests.enterprises.test_api import NEW_ME
from tests.faults.services import Answer, database_sessions, http_request, wait_until
from tests.subprojects.factories import CallFactory, ConceptNoteFactory

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

AT_ONCE = 20
FOLLOW_UPS = 48


def token_for(user) -> dict[str, str]:
    _instance, token = AuthToken.objects.create(user)
    return {"Authorization": f"Token {token}", "Accept": "application/json"}


def send_at_once(count: int, send: Callable[[], Answer]) -> list[Answer]:
    """`send()` from `count` threads released together (each request on its own connection)."""
    barrier = threading.Barrier(count)

    def one(_index: int) -> Answer:
        barrier.wait(timeout=30)
        return send()

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, range(count)))


def status_counts(responses: list[Answer]) -> Counter:
    return Counter(response.status_code for response in responses)


def is_json(response: Answer) -> bool:
    return response.content_type.startswith("application/json") and bool(response.json())


@pytest.fixture
def me_one(sp_one):
    return EnterpriseFactory(sub_project=sp_one, po_code="ME-0001", phone="+8801711000001")


# --- Database connections dropped -----------------------------------------------------------------


def test_database_connections_terminated_between_requests_cost_no_request(
    web_server, redis_db, client, po1, pmu, me_one
):
    api_headers = token_for(po1)
    client.force_login(pmu)
    signed_in = {"Cookie": f"sessionid={client.cookies['sessionid'].value}"}
    urls = [
        ("/api/v1/enterprises/", api_headers),
        (f"/api/v1/enterprises/{me_one.pk}/", api_headers),
        ("/api/v1/kpis/", api_headers),
        ("/dashboard/", signed_in),
        ("/enterprises/", signed_in),
        ("/healthz", {}),
    ]

    def get(index: int) -> Answer:
        path, headers = urls[index % len(urls)]
        return http_request("GET", web_server.base_url, path, headers=headers)

    # Every thread of every web worker keeps a connection open (the production default).
    warm = send_at_once(AT_ONCE, lambda: get(0))
    assert status_counts(warm) == {200: AT_ONCE}
    assert [get(index).status_code for index in range(len(urls))] == [200] * len(urls)
    kept = database_sessions("faults-web")
    assert kept

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        terminated = cursor.fetchone()[0]
    wait_until(lambda: not database_sessions("faults-web"), 10, "the terminated sessions are gone")

    with ThreadPoolExecutor(8) as pool:
        follow_ups = list(pool.map(get, range(FOLLOW_UPS)))

    assert terminated >= len(kept)
    failures = [(r.path, r.status_code, r.text[:200]) for r in follow_ups if r.status_code != 200]
    assert failures == []
    assert len(follow_ups) == FOLLOW_UPS


# --- Twenty identical requests at once ------------------------------------------------------------

CREATES = {
    "enterprise": (
        "/api/v1/enterprises/",
        lambda me: {**NEW_ME, "sub_project": me.sub_project_id},
        lambda me: Enterprise.objects.filter(po_code=NEW_ME["po_code"]),
    ),
    "KPI reading": (
        "/api/v1/kpi-readings/",
        lambda me: {
            "enterprise": me.pk,
            "kpi": "WATER",
            "period": "2024-09-01",
            "value": "35",
            "is_baseline": False,
            "source": "meter",
        },
        lambda me: KpiReading.objects.filter(enterprise=me),
    ),
    "financial support": (
        "/api/v1/financial-supports/",
        lambda me: {
            "enterprise": me.pk,
            "kind": "grant",
            "amount": "50000",
            "financier": "pksf",
            "disbursed_on": "2024-10-02",
        },
        lambda me: FinancialSupport.objects.filter(enterprise=me),
    ),
}


def test_twenty_identical_creates_at_once_make_one_object_and_nineteen_clear_refusals(
    web_server, redis_db, po1, me_one
):
    headers = token_for(po1)
    outcomes = {}

    for kind, (path, payload, created) in CREATES.items():
        body = payload(me_one)

        def create(path=path, body=body) -> Answer:
            return http_request("POST", web_server.base_url, path, headers=headers, body=body)

        statuses = status_counts(responses := send_at_once(AT_ONCE, create))
        refusals = sum(count for status, count in statuses.items() if status in {400, 409})
        explained = all(is_json(response) for response in responses if response.status_code != 201)
        outcomes[kind] = (created(me_one).count(), statuses[201], refusals, explained, dict(statuses))

    # Per kind: objects made, 201s, 400/409 refusals, every refusal a JSON body saying why.
    expected = dict.fromkeys(CREATES, (1, 1, AT_ONCE - 1, True))
    assert {kind: outcome[:4] for kind, outcome in outcomes.items()} == expected, outcomes


def test_twenty_identical_transitions_at_once_make_one_transition_and_nineteen_conflicts(
    web_server, redis_db, po1, pmu
):
    note = ConceptNoteFactory(
        call=CallFactory(created_by=pmu),
        partner_organization=po1.partner_organization,
        created_by=po1,
        status=NoteStatus.DRAFT,
    )
    token = token_for(po1)
    path = f"/api/v1/concept-notes/{note.pk}/submit/"

    responses = send_at_once(AT_ONCE, lambda: http_request("POST", web_server.base_url, path, headers=token))

    statuses = status_counts(responses)
    assert statuses == {200: 1, 409: AT_ONCE - 1}, [(r.status_code, r.text[:200]) for r in responses]
    assert all(is_json(response) for response in responses)
    assert ConceptNote.objects.get(pk=note.pk).status == NoteStatus.SUBMITTED
    note_transitions = Transition.objects.filter(
        content_type=ContentType.objects.get_for_model(ConceptNote), object_id=note.pk, action="submit"
    )
    assert note_transitions.count() == 1
    # One notification queued for the one transition, not one per request.
    emails = OutboxMessage.objects.filter(task="subprojects.tasks.send_transition_emails")
    assert [message.args for message in emails] == [[note_transitions.get().pk]]
