"""The error types of a refused business action (a transition, an award, a locked score...).

Pages turn them into a message on an unchanged page (Forbidden: 403); the API answers 409 with the
message (Forbidden: 403), see smart_portal.api.exception_handler.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.utils.translation import gettext as _


class Problem(str):
    """One problem of a refused action (a missing detail, a broken rule), read as the sentence it is,
    naming the field it is about ("" when it is about no one field) and a machine code: the API lists
    each under `fields` (smart_portal.api), the pages show the sentences."""

    field: str
    code: str

    def __new__(cls, message: str, field: str = "", code: str = "invalid") -> Problem:
        problem = super().__new__(cls, message)
        problem.field = field
        problem.code = code
        return problem


class ActionRefused(Exception):
    """Not possible now (409): the object's state, a deadline, missing details...

    `problems`: when the refusal sums up several problems (an incomplete submission), each of them,
    a `Problem` naming its field or a plain sentence."""

    def __init__(self, message: str, *, code: str = "refused", problems: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.problems = list(problems)

    def __str__(self) -> str:
        return str(self.message)

    @property
    def is_forbidden(self) -> bool:
        return self.code == FORBIDDEN


FORBIDDEN = "forbidden"


class Forbidden(ActionRefused):
    """Not for this person (403), whatever the object's state."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code=FORBIDDEN)


CONFLICT = "conflict"


class Conflict(ActionRefused):
    """Someone else saved the same record at the same moment (409): the database refused this copy
    and nothing was written. Answered when a re-check does not say more (see core.integrity)."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(
            message
            or _(
                "Someone else saved the same record at the same moment, so this request changed "
                "nothing. Reload to see what is stored now, then try again if it is still needed."
            ),
            code=CONFLICT,
        )
