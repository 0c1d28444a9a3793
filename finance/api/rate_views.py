"""Exchange rates API: `exchange-rates` (list, read; `?on=YYYY-MM-DD` gives the rate valid that day;
`POST` enters a rate and `PATCH` corrects one, for the PMU's finance officers and PMU officers).

Answers: 400 a field breaks a rule (the body names it: a date already taken, a rate not above zero,
a bad `on`); 403 the role may not do it; 404 no such rate; 409 the days are covered by an IFR already
finalised or sent.
"""

from __future__ import annotations

from datetime import date

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response

from finance import rates
from finance.api import rate_serializers as s
from finance.models import ExchangeRate
from smart_portal.api import ErrorSerializer
from verification.permissions import Allowed

REFUSED = {
    400: OpenApiResponse(description="A field breaks a rule; the body names it."),
    403: OpenApiResponse(ErrorSerializer, description="Your role may not do this."),
    409: OpenApiResponse(ErrorSerializer, description="Not possible now; the body says why."),
}


class _OnSerializer(serializers.Serializer):
    on = serializers.DateField(required=False)


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter(
                "on",
                OpenApiTypes.DATE,
                description="Only the rate valid that day (latest `valid_from` on or before it; before the "
                "first rate, the first rate).",
            )
        ]
    )
)
class ExchangeRateViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """BDT per USD by date, newest first. Every USD figure converts each amount at the rate of its own
    day. The PMU's side and PO staff read; the PMU's finance officers and PMU officers enter (`POST`)
    and correct (`PATCH`) rates."""

    serializer_class = s.ExchangeRateSerializer
    permission_classes = [Allowed.to(rates.may_read_rates, rates.may_keep_rates)]
    parser_classes = [JSONParser]
    http_method_names = ["get", "post", "patch", "head", "options"]
    filter_backends: list = []

    def _on(self) -> date | None:
        params = _OnSerializer(data=self.request.query_params)
        params.is_valid(raise_exception=True)
        return params.validated_data.get("on")

    def get_queryset(self) -> QuerySet[ExchangeRate]:
        queryset = ExchangeRate.objects.select_related("created_by").order_by("-valid_from")
        if self.action == "list":
            on = self._on()
            if on is not None:
                in_force = rates.rate_in_force(on)
                return queryset.filter(pk=in_force.pk) if in_force is not None else queryset.none()
        return queryset

    def _saved(self, rate: ExchangeRate, code: int) -> Response:
        rate = self.get_queryset().get(pk=rate.pk)
        rate.warning = rates.jump_warning(rate)  # type: ignore[attr-defined]
        return Response(s.ExchangeRateSavedSerializer(rate).data, status=code)

    @extend_schema(
        request=s.ExchangeRateInputSerializer, responses={201: s.ExchangeRateSavedSerializer, **REFUSED}
    )
    def create(self, request: Request, *args, **kwargs) -> Response:
        """Enter a rate valid from a date. A rate more than 10% away from the previous one is saved and
        answered with a `warning`."""
        payload = s.ExchangeRateInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        rate = rates.add_rate(user=request.user, data=dict(payload.validated_data))
        return self._saved(rate, status.HTTP_201_CREATED)

    @extend_schema(
        request=s.ExchangeRateInputSerializer,
        responses={
            200: s.ExchangeRateSavedSerializer,
            404: OpenApiResponse(description="No such rate."),
            **REFUSED,
        },
    )
    def partial_update(self, request: Request, *args, **kwargs) -> Response:
        """Correct a rate's date, value or source. Date and value cannot change for days an IFR already
        finalised or sent covers (409); the source always can."""
        rate = self.get_object()
        payload = s.ExchangeRateInputSerializer(data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        data = {name: value for name, value in payload.validated_data.items() if name in request.data}
        saved = rates.update_rate(user=request.user, rate=rate, data=data)
        return self._saved(saved, status.HTTP_200_OK)
