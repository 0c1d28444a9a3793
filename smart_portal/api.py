"""API plumbing shared by every app: pagination, the one mapping of domain errors to HTTP, and the
scoping of related objects (writable relations, filters, browsable forms) to what the user may see."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.http import Http404
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _lazy
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.exceptions import ValidationError as DRFValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.renderers import BrowsableAPIRenderer
from rest_framework.response import Response
from rest_framework.settings import api_settings

from core import integrity, visibility
from core.errors import ActionRefused

logger = logging.getLogger(__name__)


class StandardPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    def paginate_queryset(self, queryset, request, view=None):
        # A page past the end or not a number is a mistake in the request, named like any other
        # (400 on `page`), not a missing resource: the list itself exists.
        try:
            return super().paginate_queryset(queryset, request, view)
        except NotFound as refused:
            raise DRFValidationError({self.page_query_param: [refused.detail]}) from None


# --- Errors: one body for every error the API answers ----------------------------------------------

NON_FIELD = api_settings.NON_FIELD_ERRORS_KEY  # "non_field_errors"


def error_body(code: str, detail: str, fields: dict | None = None, **extra: Any) -> dict[str, Any]:
    """`{"code", "detail", "fields"}`: the body of every error the API answers (4xx and 5xx).

    `code` is a stable machine code (`invalid`, `not_found`, a refused transition's own code, ...);
    `detail` one readable sentence in the request's language; `fields` each problem by field,
    `{"budget_lines.3.amount": [{"code": "max_digits", "message": "..."}]}`, problems not about one
    field under `non_field_errors`, `{}` when no field is concerned. `extra`: `existing_id` (the
    object a duplicate create collides with), `items` (bulk), `request_id` (500)."""
    return {"code": str(code), "detail": str(detail), "fields": fields or {}, **extra}


def flat_errors(detail: Any) -> dict[str, list[dict[str, str]]]:
    """DRF's nested errors (dicts by field, lists by position, ErrorDetail leaves carrying their
    code) as `{"dotted.path": [{"code", "message"}]}`: a nested object's own errors (its
    `non_field_errors`, a model's `__all__`) under the object's path, the top level's under
    `non_field_errors`."""
    found: dict[str, list[dict[str, str]]] = {}

    def add(path: str, leaf: Any) -> None:
        code = getattr(leaf, "code", None) or "invalid"
        found.setdefault(path or NON_FIELD, []).append({"code": str(code), "message": str(leaf)})

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                own = str(key) in (NON_FIELD, NON_FIELD_ERRORS)
                walk(value, path if own else f"{path}.{key}" if path else str(key))
        elif isinstance(node, list | tuple):
            for index, item in enumerate(node):
                if isinstance(item, dict | list | tuple):
                    walk(item, f"{path}.{index}" if path else str(index))
                else:
                    add(path, item)
        else:
            add(path, node)

    walk(detail, "")
    return found


def invalid_detail(fields: dict[str, list[dict[str, str]]]) -> str:
    """The one sentence of a 400: the non-field problem(s) themselves when no field is named, else
    how many fields are wrong and which."""
    named = [name for name in fields if name != NON_FIELD]
    if not named:
        return " ".join(error["message"] for error in fields.get(NON_FIELD, [])) or gettext(
            "The request is invalid."
        )
    return ngettext(
        "The request has an error in %(count)d field: %(names)s.",
        "The request has errors in %(count)d fields: %(names)s.",
        len(named),
    ) % {"count": len(named), "names": ", ".join(named)}


def problem_fields(refusal: ActionRefused) -> dict[str, list[dict[str, str]]]:
    """The problems a refusal sums up, each apart: by the field a `Problem` names, the others (and
    plain sentences) under `non_field_errors`."""
    found: dict[str, list[dict[str, str]]] = {}
    for problem in refusal.problems:
        name = getattr(problem, "field", "") or NON_FIELD
        code = getattr(problem, "code", "") or refusal.code
        found.setdefault(name, []).append({"code": code, "message": str(problem)})
    return found


def refusal_body(refusal: ActionRefused) -> dict[str, Any]:
    return error_body(refusal.code, refusal.message, problem_fields(refusal))


def exception_handler(exc, context):
    """The one mapping of errors to HTTP answers, for every API view, each with the one body of
    `error_body()`:

    - a refused business action (`ActionRefused`) is a 409 Conflict with its reason and code, or a
      403 when the refusal is about who asks (`Forbidden`); the problems it sums up (an incomplete
      submission) each under `fields`;
    - a rule broken inside a model or a service (Django's `ValidationError`) is a 400 naming the
      fields, as a serializer's errors are (code `invalid`); a duplicate of a unique key also names
      the existing object (`existing_id`) when the caller sees it;
    - a constraint the database enforces (`IntegrityError`: a concurrent identical request committed
      first) is answered as the same request a moment later would be: see `run_again`;
    - the rest (401, 404, 405, 429, ...) with DRF's status, headers and codes; anything else is a
      500, answered in JSON by smart_portal.middleware.ErrorAnswersMiddleware."""
    # Imported here: rest_framework.views reads the renderer settings, which name this module.
    from rest_framework.views import exception_handler as drf_exception_handler

    if integrity.is_lost_race(exc):
        again = run_again(exc, context)
        if again is not None:
            return again
    if isinstance(exc, IntegrityError):
        exc = integrity.refusal(exc)
    if isinstance(exc, ActionRefused):
        code = status.HTTP_403_FORBIDDEN if exc.is_forbidden else status.HTTP_409_CONFLICT
        return Response(refusal_body(exc), status=code)
    if isinstance(exc, DjangoValidationError):
        exc = DRFValidationError(detail=validation_error_body(exc))
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    response.data = answer_body(exc, response.data, context)
    return response


def answer_body(exc: Exception, data: Any, context: dict) -> dict[str, Any]:
    """The body of an error DRF answered (`data`, its own body) in the one shape."""
    if isinstance(exc, DRFValidationError):
        fields = flat_errors(exc.detail)
        extra = {}
        try:
            existing = existing_duplicate(fields, context)
        except Exception:  # naming the duplicate is a courtesy: the 400 stands without it
            logger.warning("could not look up the object a duplicate names", exc_info=True)
            existing = None
        if existing is not None:
            extra["existing_id"] = existing
        return error_body(exc.default_code, invalid_detail(fields), fields, **extra)
    detail = getattr(exc, "detail", None)
    if isinstance(detail, dict | list):  # an APIException raised with several messages
        fields = flat_errors(detail)
        code = getattr(exc, "default_code", "error")
        return error_body(code, invalid_detail(fields), fields)
    if detail is not None:
        return error_body(getattr(detail, "code", None) or exc.default_code, detail)
    # Http404 and Django's PermissionDenied, which DRF turned into its own exceptions.
    text = data.get("detail", "") if isinstance(data, dict) else str(data)
    code = "not_found" if isinstance(exc, Http404) else "permission_denied"
    return error_body(getattr(text, "code", None) or code, text)


def validation_error_body(exc: DjangoValidationError) -> dict | list:
    """A model's errors as a serializer's: by field, and the model's non-field errors ("__all__")
    under `non_field_errors`, as a serializer's own checks put them."""
    body = serializers.as_serializer_error(exc)
    if isinstance(body, dict) and NON_FIELD_ERRORS in body:
        body[NON_FIELD] = body.pop(NON_FIELD_ERRORS)
    return body


# --- A duplicate create names the object it duplicates ---------------------------------------------
# A client retrying a create (a nightly push, a lost answer) is told which object already holds the
# key, so that it can update it: the message of the model's unique rule is moved to the one key field
# the request gave (`po_code`), coded `unique`, and `existing_id` is the object's id, when the caller
# sees exactly one such object. Fields of the key the request does not give are set by the service from
# the caller: only the caller's own PO is supported (`partner_organization`).

DERIVED_KEY_FIELDS = {"partner_organization"}


def existing_duplicate(fields: dict[str, list[dict[str, str]]], context: dict) -> int | None:
    request, view = context.get("request"), context.get("view")
    if request is None or view is None or request.method not in ("POST", "PUT", "PATCH"):
        return None
    if not isinstance(getattr(request, "data", None), dict) or not integrity.connections_usable():
        return None
    try:
        queryset = view.get_queryset()
    except Exception:  # noqa: BLE001 - a view without a queryset has no duplicate to name
        return None
    for key, errors in list(fields.items()):
        for error in errors:
            match = _unique_key(queryset.model, key, error)
            if match is None:
                continue
            existing = _existing_with_key(queryset, match, request, view)
            if existing is None:
                continue
            given = [name for name in match if name in request.data]
            error["code"] = "unique"
            if key == NON_FIELD and len(given) == 1:  # the message goes to the one key field given
                errors.remove(error)
                if not errors:
                    del fields[key]
                fields.setdefault(given[0], []).insert(0, error)
            return existing
    return None


def _unique_key(model, key: str, error: dict[str, str]) -> tuple[str, ...] | None:
    """The fields of the model's unique key this error reports (None: not a duplicate key)."""
    if key != NON_FIELD:
        field = next((f for f in model._meta.concrete_fields if f.name == key), None)
        if field is not None and field.unique and not field.primary_key and error["code"] == "unique":
            return (key,)
        return None
    for constraint in model._meta.total_unique_constraints:
        if constraint.fields and str(constraint.get_violation_error_message()) == error["message"]:
            return tuple(constraint.fields)
    return None


def _existing_with_key(queryset, key: tuple[str, ...], request, view) -> int | None:
    lookup: dict[str, Any] = {}
    serializer_fields = view.get_serializer().fields if hasattr(view, "get_serializer") else {}
    for name in key:
        if name in request.data:
            field = serializer_fields.get(name)
            if field is None or field.read_only or (field.source and field.source != name):
                return None
            try:
                lookup[name] = field.to_internal_value(request.data[name])
            except (DRFValidationError, DjangoValidationError, TypeError, ValueError):
                return None
        elif name in DERIVED_KEY_FIELDS and getattr(request.user, "partner_organization_id", None):
            lookup[f"{name}_id"] = request.user.partner_organization_id
        else:
            return None
    instance = getattr(view, "kwargs", {}).get("pk")
    candidates = queryset.filter(**lookup)
    if instance is not None:
        candidates = candidates.exclude(pk=instance)
    found = list(candidates.values_list("pk", flat=True)[:2])
    return found[0] if len(found) == 1 else None


def run_again(exc: Exception, context) -> Response | None:
    """The answer to a request that lost a race to a concurrent identical one (see core.integrity):
    its handler runs once more. The first run was rolled back (services write inside one transaction,
    and the database refused the write), so the second one runs every check again, serializer and
    service alike, and they now see the row the other request committed: the client gets exactly
    what an ordinary duplicate gets (400 by field, or 409 with the reason), or the object if that
    row is gone meanwhile.

    None when it cannot run again (it already did, or the error doomed the transaction it runs in):
    the caller then answers a database violation with `integrity.refusal()` (409 "conflict", or 400),
    never a 500."""
    request, view = context.get("request"), context.get("view")
    if request is None or getattr(request, "_integrity_retried", False):
        return None
    handler = getattr(view, request.method.lower(), None)
    if handler is None or not integrity.connections_usable():
        return None
    request._integrity_retried = True
    if isinstance(exc, IntegrityError):
        integrity.log_race(exc, f"{request.method} {request.path}: running it again")
    try:
        return handler(request, *context.get("args", ()), **context.get("kwargs", {}))
    except Exception as again:  # answered as the first run's would be
        response = exception_handler(again, context)
        if response is None:
            raise
        return response


class FieldErrorSerializer(serializers.Serializer):
    """One problem with one field (or with the request as a whole, under `non_field_errors`)."""

    code = serializers.CharField(
        help_text=_lazy("A stable machine code: `required`, `invalid`, `max_length`, `unique`, ...")
    )
    message = serializers.CharField(
        help_text=_lazy("The problem, in one sentence in the request's language.")
    )


class ItemErrorSerializer(serializers.Serializer):
    """One problem with one item of a bulk request."""

    index = serializers.IntegerField(help_text=_lazy("The item's position in the request, from 0."))
    field = serializers.CharField(help_text=_lazy("The item's field, or `non_field_errors`."))
    code = serializers.CharField()
    message = serializers.CharField()


class ErrorBodySerializer(serializers.Serializer):
    """The body of every error answer of the API (4xx and 5xx)."""

    code = serializers.CharField(
        help_text=_lazy(
            "A stable machine code: `invalid`, `parse_error`, `unknown_parameter`, `not_authenticated`, "
            "`authentication_failed`, `permission_denied`, `forbidden`, `not_found`, `throttled`, a refused "
            "action's own code (`wrong_state`, `incomplete`, `deadline_passed`, ...), ..."
        )
    )
    detail = serializers.CharField(
        help_text=_lazy("What went wrong, in one sentence in the request's language.")
    )
    fields = serializers.DictField(
        child=serializers.ListField(child=FieldErrorSerializer()),
        help_text=_lazy(
            "Each problem by field: nested fields by dotted path (`budget_lines.3.amount`), problems not "
            "about one field under `non_field_errors`; empty when no field is concerned."
        ),
    )
    existing_id = serializers.IntegerField(
        required=False,
        help_text=_lazy("A duplicate of a unique key: the id of the object that already holds it."),
    )
    items = serializers.ListField(
        child=ItemErrorSerializer(),
        required=False,
        help_text=_lazy("A bulk request: each problem by the item's position."),
    )
    request_id = serializers.CharField(
        required=False, help_text=_lazy("A server error: the request's id, to quote when reporting it.")
    )


# The error body by the name the views use.
ErrorSerializer = ErrorBodySerializer


# --- Related objects: only what the viewer may see ------------------------------------------------
# Every writable relation of a serializer, every filter on a related object and every form the
# browsable API draws offers and accepts only what the requesting user may see (core.visibility):
# another PO's id, a draft call's, a meeting one does not sit on answer exactly as an id that does
# not exist, and no form lists them.


def writable_relations(fields) -> list[serializers.RelatedField]:
    """The writable relations among a serializer's `fields` (the child of a `many=True` one)."""
    found = []
    for field in fields.values():
        relation = field.child_relation if isinstance(field, serializers.ManyRelatedField) else field
        if (
            isinstance(relation, serializers.RelatedField)
            and not relation.read_only
            and relation.queryset is not None
        ):
            found.append(relation)
    return found


def scope_relations(fields, user) -> None:
    """Narrow each writable relation of `fields` to the objects `user` may see."""
    for relation in writable_relations(fields):
        relation.queryset = visibility.narrowed(relation.queryset.all(), user)


class ScopedRelations:
    """Serializer mixin: its writable relations offer and accept only what the requesting user
    (`context["request"]`) may see; without a request, only reference data."""

    def get_fields(self):
        fields = super().get_fields()
        request = self.context.get("request")
        scope_relations(fields, getattr(request, "user", None))
        return fields


class ScopedFilterBackend(DjangoFilterBackend):
    """django-filter for the API, with every filter on a related object narrowed to what the user may
    see (the filter set's form in the browsable API included): an id that is not yours is refused
    (400) with the same message as one that does not exist."""

    def get_filterset(self, request, queryset, view):
        filterset = super().get_filterset(request, queryset, view)
        if filterset is not None:
            visibility.scope_filterset(filterset, request.user)
        return filterset


class ScopedBrowsableAPIRenderer(BrowsableAPIRenderer):
    """The browsable API, whose forms list only what the user may see, whatever the serializer."""

    def render_form_for_serializer(self, serializer):
        request = self.renderer_context.get("request") if getattr(self, "renderer_context", None) else None
        if isinstance(serializer, serializers.Serializer):
            _scope_nested(serializer, getattr(request, "user", None))
        return super().render_form_for_serializer(serializer)

    def render(self, data, accepted_media_type=None, renderer_context=None):
        self.renderer_context = renderer_context or {}
        return super().render(data, accepted_media_type, renderer_context)


def _scope_nested(serializer: serializers.Serializer, user) -> None:
    scope_relations(serializer.fields, user)
    for field in serializer.fields.values():
        child = field.child if isinstance(field, serializers.ListSerializer) else field
        if isinstance(child, serializers.Serializer):
            _scope_nested(child, user)
