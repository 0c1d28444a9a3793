"""API of the results framework: indicators with targets, latest values, breakdowns and history (read
from snapshots), and aggregation runs (trigger one, follow its status)."""

from __future__ import annotations

import copy
from decimal import Decimal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import examples
from core.models import PartnerOrganization
from core.permissions import ReadScopedWritePMU, has_role, sees_whole_programme
from core.roles import Role
from monitoring import aggregation, dashboard, outcomes
from monitoring.models import (
    AggregationRun,
    Dimension,
    Indicator,
    IndicatorValue,
    Milestone,
    OutcomeValue,
    RunStatus,
    RunTrigger,
)
from smart_portal.api import ErrorSerializer


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


class BreakdownsSerializer(serializers.Serializer):
    """An indicator's values by group, one list per breakdown (largest first). A breakdown is left out
    when the snapshot has no figure for it (e.g. `po` for PO staff, who see their own PO only)."""

    business_area = ValueSerializer(many=True, required=False)
    sector = ValueSerializer(many=True, required=False)
    sub_sector = ValueSerializer(many=True, required=False)
    division = ValueSerializer(many=True, required=False)
    district = ValueSerializer(many=True, required=False)
    po = ValueSerializer(many=True, required=False, help_text=_("By Partner Organization (code)."))
    gender = ValueSerializer(many=True, required=False, help_text=_("By the owner's gender."))
    climate = ValueSerializer(many=True, required=False, help_text=_("In climate-vulnerable areas or not."))


class PointSerializer(serializers.Serializer):
    as_of = serializers.DateField()
    value = serializers.DecimalField(max_digits=18, decimal_places=4)


class LatestSerializer(serializers.Serializer):
    as_of = serializers.DateField(help_text="The date of the snapshot the value comes from.")
    requested_as_of = serializers.DateField(
        allow_null=True,
        help_text="The date asked for (`as_of`), if any: the snapshot is the latest on or before it.",
    )
    computed_at = serializers.DateTimeField()
    value = serializers.DecimalField(max_digits=18, decimal_places=4)
    target = serializers.DecimalField(max_digits=18, decimal_places=2, allow_null=True)
    target_basis = serializers.ChoiceField(
        choices=["programme", "po_commitment", ""],
        help_text=(
            "What `target` is: the programme's end-of-project target, or (for one PO) what the PO "
            "committed to in its approved proposals; empty when there is nothing to compare with."
        ),
    )
    percent_of_target = serializers.FloatField(allow_null=True)
    percent_of_programme_target = serializers.FloatField(
        allow_null=True, help_text="For one PO only: its figure as a share of the programme's target."
    )


class IndicatorSerializer(serializers.ModelSerializer):
    milestones = MilestoneSerializer(many=True, read_only=True)
    parent = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    latest = serializers.SerializerMethodField()

    class Meta:
        model = Indicator
        fields = [
            "code", "name", "definition", "level", "unit", "target", "parent", "baseline_value",
            "baseline_date", "data_source", "frequency", "responsible_unit", "milestones", "latest",
                                                                                           "updated_at",
        ]  # fmt: skip
        read_only_fields = ["code", "name", "definition", "unit", "parent"]

    def validate(self, attrs):
        """The model's rules (a baseline goes with its date), as the page's form applies them."""
        indicator = copy.copy(self.instance) if self.instance else Indicator()
        for name, value in attrs.items():
            setattr(indicator, name, value)
        try:
            indicator.clean()
        except DjangoValidationError as exc:
            raise ValidationError(exc.message_dict) from exc
        return attrs

    @extend_schema_field(LatestSerializer(allow_null=True))
    def get_latest(self, indicator: Indicator) -> dict | None:
        as_of: dashboard.AsOf | None = self.context.get("as_of")
        if as_of is None or as_of.snapshot is None:
            return None
        po = self.context.get("po")
        latest = self.context.get("latest", {}).get(indicator.pk)
        if latest is None:
            if po is None:
                return None  # a snapshot computed before the indicator existed
            latest = Decimal(0)  # a PO without any figure for it has none of it, as on its dashboard
        progress = dashboard.progress(
            indicator, latest, po_id=po.pk if po else None, commitments=self.context.get("commitments")
        )
        return LatestSerializer(
            {
                "as_of": as_of.snapshot.as_of,
                "requested_as_of": as_of.requested,
                "computed_at": as_of.snapshot.computed_at,
                "value": latest,
                "target": progress.target,
                "target_basis": progress.basis,
                "percent_of_target": progress.percent,
                "percent_of_programme_target": dashboard.programme_share(indicator, latest) if po else None,
            }
        ).data


@extend_schema_serializer(examples=examples.INDICATOR_DETAIL)
class IndicatorDetailSerializer(IndicatorSerializer):
    breakdowns = serializers.SerializerMethodField()
    history = serializers.SerializerMethodField()

    class Meta(IndicatorSerializer.Meta):
        fields = [*IndicatorSerializer.Meta.fields, "breakdowns", "history"]

    @extend_schema_field(BreakdownsSerializer)
    def get_breakdowns(self, indicator: Indicator) -> dict[str, list]:
        rows: dict[str, list] = {}
        for value in self.context.get("breakdown_values", []):
            rows.setdefault(value.dimension, []).append(value)
        return BreakdownsSerializer(rows).data

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
    OpenApiParameter(
        "as_of",
        OpenApiTypes.DATE,
        description=(
            "Any date from the programme start: the figures of the latest snapshot on or before it "
            "(`latest.as_of` says which). If none exists yet, a run for that date is queued and the "
            "answer is 202 with the run to follow. Default: the latest snapshot."
        ),
    ),
    OpenApiParameter(
        "po",
        OpenApiTypes.STR,
        description="A PO code: that PO's figures (programme-wide roles; PO staff always get their own).",
    ),
]


@extend_schema_serializer(many=False)  # one object, also when a list answers 202
class ComputingSerializer(serializers.Serializer):
    detail = serializers.CharField()
    run = serializers.IntegerField()
    status = serializers.ChoiceField(choices=RunStatus.choices)
    requested_as_of = serializers.DateField()


class AsOfScopeMixin:
    """The scope (programme or one PO) and the snapshot answering `?as_of=` (monitoring.dashboard)."""

    po_not_found = True  # an unknown PO, or another PO's code asked by PO staff, answers 404

    def scope(self) -> tuple[PartnerOrganization | None, dashboard.AsOf]:
        if not hasattr(self, "_scope"):
            code = self.request.query_params.get("po")
            po = dashboard.scope_po(self.request.user, code)
            if code and (po is None or po.code != code):
                raise NotFound  # PO staff asking for another PO's figures: as if it did not exist
            try:
                requested = dashboard.parse_as_of(self.request.query_params.get("as_of"))
            except DjangoValidationError as exc:
                raise ValidationError({"as_of": exc.messages}) from exc
            self._scope = (po, dashboard.snapshot_as_of(requested, user=self.request.user))
        return self._scope

    def computing_response(self) -> Response | None:
        """202 while the figures of the date asked for are still being computed."""
        _po, as_of = self.scope()
        if as_of.snapshot is not None or as_of.run is None:
            return None
        body = {
            "detail": as_of.note,
            "run": as_of.run.pk,
            "status": as_of.run.status,
            "requested_as_of": as_of.requested,
        }
        # Queued or running: accepted, come back. Skipped (another run held the lock) or failed:
        # nothing is being computed for it now; asking again starts a new run.
        computing = as_of.run.status in (RunStatus.QUEUED, RunStatus.RUNNING)
        code = status.HTTP_202_ACCEPTED if computing else status.HTTP_409_CONFLICT
        return Response(body, status=code, headers={"Retry-After": "30"})


class IndicatorViewSet(
    AsOfScopeMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """The results framework: each indicator's level, baseline, targets, data source, frequency and
    responsible unit, with its value as of a date (read from stored snapshots only). The detail adds
    every breakdown and the history of totals. PMU officers edit the framework columns (`PATCH`)."""

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

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if self.request is None or getattr(self, "swagger_fake_view", False):
            return context
        if self.request.method not in ("GET", "HEAD"):
            return context
        po, as_of = self.scope()
        context.update({"po": po, "as_of": as_of, "latest": {}})
        if po is not None:
            context["commitments"] = dashboard.po_commitments(
                po.pk, as_of.snapshot.as_of if as_of.snapshot else None
            )
        snapshot = as_of.snapshot
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
                {"as_of": day, "value": value}
                for day, value in dashboard.trend(code, po_code=po.code if po else None, until=snapshot.as_of)
            ]
        return context

    @extend_schema(
        parameters=SCOPE_PARAMETERS, responses={200: IndicatorSerializer(many=True), 202: ComputingSerializer}
    )
    def list(self, request, *args, **kwargs):
        return self.computing_response() or super().list(request, *args, **kwargs)

    @extend_schema(
        parameters=SCOPE_PARAMETERS, responses={200: IndicatorDetailSerializer, 202: ComputingSerializer}
    )
    def retrieve(self, request, *args, **kwargs):
        self.get_object()  # an unknown code is a 404 before anything is computed
        return self.computing_response() or super().retrieve(request, *args, **kwargs)


class AggregationRunSerializer(serializers.ModelSerializer):
    duration_seconds = serializers.FloatField(read_only=True, allow_null=True)
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = AggregationRun
        fields = [
            "id", "as_of", "status", "trigger", "requested_by", "requested_at", "started_at", "heartbeat_at",
            "finished_at", "duration_seconds", "rows_written", "error",
                                                               "updated_at",
        ]  # fmt: skip
        read_only_fields = [name for name in fields if name != "as_of"]
        extra_kwargs = {"as_of": {"required": False}}

    def validate_as_of(self, value):
        try:
            dashboard.check_results_date(value)
        except DjangoValidationError as exc:
            raise ValidationError(exc.messages) from exc
        return value


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

    @extend_schema(
        request=None,
        responses={
            202: AggregationRunSerializer,
            403: ErrorSerializer,
            404: OpenApiResponse(description="Not found."),
            409: ErrorSerializer,
        },
    )
    @action(detail=True, methods=["post"], url_path="run-again")
    def run_again(self, request: Request, pk=None) -> Response:
        """PMU: a new run for the date of this run, which `failed` or was `skipped` (409 otherwise);
        answers 202 with the new run to follow."""
        run = aggregation.run_again(self.get_object(), trigger=RunTrigger.API, user=request.user)
        return Response(self.get_serializer(run).data, status=status.HTTP_202_ACCEPTED)


class OutcomeRowSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    mes = serializers.IntegerField(help_text="MEs with a baseline and a later reading of this KPI.")
    mes_improved = serializers.IntegerField()
    baseline_total = serializers.DecimalField(max_digits=20, decimal_places=3, allow_null=True)
    latest_total = serializers.DecimalField(max_digits=20, decimal_places=3, allow_null=True)
    improvement = serializers.DecimalField(
        max_digits=20,
        decimal_places=3,
        allow_null=True,
        help_text="Positive is better (a saving, or a gain); null for concentrations.",
    )


class OutcomeSectionSerializer(serializers.Serializer):
    quantity = serializers.CharField(help_text="A KPI code, or CO2E for emissions avoided.")
    name = serializers.CharField()
    unit = serializers.CharField()
    adds_up = serializers.BooleanField()
    rows = OutcomeRowSerializer(many=True)


@extend_schema_serializer(many=False)  # the list action answers one object (its sections inside)
class OutcomesSerializer(serializers.Serializer):
    as_of = serializers.DateField(allow_null=True, help_text="The snapshot the figures come from.")
    requested_as_of = serializers.DateField(allow_null=True)
    po = serializers.CharField(allow_null=True)
    breakdown = serializers.ChoiceField(choices=outcomes.OUTCOME_DIMENSIONS)
    rule = serializers.CharField()
    outcomes = OutcomeSectionSerializer(many=True)


class OutcomeViewSet(AsOfScopeMixin, viewsets.GenericViewSet):
    """Environmental outcomes of the KPI readings (baseline vs latest per ME, summed), as of a date,
    in total or by `breakdown` (sector, business_area, district, po), for the programme or one PO."""

    permission_classes = [PMUWrites]
    pagination_class = None
    serializer_class = OutcomesSerializer

    def get_queryset(self):
        return OutcomeValue.objects.none()

    @extend_schema(
        parameters=[
            *SCOPE_PARAMETERS,
            OpenApiParameter("breakdown", OpenApiTypes.STR, enum=list(outcomes.OUTCOME_DIMENSIONS)),
        ],
        responses={200: OutcomesSerializer, 202: ComputingSerializer},
    )
    def list(self, request: Request, *args, **kwargs) -> Response:
        breakdown = request.query_params.get("breakdown") or Dimension.TOTAL
        if breakdown not in outcomes.OUTCOME_DIMENSIONS:
            raise ValidationError({"breakdown": f"Choose one of: {', '.join(outcomes.OUTCOME_DIMENSIONS)}."})
        po, as_of = self.scope()
        if po is not None and breakdown == Dimension.PARTNER_ORGANIZATION:
            raise ValidationError({"breakdown": "A PO's figures have no breakdown by PO."})
        computing = self.computing_response()
        if computing is not None:
            return computing
        sections = outcomes.stored(as_of.snapshot, po_id=po.pk if po else None, dimension=breakdown)
        body = {
            "as_of": as_of.snapshot.as_of if as_of.snapshot else None,
            "requested_as_of": as_of.requested,
            "po": po.code if po else None,
            "breakdown": breakdown,
            "rule": " ".join(str(sentence) for sentence in outcomes.RULE),
            "outcomes": [
                {
                    "quantity": s.quantity,
                    "name": s.name,
                    "unit": s.unit,
                    "adds_up": s.adds_up,
                    "rows": OutcomeRowSerializer(s.rows, many=True).data,
                }
                for s in sections
            ],
        }
        return Response(OutcomesSerializer(body).data)
