"""The key pages of every role on a 390 by 844 px phone (issue 15): nothing scrolls sideways, and every
control a thumb has to hit is at least 44 px tall.

One browser context per role, signed in once; the demo programme gives every page real content.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from demo.core import DEMO_PASSWORD
from tests.browser.layout import MIN_HEIGHT, PHONE, SMALL_CONTROLS_JS, layout_problems
from tests.key_pages import KEY_PAGES, PUBLIC_PAGES, key_pages

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def phone(browser: Browser, live_server):
    """A new phone-sized browser context per call (one per role), closed at the end."""
    contexts: list[BrowserContext] = []

    def _open(username: str | None = None) -> Page:
        context = browser.new_context(viewport=PHONE, has_touch=True)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        if username:
            page.goto(f"{live_server.url}/accounts/login/")
            page.get_by_label("Username").fill(username)
            page.get_by_label("Password").fill(DEMO_PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            expect(page.get_by_test_id("user-menu")).to_have_count(1)
        return page

    yield _open
    for context in contexts:
        context.close()


def check_pages(page: Page, base_url: str, pages: list[tuple[str, str]]) -> dict[str, list[str]]:
    found = {}
    for label, path in pages:
        response = page.goto(f"{base_url}{path}")
        # A refusal page (403) is still a page the person sees on the phone; a crash is not.
        assert response is not None, f"{label} ({path}) did not answer"
        assert response.status < 500, f"{label} ({path}) answered {response.status}"
        problems = layout_problems(page)
        if problems:
            found[f"{label} ({path})"] = problems
    return found


def check_menu(page: Page) -> list[str]:
    """The main menu, opened as on a phone: its links and each dropdown's items."""
    page.get_by_role("button", name="Toggle navigation").click()
    expect(page.locator("#main-nav")).to_be_visible()
    problems = page.evaluate(SMALL_CONTROLS_JS, [".nav-link, .dropdown-item", MIN_HEIGHT])
    for toggle in page.locator("#main-nav .dropdown-toggle").all():
        toggle.click()
        problems += page.evaluate(SMALL_CONTROLS_JS, [".dropdown-menu.show .dropdown-item", MIN_HEIGHT])
        toggle.click()
    return problems


def report(found: dict[str, list[str]]) -> str:
    return "\n".join(f"{page}:\n  " + "\n  ".join(problems) for page, problems in found.items())


@pytest.mark.parametrize("username", list(KEY_PAGES))
def test_key_pages_fit_a_phone_and_have_thumb_sized_controls(
    demo_data_committed, phone, live_server, username
):
    page = phone(username)
    found = check_pages(page, live_server.url, key_pages(username))
    page.goto(f"{live_server.url}/")
    menu = check_menu(page)
    if menu:
        found["main menu"] = menu
    assert not found, f"{username} on a 390 px phone:\n{report(found)}"


def test_public_pages_fit_a_phone(demo_data_committed, phone, live_server):
    found = check_pages(phone(), live_server.url, PUBLIC_PAGES)
    assert not found, f"signed out, on a 390 px phone:\n{report(found)}"


def test_the_check_catches_a_page_that_scrolls_sideways_and_a_small_button(phone, live_server):
    # The measurement itself: a page built to fail must fail, or the tests above prove nothing.
    page = phone()
    page.goto(f"{live_server.url}/accounts/login/")
    assert layout_problems(page) == []
    page.evaluate(
        """() => {
      const main = document.querySelector("main");
      main.insertAdjacentHTML("beforeend", '<div style="width: 900px">wide</div>' +
        '<button style="min-height: 0; height: 20px; padding: 0">x</button>');
    }"""
    )
    problems = layout_problems(page)
    assert problems[0].startswith("scrolls sideways: 9")
    assert any('"x" is 20.0 px' in problem for problem in problems)
