"""The lifecycle in the browser's pages: forms that keep what was typed, transitions with clear
messages, scoping of pages, lists, filters, exports and attachment links."""

from __future__ import annotations

import io
import struct
import zlib
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from openpyxl import load_workbook

from core.models import District, Sector, SubSector
from subprojects.models import (
    Call,
    ConceptNote,
    NoteStatus,
    Proposal,
    ProposalStatus,
    SubProject,
    TecMeeting,
    Transition,
)
from tests.subprojects.factories import CallFactory, ConceptNoteFactory


def management_form(prefix: str, total: int) -> dict:
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": "0",
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


def tiny_png() -> bytes:
    """A real PNG of one pixel."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\x00"))
        + chunk(b"IEND", b"")
    )


def note_form(**overrides):
    data = {
        "title": "Cleaner salt processing in Cox's Bazar",
        "sector": Sector.objects.get(code="food-processing").pk,
        "sub_sectors": [SubSector.objects.get(code="salt-processing").pk],
        "target_districts": [District.objects.get(name="Cox's Bazar").pk],
        "cluster": "Salt beds along the coast.",
        "mes_targeted": "300",
        "women_led_mes_targeted": "90",
        "problem": "Open furnaces burn wood.",
        "environmental_issues": "Smoke and deforestation.",
        "proposed_recp_practices": "Efficient furnaces.",
        "proposed_csfs": "A refining unit.",
        "estimated_budget": "20000000",
    }
    data.update(overrides)
    return data


def test_po_staff_write_a_draft_and_submit_it(client, po1, open_call, django_capture_on_commit_callbacks):
    client.force_login(po1)

    response = client.post(f"/calls/{open_call.pk}/concept-notes/new/", note_form())

    note = ConceptNote.objects.get()
    assert response.status_code == 302
    assert (note.status, note.partner_organization, note.created_by) == (
        "draft",
        po1.partner_organization,
        po1,
    )
    with django_capture_on_commit_callbacks(execute=True):
        submitted = client.post(f"/concept-notes/{note.pk}/do/submit/", follow=True)
    assert "It is now submitted" in submitted.content.decode()
    assert ConceptNote.objects.get().status == NoteStatus.SUBMITTED


def test_a_refused_note_form_keeps_what_was_typed_and_names_the_fields(client, po1, open_call):
    client.force_login(po1)

    response = client.post(
        f"/calls/{open_call.pk}/concept-notes/new/",
        note_form(women_led_mes_targeted="900", sub_sectors=[SubSector.objects.get(code="poultry").pk]),
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert "Women-led MEs cannot exceed the MEs targeted." in page
    assert "Poultry not in the sector Food Processing." in page
    assert "Cleaner salt processing in Cox&#x27;s Bazar" in page
    assert "Open furnaces burn wood." in page
    assert not ConceptNote.objects.exists()


def test_no_new_note_after_the_call_deadline(client, po1, pmu):
    call = CallFactory(created_by=pmu, closes_at=timezone.now() - timedelta(minutes=1))
    client.force_login(po1)

    response = client.post(f"/calls/{call.pk}/concept-notes/new/", note_form(), follow=True)

    assert "does not accept concept notes now" in response.content.decode()
    assert not ConceptNote.objects.exists()


def test_late_submission_says_why_and_keeps_the_draft(client, po1, note_in):
    note = note_in(NoteStatus.DRAFT)
    note.call.closes_at = timezone.now() - timedelta(minutes=1)
    note.call.save()
    client.force_login(po1)

    response = client.post(f"/concept-notes/{note.pk}/do/submit/")

    page = response.content.decode()
    assert response.status_code == 200
    assert "has passed: the concept note can no longer be submitted. Your draft is kept." in page
    assert ConceptNote.objects.get(pk=note.pk).status == NoteStatus.DRAFT


def test_refused_transition_keeps_the_typed_comment_and_changes_nothing(client, pmu, note_in):
    note = note_in(NoteStatus.UNDER_REVIEW)
    client.force_login(pmu)
    ConceptNote.objects.filter(pk=note.pk).update(status=NoteStatus.SHORTLISTED)  # a colleague was faster

    response = client.post(
        f"/concept-notes/{note.pk}/do/return_for_revision/",
        {"return_for_revision-comment": "Add the baseline."},
    )

    assert response.status_code == 200
    assert "is not possible while" in response.content.decode()
    assert ConceptNote.objects.get(pk=note.pk).status == NoteStatus.SHORTLISTED
    assert not Transition.objects.filter(object_id=note.pk).exists()


def test_pmu_returns_a_note_with_comments_the_po_then_reads(client, pmu, po1, note_in):
    note = note_in(NoteStatus.UNDER_REVIEW)
    client.force_login(pmu)

    client.post(
        f"/concept-notes/{note.pk}/do/return_for_revision/",
        {"return_for_revision-comment": "Add the baseline."},
    )

    client.force_login(po1)
    page = client.get(f"/concept-notes/{note.pk}/").content.decode()
    home = client.get("/").content.decode()
    assert "Add the baseline." in page
    assert "Returned for revision: Add the baseline." in home


@pytest.mark.parametrize("url", ["/concept-notes/{pk}/", "/concept-notes/{pk}/edit/"])
def test_other_pos_note_pages_are_404(client, po2, note_in, url):
    note = note_in(NoteStatus.DRAFT)
    client.force_login(po2)

    assert client.get(url.format(pk=note.pk)).status_code == 404
    assert client.post(f"/concept-notes/{note.pk}/do/submit/").status_code == 404


def test_po_staff_cannot_open_pmu_pages(client, po1, note_in, open_call):
    note = note_in(NoteStatus.SHORTLISTED)
    client.force_login(po1)

    assert client.get("/calls/new/").status_code == 403
    assert client.get(f"/calls/{open_call.pk}/edit/").status_code == 403
    assert client.get(f"/concept-notes/{note.pk}/invite/").status_code == 403
    assert client.post(f"/concept-notes/{note.pk}/do/shortlist/").status_code == 403


def test_pmu_invites_a_shortlisted_note(client, pmu, note_in):
    note = note_in(NoteStatus.SHORTLISTED)
    client.force_login(pmu)
    deadline = (timezone.localtime() + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M")

    response = client.post(
        f"/concept-notes/{note.pk}/invite/", {"deadline": deadline, "comment": "Go ahead."}
    )

    proposal = Proposal.objects.get()
    assert response["Location"] == f"/proposals/{proposal.pk}/"
    assert proposal.status == ProposalStatus.INVITED


def test_invitation_with_a_past_deadline_is_refused(client, pmu, note_in):
    note = note_in(NoteStatus.SHORTLISTED)
    client.force_login(pmu)

    response = client.post(f"/concept-notes/{note.pk}/invite/", {"deadline": "2020-01-01T10:00"})

    assert "The deadline must be in the future." in response.content.decode()
    assert not Proposal.objects.exists()


def _proposal_post(proposal, **overrides):
    data = {
        "title": proposal.title,
        "sector": proposal.sector_id,
        "sub_sectors": [s.pk for s in proposal.sub_sectors.all()],
        "target_districts": [d.pk for d in proposal.target_districts.all()],
        "mes_targeted": "400",
        "women_led_mes_targeted": "120",
        "problem": "Burning.",
        "environmental_issues": "Smoke.",
        "proposed_recp_practices": "Recycling.",
        "objectives": "Less burning.",
        "duration_months": "24",
        "risk_category": "low",
        "exclusion_list_checked": "on",
        "doe_clearance_required": "false",
    }
    # The ESMP's mitigation measures (safeguards) are a formset of the form too, empty here.
    data.update(management_form("esmp_measures", 0))
    for prefix in ("budget_lines", "activities", "committed_results"):
        data.update(
            {
                f"{prefix}-TOTAL_FORMS": "1",
                f"{prefix}-INITIAL_FORMS": "0",
                f"{prefix}-MIN_NUM_FORMS": "0",
                f"{prefix}-MAX_NUM_FORMS": "1000",
            }
        )
    data.update(
        {
            "budget_lines-0-category": "csf",
            "budget_lines-0-description": "Unit",
            "budget_lines-0-amount": "10000000",
            "budget_lines-0-financier": "world_bank",
            "activities-0-description": "Build",
            "activities-0-start_month": "1",
            "activities-0-end_month": "12",
            "committed_results-0-indicator": "CSF_ESTABLISHED",
            "committed_results-0-target": "1",
        }
    )
    data.update(overrides)
    return data


def test_po_completes_an_invited_proposal_in_one_form(client, po1, proposal_in):
    proposal = proposal_in(ProposalStatus.INVITED, budget=[])
    proposal.activities.all().delete()
    proposal.committed_results.all().delete()
    client.force_login(po1)

    response = client.post(f"/proposals/{proposal.pk}/edit/", _proposal_post(proposal))

    assert response.status_code == 302
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.DRAFT
    assert proposal.budget_totals()["total"] == 10000000
    assert proposal.activities.get().description == "Build"
    assert proposal.committed_results.get().indicator == "CSF_ESTABLISHED"


def test_proposal_budget_above_the_ceiling_is_refused_and_the_form_keeps_it(client, po1, proposal_in):
    proposal = proposal_in(ProposalStatus.DRAFT, budget=[])
    client.force_login(po1)

    response = client.post(
        f"/proposals/{proposal.pk}/edit/", _proposal_post(proposal, **{"budget_lines-0-amount": "99000000"})
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert "above the call&#x27;s ceiling" in page
    assert 'value="99000000"' in page
    assert not proposal.budget_lines.exists()


def test_submitted_proposal_cannot_be_edited(client, po1, proposal_in):
    proposal = proposal_in(ProposalStatus.SUBMITTED)
    client.force_login(po1)

    response = client.post(f"/proposals/{proposal.pk}/edit/", _proposal_post(proposal), follow=True)

    assert "can no longer be edited" in response.content.decode()
    assert Proposal.objects.get(pk=proposal.pk).objectives != "Less burning."


def test_approver_awards_through_the_award_page(client, approver, proposal_in):
    proposal = proposal_in(ProposalStatus.APPROVED)
    client.force_login(approver)
    today = timezone.localdate()
    form = {
        "agreement_number": "PKSF/SMART/SP-2026/009",
        "award_date": today.isoformat(),
        "start_date": (today + timedelta(days=10)).isoformat(),
        "end_date": (today + timedelta(days=900)).isoformat(),
        "budget_world_bank": "20000000",
        "budget_pksf": "3750000",
        "budget_po": "1250000",
    }

    page = client.get(f"/proposals/{proposal.pk}/award/").content.decode()
    response = client.post(f"/proposals/{proposal.pk}/award/", form)

    assert 'name="budget_world_bank" value="20000000' in page  # shares start from the budget lines
    sub_project = SubProject.objects.get()
    assert response["Location"] == f"/sub-projects/{sub_project.pk}/"
    assert sub_project.agreement_number == "PKSF/SMART/SP-2026/009"


def test_award_page_refuses_bad_terms_and_keeps_them(client, approver, proposal_in):
    proposal = proposal_in(ProposalStatus.APPROVED)
    client.force_login(approver)

    response = client.post(
        f"/proposals/{proposal.pk}/award/",
        {
            "agreement_number": "X-1",
            "award_date": "2024-08-01",
            "start_date": "2024-07-01",
            "end_date": "2027-01-01",
            "budget_world_bank": "1",
            "budget_pksf": "0",
            "budget_po": "0",
        },
    )

    page = response.content.decode()
    assert "The start date cannot be before the award date." in page
    assert 'value="X-1"' in page
    assert not SubProject.objects.exists()


@pytest.mark.parametrize("persona", ["pmu", "wb", "po1"])
def test_only_the_approver_opens_the_award_page(db, client, request, proposal_in, persona):
    proposal = proposal_in(ProposalStatus.APPROVED)
    client.force_login(request.getfixturevalue(persona))

    assert client.get(f"/proposals/{proposal.pk}/award/").status_code == 403


def test_screening_queue_filters_and_scoping(client, pmu, po1, po2, note_in):
    mine = note_in(NoteStatus.SUBMITTED, title="Bhairab footwear")
    theirs = ConceptNoteFactory(
        call=mine.call,
        partner_organization=po2.partner_organization,
        created_by=po2,
        title="Satkhira dry fish",
        status=NoteStatus.UNDER_REVIEW,
        submitted_at=timezone.now(),
    )

    client.force_login(pmu)
    everything = client.get("/concept-notes/").content.decode()
    filtered = client.get("/concept-notes/", {"status": "under_review"}).content.decode()
    client.force_login(po1)
    own = client.get("/concept-notes/").content.decode()

    assert "Bhairab footwear" in everything
    assert "Satkhira dry fish" in everything
    assert "Satkhira dry fish" in filtered
    assert "Bhairab footwear" not in filtered
    assert "Bhairab footwear" in own
    assert theirs.title not in own


@pytest.mark.parametrize("export", ["csv", "xlsx"])
def test_exports_follow_the_filters_and_the_scope(client, po1, po2, note_in, export):
    mine = note_in(NoteStatus.SUBMITTED, title="Bhairab footwear")
    ConceptNoteFactory(
        call=mine.call,
        partner_organization=po2.partner_organization,
        created_by=po2,
        title="Satkhira dry fish",
        status=NoteStatus.SUBMITTED,
        submitted_at=timezone.now(),
    )
    client.force_login(po1)

    response = client.get("/concept-notes/", {"export": export})

    if export == "csv":
        content = b"".join(response.streaming_content).decode("utf-8-sig")
    else:
        sheet = load_workbook(io.BytesIO(response.content)).active
        content = "\n".join(
            ",".join(str(cell or "") for cell in row) for row in sheet.iter_rows(values_only=True)
        )
    assert response["Content-Disposition"].startswith('attachment; filename="concept-notes-')
    assert "Bhairab footwear" in content
    assert "Satkhira dry fish" not in content
    assert "Reference" in content.splitlines()[0]


def test_attachment_upload_checks_the_content_and_download_is_scoped(client, po1, po2, note_in):
    note = note_in(NoteStatus.DRAFT)
    client.force_login(po1)
    fake = SimpleUploadedFile("photo.png", b"MZ\x90\x00 not an image at all", "image/png")
    png = SimpleUploadedFile("photo.png", tiny_png(), "image/png")
    too_big_name = SimpleUploadedFile("macro.exe", b"MZ", "application/octet-stream")

    refused = client.post(
        f"/concept-notes/{note.pk}/attachments/", {"file": fake}, follow=True
    ).content.decode()
    wrong_type = client.post(
        f"/concept-notes/{note.pk}/attachments/", {"file": too_big_name}, follow=True
    ).content.decode()
    client.post(f"/concept-notes/{note.pk}/attachments/", {"file": png})

    assert "does not contain what its name says" in refused
    assert "is not an accepted file type" in wrong_type
    attachment = note.attachments.get()
    assert attachment.original_name == "photo.png"
    assert not attachment.file.name.endswith("photo.png")  # stored under a random name
    assert client.get(f"/attachments/{attachment.pk}/").status_code == 200
    client.force_login(po2)
    assert client.get(f"/attachments/{attachment.pk}/").status_code == 404
    assert client.post(f"/attachments/{attachment.pk}/delete/").status_code == 404


def test_attachments_cannot_be_added_after_submission(client, po1, note_in):
    note = note_in(NoteStatus.SUBMITTED)
    client.force_login(po1)
    pdf = SimpleUploadedFile("late.pdf", b"%PDF-1.4\n%%EOF\n", "application/pdf")

    response = client.post(f"/concept-notes/{note.pk}/attachments/", {"file": pdf}, follow=True)

    assert "can only be added while" in response.content.decode()
    assert not note.attachments.exists()


def test_edits_of_a_submitted_object_show_who_changed_what(client, pmu, proposal_in):
    proposal = proposal_in(ProposalStatus.DRAFT)
    client.force_login(pmu)
    new_deadline = (timezone.localtime() + timedelta(days=60)).strftime("%Y-%m-%dT%H:%M")

    client.post(f"/proposals/{proposal.pk}/deadline/", {"deadline": new_deadline})
    page = client.get(f"/proposals/{proposal.pk}/").content.decode()

    assert "deadline:" in page.lower()
    assert pmu.get_display_name() in page


def test_every_lifecycle_page_opens_for_its_roles(client, pmu, wb, approver, po1, proposal_in):
    proposal = proposal_in(ProposalStatus.APPROVED)
    from tests.subprojects.factories import SubProjectFactory

    sub_project = SubProjectFactory(proposal=proposal_in(ProposalStatus.AWARDED))
    urls = [
        "/calls/",
        f"/calls/{proposal.call_id}/",
        "/concept-notes/",
        f"/concept-notes/{proposal.concept_note_id}/",
        "/proposals/",
        f"/proposals/{proposal.pk}/",
        "/sub-projects/",
        f"/sub-projects/{sub_project.pk}/",
    ]
    for user in (pmu, wb, approver, po1):
        client.force_login(user)
        for url in urls:
            assert client.get(url).status_code == 200, (user.username, url)


def test_the_whole_lifecycle_through_the_pages_alone(client, pmu, po1, wb, approver, tec1, tec2):
    """Every step has a page: call, note, screening, invitation, proposal, evaluation, approval, award."""
    now = timezone.localtime()
    client.force_login(pmu)
    client.post(
        "/calls/new/",
        {
            "reference": "SMART/SPCN/PAGES",
            "title": "Pages call",
            "description": "Through the pages.",
            "opens_at": (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
            "closes_at": (now + timedelta(days=10)).strftime("%Y-%m-%dT%H:%M"),
            "ceiling_budget": "50000000",
        },
    )
    call = Call.objects.get(reference="SMART/SPCN/PAGES")
    client.post(f"/calls/{call.pk}/do/open/")

    client.force_login(po1)
    client.post(f"/calls/{call.pk}/concept-notes/new/", note_form())
    note = ConceptNote.objects.get(call=call)
    client.post(f"/concept-notes/{note.pk}/do/submit/")

    client.force_login(pmu)
    client.post(f"/concept-notes/{note.pk}/do/start_review/")
    client.post(f"/concept-notes/{note.pk}/do/shortlist/")
    client.post(
        f"/concept-notes/{note.pk}/invite/",
        {"deadline": (now + timedelta(days=20)).strftime("%Y-%m-%dT%H:%M")},
    )
    proposal = Proposal.objects.get(concept_note=note)

    client.force_login(po1)
    client.post(f"/proposals/{proposal.pk}/edit/", _proposal_post(proposal))
    client.post(f"/proposals/{proposal.pk}/do/submit/")

    client.force_login(pmu)
    rubric = {"rubric-pass_mark": "60", "rubric-spread_threshold": "20"}
    rubric.update(management_form("criteria", 2))
    rubric.update(
        {
            "criteria-0-name": "Relevance",
            "criteria-0-weight": "70",
            "criteria-0-max_score": "10",
            "criteria-1-name": "Capacity",
            "criteria-1-weight": "30",
            "criteria-1-max_score": "10",
        }
    )
    client.post(f"/calls/{call.pk}/rubric/", rubric)
    client.post(
        "/tec-meetings/new/",
        {
            "number": "9",
            "held_on": (now + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"),
            "venue": "PKSF Bhaban",
            "chair": tec1.pk,
            "members": [tec1.pk, tec2.pk],
        },
    )
    meeting = TecMeeting.objects.get(number=9)
    client.post(f"/tec-meetings/{meeting.pk}/agenda/", {"proposal": proposal.pk})
    item = meeting.agenda.get()
    criteria = list(call.rubric.criteria.all())
    for member in (tec1, tec2):
        client.force_login(member)
        client.post(f"/tec/agenda/{item.pk}/declare/", {"has_conflict": "no"})
        scores = {f"score_{c.pk}": "8" for c in criteria}
        client.post(f"/tec/agenda/{item.pk}/score/", {**scores, "submit": "1"})
    client.force_login(tec1)
    client.post(f"/tec/agenda/{item.pk}/decision/", {"outcome": "recommended", "text": "Sound proposal."})

    client.force_login(wb)
    letter = {"no_objection_reference": "WB/NOL/9", "no_objection_date": now.date().isoformat()}
    client.post(f"/proposals/{proposal.pk}/no-objection/", letter)
    client.force_login(approver)
    client.post(f"/proposals/{proposal.pk}/do/approve/")
    client.post(
        f"/proposals/{proposal.pk}/award/",
        {
            "agreement_number": "PKSF/SMART/PAGES/1",
            "award_date": now.date().isoformat(),
            "start_date": (now.date() + timedelta(days=7)).isoformat(),
            "end_date": (now.date() + timedelta(days=700)).isoformat(),
            "budget_world_bank": "8000000",
            "budget_pksf": "1500000",
            "budget_po": "500000",
        },
    )

    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.AWARDED
    assert proposal.sub_project.approved_budget == 10000000
    assert [t.action for t in proposal.transitions.all()] == [
        "invite",
        "start",
        "submit",
        "start_evaluation",
        "recommend",
        "no_objection",
        "approve",
        "award",
    ]
