"""Grievance API.

Staff (`/grievances/`): list and read what you may see (`Grievance.objects.visible_to`: a grievance
you may not see is 404, a list never shows it; SEA/SH cases only to their named focal points); log a
grievance (`POST`, PO staff and focal points); the transitions of the shared engine
(`POST /grievances/<id>/<action>/`). Filters: `status`, `tier`, `category`, `partner_organization`
(PO code), `overdue`, `q` (reference, tracking code or subject). The complainant's identity is null
unless you handle the current tier.

Public (no sign-in, throttled per client address, one limit with the page):
`POST /public/grievances/` lodges a grievance (multipart to attach files) and answers its tracking
code; `GET /public/grievance-status/<tracking code>/` answers status, tier and dates only, and the
same 404 for any wrong code.
"""

from __future__ import annotations

from django.http import FileResponse
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from core import lifecycle
from core.lifecycle.api import REFUSED, TransitionRequestSerializer, add_transition_actions
from core.uploads import file_response
from grievances import handling, intake
from grievances.api import handling_serializers as s
from grievances.filters import GrievanceFilter
from grievances.models import Grievance, GrievanceAttachment, GrievanceStatus
from smart_portal.api import ErrorSerializer

THROTTLED = OpenApiResponse(ErrorSerializer, description=gettext_lazy("Too many requests from your address."))
TOO_LARGE = OpenApiResponse(
    ErrorSerializer,
    description=gettext_lazy("The body is larger than the attachments allowed; nothing was read."),
)


class GrievanceViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    """Grievances you may see (focal points: their PO's or, for the PMU's, all; SEA/SH cases only to
    the SEA/SH focal points). `POST` logs a grievance received by phone, letter, in person, at a CSF
    (a PO's staff and focal points, for their PO) or sent to PKSF or the Bank (the PMU's focal
    points); the answer gives the tracking code to pass on to the complainant."""

    serializer_class = s.GrievanceSerializer
    permission_classes = [IsAuthenticated]
    filterset_class = GrievanceFilter
    search_fields: list[str] = []  # searching is the filter's `q`, within what you may see
    ordering_fields = ["received_at", "acknowledge_by", "resolve_by", "tier", "status"]
    ordering = ["-received_at", "-pk"]
    # Logging one (`create`) uploads its attachments: multipart only; the actions read JSON.
    parser_classes = [MultiPartParser]

    def get_queryset(self):
        user = self.request.user
        queryset = Grievance.objects.visible_to(user).select_related(
            "partner_organization", "district", "logged_by"
        )
        return handling.with_handling(queryset, user).prefetch_related("attachments")

    def get_serializer_class(self):
        if self.action == "create":
            return s.StaffGrievanceSerializer
        return s.GrievanceSerializer

    @extend_schema(
        request={"multipart/form-data": s.StaffGrievanceSerializer},
        responses={
            201: s.LoggedSerializer,
            400: OpenApiResponse(description=gettext_lazy("A field breaks a rule; the body names it.")),
            403: OpenApiResponse(
                ErrorSerializer, description=gettext_lazy("Your role may not log grievances.")
            ),
        },
    )
    def create(self, request: Request, *args, **kwargs) -> Response:
        if not handling.may_log(request.user):
            raise PermissionDenied(_("Only PO staff and grievance or SEA/SH focal points log grievances."))
        payload = s.StaffGrievanceSerializer(data=request.data, context=self.get_serializer_context())
        payload.is_valid(raise_exception=True)
        grievance = handling.lodge(**payload.lodge_kwargs(), logged_by=request.user)
        answer = {
            "id": grievance.pk,
            "reference": grievance.reference,
            "tracking_code": grievance.tracking_code,
            "status": grievance.status,
            "tier": grievance.tier,
            "visible_to_you": Grievance.objects.visible_to(request.user).filter(pk=grievance.pk).exists(),
        }
        return Response(s.LoggedSerializer(answer).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        responses={
            (200, "application/octet-stream"): OpenApiTypes.BINARY,
            404: OpenApiResponse(description=""),
        }
    )
    @action(detail=True, methods=["get"], url_path=r"attachments/(?P<attachment_id>\d+)")
    def attachment(self, request: Request, pk=None, attachment_id=None) -> FileResponse:
        """One attachment of a grievance you may see."""
        grievance = self.get_object()
        item = get_object_or_404(GrievanceAttachment, grievance=grievance, pk=attachment_id)
        return file_response(item.file, name=item.original_name, content_type=item.mime_type)


add_transition_actions(
    GrievanceViewSet,
    Grievance,
    lambda rule: s.ReclassifySerializer if rule.action == "reclassify" else TransitionRequestSerializer,
    parser_classes=[JSONParser],
)


@extend_schema(
    request=s.ReclassifySerializer,
    responses={200: s.ReclassifiedSerializer, **REFUSED},
    summary=str(lifecycle.get_rule(Grievance, "reclassify").label),
)
@action(detail=True, methods=["post"], url_path="reclassify", parser_classes=[JSONParser])
def reclassify(self, request: Request, pk=None) -> Response:
    """Change the category (comment required), the state kept. Answers the reference, the new
    category and `visible_to_you`: a case moved into SEA/SH goes to the SEA/SH focal points, and may
    leave your sight (then 404 to you, like any case you may not see)."""
    grievance = self.get_object()
    rule = lifecycle.get_rule(Grievance, "reclassify")
    lifecycle.check_may_act(request.user, grievance, rule)
    lifecycle.check_state(grievance, rule, request.user)
    payload = s.ReclassifySerializer(data=request.data, context={"request": request, "object": grievance})
    payload.is_valid(raise_exception=True)
    updated = lifecycle.apply(
        grievance,
        "reclassify",
        request.user,
        comment=payload.validated_data["comment"],
        category=payload.validated_data["category"],
    )
    answer = {
        "id": updated.pk,
        "reference": updated.reference,
        "category": updated.category,
        "status": updated.status,
        "tier": updated.tier,
        "visible_to_you": Grievance.objects.visible_to(request.user).filter(pk=updated.pk).exists(),
    }
    return Response(s.ReclassifiedSerializer(answer).data)


# The generated action answers the case as you see it, which a case moved out of your sight cannot:
# this one replaces it (the same URL and request).
GrievanceViewSet.reclassify = reclassify


class PublicGrievanceViewSet(viewsets.GenericViewSet):
    """Lodge a grievance without an account (the public page's API). Throttled per client address."""

    serializer_class = s.PublicGrievanceSerializer
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [intake.LodgeThrottle]
    parser_classes = [MultiPartParser]  # the grievance and its attachments
    pagination_class = None
    filter_backends: list = []

    def get_queryset(self):
        return Grievance.objects.none()

    @extend_schema(
        request={"multipart/form-data": s.PublicGrievanceSerializer},
        responses={
            201: s.LodgedSerializer,
            400: OpenApiResponse(description=gettext_lazy("A field breaks a rule; the body names it.")),
            413: TOO_LARGE,
            429: THROTTLED,
        },
        auth=[],
    )
    def create(self, request: Request) -> Response:
        """Lodge a grievance; keep the tracking code of the answer to follow it."""
        # Before anything reads the body: a body too large is refused from its headers.
        if intake.body_too_large(request):
            return Response(
                {"detail": intake.body_too_large_message(), "code": "too_large"},
                status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            )
        honeypot = request.data.get(intake.HONEYPOT_FIELD) if hasattr(request.data, "get") else None
        if isinstance(honeypot, str) and honeypot.strip():
            answer = {"tracking_code": intake.decoy_tracking_code(), "status": GrievanceStatus.RECEIVED}
            return Response(s.LodgedSerializer(answer).data, status=status.HTTP_201_CREATED)
        payload = self.get_serializer(data=request.data)
        payload.is_valid(raise_exception=True)
        grievance = handling.lodge(**payload.lodge_kwargs())
        answer = {"tracking_code": grievance.tracking_code, "status": grievance.status}
        return Response(s.LodgedSerializer(answer).data, status=status.HTTP_201_CREATED)


class PublicGrievanceStatusViewSet(viewsets.GenericViewSet):
    """The status of a grievance by its tracking code: status, tier and dates only. Any wrong code is
    the same 404. Throttled per client address."""

    serializer_class = s.PublicStatusSerializer
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [intake.LookupThrottle]
    pagination_class = None
    filter_backends: list = []
    lookup_field = "tracking_code"
    lookup_value_regex = r"[A-Za-z0-9-]{1,40}"

    def get_queryset(self):
        return Grievance.objects.none()

    @extend_schema(
        responses={
            200: s.PublicStatusSerializer,
            404: OpenApiResponse(
                ErrorSerializer, description=gettext_lazy("No grievance has this tracking code.")
            ),
            429: THROTTLED,
        },
        auth=[],
    )
    def retrieve(self, request: Request, tracking_code: str | None = None) -> Response:
        found = intake.public_status(tracking_code or "")
        if found is None:
            raise NotFound(_("No grievance has this tracking code."))
        return Response(s.PublicStatusSerializer(found).data)
