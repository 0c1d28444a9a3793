"""Each indicator's definition, as the seed documents word it, on small hand-made data, as of dates,
with its edge cases."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.utils import timezone

from enterprises.models import FacilityKind, FacilityStatus, Gender, Kpi, ProfileStatus, TrainingModule
from finance.models import ExchangeRate
from monitoring import aggregation
from monitoring.indicators import DEFINITIONS
from monitoring.models import Dimension, Indicator, IndicatorValue, OutcomeValue
from subprojects import workflow
from tests.enterprises.factories import (
    AdoptionFactory,
    AttendanceFactory,
    EnterpriseFactory,
    FacilityFactory,
    FinancialSupportFactory,
    KpiReadingFactory,
    RecpProfileFactory,
    TrainingSessionFactory,
    kpi,
    practice,
    sub_project_for,
)
from tests.factories import district

AS_OF = date(2025, 6, 30)


def flat_rate(rate: int = 100) -> None:
    """One BDT/USD rate for every day: the rate table's only row (finance.rates)."""
    ExchangeRate.objects.all().delete()
    ExchangeRate.objects.create(valid_from=date(2023, 8, 1), bdt_per_usd=Decimal(rate))


@pytest.fixture
def sp(po_one):
    return sub_project_for(po_one)


@pytest.fixture
def me(sp):
    def make(**kwargs):
        return EnterpriseFactory(sub_project=sp, **kwargs)

    return make


def module(code: str) -> TrainingModule:
    return TrainingModule.objects.get(code=code)


def attended(enterprise, *, module_code: str | None = "CV-01", pre=40, post=55, **session):
    """An attendance at a session of the module (None: a session not mapped to any module)."""
    session = TrainingSessionFactory(
        sub_project=enterprise.sub_project,
        module=module(module_code) if module_code else None,
        **session,
    )
    return AttendanceFactory(session=session, enterprise=enterprise, pre_test_score=pre, post_test_score=post)


def total(code: str, as_of: date = AS_OF) -> Decimal:
    aggregation.refresh_snapshot(as_of)
    return IndicatorValue.objects.get(
        as_of=as_of, indicator__code=code, scope_po=None, dimension=Dimension.TOTAL
    ).value


# --- MEs financed ---------------------------------------------------------------------------------


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


def test_financing_before_the_programme_start_never_counts(me):
    flat_rate(100)
    early = me()
    FinancialSupportFactory(enterprise=early, disbursed_on=date(2023, 7, 31), amount=Decimal("50000"))
    on_the_day = me()
    FinancialSupportFactory(enterprise=on_the_day, disbursed_on=date(2023, 8, 1), amount=Decimal("10000"))

    assert total("ME_FINANCED") == 1
    assert total("MONEY_DISBURSED") == Decimal("100")  # 10,000 BDT; the 50,000 before the start left out


def test_the_programme_start_is_a_setting(me, settings):
    settings.PROGRAMME_START = date(2024, 1, 1)
    FinancialSupportFactory(enterprise=me(), disbursed_on=date(2023, 12, 31))

    assert total("ME_FINANCED") == 0


# --- Climate knowledge ----------------------------------------------------------------------------


def test_climate_knowledge_needs_a_post_test_above_the_pre_test(me):
    improved, same, worse = me(), me(), me()
    attended(improved, pre=40, post=55)
    attended(same, pre=60, post=60)  # no improvement
    attended(worse, pre=70, post=50)

    assert total("ME_CLIMATE_KNOWLEDGE") == 1


def test_only_trainings_of_a_module_tagged_climate_vulnerability_count(me):
    climate, resource, unmapped = me(), me(), me()
    attended(climate, module_code="CV-02")
    attended(resource, module_code="RE-01")  # resource efficiency: not climate vulnerability
    attended(unmapped, module_code=None)  # a legacy session the PMU has not mapped yet

    assert total("ME_CLIMATE_KNOWLEDGE") == 1


def test_retagging_a_module_changes_what_counts(me):
    attended(me(), module_code="OSH-01")
    assert total("ME_CLIMATE_KNOWLEDGE") == 0

    TrainingModule.objects.filter(code="OSH-01").update(climate_vulnerability=True)

    assert total("ME_CLIMATE_KNOWLEDGE") == 1


# --- RECP adoption --------------------------------------------------------------------------------


def test_recp_needs_two_distinct_practices_verified_independently(me, pmu, verifier):
    two, one, unverified = me(), me(), me()
    AdoptionFactory(enterprise=two, practice=practice("AQ-04"), verified_by=pmu, verified_on=date(2025, 3, 1))
    AdoptionFactory(
        enterprise=two, practice=practice("EE-01"), verified_by=verifier, verified_on=date(2025, 3, 1)
    )
    AdoptionFactory(enterprise=one, practice=practice("AQ-04"), verified_by=pmu, verified_on=date(2025, 3, 1))
    AdoptionFactory(
        enterprise=unverified, practice=practice("AQ-04"), verified_by=pmu, verified_on=date(2025, 3, 1)
    )
    AdoptionFactory(enterprise=unverified, practice=practice("EE-01"))  # reported, not verified

    assert total("ME_RECP_2PLUS") == 1
    assert total("ME_RECP_2PLUS", date(2025, 2, 28)) == 0  # verified after that date


def test_an_adoption_verified_by_the_pos_own_staff_never_counts(me, po1):
    enterprise = me()
    for code in ("AQ-04", "EE-01"):
        # As the portal used to record it: the PO's officer as verifier (the data, not the service).
        AdoptionFactory(
            enterprise=enterprise, practice=practice(code), verified_by=po1, verified_on=date(2025, 3, 1)
        )

    assert total("ME_RECP_2PLUS") == 0
    assert total("ME_RECP_2PLUS_PENDING") == 1  # reported, not yet verified


def test_reported_not_yet_verified_is_shown_beside_the_figure(me, pmu):
    reported_only, half_verified, verified = me(), me(), me()
    for code in ("AQ-04", "EE-01"):
        AdoptionFactory(enterprise=reported_only, practice=practice(code), adopted_on=date(2025, 1, 5))
        AdoptionFactory(
            enterprise=verified, practice=practice(code), verified_by=pmu, verified_on=date(2025, 3, 1)
        )
    AdoptionFactory(
        enterprise=half_verified, practice=practice("AQ-04"), verified_by=pmu, verified_on=date(2025, 3, 1)
    )
    AdoptionFactory(enterprise=half_verified, practice=practice("EE-01"))

    assert total("ME_RECP_2PLUS") == 1
    assert total("ME_RECP_2PLUS_PENDING") == 2
    # On 31 Dec 2024 reported_only had adopted nothing yet, and `verified` was not verified yet.
    assert total("ME_RECP_2PLUS_PENDING", date(2024, 12, 31)) == 2
    assert total("ME_RECP_2PLUS", date(2024, 12, 31)) == 0


# --- KPI tracking and profiles --------------------------------------------------------------------


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


# --- Facilities -----------------------------------------------------------------------------------


def confirmed(pmu, on=date(2025, 2, 1), **kwargs):
    return FacilityFactory(operational_confirmed_by=pmu, operational_confirmed_on=on, **kwargs)


def test_only_operational_facilities_confirmed_independently_count_split_by_kind(sp, pmu):
    confirmed(pmu, sub_project=sp, kind=FacilityKind.REVENUE, opened_on=date(2025, 1, 20))
    confirmed(
        pmu, sub_project=sp, kind=FacilityKind.NON_REVENUE, opened_on=date(2025, 3, 1), on=date(2025, 3, 5)
    )
    FacilityFactory(sub_project=sp, status=FacilityStatus.UNDER_CONSTRUCTION, opened_on=None)
    FacilityFactory(sub_project=sp, kind=FacilityKind.REVENUE, opened_on=date(2025, 2, 1))  # not confirmed
    confirmed(pmu, sub_project=sp, kind=FacilityKind.REVENUE, opened_on=date(2025, 6, 1), on=date(2025, 8, 1))

    assert total("CSF_ESTABLISHED") == 2
    assert total("CSF_REVENUE") == 1
    assert total("CSF_NON_REVENUE") == 1
    assert total("CSF_UNCONFIRMED") == 2  # reported operational, not confirmed by 30 June
    assert total("CSF_ESTABLISHED", date(2025, 8, 31)) == 3


# --- Duplicates -----------------------------------------------------------------------------------


def test_a_confirmed_duplicate_counts_once_for_its_original(me):
    original = me()
    duplicate = me(duplicate_of=original)
    FinancialSupportFactory(enterprise=original)
    FinancialSupportFactory(enterprise=duplicate)
    only_the_duplicate_trained = attended(duplicate)

    assert only_the_duplicate_trained.enterprise == duplicate
    assert total("ME_FINANCED") == 1
    assert total("ME_CLIMATE_KNOWLEDGE") == 1  # counted for the original


# --- Money ----------------------------------------------------------------------------------------


def test_money_committed_is_world_bank_and_pksf_with_po_money_beside_it(sp):
    flat_rate(100)
    # The factory's sub-project: 20,000,000 (World Bank) + 3,750,000 (PKSF) + 1,250,000 (PO) BDT,
    # awarded 1 July 2024.

    assert total("MONEY_COMMITTED") == Decimal("237500")
    assert total("MONEY_COMMITTED_WORLD_BANK") == Decimal("200000")
    assert total("MONEY_COMMITTED_PKSF") == Decimal("37500")
    assert total("MONEY_COMMITTED_PO") == Decimal("12500")
    assert total("MONEY_COMMITTED", date(2024, 6, 30)) == 0
    committed = Indicator.objects.get(code="MONEY_COMMITTED")
    assert committed.target == Decimal("300000000")  # World Bank 250 M + PKSF 50 M
    assert Indicator.objects.get(code="MONEY_COMMITTED_PO").parent is None  # beside the 300 M, not in it


def test_money_disbursed_is_split_by_financier_and_has_its_own_target(me):
    flat_rate(100)
    FinancialSupportFactory(enterprise=me(), amount=Decimal("250000"), financier="world_bank")
    FinancialSupportFactory(enterprise=me(), amount=Decimal("50000"), financier="pksf")
    FinancialSupportFactory(enterprise=me(), amount=Decimal("20000"), financier="po")

    assert total("MONEY_DISBURSED") == Decimal("3200")
    assert total("MONEY_DISBURSED_WORLD_BANK") == Decimal("2500")
    assert total("MONEY_DISBURSED_PKSF") == Decimal("500")
    assert total("MONEY_DISBURSED_PO") == Decimal("200")
    assert Indicator.objects.get(code="MONEY_DISBURSED").target is None  # not the programme's 300 M


def test_a_cancelled_sub_project_no_longer_counts_as_committed(sp, pmu):
    flat_rate(100)
    workflow.apply(sp, "cancel", pmu, comment="The PO withdrew.")
    today = timezone.localdate()

    assert total("MONEY_COMMITTED", today) == 0
    assert total("MONEY_COMMITTED", date(2024, 12, 31)) == Decimal("237500")  # before the cancellation


# --- Women and jobs -------------------------------------------------------------------------------


def test_women_led_share_is_among_the_mes_financed(me):
    for gender, financed in (
        (Gender.FEMALE, True),
        (Gender.FEMALE, False),
        (Gender.FEMALE, False),
        (Gender.MALE, True),
        (Gender.MALE, True),
        (Gender.THIRD_GENDER, True),
    ):
        enterprise = me(owner_gender=gender)
        if financed:
            FinancialSupportFactory(enterprise=enterprise)

    assert total("WOMEN_LED_SHARE") == Decimal("25.0000")  # 1 of the 4 financed
    assert total("WOMEN_LED_SHARE_REGISTERED") == Decimal("50.0000")  # 3 of the 6 registered


def test_wage_jobs_in_financed_mes_and_their_change_since_registration(me):
    grew = me(wage_employed_female=1, wage_employed_male=2)
    grew.wage_employed_female, grew.wage_employed_male = 3, 1  # hired two women, one man left
    grew.save()
    FinancialSupportFactory(enterprise=grew)
    FinancialSupportFactory(enterprise=me(wage_employed_female=2, wage_employed_male=0))
    me(wage_employed_female=9, wage_employed_male=9)  # not financed: not counted

    assert total("WAGE_JOBS_WOMEN") == 5
    assert total("WAGE_JOBS_MEN") == 1
    assert total("WAGE_JOBS_WOMEN_ADDED") == 2
    assert total("WAGE_JOBS_MEN_ADDED") == -1


# --- Environmental outcomes -----------------------------------------------------------------------


def outcome(quantity: str, as_of: date = AS_OF, **filters) -> OutcomeValue:
    aggregation.refresh_snapshot(as_of)
    return OutcomeValue.objects.get(as_of=as_of, quantity=quantity, scope_po=None, **filters)


def test_outcomes_compare_the_baseline_with_the_latest_month(me):
    saver, spender, no_baseline = me(), me(), me()
    for enterprise, baseline, later, latest in ((saver, 500, 450, 400), (spender, 300, 320, 330)):
        KpiReadingFactory(
            enterprise=enterprise,
            kpi=kpi("ELECTRICITY"),
            period=date(2025, 1, 1),
            is_baseline=True,
            value=baseline,
        )
        KpiReadingFactory(enterprise=enterprise, kpi=kpi("ELECTRICITY"), period=date(2025, 3, 1), value=later)
        KpiReadingFactory(
            enterprise=enterprise, kpi=kpi("ELECTRICITY"), period=date(2025, 5, 1), value=latest
        )
    KpiReadingFactory(
        enterprise=no_baseline, kpi=kpi("ELECTRICITY"), period=date(2025, 5, 1), value=Decimal("999")
    )

    electricity = outcome("ELECTRICITY", dimension=Dimension.TOTAL)

    assert (electricity.mes, electricity.mes_improved) == (2, 1)
    assert electricity.baseline_total == Decimal("800")
    assert electricity.latest_total == Decimal("730")
    assert electricity.improvement == Decimal("70")  # kWh a month saved
    assert outcome("ELECTRICITY", date(2025, 3, 31), dimension=Dimension.TOTAL).improvement == Decimal("30")


def test_more_waste_recycled_is_a_gain_and_concentrations_are_not_summed(me):
    enterprise = me()
    KpiReadingFactory(
        enterprise=enterprise, kpi=kpi("WASTE_RECYCLED"), period=date(2025, 1, 1), is_baseline=True, value=100
    )
    KpiReadingFactory(enterprise=enterprise, kpi=kpi("WASTE_RECYCLED"), period=date(2025, 4, 1), value=160)
    KpiReadingFactory(
        enterprise=enterprise, kpi=kpi("PM25"), period=date(2025, 1, 1), is_baseline=True, value=180
    )
    KpiReadingFactory(enterprise=enterprise, kpi=kpi("PM25"), period=date(2025, 4, 1), value=90)

    recycled = outcome("WASTE_RECYCLED", dimension=Dimension.TOTAL)
    dust = outcome("PM25", dimension=Dimension.TOTAL)

    assert recycled.improvement == Decimal("60")  # 60 kg a month more diverted from disposal
    assert (dust.mes, dust.mes_improved) == (1, 1)
    assert (dust.baseline_total, dust.latest_total, dust.improvement) == (None, None, None)


def test_emissions_avoided_only_where_an_emission_factor_is_documented(me):
    enterprise = me()
    for code, baseline, latest in (("DIESEL", 100, 60), ("ELECTRICITY", 500, 400)):
        KpiReadingFactory(
            enterprise=enterprise, kpi=kpi(code), period=date(2025, 1, 1), is_baseline=True, value=baseline
        )
        KpiReadingFactory(enterprise=enterprise, kpi=kpi(code), period=date(2025, 4, 1), value=latest)

    assert Kpi.objects.get(code="ELECTRICITY").co2e_kg_per_unit is None
    assert outcome("CO2E", dimension=Dimension.TOTAL).improvement == Decimal("107.200")  # 40 L at 2.68 kg

    Kpi.objects.filter(code="ELECTRICITY").update(
        co2e_kg_per_unit=Decimal("0.5"), co2e_factor_source="a study"
    )

    assert outcome("CO2E", dimension=Dimension.TOTAL).improvement == Decimal("157.200")


def test_outcomes_by_district_and_po_add_up_and_leave_duplicates_out(me, po_two):
    kishoreganj, narsingdi = me(), me(district=district("Narsingdi"))
    duplicate = me(duplicate_of=kishoreganj)
    other_po = EnterpriseFactory(sub_project=sub_project_for(po_two), district=district("Satkhira"))
    for enterprise in (kishoreganj, narsingdi, duplicate, other_po):
        KpiReadingFactory(
            enterprise=enterprise, kpi=kpi("WATER"), period=date(2025, 1, 1), is_baseline=True, value=50
        )
        KpiReadingFactory(enterprise=enterprise, kpi=kpi("WATER"), period=date(2025, 2, 1), value=40)
    aggregation.refresh_snapshot(AS_OF)

    rows = OutcomeValue.objects.filter(as_of=AS_OF, quantity="WATER", scope_po=None)
    by_district = dict(rows.filter(dimension=Dimension.DISTRICT).values_list("key", "improvement"))

    assert rows.get(dimension=Dimension.TOTAL).improvement == Decimal("30")  # the duplicate left out
    assert by_district == {"BD3048": Decimal("10"), "BD3068": Decimal("10"), "BD4087": Decimal("10")}
    assert (
        sum(rows.filter(dimension=Dimension.PARTNER_ORGANIZATION).values_list("improvement", flat=True)) == 30
    )
    own = OutcomeValue.objects.get(as_of=AS_OF, quantity="WATER", scope_po=po_two, dimension=Dimension.TOTAL)
    assert own.improvement == Decimal("10")


# --- Roll-up --------------------------------------------------------------------------------------


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
    enterprise = me()
    FinancialSupportFactory(enterprise=enterprise)
    KpiReadingFactory(enterprise=enterprise, period=date(2025, 1, 1), is_baseline=True)
    KpiReadingFactory(enterprise=enterprise, period=date(2025, 3, 1), value=Decimal("20"))
    aggregation.refresh_snapshot(AS_OF)
    first = sorted(IndicatorValue.objects.values_list("indicator__code", "dimension", "key", "value"))
    outcomes = sorted(OutcomeValue.objects.values_list("quantity", "dimension", "key", "improvement"))

    aggregation.refresh_snapshot(AS_OF)

    assert sorted(IndicatorValue.objects.values_list("indicator__code", "dimension", "key", "value")) == first
    assert sorted(OutcomeValue.objects.values_list("quantity", "dimension", "key", "improvement")) == outcomes


def test_every_indicator_has_exactly_one_definition(db):
    codes = [definition.code for definition in DEFINITIONS]

    assert len(codes) == len(set(codes))
    assert set(codes) == set(Indicator.objects.values_list("code", flat=True))


def test_every_indicator_has_its_place_in_the_results_framework(db):
    for indicator in Indicator.objects.all():
        assert indicator.level in {"pdo", "intermediate", "tracked"}, indicator.code
        assert indicator.definition, indicator.code
        assert indicator.data_source, indicator.code
        assert indicator.responsible_unit, indicator.code
    assert set(Indicator.objects.filter(level="pdo").values_list("code", flat=True)) == {
        "ME_FINANCED",
        "ME_RECP_2PLUS",
        "ME_KPI_TRACKING",
    }
    seed_targets = dict(Indicator.objects.filter(target__isnull=False).values_list("code", "target"))
    assert {code: int(seed_targets[code]) for code in (
        "ME_FINANCED", "ME_CLIMATE_KNOWLEDGE", "ME_RECP_2PLUS", "ME_KPI_TRACKING", "RECP_PROFILES_VALIDATED",
        "CSF_ESTABLISHED", "CSF_REVENUE", "CSF_NON_REVENUE",
    )} == {
        "ME_FINANCED": 80000, "ME_CLIMATE_KNOWLEDGE": 72000, "ME_RECP_2PLUS": 64000, "ME_KPI_TRACKING": 50000,
        "RECP_PROFILES_VALIDATED": 30000, "CSF_ESTABLISHED": 100, "CSF_REVENUE": 50, "CSF_NON_REVENUE": 50,
    }  # fmt: skip


def test_month_ends_for_the_backfill():
    assert aggregation.month_ends(date(2024, 11, 5), date(2025, 2, 10)) == [
        date(2024, 11, 30),
        date(2024, 12, 31),
        date(2025, 1, 31),
        date(2025, 2, 10),
    ]
