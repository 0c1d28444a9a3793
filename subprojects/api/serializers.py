"""API shapes for the lifecycle. Serializers check shape and consistency; the rules (who may edit
what, when; transitions) are in subprojects.services and subprojects.workflow."""

from __future__ import annotations

import copy
from decimal import Decimal

from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from core.api import examples
from core.models import District, Sector, SubSector, Upazila
from core.validators import EARLIEST_ENTERPRISE_DATE, DateRange
from safeguards.models import EsmpMeasure, EsReviewStatus, ExclusionItem
from smart_portal.api import ScopedRelations
from subprojects import workflow
from subprojects.models import (
    TARGETING_FIELDS,
    TARGETING_M2M,
    Activity,
    Attachment,
    BudgetLine,
    Call,
    CommittedResult,
    ConceptNote,
    Financier,
    Proposal,
    SubProject,
)
from subprojects.validation import attachment_mime_type, budget_lines_error, targeting_errors


class ModelRulesMixin:
    """Validate with the model's own `clean()`: its rules, stated once on the model (with their check
    constraints), answered as field errors (400) like the serializer's own."""

    def validate(self, attrs):
        attrs = super().validate(attrs)
        model = self.Meta.model
        obj = copy.copy(self.instance) if isinstance(self.instance, model) else model()
        for name, value in attrs.items():
            try:
                field = model._meta.get_field(name)
            except FieldDoesNotExist:
                continue
            if field.concrete and not field.many_to_many:
                setattr(obj, field.attname if field.is_relation else name, getattr(value, "pk", value))
        try:
            obj.clean()
        except DjangoValidationError as exc:
            raise serializers.ValidationError(serializers.as_serializer_error(exc)) from exc
        return attrs


class AvailableActionSerializer(serializers.Serializer):
    action = serializers.CharField()
    label = serializers.CharField()
    comment_required = serializers.BooleanField()
    url = serializers.CharField()


class ActionsMixin(serializers.Serializer):
    available_actions = serializers.SerializerMethodField()
    api_prefix: str = ""

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
                "url": f"/api/v1/{self.api_prefix}/{obj.pk}/{rule.action.replace('_', '-')}/",
            }
            for rule in workflow.available_rules(request.user, obj)
        ]


class CallSerializer(ScopedRelations, ModelRulesMixin, ActionsMixin, serializers.ModelSerializer):
    api_prefix = "calls"
    eligible_sectors = serializers.SlugRelatedField(
        slug_field="code", queryset=Sector.objects.all(), many=True, required=False
    )

    class Meta:
        model = Call
        fields = [
            "id",
            "reference",
            "title",
            "description",
            "opens_at",
            "closes_at",
            "ceiling_budget",
            "eligible_sectors",
            "status",
            "status_changed_at",
            "available_actions",
            "updated_at",
        ]
        read_only_fields = ["status", "status_changed_at"]
        # Plausible moments only (a call of the year 666 was accepted, and answered with a time
        # zone offset of the 19th century that is not an RFC 3339 date-time).
        extra_kwargs = {
            "opens_at": {"validators": [DateRange(_("The opening"), EARLIEST_ENTERPRISE_DATE, 10)]},
            "closes_at": {"validators": [DateRange(_("The deadline"), EARLIEST_ENTERPRISE_DATE, 10)]},
        }


class AttachmentSerializer(serializers.ModelSerializer):
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Attachment
        fields = [
            "id",
            "original_name",
            "description",
            "is_esmp",
            "mime_type",
            "size",
            "uploaded_at",
            "download_url",
            "updated_at",
        ]
        read_only_fields = ["is_esmp"]

    def get_download_url(self, attachment: Attachment) -> str:
        return reverse("attachment-download", args=[attachment.pk])


class AttachmentUploadSerializer(serializers.Serializer):
    file = serializers.FileField()
    description = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    is_esmp = serializers.BooleanField(
        required=False,
        default=False,
        help_text=_("A proposal's E&S management plan (required for substantial and high risk)."),
    )

    def validate(self, attrs):
        try:
            attrs["mime_type"] = attachment_mime_type(attrs["file"])
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"file": exc.messages}) from exc
        return attrs


class TargetingSerializer(ScopedRelations, serializers.ModelSerializer):
    partner_organization = serializers.SlugRelatedField(slug_field="code", read_only=True)
    reference = serializers.CharField(read_only=True)
    sector = serializers.SlugRelatedField(slug_field="code", queryset=Sector.objects.all())
    business_area = serializers.CharField(source="sector.business_area.code", read_only=True)
    sub_sectors = serializers.SlugRelatedField(
        slug_field="code", queryset=SubSector.objects.all(), many=True, required=False
    )
    target_districts = serializers.SlugRelatedField(
        slug_field="pcode", queryset=District.objects.all(), many=True, required=False
    )
    target_upazilas = serializers.SlugRelatedField(
        slug_field="pcode", queryset=Upazila.objects.all(), many=True, required=False
    )
    attachments = AttachmentSerializer(many=True, read_only=True)

    def _call(self, attrs):
        return attrs.get("call") or getattr(self.instance, "call", None)

    def _current(self, attrs, name):
        if name in attrs:
            return attrs[name]
        if self.instance is None:
            return [] if name in TARGETING_M2M else None
        value = getattr(self.instance, name)
        return list(value.all()) if hasattr(value, "all") else value

    def validate(self, attrs):
        call = self._call(attrs)
        if call is not None:
            errors = targeting_errors(
                call=call,
                sector=self._current(attrs, "sector"),
                sub_sectors=self._current(attrs, "sub_sectors"),
                districts=self._current(attrs, "target_districts"),
                upazilas=self._current(attrs, "target_upazilas"),
                mes_targeted=self._current(attrs, "mes_targeted"),
                women_led_mes_targeted=self._current(attrs, "women_led_mes_targeted"),
                estimated_budget=attrs.get("estimated_budget"),
            )
            if errors:
                raise serializers.ValidationError(errors)
        return attrs


IDENTITY_FIELDS = ["id", "reference", "partner_organization"]
# The shared fields (title, sector, ...), with the read-only business area before the sector.
TARGETING_API_FIELDS = ["title", "business_area", *TARGETING_FIELDS[1:]]


class ConceptNoteSerializer(ActionsMixin, TargetingSerializer):
    api_prefix = "concept-notes"
    # Narrowed to the calls the user may see (ScopedRelations): a draft call is an unknown id.
    call = serializers.PrimaryKeyRelatedField(queryset=Call.objects.all())

    class Meta:
        model = ConceptNote
        fields = [
            *IDENTITY_FIELDS,
            "call",
            *TARGETING_API_FIELDS,
            "estimated_budget",
            "status",
            "status_changed_at",
            "submitted_at",
            "created_at",
            "updated_at",
            "attachments",
            "available_actions",
        ]
        read_only_fields = ["status", "status_changed_at", "submitted_at", "created_at", "updated_at"]

    def validate_call(self, call: Call) -> Call:
        if self.instance is not None and call != self.instance.call:
            raise serializers.ValidationError(_("A concept note cannot move to another call."))
        return call


class BudgetLineSerializer(serializers.ModelSerializer):
    id = serializers.IntegerField(required=False)

    class Meta:
        model = BudgetLine
        fields = ["id", "category", "description", "amount", "financier"]


class ActivitySerializer(ModelRulesMixin, serializers.ModelSerializer):
    id = serializers.IntegerField(required=False)

    class Meta:
        model = Activity
        fields = ["id", "description", "start_month", "end_month"]


class CommittedResultSerializer(serializers.ModelSerializer):
    id = serializers.IntegerField(required=False)

    class Meta:
        model = CommittedResult
        fields = ["id", "indicator", "target"]
        validators = []  # uniqueness per proposal is checked on the whole list


class EsmpMeasureSerializer(serializers.ModelSerializer):
    """A line of the E&S management plan; sent back with its `id`, a line keeps its identity."""

    id = serializers.IntegerField(required=False)

    class Meta:
        model = EsmpMeasure
        fields = ["id", "risk", "measure", "responsible", "timing"]


class EsReviewSummarySerializer(serializers.Serializer):
    """The PMU's E&S review of a high-risk proposal (detail: `/api/v1/es-reviews/<id>/`)."""

    id = serializers.IntegerField()
    reference = serializers.CharField()
    status = serializers.ChoiceField(choices=EsReviewStatus.choices)
    decided_at = serializers.DateTimeField(allow_null=True)


class BudgetTotalsSerializer(serializers.Serializer):
    world_bank = serializers.DecimalField(max_digits=14, decimal_places=2)
    pksf = serializers.DecimalField(max_digits=14, decimal_places=2)
    po = serializers.DecimalField(max_digits=14, decimal_places=2)
    total = serializers.DecimalField(max_digits=14, decimal_places=2)


class ProposalSerializer(ActionsMixin, TargetingSerializer):
    """Nested lists (budget lines, activities, committed results, ESMP measures) replace the
    proposal's rows when sent; rows keep their identity when sent back with their `id`. The E&S
    screening: `exclusions_found` (ids of `/api/v1/exclusion-items/`), `esmp_measures`, and the plan
    itself as an attachment sent with `is_esmp` (`POST <id>/attachments/`); `es_review` is read-only."""

    api_prefix = "proposals"
    call = serializers.PrimaryKeyRelatedField(read_only=True)
    concept_note = serializers.PrimaryKeyRelatedField(read_only=True)
    budget_lines = BudgetLineSerializer(many=True, required=False)
    activities = ActivitySerializer(many=True, required=False)
    committed_results = CommittedResultSerializer(many=True, required=False)
    budget_totals = serializers.SerializerMethodField()
    sub_project = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True, help_text=_("The sub-project awarded; null until the award.")
    )
    # The E&S screening (safeguards.reviews): the exclusion-list items the PO ticked (any ticked item
    # refuses submission, 409 naming it), the ESMP's structured measures (replaced when sent), and
    # the PMU's E&S review of a high-risk proposal (read-only; null until one is opened).
    exclusions_found = serializers.PrimaryKeyRelatedField(
        many=True,
        queryset=ExclusionItem.objects.all(),
        required=False,
        help_text=_("Ids of the exclusion-list items (`/api/v1/exclusion-items/`) the activities involve."),
    )
    esmp_measures = EsmpMeasureSerializer(many=True, required=False)
    es_review = serializers.SerializerMethodField()

    class Meta:
        model = Proposal
        fields = [
            *IDENTITY_FIELDS,
            "concept_note",
            "call",
            "deadline",
            *TARGETING_API_FIELDS,
            "objectives",
            "duration_months",
            "activities",
            "budget_lines",
            "budget_totals",
            "committed_results",
            "risk_category",
            "exclusion_list_checked",
            "exclusions_found",
            "mitigation_measures",
            "esmp_measures",
            "doe_clearance_required",
            "es_review",
            "status",
            "status_changed_at",
            "submitted_at",
            "no_objection_reference",
            "no_objection_date",
            "sub_project",
            "attachments",
            "available_actions",
            "updated_at",
        ]
        # The no-objection letter is given with the World Bank's `no-objection` action.
        read_only_fields = [
            "deadline",
            "status",
            "status_changed_at",
            "submitted_at",
            "no_objection_reference",
            "no_objection_date",
        ]

    @extend_schema_field(BudgetTotalsSerializer)
    def get_budget_totals(self, proposal: Proposal) -> dict[str, str]:
        lines = getattr(proposal, "_prefetched_objects_cache", {}).get("budget_lines")
        if lines is None:
            return BudgetTotalsSerializer(proposal.budget_totals()).data
        # A list with its budget lines prefetched: the same sums, without a query per proposal.
        totals = {financier: Decimal("0") for financier in Financier.values}
        for line in lines:
            if line.financier in totals:
                totals[line.financier] += line.amount
        totals["total"] = sum(totals.values(), Decimal("0"))
        return BudgetTotalsSerializer(totals).data

    @extend_schema_field(EsReviewSummarySerializer(allow_null=True))
    def get_es_review(self, proposal: Proposal) -> dict | None:
        review = getattr(proposal, "es_review", None)
        if review is None:
            return None
        return EsReviewSummarySerializer(
            {
                "id": review.pk,
                "reference": review.reference,
                "status": review.status,
                "decided_at": review.decided_at,
            }
        ).data

    def _whole_rows(self, name: str, rows: list[dict]) -> list[dict]:
        """A nested list replaces the stored one, so each line must be whole even in a PATCH (where
        DRF leaves out the lines' own required fields): a missing field is named, never a 500."""
        child = self.fields[name].child
        required = [field_name for field_name, field in child.fields.items() if field.required]
        errors = [
            {field_name: [_("This field is required.")] for field_name in required if field_name not in row}
            for row in rows
        ]
        if any(errors):
            raise serializers.ValidationError(errors)
        return rows

    def validate_activities(self, activities):
        return self._whole_rows("activities", activities)

    def validate_esmp_measures(self, measures):
        return self._whole_rows("esmp_measures", measures)

    def validate_budget_lines(self, lines):
        lines = self._whole_rows("budget_lines", lines)
        # Proposals are only updated (an invitation creates them), so there is always an instance.
        error = budget_lines_error(self.instance.call, [line["amount"] for line in lines])
        if error:
            raise serializers.ValidationError(error)
        return lines

    def validate_committed_results(self, results):
        results = self._whole_rows("committed_results", results)
        indicators = [result["indicator"] for result in results]
        if len(indicators) != len(set(indicators)):
            raise serializers.ValidationError(_("An indicator is listed twice."))
        return results


class SubProjectSerializer(ScopedRelations, ModelRulesMixin, ActionsMixin, serializers.ModelSerializer):
    api_prefix = "sub-projects"
    partner_organization = serializers.SlugRelatedField(slug_field="code", read_only=True)
    sector = serializers.SlugRelatedField(slug_field="code", read_only=True)
    approved_budget = serializers.DecimalField(max_digits=15, decimal_places=2, read_only=True)

    class Meta:
        model = SubProject
        fields = [
            "id",
            "agreement_number",
            "proposal",
            "partner_organization",
            "title",
            "sector",
            "award_date",
            "start_date",
            "end_date",
            "budget_world_bank",
            "budget_pksf",
            "budget_po",
            "approved_budget",
            "status",
            "status_changed_at",
            "available_actions",
            "updated_at",
        ]
        read_only_fields = ["agreement_number", "proposal", "award_date", "status", "status_changed_at"]


# A proposal's deadline: a plausible moment (never one whose offset is not RFC 3339's).
DEADLINE_RANGE = DateRange(_("The deadline"), EARLIEST_ENTERPRISE_DATE, 10)


@extend_schema_serializer(examples=examples.INVITE)
class InviteRequestSerializer(serializers.Serializer):
    deadline = serializers.DateTimeField(validators=[DEADLINE_RANGE])
    comment = serializers.CharField(required=False, allow_blank=True, default="")


class AwardRequestSerializer(serializers.Serializer):
    agreement_number = serializers.CharField(max_length=60)
    award_date = serializers.DateField()
    start_date = serializers.DateField()
    end_date = serializers.DateField()
    budget_world_bank = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=Decimal("0"))
    budget_pksf = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=Decimal("0"))
    budget_po = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=Decimal("0"))
    comment = serializers.CharField(required=False, allow_blank=True, default="")


class NoObjectionRequestSerializer(serializers.Serializer):
    """For `proposals/<id>/no-objection/`: the World Bank's letter (both required; the date within the
    programme, not in the future)."""

    no_objection_reference = serializers.CharField(
        max_length=100, help_text="The reference of the World Bank's no-objection letter."
    )
    no_objection_date = serializers.DateField(
        validators=Proposal._meta.get_field("no_objection_date").validators,
        help_text="The date of the letter.",
    )
    comment = serializers.CharField(required=False, allow_blank=True, default="")


class DeadlineRequestSerializer(serializers.Serializer):
    deadline = serializers.DateTimeField(validators=[DEADLINE_RANGE])


class FieldChangeSerializer(serializers.Serializer):
    field = serializers.CharField(help_text=_("The field's label."))
    old = serializers.CharField(help_text=_("The value before, as displayed (— when empty)."))
    new = serializers.CharField(help_text=_("The value after, as displayed (— when empty)."))


class RecordedDetailSerializer(serializers.Serializer):
    field = serializers.CharField(help_text=_("The field's label."))
    value = serializers.CharField(help_text=_("Its value, as displayed."))


class TimelineEntrySerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    who = serializers.CharField()
    kind = serializers.ChoiceField(choices=["transition", "edit"])
    action = serializers.CharField(help_text="Transitions: the action's code.")
    from_state = serializers.CharField()
    to_state = serializers.CharField()
    summary = serializers.CharField()
    comment = serializers.CharField()
    changes = FieldChangeSerializer(many=True, help_text=_("Edits: each field changed, as displayed."))
    details = RecordedDetailSerializer(
        many=True,
        help_text="Transitions: what they recorded besides the state (field and value), e.g. the "
        "World Bank's letter of a no-objection.",
    )
