""" "Waiting on you": what a user must act on now, oldest first, gathered from every app."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone


@dataclass(frozen=True)
class WaitingItem:
    reference: str
    title: str
    url: str
    # What the user is expected to do, e.g. "Shortlist · Reject · Return for revision".
    what: str
    # Since when it waits (the moment the object reached its current state).
    since: datetime
    due: datetime | None = None
    note: str = ""

    @property
    def overdue(self) -> bool:
        return self.due is not None and self.due < timezone.now()


Provider = Callable[[object], list[WaitingItem]]
_PROVIDERS: list[Provider] = []


def register(*providers: Provider) -> None:
    for provider in providers:
        if provider not in _PROVIDERS:
            _PROVIDERS.append(provider)


def items_for(user) -> list[WaitingItem]:
    items: list[WaitingItem] = []
    for provider in _PROVIDERS:
        items.extend(provider(user))
    return sorted(items, key=lambda item: item.since)
