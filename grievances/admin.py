"""Admin pages of grievances: read-only, and narrowed to what the portal shows the signed-in person
(`Grievance.objects.visible_to` through core.visibility): a superuser who is not a SEA/SH focal point
never sees a SEA/SH case here either. The complainant's identity is not shown in the admin at all
(the portal shows it to the focal points handling the current tier)."""

from django.contrib import admin

from core.visibility import VisibleAdminMixin
from grievances.models import Grievance


@admin.register(Grievance)
class GrievanceAdmin(VisibleAdminMixin, admin.ModelAdmin):
    list_display = ("reference", "received_at", "partner_organization", "category", "tier", "status")
    list_filter = ("status", "tier", "category", "channel")
    list_select_related = ("partner_organization",)
    search_fields = ("subject",)
    fields = (
        "partner_organization",
        "category",
        "channel",
        "tier",
        "status",
        "subject",
        "description",
        "district",
        "upazila",
        "anonymous",
        "complainant_gender",
        "complainant_kind",
        "received_at",
        "tier_received_at",
        "acknowledge_by",
        "resolve_by",
        "acknowledged_at",
        "resolution",
        "resolved_at",
        "feedback",
        "closed_at",
        "logged_by",
    )
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
