"""Stored files go out one way (core.uploads.file_response): only to those who may see them, never
cached, sandboxed, and a file missing from storage is a 404 rather than a server error."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile

from tests.enterprises.factories import AdoptionFactory, RecpProfileFactory, practice
from tests.subprojects.test_pages import tiny_png

pytestmark = pytest.mark.django_db


def _safeguards(response) -> tuple[str, str, str]:
    return (
        response["Cache-Control"],
        response["Content-Security-Policy"],
        response["X-Content-Type-Options"],
    )


SAFE = ("private, no-store", "default-src 'none'; sandbox", "nosniff")


def test_an_evidence_photo_is_shown_never_cached_and_sandboxed(client, po1, me_one):
    adoption = AdoptionFactory(enterprise=me_one)
    adoption.evidence_photo.save("led.png", ContentFile(tiny_png()))
    client.force_login(po1)

    response = client.get(f"/adoptions/{adoption.pk}/photo/")

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == tiny_png()
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"].startswith("inline")
    assert _safeguards(response) == SAFE


def test_a_photo_stored_under_another_kind_of_name_is_downloaded_not_shown(client, po1, me_one):
    adoption = AdoptionFactory(enterprise=me_one)
    adoption.evidence_photo.save("page.html", ContentFile(b"<script>alert(1)</script>"))
    client.force_login(po1)

    response = client.get(f"/adoptions/{adoption.pk}/photo/")

    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment")
    assert _safeguards(response) == SAFE


def test_a_photo_missing_from_storage_or_never_given_is_404(client, po1, me_one):
    lost = AdoptionFactory(enterprise=me_one)
    lost.evidence_photo.save("led.png", ContentFile(tiny_png()))
    lost.evidence_photo.storage.delete(lost.evidence_photo.name)
    without = AdoptionFactory(enterprise=me_one, practice=practice("EE-01"))
    client.force_login(po1)

    assert client.get(f"/adoptions/{lost.pk}/photo/").status_code == 404
    assert client.get(f"/adoptions/{without.pk}/photo/").status_code == 404


def test_a_profile_report_is_a_download_with_the_same_safeguards(client, po1, me_one):
    profile = RecpProfileFactory(enterprise=me_one, report_name="assessment.pdf")
    profile.report.save("stored.pdf", ContentFile(b"%PDF-1.4 test"))
    client.force_login(po1)

    response = client.get(f"/enterprises/{me_one.pk}/recp-profile/report/")
    profile.report.storage.delete(profile.report.name)
    missing = client.get(f"/enterprises/{me_one.pk}/recp-profile/report/")

    assert response["Content-Disposition"] == 'attachment; filename="assessment.pdf"'
    assert response["Content-Type"] == "application/pdf"
    assert _safeguards(response) == SAFE
    assert missing.status_code == 404
