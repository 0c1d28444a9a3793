"""Spending API: `spending-reports` (list, open one, read; transitions
`POST /spending-reports/<id>/<action>/`), `expenditures` (the lines: list with the PMU's filters,
read; add, change and delete while the report is a draft, by the owning PO only) and
`financial-progress` (per sub-project, `?as_of=`).

Answers: 400 a field breaks a rule (the body names it); 403 the role may not do it; 404 not found or
not visible (another PO's report or line); 409 not possible now, with the reason.
"""

from __future__ import annotations

from typing import Any, cast

from django.db.models import Prefetch
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response

from core.errors import Forbidden
from core.lifecycle.api import add_transition_actions
from finance import spending
from finance.api import spending_serializers as s
from finance.models import Expenditure, SpendingReport
from finance.spending_forms import ExpenditureFilter, SpendingReportFilter
from finance.spending_views import progress_rows
from smart_portal.api import ErrorSerializer
from verification.permissions import Allowed

REFUSED = {
    400: OpenApiResponse(description="A field breaks a rule; the body names it."),
    403: OpenApiResponse(ErrorSerializer, description="Your role may not do this."),
    404: OpenApiResponse(description="Not found, or not visible to you."),
    409: OpenApiResponse(ErrorSerializer, description="Not possible now; the body says why."),
}


def _lines():
    return spending.with_line_numbers(
        Expenditure.objects.select_related("report", "sub_project", "partner_organization", "budget_line")
    )


class SpendingReportViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    """Quarterly spending reports. A PO's staff open their own PO's (`POST`: sub-project and quarter),
    enter lines (`/expenditures/`) and submit; the PMU (a PMU officer or a finance officer of no PO)
    accepts or returns them. Filters: `partner_organization` (code), `sub_project` (id), `quarter`
    (e.g. 2025-Q3), `status`, `late` (`yes`: first submitted after its due day, or not submitted past it)."""

    serializer_class = s.SpendingReportSerializer
    permission_classes = [Allowed.to(spending.may_read, spending.may_read)]
    filterset_class = SpendingReportFilter
    ordering_fields = ["quarter_end", "status_changed_at", "submitted_at"]
    parser_classes = [JSONParser]

    def get_queryset(self):
        return (
            spending.reports_with_totals(
                SpendingReport.objects.visible_to(self.request.user).select_related(
                    "sub_project", "partner_organization"
                )
            )
            .prefetch_related(Prefetch("lines", _lines().order_by("spent_on", "pk")))
            .order_by("-quarter_end", "sub_project__agreement_number", "pk")
        )

    @extend_schema(
        request=s.SpendingReportCreateSerializer, responses={201: s.SpendingReportSerializer, **REFUSED}
    )
    def create(self, request: Request, *args, **kwargs) -> Response:
        """Open the draft report of a quarter (PO staff, for their own PO's active sub-project; the quarter
        has started and does not end before the sub-project's start; one report per quarter)."""
        if not spending.may_report(request.user):
            raise Forbidden(_("Only a PO's staff report its spending."))
        payload = s.SpendingReportCreateSerializer(data=request.data, context={"request": request})
        payload.is_valid(raise_exception=True)
        report = spending.create_report(
            user=request.user,
            sub_project=payload.validated_data["sub_project"],
            quarter_end=payload.validated_data["quarter"],
        )
        return Response(
            self.get_serializer(self.get_queryset().get(pk=report.pk)).data, status=status.HTTP_201_CREATED
        )


add_transition_actions(SpendingReportViewSet, SpendingReport)


class ExpenditureViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Expenditure lines. Everyone who reads money sees the lines of their scope (a PO its own); the
    staff of the report's PO add (`POST`), change (`PATCH`) and delete them while the report is a
    draft. Filters: `partner_organization` (code), `sub_project` (id), `category`, `financier`,
    `quarter` (e.g. 2025-Q3), `status` (of the report), `spent_from`, `spent_to`, `amount_min`,
    `amount_max`, `voucher` (contains)."""

    serializer_class = s.ExpenditureSerializer
    permission_classes = [Allowed.to(spending.may_read, spending.may_read)]
    filterset_class = ExpenditureFilter
    ordering_fields = ["spent_on", "amount", "created_at"]
    parser_classes = [JSONParser]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        return _lines().visible_to(self.request.user).order_by("-spent_on", "-pk")

    def _answer(self, line: Expenditure, code: int = status.HTTP_200_OK) -> Response:
        return Response(self.get_serializer(self.get_queryset().get(pk=line.pk)).data, status=code)

    @extend_schema(request=s.ExpenditureCreateSerializer, responses={201: s.ExpenditureSerializer, **REFUSED})
    def create(self, request: Request, *args, **kwargs) -> Response:
        """Add a line to a draft report of your PO."""
        payload = s.ExpenditureCreateSerializer(data=request.data, context={"request": request})
        payload.is_valid(raise_exception=True)
        data = dict(payload.validated_data)
        line = spending.add_line(user=request.user, report=data.pop("report"), data=data)
        return self._answer(line, status.HTTP_201_CREATED)

    @extend_schema(request=s.ExpenditureUpdateSerializer, responses={200: s.ExpenditureSerializer, **REFUSED})
    def update(self, request: Request, *args, **kwargs) -> Response:
        """Change a line of a draft report of your PO (the fields given)."""
        line = self.get_object()
        payload = s.ExpenditureUpdateSerializer(data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        updated = spending.update_line(user=request.user, line=line, data=dict(payload.validated_data))
        return self._answer(updated)

    @extend_schema(request=s.ExpenditureUpdateSerializer, responses={200: s.ExpenditureSerializer, **REFUSED})
    def partial_update(self, request: Request, *args, **kwargs) -> Response:
        """Change a line of a draft report of your PO (the fields given)."""
        return self.update(request, *args, **kwargs)

    @extend_schema(responses={204: None, **REFUSED})
    def destroy(self, request: Request, *args, **kwargs) -> Response:
        """Delete a line of a draft report of your PO."""
        spending.delete_line(user=request.user, line=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class FinancialProgressViewSet(viewsets.GenericViewSet):
    """Financial progress per sub-project as of a day: approved, released, spent (by financier),
    balance, spent % of released and of approved, time elapsed, and the flags `lagging` and `overrun`.
    The PMU's side sees every sub-project, a PO its own."""

    serializer_class = s.FinancialProgressSerializer
    permission_classes = [Allowed.to(spending.may_read, spending.may_read)]
    filter_backends: list = []

    @extend_schema(
        parameters=[s.FinancialProgressQuerySerializer],
        responses={200: s.FinancialProgressSerializer(many=True), 400: REFUSED[400], 403: REFUSED[403]},
    )
    def list(self, request: Request) -> Response:
        query = s.FinancialProgressQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        _as_of, rows = progress_rows(request.user, query.validated_data)
        page = self.paginate_queryset(cast(Any, rows))
        if page is not None:
            return self.get_paginated_response(self.get_serializer(page, many=True).data)
        return Response(self.get_serializer(rows, many=True).data)
