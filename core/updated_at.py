"""`updated_at` kept by the database itself, for the API's incremental sync (`updated_since`).

Django's `auto_now` stamps a row only through `Model.save()` without `update_fields` (or with
`updated_at` among them); a `QuerySet.update()`, a `save(update_fields=[...])` or a raw statement
would change a row without moving its `updated_at`, and a client syncing by `updated_since` would
never learn of that change. A trigger on each synced table moves `updated_at` on every UPDATE that
did not set it itself: `KeepUpdatedAt` installs it from a migration, on PostgreSQL and SQLite alike.
"""

from __future__ import annotations

from django.db import migrations

# PostgreSQL: one function for every table; clock_timestamp() is the statement's time, not the
# transaction's start, which is as close to the commit as a timestamp written before it can be.
PG_FUNCTION = """
CREATE OR REPLACE FUNCTION portal_keep_updated_at() RETURNS trigger AS $$
BEGIN
    IF NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at THEN
        NEW.updated_at := clock_timestamp();
    END IF;
    RETURN NEW;
END
$$ LANGUAGE plpgsql;
"""


def trigger_name(table: str) -> str:
    return f"{table}_keep_updated_at"[:63]


def install_sql(vendor: str, table: str) -> list[str]:
    name = trigger_name(table)
    if vendor == "postgresql":
        return [
            PG_FUNCTION,
            f'DROP TRIGGER IF EXISTS "{name}" ON "{table}"',
            f'CREATE TRIGGER "{name}" BEFORE UPDATE ON "{table}" FOR EACH ROW '
            "EXECUTE FUNCTION portal_keep_updated_at()",
        ]
    if vendor == "sqlite":
        # SQLite has no BEFORE-UPDATE assignment: an AFTER trigger writes the time once more
        # (recursive triggers are off, so that write does not fire it again). Django keeps SQLite
        # datetimes as UTC text "YYYY-MM-DD HH:MM:SS.ffffff"; strftime's %f gives milliseconds.
        return [
            f'DROP TRIGGER IF EXISTS "{name}"',
            f'CREATE TRIGGER "{name}" AFTER UPDATE ON "{table}" FOR EACH ROW '  # noqa: S608 (a table name)
            "WHEN NEW.updated_at IS OLD.updated_at BEGIN "
            f"UPDATE \"{table}\" SET updated_at = strftime('%Y-%m-%d %H:%M:%f000', 'now') "
            "WHERE rowid = NEW.rowid; END",
        ]
    return []


def remove_sql(vendor: str, table: str) -> list[str]:
    name = trigger_name(table)
    if vendor == "postgresql":
        return [f'DROP TRIGGER IF EXISTS "{name}" ON "{table}"']
    if vendor == "sqlite":
        return [f'DROP TRIGGER IF EXISTS "{name}"']
    return []


class KeepUpdatedAt(migrations.operations.base.Operation):
    """Migration operation: the database moves `<model>.updated_at` on every UPDATE that leaves it."""

    reduces_to_sql = True
    reversible = True

    def __init__(self, model_name: str) -> None:
        self.model_name = model_name

    def state_forwards(self, app_label, state) -> None:
        pass

    def _run(self, app_label, schema_editor, state, statements) -> None:
        model = state.apps.get_model(app_label, self.model_name)
        if not self.allow_migrate_model(schema_editor.connection.alias, model):
            return
        for sql in statements(schema_editor.connection.vendor, model._meta.db_table):
            schema_editor.execute(sql, params=None)

    def database_forwards(self, app_label, schema_editor, from_state, to_state) -> None:
        self._run(app_label, schema_editor, to_state, install_sql)

    def database_backwards(self, app_label, schema_editor, from_state, to_state) -> None:
        self._run(app_label, schema_editor, from_state, remove_sql)

    def describe(self) -> str:
        return f"Keep {self.model_name}.updated_at current on every update"

    def deconstruct(self):
        return (self.__class__.__qualname__, [self.model_name], {})

    @property
    def migration_name_fragment(self) -> str:
        return f"keep_{self.model_name.lower()}_updated_at"
