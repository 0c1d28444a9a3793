"""Helpers shared by the release tests (imported by them; no tests here): a sub-project of PO-T01 with
its default schedule (World Bank 20 M, PKSF 3.75 M, split 30/40/30), and the steps of a release."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from core import lifecycle
from core.roles import Role
from finance import releases
from finance.models import Milestone, Release, Tranche
from subprojects.models import SubProject
from tests.factories import make_user
from tests.finance.factories import funded_sub_project

WB, PKSF = Decimal("20000000"), Decimal("3750000")


def scheduled(po, **kwargs) -> SubProject:
    """An active sub-project of `po` with its default schedule."""
    sub_project = funded_sub_project(po, **kwargs)
    releases.create_default_schedule(sub_project)
    return sub_project


def tranche(sub_project: SubProject, number: int) -> Tranche:
    return Tranche.objects.select_related("milestone", "sub_project").get(
        sub_project=sub_project, number=number
    )


def milestone(sub_project: SubProject, number: int) -> Milestone:
    return Milestone.objects.get(sub_project=sub_project, number=number)


def report(sub_project: SubProject, number: int, user) -> Milestone:
    return lifecycle.apply(
        milestone(sub_project, number),
        "report",
        user,
        comment="Half of the work plan done (report attached).",
    )


def request(user, sub_project: SubProject, number: int, justification: str = "Milestone reached.") -> Release:
    return releases.request_release(user, tranche(sub_project, number), justification)


def transfer(release: Release, checker, approver, on=None) -> Release:
    lifecycle.apply(release, "check", checker)
    lifecycle.apply(release, "approve", approver)
    return lifecycle.apply(
        release,
        "record_transfer",
        approver,
        transferred_on=on or timezone.localdate(),
        transfer_reference="BRAC-BANK/TRF/0042",
    )


def released(user, sub_project: SubProject, number: int, checker, approver) -> Release:
    """Tranche `number` requested and transferred (its milestone reported first when it has one)."""
    t = tranche(sub_project, number)
    if t.milestone_id and t.milestone.status != "reported":
        report(sub_project, t.milestone.number, user)
    return transfer(request(user, sub_project, number), checker, approver)


@pytest.fixture
def finance2(db):
    """A second PKSF finance officer (no PO)."""
    return make_user("finance2", Role.FINANCE_OFFICER)


@pytest.fixture
def pmu_finance(db):
    """A PMU officer who is also a finance officer (no PO): may check and approve, never both."""
    return make_user("pmu_finance", Role.PMU_OFFICER, Role.FINANCE_OFFICER)


@pytest.fixture
def sub_project(po_one) -> SubProject:
    return scheduled(po_one)
