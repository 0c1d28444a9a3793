"""Each indicator's definition on small hand-made data, as of dates, with its edge cases."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.utils import timezone

from enterprises.models import FacilityKind, FacilityStatus, Gender, ProfileStatus
from monitoring import aggregation
from monitoring.indicators import DEFINITIONS
from monitoring.models import Dimension, Indicator, IndicatorValue
from subprojects import workflow
from tests.enterprises.factories import (
    AdoptionFactory,
    AttendanceFactory,
    EnterpriseFactory,
    FacilityFactory,
    FinancialSupportFactory,
    KpiReadingFactory,
    RecpProfileFactory,
    kpi,
    practice,
    sub_project_for,
)
from tests.factories import district

AS_OF = date(2025, 6, 30)


@pytest.fixture
def sp(po_one):
    return sub_project_for(po_one)


@pytest.fixture
def me(sp):
    def make(**kwargs):
        return EnterpriseFactory(sub_project=sp, **kwargs)

    return make


def total(code: str, as_of: date = AS_OF) -> Decimal:
    aggregation.refresh_snapshot(as_of)
    return IndicatorValue.objects.get(
        as_of=as_of, indicator__code=code, scope_po=None, dimension=Dimension.TOTAL
    ).value


def test_financed_counts_distinct_mes_with_a_disbursement_by_the_date(me):
    twice = me()
    FinancialSupportFactory(enterprise=twice, disbursed_on=date(2024, 10, 1))
    FinancialSupportFactory(enterprise=twice, disbursed_on=date(2025, 2, 1))  # one ME, counted once
    later = me()
    FinancialSupportFactory(enterprise=later, disbursed_on=date(2025, 7, 1))  # after the date
    me()  # never financed

    assert total("ME_FINANCED") == 1
    assert total("ME_FINANCED", date(2025, 7, 31)) == 2
    assert total("ME_FINANCED", date(2024, 9, 30)) == 0


def test_climate_knowledge_needs_a_post_test_above_the_pre_test(me):
    improved, same, worse = me(), me(), me()
    AttendanceFactory(enterprise=improved, pre_test_score=40, post_test_score=55)
    AttendanceFactory(enterprise=same, pre_test_score=60, post_test_score=60)  # no improvement
    AttendanceFactory(enterprise=worse, pre_test_score=70, post_test_score=50)

    assert total("ME_CLIMATE_KNOWLEDGE") == 1


def test_recp_needs_two_distinct_verified_practices(me, pmu):
    two, one, unverified = me(), me(), me()
    for code in ("AQ-04", "EE-01"):
        AdoptionFactory(
            enterprise=two, practice=practice(code), verified_by=pmu, verified_on=date(2025, 3, 1)
        )
    AdoptionFactory(enterprise=one, practice=practice("AQ-04"), verified_by=pmu, verified_on=date(2025, 3, 1))
    AdoptionFactory(
        enterprise=unverified, practice=practice("AQ-04"), verified_by=pmu, verified_on=date(2025, 3, 1)
    )
    AdoptionFactory(enterprise=unverified, practice=practice("EE-01"))  # adopted, not verified

    assert total("ME_RECP_2PLUS") == 1
    assert total("ME_RECP_2PLUS", date(2025, 2, 28)) == 0  # verified after that date


def test_kpi_tracking_needs_a_baseline_and_a_later_reading_of_the_same_kpi(me):
    tracking, no_baseline, baseline_only, other_kpi = me(), me(), me(), me()
    KpiReadingFactory(enterprise=tracking, period=date(2025, 1, 1), is_baseline=True)
    KpiReadingFactory(enterprise=tracking, period=date(2025, 3, 1))
    KpiReadingFactory(enterprise=no_baseline, period=date(2025, 1, 1))
    KpiReadingFactory(enterprise=no_baseline, period=date(2025, 3, 1))
    KpiReadingFactory(enterprise=baseline_only, period=date(2025, 1, 1), is_baseline=True)
    KpiReadingFactory(enterprise=other_kpi, kpi=kpi("ELECTRICITY"), period=date(2025, 1, 1), is_baseline=True)
    KpiReadingFactory(enterprise=other_kpi, kpi=kpi("WATER"), period=date(2025, 3, 1), value=Decimal("20"))

    assert total("ME_KPI_TRACKING") == 1
    assert total("ME_KPI_TRACKING", date(2025, 2, 28)) == 0  # the later reading comes after that date


def test_profiles_count_only_once_validated(me, pmu):
    validated, prepared = me(), me()
    RecpProfileFactory(
        enterprise=validated, status=ProfileStatus.VALIDATED, validated_by=pmu, validated_on=date(2025, 5, 1)
    )
    RecpProfileFactory(enterprise=prepared, status=ProfileStatus.PREPARED)

    assert total("RECP_PROFILES_VALIDATED") == 1
    assert total("RECP_PROFILES_VALIDATED", date(2025, 4, 30)) == 0


def test_only_operational_facilities_count_split_by_kind(sp):
    FacilityFactory(sub_project=sp, kind=FacilityKind.REVENUE, opened_on=date(2025, 1, 20))
    FacilityFactory(sub_project=sp, kind=FacilityKind.NON_REVENUE, opened_on=date(2025, 3, 1))
    FacilityFactory(
        sub_project=sp, status=FacilityStatus.UNDER_CONSTRUCTION, opened_on=None
    )  # not yet operational
    FacilityFactory(sub_project=sp, kind=FacilityKind.REVENUE, opened_on=date(2025, 8, 1))  # opens later

    assert total("CSF_ESTABLISHED") == 2
    assert total("CSF_REVENUE") == 1
    assert total("CSF_NON_REVENUE") == 1


def test_a_confirmed_duplicate_counts_once_for_its_original(me):
    original = me()
    duplicate = me(duplicate_of=original)
    FinancialSupportFactory(enterprise=original)
    FinancialSupportFactory(enterprise=duplicate)
    only_the_duplicate_trained = AttendanceFactory(enterprise=duplicate)

    assert only_the_duplicate_trained.enterprise == duplicate
    assert total("ME_FINANCED") == 1
    assert total("ME_CLIMATE_KNOWLEDGE") == 1  # counted for the original


def test_money_committed_and_disbursed_in_usd(settings, sp, me, pmu):
    settings.BDT_PER_USD = 100
    FinancialSupportFactory(enterprise=me(), amount=Decimal("250000"), disbursed_on=date(2025, 1, 1))

    # The factory's sub-project: 25,000,000 BDT approved, awarded 1 July 2024.
    assert total("MONEY_COMMITTED") == Decimal("250000")
    assert total("MONEY_DISBURSED") == Decimal("2500")
    assert total("MONEY_COMMITTED", date(2024, 6, 30)) == 0


def test_a_cancelled_sub_project_no_longer_counts_as_committed(settings, sp, pmu):
    settings.BDT_PER_USD = 100
    workflow.apply(sp, "cancel", pmu, comment="The PO withdrew.")
    today = timezone.localdate()

    assert total("MONEY_COMMITTED", today) == 0
    assert total("MONEY_COMMITTED", date(2024, 12, 31)) == Decimal("250000")  # before the cancellation


def test_women_led_share(me):
    for gender in (Gender.FEMALE, Gender.FEMALE, Gender.MALE, Gender.MALE, Gender.THIRD_GENDER):
        me(owner_gender=gender)

    assert total("WOMEN_LED_SHARE") == Decimal("40.0000")


def test_breakdowns_add_up_to_the_total(me, sp, po_two):
    other_sp = sub_project_for(po_two)
    for index in range(6):
        enterprise = me(
            owner_gender=Gender.FEMALE if index % 2 else Gender.MALE,
            district=district("Kishoreganj" if index < 4 else "Narsingdi"),
        )
        FinancialSupportFactory(enterprise=enterprise)
    FinancialSupportFactory(enterprise=EnterpriseFactory(sub_project=other_sp, district=district("Satkhira")))
    aggregation.refresh_snapshot(AS_OF)

    values = IndicatorValue.objects.filter(as_of=AS_OF, indicator__code="ME_FINANCED", scope_po=None)
    grand_total = values.get(dimension=Dimension.TOTAL).value
    assert grand_total == 7
    for dimension in Dimension.values:
        if dimension == Dimension.TOTAL:
            continue
        assert sum(v.value for v in values.filter(dimension=dimension)) == grand_total, dimension
    by_district = dict(values.filter(dimension=Dimension.DISTRICT).values_list("key", "value"))
    assert by_district == {"BD3048": 4, "BD3068": 2, "BD4087": 1}
    po_scope = IndicatorValue.objects.filter(
        as_of=AS_OF, indicator__code="ME_FINANCED", scope_po=sp.partner_organization
    )
    assert po_scope.get(dimension=Dimension.TOTAL).value == 6
    assert dict(po_scope.filter(dimension=Dimension.GENDER).values_list("key", "value")) == {
        "female": 3,
        "male": 3,
    }


def test_running_twice_changes_nothing(me):
    FinancialSupportFactory(enterprise=me())
    aggregation.refresh_snapshot(AS_OF)
    first = sorted(IndicatorValue.objects.values_list("indicator__code", "dimension", "key", "value"))

    aggregation.refresh_snapshot(AS_OF)

    assert sorted(IndicatorValue.objects.values_list("indicator__code", "dimension", "key", "value")) == first


def test_every_indicator_has_exactly_one_definition(db):
    codes = [definition.code for definition in DEFINITIONS]

    assert len(codes) == len(set(codes))
    assert set(codes) == set(Indicator.objects.values_list("code", flat=True))


def test_month_ends_for_the_backfill():
    assert aggregation.month_ends(date(2024, 11, 5), date(2025, 2, 10)) == [
        date(2024, 11, 30),
        date(2024, 12, 31),
        date(2025, 1, 31),
        date(2025, 2, 10),
    ]
