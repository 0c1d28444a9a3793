"""The field-data API: scoping (404), roles (403), rules (400 by field), states (409), filters."""

from __future__ import annotations

from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from enterprises.models import Enterprise, FinancialSupport, ImportJob, Kpi, KpiReading
from tests.assertions import field_errors
from tests.enterprises.factories import (
    AdoptionFactory,
    EnterpriseFactory,
    FinancialSupportFactory,
    KpiReadingFactory,
    TrainingSessionFactory,
    practice,
)
from tests.enterprises.test_imports import as_csv, enterprise_row

pytestmark = pytest.mark.django_db

NEW_ME = {
    "po_code": "ME-API-1",
    "name": "Shapla Shoe Works",
    "owner_name": "Shapla Rani",
    "owner_gender": "female",
    "phone": "01712 000 999",
    "sub_sector": "leather-products",
    "district": "BD3048",  # Kishoreganj
    "upazila": "BD30480006",  # Bhairab
    "registered_on": "2024-10-01",
}


def test_po_staff_list_only_their_pos_enterprises(api, po1, me_one, me_two):
    response = api.as_user(po1).get("/api/v1/enterprises/")

    body = response.json()
    # A large collection's count stops at LIST_COUNT_LIMIT, and says whether it did.
    assert set(body) == {"count", "count_capped", "next", "previous", "results"}
    assert (body["count"], body["count_capped"]) == (1, False)
    assert [row["id"] for row in body["results"]] == [me_one.pk]
    assert body["results"][0]["partner_organization"] == "PO-T01"


def test_another_pos_enterprise_is_404_and_leaks_nothing(api, po2, me_one):
    response = api.as_user(po2).get(f"/api/v1/enterprises/{me_one.pk}/")

    assert response.status_code == 404
    assert me_one.owner_name not in response.content.decode()


def test_tec_members_get_403_on_field_data(api, tec1, me_one):
    api.as_user(tec1)
    for resource in (
        "enterprises",
        "financial-supports",
        "kpi-readings",
        "recp-profiles",
        "facilities",
        "clusters",
    ):
        assert api.get(f"/api/v1/{resource}/").status_code == 403, resource
    assert api.get("/api/v1/kpis/").status_code == 200


def test_po_staff_register_an_enterprise_through_the_api(api, po1, sp_one):
    response = api.as_user(po1).post("/api/v1/enterprises/", {**NEW_ME, "sub_project": sp_one.pk})

    assert response.status_code == 201, response.json()
    me = Enterprise.objects.get(po_code="ME-API-1")
    assert (me.phone, me.division.pcode, me.partner_organization) == (
        "+8801712000999",
        "BD30",
        sp_one.partner_organization,
    )
    assert response.json()["suspected_duplicate"] is False


def test_api_names_each_field_that_breaks_a_rule(api, po1, sp_one):
    payload = {**NEW_ME, "sub_project": sp_one.pk, "phone": "12", "upazila": "BD40870047"}

    response = api.as_user(po1).post("/api/v1/enterprises/", payload)
    # A date out of its plausible range is refused by the field itself (core.validators), before
    # the model's other rules run.
    future = api.as_user(po1).post(
        "/api/v1/enterprises/", {**NEW_ME, "sub_project": sp_one.pk, "registered_on": "2099-01-01"}
    )

    assert response.status_code == 400
    assert {"phone", "upazila"} <= set(response.json()["fields"])
    assert future.status_code == 400
    assert field_errors(future) == {
        "registered_on": ["The joining date cannot be in the future (2099-01-01 is after today)."]
    }
    assert not Enterprise.objects.exists()


def test_another_pos_sub_project_is_an_unknown_id(api, po1, sp_two):
    response = api.as_user(po1).post("/api/v1/enterprises/", {**NEW_ME, "sub_project": sp_two.pk})

    assert response.status_code == 400
    assert "does not exist" in field_errors(response)["sub_project"][0]


@pytest.mark.parametrize("persona", ["pmu", "wb", "tec1"])
def test_only_po_staff_register_enterprises(api, request, db, sp_one, persona):
    response = api.as_user(request.getfixturevalue(persona)).post(
        "/api/v1/enterprises/", {**NEW_ME, "sub_project": sp_one.pk}
    )

    assert response.status_code == 403
    assert not Enterprise.objects.exists()


def test_enterprises_are_never_deleted(api, po1, me_one):
    assert api.as_user(po1).delete(f"/api/v1/enterprises/{me_one.pk}/").status_code == 405


def test_api_filters_enterprises(api, pmu, sp_one, me_one, me_two):
    man = EnterpriseFactory(sub_project=sp_one, owner_gender="male")
    AdoptionFactory(enterprise=man, practice=practice("AQ-04"), verified_on=date(2025, 1, 2), verified_by=pmu)
    AdoptionFactory(enterprise=man, practice=practice("EE-01"), verified_on=date(2025, 1, 2), verified_by=pmu)
    api.as_user(pmu)

    def ids(**query):
        return {row["id"] for row in api.get("/api/v1/enterprises/", query).json()["results"]}

    assert ids(owner_gender="male") == {man.pk}
    assert ids(partner_organization="PO-T02") == {me_two.pk}
    assert ids(min_verified_practices=2) == {man.pk}
    assert ids(sub_sector="leather-products", district="BD3048") == {me_one.pk, man.pk}
    assert ids(q="ME-0001") == {me_one.pk, me_two.pk}
    assert api.get("/api/v1/enterprises/", {"district": "nowhere"}).status_code == 400


@pytest.mark.parametrize("per_me_up_to", [10_000, 0], ids=["me-by-me", "grouped-once"])
def test_at_least_n_verified_practices_is_the_same_checked_me_by_me_or_grouped(
    api, pmu, po1, sp_one, settings, monkeypatch, per_me_up_to
):
    """A narrow list checks each ME's practices by its own lookups, the whole programme groups every
    verified adoption once (enterprises.filters.PER_ME_PRACTICE_LOOKUPS): both give the same MEs."""
    monkeypatch.setattr("enterprises.filters.PER_ME_PRACTICE_LOOKUPS", per_me_up_to)
    verified = {"verified_on": date(2025, 1, 2), "verified_by": pmu}
    three, two, one, own_po, unverified = (EnterpriseFactory(sub_project=sp_one) for _ in range(5))
    for code in ("AQ-04", "EE-01", "EE-02"):
        AdoptionFactory(enterprise=three, practice=practice(code), **verified)
    for code in ("AQ-04", "EE-01"):
        AdoptionFactory(enterprise=two, practice=practice(code), **verified)
        # Verified by the PO itself: not independent, never counted.
        AdoptionFactory(
            enterprise=own_po, practice=practice(code), verified_on=date(2025, 1, 2), verified_by=po1
        )
        AdoptionFactory(enterprise=unverified, practice=practice(code))
    AdoptionFactory(enterprise=one, practice=practice("AQ-04"), **verified)
    AdoptionFactory(enterprise=one, practice=practice("EE-01"))
    api.as_user(pmu)

    def ids(at_least: int) -> set[int]:
        answer = api.get("/api/v1/enterprises/", {"min_verified_practices": at_least}).json()
        assert answer["count"] == len(answer["results"])
        return {row["id"] for row in answer["results"]}

    assert ids(3) == {three.pk}
    assert ids(2) == {three.pk, two.pk}
    assert ids(1) == {three.pk, two.pk, one.pk}
    assert len(ids(0)) == 5


def test_the_list_api_makes_a_fixed_number_of_queries(api, pmu, sp_one, django_assert_max_num_queries):
    for _ in range(40):
        EnterpriseFactory(sub_project=sp_one)
    api.as_user(pmu)

    with django_assert_max_num_queries(8):
        response = api.get("/api/v1/enterprises/", {"page_size": 100})

    assert response.json()["count"] == 40


def test_field_records_through_the_api(api, po1, me_one, sp_one):
    api.as_user(po1)
    support = api.post(
        "/api/v1/financial-supports/",
        {
            "enterprise": me_one.pk,
            "kind": "grant",
            "amount": "50000",
            "financier": "pksf",
            "disbursed_on": "2024-10-02",
        },
    )
    session = TrainingSessionFactory(sub_project=sp_one)
    attendance = api.post(
        "/api/v1/attendances/",
        {"session": session.pk, "enterprise": me_one.pk, "pre_test_score": "30", "post_test_score": "60"},
    )
    reading = api.post(
        "/api/v1/kpi-readings/",
        {
            "enterprise": me_one.pk,
            "kpi": "WATER",
            "period": "2024-09-17",
            "value": "35",
            "is_baseline": True,
            "source": "meter",
        },
    )

    assert (support.status_code, attendance.status_code, reading.status_code) == (201, 201, 201), (
        reading.json()
    )
    assert attendance.json()["knowledge_increased"] is True
    assert KpiReading.objects.get().period == date(2024, 9, 1)
    assert (support.json()["financier"], support.json()["counts_as_project_financing"]) == ("pksf", True)
    updated = api.patch(f"/api/v1/financial-supports/{support.json()['id']}/", {"amount": "60000"})
    assert updated.json()["amount"] == "60000.00"
    assert api.delete(f"/api/v1/financial-supports/{support.json()['id']}/").status_code == 204


def test_a_duplicate_support_is_400_with_the_reason(api, po1, me_one):
    FinancialSupportFactory(enterprise=me_one, kind="loan", disbursed_on=date(2024, 10, 1))

    response = api.as_user(po1).post(
        "/api/v1/financial-supports/",
        {
            "enterprise": me_one.pk,
            "kind": "loan",
            "amount": "1000",
            "financier": "world_bank",
            "disbursed_on": "2024-10-01",
        },
    )

    assert response.status_code == 400
    assert "already has a support of this type on this date" in str(response.json())


def test_another_pos_records_are_404_and_its_enterprises_unknown(api, po2, me_one):
    support = FinancialSupportFactory(enterprise=me_one)
    api.as_user(po2)

    assert api.get(f"/api/v1/financial-supports/{support.pk}/").status_code == 404
    assert api.delete(f"/api/v1/financial-supports/{support.pk}/").status_code == 404
    created = api.post(
        "/api/v1/financial-supports/",
        {"enterprise": me_one.pk, "kind": "loan", "amount": "1", "disbursed_on": "2024-10-01"},
    )
    assert created.status_code == 400
    assert FinancialSupport.objects.count() == 1


def test_pmu_reads_every_record_but_writes_none(api, pmu, me_one):
    FinancialSupportFactory(enterprise=me_one)
    api.as_user(pmu)

    assert api.get("/api/v1/financial-supports/").json()["count"] == 1
    response = api.post(
        "/api/v1/financial-supports/",
        {"enterprise": me_one.pk, "kind": "loan", "amount": "1", "disbursed_on": "2024-10-01"},
    )
    assert response.status_code == 403


def test_verify_an_adoption_twice_is_409(api, pmu, me_one):
    adoption = AdoptionFactory(enterprise=me_one)
    api.as_user(pmu)

    first = api.post(f"/api/v1/adoptions/{adoption.pk}/verify/", {"verified_on": "2024-12-20"})
    second = api.post(f"/api/v1/adoptions/{adoption.pk}/verify/", {})

    assert first.status_code == 200
    assert (first.json()["verified_on"], first.json()["verified_by"]) == ("2024-12-20", "pmu")
    assert second.status_code == 409


@pytest.mark.parametrize("persona", ["po1", "wb", "approver", "tec1", "verifier"])
def test_verify_is_403_for_every_role_but_the_pmu_through_the_api(api, request, me_one, persona):
    """The PO's own staff included: an adoption is verified by someone outside the PO. Verifiers
    verify through the verification pages, not the field-data API they cannot read."""
    adoption = AdoptionFactory(enterprise=me_one)

    response = api.as_user(request.getfixturevalue(persona)).post(
        f"/api/v1/adoptions/{adoption.pk}/verify/", {"verified_on": "2024-12-20"}
    )

    assert response.status_code == 403
    adoption.refresh_from_db()
    assert (adoption.verified_on, adoption.verified_by) == (None, None)


def test_verify_is_404_for_another_po(api, po2, me_one):
    adoption = AdoptionFactory(enterprise=me_one)

    assert api.as_user(po2).post(f"/api/v1/adoptions/{adoption.pk}/verify/", {}).status_code == 404


def test_readings_filter_by_kpi_and_month(api, po1, me_one):
    KpiReadingFactory(enterprise=me_one, period=date(2024, 9, 1), is_baseline=True)
    KpiReadingFactory(enterprise=me_one, period=date(2025, 2, 1))
    api.as_user(po1)

    response = api.get("/api/v1/kpi-readings/", {"kpi": "ELECTRICITY", "period_from": "2025-01-01"})

    assert [row["period"] for row in response.json()["results"]] == ["2025-02-01"]


def test_the_catalogues_are_read_by_all_and_written_by_the_pmu(api, pmu, po1):
    assert (
        api.as_user(po1)
        .post(
            "/api/v1/kpis/",
            {"code": "X", "name": "X", "unit": "kg", "category": "waste", "direction": "lower"},
        )
        .status_code
        == 403
    )
    created = api.as_user(pmu).post(
        "/api/v1/kpis/",
        {
            "code": "NOISE",
            "name": "Noise",
            "unit": "dB",
            "category": "air",
            "direction": "lower",
            "min_value": "20",
            "max_value": "140",
        },
    )
    assert created.status_code == 201
    assert Kpi.objects.filter(code="NOISE").exists()
    practices = (
        api.as_user(po1).get("/api/v1/recp-practices/", {"sub_sector": "rice-mill", "page_size": 100}).json()
    )
    codes = {row["code"] for row in practices["results"]}
    assert "EE-05" in codes
    assert "AQ-03" not in codes
    assert "EE-01" in codes


def test_an_import_job_through_the_api(api, po1, po2, po_one, sp_one):
    api.as_user(po1)
    upload = SimpleUploadedFile(
        "mes.csv", as_csv([enterprise_row(i, sp_one) for i in range(1, 4)]), content_type="text/csv"
    )

    checked = api.post("/api/v1/import-jobs/", {"kind": "enterprises", "file": upload}, format="multipart")

    assert checked.status_code == 201, checked.json()
    assert (checked.json()["status"], checked.json()["created_count"]) == ("validated", 3)
    assert not Enterprise.objects.exists()
    assert api.as_user(po2).post(f"/api/v1/import-jobs/{checked.json()['id']}/commit/").status_code == 404
    committed = api.as_user(po1).post(f"/api/v1/import-jobs/{checked.json()['id']}/commit/")
    assert committed.json()["status"] == "done"
    assert Enterprise.objects.filter(partner_organization=po_one).count() == 3
    assert api.post(f"/api/v1/import-jobs/{checked.json()['id']}/commit/").status_code == 409


def test_an_import_job_with_errors_reports_them_and_cannot_be_committed(api, po1, sp_one):
    api.as_user(po1)
    upload = SimpleUploadedFile("mes.csv", as_csv([enterprise_row(1, sp_one, owner_gender="?")]))

    job = api.post("/api/v1/import-jobs/", {"kind": "enterprises", "file": upload}, format="multipart").json()

    assert job["status"] == "invalid"
    assert job["errors"] == [
        {"row": 2, "column": "owner_gender", "message": "“?” is not one of: female, male, third_gender."}
    ]
    assert api.post(f"/api/v1/import-jobs/{job['id']}/commit/").status_code == 409
    assert ImportJob.objects.get().status == "invalid"


def test_the_pmu_does_not_upload_imports(api, pmu, sp_one):
    upload = SimpleUploadedFile("mes.csv", as_csv([enterprise_row(1, sp_one)]))

    response = api.as_user(pmu).post(
        "/api/v1/import-jobs/", {"kind": "enterprises", "file": upload}, format="multipart"
    )

    assert response.status_code == 403


def test_the_pmu_sets_a_kpi_emission_factor_only_with_its_source(api, pmu):
    api.as_user(pmu)

    url = f"/api/v1/kpis/{Kpi.objects.get(code='ELECTRICITY').pk}/"

    refused = api.patch(url, {"co2e_kg_per_unit": "0.67"})
    accepted = api.patch(
        url,
        {"co2e_kg_per_unit": "0.67", "co2e_factor_source": "Grid emission factor, Bangladesh 2023"},
    )

    assert refused.status_code == 400
    assert "An emission factor needs its source." in str(refused.json())
    assert accepted.status_code == 200, accepted.json()
    assert Kpi.objects.get(code="ELECTRICITY").co2e_factor_source == "Grid emission factor, Bangladesh 2023"
