"""The sampling rule: sizes, spread over kinds, the population of a quarter, reproducible draws."""

from __future__ import annotations

import hashlib
import random
from datetime import date
from decimal import Decimal

import pytest

from core.models import PartnerOrganization
from enterprises.models import Adoption, FacilityStatus, ProfileStatus
from tests.enterprises.factories import (
    AdoptionFactory,
    EnterpriseFactory,
    FacilityFactory,
    RecpProfileFactory,
    practice,
)
from tests.verification.conftest import bulk_adoptions
from tests.verification.factories import CheckFactory, RoundFactory
from verification import sampling, services
from verification.models import CheckKind

ADOPTION, PROFILE, FACILITY = CheckKind.ADOPTION, CheckKind.PROFILE, CheckKind.FACILITY


# --- Sample size ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("population", "expected"),
    [
        # n0 = 1.96² * 0.25 / 0.05² = 384.16; n = n0 / (1 + (n0 - 1)/N), rounded up.
        (11, 11),  # 10.8 → 11
        (12, 12),  # 11.66 → 12
        (20, 20),  # 19.06 → 20
        (50, 45),  # 44.34 → 45
        (100, 80),  # 79.51 → 80
        (1_000, 278),  # 277.74 → 278
        (10_000, 370),  # 369.98 → 370
        (1_000_000, 385),  # tends to n0 = 384.16 → 385
    ],
)
def test_sample_size_follows_cochran_with_the_finite_population_correction(population, expected):
    assert sampling.sample_size(population, margin_percent=Decimal("5"), floor=10) == expected


@pytest.mark.parametrize(("population", "expected"), [(0, 0), (1, 1), (7, 7), (10, 10)])
def test_a_po_with_no_more_items_than_the_floor_has_every_item_checked(population, expected):
    assert sampling.sample_size(population, margin_percent=Decimal("5"), floor=10) == expected


def test_the_floor_raises_small_samples():
    # With a 25 % margin n0 = 15.37: 100 items would need only 14, the floor asks for 30.
    assert sampling.sample_size(100, margin_percent=Decimal("25"), floor=1) == 14
    assert sampling.sample_size(100, margin_percent=Decimal("25"), floor=30) == 30


@pytest.mark.parametrize(
    ("margin", "population", "expected"),
    [
        (Decimal("10"), 100, 50),
        (Decimal("10"), 1_000, 88),
        (Decimal("3"), 1_000, 517),
        (Decimal("2.5"), 10_000, 1_333),
    ],
)
def test_a_wider_margin_needs_fewer_checks(margin, population, expected):
    assert sampling.sample_size(population, margin_percent=margin, floor=10) == expected


def test_the_sample_never_exceeds_the_population():
    for population in range(1, 400):
        assert sampling.sample_size(population, margin_percent=Decimal("1"), floor=10) <= population


# --- Spread over kinds ----------------------------------------------------------------------------


def test_the_sample_is_spread_over_kinds_in_proportion_by_largest_remainder():
    # 80 of 100: quotas 56, 16, 8 exactly.
    assert sampling.allocate(80, {ADOPTION: 70, PROFILE: 20, FACILITY: 10}) == {
        ADOPTION: 56,
        PROFILE: 16,
        FACILITY: 8,
    }
    # 10 of 13 items: quotas 6.15, 2.31, 1.54 → 6, 2, 1 and the last to the largest remainder (facility).
    assert sampling.allocate(10, {ADOPTION: 8, PROFILE: 3, FACILITY: 2}) == {
        ADOPTION: 6,
        PROFILE: 2,
        FACILITY: 2,
    }


def test_ties_go_to_adoptions_then_profiles():
    assert sampling.allocate(1, {ADOPTION: 1, PROFILE: 1, FACILITY: 1}) == {
        ADOPTION: 1,
        PROFILE: 0,
        FACILITY: 0,
    }
    assert sampling.allocate(2, {ADOPTION: 1, PROFILE: 1, FACILITY: 1}) == {
        ADOPTION: 1,
        PROFILE: 1,
        FACILITY: 0,
    }


def test_a_kind_never_gets_more_than_it_has():
    for size in range(0, 31):
        shares = sampling.allocate(size, {ADOPTION: 25, PROFILE: 4, FACILITY: 1})
        assert sum(shares.values()) == size
        assert shares[PROFILE] <= 4
        assert shares[FACILITY] <= 1


# --- The population of a quarter ------------------------------------------------------------------


def test_quarter_bounds():
    assert sampling.quarter_bounds(2025, 1) == (date(2025, 1, 1), date(2025, 3, 31))
    assert sampling.quarter_bounds(2024, 4) == (date(2024, 10, 1), date(2024, 12, 31))


def test_the_population_holds_what_the_po_reported_up_to_the_quarters_end(
    me_one, me_two, sp_one, po_one, po_two, pmu
):
    in_quarter = AdoptionFactory(enterprise=me_one, adopted_on=date(2025, 3, 31))
    verified = AdoptionFactory(
        enterprise=me_one,
        practice=practice("EE-01"),
        adopted_on=date(2025, 1, 1),
        verified_on=date(2025, 2, 1),
    )
    # Earlier and never sampled: it carries over (the review found such items were never sampled).
    earlier = AdoptionFactory(enterprise=me_one, practice=practice("EE-02"), adopted_on=date(2024, 12, 31))
    AdoptionFactory(enterprise=me_one, practice=practice("EE-03"), adopted_on=date(2025, 4, 1))
    other_po = AdoptionFactory(enterprise=me_two, adopted_on=date(2025, 2, 1))
    profile = RecpProfileFactory(
        enterprise=me_one, status=ProfileStatus.VALIDATED, validated_on=date(2025, 2, 2)
    )
    RecpProfileFactory(enterprise=me_two, status=ProfileStatus.PREPARED)  # not validated
    earlier_profile = RecpProfileFactory(
        enterprise=EnterpriseFactory(sub_project=sp_one),
        status=ProfileStatus.VALIDATED,
        validated_on=date(2024, 11, 5),
    )
    RecpProfileFactory(
        enterprise=EnterpriseFactory(sub_project=sp_one),
        status=ProfileStatus.VALIDATED,
        validated_on=date(2025, 4, 1),
    )  # validated after the quarter
    older_unconfirmed = FacilityFactory(sub_project=sp_one, opened_on=date(2024, 6, 1))
    opened_in_quarter_confirmed = FacilityFactory(
        sub_project=sp_one, opened_on=date(2025, 1, 5), operational_confirmed_on=date(2025, 1, 9)
    )
    FacilityFactory(sub_project=sp_one, opened_on=date(2024, 6, 1), operational_confirmed_on=date(2024, 7, 1))
    FacilityFactory(sub_project=sp_one, opened_on=date(2025, 4, 2))  # opened after the quarter
    FacilityFactory(sub_project=sp_one, status=FacilityStatus.UNDER_CONSTRUCTION, opened_on=None)

    population = sampling.population(2025, 1)

    assert population[po_one.pk] == {
        ADOPTION: sorted([in_quarter.pk, verified.pk, earlier.pk]),
        PROFILE: sorted([profile.pk, earlier_profile.pk]),
        FACILITY: sorted([older_unconfirmed.pk, opened_in_quarter_confirmed.pk]),
    }
    assert population[po_two.pk] == {ADOPTION: [other_po.pk], PROFILE: [], FACILITY: []}


def test_items_sampled_in_an_earlier_round_are_left_out(adoption_one, facility_one, po_one):
    earlier = RoundFactory(year=2024, quarter=4)
    CheckFactory(round=earlier, kind=CheckKind.FACILITY, facility=facility_one)

    population = sampling.population(2025, 1)

    assert population[po_one.pk][FACILITY] == []
    assert population[po_one.pk][ADOPTION] == [adoption_one.pk]


def test_the_population_is_read_with_one_query_per_kind(sp_one, sp_two, django_assert_num_queries):
    bulk_adoptions(sp_one, 3)
    with django_assert_num_queries(3):
        small = sampling.population(2025, 1)
    bulk_adoptions(sp_one, 60)
    bulk_adoptions(sp_two, 40)
    with django_assert_num_queries(3):
        large = sampling.population(2025, 1)
    assert sum(len(kinds[ADOPTION]) for kinds in small.values()) == 3
    assert sum(len(kinds[ADOPTION]) for kinds in large.values()) == 103


# --- Drawing: stratified and reproducible ---------------------------------------------------------


def _sampled_ids(strata) -> dict[str, list[int]]:
    return {stratum.po_code: stratum.sample[ADOPTION] for stratum in strata}


@pytest.fixture
def two_pos_reported(sp_one, sp_two):
    return bulk_adoptions(sp_one, 60), bulk_adoptions(sp_two, 40)


def test_each_po_is_sampled_separately_with_its_own_size(two_pos_reported, po_one, po_two):
    strata = sampling.plan(year=2025, quarter=1, seed=42, margin_percent=Decimal("25"), floor=10)

    by_code = {stratum.po_code: stratum for stratum in strata}
    one, two = by_code[po_one.code], by_code[po_two.code]
    # ± 25 %: n0 = 15.37; 60 items → 12.4 → 13, 40 items → 11.3 → 12.
    assert (one.population, one.size) == (60, 13)
    assert (two.population, two.size) == (40, 12)
    one_ids = {a.pk for a in two_pos_reported[0]}
    two_ids = {a.pk for a in two_pos_reported[1]}
    assert set(one.sample[ADOPTION]) <= one_ids
    assert set(two.sample[ADOPTION]) <= two_ids
    assert len(one.sample[ADOPTION]) == one.size


def test_the_same_seed_and_data_give_the_same_sample(two_pos_reported):
    first = sampling.plan(year=2025, quarter=1, seed=7, margin_percent=Decimal("25"), floor=10)
    again = sampling.plan(year=2025, quarter=1, seed=7, margin_percent=Decimal("25"), floor=10)
    assert _sampled_ids(first) == _sampled_ids(again)


def test_another_seed_gives_another_sample(two_pos_reported):
    first = sampling.plan(year=2025, quarter=1, seed=7, margin_percent=Decimal("25"), floor=10)
    other = sampling.plan(year=2025, quarter=1, seed=8, margin_percent=Decimal("25"), floor=10)
    assert _sampled_ids(first) != _sampled_ids(other)


def test_the_draw_is_python_random_seeded_with_seed_and_po_id():
    """The PO's id, which never changes (its code did, so renaming a PO changed past draws)."""
    items = {ADOPTION: list(range(1, 101)), PROFILE: [], FACILITY: []}
    expected = sorted(random.Random("99:17").sample(list(range(1, 101)), 5))
    assert sampling.draw(99, 17, items, {ADOPTION: 5, PROFILE: 0, FACILITY: 0})[ADOPTION] == expected


def test_renaming_a_po_does_not_change_its_sample(two_pos_reported, po_one):
    first = sampling.plan(year=2025, quarter=1, seed=7, margin_percent=Decimal("25"), floor=10)
    PartnerOrganization.objects.filter(pk=po_one.pk).update(code="PO-RENAMED")
    again = sampling.plan(year=2025, quarter=1, seed=7, margin_percent=Decimal("25"), floor=10)
    by_id = {stratum.po_id: stratum.sample for stratum in again}
    assert all(by_id[stratum.po_id] == stratum.sample for stratum in first)


def test_the_fingerprint_is_the_sha256_of_the_sorted_ids():
    assert sampling.fingerprint([42, 3, 17]) == hashlib.sha256(b"3,17,42").hexdigest()
    assert sampling.fingerprint([]) == hashlib.sha256(b"").hexdigest()


# --- Repeating a draw -----------------------------------------------------------------------------


def _checks_of(round_) -> dict[int, dict[str, list[int]]]:
    drawn: dict[int, dict[str, list[int]]] = {}
    for check in round_.checks.all():
        kinds = drawn.setdefault(check.partner_organization_id, {kind: [] for kind in sampling.KINDS})
        kinds[check.kind].append(check.adoption_id or check.profile_id or check.facility_id)
    return {po_id: {kind: sorted(ids) for kind, ids in kinds.items()} for po_id, kinds in drawn.items()}


def test_a_repeat_of_the_draw_gives_the_rounds_checks_and_fingerprints(
    two_pos_reported, facility_one, profile_one, pmu
):
    services.update_policy(user=pmu, threshold_percent=Decimal("90"), margin_percent=Decimal("25"), floor=5)
    earlier = services.draw_round(user=pmu, year=2024, quarter=4, seed=3)
    assert earlier.checks.count() == 0  # nothing was reported by then
    round_ = services.draw_round(user=pmu, year=2025, quarter=1, seed=11)
    # A later round takes items of this one's population: the repeat must not leave them out.
    bulk_adoptions(facility_one.sub_project, 3, on=date(2025, 5, 1))
    later = services.draw_round(user=pmu, year=2025, quarter=2, seed=11)
    assert later.checks.exists()

    repeat = sampling.replan(round_)

    assert {stratum.po_id: stratum.sample for stratum in repeat} == _checks_of(round_)
    stored = {stratum.partner_organization_id: stratum for stratum in round_.strata.all()}
    for stratum in repeat:
        assert stratum.fingerprints == stored[stratum.po_id].fingerprints
        assert stratum.size == stored[stratum.po_id].sample_size
    # A new draw's population (before=None) leaves out what any round sampled, this one included.
    assert sampling.population(2025, 1) != sampling.population(2025, 1, before=round_)


def test_a_changed_population_shows_in_its_fingerprint(two_pos_reported, sp_one, po_one, pmu):
    round_ = services.draw_round(user=pmu, year=2025, quarter=1, seed=11)
    bulk_adoptions(sp_one, 1, on=date(2025, 3, 30))  # reported after the draw

    repeat = {stratum.po_id: stratum for stratum in sampling.replan(round_)}

    stored = round_.strata.get(partner_organization=po_one)
    assert repeat[po_one.pk].fingerprints[ADOPTION] != stored.adoptions_sha256
    assert repeat[po_one.pk].fingerprints[PROFILE] == stored.profiles_sha256


def test_population_before_a_round_leaves_out_only_earlier_rounds(adoption_one, facility_one, po_one):
    earlier = RoundFactory(year=2024, quarter=4)
    CheckFactory(round=earlier, kind=CheckKind.FACILITY, facility=facility_one)
    this = RoundFactory(year=2025, quarter=1)
    CheckFactory(round=this, adoption=adoption_one)
    later = RoundFactory(year=2025, quarter=2)

    assert sampling.population(2025, 1, before=this)[po_one.pk] == {
        ADOPTION: [adoption_one.pk],
        PROFILE: [],
        FACILITY: [],
    }
    # Both items were sampled before the later round (and before any new draw): no population left.
    assert po_one.pk not in sampling.population(2025, 1, before=later)
    assert po_one.pk not in sampling.population(2025, 1)


# --- Nothing reported is left unsampled -----------------------------------------------------------


def test_a_late_reported_or_re_dated_adoption_enters_the_next_round(sp_one, me_one, pmu):
    bulk_adoptions(sp_one, 3, on=date(2025, 2, 1))
    q1 = services.draw_round(user=pmu, year=2025, quarter=1, seed=1)
    assert q1.checks.count() == 3
    # After the Q1 draw: an adoption of Q1 reported late, and one dated in Q3 corrected into Q1.
    late = AdoptionFactory(enterprise=me_one, practice=practice("EE-01"), adopted_on=date(2025, 3, 30))
    re_dated = AdoptionFactory(enterprise=me_one, practice=practice("EE-02"), adopted_on=date(2025, 8, 1))
    Adoption.objects.filter(pk=re_dated.pk).update(adopted_on=date(2025, 1, 15))

    q2 = services.draw_round(user=pmu, year=2025, quarter=2, seed=1)

    assert set(q2.checks.values_list("adoption_id", flat=True)) == {late.pk, re_dated.pk}
