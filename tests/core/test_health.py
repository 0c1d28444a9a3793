from unittest import mock

import pytest
from django.db.utils import OperationalError
from kombu import Connection

from smart_portal.celery import app as celery_app


@pytest.mark.django_db
def test_healthz_reports_database_and_in_process_broker(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["status"] == "ok"
    assert body["broker"] == {"status": "ok", "mode": "in-process"}


@pytest.mark.django_db
def test_healthz_answers_503_when_the_database_is_down(client):
    with mock.patch("core.views.connection.cursor", side_effect=OperationalError("connection refused")):
        response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["database"] == {"vendor": mock.ANY, "status": "error", "error": "OperationalError"}


@pytest.mark.django_db
def test_healthz_answers_503_when_the_configured_broker_is_unreachable(client):
    unreachable = Connection("redis://127.0.0.1:1/0")  # nothing listens on port 1
    celery_app.conf.task_always_eager = False  # the autouse fixture restores it
    with mock.patch.object(celery_app, "connection_for_write", return_value=unreachable):
        response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["broker"] == {"mode": "broker", "status": "error", "error": mock.ANY}


@pytest.mark.real_services
@pytest.mark.django_db
def test_healthz_reports_the_real_broker(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["broker"] == {"mode": "broker", "status": "ok"}


def test_healthz_refuses_writes(client):
    assert client.post("/healthz").status_code == 405
