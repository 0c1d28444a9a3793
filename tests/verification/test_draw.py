"""Drawing a round: PMU only, one per quarter, a quarter that has started within the programme; the
checks are created in one go, and nothing is sampled twice."""

from __future__ import annotations

import importlib
from datetime import date
from decimal import Decimal

import pytest
from django.apps import apps as django_apps
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from core.errors import ActionRefused
from enterprises.models import Adoption
from tests.assertions import assert_refused
from tests.verification.conftest import bulk_adoptions
from verification import sampling, services
from verification.models import (
    CheckKind,
    CheckStatus,
    RoundStratum,
    VerificationCheck,
    VerificationPolicy,
    VerificationRound,
)

DRAW_URL = "/api/v1/verification-rounds/"


@pytest.fixture
def reported(sp_one, sp_two, facility_one, profile_one):
    """Q1 2025: po1's PO reported 30 adoptions, a profile and a facility; po2's PO 5 adoptions."""
    return bulk_adoptions(sp_one, 30), bulk_adoptions(sp_two, 5)


def test_pmu_draws_a_round_with_checks_per_po(reported, pmu, po_one, po_two, facility_one, profile_one):
    round_ = services.draw_round(user=pmu, year=2025, quarter=1, seed=1234)

    assert (round_.seed, round_.margin_percent, round_.floor, round_.drawn_by) == (
        1234,
        Decimal("5.0"),
        10,
        pmu,
    )
    strata = {s.partner_organization_id: s for s in round_.strata.all()}
    # 32 items, 5 % margin: n = 384.16 / (1 + 383.16/32) = 29.6 → 30.
    one = strata[po_one.pk]
    assert (one.adoptions, one.profiles, one.facilities, one.sample_size) == (30, 1, 1, 30)
    # 5 items, below the floor of 10: all of them.
    assert (strata[po_two.pk].population, strata[po_two.pk].sample_size) == (5, 5)
    checks = VerificationCheck.objects.filter(round=round_)
    assert checks.filter(partner_organization=po_one).count() == 30
    assert checks.filter(partner_organization=po_two).count() == 5
    assert set(checks.values_list("status", flat=True)) == {CheckStatus.PENDING}
    sampled_adoption = checks.filter(kind=CheckKind.ADOPTION).select_related("adoption__enterprise").first()
    assert sampled_adoption.subject_label.startswith(sampled_adoption.adoption.practice.code)
    assert sampled_adoption.adoption.enterprise.name in sampled_adoption.subject_label
    assert sampled_adoption.district_id == sampled_adoption.adoption.enterprise.district_id


def test_the_checks_are_exactly_the_planned_sample(reported, pmu):
    planned = sampling.plan(year=2025, quarter=1, seed=99, margin_percent=Decimal("5"), floor=10)

    round_ = services.draw_round(user=pmu, year=2025, quarter=1, seed=99)

    expected = {(kind, pk) for stratum in planned for kind in sampling.KINDS for pk in stratum.sample[kind]}
    drawn = {
        (check.kind, check.adoption_id or check.profile_id or check.facility_id)
        for check in VerificationCheck.objects.filter(round=round_)
    }
    assert drawn == expected


def test_a_seed_is_chosen_and_kept_when_none_is_given(reported, pmu):
    round_ = services.draw_round(user=pmu, year=2025, quarter=1)
    assert 0 < round_.seed <= services.MAX_SEED
    assert VerificationRound.objects.get(pk=round_.pk).seed == round_.seed


def test_the_round_keeps_the_policy_of_its_draw(reported, pmu):
    services.update_policy(user=pmu, threshold_percent=Decimal("85"), margin_percent=Decimal("10"), floor=4)
    round_ = services.draw_round(user=pmu, year=2025, quarter=1, seed=1)
    services.update_policy(user=pmu, threshold_percent=Decimal("85"), margin_percent=Decimal("5"), floor=10)
    round_.refresh_from_db()
    assert (round_.margin_percent, round_.floor) == (Decimal("10.0"), 4)


def test_nothing_is_sampled_twice_across_rounds(sp_one, pmu):
    bulk_adoptions(sp_one, 8, on=date(2025, 3, 1))
    first = services.draw_round(user=pmu, year=2025, quarter=1, seed=1)
    assert first.checks.count() == 8
    # A correction moves some of the adoptions into Q2; a Q2 round must not pick them again.
    Adoption.objects.update(adopted_on=date(2025, 4, 2))
    fresh = bulk_adoptions(sp_one, 3, on=date(2025, 5, 1))

    second = services.draw_round(user=pmu, year=2025, quarter=2, seed=1)

    assert set(second.checks.values_list("adoption_id", flat=True)) == {a.pk for a in fresh}


def test_one_round_per_quarter(reported, pmu):
    services.draw_round(user=pmu, year=2025, quarter=1, seed=1)
    checks = VerificationCheck.objects.count()

    with pytest.raises(ActionRefused) as refusal:
        services.draw_round(user=pmu, year=2025, quarter=1, seed=2)

    assert refusal.value.code == "exists"
    assert "already been drawn" in refusal.value.message
    assert VerificationCheck.objects.count() == checks
    assert VerificationRound.objects.count() == 1


@pytest.mark.parametrize("persona", ["verifier", "wb", "approver", "tec1", "po1"])
def test_only_the_pmu_draws(reported, request, persona):
    user = request.getfixturevalue(persona)
    with pytest.raises(ActionRefused) as refusal:
        services.draw_round(user=user, year=2025, quarter=1)
    assert_refused(refusal, 403)
    assert not VerificationRound.objects.exists()
    assert not VerificationCheck.objects.exists()


def test_a_quarter_that_has_not_started_is_refused(pmu):
    with pytest.raises(ValidationError) as refusal:
        services.draw_round(user=pmu, year=2100, quarter=1)
    assert "has not started yet" in refusal.value.message_dict["quarter"][0]
    assert not VerificationRound.objects.exists()


def test_the_current_quarter_is_refused_until_it_is_over(sp_one, pmu):
    """Drawn mid-way, a quarter would miss what is reported for it later."""
    today = timezone.localdate()
    quarter = (today.month - 1) // 3 + 1
    _start, end = sampling.quarter_bounds(today.year, quarter)
    bulk_adoptions(sp_one, 3, on=today)

    with pytest.raises(ValidationError) as refusal:
        services.draw_round(user=pmu, year=today.year, quarter=quarter)

    message = refusal.value.message_dict["quarter"][0]
    assert "is not over yet" in message
    assert date_format(end, "DATE_FORMAT") in message  # 30 Sep 2025
    assert not VerificationRound.objects.exists()


def test_a_quarter_may_be_drawn_from_the_day_after_its_end():
    assert "quarter" in services.quarter_problems(2025, 1, on=date(2025, 3, 31))
    assert services.quarter_problems(2025, 1, on=date(2025, 4, 1)) == {}


def test_the_page_and_the_api_refuse_the_current_quarter(client, api, pmu):
    today = timezone.localdate()
    quarter = (today.month - 1) // 3 + 1
    client.force_login(pmu)
    page = client.post(reverse("verification:round-draw"), {"year": today.year, "quarter": quarter})
    response = api.as_user(pmu).post(DRAW_URL, {"year": today.year, "quarter": quarter}, format="json")
    assert page.status_code == 400
    assert "is not over yet" in page.content.decode()
    assert response.status_code == 400
    assert "is not over yet" in response.json()["fields"]["quarter"][0]["message"]


def test_draws_run_one_at_a_time(reported, pmu):
    """The draw locks the policy row before anything else, so a second draw waits for the first to
    finish (and then finds the quarter drawn, or leaves out what the first sampled)."""
    VerificationPolicy.current()
    with CaptureQueriesContext(connection) as captured:
        services.draw_round(user=pmu, year=2025, quarter=1, seed=1)

    sqls = [query["sql"] for query in captured]
    policy_reads = [i for i, sql in enumerate(sqls) if 'FROM "verification_verificationpolicy"' in sql]
    first_round_read = next(i for i, sql in enumerate(sqls) if "verification_verificationround" in sql)
    assert len(policy_reads) == 1
    assert policy_reads[0] < first_round_read
    if connection.features.has_select_for_update:
        assert "FOR UPDATE" in sqls[policy_reads[0]]


def test_each_stratums_sample_size_is_its_number_of_checks(reported, pmu):
    round_ = services.draw_round(user=pmu, year=2025, quarter=1, seed=8)
    for stratum in round_.strata.all():
        assert (
            stratum.sample_size
            == round_.checks.filter(partner_organization_id=stratum.partner_organization_id).count()
        )


def test_the_stored_labels_hold_codes_and_names_only(reported, pmu, profile_one, facility_one):
    services.update_policy(user=pmu, threshold_percent=Decimal("90"), margin_percent=Decimal("5"), floor=40)
    round_ = services.draw_round(user=pmu, year=2025, quarter=1, seed=1)

    profile_check = round_.checks.get(profile=profile_one)
    facility_check = round_.checks.get(facility=facility_one)

    assert profile_check.subject_label == "ME-0001 · Rahima Shoe Works"
    assert facility_check.subject_label == "Bhairab Recycling CSF"
    assert profile_check.get_kind_display() == "validated RECP profile"


@override_settings(PROGRAMME_START=date(2023, 8, 1))
def test_a_quarter_before_the_programme_is_refused(pmu):
    with pytest.raises(ValidationError) as refusal:
        services.draw_round(user=pmu, year=2023, quarter=2)
    assert "before the programme started" in refusal.value.message_dict["quarter"][0]
    # The quarter in which the programme started is fine.
    assert services.draw_round(user=pmu, year=2023, quarter=3).checks.count() == 0


def test_a_quarter_with_nothing_reported_gives_an_empty_round(pmu):
    round_ = services.draw_round(user=pmu, year=2024, quarter=1)
    assert (round_.checks.count(), round_.strata.count()) == (0, 0)


def test_the_draw_takes_a_fixed_number_of_queries(sp_one, sp_two, pmu, django_assert_max_num_queries):
    bulk_adoptions(sp_one, 40)
    bulk_adoptions(sp_two, 25)
    VerificationPolicy.current()
    # Round, 3 population queries, PO codes, strata, 1 label query per kind, checks in bulk (and the
    # transaction's savepoints): the same for 65 items as for 6,000.
    with django_assert_max_num_queries(14):
        services.draw_round(user=pmu, year=2025, quarter=1, seed=3)
    assert RoundStratum.objects.count() == 2


# --- Page -----------------------------------------------------------------------------------------


def test_pmu_draws_from_the_rounds_page(client, pmu, reported):
    client.force_login(pmu)
    page = client.get(reverse("verification:round-list"))
    assert page.status_code == 200
    assert b"Cochran" in page.content  # the rule is stated
    assert b'data-testid="draw-form"' in page.content

    response = client.post(reverse("verification:round-draw"), {"year": 2025, "quarter": 1, "seed": "77"})

    round_ = VerificationRound.objects.get()
    assert response.status_code == 302
    assert response.url == round_.get_absolute_url()
    assert round_.seed == 77


def test_the_draw_form_keeps_what_was_typed_when_refused(client, pmu, reported):
    client.force_login(pmu)
    services.draw_round(user=pmu, year=2025, quarter=1, seed=1)

    again = client.post(reverse("verification:round-draw"), {"year": 2025, "quarter": 1, "seed": "4242"})
    future = client.post(reverse("verification:round-draw"), {"year": 2099, "quarter": 3, "seed": ""})

    assert again.status_code == 409
    assert "already been drawn" in again.content.decode()
    assert 'value="4242"' in again.content.decode()
    assert future.status_code == 400
    assert "has not started yet" in future.content.decode()
    assert 'value="2099"' in future.content.decode()
    assert VerificationRound.objects.count() == 1


@pytest.mark.parametrize("persona", ["verifier", "wb", "po1", "tec1"])
def test_the_draw_page_refuses_everyone_but_the_pmu(client, request, persona, reported):
    client.force_login(request.getfixturevalue(persona))
    response = client.post(reverse("verification:round-draw"), {"year": 2025, "quarter": 1})
    assert response.status_code == 403
    assert not VerificationRound.objects.exists()


def test_readers_see_no_draw_form(client, verifier, wb):
    for user in (verifier, wb):
        client.force_login(user)
        page = client.get(reverse("verification:round-list"))
        assert page.status_code == 200
        assert b'data-testid="draw-form"' not in page.content


# --- API ------------------------------------------------------------------------------------------


def test_api_draw(api, pmu, reported, po_one):
    response = api.as_user(pmu).post(DRAW_URL, {"year": 2025, "quarter": 1, "seed": 5}, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["reference"] == "VR-2025-Q1"
    assert body["seed"] == 5
    assert body["checks_sampled"] == 35
    stratum = next(row for row in body["strata"] if row["partner_organization"] == po_one.code)
    assert (stratum["population"], stratum["sample_size"], stratum["done"], stratum["rate"]) == (
        32,
        30,
        0,
        None,
    )


def test_api_draw_refusals(api, pmu, verifier, reported):
    client = api.as_user(pmu)
    assert client.post(DRAW_URL, {"year": 2025, "quarter": 1}, format="json").status_code == 201

    again = client.post(DRAW_URL, {"year": 2025, "quarter": 1}, format="json")
    future = client.post(DRAW_URL, {"year": 2099, "quarter": 1}, format="json")
    bad = client.post(DRAW_URL, {"year": 2025, "quarter": 5}, format="json")

    assert again.status_code == 409
    assert again.json()["code"] == "exists"
    assert future.status_code == 400
    assert "quarter" in future.json()["fields"]
    assert bad.status_code == 400
    assert "quarter" in bad.json()["fields"]
    api.credentials()
    assert (
        api.as_user(verifier).post(DRAW_URL, {"year": 2025, "quarter": 2}, format="json").status_code == 403
    )
    assert VerificationRound.objects.count() == 1


def test_profile_labels_drawn_before_lose_their_words(check_of, profile_one, adoption_one):
    """Migration 0005: stored labels hold codes and names only."""
    migration = importlib.import_module("verification.migrations.0005_profile_check_labels_data_only")
    old = check_of(profile_one, subject_label="RECP profile — ME-0001 · Rahima Shoe Works")
    adoption = check_of(adoption_one, subject_label="RECP profile — kept as it is")

    migration.drop_the_words(django_apps, None)

    old.refresh_from_db()
    adoption.refresh_from_db()
    assert (old.subject_label, adoption.subject_label) == (
        "ME-0001 · Rahima Shoe Works",
        "RECP profile — kept as it is",
    )
