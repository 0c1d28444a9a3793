"""Admin pages of the exclusion list and the E&S reviews (statuses move only through the engine)."""

from django.contrib import admin

from core.history_admin import HistoryAdmin
from core.visibility import VisibleAdminMixin
from safeguards.models import EsReview, ExclusionItem


@admin.register(ExclusionItem)
class ExclusionItemAdmin(HistoryAdmin):
    list_display = ["name", "code", "active", "position"]
    list_filter = ["active"]
    search_fields = ["name", "code"]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # items are retired, never deleted (proposals and screenings name them)


@admin.register(EsReview)
class EsReviewAdmin(VisibleAdminMixin, HistoryAdmin):
    list_display = ["__str__", "status", "decided_by", "decided_at"]
    list_filter = ["status"]
    readonly_fields = ["proposal", "status", "status_changed_at", "decided_by", "decided_at"]

    def has_add_permission(self, request) -> bool:
        return False
