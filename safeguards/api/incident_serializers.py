"""API shapes of E&S incidents and corrective actions. The rules are in safeguards.incidents and the
lifecycle engine; serializers check the shape only."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from safeguards.incidents import REPORT_FIELDS
from safeguards.models import CorrectiveAction, Incident
from smart_portal.api import ScopedRelations
from subprojects.api.serializers import ActionsMixin


class CorrectiveActionSerializer(ActionsMixin, serializers.ModelSerializer):
    api_prefix = "corrective-actions"
    reference = serializers.CharField(read_only=True)
    incident_reference = serializers.CharField(source="incident.reference", read_only=True)
    is_overdue = serializers.BooleanField(
        read_only=True, help_text=_("Past its due date and not yet verified.")
    )

    class Meta:
        model = CorrectiveAction
        fields = [
            "id",
            "reference",
            "incident",
            "incident_reference",
            "description",
            "responsible",
            "due_on",
            "evidence",
            "status",
            "status_changed_at",
            "is_overdue",
            "position",
            "available_actions",
            "updated_at",
        ]
        read_only_fields = [
            "id",
            "reference",
            "incident_reference",
            "evidence",
            "status",
            "status_changed_at",
            "is_overdue",
            "position",
            "available_actions",
        ]


class CorrectiveActionCreateSerializer(ScopedRelations, serializers.ModelSerializer):
    """What the PMU gives to add an action to an incident under follow-up."""

    class Meta:
        model = CorrectiveAction
        fields = ["incident", "description", "responsible", "due_on"]


class IncidentSerializer(ActionsMixin, serializers.ModelSerializer):
    api_prefix = "incidents"
    reference = serializers.CharField(read_only=True)
    partner_organization = serializers.SlugRelatedField(slug_field="code", read_only=True)
    district = serializers.SlugRelatedField(slug_field="pcode", read_only=True, allow_null=True)
    reported_by = serializers.SerializerMethodField()
    bank_notified_by = serializers.SerializerMethodField()
    bank_notification_overdue = serializers.BooleanField(
        read_only=True,
        help_text=_("Serious or severe, past its 48 hours and not notified to the Bank."),
    )
    corrective_actions = CorrectiveActionSerializer(many=True, read_only=True)

    class Meta:
        model = Incident
        fields = [
            "id",
            "reference",
            "partner_organization",
            "sub_project",
            "enterprise",
            "facility",
            "kind",
            "severity",
            "title",
            "description",
            "occurred_on",
            "learned_on",
            "district",
            "location",
            "people_injured",
            "fatalities",
            "immediate_actions",
            "reported_by",
            "reported_at",
            "reported_late",
            "bank_due_at",
            "bank_notified_at",
            "bank_notified_by",
            "bank_notification_overdue",
            "root_cause",
            "status",
            "status_changed_at",
            "corrective_actions",
            "available_actions",
            "updated_at",
        ]
        read_only_fields = fields

    def get_reported_by(self, obj) -> str:
        return obj.reported_by.get_display_name()

    def get_bank_notified_by(self, obj) -> str:
        return obj.bank_notified_by.get_display_name() if obj.bank_notified_by else ""


class IncidentReportSerializer(ScopedRelations, serializers.ModelSerializer):
    """A PO's report: the sub-project, enterprise and facility must be the PO's own (another PO's id
    answers as one that does not exist)."""

    class Meta:
        model = Incident
        fields = list(REPORT_FIELDS)
        extra_kwargs = {"district": {"required": False}}

    def validate(self, attrs):
        # The model's own checks run in the service, once the PO, reporter and time are set.
        return attrs


class RootCauseSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="")
    root_cause = serializers.CharField(help_text=_("What caused the incident."))
