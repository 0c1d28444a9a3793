"""Plausible dates on field data: the same field validators (core.validators) refuse 0001-01-01 or a
KPI month of 1900 by page, API and spreadsheet import, naming the field (or row and column)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from enterprises.models import Adoption, Enterprise, FinancialSupport, KpiReading, TrainingSession
from tests.assertions import field_errors
from tests.enterprises.factories import kpi, training_module
from tests.enterprises.test_imports import (
    adoption_row,
    as_csv,
    enterprise_row,
    reading_row,
    run,
    session_row,
    support_row,
)

pytestmark = pytest.mark.django_db

SUPPORT = {"kind": "loan", "amount": "150000", "financier": "world_bank", "reference": "LN-1"}
TOO_EARLY = (
    "The disbursement date (0001-01-01) cannot be before the programme start (1 Aug 2023): check the year."
)


def test_a_disbursement_dated_year_one_is_refused_on_the_page_keeping_what_was_typed(client, po1, me_one):
    client.force_login(po1)

    response = client.post(
        f"/enterprises/{me_one.pk}/supports/new/", {**SUPPORT, "disbursed_on": "0001-01-01"}
    )

    assert response.status_code == 200
    assert response.context["form"].errors == {"disbursed_on": [TOO_EARLY]}
    assert 'value="LN-1"' in response.content.decode()
    assert not FinancialSupport.objects.exists()


def test_the_api_refuses_the_day_before_the_programme_start_and_takes_the_day_itself(api, po1, me_one):
    api.as_user(po1)
    payload = {**SUPPORT, "enterprise": me_one.pk}

    early = api.post("/api/v1/financial-supports/", {**payload, "disbursed_on": "2023-07-31"})
    first_day = api.post("/api/v1/financial-supports/", {**payload, "disbursed_on": "2023-08-01"})

    assert early.status_code == 400
    assert field_errors(early) == {
        "disbursed_on": [
            "The disbursement date (2023-07-31) cannot be before the programme start (1 Aug 2023): "
            "check the year."
        ]
    }
    assert first_day.status_code == 201
    assert list(FinancialSupport.objects.values_list("disbursed_on", flat=True)) == [date(2023, 8, 1)]


def test_the_bound_follows_the_programme_start_setting(api, po1, me_one, settings):
    settings.PROGRAMME_START = date(2024, 10, 2)

    response = api.as_user(po1).post(
        "/api/v1/financial-supports/", {**SUPPORT, "enterprise": me_one.pk, "disbursed_on": "2024-10-01"}
    )

    assert response.status_code == 400
    assert "before the programme start (2 Oct 2024)" in field_errors(response)["disbursed_on"][0]


def test_a_disbursement_tomorrow_is_refused_as_in_the_future(api, po1, me_one):
    tomorrow = timezone.localdate() + timedelta(days=1)

    response = api.as_user(po1).post(
        "/api/v1/financial-supports/",
        {**SUPPORT, "enterprise": me_one.pk, "disbursed_on": tomorrow.isoformat()},
    )

    assert field_errors(response) == {
        "disbursed_on": [
            f"The disbursement date cannot be in the future ({tomorrow.isoformat()} is after today)."
        ]
    }


def test_a_kpi_month_of_1900_is_refused_by_page_and_api(client, api, po1, me_one):
    client.force_login(po1)
    data = {"kpi": kpi().pk, "period": "1900-01", "value": "420", "source": "meter"}

    page = client.post(f"/enterprises/{me_one.pk}/readings/new/", data)
    response = api.as_user(po1).post(
        "/api/v1/kpi-readings/",
        {
            "enterprise": me_one.pk,
            "kpi": "ELECTRICITY",
            "period": "1900-01-01",
            "value": "420",
            "source": "meter",
        },
    )

    message = "The month (1900-01-01) cannot be before the programme start (1 Aug 2023): check the year."
    assert page.context["form"].errors == {"period": [message]}
    assert field_errors(response) == {"period": [message]}
    assert not KpiReading.objects.exists()


def test_the_programme_start_month_is_the_first_month_of_readings(api, po1, me_one, settings):
    settings.PROGRAMME_START = date(2023, 8, 15)

    response = api.as_user(po1).post(
        "/api/v1/kpi-readings/",
        {
            "enterprise": me_one.pk,
            "kpi": "ELECTRICITY",
            "period": "2023-08-20",
            "value": "420",
            "source": "meter",
        },
    )

    assert response.status_code == 201, response.json()


def test_a_session_before_the_programme_is_refused_on_the_page(client, po1, sp_one):
    client.force_login(po1)
    data = {
        "po_code": "TR-1",
        "module": training_module("CV-02").pk,
        "held_on": "1900-01-01",
        "place": "Bhairab",
    }

    response = client.post("/trainings/new/", {**data, "sub_project": sp_one.pk})

    assert response.context["form"].errors["held_on"] == [
        "The session date (1900-01-01) cannot be before the programme start (1 Aug 2023): check the year."
    ]
    assert not TrainingSession.objects.exists()


# --- Imports: the same rules, with the row and the column -----------------------------------------


@pytest.mark.parametrize(
    ("kind", "make_row", "column", "message"),
    [
        (
            "enterprises",
            lambda sp, me: enterprise_row(7, sp, registered_on="1989-12-31"),
            "registered_on",
            "The joining date (1989-12-31) cannot be before 1 Jan 1990: check the year.",
        ),
        (
            "financial-supports",
            lambda sp, me: support_row(me.po_code, disbursed_on="0001-01-01"),
            "disbursed_on",
            TOO_EARLY,
        ),
        (
            "trainings",
            lambda sp, me: session_row("TR-9", sp, held_on="1900-01-01"),
            "held_on",
            "The session date (1900-01-01) cannot be before the programme start (1 Aug 2023): "
            "check the year.",
        ),
        (
            "kpi-readings",
            lambda sp, me: reading_row(me.po_code, period="1900-01"),
            "period",
            "The month (1900-01-01) cannot be before the programme start (1 Aug 2023): check the year.",
        ),
        (
            "adoptions",
            lambda sp, me: adoption_row(me.po_code, adopted_on="1900-01-01"),
            "adopted_on",
            "The adoption date (1900-01-01) cannot be before 1 Jan 1990: check the year.",
        ),
        (
            "adoptions",
            lambda sp, me: adoption_row(me.po_code, adopted_on="2023-01-10", seen_in_use_on="2023-02-01"),
            "seen_in_use_on",
            "The date it was seen in use (2023-02-01) cannot be before the programme start (1 Aug 2023): "
            "check the year.",
        ),
    ],
    ids=["registered_on", "disbursed_on", "held_on", "period", "adopted_on", "seen_in_use_on"],
)
def test_an_implausible_date_in_a_file_is_named_by_row_and_column_and_nothing_is_written(
    sp_one, po_one, po1, me_one, kind, make_row, column, message
):
    good = {
        "enterprises": lambda: enterprise_row(8, sp_one),
        "financial-supports": lambda: support_row(me_one.po_code),
        "trainings": lambda: session_row("TR-8", sp_one),
        "kpi-readings": lambda: reading_row(me_one.po_code, period="2024-10"),
        "adoptions": lambda: adoption_row(me_one.po_code, practice_code="aq-03"),
    }[kind]()
    counts = [
        model.objects.count()
        for model in (Enterprise, FinancialSupport, TrainingSession, KpiReading, Adoption)
    ]

    report = run(kind, as_csv([good, make_row(sp_one, me_one)]), po_one, po1)

    assert not report.committed
    assert [(e.row, e.column, e.message) for e in report.errors] == [(3, column, message)]
    assert [
        model.objects.count()
        for model in (Enterprise, FinancialSupport, TrainingSession, KpiReading, Adoption)
    ] == counts


def test_the_bounds_themselves_are_accepted():
    Enterprise._meta.get_field("registered_on").run_validators(date(1990, 1, 1))
    KpiReading._meta.get_field("period").run_validators(date(2023, 8, 1))
    FinancialSupport._meta.get_field("disbursed_on").run_validators(timezone.localdate())
