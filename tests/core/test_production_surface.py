"""The OpenAPI schema and docs are for signed-in users unless API_DOCS_PUBLIC opens them (on by
default only with DEBUG)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_anonymous_visitors_get_neither_schema_nor_docs(client, api, settings):
    settings.API_DOCS_PUBLIC = False

    schema = api.get("/api/schema/")
    docs = client.get("/api/docs/")

    assert schema.status_code == 401
    assert b"/api/v1/" not in schema.content
    assert docs.status_code == 302
    assert docs["Location"] == "/accounts/login/?next=%2Fapi%2Fdocs%2F"


def test_a_signed_in_user_or_a_token_gets_them(client, api, po1, password, settings):
    settings.API_DOCS_PUBLIC = False
    client.force_login(po1)
    token = api.post("/api/v1/auth/token/", {"username": "po1", "password": password}).json()["token"]
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")

    assert client.get("/api/docs/").status_code == 200
    assert client.get("/api/schema/").status_code == 200
    assert b"/api/v1/enterprises/" in api.get("/api/schema/").content


def test_the_setting_opens_them_to_everyone(client, settings):
    settings.API_DOCS_PUBLIC = True

    assert client.get("/api/schema/").status_code == 200
    assert client.get("/api/docs/").status_code == 200


def test_the_default_is_closed_outside_debug(settings):
    # The test settings run with DEBUG off, as production does.
    assert settings.DEBUG is False
    assert settings.API_DOCS_PUBLIC is False
