"""Pages of the release schedules and the releases. Views stay thin: the rules are in finance.releases
and the lifecycle engine.

Refusals: a role that may not act gets 403; another PO's sub-project, tranche, milestone or release is
a 404 (as a missing one); a refused action shows the unchanged page again with the reason and what
was typed (409); a form with a mistake comes back as typed with the mistake named by field (400).
"""

from __future__ import annotations

from typing import cast

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.text import format_lazy
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
from finance import releases
from finance.models import Milestone, MilestoneStatus, Release, ReleaseStatus, Tranche
from finance.release_filters import ReleaseFilter, SubProjectMoneyFilter
from finance.release_forms import (
    MilestoneFormSet,
    MilestoneReportForm,
    ReleaseRequestForm,
    TrancheFormSet,
    TransferForm,
    changed_rows,
)
from subprojects.models import SubProject
from subprojects.timeline import timeline
from subprojects.views.common import list_page
from verification.permissions import allowed

RELEASE_COLUMNS = [
    Column(cast(str, gettext_lazy("Reference")), lambda r: r.reference),
    Column(cast(str, gettext_lazy("PO code")), lambda r: r.partner_organization.code),
    Column(cast(str, gettext_lazy("Sub-project")), lambda r: r.sub_project.agreement_number),
    Column(cast(str, gettext_lazy("Tranche")), lambda r: r.tranche.number),
    Column(cast(str, gettext_lazy("Tranche title")), lambda r: r.tranche.title),
    Column(cast(str, gettext_lazy("World Bank share (BDT)")), lambda r: r.amount_world_bank),
    Column(cast(str, gettext_lazy("PKSF share (BDT)")), lambda r: r.amount_pksf),
    Column(cast(str, gettext_lazy("Amount (BDT)")), lambda r: r.amount),
    Column(cast(str, gettext_lazy("Requested by")), lambda r: r.requested_by.get_display_name()),
    Column(cast(str, gettext_lazy("Requested at")), lambda r: r.requested_at),
    Column(cast(str, gettext_lazy("State")), lambda r: r.get_status_display()),
    Column(cast(str, gettext_lazy("In this state since")), lambda r: r.status_changed_at),
    Column(cast(str, gettext_lazy("Transferred on")), lambda r: r.transferred_on),
    Column(cast(str, gettext_lazy("Transfer reference")), lambda r: r.transfer_reference),
]


def _approved(s: SubProject, code: str):
    return getattr(s, next(f.budget_field for f in releases.FINANCIERS if f.code == code))


def _money_columns(f: releases.Financier) -> list[Column]:
    return [
        Column(
            cast(str, format_lazy("{} {}", f.label, gettext_lazy("approved (BDT)"))),
            lambda s: getattr(s, f.budget_field),
        ),
        Column(
            cast(str, format_lazy("{} {}", f.label, gettext_lazy("scheduled (BDT)"))),
            lambda s: getattr(s, f"{f.code}_scheduled"),
        ),
        Column(
            cast(str, format_lazy("{} {}", f.label, gettext_lazy("transferred (BDT)"))),
            lambda s: getattr(s, f"{f.code}_transferred"),
        ),
        Column(
            cast(str, format_lazy("{} {}", f.label, gettext_lazy("remaining (BDT)"))),
            lambda s: getattr(s, f"{f.code}_remaining"),
        ),
    ]


SUB_PROJECT_COLUMNS = [
    Column(cast(str, gettext_lazy("Agreement number")), lambda s: s.agreement_number),
    Column(cast(str, gettext_lazy("PO code")), lambda s: s.partner_organization.code),
    Column(cast(str, gettext_lazy("Title")), lambda s: s.title),
    Column(cast(str, gettext_lazy("State")), lambda s: s.get_status_display()),
    *[column for f in releases.FINANCIERS for column in _money_columns(f)],
]


# --- Lists ----------------------------------------------------------------------------------------


# The latest request first.
RELEASE_SORTS = SortSpec(
    {
        "reference": ("pk",),
        "po": ("partner_organization__code",),
        "sub_project": ("sub_project__agreement_number",),
        "tranche": ("sub_project__agreement_number", "tranche__number"),
        "world_bank": ("amount_world_bank",),
        "pksf": ("amount_pksf",),
        "requested": ("requested_at",),
        "state": ("status",),
        "transferred": ("transferred_on",),
    },
    default="-requested",
)
SUB_PROJECT_MONEY_SORTS = SortSpec(
    {
        "sub_project": ("agreement_number",),
        "po": ("partner_organization__code",),
        "state": ("status",),
        **{
            f"{f.code}_{what}": (field,)
            for f in releases.FINANCIERS
            for what, field in (
                ("approved", f.budget_field),
                ("transferred", f"{f.code}_transferred"),
                ("remaining", f"{f.code}_remaining"),
            )
        },
    },
    default="sub_project",
)


def _releases(user):
    return Release.objects.visible_to(user).select_related(
        "sub_project", "partner_organization", "tranche", "requested_by"
    )


@allowed(releases.may_read)
@require_GET
def release_list(request: HttpRequest) -> HttpResponse:
    filterset = ReleaseFilter(request.GET or None, queryset=_releases(request.user), user=request.user)
    return list_page(
        request,
        template="finance/release_list.html",
        filterset=filterset,
        columns=RELEASE_COLUMNS,
        export_name="releases",
        sort=RELEASE_SORTS,
        context={"sees_all": releases.sees_all_money(request.user)},
    )


@allowed(releases.may_read)
@require_GET
def subproject_finance_list(request: HttpRequest) -> HttpResponse:
    queryset = releases.with_money(
        releases.sub_projects_for(request.user).select_related("partner_organization")
    ).order_by("agreement_number")
    filterset = SubProjectMoneyFilter(request.GET or None, queryset=queryset, user=request.user)
    return list_page(
        request,
        template="finance/schedule_list.html",
        filterset=filterset,
        columns=SUB_PROJECT_COLUMNS,
        export_name="sub-project-money",
        sort=SUB_PROJECT_MONEY_SORTS,
        context={"sees_all": releases.sees_all_money(request.user)},
    )


# --- The sub-project's money page -----------------------------------------------------------------


def _sub_project(request: HttpRequest, pk: int) -> SubProject:
    return get_object_or_404(
        releases.sub_projects_for(request.user).select_related("partner_organization", "proposal"), pk=pk
    )


def _money_page(
    request: HttpRequest,
    sub_project: SubProject,
    *,
    error: str = "",
    failed_milestone: Milestone | None = None,
    failed_action: str = "",
    typed_comment: str = "",
    status: int = 200,
) -> HttpResponse:
    from finance import spending

    user = request.user
    report_rule = lifecycle.get_rule(Milestone, "report")
    milestones = []
    for milestone in Milestone.objects.filter(sub_project=sub_project).select_related("sub_project"):
        failed = failed_milestone is not None and failed_milestone.pk == milestone.pk
        milestones.append(
            {
                "item": milestone,
                "buttons": action_buttons(
                    user,
                    milestone,
                    failed_action=failed_action if failed else "",
                    typed_comment=typed_comment if failed else "",
                ),
                "may_report": milestone.status in report_rule.sources
                and lifecycle.may_act(user, milestone, report_rule),
            }
        )
    may_request = releases.is_po_staff(user, sub_project.partner_organization_id)
    tranches = []
    for tranche in (
        Tranche.objects.filter(sub_project=sub_project)
        .select_related("milestone")
        .prefetch_related(Prefetch("releases", Release.objects.order_by("-requested_at", "-pk")))
    ):
        tranche.sub_project = sub_project
        history = list(tranche.releases.all())
        current = next((r for r in history if r.status in releases.ACTIVE_RELEASE_STATUSES), None)
        refusal = releases.request_refusal(tranche) if current is None else None
        tranches.append(
            {
                "item": tranche,
                "current": current,
                "latest": history[0] if history else None,
                "refusal": str(refusal) if refusal else "",
                "may_request": may_request and refusal is None and current is None,
            }
        )
    financiers = releases.financier_rows(sub_project)
    context = {
        "sub_project": sub_project,
        "object": sub_project,
        "financiers": financiers,
        "gaps": [row for row in financiers if row["gap"] > 0],
        "milestones": milestones,
        "tranches": tranches,
        "releases": Release.objects.filter(sub_project=sub_project)
        .select_related("tranche", "requested_by")
        .order_by("-requested_at", "-pk"),
        "may_edit": releases.may_edit_schedule(user) and sub_project.is_amendable,
        "may_request": may_request,
        "action_error": error,
        **spending.subproject_context(sub_project, user),
    }
    return render(request, "finance/subproject_finance.html", context, status=status)


@allowed(releases.may_read)
@require_GET
def subproject_finance(request: HttpRequest, pk: int) -> HttpResponse:
    return _money_page(request, _sub_project(request, pk))


@allowed(releases.may_edit_schedule)
@require_POST
def schedule_create(request: HttpRequest, pk: int) -> HttpResponse:
    sub_project = _sub_project(request, pk)
    try:
        tranches = releases.create_default_schedule_for(request.user, sub_project)
    except ActionRefused as exc:
        raise_if_forbidden(exc)
        return _money_page(request, sub_project, error=str(exc), status=409)
    messages.success(
        request,
        _("%(ref)s: the default schedule is set (%(count)s tranches).")
        % {"ref": sub_project.agreement_number, "count": len(tranches)},
    )
    return redirect("finance:subproject-finance", pk=sub_project.pk)


def _schedule_forms(sub_project: SubProject, data=None):
    milestones = list(Milestone.objects.filter(sub_project=sub_project))
    tranches = list(Tranche.objects.filter(sub_project=sub_project))
    locked_tranches = set(
        Release.objects.filter(sub_project=sub_project).active().values_list("tranche_id", flat=True)
    )
    locked_milestones = {t.milestone_id for t in tranches if t.pk in locked_tranches and t.milestone_id}
    milestone_forms = MilestoneFormSet(
        data,
        prefix="milestones",
        initial=[{"id": m.pk, "title": m.title, "due_on": m.due_on} for m in milestones],
        locked_ids=locked_milestones,
    )
    tranche_forms = TrancheFormSet(
        data,
        prefix="tranches",
        initial=[
            {
                "id": t.pk,
                "title": t.title,
                "milestone": t.milestone_id,
                "amount_world_bank": t.amount_world_bank,
                "amount_pksf": t.amount_pksf,
                "planned_on": t.planned_on,
            }
            for t in tranches
        ],
        locked_ids=locked_tranches,
        form_options={"milestones": Milestone.objects.filter(sub_project=sub_project)},
    )
    numbers = {
        "milestones": {m.pk: m.number for m in milestones},
        "tranches": {t.pk: t.number for t in tranches},
    }
    return milestone_forms, tranche_forms, numbers


def _schedule_page(request, sub_project, milestone_forms, tranche_forms, numbers, *, errors=(), status=200):
    return render(
        request,
        "finance/schedule_edit.html",
        {
            "sub_project": sub_project,
            "milestone_forms": milestone_forms,
            "tranche_forms": tranche_forms,
            "numbers": numbers,
            "financiers": releases.financier_rows(sub_project),
            "schedule_errors": list(errors),
        },
        status=status,
    )


@allowed(releases.may_edit_schedule)
@require_http_methods(["GET", "POST"])
def schedule_edit(request: HttpRequest, pk: int) -> HttpResponse:
    sub_project = _sub_project(request, pk)
    if request.method == "GET":
        return _schedule_page(request, sub_project, *_schedule_forms(sub_project))
    milestone_forms, tranche_forms, numbers = _schedule_forms(sub_project, request.POST)
    if not (milestone_forms.is_valid() and tranche_forms.is_valid()):
        return _schedule_page(request, sub_project, milestone_forms, tranche_forms, numbers, status=400)
    try:
        releases.edit_schedule(
            request.user,
            sub_project,
            milestones=changed_rows(milestone_forms),
            tranches=changed_rows(tranche_forms),
        )
    except ValidationError as exc:
        labels = {
            "amount_world_bank": _("World Bank share"),
            "amount_pksf": _("PKSF share"),
            "milestone": _("Milestone"),
            "title": _("Title"),
            "due_on": _("Due on"),
            "planned_on": _("Planned for"),
        }
        errors = [
            f"{labels.get(field, field)}: {message}"
            for field, field_messages in exc.message_dict.items()
            for message in field_messages
        ]
        return _schedule_page(
            request, sub_project, milestone_forms, tranche_forms, numbers, errors=errors, status=400
        )
    except ActionRefused as exc:
        raise_if_forbidden(exc)
        return _schedule_page(
            request, sub_project, milestone_forms, tranche_forms, numbers, errors=[str(exc)], status=409
        )
    messages.success(request, _("%(ref)s: schedule saved.") % {"ref": sub_project.agreement_number})
    return redirect("finance:subproject-finance", pk=sub_project.pk)


# --- Milestones -----------------------------------------------------------------------------------


def _milestones(user):
    return Milestone.objects.visible_to(user).select_related("sub_project", "partner_organization")


def _report_page(request, milestone, form, *, error: str = "", status: int = 200) -> HttpResponse:
    return render(
        request,
        "finance/milestone_report.html",
        {"milestone": milestone, "sub_project": milestone.sub_project, "form": form, "action_error": error},
        status=status,
    )


@allowed(releases.may_read)
@require_http_methods(["GET", "POST"])
def milestone_report(request: HttpRequest, pk: int) -> HttpResponse:
    milestone = cast(Milestone, get_visible_or_404(_milestones(request.user), request.user, pk=pk))
    rule = lifecycle.get_rule(Milestone, "report")
    try:
        lifecycle.check_may_act(request.user, milestone, rule)
    except ActionRefused as exc:
        raise PermissionDenied from exc
    if request.method == "GET":
        if milestone.status != MilestoneStatus.PLANNED:
            messages.info(
                request, _("Milestone %(number)s is already reported done.") % {"number": milestone.number}
            )
            return redirect(milestone.get_absolute_url())
        return _report_page(request, milestone, MilestoneReportForm())
    form = MilestoneReportForm(request.POST)
    if form.is_valid():
        problems = releases.milestone_report_problems(milestone, form.cleaned_data["reported_on"])
        for field, message in problems.items():
            form.add_error(field, message)
    if not form.is_valid():
        return _report_page(request, milestone, form, status=400)
    try:
        lifecycle.apply(
            milestone,
            "report",
            request.user,
            comment=form.cleaned_data["evidence"],
            reported_on=form.cleaned_data["reported_on"],
        )
    except ActionRefused as exc:
        raise_if_forbidden(exc)
        milestone.refresh_from_db()
        return _report_page(request, milestone, form, error=str(exc), status=409)
    messages.success(
        request,
        _("Milestone %(number)s reported done. The tranche tied to it may now be requested.")
        % {"number": milestone.number},
    )
    return redirect(milestone.get_absolute_url())


@allowed(releases.may_read)
@require_POST
def milestone_transition(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    def show_page(milestone: Milestone, **kw) -> HttpResponse:
        sub_project = releases.sub_projects_for(request.user).get(pk=milestone.sub_project_id)
        return _money_page(request, sub_project, failed_milestone=milestone, status=409, **kw)

    return handle_transition(request, _milestones(request.user), pk, action, show_page)


# --- Releases -------------------------------------------------------------------------------------


def _request_page(request, tranche, form, *, error: str = "", status: int = 200) -> HttpResponse:
    refusal = releases.request_refusal(tranche) if not error else None
    return render(
        request,
        "finance/release_request.html",
        {
            "tranche": tranche,
            "sub_project": tranche.sub_project,
            "form": form,
            "action_error": error,
            "refusal": str(refusal) if refusal else "",
            "financiers": releases.financier_rows(tranche.sub_project),
        },
        status=status,
    )


@allowed(releases.may_read)
@require_http_methods(["GET", "POST"])
def release_request(request: HttpRequest, pk: int) -> HttpResponse:
    tranches = Tranche.objects.select_related("sub_project", "milestone", "partner_organization")
    tranche = cast(Tranche, get_visible_or_404(tranches, request.user, pk=pk))
    if not releases.is_po_staff(request.user, tranche.partner_organization_id):
        raise PermissionDenied
    if request.method == "GET":
        return _request_page(request, tranche, ReleaseRequestForm())
    form = ReleaseRequestForm(request.POST)
    if not form.is_valid():
        return _request_page(request, tranche, form, status=400)
    try:
        release = releases.request_release(request.user, tranche, form.cleaned_data["justification"])
    except ValidationError as exc:
        attach_errors(form, exc)
        return _request_page(request, tranche, form, status=400)
    except ActionRefused as exc:
        raise_if_forbidden(exc)
        return _request_page(request, tranche, form, error=str(exc), status=409)
    messages.success(
        request,
        _("%(ref)s requested: %(amount)s BDT. The PMU checks it next.")
        % {"ref": release.reference, "amount": releases.money(release.amount)},
    )
    return redirect(release.get_absolute_url())


def _release_page(
    request: HttpRequest,
    release: Release,
    *,
    error: str = "",
    failed_action: str = "",
    typed_comment: str = "",
    transfer_form: TransferForm | None = None,
    status: int = 200,
) -> HttpResponse:
    user = request.user
    # Segregation of duties: whoever checked it is not offered the approval.
    exclude = ("approve",) if releases.checked_by(release) == user.pk else ()
    transfer_rule = lifecycle.get_rule(Release, "record_transfer")
    may_transfer = release.status in transfer_rule.sources and lifecycle.may_act(user, release, transfer_rule)
    context = {
        "release": release,
        "object": release,
        "actions": action_buttons(
            user, release, exclude, failed_action=failed_action, typed_comment=typed_comment
        ),
        "action_error": error,
        "segregated": bool(exclude) and release.status == ReleaseStatus.CHECKED,
        "transfer_form": (transfer_form or TransferForm()) if may_transfer else None,
        "timeline": timeline(release),
        **releases.check_context(release),
    }
    return render(request, "finance/release_detail.html", context, status=status)


def _visible_release(request: HttpRequest, pk: int) -> Release:
    return cast(Release, get_visible_or_404(_releases(request.user), request.user, pk=pk))


@allowed(releases.may_read)
@require_GET
def release_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _release_page(request, _visible_release(request, pk))


@allowed(releases.may_read)
@require_POST
def release_transition(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    return handle_transition(
        request,
        _releases(request.user),
        pk,
        action,
        lambda release, **kw: _release_page(request, release, status=409, **kw),
    )


@allowed(releases.may_read)
@require_POST
def release_transfer(request: HttpRequest, pk: int) -> HttpResponse:
    release = _visible_release(request, pk)
    rule = lifecycle.get_rule(Release, "record_transfer")
    try:
        lifecycle.check_may_act(request.user, release, rule)
    except ActionRefused as exc:
        raise PermissionDenied from exc
    form = TransferForm(request.POST)
    if form.is_valid():
        problems = releases.transfer_problems(
            release, form.cleaned_data["transferred_on"], form.cleaned_data["transfer_reference"]
        )
        for field, message in problems.items():
            form.add_error(field, message)
    if not form.is_valid():
        return _release_page(request, release, transfer_form=form, status=400)
    try:
        lifecycle.apply(
            release,
            "record_transfer",
            request.user,
            comment=form.cleaned_data["comment"],
            transferred_on=form.cleaned_data["transferred_on"],
            transfer_reference=form.cleaned_data["transfer_reference"],
        )
    except ActionRefused as exc:
        raise_if_forbidden(exc)
        release.refresh_from_db()
        return _release_page(request, release, transfer_form=form, error=str(exc), status=409)
    messages.success(
        request,
        _("%(ref)s: transfer of %(amount)s BDT recorded.")
        % {"ref": release.reference, "amount": releases.money(release.amount)},
    )
    return redirect(release.get_absolute_url())
