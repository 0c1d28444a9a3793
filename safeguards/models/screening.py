"""E&S screening: the exclusion list, a proposal's E&S plan and the PMU's E&S review, and ME screening."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from core.models import PartnerOrganization
from core.roles import Role
from core.validators import past_event
from enterprises.models import Enterprise
from subprojects.models import POScopedQuerySet, Proposal, WorkflowObject


class ExclusionItemQuerySet(models.QuerySet):
    """The exclusion list is reference data: anyone signed in reads it (the PMU keeps it)."""

    def visible_to(self, user):
        return self if user is not None and user.is_authenticated else self.none()


class ExclusionItem(models.Model):
    """One activity the programme never finances (the World Bank / PKSF exclusion list), kept by the
    PMU as data. A proposal or an ME declared to match an active item is refused, the item named."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("activity"), max_length=200)
    description = models.TextField(_("what it covers"), blank=True)
    active = models.BooleanField(
        _("in force"), default=True, help_text=_("Items no longer in force are kept for the record.")
    )
    position = models.PositiveSmallIntegerField(_("order"), default=0)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True, db_index=True)
    # Proposals whose PO declared an activity on this item (the submission is then refused).
    proposals = models.ManyToManyField(
        Proposal, blank=True, related_name="exclusions_found", verbose_name=_("proposals")
    )

    history = HistoricalRecords(excluded_fields=["updated_at"])
    objects = ExclusionItemQuerySet.as_manager()

    class Meta:
        ordering = ["position", "name"]
        verbose_name = _("exclusion list item")
        verbose_name_plural = _("exclusion list")

    def __str__(self) -> str:
        return self.name


class EsmpMeasure(models.Model):
    """One line of a proposal's environmental and social management plan (ESMP): the risk, what is
    done about it, by whom and when. Substantial- and high-risk proposals need at least one."""

    proposal = models.ForeignKey(
        Proposal, on_delete=models.CASCADE, related_name="esmp_measures", verbose_name=_("proposal")
    )
    risk = models.CharField(_("risk or impact"), max_length=300)
    measure = models.TextField(_("mitigation measure"))
    responsible = models.CharField(_("responsible party"), max_length=200)
    timing = models.CharField(_("timing"), max_length=200, help_text=_("When, e.g. “before construction”."))
    position = models.PositiveSmallIntegerField(_("order"), default=0)

    history = HistoricalRecords()

    class Meta:
        ordering = ["proposal", "position", "pk"]
        verbose_name = _("E&S mitigation measure")
        verbose_name_plural = _("E&S mitigation measures")

    def __str__(self) -> str:
        return self.risk


class EsReviewStatus(models.TextChoices):
    PENDING = "pending", _("awaiting E&S review")
    CLEARED = "cleared", _("cleared")
    CLEARED_WITH_CONDITIONS = "cleared_with_conditions", _("cleared with conditions")
    NOT_CLEARED = "not_cleared", _("not cleared")


class EsReviewQuerySet(models.QuerySet):
    """E&S reviews: the PMU (its E&S officers included), the Bank and PKSF approvers see every one;
    a PO's staff those of their own PO's proposals; anyone else none."""

    def visible_to(self, user):
        if user is None or not user.is_authenticated:
            return self.none()
        if user.sees_whole_programme or (user.has_role(Role.ES_OFFICER) and not user.partner_organization_id):
            return self
        if user.partner_organization_id:
            return self.filter(proposal__partner_organization_id=user.partner_organization_id)
        return self.none()


class EsReview(WorkflowObject):
    """The PMU's E&S review of a high-risk proposal: its own decision and conditions (the conditions
    are subprojects.Condition rows with `es_review` set, so they join the award-blocking ones)."""

    REFERENCE_PREFIX = "ESR"

    proposal = models.OneToOneField(
        Proposal, on_delete=models.PROTECT, related_name="es_review", verbose_name=_("proposal")
    )
    status = models.CharField(
        _("status"), max_length=30, choices=EsReviewStatus.choices, default=EsReviewStatus.PENDING
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("decided by"),
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)

    history = HistoricalRecords(excluded_fields=["updated_at"])
    objects = EsReviewQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("E&S review")
        verbose_name_plural = _("E&S reviews")

    def __str__(self) -> str:
        return f"{self.reference} · {self.proposal.reference}"

    @property
    def reference(self) -> str:
        return f"{self.REFERENCE_PREFIX}-{self.pk:04d}" if self.pk else f"{self.REFERENCE_PREFIX}-new"

    @property
    def partner_organization_id(self) -> int:
        return self.proposal.partner_organization_id

    def get_absolute_url(self) -> str:
        return reverse("safeguards:review-detail", args=[self.pk])


class EcrCategory(models.TextChoices):
    """Bangladesh Environment Conservation Rules 2023: the DoE's classes of industrial units."""

    GREEN = "green", _("green")
    YELLOW = "yellow", _("yellow")
    ORANGE = "orange", _("orange")
    RED = "red", _("red")


class MeScreeningStatus(models.TextChoices):
    DRAFT = "draft", _("draft")
    COMPLETED = "completed", _("completed")


class MeScreeningOutcome(models.TextChoices):
    PASSED = "passed", _("passed")
    FAILED = "failed", _("failed")


class SafeguardsQuerySet(POScopedQuerySet):
    """A PO's safeguards records (screenings, clearances, incidents): its own staff see them, and the
    whole programme's readers; the PMU's E&S officers (belonging to no PO) follow every PO's, as PMU
    officers do, even without that role."""

    def visible_to(self, user):
        if user.is_authenticated and user.partner_organization_id is None and user.has_role(Role.ES_OFFICER):
            return self
        return super().visible_to(user)


class MeScreeningQuerySet(SafeguardsQuerySet):
    pass


class MeScreening(WorkflowObject):
    """A short E&S checklist of one ME, at registration or before financing. The ME's latest completed
    screening decides: one that failed bars the ME from any disbursement until a new one passes."""

    REFERENCE_PREFIX = "MES"

    partner_organization = models.ForeignKey(
        PartnerOrganization, on_delete=models.PROTECT, related_name="+", verbose_name=_("PO")
    )
    enterprise = models.ForeignKey(
        Enterprise, on_delete=models.PROTECT, related_name="screenings", verbose_name=_("enterprise")
    )
    screened_on = models.DateField(_("screened on"), validators=[past_event(_("The screening date"))])
    exclusions_found = models.ManyToManyField(
        ExclusionItem,
        blank=True,
        related_name="me_screenings",
        verbose_name=_("activities on the exclusion list"),
    )
    # The checklist: None until answered.
    safe_working_conditions = models.BooleanField(
        _("working conditions are safe"),
        null=True,
        help_text=_(
            "Occupational health and safety: protective equipment, fire safety, first aid, safe machinery."
        ),
    )
    pollution_controlled = models.BooleanField(
        _("pollution is controlled"),
        null=True,
        help_text=_("No untreated waste water, smoke, dust, noise or solid waste beyond what is permitted."),
    )
    child_labour_found = models.BooleanField(
        _("child labour found"),
        null=True,
        help_text=_("Any worker under 14, or under 18 doing hazardous work (Bangladesh Labour Act)."),
    )
    clearance_category = models.CharField(
        _("environmental clearance category (ECR 2023)"),
        max_length=10,
        choices=EcrCategory.choices,
        blank=True,
    )
    notes = models.TextField(_("notes"), blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=MeScreeningStatus.choices, default=MeScreeningStatus.DRAFT
    )
    outcome = models.CharField(_("result"), max_length=10, choices=MeScreeningOutcome.choices, blank=True)
    # Why it failed, in words, as the refusal of a disbursement names it.
    failure_reasons = models.TextField(_("reasons it failed"), blank=True)
    screened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("screened by")
    )
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)

    history = HistoricalRecords(excluded_fields=["updated_at"])
    objects = MeScreeningQuerySet.as_manager()

    class Meta:
        ordering = ["-screened_on", "-pk"]
        verbose_name = _("ME screening")
        verbose_name_plural = _("ME screenings")
        indexes = [
            models.Index(fields=["enterprise", "status", "-completed_at"], name="me_screening_latest_idx")
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status=MeScreeningStatus.DRAFT, outcome="")
                | Q(status=MeScreeningStatus.COMPLETED, completed_at__isnull=False) & ~Q(outcome=""),
                name="me_screening_outcome_when_completed",
            )
        ]

    def __str__(self) -> str:
        return f"{self.reference} · {self.enterprise}"

    @property
    def reference(self) -> str:
        return f"{self.REFERENCE_PREFIX}-{self.pk:05d}" if self.pk else f"{self.REFERENCE_PREFIX}-new"

    def get_absolute_url(self) -> str:
        return reverse("safeguards:screening-detail", args=[self.pk])
