"""Requests refused before any view reads them, and how errors are answered (JSON under /api/; a
page refused by the database on a concurrent identical save is run again)."""

from __future__ import annotations

import json
from collections.abc import Callable

from django.core.exceptions import BadRequest, PermissionDenied, SuspiciousOperation
from django.db import IntegrityError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.utils.html import format_html
from django.utils.log import log_response
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from rest_framework.response import Response

from core import integrity
from core.errors import ActionRefused, Conflict

NUL = "\x00"


class RefuseNullCharactersMiddleware:
    """A NUL character in the URL's path or in a query parameter is refused with a 400 naming the
    parameter, for pages and API alike.

    No text the portal stores holds one, and forms and serializers refuse them in what they read; but
    a parameter a view reads itself (`?po=` of the dashboards, a code in the path) would reach the
    database, where PostgreSQL refuses it with an error: a 500 (SQLite merely finds nothing)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        where = null_characters_in(request)
        if where:
            message = _("Null characters are not allowed.")
            if request.path_info.startswith("/api/"):
                from smart_portal.api import error_body, invalid_detail

                fields = {name: [{"code": "null_characters", "message": message}] for name in where}
                return JsonResponse(error_body("invalid", invalid_detail(fields), fields), status=400)
            return HttpResponseBadRequest(
                f"{', '.join(where)}: {message}", content_type="text/plain; charset=utf-8"
            )
        return self.get_response(request)


def null_characters_in(request: HttpRequest) -> list[str]:
    """The query parameters (and "path") holding a NUL character, NULs shown as `\\0`."""
    where = ["path"] if NUL in request.path_info else []
    for name, values in request.GET.lists():
        if NUL in name or any(NUL in value for value in values):
            where.append(name.replace(NUL, "\\0"))
    return where


# --- Errors: JSON under /api/, and a lost race answered like a duplicate ---------------------------

API_PREFIX = "/api/"

# The `code` of an error the API answers without DRF (Django's own 404, 405, 413, 500 ...), as DRF
# names its own.
ERROR_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "request_too_large",
    500: "server_error",
}
# Raised by a view and answered by Django's own handler (404, 403, 400): not a server error.
CLIENT_ERRORS = (Http404, PermissionDenied, BadRequest, SuspiciousOperation, MultiPartParserError)


def is_api(request: HttpRequest) -> bool:
    return request.path_info.startswith(API_PREFIX)


def error_detail(status: int) -> str:
    """What an error the API answers without DRF says (DRF's own words where it has them)."""
    if status == 404:
        return _("Not found.")
    if status == 403:
        return _("You do not have permission to perform this action.")
    if status == 405:
        return _("Method not allowed.")
    if status == 413:
        return _("The request is too large.")
    if status >= 500:
        return _(
            "A server error occurred. It has been logged; try again later, and quote the request id if "
            "it persists."
        )
    return _("Bad request.")


def error_code(status: int) -> str:
    return ERROR_CODES.get(status, "server_error" if status >= 500 else "error")


def json_error(request: HttpRequest, status: int, detail: str | None = None) -> JsonResponse:
    """The body of an API error that DRF did not answer (smart_portal.api.error_body), with the
    request's id: `{"code", "detail", "fields": {}, "request_id"}`."""
    from smart_portal.api import error_body

    body = error_body(error_code(status), detail or error_detail(status), {})
    request_id = getattr(request, "request_id", None)
    if request_id:
        body["request_id"] = request_id
    return JsonResponse(body, status=status)


def is_json(response: HttpResponse) -> bool:
    return "json" in response.get("Content-Type", "")


def in_the_one_shape(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """An API error answered in JSON outside the exception handler (a view's own `Response` or
    `JsonResponse`, the sign-in lockout, the second-factor gate, ...) in the one error body: the
    `code` and `detail` it gives are kept, its other keys too (`retry_after`, ...), and a body of
    messages by field (a serializer's errors returned as they are) becomes `fields`."""
    from smart_portal.api import error_body, flat_errors, invalid_detail

    if getattr(response, "exception", False):
        return response  # made by the exception handler (smart_portal.api), in the one body already
    try:
        data = json.loads(response.content or b"null")
    except ValueError:
        return response
    if isinstance(data, dict) and {"code", "detail", "fields"} <= data.keys():
        return response
    status = response.status_code
    if isinstance(data, dict) and "detail" in data:
        extra = {key: value for key, value in data.items() if key not in ("code", "detail", "fields")}
        body = error_body(data.get("code") or error_code(status), data["detail"], data.get("fields"), **extra)
    elif isinstance(data, dict | list):
        fields = flat_errors(data)
        body = error_body("invalid" if status == 400 else error_code(status), invalid_detail(fields), fields)
    else:
        body = error_body(error_code(status), error_detail(status))
    converted = JsonResponse(body, status=status)
    for header, value in response.items():
        if header.lower() not in {"content-type", "content-length"}:
            converted[header] = value
    return converted


class ErrorAnswersMiddleware:
    """How errors are answered, for the API and the pages.

    - Under /api/ every error is JSON in the one error body (smart_portal.api.error_body): an
      exception no view handled is a 500 `{"code": "server_error", "detail": ..., "fields": {},
      "request_id": ...}` (logged with its traceback, as Django logs it); an error Django answers
      itself in HTML (an unknown URL's 404, a 500 raised by a middleware, ...) is turned into the same
      shape with its status; a JSON error answered outside the exception handler is put in that shape
      (`in_the_one_shape`). The browsable API's pages are left as they are.
    - A page whose save the database refused on a constraint (a concurrent identical request committed
      first: see core.integrity) is run once more: its form or service now sees the committed row and
      refuses as for any duplicate, with what was typed. A second violation is a 409 page, never a 500.

    Place it after LocaleMiddleware (its messages are translated) and RequestIdMiddleware (it reports
    `request.request_id`)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not is_api(request) or response.status_code < 400 or getattr(response, "streaming", False):
            return response
        if is_json(response):
            return in_the_one_shape(request, response)
        if not isinstance(response, Response):  # DRF's own are JSON, or the browsable API's pages
            converted = json_error(request, response.status_code)
            # Keep what the middleware around the view set (Allow, security headers, ...).
            for header, value in response.items():
                if header.lower() not in {"content-type", "content-length"}:
                    converted[header] = value
            return converted
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, IntegrityError):
            return self.lost_race(request, exception)
        if isinstance(exception, Conflict) and not is_api(request):
            # A page that does not catch it itself (the API's handler answers it 409).
            return HttpResponse(conflict_page(exception.message, request.path), status=409)
        if not is_api(request) or isinstance(exception, CLIENT_ERRORS):
            return None  # Django's handler answers (HTML pages; the API's are made JSON above)
        return self.server_error(request, exception)

    def server_error(self, request: HttpRequest, exception: Exception) -> HttpResponse:
        response = json_error(request, 500)
        log_response(
            "Internal Server Error: %s (request %s)",
            request.path,
            getattr(request, "request_id", None),
            response=response,
            request=request,
            exception=exception,
        )
        return response

    def lost_race(self, request: HttpRequest, exception: IntegrityError) -> HttpResponse | None:
        """A page is run once more (see the class); the API's views are DRF's, answered by
        smart_portal.api.exception_handler: one reaching here has no answer left but a 409 (or 400)."""
        match = request.resolver_match
        retried = getattr(request, "_integrity_retried", False)
        if (
            not is_api(request)
            and match is not None
            and not retried
            and integrity.is_lost_race(exception)
            and integrity.connections_usable()
        ):
            request._integrity_retried = True
            integrity.log_race(exception, f"{request.method} {request.path}: answered by running it again")
            try:
                return match.func(request, *match.args, **match.kwargs)
            except IntegrityError as again:
                exception = again
        integrity.log_race(exception, f"{request.method} {request.path}")
        refusal = integrity.refusal(exception)
        if isinstance(refusal, ActionRefused):
            message, status = refusal.message, 409
        else:
            message, status = " ".join(refusal.messages), 400
        if is_api(request):
            return json_error(request, status, message)
        return HttpResponse(conflict_page(message, request.path), status=status)


def conflict_page(message: str, back: str) -> str:
    """A page refused by the database even on its second run (rare): what happened, and the way
    back (the browser's back button keeps what was typed; `back` opens the form afresh)."""
    return format_html(
        '<!doctype html><html lang="{}"><head><meta charset="utf-8"><title>{}</title></head>'
        '<body style="font-family: sans-serif; margin: 3rem;"><h1>{}</h1><p>{}</p><p>{}</p>'
        '<p><a href="{}">{}</a> · <a href="/">{}</a></p></body></html>',
        get_language() or "en",
        _("Not saved"),
        _("Not saved"),
        message,
        _("Your browser's back button returns to the form with what you typed."),
        back,
        _("Open the form again"),
        _("Back to the SMART Portal"),
    )
