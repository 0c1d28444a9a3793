"""Query budgets of the verification rounds, checks, work lists and policy, pages and API: one item
costs the same number of queries as several (see tests/query_budget.py)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from itertools import count

import pytest
from django.utils import timezone

from subprojects import workflow
from tests.enterprises.factories import AdoptionFactory, EnterpriseFactory, FacilityFactory, sub_project_for
from tests.factories import PartnerOrganizationFactory
from tests.query_budget import assert_flat_queries
from tests.verification.factories import CheckFactory, RoundFactory
from verification import services
from verification.models import CheckStatus

MORE = 3


@pytest.fixture
def add_check(round_q1, sp_one):
    """A check of a new adoption of po1's PO in round Q1 2025 (pending unless `status=`)."""

    def make(*, round_=None, sub_project=None, status=CheckStatus.PENDING):
        adoption = AdoptionFactory(
            enterprise=EnterpriseFactory(sub_project=sub_project or sp_one), adopted_on=date(2025, 2, 10)
        )
        return CheckFactory(round=round_ or round_q1, adoption=adoption, status=status)

    return make


@pytest.mark.parametrize("persona", ["pmu", "verifier", "wb"])
def test_round_list(client, request, pmu, add_check, persona):
    client.force_login(request.getfixturevalue(persona))
    add_check()
    quarters = iter([(2024, 1), (2024, 2), (2024, 3), (2024, 4)])

    def more():
        rounds = []
        for year, quarter in list(quarters)[:MORE]:
            round_ = RoundFactory(year=year, quarter=quarter, drawn_by=pmu)
            add_check(round_=round_)
            add_check(round_=round_, status=CheckStatus.CONFIRMED)
            rounds.append(round_.reference)
        return rounds

    assert_flat_queries(client, "/verification/", more)


@pytest.mark.parametrize("persona", ["pmu", "verifier"])
def test_round_page_with_its_pos(client, request, round_q1, sp_one, add_check, persona):
    """The round's page has a line per PO: more POs in the sample, more lines."""
    client.force_login(request.getfixturevalue(persona))
    round_q1.strata.create(partner_organization=sp_one.partner_organization, adoptions=2, sample_size=2)
    add_check()
    add_check(status=CheckStatus.CONFIRMED)

    def more():
        codes = []
        for _ in range(MORE):
            po = PartnerOrganizationFactory()
            sub_project = sub_project_for(po)
            round_q1.strata.create(partner_organization=po, adoptions=2, sample_size=2)
            add_check(sub_project=sub_project)
            add_check(sub_project=sub_project, status=CheckStatus.NOT_FOUND)
            codes.append(po.code)
        return codes

    assert_flat_queries(client, round_q1.get_absolute_url(), more)


@pytest.mark.parametrize(
    ("persona", "status"), [("pmu", "pending"), ("verifier", "pending"), ("po1", "confirmed")]
)
def test_check_list(client, request, add_check, persona, status):
    client.force_login(request.getfixturevalue(persona))
    add_check(status=status)

    def more():
        return [add_check(status=status).get_absolute_url() for _ in range(MORE)]

    assert_flat_queries(client, "/verification/checks/", more)


@pytest.fixture
def add_awaiting(sp_one):
    """An adoption not yet verified and a facility not yet confirmed, of po1's PO."""
    numbers = count(1)

    def make():
        adoption = AdoptionFactory(
            enterprise=EnterpriseFactory(sub_project=sp_one), adopted_on=date(2025, 2, 10)
        )
        facility = FacilityFactory(sub_project=sp_one, name=f"Awaiting CSF {next(numbers)}")
        return [adoption.enterprise.name, facility.name]

    return make


@pytest.mark.parametrize("persona", ["pmu", "verifier"])
@pytest.mark.parametrize("kind", ["adoptions", "facilities"])
def test_awaiting_verification(client, request, add_awaiting, persona, kind):
    client.force_login(request.getfixturevalue(persona))
    add_awaiting()
    column = 0 if kind == "adoptions" else 1

    assert_flat_queries(
        client, f"/verification/awaiting/?kind={kind}", lambda: [add_awaiting()[column] for _ in range(MORE)]
    )


def _change_policy(pmu, n: int) -> str:
    services.update_policy(
        user=pmu, threshold_percent=Decimal(80 + n), margin_percent=Decimal(5), floor=10 + n
    )
    return f"{80 + n}"


def test_policy_with_its_history(client, pmu):
    client.force_login(pmu)
    _change_policy(pmu, 0)

    assert_flat_queries(
        client, "/verification/policy/", lambda: [_change_policy(pmu, n) for n in range(1, MORE + 1)]
    )


def test_check_page_with_its_result(client, pmu, verifier, add_check):
    """A check has at most one result; its page costs the same pending or decided."""
    client.force_login(pmu)
    check = add_check()

    def decide():
        workflow.apply(
            check, "confirm", verifier, comment="LED tubes in use.", visited_on=timezone.localdate()
        )
        return ["LED tubes in use."]

    assert_flat_queries(client, check.get_absolute_url(), decide)


# --- API ------------------------------------------------------------------------------------------


def test_api_rounds(api, pmu, add_check):
    api.as_user(pmu)
    add_check()

    def more():
        rounds = [RoundFactory(year=2024, quarter=quarter, drawn_by=pmu) for quarter in range(1, MORE + 1)]
        for round_ in rounds:
            add_check(round_=round_)
        return [f'"quarter":{round_.quarter}' for round_ in rounds]

    assert_flat_queries(api, "/api/v1/verification-rounds/", more)


def test_api_round_with_its_pos(api, pmu, round_q1, sp_one, add_check):
    api.as_user(pmu)
    round_q1.strata.create(partner_organization=sp_one.partner_organization, adoptions=1, sample_size=1)
    add_check(status=CheckStatus.CONFIRMED)

    def more():
        codes = []
        for _ in range(MORE):
            po = PartnerOrganizationFactory()
            round_q1.strata.create(partner_organization=po, adoptions=1, sample_size=1)
            add_check(sub_project=sub_project_for(po), status=CheckStatus.CONFIRMED)
            codes.append(po.code)
        return codes

    assert_flat_queries(api, f"/api/v1/verification-rounds/{round_q1.pk}/", more)


@pytest.mark.parametrize(("persona", "status"), [("verifier", "pending"), ("po1", "confirmed")])
def test_api_checks(api, request, add_check, persona, status):
    api.as_user(request.getfixturevalue(persona))
    add_check(status=status)

    def more():
        return [f'"id":{add_check(status=status).pk}' for _ in range(MORE)]

    assert_flat_queries(api, "/api/v1/verification-checks/", more)


@pytest.mark.parametrize("resource", ["verification-awaiting-adoptions", "verification-awaiting-facilities"])
def test_api_awaiting(api, verifier, add_awaiting, resource):
    api.as_user(verifier)
    add_awaiting()
    kind = 0 if resource.endswith("adoptions") else 1

    assert_flat_queries(api, f"/api/v1/{resource}/", lambda: [add_awaiting()[kind] for _ in range(MORE)])


def test_api_policy_with_its_history(api, pmu):
    api.as_user(pmu)
    _change_policy(pmu, 0)

    assert_flat_queries(
        api,
        "/api/v1/verification-policy/current/",
        lambda: [_change_policy(pmu, n) for n in range(1, MORE + 1)],
    )


def test_api_history_of_a_check(api, pmu, verifier, add_check):
    """A check has at most one result; its history costs the same before and after it."""
    api.as_user(pmu)
    check = add_check()

    def decide():
        workflow.apply(
            check, "confirm", verifier, comment="LED tubes in use.", visited_on=timezone.localdate()
        )
        return ["LED tubes in use."]

    assert_flat_queries(api, f"/api/v1/verification-checks/{check.pk}/history/", decide)
