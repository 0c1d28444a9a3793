"""The API of what awaits independent verification: `verification-awaiting-adoptions` (with
`<id>/verify/`) and `verification-awaiting-facilities` (with `<id>/confirm-operational/`), for PMU
officers and verifiers belonging to no PO. An item that no longer awaits has left the resource (404
by id); a date that does not fit is a 400 naming the field; 409 only when someone else decided first."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.files.base import ContentFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from enterprises.models import Adoption, CommonServiceFacility, Enterprise, FacilityStatus
from monitoring.indicators import established_facilities
from subprojects.models import Transition
from tests.days import FromToday, resolved
from tests.enterprises.factories import AdoptionFactory, FacilityFactory, practice
from tests.factories import district
from tests.verification.conftest import bulk_adoptions, tiny_png
from verification.api import views

ADOPTIONS = "/api/v1/verification-awaiting-adoptions/"
FACILITIES = "/api/v1/verification-awaiting-facilities/"
REFUSED_PERSONAS = ["po1", "po2", "tec1", "wb", "approver", "verifier_with_po"]


def _ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def _decisions(subject) -> list[tuple[str, str, str]]:
    transitions = Transition.objects.filter(
        content_type=ContentType.objects.get_for_model(subject), object_id=subject.pk
    ).select_related("actor")
    return [(t.action, t.actor.username, t.comment) for t in transitions]


# --- Verifying and confirming ---------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["verifier", "pmu"])
def test_an_independent_checker_lists_and_verifies_an_adoption(
    api, db, request, adoption_one, adoption_two, me_one, persona
):
    user = request.getfixturevalue(persona)
    Enterprise.objects.filter(pk=me_one.pk).update(latitude=Decimal("24.05"), longitude=Decimal("90.98"))
    adoption_one.evidence_latitude, adoption_one.evidence_longitude = Decimal("24.051"), Decimal("90.981")
    adoption_one.evidence_photo.save("in-use.png", ContentFile(tiny_png()))
    client = api.as_user(user)

    listing = client.get(ADOPTIONS)

    assert _ids(listing) == [adoption_one.pk, adoption_two.pk]  # oldest adoption first
    row = listing.json()["results"][0]
    assert row == {
        "id": adoption_one.pk,
        "practice": {"code": adoption_one.practice.code, "name": adoption_one.practice.name},
        "adopted_on": "2025-02-10",
        "evidence": {
            "observed_on": "2025-02-12",
            "latitude": "24.051000",
            "longitude": "90.981000",
            "has_photo": True,
            "photo_url": f"{ADOPTIONS}{adoption_one.pk}/photo/",
        },
        "enterprise": {
            "id": me_one.pk,
            "partner_organization": "PO-T01",
            "code": "ME-0001",
            "name": "Rahima Shoe Works",
            "owner_name": "Rahima Begum",
            "phone": "+8801711000001",
            "upazila": {"pcode": me_one.upazila.pcode, "name": me_one.upazila.name},
            "district": {"pcode": me_one.district.pcode, "name": "Kishoreganj"},
            "latitude": "24.050000",
            "longitude": "90.980000",
        },
        "verify_url": f"{ADOPTIONS}{adoption_one.pk}/verify/",
    }
    photo = client.get(row["evidence"]["photo_url"])
    assert (photo.status_code, photo["Content-Type"]) == (200, "image/png")
    assert client.get(f"{ADOPTIONS}{adoption_one.pk}/").json() == row

    response = client.post(
        row["verify_url"], {"verified_on": "2025-03-01", "comment": "Seen in use."}, format="json"
    )

    assert response.status_code == 200, response.content
    assert response.json() == {
        "id": adoption_one.pk,
        "verified_on": "2025-03-01",
        "verified_by": user.get_display_name(),
    }
    assert Adoption.objects.verified_independently().filter(pk=adoption_one.pk).exists()
    assert _decisions(adoption_one) == [("verify", user.username, "Seen in use.")]
    assert _ids(client.get(ADOPTIONS)) == [adoption_two.pk]
    assert client.get(f"{ADOPTIONS}{adoption_one.pk}/").status_code == 404
    assert client.get(row["evidence"]["photo_url"]).status_code == 404


@pytest.mark.parametrize("persona", ["verifier", "pmu"])
def test_an_independent_checker_confirms_a_facility(api, db, request, facility_one, po_one, persona):
    user = request.getfixturevalue(persona)
    planned = FacilityFactory(
        sub_project=facility_one.sub_project, status=FacilityStatus.PLANNED, opened_on=None
    )
    client = api.as_user(user)

    listing = client.get(FACILITIES)

    assert _ids(listing) == [facility_one.pk]
    assert planned.pk not in _ids(listing)
    row = listing.json()["results"][0]
    assert row["name"] == "Bhairab Recycling CSF"
    assert (row["partner_organization"], row["kind"], row["opened_on"]) == ("PO-T01", "revenue", "2025-01-20")
    assert row["district"] == {"pcode": facility_one.district.pcode, "name": "Kishoreganj"}
    assert row["confirm_url"] == f"{FACILITIES}{facility_one.pk}/confirm-operational/"

    response = client.post(row["confirm_url"], {"comment": "Machines running."}, format="json")

    assert response.status_code == 200, response.content
    today = timezone.localdate()
    assert response.json() == {
        "id": facility_one.pk,
        "operational_confirmed_on": today.isoformat(),
        "operational_confirmed_by": user.get_display_name(),
    }
    facility_one.refresh_from_db()
    assert (facility_one.operational_confirmed_by, facility_one.operational_confirmed_on) == (user, today)
    assert facility_one in established_facilities(today)
    assert _decisions(facility_one) == [("confirm_operational", user.username, "Machines running.")]
    assert _ids(client.get(FACILITIES)) == []
    assert client.get(f"{FACILITIES}{facility_one.pk}/").status_code == 404


def test_the_verification_date_defaults_to_today(api, adoption_one, verifier):
    response = api.as_user(verifier).post(f"{ADOPTIONS}{adoption_one.pk}/verify/", {}, format="json")
    assert response.status_code == 200, response.content
    adoption_one.refresh_from_db()
    assert adoption_one.verified_on == timezone.localdate()


def test_the_lists_hold_exactly_what_does_not_count_yet(api, me_one, sp_one, verifier, po1, pmu):
    """Awaiting is the complement of what counts (`verified_independently()`, established
    facilities): an adoption recorded as verified by someone belonging to a PO still awaits."""
    never = AdoptionFactory(enterprise=me_one, practice=practice("EE-01"), adopted_on=date(2025, 2, 1))
    by_po_staff = AdoptionFactory(
        enterprise=me_one,
        practice=practice("EE-02"),
        adopted_on=date(2025, 2, 2),
        verified_on=date(2025, 2, 3),
        verified_by=po1,
    )
    counted = AdoptionFactory(
        enterprise=me_one,
        practice=practice("EE-03"),
        adopted_on=date(2025, 2, 4),
        verified_on=date(2025, 2, 5),
        verified_by=pmu,
    )
    unconfirmed = FacilityFactory(sub_project=sp_one, opened_on=date(2025, 1, 5))
    FacilityFactory(sub_project=sp_one, opened_on=date(2025, 1, 6), operational_confirmed_on=date(2025, 1, 9))
    client = api.as_user(verifier)

    listed = _ids(client.get(ADOPTIONS))

    assert listed == [never.pk, by_po_staff.pk]
    assert set(listed).isdisjoint(Adoption.objects.verified_independently().values_list("pk", flat=True))
    assert counted.pk in Adoption.objects.verified_independently().values_list("pk", flat=True)
    assert _ids(client.get(FACILITIES)) == [unconfirmed.pk]


# --- Who may --------------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", REFUSED_PERSONAS)
def test_everyone_else_is_refused_and_nothing_changes(api, db, request, adoption_one, facility_one, persona):
    """PO staff included, for their own PO's items (po1) as for another's (po2), and a verifier
    account attached to a PO."""
    adoption_one.evidence_photo.save("in-use.png", ContentFile(tiny_png()))
    client = api.as_user(request.getfixturevalue(persona))

    answers = [
        client.get(ADOPTIONS),
        client.get(f"{ADOPTIONS}{adoption_one.pk}/"),
        client.get(f"{ADOPTIONS}{adoption_one.pk}/photo/"),
        client.post(f"{ADOPTIONS}{adoption_one.pk}/verify/", {"comment": "Mine."}, format="json"),
        client.get(FACILITIES),
        client.get(f"{FACILITIES}{facility_one.pk}/"),
        client.post(f"{FACILITIES}{facility_one.pk}/confirm-operational/", {}, format="json"),
    ]

    assert [answer.status_code for answer in answers] == [403] * len(answers)
    adoption_one.refresh_from_db()
    facility_one.refresh_from_db()
    assert (adoption_one.verified_on, adoption_one.verified_by) == (None, None)
    assert (facility_one.operational_confirmed_on, facility_one.operational_confirmed_by) == (None, None)
    assert _decisions(adoption_one) == _decisions(facility_one) == []


def test_anonymous_clients_get_nothing(api, adoption_one, facility_one):
    assert api.get(ADOPTIONS).status_code == 401
    assert api.post(f"{ADOPTIONS}{adoption_one.pk}/verify/", {}, format="json").status_code == 401
    assert api.get(FACILITIES).status_code == 401
    assert (
        api.post(f"{FACILITIES}{facility_one.pk}/confirm-operational/", {}, format="json").status_code == 401
    )


# --- Filters --------------------------------------------------------------------------------------


def test_filters_by_po_and_district(api, adoption_one, adoption_two, facility_one, sp_two, po_two, verifier):
    other = FacilityFactory(sub_project=sp_two, district=district("Satkhira"), opened_on=date(2025, 1, 5))
    client = api.as_user(verifier)
    kishoreganj = adoption_one.enterprise.district.pcode

    assert _ids(client.get(ADOPTIONS, {"po": po_two.code})) == [adoption_two.pk]
    assert _ids(client.get(ADOPTIONS, {"district": kishoreganj})) == [adoption_one.pk]
    assert _ids(client.get(ADOPTIONS, {"po": po_two.code, "district": kishoreganj})) == []
    assert _ids(client.get(ADOPTIONS, {"po": "", "district": ""})) == [adoption_one.pk, adoption_two.pk]
    assert _ids(client.get(FACILITIES)) == [other.pk, facility_one.pk]  # opened earliest first
    assert _ids(client.get(FACILITIES, {"po": po_two.code})) == [other.pk]
    assert _ids(client.get(FACILITIES, {"district": kishoreganj})) == [facility_one.pk]


@pytest.mark.parametrize(("params", "field"), [({"po": "PO-NONE"}, "po"), ({"district": "BD99"}, "district")])
def test_an_unknown_filter_value_is_400_naming_it(api, adoption_one, verifier, params, field):
    client = api.as_user(verifier)
    for path in (ADOPTIONS, FACILITIES):
        response = client.get(path, params)
        assert response.status_code == 400
        assert list(response.json()["fields"]) == [field]


# --- Refusals -------------------------------------------------------------------------------------


def _before(day: date) -> str:
    return (day - timedelta(days=1)).isoformat()


@pytest.mark.parametrize(
    "verified_on",
    [
        "12/03/2025",
        "yesterday",
        "2025-02-30",
        FromToday(1),
        "before",
    ],
)
def test_a_bad_verification_date_is_400_naming_the_field(api, adoption_one, verifier, verified_on):
    if verified_on == "before":
        verified_on = _before(adoption_one.adopted_on)
    verified_on = resolved(verified_on)  # the JSON body writes a day as YYYY-MM-DD
    response = api.as_user(verifier).post(
        f"{ADOPTIONS}{adoption_one.pk}/verify/", {"verified_on": verified_on, "comment": "x"}, format="json"
    )

    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["verified_on"]
    adoption_one.refresh_from_db()
    assert adoption_one.verified_on is None
    assert _decisions(adoption_one) == []


@pytest.mark.parametrize("on", ["01-02-2025", FromToday(1), "before"])
def test_a_bad_confirmation_date_is_400_naming_the_field(api, facility_one, pmu, on):
    if on == "before":
        on = _before(facility_one.opened_on)
    on = resolved(on)
    response = api.as_user(pmu).post(
        f"{FACILITIES}{facility_one.pk}/confirm-operational/", {"on": on}, format="json"
    )

    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["on"]
    facility_one.refresh_from_db()
    assert facility_one.operational_confirmed_on is None


def test_verifying_twice_is_refused(api, adoption_one, verifier, pmu):
    first = api.as_user(verifier).post(
        f"{ADOPTIONS}{adoption_one.pk}/verify/", {"verified_on": "2025-03-01"}, format="json"
    )
    assert first.status_code == 200

    again = api.as_user(pmu).post(
        f"{ADOPTIONS}{adoption_one.pk}/verify/", {"verified_on": "2025-04-01"}, format="json"
    )

    assert again.status_code == 404  # it has left the list
    adoption_one.refresh_from_db()
    assert (adoption_one.verified_on, adoption_one.verified_by) == (date(2025, 3, 1), verifier)
    assert len(_decisions(adoption_one)) == 1


def test_confirming_twice_is_refused(api, facility_one, verifier):
    client = api.as_user(verifier)
    url = f"{FACILITIES}{facility_one.pk}/confirm-operational/"
    assert client.post(url, {}, format="json").status_code == 200
    assert client.post(url, {}, format="json").status_code == 404
    assert len(_decisions(facility_one)) == 1


def test_someone_deciding_first_is_409(api, monkeypatch, adoption_one, facility_one, verifier, pmu):
    """The item was still awaiting when looked up, then someone else decided: the service says so."""
    client = api.as_user(verifier)
    stale_adoption = Adoption.objects.get(pk=adoption_one.pk)
    stale_facility = CommonServiceFacility.objects.get(pk=facility_one.pk)
    client_pmu = api.__class__().as_user(pmu)
    assert client_pmu.post(f"{ADOPTIONS}{adoption_one.pk}/verify/", {}, format="json").status_code == 200
    assert (
        client_pmu.post(f"{FACILITIES}{facility_one.pk}/confirm-operational/", {}, format="json").status_code
        == 200
    )
    monkeypatch.setattr(views.AwaitingAdoptionViewSet, "get_object", lambda self: stale_adoption)
    monkeypatch.setattr(views.AwaitingFacilityViewSet, "get_object", lambda self: stale_facility)

    adoption = client.post(f"{ADOPTIONS}{adoption_one.pk}/verify/", {}, format="json")
    facility = client.post(f"{FACILITIES}{facility_one.pk}/confirm-operational/", {}, format="json")

    assert (adoption.status_code, adoption.json()["code"]) == (409, "wrong_state")
    assert (facility.status_code, facility.json()["code"]) == (409, "wrong_state")
    adoption_one.refresh_from_db()
    assert adoption_one.verified_by == pmu


def test_a_facility_no_longer_operational_has_left_the_list(api, facility_one, verifier):
    CommonServiceFacility.objects.filter(pk=facility_one.pk).update(status=FacilityStatus.UNDER_CONSTRUCTION)
    response = api.as_user(verifier).post(
        f"{FACILITIES}{facility_one.pk}/confirm-operational/", {}, format="json"
    )
    assert response.status_code == 404


def test_json_only(api, adoption_one, facility_one, verifier):
    client = api.as_user(verifier)
    form = client.post(f"{ADOPTIONS}{adoption_one.pk}/verify/", {"comment": "x"}, format="multipart")
    assert form.status_code == 415
    assert (
        client.post(f"{FACILITIES}{facility_one.pk}/confirm-operational/", {}, format="multipart").status_code
        == 415
    )
    adoption_one.refresh_from_db()
    assert adoption_one.verified_on is None


# --- Lists do not grow in queries with their rows -------------------------------------------------


def _queries(client, path: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(path).status_code == 200
    return len(captured)


def test_the_lists_take_as_many_queries_for_one_row_as_for_five(api, verifier, sp_one, sp_two):
    bulk_adoptions(sp_one, 1)
    FacilityFactory(sub_project=sp_one)
    client = api.as_user(verifier)
    one = {path: _queries(client, path) for path in (ADOPTIONS, FACILITIES)}

    for adoption in bulk_adoptions(sp_two, 4, on=date(2025, 3, 1)):
        adoption.evidence_photo.save("in-use.png", ContentFile(tiny_png()))
    for _ in range(4):
        FacilityFactory(sub_project=sp_two)
    assert [len(client.get(path).json()["results"]) for path in (ADOPTIONS, FACILITIES)] == [5, 5]
    five = {path: _queries(client, path) for path in (ADOPTIONS, FACILITIES)}

    assert five == one
