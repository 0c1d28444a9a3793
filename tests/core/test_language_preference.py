"""Issue 15: each user's language is remembered on the account, across sessions and devices."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-test-password-1"


def _user(**kwargs):
    user = UserFactory(**kwargs)
    user.set_password(PASSWORD)
    user.save()
    return user


def _sign_in(client: Client, user) -> None:
    response = client.post("/accounts/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302, response.content[:500]


def test_the_sign_in_page_offers_both_languages():
    page = Client().get("/accounts/login/").content.decode()
    assert 'name="language" value="en"' in page
    assert 'name="language" value="bn"' in page
    assert "বাংলা" in page
    assert "English" in page


def test_a_language_chosen_on_the_sign_in_page_is_stored_on_the_account():
    user = _user(language="en")
    client = Client()
    client.post("/i18n/setlang/", {"language": "bn", "next": "/accounts/login/"})
    _sign_in(client, user)
    user.refresh_from_db()
    assert user.language == "bn"
    assert client.get("/").headers["Content-Language"] == "bn"


def test_the_accounts_language_follows_the_user_to_another_device():
    user = _user(language="en")
    laptop = Client()
    _sign_in(laptop, user)
    laptop.post("/i18n/setlang/", {"language": "bn", "next": "/"})
    user.refresh_from_db()
    assert user.language == "bn"

    # A phone that has never seen the portal, and whose browser asks for English.
    phone = Client(HTTP_ACCEPT_LANGUAGE="en")
    _sign_in(phone, user)
    response = phone.get("/")
    assert response.headers["Content-Language"] == "bn"
    # The browser's cookie is brought in line, for the pages it shows signed out later.
    assert phone.cookies[settings.LANGUAGE_COOKIE_NAME].value == "bn"


def test_a_stale_cookie_does_not_override_the_account_after_sign_in():
    user = _user(language="en")
    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "bn"
    _sign_in(client, user)
    assert client.get("/").headers["Content-Language"] == "en"
    user.refresh_from_db()
    assert user.language == "en"


def test_the_preferences_page_saves_language_and_digits():
    user = _user(language="en", bangla_digits=True)
    client = Client()
    _sign_in(client, user)
    response = client.post("/accounts/preferences/", {"language": "bn"})
    assert response.status_code == 302
    user.refresh_from_db()
    assert (user.language, user.bangla_digits) == ("bn", False)
    assert client.get("/accounts/preferences/").headers["Content-Language"] == "bn"


def test_the_preferences_page_refuses_an_unknown_language_and_changes_nothing():
    user = _user(language="en")
    client = Client()
    _sign_in(client, user)
    response = client.post("/accounts/preferences/", {"language": "xx", "bangla_digits": "on"})
    assert response.status_code == 200
    assert "language" in response.context["form"].errors
    user.refresh_from_db()
    assert user.language == "en"


def test_the_preferences_page_needs_a_signed_in_user():
    response = Client().get("/accounts/preferences/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/accounts/login/")


def test_emails_are_written_in_the_recipients_language():
    from django.core.mail import EmailMessage
    from django.utils.translation import gettext

    from core.emails import in_language_of, send_once

    bangla_reader = _user(language="bn", email="bn@example.org")
    english_reader = _user(language="en", email="en@example.org")

    def build(user):
        return EmailMessage(gettext("Status"), gettext("Status"), "portal@example.org", [user.email])

    sent = send_once(
        (f"test:{user.pk}", in_language_of(user, lambda user=user: build(user)))
        for user in (bangla_reader, english_reader)
    )
    assert sent == 2
    subjects = {message.to[0]: message.subject for message in mail.outbox}
    assert subjects == {"bn@example.org": "অবস্থা", "en@example.org": "Status"}
