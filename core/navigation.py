"""What each role may open: one registry feeds the navigation bar and the role home pages.

Apps register their pages in `AppConfig.ready()`, so a link appears only once its page exists.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import lru_cache

from django.conf import settings
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils.functional import Promise

from core.roles import Role


@dataclass(frozen=True)
class NavItem:
    label: str | Promise
    url_name: str
    description: str | Promise = ""
    # Empty means every signed-in user.
    roles: tuple[Role, ...] = ()
    order: int = 100
    # An extra condition on the user, e.g. "is staff" for the admin site.
    condition: Callable | None = field(default=None, compare=False)
    # Items of one group share a drop-down menu in the navigation bar (when there are several).
    group: str | Promise = ""

    def allowed(self, user) -> bool:
        if not user.is_authenticated:
            return False
        if self.roles and not user.has_role(*self.roles):
            return False
        return self.condition is None or bool(self.condition(user))

    @property
    def url(self) -> str:
        return page_url(self.url_name)


def page_url(url_name: str) -> str:
    """The address of a page without arguments, resolved once per process (and per URL
    configuration and script prefix): the navigation bar of every page asks for each of its links up
    to three times (href, active, aria-current), 170 resolutions on a PMU officer's page."""
    return _resolved(url_name, settings.ROOT_URLCONF, get_urlconf(), get_script_prefix())


@lru_cache(maxsize=1024)
def _resolved(url_name: str, _root: str, urlconf: str | None, _prefix: str) -> str:
    return reverse(url_name, urlconf=urlconf)


_REGISTRY: list[NavItem] = []


def register(*items: NavItem, group: str | Promise = "") -> None:
    """Add pages to the navigation; with `group`, they share that drop-down menu."""
    for item in items:
        if group:
            item = replace(item, group=group)
        if item not in _REGISTRY:
            _REGISTRY.append(item)
    _REGISTRY.sort(key=lambda item: item.order)


def items_for(user) -> list[NavItem]:
    return [item for item in _REGISTRY if item.allowed(user)]


@dataclass(frozen=True)
class NavGroup:
    label: str | Promise
    items: list[NavItem]

    @property
    def urls(self) -> list[str]:
        return [item.url for item in self.items]


def menu_for(user) -> list[NavItem | NavGroup]:
    """The navigation bar: items in registry order, grouped into menus where a group has several."""
    entries: list[NavItem | NavGroup] = []
    groups: dict[str, NavGroup] = {}
    for item in items_for(user):
        if not item.group:
            entries.append(item)
            continue
        key = str(item.group)
        if key not in groups:
            groups[key] = NavGroup(item.group, [])
            entries.append(groups[key])
        groups[key].items.append(item)
    return [
        entry.items[0] if isinstance(entry, NavGroup) and len(entry.items) == 1 else entry
        for entry in entries
    ]


def items_by_role(user) -> list[tuple[Role, list[NavItem]]]:
    """For the home page: each role the user holds with the pages that role opens."""
    sections = []
    for role in Role:
        if role not in user.roles:
            continue
        items = [item for item in _REGISTRY if role in item.roles and item.allowed(user)]
        if items:
            sections.append((role, items))
    return sections


def common_items(user) -> list[NavItem]:
    return [item for item in _REGISTRY if not item.roles and item.allowed(user)]
