"""The verification pages as each role sees them: who may open what, what PO staff may see of their
own checks, the result form (and what it keeps when refused), the work list, the policy, photos, and
lists whose query count does not grow with their rows."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from enterprises import services as enterprise_services
from enterprises.models import Adoption
from subprojects import workflow
from tests.enterprises.factories import FacilityFactory
from tests.verification.conftest import bulk_adoptions, tiny_png
from tests.verification.factories import CheckFactory, RoundFactory
from verification import services
from verification.models import CheckStatus, VerificationPolicy

TODAY = timezone.localdate


def url(name: str, *args) -> str:
    return reverse(f"verification:{name}", args=args)


# --- Who may open what ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("persona", "rounds", "checks", "awaiting", "policy"),
    [
        ("pmu", 200, 200, 200, 200),
        ("verifier", 200, 200, 200, 200),
        ("wb", 200, 200, 403, 200),
        ("approver", 200, 200, 403, 200),
        ("po1", 403, 200, 403, 200),
        ("tec1", 403, 403, 403, 200),
        ("verifier_with_po", 403, 403, 403, 200),
    ],
)
def test_who_opens_which_page(client, request, round_q1, persona, rounds, checks, awaiting, policy):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(url("round-list")).status_code == rounds
    assert client.get(url("round-detail", round_q1.pk)).status_code == rounds
    assert client.get(url("check-list")).status_code == checks
    assert client.get(url("awaiting")).status_code == awaiting
    assert client.get(url("policy")).status_code == policy


def test_anonymous_visitors_are_sent_to_sign_in(client, round_q1):
    for page in (
        url("round-list"),
        url("round-detail", round_q1.pk),
        url("check-list"),
        url("awaiting"),
        url("policy"),
    ):
        response = client.get(page)
        assert response.status_code == 302
        assert response.url.startswith(reverse("login"))


def test_the_navigation_groups_the_pages(client, verifier, po1, tec1):
    client.force_login(verifier)
    home = client.get("/").content.decode()
    for name in ("round-list", "check-list", "awaiting", "policy"):
        assert f'href="{url(name)}"' in home
    client.force_login(po1)
    home = client.get("/").content.decode()
    assert f'href="{url("check-list")}"' in home
    assert f'href="{url("awaiting")}"' not in home
    client.force_login(tec1)
    assert f'href="{url("round-list")}"' not in client.get("/").content.decode()


def test_verifiers_get_no_enterprise_registry(client, verifier):
    client.force_login(verifier)
    assert client.get(reverse("enterprises:enterprise-list")).status_code == 403
    assert client.get("/api/v1/enterprises/", HTTP_ACCEPT="application/json").status_code in {401, 403}


# --- What PO staff see ----------------------------------------------------------------------------


def test_po_staff_see_only_their_own_done_checks(
    client, check_of, adoption_one, adoption_two, facility_one, po1
):
    pending = check_of(adoption_one)
    done = check_of(facility_one, status=CheckStatus.NOT_FOUND, finding="No machines on site.")
    other_po = check_of(adoption_two, status=CheckStatus.CONFIRMED)
    client.force_login(po1)

    listing = client.get(url("check-list")).content.decode()

    assert done.reference in listing
    assert pending.reference not in listing
    assert other_po.reference not in listing
    page = client.get(url("check-detail", done.pk))
    assert page.status_code == 200
    assert "No machines on site." in page.content.decode()
    assert 'data-testid="result-form"' not in page.content.decode()
    assert client.get(url("check-detail", pending.pk)).status_code == 404
    assert client.get(url("check-detail", other_po.pk)).status_code == 404


def test_the_round_page_shows_each_po_and_flags(client, pmu, sp_one, sp_two, po_one, po_two):
    bulk_adoptions(sp_one, 4)
    bulk_adoptions(sp_two, 2)
    round_ = services.draw_round(user=pmu, year=2025, quarter=1, seed=1)
    one = list(round_.checks.filter(partner_organization=po_one))
    for check, action in zip(one, ["confirm", "confirm", "partly", "not_found"], strict=True):
        workflow.apply(check, action, pmu, comment="Seen.", visited_on=TODAY())
    client.force_login(pmu)

    page = client.get(url("round-detail", round_.pk)).content.decode()

    # po1's PO: (2 + 0.5) / 4 = 62.5 %, below 90 %: flagged; po2's PO: nothing done yet.
    assert "62.5 %" in page
    assert page.count('data-testid="flag"') == 1
    assert f'class="table-danger" data-testid="stratum-{po_one.code}"' in page
    assert f'data-testid="stratum-{po_two.code}"' in page


def test_the_round_page_shows_the_population_fingerprints(client, pmu, sp_one, po_one):
    bulk_adoptions(sp_one, 3)
    round_ = services.draw_round(user=pmu, year=2025, quarter=1, seed=1)
    stratum = round_.strata.get()
    client.force_login(pmu)

    page = client.get(url("round-detail", round_.pk)).content.decode()

    assert 'data-testid="fingerprints"' in page
    assert stratum.adoptions_sha256 in page
    assert len(stratum.adoptions_sha256) == 64


# --- The result form ------------------------------------------------------------------------------


def test_a_verifier_records_a_result_with_a_photo(client, check_of, adoption_one, verifier):
    check = check_of(adoption_one)
    client.force_login(verifier)
    page = client.get(url("check-detail", check.pk)).content.decode()
    assert "Rahima Begum" in page  # who to find
    assert "+8801711000001" in page
    assert "Bhairab" in page
    assert 'data-testid="result-form"' in page

    response = client.post(
        url("check-result", check.pk),
        {
            "action": "confirm",
            "visited_on": TODAY().isoformat(),
            "finding": "LED tubes in the cutting room.",
            "latitude": "24.0512",
            "longitude": "90.9771",
            "photo": SimpleUploadedFile("site.png", tiny_png(), content_type="image/png"),
        },
    )

    assert response.status_code == 302
    check.refresh_from_db()
    adoption_one.refresh_from_db()
    assert (check.status, check.finding, check.latitude) == (
        CheckStatus.CONFIRMED,
        "LED tubes in the cutting room.",
        Decimal("24.051200"),
    )
    assert adoption_one.verified_by == verifier
    photo = client.get(url("check-photo", check.pk))
    assert photo.status_code == 200
    assert photo["Content-Type"] == "image/png"
    assert "sandbox" in photo["Content-Security-Policy"]


@pytest.mark.parametrize(
    ("posted", "message", "status"),
    [
        ({"action": "partly", "finding": ""}, "Say what you found", 400),
        ({"action": "confirm", "visited_on": "2999-01-01"}, "cannot be in the future", 400),
        ({"action": "confirm", "latitude": "24.05"}, "both latitude and longitude", 400),
    ],
)
def test_a_refused_result_keeps_what_was_typed(
    client, check_of, adoption_one, verifier, posted, message, status
):
    check = check_of(adoption_one)
    client.force_login(verifier)
    data = {
        "visited_on": TODAY().isoformat(),
        "finding": "Typed notes",
        "latitude": "",
        "longitude": "",
        **posted,
    }

    response = client.post(url("check-result", check.pk), data)

    assert response.status_code == status
    body = response.content.decode()
    assert message in body
    assert f'value="{data["visited_on"]}"' in body
    if data["finding"]:
        assert data["finding"] in body
    check.refresh_from_db()
    assert check.status == CheckStatus.PENDING


def test_a_result_on_a_done_check_is_refused_with_the_reason(client, check_of, facility_one, verifier):
    check = check_of(facility_one)
    client.force_login(verifier)
    form = {"action": "confirm", "visited_on": TODAY().isoformat(), "finding": "Running."}
    assert client.post(url("check-result", check.pk), form).status_code == 302

    again = client.post(url("check-result", check.pk), {**form, "action": "not_found", "finding": "Gone"})

    assert again.status_code == 409
    assert "not possible while" in again.content.decode()
    assert "Gone" in again.content.decode()
    check.refresh_from_db()
    assert check.status == CheckStatus.CONFIRMED


def test_a_refusal_from_the_engine_shows_the_reason_and_the_typed_finding(
    client, check_of, facility_one, po1, verifier
):
    check = check_of(facility_one)
    enterprise_services.save_facility(
        user=po1, facility=facility_one, data={"status": "under_construction", "opened_on": None}
    )
    client.force_login(verifier)

    response = client.post(
        url("check-result", check.pk),
        {"action": "confirm", "visited_on": TODAY().isoformat(), "finding": "Walls only."},
    )

    assert response.status_code == 409
    body = response.content.decode()
    assert 'data-testid="action-error"' in body
    assert "Walls only." in body


@pytest.mark.parametrize(
    ("persona", "status"),
    [
        ("po1", 404),  # their own PO's pending check is not announced
        ("po2", 404),  # another PO's check
        ("tec1", 403),  # no verification pages at all
        ("verifier_with_po", 403),
        ("pmu_with_po", 404),  # a PMU officer from the PO: its pending checks are not announced either
    ],
)
def test_outsiders_cannot_post_results(client, request, check_of, adoption_one, persona, status):
    check = check_of(adoption_one)
    client.force_login(request.getfixturevalue(persona))
    response = client.post(
        url("check-result", check.pk), {"action": "confirm", "visited_on": TODAY().isoformat()}
    )
    assert response.status_code == status
    check.refresh_from_db()
    assert check.status == CheckStatus.PENDING


def test_po_staff_may_not_post_on_their_own_pos_done_check(client, check_of, adoption_one, po1):
    check = check_of(adoption_one, status=CheckStatus.NOT_FOUND, finding="Closed.")
    client.force_login(po1)
    assert client.get(url("check-detail", check.pk)).status_code == 200  # they see it
    response = client.post(
        url("check-result", check.pk), {"action": "confirm", "visited_on": TODAY().isoformat()}
    )
    assert response.status_code == 403
    check.refresh_from_db()
    assert check.status == CheckStatus.NOT_FOUND


@pytest.mark.parametrize("action", ["approve", "", "CONFIRM"])
def test_an_unknown_result_is_400(client, check_of, adoption_one, verifier, action):
    check = check_of(adoption_one)
    client.force_login(verifier)
    response = client.post(
        url("check-result", check.pk), {"action": action, "visited_on": TODAY().isoformat()}
    )
    assert response.status_code == 400
    assert 'data-testid="action-error"' in response.content.decode()
    check.refresh_from_db()
    assert check.status == CheckStatus.PENDING


def test_wb_reads_but_may_not_record(client, check_of, adoption_one, wb):
    check = check_of(adoption_one)
    client.force_login(wb)
    assert 'data-testid="result-form"' not in client.get(url("check-detail", check.pk)).content.decode()
    response = client.post(
        url("check-result", check.pk), {"action": "confirm", "visited_on": TODAY().isoformat()}
    )
    assert response.status_code == 403


# --- Photos ---------------------------------------------------------------------------------------


def test_the_pos_evidence_photo_is_served_to_verifiers_and_the_po_only(
    client, adoption_one, verifier, po1, po2, tec1
):
    adoption_one.evidence_photo.save("evidence.png", ContentFile(tiny_png()))
    link = url("adoption-photo", adoption_one.pk)
    expected = {verifier: 200, po1: 200, po2: 404, tec1: 404}
    for user, status in expected.items():
        client.force_login(user)
        assert client.get(link).status_code == status, user.username


def test_the_verifiers_photo_follows_the_checks_visibility(
    client, check_of, adoption_one, verifier, po1, po2
):
    check = check_of(adoption_one)
    workflow.apply(
        check, "confirm", verifier, visited_on=TODAY(), photo=SimpleUploadedFile("site.png", tiny_png())
    )
    for user, status in {verifier: 200, po1: 200, po2: 404}.items():
        client.force_login(user)
        assert client.get(url("check-photo", check.pk)).status_code == status


# --- Awaiting independent verification ------------------------------------------------------------


def test_the_work_list_verifies_adoptions_and_confirms_facilities(
    client, adoption_one, facility_one, verifier
):
    client.force_login(verifier)
    page = client.get(url("awaiting")).content.decode()
    assert "Rahima Shoe Works" in page
    assert 'data-testid="count-facilities">1<' in page

    verified = client.post(
        url("adoption-verify", adoption_one.pk) + "?kind=adoptions",
        {"verified_on": TODAY().isoformat(), "comment": "Seen."},
    )
    confirmed = client.post(
        url("facility-confirm", facility_one.pk) + "?kind=facilities", {"on": TODAY().isoformat()}
    )

    assert verified.status_code == 302
    assert verified.url == url("awaiting") + "?kind=adoptions"
    assert confirmed.status_code == 302
    adoption_one.refresh_from_db()
    facility_one.refresh_from_db()
    assert adoption_one.verified_by == verifier
    assert facility_one.operational_confirmed_by == verifier
    assert f'data-testid="row-{adoption_one.pk}"' not in client.get(url("awaiting")).content.decode()


def test_the_work_list_filters_by_po_and_district(client, adoption_one, adoption_two, verifier, po_two):
    client.force_login(verifier)
    by_po = client.get(url("awaiting"), {"partner_organization": po_two.code}).content.decode()
    by_district = client.get(
        url("awaiting"), {"district": adoption_one.enterprise.district.pcode}
    ).content.decode()
    assert "Satkhira Leather Crafts" in by_po
    assert "Rahima Shoe Works" not in by_po
    assert "Rahima Shoe Works" in by_district
    assert "Satkhira Leather Crafts" not in by_district


def test_a_refused_verification_keeps_the_row_as_typed(client, adoption_one, verifier):
    client.force_login(verifier)
    too_early = (adoption_one.adopted_on - timedelta(days=3)).isoformat()

    response = client.post(
        url("adoption-verify", adoption_one.pk), {"verified_on": too_early, "comment": "Typed comment"}
    )

    # A date that does not fit is a mistake in what was typed: 400 naming the date, as in the API
    # (it was a 409 before the review).
    assert response.status_code == 400
    body = response.content.decode()
    assert 'data-testid="row-error"' in body
    assert "A practice is verified after it is adopted." in body
    assert "is-invalid" in body
    assert "Typed comment" in body
    assert too_early in body
    adoption_one.refresh_from_db()
    assert adoption_one.verified_on is None


@pytest.mark.parametrize("typed", ["31/02/2025", ""])
def test_an_unreadable_or_missing_date_is_400(client, adoption_one, verifier, typed):
    client.force_login(verifier)
    response = client.post(url("adoption-verify", adoption_one.pk), {"verified_on": typed})
    assert response.status_code == 400
    assert 'data-testid="row-error"' in response.content.decode()
    adoption_one.refresh_from_db()
    assert adoption_one.verified_on is None


def test_a_facility_date_before_the_opening_is_400(client, facility_one, pmu):
    client.force_login(pmu)
    before = (facility_one.opened_on - timedelta(days=1)).isoformat()
    response = client.post(url("facility-confirm", facility_one.pk) + "?kind=facilities", {"on": before})
    assert response.status_code == 400
    assert "on or after its opening date" in response.content.decode()
    facility_one.refresh_from_db()
    assert facility_one.operational_confirmed_on is None


def test_a_verification_someone_else_made_first_is_409_with_the_reason_above_the_list(
    client, adoption_one, verifier, pmu
):
    """The row has left the list (the PMU verified it meanwhile): the reason is shown above the list."""
    enterprise_services.verify_adoption(user=pmu, adoption=adoption_one, verified_on=TODAY())
    client.force_login(verifier)

    response = client.post(
        url("adoption-verify", adoption_one.pk) + "?kind=adoptions",
        {"verified_on": TODAY().isoformat(), "comment": "Typed comment"},
    )

    assert response.status_code == 409
    body = response.content.decode()
    assert f'data-testid="row-{adoption_one.pk}"' not in body
    assert 'data-testid="action-error"' in body
    assert "already verified" in body
    assert adoption_one.enterprise.name in body  # which item the reason is about
    adoption_one.refresh_from_db()
    assert adoption_one.verified_by == pmu


def test_the_facility_row_offers_today(client, facility_one, verifier):
    client.force_login(verifier)
    page = client.get(url("awaiting"), {"kind": "facilities"}).content.decode()
    assert f'name="on" id="on-{facility_one.pk}" value="{TODAY().isoformat()}"' in page


# --- Policy ---------------------------------------------------------------------------------------


def test_pmu_changes_the_policy_and_the_history_shows_it(client, pmu, verifier):
    client.force_login(pmu)
    response = client.post(url("policy"), {"threshold_percent": "85", "margin_percent": "7.5", "floor": "12"})
    assert response.status_code == 302
    policy = VerificationPolicy.current()
    assert (policy.threshold_percent, policy.margin_percent, policy.floor) == (
        Decimal("85"),
        Decimal("7.5"),
        12,
    )
    client.force_login(verifier)
    page = client.get(url("policy")).content.decode()
    assert 'data-testid="policy-form"' not in page
    assert "85.00 %" in page
    assert pmu.get_display_name() in page


def test_a_refused_policy_keeps_what_was_typed(client, pmu):
    client.force_login(pmu)
    response = client.post(url("policy"), {"threshold_percent": "120", "margin_percent": "0.5", "floor": "9"})
    assert response.status_code == 400
    body = response.content.decode()
    assert 'value="120"' in body
    assert 'value="0.5"' in body
    assert VerificationPolicy.current().threshold_percent == Decimal("90")


@pytest.mark.parametrize("persona", ["verifier", "wb", "po1", "tec1"])
def test_only_the_pmu_changes_the_policy(db, client, request, persona):
    client.force_login(request.getfixturevalue(persona))
    response = client.post(url("policy"), {"threshold_percent": "10", "margin_percent": "20", "floor": "1"})
    assert response.status_code == 403
    assert VerificationPolicy.current().threshold_percent == Decimal("90")


# --- Lists do not grow in queries with their rows -------------------------------------------------


def _count_queries(client, page: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(page).status_code == 200
    return len(captured)


def test_list_pages_take_as_many_queries_for_one_row_as_for_many(
    client, pmu, verifier, sp_one, sp_two, po_one
):
    bulk_adoptions(sp_one, 1)
    round_ = services.draw_round(user=pmu, year=2025, quarter=1, seed=1)
    FacilityFactory(sub_project=sp_one, opened_on=date(2025, 1, 3))
    client.force_login(verifier)
    pages = [
        url("round-list"),
        url("round-detail", round_.pk),
        url("check-list"),
        url("awaiting"),
        url("awaiting") + "?kind=facilities",
        "/",
    ]
    few = {page: _count_queries(client, page) for page in pages}

    bulk_adoptions(sp_one, 25, on=date(2025, 4, 2))
    bulk_adoptions(sp_two, 25, on=date(2025, 5, 2))
    services.draw_round(user=pmu, year=2025, quarter=2, seed=1)
    for _ in range(5):
        FacilityFactory(sub_project=sp_two, opened_on=date(2025, 1, 3))
    assert Adoption.objects.count() == 51
    many = {page: _count_queries(client, page) for page in pages}

    assert many == few


def test_check_list_filters(client, check_of, adoption_one, adoption_two, facility_one, pmu, po_two):
    later = RoundFactory(year=2025, quarter=2)
    first = check_of(adoption_one, status=CheckStatus.CONFIRMED)
    second = CheckFactory(round=later, adoption=adoption_two)
    facility = check_of(facility_one)
    client.force_login(pmu)

    def listed(**params) -> set[str]:
        body = client.get(url("check-list"), params).content.decode()
        return {check.reference for check in (first, second, facility) if check.reference in body}

    assert listed(round=later.pk) == {second.reference}
    assert listed(partner_organization=po_two.code) == {second.reference}
    assert listed(kind="facility") == {facility.reference}
    assert listed(status="confirmed") == {first.reference}
    assert listed(district=adoption_two.enterprise.district.pcode) == {second.reference}
