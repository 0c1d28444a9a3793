"""Pages of the PO scorecards: the ranking (PMU side, CSV/XLSX), one PO's scorecard with its trend
(its own staff, or the PMU side), the PMU's weights, and "recompute now". The rules are in
finance.scorecards.

Refusals: a role that may not read or act gets 403; another PO's scorecard is a 404; a refused weights
form names the field (400) and keeps what was typed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.errors import ActionRefused
from core.exports import Column, export_response
from finance import scorecards
from finance.models.scorecards import Scorecard, ScorecardMeasure
from finance.scorecard_forms import QuarterForm, WeightsForm
from verification.permissions import allowed

EXPORT_FORMATS = ("csv", "xlsx")


def _pick_quarter(request: HttpRequest, quarters: list[date]) -> tuple[QuarterForm, date | None, bool]:
    """The quarter asked for (the newest by default), the picker, and whether the choice was valid."""
    form = QuarterForm(request.GET or None, quarters=quarters)
    if form.is_bound and "quarter" in request.GET:
        if not form.is_valid():
            return form, None, False
        chosen = form.cleaned_data.get("quarter")
        if chosen:
            return form, chosen, True
    return form, (quarters[0] if quarters else None), True


def _export_format(request: HttpRequest) -> str | None:
    wanted = request.GET.get("export")
    return wanted if wanted in EXPORT_FORMATS else None


def _score_at(index: int) -> Callable[[Any], float | None]:
    """A column of one measure's score (of a ranked line or a trend point)."""

    def score(row: Any) -> float | None:
        return row.scores[index]

    return score


def ranking_columns() -> list[Column]:
    columns = [
        Column(_("Rank"), lambda row: row.rank),
        Column(_("PO code"), lambda row: row.po.code),
        Column(_("PO"), lambda row: row.po.name),
        Column(_("Quarter ending"), lambda row: row.scorecard.quarter_end),
        Column(_("Composite"), lambda row: row.composite),
    ]
    for index, measure in enumerate(ScorecardMeasure):
        columns.append(Column(str(measure.label), _score_at(index)))
    columns += [
        Column(_("Rank in the previous quarter"), lambda row: row.previous_rank),
        Column(_("Change in rank"), lambda row: row.rank_change),
        Column(_("Composite in the previous quarter"), lambda row: row.previous_composite),
        Column(_("Change in composite"), lambda row: row.composite_change),
    ]
    return columns


@allowed(scorecards.may_rank)
@require_GET
def scorecard_ranking(request: HttpRequest) -> HttpResponseBase:
    quarters = scorecards.computed_quarters()
    form, quarter, valid = _pick_quarter(request, quarters)
    weights = scorecards.current_weights()
    rows = scorecards.ranking(quarter, weights) if quarter and valid else []
    file_format = _export_format(request)
    if file_format and quarter and valid:
        return export_response(rows, ranking_columns(), file_format, f"po-scorecards-{quarter.isoformat()}")
    return render(
        request,
        "finance/scorecard_ranking.html",
        {
            "form": form,
            "quarter": quarter,
            "quarter_label": scorecards.quarter_label(quarter) if quarter else "",
            "previous_label": scorecards.quarter_label(scorecards.previous_quarter_end(quarter))
            if quarter
            else "",
            "rows": rows,
            "measures": [
                (measure.value, measure.label, weights[measure.value]) for measure in ScorecardMeasure
            ],
            "can_recompute": scorecards.may_recompute(request.user),
            "can_set_weights": scorecards.may_set_weights(request.user),
            "rules": scorecards.measure_rules(),
            "score_rule": scorecards.SCORE_RULE,
        },
        status=200 if valid else 400,
    )


@allowed(scorecards.may_recompute)
@require_POST
def scorecard_recompute(request: HttpRequest) -> HttpResponse:
    try:
        scorecards.request_recompute(request.user)
    except ActionRefused as refusal:
        raise PermissionDenied(str(refusal)) from refusal
    messages.success(
        request,
        _(
            "The scorecards of the last complete quarter and of the current quarter are being recomputed; "
            "reload this page in a moment."
        ),
    )
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        back = reverse("finance:scorecard-ranking")
    return redirect(back or reverse("finance:scorecard-ranking"))


@allowed(scorecards.may_read)
@require_GET
def scorecard_own(request: HttpRequest) -> HttpResponse:
    """ "Our scorecard": a PO's staff go to their PO's; the PMU's side to the ranking."""
    if scorecards.may_rank(request.user):
        return redirect("finance:scorecard-ranking")
    return redirect("finance:scorecard-detail", pk=getattr(request.user, "partner_organization_id", None))


def detail_columns() -> list[Column]:
    columns = [
        Column(_("Quarter ending"), lambda point: point.quarter_end),
        Column(_("Quarter"), lambda point: point.label),
        Column(_("Composite"), lambda point: point.composite),
        Column(_("Rank"), lambda point: point.rank),
        Column(_("POs ranked"), lambda point: point.of),
    ]
    for index, measure in enumerate(ScorecardMeasure):
        columns.append(Column(str(measure.label), _score_at(index)))
    return columns


@allowed(scorecards.may_read)
@require_GET
def scorecard_detail(request: HttpRequest, pk: int) -> HttpResponseBase:
    po = scorecards.visible_pos(request.user).filter(pk=pk).first()
    if po is None:
        raise Http404(_("No PO matches the given query."))
    cards = Scorecard.objects.visible_to(request.user).filter(partner_organization=po)
    quarters = list(cards.order_by("-quarter_end").values_list("quarter_end", flat=True))
    form, quarter, valid = _pick_quarter(request, quarters)
    weights = scorecards.current_weights()
    scorecard = cards.filter(quarter_end=quarter).first() if quarter and valid else None
    points = scorecards.trend(po.pk, scorecard.quarter_end, weights) if scorecard else []
    file_format = _export_format(request)
    if file_format and valid:
        return export_response(points, detail_columns(), file_format, f"scorecard-{po.code}")
    ranked = (
        scorecards.ranks_of([scorecard.quarter_end], weights).get((scorecard.quarter_end, po.pk))
        if scorecard
        else None
    )
    context = {
        "po": po,
        "form": form,
        "quarter": quarter,
        "scorecard": scorecard,
        "quarter_label": scorecards.quarter_label(quarter) if quarter else "",
        "rows": scorecards.measure_rows(scorecard, weights) if scorecard else [],
        "ranked": ranked,
        "ranked_of": points[-1].of if points else 0,
        "points": points,
        "sparkline": scorecards.sparkline(points),
        "measure_labels": [measure.label for measure in ScorecardMeasure],
        "sees_all": scorecards.may_rank(request.user),
        "can_recompute": scorecards.may_recompute(request.user),
        "rules": scorecards.measure_rules(),
        "score_rule": scorecards.SCORE_RULE,
        "weight_total": sum(weights.values()),
    }
    return render(request, "finance/scorecard_detail.html", context, status=200 if valid else 400)


@allowed(scorecards.may_set_weights)
@require_http_methods(["GET", "POST"])
def scorecard_weights(request: HttpRequest) -> HttpResponse:
    status = 200
    if request.method == "POST":
        form = WeightsForm(request.POST)
        if form.is_valid():
            try:
                scorecards.set_weights(request.user, form.cleaned_data)
            except ValidationError as error:
                form.add_error(None, error)
            else:
                messages.success(request, _("The weights are saved: every quarter's ranking uses them now."))
                return redirect("finance:scorecard-weights")
        status = 400
    else:
        form = WeightsForm(initial=scorecards.current_weights())
    return render(
        request,
        "finance/scorecard_weights.html",
        {"form": form, "history": scorecards.weight_history(), "score_rule": scorecards.SCORE_RULE},
        status=status,
    )
