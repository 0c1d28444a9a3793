"""`Idempotency-Key` on every API POST: a client that retries a POST (a timeout, a dropped connection,
a nightly push run twice) sends the same key and gets the first answer again instead of a second write.

For a POST under /api/v1/ with the header, from a caller DRF is going to accept (smart_portal.api_contract
.api_user: the knox token, else the signed-in session with its CSRF token; anyone else passes through
untouched and DRF answers 401 or 403):

- the key is 1 to 255 printable ASCII characters, else 400 naming the header;
- the first request with a key records it, in progress, in its own committed transaction, before the
  view runs. The unique (owner, key) constraint makes this the one place two identical concurrent
  requests meet: the second waits (up to WAIT_SECONDS) for the first to finish and answers what it
  answered, or 409 `idempotency_key_in_use` if it is still running;
- when the view has answered, its status, body and the headers a client needs (Content-Type,
  Location, Retry-After, ...) are kept; a repeat with the same fingerprint (method, path, query and
  body: JSON compared as canonical JSON, multipart as its fields and the files' contents) gets them
  again with `Idempotent-Replayed: true`. The same key with another fingerprint is 422
  `idempotency_key_reused`;
- 5xx and 429 answers are not kept (nor a request that raised): the key can be sent again.

Keys are each account's own (owner `user:<id>`: the tokens and sessions of one account share them)
and are kept IDEMPOTENCY_KEEP_HOURS (24 by default): an older record counts as absent, and the daily
clean-up (core.tasks.prune_outbox) deletes them. Views need nothing for this.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import time
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError, IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from core.models import IdempotencyRecord
from smart_portal.api_contract import API_PREFIX, api_user, error_response

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
RECORD_ATTRIBUTE = "_idempotency_record"  # on the request: the pk of its record, while in progress
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
# The answer's headers kept and replayed with its body (the others are the middleware's to set again).
KEPT_HEADERS = (
    "Content-Type",
    "Content-Disposition",
    "Location",
    "Retry-After",
    "ETag",
    "Last-Modified",
    "Link",
    "Allow",
    "WWW-Authenticate",
)
# A second request with a key still in progress waits this long for the first one's answer.
WAIT_SECONDS = 5.0
POLL_SECONDS = 0.1
# An in-progress record this old belongs to a request that died without answering (a killed worker).
ABANDONED_AFTER = timedelta(minutes=10)


def keep_for() -> timedelta:
    return timedelta(hours=getattr(settings, "IDEMPOTENCY_KEEP_HOURS", 24))


def is_valid_key(key: str) -> bool:
    return 0 < len(key) <= MAX_KEY_LENGTH and all(" " <= char <= "~" for char in key)


class IdempotencyMiddleware:
    """See the module's docstring. Acts in `process_view`, after the middleware that may refuse the
    request first (CSRF, two-factor authentication): a replay is given only where the view would run."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            response = self.get_response(request)
        except BaseException:
            forget(request)
            raise
        record_pk = getattr(request, RECORD_ATTRIBUTE, None)
        if record_pk is not None:
            keep_answer(record_pk, response)
        return response

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs) -> HttpResponse | None:
        if request.method != "POST" or not request.path_info.startswith(API_PREFIX):
            return None
        key = request.headers.get(HEADER)
        if key is None:
            return None
        user = api_user(request)
        if user is None:
            return None  # DRF answers 401 (or 403)
        if not is_valid_key(key):
            message = _("Send 1 to 255 printable ASCII characters, e.g. a UUID.")
            return error_response(
                400,
                "invalid",
                _("The Idempotency-Key header is not valid: %(message)s") % {"message": message},
                {HEADER: [{"code": "invalid", "message": message}]},
            )
        answer_or_pk = claim(f"user:{user.pk}", key, request, fingerprint(request))
        if isinstance(answer_or_pk, HttpResponse):
            return answer_or_pk
        setattr(request, RECORD_ATTRIBUTE, answer_or_pk)
        return None


def fingerprint(request: HttpRequest) -> str:
    """A hash of what makes two requests the same: method, path, query and body. A JSON body counts by
    its content (key order and spacing do not matter); a multipart body by its fields and the names
    and contents of its files (not the boundary, which each send draws afresh)."""
    digest = hashlib.sha256()
    query = sorted((name, value) for name, values in request.GET.lists() for value in values)
    digest.update(json.dumps([request.method, request.path, query]).encode())
    content_type = (request.content_type or "").lower()
    if content_type.startswith("multipart/"):
        fields = sorted((name, value) for name, values in request.POST.lists() for value in values)
        digest.update(json.dumps(fields).encode())
        for name, files in sorted(request.FILES.lists(), key=lambda item: item[0]):
            for upload in files:
                digest.update(json.dumps([name, upload.name]).encode())
                for chunk in upload.chunks():
                    digest.update(chunk)
                upload.seek(0)
        return digest.hexdigest()
    body = request_body(request)
    if content_type == "application/json" or content_type.endswith("+json"):
        with contextlib.suppress(ValueError):  # not JSON after all: the bytes as sent
            body = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    digest.update(body)
    return digest.hexdigest()


def request_body(request: HttpRequest) -> bytes:
    """The body, read once and kept for the view (DRF then parses `request.body`). Past Django's
    in-memory limit (DATA_UPLOAD_MAX_MEMORY_SIZE), which DRF's JSON parsing does not apply, it is read
    all the same: sending a key must not change which bodies are accepted."""
    try:
        return request.body
    except RequestDataTooBig:  # refused from its Content-Length, before anything was read
        request._body = request.read()
        return request._body


def claim(owner: str, key: str, request: HttpRequest, request_hash: str) -> int | HttpResponse:
    """Record the key as in progress (its record's pk: the view runs), or the answer to give instead:
    the first request's answer replayed, 422 for another request under the key, 409 while the first
    one is still running after WAIT_SECONDS."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    owner=owner,
                    key=key,
                    method=request.method or "POST",
                    path=request.path[:500],
                    request_hash=request_hash,
                )
            return record.pk
        except IntegrityError:
            pass  # the key is taken: by whom, and is it done?
        existing = IdempotencyRecord.objects.filter(owner=owner, key=key).first()
        if existing is not None and is_stale(existing):
            IdempotencyRecord.objects.filter(pk=existing.pk).delete()
            continue
        if existing is not None:
            if existing.request_hash != request_hash:
                return key_reused()
            if existing.status_code is not None:
                return replay(existing)
        # In progress, or gone meanwhile (the first request failed: it may be tried again).
        if time.monotonic() >= deadline:
            return key_in_use()
        time.sleep(POLL_SECONDS)


def is_stale(record: IdempotencyRecord) -> bool:
    """Kept past IDEMPOTENCY_KEEP_HOURS, or left in progress by a request that died."""
    age = timezone.now() - record.created_at
    return age > keep_for() or (record.status_code is None and age > ABANDONED_AFTER)


def keep_answer(record_pk: int, response: HttpResponse) -> None:
    """Keep the view's answer for replays, or forget the key when the answer may change on a retry
    (5xx, 429) or cannot be kept (a streamed file)."""
    status = response.status_code
    try:
        if status >= 500 or status == 429 or getattr(response, "streaming", False):
            IdempotencyRecord.objects.filter(pk=record_pk).delete()
            return
        headers = {name: response[name] for name in KEPT_HEADERS if response.has_header(name)}
        IdempotencyRecord.objects.filter(pk=record_pk).update(
            status_code=status,
            response_headers=headers,
            response_body=response.content,
            completed_at=timezone.now(),
        )
    except DatabaseError:  # the answer is given anyway; the record is abandoned (see is_stale)
        log.exception("could not keep the answer under idempotency record %s", record_pk)


def forget(request: HttpRequest) -> None:
    record_pk = getattr(request, RECORD_ATTRIBUTE, None)
    if record_pk is None:
        return
    try:
        IdempotencyRecord.objects.filter(pk=record_pk).delete()
    except DatabaseError:
        log.exception("could not forget idempotency record %s", record_pk)


def replay(record: IdempotencyRecord) -> HttpResponse:
    response = HttpResponse(bytes(record.response_body), status=record.status_code)
    for name, value in record.response_headers.items():
        response[name] = value
    response[REPLAYED_HEADER] = "true"
    return response


def key_reused() -> HttpResponse:
    return error_response(
        422,
        "idempotency_key_reused",
        _(
            "This Idempotency-Key was used for another request (another method, path, query or body). "
            "Send a new key with a new request."
        ),
    )


def key_in_use() -> HttpResponse:
    response = error_response(
        409,
        "idempotency_key_in_use",
        _("A request with this Idempotency-Key is still being answered. Try again in a few seconds."),
    )
    response["Retry-After"] = "1"
    return response


def openapi_parameter() -> dict:
    """The header as an OpenAPI parameter, for every POST operation of the schema (smart_portal.schema
    adds it), so that generated clients offer it."""
    return {
        "in": "header",
        "name": HEADER,
        "required": False,
        "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH, "pattern": "^[ -~]+$"},
        "description": _(
            "A key of your own (e.g. a UUID) that makes this POST safe to retry: the same key with the "
            "same request within %(hours)s hours gets the first answer again (header "
            "`Idempotent-Replayed: true`) instead of a second write; with another request, 422 "
            "`idempotency_key_reused`; while the first is still being answered, 409 "
            "`idempotency_key_in_use`."
        )
        % {"hours": getattr(settings, "IDEMPOTENCY_KEEP_HOURS", 24)},
    }


def purge(now=None) -> int:
    """Delete the records kept past IDEMPOTENCY_KEEP_HOURS; returns how many."""
    cutoff = (now or timezone.now()) - keep_for()
    deleted, _details = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted
