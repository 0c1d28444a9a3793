"""Releases API: `milestones` (read; transitions `report`, `send-back`), `tranches` (read; the PMU
changes a tranche's title, milestone, amounts and planned date with `PATCH` while it has no active
release), `releases` (read; `POST` = a PO's request; transitions `check`, `approve`,
`record-transfer`, `return`, `withdraw`).

Answers: 400 a field breaks a rule (the body names it); 403 the role may not do it; 404 not found or
not visible (another PO's record); 409 not possible now, with the reason.
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
from finance import releases
from finance.api import release_serializers as s
from finance.models import Milestone, Release, Tranche
from finance.release_filters import MilestoneFilter, ReleaseFilter, TrancheFilter
from smart_portal.api import ErrorSerializer
from subprojects.api.serializers import TimelineEntrySerializer
from verification.permissions import Allowed

REFUSED = {
    400: OpenApiResponse(description="A field breaks a rule; the body names it."),
    403: OpenApiResponse(ErrorSerializer, description="Your role may not do this."),
    404: OpenApiResponse(description="Not found, or not visible to you."),
    409: OpenApiResponse(ErrorSerializer, description="Not possible now; the body says why."),
}


class MilestoneViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Milestones of the release schedules. The sub-project's PO reports one done (`report`: the
    comment is the evidence, `reported_on` the day); the PMU's side may send it back (comment
    required). Filters: `sub_project` (id), `status`."""

    serializer_class = s.ScheduleMilestoneSerializer
    permission_classes = [Allowed.to(releases.may_read, releases.may_read)]
    filterset_class = MilestoneFilter
    parser_classes = [JSONParser]

    def get_queryset(self):
        return (
            Milestone.objects.visible_to(self.request.user)
            .select_related("sub_project", "partner_organization")
            .order_by("sub_project_id", "number")
        )


add_transition_actions(
    MilestoneViewSet,
    Milestone,
    lambda rule: s.MilestoneReportSerializer if rule.action == "report" else TransitionRequestSerializer,
)


class TrancheViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Tranches of the release schedules, with their active release and whether the PO may request
    them now (`requestable`: empty, or why not). PMU officers and the PMU's finance officers change
    one (`PATCH`: title, milestone, amounts, planned date) while it has no active release; per
    financier the tranches never add up to more than the approved share. Filter: `sub_project`."""

    serializer_class = s.TrancheSerializer
    permission_classes = [Allowed.to(releases.may_read, releases.may_edit_schedule)]
    filterset_class = TrancheFilter
    parser_classes = [JSONParser]
    http_method_names = ["get", "patch", "head", "options"]

    def get_queryset(self):
        return (
            Tranche.objects.visible_to(self.request.user)
            .select_related("sub_project", "partner_organization", "milestone")
            .prefetch_related(Prefetch("releases", Release.objects.order_by("-requested_at", "-pk")))
            .order_by("sub_project_id", "number")
        )

    @extend_schema(request=s.TrancheSerializer, responses={200: s.TrancheSerializer, **REFUSED})
    def partial_update(self, request: Request, *args, **kwargs) -> Response:
        tranche = self.get_object()
        payload = self.get_serializer(tranche, data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        row = {"id": tranche.pk, **payload.validated_data}
        releases.edit_schedule(request.user, tranche.sub_project, tranches=[row])
        return Response(self.get_serializer(self.get_queryset().get(pk=tranche.pk)).data)


class ReleaseViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    """Releases of tranches to the POs. A PO's staff request one for their own PO (`POST`: the tranche
    and the justification; refused with 409 and the reason when the milestone is not reported done,
    a previous tranche is not transferred, the tranche is requested already or the amount is more
    than is approved and not yet released). The PMU checks it, PKSF finance approves it (not whoever
    checked it) and records the transfer (`record-transfer`: `transferred_on`, `transfer_reference`);
    the PMU's side may return it (comment required); the PO may withdraw it while requested.
    Filters: `status`, `partner_organization` (code), `sub_project` (id), `financier`
    (`world_bank`, `pksf`), `q`."""

    serializer_class = s.ReleaseSerializer
    permission_classes = [Allowed.to(releases.may_read, releases.may_read)]
    filterset_class = ReleaseFilter
    ordering_fields = ["requested_at", "status_changed_at", "transferred_on"]
    parser_classes = [JSONParser]

    def get_queryset(self):
        return (
            Release.objects.visible_to(self.request.user)
            .select_related("sub_project", "partner_organization", "tranche", "requested_by")
            .order_by("-requested_at", "-pk")
        )

    @extend_schema(request=s.ReleaseRequestSerializer, responses={201: s.ReleaseSerializer, **REFUSED})
    def create(self, request: Request, *args, **kwargs) -> Response:
        """Request the release of a tranche (the staff of its PO)."""
        if not releases.is_po_staff(request.user):
            raise Forbidden(_("Only the staff of the sub-project's PO request its releases."))
        payload = s.ReleaseRequestSerializer(data=request.data, context={"request": request})
        payload.is_valid(raise_exception=True)
        release = releases.request_release(
            request.user, payload.validated_data["tranche"], payload.validated_data["justification"]
        )
        return Response(
            self.get_serializer(self.get_queryset().get(pk=release.pk)).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(responses=TimelineEntrySerializer(many=True))
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def history(self, request: Request, pk=None) -> Response:
        """Audit trail: the request, each transition and each edit, newest first."""
        from subprojects.timeline import timeline

        entries = [entry.as_dict() for entry in timeline(self.get_object())]
        return Response(TimelineEntrySerializer(entries, many=True).data)


add_transition_actions(
    ReleaseViewSet,
    Release,
    lambda rule: (
        s.ReleaseTransferSerializer if rule.action == "record_transfer" else TransitionRequestSerializer
    ),
)
