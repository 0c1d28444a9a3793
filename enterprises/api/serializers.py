"""Shapes of the field-data API. Serializers turn codes into objects and back; the rules (model
`clean()`, permissions, duplicates) run in enterprises.services and friends, called by the views."""

from __future__ import annotations

import copy
from collections.abc import Mapping

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.serializers import as_serializer_error

from core.models import District, Division, SubSector, Upazila
from enterprises import services
from enterprises.imports import IMPORTERS
from enterprises.models import (
    Adoption,
    Attendance,
    Cluster,
    ClusterSuggestion,
    CommonServiceFacility,
    DuplicateSuspect,
    Enterprise,
    FinancialSupport,
    ImportJob,
    Kpi,
    KpiReading,
    RecpPractice,
    RecpProfile,
    TrainingModule,
    TrainingSession,
)
from smart_portal.api import ScopedRelations
from subprojects.models import SubProject


class ScopedRelatedField(serializers.PrimaryKeyRelatedField):
    """A writable relation whose choices are what the requesting user may see: another PO's id is
    "does not exist", exactly like an id that does not exist."""

    def __init__(self, model, **kwargs):
        self.model = model
        super().__init__(**kwargs)

    def get_queryset(self):
        request = self.context.get("request")
        if request is None:
            return self.model.objects.none()
        return self.model.objects.visible_to(request.user)


class ModuleCodeField(serializers.SlugRelatedField):
    """A training module by its code, in any case (cv-01 is CV-01), as in imports. An exact match
    wins should two codes differ only in case."""

    def __init__(self, **kwargs):
        kwargs.setdefault(
            "error_messages",
            {"does_not_exist": _("“{value}” is not a training module code (see training-modules).")},
        )
        super().__init__(slug_field="code", queryset=TrainingModule.objects.all(), **kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        if "\x00" in data:  # PostgreSQL refuses it in a query: an error, not "no such module"
            raise serializers.ValidationError(_("Null characters are not allowed."))
        code = data.strip()
        modules = self.get_queryset()
        found = modules.filter(code=code).first() or modules.filter(code__iexact=code).order_by("pk").first()
        if found is None:
            self.fail("does_not_exist", slug_name=self.slug_field, value=data)
        return found


class SessionModuleField(ModuleCodeField):
    """A session's module: required when written, but null when read for a session the PMU has not
    mapped to a module yet (older sessions)."""

    null_on_read = True  # see SessionModuleFieldExtension


class SessionModuleFieldExtension(OpenApiSerializerFieldExtension):
    """The schema of SessionModuleField: a module code in requests, a module code or null in responses."""

    target_class = SessionModuleField

    def map_serializer_field(self, auto_schema, direction):
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        if direction == "response":
            schema["nullable"] = True
        return schema


# --- Enterprises ----------------------------------------------------------------------------------


class EnterpriseSerializer(serializers.ModelSerializer):
    partner_organization = serializers.SlugRelatedField(slug_field="code", read_only=True)
    sub_project = ScopedRelatedField(SubProject)
    sub_sector = serializers.SlugRelatedField(slug_field="code", queryset=SubSector.objects.all())
    sector = serializers.CharField(source="sub_sector.sector.code", read_only=True)
    business_area = serializers.CharField(source="sub_sector.sector.business_area.code", read_only=True)
    division = serializers.SlugRelatedField(
        slug_field="pcode", queryset=Division.objects.all(), required=False, allow_null=True
    )
    district = serializers.SlugRelatedField(slug_field="pcode", queryset=District.objects.all())
    upazila = serializers.SlugRelatedField(slug_field="pcode", queryset=Upazila.objects.all())
    total_jobs = serializers.IntegerField(read_only=True)
    is_confirmed_duplicate = serializers.SerializerMethodField()
    suspected_duplicate = serializers.SerializerMethodField(
        help_text=_("A possible duplicate exists (in this or another PO); the PMU resolves it.")
    )

    class Meta:
        model = Enterprise
        fields = [
            "id",
            "po_code",
            "partner_organization",
            "sub_project",
            "name",
            "owner_name",
            "owner_gender",
            "phone",
            "is_formal",
            "trade_licence_number",
            "business_area",
            "sector",
            "sub_sector",
            "division",
            "district",
            "upazila",
            "latitude",
            "longitude",
            "climate_vulnerable",
            "climate_vulnerable_override",
            "self_employed",
            "wage_employed_male",
            "wage_employed_female",
            "wage_employed_male_at_registration",
            "wage_employed_female_at_registration",
            "total_jobs",
            "year_started",
            "cluster",
            "registered_on",
            "is_confirmed_duplicate",
            "suspected_duplicate",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "climate_vulnerable",
            "cluster",
            "wage_employed_male_at_registration",
            "wage_employed_female_at_registration",
            "created_at",
            "updated_at",
        ]

    @extend_schema_field(serializers.BooleanField())
    def get_is_confirmed_duplicate(self, enterprise: Enterprise) -> bool:
        return enterprise.duplicate_of_id is not None

    @extend_schema_field(serializers.BooleanField())
    def get_suspected_duplicate(self, enterprise: Enterprise) -> bool:
        return bool(getattr(enterprise, "suspected_duplicate", False))


# --- Records on an enterprise ---------------------------------------------------------------------


class RecordSerializer(serializers.ModelSerializer):
    enterprise = ScopedRelatedField(Enterprise)
    enterprise_code = serializers.CharField(source="enterprise.po_code", read_only=True)


class FinancialSupportSerializer(RecordSerializer):
    counts_as_project_financing = serializers.SerializerMethodField(
        help_text=_("False for a disbursement dated before the programme start (settings.PROGRAMME_START).")
    )

    class Meta:
        model = FinancialSupport
        fields = [
            "id",
            "enterprise",
            "enterprise_code",
            "kind",
            "amount",
            "financier",
            "disbursed_on",
            "counts_as_project_financing",
            "reference",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at"]
        extra_kwargs = {
            "financier": {"help_text": _('world_bank, pksf or po; "" on older records means not stated.')}
        }
        # The key (enterprise, kind, date) is checked by the view (natural key, upsert) and the service.
        validators = []

    @extend_schema_field(serializers.BooleanField())
    def get_counts_as_project_financing(self, support: FinancialSupport) -> bool:
        return not support.is_before_programme_start


class TrainingModuleSerializer(serializers.ModelSerializer):
    class Meta:
        model = TrainingModule
        fields = [
            "id",
            "code",
            "name",
            "description",
            "climate_vulnerability",
            "is_active",
            "position",
            "updated_at",
        ]


class TrainingSessionSerializer(serializers.ModelSerializer):
    partner_organization = serializers.SlugRelatedField(slug_field="code", read_only=True)
    sub_project = ScopedRelatedField(SubProject)
    module = SessionModuleField(
        help_text=_(
            "Code of an active module of the catalogue (training-modules), in any case. PO staff cannot "
            "change a module the PMU mapped (403)."
        ),
        error_messages={
            "does_not_exist": _("“{value}” is not a training module code (see training-modules)."),
            "null": _("Choose the training module of the session (see the catalogue)."),
        },
    )
    module_name = serializers.CharField(source="module.name", read_only=True, default=None, allow_null=True)
    climate_vulnerability = serializers.BooleanField(
        source="module.climate_vulnerability",
        read_only=True,
        default=None,
        allow_null=True,
        help_text=_(
            "The module's tag; null while the session is not mapped to a module (it counts for no indicator)."
        ),
    )
    district = serializers.SlugRelatedField(
        slug_field="pcode", queryset=District.objects.all(), required=False, allow_null=True
    )
    attendee_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = TrainingSession
        fields = [
            "id",
            "po_code",
            "partner_organization",
            "sub_project",
            "module",
            "module_name",
            "climate_vulnerability",
            "topic",
            "held_on",
            "place",
            "district",
            "facilitator",
            "attendee_count",
            "updated_at",
        ]


class AssignModuleSerializer(serializers.Serializer):
    module = ModuleCodeField(help_text=_("Code of a module of the catalogue, in any case."))


class AttendanceSerializer(RecordSerializer):
    session = ScopedRelatedField(TrainingSession)
    knowledge_increased = serializers.BooleanField(read_only=True, allow_null=True)

    class Meta:
        model = Attendance
        fields = [
            "id",
            "session",
            "enterprise",
            "enterprise_code",
            "pre_test_score",
            "post_test_score",
            "knowledge_increased",
            "updated_at",
        ]
        validators = []  # the (session, enterprise) uniqueness is checked by the service, with its message


class AttendanceUpdateSerializer(AttendanceSerializer):
    session = serializers.PrimaryKeyRelatedField(read_only=True)
    enterprise = serializers.PrimaryKeyRelatedField(read_only=True)


class RecpPracticeSerializer(serializers.ModelSerializer):
    applicable_sub_sectors = serializers.SlugRelatedField(
        slug_field="code", queryset=SubSector.objects.all(), many=True, required=False
    )

    class Meta:
        model = RecpPractice
        fields = [
            "id",
            "code",
            "name",
            "category",
            "description",
            "applicable_sub_sectors",
            "is_active",
            "updated_at",
        ]


class AdoptionSerializer(RecordSerializer):
    """The PO reports; the PMU or a verifier verifies (`verify`). `verified_on` and `verified_by` are
    never accepted from the client: sending either is a 400 naming it."""

    practice = serializers.SlugRelatedField(slug_field="code", queryset=RecpPractice.objects.all())
    evidence_photo = serializers.FileField(
        write_only=True, required=False, help_text=_("JPEG or PNG of the practice in use (multipart).")
    )
    has_photo = serializers.SerializerMethodField()
    reported_by = serializers.StringRelatedField(read_only=True, allow_null=True)
    verified_by = serializers.StringRelatedField(read_only=True, allow_null=True)

    class Meta:
        model = Adoption
        fields = [
            "id",
            "enterprise",
            "enterprise_code",
            "practice",
            "adopted_on",
            "evidence_observed_on",
            "evidence_photo",
            "has_photo",
            "evidence_latitude",
            "evidence_longitude",
            "note",
            "reported_by",
            "verification",
            "verified_on",
            "verified_by",
            "updated_at",
        ]
        read_only_fields = ["verification", "verified_on"]
        validators = []

    def to_internal_value(self, data):
        # A body that is not an object (`0`, `null`) is refused by DRF's own check, below.
        if isinstance(data, Mapping):
            try:
                services.refuse_verification_fields(data)
            except DjangoValidationError as exc:
                raise serializers.ValidationError(exc.message_dict) from None
        return super().to_internal_value(data)

    @extend_schema_field(serializers.BooleanField())
    def get_has_photo(self, adoption: Adoption) -> bool:
        return bool(adoption.evidence_photo)


class AdoptionUpdateSerializer(AdoptionSerializer):
    enterprise = serializers.PrimaryKeyRelatedField(read_only=True)
    practice = serializers.SlugRelatedField(slug_field="code", read_only=True)


class VerifyRequestSerializer(serializers.Serializer):
    verified_on = serializers.DateField(required=False, help_text=_("Defaults to today."))
    comment = serializers.CharField(
        required=False, allow_blank=True, help_text=_("What was seen; kept with the decision.")
    )


class ConfirmOperationalSerializer(serializers.Serializer):
    on = serializers.DateField(
        required=False, help_text=_("The day it was seen operating; defaults to today.")
    )
    comment = serializers.CharField(
        required=False, allow_blank=True, help_text=_("What was seen; kept with the decision.")
    )


class RecpProfileSerializer(RecordSerializer):
    recommended_practices = serializers.SlugRelatedField(
        slug_field="code", queryset=RecpPractice.objects.filter(is_active=True), many=True, required=False
    )
    prepared_by = serializers.StringRelatedField(read_only=True, allow_null=True)
    validated_by = serializers.StringRelatedField(read_only=True, allow_null=True)
    has_report = serializers.SerializerMethodField()

    class Meta:
        model = RecpProfile
        fields = [
            "id",
            "enterprise",
            "enterprise_code",
            "assessment_date",
            "baseline",
            "climate_risks",
            "opportunities",
            "recommended_practices",
            "status",
            "prepared_by",
            "prepared_on",
            "validated_by",
            "validated_on",
            "review_comment",
            "has_report",
            "updated_at",
        ]
        read_only_fields = ["status", "prepared_on", "validated_on", "review_comment"]
        validators = []

    @extend_schema_field(serializers.BooleanField())
    def get_has_report(self, profile: RecpProfile) -> bool:
        return bool(profile.report)


class RecpProfileUpdateSerializer(RecpProfileSerializer):
    enterprise = serializers.PrimaryKeyRelatedField(read_only=True)


class ProfileActionSerializer(serializers.Serializer):
    comment = serializers.CharField(
        required=False, allow_blank=True, help_text=_("Required to return or reopen.")
    )
    on = serializers.DateField(
        required=False, help_text=_("Validation date (validate only); defaults to today.")
    )


class KpiSerializer(serializers.ModelSerializer):
    class Meta:
        model = Kpi
        fields = [
            "id",
            "code",
            "name",
            "unit",
            "category",
            "direction",
            "min_value",
            "max_value",
            "description",
            "is_active",
            "adds_up",
            "co2e_kg_per_unit",
            "co2e_factor_source",
            "updated_at",
        ]

    def validate(self, attrs):
        # The catalogue's own rules (a range in order, an emission factor with its source), as a 400.
        kpi = copy.copy(self.instance) if self.instance is not None else Kpi()
        for name, value in attrs.items():
            setattr(kpi, name, value)
        try:
            kpi.validate_constraints()
        except DjangoValidationError as exc:
            raise serializers.ValidationError(as_serializer_error(exc)) from None
        return attrs


class KpiReadingSerializer(RecordSerializer):
    kpi = serializers.SlugRelatedField(slug_field="code", queryset=Kpi.objects.all())

    class Meta:
        model = KpiReading
        fields = [
            "id",
            "enterprise",
            "enterprise_code",
            "kpi",
            "period",
            "value",
            "is_baseline",
            "source",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at"]
        validators = []

    def validate_period(self, value):
        # A reading covers a month; any day of it names the month.
        return value.replace(day=1)


class KpiReadingUpdateSerializer(KpiReadingSerializer):
    enterprise = serializers.PrimaryKeyRelatedField(read_only=True)
    kpi = serializers.SlugRelatedField(slug_field="code", read_only=True)


class FacilitySerializer(serializers.ModelSerializer):
    partner_organization = serializers.SlugRelatedField(slug_field="code", read_only=True)
    sub_project = ScopedRelatedField(SubProject)
    sub_sector = serializers.SlugRelatedField(slug_field="code", queryset=SubSector.objects.all())
    district = serializers.SlugRelatedField(slug_field="pcode", queryset=District.objects.all())
    upazila = serializers.SlugRelatedField(
        slug_field="pcode", queryset=Upazila.objects.all(), required=False, allow_null=True
    )
    mes_served = ScopedRelatedField(Enterprise, many=True, required=False)
    operational_confirmed_by = serializers.StringRelatedField(read_only=True, allow_null=True)
    status_comment = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        help_text=_("Why the status changes; kept in the facility's history with the change."),
    )

    class Meta:
        model = CommonServiceFacility
        fields = [
            "id",
            "partner_organization",
            "sub_project",
            "name",
            "kind",
            "sub_sector",
            "district",
            "upazila",
            "address",
            "latitude",
            "longitude",
            "services",
            "status",
            "opened_on",
            "operational_confirmed_on",
            "operational_confirmed_by",
            "mes_served",
            "status_comment",
            "updated_at",
        ]
        read_only_fields = ["operational_confirmed_on"]
        validators = []


class ClusterSerializer(serializers.ModelSerializer):
    sub_sector = serializers.SlugRelatedField(slug_field="code", read_only=True)
    district = serializers.SlugRelatedField(slug_field="pcode", read_only=True)
    member_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Cluster
        fields = [
            "id",
            "name",
            "sub_sector",
            "district",
            "centre_latitude",
            "centre_longitude",
            "description",
            "member_count",
            "updated_at",
        ]
        read_only_fields = ["centre_latitude", "centre_longitude"]


class ClusterSuggestionSerializer(ScopedRelations, serializers.ModelSerializer):
    sub_sector = serializers.SlugRelatedField(slug_field="code", read_only=True)
    district = serializers.SlugRelatedField(slug_field="pcode", read_only=True)
    members = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = ClusterSuggestion
        fields = [
            "id",
            "sub_sector",
            "district",
            "centre_latitude",
            "centre_longitude",
            "radius_km",
            "member_count",
            "members",
            "status",
            "cluster",
            "computed_at",
            "updated_at",
        ]


class AcceptSuggestionSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True)
    members = serializers.ListField(
        child=serializers.IntegerField(),
        required=False,
        help_text=_("Ids to keep; all proposed members by default."),
    )
    comment = serializers.CharField(
        required=False, allow_blank=True, default="", help_text=_("Why; kept with the decision.")
    )


class DuplicateSideSerializer(serializers.ModelSerializer):
    partner_organization = serializers.SlugRelatedField(slug_field="code", read_only=True)
    upazila = serializers.SlugRelatedField(slug_field="pcode", read_only=True)

    class Meta:
        model = Enterprise
        fields = [
            "id",
            "po_code",
            "partner_organization",
            "name",
            "owner_name",
            "phone",
            "trade_licence_number",
            "upazila",
        ]


class DuplicateSuspectSerializer(serializers.ModelSerializer):
    enterprise = DuplicateSideSerializer(read_only=True)
    matched_enterprise = DuplicateSideSerializer(read_only=True)

    class Meta:
        model = DuplicateSuspect
        fields = [
            "id",
            "enterprise",
            "matched_enterprise",
            "same_phone",
            "same_trade_licence",
            "same_name_and_upazila",
            "cross_po",
            "status",
            "found_at",
            "resolved_at",
            "resolution_note",
            "updated_at",
        ]


class NoteRequestSerializer(serializers.Serializer):
    """A decision on a suspected pair: the note is the decision's comment in its history."""

    note = serializers.CharField(
        source="comment", default="", allow_blank=True, help_text=_("Why; kept with the decision.")
    )


class RowErrorSerializer(serializers.Serializer):
    row = serializers.IntegerField()
    column = serializers.CharField()
    message = serializers.CharField()


class ImportJobSerializer(serializers.ModelSerializer):
    partner_organization = serializers.SlugRelatedField(slug_field="code", read_only=True)
    errors = RowErrorSerializer(many=True, read_only=True)
    progress_percent = serializers.IntegerField(source="percent", read_only=True)

    class Meta:
        model = ImportJob
        fields = [
            "id",
            "kind",
            "partner_organization",
            "original_name",
            "file_format",
            "status",
            "phase",
            "rows_total",
            "rows_done",
            "progress_percent",
            "created_count",
            "updated_count",
            "unchanged_count",
            "error_count",
            "duplicate_count",
            "errors",
            "preview",
            "failure",
            "created_at",
            "heartbeat_at",
            "checked_at",
            "committed_at",
            "updated_at",
        ]
        read_only_fields = fields


class ImportUploadSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=[(kind, str(importer.label)) for kind, importer in IMPORTERS.items()]
    )
    file = serializers.FileField(help_text=_("CSV or XLSX with the template's header row."))
