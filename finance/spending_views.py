"""Pages of spending: the quarterly reports (list, opening one, the report with its lines and
actions), the PMU's query of expenditure lines, and the financial progress of sub-projects. Views
stay thin: the rules are in finance.spending, finance.progress and the engine.

Refusals: a role that may not act gets 403; another PO's report is a 404 (as a missing one); a refused
action shows the unchanged page again with the reason (409); a form with a mistake comes back as
typed with the mistake named by field (400).
"""

from __future__ import annotations

from datetime import date
from typing import Any, cast

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Q, Sum
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.errors import ActionRefused
from core.exports import Column, export_response
from core.lifecycle.views import action_buttons, handle_transition, raise_if_forbidden
from core.lists import Listing, SortSpec
from core.numbers import group
from core.permissions import get_visible_or_404
from enterprises.views.base import attach_errors
from finance import progress as money
from finance import spending
from finance.models import Expenditure, SpendingReport
from finance.spending_forms import (
    ExpenditureFilter,
    LineFormSet,
    ProgressFilterForm,
    ReportCreateForm,
    SpendingReportFilter,
    filter_progress_flags,
    filter_progress_sub_projects,
)
from subprojects.models import Financier
from subprojects.timeline import timeline
from subprojects.views.common import PAGE_SIZE, list_page
from verification.permissions import allowed


def _yes_no(value: bool) -> str:
    return _("yes") if value else _("no")


def _timing_text(report: SpendingReport) -> str:
    return {"late": _("late"), "overdue": _("overdue")}.get(spending.timing(report), "")


REPORT_COLUMNS = [
    Column(cast(str, gettext_lazy("Reference")), lambda r: r.reference),
    Column(cast(str, gettext_lazy("PO code")), lambda r: r.partner_organization.code),
    Column(cast(str, gettext_lazy("Agreement number")), lambda r: r.sub_project.agreement_number),
    Column(cast(str, gettext_lazy("Quarter")), lambda r: spending.quarter_label(r.quarter_end)),
    Column(cast(str, gettext_lazy("Due on")), lambda r: spending.due_on(r.quarter_end)),
    Column(cast(str, gettext_lazy("Lines")), lambda r: r.line_count),
    Column(cast(str, gettext_lazy("Total (BDT)")), lambda r: r.total or 0),
    Column(cast(str, gettext_lazy("First submitted at")), lambda r: r.submitted_at),
    Column(cast(str, gettext_lazy("Late or overdue")), _timing_text),
    Column(cast(str, gettext_lazy("State")), lambda r: r.get_status_display()),
    Column(cast(str, gettext_lazy("In this state since")), lambda r: r.status_changed_at),
]

EXPENDITURE_COLUMNS = [
    Column(cast(str, gettext_lazy("PO code")), lambda e: e.partner_organization.code),
    Column(cast(str, gettext_lazy("Agreement number")), lambda e: e.sub_project.agreement_number),
    Column(cast(str, gettext_lazy("Quarter")), lambda e: spending.quarter_label(e.report.quarter_end)),
    Column(cast(str, gettext_lazy("Report state")), lambda e: e.report.get_status_display()),
    Column(cast(str, gettext_lazy("Budget category")), lambda e: e.budget_line.get_category_display()),
    Column(cast(str, gettext_lazy("Budget line")), lambda e: e.budget_line.description),
    Column(cast(str, gettext_lazy("Financier")), lambda e: e.budget_line.get_financier_display()),
    Column(cast(str, gettext_lazy("Spent on")), lambda e: e.spent_on),
    Column(cast(str, gettext_lazy("Amount (BDT)")), lambda e: e.amount),
    Column(cast(str, gettext_lazy("Voucher reference")), lambda e: e.voucher_reference),
    Column(cast(str, gettext_lazy("Description")), lambda e: e.description),
]

PROGRESS_COLUMNS = [
    Column(cast(str, gettext_lazy("Agreement number")), lambda p: p.agreement_number),
    Column(cast(str, gettext_lazy("PO code")), lambda p: p.po_code),
    Column(cast(str, gettext_lazy("Title")), lambda p: p.title),
    Column(cast(str, gettext_lazy("As of")), lambda p: p.as_of),
    Column(cast(str, gettext_lazy("Approved: World Bank (BDT)")), lambda p: p.approved_world_bank),
    Column(cast(str, gettext_lazy("Approved: PKSF (BDT)")), lambda p: p.approved_pksf),
    Column(cast(str, gettext_lazy("Approved: PO (BDT)")), lambda p: p.approved_po),
    Column(cast(str, gettext_lazy("Approved: total (BDT)")), lambda p: p.approved),
    Column(cast(str, gettext_lazy("Released: World Bank (BDT)")), lambda p: p.released_world_bank),
    Column(cast(str, gettext_lazy("Released: PKSF (BDT)")), lambda p: p.released_pksf),
    Column(cast(str, gettext_lazy("Released: total (BDT)")), lambda p: p.released),
    Column(cast(str, gettext_lazy("Spent: World Bank lines (BDT)")), lambda p: p.spent_world_bank),
    Column(cast(str, gettext_lazy("Spent: PKSF lines (BDT)")), lambda p: p.spent_pksf),
    Column(cast(str, gettext_lazy("Spent: PO lines (BDT)")), lambda p: p.spent_po),
    Column(cast(str, gettext_lazy("Spent: total (BDT)")), lambda p: p.spent),
    Column(cast(str, gettext_lazy("Balance of releases (BDT)")), lambda p: p.balance),
    # xgettext:no-python-format
    Column(cast(str, gettext_lazy("Spent % of released")), lambda p: p.spent_of_released),
    # xgettext:no-python-format
    Column(cast(str, gettext_lazy("Spent % of approved")), lambda p: p.spent_of_approved),
    Column(cast(str, gettext_lazy("Time elapsed %")), lambda p: p.elapsed),
    Column(cast(str, gettext_lazy("Budget lines overrun")), lambda p: p.lines_overrun),
    Column(cast(str, gettext_lazy("Lagging")), lambda p: _yes_no(p.lagging)),
    Column(cast(str, gettext_lazy("Overrun")), lambda p: _yes_no(p.overrun)),
]


# --- Reports --------------------------------------------------------------------------------------


# The latest quarter first.
REPORT_SORTS = SortSpec(
    {
        "report": ("quarter_end", "sub_project__agreement_number"),
        "po": ("partner_organization__code",),
        "lines": ("line_count",),
        "total": ("total",),
        "submitted": ("submitted_at",),
        "state": ("status",),
    },
    default="-report",
)
EXPENDITURE_SORTS = SortSpec(
    {
        "spent": ("spent_on",),
        "report": ("report__quarter_end", "sub_project__agreement_number"),
        "po": ("partner_organization__code",),
        "budget_line": ("budget_line__category", "budget_line__description"),
        "financier": ("budget_line__financier",),
        "amount": ("amount",),
        "voucher": ("voucher_reference",),
    },
    default="-spent",
)
# Rows computed in Python (finance.progress): sorted by their attributes, in agreement order first.
PROGRESS_SORTS = SortSpec(
    {
        "sub_project": ("agreement_number",),
        "po": ("po_code",),
        "approved": ("approved",),
        "released": ("released",),
        "spent": ("spent",),
        "balance": ("balance",),
        "spent_of_released": ("spent_of_released",),
        "spent_of_approved": ("spent_of_approved",),
        "elapsed": ("elapsed",),
    },
    fallback=(),
)


def _reports(user):
    return spending.reports_with_totals(
        SpendingReport.objects.visible_to(user).select_related("sub_project", "partner_organization")
    ).order_by("-quarter_end", "sub_project__agreement_number")


@allowed(spending.may_read)
@require_GET
def report_list(request: HttpRequest) -> HttpResponse:
    reports = _reports(request.user)
    filterset = SpendingReportFilter(request.GET or None, queryset=reports)
    filterset.offer_choices(request.user, list(reports.values_list("quarter_end", flat=True)))
    return list_page(
        request,
        template="finance/spending_report_list.html",
        filterset=filterset,
        columns=REPORT_COLUMNS,
        export_name="spending-reports",
        sort=REPORT_SORTS,
        context={
            "may_report": spending.may_report(request.user),
            "due_days": settings.SPENDING_REPORT_DUE_DAYS,
        },
    )


@allowed(spending.may_report)
@require_http_methods(["GET", "POST"])
def report_create(request: HttpRequest) -> HttpResponse:
    initial = {"sub_project": request.GET.get("sub_project")}
    form = ReportCreateForm(request.POST or None, user=request.user, initial=initial)
    if request.method == "POST":
        if form.is_valid():
            sub_project, quarter_end = form.cleaned_values()
            existing = (
                SpendingReport.objects.filter(
                    sub_project=sub_project,
                    quarter_end=quarter_end,
                    partner_organization_id=getattr(request.user, "partner_organization_id", None),
                ).first()
                if sub_project and quarter_end
                else None
            )
            if existing is not None:
                messages.info(
                    request, _("%(ref)s is already open: here it is.") % {"ref": existing.reference}
                )
                return redirect(existing)
            try:
                report = spending.create_report(
                    user=request.user, sub_project=sub_project, quarter_end=quarter_end
                )
            except ValidationError as exc:
                attach_errors(form, exc)
            else:
                messages.success(request, _("%(ref)s opened: enter its lines.") % {"ref": report.reference})
                return redirect(report)
        return render(request, "finance/spending_report_form.html", {"form": form}, status=400)
    return render(request, "finance/spending_report_form.html", {"form": form})


def _line_initial(line: Expenditure) -> dict[str, Any]:
    return {
        "id": line.pk,
        "budget_line": line.budget_line_id,
        "spent_on": line.spent_on,
        "amount": line.amount,
        "voucher_reference": line.voucher_reference,
        "description": line.description,
    }


def _report_page(
    request: HttpRequest,
    report: SpendingReport,
    *,
    formset=None,
    error: str = "",
    failed_action: str = "",
    typed_comment: str = "",
    status: int = 200,
) -> HttpResponse:
    user = request.user
    numbered = spending.numbered_budget_lines(report.sub_project)
    numbers = {line.pk: number for number, line in numbered}
    lines = list(report.lines.select_related("budget_line").order_by("spent_on", "pk"))
    for line in lines:
        line.number = numbers.get(line.budget_line_id)
        line.label = spending.budget_line_label(line.number or 0, line.budget_line)
    editable = spending.may_edit(user, report)
    if editable and formset is None:
        formset = LineFormSet(
            prefix="lines",
            initial=[_line_initial(line) for line in lines],
            budget_lines=[(line.pk, spending.budget_line_label(n, line)) for n, line in numbered],
        )
    totals = spending.budget_line_totals(report)
    context = {
        "report": report,
        "object": report,
        "quarter": spending.quarter_label(report.quarter_end),
        "quarter_start": spending.quarter_start(report.quarter_end),
        "due_on": spending.due_on(report.quarter_end),
        "timing": spending.timing(report),
        "actions": action_buttons(user, report, failed_action=failed_action, typed_comment=typed_comment),
        "action_error": error,
        "lines": lines,
        "total": sum((line.amount for line in lines), start=money.ZERO),
        "totals": totals,
        "exceeding": [row for row in totals if row["exceeds"]],
        "formset": formset if editable else None,
        "timeline": timeline(report),
    }
    return render(request, "finance/spending_report_detail.html", context, status=status)


def _visible_report(request: HttpRequest, pk: int) -> SpendingReport:
    found = get_visible_or_404(
        SpendingReport.objects.select_related("sub_project", "partner_organization", "created_by"),
        request.user,
        pk=pk,
    )
    return cast(SpendingReport, found)


@allowed(spending.may_read)
@require_http_methods(["GET", "POST"])
def report_detail(request: HttpRequest, pk: int) -> HttpResponse:
    report = _visible_report(request, pk)
    if request.method == "GET":
        return _report_page(request, report)
    try:
        spending.check_may_edit(request.user, report)
    except ActionRefused as exc:
        raise_if_forbidden(exc)
        return _report_page(request, report, error=str(exc), status=409)
    numbered = spending.numbered_budget_lines(report.sub_project)
    own = {line.pk: line for line in report.lines.all()}
    formset = LineFormSet(
        request.POST,
        prefix="lines",
        initial=[
            _line_initial(line) for line in sorted(own.values(), key=lambda kept: (kept.spent_on, kept.pk))
        ],
        budget_lines=[(line.pk, spending.budget_line_label(n, line)) for n, line in numbered],
    )
    if not formset.is_valid():
        return _report_page(request, report, formset=formset, status=400)
    changes: list[spending.LineChange] = []
    forms_of_changes = []
    for form in formset.forms:
        data = form.cleaned_data
        line_id = data.get("id")
        if not data or (not line_id and not form.has_changed()):
            continue  # a blank row
        line = own.get(line_id) or (Expenditure(pk=line_id) if line_id else None)
        if data.get("DELETE"):
            if line is not None:
                changes.append(spending.LineChange(line=line, delete=True))
                forms_of_changes.append(form)
            continue
        if line is not None and line_id in own and not form.has_changed():
            continue
        values = {name: data.get(name) for name in spending.LINE_FIELDS}
        changes.append(spending.LineChange(values=values, line=line))
        forms_of_changes.append(form)
    if not changes:
        messages.info(request, _("Nothing to save: no line was added, changed or deleted."))
        return redirect(report)
    try:
        saved = spending.save_lines(user=request.user, report=report, changes=changes)
    except spending.LinesRefused as exc:
        for index, problems in exc.rows.items():
            target = forms_of_changes[index] if 0 <= index < len(forms_of_changes) else None
            for name, message in problems.items():
                if target is None:
                    formset._non_form_errors = [*formset.non_form_errors(), message]
                else:
                    target.add_error(name if name in target.fields else None, message)
        return _report_page(request, report, formset=formset, status=400)
    except ActionRefused as exc:
        raise_if_forbidden(exc)
        return _report_page(request, report, formset=formset, error=str(exc), status=409)
    messages.success(
        request,
        _("Saved: %(created)s added, %(updated)s changed, %(deleted)s deleted.")
        % {"created": saved.created, "updated": saved.updated, "deleted": saved.deleted},
    )
    for row in spending.budget_line_totals(report):
        if row["exceeds"]:
            messages.warning(
                request,
                _(
                    "Budget line %(label)s: %(spent)s BDT entered to date, "
                    "above the %(approved)s BDT approved."
                )
                % {
                    "label": row["label"],
                    "spent": group(row["cumulative"], 2),
                    "approved": group(row["approved"], 2),
                },
            )
    return redirect(report)


@allowed(spending.may_read)
@require_POST
def report_transition(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    return handle_transition(
        request,
        SpendingReport.objects.select_related("sub_project", "partner_organization"),
        pk,
        action,
        lambda report, **kw: _report_page(request, report, status=409, **kw),
    )


# --- Expenditure lines ----------------------------------------------------------------------------


@allowed(spending.may_read)
@require_GET
def expenditure_list(request: HttpRequest) -> HttpResponse:
    lines = (
        Expenditure.objects.visible_to(request.user)
        .select_related("partner_organization", "sub_project", "report", "budget_line")
        .order_by("-spent_on", "-pk")
    )
    quarters = (
        SpendingReport.objects.visible_to(request.user).values_list("quarter_end", flat=True).distinct()
    )
    filterset = ExpenditureFilter(request.GET or None, queryset=lines)
    filterset.offer_choices(request.user, list(quarters))
    totals = filterset.qs.aggregate(
        count=Count("pk"),
        total=Sum("amount"),
        **{
            financier: Sum("amount", filter=Q(budget_line__financier=financier))
            for financier in Financier.values
        },
    )
    by_financier = [(label, totals.get(value) or 0) for value, label in Financier.choices]
    return list_page(
        request,
        template="finance/spending_expenditure_list.html",
        filterset=filterset,
        columns=EXPENDITURE_COLUMNS,
        export_name="expenditures",
        sort=EXPENDITURE_SORTS,
        context={"totals": totals, "by_financier": by_financier},
    )


# --- Financial progress ---------------------------------------------------------------------------


def progress_rows(user, data: dict) -> tuple[date, list[money.SubProjectProgress]]:
    """The progress rows a page or API request asks for (already cleaned: as_of, PO, sub-project, flag)."""
    as_of = data.get("as_of") or timezone.localdate()
    sub_projects = filter_progress_sub_projects(spending.visible_sub_projects(user), data)
    rows = money.progress(as_of, sub_projects)
    return as_of, filter_progress_flags(rows, data.get("flag") or "")


@allowed(spending.may_read)
@require_GET
def progress_list(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    form = ProgressFilterForm(request.GET or None, user=request.user)
    data = form.cleaned_data if form.is_valid() else {}
    as_of, rows = progress_rows(request.user, data)
    # "As of" picks the day the figures are read on; it filters no row.
    listing = Listing(request, sort=PROGRESS_SORTS, per_page=PAGE_SIZE, keep=("as_of",))
    rows = listing.order(rows)
    export = request.GET.get("export")
    if export in {"csv", "xlsx"}:
        return export_response(rows, PROGRESS_COLUMNS, export, "financial-progress")
    context = listing.page(rows)
    return render(
        request,
        "finance/progress_list.html",
        {
            "form": form,
            "as_of": as_of,
            "rows": context["page_obj"].object_list,
            **context,
            "flagged": sum(1 for row in rows if row.flags),
            "lag_points": settings.SPENDING_LAG_POINTS,
        },
    )
