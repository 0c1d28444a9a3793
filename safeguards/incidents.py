"""E&S incidents: the PO's report, the PMU's follow-up and the 48-hour notification to the Bank, and the
corrective actions tracked to closure (issue 13, SPEC 8). Business rules live here; pages, API, demo
data and tests all call them.

- Reporting (`report_incident`): PO staff report an incident of their own PO. It is logged as the event
  "report" on the engine. More than settings.INCIDENT_REPORTING_DAYS after the PO learned of it, the
  report is flagged late (and still accepted). Serious and severe incidents are due to the Bank
  INCIDENT_BANK_NOTIFICATION_HOURS after the start of the day the PO learned of them (local time:
  a late report is overdue at once), and the PMU (PMU and E&S officers) is emailed at
  once, after the commit, each person once.
- The 48-hour flag is computed from the timestamps (`Incident.bank_notification_overdue`,
  `IncidentQuerySet.bank_notification_overdue()`): no scheduled task is needed.
- The lifecycles (INCIDENT_RULES, ACTION_RULES) are registered in `ready()`, with the menu entries, the
  E&S home panel and the "waiting on you" list.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import partial
from typing import Any

from celery import shared_task
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from core import lifecycle
from core.emails import in_language_of, send_once
from core.errors import ActionRefused, Forbidden
from core.roles import GROUP_NAMES, Role
from core.waiting import WaitingItem
from safeguards.models import (
    CorrectiveAction,
    CorrectiveActionStatus,
    Incident,
    IncidentQuerySet,
    IncidentStatus,
    Severity,
)
from safeguards.permissions import is_pmu_side

# Who follows incidents up: the PMU's officers and E&S officers (belonging to no PO).
FOLLOW_UP_ROLES = (Role.PMU_OFFICER, Role.ES_OFFICER)
# The fields of a report, as the form and the API take them.
REPORT_FIELDS = (
    "sub_project",
    "enterprise",
    "facility",
    "kind",
    "severity",
    "title",
    "description",
    "occurred_on",
    "learned_on",
    "district",
    "location",
    "people_injured",
    "fatalities",
    "immediate_actions",
)
PER_KIND_LIMIT = 100
PANEL_ROWS = 10


# --- Who ------------------------------------------------------------------------------------------


def is_follow_up_officer(user) -> bool:
    """A PMU officer or E&S officer of the PMU (belonging to no PO): a PO does not follow up, notify
    the Bank about or close its own incidents."""
    return is_pmu_side(user)


def may_report(user) -> bool:
    """PO staff, for their own PO."""
    return bool(
        user is not None
        and user.is_authenticated
        and user.has_role(Role.PO_STAFF)
        and user.partner_organization_id is not None
    )


def may_read(user) -> bool:
    return bool(
        user is not None
        and user.is_authenticated
        and (user.sees_whole_programme or is_follow_up_officer(user) or may_report(user))
    )


def pmu_side(user, obj) -> bool:
    """WHO: the PMU's side (no PO)."""
    return is_follow_up_officer(user)


def own_po_or_pmu(user, obj) -> bool:
    """WHO: the incident's own PO staff, or the PMU's follow-up officers."""
    if is_follow_up_officer(user):
        return True
    return (
        user.has_role(Role.PO_STAFF)
        and user.partner_organization_id is not None
        and user.partner_organization_id == obj.partner_organization_id
    )


# --- Reporting ------------------------------------------------------------------------------------


def _own_po_object(model, value: Any, po_id: int) -> Any:
    """The sub-project/enterprise/facility by id (or the object), only if it is the PO's own; else None."""
    if value in (None, ""):
        return None
    pk = getattr(value, "pk", value)
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        return False
    return model.objects.filter(pk=pk, partner_organization_id=po_id).first() or False


def report_problems(user, data: dict) -> dict[str, str]:
    """What is wrong with a report, by field (the form, the API and the service share it)."""
    from enterprises.models import CommonServiceFacility, Enterprise
    from subprojects.models import SubProject

    problems: dict[str, str] = {}
    today = timezone.localdate()
    occurred_on, learned_on = data.get("occurred_on"), data.get("learned_on")
    if occurred_on is None:
        problems["occurred_on"] = _("Give the date the incident happened.")
    elif occurred_on > today:
        problems["occurred_on"] = _("The incident date cannot be in the future.")
    if learned_on is None:
        problems["learned_on"] = _("Give the date the PO learned of the incident.")
    elif learned_on > today:
        problems["learned_on"] = _("The date the PO learned of it cannot be in the future.")
    elif occurred_on is not None and learned_on < occurred_on:
        problems["learned_on"] = _("The PO cannot have learned of the incident before it happened.")
    for name in ("title", "description"):
        if not str(data.get(name) or "").strip():
            problems[name] = _("This field is required.")
    if data.get("severity") not in Severity.values:
        problems["severity"] = _("Choose the severity: indicative, serious or severe.")
    for name, model in (
        ("sub_project", SubProject),
        ("enterprise", Enterprise),
        ("facility", CommonServiceFacility),
    ):
        # Another PO's record is answered exactly as one that does not exist.
        if _own_po_object(model, data.get(name), user.partner_organization_id) is False:
            problems[name] = _("No %(what)s of your PO matches this.") % {"what": model._meta.verbose_name}
    return problems


def bank_due_at(learned_on: date) -> datetime:
    """When a serious or severe incident is due to the Bank: INCIDENT_BANK_NOTIFICATION_HOURS from the
    start of the day the project learned of it (local time, SPEC 8), not from the PO's report. A PO
    reporting late thus shows the flag at once."""
    start = timezone.make_aware(datetime.combine(learned_on, time.min))
    return start + timedelta(hours=settings.INCIDENT_BANK_NOTIFICATION_HOURS)


def is_late(learned_on: date, reported_at) -> bool:
    """Reported more than INCIDENT_REPORTING_DAYS after the PO learned of it (in Dhaka's calendar)."""
    return (timezone.localdate(reported_at) - learned_on).days > settings.INCIDENT_REPORTING_DAYS


def report_incident(*, user, data: dict) -> Incident:
    """A PO's report of an incident. Raises Forbidden for anyone but PO staff, ValidationError (by
    field) for a wrong report, and changes nothing then."""
    from enterprises.models import CommonServiceFacility, Enterprise
    from subprojects.models import SubProject

    if not may_report(user):
        raise Forbidden(_("Only a PO's staff report incidents, for their own PO."))
    problems = report_problems(user, data)
    if problems:
        raise ValidationError(problems)
    po_id = user.partner_organization_id
    values = {name: data.get(name) for name in REPORT_FIELDS if name in data}
    values["sub_project"] = _own_po_object(SubProject, data.get("sub_project"), po_id)
    values["enterprise"] = _own_po_object(Enterprise, data.get("enterprise"), po_id)
    values["facility"] = _own_po_object(CommonServiceFacility, data.get("facility"), po_id)
    for name in ("location", "immediate_actions"):
        values[name] = values.get(name) or ""
    for name in ("people_injured", "fatalities"):
        values[name] = values.get(name) or 0
    now = timezone.now()
    incident = Incident(
        **values,
        partner_organization_id=po_id,
        reported_by=user,
        reported_at=now,
        status_changed_at=now,
    )
    incident.reported_late = is_late(incident.learned_on, now)
    if incident.is_notifiable and incident.learned_on:
        incident.bank_due_at = bank_due_at(incident.learned_on)
    incident.full_clean()
    with transaction.atomic():
        incident.save()
        comment = _("Reported late (more than %(days)s days after the PO learned of it).") % {
            "days": settings.INCIDENT_REPORTING_DAYS
        }
        lifecycle.record(incident, "report", user, comment if incident.reported_late else "", at=now)
        if incident.is_notifiable:
            from core import outbox

            outbox.enqueue(send_incident_alert, incident.pk)
    return incident


# --- Emails to the PMU ----------------------------------------------------------------------------


def alert_recipients() -> QuerySet:
    from core.models import User

    return (
        User.objects.filter(is_active=True, partner_organization__isnull=True)
        .exclude(email="")
        .filter(groups__name__in=[GROUP_NAMES[role] for role in FOLLOW_UP_ROLES])
        .distinct()
        .order_by("pk")
    )


def alert_message(incident: Incident, user) -> EmailMessage:
    link = settings.PORTAL_BASE_URL.rstrip("/") + incident.get_absolute_url()
    values = {
        "ref": incident.reference,
        "severity": incident.get_severity_display(),
        "po": incident.partner_organization.code,
    }
    due = ""
    if incident.bank_due_at:
        due = date_format(timezone.localtime(incident.bank_due_at), "DATETIME_FORMAT")
    lines = [
        _("Dear %(name)s,") % {"name": user.get_display_name()},
        "",
        _("%(po)s reported a %(severity)s E&S incident, %(ref)s:") % values,
        incident.title,
        "",
        _("Occurred on %(occurred)s; %(injured)s injured, %(deaths)s deaths.")
        % {
            "occurred": incident.occurred_on.isoformat(),
            "injured": incident.people_injured,
            "deaths": incident.fatalities,
        },
        _("It must be notified to the World Bank by %(due)s.") % {"due": due},
        "",
        _("Open it in the SMART Portal: %(link)s") % {"link": link},
        "",
        _("— SMART Portal, PKSF"),
    ]
    title = _("[SMART] %(severity)s E&S incident %(ref)s (%(po)s)") % values
    return EmailMessage(title, "\n".join(lines), settings.DEFAULT_FROM_EMAIL, [user.email])


def send_alert(incident_id: int) -> int:
    """Email each PMU and E&S officer once about a serious or severe incident."""
    incident = Incident.objects.select_related("partner_organization").get(pk=incident_id)
    return send_once(
        (
            f"incident:{incident.pk}:report:user:{user.pk}",
            in_language_of(user, partial(alert_message, incident, user)),
        )
        for user in alert_recipients()
    )


def transition_recipients(transition) -> list:
    """Who hears of a transition of an incident or a corrective action: the incident's own PO staff,
    and the PMU's side (PMU and E&S officers belonging to no PO) when the next step is theirs. Never
    another PO's staff, whatever specialist role they hold."""
    from core.models import User

    subject = transition.subject
    audience = Q(
        groups__name=GROUP_NAMES[Role.PO_STAFF], partner_organization_id=subject.partner_organization_id
    )
    if transition.from_state != transition.to_state:
        next_rules = [
            rule
            for rule in lifecycle.rules_for(type(subject))
            if transition.to_state in rule.sources
            and rule.target_from(transition.to_state) not in rule.sources
        ]
        if any(rule.who == "pmu_side" for rule in next_rules):
            audience |= Q(
                groups__name__in=[GROUP_NAMES[role] for role in FOLLOW_UP_ROLES],
                partner_organization__isnull=True,
            )
    users = User.objects.filter(is_active=True).exclude(email="").filter(audience).distinct()
    actor = transition.actor
    if actor is not None:
        users = users.exclude(pk=actor.pk)
        if actor.partner_organization_id:
            users = users.exclude(partner_organization_id=actor.partner_organization_id)
    return list(users.order_by("pk"))


def send_transition(transition_id: int) -> int:
    from subprojects.models import Transition
    from subprojects.notifications import build_message

    transition = Transition.objects.select_related("actor", "content_type").get(pk=transition_id)
    return send_once(
        (
            f"transition:{transition.pk}:user:{user.pk}",
            in_language_of(user, partial(build_message, transition, user)),
        )
        for user in transition_recipients(transition)
    )


@shared_task(
    name="safeguards.incidents.send_incident_transition_emails",
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=5,
)
def send_incident_transition_emails(transition_id: int) -> int:
    return send_transition(transition_id)


@shared_task(
    name="safeguards.incidents.send_incident_alert",
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=5,
)
def send_incident_alert(incident_id: int) -> int:
    return send_alert(incident_id)


# --- The incident's lifecycle ---------------------------------------------------------------------


def notifiable(incident: Incident, **context) -> None:
    """GUARD: only serious and severe incidents go to the Bank, once."""
    if not incident.is_notifiable:
        raise ActionRefused(
            _("%(ref)s is indicative: only serious and severe incidents are notified to the Bank.")
            % {"ref": incident.reference},
            code="not_notifiable",
        )
    if incident.bank_notified_at is not None:
        raise ActionRefused(
            _("%(ref)s was already notified to the Bank on %(when)s.")
            % {
                "ref": incident.reference,
                "when": date_format(timezone.localtime(incident.bank_notified_at), "DATETIME_FORMAT"),
            },
            code="already_notified",
        )


def record_bank_notification(incident: Incident, **context) -> list[str]:
    """EFFECT: the time and the person; the comment says how and to whom."""
    incident.bank_notified_at = timezone.now()
    incident.bank_notified_by = context["_user"]
    return ["bank_notified_at", "bank_notified_by"]


def root_cause_given(incident: Incident, **context) -> None:
    """GUARD: a root cause is given."""
    if not str(context.get("root_cause") or "").strip():
        raise ActionRefused(_("Describe the root cause."), code="invalid")


def set_root_cause(incident: Incident, **context) -> list[str]:
    incident.root_cause = str(context["root_cause"]).strip()
    return ["root_cause"]


def closing_problems(incident: Incident) -> list[str]:
    """Why the incident cannot be closed yet (empty: it can). One query for the actions."""
    problems: list[str] = []
    counts = CorrectiveAction.objects.filter(incident=incident).aggregate(
        total=Count("pk"), unverified=Count("pk", filter=~Q(status=CorrectiveActionStatus.VERIFIED))
    )
    if counts["unverified"]:
        problems.append(
            _("%(count)s corrective action(s) not yet verified.") % {"count": counts["unverified"]}
        )
    if incident.is_notifiable:
        if not counts["total"]:
            problems.append(_("A serious or severe incident needs at least one corrective action."))
        if not incident.root_cause.strip():
            problems.append(_("A serious or severe incident needs its root cause recorded."))
        if incident.bank_notified_at is None:
            problems.append(_("A serious or severe incident must be notified to the Bank first."))
    return problems


def may_close(incident: Incident, **context) -> None:
    """GUARD: every action verified; serious and severe: actions, root cause and Bank notification."""
    problems = closing_problems(incident)
    if problems:
        raise ActionRefused(
            _("%(ref)s cannot be closed: %(problems)s")
            % {"ref": incident.reference, "problems": " ".join(problems)},
            code="not_ready",
        )


PMU_SIDE = {"who": "pmu_side"}
INCIDENT_RULES = [
    lifecycle.rule(
        "acknowledge",
        _lazy("Acknowledge and follow up"),
        [IncidentStatus.REPORTED],
        IncidentStatus.UNDER_FOLLOW_UP,
        FOLLOW_UP_ROLES,
        **PMU_SIDE,
    ),
    lifecycle.rule(
        "notify_bank",
        _lazy("Notified to the Bank"),
        [IncidentStatus.REPORTED, IncidentStatus.UNDER_FOLLOW_UP],
        lifecycle.SAME_STATE,
        FOLLOW_UP_ROLES,
        comment_required=True,
        guards=("notifiable",),
        effect="record_bank_notification",
        waits=False,
        **PMU_SIDE,
    ),
    lifecycle.rule(
        "record_root_cause",
        _lazy("Record the root cause"),
        [IncidentStatus.REPORTED, IncidentStatus.UNDER_FOLLOW_UP],
        lifecycle.SAME_STATE,
        (Role.PO_STAFF, *FOLLOW_UP_ROLES),
        guards=("root_cause_given",),
        effect="set_root_cause",
        params=("root_cause",),
        who="own_po_or_pmu",
        waits=False,
        button=False,  # from its own form on the incident's page
    ),
    lifecycle.rule(
        "close",
        _lazy("Close"),
        [IncidentStatus.UNDER_FOLLOW_UP],
        IncidentStatus.CLOSED,
        FOLLOW_UP_ROLES,
        guards=("may_close",),
        confirm=_lazy("Close this incident? Every corrective action is verified."),
        **PMU_SIDE,
    ),
    lifecycle.rule(
        "reopen",
        _lazy("Reopen"),
        [IncidentStatus.CLOSED],
        IncidentStatus.UNDER_FOLLOW_UP,
        FOLLOW_UP_ROLES,
        comment_required=True,
        style="secondary",
        **PMU_SIDE,
    ),
]


# A step written with a past date (core.lifecycle.replay_history: demo data, records carried over) is
# history, not news: only what happens now is announced.
NEWS_WITHIN = timedelta(hours=1)


def _notify(transition) -> None:
    # The incident's PO, and the PMU's side when the next step is theirs, hear of it after the commit.
    from core import outbox

    if transition.at >= timezone.now() - NEWS_WITHIN:
        outbox.enqueue(send_incident_transition_emails, transition.pk)


INCIDENT_LIFECYCLE = lifecycle.Lifecycle(
    Incident,
    INCIDENT_RULES,
    guards={"notifiable": notifiable, "root_cause_given": root_cause_given, "may_close": may_close},
    effects={"record_bank_notification": record_bank_notification, "set_root_cause": set_root_cause},
    who={"pmu_side": pmu_side, "own_po_or_pmu": own_po_or_pmu},
    follow_up=_notify,
    event_labels={"report": _lazy("Reported"), "add_action": _lazy("Corrective action added")},
    url_name="safeguards:incident-transition",
)


# --- Corrective actions ---------------------------------------------------------------------------


def record_evidence(action: CorrectiveAction, **context) -> list[str]:
    """EFFECT: the comment of "done" is the evidence of what was done."""
    action.evidence = context["_comment"]
    return ["evidence"]


ACTION_RULES = [
    lifecycle.rule(
        "complete",
        _lazy("Done"),
        [CorrectiveActionStatus.OPEN],
        CorrectiveActionStatus.DONE,
        (Role.PO_STAFF,),
        po_owned=True,
        comment_required=True,
        effect="record_evidence",
    ),
    lifecycle.rule(
        "verify",
        _lazy("Verify"),
        [CorrectiveActionStatus.DONE],
        CorrectiveActionStatus.VERIFIED,
        FOLLOW_UP_ROLES,
        **PMU_SIDE,
    ),
    lifecycle.rule(
        "send_back",
        _lazy("Send back"),
        [CorrectiveActionStatus.DONE],
        CorrectiveActionStatus.OPEN,
        FOLLOW_UP_ROLES,
        comment_required=True,
        style="danger",
        **PMU_SIDE,
    ),
]

ACTION_LIFECYCLE = lifecycle.Lifecycle(
    CorrectiveAction,
    ACTION_RULES,
    effects={"record_evidence": record_evidence},
    who={"pmu_side": pmu_side},
    follow_up=_notify,
    url_name="safeguards:corrective-action-transition",
)


def action_problems(data: dict) -> dict[str, str]:
    problems: dict[str, str] = {}
    for name in ("description", "responsible"):
        if not str(data.get(name) or "").strip():
            problems[name] = _("This field is required.")
    if not data.get("due_on"):
        problems["due_on"] = _("Give the date it is due.")
    return problems


def add_corrective_action(*, user, incident: Incident, data: dict) -> CorrectiveAction:
    """The PMU adds an action to an incident under follow-up (403 for anyone else, 409 in another
    state, ValidationError by field); logged on the incident as "add_action"."""
    if not is_follow_up_officer(user):
        raise Forbidden(_("Only the PMU's officers and E&S officers add corrective actions."))
    problems = action_problems(data)
    if problems:
        raise ValidationError(problems)
    with transaction.atomic():
        locked = Incident.objects.select_for_update().get(pk=incident.pk)
        if locked.status != IncidentStatus.UNDER_FOLLOW_UP:
            raise ActionRefused(
                _("Corrective actions are added to an incident under follow-up; %(ref)s is %(state)s.")
                % {"ref": locked.reference, "state": locked.get_status_display()},
                code="wrong_state",
            )
        position = CorrectiveAction.objects.filter(incident=locked).count() + 1
        action = CorrectiveAction.objects.create(
            incident=locked,
            description=data["description"].strip(),
            responsible=data["responsible"].strip(),
            due_on=data["due_on"],
            position=position,
        )
        lifecycle.record(
            locked,
            "add_action",
            user,
            _("%(ref)s: %(what)s (%(who)s, due %(due)s)")
            % {
                "ref": action.reference,
                "what": action.description,
                "who": action.responsible,
                "due": action.due_on.isoformat(),
            },
        )
    return action


# --- Lists: overdue flags, the E&S panel and "waiting on you" ---------------------------------------


def overdue_for_bank(queryset: IncidentQuerySet | None = None) -> IncidentQuerySet:
    return (queryset if queryset is not None else Incident.objects.all()).bank_notification_overdue()


def incidents_waiting(user) -> list[WaitingItem]:
    """PMU and E&S officers: incidents to acknowledge, to notify to the Bank, or to close."""
    if not is_follow_up_officer(user):
        return []
    rows = (
        Incident.objects.filter(
            Q(status=IncidentStatus.REPORTED)
            | Q(severity__in=[Severity.SERIOUS, Severity.SEVERE], bank_notified_at__isnull=True)
            & ~Q(status=IncidentStatus.CLOSED)
        )
        .select_related("partner_organization")
        .order_by("reported_at", "pk")[:PER_KIND_LIMIT]
    )
    items = []
    for incident in rows:
        todo = []
        if incident.status == IncidentStatus.REPORTED:
            todo.append(str(INCIDENT_RULES[0].label))
        if incident.is_notifiable and incident.bank_notified_at is None:
            todo.append(str(INCIDENT_RULES[1].label))
        items.append(
            WaitingItem(
                reference=incident.reference,
                title=incident.title,
                url=incident.get_absolute_url(),
                what=" · ".join(todo),
                since=incident.reported_at,
                due=incident.bank_due_at if incident.bank_notified_at is None else None,
                note=f"{incident.partner_organization.code} · {incident.get_severity_display()}",
            )
        )
    return items


def actions_waiting(user) -> list[WaitingItem]:
    """PO staff: their PO's open corrective actions; PMU: those done, to verify."""
    if is_follow_up_officer(user):
        actions = CorrectiveAction.objects.filter(status=CorrectiveActionStatus.DONE)
        what = " · ".join(str(rule.label) for rule in ACTION_RULES[1:])
    elif may_report(user):
        actions = CorrectiveAction.objects.filter(
            status=CorrectiveActionStatus.OPEN, incident__partner_organization_id=user.partner_organization_id
        )
        what = str(ACTION_RULES[0].label)
    else:
        return []
    rows = actions.select_related("incident").order_by("status_changed_at", "pk")[:PER_KIND_LIMIT]
    return [
        WaitingItem(
            reference=action.reference,
            title=f"{action.incident.reference} · {action.description[:80]}",
            url=action.get_absolute_url(),
            what=what,
            since=action.status_changed_at,
            note=_("due %(date)s") % {"date": action.due_on.isoformat()},
        )
        for action in rows
    ]


def es_panel(user) -> dict | None:
    """The E&S officer's home panel: incidents overdue for the Bank, awaiting it, open, and the
    corrective actions overdue (one grouped query, and the first few overdue incidents)."""
    if not is_follow_up_officer(user):
        return None
    now = timezone.now()
    notifiable = Q(severity__in=[Severity.SERIOUS, Severity.SEVERE], bank_notified_at__isnull=True)
    counts = Incident.objects.aggregate(
        open=Count("pk", filter=~Q(status=IncidentStatus.CLOSED)),
        reported=Count("pk", filter=Q(status=IncidentStatus.REPORTED)),
        awaiting_bank=Count("pk", filter=notifiable & Q(bank_due_at__gte=now)),
        overdue=Count("pk", filter=notifiable & Q(bank_due_at__lt=now)),
    )
    overdue = list(
        overdue_for_bank(Incident.objects.select_related("partner_organization")).order_by("bank_due_at")[
            :PANEL_ROWS
        ]
    )
    counts["actions_overdue"] = CorrectiveAction.objects.overdue().count()
    return {**counts, "overdue_incidents": overdue}


# --- Wiring ---------------------------------------------------------------------------------------


def ready() -> None:
    from core import home, waiting
    from core.navigation import NavItem, register

    lifecycle.register(INCIDENT_LIFECYCLE)
    lifecycle.register(ACTION_LIFECYCLE)
    register(
        NavItem(
            _lazy("E&S incidents"),
            "safeguards:incident-list",
            _lazy("Accidents, pollution, community and labour incidents, their follow-up and the Bank."),
            roles=(
                Role.PO_STAFF,
                Role.PMU_OFFICER,
                Role.ES_OFFICER,
                Role.WORLD_BANK,
                Role.PKSF_APPROVER,
            ),
            condition=may_read,
            order=60,
        ),
        NavItem(
            _lazy("Report an E&S incident"),
            "safeguards:incident-report",
            _lazy("Tell the PMU of an accident, pollution event, community or labour issue."),
            roles=(Role.PO_STAFF,),
            condition=may_report,
            order=61,
        ),
        group=_lazy("Safeguards"),
    )
    home.register(
        home.HomePanel(
            key="safeguards-incidents",
            template_name="safeguards/incident_home_panel.html",
            roles=(Role.ES_OFFICER,),
            get_context=es_panel,
            order=25,
        )
    )
    waiting.register(incidents_waiting, actions_waiting)
