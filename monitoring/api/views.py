"""API of the results framework: indicators with targets, latest values, breakdowns and history (read
from snapshots), and aggregation runs (trigger one, follow its status)."""

from __future__ import annotations

from datetime import date

from django.db.models import Prefetch
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from core.models import PartnerOrganization
from core.permissions import ReadScopedWritePMU, has_role, sees_whole_programme
from core.roles import Role
from monitoring import aggregation, dashboard
from monitoring.models import (
    AggregationRun,
    Dimension,
    Indicator,
    IndicatorValue,
    Milestone,
    RunTrigger,
    Snapshot,
)


class MilestoneSerializer(serializers.ModelSerializer):
    class Meta:
        model = Milestone
        fields = ["year", "target"]


class ValueSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    value = serializers.DecimalField(max_digits=18, decimal_places=4)
    numerator = serializers.DecimalField(max_digits=18, decimal_places=4, allow_null=True)
    denominator = serializers.DecimalField(max_digits=18, decimal_places=4, allow_null=True)


class PointSerializer(serializers.Serializer):
    as_of = serializers.DateField()
    value = serializers.DecimalField(max_digits=18, decimal_places=4)


class LatestSerializer(serializers.Serializer):
    as_of = serializers.DateField()
    computed_at = serializers.DateTimeField()
    value = serializers.DecimalField(max_digits=18, decimal_places=4)
    percent_of_target = serializers.FloatField(allow_null=True)


class IndicatorSerializer(serializers.ModelSerializer):
    milestones = MilestoneSerializer(many=True, read_only=True)
    parent = serializers.SlugRelatedField(slug_field="code", read_only=True)
    latest = serializers.SerializerMethodField()

    class Meta:
        model = Indicator
        fields = ["code", "name", "definition", "unit", "target", "parent", "milestones", "latest"]
        read_only_fields = ["code", "name", "definition", "unit", "parent"]

    @extend_schema_field(LatestSerializer(allow_null=True))
    def get_latest(self, indicator: Indicator) -> dict | None:
        latest = self.context.get("latest", {}).get(indicator.pk)
        snapshot = self.context.get("snapshot")
        if latest is None or snapshot is None:
            return None
        return LatestSerializer(
            {
                "as_of": snapshot.as_of,
                "computed_at": snapshot.computed_at,
                "value": latest,
                "percent_of_target": dashboard.percent_of(latest, indicator.target),
            }
        ).data


class IndicatorDetailSerializer(IndicatorSerializer):
    breakdowns = serializers.SerializerMethodField()
    history = serializers.SerializerMethodField()

    class Meta(IndicatorSerializer.Meta):
        fields = [*IndicatorSerializer.Meta.fields, "breakdowns", "history"]

    @extend_schema_field(serializers.DictField(child=ValueSerializer(many=True)))
    def get_breakdowns(self, indicator: Indicator) -> dict[str, list]:
        rows: dict[str, list] = {}
        for value in self.context.get("breakdown_values", []):
            rows.setdefault(value.dimension, []).append(ValueSerializer(value).data)
        return rows

    @extend_schema_field(PointSerializer(many=True))
    def get_history(self, indicator: Indicator) -> list[dict]:
        return PointSerializer(self.context.get("history", []), many=True).data


class PMUWrites(ReadScopedWritePMU):
    """Programme-wide roles and PO staff read (each their scope); only PMU officers write."""

    def has_permission(self, request, view) -> bool:
        return super().has_permission(request, view) and (
            sees_whole_programme(request.user) or has_role(request.user, Role.PO_STAFF)
        )


SCOPE_PARAMETERS = [
    OpenApiParameter("as_of", OpenApiTypes.DATE, description="A snapshot date (default: the latest)."),
    OpenApiParameter(
        "po",
        OpenApiTypes.STR,
        description="A PO code: that PO's figures (programme-wide roles; PO staff always get their own).",
    ),
]


class IndicatorViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.UpdateModelMixin, viewsets.GenericViewSet
):
    """The results indicators with their targets, milestones and latest value. The detail adds every
    breakdown of the snapshot and the history of totals. Read from stored snapshots only."""

    serializer_class = IndicatorSerializer
    permission_classes = [PMUWrites]
    lookup_field = "code"
    pagination_class = None

    def get_queryset(self):
        return Indicator.objects.select_related("parent").prefetch_related(
            Prefetch("milestones", queryset=Milestone.objects.order_by("year"))
        )

    def get_serializer_class(self):
        return IndicatorDetailSerializer if self.action == "retrieve" else IndicatorSerializer

    def _scope(self) -> tuple[PartnerOrganization | None, Snapshot | None]:
        code = self.request.query_params.get("po")
        po = dashboard.scope_po(self.request.user, code)
        if code and (po is None or po.code != code):
            raise NotFound  # PO staff asking for another PO's figures: as if it did not exist
        as_of = self.request.query_params.get("as_of")
        if not as_of:
            return po, Snapshot.objects.order_by("-as_of").first()
        try:
            snapshot = Snapshot.objects.filter(as_of=date.fromisoformat(as_of)).first()
        except ValueError as exc:
            raise ValidationError({"as_of": _("Use YYYY-MM-DD.")}) from exc
        if snapshot is None:
            raise NotFound(_("No snapshot for that date."))
        return po, snapshot

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if self.request is None or getattr(self, "swagger_fake_view", False):
            return context
        po, snapshot = self._scope()
        context.update({"po": po, "snapshot": snapshot, "latest": {}})
        if snapshot is None:
            return context
        values = IndicatorValue.objects.for_dashboard(as_of=snapshot.as_of, po_id=po.pk if po else None)
        context["latest"] = dict(
            values.filter(dimension=Dimension.TOTAL).values_list("indicator_id", "value")
        )
        if self.action == "retrieve":
            code = self.kwargs["code"]
            context["breakdown_values"] = list(
                values.filter(indicator__code=code)
                .exclude(dimension=Dimension.TOTAL)
                .order_by("dimension", "-value")
            )
            context["history"] = [
                {"as_of": as_of, "value": value}
                for as_of, value in dashboard.trend(code, po_code=po.code if po else None)
            ]
        return context

    @extend_schema(parameters=SCOPE_PARAMETERS)
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(parameters=SCOPE_PARAMETERS)
    def retrieve(self, request, *args, **kwargs):
        return super().retrieve(request, *args, **kwargs)


class AggregationRunSerializer(serializers.ModelSerializer):
    duration_seconds = serializers.FloatField(read_only=True, allow_null=True)
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = AggregationRun
        fields = [
            "id", "as_of", "status", "trigger", "requested_by", "requested_at", "started_at", "finished_at",
            "duration_seconds", "rows_written", "error",
        ]  # fmt: skip
        read_only_fields = [name for name in fields if name != "as_of"]
        extra_kwargs = {"as_of": {"required": False}}


class AggregationRunViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    """Aggregation runs. `POST` (PMU) queues a run, optionally `as_of` a past date; follow it with `GET`.
    A run requested while another is in progress ends as `skipped`."""

    serializer_class = AggregationRunSerializer
    filterset_fields = ["status", "trigger"]

    def get_permissions(self):
        return [PMUWrites()]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False) or not self.request.user.sees_whole_programme:
            return AggregationRun.objects.none()
        return AggregationRun.objects.select_related("requested_by")

    @extend_schema(responses={202: AggregationRunSerializer})
    def create(self, request: Request, *args, **kwargs) -> Response:
        payload = self.get_serializer(data=request.data)
        payload.is_valid(raise_exception=True)
        run = aggregation.request_run(
            as_of=payload.validated_data.get("as_of"), trigger=RunTrigger.API, user=request.user
        )
        return Response(self.get_serializer(run).data, status=status.HTTP_202_ACCEPTED)
