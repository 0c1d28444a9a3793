"""API shapes of verification. Serializers check shape and field rules; the rules themselves are in
verification.services, verification.checks and the lifecycle engine."""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core import lifecycle
from core.models import District, PartnerOrganization
from enterprises.models import FacilityKind, FacilityStatus
from smart_portal.api import ScopedRelations
from subprojects.api.serializers import AvailableActionSerializer
from verification import checks, services
from verification.models import (
    CheckKind,
    CheckStatus,
    VerificationCheck,
    VerificationPolicy,
    VerificationRound,
)


class RoundSerializer(serializers.ModelSerializer):
    """A round, with its progress (`VerificationRound.objects.with_progress()`)."""

    reference = serializers.CharField(read_only=True)
    drawn_by = serializers.SerializerMethodField()
    checks_sampled = serializers.IntegerField(read_only=True, help_text=_("Checks drawn in this round."))
    checks_done = serializers.IntegerField(read_only=True, help_text=_("Checks with a result recorded."))

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
            "updated_at",
        ]
        read_only_fields = fields

    def get_drawn_by(self, obj) -> str:
        return obj.drawn_by.get_display_name() if obj.drawn_by else ""


class SummaryLineSerializer(serializers.Serializer):
    """A line of a round's summary (`verification.services.SummaryLine`): the population as drawn,
    the sample and its results."""

    adoptions = serializers.IntegerField(help_text=_("Adoptions in the population as drawn."))
    profiles = serializers.IntegerField(help_text=_("Validated profiles in the population as drawn."))
    facilities = serializers.IntegerField(help_text=_("Facilities in the population as drawn."))
    population = serializers.IntegerField()
    sample_size = serializers.IntegerField(help_text=_("Checks drawn."))
    done = serializers.IntegerField(source="rate.done")
    confirmed = serializers.IntegerField(source="rate.confirmed")
    partly = serializers.IntegerField(source="rate.partly")
    not_found = serializers.IntegerField(source="rate.not_found")
    rate = serializers.DecimalField(
        source="rate.rate",
        max_digits=4,
        decimal_places=1,
        allow_null=True,
        help_text=_(
            "Percent: confirmed 1, partly 0.5, not found 0, over the checks done; null until one is."
        ),
    )
    flagged = serializers.BooleanField(
        source="rate.flagged", help_text=_("The rate is below the policy's threshold.")
    )


class StratumSerializer(SummaryLineSerializer):
    """One PO's line."""

    partner_organization = serializers.CharField(
        source="partner_organization.code", help_text=_("The PO's code.")
    )


class FingerprintSerializer(serializers.Serializer):
    """One PO's population fingerprints as drawn: per kind, the SHA-256 of the ids sorted and joined by
    commas (verification.sampling.fingerprint); empty for rounds drawn before they were kept."""

    partner_organization = serializers.CharField(source="partner_organization.code")
    adoptions = serializers.CharField(source="fingerprints.adoption")
    profiles = serializers.CharField(source="fingerprints.profile")
    facilities = serializers.CharField(source="fingerprints.facility")


class RoundDetailSerializer(RoundSerializer):
    """A round with its summary (`verification.services.round_summary`, as on the round's page)."""

    strata = StratumSerializer(source="summary.lines", many=True, read_only=True)
    totals = SummaryLineSerializer(
        source="summary.total", read_only=True, help_text=_("All POs together (the total line).")
    )
    threshold_percent = serializers.DecimalField(
        source="summary.threshold",
        max_digits=5,
        decimal_places=2,
        read_only=True,
        help_text=_("The policy's threshold the rates are flagged against."),
    )
    fingerprints = FingerprintSerializer(
        source="summary.lines",
        many=True,
        read_only=True,
        help_text=_("Per PO, the population fingerprints, to check a repeat of the draw."),
    )

    class Meta(RoundSerializer.Meta):
        fields = [*RoundSerializer.Meta.fields, "threshold_percent", "strata", "totals", "fingerprints"]
        read_only_fields = fields

    def to_representation(self, instance):
        instance.summary = services.round_summary(instance)
        return super().to_representation(instance)


class DrawRequestSerializer(serializers.Serializer):
    year = serializers.IntegerField(min_value=2023, max_value=2100)
    quarter = serializers.IntegerField(min_value=1, max_value=4)
    seed = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=0,
        max_value=services.MAX_SEED,
        help_text=_("Leave out for a random seed; it is stored with the round."),
    )


# --- What to visit: the subjects of checks and the work lists -------------------------------------


def _gps(source: str | None = None, help_text: str = "") -> serializers.DecimalField:
    extra = {"source": source} if source else {}
    return serializers.DecimalField(
        max_digits=9, decimal_places=6, allow_null=True, read_only=True, help_text=help_text, **extra
    )


def _name_of(user) -> str:
    return user.get_display_name() if user else ""


class AwaitingAreaSerializer(serializers.Serializer):
    pcode = serializers.CharField(read_only=True, help_text=_("P-code (the `district` filter takes it)."))
    name = serializers.CharField(read_only=True)


class AwaitingPracticeSerializer(serializers.Serializer):
    code = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)


class AwaitingEvidenceSerializer(serializers.Serializer):
    """What the PO reported as its evidence that the practice is in use."""

    observed_on = serializers.DateField(
        source="evidence_observed_on", allow_null=True, read_only=True, help_text=_("Seen in use on.")
    )
    latitude = _gps("evidence_latitude", _("Where the PO's photo was taken."))
    longitude = _gps("evidence_longitude")
    has_photo = serializers.SerializerMethodField()
    photo_url = serializers.SerializerMethodField(
        help_text=_("The PO's photo, for those who may see it; empty when there is none.")
    )

    def get_has_photo(self, obj) -> bool:
        return bool(obj.evidence_photo)

    def get_photo_url(self, obj) -> str:
        if not obj.evidence_photo:
            return ""
        check = self.context.get("check")
        if check is not None:  # the subject of a check: the photo follows the check's visibility
            return reverse("verification-check-evidence-photo", args=[check.pk])
        return reverse("verification-awaiting-adoption-photo", args=[obj.pk])


class AwaitingEnterpriseSerializer(serializers.Serializer):
    """The ME to visit."""

    id = serializers.IntegerField(read_only=True)
    partner_organization = serializers.CharField(
        source="partner_organization.code", read_only=True, help_text=_("The reporting PO's code.")
    )
    code = serializers.CharField(
        source="po_code", read_only=True, help_text=_("The PO's own code for the ME.")
    )
    name = serializers.CharField(read_only=True)
    owner_name = serializers.CharField(read_only=True)
    phone = serializers.CharField(read_only=True)
    upazila = AwaitingAreaSerializer(read_only=True)
    district = AwaitingAreaSerializer(read_only=True)
    latitude = _gps()
    longitude = _gps()


class AdoptionToVisitSerializer(serializers.Serializer):
    """A RECP adoption a PO reported: the practice, the PO's evidence and the ME to visit."""

    id = serializers.IntegerField(read_only=True)
    practice = AwaitingPracticeSerializer(read_only=True)
    adopted_on = serializers.DateField(read_only=True)
    evidence = AwaitingEvidenceSerializer(source="*", read_only=True)
    enterprise = AwaitingEnterpriseSerializer(read_only=True)


class FacilityToVisitSerializer(serializers.Serializer):
    """A common service facility its PO reports: what and where it is."""

    id = serializers.IntegerField(read_only=True)
    partner_organization = serializers.CharField(
        source="partner_organization.code", read_only=True, help_text=_("The reporting PO's code.")
    )
    name = serializers.CharField(read_only=True)
    kind = serializers.ChoiceField(choices=FacilityKind.choices, read_only=True)
    services = serializers.CharField(
        read_only=True, help_text=_("Services offered, as the PO describes them.")
    )
    address = serializers.CharField(read_only=True)
    upazila = AwaitingAreaSerializer(read_only=True, allow_null=True)
    district = AwaitingAreaSerializer(read_only=True)
    latitude = _gps()
    longitude = _gps()
    opened_on = serializers.DateField(read_only=True)


class AwaitingAdoptionSerializer(AdoptionToVisitSerializer):
    """A RECP adoption a PO reported, not yet verified independently."""

    verify_url = serializers.SerializerMethodField(help_text=_("POST here to verify it."))

    def get_verify_url(self, obj) -> str:
        return reverse("verification-awaiting-adoption-verify", args=[obj.pk])


class AwaitingFacilitySerializer(FacilityToVisitSerializer):
    """A common service facility its PO reports operational, whose operation is not yet confirmed."""

    confirm_url = serializers.SerializerMethodField(help_text=_("POST here to confirm that it operates."))

    def get_confirm_url(self, obj) -> str:
        return reverse("verification-awaiting-facility-confirm-operational", args=[obj.pk])


class CheckedAdoptionSerializer(AdoptionToVisitSerializer):
    """The sampled adoption, and whether it is verified."""

    verified_on = serializers.DateField(read_only=True, allow_null=True)
    verified_by = serializers.SerializerMethodField()

    def get_verified_by(self, obj) -> str:
        return _name_of(obj.verified_by)


class CheckedProfileSerializer(serializers.Serializer):
    """The sampled validated RECP profile: what it recommends, and the ME to visit."""

    id = serializers.IntegerField(read_only=True)
    assessment_date = serializers.DateField(read_only=True, allow_null=True)
    validated_on = serializers.DateField(read_only=True, allow_null=True)
    recommended_practices = AwaitingPracticeSerializer(many=True, read_only=True)
    enterprise = AwaitingEnterpriseSerializer(read_only=True)


class CheckedFacilitySerializer(FacilityToVisitSerializer):
    """The sampled facility, its reported status and whether its operation is confirmed."""

    status = serializers.ChoiceField(choices=FacilityStatus.choices, read_only=True)
    operational_confirmed_on = serializers.DateField(read_only=True, allow_null=True)
    operational_confirmed_by = serializers.SerializerMethodField()

    def get_operational_confirmed_by(self, obj) -> str:
        return _name_of(obj.operational_confirmed_by)


class CheckSubjectSerializer(serializers.Serializer):
    """What to visit: the field named by the check's `kind` holds the sampled record (the others are
    null); all are null if the PO has deleted it since the draw (`subject_label` keeps its name)."""

    adoption = serializers.SerializerMethodField()
    profile = serializers.SerializerMethodField()
    facility = serializers.SerializerMethodField()

    def _of(self, serializer_class: type[serializers.Serializer], subject, check) -> dict | None:
        # Its own context names the check: the PO's photo is then served as part of the check.
        return None if subject is None else serializer_class(subject, context={"check": check}).data

    @extend_schema_field(CheckedAdoptionSerializer(allow_null=True))
    def get_adoption(self, check) -> dict | None:
        return self._of(CheckedAdoptionSerializer, check.adoption, check)

    @extend_schema_field(CheckedProfileSerializer(allow_null=True))
    def get_profile(self, check) -> dict | None:
        return self._of(CheckedProfileSerializer, check.profile, check)

    @extend_schema_field(CheckedFacilitySerializer(allow_null=True))
    def get_facility(self, check) -> dict | None:
        return self._of(CheckedFacilitySerializer, check.facility, check)


class CheckSerializer(serializers.ModelSerializer):
    reference = serializers.CharField(read_only=True)
    round_reference = serializers.CharField(source="round.reference", read_only=True)
    partner_organization = serializers.SlugRelatedField(slug_field="code", read_only=True)
    district = serializers.SlugRelatedField(
        slug_field="pcode", read_only=True, allow_null=True, help_text=_("P-code.")
    )
    kind = serializers.ChoiceField(choices=CheckKind.choices, read_only=True)
    status = serializers.ChoiceField(choices=CheckStatus.choices, read_only=True)
    checked_by = serializers.SerializerMethodField()
    photo_url = serializers.SerializerMethodField()
    available_actions = serializers.SerializerMethodField()
    subject = CheckSubjectSerializer(
        source="*",
        read_only=True,
        help_text=_("What to visit, as the check's page shows it: the field named by `kind` is filled."),
    )

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
            "subject",
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
            "updated_at",
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
            for rule in lifecycle.available_rules(request.user, obj)
        ]


class CheckResultSerializer(serializers.Serializer):
    """What the verifier found (JSON). To send a photo, use multipart/form-data with `photo`."""

    visited_on = serializers.DateField()
    comment = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text=_("What was found; required for partly and not_found."),
    )
    latitude = serializers.DecimalField(max_digits=9, decimal_places=6, required=False, allow_null=True)
    longitude = serializers.DecimalField(max_digits=9, decimal_places=6, required=False, allow_null=True)

    def validate(self, attrs):
        check: VerificationCheck = self.context["object"]
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
    photo = serializers.FileField(required=False, allow_null=True, help_text=_("JPEG or PNG."))


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


class AwaitingFilterSerializer(ScopedRelations, serializers.Serializer):
    """The work lists' filters (query parameters)."""

    po = serializers.SlugRelatedField(
        source="partner_organization",
        slug_field="code",
        queryset=PartnerOrganization.objects.all(),
        required=False,
        allow_null=True,
        help_text=_("The reporting PO's code, e.g. PO-017 (exact); empty for every PO."),
    )
    district = serializers.SlugRelatedField(
        slug_field="pcode",
        queryset=District.objects.all(),
        required=False,
        allow_null=True,
        help_text=_("The district's P-code; empty for every district."),
    )


class AdoptionVerifiedSerializer(serializers.Serializer):
    """The decision recorded (the adoption has left the list and now counts)."""

    id = serializers.IntegerField(read_only=True)
    verified_on = serializers.DateField(read_only=True)
    verified_by = serializers.SerializerMethodField()

    def get_verified_by(self, obj) -> str:
        return _name_of(obj.verified_by)


class FacilityConfirmedSerializer(serializers.Serializer):
    """The decision recorded (the facility has left the list and now counts as established)."""

    id = serializers.IntegerField(read_only=True)
    operational_confirmed_on = serializers.DateField(read_only=True)
    operational_confirmed_by = serializers.SerializerMethodField()

    def get_operational_confirmed_by(self, obj) -> str:
        return _name_of(obj.operational_confirmed_by)
