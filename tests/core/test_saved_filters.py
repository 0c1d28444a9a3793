"""Saved filters: a user saves a list's filters under a name, reopens the list filtered so, deletes
them; nobody else sees or deletes them. The Partner Organizations list stands for every list."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from core.models import SavedFilter
from core.saved_filters import MAX_PER_LIST

LIST = "/partner-organizations/"
SAVE = reverse("core:saved-filter-save")


def _save(client, name: str = "Active Sangstha", query: str = "q=Sangstha&active=yes", path: str = LIST):
    return client.post(SAVE, {"path": path, "name": name, "query": query})


def test_saving_keeps_the_filters_and_the_sort_without_the_page_or_export(client, pmu):
    client.force_login(pmu)
    response = _save(client, query="q=Sangstha&sort=-name&page=3&export=csv")
    assert response.status_code == 302
    assert response["Location"] == f"{LIST}?q=Sangstha&sort=-name"
    saved = SavedFilter.objects.get(user=pmu)
    assert (saved.path, saved.name, saved.query) == (LIST, "Active Sangstha", "q=Sangstha&sort=-name")


def test_the_list_shows_its_saved_filters_as_links_that_apply_them(client, pmu):
    client.force_login(pmu)
    _save(client)
    SavedFilter.objects.create(user=pmu, path="/enterprises/", name="Another list's", query="q=x")
    body = client.get(LIST).content.decode()
    assert f'<a href="{LIST}?q=Sangstha&amp;active=yes">Active Sangstha</a>' in body
    assert "Another list&#x27;s" not in body
    # Applied, the list is filtered so.
    assert 'value="Sangstha"' in client.get(f"{LIST}?q=Sangstha&active=yes").content.decode()


def test_the_save_form_is_offered_only_once_something_is_filtered(client, pmu):
    client.force_login(pmu)
    assert "Save these filters" not in client.get(LIST).content.decode()
    body = client.get(LIST, {"q": "Sangstha", "page": "2"}).content.decode()
    assert "Save these filters" in body
    assert 'name="query" value="q=Sangstha"' in body


def test_saving_under_a_name_already_used_replaces_what_it_selects(client, pmu):
    client.force_login(pmu)
    _save(client, query="q=old")
    _save(client, query="q=new")
    assert list(SavedFilter.objects.filter(user=pmu).values_list("name", "query")) == [
        ("Active Sangstha", "q=new")
    ]


def test_deleting_removes_it_and_returns_to_the_list(client, pmu):
    client.force_login(pmu)
    _save(client)
    saved = SavedFilter.objects.get(user=pmu)
    response = client.post(reverse("core:saved-filter-delete", args=[saved.pk]), {"next": f"{LIST}?q=x"})
    assert response.status_code == 302
    assert response["Location"] == f"{LIST}?q=x"
    assert not SavedFilter.objects.filter(pk=saved.pk).exists()


def test_another_user_neither_sees_nor_deletes_them(client, pmu, po2):
    client.force_login(pmu)
    _save(client)
    saved = SavedFilter.objects.get(user=pmu)
    other = Client()
    other.force_login(po2)
    assert "Active Sangstha" not in other.get(LIST, {"q": "Sangstha"}).content.decode()
    response = other.post(reverse("core:saved-filter-delete", args=[saved.pk]))
    assert response.status_code == 404
    assert SavedFilter.objects.filter(pk=saved.pk).exists()


def test_a_blank_name_is_refused_by_field_and_nothing_is_saved(client, pmu):
    client.force_login(pmu)
    response = _save(client, name="   ", query="q=Sangstha")
    assert response["Location"] == f"{LIST}?q=Sangstha"
    assert not SavedFilter.objects.exists()
    body = client.get(response["Location"]).content.decode()
    assert "Name: give these filters a name." in body
    assert 'aria-invalid="true"' in body


def test_a_name_too_long_is_refused_and_comes_back_as_typed(client, pmu):
    client.force_login(pmu)
    name = "Sangstha " * 10  # 90 characters
    response = _save(client, name=name)
    assert not SavedFilter.objects.exists()
    body = client.get(response["Location"]).content.decode()
    assert "Name: at most 80 characters" in body
    assert f'value="{name}"' in body
    # Said once: the next visit shows the list as usual.
    assert "Name: at most 80 characters" not in client.get(response["Location"]).content.decode()


def test_a_list_keeps_at_most_so_many_saved_filters_per_user(client, pmu, po2):
    SavedFilter.objects.bulk_create(
        SavedFilter(user=pmu, path=LIST, name=f"Filter {n:02d}", query=f"q={n}") for n in range(MAX_PER_LIST)
    )
    client.force_login(pmu)
    response = _save(client, name="One too many")
    assert not SavedFilter.objects.filter(name="One too many").exists()
    assert f"already has {MAX_PER_LIST} saved filters" in client.get(response["Location"]).content.decode()
    # Replacing one is still possible, and other users have their own allowance.
    _save(client, name="Filter 00", query="q=replaced")
    assert SavedFilter.objects.get(user=pmu, name="Filter 00").query == "q=replaced"
    client.force_login(po2)
    _save(client, name="One too many")
    assert SavedFilter.objects.filter(user=po2).count() == 1


@pytest.mark.parametrize(
    "path", ["https://evil.example/", "//evil.example/x/", "/no-such-page/", "partner-organizations/"]
)
def test_only_pages_of_the_portal_can_be_saved(client, pmu, path):
    client.force_login(pmu)
    assert _save(client, path=path).status_code == 400
    assert not SavedFilter.objects.exists()


def test_saving_and_deleting_need_a_signed_in_post_with_the_csrf_token(client, pmu):
    assert _save(client).status_code == 302  # to the sign-in page
    assert not SavedFilter.objects.exists()
    client.force_login(pmu)
    assert client.get(SAVE).status_code == 405
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(pmu)
    assert _save(strict).status_code == 403
    saved = SavedFilter.objects.create(user=pmu, path=LIST, name="Mine", query="q=x")
    assert strict.post(reverse("core:saved-filter-delete", args=[saved.pk])).status_code == 403
    assert client.get(reverse("core:saved-filter-delete", args=[saved.pk])).status_code == 405
    assert SavedFilter.objects.filter(pk=saved.pk).exists()
