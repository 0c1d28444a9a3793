"""Releases to POs (issue 14): the release schedule of each sub-project (milestones and tranches, set at
award and adjusted by the PMU) and the releases of its tranches, from PKSF to the PO. Business rules
live here; pages, the API, the demo data and the tests all call them.

- The schedule (`create_default_schedule`): at award, the advance (no milestone), then one tranche per
  further percentage of settings.FINANCE_DEFAULT_TRANCHES, each tied to a new milestone. The World
  Bank and PKSF shares of the sub-project are split by the percentages, rounded so that each
  financier's tranches add up exactly to its approved share. The PO's contribution is the PO's own
  money: it is never released.
- Editing it (`edit_schedule`): PMU officers and the PMU's finance officers (belonging to no PO), while
  the tranche has no active release; per financier the tranches never add up to more than the
  approved share.
- Milestones (MILESTONE_RULES): the PO reports one done with its evidence; the PMU may send it back.
- Releases (`request_release`, RELEASE_RULES): the PO requests a tranche once its milestone is
  reported done and the previous tranches are transferred; the PMU checks; PKSF finance approves (not
  the person who checked it) and records the transfer. A release never exceeds, per financier, what is
  approved and not yet held by another active release: the check runs under a lock of the
  sub-project's row, so concurrent requests cannot together exceed it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import partial
from typing import Any

from celery import shared_task
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import DecimalField, ExpressionWrapper, F, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.utils.translation import gettext_noop

from core import lifecycle
from core.emails import in_language_of, send_once
from core.errors import ActionRefused, Forbidden
from core.numbers import bdt
from core.roles import GROUP_NAMES, Role
from core.waiting import WaitingItem
from finance.models import (
    ACTIVE_RELEASE_STATUSES,
    Milestone,
    MilestoneStatus,
    Release,
    ReleaseStatus,
    Tranche,
    is_pmu_finance,
    sees_all_money,
)
from finance.models.common import belongs_to_no_po as common_belongs_to_no_po
from finance.models.common import is_pmu_money_side, may_read_money
from subprojects.models import SubProject, SubProjectStatus

ZERO = Decimal("0")
CENT = Decimal("0.01")
TAKA = Decimal("1")
PER_KIND_LIMIT = 100
# The completion milestone falls about three months before the sub-project's end.
COMPLETION_BEFORE_END = timedelta(days=91)
# A tranche tied to a milestone is planned about a month after the milestone is due.
RELEASE_AFTER_MILESTONE = timedelta(days=30)
# A step written with a past date (core.lifecycle.replay_history: demo data, records carried over) is
# history, not news: only what happens now is announced.
NEWS_WITHIN = timedelta(hours=1)


@dataclass(frozen=True)
class Financier:
    """A financier whose share is released in tranches (the PO's contribution never is)."""

    code: str
    label: str | Promise
    budget_field: str  # on SubProject
    amount_field: str  # on Tranche and Release


FINANCIERS = (
    Financier("world_bank", _lazy("World Bank"), "budget_world_bank", "amount_world_bank"),
    Financier("pksf", _lazy("PKSF"), "budget_pksf", "amount_pksf"),
)
FINANCIER_CHOICES = [(f.code, f.label) for f in FINANCIERS]


def money(value: Decimal | int | None) -> str:
    """BDT grouped by lakh and crore, paisa only when there are any: 12,34,567 or 1,234.50."""
    return bdt(Decimal(value or 0))


# --- Who ------------------------------------------------------------------------------------------


def is_po_staff(user, po_id: int | None = None) -> bool:
    """Staff of a PO (of this PO, when given): a PO's finance officer is one of its staff too."""
    return bool(
        user is not None
        and user.is_authenticated
        and user.partner_organization_id is not None
        and user.has_role(Role.PO_STAFF)
        and (po_id is None or user.partner_organization_id == po_id)
    )


may_read = may_read_money


belongs_to_no_po = common_belongs_to_no_po


# PMU officers and the PMU's finance officers (belonging to no PO); never a PO.
may_edit_schedule = is_pmu_money_side


def is_pmu_checker(user) -> bool:
    """A PMU officer belonging to no PO: checks the releases requested."""
    return bool(
        user is not None
        and user.is_authenticated
        and user.partner_organization_id is None
        and user.has_role(Role.PMU_OFFICER)
    )


def sub_projects_for(user) -> QuerySet:
    """The sub-projects whose money this user may see: all for the PMU's side (its finance officers
    included), the PO's own for its staff, none for anyone else."""
    if not may_read(user):
        return SubProject.objects.none()
    if sees_all_money(user):
        return SubProject.objects.all()
    return SubProject.objects.filter(partner_organization_id=user.partner_organization_id)


# --- The default schedule -------------------------------------------------------------------------


def default_percentages() -> tuple[int, ...]:
    shares = tuple(settings.FINANCE_DEFAULT_TRANCHES)
    if not shares or any(share < 0 for share in shares) or sum(shares) != 100:
        raise ImproperlyConfigured(f"FINANCE_DEFAULT_TRANCHES must add up to 100, not {shares!r}")
    return shares


def split(total: Decimal, percentages: Iterable[int]) -> list[Decimal]:
    """`total` split by `percentages` (adding up to 100), to the taka, adding up exactly to `total`: each
    part is the rounded cumulative share less the one before, and the last takes what is left."""
    percentages = list(percentages)
    total = Decimal(total)
    parts: list[Decimal] = []
    cumulative, before = 0, ZERO
    for index, percentage in enumerate(percentages):
        cumulative += percentage
        if index == len(percentages) - 1:
            upto = total
        else:
            upto = (total * cumulative / 100).quantize(TAKA, rounding=ROUND_HALF_UP)
            upto = min(upto, total)
        parts.append(upto - before)
        before = upto
    return parts


def _milestone_titles(count: int) -> list[str]:
    """The milestones of a schedule with `count` tranches: `count - 1` of them, the last the completion.
    Stored data, in English (marked for translation all the same)."""
    titles = []
    for index in range(1, count):
        if index == count - 1:
            titles.append(gettext_noop("Completion: work plan done"))
        elif 2 * index == count - 1:
            titles.append(
                gettext_noop("Mid-term: half of the work plan done and the advance's spending reported")
            )
        else:
            titles.append(
                gettext_noop(
                    "Progress review %(number)s: the work plan on track and the previous tranche's "
                    "spending reported"
                )
                % {"number": index}
            )
    return titles


def _milestone_dates(sub_project: SubProject, count: int) -> list[date]:
    """Evenly spread over the implementation; the completion about three months before the end."""
    start, end = sub_project.start_date, sub_project.end_date
    length = (end - start).days
    dates: list[date] = []
    for index in range(1, count):
        if index == count - 1:
            due = max(end - COMPLETION_BEFORE_END, start + timedelta(days=length * index // count))
        else:
            due = start + timedelta(days=length * index // (count - 1))
        if dates and due <= dates[-1]:
            due = min(dates[-1] + timedelta(days=1), end)
        dates.append(due)
    return dates


def create_default_schedule(sub_project: SubProject) -> list[Tranche]:
    """The schedule set at award (see the module's doc). A sub-project that has one keeps it (safe to
    call again). A financier share of zero gives no amount; a tranche of nothing is left out."""
    percentages = default_percentages()
    with transaction.atomic():
        locked = SubProject.objects.select_for_update().get(pk=sub_project.pk)
        existing = list(Tranche.objects.filter(sub_project=locked).order_by("number"))
        if existing or Milestone.objects.filter(sub_project=locked).exists():
            return existing
        amounts = {f.code: split(getattr(locked, f.budget_field), percentages) for f in FINANCIERS}
        titles = _milestone_titles(len(percentages))
        dates = _milestone_dates(locked, len(percentages))
        tranches: list[Tranche] = []
        milestone_number = 0
        for index in range(len(percentages)):
            values = {f.amount_field: amounts[f.code][index] for f in FINANCIERS}
            if not any(values.values()):
                continue
            milestone = None
            planned_on = locked.start_date
            if index:
                milestone_number += 1
                milestone = Milestone.objects.create(
                    sub_project=locked,
                    partner_organization_id=locked.partner_organization_id,
                    number=milestone_number,
                    title=titles[index - 1],
                    due_on=dates[index - 1],
                )
                planned_on = min(milestone.due_on + RELEASE_AFTER_MILESTONE, locked.end_date)
            tranches.append(
                Tranche.objects.create(
                    sub_project=locked,
                    partner_organization_id=locked.partner_organization_id,
                    number=len(tranches) + 1,
                    title=gettext_noop("Advance") if not index else titles[index - 1].split(":")[0],
                    milestone=milestone,
                    planned_on=planned_on,
                    **values,
                )
            )
    return tranches


def create_default_schedule_for(user, sub_project: SubProject) -> list[Tranche]:
    """The PMU's "create the default schedule" for a sub-project awarded without one."""
    if not may_edit_schedule(user):
        raise Forbidden(_("Only the PMU's officers and finance officers set release schedules."))
    if not sub_project.is_amendable:
        raise ActionRefused(
            _("A %(state)s sub-project's schedule is final.") % {"state": sub_project.get_status_display()},
            code="wrong_state",
        )
    if Tranche.objects.filter(sub_project=sub_project).exists():
        raise ActionRefused(
            _("%(ref)s already has a release schedule.") % {"ref": sub_project.agreement_number},
            code="exists",
        )
    return create_default_schedule(sub_project)


# --- Figures --------------------------------------------------------------------------------------


def _sum(field: str, condition: Q | None = None) -> Coalesce:
    return Coalesce(
        Sum(field, filter=condition), Value(ZERO), output_field=DecimalField(max_digits=16, decimal_places=2)
    )


def financier_rows(sub_project: SubProject) -> list[dict[str, Any]]:
    """Per financier: approved, scheduled (the tranches), held (active releases), transferred,
    in progress (held, not yet transferred), remaining (approved less held) and the schedule's gap
    (approved less scheduled: positive when the tranches add up to less). Two grouped queries."""
    active = Q(status__in=ACTIVE_RELEASE_STATUSES)
    done = Q(status=ReleaseStatus.TRANSFERRED)
    aggregates: dict[str, Any] = {}
    for f in FINANCIERS:
        aggregates[f"{f.code}_held"] = _sum(f.amount_field, active)
        aggregates[f"{f.code}_transferred"] = _sum(f.amount_field, done)
    releases = Release.objects.filter(sub_project=sub_project).aggregate(**aggregates)
    scheduled = Tranche.objects.filter(sub_project=sub_project).aggregate(
        **{f.code: _sum(f.amount_field) for f in FINANCIERS}
    )
    rows = []
    for f in FINANCIERS:
        approved = getattr(sub_project, f.budget_field)
        held, transferred = releases[f"{f.code}_held"], releases[f"{f.code}_transferred"]
        rows.append(
            {
                "code": f.code,
                "label": f.label,
                "amount_field": f.amount_field,
                "approved": approved,
                "scheduled": scheduled[f.code],
                "gap": approved - scheduled[f.code],
                "held": held,
                "transferred": transferred,
                "in_progress": held - transferred,
                "remaining": approved - held,
            }
        )
    return rows


def with_money(queryset: QuerySet) -> QuerySet:
    """Sub-projects annotated, per financier, with what is scheduled, held by active releases and
    transferred (one query: correlated sums)."""

    def summed(model, field: str, condition: Q) -> Coalesce:
        rows = (
            model.objects.filter(condition, sub_project=OuterRef("pk"))
            .order_by()
            .values("sub_project")
            .annotate(total=Sum(field))
            .values("total")
        )
        return Coalesce(
            Subquery(rows), Value(ZERO), output_field=DecimalField(max_digits=16, decimal_places=2)
        )

    annotations: dict[str, Any] = {}
    for f in FINANCIERS:
        annotations[f"{f.code}_scheduled"] = summed(Tranche, f.amount_field, Q())
        annotations[f"{f.code}_held"] = summed(Release, f.amount_field, Q(status__in=ACTIVE_RELEASE_STATUSES))
        annotations[f"{f.code}_transferred"] = summed(
            Release, f.amount_field, Q(status=ReleaseStatus.TRANSFERRED)
        )
    remaining = {
        f"{f.code}_remaining": ExpressionWrapper(
            F(f.budget_field) - F(f"{f.code}_held"),
            output_field=DecimalField(max_digits=16, decimal_places=2),
        )
        for f in FINANCIERS
    }
    return queryset.annotate(**annotations).annotate(**remaining)


def previous_tranche(tranche: Tranche) -> Tranche | None:
    return (
        Tranche.objects.filter(sub_project_id=tranche.sub_project_id, number__lt=tranche.number)
        .order_by("-number")
        .first()
    )


# --- Requesting a release -------------------------------------------------------------------------


def earlier_not_transferred(tranche: Tranche) -> Tranche | None:
    """The first tranche before this one (lower number) not yet transferred: tranches go in order."""
    return (
        Tranche.objects.filter(sub_project_id=tranche.sub_project_id, number__lt=tranche.number)
        .exclude(releases__status=ReleaseStatus.TRANSFERRED)
        .order_by("number")
        .first()
    )


def request_refusal(tranche: Tranche) -> ActionRefused | None:
    """Why `tranche` cannot be requested now (None: it can). Read under the sub-project's lock by
    `request_release`; pages and the API call it to say why there is no "request" button."""
    sub_project = tranche.sub_project
    label = _("Tranche %(number)s") % {"number": tranche.number}
    if sub_project.status != SubProjectStatus.ACTIVE:
        return ActionRefused(
            _("%(ref)s is %(state)s: releases are requested only for an active sub-project.")
            % {"ref": sub_project.agreement_number, "state": sub_project.get_status_display()},
            code="sub_project_not_active",
        )
    held = Release.objects.filter(tranche=tranche).active().first()
    if held is not None:
        return ActionRefused(
            _("%(tranche)s already has a release, %(ref)s, which is %(state)s.")
            % {"tranche": label, "ref": held.reference, "state": held.get_status_display()},
            code="already_requested",
        )
    milestone = tranche.milestone
    if milestone is not None and milestone.status != MilestoneStatus.REPORTED:
        return ActionRefused(
            _(
                "%(tranche)s is released after milestone %(number)s (“%(title)s”), which is not yet "
                "reported done."
            )
            % {"tranche": label, "number": milestone.number, "title": _(milestone.title)},
            code="milestone_not_reported",
        )
    earlier = earlier_not_transferred(tranche)
    if earlier is not None:
        return ActionRefused(
            _("Tranche %(earlier)s must be transferred before %(tranche)s is requested.")
            % {"earlier": earlier.number, "tranche": label},
            code="previous_not_transferred",
        )
    held_by = (
        Release.objects.filter(sub_project_id=sub_project.pk)
        .active()
        .aggregate(**{f.code: _sum(f.amount_field) for f in FINANCIERS})
    )
    for f in FINANCIERS:
        amount = getattr(tranche, f.amount_field)
        approved = getattr(sub_project, f.budget_field)
        available = approved - held_by[f.code]
        if amount > available:
            return ActionRefused(
                _(
                    "The %(financier)s share of %(tranche)s (%(amount)s BDT) is more than what is approved "
                    "and not yet released: %(available)s BDT (approved %(approved)s BDT, of which "
                    "%(held)s BDT requested or released already)."
                )
                % {
                    "financier": f.label,
                    "tranche": label,
                    "amount": money(amount),
                    "available": money(max(available, ZERO)),
                    "approved": money(approved),
                    "held": money(held_by[f.code]),
                },
                code="over_approved",
            )
    return None


def release_reference(sub_project: SubProject, tranche: Tranche, earlier_requests: int) -> str:
    """REL-<agreement>-T<n>, with -2, -3... when the tranche is requested again after a return."""
    suffix = f"-{earlier_requests + 1}" if earlier_requests else ""
    reference = f"REL-{sub_project.agreement_number}-T{tranche.number}{suffix}"
    max_length = Release._meta.get_field("reference").max_length or 40
    if len(reference) > max_length:
        reference = f"REL-SP{sub_project.pk}-T{tranche.number}{suffix}"
    return reference


def request_release(user, tranche: Tranche, justification: str) -> Release:
    """The PO's request for `tranche`, with its amounts, logged as the event "request". Raises Forbidden
    for anyone but the staff of the sub-project's PO, ValidationError for a missing justification,
    ActionRefused for the rest (see `request_refusal`); changes nothing then."""
    if not is_po_staff(user, tranche.partner_organization_id):
        raise Forbidden(_("Only the staff of the sub-project's PO request its releases."))
    justification = (justification or "").strip()
    if not justification:
        raise ValidationError(
            {
                "justification": _(
                    "Say why the tranche is due: milestones reached, spending, conditions closed."
                )
            }
        )
    from core import integrity

    with transaction.atomic():
        # Every request of the sub-project waits here for the one before: the cap is read after it.
        sub_project = SubProject.objects.select_for_update().get(pk=tranche.sub_project_id)
        locked = Tranche.objects.select_related("milestone").get(pk=tranche.pk)
        locked.sub_project = sub_project
        refusal = request_refusal(locked)
        if refusal is not None:
            raise refusal
        now = timezone.now()
        release = Release(
            sub_project=sub_project,
            partner_organization_id=sub_project.partner_organization_id,
            tranche=locked,
            reference=release_reference(sub_project, locked, Release.objects.filter(tranche=locked).count()),
            amount_world_bank=locked.amount_world_bank,
            amount_pksf=locked.amount_pksf,
            justification=justification,
            status=ReleaseStatus.REQUESTED,
            requested_by=user,
            requested_at=now,
            status_changed_at=now,
        )

        def recheck() -> None:
            again = request_refusal(locked)
            if again is not None:
                raise again

        with integrity.refusing_races(recheck, where="request_release"):
            release.save()
        lifecycle.record(
            release, "request", user, justification, from_state="", to_state=ReleaseStatus.REQUESTED, at=now
        )
    return release


# --- Editing the schedule -------------------------------------------------------------------------


def _active_release(tranche: Tranche) -> Release | None:
    return Release.objects.filter(tranche=tranche).active().first()


def _refuse_locked(tranche: Tranche, release: Release) -> ActionRefused:
    return ActionRefused(
        _(
            "Tranche %(number)s has an active release, %(ref)s (%(state)s): it cannot change until "
            "that release is returned or withdrawn."
        )
        % {"number": tranche.number, "ref": release.reference, "state": release.get_status_display()},
        code="tranche_locked",
    )


def _within(sub_project: SubProject, value: date | None, first: date) -> bool:
    return value is None or first <= value <= sub_project.end_date


MILESTONE_FIELDS = ("title", "due_on")
TRANCHE_FIELDS = ("title", "milestone", "amount_world_bank", "amount_pksf", "planned_on")


def edit_schedule(
    user,
    sub_project: SubProject,
    *,
    milestones: Iterable[dict[str, Any]] = (),
    tranches: Iterable[dict[str, Any]] = (),
) -> None:
    """The PMU changes a sub-project's schedule, all or nothing. Each row is a dict: `id` (None: a new
    row), its fields (MILESTONE_FIELDS / TRANCHE_FIELDS; a tranche's `milestone` a Milestone, an id or
    None) and `delete`. Rows not given stay as they are.

    Refused, and nothing changes: Forbidden (not the PMU's side); ActionRefused for a final sub-project,
    a tranche with an active release (it cannot change) or a row that cannot be deleted;
    ValidationError by field for the rest, notably when a financier's tranches would add up to more
    than its approved share."""
    if not may_edit_schedule(user):
        raise Forbidden(_("Only the PMU's officers and finance officers edit release schedules."))
    milestones, tranches = list(milestones), list(tranches)
    with transaction.atomic():
        locked = SubProject.objects.select_for_update().get(pk=sub_project.pk)
        if not locked.is_amendable:
            raise ActionRefused(
                _("A %(state)s sub-project's schedule is final.") % {"state": locked.get_status_display()},
                code="wrong_state",
            )
        current_milestones = {m.pk: m for m in Milestone.objects.filter(sub_project=locked)}
        current_tranches = {
            t.pk: t for t in Tranche.objects.filter(sub_project=locked).select_related("milestone")
        }
        errors: dict[str, list[str]] = {}

        def problem(field: str, message: str) -> None:
            errors.setdefault(field, []).append(message)

        # Milestones first: a tranche may then name one kept.
        deleted_milestones: set[int] = set()
        milestone_saves: list[Milestone] = []
        milestone_numbers = max([m.number for m in current_milestones.values()] + [0])
        for row in milestones:
            pk = row.get("id")
            milestone = current_milestones.get(pk) if pk else None
            if pk and milestone is None:
                problem("id", _("No milestone %(id)s in this sub-project.") % {"id": pk})
                continue
            if row.get("delete"):
                if milestone is None:
                    continue
                if milestone.status == MilestoneStatus.REPORTED:
                    raise ActionRefused(
                        _("Milestone %(number)s is reported done: it cannot be deleted.")
                        % {"number": milestone.number},
                        code="milestone_reported",
                    )
                deleted_milestones.add(milestone.pk)
                continue
            title = str(row.get("title") or "").strip()
            due_on = row.get("due_on")
            if not title:
                problem("title", _("Give the milestone's title."))
            if due_on is None:
                problem("due_on", _("Give the date the milestone is due."))
            elif not _within(locked, due_on, locked.start_date):
                problem(
                    "due_on",
                    _("A milestone falls within the implementation, %(start)s to %(end)s.")
                    % {"start": locked.start_date.isoformat(), "end": locked.end_date.isoformat()},
                )
            if milestone is None:
                milestone_numbers += 1
                milestone = Milestone(
                    sub_project=locked,
                    partner_organization_id=locked.partner_organization_id,
                    number=milestone_numbers,
                    status=MilestoneStatus.PLANNED,
                )
            elif (title, due_on) != (milestone.title, milestone.due_on):
                for tranche in current_tranches.values():
                    release = _active_release(tranche) if tranche.milestone_id == milestone.pk else None
                    if release is not None:
                        raise ActionRefused(
                            _(
                                "Milestone %(number)s: its tranche %(tranche)s has an active release, "
                                "%(ref)s, so it cannot change."
                            )
                            % {
                                "number": milestone.number,
                                "tranche": tranche.number,
                                "ref": release.reference,
                            },
                            code="tranche_locked",
                        )
            milestone.title, milestone.due_on = title, due_on
            milestone_saves.append(milestone)

        # Then the tranches, checked one by one and then together.
        deleted_tranches: set[int] = set()
        tranche_saves: list[Tranche] = []
        new_numbers = max([t.number for t in current_tranches.values()] + [0])
        kept_milestones = {pk for pk in current_milestones if pk not in deleted_milestones}
        for row in tranches:
            pk = row.get("id")
            tranche = current_tranches.get(pk) if pk else None
            if pk and tranche is None:
                problem("id", _("No tranche %(id)s in this sub-project.") % {"id": pk})
                continue
            release = _active_release(tranche) if tranche is not None else None
            if row.get("delete"):
                if tranche is None:
                    continue
                if release is not None:
                    raise _refuse_locked(tranche, release)
                if Release.objects.filter(tranche=tranche).exists():
                    raise ActionRefused(
                        _(
                            "Tranche %(number)s was requested before: it stays on the schedule (its "
                            "record is kept)."
                        )
                        % {"number": tranche.number},
                        code="tranche_requested",
                    )
                deleted_tranches.add(tranche.pk)
                continue
            values = {name: row[name] for name in TRANCHE_FIELDS if name in row}
            given = values.get("milestone", tranche.milestone_id if tranche else None)
            given = getattr(given, "pk", given)
            milestone_id: int | None = None
            if given not in ("", None):
                try:
                    milestone_id = int(str(given))
                except (TypeError, ValueError):
                    milestone_id = -1
                if milestone_id not in kept_milestones:
                    problem(
                        "milestone",
                        _("Choose a milestone of this sub-project's schedule (or none, for an advance)."),
                    )
                    milestone_id = None
            title = str(values.get("title", tranche.title if tranche else "") or "").strip()
            amounts = {}
            for f in FINANCIERS:
                raw = values.get(f.amount_field, getattr(tranche, f.amount_field) if tranche else ZERO)
                try:
                    amounts[f.amount_field] = Decimal(raw if raw not in (None, "") else 0).quantize(CENT)
                except ArithmeticError:
                    problem(f.amount_field, _("Give an amount in BDT."))
                    amounts[f.amount_field] = ZERO
            planned_on = values.get("planned_on", tranche.planned_on if tranche else None)
            if not title:
                problem("title", _("Give the tranche's title."))
            for f in FINANCIERS:
                if amounts[f.amount_field] < 0:
                    problem(f.amount_field, _("An amount cannot be negative."))
            if not any(amounts.values()):
                problem(
                    "amount_world_bank",
                    _("A tranche releases something: give a World Bank or a PKSF amount."),
                )
            if not _within(locked, planned_on, locked.award_date):
                problem(
                    "planned_on",
                    _("A tranche is planned between the award (%(start)s) and the end (%(end)s).")
                    % {"start": locked.award_date.isoformat(), "end": locked.end_date.isoformat()},
                )
            if tranche is None:
                new_numbers += 1
                tranche = Tranche(
                    sub_project=locked,
                    partner_organization_id=locked.partner_organization_id,
                    number=new_numbers,
                )
            else:
                before = (
                    tranche.title,
                    tranche.milestone_id,
                    tranche.amount_world_bank,
                    tranche.amount_pksf,
                    tranche.planned_on,
                )
                after = (
                    title,
                    milestone_id,
                    amounts["amount_world_bank"],
                    amounts["amount_pksf"],
                    planned_on,
                )
                if before != after and release is not None:
                    raise _refuse_locked(tranche, release)
            tranche.title, tranche.milestone_id, tranche.planned_on = title, milestone_id, planned_on
            tranche.amount_world_bank = amounts["amount_world_bank"]
            tranche.amount_pksf = amounts["amount_pksf"]
            tranche_saves.append(tranche)

        # A deleted milestone named by a tranche that stays.
        # (The rows given were changed in place: `current_tranches` holds the schedule as it would be.)
        final = [t for t in current_tranches.values() if t.pk not in deleted_tranches]
        final += [t for t in tranche_saves if t.pk is None]
        if deleted_milestones:
            named = {t.milestone_id for t in final} & deleted_milestones
            if named:
                numbers = sorted(current_milestones[pk].number for pk in named)
                problem(
                    "milestone",
                    _(
                        "Milestone %(numbers)s is still named by a tranche: choose another milestone for it "
                        "first."
                    )
                    % {"numbers": ", ".join(str(n) for n in numbers)},
                )

        # Per financier, the tranches never add up to more than the approved share.
        for f in FINANCIERS:
            total = sum((getattr(t, f.amount_field) for t in final), ZERO)
            approved = getattr(locked, f.budget_field)
            if total > approved:
                problem(
                    f.amount_field,
                    _(
                        "The tranches' %(financier)s shares would add up to %(total)s BDT, more than the "
                        "approved %(financier)s share of %(approved)s BDT (by %(excess)s BDT)."
                    )
                    % {
                        "financier": f.label,
                        "total": money(total),
                        "approved": money(approved),
                        "excess": money(total - approved),
                    },
                )
        if errors:
            raise ValidationError(errors)

        # Written: the tranches deleted, the milestones, the tranches, then the milestones deleted (no
        # tranche names them any more). Numbers stay as they are: a gap is fine.
        Tranche.objects.filter(pk__in=deleted_tranches).delete()
        for milestone in milestone_saves:
            milestone.full_clean(exclude=["sub_project", "partner_organization"])
            milestone.save()
        for tranche in tranche_saves:
            tranche.full_clean(exclude=["sub_project", "partner_organization", "milestone"])
            tranche.save()
        Milestone.objects.filter(pk__in=deleted_milestones).delete()


def tranche_is_locked(tranche: Tranche) -> bool:
    return Release.objects.filter(tranche=tranche).active().exists()


# --- The milestone's lifecycle --------------------------------------------------------------------


def milestone_report_problems(milestone: Milestone, reported_on: date | None) -> dict[str, str]:
    """What is wrong with a milestone's report (the form, the API and the engine's guard share it)."""
    problems: dict[str, str] = {}
    if reported_on is None:
        return problems
    if reported_on > timezone.localdate():
        problems["reported_on"] = _("The date it was done cannot be in the future.")
    elif reported_on < milestone.sub_project.start_date:
        problems["reported_on"] = _(
            "The date it was done cannot be before the sub-project started (%(start)s)."
        ) % {"start": milestone.sub_project.start_date.isoformat()}
    return problems


def _refuse(problems: dict[str, str]) -> None:
    if problems:
        raise ActionRefused(" ".join(problems.values()), code="invalid")


def milestone_report_valid(milestone: Milestone, **context) -> None:
    """GUARD: a sub-project still running, and a date done neither in the future nor before the start."""
    if not milestone.sub_project.is_amendable:
        raise ActionRefused(
            _("%(ref)s is %(state)s: its milestones are final.")
            % {
                "ref": milestone.sub_project.agreement_number,
                "state": milestone.sub_project.get_status_display(),
            },
            code="wrong_state",
        )
    _refuse(milestone_report_problems(milestone, context.get("reported_on")))


def record_milestone_report(milestone: Milestone, **context) -> list[str]:
    """EFFECT: the comment is the evidence; the date done is today unless given."""
    milestone.reported_on = context.get("reported_on") or timezone.localdate()
    milestone.evidence = context["_comment"]
    return ["reported_on", "evidence"]


def milestone_unused(milestone: Milestone, **context) -> None:
    """GUARD: a milestone whose tranche has an active release stays reported (return the release first)."""
    release = Release.objects.filter(tranche__milestone=milestone).active().order_by("pk").first()
    if release is not None:
        raise ActionRefused(
            _(
                "Tranche %(tranche)s was requested on this milestone (%(ref)s, %(state)s): return that "
                "release first."
            )
            % {
                "tranche": release.tranche.number,
                "ref": release.reference,
                "state": release.get_status_display(),
            },
            code="milestone_in_use",
        )


def clear_milestone_report(milestone: Milestone, **context) -> list[str]:
    """EFFECT: back to planned; the report stays in the history."""
    milestone.reported_on = None
    milestone.evidence = ""
    return ["reported_on", "evidence"]


PMU_MONEY = (Role.PMU_OFFICER, Role.FINANCE_OFFICER)
NO_PO = {"who": "belongs_to_no_po"}

MILESTONE_RULES = [
    lifecycle.rule(
        "report",
        _lazy("Report done"),
        [MilestoneStatus.PLANNED],
        MilestoneStatus.REPORTED,
        (Role.PO_STAFF,),
        po_owned=True,
        comment_required=True,
        params=("reported_on",),
        guards=("milestone_report_valid",),
        effect="record_milestone_report",
        button=False,  # from its own form (the evidence and the date)
    ),
    lifecycle.rule(
        "send_back",
        _lazy("Send back"),
        [MilestoneStatus.REPORTED],
        MilestoneStatus.PLANNED,
        PMU_MONEY,
        comment_required=True,
        style="danger",
        guards=("milestone_unused",),
        effect="clear_milestone_report",
        waits=False,
        **NO_PO,
    ),
]


# --- The release's lifecycle ----------------------------------------------------------------------


def sub_project_active(release: Release, **context) -> None:
    """GUARD: money moves only for an active sub-project (a suspended one waits)."""
    sub_project = release.sub_project
    if sub_project.status != SubProjectStatus.ACTIVE:
        raise ActionRefused(
            _("%(ref)s is %(state)s: its releases wait until it is active again.")
            % {"ref": sub_project.agreement_number, "state": sub_project.get_status_display()},
            code="sub_project_not_active",
        )


def checked_by(release: Release) -> int | None:
    """Who checked the release (the last "check" of its log), by id."""
    return (
        lifecycle.transitions_of(release)
        .filter(action="check")
        .order_by("-at", "-pk")
        .values_list("actor_id", flat=True)
        .first()
    )


def not_the_checker(release: Release, **context) -> None:
    """GUARD: segregation of duties: the person who checked a release does not approve it."""
    user = context.get("_user")
    if user is not None and checked_by(release) == user.pk:
        raise ActionRefused(
            _("You checked %(ref)s: another finance officer approves it (segregation of duties).")
            % {"ref": release.reference},
            code="segregation_of_duties",
        )


def approved_on(release: Release) -> date | None:
    """The day (local) the release was approved (its last "approve")."""
    at = (
        lifecycle.transitions_of(release)
        .filter(action="approve")
        .order_by("-at", "-pk")
        .values_list("at", flat=True)
        .first()
    )
    return timezone.localdate(at) if at else None


def transfer_problems(
    release: Release, transferred_on: date | None, transfer_reference: str | None
) -> dict[str, str]:
    """What is wrong with a transfer's details (the form, the API and the engine's guard share it)."""
    problems: dict[str, str] = {}
    if transferred_on is None:
        problems["transferred_on"] = _("Give the date of the transfer.")
    elif transferred_on > timezone.localdate():
        problems["transferred_on"] = _("The transfer date cannot be in the future.")
    else:
        approved = approved_on(release)
        if approved is not None and transferred_on < approved:
            problems["transferred_on"] = _("The transfer cannot be before the approval (%(date)s).") % {
                "date": approved.isoformat()
            }
    if not str(transfer_reference or "").strip():
        problems["transfer_reference"] = _("Give the bank transfer or cheque reference.")
    return problems


def transfer_valid(release: Release, **context) -> None:
    """GUARD: the transfer is dated (not in the future, not before the approval) and referenced."""
    _refuse(transfer_problems(release, context.get("transferred_on"), context.get("transfer_reference")))


def record_transfer_details(release: Release, **context) -> list[str]:
    release.transferred_on = context["transferred_on"]
    release.transfer_reference = str(context["transfer_reference"]).strip()
    return ["transferred_on", "transfer_reference"]


RELEASE_RULES = [
    lifecycle.rule(
        "check",
        _lazy("Checked: send to finance"),
        [ReleaseStatus.REQUESTED],
        ReleaseStatus.CHECKED,
        (Role.PMU_OFFICER,),
        guards=("sub_project_active",),
        **NO_PO,
    ),
    lifecycle.rule(
        "approve",
        _lazy("Approve the release"),
        [ReleaseStatus.CHECKED],
        ReleaseStatus.APPROVED,
        (Role.FINANCE_OFFICER,),
        guards=("sub_project_active", "not_the_checker"),
        **NO_PO,
    ),
    lifecycle.rule(
        "record_transfer",
        _lazy("Record the transfer"),
        [ReleaseStatus.APPROVED],
        ReleaseStatus.TRANSFERRED,
        (Role.FINANCE_OFFICER,),
        params=("transferred_on", "transfer_reference"),
        guards=("sub_project_active", "transfer_valid"),
        effect="record_transfer_details",
        button=False,  # from its own form (date and reference)
        **NO_PO,
    ),
    lifecycle.rule(
        "return",
        _lazy("Return to the PO"),
        [ReleaseStatus.REQUESTED, ReleaseStatus.CHECKED, ReleaseStatus.APPROVED],
        ReleaseStatus.RETURNED,
        PMU_MONEY,
        comment_required=True,
        style="danger",
        **NO_PO,
    ),
    lifecycle.rule(
        "withdraw",
        _lazy("Withdraw the request"),
        [ReleaseStatus.REQUESTED],
        ReleaseStatus.WITHDRAWN,
        (Role.PO_STAFF,),
        po_owned=True,
        style="secondary",
        confirm=_lazy("Withdraw this request? The tranche can be requested again later."),
        waits=False,
    ),
]


# --- Emails to whoever acts next ------------------------------------------------------------------

# Who acts next, by the state an object reaches: the PMU's side (PMU officers or finance officers of
# no PO) or the PO. The PO's staff hear of every step they did not take themselves.
NEXT_AT_PMU: dict[str, tuple[Role, ...]] = {
    f"release:{ReleaseStatus.REQUESTED}": (Role.PMU_OFFICER,),
    f"release:{ReleaseStatus.CHECKED}": (Role.FINANCE_OFFICER,),
    f"release:{ReleaseStatus.APPROVED}": (Role.FINANCE_OFFICER,),
    f"release:{ReleaseStatus.WITHDRAWN}": (Role.PMU_OFFICER,),
    f"milestone:{MilestoneStatus.REPORTED}": (Role.PMU_OFFICER,),
}


def transition_recipients(transition) -> list:
    """The sub-project's PO staff, and the PMU's side whose turn it is; never another PO's staff nor
    the actor (nor, when a PO acts, its own colleagues: they did it)."""
    from core.models import User

    subject = transition.subject
    kind = "release" if isinstance(subject, Release) else "milestone"
    audience = Q(
        groups__name=GROUP_NAMES[Role.PO_STAFF], partner_organization_id=subject.partner_organization_id
    )
    roles = NEXT_AT_PMU.get(f"{kind}:{transition.to_state}", ())
    if roles and transition.from_state != transition.to_state:
        audience |= Q(
            groups__name__in=[GROUP_NAMES[role] for role in roles], partner_organization__isnull=True
        )
    users = User.objects.filter(is_active=True).exclude(email="").filter(audience).distinct()
    actor = transition.actor
    if actor is not None:
        users = users.exclude(pk=actor.pk)
        if actor.partner_organization_id:
            users = users.exclude(partner_organization_id=actor.partner_organization_id)
    return list(users.order_by("pk"))


def transition_message(transition, user) -> EmailMessage:
    from subprojects.notifications import build_message

    message = build_message(transition, user)
    subject = transition.subject
    if transition.action == "request":
        message.subject = _("[SMART] %(ref)s: release requested by %(po)s") % {
            "ref": subject.reference,
            "po": subject.partner_organization.code,
        }
    return message


def send_transition(transition_id: int) -> int:
    from subprojects.models import Transition

    transition = Transition.objects.select_related("actor", "content_type").get(pk=transition_id)
    return send_once(
        (
            f"transition:{transition.pk}:user:{user.pk}",
            in_language_of(user, partial(transition_message, transition, user)),
        )
        for user in transition_recipients(transition)
    )


@shared_task(
    name="finance.releases.send_transition_emails",
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=5,
)
def send_transition_emails(transition_id: int) -> int:
    return send_transition(transition_id)


def _notify(transition) -> None:
    from core import outbox

    if transition.at >= timezone.now() - NEWS_WITHIN:
        outbox.enqueue(send_transition_emails, transition.pk)


MILESTONE_LIFECYCLE = lifecycle.Lifecycle(
    Milestone,
    MILESTONE_RULES,
    guards={"milestone_report_valid": milestone_report_valid, "milestone_unused": milestone_unused},
    effects={
        "record_milestone_report": record_milestone_report,
        "clear_milestone_report": clear_milestone_report,
    },
    who={"belongs_to_no_po": belongs_to_no_po},
    follow_up=_notify,
    url_name="finance:milestone-transition",
)

RELEASE_LIFECYCLE = lifecycle.Lifecycle(
    Release,
    RELEASE_RULES,
    guards={
        "sub_project_active": sub_project_active,
        "not_the_checker": not_the_checker,
        "transfer_valid": transfer_valid,
    },
    effects={"record_transfer_details": record_transfer_details},
    who={"belongs_to_no_po": belongs_to_no_po},
    follow_up=_notify,
    event_labels={"request": _lazy("Requested")},
    url_name="finance:release-transition",
)


# --- What the PMU sees when checking --------------------------------------------------------------


def check_context(release: Release) -> dict[str, Any]:
    """The release's case: its milestone and evidence, the previous tranche's release and the spending
    reported since, the sub-project's open conditions, and approved/released/remaining per financier."""
    from finance.models import Expenditure
    from subprojects.models import Condition

    tranche = release.tranche
    sub_project = release.sub_project
    earlier = previous_tranche(tranche)
    earlier_release = (
        Release.objects.filter(tranche=earlier, status=ReleaseStatus.TRANSFERRED)
        .order_by("-transferred_on")
        .first()
        if earlier is not None
        else None
    )
    spending = Expenditure.objects.reported().filter(sub_project=sub_project)
    since = Q(spent_on__gte=earlier_release.transferred_on) if earlier_release else None
    aggregates: dict[str, Any] = {"total": _sum("amount")}
    if since is not None:
        aggregates["since"] = _sum("amount", since)
    for f in FINANCIERS:
        aggregates[f"{f.code}_total"] = _sum("amount", Q(budget_line__financier=f.code))
        if since is not None:
            aggregates[f"{f.code}_since"] = _sum("amount", Q(budget_line__financier=f.code) & since)
    totals = spending.aggregate(**aggregates)
    spending_rows = [
        {"label": f.label, "total": totals[f"{f.code}_total"], "since": totals.get(f"{f.code}_since")}
        for f in FINANCIERS
    ]
    conditions = list(
        Condition.objects.filter(proposal_id=sub_project.proposal_id, met=False).order_by("position", "pk")
    )
    return {
        "milestone": tranche.milestone,
        "previous_tranche": earlier,
        "previous_release": earlier_release,
        "spending": totals,
        "spending_rows": spending_rows,
        "spending_since": earlier_release.transferred_on if earlier_release else None,
        "open_conditions": conditions,
        "financiers": financier_rows(sub_project),
    }


# --- Waiting on you -------------------------------------------------------------------------------


def releases_waiting(user) -> list[WaitingItem]:
    """PMU officers: releases to check; the PMU's finance officers: to approve and to transfer; a PO's
    staff: their returned releases not requested again."""
    if user is None or not user.is_authenticated:
        return []
    todo: list[tuple[Q, str]] = []
    if is_pmu_checker(user):
        todo.append((Q(status=ReleaseStatus.REQUESTED), str(RELEASE_RULES[0].label)))
    if is_pmu_finance(user):
        todo.append((Q(status=ReleaseStatus.CHECKED), str(RELEASE_RULES[1].label)))
        todo.append((Q(status=ReleaseStatus.APPROVED), str(RELEASE_RULES[2].label)))
    if is_po_staff(user):
        todo.append(
            (
                Q(status=ReleaseStatus.RETURNED, partner_organization_id=user.partner_organization_id)
                & ~Q(tranche__releases__status__in=ACTIVE_RELEASE_STATUSES),
                str(_("Request again")),
            )
        )
    items: list[WaitingItem] = []
    for condition, what in todo:
        rows = (
            Release.objects.filter(condition)
            .select_related("sub_project", "partner_organization", "tranche")
            .distinct()
            .order_by("status_changed_at", "pk")[:PER_KIND_LIMIT]
        )
        items.extend(
            WaitingItem(
                reference=release.reference,
                title=f"{release.sub_project.agreement_number} · {release.tranche.title}",
                url=release.get_absolute_url(),
                what=what,
                since=release.status_changed_at,
                note=f"{release.partner_organization.code} · {money(release.amount)} BDT",
            )
            for release in rows
        )
    return items


# --- Wiring ---------------------------------------------------------------------------------------


def ready() -> None:
    from core import waiting
    from core.navigation import NavItem, register

    lifecycle.register(MILESTONE_LIFECYCLE)
    lifecycle.register(RELEASE_LIFECYCLE)
    readers = (
        Role.PO_STAFF,
        Role.PMU_OFFICER,
        Role.FINANCE_OFFICER,
        Role.WORLD_BANK,
        Role.PKSF_APPROVER,
    )
    register(
        NavItem(
            _lazy("Releases to POs"),
            "finance:release-list",
            _lazy(
                "Tranches requested by the POs, checked by the PMU, approved and transferred by PKSF finance."
            ),
            roles=readers,
            condition=may_read,
            order=70,
        ),
        NavItem(
            _lazy("Sub-projects' money"),
            "finance:subproject-finance-list",
            _lazy("Each sub-project's release schedule: approved, released and remaining by financier."),
            roles=readers,
            condition=lambda user: may_read(user) and not is_po_staff(user),
            order=71,
        ),
        NavItem(
            _lazy("Request a release"),
            "finance:subproject-finance-list",
            _lazy("Report a milestone done and request the next tranche of your sub-project."),
            roles=(Role.PO_STAFF,),
            condition=is_po_staff,
            order=72,
        ),
        group=_lazy("Money"),
    )
    waiting.register(releases_waiting)
