"""Issue 15: with Bangla chosen, the ten key pages of each role show no English interface string.

The test reads the visible text of each page (text nodes that are rendered, and placeholders) and
fails on any that is an English catalogue string which has a Bangla translation — i.e. a string the
page should have shown in Bangla. Data (names, codes, what people typed) is not in the catalogue and
does not count; neither does text marked translate="no" or in another language (lang="en").
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import polib
import pytest
from django.conf import settings
from playwright.sync_api import Page

from core.models import User
from tests.key_pages import KEY_PAGES, PUBLIC_PAGES, key_pages

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

CATALOGUE = Path(settings.BASE_DIR) / "locale" / "bn" / "LC_MESSAGES" / "django.po"
PLACEHOLDER = re.compile(r"%\([^)]+\)[sdif]|%[sdif]|\{[^}]*\}")

# Visible text of the page: rendered text nodes and placeholders, outside translate="no" and outside
# elements in a language other than Bangla (the language switcher names English in English).
VISIBLE_TEXT = """() => {
  const out = [];
  const skip = (el) => el.closest('script,style,noscript,[translate="no"],[lang]:not([lang="bn"])');
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    const text = node.textContent.replace(/\\s+/g, ' ').trim();
    if (!text || !el || skip(el) || !el.checkVisibility()) continue;
    out.push(text);
  }
  for (const el of document.querySelectorAll('[placeholder]')) {
    if (!skip(el) && el.checkVisibility()) out.push(el.getAttribute('placeholder'));
  }
  return out;
}"""


def _normal(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


@cache
def _english_strings() -> tuple[frozenset[str], tuple[str, ...]]:
    """(whole strings to match a text node exactly, literal fragments of longer strings to find in
    the page), for every catalogue string whose Bangla differs from its English."""
    whole: set[str] = set()
    fragments: set[str] = set()
    for entry in polib.pofile(str(CATALOGUE)):
        if entry.obsolete:
            continue
        translations = [entry.msgstr] if not entry.msgid_plural else list(entry.msgstr_plural.values())
        for english in filter(None, [entry.msgid, entry.msgid_plural]):
            if english in translations or not re.search(r"[A-Za-z]{3}", english):
                continue  # kept as it is in Bangla (an acronym, a format) or no word in it
            parts = [_normal(part) for part in PLACEHOLDER.split(english)]
            if len(parts) == 1:
                whole.add(parts[0])
                if len(parts[0]) >= 30:
                    fragments.add(parts[0])
            else:
                fragments.update(
                    part for part in parts if len(part) >= 20 and re.search(r"[A-Za-z]{3} [A-Za-z]", part)
                )
    return frozenset(whole), tuple(sorted(fragments))


def untranslated(texts: list[str]) -> list[str]:
    whole, fragments = _english_strings()
    found = [text for text in texts if _normal(text) in whole]
    page = " \n ".join(_normal(text) for text in texts)
    found += [fragment for fragment in fragments if fragment in page]
    return sorted(set(found))


def _sign_in(page: Page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill("smart-demo")
    page.locator("form[action='/accounts/login/'] button[type=submit]").click()
    page.wait_for_load_state()


def test_the_catalogue_is_complete():
    catalogue = polib.pofile(str(CATALOGUE))
    assert catalogue.untranslated_entries() == []
    assert catalogue.fuzzy_entries() == []


@pytest.mark.parametrize("username", sorted(KEY_PAGES))
def test_key_pages_show_no_english_interface_string(username, demo_data_committed, live_server, page: Page):
    page.set_default_timeout(20_000)
    User.objects.filter(username=username).update(language="bn")
    _sign_in(page, live_server.url, username)
    problems = {}
    for label, path in key_pages(username):
        page.goto(f"{live_server.url}{path}")
        assert page.locator("html").get_attribute("lang") == "bn", f"{label} ({path}) is not in Bangla"
        english = untranslated(page.evaluate(VISIBLE_TEXT))
        if english:
            problems[f"{label} {path}"] = english
    assert problems == {}


def test_public_pages_in_bangla_show_no_english_interface_string(live_server, page: Page):
    page.goto(f"{live_server.url}/accounts/login/")
    page.locator("[data-testid=login-languages] button[value=bn]").click()
    page.wait_for_load_state()
    problems = {}
    for label, path in PUBLIC_PAGES:
        page.goto(f"{live_server.url}{path}")
        english = untranslated(page.evaluate(VISIBLE_TEXT))
        if english:
            problems[f"{label} {path}"] = english
    assert problems == {}
