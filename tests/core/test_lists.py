"""Lists people can work with (core.lists): sorting by a column, page size, numbered pagination,
"nothing yet" versus "nothing matches". The rules first, then the Partner Organizations list as a
real page (every signed-in role may open it)."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from django.core.paginator import Paginator
from django.http import QueryDict
from django.template.loader import render_to_string
from django.test import RequestFactory

from core.lists import SortSpec, clear_filters_query, is_filtered, page_size, rows_by_key
from core.models import PartnerOrganization
from tests.factories import PartnerOrganizationFactory

SPEC = SortSpec({"name": ("name",), "amount": ("amount", "name")}, default="-amount")


# --- The rules ------------------------------------------------------------------------------------


def test_a_key_of_the_list_sorts_it_either_way():
    assert (SPEC.choose("name").key, SPEC.choose("name").descending) == ("name", False)
    assert (SPEC.choose("-name").key, SPEC.choose("-name").descending) == ("name", True)


@pytest.mark.parametrize("asked", ["", None, "password", "-", "--name", "name__secret", "pk"])
def test_anything_else_gives_the_lists_default_order(asked):
    sorting = SPEC.choose(asked)
    assert (sorting.key, sorting.descending, sorting.asked) == ("amount", True, False)


def test_a_default_that_is_not_a_key_is_a_programming_error():
    with pytest.raises(ValueError, match="not one of the keys"):
        SortSpec({"name": ("name",)}, default="-amount")


def test_the_primary_key_breaks_ties_in_the_same_direction():
    terms = [str(term) for term in SPEC.choose("-amount").order_by()]
    assert terms == [
        "OrderBy(F(amount), descending=True)",
        "OrderBy(F(name), descending=True)",
        "OrderBy(F(pk), descending=True)",
    ]


def test_a_click_on_the_sorted_column_reverses_it_and_on_another_sorts_that_one_ascending():
    sorting = SPEC.choose("name")
    assert sorting.state_of("name") == "ascending"
    assert sorting.next_param("name") == "-name"
    assert SPEC.choose("-name").next_param("name") == "name"
    assert sorting.next_param("amount") == "amount"
    assert sorting.state_of("amount") == ""


def test_rows_computed_in_python_sort_by_attribute_with_empty_values_last_both_ways():
    rows = [SimpleNamespace(name=name, amount=amount) for name, amount in [("b", 2), ("a", None), ("c", 1)]]
    assert [row.name for row in SPEC.choose("amount").apply(rows)] == ["c", "b", "a"]
    assert [row.name for row in SPEC.choose("-amount").apply(rows)] == ["b", "c", "a"]


@pytest.mark.parametrize(
    ("asked", "size"), [("25", 25), ("50", 50), ("100", 100), ("7", 50), ("x", 50), (None, 50)]
)
def test_the_page_size_is_25_50_or_100(asked, size):
    assert page_size(asked, 50) == size


def test_sorting_and_paging_are_not_filters_and_clearing_the_filters_keeps_them():
    params = QueryDict("sort=-name&per_page=25&page=3&kind=")
    assert not is_filtered(params)
    assert is_filtered(QueryDict("kind=loan&sort=name"))
    assert not is_filtered(QueryDict("as_of=2025-01-01"), keep=("as_of",))
    assert (
        clear_filters_query(QueryDict("kind=loan&sort=-name&per_page=25&page=3")) == "sort=-name&per_page=25"
    )


def test_a_default_filter_counts_as_a_filter_and_clearing_sets_it_blank():
    assert is_filtered(QueryDict(""), defaults={"status": "suspected"})
    assert not is_filtered(QueryDict("status="), defaults={"status": "suspected"})
    assert clear_filters_query(QueryDict(""), defaults={"status": "suspected"}) == "status="


# --- The pagination under every list --------------------------------------------------------------


def _pagination(number: int, per_page: int, total: int = 7845, query: str = "q=shoe&sort=-name") -> str:
    page = Paginator(range(total), per_page).get_page(number)
    request = RequestFactory().get(f"/list/?{query}&page={number}")
    return render_to_string(
        "includes/pagination.html",
        {"page_obj": page, "page_sizes": (25, 50, 100), "per_page": per_page},
        request=request,
    )


def test_the_pagination_says_which_rows_are_shown_of_how_many():
    html = _pagination(2, 50)
    assert "Showing 51\u2013100 of 7,845" in html


def test_the_pagination_offers_first_previous_a_window_of_pages_next_and_last():
    html = _pagination(40, 50)
    assert 'aria-label="Pages"' in html
    for label in ("« First", "\u2039 Previous", "Next \u203a", "Last »"):
        assert label in html
    current = re.search(
        r'<li class="page-item active" aria-current="page"><span class="page-link">(\d+)</span>', html
    )
    assert current
    assert current.group(1) == "40"
    shown = [int(n) for n in re.findall(r'aria-label="Page (\d+)"', html)]
    assert shown == [1, 38, 39, 41, 42, 157]
    assert html.count("…") == 2
    # Each link keeps the search and the sort.
    assert 'href="?q=shoe&amp;sort=-name&amp;page=41"' in html
    assert 'href="?q=shoe&amp;sort=-name&amp;page=157"' in html


def test_on_the_first_page_first_and_previous_are_not_links():
    html = _pagination(1, 50)
    assert '<span class="page-link">« First</span>' in html
    assert '<span class="page-link">\u2039 Previous</span>' in html
    assert "…" in html


def test_the_page_size_links_keep_the_query_and_go_back_to_the_first_page():
    html = _pagination(3, 50)
    assert 'href="?q=shoe&amp;sort=-name&amp;per_page=25"' in html
    assert 'href="?q=shoe&amp;sort=-name&amp;per_page=100"' in html
    assert '<strong aria-current="true">50</strong>' in html


def test_a_list_on_one_page_shows_no_page_links_and_an_empty_list_no_pagination():
    html = _pagination(1, 50, total=12)
    assert "Showing 1\u201312 of 12" in html
    assert 'aria-label="Pages"' not in html
    assert "Rows per page" not in html
    assert _pagination(1, 50, total=0).strip() == ""


# --- A real list: the Partner Organizations -------------------------------------------------------


@pytest.fixture
def many_pos(db):
    PartnerOrganizationFactory.create_batch(55)
    return PartnerOrganization.objects.count()


def _codes(response) -> list[str]:
    return re.findall(
        r'<td><a href="/partner-organizations/\d+/">([^<]+)</a></td>', response.content.decode()
    )


def test_the_po_list_sorts_by_a_column_both_ways(client, pmu, many_pos):
    client.force_login(pmu)
    every_code = sorted(PartnerOrganization.objects.values_list("code", flat=True))
    ascending = client.get("/partner-organizations/", {"sort": "code"})
    assert _codes(ascending) == every_code[:25]
    assert 'aria-sort="ascending"' in ascending.content.decode()
    descending = client.get("/partner-organizations/", {"sort": "-code"})
    assert _codes(descending) == every_code[::-1][:25]
    body = descending.content.decode()
    assert 'aria-sort="descending"' in body
    # The header asks for the other direction; the page number is dropped.
    assert 'href="?sort=code" data-testid="sort-link">Code' in body


def test_an_unknown_sort_key_shows_the_default_order(client, pmu, many_pos):
    client.force_login(pmu)
    response = client.get("/partner-organizations/", {"sort": "districts__password"})
    assert response.status_code == 200
    assert _codes(response) == sorted(PartnerOrganization.objects.values_list("code", flat=True))[:25]


def test_the_page_size_and_the_sort_survive_paging_and_filters(client, pmu, many_pos):
    client.force_login(pmu)
    response = client.get(
        "/partner-organizations/", {"q": "Sangstha", "sort": "-name", "per_page": "50", "page": "2"}
    )
    body = response.content.decode()
    matching = PartnerOrganization.objects.filter(name__icontains="Sangstha").count()
    assert matching > 50
    assert f"Showing 51\u2013{matching} of {matching}" in body
    assert 'href="?q=Sangstha&amp;sort=-name&amp;per_page=50&amp;page=1"' in body
    # Sorting again keeps the filter and the page size, and starts from the first page.
    assert 'href="?q=Sangstha&amp;sort=name&amp;per_page=50" data-testid="sort-link">Name' in body


def test_a_page_past_the_end_shows_the_last_page(client, pmu, many_pos):
    client.force_login(pmu)
    response = client.get("/partner-organizations/", {"page": "999"})
    assert response.status_code == 200
    last = (many_pos - 1) // 25 * 25 + 1
    assert f"Showing {last}\u2013{many_pos} of {many_pos}" in response.content.decode()


def test_an_empty_list_tells_nothing_matches_and_offers_to_clear_the_filters(client, pmu, many_pos):
    client.force_login(pmu)
    body = client.get(
        "/partner-organizations/", {"q": "no such organisation", "sort": "-name"}
    ).content.decode()
    assert "No Partner Organization matches these filters." in body
    assert 'href="?sort=-name" data-testid="clear-filters">Clear the filters' in body
    assert "No Partner Organization has been registered yet." not in body


def test_an_empty_list_without_filters_says_there_is_nothing_yet(client, pmu):
    PartnerOrganization.objects.all().delete()
    client.force_login(pmu)
    body = client.get("/partner-organizations/").content.decode()
    assert "No Partner Organization has been registered yet." in body
    assert "clear-filters" not in body


@pytest.mark.django_db
def test_a_page_read_by_key_keeps_the_order_and_leaves_out_a_row_gone_meanwhile():
    """The page's keys come from the ordered slice, its rows from the list: a key the list no longer
    holds (a row deleted between the two reads) is left out, the others keep the slice's order."""
    first, second, third = PartnerOrganizationFactory.create_batch(3)
    window = PartnerOrganization.objects.filter(pk__in=[first.pk, second.pk, third.pk]).order_by("-pk")
    rows = PartnerOrganization.objects.exclude(pk=second.pk)

    assert rows_by_key(rows, window[:3]) == [third, first]
    assert rows_by_key(rows, window.none()[:3]) == []
