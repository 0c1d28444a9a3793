from django.contrib import admin

from core.history_admin import HistoryAdmin
from monitoring.facts import FACT_COLUMNS
from monitoring.models import (
    AggregationLock,
    AggregationRun,
    EnterpriseFacts,
    FactChange,
    Indicator,
    IndicatorValue,
    Milestone,
    OutcomePair,
    OutcomeValue,
    ReportJob,
    Snapshot,
)


class MilestoneInline(admin.TabularInline):
    model = Milestone
    extra = 0


@admin.register(Indicator)
class IndicatorAdmin(HistoryAdmin):
    list_display = ("code", "name", "level", "unit", "target", "position")
    list_filter = ("level",)
    readonly_fields = ("code", "unit", "parent", "definition")
    inlines = [MilestoneInline]

    def has_add_permission(self, request) -> bool:
        return False  # an indicator's definition is code (monitoring.indicators)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ComputedAdmin(admin.ModelAdmin):
    """Written by the aggregation only."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(AggregationRun)
class AggregationRunAdmin(ComputedAdmin):
    list_display = ("requested_at", "as_of", "trigger", "status", "requested_by", "rows_written")
    list_filter = ("status", "trigger")


@admin.register(Snapshot)
class SnapshotAdmin(ComputedAdmin):
    list_display = ("as_of", "computed_at", "run")


@admin.register(IndicatorValue)
class IndicatorValueAdmin(ComputedAdmin):
    list_display = ("as_of", "indicator", "scope_po", "dimension", "label", "value")
    list_filter = ("indicator", "dimension", "as_of")
    list_select_related = ("indicator", "scope_po")


@admin.register(AggregationLock)
class AggregationLockAdmin(ComputedAdmin):
    list_display = ("name", "held_by", "held_until")


@admin.register(Milestone)
class MilestoneAdmin(HistoryAdmin):
    list_display = ("indicator", "year", "target")
    list_filter = ("year", "indicator")


@admin.register(OutcomeValue)
class OutcomeValueAdmin(ComputedAdmin):
    list_display = ("as_of", "quantity", "scope_po", "dimension", "label", "mes", "improvement", "unit")
    list_filter = ("quantity", "dimension", "as_of")
    list_select_related = ("scope_po",)


@admin.register(ReportJob)
class ReportJobAdmin(ComputedAdmin):
    """Requested on the reports page; the admin only shows them."""

    list_display = (
        "requested_at",
        "kind",
        "file_format",
        "as_of",
        "partner_organization",
        "status",
        "requested_by",
    )
    list_filter = ("kind", "status")
    list_select_related = ("partner_organization", "requested_by")


@admin.register(EnterpriseFacts)
class EnterpriseFactsAdmin(ComputedAdmin):
    """Kept by the aggregation (monitoring.facts); shown to explain a count, never edited."""

    list_display = ("enterprise_id", *FACT_COLUMNS)
    search_fields = ("=enterprise__id",)


@admin.register(OutcomePair)
class OutcomePairAdmin(ComputedAdmin):
    """Kept by the aggregation (monitoring.facts) for the environmental outcomes; never edited."""

    list_display = (
        "enterprise_id",
        "kpi_id",
        "baseline_period",
        "baseline_value",
        "latest_period",
        "latest_value",
    )
    search_fields = ("=enterprise__id",)


@admin.register(FactChange)
class FactChangeAdmin(ComputedAdmin):
    """Changes the next aggregation run catches up (written by database triggers)."""

    list_display = ("id", "enterprise_id")
