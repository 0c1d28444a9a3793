"""Template side of core.lists: sortable column headers and the window of page numbers.

{% load lists %}
<th>…</th> → {% sort_th "held" _("Held on") %}  or  {% sort_th "amount" _("Amount") "text-end" %}
"""

from __future__ import annotations

from typing import Any

from django import template
from django.core.paginator import Page

from core.lists import CURSOR_PARAM, PAGE_PARAM, SORT_PARAM, Sorting

register = template.Library()


@register.inclusion_tag("includes/sort_th.html", takes_context=True)
def sort_th(context: template.Context, key: str, label: Any, css_class: str = "") -> dict[str, Any]:
    """A column header; a link that sorts by the column (then reverses) when the list's SortSpec has
    the key, plain text otherwise."""
    sorting: Sorting | None = context.get("sorting")
    request = context.get("request")
    sortable = bool(sorting and request is not None and key in sorting.spec.keys)
    result: dict[str, Any] = {"label": label, "css_class": css_class, "sortable": sortable}
    if sortable:
        params = request.GET.copy()
        params[SORT_PARAM] = sorting.next_param(key)
        params.pop(PAGE_PARAM, None)
        params.pop(CURSOR_PARAM, None)  # a position in the other order means nothing in this one
        result.update(url="?" + params.urlencode(), state=sorting.state_of(key))
    return result


@register.simple_tag
def page_window(page: Page, on_each_side: int = 2, on_ends: int = 1) -> list[int | str]:
    """The page numbers to offer around the current one, with the paginator's ellipsis ("…") for
    the numbers left out: 1 … 4 5 [6] 7 8 … 157."""
    return list(page.paginator.get_elided_page_range(page.number, on_each_side=on_each_side, on_ends=on_ends))
