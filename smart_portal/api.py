"""API plumbing shared by every app: pagination, the one mapping of domain errors to HTTP, and the
scoping of related objects (writable relations, filters, browsable forms) to what the user may see."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError as DRFValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.renderers import BrowsableAPIRenderer
from rest_framework.response import Response

from core import visibility
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
    - the rest (serializer errors, 401, Http404, PermissionDenied, ...) as DRF answers them."""
    # Imported here: rest_framework.views reads the renderer settings, which name this module.
    from rest_framework.views import exception_handler as drf_exception_handler

    if isinstance(exc, ActionRefused):
        code = status.HTTP_403_FORBIDDEN if exc.is_forbidden else status.HTTP_409_CONFLICT
        return Response({"detail": str(exc.message), "code": exc.code}, status=code)
    if isinstance(exc, DjangoValidationError):
        exc = DRFValidationError(detail=serializers.as_serializer_error(exc))
    return drf_exception_handler(exc, context)


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
