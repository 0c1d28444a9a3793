"""Account security: who may try to sign in and from where, what a password change ends, and the
sessions and API tokens a person holds.

- Failed sign-ins (the sign-in page, the API token endpoint, a wrong second factor) are counted by
  django-axes in its own table, per account and per client address. LOGIN_FAILURE_LIMIT failures for
  one account within LOGIN_LOCKOUT_MINUTES of each other lock that account, whatever address they
  come from; LOGIN_FAILURE_LIMIT_PER_ADDRESS failures from one address lock that address. While
  locked, even the right password is refused; the lock ends LOGIN_LOCKOUT_MINUTES after the last
  failed attempt. The account's owner gets one email per lockout.
- The client address is REMOTE_ADDR; X-Forwarded-For counts only as written by the
  TRUSTED_PROXY_COUNT proxies in front of the portal (the same rule as DRF's throttles).
- Every refused sign-in is one line of the audit log (core.audit), never with the password.
- A changed or removed password revokes all the account's API tokens (User.save calls
  `password_changed`); Django itself ends the other web sessions.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from datetime import datetime, timedelta
from importlib import import_module

from axes.attempts import get_cool_off_threshold
from axes.backends import AxesStandaloneBackend
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username, get_cool_off, get_failure_limit
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY
from django.core.cache import cache
from django.core.mail import send_mail
from django.db.models import Max, Q, Sum
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from core.audit import audit
from core.models import User, UserSession

logger = logging.getLogger(__name__)

# In the session: when its UserSession row was last told the session is in use (epoch seconds).
LAST_SEEN_SESSION_KEY = "_account_last_seen"
LAST_SEEN_EVERY = 5 * 60  # seconds: "last seen" needs no more precision than this


# --- The client's address ---------------------------------------------------------------------------


def _ip_or_none(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def client_ip(request: HttpRequest) -> str | None:
    """The address of the client: REMOTE_ADDR, or, behind TRUSTED_PROXY_COUNT proxies that each append
    the address they received from to X-Forwarded-For, the one the outermost proxy saw. Entries to the
    left of it were written by the client and are never believed. Same rule as DRF's NUM_PROXIES."""
    meta = request.META
    remote = meta.get("REMOTE_ADDR")
    proxies = settings.TRUSTED_PROXY_COUNT
    forwarded = meta.get("HTTP_X_FORWARDED_FOR")
    if proxies > 0 and forwarded:
        entries = forwarded.split(",")
        return _ip_or_none(entries[-min(proxies, len(entries))]) or _ip_or_none(remote)
    return _ip_or_none(remote)


# --- Lockout (django-axes) --------------------------------------------------------------------------


class LockoutBackend(AxesStandaloneBackend):
    """django-axes' check, first of AUTHENTICATION_BACKENDS: refuses any sign-in while locked out."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            # Only the portal's own code signs in without a request (the shell, the test client's
            # login()); every sign-in from outside goes through a view that passes its request.
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def _failures(attempts) -> int:
    return attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0


class LockoutHandler(AxesDatabaseHandler):
    """django-axes' database handler with two limits: LOGIN_FAILURE_LIMIT per account and the higher
    LOGIN_FAILURE_LIMIT_PER_ADDRESS per client address (axes itself has one limit for both)."""

    def get_failures(self, request, credentials: dict | None = None) -> int:
        username = get_client_username(request, credentials)
        recent = AccessAttempt.objects.filter(attempt_time__gte=get_cool_off_threshold(request))
        by_account = _failures(recent.filter(username=username)) if username else 0
        address = getattr(request, "axes_ip_address", None)
        by_address = _failures(recent.filter(ip_address=address)) if address else 0
        # Kept for the lockout notice: only an account's own lockout is worth an email to its owner.
        request.portal_account_failures = by_account
        if by_address >= settings.LOGIN_FAILURE_LIMIT_PER_ADDRESS:
            # Expressed on the account's scale, the one limit axes compares with.
            return max(by_account, get_failure_limit(request, credentials))
        return by_account

    def reset_user_attempts(self, request, credentials: dict | None = None) -> int:
        # A successful sign-in clears the account's failures only: clearing the address's too would let
        # anyone holding one account reset the count of an address they use to guess other passwords.
        username = get_client_username(request, credentials)
        if not username:
            return 0
        count, _deleted = AccessAttempt.objects.filter(username=username).delete()
        return count


def lockout_ends_at(request: HttpRequest, username: str | None) -> datetime:
    """When the lockout of this account or address ends: LOGIN_LOCKOUT_MINUTES after its last failure."""
    cool_off = get_cool_off(request) or timedelta(0)
    address = getattr(request, "axes_ip_address", None) or client_ip(request)
    who = Q(pk__in=[])
    if username:
        who |= Q(username=username)
    if address:
        who |= Q(ip_address=address)
    last = AccessAttempt.objects.filter(who).aggregate(last=Max("attempt_time"))["last"]
    return (last or timezone.now()) + cool_off


def lockout_message(until: datetime) -> str:
    minutes = max(1, round((until - timezone.now()).total_seconds() / 60))
    return ngettext(
        "Too many failed sign-in attempts for this account or from your network. Signing in is blocked "
        "until %(time)s (in %(minutes)d minute); every further attempt before then restarts the wait.",
        "Too many failed sign-in attempts for this account or from your network. Signing in is blocked "
        "until %(time)s (in %(minutes)d minutes); every further attempt before then restarts the wait.",
        minutes,
    ) % {"time": date_format(timezone.localtime(until), "TIME_FORMAT"), "minutes": minutes}


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict | None = None
) -> HttpResponse:
    """django-axes' AXES_LOCKOUT_CALLABLE: 429 with when to try again, as JSON for the API, else a page."""
    username = (credentials or {}).get("username") or getattr(request, "POST", {}).get("username")
    until = lockout_ends_at(request, username)
    message = lockout_message(until)
    retry_after = max(1, int((until - timezone.now()).total_seconds()))
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse(
            {"detail": message, "code": "locked_out", "retry_after": retry_after}, status=429
        )
    else:
        response = render(request, "registration/locked_out.html", {"message": message}, status=429)
    response["Retry-After"] = str(retry_after)
    return response


def is_locked_out(request: HttpRequest, username: str) -> bool:
    """Whether a sign-in of `username` from this request would be refused by the lockout now."""
    from axes.handlers.proxy import AxesProxyHandler

    return not AxesProxyHandler.is_allowed(request, {"username": username})


def second_factor_failed(request: HttpRequest, user: User) -> None:
    """A wrong second-factor code counts as a failed sign-in of the account (lockout and audit log)."""
    from django.contrib.auth.signals import user_login_failed

    user_login_failed.send(
        sender=__name__,
        credentials={"username": user.get_username()},
        request=request,
        reason="wrong_second_factor",
    )


def notify_locked_out(sender, request=None, username: str | None = None, **kwargs) -> None:
    """Receiver of axes' user_locked_out: email the account's owner, once per lockout."""
    if request is None or not username:
        return
    limit = get_failure_limit(request, {"username": username})
    if getattr(request, "portal_account_failures", 0) < limit:
        return  # the address is locked out, not this account
    user = User.objects.filter(username=username, is_active=True).exclude(email="").first()
    if user is None:
        return
    cool_off = get_cool_off(request) or timedelta(minutes=15)
    # The lockout lasts at least the cool-off: one key for that long is one email per lockout.
    if not cache.add(f"account-locked-notice:{user.pk}", True, timeout=int(cool_off.total_seconds())):
        return
    subject = _("[SMART] Your account was locked after failed sign-in attempts")
    body = "\n".join(
        [
            _("Dear %(name)s,") % {"name": user.get_display_name()},
            "",
            _(
                "Your SMART Portal account (%(username)s) was locked after %(count)d failed sign-in "
                "attempts, the last one from the address %(address)s at %(time)s."
            )
            % {
                "username": user.get_username(),
                "count": limit,
                "address": getattr(request, "axes_ip_address", None) or _("unknown"),
                "time": date_format(timezone.localtime(), "DATETIME_FORMAT"),
            },
            _(
                "Signing in is blocked until %(minutes)d minutes after the last failed attempt, even with "
                "the right password."
            )
            % {"minutes": int(cool_off.total_seconds() // 60)},
            "",
            _(
                "If this was you, wait and sign in again. If it was not, someone may be guessing your "
                "password: once signed in, change it, check your sessions and tokens, and tell the PMU."
            ),
            "",
            settings.PORTAL_BASE_URL.rstrip("/") + "/accounts/security/",
            "",
            _("— SMART Portal, PKSF"),
        ]
    )
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [user.email])
    except Exception:  # the refusal must stand even when the mail server is down
        logger.exception("could not send the lockout notice to user %s", user.pk)


# --- The audit log of refused sign-ins ---------------------------------------------------------------


def log_refused_sign_in(sender, credentials: dict, request=None, reason: str | None = None, **kwargs) -> None:
    """Receiver of Django's user_login_failed (after axes' own): one audit line, never the password."""
    if reason is None:
        reason = "locked_out" if getattr(request, "axes_locked_out", False) else "wrong_credentials"
    username = (credentials or {}).get("username")
    audit(
        "login_refused",
        username=str(username)[:150] if username is not None else None,
        ip=client_ip(request) if request is not None else None,
        reason=reason,
        path=getattr(request, "path", None),
    )


def log_refused(request: HttpRequest, username: str, reason: str) -> None:
    """A sign-in refused for another reason than its credentials (e.g. two-factor not set up)."""
    audit("login_refused", username=username, ip=client_ip(request), reason=reason, path=request.path)


# --- API tokens -----------------------------------------------------------------------------------


def revoke_api_tokens(user: User) -> int:
    """Delete every API token of `user`: requests with any of them answer 401 from now on."""
    from knox.models import AuthToken

    count, _deleted = AuthToken.objects.filter(user=user).delete()
    return count


def password_changed(user: User) -> None:
    """After a password change or removal (page, admin, shell): no old API token works any more.

    Other web sessions end by themselves (Django checks each session's password hash); the session
    that changed the password is kept (update_session_auth_hash)."""
    count = revoke_api_tokens(user)
    audit("password_changed", level=logging.INFO, user=user.get_username(), tokens_revoked=count)


def api_tokens(user: User):
    """The user's API tokens that still work, newest first."""
    from knox.models import AuthToken

    return (
        AuthToken.objects.filter(user=user)
        .filter(Q(expiry__isnull=True) | Q(expiry__gt=timezone.now()))
        .order_by("-created")
    )


def revoke_api_token(user: User, digest: str) -> bool:
    """Revoke one of `user`'s own tokens; False if they have none with this digest."""
    from knox.models import AuthToken

    count, _deleted = AuthToken.objects.filter(user=user, digest=digest).delete()
    return bool(count)


# --- Web sessions ---------------------------------------------------------------------------------


def _session_store(session_key: str | None = None):
    return import_module(settings.SESSION_ENGINE).SessionStore(session_key=session_key)


def record_session(request: HttpRequest, user: User) -> UserSession | None:
    """Remember the web session `user` just signed in with (receiver of user_logged_in). Nothing for a
    sign-in without a web session (an API token request)."""
    session = getattr(request, "session", None)
    if session is None or session.get(SESSION_KEY) != str(user.pk) or not session.session_key:
        return None
    now = timezone.now()
    session[LAST_SEEN_SESSION_KEY] = int(time.time())
    row, _created = UserSession.objects.update_or_create(
        session_key=session.session_key,
        defaults={
            "user": user,
            "user_agent": request.META.get("HTTP_USER_AGENT", "")[:300],
            "ip_address": client_ip(request),
            "signed_in_at": now,
            "last_seen_at": now,
        },
    )
    return row


def forget_session(sender, request=None, user=None, **kwargs) -> None:
    """Receiver of user_logged_out: the session is over."""
    session = getattr(request, "session", None)
    if session is not None and session.session_key:
        UserSession.objects.filter(session_key=session.session_key).delete()


def follow_session(request: HttpRequest, key_at_start: str | None) -> None:
    """After each request: keep the session's row in step with the session (its key changes when the
    user signs in or changes the password) and note, every few minutes, that it is still in use."""
    session = getattr(request, "session", None)
    if session is None:
        return
    key = session.session_key
    if key_at_start and key and key != key_at_start:
        UserSession.objects.filter(session_key=key_at_start).update(session_key=key)
    if not key or not session.accessed or session.get(SESSION_KEY) is None:
        return
    now = int(time.time())
    if now - session.get(LAST_SEEN_SESSION_KEY, 0) < LAST_SEEN_EVERY:
        return
    session[LAST_SEEN_SESSION_KEY] = now
    updated = UserSession.objects.filter(session_key=key).update(last_seen_at=timezone.now())
    user = getattr(request, "user", None)
    if not updated and user is not None and user.is_authenticated:
        record_session(request, user)


def _session_is_alive(data: dict, user: User) -> bool:
    """Whether a stored session still signs `user` in: same user, password unchanged since (the test
    Django's own middleware makes, with the secret key and its fallbacks)."""
    if data.get(SESSION_KEY) != str(user.pk):
        return False
    stored = data.get(HASH_SESSION_KEY) or ""
    if constant_time_compare(stored, user.get_session_auth_hash()):
        return True
    return any(
        constant_time_compare(stored, user._get_session_auth_hash(secret=fallback))
        for fallback in getattr(settings, "SECRET_KEY_FALLBACKS", [])
    )


def live_sessions(user: User) -> list[UserSession]:
    """The user's web sessions that still sign them in, most recently used first; rows of sessions
    that ended by themselves (expired, signed out, password changed since) are dropped."""
    alive: list[UserSession] = []
    ended: list[UserSession] = []
    for row in UserSession.objects.filter(user=user).order_by("-last_seen_at"):
        (alive if _session_is_alive(_session_store(row.session_key).load(), user) else ended).append(row)
    for row in ended:
        end_session(row)
    return alive


def end_session(row: UserSession) -> None:
    """Sign this session out: deleted from the session store, its next request is anonymous."""
    _session_store().delete(row.session_key)
    row.delete()


def end_other_sessions(user: User, keep_session_key: str | None) -> int:
    """Sign out every web session of `user` except `keep_session_key` (the one asking)."""
    rows = list(UserSession.objects.filter(user=user).exclude(session_key=keep_session_key or ""))
    for row in rows:
        end_session(row)
    return len(rows)


def sign_out_everywhere_else(
    user: User, keep_session_key: str | None, *, because: str = "signed_out_everywhere_else"
) -> tuple[int, int]:
    """Every other web session and every API token of `user` stop working, logged as `because`.
    Returns (sessions, tokens)."""
    sessions = end_other_sessions(user, keep_session_key)
    tokens = revoke_api_tokens(user)
    audit(because, level=logging.INFO, user=user.get_username(), sessions=sessions, tokens=tokens)
    return sessions, tokens


def connect_signals() -> None:
    """Called once from CoreConfig.ready()."""
    from axes.signals import user_locked_out
    from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed

    user_login_failed.connect(log_refused_sign_in, dispatch_uid="core-log-refused-sign-in")
    user_locked_out.connect(notify_locked_out, dispatch_uid="core-notify-locked-out")
    user_logged_in.connect(
        lambda sender, request, user, **kwargs: record_session(request, user),
        dispatch_uid="core-record-session",
        weak=False,
    )
    user_logged_out.connect(forget_session, dispatch_uid="core-forget-session")
