"""Spreadsheet imports: every row checked, all or nothing, idempotent, CSV and XLSX alike."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from django.apps import apps as django_apps
from django.contrib.contenttypes.models import ContentType
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from openpyxl import Workbook, load_workbook

from enterprises import services
from enterprises.imports import (
    file_format_of,
    get_importer,
    import_file,
    template_csv,
    template_xlsx,
)
from enterprises.models import (
    Adoption,
    Attendance,
    CommonServiceFacility,
    Enterprise,
    FinancialSupport,
    Kpi,
    KpiReading,
    TrainingModule,
    TrainingSession,
)
from subprojects.models import SubProject, SubProjectStatus
from tests.enterprises.factories import (
    AdoptionFactory,
    EnterpriseFactory,
    KpiReadingFactory,
    TrainingSessionFactory,
)

pytestmark = pytest.mark.django_db

HEADER = template_csv("enterprises").decode("utf-8-sig").strip().split(",")


def enterprise_row(index: int, sp, **changes) -> dict[str, str]:
    row = {
        "po_code": f"ME-{index:05d}",
        "sub_project": sp.agreement_number,
        "name": f"Shoe Works {index}",
        "owner_name": f"Owner {index}",
        "owner_gender": "female" if index % 3 == 0 else "male",
        "phone": f"017{index:08d}",
        "is_formal": "no",
        "trade_licence_number": "",
        "sub_sector": "leather-products",
        "division": "",
        "district": "Kishoreganj",
        "upazila": "Bhairab",
        "latitude": "24.052",
        "longitude": "90.976",
        "climate_vulnerable_override": "",
        "self_employed": "1",
        "wage_employed_male": "2",
        "wage_employed_female": "1",
        "year_started": "2016",
        "registered_on": "2024-09-01",
    }
    row.update(changes)
    return row


def support_row(enterprise_code: str, **changes) -> dict[str, str]:
    row = {
        "enterprise_code": enterprise_code,
        "kind": "loan",
        "amount": "150000",
        "financier": "world_bank",
        "disbursed_on": "2024-10-01",
        "reference": "",
    }
    return {**row, **changes}


def session_row(code: str, sp, **changes) -> dict[str, str]:
    row = {
        "session_code": code,
        "sub_project": sp.agreement_number,
        "module": "CV-01",
        "topic": "Climate risks",
        "held_on": "2024-10-12",
        "place": "Bhairab",
        "district": "Kishoreganj",
        "facilitator": "",
    }
    return {**row, **changes}


def attendance_row(session_code: str, enterprise_code: str, **changes) -> dict[str, str]:
    row = {
        "session_code": session_code,
        "enterprise_code": enterprise_code,
        "pre_test_score": "40",
        "post_test_score": "72.5",
    }
    return {**row, **changes}


def adoption_row(enterprise_code: str, **changes) -> dict[str, str]:
    row = {
        "enterprise_code": enterprise_code,
        "practice_code": "aq-04",
        "adopted_on": "2024-11-05",
        "seen_in_use_on": "",
        "latitude": "",
        "longitude": "",
        "note": "",
    }
    return {**row, **changes}


def reading_row(enterprise_code: str, **changes) -> dict[str, str]:
    row = {
        "enterprise_code": enterprise_code,
        "kpi_code": "ELECTRICITY",
        "period": "2024-09",
        "value": "420",
        "is_baseline": "no",
        "source": "meter",
    }
    return {**row, **changes}


def facility_row(sp, **changes) -> dict[str, str]:
    row = {
        "sub_project": sp.agreement_number,
        "name": "Bhairab Footwear CSF",
        "kind": "revenue generating",
        "sub_sector": "Leather Products",
        "district": "Kishoreganj",
        "upazila": "Bhairab",
        "address": "",
        "latitude": "",
        "longitude": "",
        "services": "Recycling",
        "status": "operational",
        "opened_on": "2025-01-20",
        "mes_served": "",
    }
    return {**row, **changes}


def as_csv(rows: list[dict], header: list[str] | None = None) -> bytes:
    header = header or list(rows[0])
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header)
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def as_xlsx(rows: list[dict]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(list(rows[0]))
    for row in rows:
        sheet.append(list(row.values()))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def run(kind: str, data: bytes, po, user=None, *, commit=True, file_format="csv"):
    return import_file(
        kind,
        partner_organization=po,
        user=user,
        open_file=lambda: io.BytesIO(data),
        file_format=file_format,
        commit=commit,
    )


# --- The must-hold ---------------------------------------------------------------------------------


def test_a_10000_row_file_with_one_bad_row_writes_nothing_then_imports_whole_then_adds_none(
    sp_one, po_one, po1
):
    rows = [enterprise_row(i, sp_one) for i in range(10_000)]
    rows[5_000]["owner_gender"] = "unknown"

    refused = run("enterprises", as_csv(rows), po_one, po1)

    assert not refused.committed
    assert [(e.row, e.column) for e in refused.errors] == [(5_002, "owner_gender")]
    assert Enterprise.objects.count() == 0

    rows[5_000]["owner_gender"] = "female"
    imported = run("enterprises", as_csv(rows), po_one, po1)

    assert imported.committed
    assert imported.created == 10_000
    assert Enterprise.objects.filter(partner_organization=po_one).count() == 10_000

    again = run("enterprises", as_csv(rows), po_one, po1)

    assert again.committed
    assert (again.created, again.updated, again.unchanged) == (0, 0, 10_000)
    assert Enterprise.objects.count() == 10_000


# --- All or nothing, reports ----------------------------------------------------------------------


def test_a_bad_row_in_the_middle_of_an_xlsx_file_changes_nothing_and_is_named(sp_one, po_one, po1, me_one):
    rows = [enterprise_row(i, sp_one) for i in range(1, 6)]
    rows.append(enterprise_row(1, sp_one, po_code=me_one.po_code, name="Renamed"))
    rows[2]["registered_on"] = "31/13/2024"
    rows[3]["district"] = "Atlantis"

    report = run("enterprises", as_xlsx(rows), po_one, po1, file_format="xlsx")

    assert {(e.row, e.column) for e in report.errors} == {
        (4, "registered_on"),
        (5, "district"),
        (5, "upazila"),
    }
    assert "“31/13/2024” is not a date" in report.errors[0].message
    assert Enterprise.objects.count() == 1
    me_one.refresh_from_db()
    assert me_one.name == "Rahima Shoe Works"


def test_xlsx_and_csv_files_import_the_same_way(sp_one, po_one, po1):
    rows = [enterprise_row(i, sp_one) for i in range(1, 4)]
    run("enterprises", as_xlsx(rows), po_one, po1, file_format="xlsx")

    report = run("enterprises", as_csv(rows), po_one, po1)

    assert (report.created, report.unchanged) == (0, 3)
    me = Enterprise.objects.get(po_code="ME-00001")
    assert (me.phone, me.division.name, me.registered_on) == ("+8801700000001", "Dhaka", date(2024, 9, 1))


def test_dry_run_shows_what_would_be_created_updated_and_unchanged_and_writes_nothing(sp_one, po_one, po1):
    run("enterprises", as_csv([enterprise_row(i, sp_one) for i in range(1, 3)]), po_one, po1)
    rows = [
        enterprise_row(1, sp_one),
        enterprise_row(2, sp_one, phone="01999888777"),
        enterprise_row(3, sp_one),
    ]

    preview = run("enterprises", as_csv(rows), po_one, po1, commit=False)

    assert (preview.created, preview.updated, preview.unchanged) == (1, 1, 1)
    assert preview.preview["update"][0]["changes"] == ["phone: +8801700000002 → +8801999888777"]
    assert preview.preview["create"][0]["record"] == "ME-00003 · Shoe Works 3"
    assert not Enterprise.objects.filter(po_code="ME-00003").exists()
    assert Enterprise.objects.get(po_code="ME-00002").phone == "+8801700000002"


def test_reimporting_a_corrected_file_updates_only_the_changed_rows(sp_one, po_one, po1):
    rows = [enterprise_row(i, sp_one) for i in range(1, 4)]
    run("enterprises", as_csv(rows), po_one, po1)
    rows[1]["wage_employed_female"] = "4"

    report = run("enterprises", as_csv(rows), po_one, po1)

    assert (report.created, report.updated, report.unchanged) == (0, 1, 2)
    assert Enterprise.objects.get(po_code="ME-00002").wage_employed_female == 4
    assert Enterprise.objects.get(po_code="ME-00002").history.count() == 2


def test_a_key_repeated_in_the_file_is_refused_with_the_first_row(sp_one, po_one):
    report = run("enterprises", as_csv([enterprise_row(1, sp_one), enterprise_row(1, sp_one)]), po_one)

    assert [(e.row, e.column) for e in report.errors] == [(3, "po_code")]
    assert "Row 2 already has this key" in report.errors[0].message


def test_unknown_and_missing_columns_are_named(sp_one, po_one):
    row = enterprise_row(1, sp_one)
    row["phon"] = row.pop("phone")
    del row["owner_gender"]

    report = run("enterprises", as_csv([row]), po_one)

    assert {(e.row, e.column) for e in report.errors} == {(1, "phon"), (1, "owner_gender")}
    assert not Enterprise.objects.exists()


def test_an_empty_file_is_refused(po_one):
    report = run("enterprises", template_csv("enterprises"), po_one)

    assert report.errors[0].message == "The file has no data rows under its header."


def test_another_pos_sub_project_reads_as_not_yours(sp_one, sp_two, po_one):
    report = run(
        "enterprises", as_csv([enterprise_row(1, sp_one, sub_project=sp_two.agreement_number)]), po_one
    )

    assert (
        report.errors[0].message
        == "PKSF/SMART/SP/T002 is not a sub-project of your PO (use its agreement number)."
    )


def test_bangla_digits_and_semicolon_separated_files_are_read(sp_one, po_one):
    row = enterprise_row(1, sp_one, phone="০১৭১১২২৩৩৪৪")
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(row), delimiter=";")
    writer.writeheader()
    writer.writerow(row)

    report = run("enterprises", buffer.getvalue().encode("utf-8"), po_one)

    assert report.committed, report.errors
    assert Enterprise.objects.get().phone == "+8801711223344"


def test_a_csv_saved_by_older_excel_in_the_windows_code_page_is_read(sp_one, po_one):
    report = run(
        "enterprises",
        as_csv([enterprise_row(1, sp_one, owner_name="José Gomes")]).decode().encode("cp1252"),
        po_one,
    )

    assert report.committed, report.errors
    assert Enterprise.objects.get().owner_name == "José Gomes"


def test_enterprise_matching_another_pos_is_imported_and_flagged_without_details(sp_one, po_one, me_two):
    report = run("enterprises", as_csv([enterprise_row(1, sp_one, phone=me_two.phone)]), po_one, commit=False)

    assert report.duplicates == 1
    assert report.preview["duplicates"][0]["other_po"] is True
    assert report.preview["duplicates"][0]["own_codes"] == []
    assert me_two.name not in str(report.preview)

    committed = run("enterprises", as_csv([enterprise_row(1, sp_one, phone=me_two.phone)]), po_one)

    assert committed.duplicates == 1
    assert Enterprise.objects.get(po_code="ME-00001").duplicate_suspects.get().matched_enterprise == me_two


def test_the_check_names_each_row_matching_the_pos_own_enterprises_by_any_key(sp_one, po_one, me_one):
    me_one.is_formal, me_one.trade_licence_number = True, "BHR-7"
    me_one.save()
    rows = [
        enterprise_row(1, sp_one, is_formal="yes", trade_licence_number="bhr 7"),
        enterprise_row(2, sp_one, name="Rahima  Shoe-Works"),
        enterprise_row(3, sp_one),
        # me_one itself, its owner renamed: an update, which does not match itself.
        enterprise_row(
            4,
            sp_one,
            po_code=me_one.po_code,
            name=me_one.name,
            phone=me_one.phone,
            is_formal="yes",
            trade_licence_number="BHR-7",
            owner_name="Rahima Begum",
        ),
    ]

    report = run("enterprises", as_csv(rows), po_one, commit=False)

    assert (report.created, report.updated, report.duplicates) == (3, 1, 2), report.errors
    assert [(d["row"], d["other_po"], d["own_codes"]) for d in report.preview["duplicates"]] == [
        (2, False, [me_one.po_code]),
        (3, False, [me_one.po_code]),
    ]


# --- Field records --------------------------------------------------------------------------------


def test_financial_supports_import_and_reimport_updates_the_amount(me_one, po_one, po1):
    rows = [support_row(me_one.po_code, amount="1,50,000", disbursed_on="01/10/2024", reference="LN-1")]
    assert run("financial-supports", as_csv(rows), po_one, po1).created == 1
    rows[0]["amount"] = "175000"

    report = run("financial-supports", as_csv(rows), po_one, po1)

    assert report.updated == 1
    assert FinancialSupport.objects.get().amount == Decimal("175000")


def test_field_records_name_only_the_pos_own_enterprises(me_two, po_one):
    rows = [support_row("ME-0001", amount="1000")]

    report = run("financial-supports", as_csv(rows), po_one)

    assert report.errors[0].message == "Your PO has no enterprise with the ME code ME-0001."
    assert not FinancialSupport.objects.exists()


def test_trainings_then_attendances_import(me_one, po_one, po1, sp_one):
    sessions = [session_row("TR-01", sp_one)]
    assert run("trainings", as_csv(sessions), po_one, po1).created == 1
    attendance = [attendance_row("TR-01", me_one.po_code, pre_test_score="40", post_test_score="72.5")]

    report = run("attendances", as_csv(attendance), po_one, po1)

    assert report.created == 1
    assert Attendance.objects.get().knowledge_increased is True
    assert TrainingSession.objects.get().partner_organization == po_one


def test_adoptions_import_records_the_importer_as_reporter_and_a_verified_one_cannot_change(
    me_one, po_one, po1, pmu
):
    rows = [
        adoption_row(
            me_one.po_code,
            adopted_on="2024-11-05",
            seen_in_use_on="2024-12-10",
            latitude="24.0524001",
            longitude="90.9764",
        )
    ]
    assert run("adoptions", as_csv(rows), po_one, po1).committed
    adoption = Adoption.objects.get()
    assert (adoption.reported_by, adoption.evidence_observed_on) == (po1, date(2024, 12, 10))
    assert (adoption.evidence_latitude, adoption.evidence_longitude) == (
        Decimal("24.052400"),
        Decimal("90.976400"),
    )
    assert (adoption.verified_by, adoption.verified_on) == (None, None)
    services.verify_adoption(user=pmu, adoption=adoption, verified_on=date(2025, 1, 5))
    rows[0]["adopted_on"] = "2024-10-01"

    report = run("adoptions", as_csv(rows), po_one, po1)

    assert [(e.column, e.message) for e in report.errors] == [
        ("adopted_on", "This adoption is already verified: it cannot be changed by an import.")
    ]
    assert Adoption.objects.get().adopted_on == date(2024, 11, 5)


@pytest.mark.parametrize("column", ["verified_on", "verified_by"])
def test_an_adoption_file_with_a_verification_column_is_refused_whole(me_one, po_one, po1, column):
    rows = [adoption_row(me_one.po_code, **{column: "2024-12-10"})]

    report = run("adoptions", as_csv(rows), po_one, po1)

    assert not report.committed
    assert [(e.row, e.column) for e in report.errors] == [(1, column)]
    assert f"“{column}” cannot be given" in report.errors[0].message
    assert "verified by the PMU or a verifier" in report.errors[0].message
    assert not Adoption.objects.exists()


def test_an_adoption_seen_in_use_before_it_was_adopted_or_outside_bangladesh_is_refused(me_one, po_one, po1):
    rows = [
        adoption_row(me_one.po_code, adopted_on="2024-11-05", seen_in_use_on="2024-11-01"),
        adoption_row(me_one.po_code, practice_code="EE-01", latitude="51.5", longitude="-0.12"),
    ]

    report = run("adoptions", as_csv(rows), po_one, po1)

    assert [(e.row, e.column) for e in report.errors] == [
        (2, "seen_in_use_on"),
        (3, "latitude"),
        (3, "longitude"),
    ]
    assert report.errors[0].message == "A practice is seen in use on or after the day it was adopted."
    assert not Adoption.objects.exists()


def test_financiers_are_read_by_code_or_label_and_required(me_one, po_one, po1):
    rows = [
        support_row(me_one.po_code, financier="World Bank", disbursed_on="2024-10-01"),
        support_row(me_one.po_code, financier="pksf", disbursed_on="2024-10-02"),
        support_row(me_one.po_code, financier="PO CONTRIBUTION", disbursed_on="2024-10-03"),
        support_row(me_one.po_code, financier="wb", disbursed_on="2024-10-04"),
    ]
    assert run("financial-supports", as_csv(rows), po_one, po1).committed
    assert [s.financier for s in FinancialSupport.objects.order_by("disbursed_on")] == [
        "world_bank",
        "pksf",
        "po",
        "world_bank",
    ]

    refused = run(
        "financial-supports",
        as_csv(
            [
                support_row(me_one.po_code, financier="", disbursed_on="2024-11-01"),
                support_row(me_one.po_code, financier="IMF", disbursed_on="2024-11-02"),
            ]
        ),
        po_one,
        po1,
    )

    assert [(e.row, e.column, e.message) for e in refused.errors] == [
        (2, "financier", "This column is required."),
        (3, "financier", "“IMF” is not one of: world_bank, pksf, po."),
    ]
    assert FinancialSupport.objects.count() == 4


def test_a_supports_file_without_the_financier_column_is_refused(me_one, po_one, po1):
    row = support_row(me_one.po_code)
    del row["financier"]

    report = run("financial-supports", as_csv([row]), po_one, po1)

    assert [(e.row, e.column, e.message) for e in report.errors] == [
        (1, "financier", "The required column “financier” is missing.")
    ]
    assert not FinancialSupport.objects.exists()


def test_sessions_import_with_a_module_code_and_refuse_unknown_or_retired_ones(po_one, po1, sp_one):
    TrainingModule.objects.filter(code="BUS-01").update(is_active=False)
    rows = [
        session_row("TR-01", sp_one, module="cv-02", topic=""),
        session_row("TR-02", sp_one, module="XX-9"),
        session_row("TR-03", sp_one, module="BUS-01"),
        session_row("TR-04", sp_one, module=""),
    ]

    report = run("trainings", as_csv(rows), po_one, po1)

    assert [(e.row, e.column, e.message) for e in report.errors] == [
        (3, "module", "“XX-9” is not a training module code (see the template's lists)."),
        (4, "module", "The module BUS-01 is no longer offered: choose an active one."),
        (5, "module", "This column is required."),
    ]
    assert not TrainingSession.objects.exists()
    assert run("trainings", as_csv(rows[:1]), po_one, po1).committed
    session = TrainingSession.objects.get()
    assert (session.module.code, session.topic) == ("CV-02", "")


def test_a_session_keeps_its_retired_module_on_reimport(po_one, po1, sp_one):
    rows = [session_row("TR-01", sp_one, module="BUS-01", place="Bhairab")]
    assert run("trainings", as_csv(rows), po_one, po1).committed
    TrainingModule.objects.filter(code="BUS-01").update(is_active=False)
    rows[0]["place"] = "Bhairab Bazar"

    report = run("trainings", as_csv(rows), po_one, po1)

    assert (report.committed, report.updated) == (True, 1)
    assert TrainingSession.objects.get().place == "Bhairab Bazar"


def test_a_facility_import_changing_status_clears_its_confirmation(po_one, po1, pmu, sp_one):
    rows = [facility_row(sp_one, status="operational", opened_on="2025-01-20")]
    assert run("facilities", as_csv(rows), po_one, po1).committed
    CommonServiceFacility.objects.update(
        operational_confirmed_on=date(2025, 2, 1), operational_confirmed_by=pmu
    )
    unchanged = run("facilities", as_csv(rows), po_one, po1)
    assert unchanged.unchanged == 1
    assert CommonServiceFacility.objects.get().operational_confirmed_on == date(2025, 2, 1)

    rows[0]["opened_on"] = "2025-01-25"
    report = run("facilities", as_csv(rows), po_one, po1)

    assert (report.committed, report.updated) == (True, 1)
    facility = CommonServiceFacility.objects.get()
    assert (facility.opened_on, facility.operational_confirmed_on, facility.operational_confirmed_by) == (
        date(2025, 1, 25),
        None,
        None,
    )


def test_kpi_readings_import_with_one_baseline_per_kpi(me_one, po_one, po1):
    rows = [
        reading_row(me_one.po_code, period="2024-09", value="420", is_baseline="yes", source="meter"),
        reading_row(me_one.po_code, period="2024-10", value="390", is_baseline="no", source="metered"),
    ]
    assert run("kpi-readings", as_csv(rows), po_one, po1).created == 2
    second_baseline = [dict(rows[1], period="2024-11", is_baseline="yes")]

    report = run("kpi-readings", as_csv(second_baseline), po_one, po1)

    assert report.errors[0].column == "is_baseline"
    assert "already 2024-09" in report.errors[0].message
    assert KpiReading.objects.count() == 2


def test_kpi_value_out_of_range_names_the_row_and_the_unit(me_one, po_one):
    rows = [reading_row(me_one.po_code, kpi_code="WATER", value="900000", is_baseline="")]

    report = run("kpi-readings", as_csv(rows), po_one)

    assert (report.errors[0].row, report.errors[0].column) == (2, "value")
    assert "m³/month" in report.errors[0].message


def test_facilities_import_with_the_mes_they_serve(me_one, po_one, po1, sp_one):
    rows = [facility_row(sp_one, mes_served=f"{me_one.po_code}; ")]

    report = run("facilities", as_csv(rows), po_one, po1)

    assert report.committed, report.errors
    facility = CommonServiceFacility.objects.get()
    assert list(facility.mes_served.all()) == [me_one]
    assert run("facilities", as_csv(rows), po_one, po1).unchanged == 1


# --- Templates and commands -----------------------------------------------------------------------


def test_templates_have_the_columns_and_the_xlsx_lists_the_allowed_values(po_one, sp_one):
    assert (
        template_csv("kpi-readings").decode("utf-8-sig").strip()
        == "enterprise_code,kpi_code,period,value,is_baseline,source"
    )
    workbook = load_workbook(io.BytesIO(template_xlsx("enterprises", po_one)))
    assert workbook.sheetnames[:3] == ["enterprises", "help", "sub_project"]
    assert [c.value for c in workbook["enterprises"][1]] == HEADER
    assert workbook["sub_project"]["A2"].value == sp_one.agreement_number


def test_import_command_writes_the_template(tmp_path):
    target = tmp_path / "template.csv"

    call_command("import_enterprises", "--template", str(target), stdout=io.StringIO())

    assert target.read_bytes().decode("utf-8-sig").strip().split(",") == HEADER


def test_import_command_reports_the_bad_row_and_writes_nothing(tmp_path, sp_one, po_one):
    path = tmp_path / "mes.csv"
    path.write_bytes(as_csv([enterprise_row(1, sp_one), enterprise_row(2, sp_one, year_started="2099")]))
    errors = io.StringIO()

    with pytest.raises(CommandError, match="1 problem"):
        call_command(
            "import_enterprises", str(path), "--po", po_one.code, stdout=io.StringIO(), stderr=errors
        )

    assert "row 3 [year_started]: Year started cannot be in the future (2099)." in errors.getvalue()
    assert not Enterprise.objects.exists()


def test_import_command_dry_run_then_import_then_again(tmp_path, sp_one, po_one, po1):
    path = tmp_path / "mes.xlsx"
    path.write_bytes(as_xlsx([enterprise_row(i, sp_one) for i in range(1, 4)]))
    out = io.StringIO()

    call_command("import_enterprises", str(path), "--po", po_one.code, "--dry-run", stdout=out)
    assert "3 would be created" in out.getvalue()
    assert not Enterprise.objects.exists()
    call_command("import_enterprises", str(path), "--po", po_one.code, "--user", po1.username, stdout=out)
    call_command("import_enterprises", str(path), "--po", po_one.code, stdout=out)

    assert "0 were created, 0 were updated, 3 unchanged" in out.getvalue()
    assert Enterprise.objects.filter(created_by=po1).count() == 3


def test_import_command_refuses_a_user_of_another_po(tmp_path, sp_one, po_one, po2):
    path = tmp_path / "mes.csv"
    path.write_bytes(as_csv([enterprise_row(1, sp_one)]))

    with pytest.raises(CommandError, match="not a staff member"):
        call_command("import_enterprises", str(path), "--po", po_one.code, "--user", po2.username)


def test_kpi_readings_command(tmp_path, me_one, po_one):
    path = tmp_path / "readings.csv"
    path.write_bytes(as_csv([reading_row(me_one.po_code, is_baseline="yes")]))
    call_command("import_kpi_readings", str(path), "--po", po_one.code, stdout=io.StringIO())

    assert KpiReading.objects.get().is_baseline is True


def test_existing_records_used_by_factories_are_visible_to_imports(sp_one, po_one):
    """Records made in the browser and by import share one key: an import finds them."""
    me = EnterpriseFactory(sub_project=sp_one, po_code="ME-00001")
    KpiReadingFactory(enterprise=me, period=date(2024, 9, 1), value=Decimal("420"), is_baseline=True)
    AdoptionFactory(enterprise=me)
    TrainingSessionFactory(sub_project=sp_one, po_code="TR-9")
    rows = [reading_row("ME-00001", period="2024-09", value="420", is_baseline="yes")]

    assert run("kpi-readings", as_csv(rows), po_one).unchanged == 1
    for kind, row in [
        ("adoptions", adoption_row("ME-00001", adopted_on="2024-12-01")),
        ("trainings", session_row("TR-9", sp_one, topic="New topic")),
    ]:
        report = run(kind, as_csv([row]), po_one)
        assert (report.created, report.updated + report.unchanged) == (0, 1), (kind, report.errors)


# --- Refusals -------------------------------------------------------------------------------------


def test_a_column_given_twice_is_refused(sp_one, po_one):
    row = enterprise_row(1, sp_one)
    header = [*row, "phone"]
    data = (
        as_csv([row], header)
        .replace(b"\r\n", b",01712345678\r\n", 2)
        .replace(b",01712345678\r\n", b"\r\n", 1)
    )

    report = run("enterprises", data, po_one)

    assert [(e.row, e.column, e.message) for e in report.errors] == [
        (1, "phone", "The column “phone” appears twice.")
    ]
    assert not Enterprise.objects.exists()


def test_a_file_longer_than_the_limit_is_refused_and_writes_nothing(settings, sp_one, po_one):
    settings.ENTERPRISES_IMPORT_MAX_ROWS = 2

    report = run("enterprises", as_csv([enterprise_row(i, sp_one) for i in range(3)]), po_one)

    assert not report.committed
    assert report.errors[0].message == "The file has more than 2 rows: split it into smaller files."
    assert not Enterprise.objects.exists()


@pytest.mark.parametrize(
    ("changes", "column", "message"),
    [
        ({"wage_employed_male": "-1"}, "wage_employed_male", "A number of people cannot be negative."),
        (
            {"sub_sector": "glassware"},
            "sub_sector",
            "“glassware” is not a sub-sector code or name (see the template's lists).",
        ),
        ({"division": "Atlantis"}, "division", "“Atlantis” is not a division."),
        ({"latitude": "north"}, "latitude", "“north” is not a number."),
    ],
)
def test_a_bad_enterprise_cell_is_named(sp_one, po_one, changes, column, message):
    report = run("enterprises", as_csv([enterprise_row(1, sp_one, **changes)]), po_one)

    assert [(e.row, e.column, e.message) for e in report.errors] == [(2, column, message)]
    assert not Enterprise.objects.exists()


@pytest.mark.parametrize(
    ("kind", "row", "column", "message"),
    [
        (
            "attendances",
            attendance_row("TR-404", "ME-0001"),
            "session_code",
            "Your PO has no training session with the code TR-404.",
        ),
        (
            "adoptions",
            adoption_row("ME-0001", practice_code="XX-99"),
            "practice_code",
            "“XX-99” is not a RECP practice code.",
        ),
        ("kpi-readings", reading_row("ME-0001", kpi_code="GOLD"), "kpi_code", "“GOLD” is not a KPI code."),
        (
            "facilities",
            None,  # built from the sub-project below
            "mes_served",
            "Your PO has no enterprise with the ME code ME-404.",
        ),
    ],
)
def test_a_reference_that_does_not_exist_is_named(me_one, sp_one, po_one, kind, row, column, message):
    row = row or facility_row(sp_one, mes_served=f"{me_one.po_code}; ME-404")

    report = run(kind, as_csv([row]), po_one)

    assert [(e.row, e.column, e.message) for e in report.errors] == [(2, column, message)]
    assert not report.committed


def test_a_kpi_no_longer_tracked_is_refused(me_one, po_one):
    Kpi.objects.filter(code="ELECTRICITY").update(is_active=False)

    report = run("kpi-readings", as_csv([reading_row(me_one.po_code)]), po_one)

    assert [(e.column, e.message) for e in report.errors] == [
        ("kpi_code", "The KPI ELECTRICITY is no longer tracked.")
    ]
    assert not KpiReading.objects.exists()


def test_two_baselines_of_one_kpi_in_a_file_are_refused(me_one, po_one):
    rows = [
        reading_row(me_one.po_code, period="2024-08", is_baseline="yes"),
        reading_row(me_one.po_code, period="2024-09", is_baseline="yes"),
    ]

    report = run("kpi-readings", as_csv(rows), po_one)

    assert [(e.row, e.column, e.message) for e in report.errors] == [
        (3, "is_baseline", "Row 2 already gives the baseline of this KPI for this enterprise.")
    ]
    assert not KpiReading.objects.exists()


def test_a_change_between_the_check_and_the_writing_rolls_everything_back(sp_one, po_one, po1):
    rows = [enterprise_row(i, sp_one) for i in range(1, 4)]

    def suspend_the_sub_project(phase: str, done: int, total: int | None) -> None:
        # Once the check has passed, before the rows are written: the PMU suspends the sub-project.
        if phase == "writing" and done == 0:
            SubProject.objects.filter(pk=sp_one.pk).update(status=SubProjectStatus.SUSPENDED)

    report = import_file(
        "enterprises",
        partner_organization=po_one,
        user=po1,
        open_file=lambda: io.BytesIO(as_csv(rows)),
        file_format="csv",
        commit=True,
        progress=suspend_the_sub_project,
    )

    assert not report.committed
    assert {(e.row, e.column) for e in report.errors} == {(row, "sub_project") for row in (2, 3, 4)}
    assert not Enterprise.objects.exists()


def test_an_unknown_kind_or_file_type_is_refused(po_one):
    with pytest.raises(ValueError, match="unknown import kind 'loans'"):
        get_importer("loans", partner_organization=po_one)
    with pytest.raises(ValueError, match=r"Only \.csv and \.xlsx files can be imported\."):
        file_format_of("mes.xls")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ([], "Give the FILE to import and --po CODE"),
        (["{tmp}/missing.csv", "--po", "PO-T01"], "missing.csv does not exist."),
        (["{tmp}/mes.txt", "--po", "PO-T01"], "Only .csv and .xlsx files can be imported."),
        (["{tmp}/mes.csv", "--po", "PO-404"], "No Partner Organization has the code PO-404."),
        (["{tmp}/mes.csv", "--po", "PO-T01", "--user", "pmu"], "pmu is not a staff member of PO-T01."),
    ],
)
def test_import_command_refusals(tmp_path, sp_one, po_one, pmu, arguments, message):
    for name in ("mes.csv", "mes.txt"):
        (tmp_path / name).write_bytes(as_csv([enterprise_row(1, sp_one)]))

    with pytest.raises(CommandError) as refused:
        call_command("import_enterprises", *[a.format(tmp=tmp_path) for a in arguments], stdout=io.StringIO())

    assert message in str(refused.value)
    assert not Enterprise.objects.exists()


# --- Set-based lookups: the queries of a file do not grow with its rows ---------------------------

IMPORT_KINDS = [
    "enterprises",
    "financial-supports",
    "trainings",
    "attendances",
    "adoptions",
    "kpi-readings",
    "facilities",
]


def _rows_of(kind: str, indexes: range, sp, mes, sessions) -> list[dict[str, str]]:
    """One row of `kind` per index, over existing enterprises and training sessions."""
    build = {
        # Codes and phones the factories' enterprises never have (ME-…, +88017…, numbered by a sequence
        # that depends on the tests run before): a match would make some rows updates or duplicates,
        # with their own queries, in one of the two runs only.
        "enterprises": lambda i: enterprise_row(100 + i, sp, po_code=f"IMP-{i:05d}", phone=f"019{i:08d}"),
        "financial-supports": lambda i: support_row(mes[i].po_code),
        "trainings": lambda i: session_row(f"TR-X{i}", sp),
        "attendances": lambda i: attendance_row(sessions[i].po_code, mes[i].po_code),
        "adoptions": lambda i: adoption_row(mes[i].po_code),
        "kpi-readings": lambda i: reading_row(mes[i].po_code),
        "facilities": lambda i: facility_row(sp, name=f"CSF {i}", mes_served=mes[i].po_code),
    }[kind]
    return [build(i) for i in indexes]


@pytest.mark.parametrize("kind", IMPORT_KINDS)
def test_the_queries_of_an_import_do_not_grow_with_its_rows(kind, sp_one, po_one, po1):
    mes = EnterpriseFactory.create_batch(30, sub_project=sp_one)
    sessions = TrainingSessionFactory.create_batch(30, sub_project=sp_one)
    # Content types are cached per process, and a test process may not have migrated (it copies a
    # migrated database): warm the cache, so that only the rows could make a difference.
    ContentType.objects.get_for_models(*django_apps.get_models())

    def queries_to_import(indexes: range, *, commit: bool) -> int:
        data = as_csv(_rows_of(kind, indexes, sp_one, mes, sessions))
        with CaptureQueriesContext(connection) as queries:
            report = run(kind, data, po_one, po1, commit=commit)
        assert not report.errors
        return len(queries)

    # Five rows and 25 are checked, and written, with the same number of queries (25 rows stay
    # within one INSERT on SQLite, whose statements take at most 999 parameters).
    assert queries_to_import(range(0, 5), commit=False) == queries_to_import(range(5, 30), commit=False)
    assert queries_to_import(range(0, 5), commit=True) == queries_to_import(range(5, 30), commit=True)
