"""Intake: the public page and API (no sign-in), abuse resistance, the status lookup, staff logging."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from grievances.models import Category, Channel, Grievance, GrievanceAttachment, GrievanceStatus, Tier
from tests.factories import district
from tests.grievances.test_handling_fixtures import *  # noqa: F403
from tests.grievances.test_handling_fixtures import lodge, pdf

LODGE = "/grievances/lodge/"
API_LODGE = "/api/v1/public/grievances/"


def _form(**changes) -> dict:
    data = {
        "category": Category.FINANCIAL,
        "subject": "Loan officer asked for a fee",
        "description": "He asked for 500 taka before releasing my loan.",
        "complainant_gender": "female",
        "complainant_kind": "me_owner",
        "website": "",
    }
    data.update(changes)
    return data


# --- The public page --------------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["en", "bn"])
def test_the_public_page_opens_without_signing_in_in_both_languages(client, db, language):
    response = client.get(LODGE, HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200
    assert response.headers["Content-Language"] == language
    assert b'name="csrfmiddlewaretoken"' in response.content
    assert client.get("/grievances/status/", HTTP_ACCEPT_LANGUAGE=language).status_code == 200


def test_an_anonymous_grievance_is_lodged_and_its_code_shown_once(client, po_one):
    response = client.post(
        LODGE,
        _form(
            partner_organization=po_one.pk,
            district=district("Satkhira").pk,
            anonymous="on",
            complainant_name="Rahima Begum",
            complainant_phone="01711000000",
        ),
    )
    assert response.status_code == 302
    assert response.url == reverse("grievances:lodged")
    grievance = Grievance.objects.get()
    assert grievance.anonymous
    assert grievance.complainant_name == ""
    assert grievance.complainant_phone == ""
    assert grievance.channel == Channel.WEB
    assert grievance.logged_by is None
    assert grievance.partner_organization == po_one
    assert grievance.tier == Tier.PO
    assert grievance.complainant_gender == "female"
    done = client.get(reverse("grievances:lodged"))
    assert grievance.tracking_code in done.content.decode()
    assert grievance.reference not in done.content.decode()
    # Shown once: the page does not keep it.
    assert client.get(reverse("grievances:lodged")).status_code == 302


def test_a_named_grievance_keeps_the_contact_details_and_an_unknown_po_goes_to_the_pmu(client, db):
    client.post(LODGE, _form(complainant_name="Karim", complainant_email="karim@example.org"))
    grievance = Grievance.objects.get()
    assert grievance.complainant_name == "Karim"
    assert grievance.tier == Tier.PMU


def test_the_honeypot_answers_as_accepted_and_stores_nothing(client, db):
    response = client.post(LODGE, _form(website="http://spam.example"))
    assert response.status_code == 302
    done = client.get(response.url)
    assert done.status_code == 200
    assert b'data-testid="tracking-code"' in done.content
    assert Grievance.objects.count() == 0
    answer = client.post(API_LODGE, _form(website="buy now"))
    assert answer.status_code == 201
    assert "tracking_code" in answer.json()
    assert Grievance.objects.count() == 0


def test_a_refused_form_keeps_what_was_typed(client, db):
    response = client.post(LODGE, _form(subject="", description="Typed with care", complainant_name="Rahim"))
    assert response.status_code == 400
    page = response.content.decode()
    assert "Typed with care" in page
    assert 'value="Rahim"' in page
    assert 'data-field="subject"' in page
    assert Grievance.objects.count() == 0


def test_text_limits(client, db):
    response = client.post(LODGE, _form(subject="x" * 201, description="y" * 5001))
    assert response.status_code == 400
    assert 'data-field="subject"' in response.content.decode()
    assert 'data-field="description"' in response.content.decode()
    assert Grievance.objects.count() == 0


def test_a_pdf_that_is_text_is_refused_with_the_field_named(client, api, db):
    fake = SimpleUploadedFile(
        "receipt.pdf", b"just some text, not a PDF at all\n" * 10, content_type="application/pdf"
    )
    response = client.post(LODGE, {**_form(), "attachments": [fake]})
    assert response.status_code == 400
    page = response.content.decode()
    assert 'data-field="attachments"' in page
    assert "receipt.pdf" in page
    assert "Loan officer asked for a fee" in page  # what was typed stays
    fake.seek(0)
    answer = api.post(API_LODGE, {**_form(), "attachments": [fake]}, format="multipart")
    assert answer.status_code == 400
    assert "attachments" in answer.json()["fields"]
    assert Grievance.objects.count() == 0
    assert GrievanceAttachment.objects.count() == 0


def test_real_attachments_are_kept_and_at_most_three(client, db):
    response = client.post(LODGE, {**_form(), "attachments": [pdf(f"p{i}.pdf") for i in range(4)]})
    assert response.status_code == 400
    assert Grievance.objects.count() == 0
    response = client.post(LODGE, {**_form(), "attachments": [pdf("a.pdf"), pdf("b.pdf")]})
    assert response.status_code == 302
    grievance = Grievance.objects.get()
    assert sorted(grievance.attachments.values_list("original_name", "mime_type")) == [
        ("a.pdf", "application/pdf"),
        ("b.pdf", "application/pdf"),
    ]


def test_lodging_is_throttled_per_address_page_and_api_together(client, api, db, settings):
    settings.GRIEVANCE_LODGE_RATE = "3/hour"
    assert client.post(LODGE, _form()).status_code == 302
    assert client.post(LODGE, _form()).status_code == 302
    assert api.post(API_LODGE, _form(), format="multipart").status_code == 201
    assert client.post(LODGE, _form()).status_code == 429
    assert api.post(API_LODGE, _form(), format="multipart").status_code == 429
    assert Grievance.objects.count() == 3
    # Another address has its own count.
    assert client.post(LODGE, _form(), REMOTE_ADDR="10.1.2.3").status_code == 302


def test_the_api_answers_the_tracking_code_never_the_id(api, po_one):
    answer = api.post(API_LODGE, _form(partner_organization=po_one.code), format="multipart")
    assert answer.status_code == 201
    assert set(answer.json()) == {"tracking_code", "status"}
    assert Grievance.objects.get().tracking_code == answer.json()["tracking_code"]


# --- The status lookup ------------------------------------------------------------------------------


def test_the_status_lookup_shows_status_and_dates_only(client, api, gfp1, po_one):
    grievance = lodge(
        po_one, complainant_name="Rahima Begum", subject="Secret subject", description="Secret text"
    )
    response = client.post("/grievances/status/", {"tracking_code": grievance.tracking_code.lower()})
    assert response.status_code == 200
    page = response.content.decode()
    assert str(GrievanceStatus.RECEIVED.label) in page
    for secret in ("Rahima", "Secret subject", "Secret text", po_one.name, po_one.code, "financial", "GRV-"):
        assert secret not in page
    answer = api.get(f"/api/v1/public/grievance-status/{grievance.tracking_code}/")
    assert answer.status_code == 200
    assert set(answer.json()) == {
        "status",
        "status_label",
        "tier",
        "tier_label",
        "received_on",
        "acknowledged_on",
        "resolved_on",
    }


def test_a_wrong_code_gets_the_same_answer_whatever_it_is(client, api, po_one):
    lodge(po_one)
    answers = {
        client.post("/grievances/status/", {"tracking_code": code}).content.decode().count("not-found")
        for code in ("AAAAA-AAAAA-AAAAA-AAAAA", "short", str(Grievance.objects.get().pk))
    }
    assert answers == {1}
    bodies = {
        api.get(f"/api/v1/public/grievance-status/{code}/").content
        for code in ("AAAAA-AAAAA-AAAAA-AAAAA", "1", "GRV-00001")
    }
    assert len(bodies) == 1


def test_lookups_are_throttled(client, api, db, settings):
    settings.GRIEVANCE_LOOKUP_RATE = "2/hour"
    assert client.post("/grievances/status/", {"tracking_code": "AAAAA-AAAAA-AAAAA-AAAAA"}).status_code == 404
    assert api.get("/api/v1/public/grievance-status/AAAAA-AAAAA-AAAAA-AAAAA/").status_code == 404
    assert client.post("/grievances/status/", {"tracking_code": "AAAAA-AAAAA-AAAAA-AAAAB"}).status_code == 429
    assert api.get("/api/v1/public/grievance-status/AAAAA-AAAAA-AAAAA-AAAAB/").status_code == 429


# --- Staff logging ----------------------------------------------------------------------------------


def test_po_staff_log_a_grievance_for_their_po(client, po1, po_one, po_two):
    client.force_login(po1)
    assert client.get("/grievances/new/").status_code == 200
    response = client.post("/grievances/new/", _form(channel="phone", partner_organization=po_two.pk))
    assert response.status_code == 400  # another PO: not a choice
    response = client.post("/grievances/new/", _form(channel="", partner_organization=po_one.pk))
    assert response.status_code == 400
    assert 'data-field="channel"' in response.content.decode()
    response = client.post("/grievances/new/", _form(channel="pksf", partner_organization=po_one.pk))
    assert response.status_code == 400  # PKSF and the Bank are the PMU's channels
    response = client.post("/grievances/new/", _form(channel="phone", partner_organization=po_one.pk))
    # Redirected after the POST: a refresh of the next page logs nothing twice.
    assert response.status_code == 302
    assert response.url == reverse("grievances:logged")
    grievance = Grievance.objects.get()
    assert grievance.logged_by == po1
    assert grievance.channel == Channel.PHONE
    assert grievance.partner_organization == po_one
    done = client.get(response.url)
    assert done.status_code == 200
    assert grievance.tracking_code in done.content.decode()
    assert b'data-testid="handled-elsewhere"' in done.content  # ordinary staff do not see it after
    # Shown once; refreshing it logs nothing.
    assert client.get(reverse("grievances:logged")).url == reverse("grievances:log")
    assert Grievance.objects.count() == 1


def test_the_logged_page_shows_only_what_you_just_logged(client, gfp1, po1, po_one):
    client.force_login(gfp1)
    assert client.get(reverse("grievances:logged")).status_code == 302
    client.post("/grievances/new/", _form(channel="letter", partner_organization=po_one.pk))
    done = client.get(reverse("grievances:logged"))
    grievance = Grievance.objects.get()
    assert grievance.tracking_code in done.content.decode()
    assert grievance.get_absolute_url() in done.content.decode()  # a focal point opens it


def test_a_grievance_logged_late_is_due_from_when_it_was_received(client, gfp1, po_one, settings):
    from datetime import timedelta

    from django.utils import timezone

    from grievances import handling

    client.force_login(gfp1)
    future = timezone.localdate() + timedelta(days=1)
    response = client.post(
        "/grievances/new/",
        _form(channel="letter", partner_organization=po_one.pk, received_on=future.isoformat()),
    )
    assert response.status_code == 400
    assert 'data-field="received_on"' in response.content.decode()
    assert Grievance.objects.count() == 0
    received_on = timezone.localdate() - timedelta(days=20)
    response = client.post(
        "/grievances/new/",
        _form(channel="letter", partner_organization=po_one.pk, received_on=received_on.isoformat()),
    )
    assert response.status_code == 302
    grievance = Grievance.objects.get()
    assert timezone.localdate(grievance.received_at) == received_on
    assert grievance.tier_received_at == grievance.received_at
    assert timezone.localdate(grievance.acknowledge_by) == received_on + timedelta(
        days=settings.GRIEVANCE_ACKNOWLEDGE_DAYS
    )
    assert handling.is_overdue(grievance)


# --- A body too large is refused before it is read (review 2) --------------------------------------


def test_a_body_too_large_is_refused_from_its_length_before_it_is_read(client, api, db):
    from grievances import intake

    huge = str(intake.MAX_BODY_BYTES + 1)
    response = client.post(LODGE, _form(), CONTENT_LENGTH=huge)
    assert response.status_code == 413
    assert b'data-testid="too-large"' in response.content
    assert b'data-testid="lodge-form"' in response.content
    answer = api.post(API_LODGE, _form(), format="multipart", CONTENT_LENGTH=huge)
    assert answer.status_code == 413
    assert answer.json()["code"] == "too_large"
    assert Grievance.objects.count() == 0
    # Just under the limit is read as usual.
    assert client.post(LODGE, _form()).status_code == 302


def test_a_multipart_body_without_a_valid_length_is_too_large_other_bodies_are_read(rf, db):
    from grievances import intake

    request = rf.post(LODGE, _form())  # multipart
    assert not intake.body_too_large(request)
    for missing in ("", "twelve"):
        request.META["CONTENT_LENGTH"] = missing
        assert intake.body_too_large(request)
    request = rf.post(LODGE, "{}", content_type="application/json")
    request.META["CONTENT_LENGTH"] = ""
    assert not intake.body_too_large(request)
    request.META["CONTENT_LENGTH"] = str(intake.MAX_BODY_BYTES + 1)
    assert intake.body_too_large(request)


def test_the_public_page_still_checks_csrf_once_the_size_is_accepted(db):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    assert strict.post(LODGE, _form()).status_code == 403
    assert Grievance.objects.count() == 0
    strict.get(LODGE)
    token = strict.cookies["csrftoken"].value
    assert strict.post(LODGE, {**_form(), "csrfmiddlewaretoken": token}).status_code == 302


# --- The refused form's note about files (review 8) ------------------------------------------------


def test_the_note_about_files_shows_only_when_files_were_sent(client, db):
    note = "Files are not kept when the form is refused"
    assert note not in client.post(LODGE, _form(subject="")).content.decode()
    assert note in client.post(LODGE, {**_form(subject=""), "attachments": [pdf()]}).content.decode()


def test_the_received_page_names_the_deadlines_of_the_settings(client, db, settings):
    settings.GRIEVANCE_ACKNOWLEDGE_DAYS = 5
    settings.GRIEVANCE_RESOLVE_DAYS = 21
    client.post(LODGE, _form())
    page = client.get(reverse("grievances:lodged")).content.decode()
    assert "within 5 days" in page
    assert "within 21 days" in page


def test_the_pmu_focal_point_logs_what_was_sent_to_the_bank(api, grm):
    answer = api.as_user(grm).post(
        "/api/v1/grievances/", _form(channel="world_bank", complainant_name="Jamal"), format="multipart"
    )
    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert body["tier"] == Tier.PMU
    assert body["visible_to_you"] is True
    assert body["tracking_code"]
    assert Grievance.objects.get().logged_by == grm


def test_po_staff_log_by_the_api_for_their_po_only(api, po1, po_two):
    api.as_user(po1)
    answer = api.post(
        "/api/v1/grievances/", _form(channel="letter", partner_organization=po_two.code), format="multipart"
    )
    assert answer.status_code == 400
    assert "partner_organization" in answer.json()["fields"]
    answer = api.post(
        "/api/v1/grievances/", _form(channel="letter", category=Category.SEAH), format="multipart"
    )
    assert answer.status_code == 201
    assert answer.json()["visible_to_you"] is False
    assert Grievance.objects.get().partner_organization == po1.partner_organization


def test_people_who_do_not_log_grievances_are_refused(client, api, pmu, wb):
    for user in (pmu, wb):
        client.force_login(user)
        assert client.get("/grievances/new/").status_code == 403
        assert client.post("/grievances/new/", _form(channel="phone")).status_code == 403
        api.credentials()
        answer = api.as_user(user).post("/api/v1/grievances/", _form(channel="phone"), format="multipart")
        assert answer.status_code == 403
    assert Grievance.objects.count() == 0


def test_the_api_help_texts_are_marked_for_translation():
    from django.utils.functional import Promise

    from grievances.api import handling_serializers as s

    fields = s.PublicGrievanceSerializer().fields
    for name in ("partner_organization", "attachments", "website"):
        assert isinstance(fields[name].help_text, Promise), name
