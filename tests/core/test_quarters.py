"""The calendar quarters every report of the portal uses (core.quarters)."""

from datetime import date

import pytest

from core import quarters


@pytest.mark.parametrize(
    ("day", "end"),
    [
        (date(2025, 1, 1), date(2025, 3, 31)),
        (date(2025, 6, 30), date(2025, 6, 30)),
        (date(2024, 11, 5), date(2024, 12, 31)),
    ],
)
def test_the_quarter_a_day_falls_in(day, end):
    assert quarters.quarter_end_of(day) == end
    assert quarters.quarter_start(day) == date(end.year, end.month - 2, 1)


def test_neighbouring_quarters_cross_the_year():
    assert quarters.next_quarter_end(date(2024, 12, 31)) == date(2025, 3, 31)
    assert quarters.previous_quarter_end(date(2025, 2, 10)) == date(2024, 12, 31)


def test_the_last_complete_quarter_is_never_the_one_under_way():
    assert quarters.last_complete_quarter_end(date(2025, 9, 30)) == date(2025, 6, 30)
    assert quarters.last_complete_quarter_end(date(2025, 10, 1)) == date(2025, 9, 30)


def test_quarters_between_include_both_ends():
    assert quarters.quarters_between(date(2024, 11, 5), date(2025, 4, 1)) == [
        date(2024, 12, 31),
        date(2025, 3, 31),
        date(2025, 6, 30),
    ]
    assert quarters.quarters_between(date(2025, 4, 1), date(2025, 1, 1)) == []


@pytest.mark.parametrize("text", ["2025-Q3", "2025 q3", "Q3 2025", "2025Q3"])
def test_a_quarter_is_read_in_the_ways_people_write_it(text):
    assert quarters.parse_quarter(text) == date(2025, 9, 30)
    assert quarters.quarter_label(quarters.parse_quarter(text)) == "2025-Q3"


@pytest.mark.parametrize("text", ["2025-Q5", "Q0 2025", "2025", ""])
def test_anything_else_is_refused(text):
    with pytest.raises(ValueError, match="not a quarter"):
        quarters.parse_quarter(text)


def test_a_quarter_end_must_be_one():
    assert quarters.parse_quarter_end("2025-03-31") == date(2025, 3, 31)
    with pytest.raises(ValueError, match="not the last day of a quarter"):
        quarters.parse_quarter_end("2025-03-30")
