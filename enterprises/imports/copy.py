"""Writing checked rows at database speed (PostgreSQL): COPY into a staging table, then one
`INSERT … SELECT` into the real table and, in the same statement, one into its history table.

The rows arrive checked (the import validates each once, see base.py); this module only moves them.
What it writes is what `bulk_create` / `bulk_create_with_history` wrote before, value for value:
every concrete column as the model's fields prepare it (`pre_save`, so `auto_now` columns are
stamped), and for a model with django-simple-history one historical row per created row, typed "+",
with the importing user, no change reason and the time of the write. The new ids are set on the
instances (joined back on the natural key), so the follow-up writes (duplicate flags) and API
answers see them. Other databases keep Django's bulk writes (`supports()` says which).
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db import connection, models
from django.utils import timezone

# Columns simple-history adds to a historical table, besides the model's tracked fields.
HISTORY_COLUMNS = ("history_id", "history_date", "history_change_reason", "history_type", "history_user_id")


# Field types whose Python value is written as COPY text without the field's own preparation.
PLAIN_TYPES = {
    "AutoField",
    "BigAutoField",
    "BigIntegerField",
    "BooleanField",
    "CharField",
    "DateField",
    "DateTimeField",
    "DecimalField",
    "EmailField",
    "ForeignKey",
    "IntegerField",
    "OneToOneField",
    "PositiveBigIntegerField",
    "PositiveIntegerField",
    "PositiveSmallIntegerField",
    "SlugField",
    "SmallIntegerField",
    "TextField",
}


def stamped(field: models.Field) -> bool:
    """A field Django fills with the time on save (`auto_now`, `auto_now_add`)."""
    return bool(getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False))


def is_plain(field: models.Field) -> bool:
    """Whether the field's Python value is written as COPY text as it is (no get_db_prep_save)."""
    return field.get_internal_type() in PLAIN_TYPES and not stamped(field)


def supports() -> bool:
    """COPY is PostgreSQL's (psycopg2's `copy_expert`); elsewhere the bulk writes stay."""
    return connection.vendor == "postgresql"


# COPY's text format: backslash, tab and line breaks escaped; NULL is \N.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
# By exact type, the common case first (the scale generator writes millions of values: no chain of
# isinstance).
_COPY_FORMAT: dict[type, Callable[[Any], str]] = {
    int: str,
    str: lambda value: value.translate(_COPY_ESCAPES),
    bool: lambda value: "t" if value else "f",
    type(None): lambda _value: "\\N",
    Decimal: str,
    float: repr,
    date: date.isoformat,
    datetime: datetime.isoformat,  # with its offset
}


def copy_text(value: object) -> str:
    """One value in COPY's text format: the imports' and the scale generator's one encoder."""
    format_ = _COPY_FORMAT.get(type(value))
    if format_ is not None:
        return format_(value)
    if isinstance(value, str):  # a TextChoices member
        return str(value).translate(_COPY_ESCAPES)
    if hasattr(value, "adapted"):  # psycopg2's Json wrapper, from a JSONField
        value = value.adapted
    if isinstance(value, dict | list):
        return json.dumps(value).translate(_COPY_ESCAPES)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _quoted(name: str) -> str:
    return connection.ops.quote_name(name)


def _history_model(model: type[models.Model]) -> type[models.Model] | None:
    manager = getattr(model._meta, "simple_history_manager_attribute", None)
    return getattr(model, manager).model if manager else None


def copy_create(
    model: type[models.Model],
    instances: Sequence[models.Model],
    key_attnames: Sequence[str],
    *,
    with_history: bool,
    history_user_id: int | None = None,
) -> None:
    """Insert these new instances (unsaved, validated) and set their ids. `key_attnames`: columns
    that tell the rows apart (a unique key; the import's natural key), to join the ids back."""
    if not instances:
        return
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    columns = [f.column for f in fields]
    table = model._meta.db_table
    stage = f"import_stage_{table}"[:63]
    # As bulk_create prepares a row: pre_save (auto_now stamps), then the field's db value. Plain
    # columns (text, numbers, dates, booleans, foreign keys) are their attribute as it is: the
    # per-field preparation through the connection proxy cost more than the whole COPY.
    plain = [is_plain(f) for f in fields]
    attnames = [f.attname for f in fields]
    prepared = [(f, f.attname, is_plain) for f, is_plain in zip(fields, plain, strict=True)]
    buffer = io.StringIO()
    write = buffer.write
    if all(plain):
        for instance in instances:
            values = instance.__dict__
            write("\t".join([copy_text(values[name]) for name in attnames]))
            write("\n")
    else:
        for instance in instances:
            values = instance.__dict__
            write(
                "\t".join(
                    [
                        copy_text(values[name])
                        if is_plain
                        else copy_text(field.get_db_prep_save(field.pre_save(instance, True), connection))
                        for field, name, is_plain in prepared
                    ]
                )
            )
            write("\n")
    buffer.seek(0)
    column_list = ", ".join(_quoted(c) for c in columns)
    key_columns = [model._meta.get_field(name).column for name in key_attnames]
    with connection.cursor() as cursor:
        # Column types taken from the table itself; no constraints, no indexes: a plain heap to COPY
        # into. Dropped at commit (or rollback) with the import's transaction.
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {_quoted(stage)} ON COMMIT DROP AS "  # noqa: S608 (names)
            f"SELECT {column_list} FROM {_quoted(table)} WITH NO DATA"
        )
        cursor.execute(f"TRUNCATE {_quoted(stage)}")
        cursor.cursor.copy_expert(f"COPY {_quoted(stage)} ({column_list}) FROM STDIN", buffer)
        returning = ", ".join(_quoted(c) for c in ["id", *key_columns])
        insert = (
            f"INSERT INTO {_quoted(table)} ({column_list}) "  # noqa: S608 (names)
            f"SELECT {column_list} FROM {_quoted(stage)} RETURNING *"
        )
        history = _history_model(model) if with_history else None
        if history is None:
            cursor.execute(f"WITH inserted AS ({insert}) SELECT {returning} FROM inserted")  # noqa: S608
        else:
            tracked = [f.attname for f in history.tracked_fields]
            extra = [
                f.attname
                for f in history._meta.concrete_fields
                if f.attname not in tracked and f.attname not in HISTORY_COLUMNS
            ]
            if extra:  # a history table with columns of its own: not written here
                raise ValueError(f"{history.__name__} has columns this writer does not fill: {extra}")
            source = [model._meta.get_field(name).column for name in tracked]
            targets = [history._meta.get_field(name).column for name in tracked]
            history_columns = ", ".join(_quoted(c) for c in [*targets, *HISTORY_COLUMNS[1:]])
            history_values = ", ".join(_quoted(c) for c in source)
            cursor.execute(
                f"WITH inserted AS ({insert}), "  # noqa: S608 (names)
                f"history AS (INSERT INTO {_quoted(history._meta.db_table)} ({history_columns}) "
                f"SELECT {history_values}, %s, NULL, '+', %s FROM inserted) "
                f"SELECT {returning} FROM inserted",
                [timezone.now(), history_user_id],
            )
        ids = {tuple(row[1:]): row[0] for row in cursor.fetchall()}
    for instance in instances:
        instance.pk = ids[tuple(getattr(instance, name) for name in key_attnames)]
        instance._state.adding = False
        instance._state.db = connection.alias
