"""Issue 15: axe-core finds no critical or serious WCAG 2.1 A/AA violation on the key pages of every
role and on the public pages, in English and (for a programme officer and the public pages) in Bangla.

One browser context per role, signed in once through the login form. axe-core comes bundled with the
`axe-playwright-python` dev dependency: nothing is fetched at test time.
"""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.core.cache import cache
from playwright.sync_api import Browser, BrowserContext, Page, expect

from core.models import User
from demo.core import DEMO_PASSWORD
from tests.key_pages import KEY_PAGES, PUBLIC_PAGES, key_pages

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

AXE = Axe()
# The WCAG 2.0 and 2.1 level A and AA rules; best-practice rules are advice, not the bar here.
AXE_OPTIONS = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
    "resultTypes": ["violations"],
}
BLOCKING = {"critical", "serious"}
OPEN_DETAILS = "() => document.querySelectorAll('details').forEach((details) => { details.open = true; })"


def violations(page: Page) -> list[str]:
    """The critical and serious violations on the page now: rule id, impact and the elements' selectors."""
    found = []
    for violation in AXE.run(page, options=AXE_OPTIONS).response["violations"]:
        if violation["impact"] not in BLOCKING:
            continue
        targets = [" ".join(map(str, node["target"])) for node in violation["nodes"]]
        summary = " ".join(violation["nodes"][0].get("failureSummary", "").split())[:200]
        found.append(f"{violation['id']} ({violation['impact']}): {', '.join(targets)} — {summary}")
    return found


def check_pages(
    page: Page, base_url: str, pages: list[tuple[str, str]], language: str
) -> dict[str, list[str]]:
    found = {}
    for label, path in pages:
        response = page.goto(f"{base_url}{path}")
        problems = []
        if response is None or not response.ok:
            problems.append(f"answered {response and response.status}")
        if page.locator("html").get_attribute("lang") != language:
            problems.append(f"is not in {language}")
        # axe-core checks what is rendered: open the folded sections so that their forms are checked too.
        page.evaluate(OPEN_DETAILS)
        problems += violations(page)
        if problems:
            found[f"{label} ({path})"] = problems
    return found


def report(found: dict[str, list[str]]) -> str:
    return "\n".join(f"{page}:\n  " + "\n  ".join(problems) for page, problems in found.items())


@pytest.fixture
def browse(browser: Browser, live_server):
    """A new browser context per call, signed in as `username` if given (in that user's language)."""
    contexts: list[BrowserContext] = []

    def _open(username: str | None = None, language: str = "en") -> Page:
        context = browser.new_context(locale=language)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(f"{live_server.url}/accounts/login/")
        if username:
            User.objects.filter(username=username).update(language=language)
            page.locator("#id_username").fill(username)
            page.locator("#id_password").fill(DEMO_PASSWORD)
            page.locator("form[action='/accounts/login/'] button[type=submit]").click()
            expect(page.get_by_test_id("user-menu")).to_have_count(1)
        elif language != "en":
            page.locator(f"[data-testid=login-languages] button[value={language}]").click()
            expect(page.locator("html")).to_have_attribute("lang", language)
        return page

    yield _open
    for context in contexts:
        context.close()


@pytest.mark.parametrize("username", list(KEY_PAGES))
def test_key_pages_have_no_serious_violation(demo_data_committed, browse, live_server, username):
    found = check_pages(browse(username), live_server.url, key_pages(username), "en")
    assert not found, f"axe-core on {username}'s key pages:\n{report(found)}"


def test_key_pages_in_bangla_have_no_serious_violation(demo_data_committed, browse, live_server):
    found = check_pages(browse("po2", "bn"), live_server.url, key_pages("po2"), "bn")
    assert not found, f"axe-core on po2's key pages in Bangla:\n{report(found)}"


@pytest.mark.parametrize("language", ["en", "bn"])
def test_public_pages_have_no_serious_violation(demo_data_committed, browse, live_server, language):
    found = check_pages(browse(language=language), live_server.url, PUBLIC_PAGES, language)
    assert not found, f"axe-core on the public pages ({language}):\n{report(found)}"


def test_refused_forms_have_no_serious_violation(demo_data_committed, browse, live_server):
    # Error messages are markup the key pages do not show until a form is refused.
    # The public form counts attempts per address in the cache: other tests' lodgings from this
    # process must not have used up this address's allowance.
    cache.clear()
    found = {}
    for username, path, button in [
        (None, "/grievances/lodge/", "Lodge the grievance"),
        ("po2", "/enterprises/new/", "Save"),
    ]:
        page = browse(username)
        page.goto(f"{live_server.url}{path}")
        page.locator("main").get_by_role("button", name=button, exact=True).click()
        expect(page.locator("main .invalid-feedback, main .alert-danger").first).to_be_visible()
        problems = violations(page)
        if problems:
            found[f"{path} refused"] = problems
    assert not found, f"axe-core on refused forms:\n{report(found)}"


def test_the_check_catches_low_contrast_and_an_unlabelled_field(browse, live_server):
    # The measurement itself: a page made to fail must fail, or the tests above prove nothing.
    page = browse()
    assert violations(page) == []
    page.evaluate(
        """() => document.querySelector("main").insertAdjacentHTML("beforeend",
          '<p style="color: #bbb; background: #fff">faint text</p><input type="text" name="nameless">')"""
    )
    rules = {problem.split(" ")[0] for problem in violations(page)}
    assert rules == {"color-contrast", "label"}
