from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from core.errors import ActionRefused
from core.exports import Column
from core.lists import SortSpec
from core.permissions import get_visible_or_404
from subprojects import services
from subprojects.filters import SubProjectFilter
from subprojects.forms import SubProjectForm
from subprojects.models import SubProject
from subprojects.permissions import may_amend_sub_project, page_requires
from subprojects.views.common import handle_transition, list_page, render_object_page, report_refusal

SUB_PROJECT_COLUMNS = [
    Column(gettext_lazy("Agreement number"), lambda s: s.agreement_number),
    Column(gettext_lazy("Proposal"), lambda s: s.proposal.reference),
    Column(gettext_lazy("PO code"), lambda s: s.partner_organization.code),
    Column(gettext_lazy("PO"), lambda s: s.partner_organization.name),
    Column(gettext_lazy("Title"), lambda s: s.title),
    Column(gettext_lazy("Sector"), lambda s: s.sector.name),
    Column(gettext_lazy("Award date"), lambda s: s.award_date),
    Column(gettext_lazy("Start date"), lambda s: s.start_date),
    Column(gettext_lazy("End date"), lambda s: s.end_date),
    Column(gettext_lazy("World Bank share (BDT)"), lambda s: s.budget_world_bank),
    Column(gettext_lazy("PKSF share (BDT)"), lambda s: s.budget_pksf),
    Column(gettext_lazy("PO contribution (BDT)"), lambda s: s.budget_po),
    Column(gettext_lazy("Approved budget (BDT)"), lambda s: s.approved_budget),
    Column(gettext_lazy("Status"), lambda s: s.get_status_display()),
]


SUB_PROJECT_SORTS = SortSpec(
    {
        "agreement": ("agreement_number",),
        "title": ("title",),
        "po": ("partner_organization__code",),
        "sector": ("sector__name",),
        "period": ("start_date", "end_date"),
        "budget": ("approved_budget",),
        "status": ("status",),
    },
    default="agreement",
)


def _sub_projects(user):
    return SubProject.objects.visible_to(user).select_related("partner_organization", "sector", "proposal")


@login_required
def sub_project_list(request: HttpRequest) -> HttpResponse:
    filterset = SubProjectFilter(request.GET or None, queryset=_sub_projects(request.user), user=request.user)
    return list_page(
        request,
        template="subprojects/subproject_list.html",
        filterset=filterset,
        columns=SUB_PROJECT_COLUMNS,
        export_name="sub-projects",
        sort=SUB_PROJECT_SORTS,
    )


def _sub_project_page(request: HttpRequest, sub_project: SubProject, **kwargs) -> HttpResponse:
    context = {
        "sub_project": sub_project,
        "can_edit": may_amend_sub_project(request.user) and sub_project.is_amendable,
    }
    return render_object_page(request, "subprojects/subproject_detail.html", sub_project, context, **kwargs)


@login_required
def sub_project_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _sub_project_page(request, get_visible_or_404(_sub_projects(request.user), request.user, pk=pk))


@page_requires(may_amend_sub_project)
def sub_project_edit(request: HttpRequest, pk: int) -> HttpResponse:
    sub_project = get_visible_or_404(_sub_projects(request.user), request.user, pk=pk)
    form = SubProjectForm(request.POST or None, instance=sub_project)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_sub_project(user=request.user, sub_project=sub_project, data=form.cleaned_data)
        except ActionRefused as exc:
            report_refusal(request, exc)
        else:
            messages.success(
                request, _("Sub-project %(number)s amended.") % {"number": sub_project.agreement_number}
            )
            return redirect(sub_project.get_absolute_url())
    return render(request, "subprojects/subproject_form.html", {"form": form, "sub_project": sub_project})


@require_POST
@login_required
def sub_project_transition(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    return handle_transition(
        request,
        _sub_projects(request.user),
        pk,
        action,
        lambda sub_project, **kw: _sub_project_page(request, sub_project, **kw),
    )
