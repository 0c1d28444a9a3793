"""The portal keeps serving while its Redis cache is down (core.cache.ResilientRedisCache): every cache
call answers as an empty cache, sign-ins and throttled API calls succeed, and the outage is logged once."""

from __future__ import annotations

import logging
import socket
import uuid
from unittest import mock

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from core.cache import CacheUnavailable, ResilientRedisCache

REFUSED = "redis://127.0.0.1:1/12"  # nothing listens on port 1
LIVE = "redis://127.0.0.1:6379/12"
DOWN_CACHES = {"default": {"BACKEND": "core.cache.ResilientRedisCache", "LOCATION": REFUSED}}


def cache_at(location: str, **options) -> ResilientRedisCache:
    return ResilientRedisCache(location, {"OPTIONS": options, "KEY_PREFIX": f"test-{uuid.uuid4().hex}"})


@pytest.fixture
def live_cache():
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
    except OSError:
        pytest.skip("no Redis at 127.0.0.1:6379")
    cache = cache_at(LIVE)
    yield cache
    cache.delete_many(["counter", "key", "other"])


def test_a_cache_that_is_down_answers_as_an_empty_cache():
    cache = cache_at(REFUSED)

    assert cache.get("key", "default") == "default"
    assert cache.set("key", 1) is None
    assert cache.add("key", 1) is True  # as on an empty cache: a "send once" notice goes out
    assert cache.delete("key") is False
    assert cache.get_many(["key", "other"]) == {}
    assert cache.has_key("key") is False
    assert cache.touch("key") is False
    assert cache.set_many({"key": 1, "other": 2}) == ["key", "other"]  # the keys not stored
    assert cache.delete_many(["key", "other"]) is None
    assert cache.get_or_set("key", 5) == 5
    with pytest.raises(ValueError, match="not found"):
        cache.incr("key")
    with pytest.raises(ValueError, match="not found"):
        cache.decr("key")


def test_after_a_failure_redis_is_left_alone_for_a_while():
    cache = cache_at(REFUSED)
    with mock.patch.object(cache._cache, "get_client", wraps=cache._cache.get_client) as get_client:
        for _ in range(10):
            cache.get("key")
            cache.set("key", 1)

    assert get_client.call_count == 1  # the first call found Redis down; the others did not wait for it
    assert cache.is_down()


def test_the_cache_gives_up_quickly_on_a_silent_redis():
    cache = cache_at(REFUSED)
    options = cache._cache._pool_options

    assert (options["socket_connect_timeout"], options["socket_timeout"]) == (0.5, 0.5)
    assert cache_at(REFUSED, socket_timeout=0.2)._cache._pool_options["socket_timeout"] == 0.2


def test_an_outage_is_logged_once_and_its_end_too(live_cache, caplog):
    live_cache.down_pause = 0  # ask Redis again at every call
    failing = mock.patch.object(live_cache._cache, "get_client", side_effect=RedisConnectionError("refused"))

    with caplog.at_level(logging.WARNING, logger="core.cache"):
        with failing:
            for _ in range(5):
                assert live_cache.get("key", "default") == "default"
        live_cache.set("key", "value")
        assert live_cache.get("key") == "value"

    assert [record.getMessage().split(" (")[0] for record in caplog.records] == [
        "cache unavailable",
        "cache available again",
    ]
    assert not live_cache.is_down()


def test_a_reachable_redis_is_an_ordinary_cache(live_cache):
    live_cache.set("key", {"a": 1})
    assert live_cache.get("key") == {"a": 1}
    assert live_cache.add("key", "other") is False
    live_cache.set("counter", 1)
    assert live_cache.incr("counter", 2) == 3
    with pytest.raises(ValueError, match="not found"):
        live_cache.incr("missing")
    assert live_cache.delete("key") is True
    live_cache.ping()


def test_ping_says_when_redis_is_down():
    with pytest.raises(CacheUnavailable, match="ConnectionError"):
        cache_at(REFUSED).ping()


# --- The portal with its cache down -------------------------------------------------------------------


def test_throttled_api_calls_succeed_with_the_cache_down(api, po1, password, settings):
    settings.CACHES = DOWN_CACHES

    response = api.post("/api/v1/auth/token/", {"username": "po1", "password": password})

    assert response.status_code == 200
    assert response.json()["token"]


def test_signing_in_works_with_the_cache_down(client, po1, password, settings):
    settings.CACHES = DOWN_CACHES

    response = client.post("/accounts/login/", {"username": "po1", "password": password})

    assert response.status_code == 302
    assert client.get("/").status_code == 200


def test_lockouts_still_hold_with_the_cache_down(client, po1, password, settings):
    # Lockouts are counted in the database (django-axes), not in the cache.
    settings.CACHES = DOWN_CACHES
    settings.AXES_FAILURE_LIMIT = 3
    for _ in range(3):
        client.post("/accounts/login/", {"username": "po1", "password": "wrong"})

    response = client.post("/accounts/login/", {"username": "po1", "password": password})

    assert response.status_code == 429
    assert not client.session.get("_auth_user_id")
