"""Accounts, Partner Organizations and the programme's reference data (SPEC 2 and 5)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from core.reference_names import translated_name
from core.roles import PROGRAMME_WIDE_ROLES, ROLE_BY_GROUP_NAME, Role
from core.validators import EARLIEST_ORGANISATION_DATE, past_event

phone_validator = RegexValidator(
    r"^\+?[0-9][0-9 -]{6,18}[0-9]$",
    _("Enter a phone number of digits, optionally starting with +, e.g. +8801712345678."),
)


# --- Geography ------------------------------------------------------------------------------------


class ClimateHazard(models.TextChoices):
    COASTAL = "coastal", _("Coastal / salinity")
    FLOOD = "flood", _("Flood-prone")
    FLASH_FLOOD = "flash_flood", _("Flash flood / haor")
    DROUGHT = "drought", _("Drought-prone")
    RIVER_EROSION = "river_erosion", _("River erosion-prone")
    CYCLONE = "cyclone", _("Cyclone / storm surge")
    LANDSLIDE = "landslide", _("Landslide-prone (hill areas)")


def validate_hazards(value: list) -> None:
    if not isinstance(value, list):
        raise ValidationError(_("Climate hazards must be a list."))
    unknown = sorted(set(value) - set(ClimateHazard.values))
    if unknown:
        raise ValidationError(
            _("Unknown climate hazard(s): %(codes)s."), params={"codes": ", ".join(map(str, unknown))}
        )


class AdminArea(models.Model):
    """Common fields of divisions, districts and upazilas (OCHA/HDX COD-AB P-codes)."""

    pcode = models.CharField(_("P-code"), max_length=12, unique=True)
    name = models.CharField(_("name"), max_length=100)
    latitude = models.DecimalField(_("centre latitude"), max_digits=8, decimal_places=5, null=True)
    longitude = models.DecimalField(_("centre longitude"), max_digits=8, decimal_places=5, null=True)

    # The columns __str__ reads: a drop-down of places fetches only these (core.visibility.scope_filterset).
    CHOICE_LABEL_FIELDS = ("name",)

    class Meta:
        abstract = True
        ordering = ["name"]

    def __str__(self) -> str:
        return translated_name(self.name)


class ClimateFlagged(models.Model):
    climate_vulnerable = models.BooleanField(
        _("climate-vulnerable"),
        default=False,
        help_text=_("Set by the PMU; enterprises in the area inherit it unless overridden."),
    )
    climate_hazards = models.JSONField(
        _("climate hazards"), default=list, blank=True, validators=[validate_hazards]
    )

    class Meta:
        abstract = True

    def clean(self) -> None:
        super().clean()
        if self.climate_hazards and not self.climate_vulnerable:
            raise ValidationError(
                {"climate_hazards": _("Hazards can only be recorded for an area flagged climate-vulnerable.")}
            )

    def get_climate_hazards_display(self) -> list[str]:
        labels = dict(ClimateHazard.choices)
        return [str(labels.get(code, code)) for code in self.climate_hazards]


class Division(AdminArea):
    updated_at = models.DateTimeField(_("updated at"), auto_now=True, db_index=True)

    class Meta(AdminArea.Meta):
        verbose_name = _("division")
        verbose_name_plural = _("divisions")


class District(AdminArea, ClimateFlagged):
    division = models.ForeignKey(
        Division, on_delete=models.PROTECT, related_name="districts", verbose_name=_("division")
    )
    area_sqkm = models.DecimalField(_("area (km²)"), max_digits=9, decimal_places=1, null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True, db_index=True)
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta(AdminArea.Meta):
        verbose_name = _("district")
        verbose_name_plural = _("districts")

    def get_absolute_url(self) -> str:
        return reverse("core:district-detail", args=[self.pk])


class Upazila(AdminArea, ClimateFlagged):
    """Admin level 3: the 495 upazilas and the 12 city corporations of COD-AB v03."""

    district = models.ForeignKey(
        District, on_delete=models.PROTECT, related_name="upazilas", verbose_name=_("district")
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True, db_index=True)
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta(AdminArea.Meta):
        verbose_name = _("upazila")
        verbose_name_plural = _("upazilas")
        constraints = [
            models.UniqueConstraint(fields=["district", "name"], name="upazila_name_unique_in_district")
        ]


# --- Business areas, sectors and sub-sectors ------------------------------------------------------


class BusinessArea(models.Model):
    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=100, unique=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True, db_index=True)

    class Meta:
        ordering = ["position", "name"]
        verbose_name = _("business area")
        verbose_name_plural = _("business areas")

    def __str__(self) -> str:
        return translated_name(self.name)


class Sector(models.Model):
    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=100, unique=True)
    business_area = models.ForeignKey(
        BusinessArea, on_delete=models.PROTECT, related_name="sectors", verbose_name=_("business area")
    )
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True, db_index=True)

    class Meta:
        ordering = ["position", "name"]
        verbose_name = _("sector")
        verbose_name_plural = _("sectors")

    def __str__(self) -> str:
        return translated_name(self.name)


class SubSector(models.Model):
    code = models.SlugField(_("code"), max_length=60, unique=True)
    name = models.CharField(_("name"), max_length=150)
    sector = models.ForeignKey(
        Sector, on_delete=models.PROTECT, related_name="sub_sectors", verbose_name=_("sector")
    )
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True, db_index=True)

    class Meta:
        ordering = ["position", "name"]
        verbose_name = _("sub-sector")
        verbose_name_plural = _("sub-sectors")
        constraints = [
            models.UniqueConstraint(fields=["sector", "name"], name="sub_sector_name_unique_in_sector")
        ]

    def __str__(self) -> str:
        return translated_name(self.name)


# --- Partner Organizations ------------------------------------------------------------------------


class PartnerOrganizationQuerySet(models.QuerySet):
    def visible_to(self, user) -> PartnerOrganizationQuerySet:
        """PO staff see their own PO only; every other role of the programme sees all POs."""
        if not user.is_authenticated:
            return self.none()
        if user.is_superuser or user.roles - {Role.PO_STAFF}:
            return self
        if user.partner_organization_id:
            return self.filter(pk=user.partner_organization_id)
        return self.none()


class RegistrationAuthority(models.TextChoices):
    MRA = "mra", _("Microcredit Regulatory Authority (MRA)")
    NGOAB = "ngoab", _("NGO Affairs Bureau")
    DSS = "dss", _("Department of Social Services")
    RJSC = "rjsc", _("Registrar of Joint Stock Companies and Firms")
    COOPERATIVES = "coop", _("Department of Cooperatives")
    OTHER = "other", _("Other")


class PartnerOrganization(models.Model):
    code = models.CharField(
        _("code"),
        max_length=20,
        unique=True,
        validators=[RegexValidator(r"^[A-Z0-9-]+$", _("Use capital letters, digits and hyphens only."))],
        help_text=_("PKSF's short code for the PO, e.g. PO-017. Used in imports and exports."),
    )
    name = models.CharField(_("name"), max_length=200, unique=True)
    short_name = models.CharField(_("short name"), max_length=40, blank=True)
    registration_authority = models.CharField(
        _("registration authority"), max_length=10, choices=RegistrationAuthority.choices
    )
    registration_number = models.CharField(_("registration number"), max_length=60)
    registered_on = models.DateField(
        _("registered on"),
        null=True,
        blank=True,
        validators=[past_event(_("The registration date"), EARLIEST_ORGANISATION_DATE)],
    )
    pksf_partner_since = models.PositiveSmallIntegerField(
        _("PKSF partner since (year)"), null=True, blank=True
    )
    head_office_address = models.TextField(_("head office address"))
    head_office_district = models.ForeignKey(
        District,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("head office district"),
        null=True,
        blank=True,
    )
    contact_person = models.CharField(_("contact person"), max_length=120)
    contact_designation = models.CharField(_("designation"), max_length=120, blank=True)
    email = models.EmailField(_("email"))
    phone = models.CharField(_("phone"), max_length=20, validators=[phone_validator])
    website = models.URLField(_("website"), blank=True)
    districts = models.ManyToManyField(
        District, related_name="partner_organizations", verbose_name=_("districts of operation"), blank=True
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True, db_index=True)

    history = HistoricalRecords(m2m_fields=[districts])
    objects = PartnerOrganizationQuerySet.as_manager()

    class Meta:
        ordering = ["code"]
        verbose_name = _("Partner Organization")
        verbose_name_plural = _("Partner Organizations")
        constraints = [
            models.UniqueConstraint(
                fields=["registration_authority", "registration_number"],
                name="po_registration_unique",
                violation_error_message=_("Another PO is registered with this authority and number."),
            )
        ]

    # The columns __str__ reads: a drop-down of POs fetches only these (core.visibility.scope_filterset).
    CHOICE_LABEL_FIELDS = ("code", "short_name", "name")

    def __str__(self) -> str:
        return f"{self.code} · {self.short_name or self.name}"

    def get_absolute_url(self) -> str:
        return reverse("core:po-detail", args=[self.pk])


# --- Users ----------------------------------------------------------------------------------------


class User(AbstractUser):
    """A portal user. Roles are group memberships; PO staff belong to exactly one PO."""

    partner_organization = models.ForeignKey(
        PartnerOrganization,
        on_delete=models.PROTECT,
        related_name="staff",
        null=True,
        blank=True,
        verbose_name=_("Partner Organization"),
        help_text=_("Required for PO staff, and only for them."),
    )
    designation = models.CharField(_("designation"), max_length=120, blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True, validators=[phone_validator])
    # The interface language the user last chose; applied at every sign-in, on any device (core.language).
    language = models.CharField(
        _("language"), max_length=10, choices=settings.LANGUAGES, default=settings.LANGUAGE_CODE
    )
    # Show numbers with Bangla digits (১২,৩৪৫) when the interface is in Bangla.
    bangla_digits = models.BooleanField(_("Bangla digits"), default=True)

    class Meta(AbstractUser.Meta):
        verbose_name = _("user")
        verbose_name_plural = _("users")

    @cached_property
    def roles(self) -> frozenset[Role]:
        if not self.pk:
            return frozenset()
        names = self.groups.values_list("name", flat=True)
        return frozenset(ROLE_BY_GROUP_NAME[name] for name in names if name in ROLE_BY_GROUP_NAME)

    def has_role(self, *roles: Role) -> bool:
        return self.is_active and bool(self.roles.intersection(roles))

    @property
    def sees_whole_programme(self) -> bool:
        return self.is_active and (self.is_superuser or bool(self.roles & PROGRAMME_WIDE_ROLES))

    @property
    def role_labels(self) -> list[str]:
        return [str(role.label) for role in Role if role in self.roles]

    def get_display_name(self) -> str:
        return self.get_full_name() or self.username

    def set_unusable_password(self) -> None:
        super().set_unusable_password()
        self._password_removed = True

    def save(self, *args, **kwargs) -> None:
        # set_password() keeps the new password in `_password` until the save (a hash upgrade at sign-in
        # clears it first): wherever a password is changed or removed (page, admin, shell), every API
        # token of the account stops working (core.accounts.password_changed).
        update_fields = kwargs.get("update_fields")
        password_changed = (
            not self._state.adding
            and (self._password is not None or getattr(self, "_password_removed", False))
            and (update_fields is None or "password" in update_fields)
        )
        super().save(*args, **kwargs)
        if password_changed:
            from core.accounts import password_changed as revoke_after_password_change

            self._password_removed = False
            revoke_after_password_change(self)


class UserSession(models.Model):
    """A signed-in web session, for the user's "sessions and tokens" page: where and when it signed in.

    Recorded at sign-in and kept in step with the session store (its key changes at sign-in and at a
    password change); ending one deletes the session itself (core.accounts.end_session)."""

    user = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="account_sessions", verbose_name=_("user")
    )
    session_key = models.CharField(_("session key"), max_length=40, unique=True)
    user_agent = models.CharField(_("browser"), max_length=300, blank=True)
    ip_address = models.GenericIPAddressField(_("address"), null=True, blank=True)
    signed_in_at = models.DateTimeField(_("signed in"), default=timezone.now)
    last_seen_at = models.DateTimeField(_("last seen"), default=timezone.now)

    class Meta:
        ordering = ["-last_seen_at"]
        verbose_name = _("web session")
        verbose_name_plural = _("web sessions")

    def __str__(self) -> str:
        return f"{self.user} · {self.signed_in_at:%Y-%m-%d %H:%M}"


class OutboxMessage(models.Model):
    """A task that must follow a saved change (core.outbox): written in the change's transaction,
    published to the broker after it commits, by the request itself or later by the relay."""

    uuid = models.UUIDField(_("task id"), default=uuid.uuid4, unique=True, editable=False)
    task = models.CharField(_("task"), max_length=200)
    args = models.JSONField(_("arguments"), default=list, blank=True)
    kwargs = models.JSONField(_("keyword arguments"), default=dict, blank=True)
    created_at = models.DateTimeField(_("queued at"), default=timezone.now)
    # The relay tries an unpublished message from this time on (later after each failed attempt).
    available_at = models.DateTimeField(_("next attempt at"), default=timezone.now)
    published_at = models.DateTimeField(_("published at"), null=True, blank=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)
    attempts = models.PositiveIntegerField(_("publishing attempts"), default=0)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)

    class Meta:
        ordering = ["pk"]
        verbose_name = _("queued task")
        verbose_name_plural = _("queued tasks")
        indexes = [
            models.Index(
                fields=["available_at"],
                condition=models.Q(published_at__isnull=True),
                name="outbox_unpublished",
            ),
            models.Index(
                fields=["published_at"],
                condition=models.Q(published_at__isnull=False, started_at__isnull=True, done_at__isnull=True),
                name="outbox_published_not_started",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.task} {self.uuid}"

    @property
    def state(self) -> str:
        if self.done_at:
            return "done"
        if self.started_at:
            return "running"
        return "published" if self.published_at else "waiting"


class SentEmail(models.Model):
    """One email the portal sent for one event to one person, so that a task delivered again (at
    least once, core.outbox) or retried after a mail-server error does not send it twice."""

    key = models.CharField(_("what and to whom"), max_length=200, unique=True)
    sent_at = models.DateTimeField(_("sent at"), default=timezone.now)

    class Meta:
        verbose_name = _("sent email")
        verbose_name_plural = _("sent emails")

    def __str__(self) -> str:
        return self.key


class ExportStatus(models.TextChoices):
    QUEUED = "queued", _("queued")
    RUNNING = "running", _("running")
    READY = "ready", _("ready")
    FAILED = "failed", _("failed")


class ExportJob(models.Model):
    """A large list download written in the background (core.exports): the list's address and filters
    are kept, the worker re-reads the list as the user who asked, and the file waits for them."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="export_jobs")
    title = models.CharField(_("list"), max_length=200)
    path = models.CharField(_("address"), max_length=300)
    query = models.TextField(_("filters"), blank=True)
    language = models.CharField(_("language"), max_length=10, default=settings.LANGUAGE_CODE)
    file_format = models.CharField(_("format"), max_length=4)
    status = models.CharField(
        _("status"), max_length=10, choices=ExportStatus.choices, default=ExportStatus.QUEUED
    )
    row_count = models.PositiveIntegerField(_("rows"), null=True, blank=True)
    rows_written = models.PositiveIntegerField(_("rows written"), default=0)
    file = models.FileField(_("file"), upload_to="exports/%Y/%m/", max_length=200, blank=True)
    error = models.TextField(_("error"), blank=True)
    requested_at = models.DateTimeField(_("requested at"), default=timezone.now)
    heartbeat_at = models.DateTimeField(_("last sign of life"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    # Set when the user has seen the "ready" notice (or downloaded the file).
    seen_at = models.DateTimeField(_("seen at"), null=True, blank=True)

    class Meta:
        ordering = ["-requested_at", "-pk"]
        verbose_name = _("export")
        verbose_name_plural = _("exports")
        indexes = [models.Index(fields=["user", "-requested_at"], name="core_export_user_recent")]

    def __str__(self) -> str:
        return f"{self.title} ({self.file_format.upper()}, {self.get_status_display()})"


class SavedFilter(models.Model):
    """A list's filters saved under a name by one user, to reopen the list filtered the same way."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_filters")
    path = models.CharField(_("list address"), max_length=300)
    name = models.CharField(_("name"), max_length=80)
    query = models.TextField(_("filters"))
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        ordering = ["path", "name"]
        verbose_name = _("saved filter")
        verbose_name_plural = _("saved filters")
        constraints = [
            models.UniqueConstraint(fields=["user", "path", "name"], name="core_savedfilter_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name


class IdempotencyRecord(models.Model):
    """The first answer to an API POST sent with an `Idempotency-Key` header (smart_portal.idempotency):
    the same key and the same body from the same client get this answer again instead of a second
    write; the same key with another body is refused (422). Kept at least IDEMPOTENCY_KEEP_HOURS."""

    # Who sent it: "user:<id>" (the key space is each account's own; tokens of one account share it).
    owner = models.CharField(_("owner"), max_length=64)
    key = models.CharField(_("idempotency key"), max_length=255)
    method = models.CharField(_("method"), max_length=8)
    path = models.CharField(_("path"), max_length=500)
    request_hash = models.CharField(_("request fingerprint"), max_length=64)
    # Null while the first request is still being answered.
    status_code = models.PositiveSmallIntegerField(_("status code"), null=True, blank=True)
    response_headers = models.JSONField(_("response headers"), default=dict, blank=True)
    response_body = models.BinaryField(_("response body"), default=bytes, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, db_index=True)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("idempotency record")
        verbose_name_plural = _("idempotency records")
        constraints = [
            models.UniqueConstraint(fields=["owner", "key"], name="idempotency_key_once_per_owner")
        ]

    def __str__(self) -> str:
        return f"{self.owner} {self.key}"


class Tombstone(models.Model):
    """A record deleted from a resource the API publishes, so that a client syncing with
    `updated_since` learns of deletions too (`GET /api/v1/deletions/`)."""

    resource = models.CharField(_("resource"), max_length=60, db_index=True)
    model = models.CharField(_("model"), max_length=100)
    object_id = models.BigIntegerField(_("object id"))
    # The record's natural key where it has one (an enterprise's po_code, ...), for clients that
    # keep their own ids.
    natural_key = models.JSONField(_("natural key"), null=True, blank=True)
    partner_organization = models.ForeignKey(
        PartnerOrganization,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("partner organization"),
    )
    deleted_at = models.DateTimeField(_("deleted at"), default=timezone.now)

    class Meta:
        verbose_name = _("deletion")
        verbose_name_plural = _("deletions")
        ordering = ["deleted_at", "id"]
        indexes = [models.Index(fields=["deleted_at", "id"], name="tombstone_sync_order")]

    def __str__(self) -> str:
        return f"{self.resource} {self.object_id}"
