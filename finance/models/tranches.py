"""The release schedule of a sub-project (set at award, adjusted by the PMU) and the releases of its
tranches to the PO: requested by the PO, checked by the PMU, approved by PKSF finance, transferred."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from finance.models.common import MONEY, NOT_NEGATIVE, MoneyQuerySet
from subprojects.models import SubProject, WorkflowObject


class MilestoneStatus(models.TextChoices):
    PLANNED = "planned", _("planned")
    REPORTED = "reported", _("reported done")


class Milestone(WorkflowObject):
    """A point in the sub-project the PO reports done (with evidence); a tranche tied to it is
    requested only after that."""

    sub_project = models.ForeignKey(
        SubProject, on_delete=models.CASCADE, related_name="milestones", verbose_name=_("sub-project")
    )
    # The sub-project's PO, copied at creation (it never changes): scoping without a join.
    partner_organization = models.ForeignKey(
        "core.PartnerOrganization",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("partner organization"),
    )
    number = models.PositiveSmallIntegerField(_("number"))
    title = models.CharField(_("milestone"), max_length=200)
    due_on = models.DateField(_("due on"))
    status = models.CharField(
        _("status"), max_length=20, choices=MilestoneStatus.choices, default=MilestoneStatus.PLANNED
    )
    reported_on = models.DateField(_("reported done on"), null=True, blank=True)
    evidence = models.TextField(_("evidence"), blank=True)

    history = HistoricalRecords()
    objects = MoneyQuerySet.as_manager()

    class Meta:
        ordering = ["sub_project", "number"]
        verbose_name = _("milestone")
        verbose_name_plural = _("milestones")
        constraints = [
            models.UniqueConstraint(fields=["sub_project", "number"], name="milestone_number_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.sub_project.agreement_number} M{self.number}: {self.title}"

    @property
    def reference(self) -> str:
        return f"{self.sub_project.agreement_number}/M{self.number}"

    def get_absolute_url(self) -> str:
        return reverse("finance:subproject-finance", args=[self.sub_project_id]) + f"#milestone-{self.pk}"


class Tranche(models.Model):
    """One instalment of the release schedule: how much of the World Bank and PKSF shares it releases,
    and the milestone (if any) that must be reported done before it is requested."""

    sub_project = models.ForeignKey(
        SubProject, on_delete=models.CASCADE, related_name="tranches", verbose_name=_("sub-project")
    )
    partner_organization = models.ForeignKey(
        "core.PartnerOrganization",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("partner organization"),
    )
    number = models.PositiveSmallIntegerField(_("number"))
    title = models.CharField(_("tranche"), max_length=120)
    milestone = models.ForeignKey(
        Milestone,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="tranches",
        verbose_name=_("released after milestone"),
        help_text=_("Empty for an advance, released without a milestone."),
    )
    amount_world_bank = models.DecimalField(
        _("World Bank share (BDT)"), **MONEY, validators=NOT_NEGATIVE, default=0
    )
    amount_pksf = models.DecimalField(_("PKSF share (BDT)"), **MONEY, validators=NOT_NEGATIVE, default=0)
    planned_on = models.DateField(_("planned for"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True, db_index=True)

    history = HistoricalRecords(excluded_fields=["updated_at"])
    objects = MoneyQuerySet.as_manager()

    class Meta:
        ordering = ["sub_project", "number"]
        verbose_name = _("tranche")
        verbose_name_plural = _("tranches")
        constraints = [
            models.UniqueConstraint(fields=["sub_project", "number"], name="tranche_number_unique"),
            models.CheckConstraint(
                condition=Q(amount_world_bank__gte=0)
                & Q(amount_pksf__gte=0)
                & (Q(amount_world_bank__gt=0) | Q(amount_pksf__gt=0)),
                name="tranche_amount_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sub_project.agreement_number} T{self.number}: {self.title}"

    @property
    def amount(self):
        return self.amount_world_bank + self.amount_pksf


class ReleaseStatus(models.TextChoices):
    REQUESTED = "requested", _("requested")
    CHECKED = "checked", _("checked by the PMU")
    APPROVED = "approved", _("approved by PKSF finance")
    TRANSFERRED = "transferred", _("transferred")
    RETURNED = "returned", _("returned")
    WITHDRAWN = "withdrawn", _("withdrawn")


# Releases that hold their amount against the approved budget: all but those returned or withdrawn.
ACTIVE_RELEASE_STATUSES = (
    ReleaseStatus.REQUESTED,
    ReleaseStatus.CHECKED,
    ReleaseStatus.APPROVED,
    ReleaseStatus.TRANSFERRED,
)


class ReleaseQuerySet(MoneyQuerySet):
    def active(self) -> ReleaseQuerySet:
        return self.filter(status__in=ACTIVE_RELEASE_STATUSES)

    def transferred(self, as_of=None) -> ReleaseQuerySet:
        done = self.filter(status=ReleaseStatus.TRANSFERRED)
        return done if as_of is None else done.filter(transferred_on__lte=as_of)


class Release(WorkflowObject):
    """A PO's request for a tranche and what became of it. Its amounts are fixed at the request."""

    sub_project = models.ForeignKey(
        SubProject, on_delete=models.PROTECT, related_name="releases", verbose_name=_("sub-project")
    )
    partner_organization = models.ForeignKey(
        "core.PartnerOrganization",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("partner organization"),
    )
    tranche = models.ForeignKey(
        Tranche, on_delete=models.PROTECT, related_name="releases", verbose_name=_("tranche")
    )
    reference = models.CharField(_("reference"), max_length=40, unique=True)
    amount_world_bank = models.DecimalField(
        _("World Bank share (BDT)"), **MONEY, validators=NOT_NEGATIVE, default=0
    )
    amount_pksf = models.DecimalField(_("PKSF share (BDT)"), **MONEY, validators=NOT_NEGATIVE, default=0)
    justification = models.TextField(
        _("justification"),
        help_text=_("Milestones reached, spending of the previous tranche, open conditions closed."),
    )
    status = models.CharField(
        _("status"), max_length=20, choices=ReleaseStatus.choices, default=ReleaseStatus.REQUESTED
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("requested by")
    )
    requested_at = models.DateTimeField(_("requested at"))
    transferred_on = models.DateField(_("transferred on"), null=True, blank=True)
    transfer_reference = models.CharField(
        _("transfer reference"), max_length=60, blank=True, help_text=_("Bank transfer or cheque number.")
    )

    history = HistoricalRecords()
    objects = ReleaseQuerySet.as_manager()

    class Meta:
        ordering = ["-requested_at", "-pk"]
        verbose_name = _("release")
        verbose_name_plural = _("releases")
        constraints = [
            # A tranche is requested once at a time (a returned or withdrawn request may be made again).
            models.UniqueConstraint(
                fields=["tranche"],
                condition=Q(status__in=["requested", "checked", "approved", "transferred"]),
                name="release_one_active_per_tranche",
                violation_error_message=_("This tranche has already been requested."),
            ),
            models.CheckConstraint(
                condition=Q(amount_world_bank__gte=0)
                & Q(amount_pksf__gte=0)
                & (Q(amount_world_bank__gt=0) | Q(amount_pksf__gt=0)),
                name="release_amount_positive",
            ),
            models.CheckConstraint(
                condition=~Q(status="transferred") | Q(transferred_on__isnull=False),
                name="release_transfer_dated",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "transferred_on"], name="release_status_idx"),
        ]

    def __str__(self) -> str:
        return self.reference

    @property
    def amount(self):
        return self.amount_world_bank + self.amount_pksf

    def get_absolute_url(self) -> str:
        return reverse("finance:release-detail", args=[self.pk])
