"""API for the lifecycle. Each transition of the table is `POST /api/v1/<resource>/<id>/<action>/`,
answering 409 with the reason when it is not possible now and 403 when the role may not take it."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Prefetch
from django.http import FileResponse
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import examples
from core.lifecycle import Rule
from core.lifecycle.api import REFUSED, TransitionRequestSerializer, add_transition_actions
from safeguards import reviews
from subprojects import evaluation, services, workflow
from subprojects.api import serializers as s
from subprojects.api.evaluation import DecisionRequestSerializer, MeetingRequestSerializer, RubricSerializer
from subprojects.filters import ConceptNoteFilter, ProposalFilter, SubProjectFilter
from subprojects.models import AgendaItem, Attachment, Call, ConceptNote, Proposal, Rubric, SubProject
from subprojects.permissions import (
    MODEL_WRITES,
    WritesNeed,
    may_amend_sub_project,
    may_change_deadline,
    may_edit_call,
    may_invite,
    may_write_for_po,
    require,
)
from subprojects.timeline import timeline
from subprojects.views.attachments import attachment_response


def _request_serializer(rule: Rule) -> type:
    """What each action of the sub-project tables takes (award takes its terms, the no-objection the
    World Bank's letter)."""
    if rule.action == "award":
        return s.AwardRequestSerializer
    if rule.action == "no_objection":
        return s.NoObjectionRequestSerializer
    if rule.action == "start_evaluation":
        return MeetingRequestSerializer
    if rule.effect == "record_decision":
        return DecisionRequestSerializer
    return TransitionRequestSerializer


class HistoryMixin:
    @extend_schema(responses=s.TimelineEntrySerializer(many=True))
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def history(self, request: Request, pk=None) -> Response:
        """Audit trail: every transition and every recorded edit, newest first."""
        entries = [entry.as_dict() for entry in timeline(self.get_object())]
        return Response(s.TimelineEntrySerializer(entries, many=True).data)


class AttachmentsMixin:
    @extend_schema(
        methods=["post"],
        request={"multipart/form-data": s.AttachmentUploadSerializer},
        responses={201: s.AttachmentSerializer, **REFUSED},
    )
    @extend_schema(methods=["get"], responses=s.AttachmentSerializer(many=True))
    @action(
        detail=True,
        methods=["get", "post"],
        url_path="attachments",
        parser_classes=[MultiPartParser],
        filter_backends=[],
        pagination_class=None,
    )
    def attachments(self, request: Request, pk=None) -> Response:
        owner = self.get_object()
        if request.method == "GET":
            return Response(s.AttachmentSerializer(owner.attachments.all(), many=True).data)
        payload = s.AttachmentUploadSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        with transaction.atomic():
            attachment = services.add_attachment(
                user=request.user,
                owner=owner,
                upload=payload.validated_data["file"],
                description=payload.validated_data["description"],
                mime_type=payload.validated_data["mime_type"],
            )
            if payload.validated_data["is_esmp"]:
                # A proposal's E&S management plan (safeguards.reviews; refused for a concept note).
                attachment = reviews.mark_esmp(user=request.user, attachment=attachment)
        return Response(s.AttachmentSerializer(attachment).data, status=status.HTTP_201_CREATED)


class CallViewSet(
    HistoryMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Calls for concept notes. PMU officers create and edit them (closed calls are final)."""

    serializer_class = s.CallSerializer
    permission_classes = [WritesNeed.to(may_edit_call)]
    filterset_fields = ["status"]
    search_fields = ["reference", "title"]

    def get_queryset(self):
        return Call.objects.visible_to(self.request.user).prefetch_related("eligible_sectors")

    def perform_create(self, serializer):
        serializer.instance = services.create_call(user=self.request.user, data=serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = services.update_call(
            user=self.request.user, call=serializer.instance, data=serializer.validated_data
        )

    @extend_schema(methods=["get"], responses=RubricSerializer)
    @extend_schema(methods=["put"], request=RubricSerializer, responses={200: RubricSerializer, **REFUSED})
    @action(detail=True, methods=["get", "put"])
    def rubric(self, request: Request, pk=None) -> Response:
        """The call's evaluation rubric; the PMU replaces it (weights add up to 100) until scoring starts."""
        rubric = evaluation.rubric_for(self.get_object())
        if request.method == "GET":
            return Response(RubricSerializer(rubric).data)
        payload = RubricSerializer(rubric, data=request.data)
        payload.is_valid(raise_exception=True)
        evaluation.save_rubric(
            user=request.user,
            rubric=rubric,
            pass_mark=payload.validated_data["pass_mark"],
            spread_threshold=payload.validated_data["spread_threshold"],
            criteria=payload.validated_data["criteria"],
        )
        return Response(RubricSerializer(Rubric.objects.get(pk=rubric.pk)).data)


class ConceptNoteViewSet(
    HistoryMixin,
    AttachmentsMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Concept notes (SPCN). PO staff write their PO's notes while in draft; PMU screens them.

    Filters: `call`, `sector` (code), `district` (P-code), `partner_organization` (code), `status`.
    """

    serializer_class = s.ConceptNoteSerializer
    # PO staff write notes; whose note, and whether it is still a draft, the service checks (403/409).
    permission_classes = [WritesNeed.to(may_write_for_po, actions=MODEL_WRITES)]
    filterset_class = ConceptNoteFilter
    search_fields = ["title"]
    ordering_fields = ["status_changed_at", "submitted_at", "created_at"]

    def get_queryset(self):
        return (
            ConceptNote.objects.visible_to(self.request.user)
            .select_related("call", "partner_organization", "sector__business_area")
            .prefetch_related("sub_sectors", "target_districts", "target_upazilas", "attachments")
            .order_by("status_changed_at", "pk")
        )

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        call = data.pop("call")
        serializer.instance = services.create_concept_note(user=self.request.user, call=call, data=data)

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        data.pop("call", None)
        serializer.instance = services.update_concept_note(
            user=self.request.user, note=serializer.instance, data=data
        )

    @extend_schema(request=s.InviteRequestSerializer, responses={201: s.ProposalSerializer, **REFUSED})
    @action(detail=True, methods=["post"])
    def invite(self, request: Request, pk=None) -> Response:
        """PMU invites a shortlisted note to a full proposal (pre-filled from the note)."""
        note = self.get_object()
        require(may_invite(request.user), _("Only PMU officers invite proposals."))
        payload = s.InviteRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        proposal = workflow.invite_proposal(note, request.user, **payload.validated_data)
        return Response(
            s.ProposalSerializer(proposal, context=self.get_serializer_context()).data,
            status=status.HTTP_201_CREATED,
        )


class ProposalViewSet(
    HistoryMixin,
    AttachmentsMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Proposals (SPP), created by `concept-notes/<id>/invite/`. PO staff edit them while invited or
    draft (editing an invited proposal starts it); everyone else acts through transitions."""

    serializer_class = s.ProposalSerializer
    permission_classes = [WritesNeed.to(may_write_for_po, actions=MODEL_WRITES)]
    filterset_class = ProposalFilter
    search_fields = ["title"]
    ordering_fields = ["status_changed_at", "submitted_at", "deadline"]

    def get_queryset(self):
        return (
            Proposal.objects.visible_to(self.request.user)
            .select_related(
                "call",
                "partner_organization",
                "sector__business_area",
                "concept_note",
                "sub_project",
                "es_review",
            )
            .prefetch_related(
                "sub_sectors",
                "target_districts",
                "target_upazilas",
                "attachments",
                "budget_lines",
                "activities",
                "committed_results",
                "exclusions_found",
                "esmp_measures",
                # Who may record the committee's decision (available_actions) reads the current
                # agenda item and its conflicts: see evaluation.current_agenda_item(), presides().
                Prefetch(
                    "agenda_items",
                    queryset=AgendaItem.objects.select_related("meeting").prefetch_related("declarations"),
                ),
            )
            .order_by("status_changed_at", "pk")
        )

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        children = {
            name: data.pop(name)
            for name in ("budget_lines", "activities", "committed_results")
            if name in data
        }
        # The E&S screening's answers and ESMP measures are saved by safeguards.reviews.
        exclusions = data.pop("exclusions_found", None)
        measures = data.pop("esmp_measures", None)
        with transaction.atomic():  # the proposal and its screening, or nothing
            serializer.instance = services.save_proposal(
                user=self.request.user, proposal=serializer.instance, data=data, children=children
            )
            if exclusions is not None or measures is not None:
                reviews.save_screening(
                    user=self.request.user,
                    proposal=serializer.instance,
                    exclusions=exclusions,
                    measures=measures,
                )
        # Re-read with its fresh rows for the response.
        serializer.instance = self.get_queryset().get(pk=serializer.instance.pk)

    @extend_schema(request=s.DeadlineRequestSerializer, responses={200: s.ProposalSerializer, **REFUSED})
    @action(detail=True, methods=["post"])
    def deadline(self, request: Request, pk=None) -> Response:
        """PMU changes the submission deadline of a proposal not yet submitted."""
        proposal = self.get_object()
        require(may_change_deadline(request.user), _("Only PMU officers change proposal deadlines."))
        payload = s.DeadlineRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        services.change_proposal_deadline(user=request.user, proposal=proposal, **payload.validated_data)
        return Response(self.get_serializer(self.get_queryset().get(pk=proposal.pk)).data)


class SubProjectViewSet(
    HistoryMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Awarded sub-projects (created by `proposals/<id>/award/`). PMU officers amend them."""

    serializer_class = s.SubProjectSerializer
    permission_classes = [WritesNeed.to(may_amend_sub_project)]
    filterset_class = SubProjectFilter
    search_fields = ["agreement_number", "title"]

    def get_queryset(self):
        return SubProject.objects.visible_to(self.request.user).select_related(
            "partner_organization", "sector", "proposal"
        )

    def perform_update(self, serializer):
        serializer.instance = services.update_sub_project(
            user=self.request.user, sub_project=serializer.instance, data=serializer.validated_data
        )


class AttachmentViewSet(mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet):
    """Attachments of concept notes and proposals, visible to whoever may see their note or proposal."""

    serializer_class = s.AttachmentSerializer

    def get_queryset(self):
        return Attachment.objects.visible_to(self.request.user).select_related("concept_note", "proposal")

    def perform_destroy(self, instance):
        services.remove_attachment(user=self.request.user, attachment=instance)

    @extend_schema(responses={(200, "application/octet-stream"): bytes})
    @action(detail=True, methods=["get"])
    def download(self, request: Request, pk=None) -> FileResponse:
        return attachment_response(self.get_object())


add_transition_actions(CallViewSet, Call, _request_serializer)
add_transition_actions(ConceptNoteViewSet, ConceptNote, _request_serializer)
add_transition_actions(ProposalViewSet, Proposal, _request_serializer)
add_transition_actions(SubProjectViewSet, SubProject, _request_serializer)

# Realistic examples on the main operations (core.api.examples).
extend_schema_view(
    create=extend_schema(examples=examples.CONCEPT_NOTE),
    submit=extend_schema(examples=examples.CONCEPT_NOTE_SUBMIT),
)(ConceptNoteViewSet)
extend_schema_view(
    retrieve=extend_schema(examples=[examples.AWARDED_PROPOSAL]),
    partial_update=extend_schema(examples=examples.PROPOSAL_UPDATE),
    award=extend_schema(examples=examples.AWARD),
)(ProposalViewSet)
