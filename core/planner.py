"""PostgreSQL planner settings for a few statements, within the current transaction.

`SET LOCAL` lasts to the end of the transaction, and `RESET` goes back to the session's default,
undoing what an outer part of the same transaction chose (the aggregation's `jit = off`). So a
setting wanted for a few statements only is set LOCAL and then put back to the value the
transaction had. On other databases nothing is done.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from django.db import connection, transaction


@contextmanager
def local_settings(cursor, **values: str) -> Iterator[None]:
    """These settings (`jit="off"`, `enable_nestloop="off"`...) for the statements inside, then the
    transaction's own values again. Inside a savepoint (a transaction under autocommit): if a
    statement fails, its rollback undoes the settings with the rest."""
    if connection.vendor != "postgresql":
        yield
        return
    with transaction.atomic(using=connection.alias):
        previous = {}
        for name, value in values.items():
            cursor.execute("SELECT current_setting(%s), set_config(%s, %s, true)", [name, name, value])
            previous[name] = cursor.fetchone()[0]
        yield
        for name, value in previous.items():
            cursor.execute("SELECT set_config(%s, %s, true)", [name, value])


def index_lookups(cursor) -> AbstractContextManager[None]:
    """For statements reading the records of a few keys (the MEs changed since the last run) from
    large tables: price a random read as the tables being in memory make it (1.1 sequential reads,
    not the default 4, which is made for disks), so that PostgreSQL looks the few rows up by index
    rather than reading the tables whole."""
    return local_settings(cursor, random_page_cost="1.1")


def id_set(ids: list[int]) -> tuple[str, list[Any]]:
    """A subquery listing these ids, with one parameter whatever their number (an IN list of 10,000
    placeholders would be a query per chunk on SQLite). PostgreSQL does not count them when it plans
    (`unnest` of a parameter): it reads the rows of these ids by index, where given the ids as a list
    it may expect them spread along another index and walk that one (enterprises.filters)."""
    if connection.vendor == "postgresql":
        return "SELECT unnest(CAST(%s AS bigint[]))", [ids]
    return "SELECT value FROM json_each(%s)", [json.dumps(ids)]
