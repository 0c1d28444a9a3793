from django import forms
from django.contrib import admin
from django.contrib.contenttypes.admin import GenericTabularInline
from django.utils.translation import gettext_lazy as _

from core.history_admin import HistoryAdmin
from core.visibility import VisibleAdminMixin
from subprojects import evaluation
from subprojects.models import (
    Activity,
    AgendaItem,
    Attachment,
    BudgetLine,
    Call,
    CommittedResult,
    ConceptNote,
    Condition,
    ConflictDeclaration,
    Criterion,
    Decision,
    Proposal,
    Rubric,
    Score,
    ScoreSheet,
    SubProject,
    TecMeeting,
    Transition,
)

# State changes go through the workflow (pages and API); the admin shows states but never edits them.
# Records of what people did (transitions, attachments, scores, declarations, decisions) are shown,
# never changed.


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ReadOnlyInlineMixin:
    """Shows `fields` read-only; no row is added or deleted here."""

    extra = 0
    can_delete = False

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class TransitionInline(ReadOnlyInlineMixin, GenericTabularInline):
    model = Transition
    fields = ("at", "action", "from_state", "to_state", "actor", "comment")


class AttachmentInline(ReadOnlyInlineMixin, admin.TabularInline):
    model = Attachment
    fields = ("original_name", "description", "mime_type", "size", "uploaded_by", "uploaded_at")


class CreatedByAdmin(HistoryAdmin):
    """The user who creates the object in the admin is recorded as its creator."""

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(Call)
class CallAdmin(CreatedByAdmin):
    list_display = ("reference", "title", "opens_at", "closes_at", "ceiling_budget", "status")
    list_filter = ("status",)
    search_fields = ("reference", "title")
    readonly_fields = ("status", "status_changed_at", "created_by")
    filter_horizontal = ("eligible_sectors",)
    inlines = [TransitionInline]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change:
            # As services.create_call: every call starts with SPEC 4's criteria.
            evaluation.seed_default_rubric(obj)


@admin.register(ConceptNote)
class ConceptNoteAdmin(VisibleAdminMixin, HistoryAdmin):
    # A note its PO never submitted is the PO's work in progress: hidden here as on the portal.
    list_display = ("__str__", "partner_organization", "call", "sector", "status", "status_changed_at")
    list_filter = ("status", "call", "sector")
    list_select_related = ("partner_organization", "call", "sector")
    search_fields = ("title", "partner_organization__name", "partner_organization__code")
    readonly_fields = (
        "status",
        "status_changed_at",
        "submitted_at",
        "created_by",
        "call",
        "partner_organization",
    )
    filter_horizontal = ("sub_sectors", "target_districts", "target_upazilas")
    inlines = [AttachmentInline, TransitionInline]


class BudgetLineInline(admin.TabularInline):
    model = BudgetLine
    extra = 0


class ActivityInline(admin.TabularInline):
    model = Activity
    extra = 0


class CommittedResultInline(admin.TabularInline):
    model = CommittedResult
    extra = 0


@admin.register(Proposal)
class ProposalAdmin(VisibleAdminMixin, HistoryAdmin):
    list_display = ("__str__", "partner_organization", "call", "status", "deadline", "status_changed_at")
    list_filter = ("status", "call", "sector", "risk_category")
    list_select_related = ("partner_organization", "call")
    search_fields = ("title", "partner_organization__name", "partner_organization__code")
    readonly_fields = (
        "status",
        "status_changed_at",
        "submitted_at",
        "invited_by",
        "call",
        "partner_organization",
        "concept_note",
        # Recorded with the World Bank's no-objection (the transition's parameters).
        "no_objection_reference",
        "no_objection_date",
    )
    filter_horizontal = ("sub_sectors", "target_districts", "target_upazilas")
    inlines = [BudgetLineInline, ActivityInline, CommittedResultInline, AttachmentInline, TransitionInline]


@admin.register(SubProject)
class SubProjectAdmin(HistoryAdmin):
    list_display = ("agreement_number", "title", "partner_organization", "award_date", "status")
    list_filter = ("status", "sector")
    list_select_related = ("partner_organization",)
    search_fields = ("agreement_number", "title", "partner_organization__name")
    readonly_fields = ("status", "status_changed_at", "proposal", "partner_organization")
    inlines = [TransitionInline]


@admin.register(Transition)
class TransitionAdmin(ReadOnlyAdmin):
    list_display = ("at", "content_type", "object_id", "action", "from_state", "to_state", "actor")
    list_filter = ("content_type", "action")

    def get_queryset(self, request):
        """The log rows of the objects this person may see (core.visibility), no more, superusers
        included: a comment tells what happened (a grievance's handling, an SEA/SH case above all), so
        it is as confidential as its object."""
        from django.contrib.contenttypes.models import ContentType
        from django.db.models import Q

        from core.visibility import visible

        queryset = super().get_queryset(request)
        shown = Q(pk__in=[])
        for content_type_id in queryset.values_list("content_type", flat=True).distinct().order_by():
            model = ContentType.objects.get_for_id(content_type_id).model_class()
            if model is None:
                continue
            ids = visible(model, request.user).values("pk")
            shown |= Q(content_type_id=content_type_id, object_id__in=ids)
        return queryset.filter(shown)


@admin.register(Attachment)
class AttachmentAdmin(VisibleAdminMixin, admin.ModelAdmin):
    list_display = ("original_name", "concept_note", "proposal", "mime_type", "size", "uploaded_at")
    readonly_fields = (
        "concept_note",
        "proposal",
        "file",
        "original_name",
        "mime_type",
        "size",
        "uploaded_by",
        "uploaded_at",
    )

    def has_add_permission(self, request) -> bool:
        return False


# --- Technical evaluation -------------------------------------------------------------------------
# Scores, declarations and decisions are records of what members did: the admin shows them, it never
# changes them (submitted scores refuse any change anyway).


# A rubric under which scores have been submitted is locked (the models refuse any change:
# RubricLocked): the admin shows it and its criteria read-only, and says why.

LOCKED_NOTE = _(
    "Locked: scores have been submitted under this rubric, so it and its criteria can no longer change. "
    "To correct it, the PMU reopens the call's scoring from the call's page (the submitted score "
    "sheets go back to draft and their members are told)."
)


def _rubric_locked(rubric: Rubric | None) -> bool:
    """Asked several times per admin page: the answer is kept on the instance for the request."""
    if rubric is None or rubric.pk is None:
        return False
    if not hasattr(rubric, "_locked_in_admin"):
        rubric._locked_in_admin = evaluation.rubric_is_locked(rubric)
    return rubric._locked_in_admin


class CriterionInline(admin.TabularInline):
    model = Criterion
    extra = 0

    # `obj` is the rubric being shown.
    def has_add_permission(self, request, obj=None) -> bool:
        return super().has_add_permission(request, obj) and not _rubric_locked(obj)

    def has_change_permission(self, request, obj=None) -> bool:
        return super().has_change_permission(request, obj) and not _rubric_locked(obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return super().has_delete_permission(request, obj) and not _rubric_locked(obj)


class RubricAdminForm(forms.ModelForm):
    def clean(self):
        cleaned = super().clean()
        if _rubric_locked(self.instance):  # scores were submitted while the form was open
            raise forms.ValidationError(LOCKED_NOTE)
        return cleaned


@admin.register(Rubric)
class RubricAdmin(HistoryAdmin):
    form = RubricAdminForm
    list_display = ("call", "pass_mark", "spread_threshold", "locked")
    readonly_fields = ("lock_status",)
    inlines = [CriterionInline]

    @admin.display(boolean=True, description=_("locked"))
    def locked(self, obj: Rubric) -> bool:
        return _rubric_locked(obj)

    @admin.display(description=_("lock"))
    def lock_status(self, obj: Rubric) -> str:
        if _rubric_locked(obj):
            return str(LOCKED_NOTE)
        return str(_("Editable: no score has been submitted under this rubric yet."))

    def has_change_permission(self, request, obj=None) -> bool:
        return super().has_change_permission(request, obj) and not _rubric_locked(obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return super().has_delete_permission(request, obj) and not _rubric_locked(obj)


class AgendaInline(admin.TabularInline):
    model = AgendaItem
    fields = ("position", "proposal")
    readonly_fields = ("proposal",)
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # putting a proposal on an agenda is a transition: use the meeting's page


@admin.register(TecMeeting)
class TecMeetingAdmin(CreatedByAdmin):
    list_display = ("number", "held_on", "venue", "chair")
    filter_horizontal = ("members",)
    # Attendance is the chair's to take on the meeting's page, each version logged (evaluation).
    readonly_fields = ("created_by", "attendees", "attendance_taken_at", "attendance_taken_by")
    inlines = [AgendaInline]


class ScoreInline(ReadOnlyInlineMixin, admin.TabularInline):
    model = Score
    fields = ("criterion", "value", "comment")


@admin.register(ScoreSheet)
class ScoreSheetAdmin(ReadOnlyAdmin):
    list_display = ("agenda_item", "member", "status", "submitted_at")
    list_filter = ("status", "agenda_item__meeting")
    inlines = [ScoreInline]


@admin.register(ConflictDeclaration)
class ConflictDeclarationAdmin(ReadOnlyAdmin):
    list_display = ("agenda_item", "member", "has_conflict", "declared_at")
    list_filter = ("has_conflict", "agenda_item__meeting")


@admin.register(Decision)
class DecisionAdmin(ReadOnlyAdmin):
    list_display = ("agenda_item", "outcome", "decided_by", "decided_at", "mean_score")
    list_filter = ("outcome",)


@admin.register(Condition)
class ConditionAdmin(HistoryAdmin):
    list_display = ("proposal", "text", "met", "met_at")
    list_filter = ("met",)
    readonly_fields = (
        "proposal",
        "decision",
        "text",
        "evidence",
        "evidence_at",
        "met",
        "met_note",
        "met_by",
        "met_at",
    )

    def has_add_permission(self, request) -> bool:
        return False


# Rows also edited inline above, listed on their own for searching across proposals and meetings.


@admin.register(BudgetLine)
class BudgetLineAdmin(HistoryAdmin):
    list_display = ("proposal", "category", "description", "amount", "financier")
    list_filter = ("category", "financier")
    list_select_related = ("proposal",)


@admin.register(Activity)
class ActivityAdmin(HistoryAdmin):
    list_display = ("proposal", "description", "start_month", "end_month")
    list_select_related = ("proposal",)


@admin.register(CommittedResult)
class CommittedResultAdmin(HistoryAdmin):
    list_display = ("proposal", "indicator", "target")
    list_filter = ("indicator",)
    list_select_related = ("proposal",)


class CriterionAdminForm(forms.ModelForm):
    def clean(self):
        cleaned = super().clean()
        rubric = cleaned.get("rubric") or getattr(self.instance, "rubric", None)
        if _rubric_locked(rubric) or (self.instance.pk and _rubric_locked(self.instance.rubric)):
            raise forms.ValidationError(LOCKED_NOTE)
        return cleaned


@admin.register(Criterion)
class CriterionAdmin(HistoryAdmin):
    form = CriterionAdminForm
    list_display = ("rubric", "name", "weight", "max_score", "position")

    def has_change_permission(self, request, obj=None) -> bool:
        return super().has_change_permission(request, obj) and not (obj and _rubric_locked(obj.rubric))

    def has_delete_permission(self, request, obj=None) -> bool:
        return super().has_delete_permission(request, obj) and not (obj and _rubric_locked(obj.rubric))


@admin.register(AgendaItem)
class AgendaItemAdmin(ReadOnlyAdmin):
    list_display = ("meeting", "position", "proposal", "added_at")
    list_filter = ("meeting",)


@admin.register(Score)
class ScoreAdmin(ReadOnlyAdmin):
    list_display = ("sheet", "criterion", "value")
    list_filter = ("sheet__agenda_item__meeting",)
