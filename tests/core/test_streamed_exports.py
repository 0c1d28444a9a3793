"""A page's CSV download is streamed at once whatever its length (issue 17): no background job, the
rows of the user's scope only; an XLSX above EXPORT_INLINE_ROWS is still written in the background and
announced when ready."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest

from core.models import ExportJob, ExportStatus
from tests.enterprises.factories import EnterpriseFactory, KpiReadingFactory, sub_project_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def readings(po_one, po_two, settings, tmp_path):
    """Six readings of po1's PO (three a month for two months) and two of another PO; lists of more
    than two rows are "large"."""
    settings.EXPORT_INLINE_ROWS = 2
    settings.MEDIA_ROOT = tmp_path / "media"
    own = sub_project_for(po_one, agreement_number="PKSF/SMART/SP/S001")
    other = sub_project_for(po_two, agreement_number="PKSF/SMART/SP/S002")
    for i in range(3):
        me = EnterpriseFactory(sub_project=own, po_code=f"ME-OWN-{i}")
        KpiReadingFactory(enterprise=me, period=date(2024, 8, 1))
        KpiReadingFactory(enterprise=me, period=date(2024, 9, 1))
    for i in range(2):
        KpiReadingFactory(enterprise=EnterpriseFactory(sub_project=other, po_code=f"ME-OTHER-{i}"))


def test_a_large_csv_is_streamed_at_once_with_every_row_of_the_users_scope(client, po1, readings):
    client.force_login(po1)

    response = client.get("/kpi-readings/", {"export": "csv"})

    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="kpi-readings-')
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    header, body = rows[0], rows[1:]
    assert "KPI code" in header
    assert "Month" in header
    me_codes = sorted(row[header.index("ME code")] for row in body)
    assert me_codes == sorted([f"ME-OWN-{i}" for i in range(3)] * 2)
    months = sorted(row[header.index("Month")] for row in body)
    assert months == ["2024-08"] * 3 + ["2024-09"] * 3
    assert not ExportJob.objects.exists()


def test_the_first_bytes_leave_before_any_row_is_read(client, po1, readings, django_assert_num_queries):
    client.force_login(po1)
    response = client.get("/kpi-readings/", {"export": "csv"})
    chunks = iter(response.streaming_content)

    with django_assert_num_queries(0):
        first = next(chunks) + next(chunks)

    assert first.decode("utf-8-sig").startswith("PO,ME code,")
    assert b"".join(chunks).count(b"ME-OWN-") == 6


def test_a_large_xlsx_is_still_written_in_the_background_and_announced(
    client, po1, readings, django_capture_on_commit_callbacks
):
    client.force_login(po1)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.get("/kpi-readings/", {"export": "xlsx"})

    assert response.status_code == 302
    job = ExportJob.objects.get()
    assert (job.file_format, job.status, job.rows_written) == ("xlsx", ExportStatus.READY, 6)
    page = client.get("/kpi-readings/").content.decode()
    assert "Your download is ready" in page


def test_without_streaming_a_large_csv_is_still_written_in_the_background(
    client, po1, readings, settings, django_capture_on_commit_callbacks
):
    settings.EXPORT_STREAM_CSV = False
    client.force_login(po1)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.get("/kpi-readings/", {"export": "csv"})

    assert response.status_code == 302
    job = ExportJob.objects.get()
    assert (job.file_format, job.status, job.rows_written) == ("csv", ExportStatus.READY, 6)
