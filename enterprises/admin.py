"""Admin site: the PMU maintains the catalogues here (and on the portal's pages); field data is
shown read-only to it (the role groups hold only view permissions on it), with raw-id widgets and
no full counts so the big tables (1.5 M KPI readings) stay quick."""

from django.contrib import admin

from core.history_admin import HistoryAdmin
from enterprises import models


@admin.register(models.RecpPractice)
class RecpPracticeAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "category", "is_active"]
    list_filter = ["category", "is_active"]
    search_fields = ["code", "name"]
    filter_horizontal = ["applicable_sub_sectors"]


@admin.register(models.Kpi)
class KpiAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "unit", "category", "direction", "min_value", "max_value", "is_active"]
    list_filter = ["category", "direction", "is_active"]
    search_fields = ["code", "name"]


@admin.register(models.TrainingModule)
class TrainingModuleAdmin(HistoryAdmin):
    list_display = ["code", "name", "climate_vulnerability", "is_active", "position"]
    list_filter = ["climate_vulnerability", "is_active"]
    search_fields = ["code", "name"]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # sessions keep their module; retire one with "active"


class BigTableAdmin(admin.ModelAdmin):
    """Field data is entered through the portal's pages, API and imports, which check scope, run the
    validation and flag duplicates; the admin site only shows it."""

    show_full_result_count = False
    list_per_page = 50

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(models.Enterprise)
class EnterpriseAdmin(HistoryAdmin, BigTableAdmin):
    list_display = ["po_code", "name", "partner_organization", "sub_sector", "district", "owner_gender"]
    list_filter = ["owner_gender", "climate_vulnerable", "is_formal"]
    list_select_related = ["partner_organization", "sub_sector", "district"]
    search_fields = ["po_code", "name", "owner_name", "phone"]
    raw_id_fields = [
        "partner_organization",
        "sub_project",
        "sub_sector",
        "division",
        "district",
        "upazila",
        "cluster",
    ]
    readonly_fields = ["climate_vulnerable", "duplicate_of", "name_key", "trade_licence_key", "created_by"]


@admin.register(models.FinancialSupport)
class FinancialSupportAdmin(HistoryAdmin, BigTableAdmin):
    list_display = ["enterprise", "kind", "amount", "financier", "disbursed_on"]
    list_filter = ["kind", "financier"]
    raw_id_fields = ["enterprise", "created_by"]
    search_fields = ["enterprise__po_code", "reference"]


@admin.register(models.TrainingSession)
class TrainingSessionAdmin(BigTableAdmin):
    list_display = ["po_code", "module", "topic", "partner_organization", "held_on"]
    list_filter = ["module"]
    raw_id_fields = ["partner_organization", "sub_project", "module", "district", "created_by"]
    search_fields = ["po_code", "topic"]


@admin.register(models.Attendance)
class AttendanceAdmin(BigTableAdmin):
    list_display = ["session", "enterprise", "pre_test_score", "post_test_score"]
    raw_id_fields = ["session", "enterprise"]


@admin.register(models.Adoption)
class AdoptionAdmin(BigTableAdmin):
    list_display = ["enterprise", "practice", "adopted_on", "evidence_observed_on", "verified_on"]
    raw_id_fields = ["enterprise"]
    list_filter = ["practice__category"]
    # States move through core.lifecycle (pages and API), never by an edit here.
    readonly_fields = ["verification", "verified_on", "verified_by"]


@admin.register(models.RecpProfile)
class RecpProfileAdmin(HistoryAdmin, BigTableAdmin):
    list_display = ["enterprise", "assessment_date", "status", "validated_on"]
    list_filter = ["status"]
    raw_id_fields = ["enterprise"]
    readonly_fields = ["validated_by", "validated_on", "prepared_by", "prepared_on"]


@admin.register(models.KpiReading)
class KpiReadingAdmin(BigTableAdmin):
    list_display = ["enterprise", "kpi", "period", "value", "is_baseline", "source"]
    raw_id_fields = ["enterprise", "created_by"]
    list_filter = ["kpi", "is_baseline"]


@admin.register(models.CommonServiceFacility)
class FacilityAdmin(HistoryAdmin, BigTableAdmin):
    list_display = ["name", "partner_organization", "kind", "status", "opened_on", "operational_confirmed_on"]
    list_filter = ["kind", "status"]
    raw_id_fields = ["partner_organization", "sub_project", "sub_sector", "district", "upazila", "created_by"]
    filter_horizontal = []
    exclude = ["mes_served"]
    readonly_fields = ["status", "opened_on", "operational_confirmed_on", "operational_confirmed_by"]


@admin.register(models.Cluster)
class ClusterAdmin(BigTableAdmin):
    list_display = ["name", "sub_sector", "district"]
    raw_id_fields = ["sub_sector", "district", "created_by"]


@admin.register(models.DuplicateSuspect)
class DuplicateSuspectAdmin(BigTableAdmin):
    list_display = ["enterprise", "matched_enterprise", "status", "found_at"]
    list_filter = ["status", "cross_po"]
    raw_id_fields = ["enterprise", "matched_enterprise", "resolved_by"]
    readonly_fields = ["status", "resolved_by", "resolved_at"]


@admin.register(models.ImportJob)
class ImportJobAdmin(BigTableAdmin):
    list_display = ["original_name", "kind", "partner_organization", "status", "created_at"]
    list_filter = ["kind", "status"]
    raw_id_fields = ["partner_organization", "created_by", "committed_by"]
    readonly_fields = ["status", "errors", "preview"]


@admin.register(models.ClusterSuggestion)
class ClusterSuggestionAdmin(admin.ModelAdmin):
    """Computed by the cluster suggestion; the PMU accepts or dismisses them on the portal's pages."""

    list_display = ("sub_sector", "district", "member_count", "radius_km", "status", "computed_at")
    list_filter = ("status", "sub_sector")
    list_select_related = ("sub_sector", "district")
    readonly_fields = [field.name for field in models.ClusterSuggestion._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False
