"""Admin site: the PMU edits the verification policy here too (with its history); rounds and checks
are shown read-only, since they are drawn and recorded only through the portal's rules."""

from django.contrib import admin

from core.history_admin import HistoryAdmin
from core.visibility import VisibleAdminMixin
from verification import models


class ReadOnlyAdmin(admin.ModelAdmin):
    show_full_result_count = False
    list_per_page = 50

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(models.VerificationPolicy)
class VerificationPolicyAdmin(HistoryAdmin):
    list_display = ["__str__", "threshold_percent", "margin_percent", "floor", "updated_at"]

    def has_add_permission(self, request) -> bool:
        # One policy row (`VerificationPolicy.current()`).
        return super().has_add_permission(request) and not models.VerificationPolicy.objects.exists()

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class StratumInline(admin.TabularInline):
    model = models.RoundStratum
    fields = [
        "partner_organization",
        "adoptions",
        "profiles",
        "facilities",
        "sample_size",
        "adoptions_sha256",
        "profiles_sha256",
        "facilities_sha256",
    ]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(models.VerificationRound)
class VerificationRoundAdmin(ReadOnlyAdmin):
    list_display = ["reference", "seed", "margin_percent", "floor", "drawn_by", "drawn_at"]
    list_filter = ["year", "quarter"]
    inlines = [StratumInline]


@admin.register(models.VerificationCheck)
class VerificationCheckAdmin(VisibleAdminMixin, ReadOnlyAdmin):
    # As on the portal: whoever belongs to a PO never sees that PO's pending checks.
    list_display = ["__str__", "partner_organization", "kind", "status", "visited_on", "checked_by"]
    list_filter = ["status", "kind", "round"]
    list_select_related = ["round", "partner_organization", "checked_by"]
    search_fields = ["subject_label"]
    raw_id_fields = ["adoption", "profile", "facility", "district", "checked_by"]


@admin.register(models.RoundStratum)
class RoundStratumAdmin(ReadOnlyAdmin):
    list_display = ["round", "partner_organization", "adoptions", "profiles", "facilities", "sample_size"]
    list_filter = ["round"]
    list_select_related = ["round", "partner_organization"]
