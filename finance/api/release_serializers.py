"""API shapes of milestones, tranches and releases. The rules are in finance.releases and the lifecycle
engine; serializers check the shape (and name the field of a wrong date or reference)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from finance import releases
from finance.models import Milestone, Release, Tranche
from smart_portal.api import ScopedRelations
from subprojects.api.serializers import ActionsMixin


class ScheduleMilestoneSerializer(ActionsMixin, serializers.ModelSerializer):
    api_prefix = "milestones"
    reference = serializers.CharField(read_only=True)
    partner_organization: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="code", read_only=True
    )

    class Meta:
        model = Milestone
        fields = [
            "id",
            "reference",
            "sub_project",
            "partner_organization",
            "number",
            "title",
            "due_on",
            "status",
            "status_changed_at",
            "reported_on",
            "evidence",
            "available_actions",
            "updated_at",
        ]
        read_only_fields = fields


class MilestoneReportSerializer(serializers.Serializer):
    comment = serializers.CharField(help_text=_("The evidence: what was done and where the proof is."))
    reported_on = serializers.DateField(
        required=False, help_text=_("The day it was done (today when not given); not in the future.")
    )

    def validate(self, attrs):
        problems = releases.milestone_report_problems(self.context["object"], attrs.get("reported_on"))
        if problems:
            raise serializers.ValidationError(problems)
        return attrs


class TrancheReleaseSerializer(serializers.ModelSerializer):
    class Meta:
        model = Release
        fields = ["id", "reference", "status", "transferred_on"]
        read_only_fields = fields


class TrancheSerializer(ScopedRelations, serializers.ModelSerializer):
    partner_organization: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="code", read_only=True
    )
    milestone = serializers.PrimaryKeyRelatedField(
        queryset=Milestone.objects.all(),
        allow_null=True,
        required=False,
        help_text=_("The milestone reported done before the tranche is requested; null for an advance."),
    )
    amount = serializers.DecimalField(max_digits=16, decimal_places=2, read_only=True)
    release = serializers.SerializerMethodField(help_text=_("Its active release (requested to transferred)."))
    requestable = serializers.SerializerMethodField(
        help_text=_("Empty when the PO may request it now; otherwise why not.")
    )

    class Meta:
        model = Tranche
        fields = [
            "id",
            "sub_project",
            "partner_organization",
            "number",
            "title",
            "milestone",
            "amount_world_bank",
            "amount_pksf",
            "amount",
            "planned_on",
            "release",
            "requestable",
            "updated_at",
        ]
        read_only_fields = ["id", "sub_project", "partner_organization", "number", "amount"]

    @extend_schema_field(TrancheReleaseSerializer(allow_null=True))
    def get_release(self, obj) -> dict | None:
        current = next((r for r in obj.releases.all() if r.status in releases.ACTIVE_RELEASE_STATUSES), None)
        return TrancheReleaseSerializer(current).data if current else None

    def get_requestable(self, obj) -> str:
        if any(r.status in releases.ACTIVE_RELEASE_STATUSES for r in obj.releases.all()):
            return str(_("It has an active release."))
        refusal = releases.request_refusal(obj)
        return str(refusal) if refusal else ""

    def validate(self, attrs):
        # The rules (the approved shares, a tranche with an active release) are checked by the service.
        return attrs


class ReleaseSerializer(ActionsMixin, serializers.ModelSerializer):
    api_prefix = "releases"
    partner_organization: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="code", read_only=True
    )
    agreement_number = serializers.CharField(source="sub_project.agreement_number", read_only=True)
    tranche_number = serializers.IntegerField(source="tranche.number", read_only=True)
    amount = serializers.DecimalField(max_digits=16, decimal_places=2, read_only=True)
    requested_by = serializers.SerializerMethodField()

    class Meta:
        model = Release
        fields = [
            "id",
            "reference",
            "sub_project",
            "agreement_number",
            "partner_organization",
            "tranche",
            "tranche_number",
            "amount_world_bank",
            "amount_pksf",
            "amount",
            "justification",
            "status",
            "status_changed_at",
            "requested_by",
            "requested_at",
            "transferred_on",
            "transfer_reference",
            "available_actions",
            "updated_at",
        ]
        read_only_fields = fields

    def get_requested_by(self, obj) -> str:
        return obj.requested_by.get_display_name()


class ReleaseRequestSerializer(ScopedRelations, serializers.Serializer):
    """A PO's request: the tranche (of its own sub-projects) and why it is due."""

    tranche = serializers.PrimaryKeyRelatedField(queryset=Tranche.objects.all())
    justification = serializers.CharField(
        help_text=_("Milestones reached, the spending report of the previous tranche, the conditions closed.")
    )


class ReleaseTransferSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="")
    transferred_on = serializers.DateField(help_text=_("Not in the future, not before the approval."))
    transfer_reference = serializers.CharField(max_length=60, help_text=_("Bank transfer or cheque number."))

    def validate(self, attrs):
        problems = releases.transfer_problems(
            self.context["object"], attrs.get("transferred_on"), attrs.get("transfer_reference")
        )
        if problems:
            raise serializers.ValidationError(problems)
        return attrs
