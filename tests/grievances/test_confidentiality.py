"""Confidentiality: who sees a grievance (page, API, export, search, admin, attachments), SEA/SH cases
only to their named focal points, and the complainant's identity only to those handling the tier."""

from __future__ import annotations

import pytest
from django.urls import reverse

from grievances.models import Category, Grievance
from tests.grievances.test_handling_fixtures import *  # noqa: F403
from tests.grievances.test_handling_fixtures import lodge, pdf

SUBJECT = "Confidential subject 7Q"


def _sees(client, api, user, grievance) -> dict[str, bool]:
    """Whether `user` reaches the grievance on each way in."""
    client.force_login(user)
    detail = client.get(reverse("grievances:detail", args=[grievance.pk]))
    assert detail.status_code in (200, 404)
    listing = client.get(reverse("grievances:list"), {"q": grievance.reference})
    by_subject = client.get(reverse("grievances:list"), {"q": SUBJECT})
    export = client.get(reverse("grievances:list"), {"export": "csv"})
    api.credentials()
    api.as_user(user)
    retrieved = api.get(f"/api/v1/grievances/{grievance.pk}/")
    assert retrieved.status_code in (200, 404)
    listed = api.get("/api/v1/grievances/", {"q": SUBJECT})
    link = f'href="{grievance.get_absolute_url()}"'.encode()
    return {
        "page": detail.status_code == 200,
        "list": listing.status_code == 200 and link in listing.content,
        "search": by_subject.status_code == 200 and link in by_subject.content,
        "export": export.status_code == 200
        and grievance.reference in b"".join(export.streaming_content).decode(),
        "api": retrieved.status_code == 200,
        "api_search": listed.status_code == 200
        and any(row["id"] == grievance.pk for row in listed.json()["results"]),
    }


ALL = {"page": True, "list": True, "search": True, "export": True, "api": True, "api_search": True}
NONE = dict.fromkeys(ALL, False)


def _lodge_on_the_public_page(client, po, category=Category.FINANCIAL) -> Grievance:
    response = client.post(
        "/grievances/lodge/",
        {
            "partner_organization": po.pk,
            "category": category,
            "subject": SUBJECT,
            "description": "What happened, in detail.",
            "anonymous": "on",
            "complainant_gender": "female",
            "complainant_kind": "worker",
        },
    )
    assert response.status_code == 302
    client.logout()
    return Grievance.objects.get(subject=SUBJECT)


def test_an_anonymous_public_grievance_reaches_its_pos_and_the_pmus_focal_points_only(
    client, api, gfp1, gfp2, grm, po1, po2, pmu, po_one
):
    grievance = _lodge_on_the_public_page(client, po_one)
    assert _sees(client, api, gfp1, grievance) == ALL
    assert _sees(client, api, grm, grievance) == ALL
    # Another PO's focal point; ordinary staff of any PO, the PMU's ordinary officers.
    assert _sees(client, api, gfp2, grievance) == NONE
    for user in (po1, po2, pmu):
        assert _sees(client, api, user, grievance) == NONE, user


def test_a_sea_sh_case_is_seen_by_its_named_focal_points_only(
    client, api, gfp1, grm, seah, seah1, po1, pmu, root, po_one
):
    grievance = _lodge_on_the_public_page(client, po_one, Category.SEAH)
    assert _sees(client, api, seah1, grievance) == ALL
    assert _sees(client, api, seah, grievance) == ALL
    for user in (gfp1, grm):  # the ordinary focal points, PO's and PMU's
        assert _sees(client, api, user, grievance) == NONE, user
    for user in (po1, pmu, root):  # ordinary staff, and a superuser who is no SEA/SH focal point
        assert _sees(client, api, user, grievance) == NONE, user


def test_the_admin_shows_no_sea_sh_case_to_a_superuser(client, root, po_one):
    seah_case = lodge(po_one, Category.SEAH, subject=SUBJECT)
    client.force_login(root)
    listing = client.get(reverse("admin:grievances_grievance_changelist"))
    assert listing.status_code == 200
    assert SUBJECT.encode() not in listing.content
    change = client.get(reverse("admin:grievances_grievance_change", args=[seah_case.pk]))
    assert change.status_code in (302, 404)  # "does not exist" (the admin redirects with a message)
    assert SUBJECT.encode() not in client.get(change.url if change.status_code == 302 else "/").content


def test_the_identity_is_shown_only_to_those_handling_the_current_tier(client, api, gfp1, grm, po_one):
    grievance = lodge(po_one, complainant_name="Rahima Begum", complainant_phone="01711999999")
    client.force_login(gfp1)
    page = client.get(grievance.get_absolute_url()).content.decode()
    assert "Rahima Begum" in page
    assert "01711999999" in page
    assert (
        api.as_user(gfp1).get(f"/api/v1/grievances/{grievance.pk}/").json()["complainant_name"]
        == "Rahima Begum"
    )
    client.force_login(grm)  # sees the case, does not handle tier 1 of a PO with its own focal point
    page = client.get(grievance.get_absolute_url()).content.decode()
    assert "Rahima" not in page
    assert "01711999999" not in page
    assert 'data-testid="identity-withheld"' in page
    api.credentials()
    body = api.as_user(grm).get(f"/api/v1/grievances/{grievance.pk}/").json()
    assert body["complainant_name"] is None
    assert body["complainant_phone"] is None
    assert body["tracking_code"] is None
    assert body["handled_by_you"] is False
    rows = api.get("/api/v1/grievances/").json()["results"]
    assert [row["complainant_name"] for row in rows] == [None]
    export = b"".join(client.get(reverse("grievances:list"), {"export": "csv"}).streaming_content)
    assert b"Rahima" not in export


@pytest.mark.parametrize("via", ["page", "api"])
def test_attachments_go_only_to_those_who_see_the_case(client, api, gfp1, gfp2, po_one, via):
    grievance = lodge(po_one, attachments=[(pdf("proof.pdf"), "application/pdf")])
    item = grievance.attachments.get()
    if via == "page":
        url = reverse("grievances:attachment", args=[grievance.pk, item.pk])
        client.force_login(gfp1)
        assert client.get(url).status_code == 200
        client.force_login(gfp2)
        assert client.get(url).status_code == 404
    else:
        url = f"/api/v1/grievances/{grievance.pk}/attachments/{item.pk}/"
        assert api.as_user(gfp1).get(url).status_code == 200
        api.credentials()
        assert api.as_user(gfp2).get(url).status_code == 404


def test_the_list_is_refused_to_roles_without_grievances(client, pmu, po1):
    for user in (pmu, po1):
        client.force_login(user)
        assert client.get(reverse("grievances:list")).status_code == 403


def test_the_history_of_a_publicly_lodged_case_names_its_complainant_as_the_one_who_lodged_it(
    client, gfp1, po_one
):
    grievance = _lodge_on_the_public_page(client, po_one)
    client.force_login(gfp1)

    page = client.get(grievance.get_absolute_url()).content.decode()

    assert "the complainant, on the public page" in page
