"""/healthz (liveness) and /readyz (readiness): what each reports and answers when the database, the
broker or the cache is down, refused or silent. Each check gives up after HEALTH_CHECK_TIMEOUT_SECONDS
(measured in the report of issue 12: under 1 s in every failure mode); these tests assert what the
answers say, not how fast they come."""

from __future__ import annotations

import socket
import threading
import time
from unittest import mock

import pytest
import redis
from django.db import connection, connections
from django.db.utils import OperationalError

from core import health
from core.models import OutboxMessage
from smart_portal.celery import app as celery_app

REFUSED_REDIS = "redis://127.0.0.1:1/12"  # nothing listens on port 1


@pytest.fixture
def blackhole():
    """A TCP address that takes connections into a full backlog and never answers (a silent host)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(server.getsockname())
        fillers.append(filler)
    yield server.getsockname()[1]
    for sock in [*fillers, server]:
        sock.close()


@pytest.fixture
def quick_checks(settings):
    settings.HEALTH_CHECK_TIMEOUT_SECONDS = 0.3


@pytest.fixture
def broker_at(monkeypatch):
    """Use a broker at this URL instead of running tasks in-process (the autouse fixture restores it)."""

    def use(url: str) -> None:
        celery_app.conf.task_always_eager = False
        monkeypatch.setattr(health, "broker_url", lambda: url)

    return use


def wait_until_no_check_runs(name: str) -> None:
    deadline = time.monotonic() + 10
    while health.running(name):
        assert time.monotonic() < deadline, f"the {name} check never ended"
        time.sleep(0.01)


# --- /healthz ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_healthz_reports_every_part(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": {"vendor": connection.vendor, "status": "ok"},
        "broker": {"mode": "in-process", "status": "ok"},
        "cache": {"backend": "local", "status": "ok"},
        "outbox": {"status": "ok", "waiting": 0, "oldest_seconds": 0},
    }


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_healthz_reports_the_work_waiting_in_the_outbox(client):
    OutboxMessage.objects.create(task="core.tasks.relay_outbox", args=[], kwargs={})
    OutboxMessage.objects.create(task="core.tasks.relay_outbox", args=[], kwargs={})

    outbox = client.get("/healthz").json()["outbox"]

    assert outbox == {"status": "ok", "waiting": 2, "oldest_seconds": mock.ANY}


@pytest.mark.django_db
def test_healthz_answers_503_when_the_database_is_down(client):
    with mock.patch.object(
        type(connections["default"]), "cursor", side_effect=OperationalError("connection refused")
    ):
        response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error"
    assert body["database"] == {"vendor": connection.vendor, "status": "error", "error": "OperationalError"}
    assert body["outbox"]["status"] == "error"


@pytest.mark.django_db
def test_healthz_gives_up_on_a_database_that_does_not_answer(client, quick_checks):
    release = threading.Event()
    with mock.patch.object(
        type(connections["default"]), "cursor", side_effect=lambda *a, **k: release.wait(10)
    ):
        response = client.get("/healthz")
        release.set()
        wait_until_no_check_runs("database")

    assert response.status_code == 503
    assert response.json()["database"] == {"vendor": connection.vendor, "status": "error", "error": "Timeout"}


@pytest.mark.django_db
def test_checks_still_hanging_are_not_piled_up(client, quick_checks):
    release = threading.Event()
    calls = []

    def hang(*args, **kwargs):
        calls.append(1)
        release.wait(10)

    with mock.patch.object(type(connections["default"]), "cursor", side_effect=hang):
        for _ in range(health.MAX_RUNNING_PER_CHECK + 2):
            assert client.get("/healthz").status_code == 503
        release.set()
        wait_until_no_check_runs("database")

    assert len(calls) == health.MAX_RUNNING_PER_CHECK


@pytest.mark.django_db
def test_a_refused_broker_degrades_healthz_without_failing_it(client, broker_at):
    broker_at(REFUSED_REDIS)

    response = client.get("/healthz")

    # Requests still succeed with the broker down (the outbox keeps the work): not a reason to
    # restart the web container, but reported.
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["broker"] == {"mode": "broker", "status": "error", "error": "ConnectionError"}
    assert body["database"]["status"] == "ok"


@pytest.mark.django_db
def test_healthz_gives_up_on_a_silent_broker(client, broker_at, blackhole, quick_checks):
    broker_at(f"redis://127.0.0.1:{blackhole}/12")

    response = client.get("/healthz")

    assert response.status_code == 200
    broker = response.json()["broker"]
    assert broker["status"] == "error"
    assert broker["error"] in {"Timeout", "TimeoutError"}


@pytest.mark.django_db
def test_the_broker_check_uses_the_short_timeout(broker_at, quick_checks):
    broker_at(REFUSED_REDIS)
    with mock.patch("redis.Redis.from_url", wraps=redis.Redis.from_url) as from_url:
        health.health()

    assert from_url.call_args.kwargs == {"socket_connect_timeout": 0.3, "socket_timeout": 0.3}


@pytest.mark.django_db
def test_a_cache_that_is_down_degrades_healthz_without_failing_it(client, settings):
    settings.CACHES = {"default": {"BACKEND": "core.cache.ResilientRedisCache", "LOCATION": REFUSED_REDIS}}

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert response.json()["cache"] == {"backend": "redis", "status": "error", "error": "CacheUnavailable"}


@pytest.mark.real_services
@pytest.mark.django_db
def test_healthz_reports_the_real_broker(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["broker"] == {"mode": "broker", "status": "ok"}


@pytest.mark.django_db
def test_healthz_is_not_redirected_to_https(client, settings):
    settings.SECURE_SSL_REDIRECT = True

    assert client.get("/healthz").status_code == 200
    assert client.get("/").status_code == 301  # everything else is


def test_health_endpoints_refuse_writes(client):
    assert client.post("/healthz").status_code == 405
    assert client.post("/readyz").status_code == 405


# --- /readyz ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_readyz_answers_200_when_the_database_answers_and_is_migrated(client):
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "database": {"vendor": connection.vendor, "status": "ok"},
        "migrations": {"status": "ok"},
    }


@pytest.mark.django_db
def test_readyz_answers_503_before_the_migrations_are_applied(client, monkeypatch):
    monkeypatch.setattr(health, "_migrations_applied", False)
    with mock.patch(
        "django.db.migrations.executor.MigrationExecutor.migration_plan",
        return_value=[("a", False), ("b", False)],
    ):
        response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["migrations"] == {
        "status": "error",
        "error": "UnappliedMigrations",
        "unapplied": 2,
    }


@pytest.mark.django_db
def test_readyz_answers_503_when_the_database_is_down(client, monkeypatch):
    monkeypatch.setattr(health, "_migrations_applied", False)
    with mock.patch.object(
        type(connections["default"]), "cursor", side_effect=OperationalError("connection refused")
    ):
        response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["status"] == "not ready"
    assert response.json()["database"]["error"] == "OperationalError"


@pytest.mark.django_db
def test_readyz_ignores_a_broker_that_is_down(client, broker_at):
    broker_at(REFUSED_REDIS)

    assert client.get("/readyz").status_code == 200
