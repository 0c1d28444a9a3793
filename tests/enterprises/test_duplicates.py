"""The same ME registered twice: flagged on entry and import, resolved by the PMU, counted once; a PO
learns only that a match exists elsewhere, never the other PO's data."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import connection

from core import lifecycle
from core.errors import ActionRefused
from core.lifecycle import transitions_of
from enterprises import duplicates
from enterprises.models import (
    DuplicateStatus,
    DuplicateSuspect,
    Enterprise,
    FinancialSupport,
    counted_enterprise,
)
from tests.assertions import assert_refused
from tests.enterprises.factories import EnterpriseFactory, FinancialSupportFactory, upazila
from tests.enterprises.test_enterprise_pages import form_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def pair(me_one, sp_two):
    """po2's enterprise registered later with po1's enterprise's phone."""
    copy = EnterpriseFactory(sub_project=sp_two, po_code="MJ-77", name="Other name", phone=me_one.phone)
    duplicates.flag_duplicates([copy.pk])
    return DuplicateSuspect.objects.get()


def test_matching_is_on_phone_trade_licence_or_name_in_the_upazila(me_one, sp_two):
    same_phone = EnterpriseFactory(sub_project=sp_two, phone=me_one.phone, name="A")
    same_licence = EnterpriseFactory(
        sub_project=sp_two, is_formal=True, trade_licence_number="BHR-7", name="B", phone=""
    )
    me_one.is_formal, me_one.trade_licence_number = True, "bhr 7"
    me_one.save()
    same_name = EnterpriseFactory(sub_project=sp_two, name="Rahima  Shoe-Works", phone="")
    elsewhere = EnterpriseFactory(
        sub_project=sp_two, name="Rahima Shoe Works", phone="", upazila=upazila("Bajitpur")
    )

    duplicates.flag_duplicates([same_phone.pk, same_licence.pk, same_name.pk, elsewhere.pk])

    flags = {
        s.enterprise_id: (s.same_phone, s.same_trade_licence, s.same_name_and_upazila)
        for s in DuplicateSuspect.objects.filter(matched_enterprise=me_one)
    }
    assert flags == {
        same_phone.pk: (True, False, False),
        same_licence.pk: (False, True, False),
        same_name.pk: (False, False, True),
    }


def test_an_enterprise_entered_with_another_pos_phone_is_flagged_and_the_po_learns_no_more(
    client, po2, sp_two, me_one
):
    client.force_login(po2)
    data = form_for(
        sp_two, po_code="MJ-1", name="Nice Crafts", phone=me_one.phone, is_formal="", trade_licence_number=""
    )

    response = client.post("/enterprises/new/", data, follow=True)

    page = response.content.decode()
    assert "A possible duplicate of this enterprise is registered with another PO." in page
    for secret in (me_one.name, me_one.owner_name, me_one.po_code, me_one.partner_organization.name):
        assert secret not in page
    suspect = DuplicateSuspect.objects.get()
    assert (suspect.enterprise.po_code, suspect.matched_enterprise, suspect.cross_po) == (
        "MJ-1",
        me_one,
        True,
    )


def test_both_pos_see_only_the_warning_on_their_enterprise_page(client, po1, po2, pair, me_one):
    for user, mine, other in ((po1, me_one, pair.enterprise), (po2, pair.enterprise, me_one)):
        client.force_login(user)
        page = client.get(f"/enterprises/{mine.pk}/").content.decode()
        assert "registered with another PO" in page
        assert other.owner_name not in page
        assert other.po_code not in page
        assert client.get(f"/enterprises/{other.pk}/").status_code == 404
        assert "possible duplicate" in client.get("/enterprises/").content.decode()


def test_a_match_within_the_pos_own_enterprises_is_named_to_it(client, po1, sp_one, me_one):
    client.force_login(po1)

    response = client.post(
        "/enterprises/new/",
        form_for(sp_one, po_code="ME-2", phone=me_one.phone, is_formal="", trade_licence_number=""),
        follow=True,
    )

    assert f"It may be the same enterprise as your {me_one.po_code}" in response.content.decode()
    assert DuplicateSuspect.objects.get().cross_po is False


def test_pmu_lists_and_compares_the_pair(client, pmu, pair, me_one):
    client.force_login(pmu)

    listing = client.get("/enterprises/duplicates/").content.decode()
    detail = client.get(f"/enterprises/duplicates/{pair.pk}/").content.decode()

    assert "MJ-77" in listing
    assert me_one.po_code in listing
    assert me_one.owner_name in detail
    assert pair.enterprise.owner_name in detail
    assert "same phone" in detail


@pytest.mark.parametrize("persona", ["po1", "po2", "tec1"])
def test_only_programme_wide_roles_see_the_pairs(client, api, request, db, pair, persona):
    user = request.getfixturevalue(persona)
    client.force_login(user)

    assert client.get("/enterprises/duplicates/").status_code == 403
    # PO staff read field data, so the pair is just not there for them; TEC members read none.
    assert client.get(f"/enterprises/duplicates/{pair.pk}/").status_code == (
        403 if persona == "tec1" else 404
    )
    assert api.as_user(user).get("/api/v1/duplicate-suspects/").status_code == 403


def test_confirming_counts_the_duplicate_once_as_its_original(client, pmu, pair, me_one):
    FinancialSupportFactory(enterprise=pair.enterprise, disbursed_on=date(2024, 10, 1))
    client.force_login(pmu)

    client.post(f"/enterprises/duplicates/{pair.pk}/confirm/", {"note": "Same owner, checked by phone."})

    pair.refresh_from_db()
    assert (pair.status, pair.resolved_by, pair.resolution_note) == (
        DuplicateStatus.CONFIRMED,
        pmu,
        "Same owner, checked by phone.",
    )
    copy = Enterprise.objects.get(pk=pair.enterprise_id)
    assert copy.duplicate_of == me_one
    assert set(Enterprise.objects.countable()) == {me_one}
    # The support disbursed to the duplicate counts for the original: ME_FINANCED is 1.
    financed = FinancialSupport.objects.values(me=counted_enterprise()).distinct()
    assert [row["me"] for row in financed] == [me_one.pk]


def test_a_confirmed_chain_points_to_the_first_enterprise(pmu, pair, me_one, sp_one):
    lifecycle.apply(pair, "confirm", pmu)
    third = EnterpriseFactory(sub_project=sp_one, po_code="ME-3", phone=me_one.phone, name="Third")
    duplicates.flag_duplicates([third.pk])

    # The third matches both; the copy stands for its original, so one pair is raised.
    suspects = DuplicateSuspect.objects.filter(enterprise=third)
    assert [s.matched_enterprise for s in suspects] == [me_one]
    lifecycle.apply(suspects.get(), "confirm", pmu)
    assert set(Enterprise.objects.filter(duplicate_of=me_one)) == {pair.enterprise, third}


def test_dismissing_keeps_both_and_is_not_raised_again(client, pmu, pair):
    client.force_login(pmu)

    client.post(f"/enterprises/duplicates/{pair.pk}/dismiss/", {"note": "Two sisters sharing a phone."})
    duplicates.flag_duplicates([pair.enterprise_id])

    pair.refresh_from_db()
    assert pair.status == DuplicateStatus.DISMISSED
    assert Enterprise.objects.countable().count() == 2
    assert DuplicateSuspect.objects.count() == 1


def test_a_resolved_pair_cannot_be_resolved_again_but_can_be_reopened(api, pmu, pair):
    api.as_user(pmu)
    assert api.post(f"/api/v1/duplicate-suspects/{pair.pk}/confirm/", {}).status_code == 200

    again = api.post(f"/api/v1/duplicate-suspects/{pair.pk}/dismiss/", {})
    reopened = api.post(f"/api/v1/duplicate-suspects/{pair.pk}/reopen/", {"note": "Wrong call."})

    assert again.status_code == 409
    assert reopened.status_code == 200
    assert reopened.json()["status"] == "suspected"
    assert Enterprise.objects.get(pk=pair.enterprise_id).duplicate_of is None


def test_world_bank_sees_the_pairs_but_cannot_resolve_them(api, wb, pair):
    api.as_user(wb)

    assert api.get("/api/v1/duplicate-suspects/").json()["count"] == 1
    assert api.post(f"/api/v1/duplicate-suspects/{pair.pk}/confirm/", {}).status_code == 403
    pair.refresh_from_db()
    assert pair.status == DuplicateStatus.SUSPECTED


def test_editing_away_the_shared_phone_clears_the_open_suspicion(po2, pair):
    from enterprises import services

    copy = Enterprise.objects.get(pk=pair.enterprise_id)
    services.update_enterprise(user=po2, enterprise=copy, data={"phone": "01955555555"})

    assert not DuplicateSuspect.objects.exists()


def test_resolving_needs_a_pmu_officer(po1, pair):
    with pytest.raises(ActionRefused) as refused:
        lifecycle.apply(pair, "confirm", po1)
    assert_refused(refused, 403)
    assert not transitions_of(pair).exists()


def test_an_open_pair_cannot_be_reopened(api, pmu, pair):
    response = api.as_user(pmu).post(f"/api/v1/duplicate-suspects/{pair.pk}/reopen/", {"note": "?"})

    assert response.status_code == 409
    assert response.json()["code"] == "wrong_state"
    assert "“Reopen” is not possible while" in response.json()["detail"]
    assert not transitions_of(pair).exists()


def test_a_confirmed_duplicate_is_not_confirmed_as_a_duplicate_of_a_third_enterprise(
    pmu, me_one, sp_one, sp_two
):
    third = EnterpriseFactory(sub_project=sp_one, phone="")
    copy = EnterpriseFactory(sub_project=sp_two, name="Other name", phone=me_one.phone)
    duplicates.flag_duplicates([copy.pk])
    lifecycle.apply(DuplicateSuspect.objects.get(), "confirm", pmu)
    # A pair left open from before that decision, between the duplicate and a third enterprise.
    open_pair = DuplicateSuspect.objects.create(enterprise=copy, matched_enterprise=third, same_phone=True)

    with pytest.raises(ActionRefused, match="already confirmed as a duplicate of another enterprise"):
        lifecycle.apply(open_pair, "confirm", pmu)

    copy.refresh_from_db()
    open_pair.refresh_from_db()
    assert (copy.duplicate_of, open_pair.status) == (me_one, DuplicateStatus.SUSPECTED)
    assert not transitions_of(open_pair).exists()


# --- Decisions on the engine: one log row each, kept when reopened, shown on the page and the API --


def log_of(suspect) -> list[tuple]:
    return [
        (row.action, row.from_state, row.to_state, row.actor, row.comment) for row in transitions_of(suspect)
    ]


def test_each_decision_writes_one_log_row_and_reopening_keeps_who_decided(client, api, pmu, pair):
    client.force_login(pmu)
    client.post(f"/enterprises/duplicates/{pair.pk}/confirm/", {"note": "Same owner, checked by phone."})
    api.as_user(pmu).post(f"/api/v1/duplicate-suspects/{pair.pk}/reopen/", {"note": "Wrong call."})
    client.post(f"/enterprises/duplicates/{pair.pk}/dismiss/", {"note": "Two sisters sharing a phone."})

    assert log_of(pair) == [
        ("confirm", "suspected", "confirmed", pmu, "Same owner, checked by phone."),
        ("reopen", "confirmed", "suspected", pmu, "Wrong call."),
        ("dismiss", "suspected", "dismissed", pmu, "Two sisters sharing a phone."),
    ]
    pair.refresh_from_db()
    assert (pair.status, pair.resolved_by, pair.resolution_note) == (
        DuplicateStatus.DISMISSED,
        pmu,
        "Two sisters sharing a phone.",
    )


def test_a_reopened_pair_is_open_again_and_its_log_says_who_had_confirmed_it(api, pmu, pair):
    lifecycle.apply(pair, "confirm", pmu, comment="Same owner.")

    reopened = api.as_user(pmu).post(f"/api/v1/duplicate-suspects/{pair.pk}/reopen/", {"note": "Wrong call."})

    # The row says what holds now (an open pair: no decision); the log keeps who had decided.
    assert (reopened.json()["status"], reopened.json()["resolved_at"]) == ("suspected", None)
    assert reopened.json()["resolution_note"] == "Wrong call."
    assert [(row.action, row.actor) for row in transitions_of(pair)] == [("confirm", pmu), ("reopen", pmu)]


def test_the_decisions_show_on_the_pair_page_and_in_the_api(client, api, pmu, wb, pair):
    lifecycle.apply(pair, "dismiss", pmu, comment="Two sisters sharing a phone.")
    client.force_login(wb)

    page = client.get(f"/enterprises/duplicates/{pair.pk}/").content.decode()

    assert 'data-testid="timeline"' in page
    assert "Dismiss: different enterprises: suspected → not a duplicate" in page
    assert "Two sisters sharing a phone." in page
    assert pmu.get_display_name() in page
    # The World Bank reads the pair and its history, but has no decision to take.
    assert 'data-testid="reopen"' not in page
    history = api.as_user(wb).get(f"/api/v1/duplicate-suspects/{pair.pk}/history/").json()
    assert [(e["action"], e["from_state"], e["to_state"], e["comment"]) for e in history] == [
        ("dismiss", "suspected", "dismissed", "Two sisters sharing a phone.")
    ]


def test_the_pmu_sees_the_decisions_it_may_take_now(client, pmu, pair):
    client.force_login(pmu)

    page = client.get(f"/enterprises/duplicates/{pair.pk}/").content.decode()

    assert 'data-testid="confirm"' in page
    assert 'data-testid="dismiss"' in page
    assert 'data-testid="reopen"' not in page


@pytest.mark.parametrize(
    ("persona", "status", "action", "answer"),
    [
        ("wb", DuplicateStatus.SUSPECTED, "confirm", 403),
        ("approver", DuplicateStatus.CONFIRMED, "reopen", 403),
        ("pmu", DuplicateStatus.DISMISSED, "confirm", 409),
        ("pmu", DuplicateStatus.SUSPECTED, "reopen", 409),
    ],
)
def test_a_refused_decision_changes_nothing_and_logs_nothing(
    api, request, me_one, sp_two, persona, status, action, answer
):
    copy = EnterpriseFactory(sub_project=sp_two, name="Other name", phone=me_one.phone)
    suspect = DuplicateSuspect.objects.create(
        enterprise=copy, matched_enterprise=me_one, same_phone=True, status=status
    )

    response = api.as_user(request.getfixturevalue(persona)).post(
        f"/api/v1/duplicate-suspects/{suspect.pk}/{action}/", {"note": "Because."}
    )

    assert response.status_code == answer
    suspect.refresh_from_db()
    assert (suspect.status, suspect.resolution_note) == (status, "")
    assert not transitions_of(suspect).exists()
    assert Enterprise.objects.get(pk=copy.pk).duplicate_of is None


def test_a_reopened_pair_that_still_matches_keeps_its_row_and_history_when_rechecked(pmu, pair):
    lifecycle.apply(pair, "dismiss", pmu, comment="Sisters.")
    lifecycle.apply(pair, "reopen", pmu, comment="Check again.")

    duplicates.flag_duplicates([pair.enterprise_id])

    kept = DuplicateSuspect.objects.get()
    assert (kept.pk, kept.status, kept.same_phone) == (pair.pk, DuplicateStatus.SUSPECTED, True)
    assert [row.action for row in transitions_of(kept)] == ["dismiss", "reopen"]


def test_a_pair_whose_reasons_changed_is_brought_up_to_date_for_synchronising_clients(me_one, pair):
    copy = Enterprise.objects.get(pk=pair.enterprise_id)
    Enterprise.objects.filter(pk=copy.pk).update(name_key=me_one.name_key, upazila=me_one.upazila)
    before = pair.updated_at

    assert duplicates.flag_duplicates([copy.pk]) == 1

    kept = DuplicateSuspect.objects.get()
    assert kept.pk == pair.pk
    assert (kept.same_phone, kept.same_trade_licence, kept.same_name_and_upazila) == (True, False, True)
    # A client asking for pairs changed since its last sync gets this one again.
    assert kept.updated_at > before


def test_a_confirmed_duplicate_raises_new_matches_with_its_original(pmu, pair, me_one, sp_two):
    lifecycle.apply(pair, "confirm", pmu, comment="Same shop.")
    duplicate = Enterprise.objects.get(pk=pair.enterprise_id)
    third = EnterpriseFactory(sub_project=sp_two, po_code="MJ-78", name="Third", phone="01911111111")
    Enterprise.objects.filter(pk=duplicate.pk).update(phone=third.phone)

    duplicates.flag_duplicates([duplicate.pk])

    raised = DuplicateSuspect.objects.open().get()
    assert (raised.enterprise_id, raised.matched_enterprise_id) == (third.pk, me_one.pk)
    # The pair spans two POs (the third ME is po2's, the original po1's), though the duplicate that
    # shares the phone is po2's too.
    assert (raised.same_phone, raised.cross_po) == (True, True)


def test_flagging_an_import_of_many_takes_as_many_queries_as_flagging_one(
    sp_one, sp_two, django_assert_max_num_queries
):
    """The pairs of 40 new MEs are found by the same few statements as the pair of one: no query per
    ME or per chunk of them."""
    originals = [
        EnterpriseFactory(
            sub_project=sp_one, po_code=f"ORIG-{n}", name=f"Original {n}", phone=f"0171100{n:04d}"
        )
        for n in range(41)
    ]
    copies = [
        EnterpriseFactory(sub_project=sp_two, po_code=f"MJ-{n}", name=f"Copy {n}", phone=original.phone)
        for n, original in enumerate(originals)
    ]
    # Find the pairs, read the open ones, insert, count; on PostgreSQL also a savepoint around the
    # matching statement and JIT turned off and back for it.
    statements = 8 if connection.vendor == "postgresql" else 4
    with django_assert_max_num_queries(statements) as single:
        assert duplicates.flag_duplicates([copies[0].pk]) == 1
    with django_assert_max_num_queries(len(single.captured_queries)):
        assert duplicates.flag_duplicates([me.pk for me in copies[1:]]) == 40

    assert {(s.enterprise_id, s.matched_enterprise_id) for s in DuplicateSuspect.objects.open()} == {
        (copy.pk, original.pk) for copy, original in zip(copies, originals, strict=True)
    }
