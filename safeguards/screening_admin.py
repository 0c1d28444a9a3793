"""Admin pages of ME screenings and clearances: read what the portal shows the user; statuses move
only through the lifecycle (pages and API), so the admin does not edit them."""

from django.contrib import admin

from core.visibility import VisibleAdminMixin
from safeguards.models import Clearance, MeScreening


@admin.register(MeScreening)
class MeScreeningAdmin(VisibleAdminMixin, admin.ModelAdmin):
    list_display = ["__str__", "partner_organization", "screened_on", "status", "outcome"]
    list_filter = ["status", "outcome", "partner_organization"]
    search_fields = ["enterprise__po_code", "enterprise__name"]
    raw_id_fields = ["enterprise", "screened_by"]
    readonly_fields = ["status", "outcome", "failure_reasons", "completed_at", "status_changed_at"]
    filter_horizontal = ["exclusions_found"]


@admin.register(Clearance)
class ClearanceAdmin(VisibleAdminMixin, admin.ModelAdmin):
    list_display = ["__str__", "partner_organization", "holder", "issued_on", "expires_on"]
    list_filter = ["kind", "partner_organization"]
    search_fields = ["number", "enterprise__po_code", "enterprise__name", "facility__name"]
    raw_id_fields = ["enterprise", "facility", "created_by"]
    readonly_fields = ["last_reminder_days", "document_name", "document_type", "document_size"]
