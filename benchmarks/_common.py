"""What the benchmark modules share: their accounts and how a page's latency is measured."""

from __future__ import annotations

import gc
import html
import re
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit, urlunsplit

from django.contrib.auth.models import Group
from django.db import connection
from django.http import HttpResponse
from django.test import Client
from django.test.utils import CaptureQueriesContext

from core.models import PartnerOrganization, User
from core.roles import GROUP_NAMES, Role

Report = Callable[[str, float, str], None]


def bench_user(username: str, role: Role, po: PartnerOrganization | None = None) -> User:
    """A benchmark account with one role (and its PO), fetched afresh so no permission is cached."""
    user, _created = User.objects.update_or_create(username=username, defaults={"partner_organization": po})
    user.groups.add(Group.objects.get(name=GROUP_NAMES[role]))
    return User.objects.get(pk=user.pk)


@dataclass(frozen=True)
class Latency:
    median_ms: float
    p95_ms: float
    queries: int
    last_response: HttpResponse


def serve_as_a_worker() -> None:
    """Freeze what the process holds now out of the collector's full passes, as a server's worker
    freezes what it loaded at its start (smart_portal/wsgi.py). Without it, a full pass inside some
    measured request walks the benchmark's own objects (its dataset, the modules measured before),
    which no worker has: 20-40 ms added to that request, in the p95 of a list."""
    gc.collect()
    gc.freeze()


def request_latency(client: Client, url: str, repeats: int, warm_up: int = 1, **headers: str) -> Latency:
    """GET the URL `repeats` times after a warm-up, in a process frozen as a worker's is; then once
    more, counting its SQL queries."""
    serve_as_a_worker()
    for _warm_up in range(warm_up):
        client.get(url, **headers)
    timings = []
    for _repeat in range(repeats):
        started = time.perf_counter()
        response = client.get(url, **headers)
        timings.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"{url} answered {response.status_code}")
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, **headers)
    p95 = statistics.quantiles(timings, n=20)[18]
    return Latency(statistics.median(timings), p95, len(queries), response)


def report_ratio(report: Report, name: str, value: float, floor: float) -> None:
    """`name: value x`, the measure over its floor (how many times the floor it takes)."""
    report(name, round(value / floor, 2) if floor else float("nan"), "x")


_NEXT_LINK = re.compile(r"<(?:a|link)\b[^>]*\brel=\"next\"[^>]*>")
_HREF = re.compile(r"\bhref=\"([^\"]+)\"")


def next_url(response: HttpResponse, url: str) -> str | None:
    """The next page's address: the API's JSON `next`, else the page's rel="next" link; None at the end."""
    if response.get("Content-Type", "").startswith("application/json"):
        following = response.json().get("next")
    else:
        tag = _NEXT_LINK.search(response.content.decode())
        found = _HREF.search(tag.group(0)) if tag else None
        following = html.unescape(found.group(1)) if found else None
    if not following:
        return None
    parts = urlsplit(urljoin(url, following))
    return urlunsplit(("", "", parts.path, parts.query, ""))  # the test client wants no host


def nth_page_url(client: Client, url: str, nth: int, **headers: str) -> tuple[str | None, str]:
    """The address of the list's `nth` page as a person or a client reaches it: by walking the `next`
    links from the first page when they carry a cursor (keyset pages), else `page=nth` (numbered
    pages). Returns the address (None when the list is shorter) and how it was reached."""
    response = client.get(url, **headers)
    following = next_url(response, url)
    if following is None:
        return None, "no next page"
    if "cursor=" not in following:
        return f"{url}{'&' if '?' in url else '?'}page={nth}", "page number"
    for _step in range(nth - 2):
        response = client.get(following, **headers)
        if response.status_code != 200:
            raise RuntimeError(f"{following} answered {response.status_code}")
        following = next_url(response, following)
        if following is None:
            return None, "cursor"
    return following, "cursor"
