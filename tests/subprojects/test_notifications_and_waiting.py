"""Who is told what (emails), and what each role's home page lists as waiting on them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from core.errors import ActionRefused
from core.roles import Role
from subprojects import workflow
from subprojects.models import NoteStatus, ProposalStatus
from tests.factories import make_user
from tests.subprojects.factories import CallFactory


@pytest.fixture
def pmu_colleague(db):
    return make_user("pmu2", Role.PMU_OFFICER)


def test_submitted_note_emails_the_pmu_not_the_submitter(
    note_in, po1, pmu, pmu_colleague, django_capture_on_commit_callbacks
):
    note = note_in(NoteStatus.DRAFT)

    with django_capture_on_commit_callbacks(execute=True):
        workflow.apply(note, "submit", po1)

    recipients = sorted(address for message in mail.outbox for address in message.to)
    assert recipients == sorted([pmu.email, pmu_colleague.email])
    assert note.reference in mail.outbox[0].subject
    assert f"/concept-notes/{note.pk}/" in mail.outbox[0].body


def test_a_transition_emails_each_person_once_even_when_its_task_runs_again(
    note_in, po1, pmu, pmu_colleague, django_capture_on_commit_callbacks, monkeypatch
):
    from celery.exceptions import Retry
    from django.core.mail.backends.locmem import EmailBackend

    from subprojects.models import Transition
    from subprojects.tasks import send_transition_emails

    note = note_in(NoteStatus.DRAFT)
    real_send = EmailBackend.send_messages
    calls = []

    def second_one_fails(backend, messages):
        calls.append(messages[0].to)
        if len(calls) == 2:
            raise OSError("mail server went away")
        return real_send(backend, messages)

    monkeypatch.setattr(EmailBackend, "send_messages", second_one_fails)
    # The task retries on a mail-server error (in-process, Celery says so by raising Retry).
    with pytest.raises(Retry), django_capture_on_commit_callbacks(execute=True):
        workflow.apply(note, "submit", po1)
    assert len(mail.outbox) == 1  # the first recipient got it before the error

    transition = Transition.objects.get(action="submit")
    send_transition_emails.apply(args=[transition.pk])  # Celery's retry, or the task delivered again
    send_transition_emails.apply(args=[transition.pk])

    recipients = sorted(address for message in mail.outbox for address in message.to)
    assert recipients == sorted([pmu.email, pmu_colleague.email])


def test_returned_note_emails_the_po_with_the_comment(
    note_in, po1, po2, pmu, django_capture_on_commit_callbacks
):
    note = note_in(NoteStatus.UNDER_REVIEW)

    with django_capture_on_commit_callbacks(execute=True):
        workflow.apply(note, "return_for_revision", pmu, comment="Add the waste baseline.")

    assert [message.to for message in mail.outbox] == [[po1.email]]
    assert "Add the waste baseline." in mail.outbox[0].body


def test_recommendation_emails_the_world_bank(
    proposal_in, pmu, wb, po1, tec1, tec2, on_agenda, django_capture_on_commit_callbacks
):
    proposal = proposal_in(ProposalStatus.UNDER_EVALUATION)
    on_agenda(proposal, scored=(tec1, tec2))

    with django_capture_on_commit_callbacks(execute=True):
        workflow.apply(proposal, "recommend", pmu)

    assert sorted(message.to[0] for message in mail.outbox) == sorted([wb.email, po1.email])


def test_a_refused_transition_sends_nothing(note_in, pmu, django_capture_on_commit_callbacks):
    note = note_in(NoteStatus.SUBMITTED)

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ActionRefused):
        workflow.apply(note, "shortlist", pmu)

    assert mail.outbox == []


def test_opening_a_call_tells_every_po(pmu, po1, po2, django_capture_on_commit_callbacks):
    call = CallFactory(created_by=pmu, status="draft")

    with django_capture_on_commit_callbacks(execute=True):
        workflow.apply(call, "open", pmu)

    assert sorted(message.to[0] for message in mail.outbox) == sorted([po1.email, po2.email])


def _waiting(client, user):
    client.force_login(user)
    return client.get("/").context["panels"][0][1]["items"]


def test_pmu_waits_on_notes_to_screen_oldest_first(client, pmu, note_in):
    newer = note_in(NoteStatus.SUBMITTED)
    older = note_in(NoteStatus.UNDER_REVIEW)
    older.status_changed_at = timezone.now() - timedelta(days=10)
    older.save()
    note_in(NoteStatus.SHORTLISTED)  # nothing to do on it

    items = _waiting(client, pmu)

    assert [item.reference for item in items] == [older.reference, newer.reference]
    assert items[0].what == "Shortlist · Reject"
    assert items[1].what == "Start review"


def test_world_bank_waits_on_recommendations_and_the_approver_on_approvals(client, wb, approver, proposal_in):
    recommended = proposal_in(ProposalStatus.RECOMMENDED_WITH_CONDITIONS)
    cleared = proposal_in(ProposalStatus.NO_OBJECTION)
    approved = proposal_in(ProposalStatus.APPROVED)

    assert [item.reference for item in _waiting(client, wb)] == [recommended.reference]
    assert {item.reference for item in _waiting(client, approver)} == {cleared.reference, approved.reference}


def test_po_waits_on_its_drafts_invitations_and_open_calls(client, po1, po2, note_in, proposal_in, pmu):
    draft = note_in(NoteStatus.DRAFT)
    invited = proposal_in(ProposalStatus.INVITED, deadline=timezone.now() + timedelta(days=5))
    other_call = CallFactory(created_by=pmu, title="Second round")

    items = {item.reference: item for item in _waiting(client, po1)}

    assert set(items) == {draft.reference, invited.reference, other_call.reference}
    assert items[invited.reference].due == invited.deadline
    assert _waiting(client, po2)[0].reference in {draft.call.reference, other_call.reference}
    assert draft.reference not in {item.reference for item in _waiting(client, po2)}


def test_drafts_for_a_closed_call_wait_on_nobody(client, po1, note_in):
    draft = note_in(NoteStatus.DRAFT)
    draft.call.closes_at = timezone.now() - timedelta(days=1)
    draft.call.save()

    assert draft.reference not in {item.reference for item in _waiting(client, po1)}


def test_home_page_shows_how_long_things_have_waited(client, pmu, note_in):
    note = note_in(NoteStatus.SUBMITTED)
    note.status_changed_at = timezone.now() - timedelta(days=3, hours=2)
    note.save()
    client.force_login(pmu)

    page = client.get("/").content.decode()

    assert note.reference in page
    assert "3\xa0days" in page
