"""The yearly milestones of the results framework through the API (`indicator-milestones`): the value
each indicator should reach by the end of a year, as the framework page shows them and the targets
page edits them. Read by whoever reads the framework (programme-wide roles and PO staff); PMU officers
add, change and remove them, through the targets page's form (its year range and the one milestone
per indicator and year)."""

from __future__ import annotations

import django_filters
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers, status, viewsets
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response

from monitoring.api.views import PMUWrites
from monitoring.models import Indicator, Milestone
from smart_portal.api import ErrorSerializer


class IndicatorMilestoneSerializer(serializers.ModelSerializer):
    indicator = serializers.SlugRelatedField(slug_field="code", queryset=Indicator.objects.all())
    year = serializers.IntegerField(help_text=_("A year of the programme, 2023 to 2040."))

    class Meta:
        model = Milestone
        fields = ["id", "indicator", "year", "target"]
        validators = []  # the page's form checks the one milestone per indicator and year


def save_milestone(data: dict, milestone: Milestone | None = None) -> Milestone:
    """Save a milestone through the targets page's form (monitoring.views.dashboard.MilestoneForm):
    its checks and the model's, by field. The caller has checked that the user is a PMU officer."""
    from monitoring.views.dashboard import MilestoneForm

    current = (
        {"indicator": milestone.indicator_id, "year": milestone.year, "target": milestone.target}
        if milestone is not None
        else {}
    )
    given = {**data}
    if "indicator" in given:
        given["indicator"] = given["indicator"].pk
    form = MilestoneForm({**current, **given}, instance=milestone)
    if not form.is_valid():
        raise DjangoValidationError(form.errors.as_data())
    with transaction.atomic():
        return form.save()


class MilestoneFilter(django_filters.FilterSet):
    indicator = django_filters.CharFilter(field_name="indicator__code", help_text=_("An indicator's code."))

    class Meta:
        model = Milestone
        fields = ["indicator", "year"]


WRITE_ANSWERS = {
    400: OpenApiResponse(
        ErrorSerializer,
        description=_("A year outside the programme, a negative target, or a second milestone for the year."),
    ),
    403: OpenApiResponse(ErrorSerializer, description=_("Only PMU officers edit the milestones.")),
}


@extend_schema_view(
    create=extend_schema(responses={201: IndicatorMilestoneSerializer, **WRITE_ANSWERS}),
    update=extend_schema(responses={200: IndicatorMilestoneSerializer, **WRITE_ANSWERS}),
    partial_update=extend_schema(responses={200: IndicatorMilestoneSerializer, **WRITE_ANSWERS}),
)
class IndicatorMilestoneViewSet(viewsets.ModelViewSet):
    """Yearly milestones of the results framework: what each indicator should reach by the end of a
    year (`indicators/<code>/` lists them too). Programme-wide roles and PO staff read them; PMU
    officers add, change and remove them, as on the targets page."""

    serializer_class = IndicatorMilestoneSerializer
    permission_classes = [PMUWrites]
    filterset_class = MilestoneFilter
    parser_classes = [JSONParser]
    ordering_fields = ["year"]

    def get_queryset(self):
        return Milestone.objects.select_related("indicator").order_by("indicator__position", "year")

    def create(self, request: Request, *args, **kwargs) -> Response:
        payload = self.get_serializer(data=request.data)
        payload.is_valid(raise_exception=True)
        milestone = save_milestone(dict(payload.validated_data))
        return Response(self.get_serializer(milestone).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args, **kwargs) -> Response:
        milestone = self.get_object()
        payload = self.get_serializer(milestone, data=request.data, partial=kwargs.pop("partial", False))
        payload.is_valid(raise_exception=True)
        milestone = save_milestone(dict(payload.validated_data), milestone)
        return Response(self.get_serializer(milestone).data)
