"""Environmental outcomes from the KPI readings, computed with each snapshot (monitoring.aggregation) and
read by the outcomes page and API. The rule is `RULE` below, stated once for both."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db import connection
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from enterprises.models import Kpi, KpiDirection
from monitoring.facts import tune_for_aggregation
from monitoring.models import Dimension, OutcomeValue
from monitoring.rollup import Replaced, replace_rows

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
WHERE p.baseline_period <= %(as_of)s AND p.latest_period <= %(as_of)s {scope}
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
WHERE p.baseline_period <= %(as_of)s AND p.latest_period > %(as_of)s AND l.period > p.baseline_period {scope}
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
    WHERE p.baseline_period <= %(as_of)s AND p.latest_period > %(as_of)s {scope}
) WHERE latest_period > baseline_period
"""
)
# Per quantity and finest group (PO, sub-sector, district), in one statement over the signed pairs
# (`sign`: 1 for a pair counted, -1 for one the live roll-up takes away, monitoring.live): each KPI,
# and emissions avoided (the KPIs with a documented emission factor, an ME counted once however many of
# them it tracks). An ME improved when its latest reading is better in the KPI's direction; for
# emissions, when it emits less on one of them. An ME is in one finest group only, so the groups' MEs
# add up into every coarser group.
FINEST_SQL = """
SELECT k.code AS quantity, k.unit AS unit, k.adds_up AS adds_up,
       CASE WHEN k.direction = %(higher)s THEN 1 ELSE 0 END AS higher,
       g.po, g.sub_sector, g.district, g.mes, g.improved, g.baseline, g.latest
FROM (
    -- One pair per ME and KPI: summing signs counts MEs (and lets the groups be hashed, not sorted).
    SELECT p.kpi_id, p.po, p.sub_sector, p.district, SUM(p.sign) AS mes,
           SUM(CASE WHEN (k.direction = %(lower)s AND p.latest < p.baseline)
                      OR (k.direction = %(higher)s AND p.latest > p.baseline)
                    THEN p.sign ELSE 0 END) AS improved,
           SUM(p.sign * p.baseline) AS baseline, SUM(p.sign * p.latest) AS latest
    FROM pairs p JOIN enterprises_kpi k ON k.id = p.kpi_id
    GROUP BY p.kpi_id, p.po, p.sub_sector, p.district
) g JOIN enterprises_kpi k ON k.id = g.kpi_id
UNION ALL
SELECT %(emissions)s, %(emissions_unit)s, TRUE, 0, e.po, e.sub_sector, e.district,
       SUM(e.sign), SUM(e.sign * e.improved), SUM(e.sign * e.baseline), SUM(e.sign * e.latest)
FROM (
    -- Each ME's emissions, once however many such KPIs it tracks.
    SELECT p.sign, p.enterprise_id, p.po, p.sub_sector, p.district,
           MAX(CASE WHEN p.latest < p.baseline THEN 1 ELSE 0 END) AS improved,
           SUM(p.baseline * k.co2e_kg_per_unit) AS baseline, SUM(p.latest * k.co2e_kg_per_unit) AS latest
    FROM pairs p JOIN enterprises_kpi k ON k.id = p.kpi_id
    WHERE k.co2e_kg_per_unit IS NOT NULL
    GROUP BY p.sign, p.enterprise_id, p.po, p.sub_sector, p.district
) e
GROUP BY e.po, e.sub_sector, e.district
"""
# Each finest group with the natural keys of the groups it rolls up into.
KEYED_SQL = """
SELECT f.*, po.code AS po_code, area.code AS area_code, sec.code AS sector_code,
       district.pcode AS district_code
FROM finest f
LEFT JOIN core_subsector ss ON ss.id = f.sub_sector
LEFT JOIN core_sector sec ON sec.id = ss.sector_id
LEFT JOIN core_businessarea area ON area.id = sec.business_area_id
LEFT JOIN core_district district ON district.id = f.district
LEFT JOIN core_partnerorganization po ON po.id = f.po
"""
# The outcomes' breakdowns -> the keyed column naming their groups (the total has none).
KEY_COLUMNS = {
    Dimension.TOTAL: None,
    Dimension.BUSINESS_AREA: "area_code",
    Dimension.SECTOR: "sector_code",
    Dimension.DISTRICT: "district_code",
    Dimension.PARTNER_ORGANIZATION: "po_code",
}
OUTCOME_DIMENSIONS = tuple(KEY_COLUMNS)


def _half_even(value: str) -> str:
    """`value` rounded to 3 places as Decimal.quantize rounds (half to even), not as ROUND does (half
    away from zero); exact on PostgreSQL's numeric (SQLite's sums are floating point)."""
    scaled = f"(({value}) * 1000)"
    return (
        f"(CASE WHEN {scaled} - FLOOR({scaled}) = 0.5 "
        f"THEN (FLOOR({scaled}) + ABS(MOD(FLOOR({scaled}), 2))) / 1000 "
        f"ELSE ROUND({value}, 3) END)"
    )


# A group is kept when an ME counts in it or, summing changes, when a figure moved.
MOVED = "(SUM(mes) <> 0 OR SUM(improved) <> 0 OR SUM(baseline) <> 0 OR SUM(latest) <> 0)"


def _rolled() -> str:
    """Every breakdown of the programme and of each PO, one GROUP BY each (a few thousand finest
    groups: no need for GROUPING SETS)."""
    selects = []
    for within_po in (False, True):
        for dimension, column in KEY_COLUMNS.items():
            if within_po and dimension == Dimension.PARTNER_ORGANIZATION:
                continue
            keys = [*(["po"] if within_po else []), *([column] if column else [])]
            scope = "po" if within_po else "CAST(NULL AS BIGINT)"
            where = f"WHERE {' AND '.join(f'{key} IS NOT NULL' for key in keys)} " if keys else ""
            selects.append(
                f"SELECT quantity, unit, adds_up, higher, {scope} AS scope_po_id, "  # noqa: S608
                f"'{dimension}' AS dimension, {column or chr(39) * 2} AS key, SUM(mes) AS mes, "
                f"SUM(improved) AS improved, "
                f"SUM(baseline) AS baseline, SUM(latest) AS latest FROM keyed {where}"
                f"GROUP BY {', '.join(['quantity', 'unit', 'adds_up', 'higher', *keys])} HAVING {MOVED}"
            )
    return " UNION ALL ".join(selects)


# What names a stored outcome row's group (with the date): one row per group and date.
GROUP_COLUMNS = ("quantity", "unit", "scope_po_id", "dimension", "key")
COLUMNS = (
    "as_of",
    "quantity",
    "unit",
    "scope_po_id",
    "dimension",
    "key",
    "label",
    "mes",
    "mes_improved",
    "baseline_total",
    "latest_total",
    "improvement",
    "run_id",
)


def pairs_select(scope: str = "") -> str:
    """The pairs as of the date (`%(as_of)s`), of every ME or of those `scope` selects (a condition on
    a pair `p`), each counted once (sign 1)."""
    pairs = PAIRS_POSTGRESQL if connection.vendor == "postgresql" else PAIRS_SQLITE
    return f"SELECT 1 AS sign, x.* FROM ({pairs.format(scope=scope)}) x"  # noqa: S608 - constants


# The rolled rows' columns: a group's sums, not rounded and not named.
ROLLED_COLUMNS = (
    "quantity",
    "unit",
    "adds_up",
    "higher",
    "scope_po_id",
    "dimension",
    "key",
    "mes",
    "improved",
    "baseline",
    "latest",
)


def rolled_select(pairs: str) -> str:
    """Every quantity summed into each breakdown (ROLLED_COLUMNS; the programme's scope is NULL), from
    the signed pairs `pairs` selects."""
    return f"""WITH pairs AS ({pairs}),
finest AS ({FINEST_SQL}),
keyed AS ({KEYED_SQL}),
rolled AS ({_rolled()})
SELECT {", ".join(ROLLED_COLUMNS)} FROM rolled"""  # noqa: S608


def values_select(rolled: str) -> str:
    """The stored rows (COLUMNS) of the rolled rows `rolled` selects: named, rounded."""
    change = "CASE WHEN r.higher = 1 THEN r.latest - r.baseline ELSE r.baseline - r.latest END"
    return f"""WITH rolled AS ({rolled})
SELECT %(as_of)s, r.quantity, r.unit, r.scope_po_id, r.dimension, r.key,
    CASE r.dimension
        WHEN 'business_area' THEN COALESCE(area.name, r.key)
        WHEN 'sector' THEN COALESCE(sec.name, r.key)
        WHEN 'district' THEN COALESCE(district.name, r.key)
        WHEN 'po' THEN r.key || ' · ' || COALESCE(NULLIF(po.short_name, ''), po.name, '')
        ELSE ''
    END,
    r.mes, r.improved,
    CASE WHEN r.adds_up THEN {_half_even("r.baseline")} END,
    CASE WHEN r.adds_up THEN {_half_even("r.latest")} END,
    CASE WHEN r.adds_up THEN {_half_even(change)} END,
    %(run)s
FROM rolled r
LEFT JOIN core_businessarea area ON r.dimension = 'business_area' AND area.code = r.key
LEFT JOIN core_sector sec ON r.dimension = 'sector' AND sec.code = r.key
LEFT JOIN core_district district ON r.dimension = 'district' AND district.pcode = r.key
LEFT JOIN core_partnerorganization po ON r.dimension = 'po' AND po.code = r.key"""  # noqa: S608


def params(as_of: date, run_id: int | None) -> dict:
    return {
        "as_of": as_of,
        "run": run_id,
        "lower": KpiDirection.LOWER,
        "higher": KpiDirection.HIGHER,
        "emissions": EMISSIONS,
        "emissions_unit": EMISSIONS_UNIT,
    }


def write(as_of: date, run_id: int | None) -> int:
    """Make the date's stored outcome rows the snapshot's (monitoring.rollup.replace_rows, in the
    caller's transaction): per KPI and for emissions avoided, for the programme and within each PO, in
    one statement. Returns the rows the date has. On PostgreSQL the live roll-up (monitoring.live)
    does it, from what changed since its last run where it can."""
    if connection.vendor == "postgresql":
        from monitoring import live

        return live.write_outcomes(as_of, run_id)
    with connection.cursor() as cursor:
        return store(cursor, values_select(rolled_select(pairs_select())), params(as_of, run_id), as_of).given


def store(cursor, sql: str, sql_params: dict, as_of: date, restrict: str = "") -> Replaced:
    """Store the outcome rows `sql` selects (only the stored rows `restrict` names may change)."""
    tune_for_aggregation(cursor, memoize=False)  # every pair's lookup is another ME and KPI
    table = OutcomeValue._meta.db_table
    return replace_rows(cursor, table, COLUMNS, GROUP_COLUMNS, sql, sql_params, as_of, restrict)


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
