"""Rate limits per API token (smart_portal.throttling): past its limit a token gets 429 with
Retry-After and the error body; other tokens go on; bulk operations count apart."""

from __future__ import annotations

import json

import pytest
from django.core.cache import cache
from knox.models import AuthToken
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from smart_portal import throttling

ME = "/api/v1/me/"


@pytest.fixture(autouse=True)
def _fresh_counts(settings):
    """Counts start from nothing (they live in the cache), with small limits."""
    cache.clear()
    settings.API_THROTTLE_RATE = "3/minute"
    settings.API_BULK_THROTTLE_RATE = "2/minute"
    yield
    cache.clear()


class BulkProbe(APIView):
    """Stands for a bulk operation (`POST /api/v1/<resource>/bulk/`)."""

    throttle_scope = throttling.BULK_SCOPE

    def post(self, request):
        return Response({"written": 0})


def _bulk(token: str):
    request = APIRequestFactory().post(
        "/api/v1/probes/bulk/", {"items": []}, format="json", HTTP_AUTHORIZATION=f"Token {token}"
    )
    response = BulkProbe.as_view()(request)
    response.render()
    return response


def _token(user) -> str:
    return AuthToken.objects.create(user)[1]


def _throttled_as_the_contract_says(response) -> None:
    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    body = json.loads(response.content)
    assert body["code"] == "throttled"
    assert body["detail"]
    assert body["fields"] == {}


def test_a_token_past_its_limit_gets_429_with_retry_after_and_the_error_body(api, po1):
    api.as_user(po1)

    allowed = [api.get(ME).status_code for _ in range(3)]
    refused = api.get(ME)

    assert allowed == [200, 200, 200]
    _throttled_as_the_contract_says(refused)


def test_writes_count_with_reads(api, pmu):
    api.as_user(pmu)
    api.get(ME)
    api.get(ME)
    api.post("/api/v1/partner-organizations/", {"code": "PO-098", "name": "Counted"}, format="json")

    _throttled_as_the_contract_says(
        api.post("/api/v1/partner-organizations/", {"code": "PO-099", "name": "Refused"}, format="json")
    )


def test_another_users_token_is_unaffected(api, po1, po2):
    api.as_user(po1)
    for _ in range(4):
        api.get(ME)
    assert api.get(ME).status_code == 429

    assert api.as_user(po2).get(ME).status_code == 200


def test_each_token_has_its_own_count(api, po1):
    api.as_user(po1)
    for _ in range(4):
        api.get(ME)

    assert api.as_user(po1).get(ME).status_code == 200  # a new token of the same account


def test_a_signed_in_session_is_counted_per_user(client, po1):
    client.force_login(po1)

    answers = [client.get(ME).status_code for _ in range(4)]

    assert answers == [200, 200, 200, 429]


def test_anonymous_calls_are_not_counted_here(api, db):
    assert [api.get(ME).status_code for _ in range(5)] == [401] * 5


def test_bulk_operations_count_apart_with_their_own_limit(api, po1, po2):
    token = _token(po1)
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    for _ in range(3):
        api.get(ME)
    assert api.get(ME).status_code == 429  # the ordinary limit used up ...

    bulk = [_bulk(token).status_code for _ in range(2)]  # ... leaves the bulk one untouched
    refused = _bulk(token)

    assert bulk == [200, 200]
    _throttled_as_the_contract_says(refused)
    assert _bulk(_token(po2)).status_code == 200


def test_bulk_requests_do_not_use_up_the_ordinary_limit(api, po1):
    token = _token(po1)
    _bulk(token)
    _bulk(token)
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")

    assert [api.get(ME).status_code for _ in range(3)] == [200, 200, 200]


@pytest.mark.parametrize("resource", ["enterprises", "kpi-readings", "trainings"])
def test_the_apis_bulk_operations_are_in_the_bulk_scope(api, po1, resource):
    api.as_user(po1)
    url = f"/api/v1/{resource}/bulk/"

    first, second = (api.post(url, {"items": []}, format="json").status_code for _ in range(2))
    third = api.post(url, {"items": []}, format="json")

    assert 429 not in (first, second)
    _throttled_as_the_contract_says(third)
    assert api.get(ME).status_code == 200  # the ordinary count is untouched


def test_an_empty_rate_means_no_limit(api, po1, settings):
    settings.API_THROTTLE_RATE = ""
    api.as_user(po1)

    assert {api.get(ME).status_code for _ in range(6)} == {200}
