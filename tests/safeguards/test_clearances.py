"""Clearances of MEs and CSFs: pages, API, documents checked by content, the expired list per PO, and
reminders before expiry, once per threshold."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from core.roles import Role
from safeguards import clearances
from safeguards.models import Clearance, ClearanceKind
from safeguards.tasks import send_clearance_reminders
from tests.enterprises.factories import EnterpriseFactory, FacilityFactory, sub_project_for
from tests.factories import make_user

pytestmark = pytest.mark.django_db

PDF_BYTES = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def me_one(po_one):
    return EnterpriseFactory(sub_project=sub_project_for(po_one), po_code="ME-0001", name="Rahima Shoe Works")


@pytest.fixture
def me_two(po_two):
    return EnterpriseFactory(sub_project=sub_project_for(po_two), po_code="ME-0001", name="Satkhira Leather")


def pdf(name: str = "ecc.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, PDF_BYTES, content_type="application/pdf")


def fake_pdf() -> SimpleUploadedFile:
    return SimpleUploadedFile("ecc.pdf", b"just some text pretending to be a PDF\n" * 5, "application/pdf")


def make(holder, number: str, expires_in: int, **fields) -> Clearance:
    today = timezone.localdate()
    return Clearance.objects.create(
        partner_organization_id=holder.partner_organization_id,
        **{"enterprise" if hasattr(holder, "po_code") else "facility": holder},
        kind=fields.pop("kind", ClearanceKind.DOE_ECC),
        number=number,
        issued_on=today - timedelta(days=300),
        expires_on=today + timedelta(days=expires_in),
        **fields,
    )


def form_data(**changes) -> dict:
    today = timezone.localdate()
    return {
        "kind": "doe_ecc",
        "number": "DOE/ECC/2025/0001",
        "category": "orange",
        "scope": "",
        "issued_on": (today - timedelta(days=10)).isoformat(),
        "expires_on": (today + timedelta(days=355)).isoformat(),
        **changes,
    }


# --- Pages ------------------------------------------------------------------------------------------


def test_po_staff_record_a_clearance_with_its_document_and_download_it(client, po1, me_one):
    client.force_login(po1)

    response = client.post(
        f"/safeguards/clearances/new/?enterprise={me_one.pk}", {**form_data(), "document": pdf()}
    )

    clearance = Clearance.objects.get()
    assert response.status_code == 302
    assert (clearance.partner_organization_id, clearance.enterprise_id, clearance.created_by) == (
        me_one.partner_organization_id,
        me_one.pk,
        po1,
    )
    assert (clearance.document_name, clearance.document_type) == ("ecc.pdf", "application/pdf")
    download = client.get(f"/safeguards/clearances/{clearance.pk}/document/")
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == PDF_BYTES
    assert "DOE/ECC/2025/0001" in client.get(me_one.get_absolute_url()).content.decode()


def test_a_pdf_that_is_really_text_is_refused_by_page_and_api_and_nothing_is_saved(client, api, po1, me_one):
    client.force_login(po1)
    api.as_user(po1)

    page = client.post(
        f"/safeguards/clearances/new/?enterprise={me_one.pk}", {**form_data(), "document": fake_pdf()}
    )
    by_api = api.post(
        "/api/v1/clearances/",
        {**form_data(), "enterprise": me_one.pk, "document": fake_pdf()},
        format="multipart",
    )

    assert page.status_code == 400
    assert "does not contain what its name says" in page.content.decode()
    assert 'value="DOE/ECC/2025/0001"' in page.content.decode()  # what was typed is kept
    assert by_api.status_code == 400
    assert list(by_api.json()["fields"]) == ["document"]
    assert not Clearance.objects.exists()


def test_a_facility_clearance_and_a_bad_date_order(client, po1, po_one):
    facility = FacilityFactory(sub_project=sub_project_for(po_one))
    client.force_login(po1)
    today = timezone.localdate()

    refused = client.post(
        f"/safeguards/clearances/new/?facility={facility.pk}",
        form_data(expires_on=(today - timedelta(days=20)).isoformat()),
    )
    saved = client.post(f"/safeguards/clearances/new/?facility={facility.pk}", form_data(kind="doe_site"))

    assert refused.status_code == 400
    assert "after the issue date" in refused.content.decode()
    assert saved.status_code == 302
    clearance = Clearance.objects.get()
    assert clearance.facility == facility
    assert facility.name in client.get(f"/safeguards/clearances/{clearance.pk}/").content.decode()
    edited = client.post(
        f"/safeguards/clearances/{clearance.pk}/edit/", form_data(kind="doe_site", scope="Effluent plant")
    )
    assert edited.status_code == 302
    clearance.refresh_from_db()
    assert clearance.scope == "Effluent plant"


def test_list_filters_expired_page_per_po_and_csv_export(client, pmu, po1, me_one, me_two):
    make(me_one, "A-VALID", 200)
    make(me_one, "A-SOON", 20)
    make(me_one, "A-GONE", -5)
    make(me_two, "B-GONE", -40, kind=ClearanceKind.BSTI)
    client.force_login(pmu)

    expiring = client.get("/safeguards/clearances/", {"status": "expiring"}).content.decode()
    bsti = client.get("/safeguards/clearances/", {"kind": "bsti"}).content.decode()
    expired = client.get("/safeguards/clearances/expired/").content.decode()
    po_two_only = client.get("/safeguards/clearances/expired/", {"partner_organization": "PO-T02"})
    export = client.get("/safeguards/clearances/expired/", {"export": "csv"})
    client.force_login(po1)
    own = client.get("/safeguards/clearances/expired/").content.decode()

    assert "A-SOON" in expiring
    assert "A-VALID" not in expiring
    assert "A-GONE" not in expiring
    assert "B-GONE" in bsti
    assert "A-SOON" not in bsti
    assert "A-GONE" in expired
    assert "B-GONE" in expired
    assert "A-SOON" not in expired
    assert expired.count('data-testid="po-group"') == 2
    assert "B-GONE" in po_two_only.content.decode()
    assert "A-GONE" not in po_two_only.content.decode()
    rows = list(csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode("utf-8-sig"))))
    assert sorted(row["Certificate number"] for row in rows) == ["A-GONE", "B-GONE"]
    assert "A-GONE" in own
    assert "B-GONE" not in own


def test_another_pos_staff_get_404_and_roles_that_may_not_act_403(
    client, api, po1, po2, wb, verifier, me_one
):
    clearance = make(me_one, "A-1", 100)
    before = list(Clearance.objects.values_list("pk", "number", "expires_on"))

    client.force_login(po2)
    api.as_user(po2)
    outsider = [
        client.get(f"/safeguards/clearances/{clearance.pk}/").status_code,
        client.post(f"/safeguards/clearances/{clearance.pk}/edit/", form_data()).status_code,
        client.get(f"/safeguards/clearances/{clearance.pk}/document/").status_code,
        client.post(f"/safeguards/clearances/new/?enterprise={me_one.pk}", form_data()).status_code,
        api.get(f"/api/v1/clearances/{clearance.pk}/").status_code,
        api.patch(f"/api/v1/clearances/{clearance.pk}/", {"number": "X"}, format="multipart").status_code,
        api.delete(f"/api/v1/clearances/{clearance.pk}/").status_code,
    ]
    client.force_login(wb)
    api.as_user(wb)
    reader = [
        client.get(f"/safeguards/clearances/{clearance.pk}/").status_code,
        client.post(f"/safeguards/clearances/{clearance.pk}/edit/", form_data()).status_code,
        client.post(f"/safeguards/clearances/new/?enterprise={me_one.pk}", form_data()).status_code,
        api.patch(f"/api/v1/clearances/{clearance.pk}/", {"number": "X"}, format="multipart").status_code,
        api.post(
            "/api/v1/clearances/", {**form_data(), "enterprise": me_one.pk}, format="multipart"
        ).status_code,
    ]
    client.force_login(verifier)
    not_a_reader = [
        client.get("/safeguards/clearances/").status_code,
        api.as_user(verifier).get("/api/v1/clearances/").status_code,
    ]

    assert outsider == [404] * 7
    assert reader == [200, 403, 403, 403, 403]
    assert not_a_reader == [403, 403]
    assert list(Clearance.objects.values_list("pk", "number", "expires_on")) == before


# --- API ----------------------------------------------------------------------------------------------


def test_the_api_creates_with_a_document_filters_and_changes(api, po1, es, me_one):
    api.as_user(po1)
    created = api.post(
        "/api/v1/clearances/", {**form_data(), "enterprise": me_one.pk, "document": pdf()}, format="multipart"
    )
    make(me_one, "OLD", -3)
    make(me_one, "SOON", 12)
    expired = api.get("/api/v1/clearances/", {"expired": "true"}).json()
    soon = api.get("/api/v1/clearances/", {"expiring_within": 30}).json()
    pk = created.json()["id"]
    document = api.get(f"/api/v1/clearances/{pk}/document/")
    changed = api.as_user(es).patch(f"/api/v1/clearances/{pk}/", {"scope": "Tannery"}, format="multipart")
    neither = api.post("/api/v1/clearances/", form_data(number="N-1"), format="multipart")

    assert created.status_code == 201
    assert created.json()["has_document"] is True
    assert [row["number"] for row in expired["results"]] == ["OLD"]
    assert [row["number"] for row in soon["results"]] == ["SOON"]
    assert document.status_code == 200
    assert changed.status_code == 200
    assert changed.json()["scope"] == "Tannery"
    assert neither.status_code == 400
    assert "enterprise" in neither.json()["fields"]


@pytest.fixture
def es(db):
    return make_user("es", Role.PMU_OFFICER, Role.ES_OFFICER)


# --- Reminders ----------------------------------------------------------------------------------------


@pytest.fixture
def staff(po_one):
    make_user("po1", Role.PO_STAFF, po=po_one)
    make_user("po1b", Role.PO_STAFF, po=po_one)


def test_reminders_go_once_per_threshold_even_when_the_task_runs_twice(settings, staff, me_one, me_two):
    settings.CLEARANCE_REMINDER_DAYS = (60, 30, 7)
    make_user("po2", Role.PO_STAFF, po=me_two.partner_organization)
    today = timezone.localdate()
    soon = make(me_one, "SOON", 25)
    make(me_one, "FAR", 200)
    make(me_one, "GONE", -1)

    first = send_clearance_reminders.delay().get()
    second = send_clearance_reminders.delay().get()

    assert (first, second) == (2, 0)  # po1 and po1b, once
    assert all("SOON" in message.subject for message in mail.outbox)
    soon.refresh_from_db()
    assert soon.last_reminder_days == 30

    # Eighteen days later the 7-day reminder is due, once; a run after that sends nothing.
    assert clearances.send_reminders(on=today + timedelta(days=18)) == 2
    assert clearances.send_reminders(on=today + timedelta(days=19)) == 0
    assert len(mail.outbox) == 4


def test_a_clearance_first_seen_close_to_expiry_gets_only_the_nearest_reminder(settings, staff, me_one):
    settings.CLEARANCE_REMINDER_DAYS = (60, 30, 7)
    make(me_one, "LATE", 5)

    assert clearances.send_reminders() == 2
    assert clearances.send_reminders() == 0
    assert Clearance.objects.get().last_reminder_days == 7


def test_a_renewed_clearance_is_reminded_afresh(settings, staff, po1, me_one):
    settings.CLEARANCE_REMINDER_DAYS = (60, 30, 7)
    clearance = make(me_one, "RENEW", 20)
    assert clearances.send_reminders() == 2
    user = clearance.created_by or po1

    clearances.update_clearance(
        user=user, clearance=clearance, data={"expires_on": timezone.localdate() + timedelta(days=50)}
    )

    assert Clearance.objects.get().last_reminder_days is None
    assert clearances.send_reminders() == 2


def test_a_copy_of_the_task_that_lost_the_claim_sends_nothing(settings, staff, me_one):
    """The SentEmail claims stop a second delivery even if it read the clearance before the first
    recorded its threshold."""
    settings.CLEARANCE_REMINDER_DAYS = (60, 30, 7)
    make(me_one, "TWICE", 25)
    due = clearances.due_reminders()
    assert clearances.send_reminders() == 2

    Clearance.objects.update(last_reminder_days=None)  # as the second copy saw it

    assert [c.number for c, _days in due] == ["TWICE"]
    assert clearances.send_reminders() == 0
    assert len(mail.outbox) == 2


def test_odd_ids_answer_404_never_500(client, api, po1, me_one):
    client.force_login(po1)
    api.as_user(po1)
    answers = [
        client.get("/safeguards/clearances/new/", {name: value}).status_code
        for name in ("enterprise", "facility")
        for value in ("²", "١٢", "-1", "1.5", "99999999999999999999999")
    ]
    assert answers == [404] * 10
    assert api.get("/api/v1/clearances/", {"expiring_within": "99999999999"}).status_code == 400
    assert client.get("/safeguards/clearances/new/", {"enterprise": str(me_one.pk)}).status_code == 200


def test_an_es_officer_of_no_po_sees_and_records_every_pos_clearances(client, api, me_one, me_two):
    es_only = make_user("esonly", Role.ES_OFFICER)
    theirs = make(me_two, "DOE/ECC/SAT/1", 200)
    client.force_login(es_only)
    api.as_user(es_only)

    listed = client.get("/safeguards/clearances/").content.decode()
    detail = client.get(f"/safeguards/clearances/{theirs.pk}/")
    by_api = api.get("/api/v1/clearances/").json()
    created = client.post(
        f"/safeguards/clearances/new/?enterprise={me_one.pk}", {**form_data(), "document": pdf()}
    )

    assert "DOE/ECC/SAT/1" in listed
    assert detail.status_code == 200
    assert [row["id"] for row in by_api["results"]] == [theirs.pk]
    assert created.status_code == 302
    assert Clearance.objects.visible_to(es_only).count() == 2
