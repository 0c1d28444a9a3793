"""Fail the background jobs whose worker died (what beat and every starting worker do), e.g. when no
worker runs or after an incident."""

from django.core.management.base import BaseCommand

from core import jobs


class Command(BaseCommand):
    help = (
        "Mark failed the aggregation runs, results reports and imports left running by a worker that "
        "died, and free their locks."
    )

    def handle(self, *args, **options) -> None:
        counts = jobs.sweep()
        swept = ", ".join(f"{name} {count}" for name, count in counts.items())
        self.stdout.write(f"marked failed: {swept or 'nothing watched'}")
