"""What every list page of the portal does the same way: sorting by a column, a choice of page size,
numbered pagination, telling "nothing yet" from "nothing matches these filters", and the user's
saved filters of the list.

A view builds a `Listing` from the request with the list's `SortSpec`, orders its rows with it (the
export downloads them in the same order), and renders `listing.page(rows)` into its template:

    listing = Listing(request, sort=SORTS, per_page=50)
    rows = listing.order(filterset.qs)
    ...
    return render(request, "app/list.html", {**listing.page(rows), ...})

Templates use `{% sort_th "key" _("Header") %}` (core.templatetags.lists) for sortable headers,
`includes/pagination.html` under the table, `includes/empty_state.html` in the table's `{% empty %}`
row and `includes/saved_filters.html` next to the filters.

Only the keys of a list's `SortSpec` can be asked for: anything else in `?sort=` falls back to the
list's default order, so an address typed by hand or kept from an older version never fails.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import F, QuerySet
from django.db.models.expressions import BaseExpression, OrderBy
from django.http import HttpRequest, QueryDict

SORT_PARAM = "sort"
PER_PAGE_PARAM = "per_page"
PAGE_PARAM = "page"
EXPORT_PARAM = "export"
PAGE_SIZES: tuple[int, ...] = (25, 50, 100)
DEFAULT_PER_PAGE = 50
# Parameters that change how a list is shown, not which rows it holds.
VIEW_PARAMS = frozenset({SORT_PARAM, PER_PAGE_PARAM, PAGE_PARAM, EXPORT_PARAM})
# Parameters never kept in a saved filter: a saved filter reopens the list at its first page.
NOT_SAVED = frozenset({PAGE_PARAM, EXPORT_PARAM})
# Where a refused "Save these filters" leaves the name typed and the reason, for the list to show.
SAVED_FILTER_REFUSAL = "saved_filter_refused"

Term = str | BaseExpression


def _ordered(term: Term, descending: bool) -> OrderBy:
    """One ORM ordering term in the asked direction ("-field": the other way), empty values last
    either way."""
    if isinstance(term, str) and term.startswith("-"):
        term, descending = term[1:], not descending
    expression = F(term) if isinstance(term, str) else term
    return expression.desc(nulls_last=True) if descending else expression.asc(nulls_last=True)


@dataclass(frozen=True)
class SortSpec:
    """The columns a list may be sorted by: key (as in `?sort=key` or `?sort=-key`) → the ORM fields
    (or attribute paths, for lists of plain objects) ordered by, ascending ("-field" for one that runs
    the other way, e.g. a date that gets earlier as the days past it grow). The primary key is added
    as the last term, so rows with equal values keep one order from page to page.

    `default` ("key" or "-key") is the order when none is asked; without one, `fallback` is used and
    no column is shown as sorted."""

    keys: Mapping[str, tuple[Term, ...]]
    default: str = ""
    fallback: tuple[Term, ...] = ("-pk",)

    def __post_init__(self) -> None:
        default_key = self.default.removeprefix("-")
        if default_key and default_key not in self.keys:
            raise ValueError(f"The default sort {self.default!r} is not one of the keys {sorted(self.keys)}.")

    def choose(self, asked: str | None) -> Sorting:
        """The sorting asked for in the URL, or the default when the key is not one of this list's."""
        asked = (asked or "").strip()
        key = asked.removeprefix("-")
        if key in self.keys:
            return Sorting(self, key, asked.startswith("-"), asked=True)
        default_key = self.default.removeprefix("-")
        return Sorting(self, default_key, self.default.startswith("-"), asked=False)


@dataclass(frozen=True)
class Sorting:
    """The order a list is shown in: the key of its `SortSpec` ("" for its fallback order)."""

    spec: SortSpec
    key: str
    descending: bool
    asked: bool = False

    @property
    def param(self) -> str:
        """The value of `?sort=` that gives this order."""
        return f"-{self.key}" if self.descending else self.key

    def order_by(self) -> list[Term | OrderBy]:
        if not self.key:
            return list(self.spec.fallback)
        terms = self.spec.keys[self.key]
        ordering: list[Term | OrderBy] = [_ordered(term, self.descending) for term in terms]
        if not any(term in ("pk", "id") for term in terms):
            ordering.append(_ordered("pk", self.descending))
        return ordering

    def apply(self, rows):
        """A queryset ordered in the database; a list of objects (figures computed in Python) sorted
        by the same attribute paths (`a__b` reads `a.b`), empty values last."""
        if isinstance(rows, QuerySet):
            return rows.order_by(*self.order_by())
        if not self.key:
            return list(rows)
        terms = [term for term in self.spec.keys[self.key] if isinstance(term, str)]
        ordered = list(rows)
        # Stable sorts from the last term to the first give the order of all the terms together.
        for term in reversed(terms):
            descending = self.descending
            if term.startswith("-"):
                term, descending = term[1:], not descending
            present = [row for row in ordered if _read(row, term) is not None]
            missing = [row for row in ordered if _read(row, term) is None]
            present.sort(key=lambda row, term=term: _read(row, term), reverse=descending)
            ordered = present + missing
        return ordered

    def state_of(self, key: str) -> str:
        """The `aria-sort` of a column: "ascending", "descending", or "" when not sorted by it."""
        if key != self.key:
            return ""
        return "descending" if self.descending else "ascending"

    def next_param(self, key: str) -> str:
        """What a click on a column's header asks for: the other direction of the current column,
        ascending for any other."""
        if key == self.key and not self.descending:
            return f"-{key}"
        return key


def _read(row: Any, path: str) -> Any:
    value = row
    for name in path.split("__"):
        value = value.get(name) if isinstance(value, Mapping) else getattr(value, name, None)
        if value is None:
            return None
    return value


def page_size(asked: str | None, default: int = DEFAULT_PER_PAGE) -> int:
    """One of PAGE_SIZES when asked for one, else the list's default."""
    try:
        size = int(asked or "")
    except ValueError:
        return default
    return size if size in PAGE_SIZES else default


def query_without(params: QueryDict, names: Iterable[str]) -> QueryDict:
    kept = params.copy()
    for name in names:
        kept.pop(name, None)
    return kept


def is_filtered(
    params: QueryDict, *, keep: Iterable[str] = (), defaults: Mapping[str, str] | None = None
) -> bool:
    """Whether the rows shown are narrowed by a filter: a non-blank parameter other than those of the
    view (sort, page size, page) or of `keep` (e.g. an "as of" date), or a default filter the URL
    does not override."""
    ignored = VIEW_PARAMS | set(keep)
    if any(value.strip() for name, values in params.lists() if name not in ignored for value in values):
        return True
    return any(value and name not in params for name, value in (defaults or {}).items())


def clear_filters_query(
    params: QueryDict, *, keep: Iterable[str] = (), defaults: Mapping[str, str] | None = None
) -> str:
    """The query of the same list without its filters: the sort, the page size and the `keep`
    parameters stay; a default filter is set blank, else it would apply again."""
    cleared = QueryDict(mutable=True)
    for name in (SORT_PARAM, PER_PAGE_PARAM, *keep):
        if params.get(name):
            cleared.setlist(name, params.getlist(name))
    for name in defaults or {}:
        cleared[name] = ""
    return cleared.urlencode()


@dataclass
class Listing:
    """One request's view of a list: its order, page size, page, and whether it is filtered.

    `keep`: parameters that are not filters (kept when the filters are cleared, not counted as a
    filter); `defaults`: filters applied when the URL does not mention them; `saved_filters`: whether
    the list offers to save its filters (lists without filters do not)."""

    request: HttpRequest
    sort: SortSpec | None = None
    per_page: int = DEFAULT_PER_PAGE
    keep: Sequence[str] = ()
    defaults: Mapping[str, str] = field(default_factory=dict)
    saved_filters: bool = True

    def __post_init__(self) -> None:
        params = self.request.GET
        self.sorting: Sorting | None = self.sort.choose(params.get(SORT_PARAM)) if self.sort else None
        self.per_page = page_size(params.get(PER_PAGE_PARAM), self.per_page)

    def order(self, rows):
        """The rows in the order asked for (or the list's default order)."""
        return self.sorting.apply(rows) if self.sorting else rows

    @property
    def filtered(self) -> bool:
        return is_filtered(self.request.GET, keep=self.keep, defaults=self.defaults)

    def paginate(self, rows) -> Page:
        """The page asked for; a page number past the end shows the last page, a wrong one the first."""
        return Paginator(rows, self.per_page).get_page(self.request.GET.get(PAGE_PARAM))

    def page(self, rows) -> dict[str, Any]:
        """The context every list template reads (see includes/pagination.html and friends)."""
        page = self.paginate(rows)
        params = self.request.GET
        return {
            "page_obj": page,
            "paginator": page.paginator,
            "sorting": self.sorting,
            "per_page": self.per_page,
            "page_sizes": PAGE_SIZES,
            "filtered": self.filtered,
            "clear_filters_url": "?" + clear_filters_query(params, keep=self.keep, defaults=self.defaults),
            "querystring": query_without(params, NOT_SAVED).urlencode(),
            **self._saved_filters_context(),
        }

    def _saved_filters_context(self) -> dict[str, Any]:
        from core.saved_filters import saved_filters_of

        user = self.request.user
        if not self.saved_filters or not user.is_authenticated:
            return {"saved_filters_enabled": False}
        path = self.request.path
        refused = {}
        session = getattr(self.request, "session", None)
        if session is not None and SAVED_FILTER_REFUSAL in session:
            stored = session[SAVED_FILTER_REFUSAL]
            if stored.get("path") == path:
                refused = session.pop(SAVED_FILTER_REFUSAL)
        return {
            "saved_filters_enabled": True,
            "saved_filters": saved_filters_of(user, path),
            "saved_filter_query": query_without(self.request.GET, NOT_SAVED).urlencode(),
            "saved_filter_name": refused.get("name", ""),
            "saved_filter_error": refused.get("error", ""),
        }
