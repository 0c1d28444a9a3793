"""The commit of a checked import writes the rows it checked (validated once), through COPY on
PostgreSQL: the same rows, the same history, the same duplicate flags; all or nothing, idempotent."""

from __future__ import annotations

import io

import pytest

from enterprises.imports import get_importer, import_file
from enterprises.models import DuplicateSuspect, Enterprise, KpiReading
from subprojects.models import SubProject, SubProjectStatus
from tests.enterprises.test_imports import as_csv, enterprise_row, reading_row, run

pytestmark = pytest.mark.django_db

HISTORY_VALUES = ["id", "po_code", "name", "phone", "sub_project_id", "upazila_id", "climate_vulnerable"]


def test_a_committed_file_is_checked_once_when_nothing_changed_meanwhile(sp_one, po_one, po1, monkeypatch):
    checked = []
    importer_class = type(get_importer("enterprises", partner_organization=po_one))
    plan_chunk = importer_class.plan_chunk

    def counting(self, rows, seen, report):
        checked.extend(row.number for row in rows)
        return plan_chunk(self, rows, seen, report)

    monkeypatch.setattr(importer_class, "plan_chunk", counting)
    report = run("enterprises", as_csv([enterprise_row(i, sp_one) for i in range(1, 6)]), po_one, po1)

    assert report.committed
    assert report.created == 5
    assert sorted(checked) == [2, 3, 4, 5, 6]


def test_created_rows_have_their_history_with_the_importing_user(sp_one, po_one, po1):
    report = run("enterprises", as_csv([enterprise_row(i, sp_one) for i in range(1, 4)]), po_one, po1)

    assert report.committed
    for me in Enterprise.objects.filter(partner_organization=po_one):
        [record] = me.history.all()
        assert record.history_type == "+"
        assert record.history_user_id == po1.pk
        assert record.history_change_reason is None
        assert [getattr(record, name) for name in HISTORY_VALUES] == [
            getattr(me, name) for name in HISTORY_VALUES
        ]
        assert me.updated_at is not None
        assert me.name_key
        assert me.wage_employed_male_at_registration == 2


def test_a_bad_row_is_named_and_nothing_is_written_then_a_reimport_adds_nothing(sp_one, po_one, po1):
    rows = [enterprise_row(i, sp_one) for i in range(1, 2_501)]
    rows[1_200]["registered_on"] = "31/02/2024"

    refused = run("enterprises", as_csv(rows), po_one, po1)

    assert not refused.committed
    assert [(e.row, e.column) for e in refused.errors] == [(1_202, "registered_on")]
    assert not Enterprise.objects.exists()

    rows[1_200]["registered_on"] = "2024-02-28"
    assert run("enterprises", as_csv(rows), po_one, po1).created == 2_500
    again = run("enterprises", as_csv(rows), po_one, po1)

    assert (again.committed, again.created, again.updated, again.unchanged) == (True, 0, 0, 2_500)
    assert Enterprise.objects.count() == 2_500
    assert Enterprise.history.model.objects.count() == 2_500


def test_possible_duplicates_are_flagged_as_before(sp_one, po_one, po1, me_two):
    rows = [
        enterprise_row(1, sp_one, phone="01811000002"),  # me_two's phone, in another PO
        enterprise_row(2, sp_one, name="Twin Works", phone=""),
        enterprise_row(3, sp_one, name="Twin Works", phone=""),  # same name and upazila as row 2
    ]

    report = run("enterprises", as_csv(rows), po_one, po1)

    assert report.committed
    assert report.duplicates == 2
    mes = {me.po_code: me.pk for me in Enterprise.objects.filter(partner_organization=po_one)}
    pairs = {
        (s.enterprise_id, s.matched_enterprise_id, s.cross_po, s.same_phone, s.same_name_and_upazila)
        for s in DuplicateSuspect.objects.all()
    }
    assert pairs == {
        (mes["ME-00001"], me_two.pk, True, True, False),
        (mes["ME-00003"], mes["ME-00002"], False, False, True),
    }


def test_a_key_stored_between_the_check_and_the_writing_makes_the_row_an_update(sp_one, po_one, po1):
    rows = [enterprise_row(i, sp_one) for i in range(1, 4)]

    def store_one_meanwhile(phase: str, done: int, total: int | None) -> None:
        if phase == "writing" and done == 0:
            run("enterprises", as_csv([{**rows[1], "name": "Stored meanwhile"}]), po_one, po1)

    report = import_file(
        "enterprises",
        partner_organization=po_one,
        user=po1,
        open_file=lambda: io.BytesIO(as_csv(rows)),
        file_format="csv",
        commit=True,
        progress=store_one_meanwhile,
    )

    assert report.committed
    assert (report.created, report.updated) == (2, 1)
    assert Enterprise.objects.get(po_code="ME-00002").name == "Shoe Works 2"
    assert Enterprise.objects.count() == 3


def test_kpi_readings_are_written_once_checked_and_a_sub_project_closed_meanwhile_refuses_them(
    me_one, po_one, po1
):
    rows = [reading_row(me_one.po_code, period=f"2024-{m:02d}") for m in range(1, 7)]

    def close_the_sub_project(phase: str, done: int, total: int | None) -> None:
        if phase == "writing" and done == 0:
            SubProject.objects.filter(pk=me_one.sub_project_id).update(status=SubProjectStatus.SUSPENDED)

    refused = import_file(
        "kpi-readings",
        partner_organization=po_one,
        user=po1,
        open_file=lambda: io.BytesIO(as_csv(rows)),
        file_format="csv",
        commit=True,
        progress=close_the_sub_project,
    )

    assert not refused.committed
    assert {(e.row, e.column) for e in refused.errors} == {(row, "enterprise_code") for row in range(2, 8)}
    assert not KpiReading.objects.exists()

    SubProject.objects.filter(pk=me_one.sub_project_id).update(status=SubProjectStatus.ACTIVE)
    report = run("kpi-readings", as_csv(rows), po_one, po1)

    assert report.committed
    assert report.created == 6
    assert sorted(KpiReading.objects.values_list("period__month", flat=True)) == [1, 2, 3, 4, 5, 6]
    assert set(KpiReading.objects.values_list("created_by_id", flat=True)) == {po1.pk}
    assert run("kpi-readings", as_csv(rows), po_one, po1).unchanged == 6
