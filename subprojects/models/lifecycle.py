"""Calls, concept notes (SPCN), proposals (SPP) and awarded sub-projects (SPEC 3).

State changes never happen by assigning `status`: they go through `subprojects.workflow.apply()`,
which checks the transition table, locks the row and writes the Transition log.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from pathlib import PurePath

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey, GenericRelation
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q, Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from core.models import District, PartnerOrganization, Sector, SubSector, Upazila
from core.roles import Role
from core.validators import PROGRAMME_START, DateRange, programme_event

__all__ = [
    "MONEY",
    "TARGETING_FIELDS",
    "TARGETING_M2M",
    "Activity",
    "Attachment",
    "AttachmentQuerySet",
    "BudgetCategory",
    "BudgetLine",
    "Call",
    "CallQuerySet",
    "CallStatus",
    "CommittedResult",
    "ConceptNote",
    "ConceptNoteQuerySet",
    "Financier",
    "NoteStatus",
    "POScopedQuerySet",
    "Proposal",
    "ProposalQuerySet",
    "ProposalStatus",
    "ResultIndicator",
    "RiskCategory",
    "SubProject",
    "SubProjectQuerySet",
    "SubProjectStatus",
    "Transition",
    "WorkflowObject",
    "attachment_path",
]

MONEY = {"max_digits": 14, "decimal_places": 2, "validators": [MinValueValidator(Decimal("0"))]}

# What a concept note and its proposal share: the forms, the API and the invitation (which copies the
# note into the proposal) all read these.
TARGETING_M2M = ("sub_sectors", "target_districts", "target_upazilas")
TARGETING_FIELDS = (
    "title",
    "sector",
    *TARGETING_M2M,
    "cluster",
    "mes_targeted",
    "women_led_mes_targeted",
    "problem",
    "environmental_issues",
    "proposed_recp_practices",
    "proposed_csfs",
)


# --- Transition log -------------------------------------------------------------------------------


class Transition(models.Model):
    """One state change of a call, note, proposal or sub-project: who, when, from, to, why."""

    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT)
    object_id = models.PositiveBigIntegerField()
    subject = GenericForeignKey("content_type", "object_id")
    action = models.CharField(_("action"), max_length=40)
    from_state = models.CharField(_("from"), max_length=40)
    to_state = models.CharField(_("to"), max_length=40)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    at = models.DateTimeField(_("at"), default=timezone.now)
    comment = models.TextField(_("comment"), blank=True)

    class Meta:
        ordering = ["at", "pk"]
        indexes = [models.Index(fields=["content_type", "object_id", "at"])]
        verbose_name = _("transition")
        verbose_name_plural = _("transitions")

    def __str__(self) -> str:
        return f"{self.action}: {self.from_state} → {self.to_state}"


class WorkflowObject(models.Model):
    """Common parts of everything with a lifecycle."""

    status_changed_at = models.DateTimeField(_("in this state since"), default=timezone.now, db_index=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True, db_index=True)
    transitions = GenericRelation(Transition)

    class Meta:
        abstract = True


# --- Calls ----------------------------------------------------------------------------------------


class CallStatus(models.TextChoices):
    DRAFT = "draft", _("draft")
    OPEN = "open", _("open")
    CLOSED = "closed", _("closed")


class CallQuerySet(models.QuerySet):
    def visible_to(self, user) -> CallQuerySet:
        if not user.is_authenticated:
            return self.none()
        # Drafts are the PMU's work in progress, shown to no one else (the World Bank and the approver
        # included) until the call opens.
        if user.is_superuser or user.has_role(Role.PMU_OFFICER):
            return self
        return self.exclude(status=CallStatus.DRAFT)


class Call(WorkflowObject):
    reference = models.CharField(_("reference"), max_length=40, unique=True)
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"))
    opens_at = models.DateTimeField(_("opens at"))
    closes_at = models.DateTimeField(
        _("deadline"), help_text=_("Concept notes are refused after this moment.")
    )
    eligible_sectors = models.ManyToManyField(
        Sector,
        blank=True,
        related_name="calls",
        verbose_name=_("eligible sectors"),
        help_text=_("Leave empty if every sector may apply."),
    )
    ceiling_budget = models.DecimalField(
        _("ceiling budget (BDT)"), **MONEY, help_text=_("Maximum budget of one sub-project under this call.")
    )
    status = models.CharField(
        _("status"), max_length=20, choices=CallStatus.choices, default=CallStatus.DRAFT
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    history = HistoricalRecords(m2m_fields=[eligible_sectors])
    objects = CallQuerySet.as_manager()

    class Meta:
        ordering = ["-opens_at"]
        verbose_name = _("call for concept notes")
        verbose_name_plural = _("calls for concept notes")
        constraints = [
            models.CheckConstraint(
                condition=Q(closes_at__gt=models.F("opens_at")),
                name="call_closes_after_it_opens",
                violation_error_message=_("The deadline must be after the opening."),
            )
        ]

    def __str__(self) -> str:
        return f"{self.reference} · {self.title}"

    def get_absolute_url(self) -> str:
        return reverse("subprojects:call-detail", args=[self.pk])

    def clean(self) -> None:
        super().clean()
        if self.opens_at and self.closes_at and self.closes_at <= self.opens_at:
            raise ValidationError({"closes_at": _("The deadline must be after the opening.")})

    @property
    def is_past_deadline(self) -> bool:
        return timezone.now() > self.closes_at

    @property
    def is_editable(self) -> bool:
        """A closed call is final."""
        return self.status != CallStatus.CLOSED

    def accepts_submissions(self, at=None) -> bool:
        at = at or timezone.now()
        return self.status == CallStatus.OPEN and self.opens_at <= at <= self.closes_at

    def sector_is_eligible(self, sector: Sector) -> bool:
        eligible = list(self.eligible_sectors.all())
        return not eligible or sector in eligible


# --- Concept notes --------------------------------------------------------------------------------


class NoteStatus(models.TextChoices):
    DRAFT = "draft", _("draft")
    SUBMITTED = "submitted", _("submitted")
    UNDER_REVIEW = "under_review", _("under review")
    SHORTLISTED = "shortlisted", _("shortlisted")
    REJECTED = "rejected", _("rejected")


class POScopedQuerySet(models.QuerySet):
    """Objects of one PO: PO staff see their own PO's, programme-wide roles see all."""

    po_field = "partner_organization"

    def visible_to(self, user):
        if not user.is_authenticated:
            return self.none()
        if user.sees_whole_programme:
            return self
        if user.partner_organization_id:
            return self.filter(**{f"{self.po_field}_id": user.partner_organization_id})
        return self.none()


class ConceptNoteQuerySet(POScopedQuerySet):
    def visible_to(self, user):
        notes = super().visible_to(user)
        if user.is_authenticated and user.sees_whole_programme:
            # A draft that was never submitted is the PO's work in progress, not yet for the PMU's eyes.
            notes = notes.exclude(
                Q(status=NoteStatus.DRAFT, submitted_at__isnull=True)
                & ~Q(partner_organization_id=user.partner_organization_id)
            )
        return notes


class ConceptNote(WorkflowObject):
    REFERENCE_PREFIX = "SPCN"

    call = models.ForeignKey(
        Call, on_delete=models.PROTECT, related_name="concept_notes", verbose_name=_("call")
    )
    partner_organization = models.ForeignKey(
        PartnerOrganization, on_delete=models.PROTECT, related_name="concept_notes", verbose_name=_("PO")
    )
    title = models.CharField(_("title"), max_length=200)
    sector = models.ForeignKey(Sector, on_delete=models.PROTECT, related_name="+", verbose_name=_("sector"))
    sub_sectors = models.ManyToManyField(SubSector, related_name="+", verbose_name=_("sub-sectors"))
    target_districts = models.ManyToManyField(District, related_name="+", verbose_name=_("target districts"))
    target_upazilas = models.ManyToManyField(
        Upazila, blank=True, related_name="+", verbose_name=_("target upazilas")
    )
    cluster = models.TextField(
        _("cluster in view"), blank=True, help_text=_("Where the enterprises are and what they share.")
    )
    mes_targeted = models.PositiveIntegerField(_("MEs targeted"), default=0)
    women_led_mes_targeted = models.PositiveIntegerField(_("of them women-led"), default=0)
    problem = models.TextField(_("problem addressed"), blank=True)
    environmental_issues = models.TextField(_("environmental issues addressed"), blank=True)
    proposed_recp_practices = models.TextField(_("proposed RECP practices and technologies"), blank=True)
    proposed_csfs = models.TextField(_("proposed common service facilities"), blank=True)
    estimated_budget = models.DecimalField(_("estimated budget (BDT)"), **MONEY, null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=NoteStatus.choices, default=NoteStatus.DRAFT
    )
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    history = HistoricalRecords(m2m_fields=[sub_sectors, target_districts, target_upazilas])
    objects = ConceptNoteQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("concept note (SPCN)")
        verbose_name_plural = _("concept notes (SPCN)")
        constraints = [
            models.CheckConstraint(
                condition=Q(women_led_mes_targeted__lte=models.F("mes_targeted")),
                name="note_women_led_within_total",
                violation_error_message=_("Women-led MEs cannot exceed the MEs targeted."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference} · {self.title}"

    def get_absolute_url(self) -> str:
        return reverse("subprojects:note-detail", args=[self.pk])

    @property
    def reference(self) -> str:
        return f"{self.REFERENCE_PREFIX}-{self.pk:04d}" if self.pk else f"{self.REFERENCE_PREFIX}-new"

    @property
    def business_area(self):
        return self.sector.business_area

    @property
    def is_editable(self) -> bool:
        return self.status == NoteStatus.DRAFT


# --- Proposals ------------------------------------------------------------------------------------


class ProposalStatus(models.TextChoices):
    INVITED = "invited", _("invited")
    DRAFT = "draft", _("draft")
    SUBMITTED = "submitted", _("submitted")
    UNDER_EVALUATION = "under_evaluation", _("under evaluation")
    RECOMMENDED = "recommended", _("recommended")
    RECOMMENDED_WITH_CONDITIONS = "recommended_with_conditions", _("recommended with conditions")
    REVISION_REQUESTED = "revision_requested", _("revision requested")
    NOT_RECOMMENDED = "not_recommended", _("not recommended")
    NO_OBJECTION = "no_objection", _("no objection (World Bank)")
    OBJECTION = "objection", _("objection (World Bank)")
    APPROVED = "approved", _("approved")
    REJECTED = "rejected", _("rejected")
    AWARDED = "awarded", _("awarded")


class RiskCategory(models.TextChoices):
    LOW = "low", _("low")
    MODERATE = "moderate", _("moderate")
    SUBSTANTIAL = "substantial", _("substantial")
    HIGH = "high", _("high")


class ProposalQuerySet(POScopedQuerySet):
    def visible_to(self, user):
        if user.is_authenticated and not user.sees_whole_programme and user.has_role(Role.TEC_MEMBER):
            # TEC members see the proposals on the agendas of the meetings they sit on.
            from subprojects.models.evaluation import AgendaItem

            on_agenda = AgendaItem.objects.filter(meeting__members=user).values("proposal")
            own_po = (
                Q(partner_organization_id=user.partner_organization_id)
                if user.partner_organization_id
                else Q()
            )
            return self.filter(Q(pk__in=on_agenda) | own_po) if own_po else self.filter(pk__in=on_agenda)
        return super().visible_to(user)


class Proposal(WorkflowObject):
    REFERENCE_PREFIX = "SPP"
    # Invited, being written, or returned for revision: the PO still has to submit, by the deadline.
    AWAITING_SUBMISSION = frozenset(
        {ProposalStatus.INVITED, ProposalStatus.DRAFT, ProposalStatus.REVISION_REQUESTED}
    )

    concept_note = models.OneToOneField(
        ConceptNote, on_delete=models.PROTECT, related_name="proposal", verbose_name=_("concept note")
    )
    call = models.ForeignKey(Call, on_delete=models.PROTECT, related_name="proposals", verbose_name=_("call"))
    partner_organization = models.ForeignKey(
        PartnerOrganization, on_delete=models.PROTECT, related_name="proposals", verbose_name=_("PO")
    )
    deadline = models.DateTimeField(_("deadline"))
    # Pre-filled from the concept note, then the PO's own.
    title = models.CharField(_("title"), max_length=200)
    sector = models.ForeignKey(Sector, on_delete=models.PROTECT, related_name="+", verbose_name=_("sector"))
    sub_sectors = models.ManyToManyField(SubSector, related_name="+", verbose_name=_("sub-sectors"))
    target_districts = models.ManyToManyField(District, related_name="+", verbose_name=_("target districts"))
    target_upazilas = models.ManyToManyField(
        Upazila, blank=True, related_name="+", verbose_name=_("target upazilas")
    )
    cluster = models.TextField(_("cluster in view"), blank=True)
    mes_targeted = models.PositiveIntegerField(_("MEs targeted"), default=0)
    women_led_mes_targeted = models.PositiveIntegerField(_("of them women-led"), default=0)
    problem = models.TextField(_("problem addressed"), blank=True)
    environmental_issues = models.TextField(_("environmental issues addressed"), blank=True)
    proposed_recp_practices = models.TextField(_("RECP practices and technologies"), blank=True)
    proposed_csfs = models.TextField(_("common service facilities"), blank=True)
    # The proposal's own sections.
    objectives = models.TextField(_("objectives"), blank=True)
    duration_months = models.PositiveSmallIntegerField(_("duration (months)"), null=True, blank=True)
    risk_category = models.CharField(
        _("environmental and social risk category"), max_length=20, choices=RiskCategory.choices, blank=True
    )
    exclusion_list_checked = models.BooleanField(
        _("checked against the exclusion list"),
        default=False,
        help_text=_("No activity of the sub-project is on the World Bank / PKSF exclusion list."),
    )
    mitigation_measures = models.TextField(_("mitigation measures"), blank=True)
    doe_clearance_required = models.BooleanField(
        _("Department of Environment clearance needed"), null=True, blank=True
    )
    status = models.CharField(
        _("status"), max_length=40, choices=ProposalStatus.choices, default=ProposalStatus.INVITED
    )
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # The World Bank's no-objection letter, recorded with the "no_objection" transition (its parameters).
    no_objection_reference = models.CharField(
        _("World Bank letter reference"),
        max_length=100,
        blank=True,
        help_text=_("The reference of the World Bank's no-objection letter."),
    )
    no_objection_date = models.DateField(
        _("date of the World Bank letter"),
        null=True,
        blank=True,
        validators=[programme_event(_("The date of the World Bank letter"))],
    )

    history = HistoricalRecords(m2m_fields=[sub_sectors, target_districts, target_upazilas])
    objects = ProposalQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("proposal (SPP)")
        verbose_name_plural = _("proposals (SPP)")
        constraints = [
            models.CheckConstraint(
                condition=Q(women_led_mes_targeted__lte=models.F("mes_targeted")),
                name="proposal_women_led_within_total",
                violation_error_message=_("Women-led MEs cannot exceed the MEs targeted."),
            )
        ]

    def __str__(self) -> str:
        return f"{self.reference} · {self.title}"

    def get_absolute_url(self) -> str:
        return reverse("subprojects:proposal-detail", args=[self.pk])

    @property
    def reference(self) -> str:
        return f"{self.REFERENCE_PREFIX}-{self.pk:04d}" if self.pk else f"{self.REFERENCE_PREFIX}-new"

    @property
    def is_editable(self) -> bool:
        return self.status in {ProposalStatus.INVITED, ProposalStatus.DRAFT}

    @property
    def awaits_submission(self) -> bool:
        return self.status in self.AWAITING_SUBMISSION

    def budget_totals(self) -> dict[str, Decimal]:
        """Total and per-financier sums of the budget lines (one query)."""
        sums = {
            row["financier"]: row["total"]
            for row in self.budget_lines.values("financier").annotate(total=Sum("amount"))
        }
        totals = {financier: sums.get(financier, Decimal("0")) for financier in Financier.values}
        totals["total"] = sum(totals.values(), Decimal("0"))
        return totals


class BudgetCategory(models.TextChoices):
    CSF = "csf", _("Common service facility (civil works, equipment)")
    RECP_TECHNOLOGY = "recp_technology", _("RECP technologies for MEs")
    ME_FINANCE = "me_finance", _("Financing to MEs (loans / grants)")
    TRAINING = "training", _("Training and capacity building")
    TECHNICAL_ASSISTANCE = "technical_assistance", _("Technical assistance and studies")
    MONITORING = "monitoring", _("Monitoring and environmental testing")
    MANAGEMENT = "management", _("Project management and staff")
    OTHER = "other", _("Other")


class Financier(models.TextChoices):
    WORLD_BANK = "world_bank", _("World Bank")
    PKSF = "pksf", _("PKSF")
    PO = "po", _("PO contribution")


class BudgetLine(models.Model):
    proposal = models.ForeignKey(Proposal, on_delete=models.CASCADE, related_name="budget_lines")
    category = models.CharField(_("category"), max_length=30, choices=BudgetCategory.choices)
    description = models.CharField(_("description"), max_length=250)
    amount = models.DecimalField(
        _("amount (BDT)"), max_digits=14, decimal_places=2, validators=[MinValueValidator(Decimal("0.01"))]
    )
    financier = models.CharField(_("financier"), max_length=20, choices=Financier.choices)
    history = HistoricalRecords()

    class Meta:
        ordering = ["pk"]
        verbose_name = _("budget line")
        verbose_name_plural = _("budget lines")

    def __str__(self) -> str:
        return f"{self.get_category_display()}: {self.description}"


class Activity(models.Model):
    """A line of the work plan, in months counted from the start of the sub-project."""

    proposal = models.ForeignKey(Proposal, on_delete=models.CASCADE, related_name="activities")
    description = models.CharField(_("activity"), max_length=250)
    start_month = models.PositiveSmallIntegerField(_("from month"), validators=[MinValueValidator(1)])
    end_month = models.PositiveSmallIntegerField(_("to month"), validators=[MinValueValidator(1)])
    history = HistoricalRecords()

    class Meta:
        ordering = ["start_month", "pk"]
        verbose_name = _("activity")
        verbose_name_plural = _("activities")
        constraints = [
            models.CheckConstraint(
                condition=Q(end_month__gte=models.F("start_month")),
                name="activity_ends_after_it_starts",
                violation_error_message=_("An activity cannot end before it starts."),
            )
        ]

    def __str__(self) -> str:
        return self.description

    def clean(self) -> None:
        # The check constraint, said on the field (forms and the API show it there).
        super().clean()
        if self.start_month and self.end_month and self.end_month < self.start_month:
            raise ValidationError({"end_month": _("An activity cannot end before it starts.")})


class ResultIndicator(models.TextChoices):
    """The results framework of SPEC 6, to which a proposal commits."""

    ME_FINANCED = "ME_FINANCED", _("MEs receiving financial support")
    ME_CLIMATE_KNOWLEDGE = "ME_CLIMATE_KNOWLEDGE", _("MEs with increased knowledge on climate vulnerability")
    ME_RECP_2PLUS = "ME_RECP_2PLUS", _("MEs adopting at least two climate-resilient RECP practices")
    ME_KPI_TRACKING = "ME_KPI_TRACKING", _("MEs tracking at least one environmental KPI")
    RECP_PROFILES_VALIDATED = (
        "RECP_PROFILES_VALIDATED",
        _("Climate-resilient RECP profiles prepared and validated"),
    )
    CSF_ESTABLISHED = "CSF_ESTABLISHED", _("Shared facilities (CSFs) established")


class CommittedResult(models.Model):
    proposal = models.ForeignKey(Proposal, on_delete=models.CASCADE, related_name="committed_results")
    indicator = models.CharField(_("indicator"), max_length=40, choices=ResultIndicator.choices)
    target = models.PositiveIntegerField(_("committed target"))
    history = HistoricalRecords()

    class Meta:
        ordering = ["pk"]
        verbose_name = _("committed result")
        verbose_name_plural = _("committed results")
        constraints = [
            models.UniqueConstraint(
                fields=["proposal", "indicator"],
                name="one_commitment_per_indicator",
                violation_error_message=_("This indicator already has a commitment."),
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_indicator_display()}: {self.target}"


# --- Sub-projects ---------------------------------------------------------------------------------


class SubProjectStatus(models.TextChoices):
    ACTIVE = "active", _("active")
    SUSPENDED = "suspended", _("suspended")
    COMPLETED = "completed", _("completed")
    CANCELLED = "cancelled", _("cancelled")


class SubProjectQuerySet(POScopedQuerySet):
    def visible_to(self, user):
        # PKSF finance (a finance officer of no PO) releases every PO's money: it reads every
        # sub-project, as the money pages show them (issue 14).
        from finance.models.common import is_pmu_finance

        if is_pmu_finance(user):
            return self
        return super().visible_to(user)


class SubProject(WorkflowObject):
    """An awarded proposal, implemented by its PO. Field data (enterprises, ...) hangs on it."""

    proposal = models.OneToOneField(
        Proposal, on_delete=models.PROTECT, related_name="sub_project", verbose_name=_("proposal")
    )
    partner_organization = models.ForeignKey(
        PartnerOrganization, on_delete=models.PROTECT, related_name="sub_projects", verbose_name=_("PO")
    )
    title = models.CharField(_("title"), max_length=200)
    sector = models.ForeignKey(Sector, on_delete=models.PROTECT, related_name="+", verbose_name=_("sector"))
    agreement_number = models.CharField(_("agreement number"), max_length=60, unique=True)
    # From the programme start; a sub-project runs a few years, so a date decades ahead is a typo.
    award_date = models.DateField(_("award date"), validators=[programme_event(_("The award date"))])
    start_date = models.DateField(
        _("start date"), validators=[DateRange(_("The start date"), PROGRAMME_START, latest=10)]
    )
    end_date = models.DateField(
        _("end date"), validators=[DateRange(_("The end date"), PROGRAMME_START, latest=20)]
    )
    budget_world_bank = models.DecimalField(_("approved budget: World Bank share (BDT)"), **MONEY)
    budget_pksf = models.DecimalField(_("approved budget: PKSF share (BDT)"), **MONEY)
    budget_po = models.DecimalField(_("approved budget: PO contribution (BDT)"), **MONEY)
    status = models.CharField(
        _("status"), max_length=20, choices=SubProjectStatus.choices, default=SubProjectStatus.ACTIVE
    )

    history = HistoricalRecords()
    objects = SubProjectQuerySet.as_manager()

    class Meta:
        ordering = ["agreement_number"]
        verbose_name = _("sub-project")
        verbose_name_plural = _("sub-projects")
        constraints = [
            models.CheckConstraint(
                condition=Q(end_date__gt=models.F("start_date")),
                name="sub_project_ends_after_it_starts",
                violation_error_message=_("The end date must be after the start date."),
            )
        ]

    # The columns __str__ reads: a drop-down of sub-projects fetches only these (a sub-project's row has
    # some forty columns; core.visibility.scope_filterset).
    CHOICE_LABEL_FIELDS = ("agreement_number", "title")

    def __str__(self) -> str:
        return f"{self.agreement_number} · {self.title}"

    def get_absolute_url(self) -> str:
        return reverse("subprojects:subproject-detail", args=[self.pk])

    def clean(self) -> None:
        # The check constraint, said on the field (forms, the API and the award show it there).
        super().clean()
        if self.start_date and self.end_date and self.end_date <= self.start_date:
            raise ValidationError({"end_date": _("The end date must be after the start date.")})

    @property
    def reference(self) -> str:
        return self.agreement_number

    @property
    def is_amendable(self) -> bool:
        """Completed and cancelled sub-projects are final."""
        return self.status in {SubProjectStatus.ACTIVE, SubProjectStatus.SUSPENDED}

    @property
    def approved_budget(self) -> Decimal:
        return self.budget_world_bank + self.budget_pksf + self.budget_po


# --- Attachments ----------------------------------------------------------------------------------


def attachment_path(instance: Attachment, filename: str) -> str:
    # Stored names are random: the original name is kept in the row, never used on disk.
    suffix = PurePath(filename).suffix.lower()[:10]
    return f"attachments/{timezone.now():%Y/%m}/{uuid.uuid4().hex}{suffix}"


class AttachmentQuerySet(models.QuerySet):
    def visible_to(self, user) -> AttachmentQuerySet:
        notes = ConceptNote.objects.visible_to(user).values("pk")
        proposals = Proposal.objects.visible_to(user).values("pk")
        return self.filter(Q(concept_note__in=notes) | Q(proposal__in=proposals))


class Attachment(models.Model):
    concept_note = models.ForeignKey(
        ConceptNote, on_delete=models.CASCADE, null=True, blank=True, related_name="attachments"
    )
    proposal = models.ForeignKey(
        Proposal, on_delete=models.CASCADE, null=True, blank=True, related_name="attachments"
    )
    file = models.FileField(_("file"), upload_to=attachment_path, max_length=200)
    original_name = models.CharField(_("file name"), max_length=200)
    description = models.CharField(_("description"), max_length=200, blank=True)
    # A proposal's E&S management plan (required for substantial and high risk) is an attachment too.
    is_esmp = models.BooleanField(_("E&S management plan"), default=False)
    mime_type = models.CharField(_("type"), max_length=100)
    size = models.PositiveIntegerField(_("size (bytes)"))
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True, db_index=True)

    objects = AttachmentQuerySet.as_manager()

    class Meta:
        ordering = ["uploaded_at", "pk"]
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        constraints = [
            models.CheckConstraint(
                condition=Q(concept_note__isnull=False, proposal__isnull=True)
                | Q(concept_note__isnull=True, proposal__isnull=False),
                name="attachment_belongs_to_one_object",
            )
        ]

    def __str__(self) -> str:
        return self.original_name

    def get_absolute_url(self) -> str:
        return reverse("subprojects:attachment-download", args=[self.pk])

    @property
    def owner(self) -> ConceptNote | Proposal:
        return self.concept_note or self.proposal
