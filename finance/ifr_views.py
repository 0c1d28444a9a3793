"""Pages of the interim financial reports and the funds received. Views stay thin: the rules are in
finance.ifr and the engine.

Refusals: anyone but the PMU's side (PMU officers, the World Bank, PKSF approvers, the PMU's finance
officers) gets 403 for these whole-programme pages, a PO's staff included; a missing report is a 404;
an action not possible now shows the unchanged page with the reason and what was typed (409); a form
with a mistake comes back as typed with the mistake named by field (400).
"""

from __future__ import annotations

from typing import cast

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Sum
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core import lifecycle
from core.errors import ActionRefused
from core.exports import Column, export_or_refuse
from core.lifecycle.views import action_buttons, handle_transition, raise_if_forbidden
from core.lists import SortSpec
from core.permissions import get_visible_or_404
from enterprises.views.base import attach_errors
from finance import ifr
from finance.ifr_forms import (
    FinancialReportFilter,
    ForecastForm,
    FundReceiptFilter,
    FundReceiptForm,
    NotesForm,
    ReportCreateForm,
    SentForm,
)
from finance.models import FinancialReport, FundReceipt, FundSource
from subprojects.timeline import timeline
from subprojects.views.common import list_page
from verification.permissions import allowed

REPORT_COLUMNS = [
    Column(gettext_lazy("Reference"), lambda r: r.reference),
    Column(gettext_lazy("Quarter ending"), lambda r: r.quarter_end),
    Column(gettext_lazy("Version"), lambda r: r.version),
    Column(gettext_lazy("State"), lambda r: r.get_status_display()),
    Column(gettext_lazy("Current version"), lambda r: not hasattr(r, "superseded_by")),
    Column(gettext_lazy("Due to the Bank by"), lambda r: ifr.due_on(r.quarter_end)),
    Column(gettext_lazy("Finalised at"), lambda r: r.finalised_at),
    Column(gettext_lazy("Sent to the Bank on"), lambda r: r.sent_on),
    Column(gettext_lazy("Prepared by"), lambda r: r.prepared_by.get_display_name()),
    Column(gettext_lazy("In this state since"), lambda r: r.status_changed_at),
]

RECEIPT_COLUMNS = [
    Column(gettext_lazy("Source"), lambda r: r.get_source_display()),
    Column(gettext_lazy("Received on"), lambda r: r.received_on),
    Column(gettext_lazy("Amount (BDT)"), lambda r: r.amount),
    Column(gettext_lazy("Reference"), lambda r: r.reference),
    Column(gettext_lazy("Description"), lambda r: r.description),
    Column(gettext_lazy("Recorded by"), lambda r: r.recorded_by.get_display_name()),
    Column(gettext_lazy("Recorded at"), lambda r: r.recorded_at),
]


def _reports(user):
    return FinancialReport.objects.visible_to(user).select_related(
        "prepared_by", "supersedes", "superseded_by"
    )


# --- Reports --------------------------------------------------------------------------------------


@allowed(ifr.may_read)
@require_GET
def ifr_list(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    export = request.GET.get("export")
    if export in {"csv", "xlsx"}:
        filterset = FinancialReportFilter(
            request.GET or None, queryset=_reports(request.user), user=request.user
        )
        return export_or_refuse(
            request, filterset.qs.order_by("-quarter_end", "-version"), REPORT_COLUMNS, export, "ifr-reports"
        )
    rows = ifr.quarter_rows()
    return render(
        request,
        "finance/ifr_list.html",
        {
            "rows": rows,
            "overdue_count": sum(1 for row in rows if row.overdue),
            "may_prepare": ifr.may_prepare(request.user),
            "may_create": ifr.may_prepare(request.user) and bool(ifr.creatable_quarters()),
            "due_days": settings.IFR_DUE_DAYS,
        },
    )


@allowed(ifr.may_prepare)
@require_http_methods(["GET", "POST"])
def ifr_create(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = ReportCreateForm(request.POST)
        if form.is_valid():
            try:
                report = ifr.create_report(
                    request.user, form.cleaned_data["quarter_end"], form.cleaned_data["notes"]
                )
            except ValidationError as exc:
                attach_errors(form, exc)
            else:
                messages.success(
                    request,
                    _("%(ref)s created as a draft, with its forecast prefilled from the budget.")
                    % {"ref": report.reference},
                )
                return redirect(report.get_absolute_url())
        return render(request, "finance/ifr_form.html", {"form": form}, status=400)
    form = ReportCreateForm(initial={"quarter_end": request.GET.get("quarter_end", "")})
    return render(request, "finance/ifr_form.html", {"form": form})


def _report_page(
    request: HttpRequest,
    report: FinancialReport,
    *,
    error: str = "",
    failed_action: str = "",
    typed_comment: str = "",
    notes_form: NotesForm | None = None,
    forecast_form: ForecastForm | None = None,
    sent_form: SentForm | None = None,
    status: int = 200,
) -> HttpResponse:
    user = request.user
    figures = ifr.figures_for(report)
    editable = ifr.may_prepare(user) and not report.is_locked
    send_rule = lifecycle.get_rule(FinancialReport, "send")
    may_send = report.status in send_rule.sources and lifecycle.may_act(user, report, send_rule)
    newer = FinancialReport.objects.filter(supersedes=report).first()
    context = {
        "report": report,
        "object": report,
        "figures": figures,
        "sheets": ifr.sheets(figures),
        "rules": ifr.notes(report, figures),
        "periods": figures["periods"],
        "period_names": ifr.period_names(),
        "actions": action_buttons(user, report, failed_action=failed_action, typed_comment=typed_comment),
        "action_error": error,
        "timeline": timeline(report),
        "notes_form": (notes_form or NotesForm(initial={"notes": report.notes})) if editable else None,
        "forecast_form": (forecast_form or ForecastForm(report=report)) if editable else None,
        "sent_form": (sent_form or SentForm()) if may_send else None,
        "may_correct": ifr.may_prepare(user) and report.is_locked and newer is None,
        "newer": newer,
        "versions": ifr.reports_of(report.quarter_end).exclude(pk=report.pk).order_by("-version"),
        "due_on": ifr.due_on(report.quarter_end),
        "overdue": not ifr.reports_of(report.quarter_end).filter(status="sent").exists()
        and timezone.localdate() > ifr.due_on(report.quarter_end),
        "quarter": ifr.quarter_label(report.quarter_end),
    }
    return render(request, "finance/ifr_detail.html", context, status=status)


def _visible_report(request: HttpRequest, pk: int) -> FinancialReport:
    return cast(FinancialReport, get_visible_or_404(_reports(request.user), request.user, pk=pk))


def _visible_receipt(request: HttpRequest, pk: int) -> FundReceipt:
    return cast(FundReceipt, get_visible_or_404(_receipts(request.user), request.user, pk=pk))


@allowed(ifr.may_read)
@require_GET
def ifr_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _report_page(request, _visible_report(request, pk))


@allowed(ifr.may_read)
@require_POST
def ifr_transition(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    return handle_transition(
        request,
        _reports(request.user),
        pk,
        action,
        lambda report, **kw: _report_page(request, report, status=409, **kw),
    )


@allowed(ifr.may_read)
@require_POST
def ifr_send(request: HttpRequest, pk: int) -> HttpResponse:
    report = _visible_report(request, pk)
    rule = lifecycle.get_rule(FinancialReport, "send")
    try:
        lifecycle.check_may_act(request.user, report, rule)
    except ActionRefused as exc:
        raise PermissionDenied from exc
    form = SentForm(request.POST)
    if not form.is_valid():
        return _report_page(request, report, sent_form=form, status=400)
    try:
        lifecycle.apply(
            report,
            "send",
            request.user,
            comment=form.cleaned_data["comment"],
            sent_on=form.cleaned_data["sent_on"],
        )
    except ActionRefused as exc:
        raise_if_forbidden(exc)
        return _report_page(
            request, _visible_report(request, pk), sent_form=form, error=exc.message, status=409
        )
    messages.success(request, _("%(ref)s recorded as sent to the Bank.") % {"ref": report.reference})
    return redirect(report.get_absolute_url())


@allowed(ifr.may_read)
@require_POST
def ifr_correct(request: HttpRequest, pk: int) -> HttpResponse:
    report = _visible_report(request, pk)
    if not ifr.may_prepare(request.user):
        raise PermissionDenied
    try:
        new = ifr.start_correction(report, request.user)
    except ActionRefused as exc:
        raise_if_forbidden(exc)
        return _report_page(request, report, error=exc.message, status=409)
    messages.success(
        request,
        _("%(ref)s started as a draft correcting %(old)s.") % {"ref": new.reference, "old": report.reference},
    )
    return redirect(new.get_absolute_url())


@allowed(ifr.may_read)
@require_POST
def ifr_notes(request: HttpRequest, pk: int) -> HttpResponse:
    report = _visible_report(request, pk)
    if not ifr.may_prepare(request.user):
        raise PermissionDenied
    try:
        ifr.check_editable(report)
    except ActionRefused as exc:
        return _report_page(request, report, error=exc.message, status=409)
    form = NotesForm(request.POST)
    if not form.is_valid():
        return _report_page(request, report, notes_form=form, status=400)
    try:
        ifr.set_notes(report, request.user, form.cleaned_data["notes"])
    except ActionRefused as exc:
        raise_if_forbidden(exc)
        return _report_page(request, report, error=exc.message, status=409)
    messages.success(request, _("%(ref)s: notes saved.") % {"ref": report.reference})
    return redirect(report.get_absolute_url())


@allowed(ifr.may_read)
@require_POST
def ifr_forecast(request: HttpRequest, pk: int) -> HttpResponse:
    report = _visible_report(request, pk)
    if not ifr.may_prepare(request.user):
        raise PermissionDenied
    try:
        ifr.check_editable(report)
    except ActionRefused as exc:
        return _report_page(request, report, error=exc.message, status=409)
    form = ForecastForm(request.POST, report=report)
    if not form.is_valid():
        return _report_page(request, report, forecast_form=form, status=400)
    try:
        ifr.set_forecast(report, request.user, form.rows())
    except ValidationError as exc:
        for message in exc.messages:
            form.add_error(None, message)
        return _report_page(request, report, forecast_form=form, status=400)
    except ActionRefused as exc:
        raise_if_forbidden(exc)
        return _report_page(request, report, forecast_form=form, error=exc.message, status=409)
    messages.success(request, _("%(ref)s: forecast saved.") % {"ref": report.reference})
    return redirect(report.get_absolute_url() + "#forecast")


@allowed(ifr.may_read)
@require_GET
def ifr_download(request: HttpRequest, pk: int, kind: str) -> HttpResponse:
    report = _visible_report(request, pk)
    if kind not in ifr.CONTENT_TYPES:
        raise Http404(_("No such file."))
    content, filename, content_type = ifr.report_file(report, kind)
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


# --- Funds received -------------------------------------------------------------------------------


# The latest receipt first.
RECEIPT_SORTS = SortSpec(
    {
        "received": ("received_on",),
        "source": ("source",),
        "reference": ("reference",),
        "amount": ("amount",),
        "recorded_by": ("recorded_by__first_name", "recorded_by__last_name", "recorded_by__username"),
    },
    default="-received",
)


def _receipts(user):
    return FundReceipt.objects.visible_to(user).select_related("recorded_by").order_by("-received_on", "-pk")


@allowed(ifr.may_read)
@require_GET
def receipt_list(request: HttpRequest) -> HttpResponse:
    filterset = FundReceiptFilter(request.GET or None, queryset=_receipts(request.user), user=request.user)
    totals = {
        row["source"]: row
        for row in filterset.qs.order_by().values("source").annotate(total=Sum("amount"), count=Count("pk"))
    }
    return list_page(
        request,
        template="finance/receipt_list.html",
        filterset=filterset,
        columns=RECEIPT_COLUMNS,
        export_name="fund-receipts",
        sort=RECEIPT_SORTS,
        context={
            "may_prepare": ifr.may_prepare(request.user),
            "totals": [
                {
                    "label": label,
                    "total": totals.get(value, {}).get("total") or 0,
                    "count": totals.get(value, {}).get("count") or 0,
                }
                for value, label in FundSource.choices
            ],
            "grand_total": sum((row["total"] or 0 for row in totals.values()), 0),
            "locked_quarters": sorted(ifr.quarter_label(q) for q in ifr.locked_quarters()),
        },
    )


def _receipt_form_page(
    request: HttpRequest,
    form: FundReceiptForm,
    receipt: FundReceipt | None,
    *,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    return render(
        request,
        "finance/receipt_form.html",
        {"form": form, "receipt": receipt, "action_error": error},
        status=status,
    )


@allowed(ifr.may_prepare)
@require_http_methods(["GET", "POST"])
def receipt_add(request: HttpRequest) -> HttpResponse:
    form = FundReceiptForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            try:
                receipt = ifr.record_receipt(request.user, form.cleaned_data)
            except ValidationError as exc:
                attach_errors(form, exc)
            else:
                messages.success(request, _("%(ref)s recorded.") % {"ref": receipt})
                return redirect("finance:receipt-list")
        return _receipt_form_page(request, form, None, status=400)
    return _receipt_form_page(request, form, None)


@allowed(ifr.may_prepare)
@require_http_methods(["GET", "POST"])
def receipt_edit(request: HttpRequest, pk: int) -> HttpResponse:
    receipt = _visible_receipt(request, pk)
    form = FundReceiptForm(request.POST or None, instance=receipt)
    if request.method == "POST":
        if form.is_valid():
            try:
                ifr.update_receipt(receipt, request.user, form.cleaned_data)
            except ValidationError as exc:
                attach_errors(form, exc)
            except ActionRefused as exc:
                raise_if_forbidden(exc)
                return _receipt_form_page(request, form, receipt, error=exc.message, status=409)
            else:
                messages.success(request, _("%(ref)s saved.") % {"ref": receipt})
                return redirect("finance:receipt-list")
        return _receipt_form_page(request, form, receipt, status=400)
    return _receipt_form_page(request, form, receipt)


@allowed(ifr.may_prepare)
@require_POST
def receipt_delete(request: HttpRequest, pk: int) -> HttpResponse:
    receipt = _visible_receipt(request, pk)
    try:
        ifr.delete_receipt(receipt, request.user)
    except ActionRefused as exc:
        raise_if_forbidden(exc)
        return _receipt_form_page(
            request, FundReceiptForm(instance=receipt), receipt, error=exc.message, status=409
        )
    messages.success(request, _("%(ref)s deleted.") % {"ref": receipt})
    return redirect("finance:receipt-list")
