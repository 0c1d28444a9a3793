"""The transition log and every field-history table are append-only in the database itself.

On PostgreSQL a row trigger refuses UPDATE and DELETE on those tables, whoever connects: a bug, a
shell session or a compromised app account cannot rewrite who did what. TRUNCATE (used by test
flushes and never by the portal) is left alone. The triggers are installed after every `migrate`
(post_migrate), idempotently, on the Transition table and on every simple-history table found in
the model registry, so a model given history later is covered without anything to remember.
SQLite (development, tests) has no such protection: nothing to do there.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.db import connections
from django.db.models import Model

FUNCTION = "smart_refuse_history_change"
TRIGGER = "smart_append_only"

CREATE_FUNCTION = f"""
CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% on %: this table is append-only (history is never rewritten)', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$
"""


def append_only_models() -> list[type[Model]]:
    """The transition log and every historical model, as registered now."""
    from simple_history.models import HistoricalChanges

    found = [apps.get_model("subprojects", "Transition")]
    found += [
        model
        for model in apps.get_models()
        if issubclass(model, HistoricalChanges) and model._meta.managed and not model._meta.proxy
    ]
    return found


def append_only_tables() -> list[str]:
    return sorted({model._meta.db_table for model in append_only_models()})


def install(using: str = "default") -> list[str]:
    """Install the triggers where missing (PostgreSQL only); returns the tables newly covered."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        existing_tables = set(connection.introspection.table_names(cursor))
        wanted = [table for table in append_only_tables() if table in existing_tables]
        cursor.execute(
            "SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE t.tgname = %s AND NOT t.tgisinternal",
            [TRIGGER],
        )
        covered = {row[0] for row in cursor.fetchall()}
        missing = [table for table in wanted if table not in covered]
        if not missing:
            # Also after each test flush: one query, nothing rewritten.
            return []
        cursor.execute(CREATE_FUNCTION)
        quote = connection.ops.quote_name
        for table in missing:
            cursor.execute(f"DROP TRIGGER IF EXISTS {TRIGGER} ON {quote(table)}")
            cursor.execute(
                f"CREATE TRIGGER {TRIGGER} BEFORE UPDATE OR DELETE ON {quote(table)} "
                f"FOR EACH ROW EXECUTE FUNCTION {FUNCTION}()"
            )
    return missing


def install_after_migrate(sender: Any, using: str = "default", **kwargs: Any) -> None:
    """post_migrate receiver (connected once, for the core app)."""
    install(using)
