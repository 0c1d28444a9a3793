"""Field rules (SPEC 5), as the model, the forms, the API and the importer all apply them."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from core import lifecycle
from enterprises import validation
from enterprises.models import Enterprise, FinancialSupport, Gender, KpiReading
from subprojects.models import SubProjectStatus
from tests.enterprises.factories import (
    AdoptionFactory,
    AttendanceFactory,
    EnterpriseFactory,
    FacilityFactory,
    FinancialSupportFactory,
    KpiReadingFactory,
    TrainingSessionFactory,
    kpi,
    practice,
    upazila,
)
from tests.factories import district, sub_sector


def errors_of(obj) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as caught:
        obj.full_clean()
    return caught.value.message_dict


# --- Phone, trade licence and name keys -----------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    [
        "01712345678",
        "+8801712345678",
        "8801712345678",
        "+88 01712-345678",
        "1712345678",
        "০১৭১২৩৪৫৬৭৮",
        "01712 345 678",
    ],
)
def test_phone_numbers_are_normalised_to_the_880_form(typed):
    assert validation.normalise_phone(typed) == "+8801712345678"


@pytest.mark.parametrize("typed", ["0171234567", "01212345678", "+4420712345678", "phone", "017123456789"])
def test_phone_numbers_that_cannot_be_bangladeshi_are_refused_with_the_typed_value(typed):
    with pytest.raises(ValidationError, match=typed.replace("+", r"\+")):
        validation.normalise_phone(typed)


def test_trade_licence_key_ignores_punctuation_and_case():
    assert (
        validation.licence_key("bhr/2019-004512")
        == validation.licence_key("BHR 2019 004512")
        == "BHR2019004512"
    )


def test_name_key_ignores_case_punctuation_and_honorifics():
    assert validation.name_key("M/S. Rahima  Shoe-Works") == validation.name_key("rahima shoe works")


# --- Enterprise -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_enterprise_phone_is_stored_normalised_after_validation(me_one):
    me_one.phone = "01811-223344"
    me_one.full_clean()
    assert me_one.phone == "+8801811223344"


@pytest.mark.django_db
def test_owner_gender_must_come_from_the_fixed_list(me_one):
    me_one.owner_gender = "woman"
    assert "owner_gender" in errors_of(me_one)


def test_gender_synonyms_of_spreadsheets_are_understood():
    from enterprises.models import GENDER_SYNONYMS

    assert validation.parse_choice("F", Gender.choices, GENDER_SYNONYMS) == Gender.FEMALE
    assert validation.parse_choice("মহিলা", Gender.choices, GENDER_SYNONYMS) == Gender.FEMALE
    assert validation.parse_choice("Third gender", Gender.choices, GENDER_SYNONYMS) == Gender.THIRD_GENDER
    with pytest.raises(ValidationError, match="female, male, third_gender"):
        validation.parse_choice("unknown", Gender.choices, GENDER_SYNONYMS)


@pytest.mark.django_db
def test_a_formal_enterprise_needs_its_trade_licence_and_an_informal_one_has_none(me_one):
    me_one.is_formal, me_one.trade_licence_number = True, ""
    assert "A formal enterprise needs its trade licence number." in errors_of(me_one)["trade_licence_number"]
    me_one.is_formal, me_one.trade_licence_number = False, "BHR/2019/1"
    assert "informal" in errors_of(me_one)["trade_licence_number"][0]


@pytest.mark.django_db
def test_district_must_be_in_the_division_and_upazila_in_the_district(me_one):
    me_one.district = district("Satkhira")  # Khulna division; the ME says Dhaka division
    errors = errors_of(me_one)
    assert errors["district"] == ["Satkhira is not in Dhaka division."]
    assert errors["upazila"] == ["Bhairab is not an upazila of Satkhira district."]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("latitude", "longitude", "field"),
    [
        (Decimal("28.1"), Decimal("90.4"), "latitude"),
        (Decimal("23.7"), Decimal("87.5"), "longitude"),
        (Decimal("23.7"), None, "longitude"),
    ],
)
def test_gps_point_must_be_in_bangladesh_and_complete(me_one, latitude, longitude, field):
    me_one.latitude, me_one.longitude = latitude, longitude
    assert field in errors_of(me_one)


@pytest.mark.django_db
def test_year_started_and_joining_date_cannot_be_in_the_future(me_one):
    today = timezone.localdate()
    me_one.year_started = today.year + 1
    me_one.registered_on = today + timedelta(days=1)
    errors = errors_of(me_one)
    assert "future" in errors["year_started"][0]
    assert "future" in errors["registered_on"][0]


@pytest.mark.django_db
@pytest.mark.parametrize(("self_employed", "men", "women"), [(0, 0, 0), (1, 80, 30)])
def test_employment_must_be_that_of_a_microenterprise(me_one, self_employed, men, women):
    me_one.self_employed, me_one.wage_employed_male, me_one.wage_employed_female = self_employed, men, women
    assert "self_employed" in errors_of(me_one)


@pytest.mark.django_db
def test_sub_sector_must_belong_to_the_sub_projects_sector(me_one):
    me_one.sub_sector = sub_sector("rice-mill")  # the sub-project is a footwear one
    assert "sector of sub-project" in errors_of(me_one)["sub_sector"][0]


@pytest.mark.django_db
def test_no_new_enterprise_in_a_suspended_sub_project(sp_one, pmu):
    sp_one = lifecycle.apply(sp_one, "suspend", pmu, comment="Audit under way.")
    assert sp_one.status == SubProjectStatus.SUSPENDED
    new = EnterpriseFactory.build(sub_project=sp_one, partner_organization=sp_one.partner_organization)

    assert "suspended" in errors_of(new)["sub_project"][0]


@pytest.mark.django_db
def test_po_code_is_unique_within_a_po_but_not_across_pos(me_one, me_two, sp_one):
    assert me_one.po_code == me_two.po_code
    twin = EnterpriseFactory.build(
        sub_project=sp_one, partner_organization=sp_one.partner_organization, po_code=me_one.po_code
    )
    assert errors_of(twin)["__all__"] == ["Your PO already has an enterprise with this ME code."]


# --- Climate flag ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_climate_flag_is_inherited_from_the_upazila_or_district_unless_overridden(sp_one):
    bhairab = upazila("Bhairab")
    bhairab.climate_vulnerable = True
    bhairab.save()
    inherits = EnterpriseFactory(sub_project=sp_one)
    overridden = EnterpriseFactory(sub_project=sp_one, climate_vulnerable_override=False)

    assert inherits.climate_vulnerable is True
    assert overridden.climate_vulnerable is False


@pytest.mark.django_db
def test_enterprises_follow_when_the_pmu_flags_their_district(
    client, pmu, me_one, django_capture_on_commit_callbacks
):
    assert me_one.climate_vulnerable is False
    client.force_login(pmu)

    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            f"/reference/districts/{me_one.district_id}/climate/",
            {"climate_vulnerable": "on", "climate_hazards": ["flood"]},
        )

    me_one.refresh_from_db()
    assert me_one.climate_vulnerable is True


# --- Field records --------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("amount", [Decimal("0"), Decimal("-5"), Decimal("5000001")])
def test_support_amount_is_positive_and_plausible(me_one, amount):
    support = FinancialSupport(enterprise=me_one, kind="loan", amount=amount, disbursed_on=date(2024, 9, 1))
    assert "amount" in errors_of(support)


@pytest.mark.django_db
def test_support_cannot_be_disbursed_in_the_future(me_one):
    in_three_days = timezone.localdate() + timedelta(days=3)
    support = FinancialSupportFactory.build(enterprise=me_one, disbursed_on=in_three_days)
    assert "future" in errors_of(support)["disbursed_on"][0]


@pytest.mark.django_db
def test_no_field_record_for_an_enterprise_of_a_cancelled_sub_project(me_one, sp_one, pmu):
    lifecycle.apply(sp_one, "cancel", pmu, comment="The PO withdrew.")
    me = Enterprise.objects.select_related("sub_project").get(pk=me_one.pk)
    assert "cancelled" in errors_of(FinancialSupportFactory.build(enterprise=me))["enterprise"][0]


@pytest.mark.django_db
@pytest.mark.parametrize(("pre", "post"), [(Decimal("-1"), Decimal("50")), (Decimal("40"), Decimal("100.5"))])
def test_test_scores_are_between_0_and_100(me_one, sp_one, pre, post):
    attendance = AttendanceFactory.build(
        session=TrainingSessionFactory(sub_project=sp_one),
        enterprise=me_one,
        pre_test_score=pre,
        post_test_score=post,
    )
    assert errors_of(attendance)


@pytest.mark.django_db
def test_attendance_session_and_enterprise_belong_to_the_same_po(me_two, sp_one):
    attendance = AttendanceFactory.build(
        session=TrainingSessionFactory(sub_project=sp_one), enterprise=me_two
    )
    assert errors_of(attendance)["enterprise"] == ["The enterprise and the session belong to different POs."]


@pytest.mark.django_db
def test_a_kpi_reading_covers_a_month_that_has_started(me_one):
    assert (
        "month"
        in errors_of(KpiReadingFactory.build(enterprise=me_one, period=date(2024, 9, 15)))["period"][0]
    )
    next_month = (timezone.localdate().replace(day=1) + timedelta(days=32)).replace(day=1)
    assert (
        "not started" in errors_of(KpiReadingFactory.build(enterprise=me_one, period=next_month))["period"][0]
    )


@pytest.mark.django_db
def test_a_kpi_value_must_be_plausible_for_its_unit(me_one):
    reading = KpiReadingFactory.build(enterprise=me_one, kpi=kpi("PM25"), value=Decimal("5000"))
    assert errors_of(reading)["value"] == [
        "5000 µg/m³ is not plausible for PM2.5 concentration at the workplace (expected 0 to 1000 µg/m³)."
    ]


@pytest.mark.django_db
def test_one_baseline_per_enterprise_and_kpi(me_one):
    KpiReadingFactory(enterprise=me_one, is_baseline=True)
    second = KpiReading(
        enterprise=me_one,
        kpi=kpi(),
        period=date(2024, 10, 1),
        value=Decimal("400"),
        is_baseline=True,
        source="meter",
    )
    assert errors_of(second)["__all__"] == ["This enterprise already has a baseline for this KPI."]


@pytest.mark.parametrize(
    ("typed", "month"),
    [
        ("2024-05", date(2024, 5, 1)),
        ("05/2024", date(2024, 5, 1)),
        ("May 2024", date(2024, 5, 1)),
        ("2024-05-17", date(2024, 5, 1)),
        (date(2024, 5, 31), date(2024, 5, 1)),
    ],
)
def test_a_month_is_read_in_the_forms_people_write_it(typed, month):
    assert validation.parse_month(typed) == month


def test_amounts_with_lakh_grouping_taka_signs_and_bangla_digits_are_read():
    assert validation.parse_decimal("1,50,000", "amount") == Decimal("150000")
    assert validation.parse_decimal("৳ ১,২০,০০০", "amount") == Decimal("120000")  # noqa: RUF001
    assert validation.parse_decimal("75000 Tk", "amount") == Decimal("75000")


def test_dates_are_read_day_first_as_bangladesh_writes_them():
    assert validation.parse_date("05/11/2024") == date(2024, 11, 5)
    with pytest.raises(ValidationError, match="YYYY-MM-DD"):
        validation.parse_date("2024/31/12")


@pytest.mark.django_db
def test_an_adoption_is_seen_in_use_after_it_is_adopted_and_fits_the_sub_sector(me_one):
    early = AdoptionFactory.build(
        enterprise=me_one, adopted_on=date(2024, 12, 1), evidence_observed_on=date(2024, 11, 1)
    )
    assert errors_of(early)["evidence_observed_on"] == [
        "A practice is seen in use on or after the day it was adopted."
    ]
    abroad = AdoptionFactory.build(
        enterprise=me_one, evidence_latitude=Decimal("51.5"), evidence_longitude=Decimal("-0.12")
    )
    assert {"evidence_latitude", "evidence_longitude"} <= set(errors_of(abroad))
    wrong_sector = AdoptionFactory.build(enterprise=me_one, practice=practice("EE-05"))  # rice mills only
    assert errors_of(wrong_sector)["practice"] == ["EE-05 does not apply to the enterprise's sub-sector."]


@pytest.mark.django_db
def test_an_operational_facility_needs_its_opening_date_and_only_it_has_one(sp_one):
    assert "opened_on" in errors_of(
        FacilityFactory.build(sub_project=sp_one, status="operational", opened_on=None)
    )
    assert "opened_on" in errors_of(
        FacilityFactory.build(sub_project=sp_one, status="planned", opened_on=date(2025, 1, 1))
    )
