"""Account security on every request: two-factor authentication where it is required, and the record
of signed-in sessions (core.accounts, core.mfa)."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import reverse
from django.utils.translation import gettext as _

from core import accounts, mfa

# Pages a person who still owes a second factor may open: signing in and out, the two-factor pages
# themselves, the language switch, the health check and the API token endpoint (which checks the code).
OPEN_BEFORE_SECOND_FACTOR = frozenset(
    {
        "login",
        "logout",
        "accounts:two-factor-verify",
        "accounts:two-factor-setup",
        "set_language",
        "healthz",
        "readyz",
        "api-token",
    }
)


class AccountSecurityMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = getattr(request, "session", None)
        key_at_start = session.session_key if session is not None else None
        response = self.get_response(request)
        accounts.follow_session(request, key_at_start)
        return response

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs) -> HttpResponse | None:
        user = getattr(request, "user", None)
        if (
            user is None
            or not user.is_authenticated
            or mfa.is_verified(user)
            or not mfa.is_required_for(user)
        ):
            return None
        match = request.resolver_match
        if match is not None and match.view_name in OPEN_BEFORE_SECOND_FACTOR:
            return None
        return second_factor_needed(request, user)


def second_factor_needed(request: HttpRequest, user) -> HttpResponse:
    """The answer to a request of someone who must first verify (or set up) a second factor."""
    has_one = mfa.has_authenticator(user)
    if request.path.startswith("/api/"):
        message = (
            _("Verify your two-factor code in the portal first: this session has not done it yet.")
            if has_one
            else _("Two-factor authentication is required for your role: set it up in the portal first.")
        )
        return JsonResponse({"detail": message, "code": "second_factor_required"}, status=403)
    target = reverse("accounts:two-factor-verify" if has_one else "accounts:two-factor-setup")
    if request.method == "GET":
        target += "?" + urlencode({"next": request.get_full_path()})
    if request.headers.get("HX-Request"):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = target
        return response
    return HttpResponseRedirect(target)
