"""API shapes of verification. Serializers check shape and field rules; the rules themselves are in
verification.services, verification.checks and the lifecycle engine."""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.models import District, PartnerOrganization
from enterprises.models import FacilityKind
from subprojects import workflow
from subprojects.api.serializers import AvailableActionSerializer
from verification import checks, services
from verification.models import (
    CheckKind,
    CheckStatus,
    VerificationCheck,
    VerificationPolicy,
    VerificationRound,
)
from verification.rates import Rate


class RoundSerializer(serializers.ModelSerializer):
    reference = serializers.CharField(read_only=True)
    drawn_by = serializers.SerializerMethodField()
    checks_sampled = serializers.IntegerField(read_only=True, help_text="Checks drawn in this round.")
    checks_done = serializers.IntegerField(read_only=True, help_text="Checks with a result recorded.")

    class Meta:
        model = VerificationRound
        fields = [
            "id",
            "reference",
            "year",
            "quarter",
            "seed",
            "margin_percent",
            "floor",
            "drawn_by",
            "drawn_at",
            "checks_sampled",
            "checks_done",
        ]
        read_only_fields = fields

    def get_drawn_by(self, obj) -> str:
        return obj.drawn_by.get_display_name() if obj.drawn_by else ""


class StratumSerializer(serializers.Serializer):
    partner_organization = serializers.CharField(help_text="The PO's code.")
    adoptions = serializers.IntegerField(help_text="Adoptions in the population as drawn.")
    profiles = serializers.IntegerField(help_text="Validated profiles in the population as drawn.")
    facilities = serializers.IntegerField(help_text="Facilities in the population as drawn.")
    population = serializers.IntegerField()
    sample_size = serializers.IntegerField()
    done = serializers.IntegerField()
    confirmed = serializers.IntegerField()
    partly = serializers.IntegerField()
    not_found = serializers.IntegerField()
    rate = serializers.DecimalField(
        max_digits=4,
        decimal_places=1,
        allow_null=True,
        help_text="Percent: confirmed 1, partly 0.5, not found 0, over the checks done; null until one is.",
    )
    flagged = serializers.BooleanField(help_text="The rate is below the policy's threshold.")


class RoundDetailSerializer(RoundSerializer):
    strata = serializers.SerializerMethodField()

    class Meta(RoundSerializer.Meta):
        fields = [*RoundSerializer.Meta.fields, "strata"]
        read_only_fields = fields

    @extend_schema_field(StratumSerializer(many=True))
    def get_strata(self, obj) -> list[dict]:
        rates: dict[int, Rate] = self.context.get("rates", {})
        rows = []
        for stratum in obj.strata.all():
            rate = rates.get(stratum.partner_organization_id)
            rows.append(
                {
                    "partner_organization": stratum.partner_organization.code,
                    "adoptions": stratum.adoptions,
                    "profiles": stratum.profiles,
                    "facilities": stratum.facilities,
                    "population": stratum.population,
                    "sample_size": stratum.sample_size,
                    "done": rate.done if rate else 0,
                    "confirmed": rate.confirmed if rate else 0,
                    "partly": rate.partly if rate else 0,
                    "not_found": rate.not_found if rate else 0,
                    "rate": rate.rate if rate else None,
                    "flagged": rate.flagged if rate else False,
                }
            )
        return StratumSerializer(rows, many=True).data


class DrawRequestSerializer(serializers.Serializer):
    year = serializers.IntegerField(min_value=2023, max_value=2100)
    quarter = serializers.IntegerField(min_value=1, max_value=4)
    seed = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=0,
        max_value=services.MAX_SEED,
        help_text="Leave out for a random seed; it is stored with the round.",
    )


class CheckSerializer(serializers.ModelSerializer):
    reference = serializers.CharField(read_only=True)
    round_reference = serializers.CharField(source="round.reference", read_only=True)
    partner_organization = serializers.SlugRelatedField(slug_field="code", read_only=True)
    district = serializers.SlugRelatedField(slug_field="pcode", read_only=True, help_text="P-code.")
    kind = serializers.ChoiceField(choices=CheckKind.choices, read_only=True)
    status = serializers.ChoiceField(choices=CheckStatus.choices, read_only=True)
    checked_by = serializers.SerializerMethodField()
    photo_url = serializers.SerializerMethodField()
    available_actions = serializers.SerializerMethodField()

    class Meta:
        model = VerificationCheck
        fields = [
            "id",
            "reference",
            "round",
            "round_reference",
            "partner_organization",
            "kind",
            "subject_label",
            "adoption",
            "profile",
            "facility",
            "district",
            "status",
            "status_changed_at",
            "visited_on",
            "finding",
            "latitude",
            "longitude",
            "photo_url",
            "checked_by",
            "available_actions",
        ]
        read_only_fields = fields

    def get_checked_by(self, obj) -> str:
        return obj.checked_by.get_display_name() if obj.checked_by else ""

    def get_photo_url(self, obj) -> str:
        return reverse("verification-check-photo", args=[obj.pk]) if obj.photo else ""

    @extend_schema_field(AvailableActionSerializer(many=True))
    def get_available_actions(self, obj) -> list[dict]:
        request = self.context.get("request")
        if request is None:
            return []
        return [
            {
                "action": rule.action,
                "label": str(rule.label),
                "comment_required": rule.comment_required,
                "url": reverse(f"verification-check-{rule.action.replace('_', '-')}", args=[obj.pk]),
            }
            for rule in workflow.available_rules(request.user, obj)
        ]


class CheckResultSerializer(serializers.Serializer):
    """What the verifier found (JSON). To send a photo, use multipart/form-data with `photo`."""

    visited_on = serializers.DateField()
    comment = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="What was found; required for partly and not_found.",
    )
    latitude = serializers.DecimalField(max_digits=9, decimal_places=6, required=False, allow_null=True)
    longitude = serializers.DecimalField(max_digits=9, decimal_places=6, required=False, allow_null=True)

    def validate(self, attrs):
        check: VerificationCheck = self.context["check"]
        problems = checks.visit_problems(
            check,
            visited_on=attrs.get("visited_on"),
            latitude=attrs.get("latitude"),
            longitude=attrs.get("longitude"),
            photo=attrs.get("photo"),
        )
        rule = self.context.get("rule")
        if rule is not None and rule.comment_required and not attrs.get("comment", "").strip():
            problems["comment"] = _("Say what was found: it is required for “%(action)s”.") % {
                "action": rule.label
            }
        if problems:
            raise serializers.ValidationError({name: [str(problem)] for name, problem in problems.items()})
        return attrs


class CheckResultUploadSerializer(CheckResultSerializer):
    photo = serializers.FileField(required=False, allow_null=True, help_text="JPEG or PNG.")


class PolicyHistorySerializer(serializers.Serializer):
    at = serializers.DateTimeField(source="history_date")
    who = serializers.SerializerMethodField()
    threshold_percent = serializers.DecimalField(max_digits=5, decimal_places=2)
    margin_percent = serializers.DecimalField(max_digits=4, decimal_places=1)
    floor = serializers.IntegerField()

    def get_who(self, obj) -> str:
        return obj.history_user.get_display_name() if obj.history_user else ""


class PolicySerializer(serializers.ModelSerializer):
    history = serializers.SerializerMethodField()

    class Meta:
        model = VerificationPolicy
        fields = ["threshold_percent", "margin_percent", "floor", "updated_at", "history"]
        read_only_fields = ["updated_at", "history"]

    @extend_schema_field(PolicyHistorySerializer(many=True))
    def get_history(self, obj) -> list[dict]:
        records = obj.history.select_related("history_user").order_by("-history_date")[:50]
        return PolicyHistorySerializer(records, many=True).data


# --- Awaiting independent verification ------------------------------------------------------------


def _gps(source: str | None = None, help_text: str = "") -> serializers.DecimalField:
    extra = {"source": source} if source else {}
    return serializers.DecimalField(
        max_digits=9, decimal_places=6, allow_null=True, read_only=True, help_text=help_text, **extra
    )


class AwaitingAreaSerializer(serializers.Serializer):
    pcode = serializers.CharField(read_only=True, help_text="P-code (the `district` filter takes it).")
    name = serializers.CharField(read_only=True)


class AwaitingPracticeSerializer(serializers.Serializer):
    code = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)


class AwaitingEvidenceSerializer(serializers.Serializer):
    """What the PO reported as its evidence that the practice is in use."""

    observed_on = serializers.DateField(
        source="evidence_observed_on", allow_null=True, read_only=True, help_text="Seen in use on."
    )
    latitude = _gps("evidence_latitude", "Where the PO's photo was taken.")
    longitude = _gps("evidence_longitude")
    has_photo = serializers.SerializerMethodField()
    photo_url = serializers.SerializerMethodField(
        help_text="The PO's photo, for PMU officers and verifiers only; empty when there is none."
    )

    def get_has_photo(self, obj) -> bool:
        return bool(obj.evidence_photo)

    def get_photo_url(self, obj) -> str:
        return reverse("verification-awaiting-adoption-photo", args=[obj.pk]) if obj.evidence_photo else ""


class AwaitingEnterpriseSerializer(serializers.Serializer):
    """The ME to visit."""

    id = serializers.IntegerField(read_only=True)
    partner_organization = serializers.CharField(
        source="partner_organization.code", read_only=True, help_text="The reporting PO's code."
    )
    code = serializers.CharField(source="po_code", read_only=True, help_text="The PO's own code for the ME.")
    name = serializers.CharField(read_only=True)
    owner_name = serializers.CharField(read_only=True)
    phone = serializers.CharField(read_only=True)
    upazila = AwaitingAreaSerializer(read_only=True)
    district = AwaitingAreaSerializer(read_only=True)
    latitude = _gps()
    longitude = _gps()


class AwaitingAdoptionSerializer(serializers.Serializer):
    """A RECP adoption a PO reported, not yet verified independently."""

    id = serializers.IntegerField(read_only=True)
    practice = AwaitingPracticeSerializer(read_only=True)
    adopted_on = serializers.DateField(read_only=True)
    evidence = AwaitingEvidenceSerializer(source="*", read_only=True)
    enterprise = AwaitingEnterpriseSerializer(read_only=True)
    verify_url = serializers.SerializerMethodField(help_text="POST here to verify it.")

    def get_verify_url(self, obj) -> str:
        return reverse("verification-awaiting-adoption-verify", args=[obj.pk])


class AwaitingFacilitySerializer(serializers.Serializer):
    """A common service facility its PO reports operational, whose operation is not yet confirmed."""

    id = serializers.IntegerField(read_only=True)
    partner_organization = serializers.CharField(
        source="partner_organization.code", read_only=True, help_text="The reporting PO's code."
    )
    name = serializers.CharField(read_only=True)
    kind = serializers.ChoiceField(choices=FacilityKind.choices, read_only=True)
    services = serializers.CharField(read_only=True, help_text="Services offered, as the PO describes them.")
    address = serializers.CharField(read_only=True)
    upazila = AwaitingAreaSerializer(read_only=True, allow_null=True)
    district = AwaitingAreaSerializer(read_only=True)
    latitude = _gps()
    longitude = _gps()
    opened_on = serializers.DateField(read_only=True)
    confirm_url = serializers.SerializerMethodField(help_text="POST here to confirm that it operates.")

    def get_confirm_url(self, obj) -> str:
        return reverse("verification-awaiting-facility-confirm-operational", args=[obj.pk])


class AwaitingFilterSerializer(serializers.Serializer):
    """The work lists' filters (query parameters)."""

    po = serializers.SlugRelatedField(
        source="partner_organization",
        slug_field="code",
        queryset=PartnerOrganization.objects.all(),
        required=False,
        allow_null=True,
        help_text="The reporting PO's code, e.g. PO-017 (exact); empty for every PO.",
    )
    district = serializers.SlugRelatedField(
        slug_field="pcode",
        queryset=District.objects.all(),
        required=False,
        allow_null=True,
        help_text="The district's P-code; empty for every district.",
    )


class VerifyAwaitingAdoptionSerializer(serializers.Serializer):
    verified_on = serializers.DateField(
        required=False,
        help_text="The day the practice was seen in use (YYYY-MM-DD): not before the adoption, not in "
        "the future. Defaults to today.",
    )
    comment = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="What was seen; kept with the decision."
    )


class ConfirmAwaitingFacilitySerializer(serializers.Serializer):
    on = serializers.DateField(
        required=False,
        help_text="The day the facility was seen operating (YYYY-MM-DD): not before its opening, not in "
        "the future. Defaults to today.",
    )
    comment = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="What was seen; kept with the decision."
    )


class AdoptionVerifiedSerializer(serializers.Serializer):
    """The decision recorded (the adoption has left the list and now counts)."""

    id = serializers.IntegerField(read_only=True)
    verified_on = serializers.DateField(read_only=True)
    verified_by = serializers.SerializerMethodField()

    def get_verified_by(self, obj) -> str:
        return obj.verified_by.get_display_name() if obj.verified_by else ""


class FacilityConfirmedSerializer(serializers.Serializer):
    """The decision recorded (the facility has left the list and now counts as established)."""

    id = serializers.IntegerField(read_only=True)
    operational_confirmed_on = serializers.DateField(read_only=True)
    operational_confirmed_by = serializers.SerializerMethodField()

    def get_operational_confirmed_by(self, obj) -> str:
        return obj.operational_confirmed_by.get_display_name() if obj.operational_confirmed_by else ""
