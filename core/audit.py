"""Security-relevant events as structured log lines (not database rows).

Every refusal worth auditing (a refused transition, a refused login, ...) goes through `audit()`,
which logs one line on the "smart_portal.audit" logger with the event name and its fields as
`extra`. With `LOG_FORMAT=json` each line is a JSON object holding those fields, ready for a log
collector; with the plain format the fields are appended as `key=value` pairs.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from django.db.models import Model

from core import request_context

AUDIT_LOGGER = "smart_portal.audit"
logger = logging.getLogger(AUDIT_LOGGER)

# The attribute of a LogRecord holding the event's fields (kept apart from LogRecord's own).
FIELDS_ATTR = "audit"


def _plain(value: Any) -> Any:
    """A JSON-friendly form of a field value."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Model):
        return describe_object(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    return str(value)


def describe_user(user: Any) -> str | None:
    """Who: the username, "anonymous", or None for the portal itself."""
    if user is None:
        return None
    if not getattr(user, "is_authenticated", False):
        return "anonymous"
    return user.get_username()


def describe_object(obj: Model) -> str:
    """Which object: "app_label.model:pk"."""
    return f"{obj._meta.label_lower}:{obj.pk}"


def audit(event: str, level: int = logging.WARNING, **fields: Any) -> None:
    """Log one audit event with its fields, e.g.
    `audit("transition_refused", user=request.user, object=proposal, action="approve", code="wrong_state")`.
    A user is logged by username, a model instance as "app_label.model:pk"."""
    data: dict[str, Any] = {"event": event}
    for name, value in fields.items():
        if name == "user" or name.endswith("_user"):
            value = describe_user(value) if value is None or hasattr(value, "is_authenticated") else value
        data[name] = _plain(value)
    text = " ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in data.items() if k != "event")
    logger.log(level, "%s %s", event, text, extra={FIELDS_ATTR: data})


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message (or an audit event's fields), the
    request id and Celery task id it was logged under (core.request_context), and an exception's
    type, message and traceback as fields of their own."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
        }
        fields = getattr(record, FIELDS_ATTR, None)
        if isinstance(fields, dict):
            payload.update(fields)
        else:
            payload["message"] = record.getMessage()
        # Set by RequestContextFilter when the record was made; read here too for a handler without it.
        request_id = getattr(record, "request_id", None) or request_context.current_request_id()
        task_id = getattr(record, "task_id", None) or request_context.current_task_id()
        if request_id:
            payload["request_id"] = request_id
        if task_id:
            payload["task_id"] = task_id
        if record.exc_info and record.exc_info[0] is not None:
            payload["exception_type"] = record.exc_info[0].__name__
            payload["exception_message"] = str(record.exc_info[1])
            payload["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            payload["exception"] = record.exc_text
        if record.stack_info:
            payload["stack"] = self.formatStack(record.stack_info)
        return json.dumps(payload, ensure_ascii=False, default=str)
