"""The field-data lists people work with: sorted by a column, Any/Yes/No filters, and what an empty
list says. The financial support list stands for every RecordListView."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.enterprises.factories import EnterpriseFactory, FinancialSupportFactory
from tests.subprojects.factories import SubProjectFactory

LIST = reverse("enterprises:support-list")


@pytest.fixture
def supports(me_one, me_two):
    FinancialSupportFactory(enterprise=me_one, reference="REF-MID", amount=Decimal("90000"))
    FinancialSupportFactory(
        enterprise=me_two, reference="REF-HIGH", amount=Decimal("150000"), disbursed_on=date(2023, 5, 2)
    )
    FinancialSupportFactory(
        enterprise=me_one, reference="REF-LOW", amount=Decimal("50000"), disbursed_on=date(2024, 11, 1)
    )


def _references(response) -> list[str]:
    return re.findall(r"<td>(REF-[A-Z]+)</td>", response.content.decode())


def _select(response, name: str) -> list[str]:
    select = re.search(rf'<select name="{name}".*?</select>', response.content.decode(), re.S).group(0)
    return [text.strip() for text in re.findall(r"<option[^>]*>([^<]*)</option>", select)]


def test_the_rows_follow_the_column_asked_for_in_either_direction(client, pmu, supports):
    client.force_login(pmu)
    ascending = client.get(LIST, {"sort": "amount"})
    assert _references(ascending) == ["REF-LOW", "REF-MID", "REF-HIGH"]
    assert 'aria-sort="ascending"' in ascending.content.decode()
    descending = client.get(LIST, {"sort": "-amount"})
    assert _references(descending) == ["REF-HIGH", "REF-MID", "REF-LOW"]
    assert 'aria-sort="descending"' in descending.content.decode()
    by_reference = client.get(LIST, {"sort": "reference"})
    assert _references(by_reference) == ["REF-HIGH", "REF-LOW", "REF-MID"]


def test_an_unknown_sort_is_ignored(client, pmu, supports):
    client.force_login(pmu)
    response = client.get(LIST, {"sort": "enterprise__owner_name"})
    assert response.status_code == 200
    # The default: latest disbursement first.
    assert _references(response)[-1] == "REF-HIGH"


def test_the_export_follows_the_order_shown(client, pmu, supports):
    client.force_login(pmu)
    response = client.get(LIST, {"sort": "-amount", "export": "csv"})
    body = b"".join(response.streaming_content).decode() if response.streaming else response.content.decode()
    assert body.index("REF-HIGH") < body.index("REF-MID") < body.index("REF-LOW")


def test_a_yes_no_filter_reads_any_yes_no_and_filters(client, pmu, supports):
    client.force_login(pmu)
    response = client.get(LIST)
    assert _select(response, "project_financing") == ["Any", "Yes", "No"]
    assert _select(response, "partner_organization")[0] == "All POs"
    assert _select(response, "kind")[0] == "Any type"
    assert _references(client.get(LIST, {"project_financing": "false"})) == ["REF-HIGH"]
    assert set(_references(client.get(LIST, {"project_financing": "true"}))) == {"REF-LOW", "REF-MID"}
    assert len(_references(client.get(LIST, {"project_financing": ""}))) == 3


def test_the_sort_survives_a_filter_and_the_page_links(client, pmu, me_one):
    for day in range(1, 31):
        FinancialSupportFactory(enterprise=me_one, disbursed_on=date(2024, 11, day))
    client.force_login(pmu)
    body = client.get(LIST, {"kind": "loan", "sort": "-amount", "per_page": "25"}).content.decode()
    assert 'href="?kind=loan&amp;sort=-amount&amp;per_page=25&amp;page=2"' in body
    assert "Showing 1\u201325 of 30" in body


def test_an_empty_list_says_nothing_is_recorded_yet(client, pmu, sp_one):
    client.force_login(pmu)
    body = client.get(LIST).content.decode()
    assert "No financial support has been recorded yet." in body
    assert "clear-filters" not in body


def test_a_filter_that_selects_nothing_says_so_and_offers_to_clear_it(client, pmu, supports):
    client.force_login(pmu)
    body = client.get(LIST, {"kind": "grant", "sort": "-amount"}).content.decode()
    assert "No row matches these filters." in body
    assert 'href="?sort=-amount" data-testid="clear-filters"' in body
    assert "No financial support has been recorded yet." not in body


def test_a_list_filtered_by_default_offers_to_clear_its_default_filter(client, pmu, sp_one):
    # The duplicates list opens on the suspected ones; with none, clearing shows every pair.
    EnterpriseFactory(sub_project=sp_one)
    client.force_login(pmu)
    body = client.get(reverse("enterprises:duplicate-list")).content.decode()
    assert "No row matches these filters." in body
    assert 'href="?status=" data-testid="clear-filters"' in body
    cleared = client.get(reverse("enterprises:duplicate-list"), {"status": ""}).content.decode()
    assert "No suspected duplicate has been found." in cleared


def test_the_enterprise_list_sorts_by_its_columns(client, pmu, sp_one):
    for name in ("Beta Shoes", "Alpha Shoes", "Gamma Shoes"):
        EnterpriseFactory(sub_project=sp_one, name=name)
    client.force_login(pmu)
    names = re.findall(
        r"<td>((?:Alpha|Beta|Gamma) Shoes)", client.get("/enterprises/", {"sort": "name"}).content.decode()
    )
    assert names == ["Alpha Shoes", "Beta Shoes", "Gamma Shoes"]
    names = re.findall(
        r"<td>((?:Alpha|Beta|Gamma) Shoes)", client.get("/enterprises/", {"sort": "-name"}).content.decode()
    )
    assert names == ["Gamma Shoes", "Beta Shoes", "Alpha Shoes"]


def test_the_me_lists_drop_downs_name_pos_sub_projects_and_districts_with_one_query_each(
    client, pmu, me_one, me_two, sp_one
):
    """The drop-downs read only the columns their options show: each option still says what it is,
    and more POs and sub-projects add options, not queries."""
    client.force_login(pmu)
    listing = reverse("enterprises:enterprise-list")

    def shown() -> tuple[int, dict[str, list[str]]]:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(listing)
        names = ("partner_organization", "sub_project", "district")
        return len(queries), {name: _select(response, name) for name in names}

    queries, options = shown()
    po = me_one.partner_organization
    assert f"{po.code} · {po.short_name or po.name}" in options["partner_organization"]
    assert f"{sp_one.agreement_number} · {sp_one.title}" in options["sub_project"]
    assert me_one.district.name in options["district"]

    for _more in range(3):
        SubProjectFactory()
    more_queries, more_options = shown()
    assert len(more_options["sub_project"]) == len(options["sub_project"]) + 3
    assert len(more_options["partner_organization"]) == len(options["partner_organization"]) + 3
    assert more_queries == queries
    chosen = client.get(listing, {"sub_project": sp_one.pk}).content.decode()
    assert me_one.name in chosen
    assert me_two.name not in chosen
