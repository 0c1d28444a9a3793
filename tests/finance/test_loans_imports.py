"""Monthly repayments and loan schedules imported from a PO's MIS: every row checked, the bad one named
by row and column, all or nothing, the same file again changes nothing, another PO's enterprise as
one that does not exist."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from enterprises.imports import IMPORTERS, import_file, template_csv
from enterprises.models import ImportJob, SupportKind
from finance import loans
from finance.models import Instalment, Repayment
from tests.enterprises.factories import EnterpriseFactory, FinancialSupportFactory, sub_project_for
from tests.finance.test_loans import loan_of

pytestmark = pytest.mark.django_db

D = Decimal


def as_csv(rows: list[dict]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def run(kind: str, rows: list[dict], po, user, *, commit: bool = True):
    data = as_csv(rows)
    return import_file(
        kind,
        partner_organization=po,
        user=user,
        open_file=lambda: io.BytesIO(data),
        file_format="csv",
        commit=commit,
    )


def repayment_row(loan, paid_on: str = "2024-11-05", principal: str = "10000", **changes) -> dict[str, str]:
    row = {
        "enterprise_code": loan.enterprise.po_code,
        "loan_disbursed_on": loan.disbursed_on.isoformat(),
        "paid_on": paid_on,
        "principal": principal,
        "interest": "900",
        "reference": f"RC-{paid_on}",
    }
    row.update(changes)
    return row


def problems(report) -> list[tuple[int, str, str]]:
    return [(error.row, error.column, error.message) for error in report.errors]


@pytest.fixture
def sp(po_one):
    return sub_project_for(po_one)


@pytest.fixture
def loan(po_one, sp):
    return loan_of(po_one, sub_project=sp)


# --- Repayments --------------------------------------------------------------------------------------


def test_the_import_kinds_are_offered_with_their_templates(client, po1):
    client.force_login(po1)

    page = client.get("/field-data/imports/").content.decode()

    assert {"repayments", "loan-schedules"} <= set(IMPORTERS)
    assert "Loan repayments" in page
    assert "Loan schedules" in page
    assert template_csv("repayments").decode("utf-8-sig").strip() == (
        "enterprise_code,loan_disbursed_on,paid_on,principal,interest,reference"
    )
    assert template_csv("loan-schedules").decode("utf-8-sig").strip() == (
        "enterprise_code,loan_disbursed_on,instalment,due_on,principal,interest"
    )
    assert client.get("/field-data/imports/templates/repayments.xlsx").status_code == 200


def test_a_months_repayments_imported_then_the_same_file_changes_nothing(loan, po_one, po1):
    second = loan_of(po_one, sub_project=loan.enterprise.sub_project, amount="50000")
    rows = [
        repayment_row(loan, "2024-11-05"),
        repayment_row(loan, "2024-12-05"),
        repayment_row(second, "2024-11-07", "5000"),
    ]

    dry = run("repayments", rows, po_one, po1, commit=False)
    assert (dry.ok, dry.created, Repayment.objects.count()) == (True, 3, 0)

    report = run("repayments", rows, po_one, po1)
    again = run("repayments", rows, po_one, po1)

    assert (report.committed, report.created) == (True, 3)
    assert Repayment.objects.filter(loan=loan).count() == 2
    assert Repayment.objects.get(loan=second).created_by == po1
    assert (again.committed, again.created, again.updated, again.unchanged) == (True, 0, 0, 3)
    assert Repayment.objects.count() == 3


def test_a_corrected_amount_updates_that_repayment(loan, po_one, po1):
    run("repayments", [repayment_row(loan, "2024-11-05")], po_one, po1)

    report = run("repayments", [repayment_row(loan, "2024-11-05", "12000")], po_one, po1)

    assert (report.updated, Repayment.objects.get().principal) == (1, D("12000"))


@pytest.mark.parametrize(
    ("change", "column", "message"),
    [
        (
            {"paid_on": "2024-09-30"},
            "paid_on",
            "A repayment cannot be dated before the loan's disbursement (1 Oct 2024).",
        ),
        ({"paid_on": "FUTURE"}, "paid_on", "A repayment cannot be dated in the future (after today)."),
        (
            {"principal": "130000"},
            "principal",
            "Only 1,10,000.00 BDT of this loan's principal is left to repay",
        ),
        ({"loan_disbursed_on": "2024-10-02"}, "loan_disbursed_on", "has no loan disbursed on 2 Oct 2024."),
        (
            {"enterprise_code": "ME-NOPE"},
            "enterprise_code",
            "Your PO has no enterprise with the ME code ME-NOPE.",
        ),
        ({"principal": "ten"}, "principal", "“ten” is not a number."),
        ({"principal": "0", "interest": "0"}, "principal", "both are zero"),
    ],
    ids=[
        "before-disbursement",
        "future",
        "beyond-outstanding",
        "unknown-loan",
        "unknown-me",
        "not-a-number",
        "zero",
    ],
)
def test_one_bad_row_is_named_and_nothing_is_written(loan, po_one, po1, change, column, message):
    if change.get("paid_on") == "FUTURE":
        change = {"paid_on": (timezone.localdate() + timedelta(days=1)).isoformat()}
    bad = repayment_row(loan, "2024-12-05")
    bad.update(change)
    rows = [repayment_row(loan, "2024-11-05"), bad]

    report = run("repayments", rows, po_one, po1)

    assert not report.committed
    assert [(row, col) for row, col, _message in problems(report)] == [(3, column)]
    assert message.lower() in problems(report)[0][2].lower()
    assert not Repayment.objects.exists()


def test_rows_of_one_file_together_repay_no_more_than_was_lent(loan, po_one, po1):
    rows = [repayment_row(loan, f"2025-0{month}-05", "40000") for month in (1, 2, 3, 4)]

    report = run("repayments", rows, po_one, po1)

    assert problems(report) == [
        (
            5,
            "principal",
            "Only 0.00 BDT of this loan's principal is left to repay; 40,000.00 BDT is more than that.",
        )
    ]
    assert not Repayment.objects.exists()


def test_another_pos_enterprise_is_answered_as_one_that_does_not_exist(loan, po_two, po2):
    # PO-T02 has an enterprise with the same ME code; the other PO's loan is never found.
    EnterpriseFactory(sub_project=sub_project_for(po_two), po_code="ME-OTHER")
    rows = [repayment_row(loan, "2024-11-05")]

    report = run("repayments", rows, po_two, po2)

    assert problems(report) == [
        (2, "enterprise_code", f"Your PO has no enterprise with the ME code {loan.enterprise.po_code}.")
    ]
    assert not Repayment.objects.exists()


def test_a_grant_is_not_repaid_by_import(po_one, po1, sp):
    grant = FinancialSupportFactory(
        enterprise=EnterpriseFactory(sub_project=sp), kind=SupportKind.GRANT, disbursed_on=date(2024, 10, 1)
    )

    report = run("repayments", [repayment_row(grant)], po_one, po1)

    assert problems(report) == [
        (
            2,
            "loan_disbursed_on",
            f"The support of {grant.enterprise.po_code} disbursed on 1 Oct 2024 is a grant: "
            "a grant is not repaid.",
        )
    ]


def test_a_written_off_loan_takes_no_more_principal(loan, po_one, po1):
    loans.record_write_off(
        user=po1, loan=loan, written_off_on=date(2025, 1, 1), principal=D("120000"), reason="x"
    )

    report = run("repayments", [repayment_row(loan, "2025-02-01", "100")], po_one, po1)
    interest_only = run("repayments", [repayment_row(loan, "2025-02-01", "0")], po_one, po1)

    assert [column for _row, column, _message in problems(report)] == ["principal"]
    assert interest_only.committed
    assert Repayment.objects.get().interest == D("900")


def test_the_queries_of_a_repayment_import_do_not_grow_with_its_rows(po_one, po1, sp):
    borrowers = [loan_of(po_one, sub_project=sp) for _ in range(12)]

    def queries(count: int) -> int:
        rows = [
            repayment_row(loan, "2024-11-05", "1000", reference=f"Q{count}") for loan in borrowers[:count]
        ]
        with CaptureQueriesContext(connection) as captured:
            assert run("repayments", rows, po_one, po1, commit=False).ok
        return len(captured)

    assert queries(3) == queries(12)


def test_repayments_uploaded_on_the_import_page(client, loan, po1):
    client.force_login(po1)
    data = as_csv([repayment_row(loan, "2024-11-05"), repayment_row(loan, "2024-12-05")])

    response = client.post(
        "/field-data/imports/",
        {"kind": "repayments", "file": SimpleUploadedFile("mis.csv", data)},
        follow=True,
    )
    job = ImportJob.objects.get()
    committed = client.post(f"/field-data/imports/{job.pk}/commit/", follow=True)

    assert "Importing it would create 2" in response.content.decode()
    assert "2 created, 0 updated, 0 unchanged" in committed.content.decode()
    assert Repayment.objects.count() == 2


def test_the_api_offers_the_repayment_import(api, loan, po1):
    api.as_user(po1)
    data = as_csv([repayment_row(loan, "2024-11-05")])

    response = api.post(
        "/api/v1/import-jobs/",
        {"kind": "repayments", "file": SimpleUploadedFile("mis.csv", data)},
        format="multipart",
    )

    assert response.status_code in (201, 202), response.content
    assert ImportJob.objects.get().kind == "repayments"


# --- Schedules ---------------------------------------------------------------------------------------


def schedule_rows(
    loan, count: int = 4, principal: str = "30000", start: date = date(2024, 11, 1)
) -> list[dict]:
    return [
        {
            "enterprise_code": loan.enterprise.po_code,
            "loan_disbursed_on": loan.disbursed_on.isoformat(),
            "instalment": str(number),
            "due_on": loans.add_months(start, number - 1).isoformat(),
            "principal": principal,
            "interest": "600",
        }
        for number in range(1, count + 1)
    ]


def test_a_schedule_imported_with_its_principal_due_to_date_then_again_changes_nothing(loan, po_one, po1):
    rows = schedule_rows(loan)

    report = run("loan-schedules", rows, po_one, po1)
    again = run("loan-schedules", rows, po_one, po1)

    assert (report.committed, report.created) == (True, 4)
    assert list(Instalment.objects.filter(loan=loan).values_list("principal_due_to_date", flat=True)) == [
        D("30000"),
        D("60000"),
        D("90000"),
        D("120000"),
    ]
    assert (again.committed, again.created, again.updated, again.unchanged) == (True, 0, 0, 4)


def test_an_imported_schedule_replaces_the_stored_one(loan, po_one, po1):
    loans.generate_schedule(loan, term_months=12, first_due_on=date(2024, 11, 1), user=po1)

    report = run("loan-schedules", schedule_rows(loan, 3, "40000", start=date(2024, 12, 1)), po_one, po1)

    assert report.committed
    assert list(
        Instalment.objects.filter(loan=loan).values_list("number", "due_on", "principal_due_to_date")
    ) == [
        (1, date(2024, 12, 1), D("40000")),
        (2, date(2025, 1, 1), D("80000")),
        (3, date(2025, 2, 1), D("120000")),
    ]


def test_a_schedule_that_does_not_add_up_or_has_gaps_is_refused_whole(loan, po_one, po1):
    short = schedule_rows(loan, 4, "25000")
    gap = [row for row in schedule_rows(loan) if row["instalment"] != "2"]
    backwards = schedule_rows(loan)
    backwards[2]["due_on"] = "2024-11-15"

    assert problems(run("loan-schedules", short, po_one, po1)) == [
        (
            5,
            "principal",
            f"The principal of the instalments of the loan {loan.enterprise.po_code} (1 Oct 2024) adds up to "
            "1,00,000.00 BDT, not the 1,20,000.00 BDT lent.",
        )
    ]
    assert [(r, c) for r, c, _m in problems(run("loan-schedules", gap, po_one, po1))] == [(2, "instalment")]
    assert [(r, c) for r, c, _m in problems(run("loan-schedules", backwards, po_one, po1))] == [(4, "due_on")]
    assert not Instalment.objects.exists()


def test_a_loan_with_repayments_keeps_its_schedule(loan, po_one, po1):
    loans.generate_schedule(
        loan, term_months=4, first_due_on=date(2024, 11, 1), annual_interest_rate=6, user=po1
    )
    loans.add_repayment(user=po1, loan=loan, paid_on=date(2024, 11, 2), principal=D("30000"))

    same = run("loan-schedules", schedule_rows(loan), po_one, po1)
    changed = run("loan-schedules", schedule_rows(loan, 3, "40000"), po_one, po1)

    assert same.committed
    assert same.unchanged == 4
    assert not changed.committed
    assert {message for _r, _c, message in problems(changed)} == {
        "This loan already has repayments: its schedule can no longer be replaced."
    }
    assert Instalment.objects.filter(loan=loan).count() == 4
