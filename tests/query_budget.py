"""Query budgets: a page must cost the same number of queries for 1 item as for N items.

    assert_flat_queries(client, "/proposals/", lambda: [make_proposal().reference for _ in range(3)])

GETs the URL once to warm the per-process caches (content types, sessions, ...), counts the queries of
a second GET (the data as set up: one item), calls `add_more()` to create more items of the same kind,
counts a third GET and fails if the count changed, listing the statements that grew. If `add_more`
returns strings, each must appear in the last response: the new items are really on the page, so a
query per item could not hide.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable

from django.db import connection
from django.test.utils import CaptureQueriesContext

_LITERALS = re.compile(r"'(?:[^']|'')*'|\b\d+(?:\.\d+)?\b|%s")
_LISTS = re.compile(r"\(\?(?:, \?)*\)")


def _shape(sql: str) -> str:
    """A statement with its literal values (and lists of them) replaced: the same query for two items
    counts twice, and `IN (...)` for 1 or for N ids counts as the same statement."""
    return _LISTS.sub("(...)", _LITERALS.sub("?", sql))


def count_queries(client, url: str, *, status: int = 200, **extra) -> tuple[list[str], object]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, **extra)
    assert response.status_code == status, f"GET {url}: {response.status_code}, expected {status}"
    return [query["sql"] for query in captured.captured_queries], response


def explain_growth(before: list[str], after: list[str]) -> str:
    """The statements run more often (or only) in `after`, most repeated first, with counts."""
    grown = Counter(map(_shape, after)) - Counter(map(_shape, before))
    shrunk = Counter(map(_shape, before)) - Counter(map(_shape, after))
    lines = [f"  +{count} x {sql}" for sql, count in grown.most_common()]
    lines += [f"  -{count} x {sql}" for sql, count in shrunk.most_common()]
    return "\n".join(lines) or "  (same statements, different counts)"


def assert_flat_queries(
    client,
    url: str,
    add_more: Callable[[], Iterable[str] | None],
    *,
    status: int = 200,
    **extra,
) -> tuple[int, int]:
    """GET `url` with the data as set up, then after `add_more()`: the query count must not change.

    Returns (queries for one item, queries for N items)."""
    count_queries(client, url, status=status, **extra)  # warm-up
    one, _response = count_queries(client, url, status=status, **extra)
    expected = add_more()
    many, response = count_queries(client, url, status=status, **extra)
    if expected is not None:
        body = response.content.decode()
        missing = [text for text in expected if str(text) not in body]
        assert not missing, f"GET {url}: the items added are not in the response: {missing}"
    assert len(many) == len(one), (
        f"GET {url}: {len(one)} queries with one item, {len(many)} with more; the statements that "
        f"grew:\n{explain_growth(one, many)}"
    )
    return len(one), len(many)
