"""Loan portfolio API: `loans` (read-only, with their figures as of `?as_of=`), `instalments`
(read-only), `repayments` (list; the loan's PO records and deletes them), `write-offs` (list; the loan's
PO records them) and `loan-portfolio` (the figures as of a date: totals, by owner gender, by PO).

Who: the PMU's side (programme-wide readers and the PMU's finance officers) reads every PO; a PO's
staff their own PO's (another PO's loan or record is a 404, as a missing one). Answers: 400 a field
breaks a rule (the body names it); 403 the role may not do it; 404 not found or not visible; 409 not
possible now (a grant, a loan already written off), with the reason.
"""

from __future__ import annotations

from datetime import date

import django_filters
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response

from core.errors import Forbidden
from core.models import PartnerOrganization
from core.validators import check_in_programme_span
from enterprises.models import FinancialSupport, Gender
from finance import loans as rules
from finance.api import portfolio_serializers as s
from finance.loan_forms import LoanFilter, money_partner_organizations
from finance.models import Instalment, Repayment, WriteOff
from finance.portfolio import portfolio_by_gender, portfolio_by_po, portfolio_totals, with_figures
from smart_portal.api import ErrorSerializer
from verification.permissions import Allowed

REFUSED = {
    400: OpenApiResponse(description="A field breaks a rule; the body names it."),
    403: OpenApiResponse(ErrorSerializer, description="Your role may not do this."),
    404: OpenApiResponse(description="Not found, or not visible to you."),
    409: OpenApiResponse(ErrorSerializer, description="Not possible now; the body says why."),
}


class LoanRecordFilter(django_filters.FilterSet):
    """Records of a loan, by the loan's id: a loan one may not see matches nothing, as a missing one."""

    loan = django_filters.NumberFilter(field_name="loan_id", label=_lazy("Loan (id)"))


AS_OF = OpenApiParameter(
    "as_of",
    OpenApiTypes.DATE,
    description="The date of the figures, from the programme start to today (default: today).",
)


def requested_as_of(request: Request | HttpRequest) -> date:
    """`?as_of=` (default today), or a 400 naming the parameter."""
    raw = getattr(request, "query_params", request.GET).get("as_of")
    if not raw:
        return timezone.localdate()
    try:
        value = date.fromisoformat(raw)
    except ValueError:
        raise ValidationError({"as_of": [_("Give the date as YYYY-MM-DD.")]}) from None
    try:
        check_in_programme_span(value)
    except DjangoValidationError as exc:
        raise ValidationError({"as_of": exc.messages}) from exc
    return value


@extend_schema_view(list=extend_schema(parameters=[AS_OF]), retrieve=extend_schema(parameters=[AS_OF]))
class LoanViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """ME loans (financial supports of kind loan) with their figures as of `as_of` (default today): the
    principal due and repaid by then, outstanding, arrears, days past due, write-off. Filters:
    `partner_organization` (code), `days_past_due` (`current`, `1-30`, `31-90`, `over-90`),
    `gender`, `written_off` (`yes`/`no`), `q` (ME code, name or loan reference)."""

    serializer_class = s.LoanSerializer
    permission_classes = [Allowed.to(rules.may_read, rules.may_read)]
    filterset_class = LoanFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return FinancialSupport.objects.none()
        return with_figures(
            rules.visible_loans(self.request.user).select_related("enterprise__partner_organization"),
            self.as_of,
        ).order_by("-disbursed_on", "-pk")

    @property
    def as_of(self) -> date:
        if not hasattr(self, "_as_of"):
            self._as_of = requested_as_of(self.request)
        return self._as_of

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if not getattr(self, "swagger_fake_view", False):
            context["as_of"] = self.as_of
        return context


class InstalmentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The instalments of the loans you may see. Filter: `loan` (id)."""

    serializer_class = s.InstalmentSerializer
    permission_classes = [Allowed.to(rules.may_read, rules.may_read)]
    filterset_class = LoanRecordFilter

    def get_queryset(self):
        return Instalment.objects.filter(loan__in=rules.visible_loans(self.request.user)).order_by(
            "loan_id", "number"
        )


class RepaymentViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Repayments of the loans you may see. The loan's PO's staff record one (`POST`: loan, paid_on,
    principal, interest, reference) and delete one entered by mistake (`DELETE`). Refused: a date
    before the disbursement or in the future, more principal than is left to repay, a grant.
    Filter: `loan` (id)."""

    serializer_class = s.RepaymentSerializer
    permission_classes = [Allowed.to(rules.may_read, rules.may_record)]
    filterset_class = LoanRecordFilter
    parser_classes = [JSONParser]

    def get_queryset(self):
        return (
            Repayment.objects.filter(loan__in=rules.visible_loans(self.request.user))
            .select_related("loan__enterprise")
            .order_by("loan_id", "paid_on", "pk")
        )

    @extend_schema(request=s.RepaymentCreateSerializer, responses={201: s.RepaymentSerializer, **REFUSED})
    def create(self, request: Request, *args, **kwargs) -> Response:
        payload = s.RepaymentCreateSerializer(
            data=request.data, loans=rules.visible_loans(request.user).select_related("enterprise")
        )
        payload.is_valid(raise_exception=True)
        repayment = rules.add_repayment(user=request.user, **payload.validated_data)
        return Response(self.get_serializer(repayment).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={204: None, **REFUSED})
    def destroy(self, request: Request, *args, **kwargs) -> Response:
        repayment = self.get_object()
        if not rules.owns(request.user, repayment.loan):
            raise Forbidden(_("Only the staff of the loan's PO delete its repayments."))
        rules.delete_repayment(user=request.user, repayment=repayment)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WriteOffViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    """Write-offs of the loans you may see (the PMU's side sees every PO's). The loan's PO's staff
    record one (`POST`: loan, written_off_on, principal no more than was outstanding that day, reason).
    Filter: `loan` (id)."""

    serializer_class = s.WriteOffSerializer
    permission_classes = [Allowed.to(rules.may_read, rules.may_record)]
    filterset_class = LoanRecordFilter
    parser_classes = [JSONParser]

    def get_queryset(self):
        return (
            WriteOff.objects.filter(loan__in=rules.visible_loans(self.request.user))
            .select_related("recorded_by")
            .order_by("-written_off_on", "-pk")
        )

    @extend_schema(request=s.WriteOffCreateSerializer, responses={201: s.WriteOffSerializer, **REFUSED})
    def create(self, request: Request, *args, **kwargs) -> Response:
        payload = s.WriteOffCreateSerializer(
            data=request.data, loans=rules.visible_loans(request.user).select_related("enterprise")
        )
        payload.is_valid(raise_exception=True)
        write_off = rules.record_write_off(user=request.user, **payload.validated_data)
        return Response(self.get_serializer(write_off).data, status=status.HTTP_201_CREATED)


class PortfolioViewSet(viewsets.GenericViewSet):
    """The loan portfolio as of `as_of` (default today): totals (the programme's, or your PO's), by
    owner gender and by PO. `partner_organization` (a PO code) narrows it to one PO (PO staff: only
    their own; another PO's code is answered as one that does not exist)."""

    permission_classes = [Allowed.to(rules.may_read, rules.may_read)]
    serializer_class = s.PortfolioSerializer
    pagination_class = None
    filter_backends: list = []

    @extend_schema(
        parameters=[
            AS_OF,
            OpenApiParameter(
                "partner_organization", OpenApiTypes.STR, description="A PO code: that PO only."
            ),
        ],
        responses={200: s.PortfolioSerializer, 400: REFUSED[400], 404: REFUSED[404]},
    )
    def list(self, request: Request) -> Response:
        as_of = requested_as_of(request)
        loans = rules.visible_loans(request.user)
        code = request.query_params.get("partner_organization")
        if code:
            po = money_partner_organizations(request.user).filter(code=code).first()
            if po is None:
                raise NotFound(_("No PO with this code."))
            loans = loans.filter(enterprise__partner_organization=po)
        per_po = portfolio_by_po(as_of, loans)
        codes = dict(PartnerOrganization.objects.filter(pk__in=list(per_po)).values_list("pk", "code"))
        genders = dict(Gender.choices)
        body = {
            "as_of": as_of,
            "totals": portfolio_totals(as_of, loans).as_dict(),
            "by_gender": [
                {"owner_gender": key, **figures.as_dict()}
                for key, figures in sorted(
                    portfolio_by_gender(as_of, loans).items(), key=lambda item: str(item[0])
                )
                if key in genders
            ],
            "by_partner_organization": [
                {"partner_organization": codes[po_id], **figures.as_dict()}
                for po_id, figures in sorted(per_po.items(), key=lambda item: codes[item[0]])
            ],
        }
        return Response(s.PortfolioSerializer(body).data)
