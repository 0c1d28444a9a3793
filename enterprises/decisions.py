"""The decisions history of a field-data record with a lifecycle (a RECP profile, a suspected
duplicate, a cluster suggestion, a facility, an import): its log rows from core.lifecycle, newest
first, as the pages' timeline (`subprojects/_timeline.html`) and the API (`TimelineEntrySerializer`)
show them."""

from __future__ import annotations

from django.db.models import Model

from subprojects.timeline import TimelineEntry, transition_entries


def decisions_of(obj: Model) -> list[TimelineEntry]:
    """Who took which decision on `obj`, when, from which state to which, and why; newest first."""
    return transition_entries(obj)[::-1]
