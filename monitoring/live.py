"""The live roll-up (PostgreSQL): a rerun of a snapshot costs what changed since the last run, not
what the programme holds.

A snapshot sums units into every group of every breakdown: the indicators (monitoring.rollup) a
counted ME or a disbursement, the environmental outcomes (monitoring.outcomes) an ME's pair of
readings of a KPI. Here the last run's sums are kept, not rounded (`monitoring_live_rolled`,
`monitoring_live_outcome_rolled`), with a copy of each unit as it was counted (`monitoring_live_me`,
`monitoring_live_financing`, `monitoring_live_pairs`). A run of the same date then re-reads only the
MEs that the catch-up of the facts found changed (`monitoring_live_pending`, filled by
monitoring.facts from the same change marks): the same statement as a full roll-up, over their
copies with sign -1 and their current units with sign 1, gives what the changes add to every group
and take from it. Those sums are added to the kept ones, and only the stored rows of the groups that
moved are rewritten. The indicators read from few records (sub-projects, facilities) are summed
again in full at every run, and their groups replaced.

A run rolls everything up again, and keeps it, when the kept sums cannot be trusted: another date
(the indicators' copies serve again, the changed MEs' brought up to date; a pair depends on the date,
so the pairs are copied again); a change of what keys or names a group (sectors, districts, POs,
KPIs), of the exchange rates, of the programme start or of the statements themselves
(`_fingerprint`); a snapshot's rows written by anything else (a trigger of migration 0014 then
forgets the kept sums); or so many MEs changed that a full roll-up costs less. Sums that contradict
themselves (a group with nothing counted that still has a figure) also start it, from fresh copies,
so a run never stores figures it cannot stand behind. The tables are created by migration
0014_live_rollup, on PostgreSQL only, and are UNLOGGED (migration 0017): a cache of the facts and
records, emptied with the live state by crash recovery, after which a run rolls everything up.
The tests check runs against full recounts after random edits, and both against the independent SQL.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from django.db import connection

from core.planner import index_lookups
from enterprises.models import programme_start
from finance.models import ExchangeRate
from monitoring import outcomes, rollup
from monitoring.facts import tune_for_aggregation
from monitoring.indicators import (
    DEFINITIONS,
    FINANCING_UNIT_COLUMNS,
    ME_UNIT_COLUMNS,
    counted_units,
    financing_source,
    financing_units_sql,
    me_source,
    me_units_sql,
)
from monitoring.rollup import Replaced

log = logging.getLogger(__name__)

STATE = "monitoring_live_state"
PENDING = "monitoring_live_pending"
LIVE_ME = "monitoring_live_me"
LIVE_FINANCING = "monitoring_live_financing"
LIVE_PAIRS = "monitoring_live_pairs"
PAIR_COLUMNS = ("enterprise_id", "kpi_id", "baseline", "latest", "po", "sub_sector", "district")
# The indicator sources kept as units; the others are summed again at every run.
SIGNED = frozenset({"me", "financing"})
# Above this share of the counted MEs changed, rolling everything up costs less than the changes.
REBUILD_SHARE = 0.2
CHANGED = "live_changed"
# The setting of a transaction writing a snapshot's rows as the live roll-up.
WRITING = "monitoring.live_writing"


@dataclass(frozen=True)
class Kind:
    """One kind of snapshot rows kept live: where its sums are kept and what a group is."""

    name: str
    rolled: str
    columns: tuple[str, ...]  # the roll-up's rows (the programme's scope NULL there, 0 here)
    keys: tuple[str, ...]
    sums: tuple[str, ...]
    presence: str  # the sum counting what is in a group: a group with none is not kept

    def listed(self, scope: str = "scope_po_id") -> str:
        """The columns, the scope as `scope` writes it."""
        return ", ".join(scope if column == "scope_po_id" else column for column in self.columns)

    @property
    def delta(self) -> str:
        return f"live_delta_{self.name}"

    @property
    def touched(self) -> str:
        return f"live_touched_{self.name}"


VALUES = Kind(
    "values",
    "monitoring_live_rolled",
    rollup.ROLLED_COLUMNS,
    ("indicator_id", "scope_po_id", "dimension", "key"),
    ("value", "denominator", "present"),
    "present",
)
OUTCOMES = Kind(
    "outcomes",
    "monitoring_live_outcome_rolled",
    outcomes.ROLLED_COLUMNS,
    ("quantity", "scope_po_id", "dimension", "key"),
    ("mes", "improved", "baseline", "latest"),
    "mes",
)
KINDS = (VALUES, OUTCOMES)
# Every table of the live roll-up.
TABLES = (STATE, PENDING, LIVE_ME, LIVE_FINANCING, LIVE_PAIRS, VALUES.rolled, OUTCOMES.rolled)

# What names and keys the groups (sectors, districts, POs, KPIs) and the exchange rates, as a digest.
_REFERENCE_SQL = f"""SELECT md5(concat_ws('|',
    (SELECT string_agg(concat_ws(',', id, sector_id, code, name), ';' ORDER BY id) FROM core_subsector),
    (SELECT string_agg(concat_ws(',', id, business_area_id, code, name), ';' ORDER BY id) FROM core_sector),
    (SELECT string_agg(concat_ws(',', id, code, name), ';' ORDER BY id) FROM core_businessarea),
    (SELECT string_agg(concat_ws(',', id, division_id, pcode, name), ';' ORDER BY id) FROM core_district),
    (SELECT string_agg(concat_ws(',', id, pcode, name), ';' ORDER BY id) FROM core_division),
    (SELECT string_agg(concat_ws(',', id, code, short_name, name), ';' ORDER BY id)
     FROM core_partnerorganization),
    (SELECT string_agg(concat_ws(',', id, code, unit, adds_up, direction, co2e_kg_per_unit), ';' ORDER BY id)
     FROM enterprises_kpi),
    (SELECT string_agg(concat_ws(',', valid_from, bdt_per_usd), ';' ORDER BY valid_from, id)
     FROM {ExchangeRate._meta.db_table})
))"""  # noqa: S608 - names


# --- Entry points ----------------------------------------------------------------------------------


def write(as_of: date, run_id: int | None) -> int:
    """Make the date's stored indicator values the snapshot's (in the caller's transaction), from the
    changes where the kept sums allow it. Returns the values the date has."""
    ids = rollup.indicator_ids()
    rolled, _params = rollup.rolled_select(as_of, ids)
    values, params = rollup.values_select("SELECT 1", [], as_of, None, ids)
    statements = [rolled, values, *[str(p) for p in params if isinstance(p, str)]]
    return _run(
        VALUES,
        as_of,
        statements,
        lambda cursor: _apply_values(cursor, as_of, run_id, ids),
        lambda cursor, copies_good: _rebuild_values(cursor, as_of, run_id, ids, copies_good),
    )


def write_outcomes(as_of: date, run_id: int | None) -> int:
    """The same for the environmental outcomes. Returns the rows the date has."""
    statements = [
        outcomes.pairs_select(),
        outcomes.rolled_select("SELECT 1"),
        outcomes.values_select("SELECT 1"),
        *[str(value) for value in outcomes.params(as_of, None).values() if isinstance(value, str)],
    ]
    return _run(
        OUTCOMES,
        as_of,
        statements,
        lambda cursor: _apply_outcomes(cursor, as_of, run_id),
        lambda cursor, _copies_good: _rebuild_outcomes(cursor, as_of, run_id),
    )


def forget() -> None:
    """Make the next runs roll everything up (the facts were recounted from scratch)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {STATE}")  # noqa: S608


def mark_changed(cursor, changed_mes: str) -> None:
    """Remember the MEs `changed_mes` selects (ids) for the next run of each kind (monitoring.facts
    calls it with the MEs whose facts it recomputed)."""
    if connection.vendor == "postgresql":
        kinds = " UNION ALL ".join(f"SELECT '{kind.name}' AS kind" for kind in KINDS)
        cursor.execute(
            f"INSERT INTO {PENDING} (kind, enterprise_id) SELECT k.kind, c.id "  # noqa: S608
            f"FROM ({kinds}) k CROSS JOIN ({changed_mes}) c (id) ON CONFLICT DO NOTHING"
        )


# --- Shared steps ----------------------------------------------------------------------------------


def _run(
    kind: Kind,
    as_of: date,
    statements: list[str],
    apply: Callable[[object], Replaced | None],
    rebuild: Callable[[object, bool], Replaced],
) -> int:
    with connection.cursor() as cursor:
        tune_for_aggregation(cursor, memoize=kind is VALUES)
        fingerprint = _fingerprint(cursor, statements)
        state = _state(cursor, kind, fingerprint)
        # The snapshot's rows written from here on are the live roll-up's own (migration 0014's
        # trigger forgets the kept sums when anything else writes them).
        cursor.execute(f"SELECT set_config('{WRITING}', 'on', true)")
        replaced = apply(cursor) if state is not None and state[0] == as_of else None
        if replaced is not None:
            stored = state[1] + replaced.inserted - replaced.deleted
        else:
            # The date's rows are now exactly those rolled up. The copies are still good for another
            # date (the changed MEs' brought up to date), not when the sums contradicted themselves.
            stored = rebuild(cursor, state is not None and state[0] != as_of).given
        cursor.execute(f"DELETE FROM {STATE} WHERE kind = %s", [kind.name])  # noqa: S608
        cursor.execute(
            f"INSERT INTO {STATE} (kind, as_of, fingerprint, stored_rows) VALUES (%s, %s, %s, %s)",  # noqa: S608
            [kind.name, as_of, fingerprint, stored],
        )
        cursor.execute(f"SELECT set_config('{WRITING}', 'off', true)")
    return stored


def _fingerprint(cursor, statements: list[str]) -> str:
    """What kept sums depend on besides the units: the groups' keys and names, the rates, the
    programme start, the statements and the words they name groups with (the active language's)."""
    cursor.execute(_REFERENCE_SQL)
    text = "\n".join([cursor.fetchone()[0], str(programme_start()), *statements])
    return hashlib.sha256(text.encode()).hexdigest()


def _state(cursor, kind: Kind, fingerprint: str) -> tuple[date, int] | None:
    """The date of the kept sums and the rows it has stored, if the sums and copies are still good
    (the same fingerprint, and few enough MEs changed since to bring them up to date); None if
    everything must be copied and rolled up again. The counted MEs are the planner's estimate (the
    copies are analysed when copied in full): close enough for a threshold."""
    cursor.execute(
        f"SELECT as_of, fingerprint, stored_rows, (SELECT COUNT(*) FROM {PENDING} WHERE kind = %s), "  # noqa: S608
        f"(SELECT reltuples FROM pg_class WHERE oid = %s::regclass) FROM {STATE} WHERE kind = %s",
        [kind.name, LIVE_ME, kind.name],
    )
    state = cursor.fetchone()
    if state is None or state[1] != fingerprint:
        return None
    as_of, _fingerprint, stored, pending, units = state
    return (as_of, stored) if pending <= REBUILD_SHARE * units else None


def _prepare(cursor, kind: Kind) -> str:
    """The temporary tables of a run: the changed MEs (taken from the pending ones), the changes'
    sums and the groups they moved. Returns the condition selecting a changed ME's id."""
    cursor.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {CHANGED} (enterprise_id bigint PRIMARY KEY)")
    for table in (kind.delta, kind.touched):
        cursor.execute(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {table} AS SELECT * FROM {kind.rolled} WHERE 1 = 0"  # noqa: S608
        )
    for table in (CHANGED, kind.delta, kind.touched):
        cursor.execute(f"DELETE FROM {table}")  # noqa: S608
    cursor.execute(f"INSERT INTO {CHANGED} SELECT enterprise_id FROM {PENDING} WHERE kind = %s", [kind.name])  # noqa: S608
    cursor.execute(f"ANALYZE {CHANGED}")
    return f"IN (SELECT enterprise_id FROM {CHANGED})"  # noqa: S608


def _add(cursor, kind: Kind, rolled: str, params, replaced: str = "") -> bool:
    """Add the changes' sums (`rolled` selects them) to the kept ones, noting each group moved with
    its new sums; the kept groups `replaced` selects (a condition) go first, their new sums being
    among the changes'. False if the sums now contradict themselves."""
    with index_lookups(cursor):
        _keep(cursor, kind, rolled, params, kind.delta)
    keys = ", ".join(kind.keys)
    if replaced:
        cursor.execute(
            f"WITH gone AS (DELETE FROM {kind.rolled} WHERE {replaced} RETURNING {keys}) "  # noqa: S608
            f"INSERT INTO {kind.touched} ({keys}, {kind.presence}) SELECT {keys}, 0 FROM gone"
        )
    added = ", ".join(f"{name} = {kind.rolled}.{name} + EXCLUDED.{name}" for name in kind.sums)
    cursor.execute(
        f"WITH put AS (INSERT INTO {kind.rolled} SELECT * FROM {kind.delta} "  # noqa: S608
        f"ON CONFLICT ({keys}) DO UPDATE SET {added} RETURNING *) "
        f"INSERT INTO {kind.touched} SELECT * FROM put"
    )
    figures = " OR ".join(f"{name} <> 0" for name in kind.sums if name != kind.presence)
    cursor.execute(
        f"SELECT COUNT(*) FROM {kind.touched} "  # noqa: S608
        f"WHERE {kind.presence} < 0 OR ({kind.presence} = 0 AND ({figures}))"
    )
    if contradictions := cursor.fetchone()[0]:
        log.warning(
            "live %s: %s groups contradict themselves; rolling everything up", kind.name, contradictions
        )
        return False
    cursor.execute(f"DELETE FROM {kind.rolled} WHERE {kind.presence} = 0")  # noqa: S608
    return True


def _rolled_rows(kind: Kind, table: str, where: str = "") -> str:
    """Kept sums as the roll-up's rows (the programme's scope NULL)."""
    return f"SELECT {kind.listed('NULLIF(scope_po_id, 0) AS scope_po_id')} FROM {table} {where}"  # noqa: S608


def _moved(kind: Kind) -> str:
    """The new sums of the groups the changes moved, as the roll-up's rows."""
    return _rolled_rows(kind, kind.touched, f"WHERE {kind.presence} > 0")


def _keep(cursor, kind: Kind, rolled: str, params, table: str = "") -> None:
    """Keep the sums `rolled` selects in the kept sums (or in `table`), the programme's scope as 0.
    A roll-up of changes selects only the groups they moved (its HAVING: monitoring.rollup.MOVED,
    monitoring.outcomes.MOVED)."""
    cursor.execute(
        f"INSERT INTO {table or kind.rolled} ({kind.listed()}) "  # noqa: S608
        f"SELECT {kind.listed('COALESCE(scope_po_id, 0)')} FROM ({rolled}) r",
        params,
    )


def _current(cursor, table: str, select: str, params) -> str:
    """The changed MEs' current units (`select`, by index) in a temporary table, read by both the
    changes' sums and the copies' update. Returns a SELECT of them."""
    cursor.execute(
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {table} AS SELECT * FROM ({select}) u WHERE 1 = 0",  # noqa: S608
        params,
    )
    cursor.execute(f"DELETE FROM {table}")  # noqa: S608
    with index_lookups(cursor):
        cursor.execute(f"INSERT INTO {table} SELECT * FROM ({select}) u", params)  # noqa: S608
    return f"SELECT * FROM {table}"  # noqa: S608


def _signed(columns: tuple[str, ...], current: str, kept: str, in_changed: str) -> str:
    """The changed MEs' units: the current ones (sign 1) and the kept copies (sign -1)."""
    names = ", ".join(columns)
    return (
        f"SELECT 1 AS sign, {names} FROM ({current}) u "  # noqa: S608
        f"UNION ALL SELECT -1, {names} FROM {kept} WHERE enterprise_id {in_changed}"
    )


def _sync_copies(
    cursor, kept: str, key: str, columns: tuple[str, ...], current: str, in_changed: str
) -> None:
    """The changed MEs' copies become their current units (`current`, one row per `key`): only the
    copies that differ are rewritten (a changed ME's other disbursements are most often as they were:
    at 800,000 MEs, rewriting them all took 0.4-0.7 s)."""
    same = " AND ".join(f"c.{column} IS NOT DISTINCT FROM k.{column}" for column in columns)
    with index_lookups(cursor):
        cursor.execute(
            f"DELETE FROM {kept} k WHERE k.enterprise_id {in_changed} "  # noqa: S608
            f"AND NOT EXISTS (SELECT 1 FROM ({current}) c WHERE c.{key} = k.{key} AND {same})"
        )
        cursor.execute(
            f"INSERT INTO {kept} ({', '.join(columns)}) SELECT {', '.join(f'c.{name}' for name in columns)} "  # noqa: S608
            f"FROM ({current}) c WHERE NOT EXISTS (SELECT 1 FROM {kept} k WHERE k.{key} = c.{key} AND {same})"
        )


def _replace_copies(cursor, kept: str, columns: tuple[str, ...], current: str, in_changed: str) -> None:
    """The changed MEs' copies become their current units (`current`), all rewritten."""
    with index_lookups(cursor):
        cursor.execute(f"DELETE FROM {kept} WHERE enterprise_id {in_changed}")  # noqa: S608
        names = ", ".join(columns)
        cursor.execute(f"INSERT INTO {kept} ({names}) SELECT {names} FROM ({current}) c")  # noqa: S608


def _done(cursor, kind: Kind, in_changed: str) -> None:
    cursor.execute(f"DELETE FROM {PENDING} WHERE kind = %s AND enterprise_id {in_changed}", [kind.name])  # noqa: S608


# --- The indicators --------------------------------------------------------------------------------


def _apply_values(cursor, as_of: date, run_id: int | None, ids: dict[str, int]) -> Replaced | None:
    in_changed = _prepare(cursor, VALUES)
    me_units, financing = _current_units(cursor, in_changed)
    sources = {
        "me": me_source(as_of, _signed(ME_UNIT_COLUMNS, me_units, LIVE_ME, in_changed)),
        "financing": financing_source(
            as_of, _signed(FINANCING_UNIT_COLUMNS, financing, LIVE_FINANCING, in_changed)
        ),
    }
    rolled, params = rollup.rolled_select(as_of, ids, sources, SIGNED)
    summed = ", ".join(str(ids[d.code]) for d in DEFINITIONS if d.source not in SIGNED)
    if not _add(cursor, VALUES, rolled, params, replaced=f"indicator_id IN ({summed})"):
        return None
    replaced = rollup.store(
        cursor,
        *rollup.values_select(_moved(VALUES), [], as_of, run_id, ids),
        as_of,
        run_id,
        VALUES.touched,
    )
    _update_copies(cursor, in_changed, me_units, financing)
    _done(cursor, VALUES, in_changed)
    return replaced


def _current_units(cursor, in_changed: str) -> tuple[str, str]:
    """The changed MEs' current ME and financing units, each read once."""
    financing, financing_params = financing_units_sql(f"AND s.enterprise_id {in_changed}")
    return (
        _current(cursor, "live_current_me", me_units_sql(f"AND e.id {in_changed}"), []),
        _current(cursor, "live_current_financing", financing, financing_params),
    )


def _rebuild_values(
    cursor, as_of: date, run_id: int | None, ids: dict[str, int], copies_good: bool
) -> Replaced:
    """Sum every group from the copies and store every value of the date. The copies are made
    afresh, or only the changed MEs' when the others are still good (another date)."""
    if copies_good:
        in_changed = _prepare(cursor, VALUES)
        _update_copies(cursor, in_changed, *_current_units(cursor, in_changed))
        _done(cursor, VALUES, in_changed)
    else:
        for table in (LIVE_ME, LIVE_FINANCING):
            cursor.execute(f"TRUNCATE {table}")
        cursor.execute(f"DELETE FROM {PENDING} WHERE kind = %s", [VALUES.name])  # noqa: S608
        cursor.execute(f"INSERT INTO {LIVE_ME} ({', '.join(ME_UNIT_COLUMNS)}) {me_units_sql()}")
        cursor.execute(f"ANALYZE {LIVE_ME}")  # the threshold reads how many there are
        financing, financing_params = financing_units_sql()
        cursor.execute(
            f"INSERT INTO {LIVE_FINANCING} ({', '.join(FINANCING_UNIT_COLUMNS)}) {financing}",
            financing_params,
        )
    every = {
        "me": me_source(as_of, counted_units(f"SELECT * FROM {LIVE_ME}")),  # noqa: S608
        "financing": financing_source(as_of, counted_units(f"SELECT * FROM {LIVE_FINANCING}")),  # noqa: S608
    }
    cursor.execute(f"TRUNCATE {VALUES.rolled}")
    _keep(cursor, VALUES, *rollup.rolled_select(as_of, ids, every))
    return rollup.store(
        cursor,
        *rollup.values_select(_rolled_rows(VALUES, VALUES.rolled), [], as_of, run_id, ids),
        as_of,
        run_id,
    )


def _update_copies(cursor, in_changed: str, me_units: str, financing: str) -> None:
    """The changed MEs' copies become their units as they are now."""
    _sync_copies(cursor, LIVE_ME, "enterprise_id", ME_UNIT_COLUMNS, me_units, in_changed)
    _sync_copies(cursor, LIVE_FINANCING, "support_id", FINANCING_UNIT_COLUMNS, financing, in_changed)


# --- The environmental outcomes --------------------------------------------------------------------


def _apply_outcomes(cursor, as_of: date, run_id: int | None) -> Replaced | None:
    in_changed = _prepare(cursor, OUTCOMES)
    params = outcomes.params(as_of, run_id)
    selected = f"SELECT {', '.join(PAIR_COLUMNS)} FROM ({outcomes.pairs_select(f'AND p.enterprise_id {in_changed}')}) c"  # noqa: S608, E501
    current = _current(cursor, "live_current_pairs", selected, params)
    pairs = _signed(PAIR_COLUMNS, current, LIVE_PAIRS, in_changed)
    if not _add(cursor, OUTCOMES, outcomes.rolled_select(pairs), params):
        return None
    restrict = (
        f"(o.quantity, COALESCE(o.scope_po_id, 0), o.dimension, o.key) IN "  # noqa: S608
        f"(SELECT quantity, scope_po_id, dimension, key FROM {OUTCOMES.touched})"
    )
    replaced = outcomes.store(
        cursor,
        outcomes.values_select(_moved(OUTCOMES)),
        params,
        as_of,
        restrict,
    )
    # Pairs are not unique row by row (two baselines of one KPI may read the same): all rewritten.
    _replace_copies(cursor, LIVE_PAIRS, PAIR_COLUMNS, current, in_changed)
    _done(cursor, OUTCOMES, in_changed)
    return replaced


def _rebuild_outcomes(cursor, as_of: date, run_id: int | None) -> Replaced:
    """Copy every pair as of the date (a pair depends on it), sum every group from the copies and
    store every row of the date."""
    for table in (LIVE_PAIRS, OUTCOMES.rolled):
        cursor.execute(f"TRUNCATE {table}")
    cursor.execute(f"DELETE FROM {PENDING} WHERE kind = %s", [OUTCOMES.name])  # noqa: S608
    params = outcomes.params(as_of, run_id)
    copy = f"SELECT {', '.join(PAIR_COLUMNS)} FROM ({outcomes.pairs_select()}) c"  # noqa: S608
    cursor.execute(f"INSERT INTO {LIVE_PAIRS} ({', '.join(PAIR_COLUMNS)}) {copy}", params)
    _keep(cursor, OUTCOMES, outcomes.rolled_select(f"SELECT 1 AS sign, * FROM {LIVE_PAIRS}"), params)  # noqa: S608
    return outcomes.store(
        cursor, outcomes.values_select(_rolled_rows(OUTCOMES, OUTCOMES.rolled)), params, as_of
    )
