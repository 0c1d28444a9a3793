import pytest
from django.core.cache import cache

from tests.assertions import field_errors


@pytest.fixture(autouse=True)
def _fresh_throttle():
    cache.clear()


def test_token_endpoint_exchanges_credentials_for_a_working_token(api, po1, password):
    response = api.post("/api/v1/auth/token/", {"username": "po1", "password": password})

    assert response.status_code == 200
    token = response.json()["token"]
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    me = api.get("/api/v1/me/").json()
    assert me["username"] == "po1"
    assert me["roles"] == ["po_staff"]
    assert me["partner_organization"] == po1.partner_organization.code


def test_token_endpoint_refuses_a_wrong_password_without_saying_which_part(api, po1):
    response = api.post("/api/v1/auth/token/", {"username": "po1", "password": "nope"})

    assert response.status_code == 400
    assert field_errors(response) == {
        "non_field_errors": ["Unable to sign in with this username and password."]
    }


def test_token_endpoint_names_missing_fields(api, db):
    response = api.post("/api/v1/auth/token/", {"username": "po1"})

    assert response.status_code == 400
    assert field_errors(response) == {"password": ["This field is required."]}


def test_token_endpoint_is_throttled(api, po1, settings):
    for _attempt in range(20):
        api.post("/api/v1/auth/token/", {"username": "po1", "password": "guess"})

    assert api.post("/api/v1/auth/token/", {"username": "po1", "password": "guess"}).status_code == 429


def test_logout_revokes_the_token(api, po1, password):
    token = api.post("/api/v1/auth/token/", {"username": "po1", "password": password}).json()["token"]
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")

    assert api.post("/api/v1/auth/logout/").status_code == 204
    assert api.get("/api/v1/me/").status_code == 401


def test_api_without_credentials_is_refused(api, db):
    assert api.get("/api/v1/partner-organizations/").status_code == 401


def test_lists_are_paginated(api, pmu):
    body = api.as_user(pmu).get("/api/v1/upazilas/", {"page_size": 10}).json()

    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 507
    assert len(body["results"]) == 10


def test_schema_and_docs_are_served(client, po1):
    client.force_login(po1)  # signed in: see tests/core/test_production_surface.py for everyone else

    schema = client.get("/api/schema/")
    docs = client.get("/api/docs/")

    assert schema.status_code == 200
    assert b"/api/v1/partner-organizations/" in schema.content
    assert b"/api/v1/auth/token/" in schema.content
    assert docs.status_code == 200
    assert b"cdn" not in docs.content.lower()
