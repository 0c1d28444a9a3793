"""The snapshot's values rolled up in SQL: one SELECT computes every indicator, in total and by every
breakdown, for the programme and within each PO, and `replace_rows` stores them, rewriting only the
stored values that differ.

The four sources (monitoring.indicators.SOURCES) give grouped figures at the finest grain; each
indicator is one column of one source. The statement unpivots them into one row per indicator and
group, names each group by the natural keys the rest of the portal filters by (sector codes,
P-codes, PO codes...) and sums them into every breakdown at once: GROUPING SETS on PostgreSQL, the
same sets as a UNION ALL of GROUP BYs on SQLite. Shares are recomputed from the summed numerators and
denominators, never summed. Values are rounded to the 4 places they are stored with. On PostgreSQL the
live roll-up (monitoring.live) keeps the sums and, rerun for the same date, runs the same statement
over what changed only.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import NamedTuple

from django.db import connection
from django.utils.translation import gettext as _

from core.planner import local_settings
from enterprises.models import Gender
from monitoring.facts import tune_for_aggregation
from monitoring.indicators import DEFINITIONS, SOURCE_KEYS, SOURCES
from monitoring.models import Dimension, Indicator, IndicatorValue

# Each breakdown's column in the keyed rows (the total has none).
DIMENSION_COLUMNS = {
    Dimension.TOTAL: None,
    Dimension.BUSINESS_AREA: "area",
    Dimension.SECTOR: "sector",
    Dimension.SUB_SECTOR: "sub_sector",
    Dimension.DIVISION: "division",
    Dimension.DISTRICT: "district",
    Dimension.PARTNER_ORGANIZATION: "po_code",
    Dimension.GENDER: "gender",
    Dimension.CLIMATE: "climate",
}
KEYS = ("po", "sub_sector", "sector", "district", "gender", "climate")
NULL_KEY = {
    "po": "CAST(NULL AS INTEGER)",
    "sub_sector": "CAST(NULL AS INTEGER)",
    "sector": "CAST(NULL AS INTEGER)",
    "district": "CAST(NULL AS INTEGER)",
    "gender": "CAST(NULL AS VARCHAR(20))",
    "climate": "CAST(NULL AS BOOLEAN)",
}


def grouping_sets() -> list[tuple[bool, str]]:
    """(within a PO?, breakdown) for every set the snapshot stores: the programme by every breakdown,
    each PO by every breakdown but the PO one."""
    return [
        (within_po, dimension)
        for within_po in (False, True)
        for dimension in Dimension.values
        if not (within_po and dimension == Dimension.PARTNER_ORGANIZATION)
    ]


def _base(
    as_of: date,
    indicator_ids: dict[str, int],
    sources: dict[str, tuple[str, list]] | None = None,
    signed: frozenset[str] = frozenset(),
) -> tuple[str, list]:
    """The sources as CTEs (`sources` replaces some) and one row per indicator and finest group
    (`base`), with the group's natural keys and names joined (`keyed`). A group is in `base` when
    something counts in it; for a `signed` source (changes: units added and taken away), when any of
    its figures moved."""
    ctes, params = [], []
    for name, source in SOURCES.items():
        grouped = (sources or {}).get(name) or source(as_of)
        sql, source_params = grouped if isinstance(grouped, tuple) else grouped.query.sql_with_params()
        ctes.append(f"src_{name} AS ({sql})")
        params += source_params
    branches = []
    for definition in DEFINITIONS:
        keys = SOURCE_KEYS[definition.source]
        denominator = definition.denominator or "0"
        columns = [f"{indicator_ids[definition.code]} AS indicator_id"]
        columns += [f"k_{key} AS {key}" if key in keys else f"{NULL_KEY[key]} AS {key}" for key in KEYS]
        columns += [f"{definition.value} AS value", f"{denominator} AS denominator"]
        columns.append(f"{definition.present} AS present")
        if definition.source in signed:
            kept = f"({definition.present} <> 0 OR {definition.value} <> 0 OR {denominator} <> 0)"
        else:
            kept = f"{definition.present} > 0"
        branches.append(f"SELECT {', '.join(columns)} FROM src_{definition.source} WHERE {kept}")  # noqa: S608
    ctes.append("base AS (" + " UNION ALL ".join(branches) + ")")
    ctes.append(
        """keyed AS (
    SELECT b.indicator_id, b.po AS po_id, po.code AS po_code, area.code AS area, sec.code AS sector,
           ss.code AS sub_sector, division.pcode AS division, district.pcode AS district,
           b.gender AS gender,
           CASE WHEN b.climate THEN 'true' WHEN NOT b.climate THEN 'false' END AS climate,
           b.value AS value, b.denominator AS denominator, b.present AS present
    FROM base b
    LEFT JOIN core_subsector ss ON ss.id = b.sub_sector
    LEFT JOIN core_sector sec ON sec.id = COALESCE(b.sector, ss.sector_id)
    LEFT JOIN core_businessarea area ON area.id = sec.business_area_id
    LEFT JOIN core_district district ON district.id = b.district
    LEFT JOIN core_division division ON division.id = district.division_id
    LEFT JOIN core_partnerorganization po ON po.id = b.po
)"""
    )
    return "WITH " + ",\n".join(ctes), params


# A group is kept when something counts in it or, summing changes, when a figure moved.
MOVED = "(SUM(present) <> 0 OR SUM(value) <> 0 OR SUM(denominator) <> 0)"


def _rolled_postgresql() -> str:
    """Every set in one pass: GROUPING() tells which set a row belongs to."""
    columns = [column for column in DIMENSION_COLUMNS.values() if column]
    sets = []
    for within_po, dimension in grouping_sets():
        grouped = ["indicator_id", *(["po_id"] if within_po else [])]
        if column := DIMENSION_COLUMNS[dimension]:
            grouped.append(column)
        sets.append("(" + ", ".join(grouped) + ")")
    which = " ".join(
        f"WHEN GROUPING({column}) = 0 THEN '{dimension}'"
        for dimension, column in DIMENSION_COLUMNS.items()
        if column
    )
    key = " ".join(f"WHEN GROUPING({column}) = 0 THEN {column}" for column in columns)
    # A group whose key is unknown (no district, no sector...) is in no breakdown but the total.
    known = " AND ".join(
        f"NOT (GROUPING({column}) = 0 AND {column} IS NULL)" for column in ["po_id", *columns]
    )
    return f"""
    SELECT indicator_id, CASE WHEN GROUPING(po_id) = 0 THEN po_id END AS scope_po_id,
           CASE {which} ELSE '{Dimension.TOTAL}' END AS dimension,
           COALESCE(CASE {key} END, '') AS key,
           SUM(value) AS value, SUM(denominator) AS denominator, SUM(present) AS present
    FROM keyed GROUP BY GROUPING SETS ({", ".join(sets)}) HAVING {known} AND {MOVED}"""  # noqa: S608


def _rolled_union() -> str:
    """The same sets, one GROUP BY each (SQLite has no GROUPING SETS)."""
    selects = []
    for within_po, dimension in grouping_sets():
        column = DIMENSION_COLUMNS[dimension]
        grouped = ["indicator_id", *(["po_id"] if within_po else []), *([column] if column else [])]
        known = [f"{name} IS NOT NULL" for name in grouped[1:]]
        key = column or "''"
        scope = "po_id" if within_po else "NULL"
        where = f"WHERE {' AND '.join(known)} " if known else ""
        selects.append(
            f"SELECT indicator_id, {scope} AS scope_po_id, '{dimension}' AS dimension, "  # noqa: S608
            f"{key} AS key, SUM(value) AS value, SUM(denominator) AS denominator, "
            f"SUM(present) AS present FROM keyed {where}GROUP BY {', '.join(grouped)} HAVING {MOVED}"
        )
    return " UNION ALL ".join(selects)


def indicator_ids() -> dict[str, int]:
    """Each defined indicator's id (the statements name indicators by id)."""
    ids = dict(Indicator.objects.filter(code__in=[d.code for d in DEFINITIONS]).values_list("code", "id"))
    missing = [d.code for d in DEFINITIONS if d.code not in ids]
    if missing:
        raise Indicator.DoesNotExist(f"indicators missing: {', '.join(missing)}")
    return ids


# The rolled rows' columns: the sums of one group of one indicator, not rounded and not named.
ROLLED_COLUMNS = ("indicator_id", "scope_po_id", "dimension", "key", "value", "denominator", "present")


def rolled_select(
    as_of: date,
    ids: dict[str, int],
    sources: dict[str, tuple[str, list]] | None = None,
    signed: frozenset[str] = frozenset(),
) -> tuple[str, list]:
    """Every indicator summed into each breakdown it is given by (ROLLED_COLUMNS; the programme's
    scope is NULL), from the sources (`sources` and `signed`: see `_base`)."""
    base, params = _base(as_of, ids, sources, signed)
    rolled = _rolled_postgresql() if connection.vendor == "postgresql" else _rolled_union()
    allowed = " UNION ALL ".join(
        f"SELECT {ids[d.code]} AS indicator_id, '{dimension}' AS dimension"
        for d in DEFINITIONS
        for dimension in Dimension.values
        if dimension in d.dimensions
    )
    sql = f"""{base},
rolled AS ({rolled}),
allowed AS ({allowed})
SELECT r.indicator_id, r.scope_po_id, r.dimension, r.key, r.value, r.denominator, r.present
FROM rolled r JOIN allowed a ON a.indicator_id = r.indicator_id AND a.dimension = r.dimension"""  # noqa: S608
    return sql, params


def values_select(rolled: str, rolled_params: list, as_of: date, run_id: int | None, ids: dict[str, int]):
    """The stored values (COLUMNS) of the rolled rows `rolled` selects: named, rounded to the 4 places
    they are stored with, shares computed from their summed numerators and denominators."""
    shares = ", ".join(str(ids[d.code]) for d in DEFINITIONS if d.is_share) or "NULL"
    gender_names = " ".join("WHEN %s THEN %s" for _value in Gender.choices)
    gender_params = [item for value, label in Gender.choices for item in (value, str(label))]
    sql = f"""WITH rolled AS ({rolled})
SELECT %s AS as_of, r.indicator_id, r.scope_po_id, r.dimension, r.key,
    CASE r.dimension
        WHEN 'total' THEN ''
        WHEN 'business_area' THEN COALESCE(area.name, r.key)
        WHEN 'sector' THEN COALESCE(sec.name, r.key)
        WHEN 'sub_sector' THEN COALESCE(ss.name, r.key)
        WHEN 'division' THEN COALESCE(division.name, r.key)
        WHEN 'district' THEN COALESCE(district.name, r.key)
        WHEN 'po' THEN r.key || ' · ' || COALESCE(NULLIF(po.short_name, ''), po.name, '')
        WHEN 'gender' THEN CASE r.key {gender_names} ELSE r.key END
        WHEN 'climate' THEN CASE r.key WHEN 'true' THEN %s ELSE %s END
        ELSE r.key
    END AS label,
    CASE WHEN r.indicator_id IN ({shares})
         THEN CASE WHEN r.denominator <> 0
                   THEN ROUND(CAST(r.value AS NUMERIC) * 100.0 / r.denominator, 4) ELSE 0 END
         ELSE ROUND(CAST(r.value AS NUMERIC), 4) END AS value,
    CASE WHEN r.indicator_id IN ({shares}) THEN r.value END AS numerator,
    CASE WHEN r.indicator_id IN ({shares}) THEN r.denominator END AS denominator,
    CAST(%s AS BIGINT) AS run_id
FROM rolled r
LEFT JOIN core_businessarea area ON r.dimension = 'business_area' AND area.code = r.key
LEFT JOIN core_sector sec ON r.dimension = 'sector' AND sec.code = r.key
LEFT JOIN core_subsector ss ON r.dimension = 'sub_sector' AND ss.code = r.key
LEFT JOIN core_division division ON r.dimension = 'division' AND division.pcode = r.key
LEFT JOIN core_district district ON r.dimension = 'district' AND district.pcode = r.key
LEFT JOIN core_partnerorganization po ON r.dimension = 'po' AND po.code = r.key"""  # noqa: S608
    params = [
        *rolled_params,
        as_of,
        *gender_params,
        _("climate-vulnerable areas"),
        _("other areas"),
        run_id,
    ]
    return sql, params


def select_values(as_of: date, run_id: int | None) -> tuple[str, list]:
    """The SELECT of every value of the snapshot, in IndicatorValue's columns."""
    ids = indicator_ids()
    return values_select(*rolled_select(as_of, ids), as_of, run_id, ids)


COLUMNS = (
    "as_of",
    "indicator_id",
    "scope_po_id",
    "dimension",
    "key",
    "label",
    "value",
    "numerator",
    "denominator",
    "run_id",
)
# What names a stored value's group (with the date): one row per group and date.
GROUP_COLUMNS = ("indicator_id", "scope_po_id", "dimension", "key")
# Columns of the snapshot tables that are never NULL.
NEVER_NULL = frozenset(
    {"indicator_id", "quantity", "unit", "dimension", "key", "label", "mes", "mes_improved"}
)


class Replaced(NamedTuple):
    """What `replace_rows` did: the rows the select gave, the stored ones deleted, inserted and
    updated in place."""

    given: int
    deleted: int
    inserted: int
    updated: int = 0


def replace_rows(
    cursor,
    table: str,
    columns: Sequence[str],
    keys: Sequence[str],
    select: str,
    params,
    as_of: date,
    restrict: str = "",
) -> Replaced:
    """Make `table`'s rows of the date those of `select` (in `columns`: the date first, the run last;
    `keys` name a row's group among them): the new rows go to a scratch table, then a stored row
    whose group is still there but whose figures (every other column but the run) differ is updated
    in place, a stored row whose group is gone is deleted and a new group's row is inserted. The run
    stays as the write that last changed the row left it. A rerun after 1 % of the MEs changed
    rewrites a fifth of a snapshot's figures, not all of it, and in place: the table's indexes are
    on what names a group, which an update leaves as it was, so PostgreSQL writes no index entry
    for it (a deleted and inserted row cost one in each of the table's four indexes).
    `restrict` (a condition on a stored row `o`) limits the stored rows that may go to those the new
    rows replace."""
    compared = columns[1:-1]
    run = columns[-1]
    scratch = f"scratch_{table}"
    names = ", ".join(columns)
    cursor.execute(
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {scratch} AS SELECT {names} FROM {table} WHERE 1 = 0"  # noqa: S608
    )
    cursor.execute(f"DELETE FROM {scratch}")  # noqa: S608
    cursor.execute(f"INSERT INTO {scratch} ({names}) {select}", params)
    count = cursor.rowcount
    # The scratch table is not analysed: the comparisons below are hashed whatever its statistics say
    # (ANALYZE took a tenth of an incremental run).
    same = " IS NOT DISTINCT FROM " if connection.vendor == "postgresql" else " IS "

    def equal(column: str) -> str:
        # Plain equality (the scope: 0 for the programme, no PO has that id) lets PostgreSQL hash the
        # comparison; the figures, NULL for some rows, are compared on the pairs the hash found.
        if column in NEVER_NULL:
            return f"n.{column} = o.{column}"
        if column == "scope_po_id":
            return f"COALESCE(n.{column}, 0) = COALESCE(o.{column}, 0)"
        return f"n.{column}{same}o.{column}"

    group = " AND ".join(equal(column) for column in keys)
    figures = [column for column in compared if column not in keys]
    unchanged = " AND ".join(equal(column) for column in figures)

    def assignments(alias: str) -> str:  # the figures and the run, from the new row
        return ", ".join(f"{column} = {alias}.{column}" for column in (*figures, run))

    if connection.vendor == "postgresql":
        # The stored rows of the date and the new ones paired by group once (a hashed full join: it
        # has no nested loop, and sorting the groups' text keys for a merge cost more than the rest),
        # then one statement updates, deletes and inserts from the pairs, the rows found by id. A
        # column of the group never NULL is NULL in a pair when no new row has the stored row's group.
        paired = f"n.{next(column for column in keys if column in NEVER_NULL)} IS NOT NULL"
        gone = f"NOT {paired}" + (f" AND {restrict}" if restrict else "")
        with local_settings(cursor, enable_mergejoin="off"):
            cursor.execute(
                f"""WITH pairs AS MATERIALIZED (
    SELECT o.id AS stored_id, n.*, (o.id IS NOT NULL AND {paired} AND NOT ({unchanged})) AS moved,
           ({gone}) AS gone
    FROM (SELECT * FROM {table} WHERE as_of = %s) o FULL JOIN {scratch} n ON {group}
),
updated AS (
    UPDATE {table} t SET {assignments("p")} FROM pairs p WHERE p.moved AND t.id = p.stored_id RETURNING 1
),
deleted AS (DELETE FROM {table} t USING pairs p WHERE p.gone AND t.id = p.stored_id RETURNING 1),
inserted AS (
    INSERT INTO {table} ({names}) SELECT {names} FROM pairs p WHERE p.stored_id IS NULL RETURNING 1
)
SELECT (SELECT COUNT(*) FROM updated), (SELECT COUNT(*) FROM deleted), (SELECT COUNT(*) FROM inserted)""",  # noqa: S608
                [as_of],
            )
            updated, deleted, inserted = cursor.fetchone()
        return Replaced(count, deleted, inserted, updated)
    # SQLite (development and tests): the same, one statement each.
    cursor.execute(
        f"UPDATE {table} AS o SET {assignments('n')} FROM {scratch} n "  # noqa: S608
        f"WHERE o.as_of = %s AND {group} AND NOT ({unchanged})",
        [as_of],
    )
    updated = cursor.rowcount
    cursor.execute(
        f"DELETE FROM {table} WHERE id IN (SELECT o.id FROM {table} o WHERE o.as_of = %s "  # noqa: S608
        f"{'AND ' + restrict if restrict else ''} "
        f"AND NOT EXISTS (SELECT 1 FROM {scratch} n WHERE {group}))",
        [as_of],
    )
    deleted = cursor.rowcount
    cursor.execute(
        f"INSERT INTO {table} ({names}) SELECT {names} FROM {scratch} n "  # noqa: S608
        f"WHERE NOT EXISTS (SELECT 1 FROM {table} o WHERE o.as_of = %s AND {group})",
        [as_of],
    )
    inserted = cursor.rowcount
    return Replaced(count, deleted, inserted, updated)


def write(as_of: date, run_id: int | None) -> int:
    """Make the date's stored values the snapshot's (`replace_rows`, in the caller's transaction);
    every indicator has a programme total, zero when nothing counts yet. Returns the values the date
    has. On PostgreSQL the live roll-up (monitoring.live) does it, from what changed since its last
    run where it can."""
    if connection.vendor == "postgresql":
        from monitoring import live

        return live.write(as_of, run_id)
    with connection.cursor() as cursor:
        return store(cursor, *select_values(as_of, run_id), as_of, run_id).given


def store(cursor, sql: str, params: list, as_of: date, run_id: int | None, touched: str = "") -> Replaced:
    """Store the values `sql` selects, and the zero totals of the indicators nothing counts for. With
    `touched` (a table of indicator_id, scope_po_id, 0 for the programme, dimension and key), only
    the stored values of those groups may change."""
    shares = [d.code for d in DEFINITIONS if d.is_share]
    share_list = ", ".join(["%s"] * len(shares)) or "NULL"
    restrict, zero_restrict = "", ""
    if touched:
        restrict = (
            "(o.indicator_id, COALESCE(o.scope_po_id, 0), o.dimension, o.key) IN "  # noqa: S608
            f"(SELECT indicator_id, scope_po_id, dimension, key FROM {touched})"
        )
        zero_restrict = (
            f"AND i.id IN (SELECT indicator_id FROM {touched} "  # noqa: S608
            f"WHERE scope_po_id = 0 AND dimension = '{Dimension.TOTAL}')"
        )
    # The snapshot's values, then the totals of the indicators nothing counts for yet.
    select = f"""WITH snapshot AS ({sql})
SELECT * FROM snapshot
UNION ALL
SELECT %s, i.id, NULL, %s, '', '', 0, CASE WHEN i.code IN ({share_list}) THEN 0 END,
       CASE WHEN i.code IN ({share_list}) THEN 0 END, %s
FROM {Indicator._meta.db_table} i
WHERE i.code IN ({", ".join(["%s"] * len(DEFINITIONS))}) {zero_restrict} AND NOT EXISTS (
    SELECT 1 FROM snapshot v WHERE v.indicator_id = i.id AND v.scope_po_id IS NULL AND v.dimension = %s)"""  # noqa: S608
    params = [
        *params,
        as_of,
        Dimension.TOTAL,
        *shares,
        *shares,
        run_id,
        *[d.code for d in DEFINITIONS],
        Dimension.TOTAL,
    ]
    tune_for_aggregation(cursor)
    table = IndicatorValue._meta.db_table
    return replace_rows(cursor, table, COLUMNS, GROUP_COLUMNS, select, params, as_of, restrict)
