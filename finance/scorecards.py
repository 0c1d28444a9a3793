"""PO scorecards (issue 14): each PO's quarterly measures, each scored 0-100, and a composite rating
whose weights the PMU sets.

`compute(quarter_end)` is the only writer: one grouped query per measure over every PO (never a query
per PO), then one upsert of every PO's Scorecard. It runs in a task (`finance.tasks.compute_scorecards`,
daily and on the PMU's "recompute now"), never on a page request. The composite is not stored: it is
computed when read, from the weights in force, so a change of weights re-ranks every quarter at once.

The rules, as the pages state them (`measure_rules()`):

- **MEs reached**: MEs financed by the quarter's end (the ME_FINANCED indicator's rule) against what
  the PO committed: for each of its sub-projects (awarded by then, not cancelled) the ME_FINANCED
  target of the proposal's committed results or, where the proposal committed none, its MEs targeted.
- **Women-led MEs reached**: women-led MEs among those financed, against the proposals' women-led MEs
  targeted.
- **RECP adoptions verified**: MEs with at least two distinct RECP practices verified independently
  (ME_RECP_2PLUS) against the committed ME_RECP_2PLUS targets.
- **KPI tracking**: MEs with a KPI baseline and a later reading (ME_KPI_TRACKING) against the committed
  ME_KPI_TRACKING targets.
- **Fund utilisation**: spent ÷ released to the PO by the date (finance.progress).
- **Reporting on time**: quarterly spending reports submitted on time ÷ reports due (finance.spending),
  up to the latest quarter whose reports' due day has passed (`timeliness_date`).
- **Data quality**: from the data-quality panel (monitoring.quality): the mean of the verification
  confirmation rate, the share of reported adoptions verified independently and the share of MEs with
  a KPI baseline whose readings are up to date (those of the three that apply), minus
  `DUPLICATE_PENALTY` points per suspected duplicate pair pending (at most `DUPLICATE_PENALTY_MAX`),
  between 0 and 100.
- **Loan portfolio quality**: 100 - 2 x PAR30 % (floored at 0), from finance.portfolio.

A score is the value as a percentage of its target, capped at 100; it is null (the measure does not
apply) when there is nothing to compare with: nothing committed, nothing released, no report due, no
loans, no data-quality figure. Composite = the sum of weight x score divided by the sum of the weights,
over the measures that apply.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from core.errors import Forbidden
from core.models import PartnerOrganization
from core.numbers import group
from core.quarters import (  # noqa: F401 - the module's own names for its callers
    last_complete_quarter_end,
    parse_quarter_end,
    previous_quarter_end,
    quarter_end_of,
    quarter_start,
)
from core.roles import Role
from finance.models.common import is_pmu_finance, sees_all_money
from finance.models.scorecards import Scorecard, ScorecardMeasure, ScorecardWeight

# Data quality: points taken off per suspected duplicate pair the PMU has not decided, and at most.
DUPLICATE_PENALTY = 2
DUPLICATE_PENALTY_MAX = 20
# Portfolio quality: points taken off per percentage point of the portfolio at risk over 30 days.
PAR30_FACTOR = 2
# How many quarters the trend shows.
TREND_QUARTERS = 8

MEASURES: list[str] = list(ScorecardMeasure.values)

# How each measure's value and target read: a count of MEs, an amount (BDT), a count of reports, a
# percentage, an index.
COUNT, MONEY, REPORTS, PERCENT, INDEX = "count", "money", "reports", "percent", "index"
KIND = {
    ScorecardMeasure.MES_REACHED: COUNT,
    ScorecardMeasure.WOMEN_LED: COUNT,
    ScorecardMeasure.RECP_VERIFIED: COUNT,
    ScorecardMeasure.KPI_TRACKING: COUNT,
    ScorecardMeasure.FUND_UTILISATION: MONEY,
    ScorecardMeasure.REPORTING_TIMELINESS: REPORTS,
    ScorecardMeasure.DATA_QUALITY: INDEX,
    ScorecardMeasure.PORTFOLIO_QUALITY: PERCENT,
}


# --- Who may do what --------------------------------------------------------------------------------


def may_read(user) -> bool:
    """The PMU's side (any PO's scorecard) or a PO's own staff (their PO's)."""
    return bool(
        user is not None
        and user.is_authenticated
        and (sees_all_money(user) or user.partner_organization_id is not None)
    )


def may_rank(user) -> bool:
    """The ranking of every PO: PMU officers, the World Bank, PKSF approvers, the PMU's finance officers."""
    return sees_all_money(user)


def may_set_weights(user) -> bool:
    return bool(
        user is not None and user.is_authenticated and user.has_role(Role.PMU_OFFICER) and user.is_active
    )


def may_recompute(user) -> bool:
    """PMU officers and the PMU's finance officers may ask for the scorecards now."""
    return bool(
        user is not None
        and user.is_authenticated
        and (user.has_role(Role.PMU_OFFICER) or is_pmu_finance(user))
    )


def visible_scorecards(user) -> QuerySet[Scorecard]:
    return Scorecard.objects.visible_to(user).select_related("partner_organization")


def visible_pos(user) -> QuerySet[PartnerOrganization]:
    """The POs whose scorecards `user` may open: all for the PMU's side, their own for a PO's staff."""
    if user is None or not user.is_authenticated:
        return PartnerOrganization.objects.none()
    if sees_all_money(user):
        return PartnerOrganization.objects.all()
    if user.partner_organization_id:
        return PartnerOrganization.objects.filter(pk=user.partner_organization_id)
    return PartnerOrganization.objects.none()


# --- Quarters ---------------------------------------------------------------------------------------


def is_to_date(quarter_end: date, today: date | None = None) -> bool:
    """A quarter not over yet: its scorecard holds the figures "to date"."""
    return quarter_end > (today or timezone.localdate())


def quarter_label(quarter_end: date, today: date | None = None) -> str:
    """ "2025 Q1", or "2025 Q3 (to date)" for the quarter under way."""
    label = f"{quarter_end.year} Q{(quarter_end.month - 1) // 3 + 1}"
    if is_to_date(quarter_end, today):
        return _("%(quarter)s (to date)") % {"quarter": label}
    return label


def computed_quarters() -> list[date]:
    """The quarters that have scorecards, newest first (one query)."""
    return list(Scorecard.objects.order_by("-quarter_end").values_list("quarter_end", flat=True).distinct())


# --- Scores -----------------------------------------------------------------------------------------

ONE_DECIMAL = Decimal("0.1")


def _round(number: Decimal | float) -> float:
    return float(Decimal(str(number)).quantize(ONE_DECIMAL, rounding=ROUND_HALF_UP))


def score_of(value: Decimal | int | None, target: Decimal | int | None) -> float | None:
    """The value as a percentage of its target, capped at 100; None when there is no target."""
    if value is None or not target:
        return None
    return _round(min(Decimal(100), max(Decimal(0), Decimal(value) * 100 / Decimal(target))))


def _json(number: Any) -> Any:
    """Counts stay integers; amounts and percentages are kept as decimal strings (exact in JSON)."""
    if number is None or isinstance(number, int):
        return number
    return str(Decimal(number).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _measure(value: Any, target: Any, score: float | None, **extra: Any) -> dict:
    return {"value": _json(value), "target": _json(target), "score": score, **extra}


def data_quality(row) -> tuple[float | None, dict]:
    """One PO's data-quality index (0-100) from its line of monitoring.quality's panel, and its parts.
    None when none of the three shares applies (nothing verified, reported or read yet)."""
    if row is None:
        return None, {}
    parts: dict[str, float | int | None] = {
        "verification": None if row.confirmation_rate is None else _round(row.confirmation_rate),
        "adoptions_verified": (
            None
            if row.adoptions_unverified_percent is None
            else _round(100 - row.adoptions_unverified_percent)
        ),
        "readings_up_to_date": (
            None if row.readings_overdue_percent is None else _round(100 - row.readings_overdue_percent)
        ),
    }
    shares = [Decimal(str(value)) for value in parts.values() if value is not None]
    parts["duplicates_pending"] = row.duplicates_pending
    if not shares:
        return None, parts
    penalty = min(DUPLICATE_PENALTY_MAX, DUPLICATE_PENALTY * row.duplicates_pending)
    index = sum(shares, Decimal(0)) / len(shares) - penalty
    return _round(min(Decimal(100), max(Decimal(0), index))), parts


def portfolio_score(par30_percent: Decimal | None) -> float | None:
    """100 - 2 x PAR30 %, floored at 0; None without loans."""
    if par30_percent is None:
        return None
    return _round(max(Decimal(0), Decimal(100) - PAR30_FACTOR * Decimal(par30_percent)))


# --- Computing ---------------------------------------------------------------------------------------


def _commitments(as_of: date) -> dict[int, dict[str, int]]:
    """PO id → what it committed to in its sub-projects awarded by the date and not cancelled by then:
    MEs (ME_FINANCED target, or MEs targeted where the proposal committed none), women-led MEs
    targeted, ME_RECP_2PLUS and ME_KPI_TRACKING targets. Two grouped queries, over every PO."""
    from monitoring.indicators import committed_sub_projects
    from subprojects.models import CommittedResult, ResultIndicator

    sub_projects = committed_sub_projects(as_of)
    me_financed = CommittedResult.objects.filter(
        proposal=OuterRef("proposal"), indicator=ResultIndicator.ME_FINANCED
    ).values("target")[:1]
    rows = (
        sub_projects.order_by()
        .values(po=F("partner_organization_id"))
        .annotate(
            mes=Sum(
                Coalesce(
                    Subquery(me_financed, output_field=IntegerField()),
                    "proposal__mes_targeted",
                    output_field=IntegerField(),
                )
            ),
            women=Sum("proposal__women_led_mes_targeted"),
        )
    )
    commitments = {
        row["po"]: {"mes": row["mes"] or 0, "women": row["women"] or 0, "recp": 0, "kpi": 0} for row in rows
    }
    results = (
        CommittedResult.objects.filter(
            proposal__sub_project__in=sub_projects.values("pk"),
            indicator__in=(ResultIndicator.ME_RECP_2PLUS, ResultIndicator.ME_KPI_TRACKING),
        )
        .order_by()
        .values("indicator", po=F("proposal__sub_project__partner_organization_id"))
        .annotate(total=Sum("target"))
    )
    key = {ResultIndicator.ME_RECP_2PLUS: "recp", ResultIndicator.ME_KPI_TRACKING: "kpi"}
    for row in results:
        if row["po"] in commitments:
            commitments[row["po"]][key[row["indicator"]]] = row["total"] or 0
    return commitments


def _reached(as_of: date) -> dict[int, dict[str, int]]:
    """PO id → MEs financed (and of them women-led), MEs with two verified RECP practices, MEs
    tracking a KPI, by the date: three grouped queries over every PO."""
    from enterprises.models import Gender
    from monitoring import indicators

    reached: dict[int, dict[str, int]] = defaultdict(lambda: {"mes": 0, "women": 0, "recp": 0, "kpi": 0})
    financed = (
        indicators.financed(as_of)
        .order_by()
        .values("partner_organization_id")
        .annotate(n=Count("pk"), women=Count("pk", filter=Q(owner_gender=Gender.FEMALE)))
    )
    for row in financed:
        reached[row["partner_organization_id"]].update(mes=row["n"], women=row["women"])
    for name, queryset in (
        ("recp", indicators.recp_two_plus(as_of)),
        ("kpi", indicators.kpi_tracking(as_of)),
    ):
        for row in queryset.order_by().values("partner_organization_id").annotate(n=Count("pk")):
            reached[row["partner_organization_id"]][name] = row["n"]
    return reached


def timeliness_date(quarter_end: date, today: date) -> date:
    """The quarter up to which reporting timeliness is read (finance.spending counts the four quarters
    ending with it): the latest quarter, up to `quarter_end`, whose spending reports' due day has passed
    by `today`. So a report not yet due never counts as late."""
    from finance.spending import due_on

    quarter = quarter_end
    while due_on(quarter) >= today:
        quarter = previous_quarter_end(quarter)
    return quarter


def compute(quarter_end: date, *, today: date | None = None) -> int:
    """Compute and store every PO's scorecard of the quarter ending `quarter_end` (the quarter under
    way: its figures to date, as of today). One Scorecard per PO with a sub-project awarded by then
    and not cancelled; a PO that no longer has one loses that quarter's scorecard. A fixed number of
    queries whatever the number of POs. Returns how many scorecards were written."""
    from finance.portfolio import portfolio_by_po
    from finance.progress import utilisation_by_po
    from finance.spending import timeliness_by_po
    from monitoring.quality import panel

    today = today or timezone.localdate()
    if quarter_end_of(quarter_end) != quarter_end:
        raise ValidationError(
            {"quarter_end": _("%(date)s is not the last day of a quarter.") % {"date": quarter_end}}
        )
    as_of = min(quarter_end, today)
    commitments = _commitments(as_of)
    reached = _reached(as_of)
    utilisation = utilisation_by_po(as_of)
    timeliness = timeliness_by_po(timeliness_date(quarter_end, today))
    portfolio = portfolio_by_po(as_of)
    quality = panel(today=as_of)
    now = timezone.now()
    scorecards = []
    for po_id, committed in commitments.items():
        got = reached.get(po_id, {"mes": 0, "women": 0, "recp": 0, "kpi": 0})
        released, spent = utilisation.get(po_id, (Decimal(0), Decimal(0)))
        due, on_time = timeliness.get(po_id, (0, 0))
        figures = portfolio.get(po_id)
        par30 = figures.par30_percent if figures is not None and figures.loans else None
        quality_score, quality_parts = data_quality(quality.row(po_id))
        measures = {
            ScorecardMeasure.MES_REACHED: _measure(
                got["mes"], committed["mes"], score_of(got["mes"], committed["mes"])
            ),
            ScorecardMeasure.WOMEN_LED: _measure(
                got["women"], committed["women"], score_of(got["women"], committed["women"])
            ),
            ScorecardMeasure.RECP_VERIFIED: _measure(
                got["recp"], committed["recp"], score_of(got["recp"], committed["recp"])
            ),
            ScorecardMeasure.KPI_TRACKING: _measure(
                got["kpi"], committed["kpi"], score_of(got["kpi"], committed["kpi"])
            ),
            ScorecardMeasure.FUND_UTILISATION: _measure(spent, released, score_of(spent, released)),
            ScorecardMeasure.REPORTING_TIMELINESS: _measure(on_time, due, score_of(on_time, due)),
            ScorecardMeasure.DATA_QUALITY: _measure(quality_score, 100, quality_score, parts=quality_parts),
            ScorecardMeasure.PORTFOLIO_QUALITY: _measure(par30, None, portfolio_score(par30)),
        }
        scorecards.append(
            Scorecard(
                partner_organization_id=po_id,
                quarter_end=quarter_end,
                measures={str(key): value for key, value in measures.items()},
                computed_at=now,
            )
        )
    with transaction.atomic():
        Scorecard.objects.filter(quarter_end=quarter_end).exclude(
            partner_organization_id__in=list(commitments)
        ).delete()
        Scorecard.objects.bulk_create(
            scorecards,
            update_conflicts=True,
            unique_fields=["partner_organization", "quarter_end"],
            update_fields=["measures", "computed_at"],
        )
    return len(scorecards)


def quarters_to_compute(today: date | None = None) -> list[date]:
    """The scheduled task's quarters: the last complete quarter, and the current one to date."""
    today = today or timezone.localdate()
    return [last_complete_quarter_end(today), quarter_end_of(today)]


def compute_scheduled(today: date | None = None) -> dict[str, int]:
    """The daily computation: quarter end (ISO) → scorecards written."""
    today = today or timezone.localdate()
    return {quarter.isoformat(): compute(quarter, today=today) for quarter in quarters_to_compute(today)}


def request_recompute(user) -> None:
    """The PMU's "recompute now": queue the task (after the current transaction commits)."""
    from core import outbox
    from finance.tasks import compute_scorecards

    if not may_recompute(user):
        raise Forbidden(_("Only PMU officers and the PMU's finance officers recompute the scorecards."))
    outbox.enqueue(compute_scorecards)


# --- Weights ----------------------------------------------------------------------------------------


def current_weights() -> dict[str, int]:
    """Each measure's weight now (one query; a measure without a row weighs nothing)."""
    stored = dict(ScorecardWeight.objects.values_list("measure", "weight"))
    return {measure: int(stored.get(measure, 0)) for measure in MEASURES}


def check_weights(weights: dict[str, Any]) -> dict[str, int]:
    """Eight whole numbers from 0 to 100, at least one above 0 (ValidationError naming the field)."""
    errors: dict[str, str] = {}
    clean: dict[str, int] = {}
    for measure in MEASURES:
        value = weights.get(measure)
        try:
            number = int(value)  # type: ignore[arg-type]
            if str(value).strip() != str(number) and not isinstance(value, int):
                raise ValueError(value)
        except (TypeError, ValueError):
            errors[measure] = _("Enter a whole number from 0 to 100.")
            continue
        if not 0 <= number <= 100:
            errors[measure] = _("Enter a whole number from 0 to 100.")
            continue
        clean[measure] = number
    if errors:
        raise ValidationError(errors)
    if not any(clean.values()):
        raise ValidationError(
            _("At least one weight must be above 0: otherwise no composite can be computed.")
        )
    return clean


def set_weights(user, weights: dict[str, Any]) -> dict[str, int]:
    """The PMU officer sets the eight weights (each change kept in the weights' history, with who made
    it). Refused for anyone else (Forbidden) or for bad numbers (ValidationError); nothing changes then."""
    if not may_set_weights(user):
        raise Forbidden(_("Only PMU officers set the scorecard weights."))
    clean = check_weights(weights)
    with transaction.atomic():
        stored = {weight.measure: weight for weight in ScorecardWeight.objects.select_for_update()}
        for measure, number in clean.items():
            row = stored.get(measure) or ScorecardWeight(measure=measure)
            if row.pk is not None and row.weight == number:
                continue
            row.weight = number
            row.updated_by = user
            setattr(row, "_history_user", user)  # noqa: B010 (simple_history's author of the edit)
            row.save()
    return clean


def weight_history(limit: int = 30) -> QuerySet:
    return ScorecardWeight.history.select_related("history_user").order_by("-history_date", "-history_id")[
        :limit
    ]


# --- Reading: composite, ranking, trend --------------------------------------------------------------


def composite(measures: dict, weights: dict[str, int]) -> float | None:
    """The sum of weight x score divided by the sum of the weights, over the measures that apply (a
    score) and weigh something."""
    total = weighted = Decimal(0)
    for measure in MEASURES:
        score = (measures.get(measure) or {}).get("score")
        weight = weights.get(measure, 0)
        if score is None or not weight:
            continue
        total += weight
        weighted += Decimal(weight) * Decimal(str(score))
    if not total:
        return None
    return _round(weighted / total)


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


@dataclass
class MeasureRow:
    measure: str
    label: str
    kind: str
    value: Decimal | None
    target: Decimal | None
    score: float | None
    weight: int
    parts: dict = field(default_factory=dict)

    @property
    def applies(self) -> bool:
        return self.score is not None

    def _shown(self, number: Decimal | None) -> str:
        if number is None:
            return "—"
        if self.kind == MONEY:
            return _("%(amount)s BDT") % {"amount": group(number)}
        if self.kind == PERCENT:
            return f"{number:.1f} %"
        if self.kind == INDEX:
            return f"{number:.1f}"
        return group(int(number))

    @property
    def value_display(self) -> str:
        return self._shown(self.value)

    @property
    def target_display(self) -> str:
        return self._shown(self.target)


def measure_rows(scorecard: Scorecard, weights: dict[str, int]) -> list[MeasureRow]:
    rows = []
    for measure in ScorecardMeasure:
        stored = scorecard.measures.get(measure.value) or {}
        rows.append(
            MeasureRow(
                measure=measure.value,
                label=str(measure.label),
                kind=KIND[measure],
                value=_decimal(stored.get("value")),
                target=_decimal(stored.get("target")),
                score=stored.get("score"),
                weight=weights.get(measure.value, 0),
                parts=stored.get("parts") or {},
            )
        )
    return rows


@dataclass
class Ranked:
    scorecard: Scorecard
    composite: float | None
    rank: int | None
    previous_rank: int | None = None
    previous_composite: float | None = None

    @property
    def po(self) -> PartnerOrganization:
        return self.scorecard.partner_organization

    @property
    def scores(self) -> list[float | None]:
        return [(self.scorecard.measures.get(measure) or {}).get("score") for measure in MEASURES]

    @property
    def rank_change(self) -> int | None:
        """Places gained (positive) or lost since the previous quarter."""
        if self.rank is None or self.previous_rank is None:
            return None
        return self.previous_rank - self.rank

    @property
    def composite_change(self) -> float | None:
        if self.composite is None or self.previous_composite is None:
            return None
        return _round(Decimal(str(self.composite)) - Decimal(str(self.previous_composite)))


def rank(scorecards: Iterable[Scorecard], weights: dict[str, int]) -> list[Ranked]:
    """Best composite first (ties share a rank: 1, 2, 2, 4); a PO without a composite comes last,
    unranked; then by PO code."""
    rows = [Ranked(card, composite(card.measures, weights), None) for card in scorecards]
    rows.sort(
        key=lambda row: (
            row.composite is None,
            -(row.composite or 0),
            row.scorecard.partner_organization.code,
        )
    )
    previous: float | None = None
    for position, row in enumerate(rows, start=1):
        if row.composite is None:
            continue
        if row.composite != previous:
            current_rank = position
            previous = row.composite
        row.rank = current_rank
    return rows


def ranking(quarter_end: date, weights: dict[str, int] | None = None) -> list[Ranked]:
    """Every PO's scorecard of the quarter, ranked, with its rank and composite of the previous quarter
    (two queries, plus one for the weights)."""
    weights = weights if weights is not None else current_weights()
    cards = Scorecard.objects.select_related("partner_organization")
    rows = rank(cards.filter(quarter_end=quarter_end), weights)
    before = {
        row.scorecard.partner_organization_id: row
        for row in rank(cards.filter(quarter_end=previous_quarter_end(quarter_end)), weights)
    }
    for row in rows:
        earlier = before.get(row.scorecard.partner_organization_id)
        if earlier is not None:
            row.previous_rank, row.previous_composite = earlier.rank, earlier.composite
    return rows


def ranks_of(
    quarter_ends: Iterable[date], weights: dict[str, int] | None = None
) -> dict[tuple[date, int], Ranked]:
    """(quarter end, PO id) → its ranked line, for the given quarters (one query)."""
    weights = weights if weights is not None else current_weights()
    by_quarter: dict[date, list[Scorecard]] = defaultdict(list)
    for card in Scorecard.objects.filter(quarter_end__in=set(quarter_ends)).select_related(
        "partner_organization"
    ):
        by_quarter[card.quarter_end].append(card)
    return {
        (quarter, row.scorecard.partner_organization_id): row
        for quarter, cards in by_quarter.items()
        for row in rank(cards, weights)
    }


@dataclass
class TrendPoint:
    quarter_end: date
    label: str
    composite: float | None
    rank: int | None
    of: int
    scores: list[float | None]


def trend(po_id: int, up_to: date | None = None, weights: dict[str, int] | None = None) -> list[TrendPoint]:
    """The PO's last TREND_QUARTERS quarters (up to `up_to`), oldest first, with its composite and rank."""
    weights = weights if weights is not None else current_weights()
    quarters = Scorecard.objects.filter(partner_organization_id=po_id)
    if up_to is not None:
        quarters = quarters.filter(quarter_end__lte=up_to)
    wanted = list(quarters.order_by("-quarter_end").values_list("quarter_end", flat=True)[:TREND_QUARTERS])
    ranks = ranks_of(wanted, weights)
    counts: dict[date, int] = defaultdict(int)
    for quarter, _po in ranks:
        counts[quarter] += 1
    points = []
    for quarter in sorted(wanted):
        row = ranks[(quarter, po_id)]
        points.append(
            TrendPoint(quarter, quarter_label(quarter), row.composite, row.rank, counts[quarter], row.scores)
        )
    return points


def sparkline(points: list[TrendPoint], width: int = 160, height: int = 40) -> str:
    """The SVG polyline points of the composites (0-100, bottom to top); "" with fewer than two."""
    values = [(index, point.composite) for index, point in enumerate(points) if point.composite is not None]
    if len(values) < 2:
        return ""
    step = width / max(1, len(points) - 1)
    return " ".join(f"{index * step:.1f},{height - (value / 100) * height:.1f}" for index, value in values)


# --- The rules in words ------------------------------------------------------------------------------


def measure_rules() -> list[tuple[str, str]]:
    """Each measure's name and how it is scored: the pages and the API documentation say the same."""
    return [
        (
            str(ScorecardMeasure.MES_REACHED.label),
            _(
                "MEs financed by the quarter's end (at least one loan or grant of project financing) "
                "against the MEs the PO committed to: for each of its sub-projects awarded by then and not "
                "cancelled, the MEs-financed target of its proposal's committed results or, where the "
                "proposal committed none, its MEs targeted."
            ),
        ),
        (
            str(ScorecardMeasure.WOMEN_LED.label),
            _(
                "Women-led MEs among those financed, against the women-led MEs targeted in the PO's "
                "proposals."
            ),
        ),
        (
            str(ScorecardMeasure.RECP_VERIFIED.label),
            _(
                "MEs with at least two distinct RECP practices verified by the PMU or a verifier by the "
                "quarter's end, against the PO's committed targets for that indicator."
            ),
        ),
        (
            str(ScorecardMeasure.KPI_TRACKING.label),
            _(
                "MEs with a baseline and a later reading of an environmental KPI by the quarter's end, "
                "against the PO's committed targets for that indicator."
            ),
        ),
        (
            str(ScorecardMeasure.FUND_UTILISATION.label),
            _("Spending reported (BDT) against the money released to the PO, by the quarter's end."),
        ),
        (
            str(ScorecardMeasure.REPORTING_TIMELINESS.label),
            _(
                "Quarterly spending reports submitted on time (by %(days)s days after the quarter's end) "
                "against the reports due, over the four quarters ending with the latest quarter, up to "
                "this one, whose reports were due by the day of the computation: a report not yet due "
                "never counts as late."
            )
            % {"days": settings.SPENDING_REPORT_DUE_DAYS},
        ),
        (
            str(ScorecardMeasure.DATA_QUALITY.label),
            _(
                "From the data-quality panel: the mean of the verification confirmation rate, the share of "
                "reported RECP adoptions verified independently and the share of MEs with a KPI baseline "
                "whose readings are up to date (those that apply), minus %(penalty)s points per suspected "
                "duplicate pair still pending (at most %(most)s points), between 0 and 100. The panel's "
                "figures are those of the day of the computation."
            )
            % {"penalty": DUPLICATE_PENALTY, "most": DUPLICATE_PENALTY_MAX},
        ),
        (
            str(ScorecardMeasure.PORTFOLIO_QUALITY.label),
            _(
                "100 minus %(factor)s times the share (%%) of the PO's ME loan portfolio more than 30 days "
                "past due (PAR30), never below 0."
            )
            % {"factor": PAR30_FACTOR},
        ),
    ]


SCORE_RULE = _lazy(
    "Each measure scores its value as a percentage of its target, capped at 100; a measure with nothing "
    "to compare with (nothing committed, nothing released, no report due, no loans) does not apply. The "
    "composite is the mean of the scores of the measures that apply, each counted by its weight (the sum "
    "of weight x score divided by the sum of their weights), with the weights the PMU sets now (a change "
    "of weights re-ranks every quarter at once)."
)


# --- Menu -------------------------------------------------------------------------------------------


def _own_po_only(user) -> bool:
    return bool(user.partner_organization_id) and not sees_all_money(user)


def ready() -> None:
    from core.navigation import NavItem, register

    register(
        NavItem(
            _lazy("PO scorecards"),
            "finance:scorecard-ranking",
            _lazy("Each PO's quarterly scorecard: results, money, reporting and data quality, ranked."),
            roles=(Role.PMU_OFFICER, Role.WORLD_BANK, Role.PKSF_APPROVER, Role.FINANCE_OFFICER),
            condition=may_rank,
            order=78,
        ),
        NavItem(
            _lazy("Our scorecard"),
            "finance:scorecard-own",
            _lazy("Your PO's quarterly scorecard and its trend."),
            roles=(Role.PO_STAFF, Role.FINANCE_OFFICER),
            condition=_own_po_only,
            order=78,
        ),
        NavItem(
            _lazy("Scorecard weights"),
            "finance:scorecard-weights",
            _lazy("How much each measure counts in the POs' composite rating."),
            roles=(Role.PMU_OFFICER,),
            condition=may_set_weights,
            order=78,
        ),
        group=_lazy("Money"),
    )
