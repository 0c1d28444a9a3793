"""A Redis cache that the portal can lose without failing a request.

Django's cache holds nothing the portal cannot do without: the API's request throttles, the progress
of a running spreadsheet import, the "you were locked out" notice sent once per lockout (sign-in
lockouts themselves are counted in django-axes' database tables). Django's own RedisCache raises on
every call while Redis is down, so each of those pages would answer 500. This backend instead gives
up quickly (short socket timeouts, no retries) and answers as an empty cache whose writes are lost:

- `get` returns the default, `get_many` nothing, `has_key` False: throttles see no history and let
  requests through, import pages show no live progress until the job's row says it is done;
- `set`, `delete`, `touch`, `set_many`, `delete_many`, `clear` change nothing;
- `add` answers True, as it would on an empty cache (so the lockout notice may go out twice during an
  outage rather than never);
- `incr`/`decr` raise ValueError, Django's answer for a key that is not there.

After one failure the backend leaves Redis alone for CACHE_DOWN_PAUSE_SECONDS (every call is a miss
at once), so a request making several cache calls pays for at most one timeout, and one warning is
logged per outage rather than one per call.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)

T = TypeVar("T")

# Seconds to connect to Redis and to wait for one answer; a cache slower than this is no help.
DEFAULT_SOCKET_TIMEOUT = 0.5
# Seconds during which a cache that just failed is not asked again.
DEFAULT_DOWN_PAUSE = 5.0
# What "Redis is unreachable" looks like: refused, reset, timed out, DNS, still loading its data.
UNAVAILABLE = (RedisConnectionError, RedisTimeoutError, OSError)


class CacheUnavailable(Exception):
    """Redis did not answer (raised by `ping()` only; the other methods answer as a miss)."""


class ResilientRedisCache(RedisCache):
    """RedisCache with short timeouts that answers as an empty cache while Redis is unreachable.

    OPTIONS take everything RedisCache takes (passed on to redis-py's connection pool), plus
    DOWN_PAUSE_SECONDS; socket_connect_timeout and socket_timeout default to 0.5 s."""

    def __init__(self, server: str | list[str], params: dict[str, Any]) -> None:
        options = dict(params.get("OPTIONS") or {})
        self.down_pause = float(options.pop("DOWN_PAUSE_SECONDS", DEFAULT_DOWN_PAUSE))
        options.setdefault("socket_connect_timeout", DEFAULT_SOCKET_TIMEOUT)
        options.setdefault("socket_timeout", DEFAULT_SOCKET_TIMEOUT)
        super().__init__(server, {**params, "OPTIONS": options})
        self._down_until = 0.0
        self._lock = threading.Lock()

    # --- the breaker ---------------------------------------------------------------------------

    def is_down(self) -> bool:
        """Whether a call failed within the last DOWN_PAUSE_SECONDS (calls are misses meanwhile)."""
        return time.monotonic() < self._down_until

    def _failed(self, operation: str, exc: BaseException) -> None:
        with self._lock:
            first = self._down_until == 0.0
            self._down_until = time.monotonic() + self.down_pause
        if first:
            # One warning per outage: later failures only push the pause on.
            log.warning(
                "cache unavailable (%s: %s: %s); answering as an empty cache for %.0f s at a time",
                operation,
                type(exc).__name__,
                exc,
                self.down_pause,
            )

    def _succeeded(self) -> None:
        if self._down_until:
            with self._lock:
                was_down = self._down_until != 0.0
                self._down_until = 0.0
            if was_down:
                log.warning("cache available again")

    def _call(self, fallback: T, method: Callable[..., T], *args: Any) -> T:
        """RedisCache's `method(self, *args)`, or `fallback` while Redis is unreachable."""
        if self.is_down():
            return fallback
        try:
            result = method(self, *args)
        except UNAVAILABLE as exc:
            self._failed(method.__name__, exc)
            return fallback
        self._succeeded()
        return result

    def ping(self) -> None:
        """Ask Redis now (even during the pause); CacheUnavailable if it does not answer in time.
        For /healthz, which must tell the truth rather than a miss."""
        try:
            self._cache.get_client(write=True).ping()
        except UNAVAILABLE as exc:
            self._failed("ping", exc)
            raise CacheUnavailable(f"{type(exc).__name__}: {exc}") from exc
        self._succeeded()

    # --- the cache API ---------------------------------------------------------------------------

    def add(self, key: str, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        return self._call(True, RedisCache.add, key, value, timeout, version)

    def get(self, key: str, default: Any = None, version: int | None = None) -> Any:
        return self._call(default, RedisCache.get, key, default, version)

    def set(self, key: str, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> None:
        self._call(None, RedisCache.set, key, value, timeout, version)

    def touch(self, key: str, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        return self._call(False, RedisCache.touch, key, timeout, version)

    def delete(self, key: str, version: int | None = None) -> bool:
        return self._call(False, RedisCache.delete, key, version)

    def get_many(self, keys: Iterable[str], version: int | None = None) -> dict[str, Any]:
        return self._call({}, RedisCache.get_many, list(keys), version)

    def has_key(self, key: str, version: int | None = None) -> bool:
        return self._call(False, RedisCache.has_key, key, version)

    def incr(self, key: str, delta: int = 1, version: int | None = None) -> int:
        missing = object()
        result = self._call(missing, RedisCache.incr, key, delta, version)
        if not isinstance(result, int):
            # Django's answer for a key that is not there; callers already handle it.
            raise ValueError(f"Key '{key}' not found (cache unavailable).")
        return result

    def set_many(
        self, data: dict[str, Any], timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> list[str]:
        # Django's contract: the keys that could not be stored.
        return self._call(list(data), RedisCache.set_many, data, timeout, version)

    def delete_many(self, keys: Iterable[str], version: int | None = None) -> None:
        self._call(None, RedisCache.delete_many, list(keys), version)

    def clear(self) -> None:
        self._call(None, RedisCache.clear)
