"""The one error type for a refused business action (a transition, an award, a locked score...).

Pages turn it into a message on an unchanged page; the API answers 409 with its message.
"""

from __future__ import annotations


class ActionRefused(Exception):
    def __init__(self, message: str, *, code: str = "refused") -> None:
        super().__init__(message)
        self.message = message
        self.code = code

    def __str__(self) -> str:
        return str(self.message)
