"""Concurrent identical writes: the request that loses the race is answered like a duplicate.

Pages, the API and the services check a duplicate before saving (a form's or a serializer's unique
check, a model's `full_clean()`, a service's own test). Two identical requests at the same moment both
pass that check; the database's unique constraint then refuses the second insert with an
`IntegrityError`. Left alone that is a 500. Here it becomes the answer the client would have had a
moment later:

- `refusing_races(recheck)`, for services: run a save in a savepoint; on a violated constraint run
  `recheck` (e.g. the model's `full_clean()`), which now sees the row the other request committed and
  raises the same `ValidationError` as an ordinary duplicate (400, by field); if it finds nothing, a
  `Conflict` (409). Pages show either on the form, with what was typed.
- For any request: the API's exception handler (smart_portal.api.run_again) and the pages'
  middleware (smart_portal.middleware.ErrorAnswersMiddleware) run a request that broke a constraint
  once more (its first run was rolled back). Its checks, serializer's, form's and service's, now see
  the committed row and refuse exactly as for any duplicate (or it succeeds if that row is gone);
  a second violation is a 409 (or 400), never a 500. The API does so for a refusal
  `refusing_races()` gave too (`is_lost_race`), so that the check that answers an ordinary
  duplicate first (a serializer's, worded its own way) answers this one.

Nothing here guesses a message from the constraint's name: the refusal always comes from the same
check that refuses an ordinary duplicate, so both answers are the same.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connections, transaction
from django.utils.translation import gettext as _

from core.errors import Conflict

logger = logging.getLogger(__name__)

E = TypeVar("E", bound=BaseException)

# SQLSTATE classes of PostgreSQL's integrity errors (SQLite says it in words).
UNIQUE = "unique"
FOREIGN_KEY = "foreign_key"
CHECK = "check"
NOT_NULL = "not_null"
OTHER = "other"
SQLSTATES = {"23505": UNIQUE, "23503": FOREIGN_KEY, "23514": CHECK, "23502": NOT_NULL, "23P01": UNIQUE}
SQLITE_WORDS = {
    "UNIQUE constraint failed": UNIQUE,
    "FOREIGN KEY constraint failed": FOREIGN_KEY,
    "CHECK constraint failed": CHECK,
    "NOT NULL constraint failed": NOT_NULL,
}


def violation(exc: IntegrityError) -> str:
    """Which kind of rule the database refused: UNIQUE, FOREIGN_KEY, CHECK, NOT_NULL or OTHER
    (an exclusion constraint counts as UNIQUE: two rows that may not both exist)."""
    cause = exc.__cause__
    # psycopg2 names it `pgcode`, psycopg 3 `sqlstate`.
    code = getattr(cause, "pgcode", None) or getattr(cause, "sqlstate", None)
    if code:
        return SQLSTATES.get(code, OTHER)
    text = str(exc)
    return next((kind for words, kind in SQLITE_WORDS.items() if words in text), OTHER)


def is_unique_violation(exc: IntegrityError) -> bool:
    return violation(exc) == UNIQUE


def constraint_name(exc: IntegrityError) -> str:
    """The constraint PostgreSQL names ("" on SQLite, which names columns instead)."""
    diag = getattr(exc.__cause__, "diag", None)
    return getattr(diag, "constraint_name", None) or ""


def refusal(exc: IntegrityError) -> Exception:
    """What to answer when no re-check explains the violation: a unique or foreign-key violation is
    a concurrent change (409 Conflict: the same row saved, or the row referred to removed, meanwhile);
    a check or not-null violation is data the database refuses (400, a ValidationError)."""
    if violation(exc) in {CHECK, NOT_NULL}:
        return ValidationError(
            _("These values break a rule of the records, so nothing was saved. Check them and try again.")
        )
    return Conflict()


def connections_usable() -> bool:
    """True when every open connection can still run queries: not inside a transaction that a
    database error has doomed (outside any transaction, or after its savepoint was rolled back)."""
    return all(
        not (connection.in_atomic_block and connection.needs_rollback)
        for connection in connections.all(initialized_only=True)
    )


def log_race(exc: IntegrityError, where: str) -> None:
    """One line per lost race: worth seeing if it happens often, not an error."""
    logger.info(
        "Constraint violated by a concurrent write (%s): %s %s",
        where,
        violation(exc),
        constraint_name(exc) or str(exc).splitlines()[0][:200],
    )


@contextmanager
def refusing_races(recheck: Callable[[], object] | None = None, *, where: str = "") -> Iterator[None]:
    """Run the block in a savepoint. If the database refuses it on a constraint (a concurrent
    request committed the same row first), run `recheck`, which raises the refusal of an ordinary
    duplicate (it now sees that row); if it raises nothing, raise `refusal(exc)`. The savepoint is
    rolled back either way, so the caller's transaction goes on."""
    try:
        with transaction.atomic():
            yield
    except IntegrityError as exc:
        log_race(exc, where or "refusing_races")
        try:
            if recheck is not None:
                recheck()
        except Exception as refused:  # noqa: BLE001 - the check's refusal is the answer, whatever it is
            raise mark_lost_race(refused) from exc
        raise mark_lost_race(refusal(exc)) from exc


LOST_RACE = "lost_race"


def mark_lost_race(error: E) -> E:
    """Mark a refusal as the answer to a lost race: the API may then run the whole request again, so
    that the check that refuses an ordinary duplicate first (its serializer's, say) answers it."""
    setattr(error, LOST_RACE, True)
    return error


def is_lost_race(error: BaseException) -> bool:
    """A unique violation (a concurrent identical save committed first), or a refusal
    `refusing_races()` gave for one. Only these are answered by running the request again: a
    foreign-key, check or not-null violation may come after a write that was already committed
    (e.g. a many-to-many set after its row), which a second run would repeat."""
    if isinstance(error, IntegrityError):
        return is_unique_violation(error)
    return bool(getattr(error, LOST_RACE, False))
