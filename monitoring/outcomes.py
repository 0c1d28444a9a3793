"""Environmental outcomes from the KPI readings, computed with each snapshot (monitoring.aggregation) and
read by the outcomes page and API. The rule is `RULE` below, stated once for both."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db.models import Count, DecimalField, ExpressionWrapper, F, OuterRef, Q, QuerySet, Subquery, Sum
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from enterprises.models import Kpi, KpiDirection, KpiReading
from monitoring.models import AggregationRun, Dimension, OutcomeValue

if TYPE_CHECKING:
    from monitoring.aggregation import Labels

RULE = [
    gettext_lazy(
        "For each ME and KPI with a baseline reading and at least one later reading (months up to the date), "
        "the baseline month is compared with the latest month. MEs without such a pair are left out, and "
        "so are the readings of a confirmed duplicate, so that nothing is counted twice."
    ),
    gettext_lazy(
        "Monthly quantities (electricity, water, waste, fuel) are summed over those MEs. The improvement is "
        "positive when better: a saving for a “lower is better” KPI, a gain (for example more waste "
        "recycled, i.e. diverted from disposal) for a “higher is better” one. “A year at this rate” is the "
        "monthly improvement times 12."
    ),
    gettext_lazy(
        "Concentrations (PM2.5 at the workplace, COD of wastewater) cannot be added up across MEs: only the "
        "number of MEs that improved is given."
    ),
    gettext_lazy(
        "Emissions avoided are the savings of the KPIs whose emission factor is documented in the KPI "
        "catalogue, times that factor, in kg CO₂e a month."
    ),
    gettext_lazy("Sums are by sector, business area, district and PO, for the programme and within each PO."),
]
EMISSIONS = "CO2E"
EMISSIONS_UNIT = "kg CO2e/month"
OUTCOME_DIMENSIONS = (
    Dimension.TOTAL,
    Dimension.BUSINESS_AREA,
    Dimension.SECTOR,
    Dimension.DISTRICT,
    Dimension.PARTNER_ORGANIZATION,
)
# The finest grain the breakdowns need, read from the reading's enterprise.
KEYS = {
    "po": "enterprise__partner_organization_id",
    "sub_sector": "enterprise__sub_sector_id",
    "district": "enterprise__district_id",
}
THREE_PLACES = Decimal("0.001")
AMOUNT = DecimalField(max_digits=24, decimal_places=6)


def tracked_pairs(as_of: date) -> QuerySet[KpiReading]:
    """Baseline readings (by the date) that have a later reading, annotated with the latest value."""
    later = KpiReading.objects.filter(
        enterprise=OuterRef("enterprise"), kpi=OuterRef("kpi"), period__lte=as_of
    ).order_by("-period")
    return (
        KpiReading.objects.filter(is_baseline=True, period__lte=as_of, enterprise__duplicate_of__isnull=True)
        .annotate(
            latest_period=Subquery(later.values("period")[:1]),
            latest=Subquery(later.values("value")[:1]),
        )
        .filter(latest_period__gt=F("period"))
    )


@dataclass
class _Sums:
    mes: int = 0
    improved: int = 0
    baseline: Decimal = Decimal(0)
    latest: Decimal = Decimal(0)


def _kpi_groups(as_of: date) -> list[tuple[int, dict, _Sums]]:
    """One grouped query: per KPI and finest group, MEs, MEs improved, baseline and latest sums."""
    lower = Q(kpi__direction=KpiDirection.LOWER, latest__lt=F("value"))
    higher = Q(kpi__direction=KpiDirection.HIGHER, latest__gt=F("value"))
    rows = (
        tracked_pairs(as_of)
        .values("kpi_id", *KEYS.values())
        .annotate(
            mes=Count("enterprise_id", distinct=True),
            improved=Count("enterprise_id", distinct=True, filter=lower | higher),
            baseline=Sum("value"),
            latest_sum=Sum("latest"),
        )
        .order_by()
    )
    return [
        (
            row["kpi_id"],
            {key: row[name] for key, name in KEYS.items()},
            _Sums(
                row["mes"], row["improved"], Decimal(row["baseline"] or 0), Decimal(row["latest_sum"] or 0)
            ),
        )
        for row in rows
    ]


def _emission_groups(as_of: date) -> list[tuple[dict, _Sums]]:
    """One grouped query over the KPIs with a documented emission factor, in kg CO2e per month."""
    factor = F("kpi__co2e_kg_per_unit")
    rows = (
        tracked_pairs(as_of)
        .filter(kpi__co2e_kg_per_unit__isnull=False)
        .values(*KEYS.values())
        .annotate(
            mes=Count("enterprise_id", distinct=True),
            improved=Count("enterprise_id", distinct=True, filter=Q(latest__lt=F("value"))),
            baseline=Sum(ExpressionWrapper(F("value") * factor, output_field=AMOUNT)),
            latest_sum=Sum(ExpressionWrapper(F("latest") * factor, output_field=AMOUNT)),
        )
        .order_by()
    )
    return [
        (
            {key: row[name] for key, name in KEYS.items()},
            _Sums(
                row["mes"], row["improved"], Decimal(row["baseline"] or 0), Decimal(row["latest_sum"] or 0)
            ),
        )
        for row in rows
    ]


def _rows(
    as_of: date,
    quantity: str,
    unit: str,
    groups: list[tuple[dict, _Sums]],
    *,
    adds_up: bool,
    higher_is_better: bool,
    labels: Labels,
    scope_po: int | None,
    run: AggregationRun | None,
) -> list[OutcomeValue]:
    rows = []
    dimensions = [d for d in OUTCOME_DIMENSIONS if scope_po is None or d != Dimension.PARTNER_ORGANIZATION]
    for dimension in dimensions:
        sums: dict[object, _Sums] = defaultdict(_Sums)
        for keys, group in groups:
            key = labels.key_of(dimension, keys)
            if key is None:
                continue
            total = sums[key]
            total.mes += group.mes
            total.improved += group.improved
            total.baseline += group.baseline
            total.latest += group.latest
        for key, total in sums.items():
            change = total.latest - total.baseline
            rows.append(
                OutcomeValue(
                    as_of=as_of,
                    quantity=quantity,
                    unit=unit,
                    scope_po_id=scope_po,
                    dimension=dimension,
                    key=str(key),
                    label=labels.label(dimension, key),
                    mes=total.mes,
                    mes_improved=total.improved,
                    baseline_total=total.baseline.quantize(THREE_PLACES) if adds_up else None,
                    latest_total=total.latest.quantize(THREE_PLACES) if adds_up else None,
                    improvement=(change if higher_is_better else -change).quantize(THREE_PLACES)
                    if adds_up
                    else None,
                    run=run,
                )
            )
    return rows


def compute(as_of: date, labels: Labels, run: AggregationRun | None = None) -> list[OutcomeValue]:
    """The outcome rows of the snapshot of `as_of`: per KPI and for emissions avoided, for the
    programme and within each PO. Reads only."""
    kpis = {kpi.pk: kpi for kpi in Kpi.objects.all()}
    by_kpi: dict[int, list[tuple[dict, _Sums]]] = defaultdict(list)
    for kpi_id, keys, sums in _kpi_groups(as_of):
        by_kpi[kpi_id].append((keys, sums))
    series: list[tuple[str, str, bool, bool, list[tuple[dict, _Sums]]]] = [
        (kpi.code, kpi.unit, kpi.adds_up, kpi.direction == KpiDirection.HIGHER, by_kpi[pk])
        for pk, kpi in sorted(kpis.items(), key=lambda item: (item[1].position, item[1].code))
        if by_kpi.get(pk)
    ]
    emissions = _emission_groups(as_of)
    if emissions:
        series.append((EMISSIONS, EMISSIONS_UNIT, True, False, emissions))
    rows: list[OutcomeValue] = []
    for quantity, unit, adds_up, higher, groups in series:
        common = {"adds_up": adds_up, "higher_is_better": higher, "labels": labels, "run": run}
        rows += _rows(as_of, quantity, unit, groups, scope_po=None, **common)
        by_po: dict[int, list[tuple[dict, _Sums]]] = defaultdict(list)
        for keys, sums in groups:
            by_po[keys["po"]].append((keys, sums))
        for po_id, po_groups in by_po.items():
            rows += _rows(as_of, quantity, unit, po_groups, scope_po=po_id, **common)
    return rows


@dataclass
class Section:
    """One quantity's stored outcome rows, with its KPI (None for emissions avoided)."""

    quantity: str
    unit: str
    kpi: Kpi | None
    rows: list[OutcomeValue]

    @property
    def name(self) -> str:
        return self.kpi.name if self.kpi else _("Emissions avoided")

    @property
    def adds_up(self) -> bool:
        return self.kpi is None or self.kpi.adds_up


def stored(snapshot, *, po_id: int | None, dimension: str) -> list[Section]:
    """The outcome rows of a snapshot for one scope and breakdown, by quantity in catalogue order.
    Two queries."""
    if snapshot is None:
        return []
    kpis = {kpi.code: kpi for kpi in Kpi.objects.all()}
    rows = OutcomeValue.objects.filter(as_of=snapshot.as_of, scope_po_id=po_id, dimension=dimension).order_by(
        "quantity", "-improvement", "label"
    )
    sections: dict[str, Section] = {}
    for row in rows:
        section = sections.setdefault(
            row.quantity, Section(row.quantity, row.unit, kpis.get(row.quantity), [])
        )
        section.rows.append(row)
    order = {code: (kpi.position, code) for code, kpi in kpis.items()}
    return sorted(sections.values(), key=lambda s: order.get(s.quantity, (10_000, s.quantity)))
