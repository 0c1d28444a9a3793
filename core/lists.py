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

from django.conf import settings
from django.contrib import messages
from django.core import signing
from django.core.exceptions import FieldDoesNotExist
from django.core.paginator import Page, Paginator
from django.db import connection
from django.db.models import F, Model, Q, QuerySet
from django.db.models.expressions import BaseExpression, OrderBy
from django.http import HttpRequest, QueryDict
from django.utils.translation import gettext as _

SORT_PARAM = "sort"
PER_PAGE_PARAM = "per_page"
PAGE_PARAM = "page"
# Keyset pages (large lists): an opaque, signed position in the list's order (see KeysetPage).
CURSOR_PARAM = "cursor"
EXPORT_PARAM = "export"
PAGE_SIZES: tuple[int, ...] = (25, 50, 100)
DEFAULT_PER_PAGE = 50
# Parameters that change how a list is shown, not which rows it holds.
VIEW_PARAMS = frozenset({SORT_PARAM, PER_PAGE_PARAM, PAGE_PARAM, CURSOR_PARAM, EXPORT_PARAM})
# Parameters never kept in a saved filter: a saved filter reopens the list at its first page.
NOT_SAVED = frozenset({PAGE_PARAM, CURSOR_PARAM, EXPORT_PARAM})
CURSOR_SALT = "core.lists.cursor"
# Where a refused "Save these filters" leaves the name typed and the reason, for the list to show.
SAVED_FILTER_REFUSAL = "saved_filter_refused"

Term = str | BaseExpression


def _ordered(
    term: Term, descending: bool, model: type[Model] | None = None, *, reverse: bool = False
) -> OrderBy:
    """One ORM ordering term in the asked direction ("-field": the other way), empty values last
    either way; `reverse`: the exact reverse of that order (the other direction, empty values first),
    to read a list backwards.

    With the model known, a column that cannot be empty is ordered without "NULLS LAST": PostgreSQL
    matches an index to `x DESC` but not to `x DESC NULLS LAST`, even on a NOT NULL column."""
    if isinstance(term, str) and term.startswith("-"):
        term, descending = term[1:], not descending
    expression = F(term) if isinstance(term, str) else term
    descending = descending != reverse
    if isinstance(term, str) and model is not None and not is_nullable(model, term):
        return expression.desc() if descending else expression.asc()
    if reverse:
        return expression.desc(nulls_first=True) if descending else expression.asc(nulls_first=True)
    return expression.desc(nulls_last=True) if descending else expression.asc(nulls_last=True)


def is_nullable(model: type[Model], path: str) -> bool:
    """Whether the field at `path` (`a__b`) can be empty for a row of `model`: the field itself, a
    nullable relation on the way, or a reverse one-to-one (the related row may not exist). A path
    that is not a field (an annotation) counts as nullable."""
    current = model
    for name in path.split("__"):
        if name == "pk":
            field: Any = current._meta.pk
        else:
            try:
                field = current._meta.get_field(name)
            except FieldDoesNotExist:
                return True
        if field.auto_created and not field.concrete:  # a reverse relation
            return True
        if getattr(field, "null", False):
            return True
        if field.is_relation:
            current = field.related_model
    return False


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

    def order_by(self, model: type[Model] | None = None) -> list[Term | OrderBy]:
        if not self.key:
            return list(self.spec.fallback)
        terms = self.spec.keys[self.key]
        ordering: list[Term | OrderBy] = [_ordered(term, self.descending, model) for term in terms]
        if not any(term in ("pk", "id") for term in terms):
            ordering.append(_ordered("pk", self.descending, model))
        return ordering

    def keyset_terms(self) -> list[tuple[str, bool]] | None:
        """The order as (field path, descending) pairs ending with the primary key, which keyset
        pages compare on; None when a term is an expression (such a list keeps page numbers)."""
        raw = self.spec.keys[self.key] if self.key else self.spec.fallback
        flip = self.descending if self.key else False
        terms: list[tuple[str, bool]] = []
        for term in raw:
            if not isinstance(term, str):
                return None
            terms.append((term.removeprefix("-"), term.startswith("-") != flip))
        if not any(path in ("pk", "id") for path, _descending in terms):
            terms.append(("pk", self.descending if self.key else terms[-1][1] if terms else True))
        return terms

    def apply(self, rows):
        """A queryset ordered in the database; a list of objects (figures computed in Python) sorted
        by the same attribute paths (`a__b` reads `a.b`), empty values last."""
        if isinstance(rows, QuerySet):
            return rows.order_by(*self.order_by(rows.model))
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


# --- Keyset pages: large lists, whatever the depth --------------------------------------------------


def count_limit() -> int:
    """Above this many rows a large list says "more than 10,000" instead of counting them all;
    page numbers reach no deeper than this either (settings.LIST_COUNT_LIMIT)."""
    return settings.LIST_COUNT_LIMIT


def estimated_rows(model: type[Model]) -> int:
    """How many rows the model's table holds, as PostgreSQL's statistics estimate it (a catalogue
    read, not a count of 800,000 rows; 0 for a table never analysed). Other databases count them."""
    if connection.vendor != "postgresql":
        return model._base_manager.count()
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [model._meta.db_table])
        row = cursor.fetchone()
    return max(int(row[0]), 0) if row else 0


def capped_count(rows: QuerySet, limit: int) -> tuple[int, bool]:
    """(the number of rows, False) up to `limit`; (limit, True) above it. Counts at most limit + 1
    index entries instead of all 1.5 M readings."""
    found = rows.order_by().values("pk")[: limit + 1].count()
    return (limit, True) if found > limit else (found, False)


def keyset_order(terms: Sequence[tuple[str, bool]], model: type[Model], *, reverse: bool = False) -> list:
    """The ORM ordering of `terms` (empty values last), or its exact reverse (to read backwards)."""
    return [_ordered(path, descending, model, reverse=reverse) for path, descending in terms]


def keyset_filter(
    terms: Sequence[tuple[str, bool]], values: Sequence[Any], model: type[Model], *, before: bool = False
) -> Q:
    """The rows strictly after (or `before`) the row whose sort values are `values`, in the order of
    `terms` with empty values last: (t1 after v1) or (t1 = v1 and t2 after v2) or ... The first
    term's bound is repeated on its own (t1 >= v1), so that an index on the order is scanned from
    the position instead of from its start."""
    clauses: list[Q] = []
    equal = Q()
    for (path, descending), value in zip(terms, values, strict=True):
        nullable = is_nullable(model, path)
        strict: Q | None
        if value is None:
            # Empty values come last: nothing is after them, every filled value is before them.
            strict = Q(**{f"{path}__isnull": False}) if before and nullable else None
            same = Q(**{f"{path}__isnull": True})
        else:
            lookup = ("gt" if descending else "lt") if before else ("lt" if descending else "gt")
            strict = Q(**{f"{path}__{lookup}": value})
            if nullable and not before:
                strict |= Q(**{f"{path}__isnull": True})
            same = Q(**{path: value})
        if strict is not None:
            clauses.append(equal & strict)
        equal &= same
    if not clauses:
        return Q(pk__in=[])
    condition = clauses[0]
    for clause in clauses[1:]:
        condition |= clause
    (path, descending), value = terms[0], values[0]
    if value is not None and not is_nullable(model, path):
        bound = ("gte" if descending else "lte") if before else ("lte" if descending else "gte")
        condition &= Q(**{f"{path}__{bound}": value})
    return condition


def _plain(value: Any) -> Any:
    """A sort value as JSON keeps it (the ORM reads dates and decimals back from their text)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def keyset_values(row: Any, terms: Sequence[tuple[str, bool]]) -> list[Any]:
    return [_plain(_read(row, "pk" if path == "id" else path)) for path, _descending in terms]


def encode_cursor(sort_param: str, values: list[Any], start: int, *, before: bool) -> str:
    """An opaque position: signed, so that a tampered one is refused rather than read."""
    payload = {"s": sort_param, "v": values, "n": start, "b": before}
    return signing.dumps(payload, salt=CURSOR_SALT, compress=True)


def decode_cursor(token: str, sort_param: str, size: int) -> tuple[list[Any], int, bool] | None:
    """(sort values, start index of the page, backwards?) of a cursor made for this order; None for
    one tampered with, cut short or made for another order."""
    try:
        payload = signing.loads(token, salt=CURSOR_SALT)
    except (signing.BadSignature, ValueError, TypeError, UnicodeDecodeError):
        return None
    if not isinstance(payload, dict) or payload.get("s") != sort_param:
        return None
    values, start, before = payload.get("v"), payload.get("n"), payload.get("b")
    if not isinstance(values, list) or len(values) != size or not isinstance(before, bool):
        return None
    if not isinstance(start, int) or isinstance(start, bool) or start < 1:
        return None
    return values, start, before


@dataclass
class KeysetPage:
    """One page of a large list, read by position rather than by OFFSET: the same two queries (a
    capped count and the rows) on page 1 and on page 1,000. Stands in for Django's Page (and its
    paginator) in the list templates: `start_index`, `end_index`, `count`, `count_capped`, and the
    queries of the next, previous and first pages."""

    object_list: list[Any]
    start: int
    count: int
    count_capped: bool
    next_query: str = ""
    previous_query: str = ""
    first_query: str = ""

    def __iter__(self):
        return iter(self.object_list)

    def __len__(self) -> int:
        return len(self.object_list)

    @property
    def paginator(self) -> KeysetPage:
        return self

    @property
    def has_next(self) -> bool:
        return bool(self.next_query)

    @property
    def has_previous(self) -> bool:
        return bool(self.previous_query)

    @property
    def has_other_pages(self) -> bool:
        return self.has_next or self.has_previous

    def start_index(self) -> int:
        return self.start if self.object_list else 0

    def end_index(self) -> int:
        return self.start + len(self.object_list) - 1 if self.object_list else 0


def rows_by_key(rows: QuerySet, window: QuerySet) -> list[Any]:
    """The rows of `window` (a slice of `rows`, filtered and ordered), in its order: their keys
    first, then the rows with what they show (`rows`' joins) by key. Read at once, the rows' joins
    came before the filter and the order: at 80,000 MEs, the ME list of a district filtered on
    verified practices joined the 761 matching MEs to their profiles, POs, sub-sectors and upazilas
    (a scan of every profile) to show 50 of them: 36 ms, against 8 ms for the keys and 5 for the rows."""
    keys = list(window.values_list("pk", flat=True))
    if not keys:
        return []
    found = {row.pk: row for row in rows.order_by().filter(pk__in=keys)}
    return [found[key] for key in keys if key in found]  # a row deleted meanwhile is left out


def keyset_page(
    request: HttpRequest, rows: QuerySet, sorting: Sorting, terms: list[tuple[str, bool]], per_page: int
) -> KeysetPage:
    """The page of `rows` the request asks for: by `?cursor=` (from Next/Previous), else by an old
    `?page=N` link within the first LIST_COUNT_LIMIT rows, else the first page. A cursor that is not
    valid (tampered with, or of another order) gives the first page with a message, never an error."""
    params = request.GET
    limit = count_limit()
    count, capped = capped_count(rows, limit)
    model = rows.model
    start, position, before = 1, None, False
    token = params.get(CURSOR_PARAM)
    if token:
        decoded = decode_cursor(token, sorting.param, len(terms))
        if decoded is None:
            messages.warning(
                request, _("That page link is not valid any more: here is the first page of the list.")
            )
        else:
            position, start, before = decoded
    elif params.get(PAGE_PARAM):
        try:
            number = int(params[PAGE_PARAM])
        except ValueError:
            number = 1
        offset = (number - 1) * per_page
        if number > 1 and offset < min(count, limit):
            start = offset + 1
        elif number > 1:
            messages.info(
                request,
                _("Pages this far down are reached with Next and Previous: here is the first page."),
            )
    if position is not None:
        condition = keyset_filter(terms, position, model, before=before)
        ordered = rows.filter(condition).order_by(*keyset_order(terms, model, reverse=before))
        fetched = rows_by_key(rows, ordered[: per_page + 1])
    else:
        ordered = rows.order_by(*keyset_order(terms, model))
        fetched = rows_by_key(rows, ordered[start - 1 : start - 1 + per_page + 1])
    more = len(fetched) > per_page
    fetched = fetched[:per_page]
    if before:
        fetched.reverse()
        has_previous, has_next = more, True
        if not more:
            start = 1
    else:
        has_previous, has_next = start > 1, more

    def query(**changes: str) -> str:
        kept = query_without(params, (PAGE_PARAM, CURSOR_PARAM))
        for name, value in changes.items():
            kept[name] = value
        return "?" + kept.urlencode()

    page = KeysetPage(fetched, start, count, capped, first_query=query())
    if fetched and has_next:
        values = keyset_values(fetched[-1], terms)
        page.next_query = query(
            cursor=encode_cursor(sorting.param, values, start + len(fetched), before=False)
        )
    if fetched and has_previous:
        values = keyset_values(fetched[0], terms)
        page.previous_query = query(
            cursor=encode_cursor(sorting.param, values, max(1, start - per_page), before=True)
        )
    return page


@dataclass
class Listing:
    """One request's view of a list: its order, page size, page, and whether it is filtered.

    `keep`: parameters that are not filters (kept when the filters are cleared, not counted as a
    filter); `defaults`: filters applied when the URL does not mention them; `saved_filters`: whether
    the list offers to save its filters (lists without filters do not); `keyset`: a large list, paged
    by position (Next/Previous carrying a cursor, a count capped at LIST_COUNT_LIMIT: see KeysetPage)
    instead of numbered pages."""

    request: HttpRequest
    sort: SortSpec | None = None
    per_page: int = DEFAULT_PER_PAGE
    keep: Sequence[str] = ()
    defaults: Mapping[str, str] = field(default_factory=dict)
    saved_filters: bool = True
    keyset: bool = False

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
        terms = self.sorting.keyset_terms() if self.keyset and self.sorting else None
        page: Page | KeysetPage
        if terms is not None and isinstance(rows, QuerySet):
            page = keyset_page(self.request, rows, self.sorting, terms, self.per_page)
        else:
            page = self.paginate(rows)
        params = self.request.GET
        return {
            "page_obj": page,
            "paginator": page.paginator,
            "keyset_page": isinstance(page, KeysetPage),
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
