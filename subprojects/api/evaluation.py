"""API of the technical evaluation: rubrics, TEC meetings, conflict declarations, score sheets,
consolidation and conditions, with the same blindness and conflict-of-interest rules as the pages."""

from __future__ import annotations

from decimal import Decimal

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import examples
from core.errors import Forbidden
from core.models import User
from smart_portal.api import ScopedRelations
from subprojects import evaluation, workflow
from subprojects.models import (
    AgendaItem,
    Condition,
    ConflictDeclaration,
    Criterion,
    Proposal,
    ProposalStatus,
    Rubric,
    ScoreSheet,
    TecMeeting,
)
from subprojects.permissions import (
    WritesNeed,
    is_tec_member,
    may_organise_meetings,
    may_take_attendance,
    require,
)

# A refusal of the scoring rules (ActionRefused) is answered by smart_portal.api.exception_handler:
# 403 when it is about who asks, 409 otherwise.


# --- Rubric ---------------------------------------------------------------------------------------

# Computed figures are decimal strings with their scale, like the stored ones (never JSON numbers).
WEIGHTS_TOTAL = serializers.DecimalField(max_digits=6, decimal_places=2)
MEMBER_TOTAL = serializers.DecimalField(
    max_digits=6, decimal_places=2, allow_null=True, help_text=_("Out of 100; null until submitted.")
)


class CriterionSerializer(serializers.ModelSerializer):
    id = serializers.IntegerField(required=False)

    class Meta:
        model = Criterion
        fields = ["id", "name", "guidance", "weight", "max_score"]


class RubricSerializer(serializers.ModelSerializer):
    criteria = CriterionSerializer(many=True)
    locked = serializers.SerializerMethodField()
    weights_total = serializers.SerializerMethodField()

    class Meta:
        model = Rubric
        fields = ["call", "pass_mark", "spread_threshold", "criteria", "weights_total", "locked"]
        read_only_fields = ["call"]

    def get_locked(self, rubric: Rubric) -> bool:
        return evaluation.rubric_is_locked(rubric)

    @extend_schema_field(WEIGHTS_TOTAL)
    def get_weights_total(self, rubric: Rubric) -> str:
        return WEIGHTS_TOTAL.to_representation(evaluation.weights_total(list(rubric.criteria.all())))

    def validate_criteria(self, criteria):
        error = evaluation.weights_error(criteria)
        if error:
            raise serializers.ValidationError(error)
        return criteria


# --- Meetings -------------------------------------------------------------------------------------


class AgendaItemSerializer(ScopedRelations, serializers.ModelSerializer):
    reference = serializers.CharField(source="proposal.reference", read_only=True)
    decision = serializers.SerializerMethodField()

    class Meta:
        model = AgendaItem
        fields = [
            "id",
            "proposal",
            "reference",
            "position",
            "decision",
            "acting_chair",
            "acting_chair_reason",
        ]
        read_only_fields = ["acting_chair", "acting_chair_reason"]

    def get_decision(self, item: AgendaItem) -> str | None:
        decision = getattr(item, "decision", None)
        return decision.outcome if decision else None


class AttendanceRowSerializer(serializers.Serializer):
    member = serializers.IntegerField()
    name = serializers.CharField()
    present = serializers.BooleanField()


class MeetingAttendanceSerializer(serializers.Serializer):
    """Who of the meeting's members is present; `taken` false (and nobody present) until the chair
    (or the PMU) records it."""

    taken = serializers.BooleanField()
    taken_at = serializers.DateTimeField(source="meeting.attendance_taken_at", allow_null=True)
    taken_by = serializers.IntegerField(source="meeting.attendance_taken_by_id", allow_null=True)
    present_count = serializers.IntegerField()
    members = AttendanceRowSerializer(source="rows", many=True)


class MeetingAttendanceRequestSerializer(serializers.Serializer):
    """For `tec-meetings/<id>/attendance/`: the members present (everyone else is absent)."""

    present = serializers.ListField(
        child=serializers.IntegerField(), help_text="Ids of the members present (at least one)."
    )
    comment = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="Why, for a correction (logged)."
    )


def attendance_data(meeting: TecMeeting) -> dict:
    attendance = evaluation.attendance_of(meeting)
    return MeetingAttendanceSerializer(
        {
            "taken": attendance.taken,
            "meeting": meeting,
            "present_count": attendance.present_count,
            "rows": [
                {"member": member.pk, "name": member.get_display_name(), "present": present}
                for member, present in attendance.rows
            ],
        }
    ).data


class TecMeetingSerializer(ScopedRelations, serializers.ModelSerializer):
    members = serializers.PrimaryKeyRelatedField(queryset=User.objects.all(), many=True)
    agenda = AgendaItemSerializer(many=True, read_only=True)
    # Taken by the chair (or the PMU) through `tec-meetings/<id>/attendance/`, each version logged.
    attendance = serializers.SerializerMethodField()

    class Meta:
        model = TecMeeting
        fields = [
            "id",
            "number",
            "held_on",
            "venue",
            "chair",
            "members",
            "attendees",
            "attendance",
            "notes",
            "agenda",
            "updated_at",
        ]
        read_only_fields = ["attendees"]

    @extend_schema_field(MeetingAttendanceSerializer)
    def get_attendance(self, meeting: TecMeeting) -> dict:
        return attendance_data(meeting)

    def validate(self, attrs):
        chair = attrs.get("chair", getattr(self.instance, "chair", None))
        members = attrs.get("members", list(self.instance.members.all()) if self.instance else [])
        error = evaluation.chair_error(chair, members)
        if error:
            raise serializers.ValidationError({"chair": error})
        return attrs


class MeetingRequestSerializer(ScopedRelations, serializers.Serializer):
    """For `proposals/<id>/start-evaluation/`: the meeting whose agenda the proposal goes on."""

    meeting = serializers.PrimaryKeyRelatedField(queryset=TecMeeting.objects.all())
    comment = serializers.CharField(required=False, allow_blank=True, default="")


class DecisionRequestSerializer(serializers.Serializer):
    """For the committee's decisions on `proposals/<id>/<decision>/`."""

    comment = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="Reasons, or what the PO must revise."
    )
    conditions = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        default=list,
        help_text="For recommend-with-conditions: the conditions, one per item.",
    )
    override_reason = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="The chair only: why the decision is taken without every member's submitted scores.",
    )


class AgendaRequestSerializer(ScopedRelations, serializers.Serializer):
    proposal = serializers.PrimaryKeyRelatedField(
        queryset=Proposal.objects.filter(status=ProposalStatus.SUBMITTED)
    )


class ActingChairRequestSerializer(serializers.Serializer):
    """For `tec-meetings/<id>/acting-chair/`: who chairs one agenda item instead of the meeting's chair."""

    agenda_item = serializers.IntegerField(help_text="An item of this meeting's agenda.")
    acting_chair = serializers.IntegerField(
        allow_null=True,
        help_text="A member of the meeting without a conflict on the item; null: the meeting's chair.",
    )
    reason = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="Why (required when naming someone)."
    )


class CriterionScoreSerializer(serializers.Serializer):
    criterion = serializers.IntegerField(help_text=_("A criterion of the call's rubric."))
    value = serializers.DecimalField(max_digits=5, decimal_places=2)


class MemberTotalSerializer(serializers.Serializer):
    member = serializers.IntegerField(source="member.pk")
    name = serializers.CharField(source="member.get_display_name")
    status = serializers.ChoiceField(
        choices=list(evaluation.MEMBER_STEPS.items()), help_text=_("Where the member stands on the item.")
    )
    total = serializers.DecimalField(max_digits=6, decimal_places=2, allow_null=True)
    scores = serializers.SerializerMethodField(
        help_text=_("The member's submitted scores, one per criterion.")
    )

    @extend_schema_field(CriterionScoreSerializer(many=True))
    def get_scores(self, row: evaluation.MemberTotal) -> list[dict]:
        rows = [{"criterion": criterion, "value": value} for criterion, value in row.scores.items()]
        return CriterionScoreSerializer(rows, many=True).data


class ConsolidationSerializer(serializers.Serializer):
    agenda_item = serializers.IntegerField(source="item.pk")
    proposal = serializers.IntegerField(source="item.proposal_id")
    members = MemberTotalSerializer(source="rows", many=True)
    mean = serializers.DecimalField(max_digits=6, decimal_places=2, allow_null=True)
    spread = serializers.DecimalField(max_digits=6, decimal_places=2, allow_null=True)
    pass_mark = serializers.DecimalField(max_digits=5, decimal_places=2)
    spread_threshold = serializers.DecimalField(max_digits=5, decimal_places=2)
    below_pass_mark = serializers.BooleanField()
    wide_spread = serializers.BooleanField()
    complete = serializers.BooleanField()


class TecMeetingViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """TEC meetings. Members see their meetings; the PMU organises them and sets their agendas."""

    serializer_class = TecMeetingSerializer
    # Naming an acting chair, and taking the attendance, are for the PMU or the meeting's chair:
    # evaluation.name_acting_chair and evaluation.take_attendance ask.
    permission_classes = [
        WritesNeed.to(may_organise_meetings, actions=("create", "update", "partial_update", "agenda"))
    ]

    def get_queryset(self):
        return TecMeeting.objects.visible_to(self.request.user).prefetch_related(
            "members", "attendees", "agenda__proposal", "agenda__decision"
        )

    def perform_create(self, serializer):
        serializer.instance = evaluation.save_meeting(
            user=self.request.user, meeting=None, data=serializer.validated_data
        )

    def perform_update(self, serializer):
        data = {
            "members": list(serializer.instance.members.all()),
            "chair": serializer.instance.chair,
            **serializer.validated_data,
        }
        serializer.instance = evaluation.save_meeting(
            user=self.request.user, meeting=serializer.instance, data=data
        )

    @extend_schema(request=AgendaRequestSerializer, responses={201: AgendaItemSerializer})
    @action(detail=True, methods=["post"])
    def agenda(self, request: Request, pk=None) -> Response:
        """Put a submitted proposal on the agenda: it moves to under_evaluation."""
        meeting = self.get_object()  # writing it is for the PMU: see permission_classes
        payload = AgendaRequestSerializer(data=request.data, context={"request": request})
        payload.is_valid(raise_exception=True)
        workflow.apply(payload.validated_data["proposal"], "start_evaluation", request.user, meeting=meeting)
        item = AgendaItem.objects.get(meeting=meeting, proposal=payload.validated_data["proposal"])
        return Response(AgendaItemSerializer(item).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ActingChairRequestSerializer, responses={200: AgendaItemSerializer})
    @action(detail=True, methods=["post"], url_path="acting-chair")
    def acting_chair(self, request: Request, pk=None) -> Response:
        """The PMU (or the meeting's chair) names the member who chairs one agenda item instead of the
        chair, e.g. when the chair declared a conflict of interest on it; `acting_chair` null withdraws."""
        meeting = self.get_object()
        payload = ActingChairRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        item = meeting.agenda.filter(pk=payload.validated_data["agenda_item"]).first()
        if item is None:
            raise serializers.ValidationError({"agenda_item": [_("Not an item of this meeting's agenda.")]})
        evaluation.check_may_name_acting_chair(request.user, item)  # 403 before any detail is checked
        member = None
        if payload.validated_data["acting_chair"] is not None:
            member = meeting.members.filter(pk=payload.validated_data["acting_chair"]).first()
            if member is None:
                raise serializers.ValidationError({"acting_chair": [_("Not a member of this meeting.")]})
        updated = evaluation.name_acting_chair(
            user=request.user, item=item, member=member, reason=payload.validated_data["reason"]
        )
        return Response(AgendaItemSerializer(updated).data)

    @extend_schema(methods=["get"], responses=MeetingAttendanceSerializer)
    @extend_schema(
        methods=["post"],
        request=MeetingAttendanceRequestSerializer,
        responses={200: MeetingAttendanceSerializer},
    )
    @action(detail=True, methods=["get", "post"])
    def attendance(self, request: Request, pk=None) -> Response:
        """Who is present. The chair (or the PMU) records it, and corrects it until the minutes are
        final (every proposal of the agenda decided): 403 for anyone else, 409 once final."""
        meeting = self.get_object()
        if request.method == "POST":
            # Who may take it first (403), whatever was sent.
            require(
                may_take_attendance(request.user, meeting),
                _("Only the chair of %(meeting)s (or the PMU) takes its attendance.") % {"meeting": meeting},
            )
            payload = MeetingAttendanceRequestSerializer(data=request.data)
            payload.is_valid(raise_exception=True)
            wanted = set(payload.validated_data["present"])
            members = {member.pk: member for member in meeting.members.all()}
            strangers = sorted(wanted - set(members))
            if strangers:
                raise serializers.ValidationError(
                    {
                        "present": [
                            _("Not members of this meeting: %(ids)s.")
                            % {"ids": ", ".join(map(str, strangers))}
                        ]
                    }
                )
            evaluation.take_attendance(
                user=request.user,
                meeting=meeting,
                present=[members[pk] for pk in wanted],
                comment=payload.validated_data["comment"],
            )
            meeting = self.get_queryset().get(pk=meeting.pk)
        return Response(attendance_data(meeting))

    @extend_schema(responses=ConsolidationSerializer(many=True))
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def consolidation(self, request: Request, pk=None) -> Response:
        """Consolidated scores of each agenda item the user may see (members: after submitting theirs)."""
        items = list(self.get_object().agenda.order_by("position"))
        consolidations = evaluation.consolidate_many(items)
        visible = [
            consolidations[item.pk]
            for item in items
            if evaluation.may_see_consolidation(request.user, consolidations[item.pk])
        ]
        return Response(ConsolidationSerializer(visible, many=True).data)


# --- Declarations and scores ----------------------------------------------------------------------


class ConflictDeclarationSerializer(ScopedRelations, serializers.ModelSerializer):
    class Meta:
        model = ConflictDeclaration
        fields = ["id", "agenda_item", "member", "has_conflict", "explanation", "declared_at", "updated_at"]
        read_only_fields = ["member", "declared_at"]


class ConflictDeclarationViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    """Conflict-of-interest declarations: one per member and agenda item, before scoring. Visible to
    the meeting's members and the programme-wide roles."""

    serializer_class = ConflictDeclarationSerializer
    # Only TEC members declare (403 for anyone else, before the agenda item is even looked up).
    permission_classes = [WritesNeed.to(is_tec_member)]
    filterset_fields = ["agenda_item", "member", "has_conflict"]

    def get_queryset(self):
        meetings = TecMeeting.objects.visible_to(self.request.user)
        return ConflictDeclaration.objects.filter(agenda_item__meeting__in=meetings).select_related("member")

    def perform_create(self, serializer):
        item = serializer.validated_data["agenda_item"]
        if not TecMeeting.objects.visible_to(self.request.user).filter(pk=item.meeting_id).exists():
            raise Forbidden(_("Only members of the meeting declare for its agenda."))
        serializer.instance = evaluation.declare(
            user=self.request.user,
            item=item,
            has_conflict=serializer.validated_data["has_conflict"],
            explanation=serializer.validated_data.get("explanation", ""),
        )


class ScoreSerializer(serializers.Serializer):
    criterion = serializers.IntegerField()
    value = serializers.DecimalField(max_digits=5, decimal_places=2, min_value=Decimal("0"), allow_null=True)
    comment = serializers.CharField(required=False, allow_blank=True, default="")


@extend_schema_serializer(examples=examples.SCORE_SHEET)
class ScoreSheetSerializer(ScopedRelations, serializers.ModelSerializer):
    scores = serializers.SerializerMethodField()
    total = serializers.SerializerMethodField()

    class Meta:
        model = ScoreSheet
        fields = [
            "id",
            "agenda_item",
            "member",
            "status",
            "comment",
            "submitted_at",
            "scores",
            "total",
            "updated_at",
        ]

    @extend_schema_field(ScoreSerializer(many=True))
    def get_scores(self, sheet: ScoreSheet) -> list[dict]:
        rows = [
            {"criterion": s.criterion_id, "value": s.value, "comment": s.comment} for s in sheet.scores.all()
        ]
        return ScoreSerializer(rows, many=True).data

    @extend_schema_field(MEMBER_TOTAL)
    def get_total(self, sheet: ScoreSheet) -> str | None:
        if not sheet.is_submitted:
            return None
        criteria = list(sheet.agenda_item.proposal.call.rubric.criteria.all())
        total = evaluation.weighted_total({s.criterion_id: s.value for s in sheet.scores.all()}, criteria)
        return MEMBER_TOTAL.to_representation(total)


@extend_schema_serializer(examples=examples.SCORES)
class ScoreSheetWriteSerializer(ScopedRelations, serializers.Serializer):
    agenda_item = serializers.PrimaryKeyRelatedField(queryset=AgendaItem.objects.all())
    scores = ScoreSerializer(many=True)
    comment = serializers.CharField(required=False, allow_blank=True, default="")
    submit = serializers.BooleanField(default=False, help_text="Submit and lock the scores.")


class ScoreSheetViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Score sheets (blind): a member sees only their own until they submit theirs for the proposal;
    then the other members' submitted sheets. `POST /scores/` saves a draft or submits (`submit`)."""

    serializer_class = ScoreSheetSerializer
    filterset_fields = ["agenda_item", "member", "status"]

    def get_queryset(self):
        return (
            ScoreSheet.objects.visible_to(self.request.user)
            .select_related("agenda_item__proposal__call__rubric")
            .prefetch_related("scores", "agenda_item__proposal__call__rubric__criteria")
        )

    @extend_schema(request=ScoreSheetWriteSerializer, responses={200: ScoreSheetSerializer})
    def create(self, request: Request) -> Response:
        require(is_tec_member(request.user), _("Only TEC members score."))
        payload = ScoreSheetWriteSerializer(data=request.data, context={"request": request})
        payload.is_valid(raise_exception=True)
        item = payload.validated_data["agenda_item"]
        if not TecMeeting.objects.visible_to(request.user).filter(pk=item.meeting_id).exists():
            raise Forbidden(_("Only members of the meeting score its agenda."))
        values = {
            s["criterion"]: (s["value"], s.get("comment", "")) for s in payload.validated_data["scores"]
        }
        sheet = evaluation.save_scores(
            user=request.user,
            item=item,
            values=values,
            comment=payload.validated_data["comment"],
            submit=payload.validated_data["submit"],
        )
        return Response(self.get_serializer(self.get_queryset().get(pk=sheet.pk)).data)


# --- Conditions -----------------------------------------------------------------------------------


class ConditionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Condition
        fields = [
            "id",
            "proposal",
            "text",
            "evidence",
            "evidence_at",
            "met",
            "met_note",
            "met_by",
            "met_at",
            "updated_at",
        ]
        read_only_fields = fields


class ConditionNoteSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, default="")


class ConditionEvidenceSerializer(serializers.Serializer):
    evidence = serializers.CharField()


class ConditionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Conditions of "recommended with conditions" decisions; the award waits until all are met."""

    serializer_class = ConditionSerializer
    filterset_fields = ["proposal", "met"]

    def get_queryset(self):
        return Condition.objects.filter(proposal__in=Proposal.objects.visible_to(self.request.user))

    @extend_schema(request=ConditionNoteSerializer, responses={200: ConditionSerializer})
    @action(detail=True, methods=["post"])
    def meet(self, request: Request, pk=None) -> Response:
        """PMU checks the condition off, with a note (or on the PO's evidence)."""
        condition = self.get_object()
        payload = ConditionNoteSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        condition = evaluation.meet_condition(
            user=request.user, condition=condition, **payload.validated_data
        )
        return Response(ConditionSerializer(condition).data)

    @extend_schema(request=ConditionEvidenceSerializer, responses={200: ConditionSerializer})
    @action(detail=True, methods=["post"])
    def evidence(self, request: Request, pk=None) -> Response:
        """The PO records its evidence that the condition is met."""
        condition = self.get_object()  # first: another PO's condition is a 404, whatever was sent
        payload = ConditionEvidenceSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        condition = evaluation.add_evidence(user=request.user, condition=condition, **payload.validated_data)
        return Response(ConditionSerializer(condition).data)
