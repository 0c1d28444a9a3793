"""Demo E&S incidents for `seed_demo`.

Three incidents tell the story of the follow-up:

- PO-001, indicative: a worker's cut hand at a leather workshop, reported on time, acknowledged by the
  PMU's E&S officer (es), its one corrective action done and verified, closed.
- PO-001, serious: dye effluent released into a canal, notified to the Bank within 48 hours, root cause
  recorded; of its corrective actions one is verified, one done and awaiting the PMU's check, one still
  open and past its due date.
- PO-002, severe: a boiler explosion reported two and a half days ago, acknowledged by nobody yet and
  not notified to the Bank: its 48-hour flag shows on the lists, its page, the E&S officer's home
  panel and the PMU's "waiting on you".

History is written through the engine (core.lifecycle.replay_history), dated. Safe to run again: an
incident whose title exists is left as it is.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from core.lifecycle import replay_history
from core.models import District, PartnerOrganization, User
from enterprises.models import Enterprise
from safeguards.incidents import bank_due_at, is_late
from safeguards.models import (
    CorrectiveAction,
    CorrectiveActionStatus,
    Incident,
    IncidentKind,
    IncidentStatus,
    Severity,
)

REPORTED, FOLLOW_UP, CLOSED = IncidentStatus.REPORTED, IncidentStatus.UNDER_FOLLOW_UP, IncidentStatus.CLOSED
OPEN, DONE, VERIFIED = (
    CorrectiveActionStatus.OPEN,
    CorrectiveActionStatus.DONE,
    CorrectiveActionStatus.VERIFIED,
)


def _at(days_ago: float, hour: int = 10) -> datetime:
    day = timezone.localdate() - timedelta(days=int(days_ago))
    moment = timezone.make_aware(datetime.combine(day, datetime.min.time()) + timedelta(hours=hour))
    return moment


def _enterprise(po: PartnerOrganization) -> Enterprise | None:
    return Enterprise.objects.filter(partner_organization=po).order_by("pk").first()


def _district(po: PartnerOrganization) -> District | None:
    return po.districts.order_by("name").first() if hasattr(po, "districts") else None


def _incident(po, reporter, reported_at, **fields) -> Incident:
    incident = Incident(
        partner_organization=po,
        enterprise=_enterprise(po),
        district=_district(po),
        reported_by=reporter,
        reported_at=reported_at,
        status_changed_at=reported_at,
        **fields,
    )
    incident.reported_late = is_late(incident.learned_on, reported_at)
    if incident.is_notifiable:
        incident.bank_due_at = bank_due_at(incident.learned_on)
    incident.save()
    return incident


def _action(incident, position, description, responsible, due_on, steps, evidence="") -> CorrectiveAction:
    action = CorrectiveAction.objects.create(
        incident=incident,
        position=position,
        description=description,
        responsible=responsible,
        due_on=due_on,
        evidence=evidence,
    )
    if steps:
        replay_history(action, steps)
    return action


def _added(action: CorrectiveAction) -> str:
    return f"{action.reference}: {action.description} ({action.responsible}, due {action.due_on.isoformat()})"


def seed(stdout) -> None:
    users = {u.username: u for u in User.objects.filter(username__in=["po1", "po2", "es", "pmu"])}
    pos = {po.code: po for po in PartnerOrganization.objects.filter(code__in=["PO-001", "PO-002"])}
    if len(pos) < 2 or not {"po1", "po2"} <= set(users):
        stdout.write("  E&S incidents: no demo POs or users yet, nothing reported")
        return
    es = users.get("es") or users.get("pmu")
    created = 0
    with transaction.atomic():
        created += _closed_indicative(pos["PO-001"], users["po1"], es)
        created += _serious_in_progress(pos["PO-001"], users["po1"], es)
        created += _severe_awaiting_bank(pos["PO-002"], users["po2"])
    overdue = Incident.objects.bank_notification_overdue().count()
    stdout.write(
        f"  E&S incidents: {created} new ({Incident.objects.count()} in all, {overdue} overdue for the "
        f"Bank); corrective actions: {CorrectiveAction.objects.count()}"
    )


CUT_HAND = "Worker's hand cut by a leather splitting machine"


def _closed_indicative(po, po1, es) -> int:
    if Incident.objects.filter(title=CUT_HAND).exists():
        return 0
    reported = _at(60, 11)
    incident = _incident(
        po,
        po1,
        reported,
        kind=IncidentKind.ACCIDENT,
        severity=Severity.INDICATIVE,
        title=CUT_HAND,
        description=(
            "A worker's left hand was cut while feeding hide into the splitting machine; the guard had been "
            "removed for cleaning and not put back. First aid on site, three stitches at the upazila "
            "health complex."
        ),
        occurred_on=timezone.localdate() - timedelta(days=62),
        learned_on=timezone.localdate() - timedelta(days=61),
        location="Bhairab leather cluster",
        people_injured=1,
        immediate_actions="Machine stopped until the guard was refitted; worker paid during sick leave.",
        root_cause="Machine guard not refitted after cleaning; no lock-out routine.",
    )
    action = CorrectiveAction(
        incident=incident,
        position=1,
        description="Refit the guard and train the workers on a lock-out routine after cleaning.",
        responsible="ME owner, with the PO's field officer",
        due_on=timezone.localdate() - timedelta(days=45),
    )
    action.save()
    replay_history(
        incident,
        [
            ("report", "", REPORTED, po1, reported, ""),
            ("acknowledge", REPORTED, FOLLOW_UP, es, _at(59, 9), "Minor injury: PO to fix the guard."),
            ("record_root_cause", FOLLOW_UP, FOLLOW_UP, po1, _at(58, 15), ""),
            ("add_action", FOLLOW_UP, FOLLOW_UP, es, _at(58, 16), _added(action)),
        ],
    )
    action.evidence = "Guard refitted (photo in the PO's file); 14 workers trained on 12 of the month."
    replay_history(
        action,
        [
            ("complete", OPEN, DONE, po1, _at(47, 12), action.evidence),
            ("verify", DONE, VERIFIED, es, _at(46, 10), "Seen on the monitoring visit."),
        ],
    )
    replay_history(incident, [("close", FOLLOW_UP, CLOSED, es, _at(45, 11), "")])
    return 1


EFFLUENT = "Untreated dye effluent released into the Narsunda canal"


def _serious_in_progress(po, po1, es) -> int:
    if Incident.objects.filter(title=EFFLUENT).exists():
        return 0
    reported = _at(14, 16)
    notified = reported + timedelta(hours=20)
    incident = _incident(
        po,
        po1,
        reported,
        kind=IncidentKind.POLLUTION,
        severity=Severity.SERIOUS,
        title=EFFLUENT,
        description=(
            "The settling tank of a dyeing unit overflowed after heavy rain and released dye effluent into "
            "the canal; neighbours reported dead fish over about 300 metres and a strong smell."
        ),
        occurred_on=timezone.localdate() - timedelta(days=15),
        # Learned of on the day it was reported: notified 20 hours later, within the 48 hours.
        learned_on=timezone.localdate(reported),
        location="Narsunda canal, near the Kishoreganj dyeing cluster",
        immediate_actions="Dyeing stopped; tank pumped out by a licensed contractor; DoE informed.",
        root_cause="Settling tank undersized for the unit's output; no overflow bund.",
        bank_notified_at=notified,
        bank_notified_by=es,
    )
    today = timezone.localdate()
    actions = [
        CorrectiveAction.objects.create(
            incident=incident,
            position=1,
            description="Stop dyeing until the tank is emptied and inspected.",
            responsible="ME owner",
            due_on=today - timedelta(days=10),
        ),
        CorrectiveAction.objects.create(
            incident=incident,
            position=2,
            description="Build an overflow bund and enlarge the settling tank (ETP design by an engineer).",
            responsible="ME owner, with the PO's E&S focal person",
            due_on=today + timedelta(days=30),
        ),
        CorrectiveAction.objects.create(
            incident=incident,
            position=3,
            description="Hold a meeting with the neighbours and agree compensation for the fish lost.",
            responsible="PO branch manager",
            due_on=today - timedelta(days=2),
        ),
    ]
    replay_history(
        incident,
        [
            ("report", "", REPORTED, po1, reported, ""),
            ("acknowledge", REPORTED, FOLLOW_UP, es, reported + timedelta(hours=3), "Site visit tomorrow."),
            (
                "notify_bank",
                FOLLOW_UP,
                FOLLOW_UP,
                es,
                notified,
                "Emailed the Bank's task team leader and E&S specialist, with the PO's report and photos.",
            ),
            ("record_root_cause", FOLLOW_UP, FOLLOW_UP, es, _at(12, 14), ""),
            *[("add_action", FOLLOW_UP, FOLLOW_UP, es, _at(12, 15), _added(action)) for action in actions],
        ],
    )
    first, second, _third = actions
    first.evidence = "Unit closed on the 2nd; tank emptied and inspected by the DoE officer."
    replay_history(
        first,
        [
            ("complete", OPEN, DONE, po1, _at(11, 12), first.evidence),
            ("verify", DONE, VERIFIED, es, _at(10, 10), "Confirmed with the DoE officer."),
        ],
    )
    second.evidence = "Bund built; the engineer's tank design is attached to the PO's file."
    replay_history(second, [("complete", OPEN, DONE, po1, _at(1, 17), second.evidence)])
    # The third stays open, past its due date.
    return 1


BOILER = "Boiler explosion at a rice parboiling mill"


def _severe_awaiting_bank(po, po2) -> int:
    if Incident.objects.filter(title=BOILER).exists():
        return 0
    reported = timezone.now() - timedelta(hours=60)
    incident = _incident(
        po,
        po2,
        reported,
        kind=IncidentKind.ACCIDENT,
        severity=Severity.SEVERE,
        title=BOILER,
        description=(
            "The parboiling boiler of a mill exploded during the morning shift. One worker died on site; "
            "two were taken to Satkhira Sadar hospital with burns."
        ),
        occurred_on=timezone.localdate(reported),
        learned_on=timezone.localdate(reported),
        location="Satkhira Sadar",
        people_injured=2,
        fatalities=1,
        immediate_actions="Mill closed; police and the Department of Inspection for Factories informed.",
    )
    replay_history(incident, [("report", "", REPORTED, po2, reported, "")])
    return 1
