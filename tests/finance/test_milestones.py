"""Milestones of the release schedule: the PO reports one done with its evidence (page and API), the
PMU's side may send it back while no release was requested on it; refusals change nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from core import lifecycle
from core.errors import ActionRefused, Forbidden
from finance.models import MilestoneStatus
from tests.finance.test_releases_fixtures import *  # noqa: F403
from tests.finance.test_releases_fixtures import milestone, released, report, request

TODAY = timezone.localdate


def test_the_po_reports_a_milestone_done_with_evidence_and_a_date(sub_project, po1):
    done_on = TODAY() - timedelta(days=3)
    lifecycle.apply(
        milestone(sub_project, 1), "report", po1, comment="Survey of 400 MEs done.", reported_on=done_on
    )
    m = milestone(sub_project, 1)
    assert (m.status, m.reported_on, m.evidence) == (
        MilestoneStatus.REPORTED,
        done_on,
        "Survey of 400 MEs done.",
    )
    row = lifecycle.transitions_of(m).get()
    assert (row.action, row.actor, row.from_state, row.to_state) == ("report", po1, "planned", "reported")


def test_a_report_without_evidence_or_dated_in_the_future_is_refused(sub_project, po1):
    with pytest.raises(ActionRefused, match="comment"):
        lifecycle.apply(milestone(sub_project, 1), "report", po1, comment="  ")
    with pytest.raises(ActionRefused, match="future"):
        lifecycle.apply(
            milestone(sub_project, 1), "report", po1, comment="done", reported_on=TODAY() + timedelta(days=1)
        )
    m = milestone(sub_project, 1)
    assert (m.status, m.reported_on, m.evidence) == (MilestoneStatus.PLANNED, None, "")
    assert not lifecycle.transitions_of(m).exists()


@pytest.mark.parametrize("persona", ["po2", "pmu", "finance"])
def test_only_the_pos_own_staff_report(request, sub_project, persona):
    with pytest.raises(Forbidden):
        lifecycle.apply(milestone(sub_project, 1), "report", request.getfixturevalue(persona), comment="done")


def test_the_pmu_sends_a_report_back_with_a_reason(sub_project, po1, pmu, finance, po_finance):
    report(sub_project, 1, po1)
    with pytest.raises(Forbidden):
        lifecycle.apply(milestone(sub_project, 1), "send_back", po_finance, comment="no")
    with pytest.raises(ActionRefused, match="comment"):
        lifecycle.apply(milestone(sub_project, 1), "send_back", finance)
    lifecycle.apply(milestone(sub_project, 1), "send_back", pmu, comment="The survey report is not attached.")
    m = milestone(sub_project, 1)
    assert (m.status, m.reported_on, m.evidence) == (MilestoneStatus.PLANNED, None, "")
    # The report stays in the history.
    assert [t.action for t in lifecycle.transitions_of(m).order_by("at", "pk")] == ["report", "send_back"]


def test_a_milestone_whose_tranche_was_requested_is_not_sent_back(sub_project, po1, pmu, finance):
    released(po1, sub_project, 1, pmu, finance)
    report(sub_project, 1, po1)
    request(po1, sub_project, 2)
    with pytest.raises(ActionRefused, match="return that release first") as refused:
        lifecycle.apply(milestone(sub_project, 1), "send_back", pmu, comment="wrong")
    assert refused.value.code == "milestone_in_use"
    assert milestone(sub_project, 1).status == MilestoneStatus.REPORTED


def test_reporting_on_the_page_keeps_what_was_typed_when_refused(client, sub_project, po1, po2):
    m = milestone(sub_project, 1)
    url = reverse("finance:milestone-report", args=[m.pk])
    client.force_login(po1)
    assert client.get(url).status_code == 200
    future = (TODAY() + timedelta(days=2)).isoformat()
    page = client.post(url, {"reported_on": future, "evidence": "Forty trainings held."})
    assert page.status_code == 400
    assert "future" in page.content.decode()
    assert "Forty trainings held." in page.content.decode()
    assert milestone(sub_project, 1).status == MilestoneStatus.PLANNED

    done = client.post(url, {"reported_on": TODAY().isoformat(), "evidence": "Forty trainings held."})
    assert done.status_code == 302
    assert milestone(sub_project, 1).status == MilestoneStatus.REPORTED

    # Another PO: as if it did not exist.
    client.force_login(po2)
    assert client.get(url).status_code == 404


def test_the_pmu_cannot_report_for_the_po_on_the_page(client, sub_project, pmu):
    client.force_login(pmu)
    url = reverse("finance:milestone-report", args=[milestone(sub_project, 1).pk])
    assert client.get(url).status_code == 403
    assert client.post(url, {"reported_on": TODAY().isoformat(), "evidence": "x"}).status_code == 403


def test_sending_back_on_the_money_page(client, sub_project, po1, pmu):
    report(sub_project, 1, po1)
    m = milestone(sub_project, 1)
    client.force_login(pmu)
    url = reverse("finance:milestone-transition", args=[m.pk, "send_back"])
    refused = client.post(url, {"send_back-comment": ""})
    assert refused.status_code == 409
    assert milestone(sub_project, 1).status == MilestoneStatus.REPORTED
    assert client.post(url, {"send_back-comment": "Photos missing."}).status_code == 302
    assert milestone(sub_project, 1).status == MilestoneStatus.PLANNED


def test_the_api_reports_and_names_a_wrong_date(api, sub_project, po1, po2):
    m = milestone(sub_project, 1)
    url = f"/api/v1/milestones/{m.pk}/report/"
    api.as_user(po1)
    wrong = api.post(
        url, {"comment": "done", "reported_on": (TODAY() + timedelta(days=5)).isoformat()}, format="json"
    )
    assert wrong.status_code == 400
    assert "reported_on" in wrong.json()["fields"]
    done = api.post(url, {"comment": "done", "reported_on": TODAY().isoformat()}, format="json")
    assert done.status_code == 200
    assert done.json()["status"] == "reported"
    again = api.post(url, {"comment": "done"}, format="json")
    assert again.status_code == 409

    api.as_user(po2)
    assert api.get(f"/api/v1/milestones/{m.pk}/").status_code == 404
    assert api.get("/api/v1/milestones/").json()["count"] == 0
