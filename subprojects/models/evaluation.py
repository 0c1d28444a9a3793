"""Technical evaluation of proposals (SPEC 4): rubrics, TEC meetings and their agendas, conflicts of
interest, blind scoring, the committee's decisions and the conditions attached to them.

Rules (who may score, when scores lock, what a decision needs) live in subprojects.evaluation;
the models hold data and the constraints the database can enforce.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Prefetch, Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from core.errors import ActionRefused
from core.models import User
from core.roles import Role
from subprojects.models.lifecycle import Call, Proposal

__all__ = [
    "AgendaItem",
    "Condition",
    "ConflictDeclaration",
    "Criterion",
    "Decision",
    "DecisionOutcome",
    "Rubric",
    "RubricLocked",
    "Score",
    "ScoreSheet",
    "ScoreSheetStatus",
    "TecMeeting",
]


class RubricLocked(ActionRefused):
    """A change to a rubric (or one of its criteria) under which scores have been submitted.

    Raised by the models themselves, so the pages, the API, the admin and the shell all refuse it;
    the PMU's "reopen scoring" action on the call is the one way to unlock a rubric."""

    def __init__(self) -> None:
        super().__init__(
            _(
                "Scores have been submitted under this rubric; it can no longer change. "
                "To correct it, the PMU reopens the call's scoring first."
            ),
            code="locked",
        )


def rubrics_locked(rubrics: models.QuerySet | list[int]) -> bool:
    """Whether any of these rubrics (a queryset of rubrics, or their ids) has a submitted score
    sheet under it: the first submitted sheet of a call locks its rubric."""
    return ScoreSheet.objects.filter(
        agenda_item__proposal__call__rubric__in=rubrics, status=ScoreSheetStatus.SUBMITTED
    ).exists()


def _refuse_if_locked(rubric_id: int | None) -> None:
    if rubric_id and rubrics_locked([rubric_id]):
        raise RubricLocked()


class RubricQuerySet(models.QuerySet):
    # Bulk writes go through the same lock as save() and delete().

    def update(self, **kwargs) -> int:
        if rubrics_locked(self.values("pk")):
            raise RubricLocked()
        return super().update(**kwargs)

    def delete(self):
        if rubrics_locked(self.values("pk")):
            raise RubricLocked()
        return super().delete()


class Rubric(models.Model):
    """How the proposals of one call are scored. Locked (save and delete refuse: RubricLocked) from
    the first submitted score sheet of the call, until the PMU reopens its scoring."""

    call = models.OneToOneField(Call, on_delete=models.CASCADE, related_name="rubric", verbose_name=_("call"))
    pass_mark = models.DecimalField(
        _("pass mark (out of 100)"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("60"),
        validators=[MinValueValidator(0), MaxValueValidator(100)],
        help_text=_("A mean weighted score under this mark is flagged."),
    )
    spread_threshold = models.DecimalField(
        _("spread threshold (points)"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("20"),
        validators=[MinValueValidator(0), MaxValueValidator(100)],
        help_text=_("When members' totals differ by more than this, the proposal is flagged for discussion."),
    )
    history = HistoricalRecords()
    objects = RubricQuerySet.as_manager()

    class Meta:
        verbose_name = _("rubric")
        verbose_name_plural = _("rubrics")

    def __str__(self) -> str:
        return _("Rubric of %(call)s") % {"call": self.call.reference}

    def save(self, *args, **kwargs):
        _refuse_if_locked(self.pk)
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("subprojects:rubric", args=[self.call_id])

    def delete(self, *args, **kwargs):
        _refuse_if_locked(self.pk)
        return super().delete(*args, **kwargs)

    @property
    def is_locked(self) -> bool:
        return bool(self.pk) and rubrics_locked([self.pk])


class CriterionQuerySet(models.QuerySet):
    def update(self, **kwargs) -> int:
        if rubrics_locked(self.values("rubric_id")):
            raise RubricLocked()
        return super().update(**kwargs)

    def delete(self):
        if rubrics_locked(self.values("rubric_id")):
            raise RubricLocked()
        return super().delete()


class Criterion(models.Model):
    rubric = models.ForeignKey(Rubric, on_delete=models.CASCADE, related_name="criteria")
    name = models.CharField(_("criterion"), max_length=150)
    guidance = models.TextField(_("guidance for scorers"), blank=True)
    weight = models.DecimalField(
        _("weight (%)"),
        max_digits=5,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0.01")), MaxValueValidator(100)],
    )
    max_score = models.PositiveSmallIntegerField(
        _("maximum score"), default=10, validators=[MinValueValidator(1), MaxValueValidator(100)]
    )
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    history = HistoricalRecords()
    objects = CriterionQuerySet.as_manager()

    class Meta:
        ordering = ["position", "pk"]
        verbose_name = _("criterion")
        verbose_name_plural = _("criteria")
        constraints = [
            models.UniqueConstraint(
                fields=["rubric", "name"],
                name="criterion_name_unique_in_rubric",
                violation_error_message=_("Two criteria of a rubric cannot have the same name."),
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.weight}%)"

    # A criterion is added, changed or removed only while its rubric is not locked.

    def save(self, *args, **kwargs):
        _refuse_if_locked(self.rubric_id)
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        _refuse_if_locked(self.rubric_id)
        return super().delete(*args, **kwargs)


class TecMeetingQuerySet(models.QuerySet):
    def visible_to(self, user) -> TecMeetingQuerySet:
        if not user.is_authenticated:
            return self.none()
        if user.sees_whole_programme:
            return self
        if user.has_role(Role.TEC_MEMBER):
            return self.filter(members=user).distinct()
        return self.none()


class TecMeeting(models.Model):
    number = models.PositiveSmallIntegerField(_("meeting number"), unique=True)
    held_on = models.DateTimeField(_("date and time"))
    venue = models.CharField(_("venue"), max_length=200)
    chair = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="tec_meetings_chaired",
        verbose_name=_("chair"),
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        related_name="tec_meetings",
        verbose_name=_("members"),
        help_text=_("TEC members who sit on this meeting, the chair included."),
    )
    attendees = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="tec_meetings_attended",
        verbose_name=_("attended"),
        help_text=_("Recorded for the minutes."),
    )
    # Set when the chair (or the PMU) first records who is present: until then the minutes say that
    # attendance was not taken, rather than "absent" for everyone. Changed by evaluation.take_attendance.
    attendance_taken_at = models.DateTimeField(_("attendance taken at"), null=True, blank=True)
    attendance_taken_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("attendance taken by"),
    )
    notes = models.TextField(_("notes for the minutes"), blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True, db_index=True)

    history = HistoricalRecords(m2m_fields=[members, attendees], excluded_fields=["updated_at"])
    objects = TecMeetingQuerySet.as_manager()

    class Meta:
        ordering = ["-held_on"]
        verbose_name = _("TEC meeting")
        verbose_name_plural = _("TEC meetings")

    def __str__(self) -> str:
        return _("TEC meeting %(number)s") % {"number": self.number}

    def get_absolute_url(self) -> str:
        return reverse("subprojects:meeting-detail", args=[self.pk])

    @property
    def reference(self) -> str:
        return f"TEC-{self.number}"

    @property
    def attendance_taken(self) -> bool:
        return self.attendance_taken_at is not None


class AgendaItemQuerySet(models.QuerySet):
    def for_consolidation(self) -> AgendaItemQuerySet:
        """Everything evaluation.consolidate() reads, in a fixed number of queries however many items."""
        return self.select_related("meeting", "proposal__call__rubric", "decision").prefetch_related(
            Prefetch("meeting__members", queryset=User.objects.order_by("last_name", "username")),
            "proposal__call__rubric__criteria",
            Prefetch("declarations", queryset=ConflictDeclaration.objects.select_related("member")),
            Prefetch("score_sheets", queryset=ScoreSheet.objects.prefetch_related("scores")),
        )


class AgendaItem(models.Model):
    """A proposal on a meeting's agenda. Putting it there moves the proposal to under_evaluation."""

    meeting = models.ForeignKey(TecMeeting, on_delete=models.PROTECT, related_name="agenda")
    proposal = models.ForeignKey(Proposal, on_delete=models.PROTECT, related_name="agenda_items")
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    added_at = models.DateTimeField(auto_now_add=True)
    # Who holds the chair's powers on this item (recording the decision, overriding missing scores)
    # when the meeting's chair may not, e.g. because they declared a conflict of interest with it.
    acting_chair = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("acting chair"),
        help_text=_("A member of the meeting without a conflict on this proposal, who chairs it instead."),
    )
    acting_chair_reason = models.TextField(_("why an acting chair"), blank=True)

    objects = AgendaItemQuerySet.as_manager()

    class Meta:
        ordering = ["meeting", "position", "pk"]
        verbose_name = _("agenda item")
        verbose_name_plural = _("agenda items")
        constraints = [
            models.UniqueConstraint(
                fields=["meeting", "proposal"],
                name="proposal_once_per_agenda",
                violation_error_message=_("This proposal is already on the meeting's agenda."),
            )
        ]

    def __str__(self) -> str:
        return f"{self.meeting.reference} · {self.proposal.reference}"

    def get_absolute_url(self) -> str:
        return reverse("subprojects:agenda-item", args=[self.pk])


class ConflictDeclaration(models.Model):
    """Each member declares, per proposal, before scoring it. A conflicted member does not score."""

    agenda_item = models.ForeignKey(AgendaItem, on_delete=models.PROTECT, related_name="declarations")
    member = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    has_conflict = models.BooleanField(_("I have a conflict of interest"))
    explanation = models.TextField(_("explanation"), blank=True)
    declared_at = models.DateTimeField(_("declared at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True, db_index=True)

    class Meta:
        ordering = ["declared_at"]
        verbose_name = _("conflict-of-interest declaration")
        verbose_name_plural = _("conflict-of-interest declarations")
        constraints = [
            models.UniqueConstraint(fields=["agenda_item", "member"], name="one_declaration_per_member"),
            models.CheckConstraint(
                condition=Q(has_conflict=False) | ~Q(explanation=""),
                name="conflict_needs_explanation",
                violation_error_message=_("Say what the conflict of interest is."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member} · {self.agenda_item}: {'conflict' if self.has_conflict else 'no conflict'}"


class ScoreSheetStatus(models.TextChoices):
    DRAFT = "draft", _("draft")
    SUBMITTED = "submitted", _("submitted")


class ScoreSheetQuerySet(models.QuerySet):
    def visible_to(self, user) -> ScoreSheetQuerySet:
        """Blind scoring: a member sees other members' submitted sheets of a proposal only after
        submitting their own, or once the committee has decided on it (so a member with a conflict of
        interest sees none before the decision). See evaluation.may_see_consolidation().

        The PMU, the World Bank and the approver see every sheet (but those of an item on which they
        declared a conflict, until its decision); other users none.
        """
        if not user.is_authenticated:
            return self.none()
        # The rule of who sees an item's scores is stated once, in subprojects.evaluation.
        from subprojects.evaluation import items_hidden_by_conflict, items_whose_scores_user_sees

        if user.sees_whole_programme:
            return self.exclude(agenda_item__in=items_hidden_by_conflict(user))
        if not user.has_role(Role.TEC_MEMBER):
            return self.none()
        return self.filter(
            Q(member=user)
            | Q(agenda_item__in=items_whose_scores_user_sees(user), status=ScoreSheetStatus.SUBMITTED)
        )


class LockedError(Exception):
    """Raised by the models themselves if anything tries to change a submitted score."""


def _refuse_if_submitted(sheet_id: int | None) -> None:
    if sheet_id and ScoreSheet.objects.filter(pk=sheet_id, status=ScoreSheetStatus.SUBMITTED).exists():
        raise LockedError(f"score sheet {sheet_id} is submitted and locked")


class ScoreSheet(models.Model):
    agenda_item = models.ForeignKey(AgendaItem, on_delete=models.PROTECT, related_name="score_sheets")
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="score_sheets"
    )
    status = models.CharField(
        _("status"), max_length=20, choices=ScoreSheetStatus.choices, default=ScoreSheetStatus.DRAFT
    )
    comment = models.TextField(_("overall comment"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True, db_index=True)
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)

    history = HistoricalRecords()
    objects = ScoreSheetQuerySet.as_manager()

    class Meta:
        ordering = ["agenda_item", "member__username"]
        verbose_name = _("score sheet")
        verbose_name_plural = _("score sheets")
        constraints = [
            models.UniqueConstraint(
                fields=["agenda_item", "member"], name="one_sheet_per_member_and_proposal"
            ),
            models.CheckConstraint(
                condition=Q(status="draft") | Q(submitted_at__isnull=False),
                name="submitted_sheet_has_a_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member} · {self.agenda_item}"

    def save(self, *args, **kwargs):
        # Only the engine moves a submitted sheet (the "reopen" rule, logged); nothing else saves it.
        if not getattr(self, "_lifecycle_moving", False):
            _refuse_if_submitted(self.pk)
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        _refuse_if_submitted(self.pk)
        return super().delete(*args, **kwargs)

    @property
    def is_submitted(self) -> bool:
        return self.status == ScoreSheetStatus.SUBMITTED


class Score(models.Model):
    sheet = models.ForeignKey(ScoreSheet, on_delete=models.PROTECT, related_name="scores")
    criterion = models.ForeignKey(Criterion, on_delete=models.PROTECT, related_name="scores")
    value = models.DecimalField(
        _("score"), max_digits=5, decimal_places=2, validators=[MinValueValidator(Decimal("0"))]
    )
    comment = models.TextField(_("comment"), blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["criterion__position", "criterion_id"]
        verbose_name = _("score")
        verbose_name_plural = _("scores")
        constraints = [
            models.UniqueConstraint(fields=["sheet", "criterion"], name="one_score_per_criterion"),
            models.CheckConstraint(condition=Q(value__gte=0), name="score_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.criterion.name}: {self.value}"

    def save(self, *args, **kwargs):
        _refuse_if_submitted(self.sheet_id)
        super().save(*args, **kwargs)

    def clean(self) -> None:
        if self.criterion_id and self.value is not None and self.value > self.criterion.max_score:
            raise ValidationError(
                {"value": _("At most %(max)s for this criterion.") % {"max": self.criterion.max_score}}
            )

    def delete(self, *args, **kwargs):
        _refuse_if_submitted(self.sheet_id)
        return super().delete(*args, **kwargs)


class DecisionOutcome(models.TextChoices):
    RECOMMENDED = "recommended", _("recommended")
    RECOMMENDED_WITH_CONDITIONS = "recommended_with_conditions", _("recommended with conditions")
    REVISION_REQUESTED = "revision_requested", _("revision requested")
    NOT_RECOMMENDED = "not_recommended", _("not recommended")


class Decision(models.Model):
    """The committee's decision on one agenda item, recorded by the chair or the PMU."""

    agenda_item = models.OneToOneField(AgendaItem, on_delete=models.PROTECT, related_name="decision")
    outcome = models.CharField(_("decision"), max_length=40, choices=DecisionOutcome.choices)
    text = models.TextField(_("reasons / what to revise"), blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(_("decided at"))
    override_reason = models.TextField(
        _("chair's override"),
        blank=True,
        help_text=_("Why the decision was taken without every non-conflicted member's submitted scores."),
    )
    mean_score = models.DecimalField(_("mean score at decision"), max_digits=5, decimal_places=2, null=True)

    class Meta:
        ordering = ["decided_at"]
        verbose_name = _("TEC decision")
        verbose_name_plural = _("TEC decisions")

    def __str__(self) -> str:
        return f"{self.agenda_item}: {self.get_outcome_display()}"


class Condition(models.Model):
    """One condition of a "recommended with conditions" decision; the award waits until all are met."""

    proposal = models.ForeignKey(Proposal, on_delete=models.PROTECT, related_name="conditions")
    # Set for a TEC decision's condition; `es_review` instead for one of the PMU's E&S review (safeguards).
    decision = models.ForeignKey(
        Decision, on_delete=models.PROTECT, null=True, blank=True, related_name="conditions"
    )
    es_review = models.ForeignKey(
        "safeguards.EsReview",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="conditions",
        verbose_name=_("E&S review"),
    )
    text = models.TextField(_("condition"))
    position = models.PositiveSmallIntegerField(default=0)
    evidence = models.TextField(_("PO's evidence"), blank=True)
    evidence_at = models.DateTimeField(null=True, blank=True)
    met = models.BooleanField(_("met"), default=False)
    met_note = models.TextField(_("PMU's note"), blank=True)
    met_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    met_at = models.DateTimeField(_("checked off at"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True, db_index=True)
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["proposal", "position", "pk"]
        verbose_name = _("condition")
        verbose_name_plural = _("conditions")
        constraints = [
            models.CheckConstraint(
                condition=Q(met=False) | (Q(met_at__isnull=False) & Q(met_by__isnull=False)),
                name="met_condition_says_who_and_when",
            ),
            models.CheckConstraint(
                condition=Q(decision__isnull=False, es_review__isnull=True)
                | Q(decision__isnull=True, es_review__isnull=False),
                name="condition_of_one_decision",
            ),
        ]

    def __str__(self) -> str:
        return self.text[:80]
