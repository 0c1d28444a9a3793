"""API plumbing shared by every app: pagination and error mapping."""

from __future__ import annotations

from rest_framework import serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.errors import ActionRefused


class StandardPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


def exception_handler(exc, context):
    """DRF's handler, plus: a refused business action is a 409 Conflict with its reason (403 when
    the refusal is about who is asking rather than about the object's state)."""
    if isinstance(exc, ActionRefused):
        code = status.HTTP_403_FORBIDDEN if exc.code == "forbidden" else status.HTTP_409_CONFLICT
        return Response({"detail": str(exc.message), "code": exc.code}, status=code)
    return drf_exception_handler(exc, context)


class ErrorSerializer(serializers.Serializer):
    """The body of a 403 or 409 answer: a human-readable reason and a stable code."""

    detail = serializers.CharField()
    code = serializers.CharField(required=False)
