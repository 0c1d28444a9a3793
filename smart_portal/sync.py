"""Incremental synchronisation for the API's clients (issue 16): `updated_since`, keyset pages with a
watermark, and conditional GET (ETag / Last-Modified, answered 304).

The protocol, as a client runs it every night:

1. `GET /api/v1/<resource>/?updated_since=<last watermark>` (the first run: `?cursor=`) answers the
   records changed at or after that time, in keyset pages ordered by (`updated_at`, `id`); follow
   `next` (it carries an opaque `cursor`) until it is null.
2. Every page carries `watermark`: the time up to which this run is complete. The run lists exactly
   the records whose `updated_at` lies in [`updated_since`, `watermark`); a record written later (or
   changed again while the client pages) has an `updated_at` at or after the watermark and is listed
   by the next run, which starts at `updated_since=<watermark>`. Consecutive runs never overlap and
   leave no gap: a record version is listed once, and the last run leaves the client with exactly the
   server's records.
3. `GET /api/v1/deletions/?resource=<resource>&since=<last deletions watermark>` (core.api.deletions)
   lists the records deleted meanwhile, by the same keyset paging.

Why the watermark is not simply "now". A row's `updated_at` is written before its transaction commits:
a transaction that stamped a row at 12:00:00.100 and commits at 12:00:00.300 is invisible to a read at
12:00:00.200, and a client that continued from "12:00:00.200" would never see that row. So, before
reading, the server takes the oldest start among the transactions that are writing right now
(PostgreSQL's `pg_stat_activity`: `xact_start` of the other backends holding a transaction id): every
row such a transaction writes is stamped after its start, and every transaction that starts later
stamps later still. Rows stamped before the watermark are therefore all committed, and visible, when
the page is read.

The two clocks. The database trigger (core.updated_at) stamps `QuerySet.update()` and every UPDATE
that leaves `updated_at` alone with the database's `clock_timestamp()`; `Model.save()` and inserts
are stamped by Django's `auto_now`, i.e. the application server's clock, a moment before the
statement reaches the database (and, when that statement is the transaction's first, before the
transaction exists for `pg_stat_activity`). The watermark is therefore moved back by
SYNC_CLOCK_MARGIN_SECONDS (default 2 s), which covers that moment and the skew between the
application's and the database's clocks (NTP keeps them within milliseconds); records changed within
the margin are simply listed by the next run. On SQLite (development and demo: one machine, one
writer at a time) the watermark is the current time less the same margin.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.exceptions import FieldDoesNotExist
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import CharField, F, Func, Model, Q, QuerySet
from django.db.models.expressions import OrderBy
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.cache import get_conditional_response, patch_cache_control, patch_vary_headers
from django.utils.dateparse import parse_datetime
from django.utils.functional import cached_property
from django.utils.http import http_date, parse_http_date_safe
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import ErrorDetail, ValidationError
from rest_framework.filters import BaseFilterBackend
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from smart_portal.api import StandardPagination

UPDATED_SINCE = "updated_since"
CURSOR = "cursor"
SYNC_FIELD = "updated_at"


# --- Timestamps in query parameters --------------------------------------------------------------


def invalid(parameter: str, message: str) -> ValidationError:
    """A 400 naming the query parameter (the contract's `fields`)."""
    return ValidationError({parameter: [ErrorDetail(message, code="invalid")]})


def parse_timestamp(value: str, parameter: str) -> datetime:
    """An ISO 8601 date and time with its timezone (`2026-01-31T18:00:00Z`, `...+06:00`); else 400.

    A `+` left unencoded in a URL arrives as a space (`...T18:00:00 06:00`): read as the `+` it was."""
    text = value.strip()
    if len(text) > 6 and text[-6] == " " and text[-5:-3].isdigit() and text[-3] == ":":
        text = f"{text[:-6]}+{text[-5:]}"
    try:
        parsed = parse_datetime(text)
        if parsed is not None and timezone.is_aware(parsed):
            parsed.astimezone(UTC)  # 9999-12-31T23:59:59-23:59 is past the last UTC time
    except (ValueError, OverflowError):
        parsed = None
    if parsed is None or timezone.is_naive(parsed):
        raise invalid(
            parameter,
            gettext("Enter a date and time in ISO 8601 with a timezone, e.g. 2026-01-31T18:00:00Z."),
        )
    return parsed


def iso(moment: datetime) -> str:
    """UTC, with microseconds and `Z`: exact, and safe in a URL (no `+`)."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


# --- Which views sync ----------------------------------------------------------------------------


def sync_field_of(view, model: type[Model] | None) -> str | None:
    """The timestamp a list of `view` syncs on (`updated_at`, or the view's `sync_field`), if its
    model has it; None for a model without one."""
    if model is None:
        return None
    name = getattr(view, "sync_field", SYNC_FIELD)
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:
        return None
    return (
        name if getattr(field, "concrete", False) and field.get_internal_type() == "DateTimeField" else None
    )


def is_list_operation(view) -> bool:
    """The list of a resource (a viewset's `list`; a plain GET view that lists): not a custom action."""
    action = getattr(view, "action", None)
    if action is not None or hasattr(view, "action_map"):
        return action == "list"
    return True


def view_model(view) -> type[Model] | None:
    """The model of a view's list, without a request (schema generation)."""
    from drf_spectacular.plumbing import get_view_model

    return get_view_model(view, emit_warnings=False)


def syncs(view, model: type[Model] | None) -> str | None:
    """The sync field of this list operation, or None when `updated_since`/`cursor` do not apply."""
    if view is None or not is_list_operation(view):
        return None
    return sync_field_of(view, model)


# --- updated_since: a filter on every list of a model with updated_at ------------------------------


class UpdatedSinceFilter(BaseFilterBackend):
    """`?updated_since=<ISO datetime>`: the records changed at or after that time (inclusive), on the
    list of every resource whose records have `updated_at`. With the default pagination it also
    switches the list to keyset pages with a watermark (SyncPagination)."""

    def filter_queryset(self, request, queryset: QuerySet, view) -> QuerySet:
        value = request.query_params.get(UPDATED_SINCE)
        if value is None or getattr(view, "sync_field", SYNC_FIELD) != SYNC_FIELD:
            return queryset
        if syncs(view, queryset.model) is None:
            return queryset
        since = parse_timestamp(value, UPDATED_SINCE)
        return queryset.filter(**{f"{SYNC_FIELD}__gte": since})

    def get_schema_operation_parameters(self, view) -> list[dict]:
        if getattr(view, "sync_field", SYNC_FIELD) != SYNC_FIELD or syncs(view, view_model(view)) is None:
            return []
        description = str(
            _("Changed at or after this time (inclusive), ISO 8601 with a timezone: `2026-01-31T18:00:00Z`.")
        )
        if keyset_capable(view):
            description += " " + str(_("Answered in keyset pages with a `watermark` (see `cursor`)."))
        return [
            {
                "name": UPDATED_SINCE,
                "required": False,
                "in": "query",
                "description": description,
                "schema": {"type": "string", "format": "date-time"},
            }
        ]


# --- The watermark --------------------------------------------------------------------------------


def clock_margin() -> timedelta:
    return timedelta(seconds=float(getattr(settings, "SYNC_CLOCK_MARGIN_SECONDS", 2.0)))


OLDEST_WRITER_SQL = """
SELECT min(xact_start) FROM pg_stat_activity
WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid() AND datname = current_database()
"""


def watermark(using: str = "default") -> datetime:
    """The time up to which a read made right after this call sees every committed change: no
    transaction still open can stamp a row before it (see the module's docstring)."""
    connection = connections[using]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # The clock first, then the writers: a transaction that starts after this reading of
            # the clock stamps its rows after it.
            cursor.execute("SELECT clock_timestamp()")
            now = cursor.fetchone()[0]
            # pg_stat_activity is read once per transaction; read it afresh.
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(OLDEST_WRITER_SQL)
            oldest = cursor.fetchone()[0]
        start = min(now, oldest) if oldest is not None else now
    else:
        start = timezone.now()
    return start - clock_margin()


# --- Keyset pagination ----------------------------------------------------------------------------


def encode_cursor(position: tuple[datetime, int] | None, mark: datetime, count: int | None = None) -> str:
    payload: dict[str, Any] = {"w": iso(mark)}
    if count is not None:
        payload["c"] = count
    if position is not None:
        payload.update({"u": iso(position[0]), "i": position[1]})
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str) -> tuple[tuple[datetime, int] | None, datetime, int | None]:
    """(position after which the page starts, watermark of the run, its count of records); 400 on
    `cursor` if unreadable."""
    message = gettext("This cursor is not valid: start again with an empty cursor or from `updated_since`.")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        payload = json.loads(raw)
        mark = _aware(payload["w"])
        position = None
        if "u" in payload or "i" in payload:
            row_id = payload["i"]
            if not isinstance(row_id, int) or isinstance(row_id, bool):
                raise ValueError(row_id)
            position = (_aware(payload["u"]), row_id)
        count = payload.get("c")
        if count is not None and (not isinstance(count, int) or isinstance(count, bool)):
            raise ValueError(count)
    except (
        ValueError,
        TypeError,
        KeyError,
        AttributeError,
        OverflowError,
        binascii.Error,
        UnicodeDecodeError,
    ):
        raise invalid(CURSOR, message) from None
    return position, mark, count


def _aware(value: Any) -> datetime:
    parsed = parse_datetime(value) if isinstance(value, str) else None
    if parsed is None or timezone.is_naive(parsed):
        raise ValueError(value)
    return parsed.astimezone(UTC)


def keyset_capable(view) -> bool:
    """Whether this operation pages by cursor: a list whose model has the sync field, with a
    SyncPagination."""
    pagination = getattr(view, "pagination_class", None)
    if pagination is None or not issubclass(pagination, SyncPagination):
        return False
    return syncs(view, view_model(view)) is not None


class SyncPagination(StandardPagination):
    """Page numbers by default (`count`, `next`, `previous`, `results`), as every list of the API.

    With `cursor` (an empty value starts from the beginning) or `updated_since`, the list of a
    resource with `updated_at` comes instead in keyset pages ordered by (`updated_at`, `id`): `next`
    carries the cursor of the following page, `previous` is null, `count` is the number of records
    of this run (counted on its first page), and `watermark` the time up to which the run is
    complete (the next run's `updated_since`). A client pages through 80,000 records without
    skipping or repeating any, even while they change: a record changed meanwhile leaves this run
    and comes in the next one."""

    cursor_query_param = CURSOR
    # A view sets `keyset_only = True` for lists that are always in keyset pages (deletions).
    keyset_only = False

    # Large collections (80,000 enterprises, 1.5 M readings) set `ordered_keyset = True`: page
    # numbers reach no deeper than LIST_COUNT_LIMIT records, and `next`/`previous` carry a cursor
    # for the list's own order instead (see OrderedKeysetPagination).
    ordered_keyset = False

    def paginate_queryset(self, queryset, request, view=None):
        self.keyset = False
        self.ordered = None
        # Some lists are computed rows (a plain list), not a queryset: page numbers only.
        model = getattr(queryset, "model", None)
        field = syncs(view, model) if model is not None else None
        params = request.query_params
        token = params.get(CURSOR, "")
        terms = ordering_terms(queryset) if self.ordered_keyset and model is not None else None
        if terms is not None and token.startswith(ORDER_CURSOR_PREFIX) and UPDATED_SINCE not in params:
            return self._ordered_page(queryset, request, terms, token)
        wants_keyset = self.keyset_only or CURSOR in params or UPDATED_SINCE in params
        if field is None or not wants_keyset:
            if terms is None:
                return super().paginate_queryset(queryset, request, view)
            return self._numbered_page(queryset, request, view, terms)
        return self._keyset_page(queryset, request, field)

    # --- The list's own order, by position (ordered_keyset) ---------------------------------------

    def _numbered_page(self, queryset: QuerySet, request, view, terms: list[tuple[str, bool]]):
        """Page numbers, as every list, up to LIST_COUNT_LIMIT records deep (an OFFSET of at most
        that many rows); `next` carries a cursor, so a client following it never pays an OFFSET. The
        count stops at LIST_COUNT_LIMIT too (`count_capped`): 15 M readings are not counted for
        each first page."""
        from core.lists import capped_count, count_limit, keyset_order

        limit = count_limit()
        number = request.query_params.get(self.page_query_param, "1")
        size = self.get_page_size(request)
        if number.isdigit() and (int(number) - 1) * size >= limit:
            raise invalid(
                self.page_query_param,
                gettext(
                    "Page numbers reach the first %(limit)s records only: follow `next`, whose "
                    "`cursor` reads any depth at the same cost."
                )
                % {"limit": f"{limit:,}"},
            )
        count, capped = capped_count(queryset, limit)
        self.ordered = {"terms": terms, "mode": "numbered", "count": count, "capped": capped}
        ordered = queryset.order_by(*keyset_order(terms, queryset.model))
        self.django_paginator_class = functools.partial(CountedPaginator, known_count=count)
        rows = super().paginate_queryset(ordered, request, view)
        # Above a capped count there are more rows than the page numbers reach: `next` goes on.
        self.ordered["next"] = rows[-1] if rows and (self.page.has_next() or capped) else None
        return rows

    def _ordered_page(self, queryset: QuerySet, request, terms: list[tuple[str, bool]], token: str) -> list:
        from core.lists import keyset_filter, keyset_order

        if request.query_params.get(self.page_query_param):
            raise invalid(
                self.page_query_param, gettext("Not with a `cursor`: follow `next` and `previous`.")
            )
        values, count, capped, before = decode_order_cursor(token, terms)
        self.request = request
        size = self.get_page_size(request)
        model = queryset.model
        rows = queryset.filter(keyset_filter(terms, values, model, before=before))
        page = list(rows.order_by(*keyset_order(terms, model, reverse=before))[: size + 1])
        more = len(page) > size
        page = page[:size]
        if before:
            page.reverse()
        self.ordered = {
            "terms": terms,
            "mode": "cursor",
            "count": count,
            "capped": capped,
            "next": page[-1] if page and (more or before) else None,
            "previous": page[0] if page and (more or not before) else None,
        }
        return page

    def _order_link(self, row, *, before: bool) -> str:
        from core.lists import keyset_values

        terms = self.ordered["terms"]
        token = encode_order_cursor(
            terms, keyset_values(row, terms), self.ordered["count"], self.ordered["capped"], before=before
        )
        url = remove_query_param(self.request.build_absolute_uri(), self.page_query_param)
        return replace_query_param(url, CURSOR, token)

    def get_next_link(self):
        if self.ordered is None:
            return super().get_next_link()
        row = self.ordered["next"]
        return self._order_link(row, before=False) if row is not None else None

    def get_previous_link(self):
        if self.ordered is None or self.ordered["mode"] == "numbered":
            return super().get_previous_link()
        row = self.ordered["previous"]
        return self._order_link(row, before=True) if row is not None else None

    def _keyset_page(self, queryset: QuerySet, request, field: str) -> list:
        params = request.query_params
        for refused in (self.page_query_param, "ordering"):
            if params.get(refused):
                raise invalid(
                    refused,
                    gettext(
                        "Not with `cursor` or `updated_since`: keyset pages are ordered by (%(field)s, id)."
                    )
                    % {"field": field},
                )
        token = params.get(CURSOR, "")
        if token:
            position, mark, count = decode_cursor(token)
        else:
            position, mark, count = None, watermark(queryset.db), None
        self.keyset, self.request, self.mark = True, request, mark
        page_size = self.get_page_size(request)

        window = queryset.filter(**{f"{field}__lt": mark})
        sortable, value_of = _sortable(window, field)
        rows = sortable
        if position is not None:
            at, row_id = position
            rows = rows.filter(Q(_sync_key__gt=value_of(at)) | Q(_sync_key=value_of(at), pk__gt=row_id))
        page = list(rows.order_by("_sync_key", "pk")[: page_size + 1])
        # The run's size, counted on its first page (not again on each of its pages).
        self.keyset_count = window.count() if count is None else count
        self.next_position = None
        if len(page) > page_size:
            page = page[:page_size]
            last = page[-1]
            self.next_position = (_value(last, field), _value(last, "pk"))
        return page

    def get_paginated_response(self, data):
        if getattr(self, "ordered", None) is not None:
            return Response(
                {
                    "count": self.ordered["count"],
                    "count_capped": self.ordered["capped"],
                    "next": self.get_next_link(),
                    "previous": self.get_previous_link(),
                    "results": data,
                }
            )
        if not getattr(self, "keyset", False):
            return super().get_paginated_response(data)
        return Response(
            {
                "count": self.keyset_count,
                "next": self._next_link(),
                "previous": None,
                "watermark": iso(self.mark),
                "results": data,
            }
        )

    def _next_link(self) -> str | None:
        if self.next_position is None:
            return None
        url = remove_query_param(self.request.build_absolute_uri(), self.page_query_param)
        return replace_query_param(
            url, CURSOR, encode_cursor(self.next_position, self.mark, self.keyset_count)
        )

    def get_paginated_response_schema(self, schema: dict) -> dict:
        paginated = super().get_paginated_response_schema(schema)
        paginated["properties"]["watermark"] = {
            "type": "string",
            "format": "date-time",
            "description": str(
                _("Keyset pages only: this run is complete up to this time, the next run's `updated_since`.")
            ),
            "example": "2026-01-31T12:00:00.000000Z",
        }
        return paginated

    def get_schema_operation_parameters(self, view) -> list[dict]:
        parameters = super().get_schema_operation_parameters(view)
        if self.keyset_only:
            parameters = [p for p in parameters if p["name"] != self.page_query_param]
        if self.keyset_only or keyset_capable(view):
            description = _(
                "Keyset pages by (`%(field)s`, `id`): empty to start, then follow `next`. "
                "Not with `page` or `ordering`."
            ) % {"field": getattr(view, "sync_field", SYNC_FIELD)}
            if self.ordered_keyset:
                description += " " + str(
                    _(
                        "The `next` and `previous` of a list's pages carry a cursor for the list's own "
                        "order (with its filters and `ordering`): every page costs the same, however deep."
                    )
                )
            parameters.append(
                {
                    "name": CURSOR,
                    "required": False,
                    "in": "query",
                    "description": description,
                    "schema": {"type": "string"},
                }
            )
        if self.ordered_keyset:
            for parameter in parameters:
                if parameter["name"] == self.page_query_param:
                    parameter["description"] = str(
                        _(
                            "A page number within the first %(limit)s records (deeper: 400); follow "
                            "`next` to read further."
                        )
                    ) % {"limit": "10,000"}
        return parameters


class CountedPaginator(Paginator):
    """Django's paginator, told its count (capped: see SyncPagination._numbered_page) instead of
    counting every row."""

    def __init__(self, object_list, per_page, *, known_count: int, **kwargs) -> None:
        super().__init__(object_list, per_page, **kwargs)
        self.known_count = known_count

    @cached_property
    def count(self) -> int:
        return self.known_count


class OrderedKeysetPagination(SyncPagination):
    """SyncPagination for the large collections (enterprises, KPI readings, adoptions, attendance):
    page numbers within the first LIST_COUNT_LIMIT records, `next`/`previous` by cursor in the list's
    own order, so page 1 and page 1,000 cost one indexed range read each (plus the count, once, on
    the first page, up to LIST_COUNT_LIMIT: later pages carry it in their cursor)."""

    ordered_keyset = True

    def get_paginated_response_schema(self, schema: dict) -> dict:
        paginated = super().get_paginated_response_schema(schema)
        paginated["properties"]["count"]["description"] = str(
            _(
                "The number of records, counted up to LIST_COUNT_LIMIT (10,000 by default): see "
                "`count_capped`."
            )
        )
        paginated["properties"]["count_capped"] = {
            "type": "boolean",
            "description": str(
                _(
                    "Page-numbered and cursor pages of the list's own order: true when the list holds "
                    "more records than `count` (which then stops at LIST_COUNT_LIMIT); follow `next` "
                    "to read them all."
                )
            ),
            "example": False,
        }
        return paginated


ORDER_CURSOR_PREFIX = "o:"
ORDER_CURSOR_SALT = "smart_portal.sync.order-cursor"


def ordering_terms(queryset: QuerySet) -> list[tuple[str, bool]] | None:
    """The queryset's order as (field path, descending) pairs ending with the primary key; None
    when a term is an expression or a relation (ordered by the related model's own ordering)."""
    from core.lists import is_nullable

    query = queryset.query
    order = list(query.order_by) or (list(queryset.model._meta.ordering) if query.default_ordering else [])
    terms: list[tuple[str, bool]] = []
    for item in order:
        if isinstance(item, OrderBy) and isinstance(item.expression, F):
            path, descending = item.expression.name, item.descending
        elif isinstance(item, str) and item not in ("?", ""):
            path, descending = item.removeprefix("-"), item.startswith("-")
        else:
            return None
        path = "pk" if path == "id" else path
        if path != "pk" and _is_relation(queryset.model, path):
            return None
        is_nullable(queryset.model, path)  # a path that is not a field fails here, not later
        terms.append((path, descending))
        if path == "pk":
            break
    if not any(path == "pk" for path, _descending in terms):
        terms.append(("pk", terms[-1][1] if terms else False))
    return terms


def _is_relation(model: type[Model], path: str) -> bool:
    current: Any = model
    field = None
    for name in path.split("__"):
        try:
            field = current._meta.get_field(name)
        except (FieldDoesNotExist, AttributeError):
            return True
        current = field.related_model if field.is_relation else None
    return bool(field is not None and field.is_relation)


def _order_signature(terms: list[tuple[str, bool]]) -> str:
    return ",".join(f"-{path}" if descending else path for path, descending in terms)


def encode_order_cursor(
    terms: list[tuple[str, bool]], values: list[Any], count: int, capped: bool, *, before: bool
) -> str:
    payload = {"o": _order_signature(terms), "v": values, "c": count, "k": capped, "b": before}
    return ORDER_CURSOR_PREFIX + signing.dumps(payload, salt=ORDER_CURSOR_SALT, compress=True)


def decode_order_cursor(token: str, terms: list[tuple[str, bool]]) -> tuple[list[Any], int, bool, bool]:
    """(sort values, the list's count, whether it is capped, backwards?) of a cursor made for this
    order; 400 on `cursor` for one tampered with or made for another `ordering`."""
    message = gettext(
        "This cursor is not valid for this list and order: start again from the first page (no `cursor`)."
    )
    try:
        payload = signing.loads(token.removeprefix(ORDER_CURSOR_PREFIX), salt=ORDER_CURSOR_SALT)
    except (signing.BadSignature, ValueError, TypeError, UnicodeDecodeError):
        raise invalid(CURSOR, message) from None
    if not isinstance(payload, dict) or payload.get("o") != _order_signature(terms):
        raise invalid(CURSOR, message)
    values, count, before = payload.get("v"), payload.get("c"), payload.get("b")
    if not isinstance(values, list) or len(values) != len(terms) or not isinstance(before, bool):
        raise invalid(CURSOR, message)
    if not isinstance(count, int) or isinstance(count, bool):
        raise invalid(CURSOR, message)
    # A cursor made before counts were capped has no "k": its count is exact.
    capped = payload.get("k", False)
    if not isinstance(capped, bool):
        raise invalid(CURSOR, message)
    return values, count, capped, before


def _sortable(queryset: QuerySet, field: str):
    """The queryset with `_sync_key` to order and compare on, and how to write a position for it.

    PostgreSQL: the timestamp itself (its index serves the order). SQLite keeps datetimes as text,
    written by Django without fractional digits when the microseconds are 0 ("…12:00:00") and by the
    trigger always with them ("…12:00:00.000000"): equal times that compare unequal as text; the key
    is the text padded to microseconds, so that equal times are equal keys."""
    if connections[queryset.db].vendor == "sqlite":
        key = Func(F(field), template="substr(%(expressions)s || '.000000', 1, 26)", output_field=CharField())
        return queryset.alias(_sync_key=key), lambda at: at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return queryset.alias(_sync_key=F(field)), lambda at: at


def _value(row, name: str):
    if isinstance(row, dict):
        return row["id" if name == "pk" else name]
    return getattr(row, name)


# --- Conditional GET: ETag, Last-Modified, 304 ----------------------------------------------------


class ConditionalGetMiddleware:
    """API GETs answer with a weak `ETag` (a hash of the body, before compression) and, for one
    record, `Last-Modified` (its latest `updated_at`); a request whose `If-None-Match` names the
    current ETag, or (without `If-None-Match`) whose `If-Modified-Since` is not older than the last
    modification, is answered 304 with no body. Sits inside the compression middleware, so that the
    ETag is the same whether the body is then gzipped or not.

    API answers depend on who asks: `Vary: Authorization, Cookie` and `Cache-Control: private,
    no-cache` (a browser or a client keeps them for itself and revalidates each time).

    `Last-Modified` has whole seconds; it is sent only once the record's last change is at least the
    clock margin plus one second old, so that no later change can fall within the same second (a
    client asking `If-Modified-Since` of a second that could still change gets the full answer). The
    ETag has no such limit: prefer `If-None-Match`."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not request.path_info.startswith("/api/"):
            return response
        patch_vary_headers(response, ("Authorization", "Cookie"))
        if request.method not in ("GET", "HEAD") or response.status_code != 200 or response.streaming:
            return response
        if "no-store" in response.get("Cache-Control", ""):
            return response
        if not response.has_header("ETag"):
            response["ETag"] = f'W/"{hashlib.sha256(response.content).hexdigest()[:40]}"'
        if not response.has_header("Last-Modified"):
            modified = last_modified(response)
            if modified is not None:
                response["Last-Modified"] = http_date(modified.timestamp())
        if not response.has_header("Cache-Control"):
            patch_cache_control(response, private=True, no_cache=True)
        return get_conditional_response(
            request,
            etag=response["ETag"],
            last_modified=parse_http_date_safe(response.get("Last-Modified", "")),
            response=response,
        )


def last_modified(response: HttpResponse) -> datetime | None:
    """The latest `updated_at` in the body of one record (nested records included), once it is old
    enough to be stated in whole seconds; None for a list or a body without one."""
    data = getattr(response, "data", None)
    if not isinstance(data, dict) or "results" in data:
        return None
    found = [moment for moment in _updated_ats(data, depth=0) if moment is not None]
    if not found:
        return None
    latest = max(found)
    second = latest.replace(microsecond=0)
    if timezone.now() < second + timedelta(seconds=1) + clock_margin():
        return None
    return second


def _updated_ats(data: Any, depth: int):
    if depth > 4:
        return
    if isinstance(data, dict):
        for key, value in data.items():
            if key == SYNC_FIELD and isinstance(value, str):
                parsed = parse_datetime(value)
                yield parsed if parsed is not None and timezone.is_aware(parsed) else None
            elif isinstance(value, dict | list):
                yield from _updated_ats(value, depth + 1)
    elif isinstance(data, list):
        for item in data[:1000]:
            yield from _updated_ats(item, depth + 1)


# --- The schema says so ---------------------------------------------------------------------------

PROTOCOL = _(
    "**Incremental sync.** Every record has `updated_at`. A list asked with `updated_since` (ISO 8601 "
    "with a timezone, inclusive) or with `cursor` (empty to start) answers keyset pages ordered by "
    "(`updated_at`, `id`): follow `next` until it is null. Each page carries `watermark`: the run lists "
    "exactly the records changed from `updated_since` up to (not including) the watermark, even while "
    "others write; a record changed meanwhile comes in the next run, which starts at "
    "`updated_since=<watermark>`. Deletions: `GET /api/v1/deletions/?resource=<name>&since=<its last "
    "watermark>`, applied by `object_id`. Without `cursor` and `updated_since`, lists have page "
    "numbers. Every GET answers an `ETag` (and one record `Last-Modified`): send `If-None-Match` (or "
    "`If-Modified-Since`) to get 304 Not Modified while nothing changed."
)

ETAG_HEADER = {
    "description": str(
        _(
            "Weak validator of this answer; send it back in `If-None-Match` to get 304 Not Modified "
            "while nothing changed."
        )
    ),
    "schema": {"type": "string"},
}
LAST_MODIFIED_HEADER = {
    "description": str(
        _(
            "One record: its last change, in whole seconds (sent once that second is past); send it "
            "back in `If-Modified-Since`. `If-None-Match` is more precise."
        )
    ),
    "schema": {"type": "string"},
}
NOT_MODIFIED = {
    "description": str(
        _(
            "Not Modified, no body: the request's `If-None-Match` names the current ETag, or (without "
            "`If-None-Match`) its `If-Modified-Since` is not older than `Last-Modified`."
        )
    )
}


def document_conditional_requests(result: dict, generator, request, public) -> dict:
    """drf-spectacular postprocessing hook: each GET of the API documents its ETag (and, for one
    record, Last-Modified) and the 304 answer, once, as components referred to; the API's
    description explains the sync protocol once (the parameters say it in a sentence)."""
    info = result.setdefault("info", {})
    info["description"] = f"{info.get('description', '')}\n\n{PROTOCOL}".strip()
    components = result.setdefault("components", {})
    components.setdefault("headers", {}).update({"ETag": ETAG_HEADER, "LastModified": LAST_MODIFIED_HEADER})
    components.setdefault("responses", {})["NotModified"] = NOT_MODIFIED
    for operations in result.get("paths", {}).values():
        operation = operations.get("get")
        if not operation:
            continue
        responses = operation.setdefault("responses", {})
        ok = responses.get("200")
        if ok is None or "$ref" in ok:
            continue
        headers = ok.setdefault("headers", {})
        headers["ETag"] = {"$ref": "#/components/headers/ETag"}
        if not _is_list_response(ok, components):
            headers["Last-Modified"] = {"$ref": "#/components/headers/LastModified"}
        responses.setdefault("304", {"$ref": "#/components/responses/NotModified"})
    return result


def _is_list_response(response: dict, components: dict) -> bool:
    for media in response.get("content", {}).values():
        schema = media.get("schema", {})
        if schema.get("type") == "array":
            return True
        ref = schema.get("$ref", "")
        name = ref.rsplit("/", 1)[-1]
        target = components.get("schemas", {}).get(name, {})
        if "results" in target.get("properties", {}):
            return True
    return False
