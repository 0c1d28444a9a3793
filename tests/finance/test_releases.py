"""Releases to POs: the default schedule set at award, the PO's request and everything that refuses it
(changing nothing), the PMU's check, PKSF finance's approval (segregation of duties) and transfer,
returns and withdrawals, who hears of each step and what waits on whom."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from core import lifecycle
from core.errors import ActionRefused, Forbidden
from core.roles import Role
from core.waiting import items_for
from finance import releases
from finance.models import Milestone, Release, ReleaseStatus, Tranche
from subprojects.models import ProposalStatus, SubProject, SubProjectStatus, Transition
from tests.factories import make_user
from tests.finance.factories import funded_sub_project
from tests.finance.test_releases_fixtures import *  # noqa: F403
from tests.finance.test_releases_fixtures import (
    PKSF,
    WB,
    milestone,
    released,
    report,
    request,
    scheduled,
    tranche,
    transfer,
)
from tests.subprojects.conftest import open_call, proposal_in  # noqa: F401 (fixtures)

TODAY = timezone.localdate


def _nothing_written(before_transitions: int) -> None:
    assert not Release.objects.exists()
    assert Transition.objects.count() == before_transitions


# --- The default schedule -------------------------------------------------------------------------


def test_the_default_schedule_splits_each_share_exactly(po_one):
    sub_project = funded_sub_project(po_one)
    SubProject.objects.filter(pk=sub_project.pk).update(
        budget_world_bank=Decimal("1000000.37"), budget_pksf=Decimal("333333")
    )
    sub_project.refresh_from_db()

    tranches = releases.create_default_schedule(sub_project)

    assert [t.number for t in tranches] == [1, 2, 3]
    assert [t.amount_world_bank for t in tranches] == [
        Decimal("300000"),
        Decimal("400000"),
        Decimal("300000.37"),
    ]
    assert [t.amount_pksf for t in tranches] == [Decimal("100000"), Decimal("133333"), Decimal("100000")]
    assert sum(t.amount_world_bank for t in tranches) == sub_project.budget_world_bank
    assert sum(t.amount_pksf for t in tranches) == sub_project.budget_pksf
    # The advance needs no milestone; the others one each, mid-way and about three months before the end.
    advance, midterm, completion = tranches
    assert advance.milestone is None
    assert advance.title == "Advance"
    assert midterm.milestone.title.startswith("Mid-term")
    assert completion.milestone.title.startswith("Completion")
    middle = sub_project.start_date + (sub_project.end_date - sub_project.start_date) / 2
    assert abs((midterm.milestone.due_on - middle).days) <= 1
    assert completion.milestone.due_on == sub_project.end_date - timedelta(days=91)
    assert Milestone.objects.filter(sub_project=sub_project).count() == 2
    # Nothing of the PO's contribution is ever scheduled; a second call changes nothing.
    assert releases.create_default_schedule(sub_project) == tranches
    assert Tranche.objects.filter(sub_project=sub_project).count() == 3


def test_the_percentages_come_from_the_settings(po_one, settings):
    settings.FINANCE_DEFAULT_TRANCHES = (25, 25, 25, 25)
    sub_project = scheduled(po_one)
    tranches = list(Tranche.objects.filter(sub_project=sub_project))
    assert [t.amount_world_bank for t in tranches] == [Decimal("5000000")] * 4
    titles = list(Milestone.objects.filter(sub_project=sub_project).values_list("title", flat=True))
    assert len(titles) == 3
    assert titles[-1].startswith("Completion")
    dues = list(Milestone.objects.filter(sub_project=sub_project).values_list("due_on", flat=True))
    assert dues == sorted(dues)


def test_percentages_that_do_not_add_up_to_100_are_a_configuration_error(po_one, settings):
    from django.core.exceptions import ImproperlyConfigured

    settings.FINANCE_DEFAULT_TRANCHES = (30, 40)
    with pytest.raises(ImproperlyConfigured):
        scheduled(po_one)


def test_the_award_sets_the_schedule(approver, proposal_in):  # noqa: F811
    from tests.subprojects.test_workflow import AWARD_TERMS

    proposal = proposal_in(ProposalStatus.APPROVED)
    lifecycle.apply(proposal, "award", approver, **AWARD_TERMS)

    sub_project = SubProject.objects.get(proposal=proposal)
    amounts = Tranche.objects.filter(sub_project=sub_project).values_list("amount_world_bank", "amount_pksf")
    assert sum(a for a, _ in amounts) == AWARD_TERMS["budget_world_bank"]
    assert sum(p for _, p in amounts) == AWARD_TERMS["budget_pksf"]


def test_the_pmu_creates_the_default_schedule_of_an_older_sub_project(po_one, pmu, po1):
    sub_project = funded_sub_project(po_one)
    with pytest.raises(Forbidden):
        releases.create_default_schedule_for(po1, sub_project)
    assert not Tranche.objects.exists()
    assert len(releases.create_default_schedule_for(pmu, sub_project)) == 3
    with pytest.raises(ActionRefused, match="already has a release schedule"):
        releases.create_default_schedule_for(pmu, sub_project)


# --- Requests refused, nothing written ------------------------------------------------------------


def test_a_request_above_the_approved_and_unreleased_amount_is_refused(sub_project, po1):
    # The approved World Bank share was cut after the schedule was set: the advance no longer fits.
    SubProject.objects.filter(pk=sub_project.pk).update(budget_world_bank=Decimal("5000000"))
    before = Transition.objects.count()

    with pytest.raises(ActionRefused) as refused:
        request(po1, sub_project, 1)

    assert refused.value.code == "over_approved"
    assert "World Bank" in str(refused.value)
    assert "50,00,000" in str(refused.value)
    _nothing_written(before)


def test_the_cap_counts_every_active_release(sub_project, po1, pmu, finance):
    released(po1, sub_project, 1, pmu, finance)
    report(sub_project, 1, po1)
    # 6 M transferred; 14 M would be left, the mid-term tranche asks 8 M: cut the share to 13.9 M.
    SubProject.objects.filter(pk=sub_project.pk).update(budget_world_bank=Decimal("13900000"))
    with pytest.raises(ActionRefused, match="79,00,000") as refused:
        request(po1, sub_project, 2)
    assert refused.value.code == "over_approved"
    SubProject.objects.filter(pk=sub_project.pk).update(budget_world_bank=Decimal("14000000"))
    assert request(po1, sub_project, 2).amount_world_bank == Decimal("8000000")


def test_a_tranche_whose_milestone_is_not_reported_is_refused(sub_project, po1, pmu, finance):
    released(po1, sub_project, 1, pmu, finance)
    before = Transition.objects.count()

    with pytest.raises(ActionRefused, match="not yet reported done") as refused:
        request(po1, sub_project, 2)

    assert refused.value.code == "milestone_not_reported"
    assert Release.objects.count() == 1
    assert Transition.objects.count() == before


def test_a_tranche_before_the_previous_one_is_transferred_is_refused(sub_project, po1, pmu):
    advance = request(po1, sub_project, 1)
    lifecycle.apply(advance, "check", pmu)
    report(sub_project, 1, po1)
    before = Transition.objects.count()

    with pytest.raises(ActionRefused, match="Tranche 1 must be transferred") as refused:
        request(po1, sub_project, 2)

    assert refused.value.code == "previous_not_transferred"
    assert Release.objects.count() == 1
    assert Transition.objects.count() == before


def test_a_tranche_is_requested_once_at_a_time(sub_project, po1):
    request(po1, sub_project, 1)
    with pytest.raises(ActionRefused, match="already has a release") as refused:
        request(po1, sub_project, 1)
    assert refused.value.code == "already_requested"
    assert Release.objects.count() == 1


def test_only_an_active_sub_project_requests(sub_project, po1):
    SubProject.objects.filter(pk=sub_project.pk).update(status=SubProjectStatus.SUSPENDED)
    with pytest.raises(ActionRefused, match="suspended") as refused:
        request(po1, sub_project, 1)
    assert refused.value.code == "sub_project_not_active"
    assert not Release.objects.exists()


def test_only_the_pos_own_staff_request_and_with_a_justification(sub_project, po1, po2, pmu, finance):
    for outsider in (po2, pmu, finance):
        with pytest.raises(Forbidden):
            request(outsider, sub_project, 1)
    with pytest.raises(ValidationError) as invalid:
        request(po1, sub_project, 1, justification="   ")
    assert "justification" in invalid.value.message_dict
    assert not Release.objects.exists()


# --- The lifecycle: who and when ------------------------------------------------------------------


def test_request_check_approve_transfer_records_who_and_when(sub_project, po1, pmu, finance):
    release = request(po1, sub_project, 1, "Agreement signed; team in place.")
    assert release.reference == f"REL-{sub_project.agreement_number}-T1"
    assert (release.amount_world_bank, release.amount_pksf) == (Decimal("6000000"), Decimal("1125000"))
    assert release.status == ReleaseStatus.REQUESTED

    transfer(release, pmu, finance, on=TODAY() - timedelta(days=0))
    release.refresh_from_db()

    assert release.status == ReleaseStatus.TRANSFERRED
    assert release.transferred_on == TODAY()
    assert release.transfer_reference == "BRAC-BANK/TRF/0042"
    rows = list(lifecycle.transitions_of(release).order_by("at", "pk"))
    assert [(r.action, r.from_state, r.to_state, r.actor) for r in rows] == [
        ("request", "", "requested", po1),
        ("check", "requested", "checked", pmu),
        ("approve", "checked", "approved", finance),
        ("record_transfer", "approved", "transferred", finance),
    ]
    assert rows[0].comment == "Agreement signed; team in place."
    assert all(r.at is not None for r in rows)
    assert [r["remaining"] for r in releases.financier_rows(sub_project)] == [WB - 6000000, PKSF - 1125000]


@pytest.mark.parametrize(
    ("action", "persona"),
    [
        ("check", "po1"),
        ("check", "finance"),  # a finance officer is not the PMU's check
        ("approve", "pmu"),
        ("approve", "po_finance"),  # a PO's own finance officer never approves
        ("record_transfer", "pmu"),
        ("return", "po1"),
        ("withdraw", "pmu"),
    ],
)
def test_each_step_is_taken_by_its_role_only(request, sub_project, po1, pmu, finance, action, persona):
    release = request_release_in(sub_project, po1, pmu, finance, action)
    user = request.getfixturevalue(persona)
    state = release.status
    with pytest.raises(Forbidden):
        lifecycle.apply(release, action, user, comment="why", **_params(action))
    release.refresh_from_db()
    assert release.status == state


def request_release_in(sub_project, po1, pmu, finance, action) -> Release:
    release = request(po1, sub_project, 1)
    if action in ("approve", "record_transfer"):
        lifecycle.apply(release, "check", pmu)
    if action == "record_transfer":
        lifecycle.apply(release, "approve", finance)
    release.refresh_from_db()
    return release


def _params(action: str) -> dict:
    return {"transferred_on": TODAY(), "transfer_reference": "X-1"} if action == "record_transfer" else {}


def test_whoever_checked_a_release_does_not_approve_it(sub_project, po1, pmu_finance, finance):
    release = request(po1, sub_project, 1)
    lifecycle.apply(release, "check", pmu_finance)

    with pytest.raises(ActionRefused, match="segregation of duties") as refused:
        lifecycle.apply(release, "approve", pmu_finance)
    assert refused.value.code == "segregation_of_duties"
    release.refresh_from_db()
    assert release.status == ReleaseStatus.CHECKED

    lifecycle.apply(release, "approve", finance)
    release.refresh_from_db()
    assert release.status == ReleaseStatus.APPROVED


def test_the_transfer_needs_a_date_in_the_past_after_the_approval_and_a_reference(
    sub_project, po1, pmu, finance
):
    release = request(po1, sub_project, 1)
    lifecycle.apply(release, "check", pmu)
    lifecycle.apply(release, "approve", finance)
    cases = [
        ({"transferred_on": TODAY() + timedelta(days=1), "transfer_reference": "T-1"}, "future"),
        ({"transferred_on": TODAY() - timedelta(days=1), "transfer_reference": "T-1"}, "before the approval"),
        ({"transferred_on": TODAY(), "transfer_reference": "  "}, "reference"),
        ({"transferred_on": None, "transfer_reference": "T-1"}, "date of the transfer"),
    ]
    for params, message in cases:
        with pytest.raises(ActionRefused, match=message):
            lifecycle.apply(release, "record_transfer", finance, **params)
        release.refresh_from_db()
        assert release.status == ReleaseStatus.APPROVED
        assert release.transferred_on is None


def test_a_returned_request_may_be_made_again_with_a_new_reference(sub_project, po1, pmu, finance):
    release = request(po1, sub_project, 1)
    with pytest.raises(ActionRefused, match="comment"):
        lifecycle.apply(release, "return", pmu)
    lifecycle.apply(release, "return", finance, comment="Bank details of the PO missing.")
    release.refresh_from_db()
    assert release.status == ReleaseStatus.RETURNED
    # A returned release holds nothing: the whole share is available again.
    assert releases.financier_rows(sub_project)[0]["remaining"] == WB

    again = request(po1, sub_project, 1, "Bank details attached.")
    assert again.reference == f"REL-{sub_project.agreement_number}-T1-2"
    lifecycle.apply(again, "withdraw", po1)
    again.refresh_from_db()
    assert again.status == ReleaseStatus.WITHDRAWN
    assert request(po1, sub_project, 1).reference.endswith("-T1-3")


def test_a_suspended_sub_projects_release_waits(sub_project, po1, pmu):
    release = request(po1, sub_project, 1)
    SubProject.objects.filter(pk=sub_project.pk).update(status=SubProjectStatus.SUSPENDED)
    with pytest.raises(ActionRefused, match="suspended"):
        lifecycle.apply(release, "check", pmu)


# --- Who hears of it, what waits on whom ----------------------------------------------------------


def test_each_step_emails_whoever_acts_next(
    sub_project, po1, po2, pmu, finance, django_capture_on_commit_callbacks
):
    for user, address in ((po1, "po1@example.org"), (po2, "po2@example.org"), (pmu, "pmu@example.org")):
        user.email = address
        user.save()
    finance.email = "finance@example.org"
    finance.save()
    make_user("po1b", Role.PO_STAFF, po=sub_project.partner_organization, email="pop@example.org")

    with django_capture_on_commit_callbacks(execute=True):
        release = request(po1, sub_project, 1)
    # The PMU checks next; the PO's colleagues of the requester are not told what their PO did.
    assert [m.to[0] for m in mail.outbox] == ["pmu@example.org"]
    assert release.reference in mail.outbox[0].subject

    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.apply(release, "check", pmu)
    assert sorted(m.to[0] for m in mail.outbox) == [
        "finance@example.org",
        "po1@example.org",
        "pop@example.org",
    ]

    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.apply(release, "return", finance, comment="Wrong bank account.")
    # Back with the PO: its staff hear of it, with the reason; never another PO.
    assert sorted(m.to[0] for m in mail.outbox) == ["po1@example.org", "pop@example.org"]
    assert "Wrong bank account." in mail.outbox[0].body


def test_what_waits_on_whom(sub_project, po1, po2, pmu, finance):
    release = request(po1, sub_project, 1)
    assert [i.reference for i in items_for(pmu) if i.reference == release.reference]
    assert not [i for i in items_for(finance) if i.reference == release.reference]

    lifecycle.apply(release, "check", pmu)
    assert [i.what for i in items_for(finance) if i.reference == release.reference] == ["Approve the release"]
    assert not [i for i in items_for(pmu) if i.reference == release.reference]

    lifecycle.apply(release, "return", finance, comment="Missing the bank letter.")
    assert [i.what for i in items_for(po1) if i.reference == release.reference] == ["Request again"]
    assert not [i for i in items_for(po2) if i.reference == release.reference]
    request(po1, sub_project, 1)
    assert not [i for i in items_for(po1) if i.reference == release.reference]


def test_replayed_history_emails_nobody(sub_project, po1, pmu, django_capture_on_commit_callbacks):
    pmu.email = "pmu@example.org"
    pmu.save()
    release = Release.objects.create(
        sub_project=sub_project,
        partner_organization=sub_project.partner_organization,
        tranche=tranche(sub_project, 1),
        reference="REL-OLD-T1",
        amount_world_bank=1,
        justification="old",
        requested_by=po1,
        requested_at=timezone.now() - timedelta(days=30),
    )
    at = timezone.now() - timedelta(days=29)
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.replay_history(release, [("check", "requested", "checked", pmu, at, "")])
    assert mail.outbox == []


def test_a_date_before_the_start_is_not_a_milestone_date(sub_project, po1):
    with pytest.raises(ActionRefused, match="before the sub-project started"):
        lifecycle.apply(
            milestone(sub_project, 1), "report", po1, comment="done", reported_on=date(2020, 1, 1)
        )
