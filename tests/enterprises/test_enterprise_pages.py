"""The enterprise registry in the browser: scoping, filters, forms, exports, the enterprise page."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from openpyxl import load_workbook

from core.planner import local_settings
from enterprises.filters import _search_enterprise
from enterprises.models import Enterprise, ProfileStatus
from tests.enterprises.factories import (
    AdoptionFactory,
    AttendanceFactory,
    EnterpriseFactory,
    FacilityFactory,
    FinancialSupportFactory,
    KpiReadingFactory,
    RecpProfileFactory,
    TrainingSessionFactory,
    practice,
    upazila,
)
from tests.factories import district, sub_sector

pytestmark = pytest.mark.django_db

FORM = {
    "po_code": "ME-0100",
    "name": "Nasima Leather House",
    "owner_name": "Nasima Akter",
    "owner_gender": "female",
    "phone": "01912-345678",
    "is_formal": "on",
    "trade_licence_number": "BHR/2020/004512",
    "year_started": "2018",
    "self_employed": "2",
    "wage_employed_male": "3",
    "wage_employed_female": "2",
    "registered_on": "2024-10-01",
    "latitude": "24.0524",
    "longitude": "90.9764",
}


def form_for(sp, **changes):
    return {
        **FORM,
        "sub_project": sp.pk,
        "sub_sector": sub_sector("leather-products").pk,
        "district": district("Kishoreganj").pk,
        "upazila": upazila("Bhairab").pk,
        **changes,
    }


def export_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))


# --- Who sees what --------------------------------------------------------------------------------


def test_po_staff_see_only_their_own_pos_enterprises(client, po1, me_one, me_two):
    client.force_login(po1)

    page = client.get("/enterprises/").content.decode()

    assert me_one.name in page
    assert me_two.name not in page


def test_po_staff_cannot_see_other_po_enterprise(client, po2, me_one):
    client.force_login(po2)

    response = client.get(f"/enterprises/{me_one.pk}/")

    assert response.status_code == 404
    assert me_one.owner_name not in response.content.decode()


@pytest.mark.parametrize("persona", ["pmu", "wb", "approver"])
def test_programme_wide_roles_see_every_pos_enterprises_and_their_owners(
    client, request, db, persona, me_one, me_two
):
    client.force_login(request.getfixturevalue(persona))

    page = client.get("/enterprises/").content.decode()

    assert me_one.owner_name in page
    assert me_two.owner_name in page
    assert client.get(f"/enterprises/{me_two.pk}/").status_code == 200


def test_tec_members_see_no_enterprise_data(client, tec1, me_one):
    client.force_login(tec1)

    for url in (
        "/enterprises/",
        f"/enterprises/{me_one.pk}/",
        "/field-data/",
        "/financial-supports/",
        "/kpi-readings/",
    ):
        assert client.get(url).status_code == 403, url
    assert client.get("/recp-practices/").status_code == 200  # reference data


def test_anonymous_visitors_are_sent_to_sign_in(client, me_one):
    response = client.get(f"/enterprises/{me_one.pk}/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


# --- Filters and the list ------------------------------------------------------------------------


def test_list_filters_by_gender_district_sector_and_climate(client, pmu, sp_one, me_one, me_two):
    man = EnterpriseFactory(sub_project=sp_one, owner_gender="male", name="Karim Footwear")
    client.force_login(pmu)

    def names(query: str) -> set[str]:
        page = client.get(f"/enterprises/?{query}").content.decode()
        return {me.name for me in (me_one, me_two, man) if me.name in page}

    assert names("owner_gender=male") == {"Karim Footwear"}
    assert names("district=BD4087") == {me_two.name}  # Satkhira
    assert names("sector=footwear-leather&partner_organization=PO-T01") == {me_one.name, "Karim Footwear"}
    assert names("sector=food-processing") == set()
    assert names("climate_vulnerable=false") == {me_one.name, me_two.name, "Karim Footwear"}


def test_list_filters_by_validated_profile_and_verified_practices(client, pmu, sp_one, me_one):
    other = EnterpriseFactory(sub_project=sp_one, name="Jamal Shoe Factory")
    RecpProfileFactory(enterprise=me_one, status=ProfileStatus.VALIDATED, validated_on=date(2025, 1, 10))
    verified = {"verified_on": date(2025, 1, 5), "verified_by": pmu}
    AdoptionFactory(enterprise=me_one, practice=practice("AQ-04"), **verified)
    AdoptionFactory(enterprise=me_one, practice=practice("EE-01"), **verified)
    AdoptionFactory(enterprise=other, practice=practice("EE-01"), **verified)
    AdoptionFactory(enterprise=other, practice=practice("AQ-04"))  # not verified: does not count
    client.force_login(pmu)

    validated = client.get("/enterprises/?has_validated_profile=true").content.decode()
    two_practices = client.get("/enterprises/?min_verified_practices=2").content.decode()

    assert me_one.name in validated
    assert other.name not in validated
    assert me_one.name in two_practices
    assert other.name not in two_practices


def test_search_finds_by_code_name_owner_and_phone(client, po1, me_one, sp_one):
    EnterpriseFactory(sub_project=sp_one, name="Other Works")
    client.force_login(po1)

    for query in ("ME-0001", "rahima shoe", "01711000001", "1711000001"):
        page = client.get("/enterprises/", {"q": query}).content.decode()
        assert me_one.name in page, query
        assert "Other Works" not in page, query


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigram indexes are PostgreSQL's")
@pytest.mark.parametrize(
    ("query", "indexes"),
    [
        (
            "rahima shoe",
            ["enterprise_code_any_case_idx", "enterprise_name_search_idx", "enterprise_owner_search_idx"],
        ),
        (
            "01711000001",
            [
                "enterprise_code_any_case_idx",
                "enterprise_name_search_idx",
                "enterprise_owner_search_idx",
                "enterprise_phone_search_idx",
            ],
        ),
    ],
)
def test_each_part_of_the_search_is_served_by_an_index(me_one, query, indexes):
    # A search for a name nobody has would otherwise read every ME (0.1 s at 80,000, growing with the
    # registry). With a handful of rows PostgreSQL prefers reading the table or a whole index, so both
    # are ruled out here: the plan then shows whether an index serves each condition of the search
    # (its count, as Django writes it) or the table would be read after all.
    searched = _search_enterprise(Enterprise.objects.all(), "", query)
    sql, params = searched.order_by().query.sql_with_params()
    with (
        connection.cursor() as cursor,
        local_settings(cursor, enable_seqscan="off", enable_indexscan="off"),
    ):
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())

    assert "BitmapOr" in plan, plan
    for index in indexes:
        assert index in plan, plan
    assert list(searched) == [me_one]


def test_the_list_takes_a_fixed_number_of_queries_whatever_its_length(
    client, pmu, sp_one, django_assert_max_num_queries
):
    for _ in range(30):
        me = EnterpriseFactory(sub_project=sp_one)
        FinancialSupportFactory(enterprise=me)
        AdoptionFactory(enterprise=me, verified_on=date(2025, 1, 5))
        RecpProfileFactory(enterprise=me)
    client.force_login(pmu)

    with django_assert_max_num_queries(25):
        response = client.get("/enterprises/")

    assert response.status_code == 200


# --- Exports --------------------------------------------------------------------------------------


def test_export_respects_the_filters_and_the_pos_scope(client, po1, me_one, me_two):
    client.force_login(po1)

    rows = export_rows(client.get("/enterprises/?export=csv"))

    assert rows[0][:4] == ["ME code", "PO", "Sub-project", "Enterprise name"]
    assert [row[3] for row in rows[1:]] == [me_one.name]
    assert "Duplicate of" not in rows[0]


def test_xlsx_export_of_the_enterprises_for_the_pmu(client, pmu, me_one, me_two):
    client.force_login(pmu)

    response = client.get("/enterprises/?export=xlsx&owner_gender=female")

    sheet = load_workbook(io.BytesIO(response.content)).active
    names = {row[3] for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert names == {me_one.name, me_two.name}
    assert response["Content-Disposition"].startswith('attachment; filename="enterprises-')


@pytest.mark.parametrize(
    "url",
    [
        "/financial-supports/",
        "/attendances/",
        "/adoptions/",
        "/recp-profiles/",
        "/kpi-readings/",
        "/trainings/",
        "/facilities/",
    ],
)
def test_every_field_data_list_exports_only_the_pos_own_rows(
    client, po1, me_one, me_two, sp_one, sp_two, url
):
    for me, sp in ((me_one, sp_one), (me_two, sp_two)):
        FinancialSupportFactory(enterprise=me)
        AttendanceFactory(
            enterprise=me,
            session=TrainingSessionFactory(sub_project=sp, topic=f"Topic of {sp.agreement_number}"),
        )
        AdoptionFactory(enterprise=me)
        RecpProfileFactory(enterprise=me)
        KpiReadingFactory(enterprise=me)
        FacilityFactory(sub_project=sp, name=f"CSF of {sp.agreement_number}")
    client.force_login(po1)

    text = b"".join(client.get(f"{url}?export=csv").streaming_content).decode("utf-8-sig")

    assert len(text.strip().splitlines()) == 2, text
    assert "T002" not in text
    assert me_two.name not in text


# --- Forms ----------------------------------------------------------------------------------------


def test_po_staff_register_an_enterprise_with_a_normalised_phone(client, po1, sp_one):
    client.force_login(po1)

    response = client.post("/enterprises/new/", form_for(sp_one))

    me = Enterprise.objects.get(po_code="ME-0100")
    assert response.status_code == 302
    assert response["Location"] == f"/enterprises/{me.pk}/"
    assert (me.phone, me.partner_organization, me.created_by, me.division.name) == (
        "+8801912345678",
        sp_one.partner_organization,
        po1,
        "Dhaka",
    )
    assert me.total_jobs == 7


def test_refused_enterprise_form_names_the_field_and_keeps_what_was_typed(client, po1, sp_one, me_one):
    client.force_login(po1)

    response = client.post(
        "/enterprises/new/", form_for(sp_one, po_code=me_one.po_code, phone="12345", trade_licence_number="")
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert "is not a valid mobile number" in page
    assert "A formal enterprise needs its trade licence number." in page
    assert 'value="Nasima Leather House"' in page
    assert not Enterprise.objects.filter(name="Nasima Leather House").exists()


def test_the_me_code_must_be_new_in_the_po(client, po1, sp_one, me_one):
    client.force_login(po1)

    response = client.post("/enterprises/new/", form_for(sp_one, po_code=me_one.po_code))

    assert "Your PO already has an enterprise with this ME code." in response.content.decode()


def test_po_staff_cannot_register_in_another_pos_sub_project(client, po1, sp_two):
    client.force_login(po1)

    response = client.post("/enterprises/new/", form_for(sp_two))

    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not Enterprise.objects.exists()


def test_pmu_does_not_register_enterprises(client, pmu, sp_one):
    client.force_login(pmu)

    assert client.get("/enterprises/new/").status_code == 403
    assert client.post("/enterprises/new/", form_for(sp_one)).status_code == 403


def test_po_staff_edit_their_enterprise_and_the_change_is_in_its_history(client, po1, me_one):
    client.force_login(po1)
    data = form_for(me_one.sub_project, po_code=me_one.po_code, name="Rahima Shoe Works Ltd")

    response = client.post(f"/enterprises/{me_one.pk}/edit/", data)

    assert response.status_code == 302
    me_one.refresh_from_db()
    assert me_one.name == "Rahima Shoe Works Ltd"
    assert me_one.history.first().history_user == po1


def test_another_po_cannot_edit_the_enterprise(client, po2, me_one):
    client.force_login(po2)

    assert client.post(f"/enterprises/{me_one.pk}/edit/", form_for(me_one.sub_project)).status_code == 404


def test_the_upazila_list_follows_the_district(client, po1):
    client.force_login(po1)

    page = client.get("/enterprises/upazila-options/", {"district": district("Satkhira").pk}).content.decode()

    assert "Shyamnagar" in page
    assert "Bhairab" not in page


# --- The enterprise page --------------------------------------------------------------------------


def test_the_enterprise_page_shows_support_trainings_practices_profile_and_kpis(client, po1, me_one, sp_one):
    FinancialSupportFactory(enterprise=me_one, amount=Decimal("150000"))
    AttendanceFactory(
        enterprise=me_one, session=TrainingSessionFactory(sub_project=sp_one, topic="Heat and floods")
    )
    AdoptionFactory(
        enterprise=me_one, practice=practice("WS-04"), verified_on=date(2025, 1, 5), verified_by=po1
    )
    RecpProfileFactory(enterprise=me_one)
    KpiReadingFactory(enterprise=me_one, period=date(2024, 9, 1), value=Decimal("500"), is_baseline=True)
    KpiReadingFactory(enterprise=me_one, period=date(2025, 3, 1), value=Decimal("400"))
    FacilityFactory(sub_project=sp_one, name="Bhairab Footwear CSF").mes_served.add(me_one)
    client.force_login(po1)

    page = client.get(f"/enterprises/{me_one.pk}/").content.decode()

    for text in (
        "1,50,000",
        "Heat and floods",
        "knowledge increased",
        "WS-04",
        "Climate risks",
        "Bhairab Footwear CSF",
        "Electricity consumption",
        "-20% vs baseline",
        "<polyline",
    ):
        assert text in page, text


def test_the_enterprise_page_of_a_po_makes_a_fixed_number_of_queries(
    client, po1, me_one, sp_one, django_assert_max_num_queries
):
    for month in range(1, 13):
        KpiReadingFactory(enterprise=me_one, period=date(2024, month, 1), is_baseline=month == 1)
        FinancialSupportFactory(enterprise=me_one, disbursed_on=date(2024, month, 2))
    client.force_login(po1)

    with django_assert_max_num_queries(30):
        assert client.get(f"/enterprises/{me_one.pk}/").status_code == 200


def test_home_page_panels_for_po_staff_and_pmu(client, po1, pmu, me_one):
    client.force_login(po1)
    assert "Your field data" in client.get("/").content.decode()
    client.force_login(pmu)
    page = client.get("/").content.decode()
    assert "Field data to review" in page
    assert "Suspected duplicate enterprises to resolve" in page
