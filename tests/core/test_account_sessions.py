"""The "sessions and API tokens" page: what it lists, revoking one, signing out everywhere else, and
refusing to touch another person's (issue 11, "Accounts")."""

from __future__ import annotations

import pytest
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.test import Client
from knox.models import AuthToken

from core.models import UserSession

LOGIN = "/accounts/login/"
SECURITY = "/accounts/security/"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
PHONE = "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/126.0 Mobile Safari/537.36"


@pytest.fixture(autouse=True)
def _fresh_throttles():
    cache.clear()


def browser(username: str, password: str, user_agent: str, address: str) -> Client:
    """A browser that signed in through the sign-in page."""
    client = Client(HTTP_USER_AGENT=user_agent, REMOTE_ADDR=address)
    assert client.post(LOGIN, {"username": username, "password": password}).status_code == 302
    return client


def test_the_page_lists_each_browser_and_token_of_the_account(po1, po2, password, api):
    laptop = browser("po1", password, FIREFOX, "192.0.2.10")
    browser("po1", password, PHONE, "192.0.2.11")
    browser("po2", password, PHONE, "192.0.2.99")
    token = api.post("/api/v1/auth/token/", {"username": "po1", "password": password}).json()["token"]

    page = laptop.get(SECURITY)

    text = page.content.decode()
    sessions = page.context["sessions"]
    assert [(s.user_agent, s.ip_address) for s in sessions] == [
        (PHONE, "192.0.2.11"),
        (FIREFOX, "192.0.2.10"),
    ]
    assert "192.0.2.99" not in text  # po2's session is not on po1's page
    assert "this browser" in text
    assert token[:8] in text
    assert token not in text  # only the beginning of a token is ever shown


def test_revoking_another_session_signs_it_out(po1, password):
    laptop = browser("po1", password, FIREFOX, "192.0.2.10")
    phone = browser("po1", password, PHONE, "192.0.2.11")
    row = UserSession.objects.get(user_agent=PHONE)

    response = laptop.post(f"/accounts/security/sessions/{row.pk}/revoke/")

    assert response.status_code == 302
    assert phone.get("/")["Location"].startswith(LOGIN)
    assert not UserSession.objects.filter(pk=row.pk).exists()
    assert not Session.objects.filter(session_key=row.session_key).exists()
    assert laptop.get("/").status_code == 200


def test_revoking_this_session_signs_out(po1, password):
    laptop = browser("po1", password, FIREFOX, "192.0.2.10")
    row = UserSession.objects.get(user=po1)

    response = laptop.post(f"/accounts/security/sessions/{row.pk}/revoke/")

    assert response["Location"] == "/accounts/login/"
    assert laptop.get("/")["Location"].startswith(LOGIN)


def test_another_persons_session_or_token_cannot_be_revoked(po1, po2, password, api):
    theirs = browser("po2", password, PHONE, "192.0.2.99")
    their_row = UserSession.objects.get(user=po2)
    their_token = api.post("/api/v1/auth/token/", {"username": "po2", "password": password}).json()["token"]
    mine = browser("po1", password, FIREFOX, "192.0.2.10")

    session_refused = mine.post(f"/accounts/security/sessions/{their_row.pk}/revoke/")
    digest = AuthToken.objects.get(user=po2).digest
    token_refused = mine.post("/accounts/security/tokens/revoke/", {"token": digest})

    assert session_refused.status_code == 404
    assert token_refused.status_code == 404
    assert theirs.get("/").status_code == 200
    api.credentials(HTTP_AUTHORIZATION=f"Token {their_token}")
    assert api.get("/api/v1/me/").status_code == 200


def test_revoking_a_token_makes_it_answer_401(client, po1, password, api):
    token = api.post("/api/v1/auth/token/", {"username": "po1", "password": password}).json()["token"]
    client.force_login(po1)

    response = client.post(
        "/accounts/security/tokens/revoke/", {"token": AuthToken.objects.get(user=po1).digest}, follow=True
    )

    assert "The API token is revoked" in response.content.decode()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api.get("/api/v1/me/").status_code == 401


def test_signing_out_everywhere_else_ends_other_sessions_and_all_tokens(po1, password, api):
    laptop = browser("po1", password, FIREFOX, "192.0.2.10")
    phone = browser("po1", password, PHONE, "192.0.2.11")
    token = api.post("/api/v1/auth/token/", {"username": "po1", "password": password}).json()["token"]

    response = laptop.post("/accounts/security/sign-out-elsewhere/", follow=True)

    assert "1 other session and 1 API token" in response.content.decode()
    assert phone.get("/")["Location"].startswith(LOGIN)
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api.get("/api/v1/me/").status_code == 401
    assert laptop.get("/").status_code == 200


def test_after_a_password_change_only_this_session_is_listed_and_still_works(po1, password):
    laptop = browser("po1", password, FIREFOX, "192.0.2.10")
    phone = browser("po1", password, PHONE, "192.0.2.11")
    signed_in_at = UserSession.objects.get(user_agent=FIREFOX).signed_in_at

    laptop.post(
        "/accounts/password/",
        {
            "old_password": password,
            "new_password1": "a-new-long-pass-92",
            "new_password2": "a-new-long-pass-92",
        },
    )

    assert phone.get("/")["Location"].startswith(LOGIN)
    sessions = laptop.get(SECURITY).context["sessions"]
    assert [(s.user_agent, s.signed_in_at) for s in sessions] == [(FIREFOX, signed_in_at)]


def test_signing_out_forgets_the_session(po1, password):
    laptop = browser("po1", password, FIREFOX, "192.0.2.10")

    laptop.post("/accounts/logout/")

    assert not UserSession.objects.filter(user=po1).exists()


def test_the_pages_are_for_signed_in_people_and_revoking_needs_a_post(client, po1):
    assert client.get(SECURITY)["Location"].startswith(LOGIN)
    client.force_login(po1)
    row = UserSession.objects.get(user=po1)

    assert client.get(f"/accounts/security/sessions/{row.pk}/revoke/").status_code == 405
    assert client.get("/accounts/security/sign-out-elsewhere/").status_code == 405
    assert client.get(SECURITY).status_code == 200


def test_the_user_menu_links_the_page(client, po1):
    client.force_login(po1)

    text = client.get("/").content.decode()

    assert 'href="/accounts/security/"' in text
    assert 'href="/accounts/two-factor/setup/"' in text


def test_the_admin_signs_in_through_the_portals_sign_in_page(client, po1):
    anonymous = client.get("/admin/login/", {"next": "/admin/core/user/"})
    client.force_login(po1)
    not_admin = client.get("/admin/login/", {"next": "/admin/"})

    assert anonymous["Location"] == "/accounts/login/?next=%2Fadmin%2Fcore%2Fuser%2F"
    assert not_admin.status_code == 403


def test_deleting_a_session_in_the_admin_signs_it_out(client, pmu, po1, password):
    phone = browser("po1", password, PHONE, "192.0.2.11")
    row = UserSession.objects.get(user=po1)
    client.force_login(pmu)
    pmu.is_superuser = True
    pmu.save()

    client.post(f"/admin/core/usersession/{row.pk}/delete/", {"post": "yes"})

    assert phone.get("/")["Location"].startswith(LOGIN)
