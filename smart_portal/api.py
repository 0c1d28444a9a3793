"""API plumbing shared by every app: pagination and the one mapping of domain errors to HTTP."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError as DRFValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

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
