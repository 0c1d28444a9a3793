"""Pages of E&S incidents. Views stay thin: the rules are in safeguards.incidents and the engine.

Refusals: a role that may not act gets 403; another PO's incident is a 404 (as a missing one); a
refused action shows the unchanged page again with the reason and what was typed (409); a form with
a mistake comes back as typed with the mistake named by field (400).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core import lifecycle
from core.errors import ActionRefused
from core.exports import Column
from core.lifecycle.views import action_buttons, handle_transition, raise_if_forbidden
from core.lists import SortSpec
from core.permissions import get_visible_or_404
from enterprises.views.base import attach_errors
from safeguards import incidents
from safeguards.incident_filters import IncidentFilter
from safeguards.incident_forms import CorrectiveActionForm, IncidentReportForm, RootCauseForm
from safeguards.models import CorrectiveAction, Incident, IncidentStatus
from subprojects.timeline import timeline, transition_entries
from subprojects.views.common import list_page
from verification.permissions import allowed


def _yes_no(value: bool) -> str:
    return _("yes") if value else _("no")


INCIDENT_COLUMNS = [
    Column(gettext_lazy("Reference"), lambda i: i.reference),
    Column(gettext_lazy("PO code"), lambda i: i.partner_organization.code),
    Column(gettext_lazy("Title"), lambda i: i.title),
    Column(gettext_lazy("Kind"), lambda i: i.get_kind_display()),
    Column(gettext_lazy("Severity"), lambda i: i.get_severity_display()),
    Column(gettext_lazy("Occurred on"), lambda i: i.occurred_on),
    Column(gettext_lazy("Learned on"), lambda i: i.learned_on),
    Column(gettext_lazy("Reported at"), lambda i: i.reported_at),
    Column(gettext_lazy("Reported late"), lambda i: _yes_no(i.reported_late)),
    Column(gettext_lazy("District"), lambda i: i.district.name if i.district else ""),
    Column(gettext_lazy("People injured"), lambda i: i.people_injured),
    Column(gettext_lazy("Deaths"), lambda i: i.fatalities),
    Column(gettext_lazy("Due to the Bank by"), lambda i: i.bank_due_at),
    Column(gettext_lazy("Notified to the Bank at"), lambda i: i.bank_notified_at),
    Column(gettext_lazy("Overdue for the Bank"), lambda i: _yes_no(i.bank_notification_overdue)),
    Column(gettext_lazy("State"), lambda i: i.get_status_display()),
    Column(gettext_lazy("In this state since"), lambda i: i.status_changed_at),
]


def _incidents(user):
    return Incident.objects.visible_to(user).select_related(
        "partner_organization", "district", "reported_by", "bank_notified_by"
    )


# The latest reported first.
INCIDENT_SORTS = SortSpec(
    {
        "reference": ("pk",),
        "title": ("title",),
        "po": ("partner_organization__code",),
        "kind": ("kind",),
        "severity": ("severity",),
        "occurred": ("occurred_on",),
        "reported": ("reported_at",),
        "bank": ("bank_notified_at", "bank_due_at"),
        "state": ("status",),
    },
    default="-reported",
)


@allowed(incidents.may_read)
@require_GET
def incident_list(request: HttpRequest) -> HttpResponse:
    filterset = IncidentFilter(request.GET or None, queryset=_incidents(request.user), user=request.user)
    return list_page(
        request,
        template="safeguards/incident_list.html",
        filterset=filterset,
        columns=INCIDENT_COLUMNS,
        export_name="es-incidents",
        sort=INCIDENT_SORTS,
        context={
            "may_report": incidents.may_report(request.user),
            "overdue_count": _incidents(request.user).bank_notification_overdue().count(),
        },
    )


@allowed(incidents.may_report)
@require_http_methods(["GET", "POST"])
def incident_report(request: HttpRequest) -> HttpResponse:
    form = IncidentReportForm(request.POST or None, user=request.user)
    if request.method == "POST":
        if form.is_valid():
            try:
                incident = incidents.report_incident(user=request.user, data=form.cleaned_data)
            except ValidationError as exc:
                attach_errors(form, exc)
            else:
                text = _("%(ref)s reported.") % {"ref": incident.reference}
                if incident.reported_late:
                    text += " " + _("It is flagged as reported late.")
                if incident.is_notifiable:
                    text += " " + _("The PMU has been told at once.")
                messages.success(request, text)
                return redirect(incident.get_absolute_url())
        return render(request, "safeguards/incident_form.html", _form_context(form), status=400)
    return render(request, "safeguards/incident_form.html", _form_context(form))


def _form_context(form: IncidentReportForm) -> dict:
    return {
        "form": form,
        "reporting_days": settings.INCIDENT_REPORTING_DAYS,
        "bank_hours": settings.INCIDENT_BANK_NOTIFICATION_HOURS,
    }


def _incident_timeline(incident: Incident, actions: list[CorrectiveAction]) -> list:
    entries = timeline(incident)
    for action in actions:
        for entry in transition_entries(action):
            entry.summary = f"{action.reference}: {entry.summary}"
            entries.append(entry)
    return sorted(entries, key=lambda entry: entry.at, reverse=True)


def _incident_page(
    request: HttpRequest,
    incident: Incident,
    *,
    error: str = "",
    failed_action: str = "",
    typed_comment: str = "",
    failed_item: CorrectiveAction | None = None,
    root_cause_form: RootCauseForm | None = None,
    action_form: CorrectiveActionForm | None = None,
    status: int = 200,
) -> HttpResponse:
    user = request.user
    actions = list(CorrectiveAction.objects.filter(incident=incident).select_related("incident"))
    rows = [
        {
            "item": action,
            "buttons": action_buttons(
                user,
                action,
                failed_action=failed_action if failed_item and failed_item.pk == action.pk else "",
                typed_comment=typed_comment if failed_item and failed_item.pk == action.pk else "",
            ),
        }
        for action in actions
    ]
    root_rule = lifecycle.get_rule(Incident, "record_root_cause")
    may_root_cause = incident.status in root_rule.sources and lifecycle.may_act(user, incident, root_rule)
    may_add = incident.status == IncidentStatus.UNDER_FOLLOW_UP and incidents.is_follow_up_officer(user)
    context = {
        "incident": incident,
        "object": incident,
        "actions": action_buttons(
            user,
            incident,
            # Only a serious or severe incident not yet notified goes to the Bank.
            () if incident.is_notifiable and incident.bank_notified_at is None else ("notify_bank",),
            failed_action="" if failed_item else failed_action,
            typed_comment="" if failed_item else typed_comment,
        ),
        "action_error": error,
        "corrective_actions": rows,
        "timeline": _incident_timeline(incident, actions),
        "root_cause_form": (root_cause_form or RootCauseForm(initial={"root_cause": incident.root_cause}))
        if may_root_cause
        else None,
        "action_form": (action_form or CorrectiveActionForm()) if may_add else None,
        "closing_problems": incidents.closing_problems(incident)
        if incident.status == IncidentStatus.UNDER_FOLLOW_UP
        else [],
    }
    return render(request, "safeguards/incident_detail.html", context, status=status)


def _visible_incident(request: HttpRequest, pk: int) -> Incident:
    return get_visible_or_404(_incidents(request.user), request.user, pk=pk)


@allowed(incidents.may_read)
@require_GET
def incident_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _incident_page(request, _visible_incident(request, pk))


@allowed(incidents.may_read)
@require_POST
def incident_transition(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    return handle_transition(
        request,
        _incidents(request.user),
        pk,
        action,
        lambda incident, **kw: _incident_page(request, incident, status=409, **kw),
    )


@allowed(incidents.may_read)
@require_POST
def incident_root_cause(request: HttpRequest, pk: int) -> HttpResponse:
    incident = _visible_incident(request, pk)
    rule = lifecycle.get_rule(Incident, "record_root_cause")
    try:
        lifecycle.check_may_act(request.user, incident, rule)
    except ActionRefused as exc:
        raise PermissionDenied from exc
    form = RootCauseForm(request.POST)
    if not form.is_valid():
        return _incident_page(request, incident, root_cause_form=form, status=400)
    try:
        lifecycle.apply(
            incident,
            "record_root_cause",
            request.user,
            comment=request.POST.get("comment", ""),
            root_cause=form.cleaned_data["root_cause"],
        )
    except ActionRefused as exc:
        raise_if_forbidden(exc)
        return _incident_page(
            request, _visible_incident(request, pk), root_cause_form=form, error=exc.message, status=409
        )
    messages.success(request, _("%(ref)s: root cause recorded.") % {"ref": incident.reference})
    return redirect(incident.get_absolute_url())


@allowed(incidents.may_read)
@require_POST
def corrective_action_add(request: HttpRequest, pk: int) -> HttpResponse:
    incident = _visible_incident(request, pk)
    if not incidents.is_follow_up_officer(request.user):
        raise PermissionDenied
    form = CorrectiveActionForm(request.POST)
    if not form.is_valid():
        return _incident_page(request, incident, action_form=form, status=400)
    try:
        action = incidents.add_corrective_action(user=request.user, incident=incident, data=form.cleaned_data)
    except ValidationError as exc:
        attach_errors(form, exc)
        return _incident_page(request, incident, action_form=form, status=400)
    except ActionRefused as exc:
        raise_if_forbidden(exc)
        return _incident_page(request, incident, action_form=form, error=exc.message, status=409)
    messages.success(request, _("%(ref)s added.") % {"ref": action.reference})
    return redirect(incident.get_absolute_url())


@allowed(incidents.may_read)
@require_POST
def corrective_action_transition(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    def show_page(item: CorrectiveAction, **kw) -> HttpResponse:
        return _incident_page(request, item.incident, failed_item=item, status=409, **kw)

    return handle_transition(
        request, CorrectiveAction.objects.select_related("incident"), pk, action, show_page
    )
