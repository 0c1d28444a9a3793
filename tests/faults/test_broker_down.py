"""The broker goes away under the web side: every kind of action that queues work answers at once
(within 2 s, never a 5xx) and keeps its work in the outbox; once the broker is back, the relay hands
it over and the worker does each piece exactly once."""

from __future__ import annotations

import email
import email.policy
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from core import outbox
from core.models import OutboxMessage
from enterprises.models import ClusterSuggestion, Enterprise, ImportJob, ImportStatus
from monitoring.models import AggregationRun, ReportJob, RunStatus, RunTrigger
from subprojects import notifications
from subprojects.models import ConceptNote, NoteStatus, Transition
from tests.enterprises.factories import EnterpriseFactory, FinancialSupportFactory
from tests.enterprises.test_api import NEW_ME
from tests.enterprises.test_imports import as_csv, enterprise_row
from tests.faults.services import api_client, wait_until, wait_until_every_task_is_done
from tests.subprojects.factories import CallFactory, ConceptNoteFactory

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

# The bound: with the broker unreachable, every action answers within this.
ANSWER_WITHIN_SECONDS = 2.0
AS_OF = {"as_of": "2025-06-30"}
IMPORT = {"kind": "enterprises"}

RUN_AGGREGATION = "monitoring.tasks.run_aggregation"
SEND_EMAILS = "subprojects.tasks.send_transition_emails"
RUN_IMPORT = "enterprises.tasks.run_import_job"
REFLAG_DUPLICATES = "enterprises.tasks.reflag_duplicates"
SUGGEST_CLUSTERS = "enterprises.tasks.suggest_clusters"
GENERATE_REPORT = "monitoring.tasks.generate_report"


@pytest.fixture
def field_data(sp_one):
    """Financed enterprises of po1's PO, twelve of them side by side (a cluster to suggest)."""
    for index in range(12):
        me = EnterpriseFactory(sub_project=sp_one, latitude="24.052000", longitude="90.976000")
        if index % 2 == 0:
            FinancialSupportFactory(enterprise=me)
    return sp_one


@pytest.fixture
def submitted_note(pmu, po1):
    return ConceptNoteFactory(
        call=CallFactory(created_by=pmu),
        partner_organization=po1.partner_organization,
        created_by=po1,
        status=NoteStatus.SUBMITTED,
        submitted_at=timezone.now() - timedelta(days=1),
    )


def timed(action: Callable):
    """The response of `action()` and the seconds it took. Each action is the first to meet the
    broker down: the pause the outbox takes after a failed publish (leaving new messages to the
    relay for a few seconds) is lifted, so every kind of action pays for trying the broker itself."""
    outbox._broker_down_until = 0.0
    started = time.monotonic()
    response = action()
    return response, time.monotonic() - started


def emails_sent(mail_dir: Path) -> list[email.message.Message]:
    """The messages the worker's file-based email backend wrote (several to a file, separated by a
    line of dashes)."""
    messages = []
    for path in sorted(mail_dir.iterdir()):
        for chunk in path.read_text().split("-" * 79):
            if chunk.strip():
                messages.append(email.message_from_string(chunk.strip(), policy=email.policy.default))
    return messages


def relay_until_all_published(timeout: float = 30) -> None:
    """What beat's relay does every few seconds, until nothing waits (a message that failed waits a
    little before the relay tries it again)."""

    def nothing_waits() -> bool:
        outbox.relay()
        return outbox.backlog()["waiting"] == 0

    wait_until(nothing_waits, timeout, "the relay published every waiting message", interval=0.25)


def test_with_the_broker_down_every_action_answers_at_once_and_its_work_runs_once_it_is_back(
    broker_proxy,
    web_broker,
    start_worker,
    shared_files,
    client,
    pmu,
    po1,
    field_data,
    submitted_note,
):
    worker = start_worker()
    web_broker(broker_proxy.url)
    worker.wait_ready()
    before = set(OutboxMessage.objects.values_list("pk", flat=True))
    client.force_login(pmu)
    pmu_api = api_client(pmu)
    upload = SimpleUploadedFile(
        "mes.csv",
        as_csv([enterprise_row(i, field_data, po_code=f"IMP-{i}") for i in range(1, 4)]),
        content_type="text/csv",
    )

    broker_proxy.down()
    answers = {
        "aggregation (PMU button)": timed(lambda: client.post("/dashboard/runs/new/")),
        "aggregation (API)": timed(lambda: pmu_api.post("/api/v1/aggregation-runs/", AS_OF)),
        "start review (emails)": timed(
            lambda: pmu_api.post(f"/api/v1/concept-notes/{submitted_note.pk}/start-review/")
        ),
        "cluster refresh (PMU page)": timed(lambda: client.post("/clusters/suggestions/refresh/")),
        "results report (API)": timed(
            lambda: pmu_api.post(
                "/api/v1/results-reports/",
                {"kind": "isr", "file_format": "xlsx", "as_of": "2025-06-30"},
                format="json",
            )
        ),
    }
    po_api = api_client(po1)
    answers["import upload (API)"] = timed(
        lambda: po_api.post("/api/v1/import-jobs/", IMPORT | {"file": upload}, format="multipart")
    )
    answers["enterprise create (API)"] = timed(
        lambda: po_api.post("/api/v1/enterprises/", {**NEW_ME, "sub_project": field_data.pk})
    )

    statuses = {name: response.status_code for name, (response, _seconds) in answers.items()}
    assert statuses == {
        "aggregation (PMU button)": 302,
        "aggregation (API)": 202,
        "start review (emails)": 200,
        "cluster refresh (PMU page)": 302,
        "results report (API)": 202,
        "import upload (API)": 201,
        "enterprise create (API)": 201,
    }
    # (How long each took is checked at the end, so that a slow answer does not hide the rest.)
    # The work is saved, waiting for the broker; the objects wait in their first state.
    queued = OutboxMessage.objects.exclude(pk__in=before)
    assert Counter(queued.values_list("task", flat=True)) == {
        RUN_AGGREGATION: 2,
        SEND_EMAILS: 1,
        SUGGEST_CLUSTERS: 1,
        GENERATE_REPORT: 1,
        RUN_IMPORT: 1,
        REFLAG_DUPLICATES: 1,
    }
    assert not queued.filter(published_at__isnull=False).exists()
    assert set(AggregationRun.objects.values_list("status", flat=True)) == {RunStatus.QUEUED}
    assert ImportJob.objects.get().status == ImportStatus.PENDING
    assert ReportJob.objects.get().status == RunStatus.QUEUED

    broker_proxy.up()
    relay_until_all_published()

    wait_until_every_task_is_done()
    assert outbox.backlog()["waiting"] == 0
    # The two requested runs, and the one the report needed for its date, each ran once.
    runs = Counter(AggregationRun.objects.values_list("trigger", "status"))
    assert runs == {
        (RunTrigger.BUTTON, RunStatus.SUCCEEDED): 1,
        (RunTrigger.API, RunStatus.SUCCEEDED): 1,
        (RunTrigger.REPORT, RunStatus.SUCCEEDED): 1,
    }
    job = ImportJob.objects.get()
    assert (job.status, job.created_count) == (ImportStatus.VALIDATED, 3)
    assert ReportJob.objects.get().status == RunStatus.SUCCEEDED
    assert ClusterSuggestion.objects.get().member_count == 12
    assert Enterprise.objects.filter(po_code=NEW_ME["po_code"]).count() == 1
    # One email to each person concerned by the review's start, not two.
    note = ConceptNote.objects.get(pk=submitted_note.pk)
    assert note.status == NoteStatus.UNDER_REVIEW
    transition = Transition.objects.get(action="start_review")
    expected = sorted(user.email for user in notifications.recipients(transition))
    about_the_note = [m for m in emails_sent(shared_files / "mail") if note.reference in m["Subject"]]
    assert expected
    assert sorted(message["To"] for message in about_the_note) == expected
    took = {name: round(seconds, 2) for name, (_response, seconds) in answers.items()}
    assert all(seconds < ANSWER_WITHIN_SECONDS for seconds in took.values()), took


def test_a_broker_that_hangs_does_not_hold_the_answer_either(
    broker_proxy, web_broker, start_worker, pmu, field_data
):
    worker = start_worker()
    web_broker(broker_proxy.url)
    worker.wait_ready()
    pmu_api = api_client(pmu)
    # A server that has answered before: the first request of a process also loads the code behind
    # it (0.7 s here), which is not the broker's wait this test measures.
    for path in ("/api/v1/aggregation-runs/", "/api/v1/results-reports/"):
        assert pmu_api.get(path).status_code == 200

    broker_proxy.blackhole()
    answers = {
        "aggregation (API)": timed(lambda: pmu_api.post("/api/v1/aggregation-runs/", AS_OF)),
        "results report (API)": timed(
            lambda: pmu_api.post(
                "/api/v1/results-reports/",
                {"kind": "po", "po": "PO-T01", "file_format": "xlsx", "as_of": "2025-06-30"},
                format="json",
            )
        ),
    }

    statuses = {name: response.status_code for name, (response, _seconds) in answers.items()}
    assert statuses == {"aggregation (API)": 202, "results report (API)": 202}
    broker_proxy.up()
    relay_until_all_published()
    wait_until_every_task_is_done()
    assert AggregationRun.objects.get(trigger=RunTrigger.API).status == RunStatus.SUCCEEDED
    assert ReportJob.objects.get().status == RunStatus.SUCCEEDED
    took = {name: round(seconds, 2) for name, (_response, seconds) in answers.items()}
    assert all(seconds < ANSWER_WITHIN_SECONDS for seconds in took.values()), took
