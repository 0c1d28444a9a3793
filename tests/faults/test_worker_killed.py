"""A worker SIGKILLed in the middle of a job (the OOM killer, a lost machine): no `finally` runs,
nothing is acknowledged. One sweep later the job is failed with a reason a person understands, the
database holds nothing half-written, and doing the job again gives exactly what a clean run gives."""

from __future__ import annotations

from datetime import date

import psycopg2
import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from core import jobs, outbox
from core.models import OutboxMessage
from enterprises.models import Enterprise, ImportJob, ImportStatus
from monitoring.models import AggregationRun, IndicatorValue, RunStatus, Snapshot
from tests.enterprises.factories import (
    AttendanceFactory,
    EnterpriseFactory,
    FinancialSupportFactory,
    KpiReadingFactory,
    TrainingSessionFactory,
    sub_project_for,
)
from tests.enterprises.test_imports import as_csv, enterprise_row
from tests.faults.services import (
    api_client,
    database_sessions,
    wait_for_sessions_to_end,
    wait_until,
    wait_until_every_task_is_done,
)

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

AS_OF = date(2025, 6, 30)
IMPORT_ROWS = 3000
FINISHED = {RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.SKIPPED}


@pytest.fixture
def programme(po_one, po_two):
    """Two POs' enterprises with financing, training and KPI readings: dozens of indicator values."""
    for po in (po_one, po_two):
        sp = sub_project_for(po)
        session = TrainingSessionFactory(sub_project=sp)
        for index in range(10):
            me = EnterpriseFactory(sub_project=sp, wage_employed_male=index % 4)
            if index % 2 == 0:
                FinancialSupportFactory(enterprise=me, disbursed_on=date(2025, 1, 1 + index))
            if index % 3 == 0:
                AttendanceFactory(session=session, enterprise=me, post_test_score=45 + index)
            if index % 4 == 0:
                KpiReadingFactory(enterprise=me, period=date(2025, 1, 1), is_baseline=True)
                KpiReadingFactory(enterprise=me, period=date(2025, 5, 1))


def indicator_values() -> set[tuple]:
    """The snapshot of AS_OF as a set of rows (what a person reads), without ids or the run."""
    fields = [f.attname for f in IndicatorValue._meta.concrete_fields if f.attname not in {"id", "run_id"}]
    return set(IndicatorValue.objects.filter(as_of=AS_OF).values_list(*fields))


def redeliver_what_was_never_done(settings) -> None:
    """What the broker does once its visibility timeout has passed with the killed job's message
    (taken by the killed worker, never acknowledged): deliver it again. The outbox publishes the same
    message (same task id) again; then wait until the worker has been through every message."""
    killed = list(OutboxMessage.objects.filter(started_at__isnull=False, done_at__isnull=True))
    assert killed, "the killed worker had started a message it never finished"
    for message in killed:
        assert outbox.publish(message) == outbox.PUBLISHED
    wait_until_every_task_is_done()


def request_run(pmu_api) -> int:
    response = pmu_api.post("/api/v1/aggregation-runs/", {"as_of": AS_OF.isoformat()})
    assert response.status_code == 202, response.content
    return response.json()["id"]


def finished_run(run_id: int, timeout: float = 60) -> AggregationRun:
    return wait_until(
        lambda: AggregationRun.objects.filter(pk=run_id, status__in=FINISHED).first(),
        timeout,
        f"aggregation run {run_id} finished",
    )


def run_waits_on_the_lock(run_id: int, worker) -> bool:
    if not AggregationRun.objects.filter(pk=run_id, status=RunStatus.RUNNING).exists():
        return False
    return any(wait == "Lock" for _pid, _state, wait, _query in database_sessions(worker.application_name))


def lock_connection() -> psycopg2.extensions.connection:
    """A connection of its own to the test database (for holding a table lock while the test goes on)."""
    db = connection.settings_dict
    return psycopg2.connect(
        dbname=db["NAME"],
        user=db["USER"],
        password=db["PASSWORD"] or None,
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        application_name="faults-lock",
    )


def test_a_worker_killed_during_an_aggregation_leaves_a_failed_run_and_the_next_run_equals_a_clean_one(
    start_worker, web_broker, broker_url, settings, pmu, programme
):
    worker = start_worker().wait_ready()
    web_broker(broker_url)
    pmu_api = api_client(pmu)
    clean = finished_run(request_run(pmu_api))
    assert clean.status == RunStatus.SUCCEEDED
    clean_values = indicator_values()
    assert len(clean_values) > 20

    # Hold the run in the middle: its computation is done, its writing waits for this table lock.
    holder = lock_connection()
    try:
        with holder.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {IndicatorValue._meta.db_table} IN SHARE MODE")
        killed_id = request_run(pmu_api)
        wait_until(lambda: run_waits_on_the_lock(killed_id, worker), 30, "the run is running and writing")
        worker.kill()
    finally:
        holder.rollback()
        holder.close()
    # PostgreSQL ends the dead worker's session (rolling back what it was writing) once it notices.
    wait_for_sessions_to_end(worker.application_name)

    swept = jobs.sweep()

    killed = AggregationRun.objects.get(pk=killed_id)
    assert swept["monitoring.AggregationRun"] == 1
    assert killed.status == RunStatus.FAILED
    assert "stopped" in killed.error
    assert "nothing was written" in killed.error
    assert indicator_values() == clean_values  # the last good snapshot stays
    assert Snapshot.objects.get(as_of=AS_OF).run_id == clean.pk

    start_worker().wait_ready()
    again = finished_run(request_run(pmu_api))

    assert again.status == RunStatus.SUCCEEDED
    assert Snapshot.objects.get(as_of=AS_OF).run_id == again.pk
    # Nothing of the killed run: each value names the run that last changed it (a rerun rewrites only
    # the values that differ, none here).
    runs = set(IndicatorValue.objects.filter(as_of=AS_OF).values_list("run_id", flat=True))
    assert killed_id not in runs
    assert runs <= {clean.pk, again.pk}
    assert indicator_values() == clean_values
    # The killed run's message, delivered again one day, finds the run failed and changes nothing.
    redeliver_what_was_never_done(settings)
    assert AggregationRun.objects.get(pk=killed_id).status == RunStatus.FAILED
    assert Snapshot.objects.get(as_of=AS_OF).run_id == again.pk
    assert indicator_values() == clean_values
    assert not AggregationRun.objects.exclude(status__in=FINISHED).exists()  # nothing stuck


def import_progress(job: ImportJob) -> tuple[str, int, int] | None:
    """The writing phase's progress, which the worker keeps in the shared cache."""
    return cache.get(job.progress_cache_key)


def wait_for_job(job_id: int, statuses: set[str], timeout: float = 90) -> ImportJob:
    return wait_until(
        lambda: ImportJob.objects.filter(pk=job_id, status__in=statuses).first(),
        timeout,
        f"import job {job_id} in {statuses}",
    )


def test_a_worker_killed_while_writing_an_import_writes_nothing_and_the_retry_imports_each_row_once(
    start_worker, process_env, web_broker, broker_url, settings, po1, po_one
):
    # Batches of 500 rows: the write reports its progress after each, and is killed between two.
    process_env["ENTERPRISES_IMPORT_WRITE_BATCH"] = "500"
    sp = sub_project_for(po_one, agreement_number="PKSF/SMART/SP/T001")
    worker = start_worker()
    web_broker(broker_url)
    po_api = api_client(po1)
    rows = [enterprise_row(i, sp) for i in range(1, IMPORT_ROWS + 1)]
    upload = SimpleUploadedFile("mes.csv", as_csv(rows), content_type="text/csv")
    worker.wait_ready()
    created = po_api.post("/api/v1/import-jobs/", {"kind": "enterprises", "file": upload}, format="multipart")
    assert created.status_code == 201, created.content
    job_id = created.json()["id"]
    checked = wait_for_job(job_id, {ImportStatus.VALIDATED, ImportStatus.INVALID, ImportStatus.FAILED})
    assert (checked.status, checked.created_count) == (ImportStatus.VALIDATED, IMPORT_ROWS)

    assert po_api.post(f"/api/v1/import-jobs/{job_id}/commit/").status_code == 200
    progress = wait_until(
        lambda: (p := import_progress(checked)) and p[0] == "writing" and 0 < p[1] < IMPORT_ROWS and p,
        60,
        "the worker is writing the rows",
        interval=0.01,
    )
    worker.kill()
    wait_for_sessions_to_end(worker.application_name)

    assert progress[2] == IMPORT_ROWS
    assert not Enterprise.objects.exists()  # the rows are written all together or not at all
    assert ImportJob.objects.get(pk=job_id).status == ImportStatus.COMMITTING

    # The next worker sweeps as it starts (beat's sweep would do the same a little later).
    start_worker().wait_ready()

    wait_for_job(job_id, {ImportStatus.FAILED}, timeout=15)
    detail = po_api.get(f"/api/v1/import-jobs/{job_id}/").json()
    assert "stopped" in str(detail), detail
    assert "nothing was written" in str(detail), detail
    retried = po_api.post(f"/api/v1/import-jobs/{job_id}/retry/")
    assert retried.status_code == 200, retried.content
    rechecked = wait_for_job(job_id, {ImportStatus.VALIDATED, ImportStatus.INVALID, ImportStatus.FAILED})
    assert (rechecked.status, rechecked.created_count) == (ImportStatus.VALIDATED, IMPORT_ROWS)
    assert po_api.post(f"/api/v1/import-jobs/{job_id}/commit/").status_code == 200
    done = wait_for_job(job_id, {ImportStatus.DONE, ImportStatus.FAILED, ImportStatus.INVALID})

    assert (done.status, done.created_count) == (ImportStatus.DONE, IMPORT_ROWS)
    codes = list(Enterprise.objects.filter(partner_organization=po_one).values_list("po_code", flat=True))
    assert sorted(codes) == sorted(row["po_code"] for row in rows)  # each row once, none twice
    # A second commit of the same job is refused, and nothing more is written.
    assert po_api.post(f"/api/v1/import-jobs/{job_id}/commit/").status_code == 409
    # The killed write's message, delivered again one day, writes nothing more.
    redeliver_what_was_never_done(settings)
    assert ImportJob.objects.get(pk=job_id).status == ImportStatus.DONE
    assert Enterprise.objects.count() == IMPORT_ROWS
