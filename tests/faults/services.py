"""Helpers of the fault tests: where this process publishes, the environment of the processes they
start, the test database's address and sessions, plain HTTP requests, and waiting for a condition."""

from __future__ import annotations

import http.client
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from django.db import connection

from smart_portal.celery import app as celery_app


def point_web_side_at(url: str, *, eager: bool = False) -> None:
    """Make this process (the web side: the test client's views, `outbox.relay()`) publish to `url`.
    Celery reads its broker address once; its connection pools are dropped so the next publish
    connects to the new one."""
    os.environ.pop("CELERY_BROKER_URL", None)  # Celery's own lookup prefers it to the setting
    celery_app.conf.broker_url = url
    celery_app.conf.task_always_eager = eager
    celery_app._pool = None
    if "amqp" in celery_app.__dict__:
        celery_app.amqp._producer_pool = None


def api_client(user) -> Any:
    """A DRF test client (this process) signed in as `user` with a token of its own."""
    from knox.models import AuthToken
    from rest_framework.test import APIClient

    _instance, token = AuthToken.objects.create(user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def database_url() -> str:
    """The address of the test database this process uses (pytest-django's `test_<name>`)."""
    db = connection.settings_dict
    credentials = quote(db["USER"] or "", safe="")
    if db.get("PASSWORD"):
        credentials += ":" + quote(db["PASSWORD"], safe="")
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or "5432"
    return f"postgres://{credentials}@{host}:{port}/{db['NAME']}"


def subprocess_env(broker_url: str, *, media: Path, mail: Path) -> dict[str, str]:
    """The environment of a worker or web server: production settings (DEBUG off) on the test
    database, with `broker_url` as broker and cache, uploads in `media`, emails written to `mail`."""
    from django.conf import settings

    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTEST", "DJANGO_", "CELERY_", "FAULTS_", "DATABASE_URL"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="tests.faults.subprocess_settings",
        PYTHONPATH=str(Path(__file__).resolve().parents[2]),
        DEBUG="0",
        SECRET_KEY=settings.SECRET_KEY,  # the test's sessions are signed with it
        DATABASE_URL=database_url(),
        DB_CONN_MAX_AGE="0",
        CELERY_BROKER_URL=broker_url,
        CACHE_URL=broker_url,
        MEDIA_ROOT=str(media),
        EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
        FAULTS_EMAIL_DIR=str(mail),
        LOG_LEVEL="INFO",
    )
    return env


def wait_for_sessions_to_end(application_name: str, timeout: float = 10) -> None:
    """Wait until PostgreSQL has ended the sessions of a stopped or killed process (a backend notices
    its client is gone at its next read or write), so they hold no lock."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not database_sessions(application_name):
            return
        time.sleep(0.05)
    raise AssertionError(f"sessions of {application_name} still open: {database_sessions(application_name)}")


def database_sessions(application_name: str) -> list[tuple]:
    """(pid, state, wait_event_type, query) of the sessions of the test database with that name."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, state, wait_event_type, query FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name LIKE %s AND pid <> pg_backend_pid()",
            [application_name],
        )
        return cursor.fetchall()


def wait_until(condition: Callable[[], object], timeout: float, what: str, interval: float = 0.05):
    """Poll `condition` until it returns something true; its value, or an AssertionError naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(interval)


@dataclass
class Answer:
    """What a web server answered (read whole)."""

    status_code: int
    content_type: str
    text: str
    path: str

    def json(self) -> Any:
        return json.loads(self.text)


def http_request(
    method: str,
    base_url: str,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    body: dict | None = None,
    timeout: float = 30,
) -> Answer:
    """One request on a connection of its own (what a separate client does): the standard library
    only, so the tests need nothing the portal does not install."""
    address = urlsplit(base_url)
    client = http.client.HTTPConnection(address.hostname, address.port, timeout=timeout)
    headers = dict(headers or {})
    payload = None
    if body is not None:
        payload = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    try:
        client.request(method, path, body=payload, headers=headers)
        response = client.getresponse()
        text = response.read().decode("utf-8", errors="replace")
        return Answer(response.status, response.getheader("Content-Type", ""), text, path)
    finally:
        client.close()


def wait_until_every_task_is_done(timeout: float = 60) -> None:
    """Wait until the workers have been through every message of the outbox."""
    from core.models import OutboxMessage

    wait_until(
        lambda: not OutboxMessage.objects.filter(done_at__isnull=True).exists(),
        timeout,
        "the workers did every queued task",
        interval=0.1,
    )
