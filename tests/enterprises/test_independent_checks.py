"""Results the World Bank can rely on: POs report adoptions and facilities with evidence; only
someone outside every PO (a PMU officer or a verifier) verifies an adoption or confirms that a
facility operates, each decision kept with who, when and why."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from core import lifecycle
from core.errors import ActionRefused
from core.roles import Role
from enterprises import services
from enterprises.models import Adoption, AdoptionVerification, CommonServiceFacility
from enterprises.validation import today
from subprojects.models import Transition
from tests.assertions import assert_refused, field_errors
from tests.days import FromToday, resolved
from tests.enterprises.factories import AdoptionFactory, FacilityFactory, practice
from tests.factories import district, make_user, sub_sector
from tests.subprojects.test_pages import tiny_png

pytestmark = pytest.mark.django_db


# --- Verifying an adoption: who may -----------------------------------------------------------------


def test_a_verifier_verifies_an_adoption_and_the_decision_is_kept(verifier, me_one):
    adoption = AdoptionFactory(enterprise=me_one, adopted_on=date(2024, 12, 1))

    verified = services.verify_adoption(
        user=verifier, adoption=adoption, verified_on=date(2025, 1, 10), comment="  LED tubes in use.  "
    )

    assert (verified.verified_on, verified.verified_by) == (date(2025, 1, 10), verifier)
    assert Adoption.objects.verified_independently().get() == adoption
    row = Transition.objects.get()
    assert (row.subject, row.action, row.from_state, row.to_state, row.actor, row.comment) == (
        adoption,
        "verify",
        "reported",
        "verified",
        verifier,
        "LED tubes in use.",
    )


def test_verification_defaults_to_today(pmu, me_one):
    adoption = AdoptionFactory(enterprise=me_one)

    assert services.verify_adoption(user=pmu, adoption=adoption).verified_on == today()


@pytest.mark.parametrize("persona", ["po1", "po2", "wb", "approver", "tec1"])
def test_no_po_staff_nor_other_role_verifies_an_adoption(request, me_one, persona):
    adoption = AdoptionFactory(enterprise=me_one)

    with pytest.raises(ActionRefused) as refused:
        services.verify_adoption(user=request.getfixturevalue(persona), adoption=adoption)

    assert_refused(refused, 403)
    adoption.refresh_from_db()
    assert (adoption.verified_on, adoption.verified_by) == (None, None)
    assert not Transition.objects.exists()


@pytest.mark.parametrize("role", [Role.PMU_OFFICER, Role.VERIFIER])
def test_a_checker_who_belongs_to_a_po_may_not_verify(me_one, po_one, role):
    """Whatever the roles say, belonging to a PO disqualifies: no PO checks results."""
    insider = make_user("insider", role, Role.PO_STAFF, po=po_one)
    adoption = AdoptionFactory(enterprise=me_one)

    with pytest.raises(ActionRefused) as refused:
        services.verify_adoption(user=insider, adoption=adoption)

    assert_refused(refused, 403)
    assert Adoption.objects.verified_independently().count() == 0


@pytest.mark.parametrize(
    ("on", "message"),
    [
        (date(2024, 11, 30), "A practice is verified after it is adopted."),
        (FromToday(1), "The verification date cannot be in the future"),
    ],
)
def test_a_verification_date_before_the_adoption_or_in_the_future_is_refused(verifier, me_one, on, message):
    adoption = AdoptionFactory(enterprise=me_one, adopted_on=date(2024, 12, 1))

    with pytest.raises(ActionRefused, match=message):
        services.verify_adoption(user=verifier, adoption=adoption, verified_on=resolved(on))

    adoption.refresh_from_db()
    assert adoption.verified_on is None
    assert not Transition.objects.exists()


def test_an_adoption_is_verified_once(verifier, pmu, me_one):
    adoption = AdoptionFactory(enterprise=me_one)
    services.verify_adoption(user=verifier, adoption=adoption, verified_on=date(2025, 1, 10))

    with pytest.raises(ActionRefused) as refused:
        services.verify_adoption(user=pmu, adoption=adoption, verified_on=date(2025, 1, 20))

    assert refused.value.code == "wrong_state"
    adoption.refresh_from_db()
    assert (adoption.verified_on, adoption.verified_by) == (date(2025, 1, 10), verifier)
    assert Transition.objects.count() == 1


# --- What the PO sends: evidence, never a verification --------------------------------------------


def test_the_api_refuses_a_po_sending_a_verification_and_creates_nothing(api, po1, me_one):
    api.as_user(po1)
    data = {"enterprise": me_one.pk, "practice": "AQ-04", "adopted_on": "2024-12-01"}

    with_date = api.post("/api/v1/adoptions/", {**data, "verified_on": "2024-12-10"}, format="multipart")
    with_verifier = api.post("/api/v1/adoptions/", {**data, "verified_by": "po1"}, format="multipart")

    assert with_date.status_code == 400
    assert list(with_date.json()["fields"]) == ["verified_on"]
    assert "verified by the PMU or a verifier" in field_errors(with_date)["verified_on"][0]
    assert (with_verifier.status_code, list(with_verifier.json()["fields"])) == (400, ["verified_by"])
    assert not Adoption.objects.exists()


def test_the_api_refuses_a_verification_slipped_into_an_update(api, po1, me_one):
    adoption = AdoptionFactory(enterprise=me_one)

    response = api.as_user(po1).patch(
        f"/api/v1/adoptions/{adoption.pk}/", {"verified_on": "2024-12-10"}, format="multipart"
    )

    assert (response.status_code, list(response.json()["fields"])) == (400, ["verified_on"])
    adoption.refresh_from_db()
    assert adoption.verified_on is None


def test_a_po_reports_an_adoption_with_its_evidence_through_the_api(api, po1, me_one):
    photo = SimpleUploadedFile("led.png", tiny_png(), "image/png")

    response = api.as_user(po1).post(
        "/api/v1/adoptions/",
        {
            "enterprise": me_one.pk,
            "practice": "AQ-04",
            "adopted_on": "2024-12-01",
            "evidence_observed_on": "2024-12-12",
            "evidence_photo": photo,
            "evidence_latitude": "24.052400",
            "evidence_longitude": "90.976400",
        },
        format="multipart",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["reported_by"], body["has_photo"], body["verified_on"], body["verified_by"]) == (
        "po1",
        True,
        None,
        None,
    )
    adoption = Adoption.objects.get()
    assert (adoption.reported_by, adoption.evidence_observed_on) == (po1, date(2024, 12, 12))
    assert not adoption.evidence_photo.name.endswith("led.png")  # stored under a random name


def test_a_photo_that_is_not_an_image_is_refused_by_its_content(api, po1, me_one):
    fake = SimpleUploadedFile("led.png", b"MZ\x90\x00 not an image at all", "image/png")

    response = api.as_user(po1).post(
        "/api/v1/adoptions/",
        {"enterprise": me_one.pk, "practice": "AQ-04", "adopted_on": "2024-12-01", "evidence_photo": fake},
        format="multipart",
    )

    assert response.status_code == 400
    assert "does not contain what its name says" in field_errors(response)["evidence_photo"][0]
    assert not Adoption.objects.exists()


def test_the_page_keeps_what_was_typed_when_the_photo_is_refused(client, po1, me_one):
    client.force_login(po1)

    response = client.post(
        f"/enterprises/{me_one.pk}/adoptions/new/",
        {
            "practice": practice("AQ-04").pk,
            "adopted_on": "2024-12-01",
            "evidence_observed_on": "2024-12-12",
            "note": "LEDs in the cutting room",
            "evidence_photo": SimpleUploadedFile("led.jpg", b"plain text, not a photo", "image/jpeg"),
        },
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert "does not contain what its name says" in page
    assert 'value="LEDs in the cutting room"' in page
    assert not Adoption.objects.exists()


def test_the_po_edits_its_reported_adoption_and_sees_its_photo(client, po1, po2, me_one):
    adoption = AdoptionFactory(enterprise=me_one, adopted_on=date(2024, 12, 1))
    client.force_login(po1)

    client.post(
        f"/adoptions/{adoption.pk}/edit/",
        {
            "adopted_on": "2024-12-01",
            "evidence_observed_on": "2024-12-15",
            "evidence_photo": SimpleUploadedFile("led.png", tiny_png(), "image/png"),
        },
    )
    photo = client.get(f"/adoptions/{adoption.pk}/photo/")

    adoption.refresh_from_db()
    assert adoption.evidence_observed_on == date(2024, 12, 15)
    assert b"".join(photo.streaming_content) == tiny_png()
    client.force_login(po2)
    assert client.get(f"/adoptions/{adoption.pk}/photo/").status_code == 404


def test_a_verified_adoption_cannot_be_edited_by_its_po(client, po1, pmu, me_one):
    adoption = AdoptionFactory(
        enterprise=me_one, note="before", verified_on=date(2025, 1, 5), verified_by=pmu
    )
    client.force_login(po1)

    response = client.post(
        f"/adoptions/{adoption.pk}/edit/", {"adopted_on": "2024-12-01", "note": "after"}, follow=True
    )

    assert "A verified adoption cannot be changed." in response.content.decode()
    adoption.refresh_from_db()
    assert adoption.note == "before"


def test_the_me_page_shows_who_verified_and_when(client, po1, verifier, me_one):
    verified = AdoptionFactory(enterprise=me_one, practice=practice("AQ-04"), adopted_on=date(2024, 12, 1))
    AdoptionFactory(enterprise=me_one, practice=practice("EE-01"))
    services.verify_adoption(user=verifier, adoption=verified, verified_on=date(2025, 1, 10), comment="Seen")
    client.force_login(po1)

    page = client.get(f"/enterprises/{me_one.pk}/").content.decode()

    assert f"verified by {verifier.get_display_name()} on 10 Jan 2025" in page
    assert "reported, not yet verified" in page
    assert f"by {verifier.get_display_name()}: Seen" in page


def test_the_adoption_list_and_export_show_the_verification(client, pmu, verifier, me_one):
    adoption = AdoptionFactory(
        enterprise=me_one, practice=practice("AQ-04"), evidence_observed_on=date(2024, 12, 5)
    )
    AdoptionFactory(enterprise=me_one, practice=practice("EE-01"))
    services.verify_adoption(user=verifier, adoption=adoption, verified_on=date(2025, 1, 10))
    client.force_login(pmu)

    verified_only = client.get("/adoptions/", {"verified": "true"}).content.decode()
    export = b"".join(client.get("/adoptions/", {"export": "csv"}).streaming_content).decode("utf-8-sig")

    assert f"verified by {verifier.get_display_name()} on 10 Jan 2025" in verified_only
    assert "reported, not yet verified" not in verified_only
    assert "Seen in use on" in export.splitlines()[0]
    assert verifier.get_display_name() in export


# --- Facilities: operation confirmed independently ------------------------------------------------


def test_the_pmu_confirms_a_facility_operates_and_the_decision_is_kept(pmu, sp_one):
    facility = FacilityFactory(sub_project=sp_one, opened_on=date(2025, 1, 20))

    confirmed = services.confirm_facility_operational(
        user=pmu, facility=facility, on=date(2025, 2, 1), comment="Cutting machines running."
    )

    assert (confirmed.operational_confirmed_on, confirmed.operational_confirmed_by) == (date(2025, 2, 1), pmu)
    row = Transition.objects.get()
    assert (row.subject, row.action, row.from_state, row.to_state, row.actor, row.comment) == (
        facility,
        "confirm_operational",
        "operational",
        "operational",
        pmu,
        "Cutting machines running.",
    )


def test_a_verifier_confirms_a_facility_too(verifier, sp_one):
    facility = FacilityFactory(sub_project=sp_one)

    services.confirm_facility_operational(user=verifier, facility=facility)

    facility.refresh_from_db()
    assert (facility.operational_confirmed_on, facility.operational_confirmed_by) == (today(), verifier)


@pytest.mark.parametrize("persona", ["po1", "wb", "approver", "tec1"])
def test_no_po_staff_nor_other_role_confirms_a_facility(request, sp_one, persona):
    facility = FacilityFactory(sub_project=sp_one)

    with pytest.raises(ActionRefused) as refused:
        services.confirm_facility_operational(user=request.getfixturevalue(persona), facility=facility)

    assert_refused(refused, 403)
    facility.refresh_from_db()
    assert facility.operational_confirmed_on is None
    assert not Transition.objects.exists()


@pytest.mark.parametrize(
    ("facility_data", "on", "code", "message"),
    [
        ({"status": "under_construction", "opened_on": None}, None, "wrong_state", "is under construction"),
        ({"opened_on": date(2025, 1, 20)}, date(2025, 1, 19), "invalid", "on or after its opening date"),
        ({"opened_on": date(2025, 1, 20)}, FromToday(1), "invalid", "cannot be in the future"),
    ],
)
def test_a_facility_not_operational_or_a_date_that_does_not_fit_is_refused(
    pmu, sp_one, facility_data, on, code, message
):
    facility = FacilityFactory(sub_project=sp_one, **facility_data)

    with pytest.raises(ActionRefused, match=message) as refused:
        services.confirm_facility_operational(user=pmu, facility=facility, on=resolved(on))

    assert refused.value.code == code
    facility.refresh_from_db()
    assert facility.operational_confirmed_on is None


def test_a_facility_is_confirmed_once(pmu, verifier, sp_one):
    facility = FacilityFactory(sub_project=sp_one)
    services.confirm_facility_operational(user=pmu, facility=facility, on=date(2025, 2, 1))

    with pytest.raises(ActionRefused, match="already confirmed operating on 2025-02-01") as refused:
        services.confirm_facility_operational(user=verifier, facility=facility)

    assert refused.value.code == "wrong_state"
    facility.refresh_from_db()
    assert facility.operational_confirmed_by == pmu


def _facility_data(facility: CommonServiceFacility, **changes) -> dict:
    data = {
        "sub_project": facility.sub_project,
        "name": facility.name,
        "kind": facility.kind,
        "sub_sector": sub_sector("leather-products"),
        "district": district("Kishoreganj"),
        "status": facility.status,
        "opened_on": facility.opened_on,
    }
    return {**data, **changes}


def test_the_po_changing_the_opening_date_or_status_clears_the_confirmation(po1, pmu, sp_one):
    facility = FacilityFactory(sub_project=sp_one, opened_on=date(2025, 1, 20))
    services.confirm_facility_operational(user=pmu, facility=facility, on=date(2025, 2, 1))

    services.save_facility(
        user=po1, facility=facility, data=_facility_data(facility, services="Laser cutting")
    )
    facility.refresh_from_db()
    assert facility.operational_confirmed_on == date(2025, 2, 1)  # other changes keep it

    services.save_facility(
        user=po1, facility=facility, data=_facility_data(facility, opened_on=date(2025, 1, 10))
    )
    facility.refresh_from_db()
    assert (facility.operational_confirmed_on, facility.operational_confirmed_by) == (None, None)

    services.confirm_facility_operational(user=pmu, facility=facility, on=date(2025, 2, 1))
    services.save_facility(
        user=po1,
        facility=facility,
        data=_facility_data(facility, status="under_construction", opened_on=None),
    )
    facility.refresh_from_db()
    assert (facility.status, facility.operational_confirmed_on) == ("under_construction", None)


def test_the_facility_page_shows_the_confirmation_and_the_form_only_to_the_pmu(client, po1, pmu, sp_one):
    facility = FacilityFactory(sub_project=sp_one, opened_on=date(2025, 1, 20))
    client.force_login(po1)
    po_page = client.get(f"/facilities/{facility.pk}/").content.decode()
    edit_form = client.get(f"/facilities/{facility.pk}/edit/").content.decode()
    client.force_login(pmu)
    pmu_page = client.get(f"/facilities/{facility.pk}/").content.decode()

    confirmed = client.post(
        f"/facilities/{facility.pk}/confirm-operational/", {"on": "2025-02-01", "comment": "Machines running"}
    )
    after = client.get(f"/facilities/{facility.pk}/").content.decode()

    assert "reported operational, awaiting confirmation" in po_page
    assert 'data-testid="confirm-operational"' not in po_page
    assert "changing the status or the opening date later clears the confirmation" in edit_form
    assert 'data-testid="confirm-operational"' in pmu_page
    assert confirmed.status_code == 302
    assert f"operation confirmed by {pmu.get_display_name()} on 1 Feb 2025" in after
    assert "Machines running" in after
    assert 'data-testid="confirm-operational"' not in after


def test_po_staff_confirming_by_page_or_api_get_403_and_nothing_changes(client, api, po1, sp_one):
    facility = FacilityFactory(sub_project=sp_one)
    client.force_login(po1)

    page = client.post(f"/facilities/{facility.pk}/confirm-operational/", {"on": "2025-02-01"})
    through_api = api.as_user(po1).post(f"/api/v1/facilities/{facility.pk}/confirm-operational/", {})

    assert (page.status_code, through_api.status_code) == (403, 403)
    facility.refresh_from_db()
    assert facility.operational_confirmed_on is None


def test_the_api_confirms_a_facility_and_answers_409_when_not_operational(api, pmu, sp_one):
    facility = FacilityFactory(sub_project=sp_one, opened_on=date(2025, 1, 20))
    planned = FacilityFactory(sub_project=sp_one, status="planned", opened_on=None)
    api.as_user(pmu)

    confirmed = api.post(
        f"/api/v1/facilities/{facility.pk}/confirm-operational/", {"on": "2025-02-01", "comment": "Seen"}
    )
    refused = api.post(f"/api/v1/facilities/{planned.pk}/confirm-operational/", {})
    again = api.post(f"/api/v1/facilities/{facility.pk}/confirm-operational/", {})

    assert confirmed.status_code == 200
    assert (confirmed.json()["operational_confirmed_on"], confirmed.json()["operational_confirmed_by"]) == (
        "2025-02-01",
        "pmu",
    )
    assert (refused.status_code, refused.json()["code"]) == (409, "wrong_state")
    assert again.status_code == 409


def test_the_facility_list_and_export_show_the_confirmation(client, pmu, sp_one):
    confirmed = FacilityFactory(sub_project=sp_one, name="Confirmed CSF", opened_on=date(2025, 1, 20))
    FacilityFactory(sub_project=sp_one, name="Waiting CSF")
    services.confirm_facility_operational(user=pmu, facility=confirmed, on=date(2025, 2, 1))
    client.force_login(pmu)

    waiting = client.get("/facilities/", {"confirmed": "false"}).content.decode()
    export = b"".join(client.get("/facilities/", {"export": "csv"}).streaming_content).decode("utf-8-sig")

    assert "Waiting CSF" in waiting
    assert "Confirmed CSF" not in waiting
    assert "reported operational, awaiting confirmation" in waiting
    assert "Operation confirmed on" in export.splitlines()[0]
    assert "2025-02-01" in export


def test_a_facility_changed_through_the_api_loses_its_confirmation(api, po1, pmu, sp_one):
    facility = FacilityFactory(sub_project=sp_one, opened_on=date(2025, 1, 20))
    services.confirm_facility_operational(user=pmu, facility=facility, on=date(2025, 2, 1))

    response = api.as_user(po1).patch(f"/api/v1/facilities/{facility.pk}/", {"opened_on": "2025-01-15"})

    assert response.status_code == 200, response.json()
    assert response.json()["operational_confirmed_on"] is None


def test_refused_facility_data_changes_nothing(po1, pmu, sp_one):
    facility = FacilityFactory(sub_project=sp_one, opened_on=date(2025, 1, 20))
    services.confirm_facility_operational(user=pmu, facility=facility, on=date(2025, 2, 1))

    with pytest.raises(ValidationError):
        services.save_facility(
            user=po1, facility=facility, data=_facility_data(facility, opened_on=today() + timedelta(days=3))
        )

    facility.refresh_from_db()
    assert (facility.opened_on, facility.operational_confirmed_on) == (date(2025, 1, 20), date(2025, 2, 1))


# --- What counts, and what still awaits a check ---------------------------------------------------


def _adoptions_in_every_state(me_one, po_one, pmu, verifier) -> dict[str, Adoption]:
    """One adoption per state a verification can be in, legacy ones included."""
    insider = make_user("insider", Role.PMU_OFFICER, Role.PO_STAFF, po=po_one)
    codes = {
        "reported": "AQ-04",
        "by_pmu": "EE-01",
        "by_verifier": "WS-04",
        "no_verifier_recorded": "AQ-03",
        "by_po_insider": "EE-02",
    }
    adoptions = {
        name: AdoptionFactory(enterprise=me_one, practice=practice(code)) for name, code in codes.items()
    }
    verified = date(2025, 1, 10)
    for name, user, state in [
        ("by_pmu", pmu, AdoptionVerification.VERIFIED),
        ("by_verifier", verifier, AdoptionVerification.VERIFIED),
        ("by_po_insider", insider, AdoptionVerification.NOT_INDEPENDENT),
    ]:
        Adoption.objects.filter(pk=adoptions[name].pk).update(
            verified_on=verified, verified_by=user, verification=state
        )
    # Verified before the verifier's account was deleted (SET_NULL then): no verifier recorded.
    Adoption.objects.filter(pk=adoptions["no_verifier_recorded"].pk).update(
        verified_on=verified, verification=AdoptionVerification.NOT_INDEPENDENT
    )
    return {
        name: Adoption.objects.select_related("verified_by").get(pk=a.pk) for name, a in adoptions.items()
    }


def test_awaiting_verification_is_the_exact_complement_of_verified_independently(
    me_one, po_one, pmu, verifier
):
    adoptions = _adoptions_in_every_state(me_one, po_one, pmu, verifier)
    by_pk = {a.pk: name for name, a in adoptions.items()}

    counted = {by_pk[pk] for pk in Adoption.objects.verified_independently().values_list("pk", flat=True)}
    awaiting = {by_pk[pk] for pk in Adoption.objects.awaiting_verification().values_list("pk", flat=True)}

    assert counted == {"by_pmu", "by_verifier"}
    assert awaiting == {"reported", "no_verifier_recorded", "by_po_insider"}
    assert {name for name, a in adoptions.items() if a.is_verified_independently} == counted
    # The edit and delete locks still hold for every recorded verification.
    assert {name for name, a in adoptions.items() if a.is_verified} == set(adoptions) - {"reported"}


def test_the_adoption_filter_shows_what_counts_and_what_awaits(client, api, me_one, po_one, pmu, verifier):
    adoptions = _adoptions_in_every_state(me_one, po_one, pmu, verifier)
    client.force_login(pmu)

    awaiting_page = client.get("/adoptions/", {"verified": "false"}).content.decode()
    counted = api.as_user(pmu).get("/api/v1/adoptions/", {"verified": "true"}).json()
    awaiting = api.get("/api/v1/adoptions/", {"verified": "false"}).json()

    assert {row["id"] for row in counted["results"]} == {adoptions[n].pk for n in ("by_pmu", "by_verifier")}
    assert {row["id"] for row in awaiting["results"]} == {
        adoptions[n].pk for n in ("reported", "no_verifier_recorded", "by_po_insider")
    }
    assert "not independently: awaiting verification" in awaiting_page


@pytest.mark.parametrize("state", ["no_verifier_recorded", "by_po_insider"])
def test_an_adoption_verified_but_not_independently_is_verified_again(me_one, po_one, pmu, verifier, state):
    adoption = _adoptions_in_every_state(me_one, po_one, pmu, verifier)[state]

    services.verify_adoption(user=verifier, adoption=adoption, verified_on=date(2025, 2, 1), comment="Seen")

    adoption.refresh_from_db()
    assert (adoption.verified_on, adoption.verified_by) == (date(2025, 2, 1), verifier)
    assert Adoption.objects.verified_independently().filter(pk=adoption.pk).exists()
    row = Transition.objects.get()
    assert (row.subject, row.action, row.from_state, row.to_state, row.actor) == (
        adoption,
        "verify",
        "not_independent",
        "verified",
        verifier,
    )


def test_the_me_page_offers_to_verify_again_what_does_not_count(client, me_one, po_one, pmu, verifier):
    adoptions = _adoptions_in_every_state(me_one, po_one, pmu, verifier)
    client.force_login(pmu)

    page = client.get(f"/enterprises/{me_one.pk}/").content.decode()

    for name, adoption in adoptions.items():
        offered = f"/adoptions/{adoption.pk}/verify/" in page
        assert offered == (name in {"reported", "no_verifier_recorded", "by_po_insider"}), name
    assert "recorded as verified by someone no longer registered on 10 Jan 2025" in page


def test_a_verifiers_account_cannot_be_deleted_while_their_checks_count(me_one, pmu, verifier, sp_one):
    from django.db.models import ProtectedError

    adoption = AdoptionFactory(enterprise=me_one)
    facility = FacilityFactory(sub_project=sp_one)
    services.verify_adoption(user=verifier, adoption=adoption, verified_on=date(2025, 1, 10))
    confirmer = make_user("confirmer", Role.PMU_OFFICER)
    services.confirm_facility_operational(user=confirmer, facility=facility, on=date(2025, 2, 1))

    # The audit trail (append-only) protects the accounts too; the records must do so themselves.
    with pytest.raises(ProtectedError) as verifier_kept:
        verifier.delete()
    with pytest.raises(ProtectedError) as confirmer_kept:
        confirmer.delete()

    assert adoption in verifier_kept.value.protected_objects
    assert facility in confirmer_kept.value.protected_objects
    assert Adoption.objects.verified_independently().get() == adoption
    facility.refresh_from_db()
    assert facility.operational_confirmed_by == confirmer


def test_facilities_awaiting_confirmation_are_the_operational_unconfirmed_ones(pmu, sp_one):
    waiting = FacilityFactory(sub_project=sp_one, name="Waiting")
    confirmed = FacilityFactory(sub_project=sp_one, name="Confirmed")
    planned = FacilityFactory(sub_project=sp_one, name="Planned", status="planned", opened_on=None)
    services.confirm_facility_operational(user=pmu, facility=confirmed, on=date(2025, 2, 1))
    confirmed.refresh_from_db()

    assert list(CommonServiceFacility.objects.awaiting_confirmation()) == [waiting]
    assert (waiting.awaits_confirmation, confirmed.awaits_confirmation, planned.awaits_confirmation) == (
        True,
        False,
        False,
    )


def test_project_financing_and_before_the_programme_split_the_supports(me_one, settings):
    from enterprises.models import FinancialSupport
    from tests.enterprises.factories import FinancialSupportFactory

    settings.PROGRAMME_START = date(2024, 7, 1)
    early = FinancialSupportFactory(enterprise=me_one, disbursed_on=date(2024, 6, 30))
    first_day = FinancialSupportFactory(enterprise=me_one, disbursed_on=date(2024, 7, 1))
    later = FinancialSupportFactory(enterprise=me_one, disbursed_on=date(2024, 10, 1))
    supports = FinancialSupport.objects.all()

    assert set(supports.project_financing()) == {first_day, later}
    assert set(supports.project_financing(as_of=date(2024, 9, 30))) == {first_day}
    assert list(supports.before_programme()) == [early]
    assert [s.is_before_programme_start for s in (early, first_day, later)] == [True, False, False]


# --- The verify and confirm pages: errors and refusals come back with what was typed ---------------


def test_a_verification_date_that_is_not_a_date_comes_back_with_the_error(client, pmu, me_one):
    adoption = AdoptionFactory(enterprise=me_one)
    client.force_login(pmu)

    response = client.post(
        f"/adoptions/{adoption.pk}/verify/",
        {"verified_on": "2025-02-30", "comment": "LEDs in the cutting room"},
    )

    page = response.content.decode()
    assert response.status_code == 400
    assert "Enter a valid date." in page
    assert 'value="LEDs in the cutting room"' in page
    adoption.refresh_from_db()
    assert adoption.verified_on is None
    assert not Transition.objects.exists()


def test_a_refused_verification_comes_back_with_the_reason_and_the_comment(client, pmu, me_one):
    adoption = AdoptionFactory(enterprise=me_one, adopted_on=date(2024, 12, 1))
    client.force_login(pmu)

    response = client.post(
        f"/adoptions/{adoption.pk}/verify/",
        {"verified_on": "2024-11-30", "comment": "LEDs in the cutting room"},
    )

    page = response.content.decode()
    assert response.status_code == 409
    assert 'data-testid="action-error"' in page
    assert "A practice is verified after it is adopted." in page
    assert 'value="LEDs in the cutting room"' in page
    assert 'value="2024-11-30"' in page
    adoption.refresh_from_db()
    assert adoption.verified_on is None


def test_a_confirmation_date_that_is_not_a_date_comes_back_with_the_error(client, pmu, sp_one):
    facility = FacilityFactory(sub_project=sp_one)
    client.force_login(pmu)

    response = client.post(
        f"/facilities/{facility.pk}/confirm-operational/", {"on": "2025-13-01", "comment": "Machines running"}
    )

    page = response.content.decode()
    assert response.status_code == 400
    assert "Enter a valid date." in page
    assert "Machines running</textarea>" in page
    facility.refresh_from_db()
    assert facility.operational_confirmed_on is None


def test_a_refused_confirmation_comes_back_with_the_reason_and_the_comment(client, pmu, sp_one):
    facility = FacilityFactory(sub_project=sp_one, opened_on=date(2025, 1, 20))
    client.force_login(pmu)

    response = client.post(
        f"/facilities/{facility.pk}/confirm-operational/", {"on": "2025-01-19", "comment": "Machines running"}
    )

    page = response.content.decode()
    assert response.status_code == 409
    assert "A facility is confirmed operating on or after its opening date." in page
    assert "Machines running</textarea>" in page
    facility.refresh_from_db()
    assert facility.operational_confirmed_on is None
    assert not Transition.objects.exists()


@pytest.mark.parametrize("persona", ["po1", "wb"])
def test_who_may_not_verify_or_confirm_gets_403_whatever_they_typed(client, request, me_one, sp_one, persona):
    adoption = AdoptionFactory(enterprise=me_one)
    facility = FacilityFactory(sub_project=sp_one)
    client.force_login(request.getfixturevalue(persona))

    verify = client.post(f"/adoptions/{adoption.pk}/verify/", {"verified_on": "not a date"})
    confirm = client.post(f"/facilities/{facility.pk}/confirm-operational/", {"on": "not a date"})

    assert (verify.status_code, confirm.status_code) == (403, 403)


# --- Refusals that must hold ----------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.PMU_OFFICER, Role.VERIFIER])
def test_a_checker_who_belongs_to_a_po_may_not_confirm_a_facility(client, api, sp_one, po_one, role):
    insider = make_user("insider", role, Role.PO_STAFF, po=po_one)
    facility = FacilityFactory(sub_project=sp_one)

    with pytest.raises(ActionRefused) as refused:
        services.confirm_facility_operational(user=insider, facility=facility)
    client.force_login(insider)
    page = client.post(f"/facilities/{facility.pk}/confirm-operational/", {"on": "2025-02-01"})
    through_api = api.as_user(insider).post(f"/api/v1/facilities/{facility.pk}/confirm-operational/", {})

    assert_refused(refused, 403)
    assert (page.status_code, through_api.status_code) == (403, 403)
    facility.refresh_from_db()
    assert facility.operational_confirmed_on is None
    assert not Transition.objects.exists()


def test_another_po_cannot_even_find_an_adoption_to_edit(client, api, po2, me_one):
    adoption = AdoptionFactory(enterprise=me_one, note="before")
    client.force_login(po2)

    page = client.post(f"/adoptions/{adoption.pk}/edit/", {"adopted_on": "2024-12-01", "note": "after"})
    through_api = api.as_user(po2).patch(f"/api/v1/adoptions/{adoption.pk}/", {"note": "after"})

    assert (page.status_code, through_api.status_code) == (404, 404)
    adoption.refresh_from_db()
    assert adoption.note == "before"


def test_the_pmu_does_not_edit_a_pos_adoption(client, api, pmu, me_one):
    adoption = AdoptionFactory(enterprise=me_one, note="before")
    client.force_login(pmu)

    form = client.get(f"/adoptions/{adoption.pk}/edit/")
    page = client.post(f"/adoptions/{adoption.pk}/edit/", {"adopted_on": "2024-12-01", "note": "after"})
    through_api = api.as_user(pmu).patch(f"/api/v1/adoptions/{adoption.pk}/", {"note": "after"})

    assert (form.status_code, page.status_code, through_api.status_code) == (403, 403, 403)
    adoption.refresh_from_db()
    assert adoption.note == "before"


def test_a_verification_recorded_meanwhile_wins_over_an_edit_or_a_delete(po1, pmu, me_one):
    adoption = AdoptionFactory(enterprise=me_one, note="before")
    stale = Adoption.objects.get(pk=adoption.pk)  # read by the PO's page before the verification
    services.verify_adoption(user=pmu, adoption=adoption, verified_on=date(2025, 1, 10))
    assert not stale.is_verified

    with pytest.raises(ActionRefused, match="A verified adoption cannot be changed") as edit:
        services.update_adoption(user=po1, adoption=stale, data={"note": "after"})
    with pytest.raises(ActionRefused, match="A verified adoption cannot be deleted") as delete:
        services.delete_record(user=po1, record=stale)

    assert (edit.value.code, delete.value.code) == ("wrong_state", "wrong_state")
    adoption.refresh_from_db()
    assert (adoption.note, adoption.verified_by) == ("before", pmu)


# --- On the one engine: one log row per decision, refusals change nothing --------------------------


def _log(obj) -> list[tuple]:
    return [(t.action, t.from_state, t.to_state, t.actor, t.comment) for t in lifecycle.transitions_of(obj)]


def test_verifying_moves_the_verification_state_and_writes_one_log_row(verifier, me_one):
    adoption = AdoptionFactory(enterprise=me_one, adopted_on=date(2024, 12, 1))
    assert adoption.verification == AdoptionVerification.REPORTED

    services.verify_adoption(user=verifier, adoption=adoption, verified_on=date(2025, 1, 10), comment="Seen")

    adoption.refresh_from_db()
    assert adoption.verification == AdoptionVerification.VERIFIED
    assert _log(adoption) == [("verify", "reported", "verified", verifier, "Seen")]
    assert lifecycle.transitions_of(adoption).get().at is not None


@pytest.mark.parametrize(
    ("who", "on", "code"),
    [
        ("po1", date(2025, 1, 10), "forbidden"),  # the PO's own staff
        ("verifier", date(2024, 11, 30), "invalid"),  # before the adoption
        ("again", date(2025, 1, 20), "wrong_state"),  # already verified
    ],
)
def test_a_refused_verification_changes_no_state_and_writes_no_row(request, pmu, me_one, who, on, code):
    adoption = AdoptionFactory(enterprise=me_one, adopted_on=date(2024, 12, 1))
    if who == "again":
        services.verify_adoption(user=pmu, adoption=adoption, verified_on=date(2025, 1, 10))
    before = Adoption.objects.values("verification", "verified_on", "verified_by").get(pk=adoption.pk)
    rows = Transition.objects.count()
    user = pmu if who == "again" else request.getfixturevalue(who)

    with pytest.raises(ActionRefused) as refused:
        services.verify_adoption(user=user, adoption=adoption, verified_on=on)

    assert refused.value.code == code
    assert Adoption.objects.values("verification", "verified_on", "verified_by").get(pk=adoption.pk) == before
    assert Transition.objects.count() == rows


def test_the_verification_state_cannot_be_saved_outside_the_engine(pmu, me_one):
    adoption = AdoptionFactory(enterprise=me_one)
    adoption.verification, adoption.verified_on, adoption.verified_by = "verified", date(2025, 1, 10), pmu

    with pytest.raises(lifecycle.StateChangedOutsideLifecycle):
        adoption.save()

    adoption.refresh_from_db()
    assert (adoption.verification, adoption.verified_on) == ("reported", None)
    assert not Transition.objects.exists()


def test_an_adoption_created_with_a_verification_starts_in_the_state_it_says(me_one, po1, pmu):
    """Creation is not a change (demo data, records carried over): the state follows the fields,
    one by one or in bulk."""
    one_by_one = [
        AdoptionFactory(enterprise=me_one, practice=practice("AQ-04")),
        AdoptionFactory(
            enterprise=me_one, practice=practice("EE-01"), verified_on=date(2025, 1, 5), verified_by=pmu
        ),
        AdoptionFactory(
            enterprise=me_one, practice=practice("EE-02"), verified_on=date(2025, 1, 5), verified_by=po1
        ),
    ]
    in_bulk = Adoption.objects.bulk_create(
        [
            Adoption(enterprise=me_one, practice=practice("WS-04"), adopted_on=date(2024, 12, 1)),
            Adoption(
                enterprise=me_one,
                practice=practice("AQ-03"),
                adopted_on=date(2024, 12, 1),
                verified_on=date(2025, 1, 5),
                verified_by_id=pmu.pk,
            ),
            Adoption(
                enterprise=me_one,
                practice=practice("EE-03"),
                adopted_on=date(2024, 12, 1),
                verified_on=date(2025, 1, 5),
            ),
        ]
    )

    states = [Adoption.objects.get(pk=a.pk).verification for a in [*one_by_one, *in_bulk]]
    assert states == [
        "reported",
        "verified",
        "not_independent",
        "reported",
        "verified",
        "not_independent",
    ]
    assert not Transition.objects.exists()


def test_the_me_page_shows_each_adoptions_history(client, po1, verifier, me_one):
    adoption = AdoptionFactory(enterprise=me_one, adopted_on=date(2024, 12, 1))
    services.verify_adoption(user=verifier, adoption=adoption, verified_on=date(2025, 1, 10), comment="Seen")
    client.force_login(po1)

    page = client.get(f"/enterprises/{me_one.pk}/").content.decode()

    assert "Verified: reported, not yet verified → verified independently" in page
    assert f"by {verifier.get_display_name()}: Seen" in page


def test_the_api_verifies_once_with_one_row_and_refuses_by_role_and_state(api, pmu, po1, me_one):
    adoption = AdoptionFactory(enterprise=me_one)

    by_po = api.as_user(po1).post(f"/api/v1/adoptions/{adoption.pk}/verify/", {"verified_on": "2024-12-20"})
    first = api.as_user(pmu).post(f"/api/v1/adoptions/{adoption.pk}/verify/", {"verified_on": "2024-12-20"})
    again = api.post(f"/api/v1/adoptions/{adoption.pk}/verify/", {})

    assert (by_po.status_code, first.status_code, again.status_code) == (403, 200, 409)
    assert first.json()["verification"] == "verified"
    assert "already verified on 2024-12-20" in again.json()["detail"]
    assert _log(adoption) == [("verify", "reported", "verified", pmu, "")]


# --- Facilities on the one engine -----------------------------------------------------------------


def test_confirming_a_facility_is_one_self_transition_in_its_history(client, pmu, sp_one):
    facility = FacilityFactory(sub_project=sp_one, opened_on=date(2025, 1, 20))

    services.confirm_facility_operational(user=pmu, facility=facility, on=date(2025, 2, 1), comment="Seen")
    client.force_login(pmu)
    page = client.get(f"/facilities/{facility.pk}/").content.decode()

    assert _log(facility) == [("confirm_operational", "operational", "operational", pmu, "Seen")]
    assert 'data-testid="timeline"' in page
    assert "Operation confirmed" in page


@pytest.mark.parametrize(
    ("facility_data", "who", "code"),
    [
        ({}, "po1", "forbidden"),
        ({"status": "planned", "opened_on": None}, "pmu", "wrong_state"),
        (
            {"opened_on": date(2025, 1, 20), "operational_confirmed_on": date(2025, 2, 1)},
            "pmu",
            "wrong_state",
        ),
    ],
)
def test_a_refused_confirmation_changes_nothing_and_writes_no_row(request, sp_one, facility_data, who, code):
    facility = FacilityFactory(sub_project=sp_one, **facility_data)
    before = CommonServiceFacility.objects.values().get(pk=facility.pk)

    with pytest.raises(ActionRefused) as refused:
        services.confirm_facility_operational(user=request.getfixturevalue(who), facility=facility)

    assert refused.value.code == code
    assert CommonServiceFacility.objects.values().get(pk=facility.pk) == before
    assert not Transition.objects.exists()
