"""Request ids (core.request_context): every answer carries an X-Request-ID, every log line made while
serving it names it (and a Celery task's lines name the task), and the JSON log format prints both
with an exception's traceback as a field."""

from __future__ import annotations

import json
import logging
import re

import pytest
from celery import shared_task

from core import request_context
from core.audit import JsonFormatter
from core.request_context import RequestContextFilter
from smart_portal import settings as portal_settings

MIDDLEWARE = "core.request_context.RequestIdMiddleware"
log = logging.getLogger("tests.request_ids")


@pytest.fixture(autouse=True)
def _request_ids(settings):
    """The middleware first in the stack, as smart_portal.settings has it."""
    if MIDDLEWARE not in settings.MIDDLEWARE:
        settings.MIDDLEWARE = [MIDDLEWARE, *settings.MIDDLEWARE]


class Collect(logging.Handler):
    """A handler with the portal's filter, as the console handler has it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.addFilter(RequestContextFilter())
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def collected():
    handler = Collect()
    root = logging.getLogger()
    root.addHandler(handler)
    yield handler.records
    root.removeHandler(handler)


def test_the_middleware_comes_first_and_the_console_handler_has_the_filter():
    # The settings module itself (the fixture above adds the middleware for the other tests).
    assert portal_settings.MIDDLEWARE[0] == MIDDLEWARE
    filters = portal_settings.LOGGING["handlers"]["console"].get("filters", [])
    assert [portal_settings.LOGGING["filters"][name]["()"] for name in filters] == [
        "core.request_context.RequestContextFilter"
    ]


@pytest.mark.django_db
def test_every_answer_carries_a_new_request_id(client):
    first = client.get("/accounts/login/")
    second = client.get("/no-such-page/")

    ids = [first["X-Request-ID"], second["X-Request-ID"]]
    assert all(re.fullmatch(r"[0-9a-f]{32}", value) for value in ids)
    assert ids[0] != ids[1]


@pytest.mark.django_db
def test_a_sane_incoming_request_id_is_kept_and_any_other_replaced(client):
    kept = client.get("/accounts/login/", HTTP_X_REQUEST_ID="lb-7f3a.01_x")
    too_long = client.get("/accounts/login/", HTTP_X_REQUEST_ID="a" * 65)
    odd = client.get("/accounts/login/", HTTP_X_REQUEST_ID='x"; DROP TABLE')

    assert kept["X-Request-ID"] == "lb-7f3a.01_x"
    assert re.fullmatch(r"[0-9a-f]{32}", too_long["X-Request-ID"])
    assert re.fullmatch(r"[0-9a-f]{32}", odd["X-Request-ID"])


@pytest.mark.django_db
def test_log_lines_made_while_serving_a_request_name_it(client, po1, collected):
    refused = client.post(
        "/accounts/login/", {"username": "po1", "password": "wrong"}, HTTP_X_REQUEST_ID="req-login-1"
    )
    missing = client.get("/no-such-page/", HTTP_X_REQUEST_ID="req-404-2")
    after = logging.LogRecord("x", logging.INFO, __file__, 1, "after the requests", None, None)

    audit = [r for r in collected if r.name == "smart_portal.audit"]
    not_found = [r for r in collected if r.name == "django.request"]
    assert refused["X-Request-ID"] == "req-login-1"
    assert audit
    assert {r.request_id for r in audit} == {"req-login-1"}
    assert missing.status_code == 404
    assert {r.request_id for r in not_found} == {"req-404-2"}
    assert json.loads(JsonFormatter().format(audit[0]))["request_id"] == "req-login-1"
    assert RequestContextFilter().filter(after)
    assert after.request_id is None  # forgotten once the answer was sent


def test_outside_a_request_there_is_no_request_id(collected):
    log.warning("at start-up")

    [record] = collected
    assert record.request_id is None
    assert record.task_id is None
    assert "request_id" not in json.loads(JsonFormatter().format(record))


@shared_task(name="tests.core.test_request_ids.logs_a_line")
def logs_a_line() -> None:
    log.warning("inside a task")


def test_log_lines_made_inside_a_task_name_the_task(collected):
    request_context.connect_signals()

    result = logs_a_line.apply_async(task_id="task-1234")

    assert result.successful()
    [record] = [r for r in collected if r.getMessage() == "inside a task"]
    assert record.task_id == "task-1234"
    assert json.loads(JsonFormatter().format(record))["task_id"] == "task-1234"
    assert request_context.current_task_id() is None  # reset when the task ended


def test_json_lines_carry_an_exception_as_fields(collected):
    try:
        {}["missing"]
    except KeyError:
        log.exception("could not do it")

    line = json.loads(JsonFormatter().format(collected[0]))
    assert line["message"] == "could not do it"
    assert line["exception_type"] == "KeyError"
    assert line["exception_message"] == "'missing'"
    assert line["exception"].startswith("Traceback (most recent call last):")
    assert line["exception"].endswith("KeyError: 'missing'")
