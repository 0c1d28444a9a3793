"""Days counted from the day a test runs, not the day pytest collected it.

A parametrize list is built at collection; a run that crosses midnight in Dhaka (18:00 UTC) would then
test "tomorrow" with a day that has become today. Put `FromToday(1)` in the list and `resolved()` it in
the test.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.utils import timezone


@dataclass(frozen=True)
class FromToday:
    days: int

    def __repr__(self) -> str:  # in a failing test's report: "today+1"
        return f"today{self.days:+d}"

    def day(self) -> date:
        return timezone.localdate() + timedelta(days=self.days)


def resolved(value):
    """`value` with every FromToday in it (itself, or a dict's values) made the day it names."""
    if isinstance(value, FromToday):
        return value.day()
    if isinstance(value, dict):
        return {key: resolved(item) for key, item in value.items()}
    return value
