"""Throttled sign-in: lockout per account and per real client address, its expiry and notice, the audit
log of refused sign-ins, and API tokens revoked by a password change (issue 11, "Accounts")."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.core.cache import cache
from django.test import RequestFactory
from django.utils import timezone
from knox.models import AuthToken

from core.accounts import client_ip
from tests.factories import make_user

LOGIN = "/accounts/login/"
TOKEN = "/api/v1/auth/token/"


@pytest.fixture(autouse=True)
def _fresh_throttles_and_notices():
    cache.clear()


def address(n: int) -> dict:
    """A different client address and a different forged X-Forwarded-For for each attempt."""
    return {
        "REMOTE_ADDR": f"10.0.{n // 250}.{n % 250 + 1}",
        "HTTP_X_FORWARDED_FOR": f"203.0.113.{n % 250 + 1}",
    }


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


# --- The sign-in page -----------------------------------------------------------------------------


def test_the_21st_attempt_in_a_minute_is_refused_even_with_the_right_password_whatever_the_address(
    client, po1, password
):
    answers = [
        client.post(LOGIN, {"username": "po1", "password": f"guess-{n}"}, **address(n)).status_code
        for n in range(20)
    ]

    response = client.post(LOGIN, {"username": "po1", "password": password}, **address(99))

    assert answers[:19] == [200] * 19  # "Please enter a correct username and password"
    assert answers[19] == 429  # the 20th failure locks the account
    assert response.status_code == 429
    assert not signed_in(client)
    text = response.content.decode()
    assert "Too many failed sign-in attempts" in text
    assert "Signing in is blocked until" in text
    assert int(response["Retry-After"]) > 60


def test_a_lockout_expires(client, po1, password, settings):
    settings.AXES_FAILURE_LIMIT = 3
    for n in range(3):
        client.post(LOGIN, {"username": "po1", "password": "nope"}, **address(n))
    assert client.post(LOGIN, {"username": "po1", "password": password}).status_code == 429

    # Time passes: the last failure is now older than the lockout.
    AccessAttempt.objects.update(
        attempt_time=timezone.now() - timedelta(minutes=settings.LOGIN_LOCKOUT_MINUTES + 1)
    )

    response = client.post(LOGIN, {"username": "po1", "password": password})
    assert response.status_code == 302
    assert signed_in(client)


def test_a_successful_sign_in_clears_the_accounts_failures(client, po1, password, settings):
    settings.AXES_FAILURE_LIMIT = 3
    for _attempt in range(2):
        client.post(LOGIN, {"username": "po1", "password": "nope"})
    assert client.post(LOGIN, {"username": "po1", "password": password}).status_code == 302
    client.logout()

    for _attempt in range(2):
        assert client.post(LOGIN, {"username": "po1", "password": "nope"}).status_code == 200
    assert client.post(LOGIN, {"username": "po1", "password": password}).status_code == 302


def test_one_address_guessing_many_accounts_is_locked_out_but_not_the_accounts(
    client, po1, po2, password, settings, mailoutbox
):
    settings.LOGIN_FAILURE_LIMIT_PER_ADDRESS = 5
    guesser = {"REMOTE_ADDR": "198.51.100.7"}
    for n in range(5):
        client.post(LOGIN, {"username": f"someone{n}", "password": "nope"}, **guesser)

    refused = client.post(LOGIN, {"username": "po1", "password": password}, **guesser)
    elsewhere = client.post(LOGIN, {"username": "po1", "password": password}, REMOTE_ADDR="198.51.100.8")

    assert refused.status_code == 429
    assert elsewhere.status_code == 302
    assert mailoutbox == []  # no account was locked, so nobody is told


def test_the_owner_gets_one_notice_per_lockout_and_never_the_password(client, po1, settings, mailoutbox):
    settings.AXES_FAILURE_LIMIT = 3
    for n in range(6):
        client.post(LOGIN, {"username": "po1", "password": f"secret-guess-{n}"}, **address(n))

    assert len(mailoutbox) == 1
    notice = mailoutbox[0]
    assert notice.to == [po1.email]
    assert "locked" in notice.subject
    assert "after 3 failed sign-in attempts" in notice.body
    assert "secret-guess" not in notice.body


def test_no_notice_for_an_account_that_does_not_exist(client, db, settings, mailoutbox):
    settings.AXES_FAILURE_LIMIT = 2
    for _attempt in range(3):
        client.post(LOGIN, {"username": "nobody", "password": "nope"})

    assert mailoutbox == []


def test_refused_sign_ins_are_audit_log_lines_without_the_password(client, po1, caplog, settings):
    settings.AXES_FAILURE_LIMIT = 2
    with caplog.at_level(logging.INFO, logger="smart_portal.audit"):
        client.post(LOGIN, {"username": "po1", "password": "hunter2-guess"}, REMOTE_ADDR="192.0.2.5")
        client.post(LOGIN, {"username": "po1", "password": "hunter2-guess"}, REMOTE_ADDR="192.0.2.5")

    lines = [record for record in caplog.records if record.name == "smart_portal.audit"]
    assert [line.audit["reason"] for line in lines] == ["wrong_credentials", "locked_out"]
    assert lines[0].audit == {
        "event": "login_refused",
        "username": "po1",
        "ip": "192.0.2.5",
        "reason": "wrong_credentials",
        "path": LOGIN,
    }
    assert "hunter2" not in caplog.text


def test_x_forwarded_for_is_believed_only_as_written_by_the_trusted_proxies(settings):
    request = RequestFactory().get("/", REMOTE_ADDR="10.1.1.1", HTTP_X_FORWARDED_FOR="6.6.6.6, 192.0.2.44")

    settings.TRUSTED_PROXY_COUNT = 0
    assert client_ip(request) == "10.1.1.1"
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_ip(request) == "192.0.2.44"  # appended by our proxy; 6.6.6.6 was the client's own
    forged = RequestFactory().get("/", REMOTE_ADDR="10.1.1.1", HTTP_X_FORWARDED_FOR="not-an-address")
    assert client_ip(forged) == "10.1.1.1"


def test_behind_a_trusted_proxy_the_lockout_follows_the_real_client(client, po1, password, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.LOGIN_FAILURE_LIMIT_PER_ADDRESS = 3
    proxy = "172.18.0.2"
    for n in range(3):
        client.post(
            LOGIN,
            {"username": f"someone{n}", "password": "nope"},
            REMOTE_ADDR=proxy,
            HTTP_X_FORWARDED_FOR=f"1.2.3.{n}, 198.51.100.9",
        )

    guesser = client.post(
        LOGIN,
        {"username": "po1", "password": password},
        REMOTE_ADDR=proxy,
        HTTP_X_FORWARDED_FOR="198.51.100.9",
    )
    colleague = client.post(
        LOGIN,
        {"username": "po1", "password": password},
        REMOTE_ADDR=proxy,
        HTTP_X_FORWARDED_FOR="198.51.100.10",
    )

    assert guesser.status_code == 429
    assert colleague.status_code == 302


# --- The API token endpoint -----------------------------------------------------------------------


def test_the_token_endpoint_refuses_the_21st_attempt_for_an_account_whatever_the_address(api, po1, password):
    for n in range(20):
        api.post(TOKEN, {"username": "po1", "password": f"guess-{n}"}, **address(n))

    response = api.post(TOKEN, {"username": "po1", "password": password}, **address(99))

    assert response.status_code == 429
    assert not AuthToken.objects.filter(user=po1).exists()


def test_a_locked_out_account_gets_no_token_and_is_told_until_when(api, po1, password, settings):
    settings.AXES_FAILURE_LIMIT = 3
    answers = [
        api.post(TOKEN, {"username": "po1", "password": "nope"}, **address(n)).status_code for n in range(3)
    ]

    response = api.post(TOKEN, {"username": "po1", "password": password}, **address(50))

    assert answers == [400, 400, 429]
    assert response.status_code == 429
    assert "Signing in is blocked until" in response.json()["detail"]
    assert int(response["Retry-After"]) > 60
    assert not AuthToken.objects.filter(user=po1).exists()


def test_rotating_x_forwarded_for_does_not_escape_the_address_throttle(api, db):
    answers = [
        api.post(
            TOKEN,
            {"username": f"someone{n}", "password": "nope"},
            REMOTE_ADDR="198.51.100.20",
            HTTP_X_FORWARDED_FOR=f"203.0.113.{n}",
        ).status_code
        for n in range(21)
    ]

    assert answers[:20] == [400] * 20
    assert answers[20] == 429


def test_a_token_request_with_an_overlong_username_is_a_clear_400(api, db):
    response = api.post(TOKEN, {"username": "x" * 500, "password": "nope"})

    assert response.status_code == 400
    assert "username" in response.json()["fields"]


# --- A new password revokes the API tokens ----------------------------------------------------------


def test_after_a_password_change_on_the_page_every_old_token_answers_401(client, api, po1, password):
    tokens = [api.post(TOKEN, {"username": "po1", "password": password}).json()["token"] for _ in range(2)]
    client.force_login(po1)

    client.post(
        "/accounts/password/",
        {
            "old_password": password,
            "new_password1": "a-new-long-pass-92",
            "new_password2": "a-new-long-pass-92",
        },
    )

    for token in tokens:
        api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        assert api.get("/api/v1/me/").status_code == 401
    assert client.get("/").status_code == 200  # the session that changed it goes on


@pytest.mark.parametrize("change", ["set_password", "set_unusable_password"])
def test_a_password_set_anywhere_else_revokes_the_tokens_too(api, db, change):
    user = make_user("scripted")
    api.as_user(user)
    assert api.get("/api/v1/me/").status_code == 200

    if change == "set_password":
        user.set_password("another-long-pass-77")
    else:
        user.set_unusable_password()
    user.save()

    assert api.get("/api/v1/me/").status_code == 401


def test_saving_a_user_without_a_new_password_keeps_the_tokens(api, po1):
    api.as_user(po1)
    po1.first_name = "Renamed"
    po1.save()

    assert api.get("/api/v1/me/").status_code == 200
