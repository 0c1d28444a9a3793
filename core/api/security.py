"""API side of account security: token authentication that honours two-factor requirements, the
per-account throttle of the token endpoint and the answer to a locked-out sign-in."""

from __future__ import annotations

import hashlib

from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme
from knox.auth import TokenAuthentication
from rest_framework import exceptions
from rest_framework.throttling import SimpleRateThrottle

from core import mfa


class PortalTokenAuthentication(TokenAuthentication):
    """knox tokens, refused (403) for a person whose role requires two-factor authentication while
    they have not set it up: tokens issued before it was required stop working too. (Setting it up
    revokes the tokens issued before, and new ones need the code.)"""

    def validate_user(self, auth_token):
        user, token = super().validate_user(auth_token)
        if mfa.is_required_for(user) and not mfa.has_authenticator(user):
            raise exceptions.PermissionDenied(mfa.setup_needed_message())
        return user, token


class PortalTokenScheme(KnoxTokenScheme):
    """The same `Authorization: Token ...` scheme in the OpenAPI schema."""

    target_class = "core.api.security.PortalTokenAuthentication"


class AccountRateThrottle(SimpleRateThrottle):
    """Token requests per account named in the request, whatever address they come from."""

    scope = "auth_account"

    def get_cache_key(self, request, view):
        try:
            username = request.data.get("username")
        except AttributeError:  # a body that is not an object
            return None
        if not isinstance(username, str) or not username.strip():
            return None
        ident = hashlib.sha256(username.strip().lower().encode()).hexdigest()
        return self.cache_format % {"scope": self.scope, "ident": ident}


class SignInLockedOut(exceptions.Throttled):
    """429 with the lockout's message (saying until when) and a Retry-After header."""

    default_code = "locked_out"

    def __init__(self, message: str, wait: int) -> None:
        exceptions.APIException.__init__(self, message, self.default_code)
        self.wait = wait
