"""A live worker's advisory locks, held by another database session during a test (core.jobs)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection

from core import jobs


@contextmanager
def other_session_holds(*locks: tuple[jobs.LockSpace, int]) -> Iterator[None]:
    """Another database session (another worker's) holds these advisory locks during the block.
    Without PostgreSQL there are no such locks: nothing to hold."""
    if not jobs.uses_advisory_locks():
        yield
        return
    other = connection.copy()
    try:
        with other.cursor() as cursor:
            for space, key in locks:
                cursor.execute("SELECT pg_advisory_lock(%s, %s)", [int(space), key])
        yield
    finally:
        # Released before the block ends (a closed session's locks are freed by the server a moment
        # later, after the next statement of the test may already have looked for them).
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock_all()")
        other.close()
