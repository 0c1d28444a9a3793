"""API errors are always JSON (issue 12), 500 included: the one error body (issue 16:
`{"code", "detail", "fields"}`) with the request's id, the traceback logged as usual; pages keep their
HTML error pages. Tests run with DEBUG off, as production does."""

from __future__ import annotations

import logging
from unittest import mock

import pytest
from django.conf import settings as django_settings
from django.test import Client
from rest_framework.test import APIClient

from core.api.views import CurrentUserView
from core.middleware import AccountSecurityMiddleware
from tests.core.test_constraint_races import ERROR_ANSWERS, with_error_answers

pytestmark = pytest.mark.django_db

REQUEST_ID = "core.request_context.RequestIdMiddleware"
SERVER_ERROR = (
    "A server error occurred. It has been logged; try again later, and quote the request id if it persists."
)


@pytest.fixture(autouse=True)
def _error_answers(settings):
    middleware = with_error_answers(settings.MIDDLEWARE)
    if REQUEST_ID not in middleware:
        middleware.insert(0, REQUEST_ID)
    settings.MIDDLEWARE = middleware


def client_of(user=None, client_class=APIClient):
    # Django's test client re-raises an exception the handler reported; a real client gets the answer.
    client = client_class(raise_request_exception=False)
    if user is not None:
        client.force_login(user)
    return client


def boom(*args, **kwargs):
    raise RuntimeError("something nobody expected")


def test_the_tests_see_production_behaviour():
    assert django_settings.DEBUG is False
    assert ERROR_ANSWERS in with_error_answers(list(django_settings.MIDDLEWARE))


def test_an_unexpected_error_in_an_api_view_is_a_json_500_with_the_request_id(po1, caplog):
    client = client_of(po1)

    with mock.patch.object(CurrentUserView, "get_object", boom), caplog.at_level(logging.ERROR):
        response = client.get("/api/v1/me/", HTTP_X_REQUEST_ID="req-12345")

    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "code": "server_error",
        "detail": SERVER_ERROR,
        "fields": {},
        "request_id": "req-12345",
    }
    assert response["X-Request-ID"] == "req-12345"
    logged = [record for record in caplog.records if record.name == "django.request"]
    assert len(logged) == 1
    assert "req-12345" in logged[0].getMessage()
    assert logged[0].exc_info[0] is RuntimeError  # the traceback, as usual
    assert "something nobody expected" not in response.content.decode()


def test_a_browser_asking_for_html_still_gets_json_for_a_500(po1):
    client = client_of(po1)

    with mock.patch.object(CurrentUserView, "get_object", boom):
        response = client.get("/api/v1/me/", HTTP_ACCEPT="text/html")

    assert (response.status_code, response["Content-Type"]) == (500, "application/json")
    assert response.json()["code"] == "server_error"


def test_a_new_request_id_is_reported_when_the_client_sends_none(po1):
    with mock.patch.object(CurrentUserView, "get_object", boom):
        response = client_of(po1).get("/api/v1/me/")

    assert response.json()["request_id"] == response["X-Request-ID"]
    assert len(response.json()["request_id"]) == 32


def test_an_error_raised_by_a_middleware_under_the_api_is_json_too(po1):
    client = client_of(po1)

    with mock.patch.object(AccountSecurityMiddleware, "__call__", boom):
        response = client.get("/api/v1/me/", HTTP_X_REQUEST_ID="req-mw")

    assert (response.status_code, response["Content-Type"]) == (500, "application/json")
    assert response.json() == {
        "code": "server_error",
        "detail": SERVER_ERROR,
        "fields": {},
        "request_id": "req-mw",
    }


@pytest.mark.parametrize(
    "url", ["/api/v1/no-such-resource/", "/api/nothing-here", "/api/v1/enterprises/1/x/"]
)
def test_an_unknown_api_url_is_a_json_404(po1, url):
    response = client_of(po1).get(url, HTTP_X_REQUEST_ID="req-404")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "code": "not_found",
        "detail": "Not found.",
        "fields": {},
        "request_id": "req-404",
    }


def test_drfs_own_errors_have_the_one_body_too(po1, me_one_of):
    client = client_of(po1)

    missing = client.get("/api/v1/enterprises/999999/")
    not_allowed = client.delete(f"/api/v1/enterprises/{me_one_of(po1).pk}/")
    anonymous = client_of().get("/api/v1/enterprises/")

    assert (missing.status_code, missing.json()) == (
        404,
        {"code": "not_found", "detail": "No Enterprise matches the given query.", "fields": {}},
    )
    assert (not_allowed.status_code, not_allowed.json()) == (
        405,
        {"code": "method_not_allowed", "detail": 'Method "DELETE" not allowed.', "fields": {}},
    )
    assert anonymous.status_code == 401
    assert anonymous["Content-Type"] == "application/json"


def test_pages_keep_their_html_error_pages(po1):
    client = client_of(po1, Client)

    missing = client.get("/no-such-page/")
    with mock.patch.object(AccountSecurityMiddleware, "__call__", boom):
        broken = client.get("/")

    assert missing.status_code == 404
    assert missing["Content-Type"].startswith("text/html")
    assert broken.status_code == 500
    assert broken["Content-Type"].startswith("text/html")
    assert "Something went wrong" in broken.content.decode()


def test_a_nul_character_is_still_refused_as_before(po1):
    response = client_of(po1).get("/api/v1/enterprises/", {"search": "a\x00b"})

    assert (response.status_code, response.json()["fields"]) == (
        400,
        {"search": [{"code": "null_characters", "message": "Null characters are not allowed."}]},
    )


@pytest.fixture
def me_one_of(db):
    from tests.enterprises.factories import EnterpriseFactory, sub_project_for

    def make(user):
        return EnterpriseFactory(sub_project=sub_project_for(user.partner_organization))

    return make
