"""Concurrent requests cannot together exceed the approved amount (PostgreSQL: real row locks, real
threads). Each request reads the cap under a lock of the sub-project's row, so the second waits for the
first to commit and then sees its release.

Tranches go in order (a tranche is requested once the one before is transferred), so two different
tranches of one sub-project are never requestable at the same moment today; the first test sets that
rule aside to show that the cap alone holds under concurrency, whatever the order rules become. The
second test races the same tranche twice."""

from __future__ import annotations

import threading
import time
from decimal import Decimal
from unittest import mock

import pytest
from django.db import connection

from core.errors import ActionRefused
from finance import releases
from finance.models import Release
from subprojects.models import SubProject
from tests.finance.test_releases_fixtures import *  # noqa: F403
from tests.finance.test_releases_fixtures import released, report, scheduled, tranche

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL"),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def _race(calls) -> tuple[list, list]:
    """Run each call in its own thread, all starting together; (results, refusals)."""
    barrier = threading.Barrier(len(calls))
    results, refusals = [], []

    def run(call) -> None:
        try:
            barrier.wait()
            results.append(call())
        except ActionRefused as exc:
            refusals.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, refusals


def _slow_refusal():
    """request_refusal that lingers after its checks, as a busy server would: without the lock, both
    requests would pass them before either writes."""
    real = releases.request_refusal

    def slow(tranche):
        answer = real(tranche)
        time.sleep(0.3)
        return answer

    return mock.patch.object(releases, "request_refusal", slow)


def test_two_tranches_requested_at_once_never_exceed_the_approved_share(po_one, po1, pmu, finance):
    sub_project = scheduled(po_one)
    released(po1, sub_project, 1, pmu, finance)  # 6 M of the World Bank's 20 M transferred
    report(sub_project, 1, po1)
    report(sub_project, 2, po1)
    # The share is cut to 18 M: 12 M left, and the mid-term (8 M) and completion (6 M) tranches no
    # longer both fit.
    SubProject.objects.filter(pk=sub_project.pk).update(budget_world_bank=Decimal("18000000"))
    t2, t3 = tranche(sub_project, 2), tranche(sub_project, 3)

    with mock.patch.object(releases, "earlier_not_transferred", return_value=None), _slow_refusal():
        results, refusals = _race(
            [
                lambda: releases.request_release(po1, t2, "mid-term"),
                lambda: releases.request_release(po1, t3, "end"),
            ]
        )

    assert len(results) == 1
    assert len(refusals) == 1
    assert refusals[0].code == "over_approved"
    held = sum(r.amount_world_bank for r in Release.objects.filter(sub_project=sub_project).active())
    assert held <= Decimal("18000000")
    assert Release.objects.filter(sub_project=sub_project).count() == 2  # the advance and the winner


def test_the_same_tranche_requested_twice_at_once_is_requested_once(po_one, po1):
    sub_project = scheduled(po_one)
    advance = tranche(sub_project, 1)

    with _slow_refusal():
        results, refusals = _race([lambda: releases.request_release(po1, advance, "ready")] * 2)

    assert len(results) == 1
    assert len(refusals) == 1
    assert refusals[0].code == "already_requested"
    assert Release.objects.filter(tranche=advance).count() == 1
