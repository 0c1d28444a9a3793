"""The same ME registered twice: flagged on entry and import, resolved by the PMU, counted once; a PO
learns only that a match exists elsewhere, never the other PO's data."""

from __future__ import annotations

from datetime import date

import pytest

from core.errors import ActionRefused
from enterprises import duplicates
from enterprises.models import (
    DuplicateStatus,
    DuplicateSuspect,
    Enterprise,
    FinancialSupport,
    counted_enterprise,
)
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
    duplicates.confirm_duplicate(user=pmu, suspect=pair)
    third = EnterpriseFactory(sub_project=sp_one, po_code="ME-3", phone=me_one.phone, name="Third")
    duplicates.flag_duplicates([third.pk])

    # The third matches both; the copy stands for its original, so one pair is raised.
    suspects = DuplicateSuspect.objects.filter(enterprise=third)
    assert [s.matched_enterprise for s in suspects] == [me_one]
    duplicates.confirm_duplicate(user=pmu, suspect=suspects.get())
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
        duplicates.confirm_duplicate(user=po1, suspect=pair)
    assert refused.value.code == "forbidden"


def test_an_open_pair_cannot_be_reopened(api, pmu, pair):
    response = api.as_user(pmu).post(f"/api/v1/duplicate-suspects/{pair.pk}/reopen/", {"note": "?"})

    assert response.status_code == 409
    assert response.json()["detail"] == "This pair is still open."


def test_a_confirmed_duplicate_is_not_confirmed_as_a_duplicate_of_a_third_enterprise(
    pmu, me_one, sp_one, sp_two
):
    third = EnterpriseFactory(sub_project=sp_one, phone="")
    copy = EnterpriseFactory(sub_project=sp_two, name="Other name", phone=me_one.phone)
    duplicates.flag_duplicates([copy.pk])
    duplicates.confirm_duplicate(user=pmu, suspect=DuplicateSuspect.objects.get())
    # A pair left open from before that decision, between the duplicate and a third enterprise.
    open_pair = DuplicateSuspect.objects.create(enterprise=copy, matched_enterprise=third, same_phone=True)

    with pytest.raises(ActionRefused, match="already confirmed as a duplicate of another enterprise"):
        duplicates.confirm_duplicate(user=pmu, suspect=open_pair)

    copy.refresh_from_db()
    open_pair.refresh_from_db()
    assert (copy.duplicate_of, open_pair.status) == (me_one, DuplicateStatus.SUSPECTED)
