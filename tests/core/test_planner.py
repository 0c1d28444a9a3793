"""A planner setting for a few statements (core.planner.local_settings) is put back to what the
transaction had, not to the session's default (what an outer part of the transaction chose stays)."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from core.planner import local_settings

pytestmark = pytest.mark.django_db


def _setting(cursor, name: str) -> str:
    cursor.execute("SELECT current_setting(%s)", [name])
    return cursor.fetchone()[0]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's settings")
def test_a_setting_for_a_few_statements_gives_back_the_transactions_own():
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL work_mem = '8MB'")  # the outer choice, as the aggregation's
        with local_settings(cursor, work_mem="16MB", enable_nestloop="off"):
            assert (_setting(cursor, "work_mem"), _setting(cursor, "enable_nestloop")) == ("16MB", "off")
        assert (_setting(cursor, "work_mem"), _setting(cursor, "enable_nestloop")) == ("8MB", "on")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's settings")
def test_a_statement_that_fails_inside_leaves_the_transactions_settings_and_the_transaction_usable():
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL work_mem = '8MB'")
        with pytest.raises(DatabaseError), local_settings(cursor, work_mem="16MB"):
            cursor.execute("SELECT 1 / 0")
        assert _setting(cursor, "work_mem") == "8MB"


@pytest.mark.skipif(connection.vendor == "postgresql", reason="the other databases")
def test_elsewhere_nothing_is_set_and_the_statements_run():
    # SQLite has no set_config: a setting sent to it would fail the block.
    with transaction.atomic(), connection.cursor() as cursor, local_settings(cursor, jit="off"):
        cursor.execute("SELECT 1")
        assert cursor.fetchone()[0] == 1
