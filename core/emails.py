"""Emails sent at most once per event and person, whatever retries or second deliveries of the task
(core.outbox is at least once): each email is claimed by its SentEmail row before it is sent, and the
claim withdrawn if sending fails, so that the retry sends it."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.core.mail import EmailMessage, get_connection
from django.utils import translation

from core.models import SentEmail, User


def in_language_of(user: User, build: Callable[[], EmailMessage]) -> Callable[[], EmailMessage]:
    """`build`, made in the recipient's chosen interface language (User.language): a PO officer who
    works in Bangla gets Bangla emails, whatever language the worker or the acting user has."""

    def build_in_language() -> EmailMessage:
        with translation.override(user.language or None):
            return build()

    return build_in_language


def send_once(emails: Iterable[tuple[str, Callable[[], EmailMessage]]]) -> int:
    """Send each `(key, build)` whose key was never claimed; returns how many went out. `key` names
    the event and the recipient (e.g. "transition:12:user:7"); `build` makes the message."""
    emails = list(emails)
    already = set(
        SentEmail.objects.filter(key__in=[key for key, _build in emails]).values_list("key", flat=True)
    )
    pending = [(key, build) for key, build in emails if key not in already]
    if not pending:
        return 0
    sent = 0
    with get_connection() as connection:
        for key, build in pending:
            claim, claimed = SentEmail.objects.get_or_create(key=key)
            if not claimed:
                continue  # another copy of this task sends it
            try:
                delivered = connection.send_messages([build()])
            except Exception:
                claim.delete()  # not sent: the retry sends it
                raise
            if delivered:
                sent += 1
            else:
                claim.delete()
    return sent
