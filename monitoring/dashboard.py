"""What the dashboard and the indicators API show, read from stored snapshots only (no aggregation on
the request path): a handful of queries whatever the size of the programme."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.core.exceptions import PermissionDenied
from django.db.models import Sum
from django.shortcuts import get_object_or_404
from django.utils import timezone

from core.models import PartnerOrganization
from core.permissions import is_po_staff
from monitoring.indicators import QUALIFYING
from monitoring.models import Dimension, Indicator, IndicatorValue, Milestone, Snapshot, Unit
from subprojects.models import CommittedResult

# Indicators whose figure is a count of enterprises: they drill down to the enterprise list.
ENTERPRISE_INDICATORS = frozenset(QUALIFYING)


def scope_po(user, code: str | None = None) -> PartnerOrganization | None:
    """Whose figures `user` sees, for the dashboard and the API alike: programme-wide roles the
    programme (None) or the PO of `code` (404 if there is none); PO staff their own PO, whatever
    `code` says; anyone else nothing (403)."""
    if user.sees_whole_programme:
        return get_object_or_404(PartnerOrganization, code=code) if code else None
    if is_po_staff(user):
        return user.partner_organization
    raise PermissionDenied


def percent_of(value: Decimal | None, target: Decimal | None) -> float | None:
    if value is None or not target:
        return None
    return float(value / target * 100)


@dataclass
class Headline:
    indicator: Indicator
    value: Decimal | None
    milestone: Milestone | None = None
    breakdowns: dict[str, list[IndicatorValue]] = field(default_factory=dict)
    # The figure to compare with: the programme's target, or for one PO what its awarded
    # sub-projects committed to (SPP committed results).
    target: Decimal | None = None
    target_is_commitment: bool = False

    @property
    def percent_of_target(self) -> float | None:
        return percent_of(self.value, self.target)

    @property
    def bar_width(self) -> float:
        return min(100.0, self.percent_of_target or 0.0)

    @property
    def drills_down(self) -> bool:
        return self.indicator.code in ENTERPRISE_INDICATORS

    @property
    def is_money(self) -> bool:
        return self.indicator.unit == Unit.USD


@dataclass
class Board:
    snapshot: Snapshot | None
    headlines: list[Headline]
    snapshots: list[Snapshot]

    def headline(self, code: str) -> Headline | None:
        return next((h for h in self.headlines if h.indicator.code == code), None)


def snapshots() -> list[Snapshot]:
    return list(Snapshot.objects.order_by("-as_of"))


def board(*, as_of: date | None = None, po_id: int | None = None) -> Board:
    """Headline figures with their breakdowns for one snapshot and scope (programme or one PO)."""
    available = snapshots()
    snapshot = next((s for s in available if s.as_of == as_of), None) if as_of else None
    snapshot = snapshot or (available[0] if available else None)
    indicators = list(Indicator.objects.order_by("position"))
    year = (snapshot.as_of if snapshot else timezone.localdate()).year
    milestones = {m.indicator_id: m for m in Milestone.objects.filter(year=year)}
    values_by_indicator: dict[int, list[IndicatorValue]] = {}
    if snapshot:
        for value in IndicatorValue.objects.for_dashboard(as_of=snapshot.as_of, po_id=po_id).order_by(
            "-value"
        ):
            values_by_indicator.setdefault(value.indicator_id, []).append(value)
    commitments = _po_commitments(po_id) if po_id is not None else {}
    headlines = []
    for indicator in indicators:
        values = values_by_indicator.get(indicator.pk, [])
        total = next((v.value for v in values if v.dimension == Dimension.TOTAL), None)
        if snapshot and total is None:
            total = Decimal("0")  # a PO without any figure for this indicator
        breakdowns: dict[str, list[IndicatorValue]] = {}
        for value in values:
            if value.dimension != Dimension.TOTAL:
                breakdowns.setdefault(value.dimension, []).append(value)
        if po_id is None:
            headline = Headline(indicator, total, milestones.get(indicator.pk), breakdowns, indicator.target)
        else:
            headline = Headline(indicator, total, None, breakdowns, commitments.get(indicator.code), True)
        headlines.append(headline)
    return Board(snapshot, headlines, available)


def _po_commitments(po_id: int) -> dict[str, Decimal]:
    """What a PO's awarded sub-projects committed to, per indicator (one query)."""
    rows = (
        CommittedResult.objects.filter(
            proposal__partner_organization_id=po_id, proposal__sub_project__isnull=False
        )
        .values("indicator")
        .annotate(total=Sum("target"))
    )
    return {row["indicator"]: Decimal(row["total"]) for row in rows}


def trend(code: str, *, po_code: str | None = None) -> list[tuple[date, Decimal]]:
    """The indicator's total in every snapshot, oldest first."""
    return list(
        IndicatorValue.objects.trend(po_code=po_code)
        .filter(indicator__code=code)
        .order_by("as_of")
        .values_list("as_of", "value")
    )
