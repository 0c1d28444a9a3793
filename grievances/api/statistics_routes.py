"""API of the grievance statistics: GET /api/v1/grievance-statistics/?quarter=2026Q3[&to=2026Q4]
answers the period's figures (one object, not a list), by the rules of grievances.statistics, like
the page and its XLSX export. Counts only: no names or text. Who may ask:
grievances.statistics.may_see_statistics; anyone else 403; a badly written quarter 400."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from grievances import statistics
from grievances.statistics import Period
from smart_portal.api import ErrorSerializer


class MaySeeStatistics(BasePermission):
    def has_permission(self, request, view) -> bool:
        return statistics.may_see_statistics(request.user)


class GrievanceFiguresSerializer(serializers.Serializer):
    received = serializers.IntegerField(help_text="Grievances received within the period.")
    resolved = serializers.IntegerField(
        help_text="Grievances whose resolution was proposed (resolved_at) within the period, "
        "whenever received."
    )
    resolved_in_time = serializers.IntegerField(
        help_text="Of those resolved, the ones resolved at most GRIEVANCE_RESOLVE_DAYS (`resolve_days`) days "
        "after they were received."
    )
    resolved_in_time_percent = serializers.FloatField(
        allow_null=True, help_text="resolved_in_time / resolved, in percent; null when nothing was resolved."
    )
    average_days_to_resolve = serializers.FloatField(
        allow_null=True,
        help_text="Mean days from receipt to resolution over the grievances resolved in the period; "
        "null if none.",
    )
    open_at_end = serializers.IntegerField(
        help_text="Received before the period's end and not closed by then (awaiting feedback included)."
    )


class GrievanceStatisticsRowSerializer(serializers.Serializer):
    key = serializers.CharField(
        help_text="The stored value: a category, tier number, PO code's id, gender or channel."
    )
    label = serializers.CharField()
    figures = GrievanceFiguresSerializer()


class GrievanceQuarterFiguresSerializer(serializers.Serializer):
    quarter = serializers.CharField(help_text="As YYYYQn.")
    figures = GrievanceFiguresSerializer()


class GrievanceStatisticsSerializer(serializers.Serializer):
    period = serializers.CharField(help_text="The quarter (YYYYQn) or range (YYYYQn-YYYYQn).")
    label = serializers.CharField()
    starts_at = serializers.DateTimeField(help_text="00:00 Asia/Dhaka on the first day of the first quarter.")
    ends_at = serializers.DateTimeField(
        help_text="Exclusive: 00:00 Asia/Dhaka on the first day of the next quarter."
    )
    resolve_days = serializers.IntegerField(
        help_text="The resolution deadline used (GRIEVANCE_RESOLVE_DAYS)."
    )
    totals = GrievanceFiguresSerializer()
    quarters = GrievanceQuarterFiguresSerializer(
        many=True, help_text="The totals of each quarter of a range (empty for one)."
    )
    by_category = GrievanceStatisticsRowSerializer(
        many=True, help_text="SEA/SH cases included, as a count only."
    )
    by_tier = GrievanceStatisticsRowSerializer(
        many=True, help_text="By the grievance's current tier (1 PO, 2 PMU, 3 appeal)."
    )
    by_po = GrievanceStatisticsRowSerializer(
        many=True, help_text="By PO concerned (key empty: no PO, lodged with PKSF)."
    )
    by_gender = GrievanceStatisticsRowSerializer(many=True, help_text="By the complainant's gender.")
    by_channel = GrievanceStatisticsRowSerializer(
        many=True, help_text="By the channel the grievance was received through."
    )


class SingleObjectSchema(AutoSchema):
    """`list` here answers one object (the period's figures), not a page of rows."""

    def _is_list_view(self, serializer=None) -> bool:
        return False


def _row(row: statistics.Row) -> dict:
    return {"key": row.key, "label": row.label, "figures": row.figures.as_dict()}


def statistics_data(period: Period) -> dict:
    from django.conf import settings

    stats = statistics.statistics(period)
    quarters = statistics.by_quarter(period) if period.first != period.last else []
    return {
        "period": str(period),
        "label": period.label,
        "starts_at": period.start,
        "ends_at": period.end,
        "resolve_days": settings.GRIEVANCE_RESOLVE_DAYS,
        "totals": stats.total.as_dict(),
        "quarters": [
            {"quarter": str(quarter), "figures": figures.as_dict()} for quarter, figures in quarters
        ],
        **{f"by_{name}": [_row(row) for row in rows] for name, rows in stats.breakdowns.items()},
    }


class GrievanceStatisticsViewSet(viewsets.ViewSet):
    """Grievance statistics for World Bank missions: per calendar quarter (Asia/Dhaka), received,
    resolved, resolved in time, average days to resolve and open at the end, in total and by category,
    tier, PO, complainant gender and channel. Counts only. PMU officers, World Bank reviewers, PKSF
    approvers and the PMU's grievance and SEA/SH focal points; others 403."""

    permission_classes = [MaySeeStatistics]
    schema = SingleObjectSchema()

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "quarter",
                OpenApiTypes.STR,
                description="The quarter, as YYYYQn (e.g. 2026Q3); default the current one.",
            ),
            OpenApiParameter(
                "to",
                OpenApiTypes.STR,
                description="The last quarter of a range (at most 12 quarters), as YYYYQn.",
            ),
        ],
        responses={
            200: GrievanceStatisticsSerializer,
            400: OpenApiResponse(description="A badly written quarter or range, named by field."),
            403: ErrorSerializer,
        },
    )
    def list(self, request: Request) -> Response:
        try:
            period = Period.parse(request.query_params.get("quarter"), request.query_params.get("to"))
        except DjangoValidationError as exc:
            raise ValidationError({"quarter": exc.messages}) from exc
        return Response(GrievanceStatisticsSerializer(statistics_data(period)).data)


ROUTES = [("grievance-statistics", GrievanceStatisticsViewSet, "grievance-statistics")]
