"""Two-factor authentication: a TOTP authenticator app, with recovery codes (django-otp).

Anyone may turn it on; with MFA_REQUIRED it is required of the roles in MFA_REQUIRED_ROLES and of
staff and superuser accounts. Whoever has an authenticator signs in with their password and then a
code (the sign-in page, or `otp_code` at the API token endpoint). A person who must use it and has not
verified a code in this session reaches only the two-factor pages (core.middleware), and their API
tokens are refused until they have set it up. Setting it up ends their other sessions and revokes
the API tokens issued before.
"""

from __future__ import annotations

import base64
import logging
import time
from binascii import unhexlify

import segno
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.models import Device
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice, default_key

from core import accounts
from core.audit import audit
from core.errors import Forbidden
from core.models import User
from core.roles import Role

RECOVERY_CODE_COUNT = 10
AUTHENTICATOR_NAME = "Authenticator app"
RECOVERY_CODES_NAME = "Recovery codes"
# In the session: the secret of an authenticator being set up (not stored anywhere else before the
# person confirms it with a code) and a sign-in waiting for its second factor.
SETUP_SECRET_SESSION_KEY = "mfa_setup_secret"  # noqa: S105 (a session key's name)
PENDING_SESSION_KEY = "mfa_pending_sign_in"
PENDING_FOR_SECONDS = 5 * 60


class CodeRefused(Exception):
    """A second-factor code that does not sign in; the message says what to do."""


# --- Who needs it ---------------------------------------------------------------------------------


def required_roles() -> frozenset[Role]:
    try:
        return frozenset(Role(value) for value in settings.MFA_REQUIRED_ROLES)
    except ValueError as exc:
        raise ImproperlyConfigured(
            f"MFA_REQUIRED_ROLES lists an unknown role ({exc}); use {', '.join(Role.values)}."
        ) from exc


def is_required_for(user: User) -> bool:
    """Whether `user` must sign in with a second factor (MFA_REQUIRED, and a role or staff account)."""
    if not settings.MFA_REQUIRED or not user.is_authenticated:
        return False
    return user.is_staff or user.is_superuser or bool(user.roles & required_roles())


def is_verified(user: User) -> bool:
    """Whether this session's user signed in with a second factor (django-otp's OTPMiddleware)."""
    return getattr(user, "otp_device", None) is not None


def authenticator(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()


def has_authenticator(user: User) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def recovery_codes_left(user: User) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


# --- Setting it up --------------------------------------------------------------------------------


def setup_secret(request: HttpRequest) -> str:
    """The secret of the authenticator being set up in this session (the same until confirmed)."""
    secret = request.session.get(SETUP_SECRET_SESSION_KEY)
    if not secret:
        secret = default_key()
        request.session[SETUP_SECRET_SESSION_KEY] = secret
    return secret


def secret_for_typing(secret: str) -> str:
    """The secret as authenticator apps ask for it when typed: base32, in groups of four."""
    text = base64.b32encode(unhexlify(secret)).decode().rstrip("=")
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def otpauth_url(user: User, secret: str) -> str:
    return TOTPDevice(user=user, key=secret).config_url


def qr_code_svg(url: str) -> str:
    """The otpauth:// link as an inline SVG QR code (no script, no image request)."""
    return segno.make(url, error="m").svg_inline(scale=4, dark="#000", light="#fff", title=_("QR code"))


def _matching_step(secret: str, code: str, min_t: int | None = None) -> TOTP | None:
    """The TOTP (with the time step it matched) if `code` is the current code of `secret`."""
    code = "".join(code.split())
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = TOTP(unhexlify(secret))
    return totp if totp.verify(int(code), tolerance=1, min_t=min_t) else None


@transaction.atomic
def confirm_authenticator(
    user: User, secret: str, code: str, keep_session_key: str | None
) -> tuple[TOTPDevice, list[str]]:
    """Turn on (or replace) `user`'s authenticator once they typed its current code: the previous
    authenticator goes, new recovery codes replace the old, and every other session and API token of
    the account ends (they were opened without this second factor). Returns the device and the codes."""
    totp = _matching_step(secret, code)
    if totp is None:
        raise CodeRefused(
            _(
                "This code does not match. Check that the app shows the SMART Portal entry you just "
                "added and that your phone's clock is right, then type the code it shows now."
            )
        )
    TOTPDevice.objects.filter(user=user).delete()
    device = TOTPDevice.objects.create(
        user=user, name=AUTHENTICATOR_NAME, key=secret, confirmed=True, last_t=totp.t(), drift=totp.drift
    )
    codes = new_recovery_codes(user)
    accounts.sign_out_everywhere_else(user, keep_session_key, because="two_factor_enabled")
    return device, codes


def new_recovery_codes(user: User) -> list[str]:
    """Ten new single-use recovery codes, replacing any earlier ones. Shown once, then only counted."""
    device, _created = StaticDevice.objects.get_or_create(
        user=user, name=RECOVERY_CODES_NAME, defaults={"confirmed": True}
    )
    device.token_set.all().delete()
    codes = [StaticToken.random_token() for _i in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


def format_recovery_code(code: str) -> str:
    return f"{code[:4]}-{code[4:]}"


def turn_off(user: User) -> None:
    """Remove `user`'s authenticator and recovery codes. Refused where their role requires them."""
    if is_required_for(user):
        raise Forbidden(
            _(
                "Two-factor authentication is required for your role: you can replace your "
                "authenticator, but not turn it off."
            )
        )
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()
    audit("two_factor_disabled", level=logging.INFO, user=user.get_username())


def reset_for(user: User, by: User) -> None:
    """An administrator removes `user`'s second factor (a lost phone): they set it up again at their
    next sign-in if their role requires it. Their sessions and tokens end."""
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()
    accounts.end_other_sessions(user, None)
    accounts.revoke_api_tokens(user)
    audit("two_factor_reset", level=logging.INFO, user=user.get_username(), by_user=by)


# --- Signing in with it ---------------------------------------------------------------------------


def check_code(user: User, code: str) -> Device:
    """The device that accepts `code`: the authenticator for 6 digits, else a recovery code (used up).
    Wrong codes slow down (django-otp doubles the wait after each) and count as failed sign-ins."""
    code = "".join((code or "").split()).replace("-", "").lower()
    if code.isdigit() and len(code) == 6:
        queryset = TOTPDevice.objects.filter(user=user, confirmed=True)
    else:
        queryset = StaticDevice.objects.filter(user=user, confirmed=True)
    with transaction.atomic():
        device = queryset.select_for_update().order_by("pk").first()
        if device is None:
            raise CodeRefused(
                _("Enter the 6-digit code your authenticator app shows now, or one of your recovery codes.")
            )
        allowed, details = device.verify_is_allowed()
        if not allowed:
            locked_until = (details or {}).get("locked_until")
            seconds = max(1, int(locked_until.timestamp() - time.time())) if locked_until else 1
            raise CodeRefused(
                _("Too many wrong codes in a row: wait %(seconds)d seconds, then try again.")
                % {"seconds": seconds}
            )
        if device.verify_token(code):
            return device
    raise CodeRefused(
        _(
            "This code is not valid. Enter the 6-digit code your authenticator app shows now (each code "
            "works once), or one of your unused recovery codes."
        )
    )


def start_pending_sign_in(request: HttpRequest, user: User, redirect_to: str) -> None:
    """The password was right; the sign-in waits in the session for the second factor."""
    request.session[PENDING_SESSION_KEY] = {
        "user": user.pk,
        "backend": getattr(user, "backend", settings.AUTHENTICATION_BACKENDS[-1]),
        "at": int(time.time()),
        "next": redirect_to,
    }


def pending_sign_in(request: HttpRequest) -> tuple[User, dict] | None:
    """The user (and the sign-in's details) waiting for a second factor, if not too long ago."""
    pending = request.session.get(PENDING_SESSION_KEY)
    if not isinstance(pending, dict) or time.time() - pending.get("at", 0) > PENDING_FOR_SECONDS:
        request.session.pop(PENDING_SESSION_KEY, None)
        return None
    user = User.objects.filter(pk=pending.get("user"), is_active=True).first()
    return (user, pending) if user else None


def finish_sign_in(request: HttpRequest, user: User, device: Device, pending: dict | None) -> None:
    """Sign `user` in (when the password step waited for this) and mark the session as verified."""
    from django.contrib.auth import login
    from django_otp import login as otp_login

    if pending is not None:
        request.session.pop(PENDING_SESSION_KEY, None)
        # django-otp's user_logged_in receiver keeps the device in the session.
        user.otp_device = device
        login(request, user, backend=pending["backend"])
    else:
        otp_login(request, device)


def forget_verification(request: HttpRequest) -> None:
    request.session.pop(DEVICE_ID_SESSION_KEY, None)


# --- The API token endpoint -----------------------------------------------------------------------


def check_token_request(request: HttpRequest, user: User, code: str) -> None:
    """An API token for `user` needs their second factor when they have one, and is refused where it is
    required and not set up. Raises CodeRefused (with a message for the `otp_code` field) or Forbidden."""
    if has_authenticator(user):
        if not (code or "").strip():
            raise CodeRefused(
                _(
                    "This account uses two-factor authentication: send the 6-digit code of your "
                    "authenticator app (or a recovery code) in otp_code."
                )
            )
        try:
            check_code(user, code)
        except CodeRefused:
            accounts.second_factor_failed(request, user)
            raise
        return
    if is_required_for(user):
        accounts.log_refused(request, user.get_username(), "two_factor_not_set_up")
        raise Forbidden(setup_needed_message())


def setup_needed_message() -> str:
    return _(
        "Two-factor authentication is required for your role. Sign in to the portal in a browser and set "
        "it up (%(url)s), then ask for a new token with the code of your authenticator app in otp_code."
    ) % {"url": settings.PORTAL_BASE_URL.rstrip("/") + "/accounts/two-factor/setup/"}
