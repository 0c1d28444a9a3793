"""API of ME screenings (`me-screenings`) and clearances (`clearances`).

me-screenings: list/read what one may see (PO staff their PO's, programme-wide roles all); create and
change drafts (the ME's PO staff, or a PMU officer / E&S officer of no PO); delete a draft;
`POST /me-screenings/<id>/complete/` completes it (core.lifecycle: 403 who, 409 not now, e.g. a
question unanswered). Filters: `outcome`, `status`, `partner_organization` (code), `enterprise` (id).

clearances: list/read/create/update/delete within the same rule; multipart/form-data to send the
`document` (PDF, JPEG or PNG by content); `GET /clearances/<id>/document/` downloads it. Filters:
`kind`, `partner_organization` (code), `enterprise`, `facility`, `expired=true`,
`expiring_within=<days>`.

Answers: 400 a field breaks a rule (the body names it); 403 the role may not do it; 404 not found or
not visible; 409 not possible now, with the reason.
"""

from __future__ import annotations

import django_filters
from django.http import FileResponse, Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from core.lifecycle.api import add_transition_actions
from core.models import PartnerOrganization
from core.uploads import file_response
from safeguards import clearances, screenings
from safeguards.api import screening_serializers as s
from safeguards.models import Clearance, ClearanceKind, MeScreening, MeScreeningOutcome, MeScreeningStatus
from safeguards.screening_views import READERS
from smart_portal.api import ErrorSerializer

REFUSED = {
    400: OpenApiResponse(description=gettext_lazy("A field breaks a rule; the body names it.")),
    403: OpenApiResponse(ErrorSerializer, description=gettext_lazy("Your role may not do this.")),
    404: OpenApiResponse(description=gettext_lazy("Not found, or not visible to you.")),
    409: OpenApiResponse(ErrorSerializer, description=gettext_lazy("Not possible now; the body says why.")),
}


class Readers(BasePermission):
    """Reading: PO staff, the PMU (E&S officers included), the World Bank and PKSF approvers. Writing
    is checked again by the services (who may screen or keep clearances of which holder)."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user.is_authenticated and user.has_role(*READERS)):
            return False
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return True
        return view.may_write(user)


# --- ME screenings --------------------------------------------------------------------------------


class ScreeningFilter(django_filters.FilterSet):
    outcome = django_filters.ChoiceFilter(choices=MeScreeningOutcome.choices)
    status = django_filters.ChoiceFilter(choices=MeScreeningStatus.choices)
    partner_organization = django_filters.ModelChoiceFilter(
        queryset=PartnerOrganization.objects.all(), to_field_name="code"
    )
    enterprise = django_filters.NumberFilter(field_name="enterprise_id")

    class Meta:
        model = MeScreening
        fields = ["outcome", "status", "partner_organization", "enterprise"]


@extend_schema_view(
    create=extend_schema(responses={201: s.ScreeningSerializer, **REFUSED}),
    update=extend_schema(
        request=s.ScreeningUpdateSerializer, responses={200: s.ScreeningSerializer, **REFUSED}
    ),
    partial_update=extend_schema(
        request=s.ScreeningUpdateSerializer, responses={200: s.ScreeningSerializer, **REFUSED}
    ),
    destroy=extend_schema(responses={204: None, **REFUSED}),
)
class ScreeningViewSet(viewsets.ModelViewSet):
    """E&S screenings of MEs. The ME's latest completed screening decides whether it may receive
    financial support (a failed one bars it until a new one passes)."""

    serializer_class = s.ScreeningSerializer
    permission_classes = [Readers]
    filterset_class = ScreeningFilter
    parser_classes = [JSONParser]
    ordering_fields = ["screened_on", "completed_at", "id"]
    search_fields = ["enterprise__po_code", "enterprise__name"]

    @staticmethod
    def may_write(user) -> bool:
        return screenings.may_screen_at_all(user)

    def get_queryset(self):
        return (
            MeScreening.objects.visible_to(self.request.user)
            .select_related("enterprise", "partner_organization", "screened_by")
            .prefetch_related("exclusions_found")
            .order_by("-screened_on", "-pk")
        )

    def get_serializer_class(self):
        if self.action in {"update", "partial_update"}:
            return s.ScreeningUpdateSerializer
        return s.ScreeningSerializer

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        enterprise = data.pop("enterprise")
        saved = screenings.create_screening(user=self.request.user, enterprise=enterprise, data=data)
        serializer.instance = self.get_queryset().get(pk=saved.pk)

    def perform_update(self, serializer):
        if not screenings.screener(self.request.user, serializer.instance):
            raise PermissionDenied(_("You may not change this screening."))
        saved = screenings.update_screening(
            user=self.request.user, screening=serializer.instance, data=dict(serializer.validated_data)
        )
        serializer.instance = self.get_queryset().get(pk=saved.pk)

    def perform_destroy(self, instance):
        if not screenings.screener(self.request.user, instance):
            raise PermissionDenied(_("You may not delete this screening."))
        screenings.delete_screening(user=self.request.user, screening=instance)


add_transition_actions(ScreeningViewSet, MeScreening)


# --- Clearances -----------------------------------------------------------------------------------


class ClearanceFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=ClearanceKind.choices)
    partner_organization = django_filters.ModelChoiceFilter(
        queryset=PartnerOrganization.objects.all(), to_field_name="code"
    )
    enterprise = django_filters.NumberFilter(field_name="enterprise_id")
    facility = django_filters.NumberFilter(field_name="facility_id")
    expired = django_filters.BooleanFilter(
        method="filter_expired", label=gettext_lazy("Expired (true/false)")
    )
    expiring_within = django_filters.NumberFilter(
        method="filter_expiring",
        min_value=0,
        max_value=36600,  # a century: more would overflow the date (a 500)
        label=gettext_lazy("Expiring within this many days (not yet expired)"),
    )

    class Meta:
        model = Clearance
        fields = ["kind", "partner_organization", "enterprise", "facility"]

    def filter_expired(self, queryset, name, value):
        if value is None:
            return queryset
        today = timezone.localdate()
        return queryset.expired(today) if value else queryset.filter(expires_on__gte=today)

    def filter_expiring(self, queryset, name, value):
        if value is None:
            return queryset
        return queryset.expiring_within(int(value))


@extend_schema_view(
    create=extend_schema(responses={201: s.ClearanceSerializer, **REFUSED}),
    update=extend_schema(
        request=s.ClearanceUpdateSerializer, responses={200: s.ClearanceSerializer, **REFUSED}
    ),
    partial_update=extend_schema(
        request=s.ClearanceUpdateSerializer, responses={200: s.ClearanceSerializer, **REFUSED}
    ),
    destroy=extend_schema(responses={204: None, **REFUSED}),
)
class ClearanceViewSet(viewsets.ModelViewSet):
    """DoE environmental clearance certificates and BSTI certifications of MEs and CSFs."""

    serializer_class = s.ClearanceSerializer
    permission_classes = [Readers]
    filterset_class = ClearanceFilter
    parser_classes = [MultiPartParser]  # a clearance is written with its document
    ordering_fields = ["expires_on", "issued_on", "id"]
    search_fields = ["number", "enterprise__po_code", "enterprise__name", "facility__name"]

    @staticmethod
    def may_write(user) -> bool:
        return clearances.may_manage_any(user)

    def get_queryset(self):
        return (
            Clearance.objects.visible_to(self.request.user)
            .select_related("partner_organization", "enterprise", "facility")
            .order_by("expires_on", "pk")
        )

    def get_serializer_class(self):
        if self.action in {"update", "partial_update"}:
            return s.ClearanceUpdateSerializer
        return s.ClearanceSerializer

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        document = data.pop("document", None)
        enterprise, facility = data.pop("enterprise", None), data.pop("facility", None)
        saved = clearances.create_clearance(
            user=self.request.user, data=data, enterprise=enterprise, facility=facility, document=document
        )
        serializer.instance = self.get_queryset().get(pk=saved.pk)

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        document = data.pop("document", None)
        saved = clearances.update_clearance(
            user=self.request.user, clearance=serializer.instance, data=data, document=document
        )
        serializer.instance = self.get_queryset().get(pk=saved.pk)

    def perform_destroy(self, instance):
        clearances.delete_clearance(user=self.request.user, clearance=instance)

    @extend_schema(
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY, 404: REFUSED[404]},
    )
    @action(detail=True, methods=["get"])
    def document(self, request: Request, pk=None) -> FileResponse:
        """The scanned certificate, as uploaded."""
        clearance = self.get_object()
        if not clearance.document:
            raise Http404(_("There is no document."))
        return file_response(
            clearance.document,
            name=clearance.document_name or None,
            content_type=clearance.document_type or None,
        )
