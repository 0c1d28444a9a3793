"""Common service facilities, clusters of enterprises and the cluster suggestions."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from core.models import District, PartnerOrganization, SubSector, Upazila
from core.validators import past_event, programme_event
from enterprises import validation
from enterprises.models.common import (
    GPS,
    _collect,
    _merge,
    check_sub_project_po,
    take_po_of_sub_project,
)
from enterprises.models.registry import Enterprise
from subprojects.models import POScopedQuerySet, SubProject

__all__ = [
    "Cluster",
    "ClusterQuerySet",
    "ClusterSuggestion",
    "CommonServiceFacility",
    "FacilityKind",
    "FacilityQuerySet",
    "FacilityStatus",
    "SuggestionStatus",
]


# --- Common service facilities --------------------------------------------------------------------


class FacilityKind(models.TextChoices):
    REVENUE = "revenue", _("revenue-generating")
    NON_REVENUE = "non_revenue", _("non-revenue-generating")


class FacilityStatus(models.TextChoices):
    PLANNED = "planned", _("planned")
    UNDER_CONSTRUCTION = "under_construction", _("under construction")
    OPERATIONAL = "operational", _("operational")


class FacilityQuerySet(POScopedQuerySet):
    def awaiting_confirmation(self) -> FacilityQuerySet:
        """Reported operational by the PO, operation not yet confirmed by the PMU or a verifier."""
        return self.filter(status=FacilityStatus.OPERATIONAL, operational_confirmed_on__isnull=True)


class CommonServiceFacility(models.Model):
    partner_organization = models.ForeignKey(
        PartnerOrganization, on_delete=models.PROTECT, related_name="facilities", verbose_name=_("PO")
    )
    sub_project = models.ForeignKey(
        SubProject, on_delete=models.PROTECT, related_name="facilities", verbose_name=_("sub-project")
    )
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=15, choices=FacilityKind.choices)
    sub_sector = models.ForeignKey(
        SubSector, on_delete=models.PROTECT, related_name="facilities", verbose_name=_("sub-sector")
    )
    district = models.ForeignKey(
        District, on_delete=models.PROTECT, related_name="facilities", verbose_name=_("district")
    )
    upazila = models.ForeignKey(
        Upazila,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="facilities",
        verbose_name=_("upazila"),
    )
    address = models.CharField(_("address"), max_length=250, blank=True)
    latitude = models.DecimalField(_("latitude"), **GPS)
    longitude = models.DecimalField(_("longitude"), **GPS)
    services = models.TextField(_("services offered"), blank=True)
    # Set as given when the facility is created; after that it moves only through core.lifecycle.apply
    # (enterprises.lifecycles: the rule leading to the status the PO reports), each move logged.
    status = models.CharField(
        _("status"), max_length=20, choices=FacilityStatus.choices, default=FacilityStatus.PLANNED
    )
    opened_on = models.DateField(
        _("opened on"), null=True, blank=True, validators=[past_event(_("The opening date"))]
    )
    # A facility the PO reports operational counts in CSF_ESTABLISHED only once the PMU or a verifier
    # has confirmed it (enterprises.services.confirm_facility_operational); cleared when the PO changes
    # its status or opening date.
    # PROTECT, like Adoption.verified_by: a confirmation outlives no deleted account silently.
    operational_confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("operation confirmed by"),
        editable=False,
    )
    operational_confirmed_on = models.DateField(
        _("operation confirmed on"),
        null=True,
        blank=True,
        editable=False,
        validators=[programme_event(_("The confirmation date"))],
    )
    mes_served = models.ManyToManyField(
        Enterprise, blank=True, related_name="facilities_used", verbose_name=_("MEs served")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True, db_index=True)

    history = HistoricalRecords(excluded_fields=["updated_at"])
    objects = FacilityQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("common service facility")
        verbose_name_plural = _("common service facilities")
        constraints = [
            models.UniqueConstraint(
                fields=["sub_project", "name"],
                name="facility_name_unique_in_sub_project",
                violation_error_message=_("This sub-project already has a facility with this name."),
            ),
            models.CheckConstraint(
                condition=~Q(status="operational") | Q(opened_on__isnull=False),
                name="operational_facility_has_opening_date",
                violation_error_message=_("An operational facility needs its opening date."),
            ),
            models.CheckConstraint(
                condition=Q(operational_confirmed_on__isnull=True) | Q(status="operational"),
                name="only_operational_facility_confirmed",
                violation_error_message=_("Only an operational facility can be confirmed as operating."),
            ),
        ]
        indexes = [models.Index(fields=["status", "opened_on"], name="facility_status_idx")]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        take_po_of_sub_project(self)
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("enterprises:facility-detail", args=[self.pk])

    @property
    def awaits_confirmation(self) -> bool:
        """The row-level twin of `CommonServiceFacility.objects.awaiting_confirmation()`."""
        return self.status == FacilityStatus.OPERATIONAL and self.operational_confirmed_on is None

    def clean(self) -> None:
        super().clean()
        errors: dict[str, list[str]] = {}
        if self.status == FacilityStatus.OPERATIONAL and not self.opened_on:
            errors.setdefault("opened_on", []).append(
                str(_("An operational facility needs its opening date."))
            )
        if self.status != FacilityStatus.OPERATIONAL and self.opened_on:
            errors.setdefault("opened_on", []).append(
                str(_("Only an operational facility has an opening date; set the status to operational."))
            )
        district = self.district if self.district_id else None
        upazila = self.upazila if self.upazila_id else None
        _merge(errors, validation.check_geography(None, district, upazila))
        _merge(errors, validation.check_gps(self.latitude, self.longitude))
        if self.sub_project_id and self.sub_sector_id:
            _collect(
                errors, "sub_sector", validation.check_sub_sector_fits, self.sub_project, self.sub_sector
            )
        check_sub_project_po(self, errors)
        if errors:
            raise ValidationError(errors)


# --- Clusters -------------------------------------------------------------------------------------


class ClusterQuerySet(models.QuerySet):
    def visible_to(self, user) -> ClusterQuerySet:
        """Clusters are programme-wide (their members may come from several POs): PO staff see the
        clusters their own enterprises belong to, and only their own members in them."""
        if not user.is_authenticated:
            return self.none()
        if user.sees_whole_programme:
            return self
        if user.partner_organization_id:
            own = Enterprise.objects.filter(
                cluster=OuterRef("pk"), partner_organization_id=user.partner_organization_id
            )
            return self.filter(Exists(own))
        return self.none()


class Cluster(models.Model):
    """Enterprises of similar production or services within about a 5 km area (SME Foundation)."""

    name = models.CharField(_("name"), max_length=200, unique=True)
    sub_sector = models.ForeignKey(
        SubSector, on_delete=models.PROTECT, related_name="clusters", verbose_name=_("sub-sector")
    )
    district = models.ForeignKey(
        District, on_delete=models.PROTECT, related_name="clusters", verbose_name=_("district")
    )
    centre_latitude = models.DecimalField(_("centre latitude"), max_digits=9, decimal_places=6)
    centre_longitude = models.DecimalField(_("centre longitude"), max_digits=9, decimal_places=6)
    description = models.TextField(_("description"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True, db_index=True)

    objects = ClusterQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("cluster")
        verbose_name_plural = _("clusters")
        constraints = [
            # Names are unique whatever their case, as clusters._name_taken() checks before saving;
            # this also refuses two namings at the same moment ("Bhairab Cobblers", "bhairab cobblers").
            models.UniqueConstraint(
                Lower("name"),
                name="cluster_name_unique_any_case",
                violation_error_message=_("A cluster with this name already exists."),
            )
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("enterprises:cluster-detail", args=[self.pk])

    def clean(self) -> None:
        super().clean()
        errors: dict[str, list[str]] = {}
        found = validation.check_gps(self.centre_latitude, self.centre_longitude)
        for field, message in found.items():
            errors.setdefault(f"centre_{field}", []).append(message)
        if errors:
            raise ValidationError(errors)


class SuggestionStatus(models.TextChoices):
    PROPOSED = "proposed", _("proposed")
    ACCEPTED = "accepted", _("accepted")
    DISMISSED = "dismissed", _("dismissed")


class ClusterSuggestion(models.Model):
    """A group of same-sub-sector MEs found close together by `enterprises.clusters.suggest()`."""

    sub_sector = models.ForeignKey(
        SubSector, on_delete=models.CASCADE, related_name="+", verbose_name=_("sub-sector")
    )
    district = models.ForeignKey(
        District, on_delete=models.CASCADE, related_name="+", verbose_name=_("district")
    )
    centre_latitude = models.DecimalField(_("centre latitude"), max_digits=9, decimal_places=6)
    centre_longitude = models.DecimalField(_("centre longitude"), max_digits=9, decimal_places=6)
    radius_km = models.DecimalField(_("radius (km)"), max_digits=5, decimal_places=2)
    members = models.ManyToManyField(Enterprise, related_name="+", verbose_name=_("members"))
    member_count = models.PositiveIntegerField(_("members"))
    # The sorted member ids, hashed: a dismissed group is not proposed again.
    signature = models.CharField(max_length=64, db_index=True)
    status = models.CharField(
        _("status"), max_length=12, choices=SuggestionStatus.choices, default=SuggestionStatus.PROPOSED
    )
    cluster = models.ForeignKey(Cluster, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    computed_at = models.DateTimeField(_("computed at"), default=timezone.now)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True, db_index=True)

    class Meta:
        ordering = ["-member_count", "pk"]
        verbose_name = _("cluster suggestion")
        verbose_name_plural = _("cluster suggestions")

    def __str__(self) -> str:
        return f"{self.sub_sector} · {self.district} ({self.member_count})"

    def get_absolute_url(self) -> str:
        return reverse("enterprises:suggestion-detail", args=[self.pk])
