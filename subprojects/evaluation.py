"""Technical evaluation rules (SPEC 4): rubrics, meetings and agendas, conflicts of interest, blind
scoring, consolidation, the committee's decisions and their conditions.

Pages, the API and the demo call these functions; state changes of proposals still go through
workflow.apply(), whose guards and effects for evaluation steps are defined here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from core import lifecycle
from core.errors import ActionRefused, Forbidden
from core.models import User
from core.permissions import is_pmu
from core.roles import Role
from subprojects.models import (
    AgendaItem,
    Call,
    Condition,
    ConflictDeclaration,
    Criterion,
    Decision,
    DecisionOutcome,
    Proposal,
    ProposalStatus,
    Rubric,
    RubricLocked,
    Score,
    ScoreSheet,
    ScoreSheetStatus,
    TecMeeting,
)
from subprojects.permissions import (
    may_add_evidence,
    may_edit_rubric,
    may_meet_conditions,
    may_organise_meetings,
    may_score,
    may_take_attendance,
    require,
)

HUNDRED = Decimal("100")
TWO_PLACES = Decimal("0.01")

DEFAULT_CRITERIA = [
    (
        "Relevance to RECP and climate resilience",
        "Fit with the SMART objectives; environmental problem addressed.",
        25,
    ),
    ("Technical soundness", "Technologies, work plan and CSF design are realistic and proven.", 20),
    ("PO capacity and track record", "Experience with MEs in the sector; staff; past PKSF projects.", 15),
    ("Budget and value for money", "Costs are reasonable and justified; co-financing.", 15),
    ("Environmental and social safeguards", "Quality of the E&S screening and mitigation measures.", 15),
    ("Women and vulnerable-area inclusion", "Share of women-led MEs; climate-vulnerable areas served.", 10),
]


def _refuse(message: str, code: str = "refused") -> None:
    """Not possible now (409); who may act is asked with `permissions.require` (403)."""
    raise ActionRefused(message, code=code)


def _round(value: Decimal) -> Decimal:
    return value.quantize(TWO_PLACES, rounding=ROUND_HALF_UP)


# --- Rubrics --------------------------------------------------------------------------------------


def rubric_for(call: Call) -> Rubric:
    rubric, _created = Rubric.objects.get_or_create(call=call)
    return rubric


def rubric_is_locked(rubric: Rubric) -> bool:
    """A rubric is fixed once any score sheet of its call has been submitted (the models refuse any
    change then: RubricLocked), until the PMU reopens the call's scoring."""
    return rubric.is_locked


def submitted_sheets_of(call: Call):
    """The submitted score sheets of a call's proposals: the first one locks its rubric."""
    return ScoreSheet.objects.filter(agenda_item__proposal__call=call, status=ScoreSheetStatus.SUBMITTED)


def call_scoring_locked(call: Call) -> bool:
    """Whether a score has been submitted on the call (its rubric is locked): only then is there
    anything for "Reopen scoring" to reopen."""
    return submitted_sheets_of(call).exists()


def weights_total(criteria: list[dict[str, Any]] | list[Criterion]) -> Decimal:
    return sum((Decimal(c["weight"] if isinstance(c, dict) else c.weight) for c in criteria), Decimal("0"))


def weights_error(criteria: list[dict[str, Any]] | list[Criterion]) -> str:
    """The rubric's rule, as its form, the API and save_rubric say it: the weights add up to 100
    ("" when they do)."""
    total = weights_total(criteria)
    if total == HUNDRED:
        return ""
    return _("The weights add up to %(total)s; they must add up to 100.") % {"total": f"{total:g}"}


def save_rubric(
    *, user, rubric: Rubric, pass_mark: Decimal, spread_threshold: Decimal, criteria: list[dict]
) -> Rubric:
    """Replace the rubric's criteria (rows may carry the `id` of an existing criterion)."""
    require(may_edit_rubric(user), _("Only PMU officers edit rubrics."))
    error = weights_error(criteria)
    if error:
        _refuse(error, "weights")
    if len({c["name"].strip().lower() for c in criteria}) != len(criteria):
        _refuse(_("Two criteria have the same name."), "duplicate")
    with transaction.atomic():
        locked = Rubric.objects.select_for_update().get(pk=rubric.pk)
        if rubric_is_locked(locked):
            raise RubricLocked()
        locked.pass_mark, locked.spread_threshold = pass_mark, spread_threshold
        locked.save()
        existing = {criterion.pk: criterion for criterion in locked.criteria.all()}
        kept = set()
        for position, values in enumerate(criteria):
            criterion_id = values.get("id")
            criterion_id = getattr(criterion_id, "pk", criterion_id)
            fields = {
                "name": values["name"].strip(),
                "guidance": values.get("guidance", ""),
                "weight": values["weight"],
                "max_score": values["max_score"],
                "position": position,
            }
            if criterion_id in existing:
                criterion = existing[criterion_id]
                for name, value in fields.items():
                    setattr(criterion, name, value)
                criterion.save()
                kept.add(criterion_id)
            else:
                Criterion.objects.create(rubric=locked, **fields)
        for criterion_id, criterion in existing.items():
            if criterion_id not in kept:
                if criterion.scores.exists():
                    _refuse(
                        _("“%(name)s” already has draft scores; keep it.") % {"name": criterion.name},
                        "in_use",
                    )
                criterion.delete()
    return locked


# --- Reopening scoring ----------------------------------------------------------------------------
# Guard and effect of the calls' "reopen scoring" rules (subprojects.workflow): the one way to unlock
# a rubric once scores are submitted under it.


def scoring_reopenable(call: Call, **_params) -> None:
    """Scores are submitted under the call's rubric, and the committee has decided on none of its
    proposals: a decision stands on the scores as they were, so a rubric with decisions under it stays
    as it is (reopening only the undecided items would leave it locked anyway)."""
    items = AgendaItem.objects.filter(proposal__call=call)
    decided = list(items.filter(decision__isnull=False).select_related("meeting", "proposal").order_by("pk"))
    if decided:
        _refuse(
            _(
                "The committee has already decided on %(items)s under the rubric of %(call)s: those "
                "decisions stand on the scores as they were, so scoring cannot be reopened."
            )
            % {
                "items": ", ".join(
                    f"{item.proposal.reference} ({item.meeting.reference})" for item in decided
                ),
                "call": call.reference,
            },
            "decided",
        )
    if not call_scoring_locked(call):
        _refuse(
            _("No score has been submitted under the rubric of %(call)s: it is not locked.")
            % {"call": call.reference},
            "not_locked",
        )


def reopen_scoring(call: Call, *, _user, _comment: str, **_params) -> list[str]:
    """Every submitted score sheet of the call goes back to draft through its own logged rule (taken by
    the portal, saying who reopened and why; each member is emailed), which unlocks the rubric."""
    why = _("Scoring of %(call)s reopened by %(who)s: %(comment)s") % {
        "call": call.reference,
        "who": _user.get_display_name(),
        "comment": _comment,
    }
    for sheet in submitted_sheets_of(call).order_by("pk"):
        lifecycle.apply(sheet, "reopen", None, comment=why)
    return []


def clear_submitted(sheet: ScoreSheet, **_params) -> list[str]:
    """Effect of a sheet's "reopen": it is a draft again, to be submitted anew."""
    sheet.submitted_at = None
    return ["submitted_at"]


def seed_default_rubric(call: Call) -> Rubric:
    """The six criteria of SPEC 4 with default weights, for a new call."""
    rubric = rubric_for(call)
    if not rubric.criteria.exists():
        for position, (name, guidance, weight) in enumerate(DEFAULT_CRITERIA):
            Criterion.objects.create(
                rubric=rubric, name=name, guidance=guidance, weight=weight, max_score=10, position=position
            )
    return rubric


# --- Meetings and agendas -------------------------------------------------------------------------


def chair_error(chair: User | None, members) -> str:
    """The meeting's rule, as its form, the API and save_meeting say it: the chair is one of the
    members ("" when so, or when either is not given yet)."""
    if chair is not None and members is not None and chair not in members:
        return _("The chair must be one of the members.")
    return ""


def _check_members(members: list[User], chair: User) -> None:
    not_tec = [member.get_display_name() for member in members if not member.has_role(Role.TEC_MEMBER)]
    if not_tec:
        _refuse(_("Not TEC members: %(names)s.") % {"names": ", ".join(not_tec)}, "members")
    error = chair_error(chair, members)
    if error:
        _refuse(error, "chair")


def save_meeting(*, user, meeting: TecMeeting | None, data: dict[str, Any]) -> TecMeeting:
    require(may_organise_meetings(user), _("Only PMU officers organise TEC meetings."))
    members = list(data["members"])
    _check_members(members, data["chair"])
    with transaction.atomic():
        if meeting is None:
            meeting = TecMeeting(created_by=user)
        elif ScoreSheet.objects.filter(agenda_item__meeting=meeting).exclude(member__in=members).exists():
            _refuse(_("A member who has started scoring cannot be removed from the meeting."), "members")
        elif minutes_final(meeting) and (
            set(meeting.members.values_list("pk", flat=True)) != {member.pk for member in members}
            or ("chair" in data and data["chair"].pk != meeting.chair_id)
        ):
            # The minutes record who sat on the committee and who was present: final, they stay so.
            _refuse(
                _("The minutes of this meeting are final: its members and chair can no longer change."),
                "members",
            )
        for name in ("number", "held_on", "venue", "chair", "notes"):
            if name in data:
                setattr(meeting, name, data[name])
        meeting.save()
        meeting.members.set(members)
    return meeting


# --- Attendance -----------------------------------------------------------------------------------
# The chair takes it when opening the meeting (the meeting's page asks, before scoring starts), and
# corrects it until the minutes are final; each version is logged on the meeting (core.lifecycle.record).


def minutes_final(meeting: TecMeeting) -> bool:
    """The minutes are final once the committee has decided on every proposal of the agenda (and
    there is at least one): what they record, attendance included, no longer changes."""
    counts = meeting.agenda.aggregate(items=Count("pk"), decided=Count("decision"))
    return bool(counts["items"]) and counts["items"] == counts["decided"]


def attendance_summary(present: int, members: int) -> str:
    """How many members were present, as the minutes and the log say it."""
    return _("%(present)s of %(members)s members present") % {"present": present, "members": members}


def take_attendance(*, user, meeting: TecMeeting, present: Iterable[User], comment: str = "") -> TecMeeting:
    """Record who of the meeting's members is present (everyone else: absent). The first time takes
    the attendance; later changes correct it, until the minutes are final. Each version is logged
    with who recorded it, when, and who was present and absent."""
    require(
        may_take_attendance(user, meeting),
        _("Only the chair of %(meeting)s (or the PMU) takes its attendance.") % {"meeting": meeting},
    )
    comment = (comment or "").strip()
    with transaction.atomic():
        locked = TecMeeting.objects.select_for_update().get(pk=meeting.pk)
        if minutes_final(locked):
            _refuse(
                _(
                    "The committee has decided on every proposal of %(meeting)s: its minutes are final "
                    "and the attendance can no longer change."
                )
                % {"meeting": locked},
                "minutes_final",
            )
        members = list(locked.members.order_by("last_name", "username"))
        member_ids = {member.pk for member in members}
        present_ids = {person.pk for person in present}
        strangers = [person.get_display_name() for person in present if person.pk not in member_ids]
        if strangers:
            _refuse(
                _("Not members of %(meeting)s: %(names)s.")
                % {"meeting": locked, "names": ", ".join(sorted(strangers))},
                "present",
            )
        if not present_ids:
            _refuse(_("Tick the members who are present: at least one."), "present")
        first = not locked.attendance_taken
        before = set(locked.attendees.values_list("pk", flat=True))
        if not first and before == present_ids:
            return locked  # nothing changes: nothing to log
        locked.attendees.set(present_ids)
        if first:
            locked.attendance_taken_at, locked.attendance_taken_by = timezone.now(), user
            locked.save(update_fields=["attendance_taken_at", "attendance_taken_by"])
        names = {
            "present": ", ".join(m.get_display_name() for m in members if m.pk in present_ids) or "—",
            "absent": ", ".join(m.get_display_name() for m in members if m.pk not in present_ids) or "—",
        }
        record = _("Present: %(present)s. Absent: %(absent)s.") % names
        lifecycle.record(
            locked,
            "take_attendance" if first else "correct_attendance",
            user,
            f"{record}\n{comment}" if comment else record,
            from_state="" if first else attendance_summary(len(before), len(members))[:40],
            to_state=attendance_summary(len(present_ids), len(members))[:40],
        )
    return locked


ATTENDANCE_ACTIONS = ("take_attendance", "correct_attendance")


def attendance_log(meeting: TecMeeting):
    """The versions of the meeting's attendance, oldest first (who, when, present and absent, why)."""
    return lifecycle.transitions_of(meeting).filter(action__in=ATTENDANCE_ACTIONS)


@dataclass
class Attendance:
    """The meeting's attendance as the minutes, its page and the API show it: `taken` False until
    the chair records it (then nobody is shown absent), else each member present or not."""

    taken: bool
    rows: list[tuple[User, bool]]

    @property
    def present_count(self) -> int:
        return sum(1 for _member, present in self.rows if present)

    @property
    def summary(self) -> str:
        return attendance_summary(self.present_count, len(self.rows))


def attendance_of(meeting: TecMeeting) -> Attendance:
    """Every member of the meeting, chair first, with whether they were present (reads
    meeting.members.all() and meeting.attendees.all(): prefetch them for a list)."""
    present = {person.pk for person in meeting.attendees.all()}
    members = sorted(meeting.members.all(), key=lambda m: (m.pk != meeting.chair_id, m.last_name, m.username))
    return Attendance(meeting.attendance_taken, [(member, member.pk in present) for member in members])


def current_agenda_item(proposal: Proposal) -> AgendaItem | None:
    """The agenda item under which the proposal is being evaluated now (the latest one).

    A list of proposals fetched with prefetch_related(Prefetch("agenda_items",
    queryset=AgendaItem.objects.select_related("meeting"))) costs no query per proposal."""
    prefetched = getattr(proposal, "_prefetched_objects_cache", {}).get("agenda_items")
    if prefetched is not None:
        return max(prefetched, key=lambda item: (item.meeting.held_on, item.pk), default=None)
    return proposal.agenda_items.select_related("meeting").order_by("-meeting__held_on", "-pk").first()


def meeting_ready(proposal: Proposal, meeting: TecMeeting | None = None, **_params) -> None:
    """Guard of start_evaluation: a meeting to put the proposal on, and a complete rubric."""
    if not isinstance(meeting, TecMeeting):
        _refuse(_("Choose the TEC meeting whose agenda the proposal goes on."), "meeting")
    if AgendaItem.objects.filter(meeting=meeting, proposal=proposal).exists():
        _refuse(_("This proposal is already on the meeting's agenda."), "exists")
    rubric = Rubric.objects.filter(call_id=proposal.call_id).prefetch_related("criteria").first()
    total = weights_total(list(rubric.criteria.all())) if rubric else Decimal("0")
    if total != HUNDRED:
        _refuse(
            _("The rubric of %(call)s is not ready (weights add up to %(total)s, not 100).")
            % {"call": proposal.call.reference, "total": _round(total)},
            "rubric",
        )


def put_on_agenda(proposal: Proposal, meeting: TecMeeting, **_params) -> list[str]:
    position = meeting.agenda.count() + 1
    AgendaItem.objects.create(meeting=meeting, proposal=proposal, position=position)
    return []


# --- Conflicts of interest and scores -------------------------------------------------------------


def open_for_scoring(item: AgendaItem) -> bool:
    return item.proposal.status == ProposalStatus.UNDER_EVALUATION and not hasattr(item, "decision")


def _member_item(user, item: AgendaItem) -> None:
    require(
        may_score(user, item), _("Only members of %(meeting)s score its agenda.") % {"meeting": item.meeting}
    )
    if not open_for_scoring(item):
        _refuse(_("%(spp)s is no longer under evaluation.") % {"spp": item.proposal.reference}, "wrong_state")


# declaration_of() and sheet_of() read the item's rows through .all(), so that a list of items
# prefetched with "declarations" and "score_sheets" (see member_agenda) costs no query per item.


def declaration_of(user, item: AgendaItem) -> ConflictDeclaration | None:
    return next((d for d in item.declarations.all() if d.member_id == user.pk), None)


def declare(*, user, item: AgendaItem, has_conflict: bool, explanation: str = "") -> ConflictDeclaration:
    """Each member declares once per proposal, before scoring it."""
    _member_item(user, item)
    explanation = (explanation or "").strip()
    if has_conflict and not explanation:
        _refuse(_("Say what the conflict of interest is."), "explanation")
    with transaction.atomic():
        if ConflictDeclaration.objects.select_for_update().filter(agenda_item=item, member=user).exists():
            _refuse(_("You have already declared for %(spp)s.") % {"spp": item.proposal.reference}, "exists")
        return ConflictDeclaration.objects.create(
            agenda_item=item, member=user, has_conflict=has_conflict, explanation=explanation
        )


def sheet_of(user, item: AgendaItem) -> ScoreSheet | None:
    return next((s for s in item.score_sheets.all() if s.member_id == user.pk), None)


def save_scores(
    *,
    user,
    item: AgendaItem,
    values: dict[int, tuple[Decimal | None, str]],
    comment: str = "",
    submit: bool = False,
) -> ScoreSheet:
    """Save a member's scores as a draft, or submit them (then they are locked for good).

    `values` maps criterion id → (score or None, comment)."""
    _member_item(user, item)
    declaration = declaration_of(user, item)
    if declaration is None:
        _refuse(_("Declare any conflict of interest before scoring."), "declare_first")
    if declaration.has_conflict:
        _refuse(_("You declared a conflict of interest: you do not score this proposal."), "conflicted")
    criteria = {criterion.pk: criterion for criterion in item.proposal.call.rubric.criteria.all()}
    unknown = set(values) - set(criteria)
    if unknown:
        _refuse(_("Unknown criteria: %(ids)s.") % {"ids": ", ".join(map(str, sorted(unknown)))}, "criteria")
    problems = []
    for criterion_id, (value, _comment) in values.items():
        criterion = criteria[criterion_id]
        if value is not None and not (0 <= value <= criterion.max_score):
            problems.append(
                _("%(name)s: the score must be between 0 and %(max)s.")
                % {"name": criterion.name, "max": criterion.max_score}
            )
    if submit:
        missing = [c.name for pk, c in criteria.items() if values.get(pk, (None, ""))[0] is None]
        if missing:
            problems.append(
                _("Score every criterion before submitting (missing: %(names)s).")
                % {"names": ", ".join(missing)}
            )
    if problems:
        _refuse(" ".join(problems), "invalid")
    with transaction.atomic():
        sheet, _created = ScoreSheet.objects.select_for_update().get_or_create(agenda_item=item, member=user)
        if sheet.is_submitted:
            _refuse(
                _("Your scores for %(spp)s are submitted and can no longer change.")
                % {"spp": item.proposal.reference},
                "locked",
            )
        existing = {score.criterion_id: score for score in sheet.scores.all()}
        for criterion_id, (value, criterion_comment) in values.items():
            score = existing.get(criterion_id)
            if value is None:
                if score is not None:
                    score.delete()
                continue
            if score is None:
                Score.objects.create(
                    sheet=sheet, criterion_id=criterion_id, value=value, comment=criterion_comment
                )
            elif (score.value, score.comment) != (value, criterion_comment):
                score.value, score.comment = value, criterion_comment
                score.save(update_fields=["value", "comment"])
        sheet.comment = comment
        sheet.save()
        if submit:
            # Through the engine: the submission is logged; a submitted sheet refuses any later save.
            sheet = lifecycle.apply(sheet, "submit", user)
    return sheet


# --- Consolidation --------------------------------------------------------------------------------


NOT_DECLARED, CONFLICT, NOT_STARTED = "not declared", "conflict", "not started"
DRAFT, SUBMITTED = ScoreSheetStatus.DRAFT.value, ScoreSheetStatus.SUBMITTED.value
# A member's step on one agenda item, as they see it in the "You" column of a meeting's agenda.
MEMBER_STEPS = {
    NOT_DECLARED: _lazy("to declare"),
    CONFLICT: _lazy("conflict"),
    NOT_STARTED: _lazy("declared"),
    DRAFT: _lazy("draft"),
    SUBMITTED: _lazy("submitted"),
}


def member_status(declaration: ConflictDeclaration | None, sheet: ScoreSheet | None) -> str:
    """Where a member stands on an agenda item: one of the keys of MEMBER_STEPS."""
    if declaration is None:
        return NOT_DECLARED
    if declaration.has_conflict:
        return CONFLICT
    if sheet is None:
        return NOT_STARTED
    return SUBMITTED if sheet.is_submitted else DRAFT


@dataclass
class MemberTotal:
    member: User
    status: str  # a key of MEMBER_STEPS
    total: Decimal | None = None
    scores: dict[int, Decimal] = field(default_factory=dict)


@dataclass
class Consolidation:
    item: AgendaItem
    rows: list[MemberTotal]
    criteria: list[Criterion]
    mean: Decimal | None
    spread: Decimal | None
    pass_mark: Decimal
    spread_threshold: Decimal
    criterion_means: dict[int, Decimal]

    @property
    def submitted(self) -> list[MemberTotal]:
        return [row for row in self.rows if row.status == SUBMITTED]

    @property
    def waiting_for(self) -> list[MemberTotal]:
        """Non-conflicted members whose scores are not submitted yet."""
        return [row for row in self.rows if row.status not in {SUBMITTED, CONFLICT}]

    @property
    def complete(self) -> bool:
        return bool(self.submitted) and not self.waiting_for

    @property
    def decided(self) -> bool:
        """Whether the committee's decision on the item is recorded."""
        return hasattr(self.item, "decision")

    @property
    def below_pass_mark(self) -> bool:
        return self.mean is not None and self.mean < self.pass_mark

    @property
    def wide_spread(self) -> bool:
        return self.spread is not None and self.spread > self.spread_threshold

    def row_of(self, user) -> MemberTotal | None:
        return next((row for row in self.rows if row.member.pk == user.pk), None)


def weighted_total(scores: dict[int, Decimal], criteria: list[Criterion]) -> Decimal:
    """A member's total out of 100 (2 places): each score as a share of its maximum, times the weight."""
    return _round(
        sum((Decimal(scores.get(c.pk, 0)) / Decimal(c.max_score) * c.weight for c in criteria), Decimal("0"))
    )


def _consolidation(item: AgendaItem) -> Consolidation:
    """Of an item fetched with AgendaItem.objects.for_consolidation(): no further query."""
    rubric = item.proposal.call.rubric
    criteria = list(rubric.criteria.all())
    declarations = {d.member_id: d for d in item.declarations.all()}
    sheets = {s.member_id: s for s in item.score_sheets.all()}
    rows = []
    for member in item.meeting.members.all():
        status = member_status(declarations.get(member.pk), sheets.get(member.pk))
        if status == SUBMITTED:
            scores = {score.criterion_id: score.value for score in sheets[member.pk].scores.all()}
            rows.append(MemberTotal(member, status, weighted_total(scores, criteria), scores))
        else:
            rows.append(MemberTotal(member, status))
    totals = [row.total for row in rows if row.total is not None]
    mean = _round(sum(totals, Decimal("0")) / len(totals)) if totals else None
    spread = _round(max(totals) - min(totals)) if totals else None
    criterion_means = {}
    submitted = [row for row in rows if row.status == SUBMITTED]
    for criterion in criteria:
        values = [row.scores[criterion.pk] for row in submitted if criterion.pk in row.scores]
        if values:
            criterion_means[criterion.pk] = _round(sum(values, Decimal("0")) / len(values))
    return Consolidation(
        item, rows, criteria, mean, spread, rubric.pass_mark, rubric.spread_threshold, criterion_means
    )


def consolidate_many(items: Iterable[AgendaItem]) -> dict[int, Consolidation]:
    """The consolidations of several agenda items, by item pk, read in a fixed number of queries."""
    fetched = AgendaItem.objects.for_consolidation().filter(pk__in=[item.pk for item in items])
    return {item.pk: _consolidation(item) for item in fetched}


def consolidate(item: AgendaItem) -> Consolidation:
    return consolidate_many([item])[item.pk]


# --- Who sees the scores of an agenda item ----------------------------------------------------------
# One rule, asked by every interface: the item's page and the meeting's page, the minutes (page and
# PDF), the API's consolidation and score sheets (ScoreSheet.objects.visible_to).


def may_see_consolidation(user, consolidation: Consolidation) -> bool:
    """Who sees an item's scores (each member's, the totals, the mean and the spread).

    A member who declared a conflict of interest on the item sees nothing of it until the committee's
    decision is recorded, whatever other role they hold. Otherwise the PMU and the programme-wide
    roles always; a member of the meeting once they have submitted their own scores on the item
    (blind scoring), or once the decision is recorded."""
    mine = consolidation.row_of(user)
    if mine is not None and mine.status == CONFLICT and not consolidation.decided:
        return False
    if user.sees_whole_programme:
        return True
    return mine is not None and (mine.status == SUBMITTED or consolidation.decided)


def items_whose_scores_user_sees(user) -> QuerySet[AgendaItem]:
    """The rule of may_see_consolidation() for a member, as a query: the items of their meetings on
    which they have submitted, or which the committee has decided."""
    return AgendaItem.objects.filter(meeting__members=user).filter(
        Q(score_sheets__member=user, score_sheets__status=ScoreSheetStatus.SUBMITTED)
        | Q(decision__isnull=False)
    )


def items_hidden_by_conflict(user) -> QuerySet[AgendaItem]:
    """The rule's first clause as a query: the undecided items on which the user declared a conflict."""
    return AgendaItem.objects.filter(
        declarations__member=user, declarations__has_conflict=True, decision__isnull=True
    )


def is_redacted_for(user, consolidation: Consolidation) -> bool:
    """An item the member declared a conflict with and which is not decided yet: the minutes show it
    without its scores (see may_see_minutes)."""
    mine = consolidation.row_of(user)
    return not may_see_consolidation(user, consolidation) and mine is not None and mine.status == CONFLICT


def may_see_minutes(user, consolidations: Iterable[Consolidation]) -> bool:
    """The minutes show every member's scores: the PMU and programme roles see them; a member once
    every item is either open to them (may_see_consolidation) or one they declared a conflict with,
    which the minutes then show without its scores until the decision (is_redacted_for)."""
    if user.sees_whole_programme:
        return True
    return all(
        may_see_consolidation(user, consolidation) or is_redacted_for(user, consolidation)
        for consolidation in consolidations
    )


# --- Decisions and conditions ---------------------------------------------------------------------


def has_declared_conflict(user_id: int | None, item: AgendaItem) -> bool:
    """Whether this member declared a conflict of interest on the item (reads item.declarations.all(),
    so a prefetched list costs no query)."""
    if item.pk is None:
        return False  # an item not saved yet has no declarations
    return any(d.member_id == user_id and d.has_conflict for d in item.declarations.all())


def presiding_chair_id(item: AgendaItem) -> int:
    """Who holds the chair's powers on the item: its acting chair when one is named, else the chair of
    the meeting."""
    return item.acting_chair_id or item.meeting.chair_id


def presides(user, item: AgendaItem) -> bool:
    """The chair's powers on an item (recording the committee's decision, overriding missing scores):
    the acting chair when named, else the meeting's chair; never someone who declared a conflict of
    interest on it."""
    if user.pk is None or user.pk != presiding_chair_id(item):
        return False  # asked first: no query for anyone but the presiding chair
    return not has_declared_conflict(user.pk, item)


def is_chair_or_pmu(user, proposal: Proposal) -> bool:
    """`who` of the committee's decisions: the PMU, or the TEC member presiding over the proposal's
    current agenda item (see presides); never someone who declared a conflict of interest on it,
    whatever their roles."""
    item = current_agenda_item(proposal)
    if item is not None and has_declared_conflict(user.pk, item):
        return False
    if is_pmu(user):
        return True
    return item is not None and user.has_role(Role.TEC_MEMBER) and presides(user, item)


def why_not_presiding(user, item: AgendaItem) -> str:
    """Why this TEC member may not use the chair's powers on the item, in words ("" if they may)."""
    if presides(user, item):
        return ""
    reference = item.proposal.reference
    if user.pk == presiding_chair_id(item):
        return _(
            "You declared a conflict of interest on %(spp)s: you cannot record or override the "
            "committee's decision on it. The PMU (or you) names an acting chair, who records it."
        ) % {"spp": reference}
    if item.acting_chair_id and user.pk == item.meeting.chair_id:
        return _("%(name)s acts as chair for %(spp)s: they record the committee's decision on it.") % {
            "name": item.acting_chair.get_display_name(),
            "spp": reference,
        }
    return _(
        "Only the chair of the meeting (or the acting chair named for %(spp)s) records the committee's "
        "decision on it."
    ) % {"spp": reference}


def may_name_acting_chair(user, item: AgendaItem) -> bool:
    """The PMU, or the meeting's chair (conflicted or not), names an item's acting chair."""
    return is_pmu(user) or (user.has_role(Role.TEC_MEMBER) and item.meeting.chair_id == user.pk)


def check_may_name_acting_chair(user, item: AgendaItem) -> None:
    require(
        may_name_acting_chair(user, item),
        _("Only the PMU or the chair of %(meeting)s names an acting chair.") % {"meeting": item.meeting},
    )


def acting_chair_candidates(item: AgendaItem) -> list[User]:
    """Members of the meeting who may act as chair on the item: not its chair, and without a declared
    conflict on it."""
    conflicted = set(item.declarations.filter(has_conflict=True).values_list("member_id", flat=True))
    return [
        member
        for member in item.meeting.members.order_by("last_name", "username")
        if member.pk != item.meeting.chair_id and member.pk not in conflicted
    ]


def name_acting_chair(*, user, item: AgendaItem, member: User | None, reason: str = "") -> AgendaItem:
    """Name (or, with member None, withdraw) the acting chair of an agenda item, with the reason the
    minutes give. Logged on the item (who, when, from whom to whom, why)."""
    check_may_name_acting_chair(user, item)
    reason = (reason or "").strip()
    with transaction.atomic():
        locked = AgendaItem.objects.select_for_update().select_related("meeting", "proposal").get(pk=item.pk)
        if not open_for_scoring(locked):
            _refuse(
                _("%(spp)s is no longer under evaluation: its chair can no longer change.")
                % {"spp": locked.proposal.reference},
                "wrong_state",
            )
        if member is not None:
            name = member.get_display_name()
            if not locked.meeting.members.filter(pk=member.pk).exists() or not member.has_role(
                Role.TEC_MEMBER
            ):
                _refuse(
                    _("%(name)s does not sit on %(meeting)s.") % {"name": name, "meeting": locked.meeting},
                    "acting_chair",
                )
            if member.pk == locked.meeting.chair_id:
                _refuse(_("%(name)s chairs the meeting already.") % {"name": name}, "acting_chair")
            if has_declared_conflict(member.pk, locked):
                _refuse(
                    _("%(name)s declared a conflict of interest on %(spp)s and cannot act as its chair.")
                    % {"name": name, "spp": locked.proposal.reference},
                    "acting_chair",
                )
            if not reason:
                _refuse(_("Reason: say why an acting chair is needed (it goes in the minutes)."), "reason")
        previous = locked.acting_chair
        locked.acting_chair = member
        locked.acting_chair_reason = reason if member is not None else ""
        locked.save(update_fields=["acting_chair", "acting_chair_reason"])
        lifecycle.record(
            locked,
            "name_acting_chair",
            user,
            reason,
            from_state=previous.username[:40] if previous else "",
            to_state=member.username[:40] if member else "",
        )
    return locked


OUTCOME_BY_ACTION = {
    "recommend": DecisionOutcome.RECOMMENDED,
    "recommend_with_conditions": DecisionOutcome.RECOMMENDED_WITH_CONDITIONS,
    "request_revision": DecisionOutcome.REVISION_REQUESTED,
    "not_recommend": DecisionOutcome.NOT_RECOMMENDED,
}


def decision_ready(
    proposal: Proposal,
    *,
    _user=None,
    _action: str = "",
    conditions: list[str] | None = None,
    override_reason: str = "",
    **_params,
) -> None:
    """Guard of the committee's decisions: an agenda item, and every non-conflicted member's submitted
    scores, or the chair's recorded override with a reason."""
    item = current_agenda_item(proposal)
    if item is None:
        _refuse(_("%(spp)s is not on any TEC meeting's agenda.") % {"spp": proposal.reference}, "no_agenda")
    if hasattr(item, "decision"):
        _refuse(_("The committee has already decided on %(spp)s.") % {"spp": proposal.reference}, "decided")
    override_reason = (override_reason or "").strip()
    if override_reason and not (_user is not None and presides(_user, item)):
        # The conflicted chair, or the chair replaced by an acting chair, hears why; anyone else the rule.
        if _user is not None and _user.pk in {item.meeting.chair_id, item.acting_chair_id}:
            raise Forbidden(why_not_presiding(_user, item))
        raise Forbidden(
            _(
                "Only the chair of the meeting (or the acting chair named for the proposal) can decide "
                "without every member's scores."
            )
        )
    consolidation = consolidate(item)
    if not consolidation.complete and not override_reason:
        waiting = ", ".join(row.member.get_display_name() for row in consolidation.waiting_for) or _(
            "everyone"
        )
        _refuse(
            _(
                "Scores are missing from: %(names)s. Wait for them, or record the chair's override "
                "with a reason."
            )
            % {"names": waiting},
            "scores_missing",
        )
    if _action == "recommend_with_conditions" and not [c for c in (conditions or []) if c.strip()]:
        _refuse(_("List the conditions of the recommendation."), "conditions")


def record_decision(
    proposal: Proposal,
    *,
    _action: str,
    _user,
    _comment: str,
    conditions: list[str] | None = None,
    override_reason: str = "",
    **_params,
) -> list[str]:
    """Effect of the committee's decisions: the Decision row, and its conditions one by one."""
    item = current_agenda_item(proposal)
    decision = Decision.objects.create(
        agenda_item=item,
        outcome=OUTCOME_BY_ACTION[_action],
        text=_comment,
        decided_by=_user,
        decided_at=timezone.now(),
        override_reason=(override_reason or "").strip(),
        mean_score=consolidate(item).mean,
    )
    for position, text in enumerate(c.strip() for c in (conditions or []) if c.strip()):
        Condition.objects.create(proposal=proposal, decision=decision, text=text, position=position)
    return []


def open_conditions_block_award(proposal: Proposal) -> None:
    """Every open condition of the proposal blocks its award: the TEC recommendation's and those of
    the PMU's E&S clearance (Condition.es_review set), counted in one query and named apart."""
    counts = proposal.conditions.filter(met=False).aggregate(
        tec=Count("pk", filter=Q(es_review__isnull=True)), es=Count("pk", filter=Q(es_review__isnull=False))
    )
    parts = []
    if counts["tec"]:
        parts.append(
            _("%(count)s condition(s) of the TEC recommendation are still open") % {"count": counts["tec"]}
        )
    if counts["es"]:
        parts.append(
            _("%(count)s E&S condition(s) of the PMU's E&S clearance are still open")
            % {"count": counts["es"]}
        )
    if parts:
        _refuse(
            _("%(open)s; check them off before the award.") % {"open": "; ".join(parts)},
            "conditions_open",
        )


def meet_condition(*, user, condition: Condition, note: str) -> Condition:
    require(may_meet_conditions(user), _("Only PMU officers check conditions off."))
    note = (note or "").strip()
    if not note and not condition.evidence:
        _refuse(_("Say how the condition was met (a note, or the PO's evidence)."), "note_required")
    with transaction.atomic():
        locked = Condition.objects.select_for_update().get(pk=condition.pk)
        if locked.met:
            _refuse(_("This condition is already checked off."), "wrong_state")
        if locked.proposal.status == ProposalStatus.AWARDED:
            _refuse(_("The sub-project is already awarded."), "wrong_state")
        locked.met, locked.met_note, locked.met_by, locked.met_at = True, note, user, timezone.now()
        locked.save()
    return locked


def add_evidence(*, user, condition: Condition, evidence: str) -> Condition:
    require(
        may_add_evidence(user, condition.proposal), _("Only the PO's staff add evidence to its conditions.")
    )
    evidence = (evidence or "").strip()
    if not evidence:
        _refuse(_("Describe the evidence."), "evidence_required")
    with transaction.atomic():
        locked = Condition.objects.select_for_update().get(pk=condition.pk)
        if locked.met:
            _refuse(_("This condition is already checked off."), "wrong_state")
        locked.evidence, locked.evidence_at = evidence, timezone.now()
        locked.save()
    return locked


def member_agenda(user) -> list[AgendaItem]:
    """A member's queue: proposals under evaluation on the agendas of their meetings (with their
    declarations and sheets, for declaration_of() and sheet_of())."""
    return list(
        AgendaItem.objects.filter(
            meeting__members=user, proposal__status=ProposalStatus.UNDER_EVALUATION, decision__isnull=True
        )
        .select_related("meeting", "proposal__partner_organization")
        .prefetch_related("declarations", "score_sheets")
        .order_by("meeting__held_on", "position")
    )
