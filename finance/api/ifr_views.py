"""Funds received and interim financial reports in the API.

- `fund-receipts`: list, read (the PMU's side); record, change, delete (PMU finance officers), unless
  the receipt's quarter has a finalised or sent report (409).
- `financial-reports`: list, read (with the figures: live while draft or reviewed, frozen once
  finalised); create the report of an ended quarter (`POST`, PMU finance officers); `PATCH` its notes;
  `GET`/`PUT` `forecast/`; transitions `POST /financial-reports/<id>/<action>/` (`review`, `send-back`,
  `finalise`, `send` with `sent_on`); `correct/` makes the next version of a finalised or sent one;
  `xlsx/` and `pdf/` are the files (a draft's rendered now and marked DRAFT, a finalised one's as stored).

Answers: 400 a field breaks a rule (the body names it); 403 the role may not (a PO's staff, whatever
their role, never reaches these whole-programme records); 404 not found; 409 not possible now.
"""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response

from core.lifecycle.api import TransitionRequestSerializer, add_transition_actions
from finance import ifr
from finance.api import ifr_serializers as s
from finance.ifr_forms import FinancialReportFilter, FundReceiptFilter
from finance.models import FinancialReport, ForecastLine, FundReceipt
from smart_portal.api import ErrorSerializer
from subprojects.api.serializers import TimelineEntrySerializer
from verification.permissions import Allowed

REFUSED = {
    400: OpenApiResponse(description="A field breaks a rule; the body names it."),
    403: OpenApiResponse(ErrorSerializer, description="Your role may not do this."),
    404: OpenApiResponse(description="Not found, or not visible to you."),
    409: OpenApiResponse(ErrorSerializer, description="Not possible now; the body says why."),
}


class DownloadNegotiation(BaseContentNegotiation):
    """A file answers with its own type whatever the client accepts (errors in JSON)."""

    def select_parser(self, request, parsers):
        return parsers[0]

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class FundReceiptViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Funds PKSF received for the programme: World Bank withdrawals (`world_bank`) and PKSF counterpart
    allocations (`pksf`). Read by the PMU's side; recorded by the PMU's finance officers. Filters:
    `source`, `received_from`, `received_to`, `q` (reference or description)."""

    serializer_class = s.FundReceiptSerializer
    permission_classes = [Allowed.to(ifr.may_read, ifr.may_prepare)]
    filterset_class = FundReceiptFilter
    ordering_fields = ["received_on", "amount"]
    parser_classes = [JSONParser]

    def get_queryset(self):
        return (
            FundReceipt.objects.visible_to(self.request.user)
            .select_related("recorded_by")
            .order_by("-received_on", "-pk")
        )

    @extend_schema(responses={201: s.FundReceiptSerializer, **REFUSED})
    def create(self, request: Request, *args, **kwargs) -> Response:
        """Record a receipt. Its date is not in the future, not before the programme start, and not in a
        quarter whose current IFR is finalised or sent; its reference is unique per source."""
        return super().create(request, *args, **kwargs)

    @extend_schema(responses={200: s.FundReceiptSerializer, **REFUSED})
    def update(self, request: Request, *args, **kwargs) -> Response:
        """Change a receipt (409 when its quarter's IFR is finalised or sent)."""
        return super().update(request, *args, **kwargs)

    @extend_schema(responses={204: None, **REFUSED})
    def destroy(self, request: Request, *args, **kwargs) -> Response:
        """Delete a receipt entered by mistake (409 when its quarter's IFR is finalised or sent)."""
        ifr.delete_receipt(self.get_object(), request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class FinancialReportViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    """Interim financial reports to the World Bank, one per calendar quarter (later versions are
    corrections). Read by the PMU's side; prepared by the PMU's finance officers; reviewed by a PMU
    officer or another finance officer; finalised (figures frozen, files stored) and recorded as sent by
    a finance officer. Filters: `status`, `quarter_end`, `current` (`true`: versions no correction
    supersedes)."""

    serializer_class = s.FinancialReportSerializer
    permission_classes = [Allowed.to(ifr.may_read, ifr.may_read)]
    filterset_class = FinancialReportFilter
    ordering_fields = ["quarter_end", "version", "status_changed_at"]
    parser_classes = [JSONParser]

    def get_queryset(self):
        return (
            FinancialReport.objects.visible_to(self.request.user)
            .select_related("prepared_by", "superseded_by")
            .order_by("-quarter_end", "-version")
        )

    def get_serializer_class(self):
        if self.action == "retrieve":
            return s.FinancialReportDetailSerializer
        return s.FinancialReportSerializer

    def _answer(self, report: FinancialReport, code: int = status.HTTP_200_OK) -> Response:
        fresh = self.get_queryset().get(pk=report.pk)
        return Response(
            s.FinancialReportSerializer(fresh, context=self.get_serializer_context()).data, status=code
        )

    @extend_schema(
        request=s.FinancialReportCreateSerializer, responses={201: s.FinancialReportSerializer, **REFUSED}
    )
    def create(self, request: Request, *args, **kwargs) -> Response:
        """Make the report of an ended quarter that has none (PMU finance officers): version 1, a draft,
        its forecast prefilled with the pro-rated budget of the next two quarters."""
        payload = s.FinancialReportCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        report = ifr.create_report(
            request.user, payload.validated_data["quarter_end"], payload.validated_data["notes"]
        )
        return self._answer(report, status.HTTP_201_CREATED)

    @extend_schema(request=s.NotesSerializer, responses={200: s.FinancialReportSerializer, **REFUSED})
    def partial_update(self, request: Request, *args, **kwargs) -> Response:
        """Change the notes of a draft or reviewed report (PMU finance officers); 409 once finalised."""
        report = self.get_object()
        payload = s.NotesSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        return self._answer(ifr.set_notes(report, request.user, payload.validated_data["notes"]))

    @extend_schema(request=None, responses={201: s.FinancialReportSerializer, **REFUSED})
    @action(detail=True, methods=["post"])
    def correct(self, request: Request, pk=None) -> Response:
        """Start the next version of a finalised or sent report: a draft that supersedes it (PMU finance
        officers). 409 for a draft or reviewed report (edit it instead) or one already corrected."""
        return self._answer(ifr.start_correction(self.get_object(), request.user), status.HTTP_201_CREATED)

    @extend_schema(methods=["GET"], request=None, responses={200: s.ForecastSerializer, **REFUSED})
    @extend_schema(
        methods=["PUT"], request=s.ForecastSerializer, responses={200: s.ForecastSerializer, **REFUSED}
    )
    @action(detail=True, methods=["get", "put"])
    def forecast(self, request: Request, pk=None) -> Response:
        """The forecast of the next two quarters by category and financier. `PUT` sets the amounts of
        the lines given (others keep theirs; all or nothing), while the report is a draft or reviewed."""
        report = self.get_object()
        if request.method == "PUT":
            payload = s.ForecastSerializer(data=request.data)
            payload.is_valid(raise_exception=True)
            ifr.set_forecast(report, request.user, [dict(line) for line in payload.validated_data["lines"]])
        lines = ForecastLine.objects.filter(report=report)
        return Response(s.ForecastSerializer({"lines": lines}).data)

    @extend_schema(responses=TimelineEntrySerializer(many=True))
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def history(self, request: Request, pk=None) -> Response:
        """Audit trail: creation, transitions, corrections and edits, newest first."""
        from subprojects.timeline import timeline

        entries = [entry.as_dict() for entry in timeline(self.get_object())]
        return Response(TimelineEntrySerializer(entries, many=True).data)

    def _file(self, kind: str) -> HttpResponse:
        content, filename, content_type = ifr.report_file(self.get_object(), kind)
        response = HttpResponse(content, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        response["Cache-Control"] = "private, no-store"
        return response

    @extend_schema(
        responses={
            (200, ifr.CONTENT_TYPES["xlsx"]): OpenApiResponse(
                OpenApiTypes.BINARY, description="The report as a spreadsheet (a draft's marked DRAFT)."
            ),
            403: ErrorSerializer,
            404: ErrorSerializer,
        }
    )
    @action(detail=True, methods=["get"], content_negotiation_class=DownloadNegotiation)
    def xlsx(self, request: Request, pk=None) -> HttpResponse:
        """The report's XLSX: stored at finalisation; a draft's rendered now from the live figures."""
        return self._file("xlsx")

    @extend_schema(
        responses={
            (200, ifr.CONTENT_TYPES["pdf"]): OpenApiResponse(
                OpenApiTypes.BINARY, description="The report as a PDF (a draft's marked DRAFT)."
            ),
            403: ErrorSerializer,
            404: ErrorSerializer,
        }
    )
    @action(detail=True, methods=["get"], content_negotiation_class=DownloadNegotiation)
    def pdf(self, request: Request, pk=None) -> HttpResponse:
        """The report's PDF: stored at finalisation; a draft's rendered now from the live figures."""
        return self._file("pdf")


add_transition_actions(
    FinancialReportViewSet,
    FinancialReport,
    lambda rule: s.SendSerializer if rule.action == "send" else TransitionRequestSerializer,
)
