"""The dashboard's cached fragments (monitoring.dashboard: cards and the indicator in detail, drawn once
per snapshot, scope, indicator, language and reader's rights): a new snapshot or a target edited shows
at once, a PO's staff never get another scope's fragment, languages and digits never mix, and a second
request for the same dashboard draws nothing and reads less."""

from __future__ import annotations

import json
import re
from datetime import date

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from monitoring import aggregation, dashboard
from monitoring.models import Indicator
from tests.enterprises.factories import EnterpriseFactory, FinancialSupportFactory, sub_project_for

AS_OF = date(2025, 6, 30)
EARLIER = date(2025, 3, 31)


def _financed(po, count: int, on: date = date(2025, 1, 1)) -> None:
    sp = sub_project_for(po)
    for _index in range(count):
        FinancialSupportFactory(enterprise=EnterpriseFactory(sub_project=sp), disbursed_on=on)


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _language_kept():
    """The language a request activated stays active in the thread: the next test starts as before."""
    language = translation.get_language()
    yield
    translation.activate(language)


@pytest.fixture
def snapshot(po_one, po_two):
    """PO-T01 has 3 MEs financed, PO-T02 2: the programme 5, as of 31 Mar and 30 Jun 2025."""
    _financed(po_one, 3)
    _financed(po_two, 2)
    aggregation.refresh_snapshot(EARLIER)
    aggregation.refresh_snapshot(AS_OF)


@pytest.fixture
def draws(monkeypatch) -> list[dict]:
    """Every board read with its figures (the fragments being drawn), with its arguments."""
    calls: list[dict] = []
    board = dashboard.board

    def spy(**kwargs):
        if kwargs.get("figures", True):
            calls.append(kwargs)
        return board(**kwargs)

    monkeypatch.setattr(dashboard, "board", spy)
    return calls


def _page(client, **params) -> str:
    response = client.get("/dashboard/", params)
    assert response.status_code == 200
    return response.content.decode()


def _figure(page: str, code: str = "ME_FINANCED") -> str:
    return re.search(rf'data-testid="figure-{code}">([^<]*)<', page)[1]


def _drawn_part(page: str) -> str:
    """The page's cards and detail (the rest has a fresh CSRF token each time)."""
    return page[page.index('data-testid="headlines-') : page.index("District boundaries")]


def _json(page: str, element_id: str) -> dict:
    found = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', page)
    return json.loads(found[1])


# --- Never stale ----------------------------------------------------------------------------------


def test_a_rewritten_snapshot_shows_its_new_figures_at_once(client, pmu, po_one, snapshot):
    client.force_login(pmu)
    assert _figure(_page(client)) == "5"
    assert _figure(_page(client)) == "5"  # served from the cache

    _financed(po_one, 2)
    aggregation.refresh_snapshot(AS_OF)

    page = _page(client)
    assert _figure(page) == "7"
    assert _json(page, "trend-data")["tooltips"] == ["5", "7"]


def test_a_newer_snapshot_is_shown_with_its_figures(client, pmu, po_one, snapshot):
    client.force_login(pmu)
    _page(client)

    _financed(po_one, 1, on=date(2025, 7, 1))
    aggregation.refresh_snapshot(date(2025, 7, 31))

    page = _page(client)
    assert _figure(page) == "6"
    assert "?indicator=ME_FINANCED&amp;as_of=2025-07-31" in page  # the cards' links name the new date


def test_an_older_snapshot_rewritten_changes_the_trend_shown_beside_the_latest(client, pmu, po_one, snapshot):
    client.force_login(pmu)
    assert _json(_page(client), "trend-data")["tooltips"] == ["5", "5"]

    _financed(po_one, 1, on=date(2025, 2, 1))
    aggregation.refresh_snapshot(EARLIER)  # the latest snapshot itself is unchanged

    assert _json(_page(client), "trend-data")["tooltips"] == ["6", "5"]


def test_a_target_the_pmu_edits_shows_at_once(client, pmu, snapshot):
    client.force_login(pmu)
    assert "of the programme target of 80,000" in _page(client)

    Indicator.objects.filter(code="ME_FINANCED").update(target=50_000)

    assert "of the programme target of 50,000" in _page(client)


def test_forgetting_the_fragments_draws_them_again(client, pmu, snapshot, draws):
    client.force_login(pmu)
    _page(client)
    _page(client)
    assert len(draws) == 1

    dashboard.forget_cached_fragments(AS_OF)
    _page(client)

    assert len(draws) == 2


# --- Scopes ---------------------------------------------------------------------------------------


def test_po_staff_never_get_the_programmes_or_another_pos_fragments(client, pmu, wb, po1, po2, snapshot):
    # Every other scope's fragments are in the cache first, for the same snapshot and indicator.
    client.force_login(pmu)
    assert _figure(_page(client)) == "5"
    client.force_login(wb)
    assert _figure(_page(client, po="PO-T02")) == "2"
    client.force_login(po2)
    assert _figure(_page(client)) == "2"

    client.force_login(po1)
    own = _page(client)
    asked_for_another = _page(client, po="PO-T02")

    for page in (own, asked_for_another):
        assert _figure(page) == "3"
        assert "partner_organization=PO-T02" not in page
        assert "Meghna Test Foundation" not in page
    assert _json(own, "trend-data")["tooltips"] == ["3", "3"]


def test_a_po_seen_by_the_pmu_and_by_its_own_staff_keeps_each_ones_links(client, wb, po1, snapshot):
    client.force_login(wb)
    assert "&amp;po=PO-T01#detail" in _page(client, po="PO-T01")  # the PMU's links keep the scope

    client.force_login(po1)
    page = _page(client)

    assert _figure(page) == "3"
    assert "&amp;po=PO-T01#detail" not in page  # PO staff have no scope to keep


def test_the_right_to_drill_down_is_part_of_the_fragment(client, pmu, approver, snapshot, monkeypatch):
    client.force_login(pmu)
    assert 'data-testid="drill-ME_FINANCED"' in _page(client)

    monkeypatch.setattr("monitoring.views.dashboard.can_read_field_data", lambda user: False)
    client.force_login(approver)

    assert 'data-testid="drill-ME_FINANCED"' not in _page(client)


# --- Languages and digits -------------------------------------------------------------------------


def test_bangla_and_english_fragments_do_not_mix(client, pmu, snapshot):
    client.force_login(pmu)
    english = _page(client)
    pmu.language = "bn"
    pmu.save(update_fields=["language"])
    bangla = _page(client)
    pmu.language = "en"
    pmu.save(update_fields=["language"])
    english_again = _page(client)

    assert "Breakdowns" in english
    assert "Breakdowns" not in bangla
    assert _json(bangla, "trend-data")["locale"] == "bn-IN"
    assert _drawn_part(english_again) == _drawn_part(english)


@pytest.mark.parametrize(("first", "then"), [(True, False), (False, True)])
def test_bangla_digits_or_not_are_kept_apart(client, pmu, snapshot, first, then):
    pmu.language = "bn"
    client.force_login(pmu)
    for wanted in (first, then):
        pmu.bangla_digits = wanted
        pmu.save(update_fields=["language", "bangla_digits"])

        trend = _json(_page(client), "trend-data")

        assert trend["tooltips"] == (["৫", "৫"] if wanted else ["5", "5"])


# --- Drawn once -----------------------------------------------------------------------------------


def test_the_second_request_draws_nothing_and_reads_less(client, pmu, snapshot, draws):
    client.force_login(pmu)
    with CaptureQueriesContext(connection) as first:
        first_page = _page(client, indicator="ME_FINANCED")
    with CaptureQueriesContext(connection) as second:
        second_page = _page(client, indicator="ME_FINANCED")

    assert len(draws) == 1
    assert len(second.captured_queries) < len(first.captured_queries)
    assert not any("monitoring_indicatorvalue" in query["sql"] for query in second.captured_queries)
    assert _drawn_part(second_page) == _drawn_part(first_page)


def test_another_indicator_in_detail_draws_only_what_changed(client, pmu, snapshot, draws):
    client.force_login(pmu)
    _page(client, indicator="ME_FINANCED")

    page = _page(client, indicator="CSF_ESTABLISHED")

    assert 'id="detail-heading"' in page
    # Its detail and the two cards whose border shows the choice; the others come from the cache.
    assert draws[-1]["breakdowns_of"] == ["CSF_ESTABLISHED"]
    assert len(draws) == 2


def test_the_first_request_reads_only_the_breakdowns_it_draws(client, pmu, snapshot):
    client.force_login(pmu)
    with CaptureQueriesContext(connection) as queries:
        _page(client, indicator="ME_FINANCED")

    values = [q["sql"] for q in queries.captured_queries if 'FROM "monitoring_indicatorvalue"' in q["sql"]]
    # The totals and the selected indicator's breakdowns in one query (the trend in another).
    assert len(values) == 2
    assert any('"dimension" = ' in sql and " OR " in sql for sql in values)


def test_without_a_cache_every_request_draws(client, pmu, snapshot, draws, settings):
    settings.DASHBOARD_CACHE_SECONDS = 0
    client.force_login(pmu)

    assert _figure(_page(client)) == "5"
    assert _figure(_page(client)) == "5"
    assert len(draws) == 2
