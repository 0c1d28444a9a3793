from __future__ import annotations

import pytest
from django.db import connections
from playwright.sync_api import Page, expect

from tests.conftest import SERIALIZED_DATABASE


@pytest.fixture(autouse=True)
def _migrated_data_survives_flushes(transactional_db):
    """Keep the migrations' reference data and roles in every browser test.

    Playwright's sync API keeps an event loop running in the test thread, so Django hands these tests
    a connection object of their own, which lacks the serialized copy that `serialized_rollback`
    restores after each flush. Give it that copy once; Django restores it from then on.
    """
    connection = connections["default"]
    if not hasattr(connection, "_test_serialized_contents") and "default" in SERIALIZED_DATABASE:
        connection._test_serialized_contents = SERIALIZED_DATABASE["default"]
        connection.creation.deserialize_db_from_string(SERIALIZED_DATABASE["default"])


@pytest.fixture
def sign_in(live_server, page: Page):
    """Sign `username` in through the login page, as a person would."""

    # Pages answer in milliseconds here; a missing element should fail fast, not after 30 s.
    page.set_default_timeout(10_000)

    def _sign_in(username: str, password: str) -> Page:
        page.goto(f"{live_server.url}/")
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        return page

    return _sign_in
