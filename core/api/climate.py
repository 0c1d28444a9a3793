"""Climate flags through the API, as the districts reference page shows and edits them: each district
with its flag, its hazards and how many of its upazilas are flagged (`climate-flags`), each upazila's
(`upazila-climate-flags`); PMU officers set them (`PUT`/`PATCH`), through the page's form
(core.climate.set_flags). Reference data: every signed-in role reads them."""

from __future__ import annotations

import django_filters
from django.db.models import Prefetch, QuerySet
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, viewsets
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response

from core import climate
from core.models import ClimateHazard, District, Upazila
from core.permissions import ReadScopedWritePMU
from smart_portal.api import ErrorSerializer

HAZARDS_HELP = _("Hazard codes; only for an area flagged climate-vulnerable.")


class UpazilaFlagSerializer(serializers.ModelSerializer):
    district = serializers.SlugRelatedField(slug_field="pcode", read_only=True)
    climate_hazards = serializers.ListField(
        child=serializers.ChoiceField(ClimateHazard.choices), help_text=HAZARDS_HELP
    )

    class Meta:
        model = Upazila
        fields = ["id", "pcode", "name", "district", "climate_vulnerable", "climate_hazards", "updated_at"]
        read_only_fields = ["id", "pcode", "name", "district", "updated_at"]


class DistrictUpazilaFlagSerializer(serializers.ModelSerializer):
    climate_hazards = serializers.ListField(child=serializers.ChoiceField(ClimateHazard.choices))

    class Meta:
        model = Upazila
        fields = ["id", "pcode", "name", "climate_vulnerable", "climate_hazards"]
        read_only_fields = fields


class DistrictFlagSerializer(serializers.ModelSerializer):
    division = serializers.SlugRelatedField(slug_field="pcode", read_only=True)
    climate_hazards = serializers.ListField(
        child=serializers.ChoiceField(ClimateHazard.choices), help_text=HAZARDS_HELP
    )
    upazila_count = serializers.IntegerField(read_only=True)
    vulnerable_upazilas = serializers.IntegerField(
        read_only=True, help_text=_("How many of its upazilas are flagged climate-vulnerable.")
    )
    upazilas = DistrictUpazilaFlagSerializer(many=True, read_only=True)

    class Meta:
        model = District
        fields = [
            "id",
            "pcode",
            "name",
            "division",
            "climate_vulnerable",
            "climate_hazards",
            "upazila_count",
            "vulnerable_upazilas",
            "upazilas",
            "updated_at",
        ]
        read_only_fields = ["id", "pcode", "name", "division", "updated_at"]


class DistrictFlagFilter(django_filters.FilterSet):
    climate_vulnerable = django_filters.BooleanFilter(
        method="filter_vulnerable",
        help_text=_(
            "true: the districts flagged themselves or through any of their upazilas (as the page's "
            '"climate-vulnerable only"); false: the others.'
        ),
    )
    division = django_filters.CharFilter(field_name="division__pcode", help_text=_("A division's P-code."))

    class Meta:
        model = District
        fields = ["climate_vulnerable", "division"]

    def filter_vulnerable(self, queryset: QuerySet, name: str, value: bool) -> QuerySet:
        vulnerable = climate.vulnerable_only(District.objects.all()).values("pk")
        return queryset.filter(pk__in=vulnerable) if value else queryset.exclude(pk__in=vulnerable)


class UpazilaFlagFilter(django_filters.FilterSet):
    district = django_filters.CharFilter(field_name="district__pcode", help_text=_("A district's P-code."))

    class Meta:
        model = Upazila
        fields = ["district", "climate_vulnerable"]


EDIT_ANSWERS = {
    400: OpenApiResponse(ErrorSerializer, description=_("Hazards for an area not flagged, or unknown.")),
    403: OpenApiResponse(ErrorSerializer, description=_("Only PMU officers set climate vulnerability.")),
    404: OpenApiResponse(ErrorSerializer, description=_("No such area.")),
}


class FlagsViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.UpdateModelMixin, viewsets.GenericViewSet
):
    # Every signed-in role reads (reference data); PMU officers set the flags, as on the page.
    permission_classes = [ReadScopedWritePMU]
    parser_classes = [JSONParser]
    search_fields = ["name", "pcode"]

    def update(self, request: Request, *args, **kwargs) -> Response:
        area = self.get_object()
        partial = kwargs.pop("partial", False)
        payload = self.get_serializer(area, data=request.data, partial=partial)
        payload.is_valid(raise_exception=True)
        climate.set_flags(request.user, area, dict(payload.validated_data))
        return Response(self.get_serializer(self.get_queryset().get(pk=area.pk)).data)


@extend_schema_view(
    update=extend_schema(responses={200: DistrictFlagSerializer, **EDIT_ANSWERS}),
    partial_update=extend_schema(responses={200: DistrictFlagSerializer, **EDIT_ANSWERS}),
)
class ClimateFlagViewSet(FlagsViewSet):
    """Climate vulnerability by district, as the districts reference page shows it: the district's own
    flag and hazards, how many of its upazilas are flagged, and each upazila's. Every signed-in role
    reads it; PMU officers set a district's flag and hazards (`PUT`/`PATCH`; the upazilas' through
    `upazila-climate-flags`). Enterprises inherit their area's flag."""

    serializer_class = DistrictFlagSerializer
    filterset_class = DistrictFlagFilter
    ordering = ["division__name", "name"]

    def get_queryset(self):
        return (
            climate.districts_with_counts()
            .prefetch_related(Prefetch("upazilas", queryset=Upazila.objects.order_by("name")))
            .order_by("division__name", "name")
        )


@extend_schema_view(
    update=extend_schema(responses={200: UpazilaFlagSerializer, **EDIT_ANSWERS}),
    partial_update=extend_schema(responses={200: UpazilaFlagSerializer, **EDIT_ANSWERS}),
)
class UpazilaClimateFlagViewSet(FlagsViewSet):
    """Climate vulnerability of each upazila. Every signed-in role reads it; PMU officers set an
    upazila's flag and hazards (`PUT`/`PATCH`), as on the district's reference page."""

    serializer_class = UpazilaFlagSerializer
    filterset_class = UpazilaFlagFilter

    def get_queryset(self):
        return Upazila.objects.select_related("district").order_by("district__name", "name")
