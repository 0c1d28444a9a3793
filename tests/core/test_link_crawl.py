"""Every in-app link a demo persona sees opens for that persona: no 403, no 404, no server error.

The demo data come from tests/conftest.py's `demo_data` (loaded once per test process). Each demo persona
signs in and crawls the portal breadth-first from the home page, following the `<a href>` links of every page
it opens; a link that answers 403, 404, any other error, or sends the persona to the sign-in page fails
the test, which names the page that carried the link. Every page opened is also read for what the persona
may not see (tests/security/scope.py), with the canaries of tests/security/canaries.py added to the demo.
"""

from __future__ import annotations

from collections import Counter, deque
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
from django.test import Client
from django.urls import Resolver404, resolve

from core.models import User
from core.roles import Role
from demo.core import DEMO_PASSWORD, DEMO_USERS
from tests.security.canaries import canaries  # noqa: F401  (fixture)
from tests.security.scope import scope_of

# Pages opened per persona: in all, of one kind (URL name), and of the admin site (staff only).
MAX_PAGES = 200
MAX_PAGES_PER_KIND = 12
MAX_ADMIN_PAGES = 40

# Links not followed: signing out, switching the language, static and uploaded files.
SKIPPED_PREFIXES = ("/accounts/logout/", "/i18n/", "/static/", "/media/")
# Downloads (files, PDFs, spreadsheets): not pages, and some read files only the demo's media folder holds.
DOWNLOADS = {
    "enterprises:import-template",
    "subprojects:attachment-download",
    "subprojects:meeting-minutes-pdf",
    "enterprises:adoption-photo",
    "enterprises:import-errors",
    "enterprises:profile-report",
    "monitoring:report-download",
    "verification:check-photo",
    "verification:adoption-photo",
    "safeguards:clearance-document",
    "grievances:attachment",
    "grievances:statistics-export",
    "finance:ifr-download",
}

# The crawl must reach these kinds of page, or it proves little (e.g. the proposal pages of the issue).
PROGRAMME_WIDE = {
    "subprojects:call-detail",
    "subprojects:note-detail",
    "subprojects:proposal-detail",
    "subprojects:meeting-detail",
    "subprojects:agenda-item",
    "subprojects:subproject-detail",
    "enterprises:enterprise-detail",
    "core:po-detail",
}
# Issue 13: the grievance statistics are for the roles that read the whole programme, and for the
# PMU's grievance and SEA/SH focal points.
MISSIONS = PROGRAMME_WIDE | {"grievances:statistics"}
MUST_REACH = {
    Role.PMU_OFFICER: MISSIONS,
    Role.PKSF_APPROVER: MISSIONS,
    Role.WORLD_BANK: MISSIONS,
    # The PMU's specialists (the demo's `es`, `grm`, `seah` are PMU officers too; `grm1` is PO-001's).
    Role.ES_OFFICER: {"safeguards:incident-detail", "safeguards:review-list"},
    Role.GRIEVANCE_FOCAL_POINT: {"grievances:list", "grievances:detail"},
    Role.SEAH_FOCAL_POINT: {"grievances:detail", "grievances:statistics"},
    Role.TEC_MEMBER: {"subprojects:meeting-detail", "subprojects:agenda-item", "subprojects:proposal-detail"},
    Role.PO_STAFF: {
        "subprojects:note-detail",
        "subprojects:proposal-detail",
        "subprojects:subproject-detail",
        "enterprises:enterprise-detail",
    },
    Role.VERIFIER: {"verification:check-detail"},
    # Issue 14: PKSF finance reaches the releases it approves, the IFRs and the loan portfolio.
    Role.FINANCE_OFFICER: {
        "finance:release-detail",
        "finance:ifr-detail",
        "finance:receipt-list",
        "finance:portfolio",
        "finance:subproject-finance",
    },
}


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.hrefs.append(href)


def in_app_links(page_url: str, html: str) -> list[str]:
    """The page's links to pages of the portal: path and query, without the fragment."""
    parser = _Links()
    parser.feed(html)
    links = []
    for href in parser.hrefs:
        url = urlsplit(urljoin(f"http://testserver{page_url}", href.strip()))
        if url.scheme in ("http", "https") and url.netloc == "testserver":
            links.append(url.path + (f"?{url.query}" if url.query else ""))
    return links


def kind_of(url: str) -> str:
    """The URL's name (e.g. "subprojects:proposal-detail"); "(no page)" if no URL pattern matches."""
    try:
        return resolve(urlsplit(url).path).view_name
    except Resolver404:
        return "(no page)"


def followed(url: str, *, staff: bool) -> bool:
    path, _, query = url.partition("?")
    if path.startswith(SKIPPED_PREFIXES) or (path.startswith("/admin/") and not staff):
        return False
    return "export=" not in query and kind_of(url) not in DOWNLOADS


def crawl(client: Client, *, staff: bool, inspect=None) -> tuple[list[str], Counter]:
    """Open the pages reachable from the home page, within the caps; return the broken links and the
    number of pages opened of each kind.

    Links wait in one queue per kind of page, and the next page opened is always of the kind opened
    least so far: the caps then spread the pages over every kind of page the persona can reach, and
    over several objects (in different states) of each kind.
    """
    broken: list[str] = []
    opened: Counter = Counter()
    pending: dict[str, deque[tuple[str, str]]] = {}  # kind -> (url, page that links it)
    seen: set[str] = set()

    def add(url: str, source: str, *, first: bool = False) -> None:
        if url in seen or not followed(url, staff=staff):
            return
        seen.add(url)
        queue = pending.setdefault(kind_of(url), deque())
        if first:
            queue.appendleft((url, source))
        else:
            queue.append((url, source))

    def openable(kind: str) -> bool:
        if not pending[kind] or opened[kind] >= MAX_PAGES_PER_KIND:
            return False
        admin = sum(count for name, count in opened.items() if name.startswith("admin:"))
        return not (kind.startswith("admin:") and admin >= MAX_ADMIN_PAGES)

    add("/", "(start)")
    while opened.total() < MAX_PAGES:
        kinds = [kind for kind in pending if openable(kind)]
        if not kinds:
            break
        kind = min(kinds, key=lambda kind: opened[kind])  # the first found among equals
        url, source = pending[kind].popleft()
        opened[kind] += 1
        response = client.get(url)
        if response.status_code in (301, 302, 303, 307, 308):
            target = urlsplit(response["Location"])
            location = target.path + (f"?{target.query}" if target.query else "")
            if target.netloc not in ("", "testserver"):
                continue
            if location.startswith("/accounts/login/"):
                broken.append(f"{source} links {url}, which sends to the sign-in page")
            else:
                add(location, f"{source} (through {url})", first=True)
            continue
        if response.status_code != 200:
            broken.append(f"{source} links {url}, which answers {response.status_code}")
            continue
        if inspect is not None:
            inspect(url, response)
        if response.get("Content-Type", "").startswith("text/html"):
            for link in in_app_links(url, response.content.decode()):
                add(link, url)
    return broken, opened


@pytest.mark.slow
@pytest.mark.django_db
@pytest.mark.parametrize(("username", "role"), [(username, role) for username, role, *_ in DEMO_USERS])
@pytest.mark.usefixtures("canaries")
def test_no_link_leads_a_demo_persona_to_a_page_it_may_not_open(client, username, role):
    assert client.login(username=username, password=DEMO_PASSWORD)
    user = User.objects.get(username=username)
    scope = scope_of(user)
    leaks: list[str] = []

    def read(url, response):
        found = scope.leaks(response.content.decode("utf-8", "replace"))
        if found:
            leaks.append(f"{url}: {sorted(found)[:5]}")

    broken, opened = crawl(client, staff=user.is_staff, inspect=read)

    assert not broken, f"{username} ({role.label}) meets broken links:\n" + "\n".join(broken)
    assert not leaks, f"{username} ({role.label}) reads what is not theirs:\n" + "\n".join(leaks)
    missed = MUST_REACH[role] - set(opened)
    assert not missed, f"{username}'s crawl reached no {sorted(missed)} ({opened.total()} pages opened)"
