"""Admin pages of E&S incidents: read-only, since incidents are reported and followed up only through
the portal's rules (safeguards.incidents and the lifecycle engine)."""

from django.contrib import admin

from core.visibility import VisibleAdminMixin
from safeguards.models import CorrectiveAction, Incident


class ReadOnlyAdmin(VisibleAdminMixin, admin.ModelAdmin):
    show_full_result_count = False
    list_per_page = 50

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class CorrectiveActionInline(admin.TabularInline):
    model = CorrectiveAction
    fields = ["position", "description", "responsible", "due_on", "status", "evidence"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Incident)
class IncidentAdmin(ReadOnlyAdmin):
    list_display = [
        "reference",
        "partner_organization",
        "severity",
        "kind",
        "title",
        "reported_at",
        "reported_late",
        "bank_due_at",
        "bank_notified_at",
        "status",
    ]
    list_filter = ["status", "severity", "kind", "reported_late"]
    search_fields = ["title", "description"]
    list_select_related = ["partner_organization"]
    inlines = [CorrectiveActionInline]


@admin.register(CorrectiveAction)
class CorrectiveActionAdmin(ReadOnlyAdmin):
    list_display = ["reference", "incident", "responsible", "due_on", "status"]
    list_filter = ["status"]
    list_select_related = ["incident"]
