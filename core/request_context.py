"""Which request (or which Celery task) a log line belongs to.

`RequestIdMiddleware` gives every request an id: the caller's `X-Request-ID` when it is a sane one
(a proxy or a client that already numbers its requests), else a new random one. The id is
`request.request_id`, goes back in the `X-Request-ID` response header, and is kept in a context
variable while the request runs, so `RequestContextFilter` adds it to every log record made meanwhile
(and the JSON log format prints it). Inside a Celery task the record gets the task's id instead
(`connect_signals()`, called from core.apps at start-up); a task run in-process by a request has both.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable
from contextvars import ContextVar, Token
from typing import Any

from django.core.signals import request_finished
from django.http import HttpRequest, HttpResponse

HEADER = "X-Request-ID"
META_KEY = "HTTP_X_REQUEST_ID"
# An id from outside is used only if it is short and plain: it ends up in every log line.
SANE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")

_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
_task_id: ContextVar[str | None] = ContextVar("task_id", default=None)
# Tokens to restore the task id when a task ends (a task run in-process may run inside another).
_task_tokens: dict[str, list[Token]] = {}


def current_request_id() -> str | None:
    """The id of the request being served in this thread (None outside a request)."""
    return _request_id.get()


def current_task_id() -> str | None:
    """The id of the Celery task running in this thread (None outside a task)."""
    return _task_id.get()


def request_id_from(value: str | None) -> str:
    """The caller's id if it is sane, else a new one."""
    if value and SANE_ID.fullmatch(value):
        return value
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """First in MIDDLEWARE, so that every answer (redirects, refusals, errors) carries the id.

    The id stays set until the response is closed (Django's request_finished), not merely until this
    middleware returns: Django logs "Not Found" and "Internal Server Error" for an answer of 400 or
    more after the whole middleware stack, and those lines must name the request too."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        request_finished.connect(_forget_request, dispatch_uid="core-request-context-finished")

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_from(request.META.get(META_KEY))
        request.request_id = request_id
        _request_id.set(request_id)
        response = self.get_response(request)
        response[HEADER] = request_id
        return response


def _forget_request(**kwargs: Any) -> None:
    _request_id.set(None)


class RequestContextFilter(logging.Filter):
    """Adds `request_id` and `task_id` to every record (None when there is none), for the formats."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = _request_id.get()
        if getattr(record, "task_id", None) is None:
            record.task_id = _task_id.get()
        return True


def _on_task_prerun(sender: Any = None, task_id: str | None = None, **kwargs: Any) -> None:
    if task_id:
        _task_tokens.setdefault(task_id, []).append(_task_id.set(task_id))


def _on_task_postrun(sender: Any = None, task_id: str | None = None, **kwargs: Any) -> None:
    key = task_id or ""
    tokens = _task_tokens.get(key)
    if not tokens:
        return
    token = tokens.pop()
    if not tokens:
        del _task_tokens[key]
    try:
        _task_id.reset(token)
    except ValueError:  # set in another context (should not happen): forget the id all the same
        _task_id.set(None)


def connect_signals() -> None:
    """Give log records made inside a Celery task the task's id (call once, from AppConfig.ready)."""
    from celery.signals import task_postrun, task_prerun

    task_prerun.connect(_on_task_prerun, dispatch_uid="core-request-context-task-start", weak=False)
    task_postrun.connect(_on_task_postrun, dispatch_uid="core-request-context-task-end", weak=False)
