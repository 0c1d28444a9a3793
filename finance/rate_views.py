"""Pages of the exchange-rate table: the list (with CSV/XLSX download), adding a rate, correcting one
with its history. Views stay thin: the rules are in finance.rates.

Refusals: someone who may not read or keep rates gets 403; a date already taken or a rate not above
zero shows the form again with what was typed (400); a change inside a finalised IFR's period shows it
again with the reason (409).
"""

from __future__ import annotations

from copy import copy

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from core.errors import ActionRefused
from core.exports import Column, export_response
from core.lifecycle.views import raise_if_forbidden
from core.lists import Listing, SortSpec
from finance import rates
from finance.models import ExchangeRate
from finance.rate_forms import ExchangeRateForm
from verification.permissions import allowed


def _who(rate: ExchangeRate) -> str:
    return rate.created_by.get_display_name() if rate.created_by is not None else ""


def export_columns() -> list[Column]:
    return [
        Column(_("Valid from"), lambda row: row.rate.valid_from),
        Column(_("Valid to"), lambda row: row.valid_to),
        Column(_("BDT per USD"), lambda row: row.rate.bdt_per_usd),
        Column(_("Source"), lambda row: row.rate.source),
        Column(_("Entered by"), lambda row: _who(row.rate)),
    ]


# The newest rate first (rows computed in Python: sorted by their attributes).
RATE_SORTS = SortSpec(
    {
        "valid_from": ("rate__valid_from",),
        "rate": ("rate__bdt_per_usd",),
        "source": ("rate__source",),
    },
    default="-valid_from",
)


@require_GET
@allowed(rates.may_read_rates)
def rate_list(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    listing = Listing(request, sort=RATE_SORTS, saved_filters=False)
    rows = listing.order(rates.rate_rows(list(ExchangeRate.objects.select_related("created_by"))))
    file_format = request.GET.get("export")
    if file_format in ("csv", "xlsx"):
        return export_response(rows, export_columns(), file_format, "exchange-rates")
    listed = listing.page(rows)
    return render(
        request,
        "finance/rate_list.html",
        {**listed, "rows": listed["page_obj"].object_list, "can_keep": rates.may_keep_rates(request.user)},
    )


def _rate_form(request: HttpRequest, rate: ExchangeRate | None) -> HttpResponse:
    # The form works on its own copy: the page keeps showing the rate as stored.
    form = ExchangeRateForm(request.POST or None, instance=copy(rate) if rate is not None else None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = {name: form.cleaned_data[name] for name in rates.EDITABLE_FIELDS}
            try:
                if rate is None:
                    saved = rates.add_rate(user=request.user, data=data)
                else:
                    saved = rates.update_rate(user=request.user, rate=rate, data=data)
            except ActionRefused as exc:
                raise_if_forbidden(exc)
                form.add_error(None, str(exc))
                status = 409
            except ValidationError as exc:
                _add_errors(form, exc)
                status = 400
            else:
                messages.success(
                    request,
                    _("The rate of %(rate)s BDT per USD from %(day)s is saved.")
                    % {"rate": rates.rate_text(saved.bdt_per_usd), "day": saved.valid_from.isoformat()},
                )
                warning = rates.jump_warning(saved)
                if warning:
                    messages.warning(request, warning)
                return redirect("finance:rate-list")
        else:
            status = 400
    history = rate.history.select_related("history_user")[:20] if rate is not None else []
    return render(
        request,
        "finance/rate_form.html",
        {"form": form, "rate": rate, "history": history, "lock": _lock_of(rate)},
        status=status,
    )


def _add_errors(form: ExchangeRateForm, exc: ValidationError) -> None:
    """The service's refusal on the field it names (the form keeps what was typed)."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc)
        return
    for field, errors in exc.error_dict.items():
        form.add_error(field if field in form.fields else None, errors)


def _lock_of(rate: ExchangeRate | None) -> str:
    """What the page says before a change is tried: a finalised IFR already covers this rate."""
    if rate is None:
        return ""
    report = rates.locking_report(rate.valid_from)
    if report is None:
        return ""
    return _(
        "%(report)s (quarter ending %(end)s) is %(status)s and used this rate: its date and value can no "
        "longer change; its source can."
    ) % {
        "report": report.reference,
        "end": report.quarter_end.isoformat(),
        "status": report.get_status_display(),
    }


@require_http_methods(["GET", "POST"])
@allowed(rates.may_keep_rates)
def rate_create(request: HttpRequest) -> HttpResponse:
    return _rate_form(request, None)


@require_http_methods(["GET", "POST"])
@allowed(rates.may_keep_rates)
def rate_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _rate_form(request, get_object_or_404(ExchangeRate, pk=pk))
