"""Results monitoring at programme scale.

- `aggregate_indicators --full` (every ME's facts recounted, every indicator, breakdown and PO as of
  today, and the environmental outcomes) against floors in the hand-written SQL of
  monitoring.reference_sql: the equal-work floor (`aggregation_sql_floor_equal_work`: every value
  and outcome the snapshot stores, read from the records, not from the per-ME facts; every stored
  value is compared with it), the six headline counts (`aggregation_sql_floor`, the floor of the
  first figures) and every programme total (`aggregation_sql_floor_all`). Ratios full / floor.
- Incremental: 1 % of the enterprises get new field data (a grant disbursed, an adoption verified, a
  KPI reading, a third each), then `aggregate_indicators` without `--full` is timed; three slices,
  median. Each change is undone afterwards (and caught up, untimed), so the database is left as it was.
  The stored values after an incremental run are checked equal to those of a full recount, and every
  stored value and outcome equal to the equal-work floor's.
- Another date (the nightly run's case, a new day each night): the snapshot of the day before, once,
  checked against the floor.
- The dashboard page as a PMU officer: median and 95th percentile over repeated requests, and its
  number of SQL queries (it reads stored snapshots only): served from its cached fragments, and
  drawn for every request (`dashboard_uncached_*`, the cache off).
"""

from __future__ import annotations

import io
import statistics
import sys
import time
from collections.abc import Callable
from datetime import timedelta

from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import override_settings
from django.utils import timezone

from benchmarks._common import Report, bench_user, report_ratio, request_latency
from core.roles import Role
from monitoring import facts, live
from monitoring.models import Dimension, IndicatorValue, OutcomeValue
from monitoring.reference_sql import (
    HEADLINE,
    every_outcome,
    every_value,
    headline_counts,
    other_figures,
    stored_outcomes,
    stored_values,
)

REPEATS = 3
PAGE_REQUESTS = 60
CHANGED_SHARE = 100  # one enterprise in this many changes (1 %)
SLICES = 3
SYNTHETIC = "SYN-%"


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _median_seconds(action: Callable[[], object], repeats: int = REPEATS) -> float:
    timings = []
    for _repeat in range(repeats):
        started = time.perf_counter()
        action()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def _aggregate(*args: str) -> None:
    call_command("aggregate_indicators", *args, stdout=io.StringIO())


def _equals_floor(as_of) -> bool:
    """Whether the stored programme totals of the headline indicators equal the independent SQL."""
    stored = dict(
        IndicatorValue.objects.filter(as_of=as_of, scope_po=None, dimension=Dimension.TOTAL).values_list(
            "indicator__code", "value"
        )
    )
    return {code: int(stored[code]) for code in HEADLINE} == headline_counts(as_of)


def _every_value_floor(as_of) -> tuple[dict, dict]:
    """The equal-work floor: every value and outcome of the snapshot, in the independent SQL."""
    return every_value(as_of), every_outcome(as_of)


def _differences(as_of, floor: tuple[dict, dict]) -> int:
    """How many stored values and outcomes of the date differ from the floor's (or only one has)."""
    values, outcomes = floor
    differ = 0
    for stored, computed in ((stored_values(as_of), values), (stored_outcomes(as_of), outcomes)):
        keys = stored.keys() | computed.keys()
        wrong = [key for key in keys if stored.get(key) != computed.get(key)]
        if wrong:
            _log(f"  {len(wrong)} stored values differ from the floor, e.g. {sorted(wrong, key=repr)[:3]}")
        differ += len(wrong)
    return differ


# --- 1 % of the enterprises changed, in SQL (whatever writes, the aggregation must see it) ----------
# Each slice: the synthetic MEs whose id falls in it (id % 100 = slice), split in three by id.

_GRANTS = """
INSERT INTO enterprises_financialsupport (enterprise_id, kind, amount, financier, disbursed_on,
    created_at, updated_at {extra_columns})
SELECT e.id, 'grant', 50000, 'world_bank', %(today)s, now(), now() {extra_values}
FROM enterprises_enterprise e JOIN core_partnerorganization po ON po.id = e.partner_organization_id
WHERE po.code LIKE %(synthetic)s AND e.id %% %(share)s = %(slice)s
  AND NOT EXISTS (SELECT 1 FROM enterprises_financialsupport o
                  WHERE o.enterprise_id = e.id AND o.kind = 'grant' AND o.disbursed_on = %(today)s)
RETURNING id
"""
_VERIFY = """
UPDATE enterprises_adoption a SET verified_on = %(today)s, verified_by_id = %(checker)s,
    verification = 'verified'
FROM (
    SELECT DISTINCT ON (a.enterprise_id) a.id FROM enterprises_adoption a
    JOIN enterprises_enterprise e ON e.id = a.enterprise_id
    JOIN core_partnerorganization po ON po.id = e.partner_organization_id
    WHERE po.code LIKE %(synthetic)s AND e.id %% %(share)s = %(slice)s
      AND a.verified_on IS NULL
    ORDER BY a.enterprise_id, a.id
) chosen
WHERE a.id = chosen.id
RETURNING a.id
"""
_READINGS = """
INSERT INTO enterprises_kpireading (enterprise_id, kpi_id, period, value, is_baseline, source,
    created_at, updated_at {extra_columns})
SELECT r.enterprise_id, r.kpi_id, %(month)s, r.value, false, 'estimate', now(), now() {extra_values}
FROM (
    SELECT DISTINCT ON (r.enterprise_id) r.enterprise_id, r.kpi_id, r.value
    FROM enterprises_kpireading r JOIN enterprises_enterprise e ON e.id = r.enterprise_id
    JOIN core_partnerorganization po ON po.id = e.partner_organization_id
    WHERE po.code LIKE %(synthetic)s AND e.id %% %(share)s = %(slice)s
    ORDER BY r.enterprise_id, r.period DESC
) r
WHERE NOT EXISTS (SELECT 1 FROM enterprises_kpireading o
                  WHERE o.enterprise_id = r.enterprise_id AND o.kpi_id = r.kpi_id AND o.period = %(month)s)
RETURNING id
"""


def _defaults_for(table: str, known: set[str]) -> tuple[str, str]:
    """NOT NULL columns without a database default that a newer migration may have added to `table`
    (Django keeps defaults in Python): filled with an empty value so the raw INSERT keeps working."""
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT column_name, data_type FROM information_schema.columns
               WHERE table_name = %s AND is_nullable = 'NO' AND column_default IS NULL
                 AND is_identity = 'NO'""",
            [table],
        )
        missing = [(name, kind) for name, kind in cursor.fetchall() if name not in known]
    empty = {
        "boolean": "false",
        "integer": "0",
        "bigint": "0",
        "smallint": "0",
        "numeric": "0",
        "jsonb": "'{}'",
    }
    columns = "".join(f", {name}" for name, _kind in missing)
    values = "".join(f", {empty.get(kind, chr(39) * 2)}" for _name, kind in missing)
    return columns, values


def _change_slice(slice_: int, checker_id: int) -> dict[str, list[int]]:
    today = timezone.localdate()
    params = {
        "today": today,
        "month": today.replace(day=1),
        "checker": checker_id,
        "synthetic": SYNTHETIC,
        "share": CHANGED_SHARE,
        "slice": slice_,
    }
    support_columns = {"id", "enterprise_id", "kind", "amount", "financier", "disbursed_on", "created_at"}
    reading_columns = {
        "id",
        "enterprise_id",
        "kpi_id",
        "period",
        "value",
        "is_baseline",
        "source",
        "created_at",
    }
    changed: dict[str, list[int]] = {}
    with connection.cursor() as cursor:
        columns, values = _defaults_for("enterprises_financialsupport", support_columns | {"updated_at"})
        cursor.execute(_GRANTS.format(extra_columns=columns, extra_values=values), params)
        changed["supports"] = [row[0] for row in cursor.fetchall()]
        cursor.execute(_VERIFY, params)
        changed["adoptions"] = [row[0] for row in cursor.fetchall()]
        columns, values = _defaults_for("enterprises_kpireading", reading_columns | {"updated_at"})
        cursor.execute(_READINGS.format(extra_columns=columns, extra_values=values), params)
        changed["readings"] = [row[0] for row in cursor.fetchall()]
    return changed


def _undo(changed: dict[str, list[int]]) -> None:
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM enterprises_financialsupport WHERE id = ANY(%s)", [changed["supports"]])
        cursor.execute("DELETE FROM enterprises_kpireading WHERE id = ANY(%s)", [changed["readings"]])
        cursor.execute(
            """UPDATE enterprises_adoption SET verified_on = NULL, verified_by_id = NULL,
               verification = 'reported' WHERE id = ANY(%s)""",
            [changed["adoptions"]],
        )


def _checker_id() -> int:
    """An account outside every PO: its verifications count (as the generator's verifier's do)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT a.verified_by_id FROM enterprises_adoption a JOIN core_user u ON u.id = a.verified_by_id
               WHERE u.partner_organization_id IS NULL LIMIT 1"""
        )
        row = cursor.fetchone()
    if row is None:
        raise RuntimeError("no independent verifier in the dataset")
    return row[0]


def incremental(report: Report, as_of) -> None:
    _aggregate()  # nothing pending before the first slice
    report("aggregation_incremental_nothing_changed_seconds", _median_seconds(_aggregate), "s")
    checker = _checker_id()
    timings = []
    agrees = True
    for slice_ in range(SLICES):
        changed = _change_slice(slice_, checker)
        mes = len(changed["supports"]) + len(changed["adoptions"]) + len(changed["readings"])
        started = time.perf_counter()
        _aggregate()
        timings.append(time.perf_counter() - started)
        _log(f"  slice {slice_}: {mes:,} records changed, incremental run {timings[-1]:.2f} s")
        if slice_ == 0:  # the incremental values equal a full recount's (then the floor's, below)
            after_incremental = stored_values(as_of)
            _aggregate("--full")
            after_full = stored_values(as_of)
            _vacuum_written_tables()  # the recount rewrote every ME's rows (see WRITTEN_TABLES)
            agrees = after_incremental == after_full
            if not agrees:
                differ = [key for key in after_full if after_incremental.get(key) != after_full[key]]
                _log(f"  incremental differs from full on {len(differ)} values, e.g. {differ[:5]}")
        _undo(changed)
        _aggregate()  # catch up the undo, untimed
        report(f"aggregation_incremental_slice{slice_}_records_changed", mes, "records")
    report("aggregation_incremental_seconds", statistics.median(timings), "s")
    report("aggregation_incremental_equals_full", int(agrees), "bool")


def another_date(report: Report, as_of) -> None:
    """The nightly run's case: the snapshot of a date other than the last one computed (the day
    before here), then today's again (untimed)."""
    day_before = as_of - timedelta(days=1)
    started = time.perf_counter()
    _aggregate("--as-of", day_before.isoformat())
    report("aggregation_another_date_seconds", time.perf_counter() - started, "s")
    report("aggregation_another_date_equals_floor_counts", int(_equals_floor(day_before)), "bool")
    _aggregate()


# The tables the aggregation writes, vacuumed and analysed once it has written them, as autovacuum keeps
# them in service: a server without autovacuum (this kind of machine has it off) would otherwise plan
# the catch-up with the statistics of empty tables and scan the marks' dead rows at every run. Each full
# recount rewrites every ME's facts, pairs and copies (all their rows dead at once, which autovacuum
# takes up within its next minute), so the incremental runs are timed after a vacuum too, not among
# the dead rows of the recounts timed just before them (0.1-0.2 s of a 0.6-0.8 s run at 80,000 MEs).
WRITTEN_TABLES = (
    facts.FACTS,
    facts.CHANGES,
    facts.PAIRS,
    IndicatorValue._meta.db_table,
    OutcomeValue._meta.db_table,
    *live.TABLES,
)


def _vacuum_written_tables() -> None:
    with connection.cursor() as cursor:
        for table in WRITTEN_TABLES:
            cursor.execute(f"VACUUM (ANALYZE) {connection.ops.quote_name(table)}")


def run(report: Report) -> None:
    as_of = timezone.localdate()
    _aggregate("--full")  # warms the caches the same way for every measurement
    _vacuum_written_tables()
    full = _median_seconds(lambda: _aggregate("--full"))
    floor = _median_seconds(lambda: headline_counts(as_of))
    floor_all = _median_seconds(lambda: (headline_counts(as_of), other_figures(as_of)))
    equal_work: list[tuple[dict, dict]] = []
    floor_every = _median_seconds(lambda: equal_work.append(_every_value_floor(as_of)))
    report("aggregation_full_seconds", full, "s")
    report("aggregation_sql_floor_equal_work_seconds", floor_every, "s")
    report_ratio(report, "aggregation_full_ratio_to_equal_work_floor", full, floor_every)
    values, outcomes = equal_work[-1]
    report("aggregation_floor_values_compared", len(values) + len(outcomes), "values")
    report("aggregation_every_value_equals_floor", int(_differences(as_of, equal_work[-1]) == 0), "bool")
    report("aggregation_sql_floor_seconds", floor, "s")
    report_ratio(report, "aggregation_full_ratio_to_floor", full, floor)
    report("aggregation_sql_floor_all_seconds", floor_all, "s")
    report_ratio(report, "aggregation_full_ratio_to_floor_all", full, floor_all)
    report("aggregation_equals_floor_counts", int(_equals_floor(as_of)), "bool")
    report("aggregation_values_stored", IndicatorValue.objects.filter(as_of=as_of).count(), "rows")
    _vacuum_written_tables()  # after the recounts above, as after any full recount
    incremental(report, as_of)
    report("aggregation_incremental_equals_floor_counts", int(_equals_floor(as_of)), "bool")
    differ = _differences(as_of, _every_value_floor(as_of))
    report("aggregation_incremental_every_value_equals_floor", int(differ == 0), "bool")
    another_date(report, as_of)

    client = Client()
    client.force_login(bench_user("bench-pmu", Role.PMU_OFFICER))
    latency = request_latency(client, "/dashboard/?indicator=ME_FINANCED", PAGE_REQUESTS)
    report("dashboard_median_ms", latency.median_ms, "ms")
    report("dashboard_p95_ms", latency.p95_ms, "ms")
    report("dashboard_queries", latency.queries, "queries")
    # The same page drawn for every request (no fragment cache): what the first reader of a new
    # snapshot, scope or language waits for.
    with override_settings(DASHBOARD_CACHE_SECONDS=0):
        drawn = request_latency(client, "/dashboard/?indicator=ME_FINANCED", PAGE_REQUESTS)
    report("dashboard_uncached_median_ms", drawn.median_ms, "ms")
    report("dashboard_uncached_p95_ms", drawn.p95_ms, "ms")
    report("dashboard_uncached_queries", drawn.queries, "queries")
