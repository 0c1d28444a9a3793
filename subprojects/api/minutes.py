"""The minutes of a TEC meeting through the API: `tec-meetings/<id>/minutes/` (what the minutes page
shows, as JSON) and `tec-meetings/<id>/minutes/pdf/` (the page's PDF). Both read the page's own
function (subprojects.views.evaluation.minutes_context): the same meeting visibility (another
meeting: 404) and the same rule on who may read them (evaluation.may_see_minutes: a member who has
not submitted on every proposal they did not declare a conflict on gets 403), with an item a member
declared a conflict on shown without its scores until the decision."""

from __future__ import annotations

from django.http import Http404, HttpResponse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.downloads import PDF, DownloadNegotiation, file_responses
from smart_portal.api import ErrorSerializer
from subprojects import evaluation
from subprojects.api import evaluation as evaluation_api
from subprojects.models import DecisionOutcome

REFUSALS = {
    403: OpenApiResponse(
        ErrorSerializer,
        description=_(
            "A member who has not yet submitted scores on every proposal of the agenda they did not "
            "declare a conflict on (the minutes show everyone's scores), or a role that reads no minutes."
        ),
    ),
    404: OpenApiResponse(ErrorSerializer, description=_("No such meeting, or not one you may see.")),
}


class MinutesPersonSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class MinutesAttendanceRowSerializer(serializers.Serializer):
    member = serializers.IntegerField()
    name = serializers.CharField()
    chair = serializers.BooleanField(help_text=_("Whether the member chairs the meeting."))
    present = serializers.BooleanField(help_text=_("Always false while the attendance is not taken."))


class MinutesAttendanceSerializer(serializers.Serializer):
    taken = serializers.BooleanField(help_text=_("False until the chair (or the PMU) records it."))
    summary = serializers.CharField(help_text=_('E.g. "3 of 4 members present".'))
    present_count = serializers.IntegerField()
    members = MinutesAttendanceRowSerializer(many=True)


class MinutesConflictSerializer(serializers.Serializer):
    member = serializers.IntegerField()
    name = serializers.CharField()
    agenda_item = serializers.IntegerField()
    proposal = serializers.IntegerField()
    reference = serializers.CharField()
    explanation = serializers.CharField()


class MinutesDecisionSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=DecisionOutcome.choices)
    outcome_label = serializers.CharField()
    text = serializers.CharField(help_text=_("Reasons, or what the PO must revise."))
    decided_by = MinutesPersonSerializer()
    decided_at = serializers.DateTimeField()
    override_reason = serializers.CharField(help_text=_("The chair's reason to decide without every score."))
    conditions = serializers.ListField(child=serializers.CharField())


class MinutesItemSerializer(serializers.Serializer):
    agenda_item = serializers.IntegerField()
    position = serializers.IntegerField()
    proposal = serializers.IntegerField()
    reference = serializers.CharField()
    title = serializers.CharField()
    partner_organization = serializers.CharField(help_text=_("The PO's code."))
    partner_organization_name = serializers.CharField()
    acting_chair = MinutesPersonSerializer(allow_null=True)
    acting_chair_reason = serializers.CharField()
    redacted = serializers.BooleanField(
        help_text=_(
            "You declared a conflict of interest on this proposal: its scores are not shown to you "
            "until the committee's decision (`consolidation` is null)."
        )
    )
    consolidation = evaluation_api.ConsolidationSerializer(
        allow_null=True,
        help_text=_("As `tec-meetings/<id>/consolidation/` gives it; null when `redacted`."),
    )
    decision = MinutesDecisionSerializer(allow_null=True)


class MinutesSerializer(serializers.Serializer):
    """The minutes of a meeting, as its minutes page shows them."""

    meeting = serializers.IntegerField()
    number = serializers.IntegerField()
    held_on = serializers.DateTimeField()
    venue = serializers.CharField()
    chair = MinutesPersonSerializer()
    notes = serializers.CharField()
    final = serializers.BooleanField(
        help_text=_(
            "True once the committee has decided on every proposal of the agenda: what the minutes "
            "record no longer changes."
        )
    )
    attendance = MinutesAttendanceSerializer()
    conflicts = MinutesConflictSerializer(many=True)
    items = MinutesItemSerializer(many=True)


def _person(user) -> dict | None:
    return {"id": user.pk, "name": user.get_display_name()} if user is not None else None


def minutes_data(context: dict) -> dict:
    """The minutes page's context (views.evaluation.minutes_context) as the API's JSON."""
    meeting = context["meeting"]
    attendance = context["attendance"]
    items = []
    for row in context["rows"]:
        item = row["item"]
        proposal = item.proposal
        decision = getattr(item, "decision", None)
        items.append(
            {
                "agenda_item": item.pk,
                "position": item.position,
                "proposal": proposal.pk,
                "reference": proposal.reference,
                "title": proposal.title,
                "partner_organization": proposal.partner_organization.code,
                "partner_organization_name": proposal.partner_organization.name,
                "acting_chair": _person(item.acting_chair),
                "acting_chair_reason": item.acting_chair_reason,
                "redacted": row["redacted"],
                "consolidation": row["consolidation"],
                "decision": {
                    "outcome": decision.outcome,
                    "outcome_label": decision.get_outcome_display(),
                    "text": decision.text,
                    "decided_by": _person(decision.decided_by),
                    "decided_at": decision.decided_at,
                    "override_reason": decision.override_reason,
                    "conditions": [condition.text for condition in decision.conditions.all()],
                }
                if decision is not None
                else None,
            }
        )
    return MinutesSerializer(
        {
            "meeting": meeting.pk,
            "number": meeting.number,
            "held_on": meeting.held_on,
            "venue": meeting.venue,
            "chair": _person(meeting.chair),
            "notes": meeting.notes,
            "final": evaluation.minutes_final(meeting),
            "attendance": {
                "taken": attendance.taken,
                "summary": attendance.summary,
                "present_count": attendance.present_count,
                "members": [
                    {
                        "member": member.pk,
                        "name": member.get_display_name(),
                        "chair": member.pk == meeting.chair_id,
                        "present": present,
                    }
                    for member, present in attendance.rows
                ],
            },
            "conflicts": [
                {
                    "member": conflict["member"].pk,
                    "name": conflict["member"].get_display_name(),
                    "agenda_item": conflict["item"].pk,
                    "proposal": conflict["item"].proposal_id,
                    "reference": conflict["item"].proposal.reference,
                    "explanation": conflict["explanation"],
                }
                for conflict in context["conflicts"]
            ],
            "items": items,
        }
    ).data


def _meeting_pk(pk: str | None) -> int:
    if not str(pk).isdigit():
        raise Http404(_("No TEC meeting matches the given query."))
    return int(pk)


class TecMeetingViewSet(evaluation_api.TecMeetingViewSet):
    # TEC meetings (subprojects.api.evaluation, whose description the schema keeps) with the minutes
    # of each, as JSON (`minutes`) and as the page's PDF (`minutes/pdf`).

    @extend_schema(responses={200: MinutesSerializer, **REFUSALS})
    @action(detail=True, methods=["get"])
    def minutes(self, request: Request, pk=None) -> Response:
        """The minutes as the minutes page shows them: attendance, conflicts of interest declared,
        each proposal's consolidated scores and the committee's decision (with its conditions), the
        notes, and whether they are final. Readable by the PMU and programme-wide roles, and by a
        member of the meeting once they have submitted on every proposal (one they declared a
        conflict on is shown without scores until decided)."""
        from subprojects.views.evaluation import minutes_context

        return Response(minutes_data(minutes_context(request.user, _meeting_pk(pk))))

    @extend_schema(
        responses={
            **file_responses(_("The minutes as a PDF, as the minutes page downloads them."), PDF),
            **REFUSALS,
        }
    )
    @action(
        detail=True,
        methods=["get"],
        url_path="minutes/pdf",
        url_name="minutes-pdf",
        content_negotiation_class=DownloadNegotiation,
    )
    def minutes_pdf(self, request: Request, pk=None) -> HttpResponse:
        """The minutes as the page's PDF (same readers as `minutes`)."""
        from subprojects.views.evaluation import minutes_pdf

        return minutes_pdf(request._request, _meeting_pk(pk))
