"""Milestones through the API, as on the pages: the results framework's yearly milestones (the
targets page: PMU officers edit, the framework's readers read) and the milestones of a sub-project's
release schedule (the schedule page: the PMU's side adds, changes and removes them, or sets the
default schedule; a PO reads its own only)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from finance.models import Milestone, Tranche
from monitoring.models import Indicator
from monitoring.models import Milestone as IndicatorMilestone
from tests.finance.factories import funded_sub_project
from tests.finance.test_releases_fixtures import milestone, report, scheduled

YEARLY = "/api/v1/indicator-milestones/"
SCHEDULE = "/api/v1/milestones/"


# --- The results framework's yearly milestones ---------------------------------------------------


def test_the_pmu_adds_changes_and_removes_a_yearly_milestone(api, pmu):
    api.as_user(pmu)

    created = api.post(YEARLY, {"indicator": "ME_FINANCED", "year": 2026, "target": "30000.00"})
    changed = api.patch(f"{YEARLY}{created.json()['id']}/", {"target": "32000"})
    indicator = api.get("/api/v1/indicators/ME_FINANCED/").json()
    removed = api.delete(f"{YEARLY}{created.json()['id']}/")

    assert created.status_code == 201, created.content
    assert created.json() == {
        "id": created.json()["id"],
        "indicator": "ME_FINANCED",
        "year": 2026,
        "target": "30000.00",
    }
    assert changed.json()["target"] == "32000.00"
    assert {"year": 2026, "target": "32000.00"} in indicator["milestones"]
    assert removed.status_code == 204
    assert not IndicatorMilestone.objects.exists()


def test_a_yearly_milestone_follows_the_targets_pages_rules(api, pmu):
    financed = Indicator.objects.get(code="ME_FINANCED")
    IndicatorMilestone.objects.create(indicator=financed, year=2026, target=30000)
    api.as_user(pmu)

    outside = api.post(YEARLY, {"indicator": "ME_FINANCED", "year": 2099, "target": "1"})
    twice = api.post(YEARLY, {"indicator": "ME_FINANCED", "year": 2026, "target": "1"})

    assert outside.status_code == 400
    assert "year" in outside.json()["fields"]
    assert twice.status_code == 400
    assert IndicatorMilestone.objects.count() == 1


@pytest.mark.parametrize("persona", ["po1", "wb"])
def test_the_frameworks_readers_read_yearly_milestones_and_only_the_pmu_edits(api, request, persona):
    kept = IndicatorMilestone.objects.create(
        indicator=Indicator.objects.get(code="ME_FINANCED"), year=2026, target=1
    )
    api.as_user(request.getfixturevalue(persona))

    listed = api.get(YEARLY, {"indicator": "ME_FINANCED"})
    refused = api.post(YEARLY, {"indicator": "ME_FINANCED", "year": 2027, "target": "1"})
    changed = api.patch(f"{YEARLY}{kept.pk}/", {"target": "99"})
    removed = api.delete(f"{YEARLY}{kept.pk}/")

    assert listed.status_code == 200
    assert [row["year"] for row in listed.json()["results"]] == [2026]
    assert refused.status_code == 403
    assert IndicatorMilestone.objects.count() == 1
    assert (changed.status_code, removed.status_code) == (403, 403)
    assert IndicatorMilestone.objects.get().target == 1


def test_a_role_that_does_not_read_the_framework_is_refused(api, tec1):
    assert api.as_user(tec1).get(YEARLY).status_code == 403


# --- A sub-project's release schedule -------------------------------------------------------------


@pytest.fixture
def sub_project(po_one):
    return scheduled(po_one)


def test_the_pmu_adds_changes_and_removes_a_schedule_milestone(api, pmu, sub_project):
    api.as_user(pmu)
    due = sub_project.start_date + timedelta(days=90)

    created = api.post(
        SCHEDULE, {"sub_project": sub_project.pk, "title": "Baseline survey done", "due_on": due}
    )
    pk = created.json()["id"]
    changed = api.patch(f"{SCHEDULE}{pk}/", {"title": "Baseline survey published"})
    removed = api.delete(f"{SCHEDULE}{pk}/")

    assert created.status_code == 201, created.content
    assert created.json()["number"] == 3  # after the default schedule's two
    assert created.json()["status"] == "planned"
    assert changed.status_code == 200
    assert changed.json()["title"] == "Baseline survey published"
    assert changed.json()["due_on"] == due.isoformat()
    assert removed.status_code == 204
    assert not Milestone.objects.filter(pk=pk).exists()


def test_a_schedule_milestone_follows_the_schedule_pages_rules(api, pmu, po1, sub_project):
    api.as_user(pmu)

    outside = api.post(
        SCHEDULE,
        {
            "sub_project": sub_project.pk,
            "title": "Late",
            "due_on": sub_project.end_date + timedelta(days=400),
        },
    )
    report(sub_project, 1, po1)
    reported = api.delete(f"{SCHEDULE}{milestone(sub_project, 1).pk}/")

    assert outside.status_code == 400
    assert "due_on" in outside.json()["fields"]
    assert reported.status_code == 409
    assert reported.json()["code"] == "milestone_reported"
    assert Milestone.objects.filter(sub_project=sub_project).count() == 2


def test_the_pos_staff_read_their_milestones_and_may_not_edit_them(api, po1, po2, sub_project):
    first = milestone(sub_project, 1)

    api.as_user(po1)
    mine = api.get(f"{SCHEDULE}{first.pk}/")
    edit = api.patch(f"{SCHEDULE}{first.pk}/", {"title": "Done already"})
    add = api.post(
        SCHEDULE, {"sub_project": sub_project.pk, "title": "Mine", "due_on": sub_project.start_date}
    )
    api.as_user(po2)
    theirs = api.get(f"{SCHEDULE}{first.pk}/")
    missing = api.get(f"{SCHEDULE}{first.pk + 1000}/")

    assert mine.status_code == 200
    assert edit.status_code == add.status_code == 403
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json() == missing.json()
    first.refresh_from_db()
    assert first.title != "Done already"


def test_the_default_schedule_of_a_sub_project_without_one(api, pmu, finance, po_one):
    bare = funded_sub_project(po_one)

    response = api.as_user(finance).post(f"{SCHEDULE}default-schedule/", {"sub_project": bare.pk})
    again = api.post(f"{SCHEDULE}default-schedule/", {"sub_project": bare.pk})

    assert response.status_code == 201, response.content
    assert [row["number"] for row in response.json()] == [1, 2]
    assert Tranche.objects.filter(sub_project=bare).count() == 3
    assert again.status_code == 409
    assert again.json()["code"] == "exists"


def test_only_the_pmus_side_sets_the_default_schedule(api, po1, po_one):
    bare = funded_sub_project(po_one)

    response = api.as_user(po1).post(f"{SCHEDULE}default-schedule/", {"sub_project": bare.pk})

    assert response.status_code == 403
    assert not Tranche.objects.filter(sub_project=bare).exists()
