"""Calendar quarters, the period of the portal's reports (IFRs, spending reports, scorecards, the
results reports): one set of date rules for every caller."""

from __future__ import annotations

import calendar
import re
from datetime import date, timedelta

from django.utils import timezone


def quarter_end_of(day: date) -> date:
    """The last day of the calendar quarter `day` falls in."""
    month = ((day.month - 1) // 3 + 1) * 3
    return date(day.year, month, calendar.monthrange(day.year, month)[1])


def is_quarter_end(day: date) -> bool:
    return day == quarter_end_of(day)


def quarter_start(quarter_end: date) -> date:
    """The first day of the quarter of `quarter_end` (any day of it will do)."""
    quarter_end = quarter_end_of(quarter_end)
    return date(quarter_end.year, quarter_end.month - 2, 1)


def next_quarter_end(quarter_end: date) -> date:
    return quarter_end_of(quarter_end_of(quarter_end) + timedelta(days=1))


def previous_quarter_end(quarter_end: date) -> date:
    return quarter_start(quarter_end) - timedelta(days=1)


def last_complete_quarter_end(today: date | None = None) -> date:
    """The last quarter that has ended (its last day is before today)."""
    return previous_quarter_end(quarter_end_of(today or timezone.localdate()))


def quarters_between(first: date, last: date) -> list[date]:
    """The quarter ends from the quarter of `first` to that of `last`, oldest first."""
    ends, current, last = [], quarter_end_of(first), quarter_end_of(last)
    while current <= last:
        ends.append(current)
        current = next_quarter_end(current)
    return ends


def quarter_label(quarter_end: date) -> str:
    """E.g. "2025-Q3"."""
    return f"{quarter_end.year}-Q{(quarter_end.month - 1) // 3 + 1}"


_QUARTER = re.compile(r"^\s*(?:(\d{4})\s*[-/ ]?\s*Q([1-4])|Q([1-4])\s*[-/ ]?\s*(\d{4}))\s*$", re.IGNORECASE)


def parse_quarter(text: str) -> date:
    """ "2025-Q3" (also "2025 Q3", "Q3 2025", "2025q3") → 30 Sep 2025. Raises ValueError."""
    match = _QUARTER.match(str(text or ""))
    if not match:
        raise ValueError(f"not a quarter: {text!r}")
    year = int(match.group(1) or match.group(4))
    number = int(match.group(2) or match.group(3))
    return quarter_end_of(date(year, number * 3, 1))


def parse_quarter_end(text: str) -> date:
    """A quarter's last day from "YYYY-MM-DD" (ValueError if it is not a date or not a quarter's end)."""
    day = date.fromisoformat(str(text).strip())
    if not is_quarter_end(day):
        raise ValueError(f"not the last day of a quarter: {text!r}")
    return day
