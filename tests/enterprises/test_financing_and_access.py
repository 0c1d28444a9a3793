"""Whose money each disbursement is, disbursements before the programme start, the jobs at
registration, and the verifier's access (no field data through the field-data pages and API)."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest
from django.utils import timezone

from enterprises.models import FinancialSupport
from enterprises.permissions import can_read_field_data
from tests.enterprises.factories import AdoptionFactory, FacilityFactory, FinancialSupportFactory

pytestmark = pytest.mark.django_db

SUPPORT = {"kind": "loan", "amount": "150000", "disbursed_on": "2024-10-01", "reference": "LN-TYPED"}


# --- Financier --------------------------------------------------------------------------------------


def test_the_support_form_requires_the_financier_and_keeps_what_was_typed(client, po1, me_one):
    client.force_login(po1)

    refused = client.post(f"/enterprises/{me_one.pk}/supports/new/", SUPPORT)
    client.post(f"/enterprises/{me_one.pk}/supports/new/", {**SUPPORT, "financier": "po"})

    page = refused.content.decode()
    assert "This field is required." in page
    assert 'value="LN-TYPED"' in page
    assert FinancialSupport.objects.get().financier == "po"


def test_a_legacy_support_without_financier_must_state_it_when_edited(client, po1, me_one):
    support = FinancialSupportFactory(enterprise=me_one)
    FinancialSupport.objects.filter(pk=support.pk).update(financier="")
    client.force_login(po1)

    listing = client.get("/financial-supports/").content.decode()
    refused = client.post(f"/financial-supports/{support.pk}/edit/", {**SUPPORT, "amount": "90000"})

    assert "not stated" in listing
    assert "This field is required." in refused.content.decode()
    support.refresh_from_db()
    assert (support.amount, support.financier) == (150000, "")


def test_the_api_requires_and_names_the_financier(api, po1, me_one):
    data = {"enterprise": me_one.pk, "kind": "loan", "amount": "1000", "disbursed_on": "2024-10-01"}
    api.as_user(po1)

    missing = api.post("/api/v1/financial-supports/", data)
    wrong = api.post("/api/v1/financial-supports/", {**data, "financier": "imf"})

    assert (missing.status_code, list(missing.json()["fields"])) == (400, ["financier"])
    assert (wrong.status_code, list(wrong.json()["fields"])) == (400, ["financier"])
    assert not FinancialSupport.objects.exists()


def test_supports_filter_and_export_by_financier(client, pmu, me_one):
    FinancialSupportFactory(enterprise=me_one, financier="pksf", disbursed_on=date(2024, 10, 1))
    FinancialSupportFactory(enterprise=me_one, financier="world_bank", disbursed_on=date(2024, 10, 2))
    client.force_login(pmu)

    pksf = client.get("/financial-supports/", {"financier": "pksf"}).content.decode()
    export = client.get("/financial-supports/", {"export": "csv"})

    assert "1 result" in pksf
    rows = list(csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode("utf-8-sig"))))
    assert sorted(row["Financed by"] for row in rows) == ["PKSF", "World Bank"]


# --- Before the programme start -------------------------------------------------------------------


def test_a_disbursement_before_the_programme_start_is_flagged_in_lists_me_page_and_export(
    client, po1, me_one, settings
):
    settings.PROGRAMME_START = date(2023, 8, 1)
    FinancialSupportFactory(enterprise=me_one, disbursed_on=date(2023, 7, 31), reference="EARLY")
    FinancialSupportFactory(
        enterprise=me_one, disbursed_on=date(2023, 8, 1), kind="grant", reference="ON-TIME"
    )
    client.force_login(po1)
    note = "before the programme start (1 Aug 2023): not counted as project financing"

    listing = client.get("/financial-supports/").content.decode()
    me_page = client.get(f"/enterprises/{me_one.pk}/").content.decode()
    export = client.get("/financial-supports/", {"export": "csv"})
    counted = client.get("/financial-supports/", {"project_financing": "true"}).content.decode()

    assert listing.count(note) == 1
    assert me_page.count(note) == 1
    rows = {
        row["Reference"]: row["Counted as project financing"]
        for row in csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode("utf-8-sig")))
    }
    assert rows == {"EARLY": "no", "ON-TIME": "yes"}
    assert "ON-TIME" in counted
    assert "EARLY" not in counted


def test_the_programme_start_is_a_setting(client, pmu, me_one, settings):
    FinancialSupportFactory(enterprise=me_one, disbursed_on=date(2024, 10, 1))
    client.force_login(pmu)
    settings.PROGRAMME_START = date(2024, 10, 2)

    page = client.get("/financial-supports/").content.decode()

    assert "before the programme start (2 Oct 2024)" in page


def test_the_api_says_whether_a_disbursement_counts(api, pmu, me_one, settings):
    settings.PROGRAMME_START = date(2023, 8, 1)
    FinancialSupportFactory(enterprise=me_one, disbursed_on=date(2023, 5, 1))

    row = api.as_user(pmu).get("/api/v1/financial-supports/").json()["results"][0]

    assert (row["financier"], row["counts_as_project_financing"]) == ("world_bank", False)


# --- Jobs at registration -------------------------------------------------------------------------


def test_the_me_page_shows_the_jobs_at_registration_beside_the_current_ones(client, po1, me_one):
    me_one.wage_employed_male = 5
    me_one.wage_employed_female = 3
    me_one.save()
    client.force_login(po1)

    page = client.get(f"/enterprises/{me_one.pk}/").content.decode()

    assert "5 men and 3 women for a wage" in page
    assert "At registration: 2 men and 1 women for a wage" in page


# --- Verifiers read no field data through these pages and API ---------------------------------------


def test_a_verifier_is_not_a_field_data_reader(verifier, pmu, po1, tec1):
    assert [can_read_field_data(user) for user in (verifier, tec1, pmu, po1)] == [False, False, True, True]


def test_a_verifier_opens_no_field_data_page(client, verifier, me_one, sp_one):
    adoption = AdoptionFactory(enterprise=me_one)
    facility = FacilityFactory(sub_project=sp_one)
    client.force_login(verifier)

    for url in (
        "/enterprises/",
        f"/enterprises/{me_one.pk}/",
        "/field-data/",
        "/financial-supports/",
        "/adoptions/",
        "/adoptions/?export=csv",
        "/trainings/",
        "/trainings/to-map/",
        "/facilities/",
        f"/facilities/{facility.pk}/",
        f"/adoptions/{adoption.pk}/photo/",
    ):
        response = client.get(url)
        assert response.status_code == 403, url
        assert me_one.owner_name not in response.content.decode(), url


def test_a_verifier_reads_no_field_data_through_the_api(api, verifier, me_one, sp_one):
    FinancialSupportFactory(enterprise=me_one)
    api.as_user(verifier)

    for resource in (
        "enterprises",
        "financial-supports",
        "trainings",
        "attendances",
        "adoptions",
        "recp-profiles",
        "kpi-readings",
        "facilities",
        "import-jobs",
        "training-modules",
    ):
        response = api.get(f"/api/v1/{resource}/")
        assert response.status_code == 403, resource


def test_a_verifier_writes_no_field_data(api, verifier, me_one):
    response = api.as_user(verifier).post(
        "/api/v1/financial-supports/",
        {
            "enterprise": me_one.pk,
            "kind": "loan",
            "amount": "1000",
            "financier": "world_bank",
            "disbursed_on": str(timezone.localdate() - timedelta(days=1)),
        },
    )

    assert response.status_code == 403
    assert not FinancialSupport.objects.exists()
