"""Two-factor authentication (TOTP app + recovery codes): setting it up, signing in with it (page and
API token), and where MFA_REQUIRED makes it compulsory (issue 11, "Accounts")."""

from __future__ import annotations

import logging
import time
from binascii import unhexlify

import pytest
from axes.models import AccessAttempt
from django.core.cache import cache
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RegexPattern, RoutePattern
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from knox.models import AuthToken

from core import mfa
from core.mfa import SETUP_SECRET_SESSION_KEY
from core.roles import Role
from tests.factories import make_user

LOGIN = "/accounts/login/"
VERIFY = "/accounts/two-factor/"
SETUP = "/accounts/two-factor/setup/"
TOKEN = "/api/v1/auth/token/"


@pytest.fixture(autouse=True)
def _fresh_throttles():
    cache.clear()


def code(secret: str, steps_ahead: int = 0) -> str:
    """The code an authenticator app shows for `secret`, now or `steps_ahead` periods (30 s) later
    (each code is accepted once, so a second sign-in in the same period needs the next one)."""
    totp = TOTP(unhexlify(secret))
    totp.time = time.time() + 30 * steps_ahead
    return f"{totp.token():06d}"


def wrong(secret: str) -> str:
    right = {code(secret, step) for step in (-1, 0, 1, 2)}
    return next(candidate for candidate in ("000000", "111111", "222222") if candidate not in right)


def with_authenticator(user) -> tuple[str, list[str]]:
    """Turn two-factor authentication on for `user` as the setup page does; returns (secret, codes)."""
    secret = TOTPDevice(user=user).key
    _device, codes = mfa.confirm_authenticator(user, secret, code(secret), keep_session_key=None)
    return secret, codes


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


# --- Setting it up --------------------------------------------------------------------------------


def test_setup_shows_a_qr_code_and_turns_on_with_the_apps_code(client, po1):
    client.force_login(po1)

    page = client.get(SETUP)
    secret = client.session[SETUP_SECRET_SESSION_KEY]
    confirmed = client.post(SETUP, {"code": code(secret)})

    assert page.status_code == 200
    assert "<svg" in page.content.decode()
    assert mfa.secret_for_typing(secret) in page.content.decode()
    assert "<script" not in page.content.decode().split('id="main"')[1].split("</main>")[0]
    assert confirmed.status_code == 200
    shown = confirmed.context["codes"]
    assert len(shown) == 10
    assert sorted(code.replace("-", "") for code in shown) == sorted(
        StaticToken.objects.filter(device__user=po1).values_list("token", flat=True)
    )
    assert TOTPDevice.objects.get(user=po1).confirmed
    # The session that set it up counts as verified; the setup secret is no longer in the session.
    assert client.get(SETUP).context["device"] is not None
    assert SETUP_SECRET_SESSION_KEY not in client.session


def test_a_wrong_code_does_not_turn_it_on(client, po1):
    client.force_login(po1)
    client.get(SETUP)
    secret = client.session[SETUP_SECRET_SESSION_KEY]

    response = client.post(SETUP, {"code": wrong(secret)})
    not_digits = client.post(SETUP, {"code": "abc"})

    assert "This code does not match" in response.content.decode()
    assert "Enter the 6 digits the app shows" in not_digits.content.decode()
    assert not TOTPDevice.objects.filter(user=po1).exists()
    assert client.session[SETUP_SECRET_SESSION_KEY] == secret  # the same QR code stays valid


def test_turning_it_on_revokes_older_tokens_and_ends_other_sessions(client, api, po1, password):
    old_token = api.post(TOKEN, {"username": "po1", "password": password}).json()["token"]
    elsewhere = Client()
    elsewhere.post(LOGIN, {"username": "po1", "password": password})
    client.force_login(po1)
    client.get(SETUP)

    client.post(SETUP, {"code": code(client.session[SETUP_SECRET_SESSION_KEY])})

    api.credentials(HTTP_AUTHORIZATION=f"Token {old_token}")
    assert api.get("/api/v1/me/").status_code == 401
    assert elsewhere.get("/").status_code == 302  # back to the sign-in page
    assert client.get("/").status_code == 200


# --- Signing in with it ---------------------------------------------------------------------------


def test_the_password_alone_does_not_sign_in_an_account_with_an_authenticator(client, po1, password):
    secret, _codes = with_authenticator(po1)

    step_one = client.post(LOGIN, {"username": "po1", "password": password, "next": "/enterprises/"})

    assert step_one.status_code == 302
    assert step_one["Location"] == VERIFY
    assert not signed_in(client)
    assert client.get("/")["Location"].startswith(LOGIN)

    step_two = client.post(VERIFY, {"code": code(secret, 1)})

    assert step_two.status_code == 302
    assert step_two["Location"] == "/enterprises/"
    assert signed_in(client)
    assert client.get("/").status_code == 200


def test_a_wrong_code_is_refused_logged_and_counted_towards_the_lockout(
    client, po1, password, caplog, settings
):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    secret, _codes = with_authenticator(po1)
    client.post(LOGIN, {"username": "po1", "password": password})

    with caplog.at_level(logging.INFO, logger="smart_portal.audit"):
        response = client.post(VERIFY, {"code": wrong(secret)})

    assert response.status_code == 200
    assert "This code is not valid" in response.content.decode()
    assert not signed_in(client)
    assert [r.audit["reason"] for r in caplog.records if r.getMessage().startswith("login_refused")] == [
        "wrong_second_factor"
    ]
    assert AccessAttempt.objects.get(username="po1").failures_since_start == 1


def test_wrong_codes_lock_the_account_like_wrong_passwords(client, po1, password, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    settings.AXES_FAILURE_LIMIT = 3
    secret, _codes = with_authenticator(po1)
    client.post(LOGIN, {"username": "po1", "password": password})

    answers = [client.post(VERIFY, {"code": wrong(secret)}).status_code for _attempt in range(3)]
    right = client.post(VERIFY, {"code": code(secret, 1)})

    assert answers == [200, 200, 429]
    assert right.status_code == 429
    assert not signed_in(client)


def test_quick_wrong_codes_must_wait(client, po1, password):
    secret, _codes = with_authenticator(po1)
    client.post(LOGIN, {"username": "po1", "password": password})
    client.post(VERIFY, {"code": wrong(secret)})

    response = client.post(VERIFY, {"code": code(secret, 1)})

    assert "Too many wrong codes in a row: wait" in response.content.decode()
    assert not signed_in(client)


def test_a_recovery_code_signs_in_once(client, po1, password):
    _secret, codes = with_authenticator(po1)
    recovery = f"{codes[0][:4]}-{codes[0][4:]}".upper()

    client.post(LOGIN, {"username": "po1", "password": password})
    first = client.post(VERIFY, {"code": recovery}, follow=True)
    client.post("/accounts/logout/")
    client.post(LOGIN, {"username": "po1", "password": password})
    again = client.post(VERIFY, {"code": recovery})

    assert first.redirect_chain[-1][0] == "/"
    assert "You signed in with a recovery code: 9 are left" in first.content.decode()
    assert "This code is not valid" in again.content.decode()
    assert not signed_in(client)


def test_the_second_step_expires_and_needs_the_password_first(client, po1, password):
    secret, _codes = with_authenticator(po1)

    assert client.post(VERIFY, {"code": code(secret)})["Location"] == LOGIN
    client.post(LOGIN, {"username": "po1", "password": password})
    session = client.session
    session[mfa.PENDING_SESSION_KEY]["at"] -= mfa.PENDING_FOR_SECONDS + 1
    session.save()
    assert client.post(VERIFY, {"code": code(secret)})["Location"] == LOGIN
    assert not signed_in(client)


def test_the_token_endpoint_needs_the_code_of_an_account_with_an_authenticator(api, po1, password, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    secret, _codes = with_authenticator(po1)

    missing = api.post(TOKEN, {"username": "po1", "password": password})
    wrong_code = api.post(TOKEN, {"username": "po1", "password": password, "otp_code": wrong(secret)})
    right = api.post(TOKEN, {"username": "po1", "password": password, "otp_code": code(secret, 1)})

    assert missing.status_code == 400
    assert "send the 6-digit code" in missing.json()["fields"]["otp_code"][0]["message"]
    assert wrong_code.status_code == 400
    assert "not valid" in wrong_code.json()["fields"]["otp_code"][0]["message"]
    assert right.status_code == 200
    api.credentials(HTTP_AUTHORIZATION=f"Token {right.json()['token']}")
    assert api.get("/api/v1/me/").json()["username"] == "po1"


# --- Managing it ------------------------------------------------------------------------------------


def test_new_recovery_codes_need_the_current_code_and_replace_the_old(client, po1, password):
    secret, old_codes = with_authenticator(po1)
    client.post(LOGIN, {"username": "po1", "password": password})
    client.post(VERIFY, {"code": code(secret, 1)})

    refused = client.post("/accounts/two-factor/recovery-codes/", {"code": "12"}, follow=True)
    renewed = client.post("/accounts/two-factor/recovery-codes/", {"code": code(secret, 2)})

    assert "Enter the 6 digits" in refused.content.decode()
    new_codes = [c.replace("-", "") for c in renewed.context["codes"]]
    assert len(new_codes) == 10
    assert not set(new_codes) & set(old_codes)
    assert sorted(StaticToken.objects.filter(device__user=po1).values_list("token", flat=True)) == sorted(
        new_codes
    )


def test_turning_it_off_is_allowed_where_not_required(client, po1, password):
    secret, _codes = with_authenticator(po1)
    client.post(LOGIN, {"username": "po1", "password": password})
    client.post(VERIFY, {"code": code(secret, 1)})

    response = client.post("/accounts/two-factor/disable/", {"code": code(secret, 2)}, follow=True)

    assert "Two-factor authentication is off" in response.content.decode()
    assert not TOTPDevice.objects.filter(user=po1).exists()
    assert not StaticToken.objects.filter(device__user=po1).exists()


def test_turning_it_off_is_refused_where_the_role_requires_it(client, pmu, password, settings):
    settings.MFA_REQUIRED = True
    secret, _codes = with_authenticator(pmu)
    client.post(LOGIN, {"username": "pmu", "password": password})
    client.post(VERIFY, {"code": code(secret, 1)})

    status = client.get(SETUP)
    response = client.post("/accounts/two-factor/disable/", {"code": code(secret, 2)}, follow=True)

    assert "Turn off two-factor authentication" not in status.content.decode()
    assert "you can replace your authenticator, but not turn it off" in response.content.decode()
    assert TOTPDevice.objects.filter(user=pmu).exists()


def test_replacing_the_authenticator_keeps_the_old_one_until_the_new_one_is_confirmed(client, po1, password):
    secret, _codes = with_authenticator(po1)
    client.post(LOGIN, {"username": "po1", "password": password})
    client.post(VERIFY, {"code": code(secret, 1)})

    client.get(SETUP, {"replace": "1"})
    new_secret = client.session[SETUP_SECRET_SESSION_KEY]
    assert TOTPDevice.objects.get(user=po1).key == secret
    client.post(SETUP, {"code": code(new_secret), "replace": "1"})

    assert list(TOTPDevice.objects.filter(user=po1).values_list("key", flat=True)) == [new_secret]


# --- Required for the deciding roles (MFA_REQUIRED) --------------------------------------------------


def page_paths() -> list[str]:
    """Every URL of the URL conf that takes no argument (pages, API lists, admin index, ...)."""
    found: list[str] = []

    def walk(patterns, prefix: str) -> None:
        for entry in patterns:
            pattern = entry.pattern
            if isinstance(pattern, RoutePattern):
                if "<" in pattern._route:
                    continue
                part = pattern._route
            elif isinstance(pattern, RegexPattern):
                part = pattern._regex.lstrip("^").rstrip("$")
                if any(char in part for char in "()[]?*+\\"):
                    continue
            else:
                continue
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, prefix + part)
            elif isinstance(entry, URLPattern):
                found.append("/" + prefix + part)

    walk(get_resolver().url_patterns, "")
    return sorted(set(found))


OPEN_PATHS = {
    "/accounts/login/",
    "/accounts/logout/",
    "/accounts/two-factor/",
    SETUP,
    "/i18n/setlang/",
    "/healthz",
    "/readyz",
    TOKEN,
}


def test_with_mfa_required_a_pmu_login_without_a_second_factor_reaches_no_page_or_api(client, pmu, settings):
    settings.MFA_REQUIRED = True
    client.force_login(pmu)  # signed in with the password only
    paths = [path for path in page_paths() if path not in OPEN_PATHS]
    assert len(paths) > 30
    assert {"/", "/admin/", "/api/v1/proposals/", "/accounts/security/"} <= set(paths)

    reached = []
    for path in paths:
        response = client.get(path)
        if path.startswith("/api/"):
            if response.status_code != 403 or response.json()["code"] != "second_factor_required":
                reached.append((path, response.status_code))
        elif response.status_code != 302 or not response["Location"].startswith(SETUP):
            reached.append((path, response.status_code))

    assert reached == []
    assert client.get("/api/v1/me/").json()["code"] == "second_factor_required"
    assert "set it up" in client.get("/api/v1/me/").json()["detail"]
    assert client.get(SETUP).status_code == 200


def test_with_mfa_required_a_pmu_api_token_without_a_second_factor_is_refused(api, pmu, password, settings):
    settings.MFA_REQUIRED = True
    api.as_user(pmu)  # a token from before MFA was required

    old_token = api.get("/api/v1/proposals/")
    new_token = api.post(TOKEN, {"username": "pmu", "password": password})

    assert old_token.status_code == 403
    assert "Two-factor authentication is required for your role" in old_token.json()["detail"]
    assert new_token.status_code == 403
    assert "/accounts/two-factor/setup/" in new_token.json()["detail"]
    assert AuthToken.objects.filter(user=pmu).count() == 1  # no new token


def test_with_mfa_required_a_pmu_session_must_verify_its_code_when_one_is_set_up(client, pmu, settings):
    settings.MFA_REQUIRED = True
    secret, _codes = with_authenticator(pmu)
    client.force_login(pmu)  # the password only

    page = client.get("/proposals/")
    api = client.get("/api/v1/proposals/")
    verified = client.post(page["Location"].split("?")[0], {"code": code(secret, 1), "next": "/"})

    assert page["Location"].startswith(VERIFY)
    assert api.status_code == 403
    assert verified["Location"] == "/"
    assert client.get("/api/v1/proposals/").status_code == 200
    assert client.get("/admin/").status_code == 200


def test_with_mfa_required_a_pmu_with_an_authenticator_gets_a_working_token_with_the_code(
    api, pmu, password, settings
):
    settings.MFA_REQUIRED = True
    secret, _codes = with_authenticator(pmu)

    token = api.post(TOKEN, {"username": "pmu", "password": password, "otp_code": code(secret, 1)}).json()[
        "token"
    ]
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")

    assert api.get("/api/v1/proposals/").status_code == 200


@pytest.mark.parametrize("role", [Role.TEC_MEMBER, Role.WORLD_BANK, Role.PKSF_APPROVER])
def test_with_mfa_required_the_other_deciding_roles_need_it_too(client, db, settings, role):
    settings.MFA_REQUIRED = True
    client.force_login(make_user("decider", role))

    assert client.get("/")["Location"].startswith(SETUP)


def test_with_mfa_required_admin_accounts_need_it_whatever_their_role(client, db, settings):
    settings.MFA_REQUIRED = True
    client.force_login(make_user("root", is_staff=True, is_superuser=True))

    assert client.get("/admin/")["Location"].startswith(SETUP)


def test_with_mfa_required_po_staff_may_go_without_it_but_may_turn_it_on(
    client, api, po1, password, settings
):
    settings.MFA_REQUIRED = True
    client.force_login(po1)

    assert client.get("/").status_code == 200
    assert client.get(SETUP).status_code == 200
    assert api.post(TOKEN, {"username": "po1", "password": password}).status_code == 200


def test_the_setup_page_is_for_signed_in_people_only(client, db):
    assert client.get(SETUP)["Location"].startswith(LOGIN)
    assert client.post("/accounts/two-factor/disable/", {"code": "123456"})["Location"].startswith(LOGIN)
