"""Results reports: the ISR table and the PO report as files (right rows, columns and numbers, the
same "% of target" as the dashboard), generated in the background, downloaded only by those who may
see their scope, through the pages and the API."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal
from unittest import mock

import pytest
from django.core.exceptions import ValidationError
from django.db import OperationalError
from openpyxl import load_workbook

from core import outbox
from monitoring import aggregation, dashboard, reports
from monitoring.models import AggregationRun, Indicator, ReportJob, RunStatus, RunTrigger, Snapshot
from subprojects.models import CommittedResult
from tests.assertions import field_errors
from tests.enterprises.factories import EnterpriseFactory, FinancialSupportFactory, sub_project_for

AS_OF = date(2025, 6, 30)
PREVIOUS = date(2025, 3, 31)
ISR_COLUMNS = [
    "Indicator",
    "Level",
    "Unit",
    "Baseline",
    "Baseline date",
    "Previous value (as of 2025-03-31)",
    "Current value (as of 2025-06-30)",
    "End target",
    "Progress (% of end target)",
    "Comment",
]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    """Report files go under a temporary media root, never the developer's."""
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def programme(po_one, po_two):
    """PO 1 finances 3 MEs in January and a 4th in May, PO 2 two MEs in February; PO 1 committed to
    8 MEs financed in its approved proposal. Snapshots at the end of March and of June."""
    sp1, sp2 = sub_project_for(po_one), sub_project_for(po_two)
    for disbursed_on in [date(2025, 1, 15)] * 3 + [date(2025, 5, 10)]:
        FinancialSupportFactory(enterprise=EnterpriseFactory(sub_project=sp1), disbursed_on=disbursed_on)
    for _index in range(2):
        FinancialSupportFactory(enterprise=EnterpriseFactory(sub_project=sp2), disbursed_on=date(2025, 2, 1))
    CommittedResult.objects.create(proposal=sp1.proposal, indicator="ME_FINANCED", target=8)
    aggregation.refresh_snapshot(PREVIOUS)
    aggregation.refresh_snapshot(AS_OF)


def make(user, **request) -> ReportJob:
    """Request a report and let the in-process task run (as without a broker)."""
    job = reports.request_report(user, **request)
    # Tests run inside a transaction: run what would run on commit.
    from monitoring.tasks import generate_report

    generate_report.delay(job.pk)
    job.refresh_from_db()
    return job


def workbook(job: ReportJob):
    with job.file.open("rb") as handle:
        return load_workbook(io.BytesIO(handle.read()))


def rows_by_name(sheet) -> dict[str, tuple]:
    return {row[0]: row for row in sheet.iter_rows(min_row=2, values_only=True)}


# --- The ISR table --------------------------------------------------------------------------------


def test_isr_xlsx_has_one_row_per_indicator_with_the_columns_and_numbers(programme, pmu):
    job = make(pmu, kind="isr", file_format="xlsx", as_of=AS_OF, comments={"ME_FINANCED": "On track."})

    assert job.status == RunStatus.SUCCEEDED, job.error
    assert job.previous_as_of == PREVIOUS  # the last quarter-end before the reporting date
    book = workbook(job)
    sheet = book.worksheets[0]
    header = [cell.value for cell in sheet[1]]
    assert header == ISR_COLUMNS
    names = [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert names == list(Indicator.objects.order_by("position", "code").values_list("name", flat=True))
    financed = rows_by_name(sheet)["MEs receiving financial support"]
    indicator = Indicator.objects.get(code="ME_FINANCED")
    expected = dashboard.progress(indicator, Decimal(6)).percent / 100
    assert financed[1:9] == (
        "Development objective (PDO)",
        "MEs",
        0,
        financed[4],
        5,
        6,
        80000,
        pytest.approx(expected),
    )
    assert financed[4].date() == date(2023, 8, 1)
    assert financed[9] == "On track."
    # Real numbers with formats, a frozen header and a notes sheet naming the snapshots.
    line = names.index("MEs receiving financial support") + 2
    assert sheet.cell(line, 7).number_format == "#,##0"
    assert sheet.cell(line, 9).number_format == "0.0%"
    assert sheet.freeze_panes == "A2"
    assert book.sheetnames == ["ISR results", "Notes"]
    notes = "\n".join(
        str(value) for row in book["Notes"].iter_rows(values_only=True) for value in row if value
    )
    assert "2025-06-30: figures of the snapshot of 2025-06-30" in notes
    assert "2025-03-31: figures of the snapshot of 2025-03-31" in notes
    assert "PO disbursement records" in notes  # the data sources


def test_isr_percent_indicators_and_empty_targets(programme, pmu):
    job = make(pmu, kind="isr", file_format="xlsx", as_of=AS_OF)

    sheet = workbook(job).worksheets[0]
    women = rows_by_name(sheet)["Share of women-led MEs among MEs financed"]
    assert women[6] == 1  # every ME of the factory is woman-led: 100 % as a spreadsheet percentage
    assert (women[7], women[8]) == (None, None)  # no end target, no progress
    line = [row[0] for row in sheet.iter_rows(values_only=True)].index(women[0]) + 1
    assert sheet.cell(line, 7).number_format == "0.0%"


def test_a_date_without_its_own_snapshot_reads_the_latest_before_and_says_so(programme, pmu):
    job = make(pmu, kind="isr", file_format="xlsx", as_of=date(2025, 5, 15))

    book = workbook(job)
    assert book.worksheets[0].cell(1, 7).value == "Current value (as of 2025-03-31)"
    notes = next(row for row in book["Notes"].iter_rows(values_only=True) if row[0] == "Reporting date")[1]
    assert notes.startswith("2025-05-15: figures of the snapshot of 2025-03-31")
    assert "No snapshot was stored for that exact date" in notes


def test_a_first_report_has_no_previous_value(po_one, pmu):
    job = make(pmu, kind="isr", file_format="xlsx", as_of=date(2023, 9, 30))

    assert job.previous_as_of is None  # 30 June 2023 is before the programme start
    sheet = workbook(job).worksheets[0]
    assert sheet.cell(1, 6).value == "Previous value (none: before the programme start)"
    assert rows_by_name(sheet)["MEs receiving financial support"][5:7] == (None, 0)


def test_no_snapshot_yet_computes_the_date_first(po_one, pmu):
    FinancialSupportFactory(
        enterprise=EnterpriseFactory(sub_project=sub_project_for(po_one)), disbursed_on=date(2025, 1, 15)
    )
    assert not Snapshot.objects.exists()

    job = make(pmu, kind="isr", file_format="xlsx", as_of=AS_OF, previous_as_of=PREVIOUS)

    assert job.status == RunStatus.SUCCEEDED, job.error
    runs = AggregationRun.objects.filter(trigger=RunTrigger.REPORT)
    assert sorted(runs.values_list("as_of", flat=True)) == [PREVIOUS, AS_OF]
    assert rows_by_name(workbook(job).worksheets[0])["MEs receiving financial support"][6] == 1


def test_a_failed_aggregation_fails_the_job_with_a_clear_message(po_one, pmu):
    with mock.patch.object(aggregation, "refresh_snapshot", side_effect=RuntimeError("database gone")):
        job = make(pmu, kind="isr", file_format="pdf", as_of=AS_OF)

    assert job.status == RunStatus.FAILED
    assert "No figures were stored on or before 2025-06-30 and computing them did not succeed" in job.error
    assert "database gone" in job.error
    assert not job.file


def test_a_request_whose_task_cannot_be_queued_leaves_no_job_waiting_for_ever(programme, pmu):
    """The connection drops between saving the job and queueing its task: neither is kept, so no job
    stays "queued" without a task to make it (the page would poll it for ever)."""
    with (
        mock.patch.object(outbox, "enqueue", side_effect=OperationalError("connection lost")),
        pytest.raises(OperationalError),
    ):
        reports.request_report(pmu, kind="isr", file_format="xlsx", as_of=AS_OF)

    assert not ReportJob.objects.exists()
    job = make(pmu, kind="isr", file_format="xlsx", as_of=AS_OF)  # asked again, it is made
    assert job.status == RunStatus.SUCCEEDED, job.error


def test_isr_pdf_renders(programme, pmu):
    job = make(pmu, kind="isr", file_format="pdf", as_of=AS_OF)

    with job.file.open("rb") as handle:
        content = handle.read()
    assert content.startswith(b"%PDF")
    assert len(content) > 10_000


# --- The PO report --------------------------------------------------------------------------------


def test_po_report_percent_is_the_dashboards_and_the_apis(programme, pmu, po_one, api):
    job = make(pmu, kind="po", file_format="xlsx", as_of=AS_OF, po_code="PO-T01")

    book = workbook(job)
    sheet = book["PO results"]
    assert [cell.value for cell in sheet[1]] == [
        "Indicator",
        "Level",
        "Unit",
        "Value (as of 2025-06-30)",
        "PO commitment (approved proposals)",
        "% of the PO's commitment",
        "Programme end target",
        "Share of the programme target (%)",
    ]
    financed = rows_by_name(sheet)["MEs receiving financial support"]
    indicator = Indicator.objects.get(code="ME_FINANCED")
    progress = dashboard.progress(indicator, Decimal(4), po_id=po_one.pk)
    assert progress.basis == "po_commitment"
    assert financed[3:6] == (4, 8, pytest.approx(progress.percent / 100))
    assert financed[5] == pytest.approx(0.5)
    assert financed[6:8] == (80000, pytest.approx(dashboard.programme_share(indicator, Decimal(4)) / 100))
    latest = next(
        row["latest"]
        for row in api.as_user(pmu).get("/api/v1/indicators/", {"po": "PO-T01", "as_of": "2025-06-30"}).json()
        if row["code"] == "ME_FINANCED"
    )
    assert latest["percent_of_target"] == pytest.approx(financed[5] * 100)
    # No commitment: no percentage, but the programme share is still there, labelled as such.
    knowledge = rows_by_name(sheet)["MEs with increased knowledge on climate vulnerability"]
    assert (knowledge[4], knowledge[5], knowledge[7]) == (None, None, 0)


def test_po_report_has_breakdowns_and_data_quality(programme, pmu):
    job = make(pmu, kind="po", file_format="xlsx", as_of=AS_OF, po_code="PO-T01")

    book = workbook(job)
    assert book.sheetnames == ["PO results", "By district", "By sub-sector", "Data quality", "Notes"]
    district = book["By district"]
    header = [cell.value for cell in district[1]]
    assert header[0] == "District"
    assert rows_by_name(district)["Kishoreganj"][header.index("MEs receiving financial support")] == 4
    assert len(list(book["By sub-sector"].iter_rows(min_row=2))) == 1
    quality_rows = rows_by_name(book["Data quality"])
    assert quality_rows["Imports refused"][1] == 0
    assert quality_rows["Last data entry"][1] != "never"


def test_po_report_pdf_renders(programme, po1):
    job = make(po1, kind="po", file_format="pdf", as_of=AS_OF)

    assert job.partner_organization.code == "PO-T01"
    with job.file.open("rb") as handle:
        content = handle.read()
    assert content.startswith(b"%PDF")
    assert len(content) > 10_000


# --- Requests and their checks ---------------------------------------------------------------------


def test_bad_requests_name_the_field(pmu, db):
    with pytest.raises(ValidationError) as refused:
        reports.check_request(
            pmu,
            kind="po",
            file_format="docx",
            as_of=date(2023, 1, 1),
            previous_as_of=None,
            po_code="",
            comments={"NOPE": "x"},
        )

    errors = refused.value.message_dict
    assert errors["file_format"] == ["Choose Excel (.xlsx) or PDF."]
    assert errors["as_of"] == [
        "The reporting date (2023-01-01) is too early: the programme began on 2023-08-01 and there are no "
        "results before that date."
    ]
    assert errors["po"] == ["Choose the PO whose report you want."]
    assert errors["comments"] == ["Comments go in the ISR results table only."]
    assert not ReportJob.objects.exists()


def test_previous_date_must_come_before(pmu, db):
    with pytest.raises(ValidationError) as refused:
        reports.check_request(pmu, kind="isr", file_format="xlsx", as_of=AS_OF, previous_as_of=AS_OF)

    assert "previous_as_of" in refused.value.message_dict


def test_default_previous_date():
    assert reports.quarter_end_before(date(2025, 6, 30)) == date(2025, 3, 31)
    assert reports.quarter_end_before(date(2025, 5, 15)) == date(2025, 3, 31)
    assert reports.quarter_end_before(date(2025, 1, 1)) == date(2024, 12, 31)
    assert reports.default_previous(date(2023, 9, 30)) is None  # 30 June 2023 is before the start


def test_comments_start_from_the_last_report_of_the_same_date(programme, client, pmu, wb):
    make(pmu, kind="isr", file_format="xlsx", as_of=AS_OF, comments={"ME_FINANCED": "Ahead of plan."})
    client.force_login(pmu)

    same_date = client.get("/dashboard/reports/comments/", {"as_of": "2025-06-30"}).content.decode()
    other_date = client.get("/dashboard/reports/comments/", {"as_of": "2025-03-31"}).content.decode()
    by_wb = make(wb, kind="isr", file_format="xlsx", as_of=AS_OF)

    assert "Ahead of plan." in same_date
    assert "Ahead of plan." not in other_date
    assert by_wb.comments == {"ME_FINANCED": "Ahead of plan."}  # read-only roles get the PMU's comments


# --- Background flow and pages --------------------------------------------------------------------


def test_the_page_follows_a_job_from_queued_to_ready(
    programme, client, pmu, django_capture_on_commit_callbacks
):
    client.force_login(pmu)

    with django_capture_on_commit_callbacks() as queued:
        response = client.post(
            "/dashboard/reports/",
            {"kind": "isr", "file_format": "xlsx", "as_of": "2025-06-30", "comment_ME_FINANCED": "Fine."},
        )
    job = ReportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/dashboard/reports/?watch={job.pk}"
    assert job.status == RunStatus.QUEUED
    waiting = client.get(response["Location"], headers={"HX-Request": "true"}).content.decode()
    assert 'hx-trigger="every 3s"' in waiting
    assert "queued" in waiting

    for callback in queued:
        callback()
    ready = client.get(response["Location"], headers={"HX-Request": "true"}).content.decode()

    job.refresh_from_db()
    assert job.status == RunStatus.SUCCEEDED
    assert job.comments == {"ME_FINANCED": "Fine."}
    assert 'data-testid="report-ready"' in ready
    assert f"/dashboard/reports/{job.pk}/download/" in ready
    assert "every 3s" not in ready  # polling stops
    download = client.get(f"/dashboard/reports/{job.pk}/download/")
    assert download["Content-Type"] == XLSX
    assert 'filename="smart-isr-results-2025-06-30.xlsx"' in download["Content-Disposition"]


def test_a_failure_is_shown_and_the_report_can_be_requested_again(
    programme, client, pmu, django_capture_on_commit_callbacks
):
    client.force_login(pmu)
    with (
        mock.patch.object(reports, "render", side_effect=RuntimeError("disk full")),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = client.post(
            "/dashboard/reports/", {"kind": "isr", "file_format": "pdf", "as_of": "2025-06-30"}
        )
    failed = ReportJob.objects.get()
    assert failed.status == RunStatus.FAILED
    assert "RuntimeError: disk full" in failed.error
    assert failed.finished_at is not None
    page = client.get(response["Location"]).content.decode()
    assert 'data-testid="report-failed"' in page
    assert "Request again" in page
    assert client.get(f"/dashboard/reports/{failed.pk}/download/").status_code == 404

    with django_capture_on_commit_callbacks(execute=True):
        again = client.post(f"/dashboard/reports/{failed.pk}/again/")

    retry = ReportJob.objects.exclude(pk=failed.pk).get()
    assert again["Location"] == f"/dashboard/reports/?watch={retry.pk}"
    assert (retry.kind, retry.file_format, retry.as_of, retry.status) == (
        "isr",
        "pdf",
        AS_OF,
        RunStatus.SUCCEEDED,
    )


def test_a_refused_form_keeps_what_was_typed(programme, client, pmu):
    client.force_login(pmu)

    response = client.post(
        "/dashboard/reports/",
        {"kind": "po", "file_format": "xlsx", "as_of": "2025-06-30", "comment_ME_FINANCED": "Keep me."},
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert "Choose the PO whose report you want." in page
    assert "Keep me." in page
    assert 'value="2025-06-30"' in page
    assert not ReportJob.objects.exists()


def test_po_staff_request_their_own_pos_report_only(programme, client, po1):
    client.force_login(po1)

    page = client.get("/dashboard/reports/").content.decode()
    refused = client.post(
        "/dashboard/reports/", {"kind": "isr", "file_format": "xlsx", "as_of": "2025-06-30"}
    )
    client.post(
        "/dashboard/reports/", {"kind": "po", "file_format": "xlsx", "as_of": "2025-06-30", "po": "PO-T02"}
    )

    assert 'value="isr"' not in page
    assert "comment_ME_FINANCED" not in page
    assert refused.status_code == 200
    assert "Select a valid choice." in refused.content.decode()
    job = ReportJob.objects.get()  # the PO field is not theirs to choose: their own PO
    assert (job.kind, job.partner_organization.code) == ("po", "PO-T01")


@pytest.fixture
def jobs(programme, pmu):
    return {
        "isr": make(pmu, kind="isr", file_format="xlsx", as_of=AS_OF),
        "one": make(pmu, kind="po", file_format="xlsx", as_of=AS_OF, po_code="PO-T01"),
        "two": make(pmu, kind="po", file_format="pdf", as_of=AS_OF, po_code="PO-T02"),
    }


@pytest.mark.parametrize(
    ("persona", "job", "expected"),
    [
        ("pmu", "two", 200),
        ("wb", "isr", 200),
        ("approver", "two", 200),
        ("po1", "one", 200),  # their PO's report, even if the PMU asked for it
        ("po1", "two", 404),  # another PO's: as if it did not exist
        ("po1", "isr", 404),
        ("po2", "two", 200),
        ("tec1", "one", 403),
    ],
)
def test_downloads_follow_the_scope(jobs, client, request, persona, job, expected):
    client.force_login(request.getfixturevalue(persona))

    assert client.get(f"/dashboard/reports/{jobs[job].pk}/download/").status_code == expected


def test_strangers_go_to_sign_in_and_tec_members_have_no_reports(jobs, client, tec1):
    assert client.get("/dashboard/reports/").status_code == 302
    assert client.get(f"/dashboard/reports/{jobs['one'].pk}/download/").status_code == 302
    client.force_login(tec1)
    assert client.get("/dashboard/reports/").status_code == 403
    refused = client.post("/dashboard/reports/", {"kind": "po", "file_format": "xlsx", "as_of": "2025-06-30"})
    assert refused.status_code == 403


def test_another_pos_job_cannot_be_requested_again(jobs, client, po1):
    client.force_login(po1)

    assert client.post(f"/dashboard/reports/{jobs['two'].pk}/again/").status_code == 404
    assert ReportJob.objects.count() == 3


def test_the_page_lists_only_the_users_own_reports(jobs, client, po1, pmu):
    mine = make(po1, kind="po", file_format="xlsx", as_of=AS_OF)
    client.force_login(po1)

    page = client.get("/dashboard/reports/").content.decode()

    assert f"/dashboard/reports/{mine.pk}/download/" in page
    assert f"/dashboard/reports/{jobs['one'].pk}/download/" not in page


# --- API ------------------------------------------------------------------------------------------


def test_api_request_follow_and_download(programme, api, pmu, django_capture_on_commit_callbacks):
    client = api.as_user(pmu)

    with django_capture_on_commit_callbacks(execute=True):
        created = client.post(
            "/api/v1/results-reports/",
            {
                "kind": "isr",
                "file_format": "xlsx",
                "as_of": "2025-06-30",
                "comments": {"ME_FINANCED": "API note"},
            },
            format="json",
        )

    assert created.status_code == 202
    body = created.json()
    assert (body["kind"], body["previous_as_of"], body["comments"]) == (
        "isr",
        "2025-03-31",
        {"ME_FINANCED": "API note"},
    )
    detail = client.get(f"/api/v1/results-reports/{body['id']}/").json()
    assert detail["status"] == "succeeded"
    assert detail["download_url"].endswith(f"/api/v1/results-reports/{body['id']}/download/")
    download = client.get(detail["download_url"], HTTP_ACCEPT=XLSX)
    assert download.status_code == 200
    assert download["Content-Type"] == XLSX
    sheet = load_workbook(io.BytesIO(b"".join(download.streaming_content))).worksheets[0]
    assert rows_by_name(sheet)["MEs receiving financial support"][9] == "API note"


def test_api_download_of_an_unfinished_report_is_a_conflict(programme, api, pmu):
    job = ReportJob.objects.create(kind="isr", file_format="pdf", as_of=AS_OF, requested_by=pmu)

    response = api.as_user(pmu).get(
        f"/api/v1/results-reports/{job.pk}/download/", HTTP_ACCEPT="application/pdf"
    )

    assert response.status_code == 409
    assert response.json()["detail"] == "The report has no file: it is queued."


def test_api_pdf_has_its_content_type(jobs, api, po2):
    response = api.as_user(po2).get(f"/api/v1/results-reports/{jobs['two'].pk}/download/")

    assert response["Content-Type"] == "application/pdf"


def test_api_bad_input_names_the_field(programme, api, pmu):
    client = api.as_user(pmu)

    no_po = client.post(
        "/api/v1/results-reports/", {"kind": "po", "file_format": "xlsx", "as_of": "2025-06-30"}
    )
    unknown = client.post(
        "/api/v1/results-reports/", {"kind": "po", "file_format": "xlsx", "as_of": "2025-06-30", "po": "NOPE"}
    )
    early = client.post(
        "/api/v1/results-reports/", {"kind": "isr", "file_format": "xlsx", "as_of": "2022-12-31"}
    )
    bad_code = client.post(
        "/api/v1/results-reports/",
        {"kind": "isr", "file_format": "xlsx", "as_of": "2025-06-30", "comments": {"NOPE": "x"}},
        format="json",
    )

    assert no_po.status_code == 400
    assert field_errors(no_po) == {"po": ["Choose the PO whose report you want."]}
    assert field_errors(unknown) == {"po": ["No PO has the code NOPE."]}
    assert "as_of" in early.json()["fields"]
    assert field_errors(bad_code) == {"comments": ["No indicator has the code NOPE."]}
    assert not ReportJob.objects.exists()


def test_api_scoping_and_refusals(jobs, api, po1, wb, tec1):
    assert api.get("/api/v1/results-reports/").status_code == 401
    assert api.as_user(tec1).get("/api/v1/results-reports/").status_code == 403
    po_client = api.as_user(po1)
    listed = po_client.get("/api/v1/results-reports/").json()
    assert [row["po"] for row in listed["results"]] == ["PO-T01"]
    assert po_client.get(f"/api/v1/results-reports/{jobs['two'].pk}/").status_code == 404
    assert po_client.get(f"/api/v1/results-reports/{jobs['two'].pk}/download/").status_code == 404
    other_po = {"kind": "po", "file_format": "xlsx", "as_of": "2025-06-30", "po": "PO-T02"}
    assert po_client.post("/api/v1/results-reports/", other_po).status_code == 404
    isr = {"kind": "isr", "file_format": "xlsx", "as_of": "2025-06-30"}
    assert po_client.post("/api/v1/results-reports/", isr).status_code == 403
    assert api.as_user(tec1).post("/api/v1/results-reports/", isr).status_code == 403
    wb_client = api.as_user(wb)
    assert wb_client.post("/api/v1/results-reports/", isr).status_code == 202  # read-only roles may download
    with_comment = {**isr, "comments": {"ME_FINANCED": "x"}}
    assert wb_client.post("/api/v1/results-reports/", with_comment, format="json").status_code == 403
    assert ReportJob.objects.count() == 4


def test_a_po_report_can_be_asked_for_on_a_date_with_isr_comments(programme, client, pmu, po_one):
    make(pmu, kind="isr", file_format="xlsx", as_of=AS_OF, comments={"ME_FINANCED": "Ahead of plan."})
    client.force_login(pmu)

    # The form shows the comment boxes, filled from the ISR of that date, whatever the kind chosen.
    response = client.post(
        "/dashboard/reports/",
        {
            "kind": "po",
            "po": po_one.code,
            "file_format": "pdf",
            "as_of": "2025-06-30",
            "comment_ME_FINANCED": "Ahead of plan.",
        },
    )

    assert response.status_code == 302
    job = ReportJob.objects.get(kind="po")
    assert (job.partner_organization, job.comments) == (po_one, {})


@pytest.mark.parametrize("persona", ["po1", "wb", "tec1"])
def test_only_the_pmu_reads_the_comment_boxes(db, client, request, persona):
    client.force_login(request.getfixturevalue(persona))

    assert client.get("/dashboard/reports/comments/", {"as_of": "2025-06-30"}).status_code == 403
