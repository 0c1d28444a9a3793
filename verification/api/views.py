"""Verification API. Rounds: the PMU draws (`POST /verification-rounds/`); checks: the results are
transitions of the shared engine (`POST /verification-checks/<id>/<action>/`, JSON or, to send a
photo, multipart); the policy: `GET`/`PATCH /verification-policy/current/`; the work lists of what
awaits independent verification (`verification-awaiting-adoptions` with `<id>/verify/`,
`verification-awaiting-facilities` with `<id>/confirm-operational/`, JSON only), for PMU officers and
verifiers belonging to no PO.

Answers: 400 a field breaks a rule (the body names it); 403 the role may not do it; 404 not found or
not visible (another PO's check, a pending check for PO staff, an item that no longer awaits
verification); 409 not possible now (a done check, a quarter already drawn, an item someone else
decided meanwhile), with the reason.
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import FileResponse, Http404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from core.lifecycle.api import add_transition_actions
from core.permissions import is_pmu
from enterprises.api.serializers import ConfirmOperationalSerializer, VerifyRequestSerializer
from enterprises.permissions import is_independent_checker
from smart_portal.api import ErrorSerializer
from subprojects.api.serializers import TimelineEntrySerializer
from verification import services, work
from verification.api import serializers as s
from verification.files import image_response
from verification.filters import CheckFilter
from verification.models import VerificationCheck, VerificationPolicy, VerificationRound
from verification.permissions import Allowed, can_follow_rounds, can_read_checks, can_read_policy

REFUSED = {
    400: OpenApiResponse(description=gettext_lazy("A field breaks a rule; the body names it.")),
    403: OpenApiResponse(ErrorSerializer, description=gettext_lazy("Your role may not do this.")),
    404: OpenApiResponse(description=gettext_lazy("Not found, or not visible to you.")),
    409: OpenApiResponse(ErrorSerializer, description=gettext_lazy("Not possible now; the body says why.")),
}


class RoundViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Quarterly verification samples. Read by the PMU, verifiers, the World Bank and PKSF approvers;
    drawn by the PMU (one per quarter). A round's detail gives each PO's population and sample as
    drawn, and its checks' results and confirmation rate. Filters: `year`, `quarter`."""

    serializer_class = s.RoundSerializer
    permission_classes = [Allowed.to(can_follow_rounds, is_pmu)]
    parser_classes = [JSONParser]
    filterset_fields = ["year", "quarter"]

    def get_queryset(self):
        return (
            VerificationRound.objects.with_progress().select_related("drawn_by").order_by("-year", "-quarter")
        )

    def get_serializer_class(self):
        # The detail adds the round's summary (verification.services.round_summary), as on its page.
        return s.RoundDetailSerializer if self.action in {"retrieve", "create"} else s.RoundSerializer

    @extend_schema(request=s.DrawRequestSerializer, responses={201: s.RoundDetailSerializer, **REFUSED})
    def create(self, request: Request, *args, **kwargs) -> Response:
        """Draw the sample of a quarter (PMU). 409 if that quarter already has one; 400 if the quarter
        is not over yet or ended before the programme started."""
        payload = s.DrawRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        round_ = services.draw_round(user=request.user, **payload.validated_data)
        drawn = self.get_queryset().get(pk=round_.pk)  # with its progress
        return Response(self.get_serializer(drawn).data, status=status.HTTP_201_CREATED)


class CheckViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Sampled items and their results, each with what to visit (`subject`: the ME or facility, where
    it is, the practice and the PO's evidence). The PMU, verifiers and programme-wide readers see
    every check; PO staff see their own PO's checks once a result is recorded (the sample is not
    announced), and nobody belonging to a PO sees that PO's pending checks. Filters: `round` (id),
    `partner_organization` (code), `kind`, `status`, `district` (P-code)."""

    serializer_class = s.CheckSerializer
    permission_classes = [Allowed.to(can_read_checks, can_read_checks)]
    filterset_class = CheckFilter
    search_fields = ["subject_label"]
    ordering_fields = ["status_changed_at", "visited_on"]
    parser_classes = [JSONParser]

    def get_queryset(self):
        return VerificationCheck.objects.visible_to(self.request.user).with_subject().order_by("pk")

    @extend_schema(responses=TimelineEntrySerializer(many=True))
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def history(self, request: Request, pk=None) -> Response:
        """Audit trail: each recorded result, newest first."""
        entries = [entry.as_dict() for entry in services.check_timeline(self.get_object())]
        return Response(TimelineEntrySerializer(entries, many=True).data)

    @extend_schema(
        responses={(200, "image/*"): OpenApiTypes.BINARY, 404: OpenApiResponse(description="No photo.")}
    )
    @action(detail=True, methods=["get"])
    def photo(self, request: Request, pk=None) -> FileResponse:
        """The verifier's photo."""
        return image_response(self.get_object().photo)

    @extend_schema(
        responses={
            (200, "image/*"): OpenApiTypes.BINARY,
            404: OpenApiResponse(description=gettext_lazy("Not an adoption's check, or no photo.")),
        }
    )
    @action(detail=True, methods=["get"], url_path="evidence-photo")
    def evidence_photo(self, request: Request, pk=None) -> FileResponse:
        """The PO's evidence photo of the sampled adoption, to whoever may see the check."""
        check = self.get_object()
        if check.adoption is None:
            raise Http404(_("This check is not of an adoption."))
        return image_response(check.adoption.evidence_photo)


def _add_result_actions() -> None:
    """One `POST /verification-checks/<id>/<action>/` per rule of the lifecycle table."""
    add_transition_actions(
        CheckViewSet,
        VerificationCheck,
        lambda rule: s.CheckResultUploadSerializer,
        request_schema=lambda rule: {"multipart/form-data": s.CheckResultUploadSerializer},
        parser_classes=[MultiPartParser],
        describe=lambda rule: (
            f"Record the result “{rule.label}” ({', '.join(sorted(rule.sources))} → {rule.target}), "
            "as multipart/form-data with its photo (JPEG or PNG), if any."
        ),
    )


_add_result_actions()


class PolicyViewSet(viewsets.GenericViewSet):
    """The verification policy: flagging threshold, margin of error and smallest sample per PO, with
    its history. Read by every signed-in role; changed by the PMU."""

    serializer_class = s.PolicySerializer
    permission_classes = [Allowed.to(can_read_policy, is_pmu)]
    pagination_class = None
    filter_backends = []
    parser_classes = [JSONParser]

    def get_queryset(self):
        return VerificationPolicy.objects.all()

    @extend_schema(methods=["get"], responses=s.PolicySerializer)
    @extend_schema(
        methods=["patch"], request=s.PolicySerializer, responses={200: s.PolicySerializer, **REFUSED}
    )
    @action(detail=False, methods=["get", "patch"])
    def current(self, request: Request) -> Response:
        policy = VerificationPolicy.current()
        if request.method == "GET":
            return Response(self.get_serializer(policy).data)
        payload = self.get_serializer(policy, data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        data = {
            "threshold_percent": policy.threshold_percent,
            "margin_percent": policy.margin_percent,
            "floor": policy.floor,
            **payload.validated_data,
        }
        updated = services.update_policy(user=request.user, **data)
        return Response(self.get_serializer(updated).data)


# --- Awaiting independent verification ------------------------------------------------------------


AWAITING_REFUSED = {
    403: OpenApiResponse(
        ErrorSerializer,
        description=gettext_lazy("Only PMU officers and verifiers belonging to no PO (PO staff never)."),
    ),
    404: OpenApiResponse(
        ErrorSerializer,
        description=gettext_lazy(
            "Not awaiting: unknown, or already verified or confirmed (it has left the list)."
        ),
    ),
}


FILTER_REFUSED = OpenApiResponse(
    ErrorSerializer,
    description=gettext_lazy("An unknown PO code or district P-code; `fields` names the parameter."),
)


def _list_schema(serializer_class: type[serializers.Serializer]):
    return extend_schema_view(
        list=extend_schema(
            parameters=[s.AwaitingFilterSerializer],
            responses={200: serializer_class(many=True), 400: FILTER_REFUSED, 403: AWAITING_REFUSED[403]},
        ),
        retrieve=extend_schema(responses={200: serializer_class, **AWAITING_REFUSED}),
    )


class AwaitingViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Shared by the two work lists (`verification.work.WORK_LISTS`): what awaits, for PMU officers
    and verifiers who belong to no PO (everyone else 403, PO staff included, even for their own PO's
    items). An item that no longer awaits is not in the resource: 404 by id."""

    permission_classes = [Allowed.to(is_independent_checker, is_independent_checker)]
    parser_classes = [JSONParser]
    filter_backends = []
    work_list: work.WorkList  # set by each resource
    # The enterprise API's request and the answer of the decision.
    request_serializer: type[serializers.Serializer]
    decided_serializer: type[serializers.Serializer]

    def get_queryset(self) -> QuerySet:
        if self.action != "list" or getattr(self, "swagger_fake_view", False):
            return self.work_list.items(None)
        chosen = s.AwaitingFilterSerializer(data=self.request.query_params, context={"request": self.request})
        chosen.is_valid(raise_exception=True)
        return self.work_list.items(chosen.validated_data)

    def _decide(self, request: Request) -> Response:
        """Run the decision on the item with the request's date (default today) and comment: a date
        that does not fit is a 400 naming the field (verification.work.decide)."""
        item = self.get_object()
        payload = self.request_serializer(data=request.data)
        payload.is_valid(raise_exception=True)
        decided = work.decide(
            self.work_list,
            user=request.user,
            item=item,
            on=payload.validated_data.get(self.work_list.date_field),
            comment=payload.validated_data.get("comment", ""),
        )
        return Response(self.decided_serializer(decided).data)


def _decision_schema(request_serializer, decided_serializer, conflict):
    return extend_schema(
        request=request_serializer,
        responses={
            200: decided_serializer,
            400: OpenApiResponse(
                ErrorSerializer,
                description=gettext_lazy(
                    "The date is not a date, is in the future or is before the adoption or the "
                    "opening; `fields` names it."
                ),
            ),
            **AWAITING_REFUSED,
            409: OpenApiResponse(ErrorSerializer, description=conflict),
        },
    )


@_list_schema(s.AwaitingAdoptionSerializer)
class AwaitingAdoptionViewSet(AwaitingViewSet):
    """RECP adoptions POs reported that nobody has verified yet, oldest adoption first, each with the
    PO's evidence and the ME to visit. Filters: `po` (PO code), `district` (P-code). Verify one with
    `POST <id>/verify/`: it then counts towards "MEs adopting at least two RECP practices" and leaves
    the list (404 by id from then on)."""

    serializer_class = s.AwaitingAdoptionSerializer
    work_list = work.ADOPTIONS
    request_serializer = VerifyRequestSerializer
    decided_serializer = s.AdoptionVerifiedSerializer

    @_decision_schema(
        VerifyRequestSerializer,
        s.AdoptionVerifiedSerializer,
        gettext_lazy("Someone verified it in the meantime; the body says when."),
    )
    @action(detail=True, methods=["post"])
    def verify(self, request: Request, pk=None) -> Response:
        """Verify the adoption: the practice was seen in use on `verified_on` (default today); the
        comment is kept with the decision, with who and when."""
        return self._decide(request)

    @extend_schema(
        responses={
            (200, "image/*"): OpenApiTypes.BINARY,
            403: AWAITING_REFUSED[403],
            404: OpenApiResponse(ErrorSerializer, description=gettext_lazy("Not awaiting, or no photo.")),
        }
    )
    @action(detail=True, methods=["get"])
    def photo(self, request: Request, pk=None) -> FileResponse:
        """The PO's evidence photo (JPEG or PNG), for PMU officers and verifiers only."""
        return image_response(self.get_object().evidence_photo)


@_list_schema(s.AwaitingFacilitySerializer)
class AwaitingFacilityViewSet(AwaitingViewSet):
    """Common service facilities POs report operational whose operation nobody has confirmed yet, the
    one opened earliest first. Filters: `po` (PO code), `district` (P-code). Confirm one with
    `POST <id>/confirm-operational/`: it then counts as established and leaves the list (404 by id
    from then on)."""

    serializer_class = s.AwaitingFacilitySerializer
    work_list = work.FACILITIES
    request_serializer = ConfirmOperationalSerializer
    decided_serializer = s.FacilityConfirmedSerializer

    @_decision_schema(
        ConfirmOperationalSerializer,
        s.FacilityConfirmedSerializer,
        gettext_lazy(
            "Someone confirmed it in the meantime, or its PO no longer reports it operational; the "
            "body says why."
        ),
    )
    @action(detail=True, methods=["post"], url_path="confirm-operational")
    def confirm_operational(self, request: Request, pk=None) -> Response:
        """Confirm that the facility operates: seen operating on `on` (default today); the comment is
        kept with the decision, with who and when."""
        return self._decide(request)
