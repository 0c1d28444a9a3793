"""Bulk writes (`POST /api/v1/<resource>/bulk/`) and the import templates through the API: all or
nothing, the import's rules, every problem named by index, the job above the synchronous size."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from enterprises.models import (
    Attendance,
    Enterprise,
    FinancialSupport,
    ImportJob,
    KpiReading,
    TrainingSession,
)
from tests.enterprises.factories import EnterpriseFactory, KpiReadingFactory, TrainingSessionFactory
from tests.enterprises.test_api import NEW_ME

pytestmark = pytest.mark.django_db

KPIS = ["ELECTRICITY", "WATER", "SOLID_WASTE", "WASTE_RECYCLED", "PM25", "COD", "BIOMASS_FUEL", "DIESEL"]
# 25 months from the programme start (2023-08).
MONTHS = [f"{2023 + (7 + m) // 12}-{(7 + m) % 12 + 1:02d}-01" for m in range(25)]


def reading(me, kpi: str = "ELECTRICITY", period: str = "2024-09-01", **changes) -> dict:
    return {
        "enterprise": me.pk,
        "kpi": kpi,
        "period": period,
        "value": "420",
        "is_baseline": False,
        "source": "meter",
        **changes,
    }


def bulk(api, resource: str, items: list, upsert: bool = False):
    return api.post(f"/api/v1/{resource}/bulk/", {"items": items, "upsert": upsert}, format="json")


# --- Synchronous: written all together, each item's outcome ---------------------------------------


def test_a_bulk_of_readings_is_written_and_each_item_gets_its_id(api, po1, me_one):
    items = [reading(me_one, period=month) for month in MONTHS[:3]]

    response = bulk(api.as_user(po1), "kpi-readings", items)

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["created"], body["updated"], body["unchanged"]) == (3, 0, 0)
    stored = {r.period.isoformat(): r.pk for r in KpiReading.objects.filter(enterprise=me_one)}
    assert body["results"] == [
        {"index": index, "id": stored[month], "status": "created"} for index, month in enumerate(MONTHS[:3])
    ]
    assert KpiReading.objects.get(period=date(2023, 8, 1)).created_by == po1


def test_upsert_updates_stored_readings_and_leaves_equal_ones_unchanged(api, po1, me_one):
    api.as_user(po1)
    first = bulk(api, "kpi-readings", [reading(me_one, period=month) for month in MONTHS[:2]])

    again = bulk(
        api,
        "kpi-readings",
        [reading(me_one, period=MONTHS[0]), reading(me_one, period=MONTHS[1], value="455.5")],
        upsert=True,
    )

    assert again.status_code == 200, again.json()
    assert [result["status"] for result in again.json()["results"]] == ["unchanged", "updated"]
    assert [r["id"] for r in again.json()["results"]] == [r["id"] for r in first.json()["results"]]
    assert KpiReading.objects.get(period=date(2023, 9, 1)).value == Decimal("455.5")
    assert KpiReading.objects.count() == 2


def test_without_upsert_a_stored_key_is_refused_with_its_id_and_nothing_is_written(api, po1, me_one):
    stored = KpiReadingFactory(enterprise=me_one, period=date(2024, 9, 1))

    response = bulk(
        api.as_user(po1), "kpi-readings", [reading(me_one, period="2024-10-01"), reading(me_one, value="1")]
    )

    assert response.status_code == 400
    assert response.json()["items"] == [
        {
            "index": 1,
            "field": "period",
            "code": "unique",
            "message": response.json()["items"][0]["message"],
            "existing_id": stored.pk,
        }
    ]
    # The message says which stored reading, and how to update it instead.
    assert f"It has the id {stored.pk}" in response.json()["items"][0]["message"]
    assert list(KpiReading.objects.values_list("pk", flat=True)) == [stored.pk]


def test_each_problem_is_named_by_index_field_and_code(api, po1, me_one):
    items = [
        reading(me_one, period=MONTHS[0]),
        reading(me_one, period=MONTHS[1], value="-5"),  # below the KPI's range
        {k: v for k, v in reading(me_one, period=MONTHS[2]).items() if k != "source"},
        reading(me_one, period=MONTHS[0]),  # the same key as item 0
        reading(me_one, period=MONTHS[3], colour="blue"),
        "not an object",
        reading(me_one, period=MONTHS[4], kpi="NOISE"),
    ]

    response = bulk(api.as_user(po1), "kpi-readings", items)

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    found = {(error["index"], error["field"], error["code"]) for error in body["items"]}
    assert found == {
        (1, "value", "invalid"),
        (2, "source", "required"),
        (3, "period", "unique"),
        (4, "colour", "unknown_field"),
        (5, "non_field_errors", "invalid"),
        (6, "kpi", "invalid"),
    }
    assert not KpiReading.objects.exists()


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        (["not", "an", "object"], "non_field_errors", "invalid"),
        ({"items": [], "upsert": False}, "items", "empty"),
        ({"upsert": False}, "items", "required"),
        ({"items": "many", "upsert": False}, "items", "not_a_list"),
        ({"items": [{}], "upsert": "yes"}, "upsert", "invalid"),
        ({"items": [{}], "colour": "blue"}, "colour", "unknown_field"),
    ],
    ids=["not-an-object", "empty", "no-items", "items-not-a-list", "upsert-not-a-boolean", "unknown-field"],
)
def test_a_request_that_is_not_a_bulk_is_refused_naming_the_field(api, po1, me_one, body, field, code):
    response = api.as_user(po1).post("/api/v1/kpi-readings/bulk/", body, format="json")

    assert response.status_code == 400
    assert [error["code"] for error in response.json()["fields"][field]] == [code]
    assert not KpiReading.objects.exists()


def test_an_item_naming_its_enterprise_badly_is_refused_by_index(api, po1, me_one, me_two):
    items = [
        reading(me_one, period=MONTHS[0]),
        reading(me_one, period=MONTHS[1], enterprise="forty-two"),  # not an id
        # The id and the code name two different enterprises.
        {**reading(me_one, period=MONTHS[2]), "enterprise_code": "ME-0002"},
        reading(me_one, period=MONTHS[3], source="meter\x00"),
    ]

    response = bulk(api.as_user(po1), "kpi-readings", items)

    assert response.status_code == 400
    found = {(error["index"], error["field"], error["code"]) for error in response.json()["items"]}
    assert found == {
        (1, "enterprise", "incorrect_type"),
        (2, "enterprise_code", "invalid"),
        (3, "source", "null_characters_not_allowed"),
    }
    assert not KpiReading.objects.exists()


def test_another_pos_enterprise_is_refused_exactly_like_a_missing_one(api, po1, me_one, me_two):
    missing = Enterprise.objects.order_by("-pk").first().pk + 100

    response = bulk(
        api.as_user(po1),
        "kpi-readings",
        [reading(me_one), reading(me_two), reading(me_one, enterprise=missing)],
    )

    assert response.status_code == 400
    other, absent = response.json()["items"]
    assert (other["index"], other["field"], other["code"]) == (1, "enterprise", "does_not_exist")
    assert (absent["index"], absent["code"]) == (2, "does_not_exist")
    assert other["message"].replace(str(me_two.pk), "?") == absent["message"].replace(str(missing), "?")
    assert me_two.name not in response.content.decode()
    assert not KpiReading.objects.exists()


def test_an_enterprise_may_be_named_by_its_me_code(api, po1, me_one):
    item = {k: v for k, v in reading(me_one).items() if k != "enterprise"} | {"enterprise_code": "ME-0001"}

    response = bulk(api.as_user(po1), "kpi-readings", [item])

    assert response.status_code == 200, response.json()
    assert KpiReading.objects.get().enterprise == me_one


@pytest.mark.parametrize("persona", ["tec1", "pmu", "wb", "verifier"])
def test_roles_that_do_not_enter_field_data_are_refused(api, request, persona, me_one):
    response = bulk(api.as_user(request.getfixturevalue(persona)), "kpi-readings", [reading(me_one)])

    assert response.status_code == 403
    assert not KpiReading.objects.exists()


def test_another_pos_staff_write_nothing_into_our_enterprises(api, po2, me_one):
    response = bulk(api.as_user(po2), "kpi-readings", [reading(me_one)], upsert=True)

    assert response.status_code == 400
    assert response.json()["items"][0]["code"] == "does_not_exist"
    assert not KpiReading.objects.exists()


def test_the_request_itself_is_checked(api, po1, me_one, settings):
    settings.BULK_MAX_ITEMS = 3
    api.as_user(po1)

    too_many = bulk(api, "kpi-readings", [reading(me_one, period=month) for month in MONTHS[:4]])
    not_a_list = api.post("/api/v1/kpi-readings/bulk/", {"items": {"0": 1}, "upsert": "yes"}, format="json")

    assert too_many.status_code == 400
    assert too_many.json()["fields"]["items"][0]["code"] == "max_length"
    assert not_a_list.status_code == 400
    assert set(not_a_list.json()["fields"]) == {"items", "upsert"}
    assert not KpiReading.objects.exists()


def test_enterprises_trainings_and_attendance_in_bulk(api, po1, sp_one, me_one):
    api.as_user(po1)
    enterprises = bulk(
        api,
        "enterprises",
        [
            {**NEW_ME, "sub_project": sp_one.pk},
            {
                **NEW_ME,
                "po_code": "ME-API-2",
                "phone": "01712 000 998",
                "sub_project": sp_one.agreement_number,
            },
        ],
    )
    sessions = bulk(
        api,
        "trainings",
        [
            {
                "po_code": "TR-2024-015",
                "sub_project": sp_one.pk,
                "module": "cv-01",
                "held_on": "2024-10-12",
                "place": "Bhairab CSF training room",
            }
        ],
    )
    session = TrainingSession.objects.get(po_code="TR-2024-015")
    attendances = bulk(
        api,
        "attendances",
        [
            {"session": session.pk, "enterprise": me_one.pk, "pre_test_score": "40", "post_test_score": "70"},
            {"session_code": "TR-2024-015", "enterprise_code": "ME-API-2", "post_test_score": 55},
        ],
    )
    supports = bulk(
        api,
        "financial-supports",
        [
            {
                "enterprise_code": "ME-API-1",
                "kind": "loan",
                "amount": "150000.00",
                "financier": "world_bank",
                "disbursed_on": "2024-10-01",
            }
        ],
    )

    for response in (enterprises, sessions, attendances, supports):
        assert response.status_code == 200, response.json()
    assert Enterprise.objects.get(po_code="ME-API-2").phone == "+8801712000998"
    assert Enterprise.objects.get(po_code="ME-API-1").history.count() == 1
    assert session.module.code == "CV-01"
    assert Attendance.objects.filter(session=session).count() == 2
    assert FinancialSupport.objects.get().enterprise.po_code == "ME-API-1"


def test_an_enterprise_bulk_names_a_repeated_me_code_and_a_foreign_sub_project(api, po1, sp_one, sp_two):
    response = bulk(
        api.as_user(po1),
        "enterprises",
        [
            {**NEW_ME, "sub_project": sp_one.pk},
            {**NEW_ME, "sub_project": sp_one.pk, "phone": ""},
            {**NEW_ME, "po_code": "ME-API-3", "sub_project": sp_two.pk},
        ],
    )

    assert response.status_code == 400
    found = {(error["index"], error["field"], error["code"]) for error in response.json()["items"]}
    assert found == {(1, "po_code", "unique"), (2, "sub_project", "does_not_exist")}
    assert not Enterprise.objects.exists()


# --- Large requests: a job ------------------------------------------------------------------------


def test_above_the_synchronous_size_a_job_writes_the_items(api, po1, me_one, settings):
    settings.BULK_SYNC_MAX_ITEMS = 2
    items = [reading(me_one, period=month) for month in MONTHS[:3]]

    response = bulk(api.as_user(po1), "kpi-readings", items)

    assert response.status_code == 202, response.json()
    url = response.json()["status_url"]
    assert response["Location"] == url
    job = api.get(url)  # tasks run in-process in the tests: the job is done
    assert job.status_code == 200
    assert (job.json()["status"], job.json()["created_count"], job.json()["kind"]) == (
        "done",
        3,
        "kpi-readings",
    )
    assert KpiReading.objects.filter(enterprise=me_one).count() == 3
    stored = ImportJob.objects.get()
    assert (stored.created_by, stored.committed_by) == (po1, po1)


def test_a_large_request_with_a_bad_item_is_refused_at_once(api, po1, me_one, settings):
    settings.BULK_SYNC_MAX_ITEMS = 2
    items = [reading(me_one, period=month) for month in MONTHS[:3]]
    items[2]["value"] = "a lot"

    response = bulk(api.as_user(po1), "kpi-readings", items)

    assert response.status_code == 400
    assert [(e["index"], e["field"]) for e in response.json()["items"]] == [(2, "value")]
    assert not ImportJob.objects.exists()
    assert not KpiReading.objects.exists()


# --- 10,000 readings ------------------------------------------------------------------------------


@pytest.mark.slow
def test_ten_thousand_readings_pushed_twice_leave_ten_thousand_rows(api, po1, sp_one, settings):
    settings.BULK_SYNC_MAX_ITEMS = 10_000
    enterprises = [EnterpriseFactory(sub_project=sp_one) for _ in range(50)]
    items = [
        reading(me, kpi=kpi, period=month, value=str(100 + index % 50))
        for index, (me, kpi, month) in enumerate(
            (me, kpi, month) for me in enterprises for kpi in KPIS for month in MONTHS
        )
    ]
    assert len(items) == 10_000
    api.as_user(po1)

    broken = [*items[:5002], {**items[5002], "value": "-1"}, *items[5003:]]
    refused = bulk(api, "kpi-readings", broken, upsert=True)
    first = bulk(api, "kpi-readings", items, upsert=True)
    second = bulk(api, "kpi-readings", items, upsert=True)

    assert refused.status_code == 400
    assert [(e["index"], e["field"]) for e in refused.json()["items"]] == [(5002, "value")]
    assert first.status_code == 200, first.json()
    assert first.json()["created"] == 10_000
    assert second.status_code == 200
    assert (second.json()["unchanged"], second.json()["created"]) == (10_000, 0)
    assert [r["id"] for r in second.json()["results"]] == [r["id"] for r in first.json()["results"]]
    assert KpiReading.objects.count() == 10_000


# --- Templates ------------------------------------------------------------------------------------


def test_the_templates_list_every_kind_with_its_columns(api, po1):
    response = api.as_user(po1).get("/api/v1/import-templates/")

    assert response.status_code == 200
    kinds = {entry["kind"]: entry for entry in response.json()}
    assert {"enterprises", "kpi-readings", "financial-supports", "trainings", "attendances"} <= set(kinds)
    columns = {column["name"]: column for column in kinds["kpi-readings"]["columns"]}
    assert list(columns) == ["enterprise_code", "kpi_code", "period", "value", "is_baseline", "source"]
    assert columns["kpi_code"]["type"] == "reference"
    assert "ELECTRICITY" in columns["kpi_code"]["allowed_values"]
    assert columns["kpi_code"]["api_field"] == "kpi"
    assert columns["source"]["allowed_values"] == ["meter", "measurement", "estimate"]
    assert (columns["period"]["type"], columns["period"]["required"]) == ("month", True)
    assert kinds["kpi-readings"]["bulk_resource"] == "kpi-readings"
    assert kinds["adoptions"]["bulk_resource"] is None


def test_the_template_files_are_the_pages_ones(api, po1, sp_one, client):
    api.as_user(po1)

    csv_file = api.get("/api/v1/import-templates/kpi-readings/file/", {"file_format": "csv"})
    xlsx_file = api.get("/api/v1/import-templates/enterprises/file/", {"file_format": "xlsx"})
    unknown = api.get("/api/v1/import-templates/receipts/file/")

    assert csv_file.status_code == 200
    assert csv_file["Content-Type"].startswith("text/csv")
    header = csv_file.content.decode("utf-8-sig").strip()
    assert header == "enterprise_code,kpi_code,period,value,is_baseline,source"
    client.force_login(po1)
    assert client.get(reverse("enterprises:import-template", args=["kpi-readings", "csv"])).content == (
        csv_file.content
    )
    workbook = load_workbook(io.BytesIO(xlsx_file.content))
    assert workbook.sheetnames[0] == "enterprises"
    sub_projects = [row[0] for row in workbook["sub_project"].iter_rows(min_row=2, values_only=True)]
    assert sub_projects == [sp_one.agreement_number]
    assert unknown.status_code == 404


def test_templates_are_refused_to_those_who_read_no_field_data(api, tec1):
    assert api.as_user(tec1).get("/api/v1/import-templates/").status_code == 403
    assert api.get("/api/v1/import-templates/kpi-readings/file/").status_code == 403


def test_trainings_can_be_found_after_a_bulk_by_session_code(api, po1, sp_one):
    wanted = TrainingSessionFactory(sub_project=sp_one, po_code="TR-1")
    TrainingSessionFactory(sub_project=sp_one, po_code="TR-2")  # the filter must leave it out

    response = api.as_user(po1).get("/api/v1/trainings/", {"po_code": "TR-1"})

    assert response.status_code == 200
    assert response.json()["count"] == 1
    assert [row["id"] for row in response.json()["results"]] == [wanted.pk]
