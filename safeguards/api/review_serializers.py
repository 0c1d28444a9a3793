"""API shapes of the exclusion list and of the PMU's E&S review (shape only: the rules are in
safeguards.exclusions, safeguards.reviews and the lifecycle engine)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from safeguards.models import EsReview, ExclusionItem
from subprojects.api.serializers import ActionsMixin
from subprojects.models import Condition


class ExclusionItemSerializer(serializers.ModelSerializer):
    class Meta:
        model = ExclusionItem
        fields = ["id", "code", "name", "description", "active", "position", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]
        # The uniqueness of the code is the service's rule (409), stated once there.
        extra_kwargs = {"code": {"validators": []}}


class EsConditionSerializer(serializers.ModelSerializer):
    """An E&S condition: the PO adds its evidence and the PMU checks it off as for the TEC's
    (`/api/v1/conditions/...`); the award waits until every condition is met."""

    class Meta:
        model = Condition
        fields = ["id", "text", "evidence", "evidence_at", "met", "met_note", "met_at"]
        read_only_fields = fields


class EsReviewSerializer(ActionsMixin, serializers.ModelSerializer):
    api_prefix = "es-reviews"
    reference = serializers.CharField(read_only=True)
    proposal_reference = serializers.CharField(source="proposal.reference", read_only=True)
    proposal_title = serializers.CharField(source="proposal.title", read_only=True)
    partner_organization = serializers.CharField(source="proposal.partner_organization.code", read_only=True)
    risk_category = serializers.CharField(source="proposal.risk_category", read_only=True)
    decided_by = serializers.SerializerMethodField()
    conditions = EsConditionSerializer(many=True, read_only=True)

    class Meta:
        model = EsReview
        fields = [
            "id",
            "reference",
            "proposal",
            "proposal_reference",
            "proposal_title",
            "partner_organization",
            "risk_category",
            "status",
            "status_changed_at",
            "decided_by",
            "decided_at",
            "conditions",
            "created_at",
            "available_actions",
            "updated_at",
        ]
        read_only_fields = fields

    def get_decided_by(self, review: EsReview) -> str:
        return review.decided_by.get_display_name() if review.decided_by else ""


class ClearWithConditionsSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="")
    conditions = serializers.ListField(
        child=serializers.CharField(allow_blank=True),
        allow_empty=True,
        required=False,
        default=list,
        help_text=_("The E&S conditions, one text each (at least one): each must be met before the award."),
    )
