"""Query parameters the schema does not document, and orderings a list does not offer, are refused with
400 naming them (smart_portal.api_contract): a misspelt filter must not return everything."""

from __future__ import annotations

import django_filters
import pytest

from core.models import PartnerOrganization
from smart_portal import api_contract
from smart_portal.api_docs import cached_schema
from tests.factories import PartnerOrganizationFactory

POS = "/api/v1/partner-organizations/"


@pytest.fixture
def three_pos(po_one, po_two):
    return [po_one, po_two, PartnerOrganizationFactory(code="PO-T03", name="Atrai Unnayan Sangstha")]


def test_a_misspelt_filter_is_refused_400_naming_it(api, po1):
    response = api.as_user(po1).get(POS, {"updated_sinse": "2031-01-01T00:00:00Z"})

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "unknown_parameter"
    assert list(body["fields"]) == ["updated_sinse"]
    assert [error["code"] for error in body["fields"]["updated_sinse"]] == ["unknown_parameter"]
    assert "updated_sinse" in body["detail"]
    assert "district" in body["detail"]  # what the operation does accept


def test_each_unknown_parameter_is_named_and_the_known_ones_are_not(api, pmu, three_pos):
    response = api.as_user(pmu).get(POS, {"search": "Padma", "colour": "red", "sise": "2"})

    assert response.status_code == 400
    assert sorted(response.json()["fields"]) == ["colour", "sise"]


def test_documented_filters_pagination_and_search_still_work(api, pmu, three_pos):
    api.as_user(pmu)

    by_district = api.get(POS, {"district": "BD4087"})  # Satkhira
    searched = api.get(POS, {"search": "Atrai"})
    second_page = api.get(POS, {"page": 2, "page_size": 1, "ordering": "code"})

    assert [row["code"] for row in by_district.json()["results"]] == ["PO-T02"]
    assert [row["code"] for row in searched.json()["results"]] == ["PO-T03"]
    assert [row["code"] for row in second_page.json()["results"]] == ["PO-T02"]


def test_a_parameter_of_the_list_is_refused_on_the_detail(api, po1):
    response = api.as_user(po1).get(f"{POS}{po1.partner_organization.pk}/", {"page": 2})

    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["page"]


def test_a_post_with_an_unknown_parameter_writes_nothing(api, pmu):
    response = api.as_user(pmu).post(
        f"{POS}?dry_run=1", {"code": "PO-099", "name": "Never Created"}, format="json"
    )

    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["dry_run"]
    assert not PartnerOrganization.objects.filter(code="PO-099").exists()


# --- Ordering ---------------------------------------------------------------------------------------


def test_orderings_the_list_offers_work_ascending_descending_and_combined(api, pmu, three_pos):
    api.as_user(pmu)

    by_name = api.get(POS, {"ordering": "-name"}).json()["results"]
    combined = api.get(POS, {"ordering": "-code,name"}).json()["results"]

    assert [row["name"] for row in by_name] == sorted((po.name for po in three_pos), reverse=True)
    assert [row["code"] for row in combined] == ["PO-T03", "PO-T02", "PO-T01"]


@pytest.mark.parametrize("ordering", ["nope", "-nope", "name,nope", "email"])
def test_an_ordering_the_list_does_not_offer_is_refused_listing_those_it_does(api, pmu, ordering):
    response = api.as_user(pmu).get(POS, {"ordering": ordering})

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert list(body["fields"]) == ["ordering"]
    [error] = body["fields"]["ordering"]
    assert error["code"] == "invalid"
    assert ordering.split(",")[-1].lstrip("-") in error["message"]
    assert "code, name" in error["message"]


def test_a_filter_sets_own_ordering_refuses_listing_what_it_offers(db):
    class Orderable(django_filters.FilterSet):
        ordering = api_contract.ListedOrderingFilter(fields=(("code", "code"), ("name", "title")))

        class Meta:
            model = PartnerOrganization
            fields: list[str] = []

    refused = Orderable(data={"ordering": "-title,nope"}, queryset=PartnerOrganization.objects.all())
    accepted = Orderable(data={"ordering": "-title,code"}, queryset=PartnerOrganization.objects.all())

    assert not refused.is_valid()
    [message] = refused.errors["ordering"]
    assert "nope" in message
    assert "code, title" in message
    assert accepted.is_valid()


def test_the_schema_names_the_orderings_a_list_offers():
    parameters = api_contract.documented_parameters("GET", POS)

    [ordering] = [
        p for p in cached_schema("en")["paths"][POS]["get"]["parameters"] if p["name"] == "ordering"
    ]
    assert "ordering" in parameters
    assert "`code`" in ordering["description"]
    assert "`name`" in ordering["description"]


# --- Who is told: 401 first -------------------------------------------------------------------------


def test_an_anonymous_call_is_refused_401_whatever_its_parameters(api, db):
    response = api.get(POS, {"updated_sinse": "x", "ordering": "nope"})

    assert response.status_code == 401


def test_a_bad_token_is_refused_401_whatever_its_parameters(api, db):
    api.credentials(HTTP_AUTHORIZATION="Token 0123456789abcdef")

    assert api.get(POS, {"updated_sinse": "x"}).status_code == 401


def test_a_signed_in_session_is_checked_too(client, po1):
    client.force_login(po1)

    response = client.get(POS, {"updated_sinse": "x"}, HTTP_ACCEPT="application/json")

    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["updated_sinse"]


# --- What DRF itself reads: the browsable API ---------------------------------------------------------


def test_the_browsable_apis_own_parameters_are_accepted(client, pmu, three_pos):
    client.force_login(pmu)

    page = client.get(POS, {"format": "api", "ordering": "name", "page": 1}, HTTP_ACCEPT="text/html")
    as_json = client.get(POS, {"format": "json"})
    suffixed = client.get("/api/v1/partner-organizations.json", {"ordering": "code"})

    assert page.status_code == 200
    assert page["Content-Type"].startswith("text/html")
    assert as_json.status_code == 200
    assert as_json.json()["count"] == 3
    assert suffixed.status_code == 200
    assert [row["code"] for row in suffixed.json()["results"]] == ["PO-T01", "PO-T02", "PO-T03"]


def test_an_unknown_parameter_is_refused_in_the_browsable_api_and_with_a_format_suffix(client, pmu):
    client.force_login(pmu)

    page = client.get(POS, {"format": "api", "colour": "red"}, HTTP_ACCEPT="text/html")
    suffixed = client.get("/api/v1/partner-organizations.json", {"colour": "red"})

    assert page.status_code == 400
    assert suffixed.status_code == 400
    assert list(suffixed.json()["fields"]) == ["colour"]


# (Not named `page`: that is pytest-playwright's fixture, and a test asking for it becomes a browser test.)
@pytest.mark.parametrize("number", ["999", "abc"])
def test_a_page_past_the_end_or_not_a_number_is_400_naming_page(api, pmu, three_pos, number):
    response = api.as_user(pmu).get(POS, {"page": number})

    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["page"]
