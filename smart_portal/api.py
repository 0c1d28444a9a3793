"""API plumbing shared by every app: pagination, the one mapping of domain errors to HTTP, and the
scoping of related objects (writable relations, filters, browsable forms) to what the user may see."""

from __future__ import annotations

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError as DRFValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.renderers import BrowsableAPIRenderer
from rest_framework.response import Response
from rest_framework.settings import api_settings

from core import integrity, visibility
from core.errors import ActionRefused


class StandardPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


def exception_handler(exc, context):
    """The one mapping of domain errors to HTTP answers, for every API view:

    - a refused business action (`ActionRefused`) is a 409 Conflict with its reason and code, or a
      403 when the refusal is about who asks (`Forbidden`): `{"detail": ..., "code": ...}`;
    - a rule broken inside a model or a service (Django's `ValidationError`) is a 400 naming the
      fields, as a serializer's errors are: `{"field": ["..."], "non_field_errors": ["..."]}`;
    - a constraint the database enforces (`IntegrityError`: a concurrent identical request committed
      first) is answered as the same request a moment later would be: see `run_again`;
    - the rest (serializer errors, 401, Http404, PermissionDenied, ...) as DRF answers them;
      anything else is a 500, answered in JSON by smart_portal.middleware.ErrorAnswersMiddleware."""
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
        return Response({"detail": str(exc.message), "code": exc.code}, status=code)
    if isinstance(exc, DjangoValidationError):
        exc = DRFValidationError(detail=validation_error_body(exc))
    return drf_exception_handler(exc, context)


def validation_error_body(exc: DjangoValidationError) -> dict | list:
    """A model's errors as a serializer's: by field, and the model's non-field errors ("__all__")
    under `non_field_errors`, as a serializer's own checks put them."""
    body = serializers.as_serializer_error(exc)
    if isinstance(body, dict) and NON_FIELD_ERRORS in body:
        body[api_settings.NON_FIELD_ERRORS_KEY] = body.pop(NON_FIELD_ERRORS)
    return body


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


class ErrorSerializer(serializers.Serializer):
    """The body of a 403 or 409 answer: a human-readable reason and a stable code."""

    detail = serializers.CharField()
    code = serializers.CharField(required=False)


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
