"""E&S incidents API: `incidents` (list, report, read; transitions `POST /incidents/<id>/<action>/`) and
`corrective-actions` (added by the PMU; transitions `POST /corrective-actions/<id>/<action>/`).

Answers: 400 a field breaks a rule (the body names it); 403 the role may not do it; 404 not found or
not visible (another PO's incident); 409 not possible now, with the reason.
"""

from __future__ import annotations

from django.db.models import Prefetch
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response

from core.errors import Forbidden
from core.lifecycle.api import TransitionRequestSerializer, add_transition_actions
from safeguards import incidents
from safeguards.api import incident_serializers as s
from safeguards.incident_filters import CorrectiveActionFilter, IncidentFilter
from safeguards.models import CorrectiveAction, Incident
from smart_portal.api import ErrorSerializer
from subprojects.api.serializers import TimelineEntrySerializer
from verification.permissions import Allowed

REFUSED = {
    400: OpenApiResponse(description="A field breaks a rule; the body names it."),
    403: OpenApiResponse(ErrorSerializer, description="Your role may not do this."),
    404: OpenApiResponse(description="Not found, or not visible to you."),
    409: OpenApiResponse(ErrorSerializer, description="Not possible now; the body says why."),
}


class IncidentViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    """E&S incidents. PO staff report their own PO's (`POST`) and see them; the PMU, E&S officers, the
    World Bank and PKSF approvers see all. Filters: `status`, `severity`, `partner_organization`
    (code), `overdue` (`yes`: serious or severe, past its 48 hours, not notified to the Bank), `q`."""

    serializer_class = s.IncidentSerializer
    permission_classes = [Allowed.to(incidents.may_read, incidents.may_read)]
    filterset_class = IncidentFilter
    ordering_fields = ["reported_at", "bank_due_at", "status_changed_at"]
    parser_classes = [JSONParser]

    def get_queryset(self):
        return (
            Incident.objects.visible_to(self.request.user)
            .select_related("partner_organization", "district", "reported_by", "bank_notified_by")
            .prefetch_related(
                Prefetch("corrective_actions", CorrectiveAction.objects.select_related("incident"))
            )
            .order_by("-reported_at", "-pk")
        )

    @extend_schema(request=s.IncidentReportSerializer, responses={201: s.IncidentSerializer, **REFUSED})
    def create(self, request: Request, *args, **kwargs) -> Response:
        """Report an incident (PO staff, for their own PO). Serious and severe ones are emailed to the
        PMU at once and are due to the Bank 48 hours later; a report more than the allowed days after
        the PO learned of it is flagged late (and accepted)."""
        if not incidents.may_report(request.user):
            raise Forbidden(_("Only a PO's staff report incidents, for their own PO."))
        payload = s.IncidentReportSerializer(data=request.data, context={"request": request})
        payload.is_valid(raise_exception=True)
        incident = incidents.report_incident(user=request.user, data=payload.validated_data)
        return Response(
            self.get_serializer(self.get_queryset().get(pk=incident.pk)).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(responses=TimelineEntrySerializer(many=True))
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def history(self, request: Request, pk=None) -> Response:
        """Audit trail: the report, each transition and each edit, newest first."""
        from subprojects.timeline import timeline

        entries = [entry.as_dict() for entry in timeline(self.get_object())]
        return Response(TimelineEntrySerializer(entries, many=True).data)


add_transition_actions(
    IncidentViewSet,
    Incident,
    lambda rule: s.RootCauseSerializer if rule.action == "record_root_cause" else TransitionRequestSerializer,
)


class CorrectiveActionViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    """Corrective actions of the incidents one may see. The PMU adds them (`POST`) to an incident under
    follow-up; the incident's PO reports one done with its evidence (`complete`, comment required); the
    PMU verifies it or sends it back. Filters: `status`, `incident` (id), `overdue` (`yes`)."""

    serializer_class = s.CorrectiveActionSerializer
    permission_classes = [Allowed.to(incidents.may_read, incidents.may_read)]
    filterset_class = CorrectiveActionFilter
    parser_classes = [JSONParser]

    def get_queryset(self):
        return (
            CorrectiveAction.objects.visible_to(self.request.user)
            .select_related("incident")
            .order_by("incident_id", "position", "pk")
        )

    @extend_schema(
        request=s.CorrectiveActionCreateSerializer, responses={201: s.CorrectiveActionSerializer, **REFUSED}
    )
    def create(self, request: Request, *args, **kwargs) -> Response:
        """Add a corrective action (PMU and E&S officers) to an incident under follow-up."""
        if not incidents.is_follow_up_officer(request.user):
            raise Forbidden(_("Only the PMU's officers and E&S officers add corrective actions."))
        payload = s.CorrectiveActionCreateSerializer(data=request.data, context={"request": request})
        payload.is_valid(raise_exception=True)
        data = dict(payload.validated_data)
        created = incidents.add_corrective_action(user=request.user, incident=data.pop("incident"), data=data)
        return Response(
            self.get_serializer(self.get_queryset().get(pk=created.pk)).data, status=status.HTTP_201_CREATED
        )


add_transition_actions(CorrectiveActionViewSet, CorrectiveAction)
