"""Demo release schedules and releases to the POs (issue 14), for `seed_demo`.

- Every demo sub-project gets its default schedule (the advance, then the mid-term and completion
  tranches against milestones: finance.releases.create_default_schedule).
- Every active sub-project's advance was requested by its PO about a week after the start, checked by
  the PMU (pmu), approved and transferred by PKSF finance (finance), with its bank reference.
- The first four active sub-projects (by agreement number) reported their mid-term milestone done,
  and their second tranche stands at a different stage: transferred, approved (awaiting the transfer),
  checked (awaiting finance's approval) and just requested (awaiting the PMU's check).

History is written through the engine (core.lifecycle.replay_history), dated after the sub-project's
start and in the past; the rows carry what the lifecycle would have left (amounts fixed at the
request, the transfer's date and reference). Safe to run again: a schedule is set once, a reported
milestone and a tranche already requested are left as they are.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.utils import timezone

from core.lifecycle import replay_history
from core.models import User
from core.roles import GROUP_NAMES, Role
from finance.models import Milestone, MilestoneStatus, Release, ReleaseStatus, Tranche
from finance.releases import create_default_schedule, release_reference
from subprojects.models import SubProject, SubProjectStatus

REQUESTED, CHECKED, APPROVED, TRANSFERRED = (
    ReleaseStatus.REQUESTED,
    ReleaseStatus.CHECKED,
    ReleaseStatus.APPROVED,
    ReleaseStatus.TRANSFERRED,
)
# The second tranche's stage, for the first four active sub-projects.
SECOND_TRANCHE_STAGES = (TRANSFERRED, APPROVED, CHECKED, REQUESTED)

ADVANCE_JUSTIFICATION = (
    "Agreement signed and the sub-project team in place; the advance finances the first six months of "
    "the work plan (cluster mobilisation, baseline survey of the MEs, first CSF procurement)."
)
MIDTERM_EVIDENCE = (
    "Half of the work plan done: {mes} MEs profiled and trained, the CSF building completed and its "
    "equipment tendered. The advance's spending is reported quarter by quarter (vouchers in the PO's "
    "accounts office); monitoring visit report of the PO's M&E officer attached to the quarterly report."
)
SECOND_JUSTIFICATION = (
    "Mid-term milestone reported done with its evidence; the advance is spent as reported in the "
    "quarterly spending reports; no open award or E&S condition."
)


def _at(day: date, hour: int = 11) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour)))


def _po_staff(sub_project: SubProject) -> User | None:
    return (
        User.objects.filter(
            partner_organization_id=sub_project.partner_organization_id,
            groups__name=GROUP_NAMES[Role.PO_STAFF],
            is_active=True,
        )
        .order_by("pk")
        .first()
    )


def _release(
    tranche: Tranche,
    requester: User,
    stage: str,
    days: list[date],
    pmu: User,
    finance: User,
    justification: str,
    transfer_reference: str,
) -> Release:
    """A release of `tranche` taken to `stage`, its steps on `days` (request, check, approve,
    transfer: as many as the stage needs)."""
    sub_project = tranche.sub_project
    requested_at = _at(days[0], 10)
    release = Release(
        sub_project=sub_project,
        partner_organization_id=sub_project.partner_organization_id,
        tranche=tranche,
        reference=release_reference(sub_project, tranche, Release.objects.filter(tranche=tranche).count()),
        amount_world_bank=tranche.amount_world_bank,
        amount_pksf=tranche.amount_pksf,
        justification=justification,
        status=REQUESTED,
        requested_by=requester,
        requested_at=requested_at,
        status_changed_at=requested_at,
    )
    release.save()
    steps = [("request", "", REQUESTED, requester, requested_at, justification)]
    order = [
        (
            "check",
            REQUESTED,
            CHECKED,
            pmu,
            "Milestone evidence and spending reports seen; amounts as scheduled.",
        ),
        ("approve", CHECKED, APPROVED, finance, ""),
        ("record_transfer", APPROVED, TRANSFERRED, finance, ""),
    ]
    wanted = [REQUESTED, CHECKED, APPROVED, TRANSFERRED].index(ReleaseStatus(stage))
    for (action, source, target, actor, comment), day in zip(order[:wanted], days[1:], strict=True):
        steps.append((action, source, target, actor, _at(day, 15), comment))
    if stage == TRANSFERRED:
        release.transferred_on = days[3]
        release.transfer_reference = transfer_reference
    return replay_history(release, steps)  # type: ignore[return-value]


def _report_milestone(milestone: Milestone, reporter: User, on: date, mes: int) -> None:
    milestone.reported_on = on
    milestone.evidence = MIDTERM_EVIDENCE.format(mes=mes)
    replay_history(
        milestone,
        [
            (
                "report",
                MilestoneStatus.PLANNED,
                MilestoneStatus.REPORTED,
                reporter,
                _at(on, 16),
                milestone.evidence,
            )
        ],
    )


def _past(day: date, today: date) -> date:
    return min(day, today - timedelta(days=1))


def seed(stdout) -> None:
    users = {u.username: u for u in User.objects.filter(username__in=["pmu", "finance"])}
    sub_projects = list(SubProject.objects.order_by("agreement_number"))
    schedules = 0
    for sub_project in sub_projects:
        if not Tranche.objects.filter(sub_project=sub_project).exists():
            schedules += bool(create_default_schedule(sub_project))
    if "pmu" not in users or "finance" not in users:
        stdout.write(f"  Releases: {schedules} schedules set; no demo pmu/finance logins, no release written")
        return
    pmu, finance = users["pmu"], users["finance"]
    today = timezone.localdate()
    written = 0
    active = [sp for sp in sub_projects if sp.status == SubProjectStatus.ACTIVE]
    for index, sub_project in enumerate(active):
        staff = _po_staff(sub_project)
        tranches = list(
            Tranche.objects.filter(sub_project=sub_project).select_related("milestone").order_by("number")
        )
        if staff is None or not tranches or sub_project.start_date >= today - timedelta(days=30):
            continue
        number = sub_projects.index(sub_project) + 1
        # The advance, a week or so after the start.
        advance = tranches[0]
        if not Release.objects.filter(tranche=advance).exists():
            start = sub_project.start_date
            days = [_past(start + timedelta(days=offset), today) for offset in (6, 9, 12, 14)]
            _release(
                advance,
                staff,
                TRANSFERRED,
                days,
                pmu,
                finance,
                ADVANCE_JUSTIFICATION,
                f"PKSF/TRF/{days[3].year}/{number:04d}",
            )
            written += 1
        if index >= len(SECOND_TRANCHE_STAGES) or len(tranches) < 2:
            continue
        second = tranches[1]
        milestone = second.milestone
        if milestone is None:
            continue
        # The mid-term milestone, reported around its due date (in the past: the latest some weeks ago).
        stage = SECOND_TRANCHE_STAGES[index]
        if milestone.status == MilestoneStatus.PLANNED:
            # Reported around its due date for the tranche since transferred; a month ago for the others.
            on = milestone.due_on + timedelta(days=5) if stage == TRANSFERRED else today - timedelta(days=30)
            reported_on = min(max(on, sub_project.start_date + timedelta(days=30)), today - timedelta(days=1))
            _report_milestone(milestone, staff, reported_on, mes=300 + 50 * index)
        milestone.refresh_from_db()
        if Release.objects.filter(tranche=second).exists():
            continue
        reported = milestone.reported_on or today - timedelta(days=40)
        if stage == TRANSFERRED:
            offsets = [_past(reported + timedelta(days=d), today) for d in (4, 8, 11, 15)]
        else:
            # Still in progress: requested recently, each step a few days apart, the last some days ago.
            recent = {APPROVED: (20, 15, 10), CHECKED: (12, 8), REQUESTED: (4,)}[stage]
            offsets = [max(today - timedelta(days=d), reported + timedelta(days=1)) for d in recent]
        _release(
            second,
            staff,
            stage,
            offsets,
            pmu,
            finance,
            SECOND_JUSTIFICATION,
            f"PKSF/TRF/{offsets[-1].year}/{number:04d}-2",
        )
        written += 1
    stdout.write(
        f"  Releases: {schedules} schedules set, {written} releases written "
        f"({Release.objects.filter(status=TRANSFERRED).count()} transferred, "
        f"{Release.objects.exclude(status=TRANSFERRED).count()} in progress or closed)"
    )
