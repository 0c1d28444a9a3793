"""What the dashboard, the indicators API and the results reports show, read from stored snapshots only
(no aggregation on the request path): a handful of queries whatever the size of the programme.

Two rules live here, once, for pages, API and reports alike:
- **As of any date**: the figures of the latest snapshot on or before the date asked for, saying which
  snapshot was used; when there is none, a run for that date is queued and its status shown.
- **% of target**: programme figures against the programme's targets (the Indicator row); a PO's
  figures against that PO's own commitments in its approved proposals. A PO's figure against the
  programme target is a separate number, always labelled as such.
"""

from __future__ import annotations

import functools
import hashlib
import math
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from functools import cached_property
from pathlib import Path
from typing import NamedTuple

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q, QuerySet, Subquery, Sum
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format, number_format
from django.utils.functional import Promise
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.models import PartnerOrganization
from core.permissions import is_po_staff
from core.reference_names import translated_name
from core.validators import AS_OF, check_in_programme_span
from enterprises.filters import INDICATOR_CHOICES as ENTERPRISE_LIST_INDICATORS
from enterprises.models import FacilityKind
from finance.rates import in_usd, usd_total
from monitoring.indicators import QUALIFYING, committed_sub_projects
from monitoring.models import (
    AggregationRun,
    Dimension,
    Indicator,
    IndicatorValue,
    Milestone,
    RunStatus,
    RunTrigger,
    Snapshot,
    Unit,
)
from subprojects.models import BudgetCategory, BudgetLine, CommittedResult, Financier

# Indicators whose figure is a count of enterprises.
ENTERPRISE_INDICATORS = frozenset(QUALIFYING)
# Wage jobs in the MEs financed by the date.
JOB_INDICATORS = ("WAGE_JOBS_WOMEN", "WAGE_JOBS_MEN", "WAGE_JOBS_WOMEN_ADDED", "WAGE_JOBS_MEN_ADDED")
# Disbursements to MEs of a PO are measured against its approved budget lines for financing MEs.
DISBURSED_BY_FINANCIER = {
    "MONEY_DISBURSED": None,
    "MONEY_DISBURSED_WORLD_BANK": Financier.WORLD_BANK,
    "MONEY_DISBURSED_PKSF": Financier.PKSF,
    "MONEY_DISBURSED_PO": Financier.PO,
}


def scope_po(user, code: str | None = None) -> PartnerOrganization | None:
    """Whose figures `user` sees, for the dashboard and the API alike: programme-wide roles the
    programme (None) or the PO of `code` (404 if there is none); PO staff their own PO, whatever
    `code` says; anyone else nothing (403)."""
    if user.sees_whole_programme:
        return get_object_or_404(PartnerOrganization, code=code) if code else None
    if is_po_staff(user):
        return user.partner_organization
    raise PermissionDenied


# --- As of any date -------------------------------------------------------------------------------


def parse_as_of(value: str | None) -> date | None:
    """The date asked for, or None for "the latest"; a clear error for a bad date."""
    if not value:
        return None
    try:
        asked = date.fromisoformat(value)
    except ValueError as exc:
        raise ValidationError(_("Enter the date as YYYY-MM-DD, e.g. 2025-06-30.")) from exc
    check_results_date(asked)
    return asked


def check_results_date(asked: date, what: str | Promise = AS_OF) -> None:
    """Results exist from the programme start to today: a date outside is refused with the reason,
    naming the field (pages, API, runs and reports alike; core.validators.check_in_programme_span)."""
    check_in_programme_span(asked, what)


@dataclass
class AsOf:
    """Which snapshot answers a question "as of" a date."""

    requested: date | None
    snapshot: Snapshot | None
    # A run computing the requested date, when no snapshot was on or before it.
    run: AggregationRun | None = None

    @property
    def is_exact(self) -> bool:
        return self.snapshot is not None and (self.requested is None or self.snapshot.as_of == self.requested)

    @property
    def note(self) -> str:
        """What the reader must know about the date used, or ""."""
        if self.snapshot is None:
            if self.run is None:
                return ""
            values = {"date": self.requested, "run": self.run.pk, "status": self.run.get_status_display()}
            if self.run.status in (RunStatus.QUEUED, RunStatus.RUNNING):
                message = _(
                    "No figures were stored on or before %(date)s: they are being computed now "
                    "(run %(run)s, %(status)s)."
                )
            else:
                message = _(
                    "No figures are stored on or before %(date)s, and computing them did not succeed "
                    "(run %(run)s, %(status)s). Ask again in a few minutes."
                )
            return message % values
        if self.requested is not None and self.snapshot.as_of != self.requested:
            return _("Figures of %(used)s, the latest stored on or before %(asked)s.") % {
                "used": self.snapshot.as_of.isoformat(),
                "asked": self.requested.isoformat(),
            }
        return ""


def _snapshots() -> QuerySet[Snapshot]:
    """Snapshots, newest first, each read with the latest write of any snapshot: cached fragments are
    keyed by it (see `snapshot_identity`), so writing or rewriting any snapshot makes every fragment
    drawn before unreachable. A scalar subquery on a small table, in the same query."""
    latest = Snapshot.objects.order_by("-computed_at").values("computed_at")[:1]
    return Snapshot.objects.order_by("-as_of").annotate(latest_write=Subquery(latest))


def snapshot_as_of(requested: date | None, *, user=None, compute_if_missing: bool = True) -> AsOf:
    """The latest snapshot on or before `requested` (the latest of all when None). If there is none,
    a run for that date is queued (once: a queued or running one is reused) and reported instead."""
    snapshots = _snapshots()
    if requested is None:
        return AsOf(None, snapshots.first())
    snapshot = snapshots.filter(as_of__lte=requested).first()
    if snapshot is not None or not compute_if_missing:
        return AsOf(requested, snapshot)
    from monitoring import aggregation

    run = AggregationRun.objects.filter(
        as_of=requested, status__in=[RunStatus.QUEUED, RunStatus.RUNNING]
    ).first() or aggregation.request_run(as_of=requested, trigger=RunTrigger.ON_DEMAND, user=user, wait=True)
    # Without a broker the run has already happened (in-process): answer with its snapshot.
    snapshot = snapshots.filter(as_of__lte=requested).first()
    return AsOf(requested, snapshot, None if snapshot else run)


# --- % of target ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    """A figure against its target, and which target that is."""

    target: Decimal | None
    percent: float | None
    # "programme": the programme's target; "po_commitment": what the PO committed to in its approved
    # proposals; "": no target to compare with.
    basis: str

    @property
    def bar_width(self) -> float:
        return min(100.0, max(0.0, self.percent or 0.0))


def percent_of(value: Decimal | None, target: Decimal | None) -> float | None:
    if value is None or not target:
        return None
    return float(value / target * 100)


def po_commitments(po_id: int, as_of: date | None = None) -> dict[str, Decimal]:
    """What a PO committed to in its proposals that had become sub-projects by the date (awarded
    and not cancelled by then, as for the money committed): results per indicator (SPP committed
    results) and, for money disbursed to MEs, its budget lines for financing MEs in USD at the rate
    of each sub-project's award date (in total and by financier). Three queries."""
    committed = committed_sub_projects(as_of or timezone.localdate()).filter(partner_organization_id=po_id)
    approved = Q(proposal__sub_project__in=committed)
    commitments = {
        row["indicator"]: Decimal(row["total"])
        for row in CommittedResult.objects.filter(approved).values("indicator").annotate(total=Sum("target"))
    }
    # Each budget line at the rate of its sub-project's award date (finance.rates), as the money committed.
    lines = (
        BudgetLine.objects.filter(approved, category=BudgetCategory.ME_FINANCE)
        .values("financier")
        .annotate(total=Sum(in_usd("amount", "proposal__sub_project__award_date")))
        .order_by()
    )
    by_financier = {row["financier"]: usd_total(row["total"]) for row in lines}
    for code, financier in DISBURSED_BY_FINANCIER.items():
        total = sum(by_financier.values(), Decimal(0)) if financier is None else by_financier.get(financier)
        if total:
            commitments[code] = total
    return commitments


def progress(
    indicator: Indicator,
    value: Decimal | None,
    *,
    po_id: int | None = None,
    commitments: dict | None = None,
    as_of: date | None = None,
) -> Progress:
    """The one "% of target" rule. For a PO pass its `po_commitments()` of the same date (read once
    per page), or the date."""
    if po_id is None:
        target, basis = indicator.target, "programme"
    else:
        if commitments is None:
            commitments = po_commitments(po_id, as_of)
        target, basis = commitments.get(indicator.code), "po_commitment"
    if not target:
        return Progress(None, None, "")
    return Progress(target, percent_of(value, target), basis)


def programme_share(indicator: Indicator, value: Decimal | None) -> float | None:
    """A PO's figure as a share of the programme's target: shown only where labelled so. A share
    (%) of a share means nothing: none for percentages."""
    if indicator.unit == Unit.PERCENT:
        return None
    return percent_of(value, indicator.target)


# --- The board ------------------------------------------------------------------------------------


class StoredValue(NamedTuple):
    """One group of a breakdown as stored in a snapshot: a plain row, not a model instance (the board
    reads hundreds of them per page)."""

    dimension: str
    key: str
    label: str
    value: Decimal
    numerator: Decimal | None
    denominator: Decimal | None


@dataclass
class Headline:
    indicator: Indicator
    value: Decimal | None
    progress: Progress
    milestone: Milestone | None = None
    breakdowns: dict[str, list[StoredValue]] = field(default_factory=dict)
    # The indicator's parts (e.g. revenue-generating CSFs) and companion figures (e.g. reported, not
    # yet verified), as further headlines.
    parts: list[Headline] = field(default_factory=list)
    programme_percent: float | None = None

    @property
    def target(self) -> Decimal | None:
        return self.progress.target

    @property
    def percent_of_target(self) -> float | None:
        return self.progress.percent

    @property
    def target_is_commitment(self) -> bool:
        return self.progress.basis == "po_commitment"

    @property
    def bar_width(self) -> float:
        return self.progress.bar_width

    @property
    def drills_down(self) -> bool:
        """Whether a list shows the records behind the figure (see DRILL_DOWNS)."""
        return self.indicator.code in DRILL_DOWNS

    @property
    def is_money(self) -> bool:
        return self.indicator.unit == Unit.USD


# Figures shown beside an indicator (never in it): the reported-not-verified and unconfirmed ones.
COMPANIONS = {"ME_RECP_2PLUS": "ME_RECP_2PLUS_PENDING", "CSF_ESTABLISHED": "CSF_UNCONFIRMED"}


@dataclass
class Board:
    as_of: AsOf
    headlines: list[Headline]
    companions: dict[str, Headline] = field(default_factory=dict)

    @property
    def snapshot(self) -> Snapshot | None:
        return self.as_of.snapshot

    def headline(self, code: str) -> Headline | None:
        """Any indicator's headline: top-level, a part, or a companion."""
        return self.by_code.get(code)

    @cached_property
    def by_code(self) -> dict[str, Headline]:
        found = {h.indicator.code: h for h in self.companions.values() if h is not None}
        for headline in self.headlines:
            found[headline.indicator.code] = headline
            for part in headline.parts:
                found[part.indicator.code] = part
        return found

    @property
    def by_level(self) -> list[tuple[str, list[Headline]]]:
        """Top-level headlines grouped by results-framework level, in the framework's order."""
        groups: dict[str, list[Headline]] = {}
        for headline in self.headlines:
            groups.setdefault(headline.indicator.level, []).append(headline)
        return [(level, groups[level]) for level in ("pdo", "intermediate", "tracked") if level in groups]


def board(
    *,
    as_of: AsOf | date | None = None,
    po_id: int | None = None,
    breakdowns_of: Collection[str] | None = None,
    indicators: Sequence[Indicator] | None = None,
    milestones: Mapping[int, Milestone] | None = None,
    commitments: dict[str, Decimal] | None = None,
    figures: bool = True,
) -> Board:
    """Headline figures with their breakdowns for one snapshot and scope (programme or one PO).

    The values are read as plain rows: every indicator's total, and the breakdowns of the indicators
    in `breakdowns_of` only (all when None). What the caller has read already (`indicators`,
    `milestones` of the snapshot's year, a PO's `commitments`) is not read again. Without `figures`
    nothing else is read: the board's indicators, in order and grouped, without a figure (the
    dashboard's outline when its fragments come from the cache)."""
    chosen = as_of if isinstance(as_of, AsOf) else snapshot_as_of(as_of, compute_if_missing=False)
    snapshot = chosen.snapshot
    indicators = list(Indicator.objects.order_by("position")) if indicators is None else list(indicators)
    values_by_indicator: dict[int, list[StoredValue]] = {}
    if figures:
        if milestones is None:
            milestones = board_milestones(chosen)
        if snapshot:
            values_by_indicator = _stored_values(snapshot.as_of, po_id, indicators, breakdowns_of)
        if po_id is not None and commitments is None:
            commitments = po_commitments(po_id, snapshot.as_of if snapshot else None)
    made: dict[int, Headline] = {}
    for indicator in indicators:
        if not figures:
            made[indicator.pk] = Headline(indicator, None, Progress(None, None, ""))
            continue
        values = values_by_indicator.get(indicator.pk, [])
        total = next((v.value for v in values if v.dimension == Dimension.TOTAL), None)
        if snapshot and total is None and po_id is not None:
            # A PO without any figure for this indicator has none of it. (The programme always has
            # a total: none means the snapshot was computed before the indicator existed.)
            total = Decimal("0")
        breakdowns: dict[str, list[StoredValue]] = {}
        for value in values:
            if value.dimension != Dimension.TOTAL:
                breakdowns.setdefault(value.dimension, []).append(value)
        made[indicator.pk] = Headline(
            indicator,
            total,
            progress(indicator, total, po_id=po_id, commitments=commitments),
            milestones.get(indicator.pk) if po_id is None and milestones else None,
            breakdowns,
            programme_percent=programme_share(indicator, total) if po_id is not None else None,
        )
    companion_codes = set(COMPANIONS.values())
    headlines, companions = [], {}
    for indicator in indicators:
        headline = made[indicator.pk]
        if indicator.parent_id is not None and indicator.parent_id in made:
            made[indicator.parent_id].parts.append(headline)
        elif indicator.code in companion_codes:
            companions[indicator.code] = headline
        else:
            headlines.append(headline)
    return Board(chosen, headlines, {code: companions.get(c) for code, c in COMPANIONS.items()})


def board_milestones(as_of: AsOf) -> dict[int, Milestone]:
    """The milestones the board shows: those of the snapshot's year (this year without a snapshot),
    by indicator id."""
    year = (as_of.snapshot.as_of if as_of.snapshot else timezone.localdate()).year
    return {m.indicator_id: m for m in Milestone.objects.filter(year=year)}


def _stored_values(
    as_of: date, po_id: int | None, indicators: Sequence[Indicator], breakdowns_of: Collection[str] | None
) -> dict[int, list[StoredValue]]:
    """A snapshot's values for one scope as plain rows by indicator id, largest first: the totals,
    and the breakdowns of `breakdowns_of` (all when None). One query."""
    rows = IndicatorValue.objects.for_dashboard(as_of=as_of, po_id=po_id)
    if breakdowns_of is not None:
        ids = [indicator.pk for indicator in indicators if indicator.code in breakdowns_of]
        rows = rows.filter(Q(dimension=Dimension.TOTAL) | Q(indicator_id__in=ids))
    found: dict[int, list[StoredValue]] = {}
    for indicator_id, *value in rows.order_by("-value").values_list(
        "indicator_id", "dimension", "key", "label", "value", "numerator", "denominator"
    ):
        found.setdefault(indicator_id, []).append(StoredValue(*value))
    return found


def trend(code: str, *, po_code: str | None = None, until: date | None = None) -> list[tuple[date, Decimal]]:
    """The indicator's total in every snapshot (up to `until`), oldest first."""
    values = IndicatorValue.objects.trend(po_code=po_code).filter(indicator__code=code)
    if until is not None:
        values = values.filter(as_of__lte=until)
    return list(values.order_by("as_of").values_list("as_of", "value"))


# --- Drill-down: from a figure to the records behind it -------------------------------------------


@dataclass(frozen=True)
class DrillDown:
    """The list showing the records behind an indicator's figure, and how to ask it for them."""

    url_name: str
    # The link's text beside the figure ("The enterprises").
    label: str | Promise
    # The list's filters selecting the records behind the figure as of a date.
    params: Callable[[date], dict[str, str]]
    # Breakdown → the list's filter for one group of it. A breakdown not named here is not clickable.
    filters: Mapping[str, str]


# The list filters for the groups of a breakdown (IndicatorValue.key is the value they take).
ENTERPRISE_FILTERS = {
    Dimension.BUSINESS_AREA: "business_area",
    Dimension.SECTOR: "sector",
    Dimension.SUB_SECTOR: "sub_sector",
    Dimension.DIVISION: "division",
    Dimension.DISTRICT: "district",
    Dimension.PARTNER_ORGANIZATION: "partner_organization",
    Dimension.GENDER: "owner_gender",
    Dimension.CLIMATE: "climate_vulnerable",
}
FACILITY_FILTERS = {d: name for d, name in ENTERPRISE_FILTERS.items() if d != Dimension.GENDER}


_ENTERPRISES = gettext_lazy("The enterprises")


def _counted_in(code: str, **extra: str) -> Callable[[date], dict[str, str]]:
    """The list's "counted in indicator" filter, as the headline cards have always linked it."""
    return lambda as_of: {"indicator": code, "as_of": as_of.isoformat(), **extra}


def _enterprises(code: str, label: str | Promise = _ENTERPRISES) -> DrillDown:
    return DrillDown("enterprises:enterprise-list", label, _counted_in(code), ENTERPRISE_FILTERS)


def _facilities(code: str, **extra: str) -> DrillDown:
    return DrillDown(
        "enterprises:facility-list",
        gettext_lazy("The facilities"),
        _counted_in(code, **extra),
        FACILITY_FILTERS,
    )


def _disbursements(financier: str | None = None) -> DrillDown:
    """Project financing disbursed by the date (of one financier): the records summed in USD."""

    def params(as_of: date) -> dict[str, str]:
        chosen = {"project_financing": "true", "disbursed_to": as_of.isoformat()}
        return chosen | ({"financier": financier} if financier else {})

    return DrillDown(
        "enterprises:support-list", gettext_lazy("The disbursements"), params, ENTERPRISE_FILTERS
    )


def _registered(as_of: date) -> dict[str, str]:
    return {"registered_to": as_of.isoformat(), "duplicate": "countable"}


_FINANCED = gettext_lazy("The MEs financed")
# Every indicator whose records a list can show exactly as the indicator selects them. Shares and
# jobs are figures about a set of MEs (their denominator: the MEs financed, or registered, by the
# date): they open that set. Money committed (sub-projects awarded and not cancelled by a date) has
# no list that selects "as of a date": it is not clickable.
DRILL_DOWNS: dict[str, DrillDown] = {
    **{code: _enterprises(code) for code, _label in ENTERPRISE_LIST_INDICATORS},
    "WOMEN_LED_SHARE": _enterprises("ME_FINANCED", _FINANCED),
    "WOMEN_LED_SHARE_REGISTERED": DrillDown(
        "enterprises:enterprise-list", gettext_lazy("The MEs registered"), _registered, ENTERPRISE_FILTERS
    ),
    **{code: _enterprises("ME_FINANCED", _FINANCED) for code in JOB_INDICATORS},
    "CSF_ESTABLISHED": _facilities("CSF_ESTABLISHED"),
    "CSF_REVENUE": _facilities("CSF_ESTABLISHED", kind=FacilityKind.REVENUE),
    "CSF_NON_REVENUE": _facilities("CSF_ESTABLISHED", kind=FacilityKind.NON_REVENUE),
    "CSF_UNCONFIRMED": _facilities("CSF_UNCONFIRMED"),
    **{code: _disbursements(financier) for code, financier in DISBURSED_BY_FINANCIER.items()},
}


def drill_down_url(
    code: str,
    as_of: date | None,
    *,
    po_code: str | None = None,
    dimension: str | None = None,
    key: str | None = None,
) -> str | None:
    """The address of the list showing the records behind a figure: an indicator's total, or one
    group (`key`) of one of its breakdowns, as of the snapshot's date, within one PO (`po_code`) or
    the programme. None when no list shows them. The list itself keeps to what the user may see."""
    target = DRILL_DOWNS.get(code)
    if target is None or as_of is None:
        return None
    params = target.params(as_of)
    if dimension is not None and dimension != Dimension.TOTAL:
        name = target.filters.get(dimension)
        if name is None or not key:
            return None
        params[name] = key
    if po_code:
        params.setdefault("partner_organization", po_code)
    return f"{reverse(target.url_name)}?{urlencode(params)}"


def drill_down_label(code: str) -> str | Promise:
    target = DRILL_DOWNS.get(code)
    return target.label if target else ""


@dataclass(frozen=True)
class BreakdownRow:
    """One group of a breakdown as the page shows it: its figure and where it drills down to."""

    key: str
    label: str
    value: Decimal
    numerator: Decimal | None
    denominator: Decimal | None
    url: str | None


def breakdown_rows(
    code: str, values: Sequence[StoredValue], *, as_of: date | None, po_code: str | None = None
) -> list[BreakdownRow]:
    return [
        BreakdownRow(
            value.key,
            # Stored as named when the snapshot was made (English): shown in the reader's language.
            translated_name(value.label),
            value.value,
            value.numerator,
            value.denominator,
            drill_down_url(code, as_of, po_code=po_code, dimension=value.dimension, key=value.key),
        )
        for value in values
    ]


# --- Map colour classes ---------------------------------------------------------------------------

# ColorBrewer "Greens" (sequential, 5 classes), lightest first; values below zero (jobs lost) in a
# colour of their own; districts without a figure in a grey no class uses.
SHADES = ("#edf8e9", "#bae4b3", "#74c476", "#31a354", "#006d2c")
BELOW_ZERO = "#fdae6b"
NO_DATA = "#bdbdbd"


@dataclass(frozen=True)
class ColourClass:
    """One class of the map's legend: the values from `low` to `high` (both included)."""

    low: Decimal
    high: Decimal
    colour: str
    label: str


def format_number(value: Decimal, rounding: str = ROUND_HALF_UP) -> str:
    """A figure as the active language groups it (12,34,567): whole numbers (and anything from 100
    up) as whole numbers, smaller fractions with one decimal."""
    places = Decimal(1) if abs(value) >= 100 else Decimal("0.1")
    rounded = value.quantize(places, rounding=rounding)
    whole = rounded == rounded.to_integral_value()
    return number_format(rounded, decimal_pos=0 if whole else 1, use_l10n=True, force_grouping=True)


# Round numbers a legend reads easily, per power of ten.
NICE_STEPS = tuple(Decimal(step) for step in ("1", "1.5", "2", "2.5", "3", "4", "5", "6", "8", "10"))


def nice_ceiling(value: Decimal, *, whole: bool = False) -> Decimal:
    """The smallest round number (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8 x 10^n) at or above a positive value,
    a whole number for whole-number data: 7 -> 8, 12 -> 15, 0.37 -> 0.4, 1.2 -> 2 when whole."""
    exponent = math.floor(math.log10(value))
    for step in NICE_STEPS:
        bound = step.scaleb(exponent)
        if whole:
            bound = bound.to_integral_value(rounding=ROUND_CEILING)
        if bound >= value:
            return bound.normalize() if bound < 1 else bound.quantize(Decimal(1))
    raise AssertionError("unreachable")  # 10 x 10^n is always at or above the value


def _class_label(low: Decimal, high: Decimal) -> str:
    if low == high:
        return format_number(low)
    # The lower bound rounded down, so that the range shown holds every value of the class; an en dash.
    return f"{format_number(low, ROUND_FLOOR)}\u2013{format_number(high)}"


def colour_classes(values: Sequence[Decimal], *, count: int = 5) -> list[ColourClass]:
    """At most `count` colour classes for the map: zero in a class of its own ("0"), the positive
    values in quantile classes whose upper bounds are rounded up to round numbers ("1-10", "11-15",
    "16-40"), values below zero in one class. Whole-number data get whole-number ranges that follow
    each other; fractional data (shares, dollars) ranges that share their bounds, from the smallest
    value. No values, no classes."""
    data = sorted(Decimal(v) for v in values)
    if not data:
        return []
    classes: list[ColourClass] = []
    negative = [v for v in data if v < 0]
    positive = [v for v in data if v > 0]
    if negative:
        classes.append(
            ColourClass(negative[0], negative[-1], BELOW_ZERO, _class_label(negative[0], negative[-1]))
        )
    has_zero = len(negative) + len(positive) < len(data)
    if has_zero:
        classes.append(ColourClass(Decimal(0), Decimal(0), SHADES[0], "0"))
    if positive:
        distinct = len(set(positive))
        whole = all(v == v.to_integral_value() for v in positive)
        wanted = max(1, min(count - len(classes), len(SHADES) - has_zero, distinct))
        if distinct == 1:
            highs = [positive[0]]
        else:
            quantiles = (positive[math.ceil(i * len(positive) / wanted) - 1] for i in range(1, wanted + 1))
            highs = sorted({nice_ceiling(v, whole=whole) for v in quantiles})
        # The darkest shades for the positive classes (the lightest is zero's).
        shades = SHADES[len(SHADES) - len(highs) :]
        low = Decimal(1) if whole and distinct > 1 else positive[0]
        for high, colour in zip(highs, shades, strict=True):
            classes.append(ColourClass(low, high, colour, _class_label(low, high)))
            low = high + 1 if whole else high
    return classes


def class_of(value: Decimal, classes: Sequence[ColourClass]) -> int | None:
    """The index of the class holding `value`: the first whose upper bound is at or above it."""
    return next((index for index, colour in enumerate(classes) if value <= colour.high), None)


# --- The trend over time --------------------------------------------------------------------------


def month_label(day: date) -> str:
    """ "Jun 2025" / "জুন 2025": the month of a date in the active language."""
    return date_format(day, "M Y")


def month_ticks(days: Sequence[date], *, most: int = 8) -> list[str]:
    """The trend's axis labels: a month's name at its first snapshot, for at most `most` months
    evenly spread, "" at the other snapshots (nightly snapshots make many points a month)."""
    firsts = [
        index
        for index, day in enumerate(days)
        if index == 0 or (day.year, day.month) != (days[index - 1].year, days[index - 1].month)
    ]
    shown = set(firsts[:: max(1, math.ceil(len(firsts) / most))])
    return [month_label(day) if index in shown else "" for index, day in enumerate(days)]


# --- Rendered fragments, cached -------------------------------------------------------------------
#
# The dashboard's headline cards and its detail section are drawn once per snapshot, scope,
# indicator and everything else that changes their HTML, then served from Django's cache. A fragment's
# key names all of that, so a fragment can only be served where it was drawn for the very same thing:
# - the stored snapshots as they are (`snapshot_identity`): writing or rewriting any snapshot moves
#   every key (no fragment drawn before a snapshot was written is ever served after it);
# - the scope: "programme" or "po:<id>" — a PO's fragment is never another scope's;
# - the language, Bangla digits, the reader's right to drill down, the links' query string;
# - the figures read live beside the snapshot (targets, names, milestones, a PO's commitments) as a
#   digest, so that a target the PMU edits shows at once;
# - the code drawing them (templates, this module, the translation catalogue), so that a deploy
#   never serves fragments of the previous release from a cache that outlived it;
# - a generation that `forget_cached_fragments()` moves, for a write that bypasses Snapshot.
# Fragments hold nothing the page cannot draw again: a cache that is down or cleared only costs time.

FRAGMENT_KEY_PREFIX = "dashboard-fragment"
GENERATION_KEY = "dashboard-fragment:generation"
# How long an unused fragment is kept is settings.DASHBOARD_CACHE_SECONDS; a new snapshot makes new
# keys, so it bounds only how long stale entries occupy the cache; 0 turns the cache off.
# What draws a fragment besides the data (see `code_version`).
_DRAWN_BY = (
    "monitoring/dashboard.py",
    "monitoring/views/dashboard.py",
    "monitoring/templatetags/indicators.py",
    "templates/monitoring/_headline_card.html",
    "templates/monitoring/_progress.html",
    "templates/monitoring/_dashboard_detail.html",
)


def fragment_seconds() -> int:
    return settings.DASHBOARD_CACHE_SECONDS


def forget_cached_fragments(as_of: date | None = None) -> None:
    """Make every cached dashboard fragment unreachable (all dates: `as_of` is accepted for callers
    that name the snapshot they wrote). Not needed after `refresh_snapshot`, whose new computed_at
    already moves every key; call it after anything that changes stored values without writing a
    Snapshot row."""
    cache.set(GENERATION_KEY, time.time_ns(), None)


def _generation() -> int:
    """The fragments' current generation. A missing one (never set, evicted, cache restarted) is
    replaced by a new one, never by a value an older generation may have had."""
    current = cache.get(GENERATION_KEY)
    if current is None:
        fresh = time.time_ns()
        cache.add(GENERATION_KEY, fresh, None)
        current = cache.get(GENERATION_KEY, fresh)
    return current


@functools.cache
def code_version() -> str:
    """A digest of the code and catalogues that draw the fragments, read once per process."""
    base = Path(settings.BASE_DIR)
    digest = hashlib.blake2b(digest_size=8)
    paths = [base / name for name in _DRAWN_BY]
    paths += sorted(base.glob("locale/*/LC_MESSAGES/*.mo"))
    for path in paths:
        digest.update(str(path).encode())
        digest.update(path.read_bytes() if path.exists() else b"-")
    return digest.hexdigest()


def snapshot_identity(as_of: AsOf) -> str:
    """The shown snapshot and the state of all stored snapshots (the trend reads the older ones)."""
    snapshot = as_of.snapshot
    if snapshot is None:
        return "none"
    latest = getattr(snapshot, "latest_write", None) or snapshot.computed_at
    return f"{snapshot.pk}@{snapshot.as_of}@{snapshot.computed_at.isoformat()}|{latest.isoformat()}"


def live_digest(
    indicators: Sequence[Indicator],
    milestones: Mapping[int, Milestone],
    commitments: Mapping[str, Decimal] | None,
) -> str:
    """A digest of what the cards show that is read live, not from the snapshot."""
    rows = [
        (i.pk, i.code, i.name, i.definition, i.unit, i.target, i.parent_id, i.level, i.position)
        for i in indicators
    ]
    rows += sorted((m.indicator_id, m.year, m.target) for m in milestones.values())
    rows += sorted((commitments or {}).items())
    return hashlib.blake2b(repr(rows).encode(), digest_size=12).hexdigest()


def fragment_scope(po_id: int | None) -> str:
    """The scope part of a fragment's key: whose figures the fragment shows."""
    return "programme" if po_id is None else f"po:{po_id}"


def key_context(*parts: object) -> tuple[object, ...]:
    """What the keys of one page's fragments share: `parts` (everything that changes their HTML
    besides the scope and the indicator, see above), the generation and the code's version. One
    cache read: make it once per page."""
    return (_generation(), code_version(), *parts)


def fragment_key(kind: str, code: str, *, scope: str, context: tuple[object, ...]) -> str:
    """The cache key of one fragment: its kind, indicator and scope in the clear, and a digest of the
    rest (`context`, from `key_context`)."""
    digest = hashlib.blake2b(repr((kind, code, scope, context)).encode(), digest_size=16).hexdigest()
    return f"{FRAGMENT_KEY_PREFIX}:{kind}:{scope}:{code}:{digest}"


def cached_fragments(
    keys: Mapping[str, str], draw: Callable[[list[str]], Mapping[str, object]]
) -> tuple[dict[str, object], list[str]]:
    """The fragments named in `keys` (name -> cache key): those in the cache, and those `draw`
    makes for the names missing, which are then cached. Returns them by name and the names drawn.
    One cache read, at most one write."""
    seconds = fragment_seconds()
    found = cache.get_many(list(keys.values())) if seconds > 0 else {}
    fragments = {name: found[key] for name, key in keys.items() if key in found}
    missing = [name for name in keys if name not in fragments]
    if missing:
        drawn = draw(missing)
        fragments.update(drawn)
        if seconds > 0:
            cache.set_many({keys[name]: drawn[name] for name in missing}, seconds)
    return fragments, missing
