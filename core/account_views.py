"""The account pages: sign-in (with its second step), two-factor setup, sessions and tokens.

The rules are in core.accounts and core.mfa; these views only ask them and say what happened."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth import logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render, resolve_url
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticDevice

from core import accounts, mfa
from core.account_forms import AuthenticatorCodeForm, SecondFactorForm
from core.errors import Forbidden
from core.models import UserSession


def _safe_next(request: HttpRequest, default: str | None = None) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default or resolve_url(settings.LOGIN_REDIRECT_URL)


# --- Signing in -----------------------------------------------------------------------------------


class SignInView(auth_views.LoginView):
    """Django's sign-in page; for an account with an authenticator, the password is only the first step."""

    redirect_authenticated_user = True

    def form_valid(self, form):
        user = form.get_user()
        if mfa.has_authenticator(user):
            mfa.start_pending_sign_in(self.request, user, self.get_success_url())
            return redirect("accounts:two-factor-verify")
        return super().form_valid(form)


@never_cache
@sensitive_post_parameters("code")
def two_factor_verify(request: HttpRequest) -> HttpResponse:
    """The second step of signing in: a code of the authenticator app or a recovery code."""
    pending = None
    if request.user.is_authenticated:
        user = request.user
        if mfa.is_verified(user):
            return redirect(_safe_next(request))
        if not mfa.has_authenticator(user):
            return redirect("accounts:two-factor-setup")
        redirect_to = _safe_next(request)
    else:
        found = mfa.pending_sign_in(request)
        if found is None:
            messages.info(request, _("Your sign-in has expired: enter your username and password again."))
            return redirect("login")
        user, pending = found
        redirect_to = pending["next"]
    if accounts.is_locked_out(request, user.get_username()):
        return accounts.lockout_response(request, credentials={"username": user.get_username()})
    form = SecondFactorForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            device = mfa.check_code(user, form.cleaned_data["code"])
        except mfa.CodeRefused as refusal:
            # Counted like a wrong password: enough of them lock the account (AxesMiddleware answers).
            accounts.second_factor_failed(request, user)
            form.add_error("code", str(refusal))
        else:
            mfa.finish_sign_in(request, user, device, pending)
            if isinstance(device, StaticDevice):
                left = mfa.recovery_codes_left(user)
                messages.warning(
                    request,
                    ngettext(
                        "You signed in with a recovery code: %(count)d is left. Make new ones on the "
                        "two-factor page if you lost your authenticator.",
                        "You signed in with a recovery code: %(count)d are left. Make new ones on the "
                        "two-factor page if you lost your authenticator.",
                        left,
                    )
                    % {"count": left},
                )
            return redirect(redirect_to)
    return render(
        request,
        "registration/two_factor_verify.html",
        {"form": form, "username": user.get_username(), "next": redirect_to, "pending": pending is not None},
    )


def admin_login(request: HttpRequest) -> HttpResponse:
    """The admin site signs in through the portal's sign-in page, with its lockout and second factor."""
    next_url = _safe_next(request, reverse("admin:index"))
    if request.user.is_authenticated:
        if admin.site.has_permission(request):
            return redirect(next_url)
        raise PermissionDenied
    return redirect(f"{reverse('login')}?{urlencode({'next': next_url})}")


# --- Two-factor setup -----------------------------------------------------------------------------


def _two_factor_status(request: HttpRequest, **extra) -> HttpResponse:
    user = request.user
    context = {
        "required": mfa.is_required_for(user),
        "codes_left": mfa.recovery_codes_left(user),
        "device": mfa.authenticator(user),
        # Two forms with a code field on one page: each its own element ids.
        "renew_form": AuthenticatorCodeForm(auto_id="renew_%s"),
        "off_form": AuthenticatorCodeForm(auto_id="off_%s"),
        **extra,
    }
    return render(request, "core/two_factor_status.html", context)


@login_required
@never_cache
@sensitive_post_parameters("code")
def two_factor_setup(request: HttpRequest) -> HttpResponse:
    """Turn on (or replace) the authenticator: scan the QR code, type the code it shows."""
    user = request.user
    has_one = mfa.has_authenticator(user)
    if has_one and not mfa.is_verified(user):
        return redirect(f"{reverse('accounts:two-factor-verify')}?{urlencode({'next': request.path})}")
    replacing = has_one and bool(request.GET.get("replace") or request.POST.get("replace"))
    if has_one and not replacing:
        return _two_factor_status(request)
    secret = mfa.setup_secret(request)
    form = AuthenticatorCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            device, codes = mfa.confirm_authenticator(
                user, secret, form.cleaned_data["code"], request.session.session_key
            )
        except mfa.CodeRefused as refusal:
            form.add_error("code", str(refusal))
        else:
            request.session.pop(mfa.SETUP_SECRET_SESSION_KEY, None)
            otp_login(request, device)
            return render(
                request,
                "core/recovery_codes.html",
                {
                    "codes": [mfa.format_recovery_code(code) for code in codes],
                    "next": _safe_next(request),
                    "new_setup": True,
                },
            )
    url = mfa.otpauth_url(user, secret)
    return render(
        request,
        "core/two_factor_setup.html",
        {
            "form": form,
            "qr_svg": mfa.qr_code_svg(url),
            "secret": mfa.secret_for_typing(secret),
            "replacing": replacing,
            "required": mfa.is_required_for(user),
            "next": _safe_next(request, ""),
        },
    )


def _checked_code(request: HttpRequest) -> bool:
    """The current authenticator code typed on the two-factor page, before changing the setup."""
    form = AuthenticatorCodeForm(request.POST)
    if not form.is_valid():
        messages.error(request, form.errors["code"][0])
        return False
    try:
        mfa.check_code(request.user, form.cleaned_data["code"])
    except mfa.CodeRefused as refusal:
        messages.error(request, str(refusal))
        return False
    return True


@never_cache  # the page shows new recovery codes: never cached, never compressed (smart_portal.compression)
@login_required
@require_POST
@sensitive_post_parameters("code")
def recovery_codes_renew(request: HttpRequest) -> HttpResponse:
    if not (mfa.has_authenticator(request.user) and mfa.is_verified(request.user)):
        raise Http404
    if not _checked_code(request):
        return redirect("accounts:two-factor-setup")
    codes = mfa.new_recovery_codes(request.user)
    return render(
        request,
        "core/recovery_codes.html",
        {
            "codes": [mfa.format_recovery_code(code) for code in codes],
            "next": reverse("accounts:two-factor-setup"),
        },
    )


@login_required
@require_POST
@sensitive_post_parameters("code")
def two_factor_disable(request: HttpRequest) -> HttpResponse:
    if not (mfa.has_authenticator(request.user) and mfa.is_verified(request.user)):
        raise Http404
    if not _checked_code(request):
        return redirect("accounts:two-factor-setup")
    try:
        mfa.turn_off(request.user)
    except Forbidden as refusal:
        messages.error(request, refusal.message)
        return redirect("accounts:two-factor-setup")
    mfa.forget_verification(request)
    messages.success(request, _("Two-factor authentication is off. You sign in with your password only."))
    return redirect("accounts:two-factor-setup")


# --- Sessions and tokens --------------------------------------------------------------------------


@login_required
@never_cache
def account_security(request: HttpRequest) -> HttpResponse:
    user = request.user
    return render(
        request,
        "core/account_security.html",
        {
            "sessions": accounts.live_sessions(user),
            "current_session_key": request.session.session_key,
            "tokens": accounts.api_tokens(user),
            "has_authenticator": mfa.has_authenticator(user),
            "mfa_required": mfa.is_required_for(user),
        },
    )


@login_required
@require_POST
def session_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    # Another person's session is a 404, as if it did not exist.
    row = get_object_or_404(UserSession, pk=pk, user=request.user)
    if row.session_key == request.session.session_key:
        logout(request)
        messages.info(request, _("You signed out of this browser."))
        return redirect("login")
    accounts.end_session(row)
    messages.success(request, _("That session is signed out."))
    return redirect("accounts:security")


@login_required
@require_POST
def token_revoke(request: HttpRequest) -> HttpResponse:
    if not accounts.revoke_api_token(request.user, request.POST.get("token", "")):
        raise Http404
    messages.success(request, _("The API token is revoked: requests with it now answer 401."))
    return redirect("accounts:security")


@login_required
@require_POST
def sign_out_everywhere_else(request: HttpRequest) -> HttpResponse:
    sessions, tokens = accounts.sign_out_everywhere_else(request.user, request.session.session_key)
    messages.success(
        request,
        _("Signed out everywhere else: %(sessions)s and %(tokens)s.")
        % {
            "sessions": ngettext("%(n)d other session", "%(n)d other sessions", sessions) % {"n": sessions},
            "tokens": ngettext("%(n)d API token", "%(n)d API tokens", tokens) % {"n": tokens},
        },
    )
    return redirect("accounts:security")
