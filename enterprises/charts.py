"""Small server-side SVG line charts of an enterprise's KPI readings: no chart library to download
on a slow field-office link, and nothing for the CSP to allow."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from enterprises.models import Kpi, KpiDirection, KpiReading

WIDTH, HEIGHT, PAD_X, PAD_Y = 320, 110, 8, 12


@dataclass(frozen=True)
class ChartPoint:
    x: float
    y: float
    period: date
    value: Decimal
    is_baseline: bool


@dataclass(frozen=True)
class KpiChart:
    kpi: Kpi
    points: list[ChartPoint]
    polyline: str
    low: Decimal
    high: Decimal
    baseline: Decimal | None
    latest: Decimal
    # Change of the latest reading against the baseline, in percent (None without a baseline).
    change_percent: Decimal | None
    improved: bool | None
    width: int = WIDTH
    height: int = HEIGHT


def kpi_charts(readings: list[KpiReading]) -> list[KpiChart]:
    """One chart per KPI, readings in month order (readings need `kpi` loaded)."""
    by_kpi: dict[int, list[KpiReading]] = defaultdict(list)
    for reading in readings:
        by_kpi[reading.kpi_id].append(reading)
    charts = []
    for series in by_kpi.values():
        series.sort(key=lambda r: r.period)
        kpi = series[0].kpi
        values = [r.value for r in series]
        # The axis starts at zero (for values that are never negative): month-to-month noise then
        # looks like noise, and the trend against the baseline shows.
        low, high = min(Decimal(0), min(values)), max(values)
        span = (high - low) or Decimal(1)
        first, last = series[0].period, series[-1].period
        months = max(1, (last.year - first.year) * 12 + last.month - first.month)
        points = []
        for reading in series:
            offset = (reading.period.year - first.year) * 12 + reading.period.month - first.month
            x = PAD_X + (WIDTH - 2 * PAD_X) * (offset / months if len(series) > 1 else 0.5)
            y = HEIGHT - PAD_Y - float((reading.value - low) / span) * (HEIGHT - 2 * PAD_Y)
            points.append(
                ChartPoint(round(x, 1), round(y, 1), reading.period, reading.value, reading.is_baseline)
            )
        baseline = next((r.value for r in series if r.is_baseline), None)
        latest = series[-1].value
        change = improved = None
        if baseline is not None and series[-1].period > next(r.period for r in series if r.is_baseline):
            if baseline:
                change = ((latest - baseline) / baseline * 100).quantize(Decimal("1"))
            improved = latest < baseline if kpi.direction == KpiDirection.LOWER else latest > baseline
        charts.append(
            KpiChart(
                kpi=kpi,
                points=points,
                polyline=" ".join(f"{p.x},{p.y}" for p in points),
                low=low,
                high=high,
                baseline=baseline,
                latest=latest,
                change_percent=change,
                improved=improved,
            )
        )
    charts.sort(key=lambda chart: (chart.kpi.position, chart.kpi.code))
    return charts
