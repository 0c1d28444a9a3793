"""The directory of people (`users`): each role sees whom the portal lets it name, the rule of every
choice of a person (core.visibility.visible_users); another PO's people answer as missing ones; the
TEC meeting form's list of members is there for the PMU."""

from __future__ import annotations

from core.roles import Role
from tests.factories import make_user

URL = "/api/v1/users/"


def _usernames(api, **params) -> set[str]:
    return {row["username"] for row in api.get(URL, {"page_size": 500, **params}).json()["results"]}


def test_the_pmu_sees_everyone_with_roles_and_po(api, pmu, po1, po2, tec1):
    po1.designation = "Programme officer"
    po1.save()

    rows = {row["username"]: row for row in api.as_user(pmu).get(URL).json()["results"]}

    assert {"pmu", "po1", "po2", "tec1"} <= set(rows)
    assert rows["po1"]["roles"] == ["po_staff"]
    assert rows["po1"]["partner_organization"] == "PO-T01"
    assert rows["po1"]["designation"] == "Programme officer"
    assert rows["tec1"]["partner_organization"] is None
    assert "email" not in rows["po1"]


def test_po_staff_see_their_own_pos_people_only(api, po1, po2, tec1):
    colleague = make_user("po1b", Role.PO_STAFF, po=po1.partner_organization)
    api.as_user(po1)

    assert _usernames(api) == {"po1", "po1b"}
    assert api.get(f"{URL}{colleague.pk}/").status_code == 200
    theirs = api.get(f"{URL}{po2.pk}/")
    missing = api.get(f"{URL}{po2.pk + 1000}/")
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json() == missing.json()
    assert api.get(f"{URL}{tec1.pk}/").status_code == 404


def test_a_tec_member_sees_the_members_of_their_meetings_only(api, tec1, tec2, tec3, make_meeting):
    make_meeting()  # tec1 and tec2

    assert _usernames(api.as_user(tec1)) == {"tec1", "tec2"}
    assert _usernames(api.as_user(tec3)) == {"tec3"}


def test_the_meeting_forms_members_for_the_pmu(api, pmu, tec1, tec2, po1):
    gone = make_user("tec-gone", Role.TEC_MEMBER)
    gone.is_active = False
    gone.save()
    api.as_user(pmu)

    assert _usernames(api, eligible_for="tec-meeting") == {"tec1", "tec2"}
    assert _usernames(api, role="tec_member") == {"tec1", "tec2", "tec-gone"}
    assert _usernames(api, partner_organization="PO-T01") == {"po1"}


def test_an_unknown_role_is_refused(api, pmu):
    response = api.as_user(pmu).get(URL, {"role": "dictator"})

    assert response.status_code == 400


def test_anonymous_callers_are_refused(api):
    assert api.get(URL).status_code == 401
