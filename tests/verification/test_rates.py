"""Confirmation rates per PO: confirmed counts 1, partly 0.5, not found 0, over the checks done;
flagged below the policy's threshold; one grouped query."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.verification.conftest import bulk_adoptions
from tests.verification.factories import CheckFactory, RoundFactory
from verification import services
from verification.models import CheckStatus, VerificationPolicy
from verification.rates import Rate, confirmation_rates


def results(round_, adoptions, statuses) -> None:
    for adoption, status in zip(adoptions, statuses, strict=True):
        CheckFactory(round=round_, adoption=adoption, status=status)


@pytest.fixture
def checked(sp_one, sp_two, po_one, po_two):
    """Round Q1 2025: po1's PO 8 confirmed, 1 partly, 1 not found, 2 pending; po2's PO 4 confirmed."""
    round_ = RoundFactory(year=2025, quarter=1)
    confirmed, partly, not_found, pending = (
        CheckStatus.CONFIRMED,
        CheckStatus.PARTLY,
        CheckStatus.NOT_FOUND,
        CheckStatus.PENDING,
    )
    results(round_, bulk_adoptions(sp_one, 12), [confirmed] * 8 + [partly, not_found, pending, pending])
    results(round_, bulk_adoptions(sp_two, 4), [confirmed] * 4)
    return round_


def test_rates_per_po(checked, po_one, po_two):
    rates = confirmation_rates(round=checked)

    # (8 + 0.5) / 10 = 85 %, below the default threshold of 90 %.
    assert rates[po_one.pk] == Rate(
        po_id=po_one.pk,
        sampled=12,
        done=10,
        confirmed=8,
        partly=1,
        not_found=1,
        rate=Decimal("85.0"),
        flagged=True,
    )
    assert rates[po_one.pk].pending == 2
    assert (rates[po_two.pk].rate, rates[po_two.pk].flagged) == (Decimal("100.0"), False)


def test_the_flag_follows_the_policy_threshold(checked, po_one, pmu):
    services.update_policy(user=pmu, threshold_percent=Decimal("85"), margin_percent=Decimal("5"), floor=10)
    assert confirmation_rates(round=checked)[po_one.pk].flagged is False  # 85 is not below 85
    assert confirmation_rates(round=checked, threshold=Decimal("85.01"))[po_one.pk].flagged is True


def test_nothing_done_means_no_rate_and_no_flag(sp_one, po_one):
    round_ = RoundFactory(year=2025, quarter=2)
    results(round_, bulk_adoptions(sp_one, 3), [CheckStatus.PENDING] * 3)
    rate = confirmation_rates(round=round_)[po_one.pk]
    assert (rate.sampled, rate.done, rate.rate, rate.flagged) == (3, 0, None, False)


def test_by_round_by_po_and_across_rounds(checked, sp_one, po_one, po_two):
    later = RoundFactory(year=2025, quarter=2)
    results(later, bulk_adoptions(sp_one, 2), [CheckStatus.NOT_FOUND] * 2)

    assert confirmation_rates(round=later.pk)[po_one.pk].done == 2
    assert set(confirmation_rates(round=later)) == {po_one.pk}
    assert set(confirmation_rates(po_id=po_two.pk)) == {po_two.pk}
    across = confirmation_rates()[po_one.pk]
    # (8 + 0.5) / 12 = 70.8 %.
    assert (across.done, across.not_found, across.rate) == (12, 3, Decimal("70.8"))


def test_one_grouped_query_whatever_the_number_of_pos(checked, django_assert_num_queries):
    VerificationPolicy.current()
    with django_assert_num_queries(1):
        confirmation_rates(round=checked, threshold=Decimal("90"))
    with django_assert_num_queries(2):  # the policy's threshold, then the rates
        confirmation_rates()
