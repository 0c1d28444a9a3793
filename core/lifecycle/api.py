"""The engine in the API: one `POST /api/v1/<resource>/<id>/<action>/` per rule of a table.

Answers, in this order: 403 when the caller may not take the action, 409 with the reason when it is
not possible in the object's current state, 400 with field errors when what was sent is wrong, 409
when a guard refuses; 200 with the object as the resource shows it otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import Model
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core import lifecycle
from core.lifecycle import Rule
from smart_portal.api import ErrorSerializer

REFUSED = {
    403: OpenApiResponse(ErrorSerializer, description="Your role may not take this action."),
    404: OpenApiResponse(description="Not found, or not visible to you."),
    409: OpenApiResponse(ErrorSerializer, description="Not possible in the object's current state."),
}


class TransitionRequestSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="")


def _target_text(rule: Rule) -> str:
    return "(state unchanged)" if rule.target == lifecycle.SAME_STATE else rule.target


def add_transition_actions(
    viewset: type[viewsets.GenericViewSet],
    model: type[Model],
    request_serializer: Callable[[Rule], type[serializers.Serializer]] = lambda rule: (
        TransitionRequestSerializer
    ),
    *,
    request_schema: Callable[[Rule], object] | None = None,
    parser_classes: list | None = None,
    describe: Callable[[Rule], str] | None = None,
) -> None:
    """Add one `@action` per rule of `model`'s table to `viewset`. The request serializer of a rule
    gets the object and the rule in its context; its validated data, less the comment, are the
    action's parameters."""
    for rule in lifecycle.rules_for(model):
        serializer_class = request_serializer(rule)

        def handler(self, request: Request, pk=None, _rule=rule, _serializer=serializer_class) -> Response:
            obj = self.get_object()
            lifecycle.check_may_act(request.user, obj, _rule)
            lifecycle.check_state(obj, _rule, request.user)
            payload = _serializer(
                data=request.data, context={"request": request, "object": obj, "rule": _rule}
            )
            payload.is_valid(raise_exception=True)
            params = dict(payload.validated_data)
            comment = params.pop("comment", "")
            updated = lifecycle.apply(obj, _rule.action, request.user, comment=comment, **params)
            return Response(self.get_serializer(self.get_queryset().get(pk=updated.pk)).data)

        handler.__name__ = rule.action
        handler.lifecycle_rule = rule  # type: ignore[attr-defined]  # who may call it, for the schema
        handler.__doc__ = (
            describe(rule)
            if describe
            else f"{rule.label}: {', '.join(sorted(rule.sources))} → {_target_text(rule)}."
        )
        options: dict[str, Any] = {
            "detail": True,
            "methods": ["post"],
            "url_path": rule.action.replace("_", "-"),
        }
        if parser_classes:
            options["parser_classes"] = parser_classes
        decorated = extend_schema(
            request=request_schema(rule) if request_schema else serializer_class,
            responses={200: viewset.serializer_class, **REFUSED},
            summary=str(rule.label),
        )(action(**options)(handler))
        setattr(viewset, rule.action, decorated)
