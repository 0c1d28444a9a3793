"""API of the exclusion list (`exclusion-items`) and of the PMU's E&S review (`es-reviews`).

Answers: 400 a field breaks a rule (the body names it); 403 the role may not do it (the exclusion list
is written by PMU officers and E&S officers only; a decision needs the E&S officer role); 404 not
found or not visible (the review of another PO's proposal); 409 not possible now, with the reason.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response

from core.lifecycle.api import TransitionRequestSerializer, add_transition_actions
from safeguards import exclusions, reviews
from safeguards.api import review_serializers as s
from safeguards.models import EsReview, ExclusionItem
from smart_portal.api import ErrorSerializer
from verification.permissions import Allowed

REFUSED = {
    400: OpenApiResponse(description=gettext_lazy("A field breaks a rule; the body names it.")),
    403: OpenApiResponse(ErrorSerializer, description=gettext_lazy("Your role may not do this.")),
    404: OpenApiResponse(description=gettext_lazy("Not found, or not visible to you.")),
    409: OpenApiResponse(ErrorSerializer, description=gettext_lazy("Not possible now; the body says why.")),
}


def signed_in(user) -> bool:
    return bool(user.is_authenticated)


@extend_schema_view(
    create=extend_schema(responses={201: s.ExclusionItemSerializer, **REFUSED}),
    update=extend_schema(responses={200: s.ExclusionItemSerializer, **REFUSED}),
    partial_update=extend_schema(responses={200: s.ExclusionItemSerializer, **REFUSED}),
)
class ExclusionItemViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """The exclusion list: activities the programme never finances. Anyone signed in reads it; PMU
    officers and E&S officers (belonging to no PO) add and edit items. An item is never deleted:
    `PATCH {"active": false}` retires it (it stays on record for what named it). Filter: `active`."""

    serializer_class = s.ExclusionItemSerializer
    permission_classes = [Allowed.to(signed_in, exclusions.may_manage_exclusions)]
    parser_classes = [JSONParser]
    filterset_fields = ["active"]
    search_fields = ["name", "code"]

    def get_queryset(self):
        return ExclusionItem.objects.visible_to(self.request.user).order_by("position", "name", "pk")

    def create(self, request: Request, *args, **kwargs) -> Response:
        payload = self.get_serializer(data=request.data)
        payload.is_valid(raise_exception=True)
        item = exclusions.create_item(user=request.user, data=dict(payload.validated_data))
        return Response(self.get_serializer(item).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args, **kwargs) -> Response:
        item = self.get_object()
        payload = self.get_serializer(item, data=request.data, partial=kwargs.get("partial", False))
        payload.is_valid(raise_exception=True)
        updated = exclusions.update_item(user=request.user, item=item, data=dict(payload.validated_data))
        return Response(self.get_serializer(updated).data)


class EsReviewViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The PMU's E&S review of each high-risk proposal, opened when the proposal is submitted (and
    sent back to `pending` when it is submitted again). Read by the PMU, E&S officers, the Bank and
    PKSF approvers; a PO's staff read their own PO's. Decisions (`clear`, `clear-with-conditions`
    with `conditions`, `not-clear` with a comment) are taken by E&S officers belonging to no PO.
    Filter: `status`."""

    serializer_class = s.EsReviewSerializer
    permission_classes = [Allowed.to(reviews.may_read_reviews, signed_in)]
    parser_classes = [JSONParser]
    filterset_fields = ["status"]
    ordering_fields = ["status_changed_at", "created_at"]

    def get_queryset(self):
        return (
            EsReview.objects.visible_to(self.request.user)
            .select_related("proposal__partner_organization", "decided_by")
            .prefetch_related("conditions")
            .order_by("status_changed_at", "pk")
        )


add_transition_actions(
    EsReviewViewSet,
    EsReview,
    lambda rule: (
        s.ClearWithConditionsSerializer
        if rule.action == "clear_with_conditions"
        else TransitionRequestSerializer
    ),
)
