"""Serializers of the `me-screenings` and `clearances` API resources."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from enterprises.models import CommonServiceFacility, Enterprise
from safeguards import clearances
from safeguards.models import Clearance, ExclusionItem, MeScreening, MeScreeningOutcome
from smart_portal.api import ScopedRelations


class ScreeningSerializer(ScopedRelations, serializers.ModelSerializer):
    """One ME screening. `outcome` and `failure_reasons` are set when it is completed
    (`POST /me-screenings/<id>/complete/`); drafts may be changed and deleted."""

    reference = serializers.CharField(read_only=True)
    partner_organization = serializers.SlugRelatedField(slug_field="code", read_only=True)
    enterprise = serializers.PrimaryKeyRelatedField(queryset=Enterprise.objects.all())
    enterprise_code = serializers.CharField(source="enterprise.po_code", read_only=True)
    exclusions_found = serializers.SlugRelatedField(
        slug_field="code",
        many=True,
        required=False,
        queryset=ExclusionItem.objects.filter(active=True),
        help_text=_(
            "Codes of the activities on the exclusion list found at the ME (see the exclusion list)."
        ),
    )
    screened_by = serializers.CharField(source="screened_by.username", read_only=True)
    outcome = serializers.ChoiceField(
        choices=MeScreeningOutcome.choices,
        allow_blank=True,
        read_only=True,
        help_text=_("Empty until the screening is completed."),
    )

    class Meta:
        model = MeScreening
        fields = [
            "id",
            "reference",
            "partner_organization",
            "enterprise",
            "enterprise_code",
            "screened_on",
            "exclusions_found",
            "safe_working_conditions",
            "pollution_controlled",
            "child_labour_found",
            "clearance_category",
            "notes",
            "status",
            "outcome",
            "failure_reasons",
            "screened_by",
            "completed_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["status", "outcome", "failure_reasons", "completed_at", "created_at"]
        extra_kwargs = {"screened_on": {"required": False}}


class ScreeningUpdateSerializer(ScreeningSerializer):
    enterprise = serializers.PrimaryKeyRelatedField(read_only=True)


class ClearanceSerializer(ScopedRelations, serializers.ModelSerializer):
    """A DoE or BSTI clearance of an ME (`enterprise`) or a CSF (`facility`): one of them. Send
    multipart/form-data to include the `document` (PDF, JPEG or PNG, checked by its content)."""

    partner_organization = serializers.SlugRelatedField(slug_field="code", read_only=True)
    enterprise = serializers.PrimaryKeyRelatedField(
        queryset=Enterprise.objects.all(), required=False, allow_null=True
    )
    facility = serializers.PrimaryKeyRelatedField(
        queryset=CommonServiceFacility.objects.all(), required=False, allow_null=True
    )
    document = serializers.FileField(write_only=True, required=False, allow_null=True)
    has_document = serializers.SerializerMethodField()
    state = serializers.SerializerMethodField(
        help_text=_("valid, expiring (within the first reminder) or expired.")
    )

    class Meta:
        model = Clearance
        fields = [
            "id",
            "partner_organization",
            "enterprise",
            "facility",
            "kind",
            "number",
            "category",
            "scope",
            "issued_on",
            "expires_on",
            "state",
            "document",
            "has_document",
            "document_name",
            "document_type",
            "document_size",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["document_name", "document_type", "document_size", "created_at", "updated_at"]

    @extend_schema_field(serializers.BooleanField())
    def get_has_document(self, clearance: Clearance) -> bool:
        return bool(clearance.document)

    @extend_schema_field(serializers.ChoiceField(choices=["valid", "expiring", "expired"]))
    def get_state(self, clearance: Clearance) -> str:
        return clearances.status_of(clearance)

    def validate(self, attrs):
        if self.instance is None and bool(attrs.get("enterprise")) == bool(attrs.get("facility")):
            raise serializers.ValidationError(
                {"enterprise": _("Give either the enterprise or the facility holding the clearance.")}
            )
        return attrs


class ClearanceUpdateSerializer(ClearanceSerializer):
    enterprise = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    facility = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
