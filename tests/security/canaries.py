"""Canaries: what the demo programme has none of, added so that the security tests can look for it
in every answer. A draft call (the PMU's work in progress: only the programme-wide roles see it), and
attachments on a concept note its PO never submitted (nobody but that PO sees it) and on a PO-001
note (PO-001's own), and a statement attached to the demo's SEA/SH grievance (only the SEA/SH focal
points see it)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.db.models import Q
from django.utils import timezone

from core.models import User
from grievances.models import Category, Grievance, GrievanceAttachment
from subprojects.models import Attachment, Call, CallStatus, ConceptNote, NoteStatus

DRAFT_CALL = ("CFN-CANARY-DRAFT", "Canary call the PMU has not published yet")
HIDDEN_ATTACHMENT = "canary-never-submitted-annex.pdf"
OWN_ATTACHMENT = "po-001-annex-of-its-own-note.pdf"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"

SEAH_ATTACHMENT = "canary-seah-statement-of-the-complainant.pdf"

# Per model, the canary objects: the ids the tests prefer when they need one out of someone's scope.
CANARIES = {
    Call: Q(reference=DRAFT_CALL[0]),
    ConceptNote: Q(status=NoteStatus.DRAFT, submitted_at__isnull=True),
    Attachment: Q(original_name=HIDDEN_ATTACHMENT),
    # The demo's SEA/SH case (only the SEA/SH focal points see it) and a statement attached to it.
    Grievance: Q(category=Category.SEAH),
    GrievanceAttachment: Q(original_name=SEAH_ATTACHMENT),
}


def add_canaries() -> None:
    """Add the canaries to the demo programme (files under the current MEDIA_ROOT)."""
    now = timezone.now()
    Call.objects.create(
        reference=DRAFT_CALL[0],
        title=DRAFT_CALL[1],
        description="Work in progress.",
        opens_at=now + timedelta(days=30),
        closes_at=now + timedelta(days=90),
        ceiling_budget=100_000_000,
        created_by=User.objects.get(username="pmu"),
        status=CallStatus.DRAFT,
    )
    hidden = ConceptNote.objects.filter(CANARIES[ConceptNote]).order_by("pk").first()
    own = ConceptNote.objects.filter(partner_organization__code="PO-001").order_by("pk").first()
    assert hidden is not None, "the demo has no concept note its PO never submitted any more"
    for note, name in ((hidden, HIDDEN_ATTACHMENT), (own, OWN_ATTACHMENT)):
        Attachment.objects.create(
            concept_note=note,
            file=ContentFile(PDF, name="annex.pdf"),
            original_name=name,
            mime_type="application/pdf",
            size=len(PDF),
            uploaded_by=note.created_by,
        )
    seah_case = Grievance.objects.filter(CANARIES[Grievance]).order_by("pk").first()
    assert seah_case is not None, "the demo has no SEA/SH grievance any more"
    GrievanceAttachment.objects.create(
        grievance=seah_case,
        file=ContentFile(PDF, name="statement.pdf"),
        original_name=SEAH_ATTACHMENT,
        mime_type="application/pdf",
        size=len(PDF),
    )


@pytest.fixture
def canaries(demo_data, settings, tmp_path) -> None:
    """The demo programme with the canaries added (their attachment files in a temporary folder)."""
    settings.MEDIA_ROOT = tmp_path
    add_canaries()
