"""Incremental sync (issue 16): `updated_at` on every resource, `updated_since`, keyset pages with a
watermark, ETag / Last-Modified answered 304, and the deletions a syncing client must apply."""

from __future__ import annotations

import random
import threading
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from importlib import import_module
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.http import http_date
from rest_framework import serializers

from core import tombstones
from core.models import Tombstone
from core.roles import Role
from enterprises.models import Adoption, Enterprise, KpiReading
from smart_portal import sync
from smart_portal.urls import PORTAL_APPS
from tests.enterprises.factories import (
    AdoptionFactory,
    EnterpriseFactory,
    KpiReadingFactory,
    TrainingSessionFactory,
    kpi,
    sub_project_for,
)
from tests.factories import make_user

LONG_AGO = datetime(2025, 1, 1, tzinfo=UTC)

# Skipped before any database is set up: a transactional test's serialized rollback is not for SQLite.
ON_POSTGRESQL_ONLY = pytest.mark.skipif(
    "postgresql" not in settings.DATABASES["default"]["ENGINE"],
    reason="concurrent writers need PostgreSQL (run with DATABASE_URL=postgres://...)",
)


@pytest.fixture(autouse=True)
def _no_clock_margin(settings):
    """Records written by a test a moment ago are within the run (the margin is tested on its own)."""
    settings.SYNC_CLOCK_MARGIN_SECONDS = 0


@pytest.fixture
def sp_one(po_one):
    return sub_project_for(po_one, agreement_number="PKSF/SMART/SP/S001")


@pytest.fixture
def sp_two(po_two):
    return sub_project_for(po_two, agreement_number="PKSF/SMART/SP/S002")


@pytest.fixture
def me_one(sp_one):
    return EnterpriseFactory(sub_project=sp_one, po_code="ME-S001")


@pytest.fixture
def me_two(sp_two):
    return EnterpriseFactory(sub_project=sp_two, po_code="ME-S001")


def age(queryset, moment: datetime = LONG_AGO) -> None:
    """Make records look changed long ago (an explicit `updated_at` is kept by the trigger)."""
    queryset.update(updated_at=moment)


def ids(response) -> list[int]:
    return [row["id"] for row in response.json()["results"]]


def page_through(api, url: str, params: dict) -> tuple[list[dict], list[dict]]:
    """Follow `next` to the end: (every row, every page's body without its rows)."""
    rows, pages = [], []
    response = api.get(url, params)
    while True:
        assert response.status_code == 200, response.json()
        body = response.json()
        rows.extend(body.pop("results"))
        pages.append(body)
        if not body["next"]:
            return rows, pages
        response = api.get(body["next"])


# --- updated_at on every resource ------------------------------------------------------------------


def test_every_resource_of_a_model_with_updated_at_shows_it_read_only():
    checked = []
    for app in PORTAL_APPS:
        routes = import_module(f"{app}.api.routes")
        for prefix, viewset, _basename in routes.ROUTES:
            serializer_class = getattr(viewset, "serializer_class", None)
            if serializer_class is None or not issubclass(serializer_class, serializers.ModelSerializer):
                continue
            if not any(f.name == "updated_at" for f in serializer_class.Meta.model._meta.concrete_fields):
                continue
            field = serializer_class().fields.get("updated_at")
            assert field is not None, prefix
            assert field.read_only, prefix
            checked.append(prefix)
    assert {"enterprises", "kpi-readings", "adoptions", "attendances", "proposals", "grievances"} <= set(
        checked
    )


@pytest.mark.django_db
def test_every_synced_table_has_its_updated_at_trigger():
    """A model given `updated_at` later must get its trigger too (core.updated_at.KeepUpdatedAt in its
    migration): without it, a QuerySet.update() would change rows a syncing client never sees."""
    from core.updated_at import trigger_name

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
        else:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        triggers = {row[0] for row in cursor.fetchall()}
    tables = [model._meta.db_table for model in tombstones.synced_models()]
    assert len(tables) > 40
    assert [table for table in tables if trigger_name(table) not in triggers] == []


def test_a_client_cannot_set_updated_at(api, po1, me_one):
    response = api.as_user(po1).patch(
        f"/api/v1/enterprises/{me_one.pk}/", {"name": "Renamed Works", "updated_at": "2020-01-01T00:00:00Z"}
    )

    assert response.status_code == 200
    me_one.refresh_from_db()
    assert me_one.updated_at > timezone.now() - timedelta(minutes=1)
    assert sync.parse_timestamp(response.json()["updated_at"], "updated_at") == me_one.updated_at


# --- updated_since -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_updated_since_lists_only_what_changed_on_several_resources(api, po1, me_one, sp_one):
    old_me = EnterpriseFactory(sub_project=sp_one, po_code="ME-S002")
    old_reading = KpiReadingFactory(enterprise=me_one, period=date(2024, 9, 1))
    new_reading = KpiReadingFactory(enterprise=me_one, period=date(2024, 10, 1))
    old_session = TrainingSessionFactory(sub_project=sp_one, po_code="TR-S1")
    new_session = TrainingSessionFactory(sub_project=sp_one, po_code="TR-S2")
    age(Enterprise.objects.filter(pk=old_me.pk))
    age(KpiReading.objects.filter(pk=old_reading.pk))
    age(type(old_session).objects.filter(pk=old_session.pk))
    since = sync.iso(timezone.now() - timedelta(hours=1))
    api.as_user(po1)

    assert ids(api.get("/api/v1/enterprises/", {"updated_since": since})) == [me_one.pk]
    assert ids(api.get("/api/v1/kpi-readings/", {"updated_since": since})) == [new_reading.pk]
    assert ids(api.get("/api/v1/trainings/", {"updated_since": since})) == [new_session.pk]
    # Inclusive: a record changed exactly at that time is listed.
    exactly = api.get("/api/v1/enterprises/", {"updated_since": "2025-01-01T00:00:00Z"})
    assert set(ids(exactly)) == {me_one.pk, old_me.pk}
    # Reference data too, in any timezone notation.
    assert api.get("/api/v1/kpis/", {"updated_since": "2999-01-01T06:00:00+06:00"}).json()["results"] == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    "value",
    ["2031-01-01", "yesterday", "2031-01-01T00:00:00", "2031-13-01T00:00:00Z", "9999-12-31T23:59:59-23:59"],
)
def test_an_updated_since_that_is_not_a_time_with_timezone_is_400_naming_it(api, po1, me_one, value):
    response = api.as_user(po1).get("/api/v1/enterprises/", {"updated_since": value})

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert body["fields"]["updated_since"][0]["code"] == "invalid"


@pytest.mark.django_db
def test_an_unencoded_plus_in_the_timezone_is_read_as_a_plus(api, po1, me_one):
    response = api.as_user(po1).get("/api/v1/enterprises/?updated_since=2020-01-01T06:00:00+06:00")

    assert response.status_code == 200
    assert ids(response) == [me_one.pk]


@pytest.mark.django_db
def test_queryset_updates_and_transitions_move_updated_at(api, pmu, po1, me_one):
    """Changes that never call save() on the record (a bulk update, a decision) are seen by sync."""
    adoption = AdoptionFactory(enterprise=me_one)
    age(Enterprise.objects.filter(pk=me_one.pk))
    age(Adoption.objects.filter(pk=adoption.pk))
    since = sync.iso(timezone.now() - timedelta(seconds=1))
    api.as_user(po1)
    assert ids(api.get("/api/v1/enterprises/", {"updated_since": since})) == []

    Enterprise.objects.filter(pk=me_one.pk).update(name="Renamed by a bulk update")
    api.as_user(pmu).post(f"/api/v1/adoptions/{adoption.pk}/verify/", {"verified_on": "2024-12-20"})

    api.as_user(po1)
    assert ids(api.get("/api/v1/enterprises/", {"updated_since": since})) == [me_one.pk]
    changed = api.get("/api/v1/adoptions/", {"updated_since": since}).json()["results"]
    assert [(row["id"], row["verification"]) for row in changed] == [(adoption.pk, "verified")]


# --- Keyset pages and the watermark -----------------------------------------------------------------


@pytest.mark.django_db
def test_cursor_pages_list_every_record_exactly_once_in_update_order(api, pmu, me_one, me_two):
    readings = [
        KpiReadingFactory(enterprise=enterprise, period=date(2023 + month // 12, month % 12 + 1, 1))
        for enterprise in (me_one, me_two)
        for month in range(12)
    ]
    # Ties on updated_at are ordered by id: a page boundary inside a tie skips and repeats nothing.
    tied = timezone.now() - timedelta(hours=1)
    age(KpiReading.objects.filter(pk__in=[r.pk for r in readings[5:15]]), tied)

    rows, pages = page_through(api.as_user(pmu), "/api/v1/kpi-readings/", {"cursor": "", "page_size": 4})

    assert sorted(row["id"] for row in rows) == sorted(r.pk for r in readings)
    assert len(rows) == len({row["id"] for row in rows}) == 24
    keys = [(row["updated_at"], row["id"]) for row in rows]
    assert [sync.parse_timestamp(u, "x") for u, _ in keys] == sorted(
        sync.parse_timestamp(u, "x") for u, _ in keys
    )
    assert len(pages) == 6
    assert {page["watermark"] for page in pages} == {pages[0]["watermark"]}
    assert all(page["count"] == 24 and page["previous"] is None for page in pages)


@pytest.mark.django_db
def test_a_record_changed_while_paging_comes_in_the_next_run_only(api, pmu, me_one):
    readings = [KpiReadingFactory(enterprise=me_one, period=date(2024, month, 1)) for month in range(1, 7)]
    for offset, reading in enumerate(readings):
        age(KpiReading.objects.filter(pk=reading.pk), LONG_AGO + timedelta(minutes=offset))
    api.as_user(pmu)
    first = api.get("/api/v1/kpi-readings/", {"cursor": "", "page_size": 3}).json()
    assert ids_of(first) == [r.pk for r in readings[:3]]

    # One already listed and one not yet listed change before the second page.
    for reading in (readings[1], readings[4]):
        reading.value = Decimal("999")
        reading.save()
    second = api.get(first["next"]).json()
    rest_of_run = ids_of(second)
    assert rest_of_run == [readings[3].pk, readings[5].pk]
    assert second["next"] is None

    next_run = api.get("/api/v1/kpi-readings/", {"updated_since": second["watermark"]}).json()
    assert sorted(ids_of(next_run)) == sorted([readings[1].pk, readings[4].pk])
    assert {Decimal(row["value"]) for row in next_run["results"]} == {Decimal("999")}


def ids_of(body: dict) -> list[int]:
    return [row["id"] for row in body["results"]]


@pytest.mark.django_db
def test_a_run_stops_at_its_watermark_and_the_next_starts_there(api, pmu, me_one, settings):
    """Changes within the clock margin belong to the next run: consecutive runs never overlap."""
    settings.SYNC_CLOCK_MARGIN_SECONDS = 3600
    recent = KpiReadingFactory(enterprise=me_one, period=date(2024, 1, 1))
    older = KpiReadingFactory(enterprise=me_one, period=date(2024, 2, 1))
    age(KpiReading.objects.filter(pk=older.pk), timezone.now() - timedelta(hours=2))
    api.as_user(pmu)

    run = api.get("/api/v1/kpi-readings/", {"updated_since": sync.iso(LONG_AGO)}).json()
    assert ids_of(run) == [older.pk]
    watermark = sync.parse_timestamp(run["watermark"], "watermark")
    assert (
        timezone.now() - timedelta(hours=1, seconds=30) < watermark < timezone.now() - timedelta(minutes=59)
    )

    settings.SYNC_CLOCK_MARGIN_SECONDS = 0
    assert ids_of(api.get("/api/v1/kpi-readings/", {"updated_since": run["watermark"]}).json()) == [recent.pk]


@pytest.mark.django_db
def test_without_cursor_or_updated_since_lists_keep_their_page_numbers(api, pmu, me_one):
    KpiReadingFactory(enterprise=me_one)

    body = api.as_user(pmu).get("/api/v1/kpi-readings/").json()

    assert set(body) == {"count", "count_capped", "next", "previous", "results"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "eyJ3IjoieWVzdGVyZGF5In0"}, "cursor"),  # {"w":"yesterday"}
        ({"cursor": "", "page": "2"}, "page"),
        ({"updated_since": "2025-01-01T00:00:00Z", "ordering": "period"}, "ordering"),
    ],
)
def test_a_bad_cursor_or_a_page_number_with_it_is_400_naming_the_parameter(
    api, pmu, me_one, params, parameter
):
    KpiReadingFactory(enterprise=me_one)

    response = api.as_user(pmu).get("/api/v1/kpi-readings/", params)

    assert response.status_code == 400
    assert list(response.json()["fields"]) == [parameter]


@pytest.mark.django_db
def test_a_page_number_with_the_lists_own_order_cursor_is_400_naming_page(api, pmu, me_one, me_two):
    """`next` of a numbered page carries a cursor of the list's order: a client adding a page number
    to it is told to follow the links."""
    api.as_user(pmu)
    first = api.get("/api/v1/enterprises/", {"page_size": 1}).json()
    cursor = parse_qs(urlsplit(first["next"]).query)["cursor"][0]

    response = api.get("/api/v1/enterprises/", {"page_size": 1, "cursor": cursor, "page": 2})

    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["page"]
    # The cursor alone is answered.
    assert api.get("/api/v1/enterprises/", {"page_size": 1, "cursor": cursor}).status_code == 200


@pytest.mark.django_db
def test_cursor_pages_keep_the_viewers_scope(api, po1, me_one, me_two):
    KpiReadingFactory(enterprise=me_one)
    KpiReadingFactory(enterprise=me_two)

    rows, _pages = page_through(api.as_user(po1), "/api/v1/kpi-readings/", {"cursor": ""})

    assert [row["enterprise"] for row in rows] == [me_one.pk]


@pytest.mark.django_db
def test_the_watermark_waits_for_the_oldest_open_writer_on_postgresql():
    """A transaction that is writing (it holds a transaction id) may still stamp rows at any time
    after its start: the watermark stays before that start until it ends."""
    if connection.vendor != "postgresql":
        pytest.skip("pg_stat_activity is PostgreSQL's")
    started, release, found = threading.Event(), threading.Event(), {}

    def writer() -> None:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SELECT txid_current(), now()")
                found["start"] = cursor.fetchone()[1]
                started.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=writer)
    thread.start()
    assert started.wait(10)
    time.sleep(0.2)
    try:
        held_back = sync.watermark()
    finally:
        release.set()
        thread.join()

    assert held_back <= found["start"]
    assert sync.watermark() > found["start"]


@pytest.mark.django_db
def test_the_watermark_is_now_less_the_clock_margin(settings):
    settings.SYNC_CLOCK_MARGIN_SECONDS = 2
    before = timezone.now()

    mark = sync.watermark()

    assert before - timedelta(seconds=2) <= mark <= timezone.now() - timedelta(seconds=2)


# --- Conditional GET --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_unchanged_record_is_answered_304_to_its_etag(api, po1, me_one):
    api.as_user(po1)
    first = api.get(f"/api/v1/enterprises/{me_one.pk}/")
    etag = first["ETag"]
    assert etag.startswith('W/"')
    assert {"Authorization", "Cookie"} <= {v.strip() for v in first["Vary"].split(",")}

    again = api.get(f"/api/v1/enterprises/{me_one.pk}/", HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == etag

    Enterprise.objects.filter(pk=me_one.pk).update(name="Renamed Shoe Works")
    changed = api.get(f"/api/v1/enterprises/{me_one.pk}/", HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200
    assert changed["ETag"] != etag


@pytest.mark.django_db
def test_an_unchanged_list_is_answered_304_and_another_viewer_gets_its_own(api, po1, pmu, me_one, me_two):
    api.as_user(po1)
    etag = api.get("/api/v1/enterprises/")["ETag"]

    assert api.get("/api/v1/enterprises/", HTTP_IF_NONE_MATCH=etag).status_code == 304
    assert api.as_user(pmu).get("/api/v1/enterprises/", HTTP_IF_NONE_MATCH=etag).status_code == 200


@pytest.mark.django_db
def test_if_modified_since_is_answered_304_until_the_record_changes(api, po1, me_one):
    changed_at = timezone.now() - timedelta(hours=3)
    age(Enterprise.objects.filter(pk=me_one.pk), changed_at)
    api.as_user(po1)
    first = api.get(f"/api/v1/enterprises/{me_one.pk}/")
    assert first["Last-Modified"] == http_date(changed_at.replace(microsecond=0).timestamp())

    same = api.get(f"/api/v1/enterprises/{me_one.pk}/", HTTP_IF_MODIFIED_SINCE=first["Last-Modified"])
    assert same.status_code == 304
    assert same.content == b""
    earlier = http_date((changed_at - timedelta(minutes=1)).timestamp())
    assert api.get(f"/api/v1/enterprises/{me_one.pk}/", HTTP_IF_MODIFIED_SINCE=earlier).status_code == 200

    Enterprise.objects.filter(pk=me_one.pk).update(name="Renamed Shoe Works")
    after = api.get(f"/api/v1/enterprises/{me_one.pk}/", HTTP_IF_MODIFIED_SINCE=first["Last-Modified"])
    assert after.status_code == 200
    assert after.json()["name"] == "Renamed Shoe Works"


@pytest.mark.django_db
def test_a_record_changed_this_very_second_has_no_last_modified_yet(api, po1, me_one, settings):
    """Whole seconds: a change later in the same second would otherwise be answered 304."""
    settings.SYNC_CLOCK_MARGIN_SECONDS = 5
    response = api.as_user(po1).get(f"/api/v1/enterprises/{me_one.pk}/")

    assert response.status_code == 200
    assert not response.has_header("Last-Modified")
    assert response.has_header("ETag")


@pytest.mark.django_db
def test_refusals_are_never_304(api, po2, me_one):
    api.as_user(po2)
    missing = api.get(f"/api/v1/enterprises/{me_one.pk}/")

    assert missing.status_code == 404
    assert not missing.has_header("ETag")
    assert api.get(f"/api/v1/enterprises/{me_one.pk}/", HTTP_IF_NONE_MATCH="*").status_code == 404


# --- Deletions ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_deleted_reading_is_listed_to_its_po_and_the_programme_but_not_another_po(
    api, po1, po2, pmu, me_one
):
    reading = KpiReadingFactory(enterprise=me_one, period=date(2024, 9, 1))
    api.as_user(po1)
    assert api.delete(f"/api/v1/kpi-readings/{reading.pk}/").status_code == 204

    own = api.get("/api/v1/deletions/", {"resource": "kpi-readings"}).json()
    assert [(row["resource"], row["object_id"], row["partner_organization"]) for row in own["results"]] == [
        ("kpi-readings", reading.pk, "PO-T01")
    ]
    assert own["results"][0]["natural_key"] == {
        "enterprise": me_one.pk,
        "enterprise_code": "ME-S001",
        "kpi": "ELECTRICITY",
        "period": "2024-09-01",
    }
    assert own["watermark"]
    assert api.as_user(pmu).get("/api/v1/deletions/").json()["count"] == 1
    assert api.as_user(po2).get("/api/v1/deletions/").json()["results"] == []


@pytest.mark.django_db
def test_deletions_since_a_time_and_of_one_resource(api, pmu, me_one):
    old, new = (KpiReadingFactory(enterprise=me_one, period=date(2024, m, 1)) for m in (1, 2))
    new_id = new.pk
    old.delete()
    Tombstone.objects.update(deleted_at=timezone.now() - timedelta(days=2))
    new.delete()
    api.as_user(pmu)

    since = sync.iso(timezone.now() - timedelta(days=1))
    listed = api.get("/api/v1/deletions/", {"since": since, "resource": "kpi-readings"}).json()
    assert [row["object_id"] for row in listed["results"]] == [new_id]
    assert api.get("/api/v1/deletions/", {"resource": "enterprises"}).json()["results"] == []
    unknown = api.get("/api/v1/deletions/", {"resource": "readings"})
    assert unknown.status_code == 400
    assert list(unknown.json()["fields"]) == ["resource"]


@pytest.mark.django_db
def test_deletions_older_than_they_are_kept_are_refused_and_pruned(api, pmu, me_one, settings):
    settings.TOMBSTONE_KEEP_DAYS = 30
    KpiReadingFactory(enterprise=me_one).delete()
    KpiReadingFactory(enterprise=me_one, period=date(2024, 2, 1)).delete()
    Tombstone.objects.filter(pk=Tombstone.objects.order_by("pk").first().pk).update(
        deleted_at=timezone.now() - timedelta(days=31)
    )

    too_old = api.as_user(pmu).get(
        "/api/v1/deletions/", {"since": sync.iso(timezone.now() - timedelta(days=40))}
    )
    assert too_old.status_code == 400
    assert too_old.json()["fields"]["since"][0]["code"] == "expired"

    assert tombstones.prune() == 1
    assert Tombstone.objects.count() == 1


@pytest.mark.django_db
def test_a_deleted_enterprise_leaves_its_po_code_and_a_loan_both_resources(me_one):
    from tests.enterprises.factories import FinancialSupportFactory

    support = FinancialSupportFactory(enterprise=me_one)
    support_id, me_id = support.pk, me_one.pk
    support.delete()
    me_one.delete()

    found = {(t.resource, t.object_id): t for t in Tombstone.objects.all()}
    assert set(found) == {
        ("financial-supports", support_id),
        ("loans", support_id),
        ("enterprises", me_id),
    }
    assert found["enterprises", me_id].natural_key == {
        "partner_organization": "PO-T01",
        "po_code": "ME-S001",
    }
    assert {t.partner_organization.code for t in found.values()} == {"PO-T01"}


@pytest.mark.django_db
def test_a_rolled_back_deletion_leaves_no_tombstone(me_one):
    reading = KpiReadingFactory(enterprise=me_one)

    def delete_then_fail() -> None:
        with transaction.atomic():
            reading.delete()
            raise RuntimeError

    with pytest.raises(RuntimeError):
        delete_then_fail()

    assert not Tombstone.objects.exists()


@pytest.mark.django_db
def test_deleted_reference_data_is_listed_to_whoever_may_list_it(api, po1, pmu, tec1):
    """A catalogue is no PO's: every PO's staff see its deletions; TEC members, who may not read the
    training catalogue, do not."""
    from enterprises.models import TrainingModule

    module = TrainingModule.objects.create(code="TMP-99", name="Withdrawn module")
    module_id = module.pk
    module.delete()

    for user in (po1, pmu):
        rows = api.as_user(user).get("/api/v1/deletions/", {"resource": "training-modules"}).json()["results"]
        assert [(row["object_id"], row["natural_key"], row["partner_organization"]) for row in rows] == [
            (module_id, {"code": "TMP-99"}, None)
        ]
    assert api.as_user(tec1).get("/api/v1/deletions/").json()["results"] == []


@pytest.mark.django_db
def test_deletions_of_resources_one_may_not_list_are_not_listed(api, tec1, me_one, pmu):
    KpiReadingFactory(enterprise=me_one).delete()

    assert api.as_user(tec1).get("/api/v1/deletions/").json()["results"] == []


@pytest.mark.django_db
def test_deletions_require_signing_in(api):
    assert api.get("/api/v1/deletions/").status_code == 401


# --- The schema says so ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def schema(django_db_blocker) -> dict:
    from drf_spectacular.generators import SchemaGenerator

    with django_db_blocker.unblock():
        return SchemaGenerator().get_schema(request=None, public=True)


def parameter_names(operation: dict) -> set[str]:
    return {p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"}


def test_the_schema_documents_updated_since_and_cursor_on_lists_only(schema):
    paths = schema["paths"]
    for path in (
        "/api/v1/enterprises/",
        "/api/v1/kpi-readings/",
        "/api/v1/adoptions/",
        "/api/v1/attendances/",
    ):
        assert {"updated_since", "cursor", "page", "page_size"} <= parameter_names(paths[path]["get"]), path
    detail = paths["/api/v1/enterprises/{id}/"]["get"]
    assert not {"updated_since", "cursor"} & parameter_names(detail)
    assert not {"updated_since", "cursor"} & parameter_names(
        paths["/api/v1/recp-profiles/{id}/history/"]["get"]
    )
    assert "watermark" in schema["components"]["schemas"]["PaginatedEnterpriseList"]["properties"]
    deletions = paths["/api/v1/deletions/"]["get"]
    assert {"since", "resource", "cursor", "page_size"} == parameter_names(deletions)
    assert "watermark" in schema["components"]["schemas"]["PaginatedDeletionList"]["required"]


def test_the_schema_documents_etag_last_modified_and_304(schema):
    detail = schema["paths"]["/api/v1/enterprises/{id}/"]["get"]["responses"]
    listing = schema["paths"]["/api/v1/enterprises/"]["get"]["responses"]

    assert set(detail["200"]["headers"]) == {"ETag", "Last-Modified"}
    assert set(listing["200"]["headers"]) == {"ETag"}
    assert detail["304"] == listing["304"] == {"$ref": "#/components/responses/NotModified"}
    assert "304" not in schema["paths"]["/api/v1/enterprises/"]["post"]["responses"]


# --- Concurrent writes (PostgreSQL) ------------------------------------------------------------------


def changed_twice(seen: set[tuple[int, str]]) -> int:
    """Records listed in more than one version."""
    return len(seen) - len({pk for pk, _ in seen})


def _open_transactions() -> list[tuple]:
    """The other transactions holding an id in this database: what holds a watermark back."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, state, xact_start, left(query, 80) FROM pg_stat_activity "
            "WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid() AND datname = current_database()"
        )
        return cursor.fetchall()


@pytest.mark.slow
@ON_POSTGRESQL_ONLY
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_sync_loop_sees_every_change_once_while_others_write(api, settings):
    """Writers create, save, bulk-update and delete readings, some holding their transaction open
    after stamping rows; a client pages with `updated_since` + cursor, then continues from each run's
    watermark, applying deletions. It never sees a version of a record twice, and ends with exactly
    the server's records."""
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL (run with DATABASE_URL=postgres://...)")
    settings.SYNC_CLOCK_MARGIN_SECONDS = 2
    from tests.factories import PartnerOrganizationFactory, district

    po = PartnerOrganizationFactory(code="PO-SYNC", districts=[district("Kishoreganj")])
    enterprises = [
        EnterpriseFactory(
            sub_project=sub_project_for(po, agreement_number="PKSF/SMART/SP/SYNC"), po_code="ME-0"
        )
    ]
    enterprises += [
        EnterpriseFactory(sub_project=enterprises[0].sub_project, po_code=f"ME-{n}") for n in range(1, 6)
    ]
    electricity = kpi()
    for n in range(300):
        KpiReadingFactory(
            enterprise=enterprises[n % 6], kpi=electricity, period=date(2000 + n // 12, n % 12 + 1, 1)
        )
    client = api.as_user(make_user("sync-pmu", Role.PMU_OFFICER))

    stop = threading.Event()
    errors: list[BaseException] = []
    writes = [0]  # transactions the writers committed (a count shared by the threads; += is enough here)

    def writer(number: int) -> None:
        rng = random.Random(number)
        made = 0
        try:
            while not stop.is_set():
                choice = rng.random()
                with transaction.atomic():
                    existing = list(KpiReading.objects.order_by("?").values_list("pk", flat=True)[:3])
                    if choice < 0.35:
                        made += 1
                        KpiReading.objects.create(
                            enterprise=enterprises[rng.randrange(6)],
                            kpi=electricity,
                            period=date(2100 + number * 100 + made // 12, made % 12 + 1, 1),
                            value=Decimal(rng.randrange(1000)),
                        )
                    elif choice < 0.6 and existing:
                        reading = KpiReading.objects.select_for_update().filter(pk=existing[0]).first()
                        if reading is not None:
                            reading.value = Decimal(rng.randrange(1000))
                            reading.save()
                    elif choice < 0.85:
                        KpiReading.objects.filter(pk__in=existing).update(value=Decimal(rng.randrange(1000)))
                    elif existing:
                        KpiReading.objects.filter(pk=existing[-1]).delete()
                    # Some transactions stay open a while after stamping their rows.
                    time.sleep(rng.choice([0, 0, 0.01, 0.05, 0.3]))
                writes[0] += 1
        except Exception as exc:  # noqa: BLE001 (reported by the test)
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()

    local: dict[int, str] = {}
    seen: set[tuple[int, str]] = set()
    since = deletions_since = None
    runs = 0
    stopped_at = None
    deadline = time.monotonic() + 180
    while True:
        runs += 1
        params = {"page_size": 40, **({"updated_since": since} if since else {"cursor": ""})}
        rows, pages = page_through(client, "/api/v1/kpi-readings/", params)
        for row in rows:
            version = (row["id"], row["updated_at"])
            assert version not in seen, f"listed twice: {version}"
            seen.add(version)
            local[row["id"]] = row["updated_at"]
        since = pages[-1]["watermark"]
        removed, removed_pages = page_through(
            client,
            "/api/v1/deletions/",
            {
                "resource": "kpi-readings",
                "page_size": 40,
                **({"since": deletions_since} if deletions_since else {}),
            },
        )
        for tombstone in removed:
            local.pop(tombstone["object_id"], None)
        deletions_since = removed_pages[-1]["watermark"]
        if runs == 1:
            writes_after_first_run = writes[0]
        # The writers stop after 8 runs, and not before they have written while the client synced and
        # the client has seen a record change (on a loaded machine the writers may be slow to start,
        # and the watermark waits for any transaction open in this database, another test's too).
        written_meanwhile = writes[0] - writes_after_first_run
        if stopped_at is None and runs >= 8 and written_meanwhile >= 40 and changed_twice(seen):
            stop.set()
            for thread in threads:
                thread.join()
            stopped_at = timezone.now()
        caught_up = (
            stopped_at is not None
            and min(sync.parse_timestamp(since, "w"), sync.parse_timestamp(deletions_since, "w")) > stopped_at
        )
        if caught_up and not rows and not removed:
            break
        assert time.monotonic() < deadline, (
            f"the sync loop did not catch up: {runs} runs, {writes[0]} writes, watermark {since}; "
            f"open transactions: {_open_transactions()}"
        )
        time.sleep(0.2)

    assert not errors, errors
    server = {
        pk: sync.iso(updated_at) for pk, updated_at in KpiReading.objects.values_list("pk", "updated_at")
    }
    assert {pk: sync.parse_timestamp(u, "u") for pk, u in local.items()} == {
        pk: sync.parse_timestamp(u, "u") for pk, u in server.items()
    }
    assert changed_twice(seen), "no record changed while the client synced"
    assert Tombstone.objects.exists(), "no record was deleted while the client synced"
