"""Pages of the ME loan portfolio: the portfolio as of a date (programme, per PO, by owner gender), the
loan list, and a loan's page with its schedule, repayments and write-off. Views stay thin: the rules
are in finance.loans, the figures in finance.portfolio.

Who: the PMU's side (programme-wide readers, the PMU's finance officers) sees every PO; a PO's staff
their own PO (another PO's loan is a 404, as a missing one); the loan's PO's staff alone record its
schedule, repayments and write-off (anyone else: 403). A refused form comes back as typed with the
mistake named by field (400); a refused action shows the unchanged page with the reason (409).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from core.errors import ActionRefused
from core.exports import Column, export_or_refuse, export_response
from core.lists import Listing, SortSpec
from core.models import PartnerOrganization
from core.numbers import group
from enterprises.models import FinancialSupport, Gender
from enterprises.permissions import can_read_field_data
from enterprises.views.base import attach_errors
from finance import loans as rules
from finance.loan_forms import BUCKET_LABELS, AsOfForm, LoanFilter, RepaymentForm, ScheduleForm, WriteOffForm
from finance.models import Instalment, Repayment, WriteOff
from finance.portfolio import (
    Figures,
    bucket_of,
    days_past_due,
    portfolio_by_gender,
    portfolio_by_po,
    portfolio_totals,
    with_figures,
)
from subprojects.views.common import PAGE_SIZE
from verification.permissions import allowed

EXPORT_FORMATS = ("csv", "xlsx")
# A PO's portfolio at risk over 30 days above these shares is shown as a warning, then as a danger
# (microfinance practice: under 5 % is healthy, above 10 % is a portfolio in trouble).
PAR_WARNING_PERCENT = Decimal("5")
PAR_DANGER_PERCENT = Decimal("10")


def par_level(percent: Decimal | None) -> str:
    if percent is None or percent < PAR_WARNING_PERCENT:
        return ""
    return "danger" if percent >= PAR_DANGER_PERCENT else "warning"


def _as_of(request: HttpRequest) -> tuple[AsOfForm, date]:
    form = AsOfForm(request.GET if "as_of" in request.GET else None)
    return form, form.chosen()


# --- The portfolio ------------------------------------------------------------------------------------


def _figure_columns(first: list[Column]) -> list[Column]:
    return [
        *first,
        Column(_("Loans disbursed"), lambda row: row["figures"].loans_disbursed),
        Column(_("Disbursed (BDT)"), lambda row: row["figures"].disbursed),
        Column(_("Active loans"), lambda row: row["figures"].loans),
        Column(_("Active borrowers"), lambda row: row["figures"].borrowers),
        Column(_("Women borrowers"), lambda row: row["figures"].women_borrowers),
        Column(_("Men borrowers"), lambda row: row["figures"].men_borrowers),
        Column(_("Outstanding (BDT)"), lambda row: row["figures"].outstanding),
        Column(_("PAR>30 (BDT)"), lambda row: row["figures"].par30),
        Column(_("PAR>30 (%)"), lambda row: row["figures"].par30_percent),
        Column(_("PAR>90 (BDT)"), lambda row: row["figures"].par90),
        Column(_("PAR>90 (%)"), lambda row: row["figures"].par90_percent),
        Column(_("Principal due to date (BDT)"), lambda row: row["figures"].due),
        Column(_("Principal repaid to date (BDT)"), lambda row: row["figures"].repaid),
        Column(_("Repayment rate (%)"), lambda row: row["figures"].repayment_rate),
        Column(_("Arrears (BDT)"), lambda row: row["figures"].arrears),
        Column(_("Write-offs"), lambda row: row["figures"].write_offs),
        Column(_("Written off (BDT)"), lambda row: row["figures"].written_off),
    ]


def po_columns() -> list[Column]:
    return _figure_columns(
        [
            Column(_("PO code"), lambda row: row["po"].code if row["po"] else _("Programme")),
            Column(_("PO"), lambda row: row["po"].name if row["po"] else ""),
        ]
    )


def portfolio_context(user, as_of: date) -> dict[str, Any]:
    """The figures a person may see as of a date: their scope's totals, by gender, and per PO."""
    scope = rules.visible_loans(user)
    per_po = portfolio_by_po(as_of, scope)
    pos = PartnerOrganization.objects.in_bulk(list(per_po))
    rows = [
        {"po": pos[po_id], "figures": figures, "level": par_level(figures.par30_percent)}
        for po_id, figures in sorted(per_po.items(), key=lambda item: pos[item[0]].code)
    ]
    totals = portfolio_totals(as_of, scope)
    genders = dict(Gender.choices)
    by_gender = [
        {"gender": genders.get(key, key), "figures": figures, "level": par_level(figures.par30_percent)}
        for key, figures in sorted(portfolio_by_gender(as_of, scope).items(), key=lambda item: str(item[0]))
    ]
    return {
        "as_of": as_of,
        "totals": totals,
        "totals_level": par_level(totals.par30_percent),
        "po_rows": rows,
        "gender_rows": by_gender,
        "whole_programme": rules.sees_all_money(user),
    }


@allowed(rules.may_read)
@require_GET
def portfolio(request: HttpRequest) -> HttpResponseBase:
    form, as_of = _as_of(request)
    context = portfolio_context(request.user, as_of)
    export = request.GET.get("export")
    if export in EXPORT_FORMATS:
        rows = [*context["po_rows"], {"po": None, "figures": context["totals"]}]
        return export_response(rows, po_columns(), export, f"loan-portfolio-{as_of.isoformat()}")
    context.update(as_of_form=form, par_warning=PAR_WARNING_PERCENT, par_danger=PAR_DANGER_PERCENT)
    status = 400 if form.is_bound and not form.is_valid() else 200
    return render(request, "finance/portfolio_overview.html", context, status=status)


# --- Loans --------------------------------------------------------------------------------------------


def loan_columns(as_of: date) -> list[Column]:
    def dpd(loan) -> int:
        return days_past_due(loan, as_of)

    return [
        Column(_("PO code"), lambda loan: loan.enterprise.partner_organization.code),
        Column(_("ME code"), lambda loan: loan.enterprise.po_code),
        Column(_("Enterprise"), lambda loan: loan.enterprise.name),
        Column(_("Owner gender"), lambda loan: loan.enterprise.get_owner_gender_display()),
        Column(_("Disbursed on"), lambda loan: loan.disbursed_on),
        Column(_("Amount (BDT)"), lambda loan: loan.amount),
        Column(_("Financed by"), lambda loan: loan.get_financier_display()),
        Column(_("Loan reference"), lambda loan: loan.reference),
        Column(_("As of"), lambda loan: as_of),
        Column(_("Principal due to date (BDT)"), lambda loan: _paisa(loan.due)),
        Column(_("Principal repaid to date (BDT)"), lambda loan: _paisa(loan.repaid)),
        Column(_("Outstanding (BDT)"), lambda loan: _paisa(loan.outstanding)),
        Column(_("Arrears (BDT)"), lambda loan: _paisa(loan.arrears)),
        Column(_("Days past due"), dpd),
        Column(_("Overdue since"), lambda loan: loan.overdue_since),
        Column(_("Written off on"), lambda loan: loan.written_off_on),
        Column(_("Written off (BDT)"), lambda loan: _paisa(loan.written_off)),
    ]


def _paisa(amount: Decimal | None) -> Decimal | None:
    """Amounts to the paisa (SQLite answers computed ones without their trailing zeros)."""
    return None if amount is None else Decimal(amount).quantize(Decimal("0.01"))


def loans_as_of(user, as_of: date):
    return with_figures(
        rules.visible_loans(user).select_related("enterprise__partner_organization"), as_of
    ).order_by("-disbursed_on", "-pk")


# The latest disbursement first; the figures are those annotated as of the day asked.
LOAN_SORTS = SortSpec(
    {
        "po": ("enterprise__partner_organization__code",),
        "enterprise": ("enterprise__po_code",),
        "disbursed": ("disbursed_on",),
        "amount": ("amount",),
        "due": ("due",),
        "repaid": ("repaid",),
        "outstanding": ("outstanding",),
        "arrears": ("arrears",),
        # More days past due: an earlier oldest unpaid instalment.
        "days_past_due": ("-overdue_since",),
    },
    default="-disbursed",
)


@allowed(rules.may_read)
@require_GET
def loan_list(request: HttpRequest) -> HttpResponseBase:
    form, as_of = _as_of(request)
    filterset = LoanFilter(
        request.GET or None, queryset=loans_as_of(request.user, as_of), user=request.user, as_of=as_of
    )
    # "As of" picks the day the figures are read on; it filters no loan.
    listing = Listing(request, sort=LOAN_SORTS, per_page=PAGE_SIZE, keep=("as_of",))
    queryset = listing.order(filterset.qs)
    export = request.GET.get("export")
    if export in EXPORT_FORMATS:
        return export_or_refuse(request, queryset, loan_columns(as_of), export, f"loans-{as_of.isoformat()}")
    context = listing.page(queryset)
    rows = list(context["page_obj"].object_list)
    _decorate(rows, as_of)
    return render(
        request,
        "finance/loan_list.html",
        {
            "filter": filterset,
            **context,
            "rows": rows,
            "as_of": as_of,
            "as_of_form": form,
            "bucket_labels": BUCKET_LABELS,
            "whole_programme": rules.sees_all_money(request.user),
        },
        status=400 if form.is_bound and not form.is_valid() else 200,
    )


def _decorate(loans, as_of: date) -> None:
    """The days past due of the loans shown (a page of them: the figures came from one query)."""
    for loan in loans:
        loan.days_past_due = days_past_due(loan, as_of)
        loan.bucket = bucket_of(loan.days_past_due)


# --- One loan -----------------------------------------------------------------------------------------


def _visible_loan(request: HttpRequest, pk: int) -> FinancialSupport:
    loan = (
        rules.visible_loans(request.user)
        .select_related("enterprise__partner_organization")
        .filter(pk=pk)
        .first()
    )
    if loan is None:
        raise Http404(_("No loan matches the given query."))
    return loan


def _schedule_rows(instalments: list[Instalment], repaid: Decimal, as_of: date) -> list[dict[str, Any]]:
    """Each instalment with how far the repayments to date cover it."""
    rows = []
    for instalment in instalments:
        before = instalment.principal_due_to_date - instalment.principal
        if repaid >= instalment.principal_due_to_date:
            state, label = "paid", _("covered")
        elif repaid > before:
            state, label = (
                ("late", _("partly covered, late"))
                if instalment.due_on <= as_of
                else ("partly", _("partly covered"))
            )
        elif instalment.due_on <= as_of:
            state, label = "late", _("past due")
        else:
            state, label = "upcoming", _("upcoming")
        rows.append({"instalment": instalment, "state": state, "label": label})
    return rows


def _loan_page(
    request: HttpRequest,
    loan: FinancialSupport,
    *,
    schedule_form: ScheduleForm | None = None,
    repayment_form: RepaymentForm | None = None,
    write_off_form: WriteOffForm | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    user = request.user
    form, as_of = _as_of(request)
    figures = with_figures(FinancialSupport.objects.filter(pk=loan.pk), as_of).first()
    repaid = getattr(figures, "repaid", Decimal("0"))
    instalments = list(Instalment.objects.filter(loan=loan).order_by("number"))
    repayments = list(
        Repayment.objects.filter(loan=loan).select_related("created_by").order_by("paid_on", "pk")
    )
    write_off = WriteOff.objects.filter(loan=loan).select_related("recorded_by").first()
    owner = rules.owns(user, loan)
    is_loan = loan.kind == "loan"
    dpd = days_past_due(figures, as_of) if figures else 0
    unrepaid = (
        loan.amount
        - sum((r.principal for r in repayments), Decimal("0"))
        - (write_off.principal if write_off else 0)
    )
    context = {
        "loan": loan,
        "as_of": as_of,
        "as_of_form": form,
        "figures": figures,
        "days_past_due": dpd,
        "par_level": "danger" if dpd > 90 else "warning" if dpd > 30 else "",
        "schedule": _schedule_rows(instalments, repaid, as_of),
        "interest_due": sum((i.interest for i in instalments), Decimal("0")),
        "repayments": repayments,
        "repaid_total": sum((r.principal for r in repayments), Decimal("0")),
        "interest_paid": sum((r.interest for r in repayments), Decimal("0")),
        "write_off": write_off,
        "owner": owner,
        # The enterprise's page is for those who read field data (not the PMU's finance officers).
        "reads_field_data": can_read_field_data(user),
        "action_error": error,
        "schedule_form": (schedule_form or ScheduleForm(loan=loan))
        if owner and is_loan and not repayments and write_off is None
        else None,
        "repayment_form": (repayment_form or RepaymentForm()) if owner and is_loan else None,
        "write_off_form": (write_off_form or WriteOffForm(outstanding=unrepaid))
        if owner and is_loan and write_off is None and unrepaid > 0
        else None,
    }
    return render(request, "finance/loan_detail.html", context, status=status)


@allowed(rules.may_read)
@require_GET
def loan_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _loan_page(request, _visible_loan(request, pk))


def _owned_loan(request: HttpRequest, pk: int) -> FinancialSupport:
    loan = _visible_loan(request, pk)
    if not rules.owns(request.user, loan):
        raise PermissionDenied
    return loan


def _back(loan: FinancialSupport, anchor: str) -> str:
    return reverse("finance:loan-detail", args=[loan.pk]) + anchor


@allowed(rules.may_record)
@require_POST
def loan_schedule(request: HttpRequest, pk: int) -> HttpResponse:
    loan = _owned_loan(request, pk)
    form = ScheduleForm(request.POST, loan=loan)
    if not form.is_valid():
        return _loan_page(request, loan, schedule_form=form, status=400)
    try:
        rows = rules.generate_schedule(loan, user=request.user, **form.cleaned_data)
    except ValidationError as exc:
        attach_errors(form, exc)
        return _loan_page(request, loan, schedule_form=form, status=400)
    except ActionRefused as exc:
        return _refused(request, loan, exc, schedule_form=form)
    messages.success(request, _("Schedule of %(n)s monthly instalments saved.") % {"n": len(rows)})
    return redirect(_back(loan, "#schedule"))


@allowed(rules.may_record)
@require_POST
def repayment_add(request: HttpRequest, pk: int) -> HttpResponse:
    loan = _owned_loan(request, pk)
    form = RepaymentForm(request.POST)
    if not form.is_valid():
        return _loan_page(request, loan, repayment_form=form, status=400)
    try:
        repayment = rules.add_repayment(user=request.user, loan=loan, **form.cleaned_data)
    except ValidationError as exc:
        attach_errors(form, exc)
        return _loan_page(request, loan, repayment_form=form, status=400)
    except ActionRefused as exc:
        return _refused(request, loan, exc, repayment_form=form)
    messages.success(
        request,
        _("Repayment of %(amount)s BDT on %(day)s recorded.")
        % {"amount": group(repayment.principal, 2), "day": repayment.paid_on.isoformat()},
    )
    return redirect(_back(loan, "#repayments"))


@allowed(rules.may_record)
@require_POST
def repayment_delete(request: HttpRequest, pk: int) -> HttpResponse:
    repayment = (
        Repayment.objects.filter(pk=pk, loan__in=rules.visible_loans(request.user))
        .select_related("loan__enterprise")
        .first()
    )
    if repayment is None:
        raise Http404(_("No repayment matches the given query."))
    loan = repayment.loan
    if not rules.owns(request.user, loan):
        raise PermissionDenied
    try:
        rules.delete_repayment(user=request.user, repayment=repayment)
    except ActionRefused as exc:
        return _refused(request, loan, exc)
    messages.success(request, _("Repayment deleted."))
    return redirect(_back(loan, "#repayments"))


@allowed(rules.may_record)
@require_POST
def loan_write_off(request: HttpRequest, pk: int) -> HttpResponse:
    loan = _owned_loan(request, pk)
    form = WriteOffForm(request.POST)
    if not form.is_valid():
        return _loan_page(request, loan, write_off_form=form, status=400)
    try:
        rules.record_write_off(user=request.user, loan=loan, **form.cleaned_data)
    except ValidationError as exc:
        attach_errors(form, exc)
        return _loan_page(request, loan, write_off_form=form, status=400)
    except ActionRefused as exc:
        return _refused(request, loan, exc, write_off_form=form)
    messages.success(request, _("The loan is written off."))
    return redirect(_back(loan, "#write-off"))


def _refused(request: HttpRequest, loan: FinancialSupport, exc: ActionRefused, **forms: Any) -> HttpResponse:
    if exc.is_forbidden:
        raise PermissionDenied(str(exc))
    return _loan_page(request, loan, error=str(exc), status=409, **forms)


__all__ = ["Figures", "loan_detail", "loan_list", "portfolio"]
