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

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import cached_property

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q, Sum
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _

from core.models import PartnerOrganization
from core.permissions import is_po_staff
from core.validators import AS_OF, check_in_programme_span
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

# Indicators whose figure is a count of enterprises: they drill down to the enterprise list.
ENTERPRISE_INDICATORS = frozenset(QUALIFYING)
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


def snapshot_as_of(requested: date | None, *, user=None, compute_if_missing: bool = True) -> AsOf:
    """The latest snapshot on or before `requested` (the latest of all when None). If there is none,
    a run for that date is queued (once: a queued or running one is reused) and reported instead."""
    snapshots = Snapshot.objects.order_by("-as_of")
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


@dataclass
class Headline:
    indicator: Indicator
    value: Decimal | None
    progress: Progress
    milestone: Milestone | None = None
    breakdowns: dict[str, list[IndicatorValue]] = field(default_factory=dict)
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
        return self.indicator.code in ENTERPRISE_INDICATORS

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


def board(*, as_of: AsOf | date | None = None, po_id: int | None = None) -> Board:
    """Headline figures with their breakdowns for one snapshot and scope (programme or one PO)."""
    chosen = as_of if isinstance(as_of, AsOf) else snapshot_as_of(as_of, compute_if_missing=False)
    snapshot = chosen.snapshot
    indicators = list(Indicator.objects.order_by("position"))
    year = (snapshot.as_of if snapshot else timezone.localdate()).year
    milestones = {m.indicator_id: m for m in Milestone.objects.filter(year=year)}
    values_by_indicator: dict[int, list[IndicatorValue]] = {}
    if snapshot:
        for value in IndicatorValue.objects.for_dashboard(as_of=snapshot.as_of, po_id=po_id).order_by(
            "-value"
        ):
            values_by_indicator.setdefault(value.indicator_id, []).append(value)
    commitments = po_commitments(po_id, snapshot.as_of if snapshot else None) if po_id is not None else None
    made: dict[int, Headline] = {}
    for indicator in indicators:
        values = values_by_indicator.get(indicator.pk, [])
        total = next((v.value for v in values if v.dimension == Dimension.TOTAL), None)
        if snapshot and total is None and po_id is not None:
            # A PO without any figure for this indicator has none of it. (The programme always has
            # a total: none means the snapshot was computed before the indicator existed.)
            total = Decimal("0")
        breakdowns: dict[str, list[IndicatorValue]] = {}
        for value in values:
            if value.dimension != Dimension.TOTAL:
                breakdowns.setdefault(value.dimension, []).append(value)
        made[indicator.pk] = Headline(
            indicator,
            total,
            progress(indicator, total, po_id=po_id, commitments=commitments),
            milestones.get(indicator.pk) if po_id is None else None,
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


def trend(code: str, *, po_code: str | None = None, until: date | None = None) -> list[tuple[date, Decimal]]:
    """The indicator's total in every snapshot (up to `until`), oldest first."""
    values = IndicatorValue.objects.trend(po_code=po_code).filter(indicator__code=code)
    if until is not None:
        values = values.filter(as_of__lte=until)
    return list(values.order_by("as_of").values_list("as_of", "value"))
