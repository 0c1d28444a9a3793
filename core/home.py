"""Panels on the role home pages. Apps register theirs (e.g. "waiting on you") in `ready()`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from core.roles import Role


@dataclass(frozen=True)
class HomePanel:
    key: str
    template_name: str
    roles: tuple[Role, ...]
    # Returns the panel's context, or None when the panel has nothing to show.
    get_context: Callable = field(compare=False)
    order: int = 100


_PANELS: dict[str, HomePanel] = {}


def register(panel: HomePanel) -> None:
    _PANELS[panel.key] = panel


def panels_for(user) -> list[tuple[HomePanel, dict]]:
    rendered = []
    for panel in sorted(_PANELS.values(), key=lambda p: p.order):
        if not user.has_role(*panel.roles):
            continue
        context = panel.get_context(user)
        if context is not None:
            rendered.append((panel, context))
    return rendered
