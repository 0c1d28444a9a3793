"""Serializers of the grievance API: the staff resource (identity fields null unless the caller handles
the current tier) and the public intake and status lookup (status, tier and dates only)."""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from rest_framework import serializers

from core.models import District, PartnerOrganization
from grievances import handling, intake
from grievances.models import (
    Category,
    ComplainantGender,
    ComplainantKind,
    Grievance,
    GrievanceAttachment,
    GrievanceStatus,
    Tier,
)

IDENTITY_FIELDS = ("complainant_name", "complainant_phone", "complainant_email", "complainant_address")


class GrievanceAttachmentSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = GrievanceAttachment
        fields = ["id", "original_name", "mime_type", "size", "uploaded_at", "url"]

    def get_url(self, item: GrievanceAttachment) -> str:
        request = self.context.get("request")
        path = f"/api/v1/grievances/{item.grievance_id}/attachments/{item.pk}/"
        return request.build_absolute_uri(path) if request else path


class GrievanceSerializer(serializers.ModelSerializer):
    """A grievance as those who may see it read it. The complainant's name, phone, email, address and
    the tracking code are null unless you handle the current tier (`handled_by_you`)."""

    reference = serializers.CharField(read_only=True)
    partner_organization = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    district = serializers.SlugRelatedField(slug_field="pcode", read_only=True, allow_null=True)
    overdue = serializers.SerializerMethodField()
    handled_by_you = serializers.SerializerMethodField()
    complainant_name = serializers.SerializerMethodField()
    complainant_phone = serializers.SerializerMethodField()
    complainant_email = serializers.SerializerMethodField()
    complainant_address = serializers.SerializerMethodField()
    tracking_code = serializers.SerializerMethodField()
    logged_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    attachments = GrievanceAttachmentSerializer(many=True, read_only=True)

    class Meta:
        model = Grievance
        fields = [
            "id",
            "reference",
            "tracking_code",
            "partner_organization",
            "category",
            "channel",
            "tier",
            "status",
            "subject",
            "description",
            "district",
            "anonymous",
            *IDENTITY_FIELDS,
            "complainant_gender",
            "complainant_kind",
            "received_at",
            "tier_received_at",
            "acknowledge_by",
            "resolve_by",
            "overdue",
            "acknowledged_at",
            "resolution",
            "resolved_at",
            "feedback",
            "closed_at",
            "logged_by",
            "handled_by_you",
            "attachments",
            "updated_at",
        ]
        read_only_fields = fields

    def _handles(self, grievance: Grievance) -> bool:
        cache = self.context.setdefault("_handles", {})
        if grievance.pk not in cache:
            request = self.context.get("request")
            cache[grievance.pk] = handling.shows_identity(getattr(request, "user", None), grievance)
        return cache[grievance.pk]

    def _identity(self, grievance: Grievance, name: str) -> str | None:
        return getattr(grievance, name) if self._handles(grievance) else None

    def get_overdue(self, grievance: Grievance) -> bool:
        return handling.is_overdue(grievance)

    def get_handled_by_you(self, grievance: Grievance) -> bool:
        return self._handles(grievance)

    def get_complainant_name(self, grievance: Grievance) -> str | None:
        return self._identity(grievance, "complainant_name")

    def get_complainant_phone(self, grievance: Grievance) -> str | None:
        return self._identity(grievance, "complainant_phone")

    def get_complainant_email(self, grievance: Grievance) -> str | None:
        return self._identity(grievance, "complainant_email")

    def get_complainant_address(self, grievance: Grievance) -> str | None:
        return self._identity(grievance, "complainant_address")

    def get_tracking_code(self, grievance: Grievance) -> str | None:
        return self._identity(grievance, "tracking_code")


class _IntakeSerializer(serializers.Serializer):
    """What a grievance is lodged with (the public page's fields)."""

    partner_organization = serializers.SlugRelatedField(
        slug_field="code",
        queryset=PartnerOrganization.objects.filter(is_active=True),
        required=False,
        allow_null=True,
        help_text=_lazy(
            "The code of the PO concerned; leave out if unknown (the PMU handles it, from tier 2)."
        ),
    )
    category = serializers.ChoiceField(choices=Category.choices)
    subject = serializers.CharField(max_length=intake.SUBJECT_MAX)
    description = serializers.CharField(max_length=intake.DESCRIPTION_MAX)
    district = serializers.SlugRelatedField(
        slug_field="pcode", queryset=District.objects.all(), required=False, allow_null=True
    )
    anonymous = serializers.BooleanField(required=False, default=False)
    complainant_name = serializers.CharField(max_length=120, required=False, allow_blank=True, default="")
    complainant_phone = serializers.CharField(max_length=20, required=False, allow_blank=True, default="")
    complainant_email = serializers.EmailField(required=False, allow_blank=True, default="")
    complainant_address = serializers.CharField(max_length=250, required=False, allow_blank=True, default="")
    complainant_gender = serializers.ChoiceField(
        choices=ComplainantGender.choices, required=False, default=ComplainantGender.NOT_STATED
    )
    complainant_kind = serializers.ChoiceField(
        choices=ComplainantKind.choices, required=False, default=ComplainantKind.OTHER
    )
    attachments = serializers.ListField(
        child=serializers.FileField(),
        required=False,
        default=list,
        max_length=intake.MAX_ATTACHMENTS,
        help_text=_lazy("Up to 3 files (multipart), JPEG, PNG or PDF by their content, at most 5 MB each."),
    )

    def validate_attachments(self, files):
        accepted, problems = intake.attachment_problems(list(files))
        if problems:
            raise serializers.ValidationError(problems)
        self._accepted = accepted
        return files

    def validate(self, data):
        if data.get("anonymous"):
            for name in IDENTITY_FIELDS:
                data[name] = ""
        return data

    def lodge_kwargs(self) -> dict:
        data = dict(self.validated_data)
        data.pop("website", None)
        data["attachments"] = getattr(self, "_accepted", [])
        return data


class PublicGrievanceSerializer(_IntakeSerializer):
    # The honeypot: people leave it out; a request that fills it is answered as accepted, stores nothing.
    website = serializers.CharField(
        required=False, allow_blank=True, default="", help_text=_lazy("Leave out (a field for robots).")
    )


class LodgedSerializer(serializers.Serializer):
    """The answer to a lodged grievance: its tracking code (keep it), never the internal id."""

    tracking_code = serializers.CharField()
    status = serializers.ChoiceField(choices=GrievanceStatus.choices)


class StaffGrievanceSerializer(_IntakeSerializer):
    """A grievance staff log: a PO's staff and focal points for their PO (`partner_organization`
    defaults to it), the PMU's focal points for any PO or none."""

    channel = serializers.ChoiceField(choices=handling.STAFF_CHANNELS)
    received_on = serializers.DateField(required=False, allow_null=True)

    def validate_received_on(self, value):
        if value and value > timezone.localdate():
            raise serializers.ValidationError(_("The date received cannot be in the future."))
        return value

    def validate(self, data):
        data = super().validate(data)
        user = self.context["request"].user
        if user.partner_organization_id:
            po = data.get("partner_organization")
            if po is not None and po.pk != user.partner_organization_id:
                raise serializers.ValidationError(
                    {"partner_organization": [_("You log grievances for your own PO only.")]}
                )
            data["partner_organization"] = user.partner_organization
            if data["channel"] not in dict(handling.PO_CHANNELS):
                raise serializers.ValidationError(
                    {"channel": [_("Grievances sent to PKSF or the Bank are logged by the PMU.")]}
                )
        return data

    def lodge_kwargs(self) -> dict:
        from datetime import datetime, time

        data = super().lodge_kwargs()
        received_on = data.pop("received_on", None)
        if received_on and received_on < timezone.localdate():
            data["received_at"] = timezone.make_aware(datetime.combine(received_on, time(12)))
        return data


class LoggedSerializer(serializers.Serializer):
    """A grievance just logged by staff: its reference and the tracking code to give the complainant;
    `visible_to_you` false when it is handled by others (e.g. a SEA/SH case)."""

    id = serializers.IntegerField()
    reference = serializers.CharField()
    tracking_code = serializers.CharField()
    status = serializers.ChoiceField(choices=GrievanceStatus.choices)
    tier = serializers.ChoiceField(choices=Tier.choices)
    visible_to_you = serializers.BooleanField()


class PublicStatusSerializer(serializers.Serializer):
    """All the public lookup reveals: never a name, a text, the PO or the category."""

    status = serializers.ChoiceField(choices=GrievanceStatus.choices)
    status_label = serializers.CharField()
    tier = serializers.ChoiceField(choices=Tier.choices)
    tier_label = serializers.CharField()
    received_on = serializers.DateField()
    acknowledged_on = serializers.DateField(allow_null=True)
    resolved_on = serializers.DateField(allow_null=True)


class ReclassifySerializer(serializers.Serializer):
    """Change a grievance's category: the new category and why (the comment is required)."""

    comment = serializers.CharField(
        required=False, allow_blank=True, default="", help_text=_lazy("Why the category changes (required).")
    )
    category = serializers.ChoiceField(
        choices=Category.choices,
        help_text=_lazy(
            "The new category. Only a SEA/SH focal point moves a case out of SEA/SH; a case moved into "
            "SEA/SH is handled by the SEA/SH focal points from then on."
        ),
    )


class ReclassifiedSerializer(serializers.Serializer):
    """A grievance whose category just changed; `visible_to_you` false when it has left your sight
    (moved into SEA/SH, which its own focal points handle)."""

    id = serializers.IntegerField()
    reference = serializers.CharField()
    category = serializers.ChoiceField(choices=Category.choices)
    status = serializers.ChoiceField(choices=GrievanceStatus.choices)
    tier = serializers.ChoiceField(choices=Tier.choices)
    visible_to_you = serializers.BooleanField()
