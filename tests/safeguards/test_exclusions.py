"""The exclusion list as data, kept by the PMU: seeded by the migration, read by anyone signed in,
changed by PMU officers and E&S officers only (PO staff refused by page and API, nothing changing)."""

from __future__ import annotations

import pytest

from core.roles import Role
from safeguards.models import ExclusionItem
from tests.factories import make_user

SEEDED = {
    "forced-child-labour",
    "weapons-munitions",
    "hazardous-chemicals-phase-out",
    "ozone-depleting-substances",
    "cites-wildlife",
    "protected-areas-critical-habitats",
    "unsustainable-fishing",
    "tobacco",
    "gambling",
    "radioactive-materials",
    "asbestos",
    "primary-forest-logging",
    "transboundary-waste",
    "illegal-under-bangladesh-law",
}


@pytest.fixture
def es(db):
    return make_user("es", Role.ES_OFFICER)


def test_the_migration_seeds_the_list_with_stable_codes(db):
    codes = set(ExclusionItem.objects.values_list("code", flat=True))

    assert codes >= SEEDED
    assert ExclusionItem.objects.filter(active=True).count() == len(codes)


def test_the_seed_is_idempotent_and_leaves_the_pmus_edits_alone(db):
    from importlib import import_module

    from django.apps import apps

    ExclusionItem.objects.filter(code="tobacco").update(name="Tobacco and bidi")
    before = ExclusionItem.objects.count()

    import_module("safeguards.migrations.0002_exclusion_list").seed(apps, None)

    assert ExclusionItem.objects.count() == before
    assert ExclusionItem.objects.get(code="tobacco").name == "Tobacco and bidi"


def test_anyone_signed_in_reads_the_list(client, api, po1, tec1):
    client.force_login(po1)

    page = client.get("/exclusion-list/")
    listed = api.as_user(tec1).get("/api/v1/exclusion-items/?active=true").json()

    assert page.status_code == 200
    assert "Weapons and munitions" in page.content.decode()
    assert "Add an item" not in page.content.decode()
    assert listed["count"] == ExclusionItem.objects.count()


def test_the_list_needs_signing_in(client, api):
    assert client.get("/exclusion-list/").status_code == 302
    assert api.get("/api/v1/exclusion-items/").status_code in {401, 403}


def test_po_staff_may_not_change_the_list_by_page(client, po1):
    item = ExclusionItem.objects.get(code="tobacco")
    client.force_login(po1)

    new = client.post(
        "/exclusion-list/new/", {"code": "palm-oil", "name": "Palm oil", "position": 1, "active": "on"}
    )
    edit = client.post(
        f"/exclusion-list/{item.pk}/edit/", {"code": "tobacco", "name": "Changed", "position": 1}
    )
    retire = client.post(f"/exclusion-list/{item.pk}/retire/")

    assert (new.status_code, edit.status_code, retire.status_code) == (403, 403, 403)
    assert client.get("/exclusion-list/new/").status_code == 403
    item.refresh_from_db()
    assert (item.name, item.active) == ("Tobacco", True)
    assert not ExclusionItem.objects.filter(code="palm-oil").exists()


def test_po_staff_may_not_change_the_list_by_api(api, po1):
    item = ExclusionItem.objects.get(code="tobacco")
    client = api.as_user(po1)

    created = client.post("/api/v1/exclusion-items/", {"code": "palm-oil", "name": "Palm oil"}, format="json")
    patched = client.patch(f"/api/v1/exclusion-items/{item.pk}/", {"active": False}, format="json")

    assert (created.status_code, patched.status_code) == (403, 403)
    assert ExclusionItem.objects.get(pk=item.pk).active is True
    assert not ExclusionItem.objects.filter(code="palm-oil").exists()


def test_a_pos_own_es_officer_may_not_change_the_list(api, po1):
    po_es = make_user("po-es", Role.PO_STAFF, Role.ES_OFFICER, po=po1.partner_organization)

    response = api.as_user(po_es).post("/api/v1/exclusion-items/", {"code": "x", "name": "X"}, format="json")

    assert response.status_code == 403


def test_the_es_officer_adds_edits_and_retires_items_by_page(client, es):
    client.force_login(es)

    created = client.post(
        "/exclusion-list/new/",
        {
            "code": "palm-oil-clearing",
            "name": "Forest clearing for palm oil",
            "position": "200",
            "active": "on",
        },
    )
    item = ExclusionItem.objects.get(code="palm-oil-clearing")
    edited = client.post(
        f"/exclusion-list/{item.pk}/edit/",
        {
            "code": "palm-oil-clearing",
            "name": "Clearing forest for palm oil",
            "position": "200",
            "active": "on",
        },
    )
    retired = client.post(f"/exclusion-list/{item.pk}/retire/")

    assert (created.status_code, edited.status_code, retired.status_code) == (302, 302, 302)
    item.refresh_from_db()
    assert (item.name, item.active) == ("Clearing forest for palm oil", False)
    assert [record.history_change_reason for record in item.history.order_by("history_id")] == [
        "added",
        "edited",
        "retired",
    ]


def test_a_used_code_is_refused_and_the_form_keeps_what_was_typed(client, pmu):
    client.force_login(pmu)

    response = client.post(
        "/exclusion-list/new/",
        {"code": "tobacco", "name": "Cigarettes again", "position": "5", "active": "on"},
    )

    assert response.status_code in {400, 409}
    assert "Cigarettes again" in response.content.decode()
    assert ExclusionItem.objects.filter(code="tobacco").count() == 1


def test_the_pmu_changes_the_list_by_api(api, pmu):
    client = api.as_user(pmu)

    created = client.post(
        "/api/v1/exclusion-items/",
        {"code": "shark-fin", "name": "Shark fin trade", "position": 300},
        format="json",
    )
    duplicate = client.post("/api/v1/exclusion-items/", {"code": "shark-fin", "name": "Again"}, format="json")
    retired = client.patch(
        f"/api/v1/exclusion-items/{created.json()['id']}/", {"active": False}, format="json"
    )

    assert created.status_code == 201, created.json()
    assert duplicate.status_code == 409
    assert retired.status_code == 200
    assert retired.json()["active"] is False
    assert api.as_user(pmu).delete(f"/api/v1/exclusion-items/{created.json()['id']}/").status_code == 405
