"""Results monitoring at programme scale.

- The full aggregation (every indicator, every breakdown, the programme and each PO) as of today,
  against the floor: one hand-written SQL query computing the same six headline counts.
- The dashboard page as a PMU officer: median and 95th percentile over repeated requests, and its
  number of SQL queries (it reads stored snapshots only).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from django.test import Client
from django.utils import timezone

from benchmarks._common import Report, bench_user, request_latency
from core.roles import Role
from monitoring import aggregation
from monitoring.models import Dimension, IndicatorValue
from monitoring.reference_sql import HEADLINE, headline_counts

REPEATS = 3
PAGE_REQUESTS = 60


def _median_seconds(action: Callable[[], object], repeats: int = REPEATS) -> float:
    timings = []
    for _repeat in range(repeats):
        started = time.perf_counter()
        action()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def run(report: Report) -> None:
    as_of = timezone.localdate()
    aggregation.refresh_snapshot(as_of)  # warm the caches the same way for both measurements
    full = _median_seconds(lambda: aggregation.refresh_snapshot(as_of))
    floor = _median_seconds(lambda: headline_counts(as_of))
    report("aggregation_full_seconds", full, "s")
    report("aggregation_sql_floor_seconds", floor, "s")
    report("aggregation_ratio_to_floor", full / floor, "x")
    stored = dict(
        IndicatorValue.objects.filter(as_of=as_of, scope_po=None, dimension=Dimension.TOTAL).values_list(
            "indicator__code", "value"
        )
    )
    agrees = {code: int(stored[code]) for code in HEADLINE} == headline_counts(as_of)
    report("aggregation_equals_floor_counts", int(agrees), "bool")
    report("aggregation_values_stored", IndicatorValue.objects.filter(as_of=as_of).count(), "rows")

    client = Client()
    client.force_login(bench_user("bench-pmu", Role.PMU_OFFICER))
    latency = request_latency(client, "/dashboard/?indicator=ME_FINANCED", PAGE_REQUESTS)
    report("dashboard_median_ms", latency.median_ms, "ms")
    report("dashboard_p95_ms", latency.p95_ms, "ms")
    report("dashboard_queries", latency.queries, "queries")
