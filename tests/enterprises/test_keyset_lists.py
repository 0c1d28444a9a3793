"""Large lists page by position (core.lists.KeysetPage, smart_portal.sync.OrderedKeysetPagination):
Next/Previous carry an opaque cursor, every page costs the same queries, paging visits every row
once (ties included), a cursor never widens what a PO sees, a bad cursor is a message (page) or a
400 (API), and the count says "more than N" above LIST_COUNT_LIMIT."""

from __future__ import annotations

import html
import re
from datetime import date
from urllib.parse import unquote

import pytest
from django.test import override_settings

from enterprises.models import Enterprise
from tests.enterprises.factories import EnterpriseFactory, KpiReadingFactory, kpi
from tests.query_budget import count_queries

LIST = "/enterprises/"
READINGS = "/kpi-readings/"


def _next(body: str) -> str | None:
    found = re.search(r'href="([^"]+)" rel="next"', body)
    return html.unescape(found.group(1)) if found else None


def _previous(body: str) -> str | None:
    found = re.search(r'href="([^"]+)" rel="prev"', body)
    return html.unescape(found.group(1)) if found else None


def _codes(body: str) -> list[str]:
    return re.findall(r'<td class="text-nowrap"><a href="/enterprises/\d+/">([^<]+)</a>', body)


def _walk(client, url: str, params: dict) -> list[list[str]]:
    pages = [client.get(url, params).content.decode()]
    while (link := _next(pages[-1])) is not None:
        pages.append(client.get(url + link).content.decode())
        assert len(pages) < 50
    return pages


@pytest.fixture
def many(sp_one):
    """23 enterprises of one PO, registered on three days only: ties in the sorted column."""
    return [
        EnterpriseFactory(
            sub_project=sp_one, registered_on=date(2025, 1, 1 + n % 3), owner_name=f"Owner {n % 4}"
        )
        for n in range(23)
    ]


@pytest.mark.parametrize("sort", ["", "registered", "-registered", "owner", "-owner", "profile", "-name"])
def test_cursor_pages_follow_the_order_with_ties_and_come_back(client, pmu, sp_one, sort, settings):
    for n in range(60):
        EnterpriseFactory(
            sub_project=sp_one, registered_on=date(2025, 1, 1 + n % 3), owner_name=f"Owner {n % 4}"
        )
    client.force_login(pmu)
    pages = _walk(client, LIST, {"sort": sort, "per_page": "25"})
    seen = [code for page in pages for code in _codes(page)]
    assert len(pages) == 3
    assert len(seen) == len(set(seen)) == 60
    # The order is the list's order: the export of the same list gives it in full.
    exported = client.get(LIST, {"sort": sort, "export": "csv"})
    body = b"".join(exported.streaming_content).decode() if exported.streaming else exported.content.decode()
    in_export = list(re.findall(r"^(ME-\d+)", body, flags=re.M))
    assert seen == in_export
    # Previous from the last page gives the middle page again.
    back = client.get(LIST + _previous(pages[2])).content.decode()
    assert _codes(back) == _codes(pages[1])
    assert "Showing 26\u201350 of 60" in back


def test_page_one_and_a_deep_page_cost_the_same_queries(client, pmu, sp_one):
    for _n in range(120):
        EnterpriseFactory(sub_project=sp_one)
    client.force_login(pmu)
    first_queries, first = count_queries(client, LIST + "?per_page=25")
    link = _next(first.content.decode())
    for _step in range(3):
        link = _next(client.get(LIST + link).content.decode())
    deep_queries, deep = count_queries(client, LIST + link)
    assert "Showing 101\u2013120 of 120" in deep.content.decode()
    assert len(deep_queries) == len(first_queries)


def test_a_pos_cursor_never_shows_another_pos_rows(client, pmu, po1, sp_one, sp_two):
    mine = {EnterpriseFactory(sub_project=sp_one).po_code for _n in range(30)}
    for _n in range(30):
        EnterpriseFactory(sub_project=sp_two)
    client.force_login(pmu)
    # A cursor taken from the PMU's programme-wide list, replayed by PO staff.
    link = _next(client.get(LIST, {"per_page": "25"}).content.decode())
    client.force_login(po1)
    shown = _codes(client.get(LIST + link).content.decode())
    assert shown
    assert set(shown) <= mine
    everything = [code for page in _walk(client, LIST, {"per_page": "25"}) for code in _codes(page)]
    assert set(everything) == mine


@pytest.mark.parametrize("cursor", ["garbage", "x" * 300, ""])
def test_a_tampered_cursor_shows_the_first_page_with_a_message(client, pmu, many, cursor):
    client.force_login(pmu)
    first = _codes(client.get(LIST).content.decode())
    response = client.get(LIST, {"cursor": cursor})
    assert response.status_code == 200
    assert _codes(response.content.decode()) == first
    if cursor:
        assert "not valid any more" in response.content.decode()


def test_a_cursor_of_another_order_is_not_read_in_this_one(client, pmu, sp_one):
    for _n in range(60):
        EnterpriseFactory(sub_project=sp_one)
    client.force_login(pmu)
    link = _next(client.get(LIST, {"sort": "name", "per_page": "25"}).content.decode())
    edited = link.replace("sort=name", "sort=-owner")
    response = client.get(LIST + edited)
    assert response.status_code == 200
    assert "not valid any more" in response.content.decode()


@override_settings(LIST_COUNT_LIMIT=20)
def test_above_the_limit_the_count_says_more_than(client, pmu, many):
    client.force_login(pmu)
    body = client.get(LIST, {"per_page": "25"}).content.decode()
    assert "Showing 1\u201320 of more than 20" not in body
    # The page holds all 23 (25 asked for), though the count stops at 20.
    assert "Showing 1\u201323 of more than 20" in body
    assert "of more than 20" in body
    assert "more than 20 enterprises" in body
    # Old page-number links beyond the limit fall back to the first page, with a word why.
    deep = client.get(LIST, {"page": "5", "per_page": "25"}).content.decode()
    assert "reached with Next and Previous" in deep


def test_an_old_page_number_link_still_opens_its_page(client, pmu, sp_one):
    for _n in range(60):
        EnterpriseFactory(sub_project=sp_one)
    client.force_login(pmu)
    body = client.get(LIST, {"page": "2", "per_page": "25"}).content.decode()
    assert "Showing 26\u201350 of 60" in body
    codes = list(Enterprise.objects.order_by("-pk").values_list("po_code", flat=True)[25:50])
    assert _codes(body) == codes


def test_kpi_readings_page_by_cursor_with_ties_in_the_month(client, pmu, me_one, sp_one):
    electricity = kpi("ELECTRICITY")
    enterprises = [me_one, *(EnterpriseFactory(sub_project=sp_one) for _n in range(29))]
    for me in enterprises:
        for month in (1, 2):
            KpiReadingFactory(enterprise=me, kpi=electricity, period=date(2025, month, 1))
    client.force_login(pmu)
    pages = _walk(client, READINGS, {"per_page": "25"})
    rows = [row for page in pages for row in re.findall(r'<tr><td><a href="/enterprises/(\d+)/">', page)]
    assert len(pages) == 3
    assert len(rows) == 60
    assert "Showing 51\u201360 of 60" in pages[-1]


# --- The API ------------------------------------------------------------------------------------


def test_the_api_pages_by_cursor_in_the_lists_order(api, pmu, sp_one):
    for n in range(30):
        EnterpriseFactory(sub_project=sp_one, name=f"Works {n % 4}")
    api.as_user(pmu)
    for ordering in ("", "name", "-registered_on"):
        query = f"?page_size=7&ordering={ordering}" if ordering else "?page_size=7"
        first = api.get(f"/api/v1/enterprises/{query}").json()
        assert "cursor=o" in first["next"]
        seen, body = [row["id"] for row in first["results"]], first
        while body["next"]:
            body = api.get(body["next"]).json()
            assert body["count"] == 30
            seen += [row["id"] for row in body["results"]]
        assert len(seen) == len(set(seen)) == 30
        everything = api.get(f"/api/v1/enterprises/{query.replace('7', '100')}").json()
        assert seen == [row["id"] for row in everything["results"]]
        back = api.get(api.get(first["next"]).json()["previous"]).json()
        assert [row["id"] for row in back["results"]] == [row["id"] for row in first["results"]]


@override_settings(LIST_COUNT_LIMIT=20)
def test_above_the_limit_the_api_count_stops_and_says_so_and_next_reads_every_record(api, pmu, many):
    api.as_user(pmu)
    first = api.get("/api/v1/enterprises/?page_size=10").json()
    assert (first["count"], first["count_capped"]) == (20, True)
    second = api.get("/api/v1/enterprises/?page_size=10&page=2").json()
    # The last page numbers reach: `next` still goes on, by cursor, to the records beyond the count.
    assert second["next"] is not None
    seen, body = [row["id"] for row in first["results"]], first
    while body["next"]:
        body = api.get(body["next"]).json()
        assert (body["count"], body["count_capped"]) == (20, True)
        seen += [row["id"] for row in body["results"]]
    assert sorted(seen) == sorted(me.pk for me in many)
    # A list within the limit is counted exactly, and says so.
    narrow = api.get("/api/v1/enterprises/", {"registered_from": "2025-01-03"}).json()
    assert (narrow["count"], narrow["count_capped"]) == (7, False)
    assert narrow["next"] is None
    # Deeper page numbers are refused as before, naming `next`.
    assert api.get("/api/v1/enterprises/?page_size=10&page=3").status_code == 400


def test_the_api_refuses_a_tampered_cursor_and_a_deep_page_number(api, pmu, me_one):
    api.as_user(pmu)
    bad = api.get("/api/v1/enterprises/?cursor=o:tampered")
    assert bad.status_code == 400
    assert bad.json()["fields"]["cursor"][0]["code"] == "invalid"
    with override_settings(LIST_COUNT_LIMIT=100):
        deep = api.get("/api/v1/kpi-readings/?page=3&page_size=50")
        assert deep.status_code == 400
        assert "next" in deep.json()["fields"]["page"][0]["message"]


def test_an_api_cursor_whose_capped_flag_is_not_yes_or_no_is_refused(api, pmu, sp_one):
    """A cursor is signed, so only a bug could make its flag anything but true or false: even then
    the answer is a 400 naming `cursor`, not a page with a wrong count."""
    from django.core import signing

    from smart_portal.sync import ORDER_CURSOR_PREFIX, ORDER_CURSOR_SALT

    for _n in range(3):
        EnterpriseFactory(sub_project=sp_one)
    api.as_user(pmu)
    link = api.get("/api/v1/enterprises/?page_size=1").json()["next"]
    token = re.search(r"cursor=([^&]+)", link).group(1)
    payload = signing.loads(unquote(token).removeprefix(ORDER_CURSOR_PREFIX), salt=ORDER_CURSOR_SALT)
    assert api.get(link).status_code == 200
    for flag in ("yes", 1, None):
        forged = ORDER_CURSOR_PREFIX + signing.dumps({**payload, "k": flag}, salt=ORDER_CURSOR_SALT)
        refused = api.get("/api/v1/enterprises/", {"page_size": 1, "cursor": forged})
        assert refused.status_code == 400, flag
        assert refused.json()["fields"]["cursor"][0]["code"] == "invalid"
    # A cursor made before counts were capped has no flag: its count stands, as exact.
    old = ORDER_CURSOR_PREFIX + signing.dumps(
        {key: value for key, value in payload.items() if key != "k"}, salt=ORDER_CURSOR_SALT
    )
    answer = api.get("/api/v1/enterprises/", {"page_size": 1, "cursor": old}).json()
    assert (answer["count"], answer["count_capped"]) == (3, False)


def test_an_api_cursor_of_another_ordering_is_refused(api, pmu, sp_one):
    for _n in range(5):
        EnterpriseFactory(sub_project=sp_one)
    api.as_user(pmu)
    link = api.get("/api/v1/enterprises/?page_size=2&ordering=name").json()["next"]
    response = api.get(link.replace("ordering=name", "ordering=-name"))
    assert response.status_code == 400


def test_a_pos_api_cursor_never_shows_another_pos_records(api, pmu, po1, sp_one, sp_two):
    mine = {EnterpriseFactory(sub_project=sp_one).pk for _n in range(5)}
    for _n in range(5):
        EnterpriseFactory(sub_project=sp_two)
    link = api.as_user(pmu).get("/api/v1/enterprises/?page_size=2").json()["next"]
    body = api.as_user(po1).get(link).json()
    assert body["results"]
    assert {row["id"] for row in body["results"]} <= mine
