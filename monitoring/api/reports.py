"""API of the results reports (request one, follow it, download its file) and of the data-quality
panel. Both call monitoring.reports / monitoring.quality, like the pages."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import FileResponse
from django.utils.translation import gettext as _
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse

from core.models import PartnerOrganization
from monitoring import dashboard, quality, reports
from monitoring.models import ReportFormat, ReportJob, ReportKind, RunStatus
from smart_portal.api import ErrorSerializer


class UsesReports(BasePermission):
    """Programme-wide roles and PO staff; TEC members, verifiers and others get 403."""

    def has_permission(self, request, view) -> bool:
        return bool(request.user.is_authenticated and reports.may_use_reports(request.user))


# --- Results reports ------------------------------------------------------------------------------


# Report jobs are never skipped (only aggregation runs are).
REPORT_STATUSES = [(value, label) for value, label in RunStatus.choices if value != RunStatus.SKIPPED]


class ReportJobSerializer(serializers.ModelSerializer):
    """A report job; the same fields, writable ones only, are the body of `POST` (the request)."""

    kind = serializers.ChoiceField(
        choices=ReportKind.choices,
        help_text="`isr`: the ISR results table (programme); `po`: one PO's report.",
    )
    file_format = serializers.ChoiceField(choices=ReportFormat.choices)
    as_of = serializers.DateField(help_text="The reporting date, from the programme start to today.")
    previous_as_of = serializers.DateField(
        required=False,
        allow_null=True,
        help_text="ISR only: the previous reporting date (default: the last quarter-end before `as_of`).",
    )
    po = serializers.CharField(
        source="partner_organization.code",
        required=False,
        allow_blank=True,
        allow_null=True,
        help_text="PO report: the PO's code (programme-wide roles; PO staff always get their own PO).",
    )
    comments = serializers.DictField(
        child=serializers.CharField(allow_blank=True, max_length=reports.COMMENT_MAX_LENGTH),
        required=False,
        help_text=(
            "ISR only: indicator code → comment, written by PMU officers. Omitted in a request: the "
            "comments of the last report requested for the same `as_of`."
        ),
    )
    status = serializers.ChoiceField(choices=REPORT_STATUSES, read_only=True)
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    download_url = serializers.SerializerMethodField(
        help_text="Where to download the file once `status` is `succeeded`; null before."
    )

    class Meta:
        model = ReportJob
        fields = [
            "id", "kind", "file_format", "as_of", "previous_as_of", "po", "comments", "status",
            "requested_by", "requested_at", "finished_at", "error", "download_url",
                                                                    "updated_at",
        ]  # fmt: skip
        read_only_fields = ["id", "requested_at", "finished_at", "error"]

    def get_download_url(self, job: ReportJob) -> str | None:
        if job.status != RunStatus.SUCCEEDED or not job.file:
            return None
        return reverse("results-report-download", args=[job.pk], request=self.context.get("request"))


class ReportJobFilter(filters.FilterSet):
    # A PO the user may not see is refused (400) as a code that does not exist (ScopedFilterBackend).
    po = filters.ModelChoiceFilter(
        field_name="partner_organization",
        queryset=PartnerOrganization.objects.all(),
        to_field_name="code",
        help_text="A PO code.",
    )
    mine = filters.BooleanFilter(method="filter_mine", help_text="Only the reports you requested.")

    class Meta:
        model = ReportJob
        fields = ["kind", "file_format", "status", "as_of"]

    def filter_mine(self, queryset, name, value):
        return queryset.filter(requested_by=self.request.user) if value else queryset


class DownloadNegotiation(BaseContentNegotiation):
    """The download answers with the file's own type whatever the client accepts (errors in JSON)."""

    def select_parser(self, request, parsers):
        return parsers[0]

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class ReportJobViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    """Results reports made in the background: the ISR results table (programme-wide roles) and one
    PO's results report (PO staff: their own PO only). `POST` queues one and answers 202; follow it
    with `GET` until `status` is `succeeded` (then `download_url`) or `failed` (then `error`; request
    it again). Another PO's report answers 404."""

    serializer_class = ReportJobSerializer
    permission_classes = [UsesReports]
    filterset_class = ReportJobFilter
    search_fields = ["partner_organization__code", "partner_organization__name"]
    ordering_fields = ["requested_at", "as_of"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ReportJob.objects.none()
        return reports.visible_jobs(self.request.user)

    @extend_schema(
        responses={
            202: ReportJobSerializer,
            400: OpenApiResponse(
                ErrorSerializer, description="A field is refused: `fields` names it, e.g. `po`."
            ),
            403: ErrorSerializer,
            404: ErrorSerializer,
        },
    )
    def create(self, request: Request, *args, **kwargs) -> Response:
        payload = self.get_serializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        try:
            job = reports.request_report(
                request.user,
                kind=data["kind"],
                file_format=data["file_format"],
                as_of=data["as_of"],
                previous_as_of=data.get("previous_as_of"),
                po_code=(data.get("partner_organization") or {}).get("code") or None,
                comments=data.get("comments"),
            )
        except DjangoValidationError as exc:
            raise ValidationError(exc.message_dict) from exc
        job.refresh_from_db()  # without a broker it has already run
        return Response(self.get_serializer(job).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        responses={
            (200, reports.CONTENT_TYPES[ReportFormat.XLSX]): OpenApiResponse(
                OpenApiTypes.BINARY, description="The report's file, in the format it was requested in."
            ),
            (200, reports.CONTENT_TYPES[ReportFormat.PDF]): OpenApiResponse(
                OpenApiTypes.BINARY, description="The report's file, in the format it was requested in."
            ),
            404: ErrorSerializer,
            409: ErrorSerializer,
        }
    )
    @action(detail=True, methods=["get"], url_path="download", content_negotiation_class=DownloadNegotiation)
    def download(self, request: Request, pk=None):
        """The report's file, with its content type; 409 while it is not ready (or failed)."""
        job = self.get_object()
        if job.status != RunStatus.SUCCEEDED or not job.file:
            return Response(
                {
                    "detail": _("The report has no file: it is %(status)s.")
                    % {"status": job.get_status_display()},
                    "code": "not_ready",
                },
                status=status.HTTP_409_CONFLICT,
            )
        return FileResponse(
            job.file.open("rb"),
            as_attachment=True,
            filename=reports.download_name(job),
            content_type=reports.CONTENT_TYPES[job.file_format],
        )


# --- Data quality ---------------------------------------------------------------------------------


class VerificationSerializer(serializers.Serializer):
    sampled = serializers.IntegerField(source="checks_sampled")
    done = serializers.IntegerField(source="checks_done")
    confirmed = serializers.IntegerField(source="checks_confirmed")
    partly = serializers.IntegerField(source="checks_partly")
    not_found = serializers.IntegerField(source="checks_not_found")
    rate = serializers.DecimalField(
        source="confirmation_rate",
        max_digits=5,
        decimal_places=1,
        allow_null=True,
        help_text="Percent: (confirmed + 0.5 * partly) / done; null while nothing is done.",
    )
    flagged = serializers.BooleanField(help_text="The rate is below `threshold`.")
    threshold = serializers.SerializerMethodField(help_text="The PMU's threshold (percent).")

    def get_threshold(self, row) -> float:
        return float(self.context["panel"].threshold)


class DataQualitySerializer(serializers.Serializer):
    po = serializers.CharField(source="po.code")
    po_name = serializers.CharField(source="po.name")
    mes_with_baseline = serializers.IntegerField(help_text="MEs with a baseline reading for some KPI.")
    readings_overdue = serializers.IntegerField(
        help_text="Of those, MEs without any reading for a month from `readings_since` on."
    )
    readings_overdue_percent = serializers.DecimalField(max_digits=5, decimal_places=1, allow_null=True)
    readings_since = serializers.SerializerMethodField(
        help_text="The first month of the window (the last complete months and the current one)."
    )
    adoptions_reported = serializers.IntegerField()
    adoptions_unverified = serializers.IntegerField(
        help_text="Reported adoptions nobody outside any PO (PMU or verifier) has verified."
    )
    adoptions_unverified_percent = serializers.DecimalField(max_digits=5, decimal_places=1, allow_null=True)
    verification = VerificationSerializer(source="*")
    duplicates_pending = serializers.IntegerField(
        help_text="Open suspected duplicate pairs involving its MEs."
    )
    imports_refused = serializers.IntegerField(
        help_text="Imports refused for errors in the file, or failed, since `imports_since`."
    )
    imports_since = serializers.SerializerMethodField()
    last_entry = serializers.DateTimeField(
        allow_null=True, help_text="The latest entry of one of its MEs or field records."
    )

    @extend_schema_field(OpenApiTypes.DATE)
    def get_readings_since(self, row) -> str:
        return self.context["panel"].readings_since.isoformat()

    @extend_schema_field(OpenApiTypes.DATE)
    def get_imports_since(self, row) -> str:
        return self.context["panel"].imports_since.isoformat()


class DataQualityViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The data-quality panel, one row per PO, as of today (monitoring.quality states each rule):
    readings overdue, adoptions unverified, the verification confirmation rate and flag, duplicates
    pending, imports refused and the last data entry. Programme-wide roles see every PO (`?po=` for
    one); PO staff their own row only (another PO's code answers 404); others 403."""

    serializer_class = DataQualitySerializer
    permission_classes = [UsesReports]
    po_not_found = True  # an unknown PO, or another PO's code asked by PO staff, answers 404
    queryset = PartnerOrganization.objects.none()
    filter_backends = []

    @extend_schema(
        parameters=[
            OpenApiParameter("po", OpenApiTypes.STR, description="A PO code: only that PO's row."),
        ]
    )
    def list(self, request: Request, *args, **kwargs) -> Response:
        code = request.query_params.get("po")
        po = dashboard.scope_po(request.user, code)
        if code and (po is None or po.code != code):
            raise NotFound  # PO staff asking for another PO: as if it did not exist
        panel = quality.panel(po_id=po.pk if po else None)
        page = self.paginate_queryset(panel.rows)
        context = {**self.get_serializer_context(), "panel": panel}
        rows = DataQualitySerializer(
            page if page is not None else panel.rows, many=True, context=context
        ).data
        return self.get_paginated_response(rows) if page is not None else Response(rows)
