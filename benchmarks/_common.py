"""What the benchmark modules share: their accounts and how a page's latency is measured."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

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


def request_latency(client: Client, url: str, repeats: int, warm_up: int = 1, **headers: str) -> Latency:
    """GET the URL `repeats` times after a warm-up; then once more, counting its SQL queries."""
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
