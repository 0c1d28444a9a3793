"""Refusals of the money rules that no other test exercised: each is refused with its code and leaves
everything as it was (schedules of a final sub-project, rows that cannot be deleted, a milestone of a
final sub-project, an IFR sent on a day before it was finalised)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from core import lifecycle
from core.errors import ActionRefused
from finance import ifr, releases
from finance.models import Milestone, MilestoneStatus, Release, Tranche
from subprojects.models import SubProject, SubProjectStatus
from tests.finance.factories import funded_sub_project
from tests.finance.test_ifr_figures import QUARTER, build_money
from tests.finance.test_releases_fixtures import *  # noqa: F403
from tests.finance.test_releases_fixtures import milestone, report, request, tranche

pytestmark = pytest.mark.django_db


def _schedule(sub_project) -> list[tuple]:
    return list(
        Tranche.objects.filter(sub_project=sub_project)
        .order_by("number")
        .values_list("number", "title", "amount_world_bank", "amount_pksf", "milestone_id")
    )


def _milestones(sub_project) -> list[tuple]:
    return list(
        Milestone.objects.filter(sub_project=sub_project)
        .order_by("number")
        .values_list("number", "title", "due_on", "status")
    )


def _set_status(sub_project, status) -> SubProject:
    SubProject.objects.filter(pk=sub_project.pk).update(status=status)
    return SubProject.objects.get(pk=sub_project.pk)


# --- Release schedules ----------------------------------------------------------------------------


@pytest.mark.parametrize("status", [SubProjectStatus.COMPLETED, SubProjectStatus.CANCELLED])
def test_the_schedule_of_a_final_sub_project_is_not_edited(sub_project, pmu, status):
    sub_project = _set_status(sub_project, status)
    t2 = tranche(sub_project, 2)
    before, milestones_before = _schedule(sub_project), _milestones(sub_project)

    with pytest.raises(ActionRefused, match="schedule is final") as refused:
        releases.edit_schedule(
            pmu,
            sub_project,
            milestones=[
                {"id": None, "title": "Extra", "due_on": sub_project.start_date + timedelta(days=30)}
            ],
            tranches=[{"id": t2.pk, "amount_world_bank": Decimal("1")}],
        )

    assert refused.value.code == "wrong_state"
    assert _schedule(sub_project) == before
    assert _milestones(sub_project) == milestones_before


def test_no_default_schedule_is_created_for_a_final_sub_project(po_one, pmu):
    sub_project = _set_status(funded_sub_project(po_one), SubProjectStatus.COMPLETED)

    with pytest.raises(ActionRefused, match="schedule is final") as refused:
        releases.create_default_schedule_for(pmu, sub_project)

    assert refused.value.code == "wrong_state"
    assert not Tranche.objects.filter(sub_project=sub_project).exists()
    assert not Milestone.objects.filter(sub_project=sub_project).exists()


def test_a_milestone_reported_done_is_not_deleted(sub_project, po1, finance):
    report(sub_project, 1, po1)
    m1 = milestone(sub_project, 1)
    before, milestones_before = _schedule(sub_project), _milestones(sub_project)

    with pytest.raises(ActionRefused, match="reported done") as refused:
        releases.edit_schedule(finance, sub_project, milestones=[{"id": m1.pk, "delete": True}])

    assert refused.value.code == "milestone_reported"
    assert _milestones(sub_project) == milestones_before
    assert milestone(sub_project, 1).status == MilestoneStatus.REPORTED
    assert _schedule(sub_project) == before


def test_a_tranche_requested_before_stays_on_the_schedule(sub_project, po1, pmu):
    release = request(po1, sub_project, 1)
    lifecycle.apply(release, "withdraw", po1)  # no longer active, but its record is kept
    t1 = tranche(sub_project, 1)
    before = _schedule(sub_project)

    with pytest.raises(ActionRefused, match="requested before") as refused:
        releases.edit_schedule(pmu, sub_project, tranches=[{"id": t1.pk, "delete": True}])

    assert refused.value.code == "tranche_requested"
    assert _schedule(sub_project) == before
    assert Release.objects.filter(tranche=t1, status="withdrawn").count() == 1


def test_one_refused_row_refuses_the_whole_edit(sub_project, po1, pmu):
    """All or nothing: a valid change in the same edit as a refused deletion is not saved either."""
    report(sub_project, 1, po1)
    m1, t3 = milestone(sub_project, 1), tranche(sub_project, 3)
    before, milestones_before = _schedule(sub_project), _milestones(sub_project)

    with pytest.raises(ActionRefused):
        releases.edit_schedule(
            pmu,
            sub_project,
            milestones=[{"id": m1.pk, "delete": True}],
            tranches=[{"id": t3.pk, "amount_world_bank": Decimal("5000000")}],
        )

    assert _schedule(sub_project) == before
    assert _milestones(sub_project) == milestones_before


# --- Milestones -----------------------------------------------------------------------------------


def test_a_milestone_of_a_completed_sub_project_is_not_reported(sub_project, po1):
    sub_project = _set_status(sub_project, SubProjectStatus.COMPLETED)

    with pytest.raises(ActionRefused, match="milestones are final") as refused:
        report(sub_project, 1, po1)

    assert refused.value.code == "wrong_state"
    m1 = milestone(sub_project, 1)
    assert (m1.status, m1.reported_on, m1.evidence) == (MilestoneStatus.PLANNED, None, "")
    assert [t.action for t in lifecycle.transitions_of(m1)] == []


# --- Interim financial reports --------------------------------------------------------------------


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.mark.usefixtures("media")
def test_an_ifr_is_not_sent_on_a_day_before_it_was_finalised(po_one, po_two, finance, pmu):
    build_money(po_one, po_two, finance)
    draft = ifr.create_report(finance, QUARTER)
    lifecycle.apply(draft, "review", pmu)
    finalised = lifecycle.apply(draft, "finalise", finance)
    day_finalised = timezone.localdate(finalised.finalised_at)

    with pytest.raises(ActionRefused, match="before it was finalised") as refused:
        lifecycle.apply(finalised, "send", finance, sent_on=day_finalised - timedelta(days=1))

    assert refused.value.code == "invalid"
    finalised.refresh_from_db()
    assert (finalised.status, finalised.sent_on) == ("finalised", None)
    assert [t.action for t in lifecycle.transitions_of(finalised)][-1] == "finalise"
