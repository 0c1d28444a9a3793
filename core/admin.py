from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import UserChangeForm, UserCreationForm
from django.db import models
from django.utils.translation import gettext_lazy as _

from core import accounts, mfa, outbox
from core.forms import GroupChoiceMixin
from core.history_admin import HistoryAdmin
from core.models import (
    BusinessArea,
    District,
    Division,
    ExportJob,
    IdempotencyRecord,
    OutboxMessage,
    PartnerOrganization,
    SavedFilter,
    Sector,
    SentEmail,
    SubSector,
    Tombstone,
    Upazila,
    User,
    UserSession,
)
from core.roles import Role


class PortalUserChangeForm(GroupChoiceMixin, UserChangeForm):
    class Meta(UserChangeForm.Meta):
        model = User


class PortalUserCreationForm(GroupChoiceMixin, UserCreationForm):
    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username", "groups", "partner_organization")


def programme_staff_only(request) -> bool:
    """The admin site is for the PMU and superusers: it is not scoped by PO like the portal, so PO
    staff and TEC members never enter it, even if someone ticks "staff status" for them."""
    user = request.user
    return (
        user.is_active
        and user.is_staff
        and (user.is_superuser or user.has_role(Role.PMU_OFFICER))
        # Where two-factor authentication is required, only a session that verified it (the
        # middleware sends the others to the two-factor page before they get here).
        and (mfa.is_verified(user) or not mfa.is_required_for(user))
    )


admin.site.has_permission = programme_staff_only


@admin.register(User)
class PortalUserAdmin(UserAdmin):
    form = PortalUserChangeForm
    add_form = PortalUserCreationForm
    list_display = (
        "username",
        "get_full_name",
        "email",
        "partner_organization",
        "roles_display",
        "is_active",
    )
    list_filter = ("groups", "is_active", "is_staff", "partner_organization")
    list_select_related = ("partner_organization",)
    search_fields = ("username", "first_name", "last_name", "email")
    fieldsets = (
        *UserAdmin.fieldsets[:2],
        (_("Role and organization"), {"fields": ("groups", "partner_organization", "designation", "phone")}),
        (_("Language and numbers"), {"fields": ("language", "bangla_digits")}),
        (_("Administration"), {"fields": ("is_active", "is_staff", "is_superuser", "user_permissions")}),
        (_("Important dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("username", "usable_password", "password1", "password2")}),
        (_("Role and organization"), {"fields": ("groups", "partner_organization")}),
    )

    actions = ["reset_two_factor"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("groups")

    @admin.action(description=_("Reset two-factor authentication (lost phone)"), permissions=["change"])
    def reset_two_factor(self, request, queryset) -> None:
        for user in queryset:
            mfa.reset_for(user, by=request.user)
        self.message_user(
            request,
            _(
                "Two-factor authentication reset for %(count)d account(s): their sessions and API "
                "tokens ended."
            )
            % {"count": len(queryset)},
        )

    @admin.display(description=_("roles"))
    def roles_display(self, user: User) -> str:
        return ", ".join(group.name for group in user.groups.all())


@admin.register(PartnerOrganization)
class PartnerOrganizationAdmin(HistoryAdmin):
    list_display = ("code", "name", "registration_authority", "registration_number", "is_active")
    list_filter = ("is_active", "registration_authority")
    search_fields = ("code", "name", "short_name", "registration_number")
    filter_horizontal = ("districts",)
    autocomplete_fields = ("head_office_district",)
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}


@admin.register(Division)
class DivisionAdmin(admin.ModelAdmin):
    list_display = ("name", "pcode")
    search_fields = ("name", "pcode")


class UpazilaInline(admin.TabularInline):
    model = Upazila
    fields = ("pcode", "name", "climate_vulnerable", "climate_hazards")
    readonly_fields = ("pcode", "name")
    extra = 0
    can_delete = False


@admin.register(District)
class DistrictAdmin(HistoryAdmin):
    list_display = ("name", "pcode", "division", "climate_vulnerable")
    list_filter = ("division", "climate_vulnerable")
    list_editable = ("climate_vulnerable",)
    search_fields = ("name", "pcode")
    inlines = [UpazilaInline]


@admin.register(Upazila)
class UpazilaAdmin(HistoryAdmin):
    list_display = ("name", "pcode", "district", "climate_vulnerable")
    list_filter = ("district__division", "climate_vulnerable")
    list_select_related = ("district",)
    search_fields = ("name", "pcode", "district__name")


@admin.register(BusinessArea)
class BusinessAreaAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "position")


@admin.register(Sector)
class SectorAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "business_area", "position")
    list_filter = ("business_area",)


@admin.register(SubSector)
class SubSectorAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "sector", "position")
    list_filter = ("sector__business_area", "sector")


@admin.register(UserSession)
class UserSessionAdmin(admin.ModelAdmin):
    """Signed-in web sessions: deleting one signs it out."""

    list_display = ("user", "signed_in_at", "last_seen_at", "ip_address", "user_agent")
    list_select_related = ("user",)
    search_fields = ("user__username", "ip_address")
    # The session key signs its holder in: never shown.
    fields = ("user", "user_agent", "ip_address", "signed_in_at", "last_seen_at")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def delete_model(self, request, obj) -> None:
        accounts.end_session(obj)

    def delete_queryset(self, request, queryset) -> None:
        for row in queryset:
            accounts.end_session(row)


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    """Background tasks queued by the portal (core.outbox), for operators: what waits for the
    broker, what failed to publish and why. Read-only; "publish now" runs the relay at once."""

    list_display = (
        "task",
        "created_at",
        "state",
        "attempts",
        "published_at",
        "started_at",
        "done_at",
        "last_error",
    )
    list_filter = (
        "task",
        ("published_at", admin.EmptyFieldListFilter),
        ("done_at", admin.EmptyFieldListFilter),
    )
    search_fields = ("uuid", "task")
    date_hierarchy = "created_at"
    actions = ["publish_now"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description=_("state"))
    def state(self, message: OutboxMessage) -> str:
        return {
            "done": _("done"),
            "running": _("running"),
            "published": _("published"),
            "waiting": _("waiting"),
        }[message.state]

    @admin.action(description=_("Publish the waiting tasks now"))
    def publish_now(self, request, queryset) -> None:
        result = outbox.relay(limit=10_000)
        self.message_user(
            request,
            _("Published %(published)s waiting task(s); %(failed)s refused by the broker.") % result,
        )


@admin.register(SentEmail)
class SentEmailAdmin(admin.ModelAdmin):
    """Which event's email went to whom and when (read-only: it keeps a retried task from sending
    an email twice)."""

    list_display = ("key", "sent_at")
    search_fields = ("key",)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(SavedFilter)
class SavedFilterAdmin(admin.ModelAdmin):
    """Filters people saved on lists (core.saved_filters): for support, e.g. a broken saved link."""

    list_display = ("name", "user", "path", "created_at")
    search_fields = ("name", "user__username", "path")
    raw_id_fields = ("user",)


@admin.register(ExportJob)
class ExportJobAdmin(admin.ModelAdmin):
    """Large list downloads written in the background (read-only: the worker writes them)."""

    list_display = ("title", "user", "file_format", "status", "rows_written", "requested_at", "finished_at")
    list_filter = ("status", "file_format")
    search_fields = ("title", "user__username", "path")
    readonly_fields = [field.name for field in ExportJob._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(admin.ModelAdmin):
    """API POSTs sent with an Idempotency-Key and their first answers (read-only: for support, e.g.
    an integrator asking why a retry was replayed or refused)."""

    list_display = ("key", "owner", "method", "path", "status_code", "created_at")
    list_filter = ("status_code",)
    search_fields = ("key", "owner", "path")
    exclude = ("response_body",)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Tombstone)
class TombstoneAdmin(admin.ModelAdmin):
    """Deletions the API lists to syncing clients (read-only: written when a record is deleted)."""

    list_display = ("resource", "object_id", "partner_organization", "deleted_at")
    list_filter = ("resource",)
    search_fields = ("resource", "object_id")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
