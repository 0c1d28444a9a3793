"""Scorecard API: `scorecards` (list, read; filters `quarter_end`, `partner_organization` (code); a PO's
staff see their own PO's only; `POST /scorecards/recompute/` queues the computation) and
`scorecard-weights` (the PMU's side reads them; a PMU officer changes one, `PATCH
/scorecard-weights/<measure>/`, or all eight, `PUT /scorecard-weights/all/`).

Answers: 400 a field breaks a rule (the body names it); 403 the role may not do it; 404 not found or
not visible (another PO's scorecard).
"""

from __future__ import annotations

import django_filters
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response

from core.models import PartnerOrganization
from finance import scorecards
from finance.api import scorecard_serializers as s
from finance.models.scorecards import Scorecard, ScorecardWeight
from smart_portal.api import ErrorSerializer
from verification.permissions import Allowed

REFUSED = {
    400: OpenApiResponse(description="A field breaks a rule; the body names it."),
    403: OpenApiResponse(ErrorSerializer, description="Your role may not do this."),
    404: OpenApiResponse(description="Not found, or not visible to you."),
}


class ScorecardFilter(django_filters.FilterSet):
    quarter_end = django_filters.DateFilter(label=_("Quarter ending (YYYY-MM-DD)"))
    partner_organization = django_filters.ModelChoiceFilter(
        queryset=PartnerOrganization.objects.all(), to_field_name="code", label=_("PO")
    )

    class Meta:
        model = Scorecard
        fields = ["quarter_end", "partner_organization"]


class ScorecardViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """PO scorecards, newest quarter first, each with its measures (value, target, score 0-100 or null
    when the measure does not apply, weight), its composite (with the weights in force now) and its
    rank among the POs of that quarter. The PMU's side sees every PO's; a PO's staff their own."""

    serializer_class = s.ScorecardSerializer
    permission_classes = [Allowed.to(scorecards.may_read, scorecards.may_recompute)]
    filterset_class = ScorecardFilter
    ordering_fields = ["quarter_end"]
    parser_classes = [JSONParser]

    def get_queryset(self):
        return scorecards.visible_scorecards(self.request.user).order_by(
            "-quarter_end", "partner_organization__code"
        )

    def list(self, request: Request, *args, **kwargs) -> Response:
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        cards = list(page if page is not None else queryset)
        context = {**self.get_serializer_context(), "quarters": {card.quarter_end for card in cards}}
        data = self.get_serializer_class()(cards, many=True, context=context).data
        return self.get_paginated_response(data) if page is not None else Response(data)

    @extend_schema(request=None, responses={202: OpenApiResponse(description="Recomputing."), **REFUSED})
    @action(detail=False, methods=["post"])
    def recompute(self, request: Request) -> Response:
        """PMU officers and the PMU's finance officers: recompute the scorecards of the last complete
        quarter and of the current quarter to date (a background task)."""
        scorecards.request_recompute(request.user)
        return Response(status=status.HTTP_202_ACCEPTED)


class ScorecardWeightViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.UpdateModelMixin, viewsets.GenericViewSet
):
    """The weights of the scorecard measures in the composite (0-100 each, at least one above 0): read
    by the PMU's side, changed by PMU officers (each change kept in the history). The composite is
    computed when read, so a change re-ranks every quarter at once."""

    serializer_class = s.ScorecardWeightSerializer
    permission_classes = [Allowed.to(scorecards.may_rank, scorecards.may_set_weights)]
    lookup_field = "measure"
    parser_classes = [JSONParser]
    pagination_class = None
    filter_backends: list = []

    def get_queryset(self):
        return ScorecardWeight.objects.select_related("updated_by").order_by("pk")

    @extend_schema(
        request=s.ScorecardWeightSerializer, responses={200: s.ScorecardWeightSerializer, **REFUSED}
    )
    def update(self, request: Request, *args, **kwargs) -> Response:
        """Change one measure's weight."""
        weight = self.get_object()
        payload = self.get_serializer(weight, data=request.data, partial=kwargs.get("partial", False))
        payload.is_valid(raise_exception=True)
        wanted = scorecards.current_weights()
        wanted[weight.measure] = payload.validated_data.get("weight", weight.weight)
        scorecards.set_weights(request.user, wanted)
        return Response(self.get_serializer(self.get_queryset().get(pk=weight.pk)).data)

    @extend_schema(
        request=s.WeightsSerializer, responses={200: s.ScorecardWeightSerializer(many=True), **REFUSED}
    )
    @action(detail=False, methods=["put"], url_path="all")
    def set_all(self, request: Request) -> Response:
        """Set all eight weights at once."""
        payload = s.WeightsSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        scorecards.set_weights(request.user, dict(payload.validated_data))
        return Response(self.get_serializer(self.get_queryset(), many=True).data)
