"""The RECP profile's assessment report through the API: downloaded by whoever reads the profile (as
the enterprise page's link), uploaded by the staff of the ME's PO while the profile is a draft (as the
page's form, with the same checks of the file); another PO's profile answers as a missing one."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile

from enterprises.models import ProfileStatus
from tests.enterprises.factories import RecpProfileFactory

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
URL = "/api/v1/recp-profiles/{pk}/report/"


@pytest.fixture
def profile(me_one):
    profile = RecpProfileFactory(enterprise=me_one, report_name="assessment.pdf")
    profile.report.save("stored.pdf", ContentFile(PDF))
    return profile


def _content(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.mark.parametrize("persona", ["po1", "pmu", "wb"])
def test_the_report_downloads_as_on_the_page(api, client, request, persona, profile, me_one):
    user = request.getfixturevalue(persona)
    client.force_login(user)

    response = api.as_user(user).get(URL.format(pk=profile.pk))
    page = client.get(f"/enterprises/{me_one.pk}/recp-profile/report/")

    assert response.status_code == page.status_code == 200
    assert response["Content-Type"] == page["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="assessment.pdf"'
    assert _content(response) == _content(page) == PDF


def test_a_profile_without_a_report_answers_404(api, po1, me_one):
    profile = RecpProfileFactory(enterprise=me_one)

    response = api.as_user(po1).get(URL.format(pk=profile.pk))

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_another_pos_profile_answers_as_a_missing_one(api, po2, profile):
    api.as_user(po2)

    theirs = api.get(URL.format(pk=profile.pk))
    missing = api.get(URL.format(pk=profile.pk + 1000))
    upload = api.put(
        URL.format(pk=profile.pk), {"report": SimpleUploadedFile("r.pdf", PDF)}, format="multipart"
    )

    assert theirs.status_code == missing.status_code == upload.status_code == 404
    assert theirs.json() == missing.json()
    profile.refresh_from_db()
    assert profile.report_name == "assessment.pdf"


def test_the_pos_staff_upload_the_report_of_a_draft(api, po1, me_one):
    profile = RecpProfileFactory(enterprise=me_one)

    response = api.as_user(po1).put(
        URL.format(pk=profile.pk),
        {"report": SimpleUploadedFile("audit-2025.pdf", PDF, content_type="application/pdf")},
        format="multipart",
    )

    assert response.status_code == 200, response.content
    assert response.json()["has_report"] is True
    profile.refresh_from_db()
    assert profile.report_name == "audit-2025.pdf"
    assert _content(api.get(URL.format(pk=profile.pk))) == PDF


def test_an_upload_is_checked_by_content_as_on_the_page(api, po1, me_one):
    profile = RecpProfileFactory(enterprise=me_one)

    response = api.as_user(po1).put(
        URL.format(pk=profile.pk),
        {"report": SimpleUploadedFile("report.pdf", b"MZ\x90\x00 not a pdf", content_type="application/pdf")},
        format="multipart",
    )

    assert response.status_code == 400
    assert "report" in response.json()["fields"]
    profile.refresh_from_db()
    assert not profile.report


def test_roles_other_than_the_pos_staff_may_not_upload(api, pmu, me_one):
    profile = RecpProfileFactory(enterprise=me_one)

    response = api.as_user(pmu).put(
        URL.format(pk=profile.pk), {"report": SimpleUploadedFile("r.pdf", PDF)}, format="multipart"
    )

    assert response.status_code == 403
    profile.refresh_from_db()
    assert not profile.report


def test_no_upload_once_the_profile_is_no_longer_a_draft(api, po1, me_one):
    profile = RecpProfileFactory(enterprise=me_one, status=ProfileStatus.PREPARED)

    response = api.as_user(po1).put(
        URL.format(pk=profile.pk), {"report": SimpleUploadedFile("r.pdf", PDF)}, format="multipart"
    )

    assert response.status_code == 409
    assert response.json()["code"] == "wrong_state"


def test_a_json_body_is_refused(api, po1, me_one):
    profile = RecpProfileFactory(enterprise=me_one)

    response = api.as_user(po1).put(URL.format(pk=profile.pk), {"report": "x"}, format="json")

    assert response.status_code in (400, 415)
