"""Demo PO scorecards: the last four complete quarters and the current one to date, computed from the
demo's results, releases, spending and loans (run last among the money seeders). Computing again stores
the same figures, so the seeder can run any number of times."""

from __future__ import annotations

from django.utils import timezone

from finance import scorecards

QUARTERS_BACK = 4


def quarters(today=None) -> list:
    """The last QUARTERS_BACK complete quarters, oldest first, then the current one."""
    today = today or timezone.localdate()
    ends = [scorecards.quarter_end_of(today)]
    for _ in range(QUARTERS_BACK):
        ends.append(scorecards.previous_quarter_end(ends[-1]))
    return sorted(ends)


def seed(stdout) -> None:
    today = timezone.localdate()
    written = {quarter: scorecards.compute(quarter, today=today) for quarter in quarters(today)}
    stdout.write(
        "  finance: PO scorecards for "
        + ", ".join(
            f"{scorecards.quarter_label(quarter, today)} ({count} POs)" for quarter, count in written.items()
        )
    )
