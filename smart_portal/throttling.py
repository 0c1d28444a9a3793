"""Rate limits of the API per credential: each knox token (or each signed-in session's user) may make
API_THROTTLE_RATE requests (600 a minute by default), and, separately, API_BULK_THROTTLE_RATE bulk
requests (60 a minute). Past it the answer is 429 `throttled` with `Retry-After` (whole seconds).

The counts live in Django's cache (core.cache: Redis in production; a cache that is down lets every
request through rather than failing it). Rates are read from the settings at each request, so a test
can change them. Anonymous requests are not counted here (the token endpoint and the public grievance
endpoints have their own per-address throttles).

A bulk operation says so with `throttle_scope = "bulk"` (BULK_SCOPE): on its view class, or as
`@action(..., throttle_scope="bulk")` on a viewset that declares `throttle_scope = None` (DRF accepts
only the keywords a class has). Its requests count against the bulk rate only.
"""

from __future__ import annotations

import hashlib
import math

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

BULK_SCOPE = "bulk"


def is_bulk(view) -> bool:
    return getattr(view, "throttle_scope", None) == BULK_SCOPE


class TokenRateThrottle(SimpleRateThrottle):
    """API requests per knox token, or per user for a signed-in session (the browsable API)."""

    scope = "api"
    setting = "API_THROTTLE_RATE"
    default_rate = "600/minute"

    def get_rate(self) -> str | None:
        return getattr(settings, self.setting, self.default_rate) or None

    def counts(self, view) -> bool:
        return not is_bulk(view)

    def get_cache_key(self, request, view) -> str | None:
        if not self.counts(view):
            return None
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        token = getattr(request, "auth", None)
        digest = getattr(token, "digest", None)
        # The token's digest, hashed again: the cache never holds what authenticates a request.
        ident = f"token-{hashlib.sha256(digest.encode()).hexdigest()[:32]}" if digest else f"user-{user.pk}"
        return self.cache_format % {"scope": self.scope, "ident": ident}

    def wait(self) -> float | None:
        # Whole seconds, at least one: Retry-After: 0 would invite an immediate retry.
        seconds = super().wait()
        return None if seconds is None else max(1, math.ceil(seconds))


class BulkRateThrottle(TokenRateThrottle):
    """Bulk requests (`POST .../bulk/`) per token or session user, counted apart from the others."""

    scope = "api_bulk"
    setting = "API_BULK_THROTTLE_RATE"
    default_rate = "60/minute"

    def counts(self, view) -> bool:
        return is_bulk(view)
