import pytest

from core.models import PartnerOrganization
from tests.factories import district

PO_FORM = {
    "code": "PO-077",
    "name": "Rupsha Nari Kalyan Sangstha",
    "short_name": "RNKS",
    "registration_authority": "mra",
    "registration_number": "01234-00077-00302",
    "registered_on": "2011-03-14",
    "pksf_partner_since": "2004",
    "head_office_address": "Khan Jahan Ali Road, Khulna",
    "contact_person": "Nasima Khatun",
    "contact_designation": "Executive Director",
    "email": "ed@rnks.org.bd",
    "phone": "+8801711223344",
    "website": "rnks.org.bd",
    "is_active": "on",
}


# --- Pages ----------------------------------------------------------------------------------------


def test_po_staff_see_only_their_own_po_in_the_list(client, po1, po_two):
    client.force_login(po1)

    page = client.get("/partner-organizations/").content.decode()

    assert po1.partner_organization.name in page
    assert po_two.name not in page


def test_po_staff_get_404_for_another_pos_page(client, po1, po_two):
    client.force_login(po1)

    assert client.get(f"/partner-organizations/{po_two.pk}/").status_code == 404
    assert client.get(f"/partner-organizations/{po1.partner_organization_id}/").status_code == 200


def test_my_organization_leads_po_staff_to_their_po(client, po1):
    client.force_login(po1)

    response = client.get("/my-organization/")

    assert response.status_code == 302
    assert response["Location"] == f"/partner-organizations/{po1.partner_organization_id}/"


@pytest.mark.parametrize("url", ["/partner-organizations/new/", "/reference/districts/1/climate/"])
def test_po_staff_cannot_reach_pmu_pages(client, po1, url):
    client.force_login(po1)

    assert client.get(url).status_code == 403
    assert client.post(url, PO_FORM).status_code == 403


def test_po_staff_cannot_edit_even_their_own_po(client, po1):
    client.force_login(po1)

    response = client.post(f"/partner-organizations/{po1.partner_organization_id}/edit/", PO_FORM)

    assert response.status_code == 403
    po1.partner_organization.refresh_from_db()
    assert po1.partner_organization.name != PO_FORM["name"]


@pytest.mark.parametrize("persona", ["wb", "approver", "tec1"])
def test_other_roles_read_every_po_but_cannot_create_one(client, request, persona, po_one, po_two):
    client.force_login(request.getfixturevalue(persona))

    page = client.get("/partner-organizations/").content.decode()

    assert po_one.name in page
    assert po_two.name in page
    assert client.get("/partner-organizations/new/").status_code == 403


def test_pmu_creates_a_po_with_its_districts(client, pmu):
    client.force_login(pmu)
    khulna, bagerhat = district("Khulna"), district("Bagerhat")

    response = client.post("/partner-organizations/new/", {**PO_FORM, "districts": [khulna.pk, bagerhat.pk]})

    po = PartnerOrganization.objects.get(code="PO-077")
    assert response.status_code == 302
    assert response["Location"] == f"/partner-organizations/{po.pk}/"
    assert set(po.districts.all()) == {khulna, bagerhat}
    assert po.website == "https://rnks.org.bd"


def test_refused_po_form_names_the_field_and_keeps_what_was_typed(client, pmu, po_one):
    client.force_login(pmu)

    response = client.post(
        "/partner-organizations/new/", {**PO_FORM, "code": po_one.code, "email": "not-an-email"}
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert "Partner Organization with this Code already exists." in page
    assert "Enter a valid email address." in page
    assert 'value="Rupsha Nari Kalyan Sangstha"' in page
    assert not PartnerOrganization.objects.filter(name=PO_FORM["name"]).exists()


def test_po_edits_are_in_the_audit_trail_shown_to_pmu(client, pmu, po_one):
    client.force_login(pmu)

    client.post(f"/partner-organizations/{po_one.pk}/edit/", {**PO_FORM, "code": po_one.code})
    page = client.get(f"/partner-organizations/{po_one.pk}/").content.decode()

    changed = {
        change.field
        for record in po_one.history.filter(history_user=pmu)
        if record.prev_record
        for change in record.diff_against(record.prev_record).changes
    }
    assert {"name", "registration_number", "email"} <= changed
    assert "Changes" in page
    assert pmu.get_display_name() in page


# --- API ------------------------------------------------------------------------------------------


def test_api_lists_only_the_po_staffs_own_po(api, po1, po_two):
    response = api.as_user(po1).get("/api/v1/partner-organizations/")

    assert response.status_code == 200
    assert [row["code"] for row in response.json()["results"]] == [po1.partner_organization.code]


def test_api_answers_404_for_another_pos_record(api, po1, po_two):
    response = api.as_user(po1).get(f"/api/v1/partner-organizations/{po_two.pk}/")

    assert response.status_code == 404
    assert po_two.name not in response.content.decode()


def test_api_refuses_po_creation_by_po_staff(api, po1):
    response = api.as_user(po1).post("/api/v1/partner-organizations/", {**PO_FORM, "website": ""})

    assert response.status_code == 403
    assert not PartnerOrganization.objects.filter(code="PO-077").exists()


def test_api_lets_pmu_create_and_update_a_po(api, pmu):
    api.as_user(pmu)
    payload = {**PO_FORM, "website": "https://rnks.org.bd", "districts": ["BD4047", "BD4001"]}
    payload.pop("is_active")

    created = api.post("/api/v1/partner-organizations/", payload)

    assert created.status_code == 201, created.json()
    assert sorted(created.json()["districts"]) == ["BD4001", "BD4047"]
    updated = api.patch(f"/api/v1/partner-organizations/{created.json()['id']}/", {"is_active": False})
    assert updated.status_code == 200
    assert updated.json()["is_active"] is False


def test_api_names_the_bad_field(api, pmu):
    response = api.as_user(pmu).post(
        "/api/v1/partner-organizations/", {**PO_FORM, "website": "", "districts": ["BD9999"]}
    )

    assert response.status_code == 400
    assert "districts" in response.json()["fields"]


def test_api_never_deletes_a_po(api, pmu, po_one):
    response = api.as_user(pmu).delete(f"/api/v1/partner-organizations/{po_one.pk}/")

    assert response.status_code == 405
    assert PartnerOrganization.objects.filter(pk=po_one.pk).exists()


def test_api_filters_pos_by_district(api, pmu, po_one, po_two):
    response = api.as_user(pmu).get("/api/v1/partner-organizations/", {"district": "BD4087"})  # Satkhira

    assert [row["code"] for row in response.json()["results"]] == [po_two.code]
