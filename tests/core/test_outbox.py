"""Durable task publishing (core.outbox): the follow-up work of a saved change is kept with it,
survives a broker that is down, and runs once the broker is back."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from celery.app.task import Task
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError

from core import outbox
from core.models import OutboxMessage
from core.tasks import ping
from smart_portal.celery import app

pytestmark = pytest.mark.django_db


@pytest.fixture
def broker(monkeypatch):
    """A broker outside this process whose availability the test switches; it records what it takes."""

    class FakeBroker:
        up = True
        taken: list[tuple[str, str]] = []

        def apply_async(self, task, args=None, kwargs=None, task_id=None, **options):
            if not self.up:
                raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
            self.taken.append((task.name, task_id))

    fake = FakeBroker()
    fake.taken = []
    monkeypatch.setattr(Task, "apply_async", lambda task, *a, **kw: fake.apply_async(task, *a, **kw))
    monkeypatch.setattr(outbox, "_broker_down_until", 0.0)
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    try:
        yield fake
    finally:
        app.conf.task_always_eager = eager


def test_without_a_broker_the_task_runs_in_process_after_the_commit(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        message = outbox.enqueue(ping)
        assert OutboxMessage.objects.get(pk=message.pk).published_at is None  # not before the commit

    assert len(callbacks) == 1
    message.refresh_from_db()
    assert message.state == "done"
    assert message.attempts == 1


def test_work_queued_in_a_transaction_that_rolls_back_is_never_run(broker):
    def change_that_fails():
        with transaction.atomic():
            outbox.enqueue(ping)
            raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError):
        change_that_fails()

    assert not OutboxMessage.objects.exists()
    assert outbox.relay()["published"] == 0
    assert broker.taken == []


def test_a_message_is_published_after_the_commit_with_its_uuid_as_task_id(
    broker, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        message = outbox.enqueue(ping)

    message.refresh_from_db()
    assert broker.taken == [("core.tasks.ping", str(message.uuid))]
    assert message.state == "published"
    assert message.done_at is None  # the worker marks it done when the task ends


def test_with_the_broker_down_the_change_is_kept_and_the_work_waits(
    broker, django_capture_on_commit_callbacks
):
    broker.up = False

    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True):
        first = outbox.enqueue(ping)
    with django_capture_on_commit_callbacks(execute=True):
        second = outbox.enqueue(ping)
    elapsed = time.monotonic() - started

    first.refresh_from_db()
    second.refresh_from_db()
    assert first.state == second.state == "waiting"
    assert "Connection refused" in first.last_error
    assert first.attempts == 1
    # Having seen the broker down, the process does not try it again for each request.
    assert second.attempts == 0
    assert outbox.broker_seen_down()
    assert outbox.backlog()["waiting"] == 2
    assert elapsed < 2


def test_the_relay_publishes_what_waited_once_the_broker_is_back(broker, django_capture_on_commit_callbacks):
    broker.up = False
    with django_capture_on_commit_callbacks(execute=True):
        messages = [outbox.enqueue(ping) for _ in range(3)]
    OutboxMessage.objects.update(available_at=timezone.now())

    assert outbox.relay() == {"published": 0, "republished": 0, "failed": 1}
    broker.up = True
    OutboxMessage.objects.update(available_at=timezone.now())
    result = outbox.relay()

    assert result == {"published": 3, "republished": 0, "failed": 0}
    assert [task_id for _name, task_id in broker.taken] == [str(m.uuid) for m in messages]
    assert outbox.backlog() == {"waiting": 0, "oldest_seconds": 0}
    # A second pass publishes nothing twice.
    assert outbox.relay()["published"] == 0


def test_the_relay_waits_for_a_messages_next_attempt(broker, django_capture_on_commit_callbacks):
    broker.up = False
    with django_capture_on_commit_callbacks(execute=True):
        outbox.enqueue(ping)
    broker.up = True

    # The failed attempt put the next one a little later (and a fresh message is left to its request).
    assert outbox.relay()["published"] == 0
    OutboxMessage.objects.update(available_at=timezone.now() - timedelta(seconds=1))
    assert outbox.relay()["published"] == 1


def test_a_published_message_the_broker_lost_is_published_again(broker, settings):
    lost = OutboxMessage.objects.create(
        task="core.tasks.ping",
        published_at=timezone.now() - timedelta(seconds=settings.OUTBOX_REPUBLISH_AFTER_SECONDS + 60),
    )
    done = OutboxMessage.objects.create(
        task="core.tasks.ping",
        published_at=timezone.now() - timedelta(days=1),
        done_at=timezone.now() - timedelta(days=1),
    )
    recent = OutboxMessage.objects.create(task="core.tasks.ping", published_at=timezone.now())
    # Started long ago and still running (a long import): the broker did not lose it.
    running = OutboxMessage.objects.create(
        task="core.tasks.ping",
        published_at=timezone.now() - timedelta(days=1),
        started_at=timezone.now() - timedelta(days=1),
    )

    result = outbox.relay()

    assert result["republished"] == 1
    assert [task_id for _name, task_id in broker.taken] == [str(lost.uuid)]
    assert OutboxMessage.objects.get(pk=done.pk).state == "done"
    assert OutboxMessage.objects.get(pk=recent.pk).state == "published"
    assert OutboxMessage.objects.get(pk=running.pk).state == "running"


def test_the_worker_marks_a_message_started_and_done():
    message = OutboxMessage.objects.create(task="core.tasks.ping", published_at=timezone.now())

    outbox._on_task_prerun(sender=ping, task_id=str(message.uuid))
    assert OutboxMessage.objects.get(pk=message.pk).state == "running"
    outbox._on_task_postrun(task_id=str(message.uuid), state="RETRY")
    assert OutboxMessage.objects.get(pk=message.pk).state == "running"
    outbox._on_task_postrun(task_id=str(message.uuid), state="SUCCESS")
    assert OutboxMessage.objects.get(pk=message.pk).state == "done"

    # A task that is not an outbox message (beat's) changes nothing, and does not fail.
    before = list(OutboxMessage.objects.values_list("pk", "started_at", "done_at"))
    outbox._on_task_prerun(sender=ping, task_id="not-a-uuid")
    outbox._on_task_postrun(task_id="not-a-uuid", state="SUCCESS")
    assert list(OutboxMessage.objects.values_list("pk", "started_at", "done_at")) == before


def test_a_task_that_raised_goes_back_to_the_relay_then_is_given_up(broker, settings):
    settings.OUTBOX_MAX_ATTEMPTS = 2
    message = OutboxMessage.objects.create(
        task="core.tasks.ping", published_at=timezone.now(), started_at=timezone.now(), attempts=1
    )

    outbox._on_task_failure(sender=ping, task_id=str(message.uuid), exception=RuntimeError("db restarting"))
    message.refresh_from_db()
    assert message.state == "waiting"
    assert message.last_error == "failed: RuntimeError: db restarting"
    assert message.available_at > timezone.now()  # later, not at once

    OutboxMessage.objects.update(available_at=timezone.now())
    assert outbox.relay()["published"] == 1
    outbox._on_task_failure(sender=ping, task_id=str(message.uuid), exception=RuntimeError("still down"))
    message.refresh_from_db()
    assert message.state == "done"
    assert message.last_error == "gave up after 2 attempts: RuntimeError: still down"


def test_a_message_naming_an_unknown_task_holds_up_no_other(broker):
    unknown = OutboxMessage.objects.create(task="enterprises.tasks.renamed_away", available_at=timezone.now())
    known = OutboxMessage.objects.create(task="core.tasks.ping", available_at=timezone.now())

    result = outbox.relay()

    assert result == {"published": 1, "republished": 0, "failed": 0}
    assert broker.taken == [("core.tasks.ping", str(known.uuid))]
    unknown.refresh_from_db()
    assert unknown.state == "waiting"
    assert "unknown task 'enterprises.tasks.renamed_away'" in unknown.last_error
    assert unknown.available_at > timezone.now() + timedelta(minutes=30)


def test_old_done_tasks_and_sent_email_records_are_pruned():
    from core.models import SentEmail

    old = timezone.now() - timedelta(days=30)
    OutboxMessage.objects.create(task="core.tasks.ping", published_at=old, done_at=old)
    kept = OutboxMessage.objects.create(task="core.tasks.ping", published_at=old)  # never done: kept
    recent = OutboxMessage.objects.create(task="core.tasks.ping", done_at=timezone.now())
    SentEmail.objects.create(key="transition:1:user:1", sent_at=old)
    SentEmail.objects.create(key="transition:2:user:1")

    assert outbox.prune() == 1

    assert set(OutboxMessage.objects.values_list("pk", flat=True)) == {kept.pk, recent.pk}
    assert list(SentEmail.objects.values_list("key", flat=True)) == ["transition:2:user:1"]


def test_a_task_delivered_again_after_it_ran_is_skipped():
    done = OutboxMessage.objects.create(
        task="core.tasks.ping", published_at=timezone.now(), done_at=timezone.now()
    )
    waiting = OutboxMessage.objects.create(task="core.tasks.ping", published_at=timezone.now())

    def delivered(message):
        ping.push_request(id=str(message.uuid), is_eager=False)
        try:
            return ping()
        finally:
            ping.pop_request()

    assert delivered(done) is None
    assert delivered(waiting)["pong"] is True


def test_relay_command_reports_what_it_did_and_what_waits(broker, capsys):
    broker.up = False
    OutboxMessage.objects.create(task="core.tasks.ping", available_at=timezone.now())

    call_command("relay_outbox")
    assert "published 0" in capsys.readouterr().out

    broker.up = True
    outbox._broker_down_until = 0.0
    OutboxMessage.objects.update(available_at=timezone.now())
    call_command("relay_outbox")
    out = capsys.readouterr().out
    assert "published 1" in out
    assert "waiting 0" in out


def test_the_admin_lists_queued_tasks_and_publishes_the_waiting_ones(client, broker):
    from tests.factories import UserFactory

    OutboxMessage.objects.create(task="core.tasks.ping", available_at=timezone.now(), last_error="refused")
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))

    page = client.get("/admin/core/outboxmessage/")
    assert page.status_code == 200
    assert "core.tasks.ping" in page.content.decode()

    response = client.post(
        "/admin/core/outboxmessage/",
        {"action": "publish_now", "_selected_action": [str(OutboxMessage.objects.get().pk)]},
        follow=True,
    )
    assert "Published 1 waiting task(s)" in response.content.decode()
    assert OutboxMessage.objects.get().state == "published"


def test_pages_tell_users_when_background_work_waits_long(client, broker, pmu, monkeypatch):
    monkeypatch.setattr(outbox, "_delay_checked", (0.0, 0))
    client.force_login(pmu)
    OutboxMessage.objects.create(task="core.tasks.ping", created_at=timezone.now() - timedelta(seconds=10))

    assert "Background work is delayed" not in client.get("/").content.decode()

    monkeypatch.setattr(outbox, "_delay_checked", (0.0, 0))
    OutboxMessage.objects.create(task="core.tasks.ping", created_at=timezone.now() - timedelta(minutes=5))
    page = client.get("/").content.decode()

    assert "Background work is delayed: 2 tasks are waiting for the task queue" in page
