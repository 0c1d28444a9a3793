"""Per-ME facts for the aggregation: the first date each counted ME qualified for each ME indicator.

The ME indicators (monitoring.indicators.QUALIFYING) all ask "is there, by date D, ...": a
disbursement, a climate session passed, two practices verified, a reading after a baseline, a
validated profile. Such a condition holds from one day on, so an ME's whole history for an
indicator is one date: the earliest D at which the condition holds (for two practices, the day the
second distinct practice was first verified). The snapshot then counts MEs whose date is <= D,
grouped, instead of re-running each rule over every enterprise.

The dates are kept in EnterpriseFacts, one row per counted ME with at least one date; next to them,
the environmental outcomes' pairs (OutcomePair: each baseline reading with the latest reading of its
KPI), kept from the same changes so that a snapshot reads them instead of looking up the latest
reading of every baseline again. Triggers on the tables the facts are read from (installed by
migration; `trigger_sql`) record every enterprise record touched by an insert, update or delete in
FactChange, whatever wrote it (a form, the API, an import's COPY, a raw statement), with the facts
read from that table (FACTS_OF_TABLE); `catch_up()` recomputes those facts of those MEs only, keeping
their others, and `recount()` all of them from scratch
(`aggregate_indicators --full`). Both run the same SQL (`FACTS_SQL`), restricted or not, so an
incremental run equals a full one by construction; the tests also check both against the ORM
definitions and the independent SQL (monitoring.reference_sql). An ME is also marked when it is
registered and when a column its counting reads changes (COUNTED_COLUMNS): the catch-up hands the
MEs it recomputed on to the live roll-up (monitoring.live), which counts them again.

A confirmed duplicate's records count for its original (enterprises.counted_enterprise): the facts
are per original, and a change to a duplicate (or to which ME it duplicates) marks both MEs. What the
triggers cannot see needs a full recount: a change of settings.PROGRAMME_START.
"""

from __future__ import annotations

from django.conf import settings
from django.db import connection, transaction

from core.planner import index_lookups, local_settings
from monitoring.models import EnterpriseFacts, FactChange, OutcomePair

FACTS = EnterpriseFacts._meta.db_table
CHANGES = FactChange._meta.db_table
PAIRS = OutcomePair._meta.db_table

# Which facts a change can move, by the table it was made in (FactChange.facts, a sum of these bits):
# a change marks the facts read from its table only, and the catch-up recomputes those (a KPI reading
# imported leaves the ME's financing, training, practices and profile as they were). A change of the
# ME itself (it is registered, deleted, or confirmed as a duplicate, which moves its records to
# another ME) marks them all.
BITS = {
    "FINANCED": FactChange.FINANCED,
    "CLIMATE": FactChange.CLIMATE,
    "PRACTICES": FactChange.PRACTICES,
    "READINGS": FactChange.READINGS,
    "PROFILE": FactChange.PROFILE,
}
FINANCED, CLIMATE, PRACTICES, READINGS, PROFILE = BITS.values()
ALL_FACTS = FactChange.ALL_FACTS
# The dates of an ME's facts row (the model's fields but the ME), in FACTS_SQL's order.
FACT_COLUMNS = tuple(
    field.column for field in EnterpriseFacts._meta.concrete_fields if field.name != "enterprise"
)
FACTS_OF_TABLE = {
    "enterprises_financialsupport": FINANCED,
    "enterprises_attendance": CLIMATE,
    "enterprises_trainingsession": CLIMATE,
    "enterprises_trainingmodule": CLIMATE,
    "enterprises_adoption": PRACTICES,
    "core_user": PRACTICES,  # whether a verifier's checks count
    "enterprises_kpireading": READINGS,  # the KPI tracking date, and the outcome pairs
    "enterprises_recpprofile": PROFILE,
    "enterprises_enterprise": ALL_FACTS,
}

# `counted` is every enterprise record with the ME it counts for and the facts to compute for it
# (ALL_COUNTED), or only the records of the MEs marked changed (a temporary table the catch-up fills);
# `me_scope` restricts the MEs written the same way. A fact not to compute is taken as it was from
# `kept` (the catch-up's facts_kept: the changed MEs' former facts, with the facts marked); the bits
# are FactChange's (BITS). Each fact is the earliest day its rule holds.
FACTS_SQL = """
WITH counted AS ({counted}),
financed AS (
    SELECT c.me, MIN(s.disbursed_on) AS day
    FROM enterprises_financialsupport s JOIN counted c ON c.id = s.enterprise_id
    WHERE s.disbursed_on >= %(start)s AND c.facts & {FINANCED} <> 0 GROUP BY c.me
    UNION ALL SELECT enterprise_id, financed_on FROM {kept} kept WHERE facts & {FINANCED} = 0
),
climate AS (
    SELECT c.me, MIN(t.held_on) AS day
    FROM enterprises_attendance a JOIN counted c ON c.id = a.enterprise_id
    JOIN enterprises_trainingsession t ON t.id = a.session_id
    JOIN enterprises_trainingmodule m ON m.id = t.module_id
    WHERE m.climate_vulnerability AND a.post_test_score > a.pre_test_score AND c.facts & {CLIMATE} <> 0
    GROUP BY c.me
    UNION ALL SELECT enterprise_id, climate_trained_on FROM {kept} kept WHERE facts & {CLIMATE} = 0
),
verified_practice AS (
    SELECT c.me, a.practice_id, MIN(a.verified_on) AS day
    FROM enterprises_adoption a JOIN counted c ON c.id = a.enterprise_id
    JOIN core_user u ON u.id = a.verified_by_id
    WHERE a.verified_on IS NOT NULL AND u.partner_organization_id IS NULL AND c.facts & {PRACTICES} <> 0
    GROUP BY c.me, a.practice_id
),
verified_two AS (
    SELECT me, day FROM (
        SELECT me, day, ROW_NUMBER() OVER (PARTITION BY me ORDER BY day) AS nth FROM verified_practice
    ) ranked WHERE nth = 2
    UNION ALL SELECT enterprise_id, recp_verified_two_on FROM {kept} kept WHERE facts & {PRACTICES} = 0
),
reported_practice AS (
    SELECT c.me, a.practice_id, MIN(a.adopted_on) AS day
    FROM enterprises_adoption a JOIN counted c ON c.id = a.enterprise_id
    WHERE a.adopted_on IS NOT NULL AND c.facts & {PRACTICES} <> 0 GROUP BY c.me, a.practice_id
),
reported_two AS (
    SELECT me, day FROM (
        SELECT me, day, ROW_NUMBER() OVER (PARTITION BY me ORDER BY day) AS nth FROM reported_practice
    ) ranked WHERE nth = 2
    UNION ALL SELECT enterprise_id, recp_reported_two_on FROM {kept} kept WHERE facts & {PRACTICES} = 0
),
first_baseline AS (
    SELECT b.enterprise_id, b.kpi_id, MIN(b.period) AS period
    FROM enterprises_kpireading b JOIN counted c ON c.id = b.enterprise_id
    WHERE b.is_baseline AND c.facts & {READINGS} <> 0 GROUP BY b.enterprise_id, b.kpi_id
),
next_reading AS (
    -- The first later reading: one step along the (enterprise, kpi, period) index per baseline, not
    -- a join of every reading (1.5 M at 80,000 MEs) with the baselines. NULL if none (MIN skips it).
    SELECT b.enterprise_id, (
        SELECT MIN(r.period) FROM enterprises_kpireading r
        WHERE r.enterprise_id = b.enterprise_id AND r.kpi_id = b.kpi_id AND r.period > b.period
    ) AS period
    FROM first_baseline b
),
tracking AS (
    SELECT c.me, MIN(n.period) AS day
    FROM next_reading n JOIN counted c ON c.id = n.enterprise_id GROUP BY c.me
    UNION ALL SELECT enterprise_id, kpi_tracking_on FROM {kept} kept WHERE facts & {READINGS} = 0
),
validated AS (
    SELECT c.me, MIN(p.validated_on) AS day
    FROM enterprises_recpprofile p JOIN counted c ON c.id = p.enterprise_id
    WHERE p.status = 'validated' AND p.validated_on IS NOT NULL AND c.facts & {PROFILE} <> 0 GROUP BY c.me
    UNION ALL SELECT enterprise_id, profile_validated_on FROM {kept} kept WHERE facts & {PROFILE} = 0
)
INSERT INTO {facts} (enterprise_id, financed_on, climate_trained_on, recp_verified_two_on,
                     recp_reported_two_on, kpi_tracking_on, profile_validated_on)
SELECT e.id, financed.day, climate.day, verified_two.day, reported_two.day, tracking.day, validated.day
FROM enterprises_enterprise e
LEFT JOIN financed ON financed.me = e.id
LEFT JOIN climate ON climate.me = e.id
LEFT JOIN verified_two ON verified_two.me = e.id
LEFT JOIN reported_two ON reported_two.me = e.id
LEFT JOIN tracking ON tracking.me = e.id
LEFT JOIN validated ON validated.me = e.id
WHERE e.duplicate_of_id IS NULL {me_scope}
  AND (financed.day IS NOT NULL OR climate.day IS NOT NULL OR verified_two.day IS NOT NULL
       OR reported_two.day IS NOT NULL OR tracking.day IS NOT NULL OR validated.day IS NOT NULL)
"""

# The outcomes' pairs (OutcomePair): each baseline reading with the latest reading of its ME and KPI,
# when that one is later; `{scope}` restricts them to the MEs whose records changed. The latest is one
# backward step along the (enterprise, kpi, period) unique index per baseline; SQLite writes the same
# lookup as correlated subqueries. Pairs are per record's ME, duplicates included: the outcomes leave
# out a confirmed duplicate's readings when they read the pairs, so confirming one changes no pair.
PAIRS_SQL = {
    "postgresql": """
INSERT INTO {pairs} (enterprise_id, kpi_id, baseline_period, baseline_value, latest_period, latest_value)
SELECT b.enterprise_id, b.kpi_id, b.period, b.value, l.period, l.value
FROM enterprises_kpireading b
CROSS JOIN LATERAL (
    SELECT r.period, r.value FROM enterprises_kpireading r
    WHERE r.enterprise_id = b.enterprise_id AND r.kpi_id = b.kpi_id
    ORDER BY r.period DESC LIMIT 1
) l
WHERE b.is_baseline AND l.period > b.period {scope}
""",
    "sqlite": """
INSERT INTO {pairs} (enterprise_id, kpi_id, baseline_period, baseline_value, latest_period, latest_value)
SELECT * FROM (
    SELECT b.enterprise_id, b.kpi_id, b.period AS baseline_period, b.value,
           (SELECT MAX(r.period) FROM enterprises_kpireading r
            WHERE r.enterprise_id = b.enterprise_id AND r.kpi_id = b.kpi_id) AS latest_period,
           (SELECT r.value FROM enterprises_kpireading r
            WHERE r.enterprise_id = b.enterprise_id AND r.kpi_id = b.kpi_id
            ORDER BY r.period DESC LIMIT 1) AS latest_value
    FROM enterprises_kpireading b
    WHERE b.is_baseline {scope}
) WHERE latest_period > baseline_period
""",
}
# Every ME whose readings were marked (CHANGED_MES: a record's ME is among the changed MEs with the
# facts its change marked).
CHANGED_SCOPE = f"AND b.enterprise_id IN (SELECT me FROM facts_changed_me WHERE facts & {READINGS} <> 0)"  # noqa: S608


def pairs_sql(vendor: str, scope: str = "") -> str:
    """The statement writing the outcome pairs (all, or those `scope` selects)."""
    return PAIRS_SQL["postgresql" if vendor == "postgresql" else "sqlite"].format(pairs=PAIRS, scope=scope)


ALL_COUNTED = (
    f"SELECT e.id, COALESCE(e.duplicate_of_id, e.id) AS me, {ALL_FACTS} AS facts "  # noqa: S608 - constants
    "FROM enterprises_enterprise e"
)
# A recount computes every fact: nothing is kept.
NOTHING_KEPT = (
    f"(SELECT enterprise_id, {', '.join(FACT_COLUMNS)}, {ALL_FACTS} AS facts FROM {FACTS} WHERE 1 = 0)"  # noqa: S608
)


def facts_sql(counted: str, me_scope: str = "", kept: str = NOTHING_KEPT) -> str:
    """The statement writing the facts (FACTS_SQL): of every ME, or of those `counted` and `me_scope`
    select, the facts not marked taken from `kept`."""
    return FACTS_SQL.format(facts=FACTS, counted=counted, me_scope=me_scope, kept=kept, **BITS)


# The facts marked of a set of marks or MEs, as the sum of its bits (SQLite has no bitwise aggregate).
_ANY_OF = " + ".join(f"MAX(facts & {bit})" for bit in BITS.values())
# The catch-up's scratch tables besides the marks (emptied before and after each catch-up).
SCRATCH = ("facts_changed_me", "facts_counted", "facts_kept")
# The MEs whose facts may have changed, with the facts marked: each record marked, and the ME it counts
# for now (a record's former ME is marked by the trigger that saw it change).
CHANGED_MES = f"""
WITH marked AS (SELECT enterprise_id, {_ANY_OF} AS facts FROM facts_marks GROUP BY enterprise_id)
SELECT me, {_ANY_OF} FROM (
    SELECT enterprise_id AS me, facts FROM marked
    UNION ALL
    SELECT COALESCE(e.duplicate_of_id, e.id), m.facts
    FROM enterprises_enterprise e JOIN marked m ON m.enterprise_id = e.id
) changed GROUP BY me
"""  # noqa: S608 - constants


def _params() -> dict:
    return {"start": settings.PROGRAMME_START}


def tune_for_aggregation(cursor, *, memoize: bool = True) -> None:
    """For this transaction only (the facts, the roll-up, the outcomes): no JIT (compiling these
    plans takes seconds and saves nothing at this size) and room to hash the groups in memory rather
    than sort them on disk; `memoize=False` where every lookup has other keys (caching them is waste)."""
    if connection.vendor == "postgresql":
        cursor.execute("SET LOCAL jit = off")
        cursor.execute("SET LOCAL work_mem = '64MB'")
        if not memoize:
            cursor.execute("SET LOCAL enable_memoize = off")


def _empty(cursor, table: str) -> None:
    """Empty a table every row of which is written again. On PostgreSQL a TRUNCATE: the rows are
    written into a new file, rather than beside every old row left dead until a vacuum (a recount run
    again soon after another read and wrote twice the pages). Only the aggregation, under its lock,
    and the admin's read-only pages read these tables; they wait for the recount's commit."""
    if connection.vendor == "postgresql":
        cursor.execute(f"TRUNCATE {table}")
    else:
        cursor.execute(f"DELETE FROM {table}")  # noqa: S608


def recount() -> int:
    """Every ME's facts from scratch; the changes recorded so far are then all taken into account.
    Returns the number of MEs with facts."""
    with transaction.atomic(), connection.cursor() as cursor:
        tune_for_aggregation(cursor)
        _take_marks(cursor)
        _empty(cursor, FACTS)
        cursor.execute(facts_sql(ALL_COUNTED), _params())
        written = cursor.rowcount
        _empty(cursor, PAIRS)
        _write_pairs(cursor)
        _drop_marks(cursor)
        from monitoring import live  # it builds on this module

        live.forget()
    return written


def catch_up() -> int:
    """Recompute the facts of the MEs marked changed since the last catch-up (or recount), and only
    theirs. Returns how many MEs were recomputed. Marks written meanwhile wait for the next one."""
    with transaction.atomic(), connection.cursor() as cursor:
        if not _take_marks(cursor):
            return 0
        tune_for_aggregation(cursor)
        # The changed MEs and their records in temporary tables the planner knows the size of (a few
        # rows: index lookups into the record tables rather than scans of them).
        cursor.execute(
            "CREATE TEMPORARY TABLE IF NOT EXISTS facts_changed_me (me bigint PRIMARY KEY, facts integer)"
        )
        cursor.execute(
            "CREATE TEMPORARY TABLE IF NOT EXISTS facts_counted "
            "(id bigint PRIMARY KEY, me bigint, facts integer)"
        )
        dates = ", ".join(f"{column} date" for column in FACT_COLUMNS)
        cursor.execute(
            "CREATE TEMPORARY TABLE IF NOT EXISTS facts_kept "
            f"(enterprise_id bigint PRIMARY KEY, {dates}, facts integer)"
        )
        for table in SCRATCH:
            cursor.execute(f"DELETE FROM {table}")  # noqa: S608
        cursor.execute(f"INSERT INTO facts_changed_me (me, facts) {CHANGED_MES}")
        changed = cursor.rowcount
        from monitoring import live  # it builds on this module

        live.mark_changed(cursor, "SELECT me FROM facts_changed_me")
        if connection.vendor == "postgresql":
            cursor.execute("ANALYZE facts_changed_me")
        # The changed MEs' records are few: looked up by index, not read whole.
        with index_lookups(cursor):
            # Two index lookups per changed ME (itself, its confirmed duplicates): an OR of the two would
            # read every enterprise.
            # ...each with the facts its ME has marked.
            cursor.execute(
                "INSERT INTO facts_counted (id, me, facts) SELECT r.id, r.me, c.facts FROM ("
                "SELECT e.id, COALESCE(e.duplicate_of_id, e.id) AS me FROM enterprises_enterprise e "
                "JOIN facts_changed_me c ON c.me = e.id "
                "UNION SELECT e.id, e.duplicate_of_id FROM enterprises_enterprise e "
                "JOIN facts_changed_me c ON c.me = e.duplicate_of_id"
                ") r JOIN facts_changed_me c ON c.me = r.me"
            )
            if connection.vendor == "postgresql":
                cursor.execute("ANALYZE facts_counted")
            # The facts not marked stay as they were.
            former = ", ".join(f"f.{column}" for column in FACT_COLUMNS)
            cursor.execute(
                f"INSERT INTO facts_kept SELECT f.enterprise_id, {former}, "  # noqa: S608
                f"c.facts FROM {FACTS} f JOIN facts_changed_me c ON c.me = f.enterprise_id "
                f"WHERE c.facts <> {ALL_FACTS}"
            )
            cursor.execute(f"DELETE FROM {FACTS} WHERE enterprise_id IN (SELECT me FROM facts_changed_me)")  # noqa: S608
            cursor.execute(
                facts_sql(
                    "SELECT id, me, facts FROM facts_counted",
                    "AND e.id IN (SELECT me FROM facts_changed_me)",
                    "facts_kept",
                ),
                _params(),
            )
            cursor.execute(
                f"DELETE FROM {PAIRS} WHERE enterprise_id IN "  # noqa: S608
                f"(SELECT me FROM facts_changed_me WHERE facts & {READINGS} <> 0)"
            )
            _write_pairs(cursor, CHANGED_SCOPE)
        _drop_marks(cursor)
        for table in SCRATCH:
            cursor.execute(f"DELETE FROM {table}")  # noqa: S608
    return changed


def _write_pairs(cursor, scope: str = "") -> None:
    # Every baseline looks up another ME and KPI: PostgreSQL's memoize would cache each lookup (14 MB
    # at 80,000 MEs) and never hit it (measured at 80,000: 5-10 % of the statement).
    with local_settings(cursor, enable_memoize="off"):
        cursor.execute(pairs_sql(connection.vendor, scope))


def _take_marks(cursor) -> int:
    """Copy the change marks there are now into a temporary table; returns how many. Only these are
    removed at the end (`_drop_marks`): a mark committed meanwhile, even under a lower id, waits for
    the next run, since what it marks may be invisible to this one."""
    cursor.execute(
        "CREATE TEMPORARY TABLE IF NOT EXISTS facts_marks (id bigint PRIMARY KEY, enterprise_id bigint, "
        "facts integer)"
    )
    cursor.execute("DELETE FROM facts_marks")
    cursor.execute(
        f"INSERT INTO facts_marks (id, enterprise_id, facts) SELECT id, enterprise_id, facts FROM {CHANGES}"  # noqa: S608
    )
    return cursor.rowcount


def _drop_marks(cursor) -> None:
    # Without a nested loop: the marks' table is most often empty when analysed (each run empties it),
    # so PostgreSQL expects one mark and compared each of 1,706 with every taken one (at 80,000 MEs,
    # 1.45 million comparisons, 0.1-0.2 s); hashed, they cost one pass.
    with local_settings(cursor, enable_nestloop="off"):
        cursor.execute(f"DELETE FROM {CHANGES} WHERE id IN (SELECT id FROM facts_marks)")  # noqa: S608
    cursor.execute("DELETE FROM facts_marks")


# --- Triggers -------------------------------------------------------------------------------------

# Table → for each operation, the enterprise records it touches, as a SELECT over the rows a
# statement inserted ("new_rows"), deleted ("old_rows") or changed (both, joined on id as n and o).
# PostgreSQL runs one statement-level trigger per operation over its transition tables (one INSERT
# per statement, however many rows an import COPYs); SQLite one row-level trigger per row (NEW/OLD).
RECORD_TABLES = (
    "enterprises_financialsupport",
    "enterprises_attendance",
    "enterprises_adoption",
    "enterprises_kpireading",
    "enterprises_recpprofile",
)
# The columns of an ME that its counting reads (monitoring.indicators.me_units_sql): a change of any
# marks it, for the live roll-up (monitoring.live) to count it again.
COUNTED_COLUMNS = (
    "duplicate_of_id",
    "partner_organization_id",
    "sub_sector_id",
    "district_id",
    "owner_gender",
    "climate_vulnerable",
    "registered_on",
    "wage_employed_female",
    "wage_employed_male",
    "wage_employed_female_at_registration",
    "wage_employed_male_at_registration",
)


def _pg_sources(table: str) -> dict[str, list[str]]:
    """Per operation, the SELECTs of enterprise ids to mark (PostgreSQL transition tables)."""
    if table in RECORD_TABLES:
        return {
            "INSERT": ["SELECT enterprise_id AS id FROM new_rows"],
            "UPDATE": [
                "SELECT enterprise_id AS id FROM new_rows",
                "SELECT enterprise_id AS id FROM old_rows",
            ],
            "DELETE": ["SELECT enterprise_id AS id FROM old_rows"],
        }
    if table == "enterprises_enterprise":
        joined = "FROM new_rows n JOIN old_rows o ON o.id = n.id"
        changed = f"{joined} WHERE n.duplicate_of_id IS DISTINCT FROM o.duplicate_of_id"
        counted = " OR ".join(f"n.{column} IS DISTINCT FROM o.{column}" for column in COUNTED_COLUMNS)
        return {
            "INSERT": ["SELECT id AS id FROM new_rows", "SELECT duplicate_of_id FROM new_rows"],
            "UPDATE": [
                f"SELECT n.id AS id {joined} WHERE {counted}",
                f"SELECT n.duplicate_of_id {changed}",
                f"SELECT o.duplicate_of_id {changed}",
            ],
            "DELETE": ["SELECT id AS id FROM old_rows", "SELECT duplicate_of_id FROM old_rows"],
        }
    if table == "enterprises_trainingsession":
        return {
            "UPDATE": [
                "SELECT a.enterprise_id AS id FROM enterprises_attendance a "
                "JOIN new_rows n ON n.id = a.session_id "
                "JOIN old_rows o ON o.id = n.id "
                "WHERE n.held_on IS DISTINCT FROM o.held_on OR n.module_id IS DISTINCT FROM o.module_id"
            ]
        }
    if table == "enterprises_trainingmodule":
        return {
            "UPDATE": [
                "SELECT a.enterprise_id AS id FROM enterprises_attendance a "
                "JOIN enterprises_trainingsession t ON t.id = a.session_id "
                "JOIN new_rows n ON n.id = t.module_id JOIN old_rows o ON o.id = n.id "
                "WHERE n.climate_vulnerability IS DISTINCT FROM o.climate_vulnerability"
            ]
        }
    if table == "core_user":  # a verifier joining or leaving a PO changes whether their checks count
        return {
            "UPDATE": [
                "SELECT a.enterprise_id AS id FROM enterprises_adoption a "
                "JOIN new_rows n ON n.id = a.verified_by_id "
                "JOIN old_rows o ON o.id = n.id "
                "WHERE n.partner_organization_id IS DISTINCT FROM o.partner_organization_id"
            ]
        }
    raise ValueError(table)


def _sqlite_sources(table: str) -> dict[str, tuple[str, list[str]]]:
    """Per operation, (WHEN condition, SELECTs of enterprise ids) for SQLite's row-level triggers."""
    if table in RECORD_TABLES:
        return {
            "INSERT": ("", ["SELECT NEW.enterprise_id AS id"]),
            "UPDATE": ("", ["SELECT NEW.enterprise_id AS id", "SELECT OLD.enterprise_id"]),
            "DELETE": ("", ["SELECT OLD.enterprise_id AS id"]),
        }
    if table == "enterprises_enterprise":
        return {
            "INSERT": ("", ["SELECT NEW.id AS id", "SELECT NEW.duplicate_of_id"]),
            "UPDATE": (
                " OR ".join(f"NEW.{column} IS NOT OLD.{column}" for column in COUNTED_COLUMNS),
                ["SELECT NEW.id AS id", "SELECT NEW.duplicate_of_id", "SELECT OLD.duplicate_of_id"],
            ),
            "DELETE": ("", ["SELECT OLD.id AS id", "SELECT OLD.duplicate_of_id"]),
        }
    if table == "enterprises_trainingsession":
        return {
            "UPDATE": (
                "NEW.held_on IS NOT OLD.held_on OR NEW.module_id IS NOT OLD.module_id",
                ["SELECT enterprise_id AS id FROM enterprises_attendance WHERE session_id = NEW.id"],
            )
        }
    if table == "enterprises_trainingmodule":
        return {
            "UPDATE": (
                "NEW.climate_vulnerability IS NOT OLD.climate_vulnerability",
                [
                    "SELECT a.enterprise_id AS id FROM enterprises_attendance a "
                    "JOIN enterprises_trainingsession t ON t.id = a.session_id WHERE t.module_id = NEW.id"
                ],
            )
        }
    if table == "core_user":
        return {
            "UPDATE": (
                "NEW.partner_organization_id IS NOT OLD.partner_organization_id",
                ["SELECT enterprise_id AS id FROM enterprises_adoption WHERE verified_by_id = NEW.id"],
            )
        }
    raise ValueError(table)


TRIGGER_TABLES = (
    *RECORD_TABLES,
    "enterprises_enterprise",
    "enterprises_trainingsession",
    "enterprises_trainingmodule",
    "core_user",
)


def _name(table: str, operation: str) -> str:
    return f"{table}_facts_{operation.lower()}"[:63]


def install_sql(vendor: str, *, marking_facts: bool = True) -> list[str]:
    """The statements installing every trigger that marks changed MEs (idempotent); with
    `marking_facts=False`, as migrations 0011 and 0014 installed them, before a mark named the facts
    it may move (migration 0016)."""
    statements = []
    for table in TRIGGER_TABLES:
        columns, facts = ("enterprise_id", "")
        if marking_facts:
            columns, facts = "enterprise_id, facts", f", {FACTS_OF_TABLE[table]}"
        if vendor == "postgresql":
            for operation, selects in _pg_sources(table).items():
                name = _name(table, operation)
                union = " UNION ".join(selects)
                statements += [
                    f'CREATE OR REPLACE FUNCTION "{name}"() RETURNS trigger AS $$ BEGIN '  # noqa: S608 - constants
                    f"INSERT INTO {CHANGES} ({columns}) SELECT id{facts} FROM ({union}) AS marked "
                    "WHERE id IS NOT NULL; RETURN NULL; END $$ LANGUAGE plpgsql",
                    f'DROP TRIGGER IF EXISTS "{name}" ON "{table}"',
                    f'CREATE TRIGGER "{name}" AFTER {operation} ON "{table}" '
                    + {
                        "INSERT": "REFERENCING NEW TABLE AS new_rows ",
                        "UPDATE": "REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows ",
                        "DELETE": "REFERENCING OLD TABLE AS old_rows ",
                    }[operation]
                    + f'FOR EACH STATEMENT EXECUTE FUNCTION "{name}"()',
                ]
        elif vendor == "sqlite":
            for operation, (condition, selects) in _sqlite_sources(table).items():
                name = _name(table, operation)
                union = " UNION ".join(selects)
                when = f"WHEN {condition} " if condition else ""
                statements += [
                    f'DROP TRIGGER IF EXISTS "{name}"',
                    f'CREATE TRIGGER "{name}" AFTER {operation} ON "{table}" FOR EACH ROW {when}BEGIN '  # noqa: S608
                    f"INSERT INTO {CHANGES} ({columns}) SELECT id{facts} FROM ({union}) AS marked "
                    "WHERE id IS NOT NULL; END",
                ]
    return statements


def remove_sql(vendor: str) -> list[str]:
    statements = []
    for table in TRIGGER_TABLES:
        operations = _pg_sources(table) if vendor == "postgresql" else _sqlite_sources(table)
        for operation in operations:
            name = _name(table, operation)
            if vendor == "postgresql":
                statements += [
                    f'DROP TRIGGER IF EXISTS "{name}" ON "{table}"',
                    f'DROP FUNCTION IF EXISTS "{name}"()',
                ]
            elif vendor == "sqlite":
                statements.append(f'DROP TRIGGER IF EXISTS "{name}"')
    return statements
