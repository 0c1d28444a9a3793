"""The release pages and API as people use them: the money page (request button or the reason why not),
the request form (kept as typed when refused), the release page (actions, the case for the check,
the transfer form), the lists and their exports; a PO sees only its own (another PO's = 404)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from core import lifecycle
from finance.models import Release, ReleaseStatus
from subprojects.models import SubProject
from tests.finance.factories import funded_sub_project
from tests.finance.test_releases_fixtures import *  # noqa: F403
from tests.finance.test_releases_fixtures import milestone, released, report, request, scheduled, tranche

TODAY = timezone.localdate


@pytest.fixture
def theirs(po_two, po2):
    """PO-T02's sub-project with its advance requested."""
    sub_project = scheduled(po_two)
    request(po2, sub_project, 1)
    return sub_project


# --- The money page -------------------------------------------------------------------------------


def test_the_po_requests_from_its_money_page(client, sub_project, po1):
    client.force_login(po1)
    page = client.get(reverse("finance:subproject-finance", args=[sub_project.pk]))
    body = page.content.decode()
    assert page.status_code == 200
    assert body.count('data-action="request"') == 1  # the advance only
    assert "not yet reported done" in body  # why the mid-term tranche cannot be requested yet
    assert "2,00,00,000.00" in body  # the approved World Bank share
    assert "never released" in body  # the PO contribution

    url = reverse("finance:release-request", args=[tranche(sub_project, 1).pk])
    blank = client.post(url, {"justification": ""})
    assert blank.status_code == 400
    done = client.post(url, {"justification": "Agreement signed, team in place."})
    release = Release.objects.get()
    assert done.status_code == 302
    assert done["Location"] == release.get_absolute_url()


def test_a_refused_request_keeps_what_was_typed(client, sub_project, po1):
    SubProject.objects.filter(pk=sub_project.pk).update(budget_pksf=Decimal("1000000"))
    client.force_login(po1)
    url = reverse("finance:release-request", args=[tranche(sub_project, 1).pk])
    refused = client.post(url, {"justification": "Our team is ready to start."})
    assert refused.status_code == 409
    body = refused.content.decode()
    assert "Our team is ready to start." in body
    assert "PKSF share of Tranche 1 (11,25,000 BDT) is more than" in body
    assert not Release.objects.exists()


def test_only_the_pos_own_staff_open_the_request_form(client, sub_project, pmu, po2):
    url = reverse("finance:release-request", args=[tranche(sub_project, 1).pk])
    client.force_login(pmu)
    assert client.get(url).status_code == 403
    client.force_login(po2)
    assert client.get(url).status_code == 404


def test_the_pmu_creates_a_missing_schedule_on_the_money_page(client, po_one, pmu, po1):
    sub_project = funded_sub_project(po_one)
    url = reverse("finance:subproject-finance", args=[sub_project.pk])
    client.force_login(po1)
    assert 'data-action="create-schedule"' not in client.get(url).content.decode()
    assert client.post(reverse("finance:schedule-create", args=[sub_project.pk])).status_code == 403
    client.force_login(pmu)
    assert 'data-action="create-schedule"' in client.get(url).content.decode()
    assert client.post(reverse("finance:schedule-create", args=[sub_project.pk])).status_code == 302
    assert "Mid-term" in client.get(url).content.decode()


def test_the_pmus_finance_officer_sees_every_pos_money(client, sub_project, theirs, finance):
    client.force_login(finance)
    for sp in (sub_project, theirs):
        assert client.get(reverse("finance:subproject-finance", args=[sp.pk])).status_code == 200
    listing = client.get(reverse("finance:subproject-finance-list")).content.decode()
    assert sub_project.agreement_number in listing
    assert theirs.agreement_number in listing


def test_the_sub_project_page_links_to_its_money(client, sub_project, po1):
    client.force_login(po1)
    page = client.get(sub_project.get_absolute_url()).content.decode()
    assert reverse("finance:subproject-finance", args=[sub_project.pk]) in page


# --- The release page -----------------------------------------------------------------------------


def test_the_release_page_shows_the_case_for_the_check(client, sub_project, po1, pmu, finance):
    released(po1, sub_project, 1, pmu, finance)
    report(sub_project, 1, po1)
    release = request(po1, sub_project, 2, "Mid-term reached.")
    client.force_login(pmu)
    body = client.get(release.get_absolute_url()).content.decode()
    assert "Half of the work plan done (report attached)." in body  # the milestone's evidence
    assert 'data-testid="previous-release"' in body
    assert "71,25,000.00 BDT transferred" in body
    assert "No open award or E&S condition." in body
    assert 'data-action="check"' in body
    assert 'data-action="return"' in body
    assert 'data-action="approve"' not in body


def test_checking_approving_and_transferring_on_the_pages(client, sub_project, po1, pmu_finance, finance):
    release = request(po1, sub_project, 1)
    client.force_login(pmu_finance)
    assert client.post(reverse("finance:release-transition", args=[release.pk, "check"])).status_code == 302
    # Whoever checked it is offered no approval (and refused if they try).
    page = client.get(release.get_absolute_url()).content.decode()
    assert 'data-action="approve"' not in page
    assert 'data-testid="segregation"' in page
    refused = client.post(reverse("finance:release-transition", args=[release.pk, "approve"]))
    assert refused.status_code == 409
    assert "segregation of duties" in refused.content.decode()

    client.force_login(finance)
    assert client.post(reverse("finance:release-transition", args=[release.pk, "approve"])).status_code == 302
    transfer_url = reverse("finance:release-transfer", args=[release.pk])
    wrong = client.post(
        transfer_url,
        {"transferred_on": (TODAY() + timedelta(days=1)).isoformat(), "transfer_reference": "TRF-9"},
    )
    assert wrong.status_code == 400
    assert "future" in wrong.content.decode()
    assert 'value="TRF-9"' in wrong.content.decode()
    done = client.post(transfer_url, {"transferred_on": TODAY().isoformat(), "transfer_reference": "TRF-9"})
    assert done.status_code == 302
    release.refresh_from_db()
    assert (release.status, release.transfer_reference) == (ReleaseStatus.TRANSFERRED, "TRF-9")
    timeline = client.get(release.get_absolute_url()).content.decode()
    assert "Record the transfer" in timeline
    assert "Requested" in timeline


def test_a_po_cannot_take_the_pmus_steps_on_the_pages(client, sub_project, po1):
    release = request(po1, sub_project, 1)
    client.force_login(po1)
    assert client.post(reverse("finance:release-transition", args=[release.pk, "check"])).status_code == 403
    assert (
        client.post(
            reverse("finance:release-transfer", args=[release.pk]),
            {"transferred_on": TODAY().isoformat(), "transfer_reference": "x"},
        ).status_code
        == 403
    )
    assert (
        client.post(reverse("finance:release-transition", args=[release.pk, "withdraw"])).status_code == 302
    )
    release.refresh_from_db()
    assert release.status == ReleaseStatus.WITHDRAWN


# --- Isolation: pages, exports, API ---------------------------------------------------------------


def test_another_pos_money_is_not_found(client, sub_project, theirs, po1):
    release = Release.objects.get(sub_project=theirs)
    client.force_login(po1)
    assert client.get(reverse("finance:subproject-finance", args=[theirs.pk])).status_code == 404
    assert client.get(release.get_absolute_url()).status_code == 404
    assert (
        client.post(reverse("finance:release-transition", args=[release.pk, "withdraw"])).status_code == 404
    )
    assert client.get(reverse("finance:milestone-report", args=[milestone(theirs, 1).pk])).status_code == 404
    listing = client.get(reverse("finance:release-list")).content.decode()
    assert release.reference not in listing


def test_exports_hold_only_the_pos_own_releases(client, sub_project, theirs, po1, pmu):
    mine = request(po1, sub_project, 1)
    client.force_login(po1)
    rows = list(
        csv.reader(
            io.StringIO(
                client.get(reverse("finance:release-list") + "?export=csv")
                .getvalue()
                .decode()
                .lstrip("\ufeff")
            )
        )
    )
    assert [row[0] for row in rows[1:]] == [mine.reference]
    workbook = load_workbook(io.BytesIO(client.get(reverse("finance:release-list") + "?export=xlsx").content))
    assert [row[0] for row in workbook.active.iter_rows(min_row=2, values_only=True)] == [mine.reference]

    client.force_login(pmu)
    rows = list(
        csv.reader(
            io.StringIO(
                client.get(reverse("finance:release-list") + "?export=csv")
                .getvalue()
                .decode()
                .lstrip("\ufeff")
            )
        )
    )
    assert len(rows) == 3
    filtered = client.get(reverse("finance:release-list") + f"?sub_project={theirs.pk}&export=csv")
    assert len(list(csv.reader(io.StringIO(filtered.getvalue().decode().lstrip("\ufeff"))))) == 2
    money = client.get(reverse("finance:subproject-finance-list") + "?export=csv").getvalue().decode()
    assert "World Bank approved (BDT)" in money
    assert sub_project.agreement_number in money


def test_the_api_keeps_each_po_to_its_own(api, sub_project, theirs, po1, po2):
    theirs_release = Release.objects.get(sub_project=theirs)
    api.as_user(po1)
    assert api.get(f"/api/v1/releases/{theirs_release.pk}/").status_code == 404
    assert api.get("/api/v1/releases/").json()["count"] == 0
    assert api.get(f"/api/v1/tranches/{tranche(theirs, 1).pk}/").status_code == 404
    # Another PO's tranche or sub-project is refused as one that does not exist.
    refused = api.post(
        "/api/v1/releases/", {"tranche": tranche(theirs, 2).pk, "justification": "x"}, format="json"
    )
    assert refused.status_code == 400
    assert "tranche" in refused.json()["fields"]
    assert api.get(f"/api/v1/releases/?sub_project={theirs.pk}").status_code == 400
    assert api.post(f"/api/v1/releases/{theirs_release.pk}/withdraw/", {}, format="json").status_code == 404


def test_the_api_requests_and_refuses_with_the_reason(api, sub_project, po1, pmu, finance):
    api.as_user(po1)
    early = api.post(
        "/api/v1/releases/", {"tranche": tranche(sub_project, 2).pk, "justification": "x"}, format="json"
    )
    assert early.status_code == 409
    assert early.json()["code"] == "milestone_not_reported"
    made = api.post(
        "/api/v1/releases/",
        {"tranche": tranche(sub_project, 1).pk, "justification": "Team ready."},
        format="json",
    )
    assert made.status_code == 201
    body = made.json()
    assert body["reference"].endswith("-T1")
    assert body["amount_world_bank"] == "6000000.00"
    assert [a["action"] for a in body["available_actions"]] == ["withdraw"]
    listed = api.get("/api/v1/tranches/", {"sub_project": sub_project.pk}).json()["results"]
    assert listed[0]["release"]["status"] == "requested"
    assert listed[1]["requestable"]

    pk = body["id"]
    api.as_user(pmu)
    assert api.post(f"/api/v1/releases/{pk}/approve/", {}, format="json").status_code == 403
    assert api.post(f"/api/v1/releases/{pk}/check/", {}, format="json").json()["status"] == "checked"
    api.as_user(finance)
    assert api.post(f"/api/v1/releases/{pk}/approve/", {}, format="json").json()["status"] == "approved"
    missing = api.post(
        f"/api/v1/releases/{pk}/record-transfer/", {"transferred_on": TODAY().isoformat()}, format="json"
    )
    assert missing.status_code == 400
    assert "transfer_reference" in missing.json()["fields"]
    done = api.post(
        f"/api/v1/releases/{pk}/record-transfer/",
        {"transferred_on": TODAY().isoformat(), "transfer_reference": "TRF-1"},
        format="json",
    )
    assert done.status_code == 200
    assert done.json()["status"] == "transferred"
    history = api.get(f"/api/v1/releases/{pk}/history/").json()
    assert [e["action"] for e in history if e["kind"] == "transition"][:1] == ["record_transfer"]
    assert api.get("/api/v1/releases/", {"status": "transferred"}).json()["count"] == 1
    assert api.get("/api/v1/releases/", {"financier": "pksf"}).json()["count"] == 1


def test_people_without_money_roles_see_nothing(client, api, sub_project, tec1, verifier):
    for user in (tec1, verifier):
        client.force_login(user)
        assert client.get(reverse("finance:release-list")).status_code == 403
        assert client.get(reverse("finance:subproject-finance", args=[sub_project.pk])).status_code == 403
        api.as_user(user)
        assert api.get("/api/v1/releases/").status_code == 403
        assert lifecycle.available_rules(user, milestone(sub_project, 1)) == []
