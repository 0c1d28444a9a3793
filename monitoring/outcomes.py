"""Environmental outcomes from the KPI readings, computed with each snapshot (monitoring.aggregation) and
read by the outcomes page and API. The rule is `RULE` below, stated once for both."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db import connection, transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from enterprises.models import Kpi, KpiDirection
from monitoring.facts import tune_for_aggregation
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
THREE_PLACES = Decimal("0.001")


# Each baseline reading (one per ME and KPI) with the latest reading of its ME and KPI up to the date,
# when that one is later: the pairs the rule compares. They are kept in OutcomePair (monitoring.facts,
# with the latest reading of all), which is the pair as of any date on or after that reading's month:
# always for a snapshot of today, since a month not yet begun takes no reading. For an earlier date
# (a backfill), a pair whose latest reading is later looks up the latest reading up to the date: one
# backward step along the (enterprise, kpi, period) unique index on PostgreSQL, the same lookup as
# correlated subqueries on SQLite (development, demo). A confirmed duplicate's readings are left out.
_KEPT_PAIRS = """
SELECT p.enterprise_id, p.kpi_id, p.baseline_value AS baseline, p.latest_value AS latest,
       e.partner_organization_id AS po, e.sub_sector_id AS sub_sector, e.district_id AS district
FROM monitoring_outcomepair p
JOIN enterprises_enterprise e ON e.id = p.enterprise_id AND e.duplicate_of_id IS NULL
WHERE p.baseline_period <= %(as_of)s AND p.latest_period <= %(as_of)s
"""
PAIRS_POSTGRESQL = (
    _KEPT_PAIRS  # noqa: S608 - constants
    + """UNION ALL
SELECT p.enterprise_id, p.kpi_id, p.baseline_value, l.value,
       e.partner_organization_id, e.sub_sector_id, e.district_id
FROM monitoring_outcomepair p
JOIN enterprises_enterprise e ON e.id = p.enterprise_id AND e.duplicate_of_id IS NULL
CROSS JOIN LATERAL (
    SELECT r.period, r.value FROM enterprises_kpireading r
    WHERE r.enterprise_id = p.enterprise_id AND r.kpi_id = p.kpi_id AND r.period <= %(as_of)s
    ORDER BY r.period DESC LIMIT 1
) l
WHERE p.baseline_period <= %(as_of)s AND p.latest_period > %(as_of)s AND l.period > p.baseline_period
"""
)
PAIRS_SQLITE = (
    _KEPT_PAIRS  # noqa: S608 - constants
    + """UNION ALL
SELECT enterprise_id, kpi_id, baseline, latest, po, sub_sector, district FROM (
    SELECT p.enterprise_id, p.kpi_id, p.baseline_value AS baseline, p.baseline_period,
           (SELECT r.value FROM enterprises_kpireading r
            WHERE r.enterprise_id = p.enterprise_id AND r.kpi_id = p.kpi_id AND r.period <= %(as_of)s
            ORDER BY r.period DESC LIMIT 1) AS latest,
           (SELECT MAX(r.period) FROM enterprises_kpireading r
            WHERE r.enterprise_id = p.enterprise_id AND r.kpi_id = p.kpi_id AND r.period <= %(as_of)s
           ) AS latest_period,
           e.partner_organization_id AS po, e.sub_sector_id AS sub_sector, e.district_id AS district
    FROM monitoring_outcomepair p
    JOIN enterprises_enterprise e ON e.id = p.enterprise_id AND e.duplicate_of_id IS NULL
    WHERE p.baseline_period <= %(as_of)s AND p.latest_period > %(as_of)s
) WHERE latest_period > baseline_period
"""
)
# Per KPI and finest group (kpi_id set), and for emissions avoided (kpi_id NULL: the KPIs with a
# documented emission factor, an ME counted once however many of them it tracks), in one statement
# over the pairs (PostgreSQL computes a CTE read twice once). An ME improved when its latest reading is
# better in the KPI's direction; for emissions, when it emits less on one of them.
GROUPS_SQL = """
WITH pairs AS ({pairs})
SELECT p.kpi_id, p.po, p.sub_sector, p.district,
       COUNT(DISTINCT p.enterprise_id),
       COUNT(DISTINCT CASE WHEN (k.direction = %(lower)s AND p.latest < p.baseline)
                             OR (k.direction = %(higher)s AND p.latest > p.baseline)
                          THEN p.enterprise_id END),
       SUM(p.baseline), SUM(p.latest)
FROM pairs p JOIN enterprises_kpi k ON k.id = p.kpi_id
GROUP BY p.kpi_id, p.po, p.sub_sector, p.district
UNION ALL
SELECT NULL, p.po, p.sub_sector, p.district,
       COUNT(DISTINCT p.enterprise_id),
       COUNT(DISTINCT CASE WHEN p.latest < p.baseline THEN p.enterprise_id END),
       SUM(p.baseline * k.co2e_kg_per_unit), SUM(p.latest * k.co2e_kg_per_unit)
FROM pairs p JOIN enterprises_kpi k ON k.id = p.kpi_id
WHERE k.co2e_kg_per_unit IS NOT NULL
GROUP BY p.po, p.sub_sector, p.district
"""


@dataclass
class _Sums:
    mes: int = 0
    improved: int = 0
    baseline: Decimal = Decimal(0)
    latest: Decimal = Decimal(0)


def _decimal(value) -> Decimal:
    """A sum as the database gives it: a Decimal on PostgreSQL, a float on SQLite (whose decimals
    are floating point), read back through its text as Django's own SQLite converter does."""
    if value is None:
        return Decimal(0)
    return value if isinstance(value, Decimal) else Decimal(repr(value))


def _groups(as_of: date) -> tuple[dict[int, list[tuple[dict, _Sums]]], list[tuple[dict, _Sums]]]:
    """One statement: per KPI and finest group, and for emissions avoided (kg CO2e per month), the
    MEs, the MEs improved, and the baseline and latest sums. Reads only."""
    pairs = PAIRS_POSTGRESQL if connection.vendor == "postgresql" else PAIRS_SQLITE
    params = {"as_of": as_of, "lower": KpiDirection.LOWER, "higher": KpiDirection.HIGHER}
    by_kpi: dict[int, list[tuple[dict, _Sums]]] = defaultdict(list)
    emissions: list[tuple[dict, _Sums]] = []
    with transaction.atomic(), connection.cursor() as cursor:
        tune_for_aggregation(cursor, memoize=False)  # every pair's lookup is another ME and KPI
        cursor.execute(GROUPS_SQL.format(pairs=pairs), params)
        for kpi_id, po, sub_sector, district, mes, improved, baseline, latest in cursor.fetchall():
            keys = {"po": po, "sub_sector": sub_sector, "district": district}
            sums = _Sums(mes, improved, _decimal(baseline), _decimal(latest))
            (emissions if kpi_id is None else by_kpi[kpi_id]).append((keys, sums))
    return by_kpi, emissions


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
    by_kpi, emissions = _groups(as_of)
    series: list[tuple[str, str, bool, bool, list[tuple[dict, _Sums]]]] = [
        (kpi.code, kpi.unit, kpi.adds_up, kpi.direction == KpiDirection.HIGHER, by_kpi[pk])
        for pk, kpi in sorted(kpis.items(), key=lambda item: (item[1].position, item[1].code))
        if by_kpi.get(pk)
    ]
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
