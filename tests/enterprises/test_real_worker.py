"""An import job run by a real Celery worker (CI starts one with a broker; skipped otherwise)."""

from __future__ import annotations

import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from enterprises.imports.jobs import create_job, request_commit
from enterprises.models import Enterprise, ImportJob, ImportStatus
from tests.enterprises.test_imports import as_csv, enterprise_row

pytestmark = [pytest.mark.real_services, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def wait_for(job_id: int, seen: list[tuple[str, int]], timeout: float = 60) -> ImportJob:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = ImportJob.objects.get(pk=job_id)
        seen.append((job.status, job.rows_done))
        if not job.is_running:
            return job
        time.sleep(0.05)
    raise AssertionError(f"the worker did not finish job {job_id}: {seen[-5:]}")


def test_an_import_runs_on_the_worker_with_its_progress_and_result_visible(client, po1, sp_one):
    rows = [enterprise_row(i, sp_one) for i in range(1, 2501)]
    upload = SimpleUploadedFile("mes.csv", as_csv(rows), content_type="text/csv")
    seen: list[tuple[str, int]] = []

    job = create_job(user=po1, kind="enterprises", upload=upload)
    checked = wait_for(job.pk, seen)

    assert (checked.status, checked.rows_total, checked.rows_done, checked.created_count) == (
        ImportStatus.VALIDATED,
        2500,
        2500,
        2500,
    )
    assert not Enterprise.objects.exists()
    assert seen[0][0] in {ImportStatus.PENDING, ImportStatus.VALIDATING, ImportStatus.VALIDATED}

    request_commit(user=po1, job=checked)
    done = wait_for(job.pk, seen)

    assert (done.status, done.created_count) == (ImportStatus.DONE, 2500)
    # While the worker ran, its progress was visible to this other process, chunk by chunk.
    running = {ImportStatus.VALIDATING, ImportStatus.COMMITTING}
    assert any(status in running and 0 < rows < 2500 for status, rows in seen), seen
    assert Enterprise.objects.filter(partner_organization=sp_one.partner_organization).count() == 2500
    client.force_login(po1)
    assert "2,500 created" in client.get(f"/field-data/imports/{job.pk}/").content.decode()
