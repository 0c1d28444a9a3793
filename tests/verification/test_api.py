"""The verification API: rounds, checks (with results as transitions) and the policy, with every
refusal a client can meet (400, 403, 404, 409)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from enterprises.models import Enterprise, ProfileStatus
from tests.enterprises.factories import (
    AdoptionFactory,
    EnterpriseFactory,
    FacilityFactory,
    RecpProfileFactory,
    practice,
)
from tests.verification.conftest import bulk_adoptions, tiny_png
from tests.verification.factories import CheckFactory, RoundFactory
from verification import services
from verification.models import CheckStatus, VerificationPolicy

ROUNDS = "/api/v1/verification-rounds/"
CHECKS = "/api/v1/verification-checks/"
POLICY = "/api/v1/verification-policy/current/"


def today() -> str:
    return timezone.localdate().isoformat()


# --- Rounds ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("persona", "status"),
    [("pmu", 200), ("verifier", 200), ("wb", 200), ("approver", 200), ("po1", 403), ("tec1", 403)],
)
def test_who_reads_rounds(api, request, round_q1, persona, status):
    client = api.as_user(request.getfixturevalue(persona))
    assert client.get(ROUNDS).status_code == status
    assert client.get(f"{ROUNDS}{round_q1.pk}/").status_code == status


def test_a_round_in_detail_gives_each_po_and_its_rate(api, pmu, verifier, sp_one, po_one):
    bulk_adoptions(sp_one, 3)
    round_ = services.draw_round(user=pmu, year=2025, quarter=1, seed=3)
    check = round_.checks.first()
    api.as_user(verifier).post(f"{CHECKS}{check.pk}/confirm/", {"visited_on": today()}, format="multipart")

    body = api.get(f"{ROUNDS}{round_.pk}/").json()

    assert (body["checks_sampled"], body["checks_done"]) == (3, 1)
    assert body["strata"] == [
        {
            "partner_organization": po_one.code,
            "adoptions": 3,
            "profiles": 0,
            "facilities": 0,
            "population": 3,
            "sample_size": 3,
            "done": 1,
            "confirmed": 1,
            "partly": 0,
            "not_found": 0,
            "rate": "100.0",
            "flagged": False,
        }
    ]


def test_a_round_in_detail_has_the_total_line_and_the_fingerprints(api, pmu, verifier, sp_one, sp_two):
    bulk_adoptions(sp_one, 4)
    bulk_adoptions(sp_two, 2)
    round_ = services.draw_round(user=pmu, year=2025, quarter=1, seed=3)
    client = api.as_user(verifier)
    for check, action in zip(round_.checks.order_by("pk")[:2], ["confirm", "partly"], strict=True):
        client.post(
            f"{CHECKS}{check.pk}/{action}/", {"visited_on": today(), "comment": "Seen."}, format="multipart"
        )

    body = client.get(f"{ROUNDS}{round_.pk}/").json()

    assert body["totals"] == {
        "adoptions": 6,
        "profiles": 0,
        "facilities": 0,
        "population": 6,
        "sample_size": 6,
        "done": 2,
        "confirmed": 1,
        "partly": 1,
        "not_found": 0,
        "rate": "75.0",
        "flagged": True,
    }
    assert body["threshold_percent"] == "90.00"
    stored = {s.partner_organization.code: s for s in round_.strata.select_related("partner_organization")}
    assert [
        (row["partner_organization"], row["adoptions"], row["profiles"], row["facilities"])
        for row in body["fingerprints"]
    ] == [
        (code, stratum.adoptions_sha256, stratum.profiles_sha256, stratum.facilities_sha256)
        for code, stratum in sorted(stored.items())
    ]


def test_a_round_in_detail_reads_the_round_once(api, pmu, sp_one):
    bulk_adoptions(sp_one, 2)
    round_ = services.draw_round(user=pmu, year=2025, quarter=1, seed=3)
    client = api.as_user(pmu)

    with CaptureQueriesContext(connection) as captured:
        assert client.get(f"{ROUNDS}{round_.pk}/").status_code == 200

    reads = [q["sql"] for q in captured if 'FROM "verification_verificationround"' in q["sql"]]
    assert len(reads) == 1


# --- Checks ---------------------------------------------------------------------------------------


def _ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def test_checks_are_scoped(api, check_of, adoption_one, adoption_two, facility_one, verifier, wb, po1, tec1):
    pending = check_of(adoption_one)
    done = check_of(facility_one, status=CheckStatus.PARTLY, finding="Half built.")
    other_po = check_of(adoption_two, status=CheckStatus.CONFIRMED)

    assert _ids(api.as_user(verifier).get(CHECKS)) == {pending.pk, done.pk, other_po.pk}
    assert _ids(api.as_user(wb).get(CHECKS)) == {pending.pk, done.pk, other_po.pk}
    assert _ids(api.as_user(po1).get(CHECKS)) == {done.pk}
    assert api.get(f"{CHECKS}{done.pk}/").json()["finding"] == "Half built."
    assert api.get(f"{CHECKS}{pending.pk}/").status_code == 404
    assert api.get(f"{CHECKS}{other_po.pk}/").status_code == 404
    assert api.as_user(tec1).get(CHECKS).status_code == 403


def test_a_pmu_officer_from_a_po_never_sees_that_pos_pending_checks(
    api, check_of, adoption_one, adoption_two, facility_one, pmu_with_po
):
    own_pending = check_of(adoption_one)
    own_done = check_of(facility_one, status=CheckStatus.CONFIRMED)
    other_pending = check_of(adoption_two)
    client = api.as_user(pmu_with_po)

    assert _ids(client.get(CHECKS)) == {own_done.pk, other_pending.pk}
    assert client.get(f"{CHECKS}{own_pending.pk}/").status_code == 404
    assert client.get(f"{CHECKS}{other_pending.pk}/").status_code == 200


def test_checks_filters(api, check_of, adoption_one, adoption_two, facility_one, pmu, po_two):
    later = RoundFactory(year=2025, quarter=2)
    first = check_of(adoption_one, status=CheckStatus.CONFIRMED)
    second = CheckFactory(round=later, adoption=adoption_two)
    facility = check_of(facility_one)
    client = api.as_user(pmu)

    assert _ids(client.get(CHECKS, {"round": later.pk})) == {second.pk}
    assert _ids(client.get(CHECKS, {"partner_organization": po_two.code})) == {second.pk}
    assert _ids(client.get(CHECKS, {"kind": "facility"})) == {facility.pk}
    assert _ids(client.get(CHECKS, {"status": "confirmed"})) == {first.pk}
    assert _ids(client.get(CHECKS, {"district": adoption_two.enterprise.district.pcode})) == {second.pk}


def test_a_verifier_confirms_with_json(api, check_of, adoption_one, verifier):
    check = check_of(adoption_one)
    client = api.as_user(verifier)
    listed = client.get(f"{CHECKS}{check.pk}/").json()
    assert [a["action"] for a in listed["available_actions"]] == ["confirm", "partly", "not_found"]
    assert listed["available_actions"][2]["url"] == f"{CHECKS}{check.pk}/not-found/"

    response = client.post(
        f"{CHECKS}{check.pk}/confirm/",
        {"visited_on": today(), "comment": "In use.", "latitude": "24.05", "longitude": "90.98"},
        format="multipart",
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["finding"], body["checked_by"], body["available_actions"]) == (
        "confirmed",
        "In use.",
        verifier.get_display_name(),
        [],
    )
    adoption_one.refresh_from_db()
    assert adoption_one.verified_by == verifier
    history = client.get(f"{CHECKS}{check.pk}/history/").json()
    assert [(entry["action"], entry["to_state"]) for entry in history] == [("confirm", "confirmed")]


def test_a_check_says_what_to_visit(api, check_of, adoption_one, me_one, facility_one, profile_one, verifier):
    Enterprise.objects.filter(pk=me_one.pk).update(latitude=Decimal("24.05"), longitude=Decimal("90.98"))
    adoption_one.evidence_latitude, adoption_one.evidence_longitude = Decimal("24.051"), Decimal("90.981")
    adoption_one.evidence_photo.save("in-use.png", ContentFile(tiny_png()))
    adoption_check, facility_check = check_of(adoption_one), check_of(facility_one)
    profile_check = check_of(profile_one)
    client = api.as_user(verifier)

    adoption = client.get(f"{CHECKS}{adoption_check.pk}/").json()["subject"]
    facility = client.get(f"{CHECKS}{facility_check.pk}/").json()["subject"]
    profile = client.get(f"{CHECKS}{profile_check.pk}/").json()["subject"]

    assert (adoption["profile"], adoption["facility"]) == (None, None)
    assert adoption["adoption"]["practice"] == {
        "code": adoption_one.practice.code,
        "name": adoption_one.practice.name,
    }
    assert adoption["adoption"]["enterprise"] == {
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
    }
    evidence = adoption["adoption"]["evidence"]
    assert (evidence["observed_on"], evidence["latitude"], evidence["has_photo"]) == (
        "2025-02-12",
        "24.051000",
        True,
    )
    assert evidence["photo_url"] == f"{CHECKS}{adoption_check.pk}/evidence-photo/"
    photo = client.get(evidence["photo_url"])
    assert (photo.status_code, photo["Content-Type"]) == (200, "image/png")
    assert (adoption["adoption"]["verified_on"], adoption["adoption"]["verified_by"]) == (None, "")
    assert "verify_url" not in adoption["adoption"]
    assert facility["facility"]["name"] == "Bhairab Recycling CSF"
    assert (facility["facility"]["status"], facility["facility"]["opened_on"]) == (
        "operational",
        "2025-01-20",
    )
    assert facility["adoption"] is None
    assert profile["profile"]["validated_on"] == "2025-03-03"
    assert profile["profile"]["enterprise"]["owner_name"] == "Rahima Begum"
    assert client.get(f"{CHECKS}{facility_check.pk}/evidence-photo/").status_code == 404


def test_the_evidence_photo_follows_the_checks_visibility(api, check_of, adoption_one, po1, po2):
    adoption_one.evidence_photo.save("in-use.png", ContentFile(tiny_png()))
    pending = check_of(adoption_one)
    done = check_of(
        AdoptionFactory(enterprise=adoption_one.enterprise, practice=practice("EE-01")),
        status=CheckStatus.CONFIRMED,
    )
    done.adoption.evidence_photo.save("in-use.png", ContentFile(tiny_png()))

    assert api.as_user(po1).get(f"{CHECKS}{done.pk}/evidence-photo/").status_code == 200
    assert api.get(f"{CHECKS}{pending.pk}/evidence-photo/").status_code == 404
    assert api.as_user(po2).get(f"{CHECKS}{done.pk}/evidence-photo/").status_code == 404


def test_a_photo_goes_by_multipart(api, check_of, facility_one, verifier):
    check = check_of(facility_one)
    client = api.as_user(verifier)
    response = client.post(
        f"{CHECKS}{check.pk}/not-found/",
        {
            "visited_on": today(),
            "comment": "An empty plot.",
            "photo": SimpleUploadedFile("plot.png", tiny_png(), content_type="image/png"),
        },
        format="multipart",
    )

    assert response.status_code == 200, response.content
    photo_url = response.json()["photo_url"]
    assert photo_url == f"{CHECKS}{check.pk}/photo/"
    photo = client.get(photo_url)
    assert photo.status_code == 200
    assert photo["Content-Type"] == "image/png"


def test_multipart_is_only_for_results(api, round_q1, pmu):
    response = api.as_user(pmu).post(ROUNDS, {"year": 2025, "quarter": 2}, format="multipart")
    assert response.status_code == 415


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "visited_on"),
        ({"visited_on": "2999-01-01"}, "visited_on"),
        ({"visited_on": "today"}, "visited_on"),
        ({"latitude": "24.05"}, "longitude"),
        ({"latitude": "51.5", "longitude": "-0.1"}, "latitude"),
    ],
)
def test_bad_results_are_400_by_field(api, check_of, adoption_one, verifier, payload, field):
    check = check_of(adoption_one)
    response = api.as_user(verifier).post(
        f"{CHECKS}{check.pk}/confirm/",
        {"visited_on": today(), **payload} if payload else {},
        format="multipart",
    )
    assert response.status_code == 400
    assert field in response.json()["fields"]
    check.refresh_from_db()
    assert check.status == CheckStatus.PENDING


def test_partly_needs_a_comment(api, check_of, adoption_one, verifier):
    check = check_of(adoption_one)
    response = api.as_user(verifier).post(
        f"{CHECKS}{check.pk}/partly/", {"visited_on": today()}, format="multipart"
    )
    assert response.status_code == 400
    assert "comment" in response.json()["fields"]


def test_a_photo_that_is_not_an_image_is_400(api, check_of, adoption_one, verifier):
    check = check_of(adoption_one)
    response = api.as_user(verifier).post(
        f"{CHECKS}{check.pk}/confirm/",
        {"visited_on": today(), "photo": SimpleUploadedFile("x.png", b"%PDF-1.4 not a picture")},
        format="multipart",
    )
    assert response.status_code == 400
    assert "photo" in response.json()["fields"]


@pytest.mark.parametrize(
    ("persona", "status"),
    [("wb", 403), ("approver", 403), ("tec1", 403), ("po2", 404), ("po1", 403), ("verifier_with_po", 403)],
)
def test_refusals_by_role(api, request, check_of, adoption_one, persona, status):
    # A done check of po1's PO (so its own staff can see it), then a pending one.
    done = check_of(adoption_one, status=CheckStatus.NOT_FOUND, finding="Closed.")
    client = api.as_user(request.getfixturevalue(persona))

    response = client.post(f"{CHECKS}{done.pk}/confirm/", {"visited_on": today()}, format="multipart")

    assert response.status_code == status
    done.refresh_from_db()
    assert done.status == CheckStatus.NOT_FOUND


def test_po_staff_get_404_on_their_pending_checks(api, check_of, adoption_one, po1):
    check = check_of(adoption_one)
    response = api.as_user(po1).post(
        f"{CHECKS}{check.pk}/confirm/", {"visited_on": today()}, format="multipart"
    )
    assert response.status_code == 404


def test_a_done_check_is_409(api, check_of, adoption_one, verifier):
    check = check_of(adoption_one)
    client = api.as_user(verifier)
    assert (
        client.post(f"{CHECKS}{check.pk}/confirm/", {"visited_on": today()}, format="multipart").status_code
        == 200
    )

    again = client.post(
        f"{CHECKS}{check.pk}/not-found/", {"visited_on": today(), "comment": "x"}, format="multipart"
    )

    assert again.status_code == 409
    assert again.json()["code"] == "wrong_state"


def test_a_visit_before_the_draw_is_400(api, check_of, adoption_one, verifier):
    check = check_of(adoption_one)
    before = (timezone.localdate(check.round.drawn_at) - timedelta(days=1)).isoformat()
    response = api.as_user(verifier).post(
        f"{CHECKS}{check.pk}/confirm/", {"visited_on": before}, format="multipart"
    )
    assert response.status_code == 400
    assert "before the sample was drawn" in response.json()["fields"]["visited_on"][0]["message"]


# --- Policy ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["pmu", "verifier", "wb", "po1", "tec1"])
def test_every_role_reads_the_policy(api, request, persona):
    response = api.as_user(request.getfixturevalue(persona)).get(POLICY)
    assert response.status_code == 200
    assert response.json()["threshold_percent"] == "90.00"


def test_pmu_patches_the_policy(api, pmu):
    response = api.as_user(pmu).patch(POLICY, {"threshold_percent": "80"}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["threshold_percent"], body["margin_percent"], body["floor"]) == ("80.00", "5.0", 10)
    assert body["history"][0]["who"] == pmu.get_display_name()
    assert VerificationPolicy.current().threshold_percent == Decimal("80")


def test_policy_refusals(api, pmu, verifier):
    bad = api.as_user(pmu).patch(POLICY, {"margin_percent": "0.2", "floor": 0}, format="json")
    assert bad.status_code == 400
    assert {"margin_percent", "floor"} <= set(bad.json()["fields"])
    forbidden = api.as_user(verifier).patch(POLICY, {"threshold_percent": "10"}, format="json")
    assert forbidden.status_code == 403
    assert VerificationPolicy.current().threshold_percent == Decimal("90")


def test_anonymous_clients_get_nothing(api, round_q1):
    for path in (ROUNDS, CHECKS, POLICY):
        assert api.get(path).status_code == 401


# --- Lists do not grow in queries with their rows -------------------------------------------------


def _validated_profile(sub_project, on: date):
    return RecpProfileFactory(
        enterprise=EnterpriseFactory(sub_project=sub_project), status=ProfileStatus.VALIDATED, validated_on=on
    )


def _queries(client, path: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(path).status_code == 200
    return len(captured)


def test_api_lists_take_as_many_queries_for_one_row_as_for_many(api, pmu, sp_one, sp_two):
    """Checks carry their subject (adoption, profile or facility): still no query per row."""
    bulk_adoptions(sp_one, 1)
    FacilityFactory(sub_project=sp_one, opened_on=date(2025, 1, 3))
    _validated_profile(sp_one, date(2025, 2, 3))
    services.draw_round(user=pmu, year=2025, quarter=1, seed=1)
    client = api.as_user(pmu)
    few = {path: _queries(client, path) for path in (ROUNDS, CHECKS)}

    for _ in range(3):
        FacilityFactory(sub_project=sp_two, opened_on=date(2025, 4, 3))
        _validated_profile(sp_two, date(2025, 5, 3))
    bulk_adoptions(sp_one, 20, on=date(2025, 4, 3))
    bulk_adoptions(sp_two, 20, on=date(2025, 5, 3))
    services.draw_round(user=pmu, year=2025, quarter=2, seed=1)
    many = {path: _queries(client, path) for path in (ROUNDS, CHECKS)}

    assert many == few
