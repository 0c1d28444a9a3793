"""The search of the ME list and of the record lists (KPI readings, adoptions, ...): code, name, owner
and phone.

The MEs a search matches are found first and the list then read by their ids, up to
enterprises.filters.SEARCH_MES_BY_ID of them; beyond, the search is made along the list. Both ways
give the same rows, and neither shows a row of another PO."""

from __future__ import annotations

from datetime import date

import pytest

from enterprises import filters
from tests.enterprises.factories import AdoptionFactory, EnterpriseFactory, KpiReadingFactory, practice


@pytest.fixture
def readings(me_one, me_two, sp_one) -> dict[str, list[int]]:
    """Two readings of each ME: po1's me_one and two tailors of the same PO, and po2's me_two."""
    tailors = [EnterpriseFactory(sub_project=sp_one, name=f"Karim Tailoring {n}") for n in (1, 2)]
    mes = {"me_one": me_one, "tailor 1": tailors[0], "tailor 2": tailors[1], "me_two": me_two}
    return {
        label: [KpiReadingFactory(enterprise=me, period=date(2025, month, 1)).pk for month in (1, 2)]
        for label, me in mes.items()
    }


def _page(client, path: str, query: str) -> str:
    response = client.get(path, {"q": query})
    assert response.status_code == 200
    return response.content.decode()


def _api_ids(api, path: str, query: str) -> set[int]:
    response = api.get(path, {"q": query})
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


@pytest.mark.parametrize("by_id", [True, False], ids=["by id", "along the list"])
@pytest.mark.parametrize("query", ["ME-0001", "rahima shoe", "01711000001"])
def test_a_search_of_the_readings_finds_the_matching_mes_readings_and_no_others(
    api, pmu, readings, query, by_id, monkeypatch
):
    # ME-0001 is also me_two's code (in po2): the PMU sees both; the name and phone are me_one's only.
    monkeypatch.setattr(filters, "SEARCH_MES_BY_ID", 1000 if by_id else 0)
    found = _api_ids(api.as_user(pmu), "/api/v1/kpi-readings/", query)

    expected = set(readings["me_one"])
    if query == "ME-0001":
        expected |= set(readings["me_two"])
    assert found == expected


@pytest.mark.parametrize("by_id", [True, False], ids=["by id", "along the list"])
def test_a_search_matching_several_mes_gives_the_same_records_either_way(
    api, pmu, readings, by_id, monkeypatch
):
    # Two MEs match: read by their ids, or (more than one allowed by id) through the join.
    monkeypatch.setattr(filters, "SEARCH_MES_BY_ID", 1000 if by_id else 1)
    found = _api_ids(api.as_user(pmu), "/api/v1/kpi-readings/", "tailoring")

    assert found == {*readings["tailor 1"], *readings["tailor 2"]}


@pytest.mark.parametrize("by_id", [True, False], ids=["by id", "along the list"])
def test_a_po_searching_another_pos_me_finds_nothing(api, client, po1, me_two, readings, by_id, monkeypatch):
    # me_two is po2's: its phone and name match it, but po1's lists never show its records.
    monkeypatch.setattr(filters, "SEARCH_MES_BY_ID", 1000 if by_id else 0)
    for query in ("01811000002", "Satkhira Leather"):
        assert _api_ids(api.as_user(po1), "/api/v1/kpi-readings/", query) == set()
        client.force_login(po1)
        assert me_two.name not in _page(client, "/kpi-readings/", query)


def test_the_adoptions_page_finds_an_me_by_its_phone(client, pmu, me_one, me_two):
    AdoptionFactory(enterprise=me_one, practice=practice("AQ-04"))
    AdoptionFactory(enterprise=me_two, practice=practice("EE-01"))
    client.force_login(pmu)

    page = _page(client, "/adoptions/", "01711000001")

    assert me_one.name in page
    assert me_two.name not in page


def test_an_empty_search_lists_every_record(api, pmu, readings):
    found = _api_ids(api.as_user(pmu), "/api/v1/kpi-readings/", "  ")

    assert found == {pk for pks in readings.values() for pk in pks}


@pytest.mark.parametrize("by_id", [True, False], ids=["by id", "along the list"])
def test_the_me_list_finds_the_same_mes_either_way_and_only_the_users_pos(
    api, pmu, po1, me_one, me_two, readings, by_id, monkeypatch
):
    monkeypatch.setattr(filters, "SEARCH_MES_BY_ID", 1000 if by_id else 0)

    # ME-0001 is both me_one's code (po1) and me_two's (po2).
    assert _api_ids(api.as_user(pmu), "/api/v1/enterprises/", "ME-0001") == {me_one.pk, me_two.pk}
    assert _api_ids(api.as_user(po1), "/api/v1/enterprises/", "ME-0001") == {me_one.pk}
    assert _api_ids(api.as_user(po1), "/api/v1/enterprises/", "01811000002") == set()
