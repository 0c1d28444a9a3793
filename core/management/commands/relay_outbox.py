"""Publish the tasks waiting in the outbox (what beat does every few seconds), e.g. after an outage."""

from django.core.management.base import BaseCommand

from core import outbox


class Command(BaseCommand):
    help = "Publish the queued tasks the broker has not taken yet, and say what waits."

    def handle(self, *args, **options) -> None:
        result = outbox.relay(limit=10_000)
        backlog = outbox.backlog()
        self.stdout.write(
            f"published {result['published']}, published again {result['republished']}, "
            f"refused {result['failed']}; waiting {backlog['waiting']} "
            f"(oldest {backlog['oldest_seconds']} s)"
        )
