"""The spreadsheet import of expenditure lines (kind "expenditures"): the dry run, all-or-nothing, each
bad row named, re-importing adding nothing, the draft report created when missing, and a PO's
isolation (another PO's sub-project read as unknown, a submitted report's lines refused); through
the import pages and API as well."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from core import lifecycle
from enterprises.imports import IMPORTERS, import_file, template_csv, template_xlsx
from finance import spending
from finance.models import Expenditure, SpendingReport
from tests.finance.factories import funded_sub_project
from tests.finance.test_spending import add, in_quarter, last_quarter, open_report

pytestmark = pytest.mark.django_db

COLUMNS = [
    "agreement_number",
    "quarter",
    "budget_line",
    "spent_on",
    "amount",
    "voucher_reference",
    "description",
]


@pytest.fixture
def sp_one(po_one):
    return funded_sub_project(po_one)


@pytest.fixture
def sp_two(po_two):
    return funded_sub_project(po_two)


def row(sp, number=1, voucher="PV-1", amount="125000", quarter_end=None, day=10, **changes) -> dict:
    quarter_end = quarter_end or last_quarter()
    return {
        "agreement_number": sp.agreement_number,
        "quarter": spending.quarter_label(quarter_end),
        "budget_line": str(number),
        "spent_on": in_quarter(quarter_end, day).strftime("%d/%m/%Y"),
        "amount": amount,
        "voucher_reference": voucher,
        "description": "Paid by cheque",
        **changes,
    }


def as_csv(rows: list[dict]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def run(data: bytes, po, user, *, commit=True):
    return import_file(
        "expenditures",
        partner_organization=po,
        user=user,
        open_file=lambda: io.BytesIO(data),
        file_format="csv",
        commit=commit,
    )


def test_the_kind_is_offered_with_its_template(po_one, sp_one):
    assert "expenditures" in IMPORTERS
    assert template_csv("expenditures").decode("utf-8-sig").strip() == ",".join(COLUMNS)
    assert template_xlsx("expenditures", po_one)[:2] == b"PK"


def test_dry_run_then_import_creates_the_draft_report_then_reimport_adds_nothing(po_one, po1, sp_one):
    data = as_csv(
        [row(sp_one, 1, "PV-1"), row(sp_one, 3, "PV-2", "9000.50"), row(sp_one, 5, "PV-3", "1,20,000")]
    )
    preview = run(data, po_one, po1, commit=False)
    assert preview.ok
    assert (preview.created, preview.committed) == (3, False)
    assert not SpendingReport.objects.exists()
    assert not Expenditure.objects.exists()

    report = run(data, po_one, po1)
    assert report.committed
    assert report.created == 3
    spending_report = SpendingReport.objects.get()
    assert (spending_report.status, spending_report.quarter_end) == ("draft", last_quarter())
    assert [t.action for t in lifecycle.transitions_of(spending_report)] == ["create"]
    assert sorted(Expenditure.objects.values_list("amount", flat=True)) == [
        Decimal("9000.50"),
        Decimal("120000"),
        Decimal("125000"),
    ]
    lines = [line for _n, line in spending.numbered_budget_lines(sp_one)]
    assert Expenditure.objects.get(voucher_reference="PV-2").budget_line == lines[2]

    again = run(data, po_one, po1)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    assert Expenditure.objects.count() == 3
    assert SpendingReport.objects.count() == 1

    corrected = run(as_csv([row(sp_one, 1, "PV-1", "130000")]), po_one, po1)
    assert (corrected.created, corrected.updated) == (0, 1)
    assert Expenditure.objects.get(voucher_reference="PV-1").amount == Decimal("130000")


def test_a_file_with_one_bad_row_changes_nothing_and_names_it(po_one, po1, sp_one, sp_two):
    rows = [
        row(sp_one, 1, "PV-1"),
        row(sp_two, 1, "PV-2"),  # another PO's sub-project: as if unknown
        row(sp_one, 9, "PV-3"),  # no such budget line
        row(sp_one, 2, "PV-4", spent_on="2020-01-05"),  # outside the quarter
        row(sp_one, 2, "PV-5", amount="-5"),
        row(sp_one, 1, "PV-1"),  # the key repeated
        row(sp_one, 2, "PV-6", quarter="2025-Q9"),
        row(sp_one, 2, ""),
    ]
    report = run(as_csv(rows), po_one, po1)
    assert not report.committed
    named = {(error.row, error.column) for error in report.errors}
    assert {
        (3, "agreement_number"),
        (4, "budget_line"),
        (5, "spent_on"),
        (6, "amount"),
        (7, "voucher_reference"),
        (8, "quarter"),
        (9, "voucher_reference"),
    } <= named
    assert (2, "agreement_number") not in named
    messages = " ".join(error.message for error in report.errors)
    assert sp_two.agreement_number + " is not a sub-project of your PO" in messages
    assert not Expenditure.objects.exists()
    assert not SpendingReport.objects.exists()


def test_rows_of_a_submitted_report_are_refused_but_unchanged_ones_pass(po_one, po1, sp_one):
    first = run(as_csv([row(sp_one, 1, "PV-1")]), po_one, po1)
    assert first.committed
    report = SpendingReport.objects.get()
    lifecycle.apply(report, "submit", po1)
    same = run(as_csv([row(sp_one, 1, "PV-1")]), po_one, po1)
    assert same.ok
    assert same.unchanged == 1
    refused = run(as_csv([row(sp_one, 1, "PV-1", "1"), row(sp_one, 2, "PV-2")]), po_one, po1)
    assert not refused.committed
    assert {(e.row, e.column) for e in refused.errors} == {(2, "quarter"), (3, "quarter")}
    assert "submitted" in refused.errors[0].message
    assert Expenditure.objects.count() == 1


def test_a_voucher_already_entered_in_another_quarter_is_refused(po_one, po1, sp_one):
    earlier = open_report(po1, sp_one, spending.previous_quarter_end(last_quarter()))
    add(po1, earlier, 0, voucher="PV-1")
    refused = run(as_csv([row(sp_one, 1, "PV-1")]), po_one, po1)
    assert [(e.row, e.column) for e in refused.errors] == [(2, "voucher_reference")]
    assert Expenditure.objects.count() == 1


def test_the_import_pages_and_api_take_expenditure_files_for_the_po_only(
    po_one, po1, po2, sp_one, client, api
):
    client.force_login(po1)
    page = client.get(reverse("enterprises:import-list"), {"kind": "expenditures"})
    assert 'value="expenditures"' in page.content.decode()
    upload = SimpleUploadedFile("lines.csv", as_csv([row(sp_one, 1, "PV-1")]), content_type="text/csv")
    answer = client.post(reverse("enterprises:import-list"), {"kind": "expenditures", "file": upload})
    assert answer.status_code == 302
    job_url = answer["Location"]
    job = client.get(job_url)
    assert job.status_code == 200
    from enterprises.models import ImportJob

    checked = ImportJob.objects.get()
    assert checked.kind == "expenditures"
    assert checked.created_count == 1
    # Another PO's staff neither see nor import it.
    assert api.as_user(po2).post(f"/api/v1/import-jobs/{checked.pk}/commit/").status_code == 404
    committed = api.as_user(po1).post(f"/api/v1/import-jobs/{checked.pk}/commit/")
    assert committed.status_code == 200, committed.json()
    assert Expenditure.objects.filter(partner_organization=po_one).count() == 1
    # The same file from another PO's staff: the sub-project is not theirs.
    upload = SimpleUploadedFile("lines.csv", as_csv([row(sp_one, 1, "PV-9")]), content_type="text/csv")
    foreign = api.as_user(po2).post(
        "/api/v1/import-jobs/", {"kind": "expenditures", "file": upload}, format="multipart"
    )
    assert foreign.status_code == 201, foreign.json()
    assert foreign.json()["errors"][0]["column"] == "agreement_number"
    assert Expenditure.objects.count() == 1
