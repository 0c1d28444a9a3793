"""Pages of the grievance statistics: the quarter (or range of quarters) picker with its tables, and
the XLSX export with one sheet per breakdown. Definitions and rules: grievances.statistics.

Refusals: anyone who may not see the statistics (PO staff, a PO's focal point, TEC members,
verifiers) gets 403; a badly written quarter is shown back with the problem named (400 for the
export)."""

from __future__ import annotations

import io

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET
from openpyxl import Workbook

from core.exports import XLSX_MIME, safe_text
from grievances import statistics
from grievances.statistics import BREAKDOWNS, MEASURES, Period, Quarter


def _allowed(request: HttpRequest) -> None:
    if not statistics.may_see_statistics(request.user):
        raise PermissionDenied


def _period(request: HttpRequest) -> Period:
    return Period.parse(request.GET.get("quarter", ""), request.GET.get("to", ""))


@require_GET
@login_required
def statistics_page(request: HttpRequest) -> HttpResponse:
    _allowed(request)
    problem = ""
    try:
        period = _period(request)
    except ValidationError as exc:
        problem = " ".join(exc.messages)
        period = Period(Quarter.current(), Quarter.current())
    current = Quarter.current()
    context = {
        "period": period,
        "stats": statistics.statistics(period),
        "by_quarter": statistics.by_quarter(period) if period.first != period.last else [],
        "measures": MEASURES,
        "breakdowns": BREAKDOWNS,
        "definitions": statistics.definitions(),
        "problem": problem,
        "typed_quarter": request.GET.get("quarter", "") if problem else str(period.first),
        "typed_to": request.GET.get("to", "")
        if problem
        else ("" if period.first == period.last else str(period.last)),
        "recent": [current, current.previous, current.previous.previous, current.previous.previous.previous],
    }
    return render(request, "grievances/statistics.html", context, status=400 if problem else 200)


def _figure_cells(figures: statistics.Figures) -> list:
    return ["" if value is None else value for value in figures.cells]


def statistics_workbook(period: Period) -> bytes:
    """The period's figures as an XLSX workbook: a sheet of totals (with the figures of each quarter
    for a range), one sheet per breakdown, and a sheet of definitions."""
    stats = statistics.statistics(period)
    headers = [str(label) for _key, label in MEASURES]
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=_("Totals")[:31])
    sheet.append([_("Grievance statistics"), period.label])
    sheet.append([])
    sheet.append([_("Period"), *headers])
    sheet.append([period.label, *_figure_cells(stats.total)])
    if period.first != period.last:
        for quarter, figures in statistics.by_quarter(period):
            sheet.append([quarter.label, *_figure_cells(figures)])
    for name, label in BREAKDOWNS:
        sheet = workbook.create_sheet(title=str(label)[:31])
        sheet.append([str(label), *headers])
        for row in stats.breakdowns[name]:
            sheet.append([safe_text(row.label), *_figure_cells(row.figures)])
    sheet = workbook.create_sheet(title=_("Definitions")[:31])
    for term, text in statistics.definitions():
        sheet.append([str(term), str(text)])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


@require_GET
@login_required
def statistics_export(request: HttpRequest) -> HttpResponse:
    _allowed(request)
    try:
        period = _period(request)
    except ValidationError as exc:
        return HttpResponseBadRequest(" ".join(exc.messages))
    response = HttpResponse(statistics_workbook(period), content_type=XLSX_MIME)
    stamp = timezone.localdate().isoformat()
    response["Content-Disposition"] = f'attachment; filename="grievance-statistics-{period}-{stamp}.xlsx"'
    return response
