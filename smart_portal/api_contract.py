"""The API answers what its schema says and nothing else: a query parameter an operation does not
document is refused (400 `unknown_parameter`), and so is an `ordering` value a list does not offer
(400 `invalid` on `ordering`, listing the values it offers).

Why a middleware, and where. A client that misspells a filter (`?updated_sinse=...`) must hear of
it instead of receiving everything. The schema (smart_portal.api_docs.cached_schema) is the one
list of what each operation reads, so the check reads it: a lookup from (method, path template) to
the documented parameter names, built once per process. The check must come after authentication
(an anonymous call is answered 401 whatever its parameters) and must cover every API view, including
those that set their own throttles, filters or permissions. A middleware covers every view without
touching any; it acts in `process_view`, after the middleware that answer first (CSRF, two-factor
authentication), and only for a caller DRF is going to accept: `api_user` authenticates the request
exactly as DRF does (the knox token, else the signed-in session), so an anonymous call or a bad token
passes through untouched and DRF answers 401. A DRF hook (a throttle or permission class that raises)
would run at the right moment too, but views that set their own classes would lose it.

Unknown ordering values are the filter backend's to refuse (`StrictOrderingFilter`, replacing DRF's
OrderingFilter, which silently ignores them): only it knows a list's `ordering_fields`. A filter set's
own `ordering` (django-filter) refuses them too; `ListedOrderingFilter` makes its refusal list the
values it offers.

`api_user` also identifies the caller of an `Idempotency-Key` POST (smart_portal.idempotency).
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable
from typing import Any

import django_filters
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from rest_framework import exceptions
from rest_framework.authentication import SessionAuthentication
from rest_framework.filters import OrderingFilter
from rest_framework.settings import api_settings

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1/"
CALLER_ATTRIBUTE = "_portal_api_user"
_UNSET = object()


def error_response(
    status: int, code: str, detail: str, fields: dict[str, list[dict[str, str]]] | None = None
) -> JsonResponse:
    """The API's one error body (smart_portal.api.error_body), for an answer given before any DRF
    view runs."""
    from smart_portal.api import error_body

    return JsonResponse(error_body(code, detail, fields), status=status)


# --- Who calls: the user DRF will authenticate, or None ---------------------------------------------


def api_user(request: HttpRequest):
    """The user DRF is going to authenticate for this request, found the way DRF finds it: the knox
    token of the Authorization header first (core.api.security.PortalTokenAuthentication, with its
    two-factor rule), else the signed-in session, with its CSRF check on unsafe methods. None when DRF
    will answer 401 or 403 instead (no credentials, a bad or expired token, a missing CSRF token).
    Worked out once per request."""
    found = getattr(request, CALLER_ATTRIBUTE, _UNSET)
    if found is _UNSET:
        found = _authenticate(request)
        setattr(request, CALLER_ATTRIBUTE, found)
    return found


def _authenticate(request: HttpRequest):
    from core.api.security import PortalTokenAuthentication

    forced = getattr(request, "_force_auth_user", None)  # DRF's test client (force_authenticate)
    if forced is not None:
        return forced
    try:
        credentials = PortalTokenAuthentication().authenticate(request)
    except exceptions.APIException:
        return None
    if credentials is not None:
        return credentials[0]
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    try:
        # DRF's own check of a session's CSRF token; it reads only what the Django request has.
        SessionAuthentication().enforce_csrf(request)  # type: ignore[arg-type]
    except exceptions.PermissionDenied:
        return None
    return user


# --- The documented query parameters of each operation ----------------------------------------------

_TEMPLATE_PARAMETER = re.compile(r"\{[^}/]+\}")


@functools.lru_cache(maxsize=1)
def documented_operations() -> list[tuple[re.Pattern[str], dict[str, frozenset[str]]]]:
    """(path regex, {method: query parameter names}) for every path of the schema, the most specific
    first (`/enterprises/bulk/` before `/enterprises/{id}/`)."""
    from smart_portal.api_docs import cached_schema

    try:
        schema = cached_schema(settings.LANGUAGE_CODE)
    except Exception:  # a broken schema is CI's to catch: the API still answers meanwhile, unchecked
        log.exception("the API schema could not be generated: query parameters are not checked")
        return []
    found = []
    for template, item in schema.get("paths", {}).items():
        shared = _query_names(item.get("parameters", []))
        methods = {
            method.upper(): shared | _query_names(operation.get("parameters", []))
            for method, operation in item.items()
            if isinstance(operation, dict) and method != "parameters"
        }
        literal = _TEMPLATE_PARAMETER.split(template)
        pattern = re.compile("^" + "[^/]+".join(re.escape(part) for part in literal) + "$")
        specificity = (len(literal) - 1, -sum(len(part) for part in literal))
        found.append((specificity, pattern, methods))
    found.sort(key=lambda entry: entry[0])
    return [(pattern, methods) for _specificity, pattern, methods in found]


def _query_names(parameters: list[dict[str, Any]]) -> frozenset[str]:
    return frozenset(p["name"] for p in parameters if p.get("in") == "query" and "name" in p)


def documented_parameters(method: str, path: str) -> frozenset[str] | None:
    """The query parameters the operation `method path` documents, or None if the schema has no such
    operation (a 404 or 405 to be, or a view outside the schema)."""
    if method == "HEAD":
        method = "GET"
    for pattern, methods in documented_operations():
        if pattern.match(path):
            return methods.get(method)
    return None


def always_accepted() -> frozenset[str]:
    """The parameter DRF itself honours on every view: `format` (json, or api for the browsable API)."""
    name = api_settings.URL_FORMAT_OVERRIDE
    return frozenset([name] if name else [])


def unknown_parameters(request: HttpRequest, view_kwargs: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(the query parameters of this request its operation does not document, those it does)."""
    path = request.path_info
    if "format" in view_kwargs:  # a format suffix: /api/v1/enterprises.json
        path = re.sub(r"\.[a-z0-9]+/?$", "/", path)
    documented = documented_parameters(request.method or "GET", path)
    if documented is None:
        return [], []
    allowed = documented | always_accepted()
    return [name for name in request.GET if name not in allowed], sorted(documented)


class QueryParametersMiddleware:
    """400 `unknown_parameter` for a query parameter the API operation called does not document
    (see the module's docstring for where and why)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs) -> HttpResponse | None:
        if not request.GET or not request.path_info.startswith(API_PREFIX) or request.method == "OPTIONS":
            return None
        unknown, documented = unknown_parameters(request, view_kwargs)
        # The caller is authenticated here only for a refusal (DRF authenticates every request
        # again): an anonymous caller or a bad token is answered 401 (or 403) by DRF first.
        if not unknown or api_user(request) is None:
            return None
        return unknown_parameters_answer(unknown, documented)


def unknown_parameters_answer(unknown: list[str], documented: list[str]) -> JsonResponse:
    accepted = ", ".join(documented) if documented else _("none")
    detail = _("Unknown query parameter(s): %(unknown)s. This operation accepts: %(accepted)s.") % {
        "unknown": ", ".join(unknown),
        "accepted": accepted,
    }
    message = _("This operation has no query parameter of that name.")
    return error_response(
        400,
        "unknown_parameter",
        detail,
        {name: [{"code": "unknown_parameter", "message": message}] for name in unknown},
    )


# --- Ordering ---------------------------------------------------------------------------------------


class StrictOrderingFilter(OrderingFilter):
    """DRF's OrderingFilter, refusing (400 `invalid` on `ordering`) a value the list does not offer
    instead of ignoring it; `-name` and comma lists as DRF reads them. The schema names the values."""

    def remove_invalid_fields(self, queryset, fields, view, request):
        valid = [item[0] for item in self.get_valid_fields(queryset, view, {"request": request})]
        wrong = [term for term in fields if term.removeprefix("-") not in valid]
        if wrong:
            raise exceptions.ValidationError(
                {self.ordering_param: [ordering_refusal(wrong, valid)]}, code="invalid"
            )
        return fields

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        fields = getattr(view, "ordering_fields", self.ordering_fields)
        if isinstance(fields, list | tuple) and fields:
            names = [item if isinstance(item, str) else item[0] for item in fields]
            for parameter in parameters:
                parameter["description"] = _(
                    "Which field to use when ordering the results: one of %(fields)s, with `-` before it "
                    "for descending order; several separated by commas."
                ) % {"fields": ", ".join(f"`{name}`" for name in names)}
        return parameters


class ListedOrderingFilter(django_filters.OrderingFilter):
    """django-filter's `ordering` of a filter set (e.g. `ordering = ListedOrderingFilter(fields=...)`),
    whose refusal of an unknown value lists the values it offers, as StrictOrderingFilter's does."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        offered = ", ".join(value for value, _label in self.extra["choices"] if not value.startswith("-"))
        self.extra.setdefault("error_messages", {})["invalid_choice"] = format_lazy(
            _lazy("Unknown ordering %(value)s. Order by {offered}, each optionally with '-' before it."),
            offered=offered,
        )


def ordering_refusal(wrong: list[str], valid: list[str]) -> exceptions.ErrorDetail:
    message = _("Unknown ordering %(wrong)s. Order by %(valid)s, each optionally with '-' before it.") % {
        "wrong": ", ".join(wrong),
        "valid": ", ".join(valid),
    }
    return exceptions.ErrorDetail(message, code="invalid")
