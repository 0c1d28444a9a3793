"""Suspected duplicate enterprises and how the PMU resolves them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from enterprises.models.registry import Enterprise

__all__ = [
    "DuplicateStatus",
    "DuplicateSuspect",
    "DuplicateSuspectQuerySet",
]


# --- Duplicates -----------------------------------------------------------------------------------


class DuplicateStatus(models.TextChoices):
    SUSPECTED = "suspected", _("suspected")
    CONFIRMED = "confirmed", _("confirmed duplicate")
    DISMISSED = "dismissed", _("not a duplicate")


class DuplicateSuspectQuerySet(models.QuerySet):
    def visible_to(self, user) -> DuplicateSuspectQuerySet:
        """Only programme-wide roles see pairs: a pair shows two POs' personal data side by side."""
        if user.is_authenticated and user.sees_whole_programme:
            return self
        return self.none()

    def open(self) -> DuplicateSuspectQuerySet:
        """Pairs the PMU has not decided yet."""
        return self.filter(status=DuplicateStatus.SUSPECTED)

    def involving(self, enterprise) -> DuplicateSuspectQuerySet:
        """Pairs with this enterprise on either side (an Enterprise, an id or an `OuterRef`)."""
        return self.filter(Q(enterprise=enterprise) | Q(matched_enterprise=enterprise))

    def involving_any(self, enterprise_ids) -> DuplicateSuspectQuerySet:
        return self.filter(Q(enterprise_id__in=enterprise_ids) | Q(matched_enterprise_id__in=enterprise_ids))


class DuplicateSuspect(models.Model):
    """Two MEs that may be the same enterprise: `enterprise` is the one entered later, and the
    one that becomes `duplicate_of` the other when the PMU confirms."""

    enterprise = models.ForeignKey(
        Enterprise, on_delete=models.CASCADE, related_name="duplicate_suspects", verbose_name=_("enterprise")
    )
    matched_enterprise = models.ForeignKey(
        Enterprise, on_delete=models.CASCADE, related_name="+", verbose_name=_("matches")
    )
    same_phone = models.BooleanField(_("same phone"), default=False)
    same_trade_licence = models.BooleanField(_("same trade licence"), default=False)
    same_name_and_upazila = models.BooleanField(_("same name in the same upazila"), default=False)
    cross_po = models.BooleanField(_("across POs"), default=True)
    status = models.CharField(
        _("status"), max_length=12, choices=DuplicateStatus.choices, default=DuplicateStatus.SUSPECTED
    )
    found_at = models.DateTimeField(_("found at"), default=timezone.now)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    resolution_note = models.TextField(_("note"), blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True, db_index=True)

    objects = DuplicateSuspectQuerySet.as_manager()

    class Meta:
        ordering = ["found_at", "pk"]
        verbose_name = _("suspected duplicate")
        verbose_name_plural = _("suspected duplicates")
        constraints = [
            models.UniqueConstraint(
                fields=["enterprise", "matched_enterprise"], name="duplicate_pair_unique"
            ),
            models.CheckConstraint(
                condition=Q(enterprise__gt=models.F("matched_enterprise")), name="duplicate_pair_ordered"
            ),
        ]
        indexes = [models.Index(fields=["status", "found_at"], name="duplicate_status_idx")]

    def __str__(self) -> str:
        return f"{self.enterprise_id} ~ {self.matched_enterprise_id}"

    def get_absolute_url(self) -> str:
        return reverse("enterprises:duplicate-detail", args=[self.pk])

    @property
    def reasons(self) -> list[str]:
        labels = []
        if self.same_phone:
            labels.append(str(_("same phone")))
        if self.same_trade_licence:
            labels.append(str(_("same trade licence")))
        if self.same_name_and_upazila:
            labels.append(str(_("same name in the same upazila")))
        return labels
