"""The dashboard and the indicators API: read from snapshots only, scoped to the user's PO, with
targets and milestones the PMU edits."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from monitoring import aggregation
from monitoring.models import AggregationRun, Indicator, IndicatorValue, Milestone, RunStatus
from tests.assertions import field_errors
from tests.core.test_jobs_sweeper import aggregation_held_by
from tests.enterprises.factories import EnterpriseFactory, FinancialSupportFactory, sub_project_for

AS_OF = date(2025, 6, 30)


@pytest.fixture
def snapshot(po_one, po_two):
    for po, count in ((po_one, 3), (po_two, 2)):
        sp = sub_project_for(po)
        for _index in range(count):
            FinancialSupportFactory(
                enterprise=EnterpriseFactory(sub_project=sp), disbursed_on=date(2025, 1, 1)
            )
    aggregation.refresh_snapshot(date(2025, 3, 31))
    aggregation.refresh_snapshot(AS_OF)


def test_pmu_sees_the_programme_figures_against_targets(client, pmu, snapshot):
    client.force_login(pmu)

    page = client.get("/dashboard/").content.decode()

    assert 'data-testid="figure-ME_FINANCED">5<' in page
    assert "0.0 % of the programme target of 80,000" in page
    assert "Figures as of 30 Jun 2025" in page


def test_the_dashboard_reads_snapshots_in_a_few_queries(client, pmu, snapshot, django_assert_max_num_queries):
    client.force_login(pmu)

    # 10 for the results; 1 for the grievance panel (grievances.statistics.dashboard_panel: one
    # aggregate query of indexed counts for the current and last quarter, issue 13); 1 for the header's
    # ready-downloads notice (core.export_jobs, issue 15).
    with django_assert_max_num_queries(12):
        response = client.get("/dashboard/", {"indicator": "ME_FINANCED"})

    assert response.status_code == 200


def test_the_dashboard_never_aggregates_on_the_request(client, pmu, snapshot):
    client.force_login(pmu)
    FinancialSupportFactory(disbursed_on=date(2025, 1, 1))  # new data, not yet in any snapshot

    page = client.get("/dashboard/").content.decode()

    assert 'data-testid="figure-ME_FINANCED">5<' in page


def test_po_staff_see_their_own_po_only(client, po1, po2, snapshot):
    client.force_login(po1)

    page = client.get("/dashboard/").content.decode()
    ignored = client.get("/dashboard/", {"po": "PO-T02"}).content.decode()

    assert 'data-testid="figure-ME_FINANCED">3<' in page
    assert "Results of Padma Test Sangstha" in page
    assert 'data-testid="figure-ME_FINANCED">3<' in ignored  # PO staff cannot switch to another PO
    assert "PO-T02" not in page


def test_programme_roles_can_look_at_one_po(client, wb, snapshot):
    client.force_login(wb)

    page = client.get("/dashboard/", {"po": "PO-T02"}).content.decode()

    assert 'data-testid="figure-ME_FINANCED">2<' in page
    assert client.get("/dashboard/", {"po": "NOPE"}).status_code == 404


def test_tec_members_have_no_dashboard(client, tec1, snapshot):
    client.force_login(tec1)

    assert client.get("/dashboard/").status_code == 403


def test_an_older_snapshot_can_be_chosen(client, pmu, snapshot):
    client.force_login(pmu)

    page = client.get("/dashboard/", {"as_of": "2025-03-31"}).content.decode()

    assert "Figures as of 31 Mar 2025" in page
    assert 'data-testid="as-of-note"' not in page  # exactly the date asked for


def test_any_date_shows_the_latest_snapshot_before_it_and_says_so(client, pmu, snapshot):
    client.force_login(pmu)

    page = client.get("/dashboard/", {"as_of": "2025-05-15"}).content.decode()

    assert "Figures as of 31 Mar 2025" in page
    assert "Figures of 2025-03-31, the latest stored on or before 2025-05-15." in page
    assert "Compute as of 15 May 2025" in page  # the PMU can have that exact date computed


def test_a_date_before_any_snapshot_is_computed_on_demand(client, pmu, snapshot):
    client.force_login(pmu)

    page = client.get("/dashboard/", {"as_of": "2024-12-31"}).content.decode()

    # Without a broker the run happens at once; the snapshot of that exact date is then shown.
    assert "Figures as of 31 Dec 2024" in page
    assert AggregationRun.objects.get(as_of=date(2024, 12, 31)).trigger == "on_demand"


def test_a_date_before_the_programme_start_is_refused_clearly(client, pmu, snapshot):
    client.force_login(pmu)

    page = client.get("/dashboard/", {"as_of": "2023-07-31"}).content.decode()

    assert (
        "The “as of” date (2023-07-31) is too early: the programme began on 2023-08-01 and there are no "
        "results before that date." in page
    )
    assert "Figures as of 30 Jun 2025" in page  # the latest figures stay on screen
    assert not AggregationRun.objects.exists()


def test_figures_drill_down_to_the_enterprises(client, pmu, snapshot):
    client.force_login(pmu)

    page = client.get("/dashboard/", {"indicator": "ME_FINANCED"}).content.decode()

    assert "/enterprises/?indicator=ME_FINANCED&amp;as_of=2025-06-30" in page
    assert "district=BD3048" in page


def test_no_snapshot_yet_says_so(client, pmu, db):
    client.force_login(pmu)

    assert "No figures have been computed yet." in client.get("/dashboard/").content.decode()


# --- Targets and milestones -----------------------------------------------------------------------


def _targets_post(milestone: tuple[str, str, str] | None = None, **changes):
    """The targets form as posted, with `changes` to targets by indicator code and at most one new
    milestone (indicator code, year, target)."""
    data = {
        "milestones-TOTAL_FORMS": "1",
        "milestones-INITIAL_FORMS": "0",
        "milestones-MIN_NUM_FORMS": "0",
        "milestones-MAX_NUM_FORMS": "1000",
    }
    for indicator in Indicator.objects.all():
        data[f"target-{indicator.pk}-target"] = changes.get(indicator.code, indicator.target or "")
    if milestone:
        code, year, target = milestone
        data |= {
            "milestones-0-indicator": Indicator.objects.get(code=code).pk,
            "milestones-0-year": year,
            "milestones-0-target": target,
        }
    return data


def test_pmu_edits_a_target_and_adds_a_milestone(client, pmu, db):
    client.force_login(pmu)

    response = client.post(
        "/dashboard/targets/", _targets_post(("ME_FINANCED", "2025", "20000"), ME_FINANCED="85000")
    )

    assert response.status_code == 302
    financed = Indicator.objects.get(code="ME_FINANCED")
    assert financed.target == Decimal("85000")
    assert financed.history.first().history_user == pmu
    assert Milestone.objects.get().target == 20000


def test_a_bad_milestone_is_refused_and_nothing_changes(client, pmu, db):
    client.force_login(pmu)

    response = client.post(
        "/dashboard/targets/", _targets_post(("ME_FINANCED", "1999", "-5"), ME_FINANCED="85000")
    )

    page = response.content.decode()
    assert "Enter a year of the programme" in page
    assert "Ensure this value is greater than or equal to 0." in page
    assert Indicator.objects.get(code="ME_FINANCED").target == 80000
    assert not Milestone.objects.exists()


def test_a_second_milestone_for_the_same_year_is_refused(client, pmu, db):
    financed = Indicator.objects.get(code="ME_FINANCED")
    existing = Milestone.objects.create(indicator=financed, year=2025, target=20000)
    client.force_login(pmu)
    data = _targets_post() | {
        "milestones-TOTAL_FORMS": "2",
        "milestones-INITIAL_FORMS": "1",
        "milestones-0-id": existing.pk,
        "milestones-0-indicator": financed.pk,
        "milestones-0-year": "2025",
        "milestones-0-target": "20000",
        "milestones-1-indicator": financed.pk,
        "milestones-1-year": "2025",
        "milestones-1-target": "30000",
    }

    response = client.post("/dashboard/targets/", data)

    assert response.status_code == 200
    page = response.content.decode()
    assert "This indicator already has a milestone for that year." in page
    assert "Nothing has been saved yet." in page
    assert list(Milestone.objects.values_list("year", "target")) == [(2025, 20000)]


@pytest.mark.parametrize("persona", ["po1", "wb", "approver", "tec1"])
def test_only_pmu_edits_targets(db, client, request, persona):
    client.force_login(request.getfixturevalue(persona))

    assert client.post("/dashboard/targets/", _targets_post(ME_FINANCED="1")).status_code == 403
    assert Indicator.objects.get(code="ME_FINANCED").target == 80000


# --- API ------------------------------------------------------------------------------------------


def test_api_lists_indicators_with_targets_and_latest_values(api, pmu, snapshot):
    body = api.as_user(pmu).get("/api/v1/indicators/").json()

    financed = next(row for row in body if row["code"] == "ME_FINANCED")
    assert financed["target"] == "80000.00"
    assert financed["latest"]["value"] == "5.0000"
    assert financed["latest"]["as_of"] == "2025-06-30"


def test_api_detail_has_breakdowns_and_history(api, pmu, snapshot):
    body = api.as_user(pmu).get("/api/v1/indicators/ME_FINANCED/").json()

    assert {row["key"]: row["value"] for row in body["breakdowns"]["po"]} == {
        "PO-T01": "3.0000",
        "PO-T02": "2.0000",
    }
    assert body["history"] == [
        {"as_of": "2025-03-31", "value": "5.0000"},
        {"as_of": "2025-06-30", "value": "5.0000"},
    ]


def test_api_gives_po_staff_their_own_figures(api, po1, snapshot):
    api.as_user(po1)

    body = api.get("/api/v1/indicators/ME_FINANCED/").json()

    assert body["latest"]["value"] == "3.0000"
    assert "po" not in body["breakdowns"]
    assert api.get("/api/v1/indicators/", {"po": "PO-T02"}).status_code == 404


def test_api_target_changes_are_pmu_only(api, pmu, po1, db):
    assert api.as_user(po1).patch("/api/v1/indicators/ME_FINANCED/", {"target": "1"}).status_code == 403
    response = api.as_user(pmu).patch("/api/v1/indicators/ME_FINANCED/", {"target": "90000"})

    assert response.status_code == 200
    assert Indicator.objects.get(code="ME_FINANCED").target == 90000


def test_api_run_requests_are_pmu_only(api, wb, db):
    assert api.as_user(wb).post("/api/v1/aggregation-runs/", {}).status_code == 403
    assert api.get("/api/v1/aggregation-runs/").status_code == 200
    assert not AggregationRun.objects.exists()


def test_po_staff_see_no_aggregation_runs(client, api, po1, snapshot):
    aggregation.run_now(as_of=AS_OF)
    client.force_login(po1)

    assert client.get("/dashboard/runs/").status_code == 403
    assert api.as_user(po1).get("/api/v1/aggregation-runs/").json()["count"] == 0


def test_tec_members_have_no_indicators_api(api, tec1, snapshot):
    assert api.as_user(tec1).get("/api/v1/indicators/").status_code == 403
    assert api.get("/api/v1/indicators/ME_FINANCED/").status_code == 403


def test_api_refuses_a_bad_date_or_an_unknown_po(api, pmu, snapshot):
    api.as_user(pmu)

    bad = api.get("/api/v1/indicators/", {"as_of": "30/06/2025"})
    early = api.get("/api/v1/indicators/", {"as_of": "2023-07-01"})

    assert bad.status_code == 400
    assert "as_of" in bad.json()["fields"]
    assert early.status_code == 400
    assert "programme began on 2023-08-01" in field_errors(early)["as_of"][0]
    assert api.get("/api/v1/indicators/", {"po": "NOPE"}).status_code == 404


@pytest.mark.parametrize(
    ("asked", "used"),
    [
        ("2025-03-31", "2025-03-31"),
        ("2025-05-31", "2025-03-31"),
        ("2025-06-30", "2025-06-30"),
        ("2026-01-01", "2025-06-30"),
    ],
)
def test_api_answers_any_date_with_the_snapshot_it_used(api, pmu, snapshot, asked, used):
    response = api.as_user(pmu).get("/api/v1/indicators/ME_FINANCED/", {"as_of": asked})

    assert response.status_code == 200
    assert response.json()["latest"]["as_of"] == used
    assert response.json()["latest"]["requested_as_of"] == asked
    assert response.json()["latest"]["value"] == "5.0000"


def test_api_computes_a_date_without_any_snapshot_before_it(api, pmu, snapshot):
    response = api.as_user(pmu).get("/api/v1/indicators/", {"as_of": "2024-09-30"})

    assert response.status_code == 200
    financed = next(row for row in response.json() if row["code"] == "ME_FINANCED")
    assert financed["latest"]["as_of"] == "2024-09-30"
    assert financed["latest"]["value"] == "0.0000"  # the disbursements came in 2025


def test_api_says_202_while_a_date_is_still_being_computed(api, pmu, snapshot, settings):
    from smart_portal.celery import app

    app.conf.task_always_eager = False  # a real broker would run it later: nothing runs here
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr("monitoring.tasks.run_aggregation.delay", lambda run_id: None)
            first = api.as_user(pmu).get("/api/v1/indicators/", {"as_of": "2024-09-30"})
            again = api.get("/api/v1/indicators/ME_FINANCED/", {"as_of": "2024-09-30"})
    finally:
        app.conf.task_always_eager = True

    assert first.status_code == 202
    assert first.json()["status"] == "queued"
    assert again.status_code == 202
    assert again.json()["run"] == first.json()["run"]  # one run per date, however often it is asked
    assert AggregationRun.objects.filter(as_of=date(2024, 9, 30)).count() == 1


def test_snapshot_values_hold_per_po_breakdowns(snapshot, po_one):
    rows = IndicatorValue.objects.filter(as_of=AS_OF, scope_po=po_one, indicator__code="ME_FINANCED")

    assert rows.get(dimension="total").value == 3


def test_the_drill_down_lists_the_enterprises_behind_a_figure(client, pmu, po1, po_one):
    sp = sub_project_for(po_one)
    financed = EnterpriseFactory(sub_project=sp, name="Financed Shoe Works")
    FinancialSupportFactory(enterprise=financed, disbursed_on=date(2025, 1, 1))
    late = EnterpriseFactory(sub_project=sp, name="Financed Later Works")
    FinancialSupportFactory(enterprise=late, disbursed_on=date(2025, 9, 1))
    EnterpriseFactory(sub_project=sp, name="Never Financed Works")
    client.force_login(pmu)

    page = client.get("/enterprises/", {"indicator": "ME_FINANCED", "as_of": "2025-06-30"}).content.decode()
    api = client.get("/api/v1/enterprises/", {"indicator": "ME_FINANCED", "as_of": "2025-06-30"}).json()

    assert "Financed Shoe Works" in page
    assert "Financed Later Works" not in page
    assert "Never Financed Works" not in page
    assert [row["name"] for row in api["results"]] == ["Financed Shoe Works"]


def test_a_pos_figures_are_measured_against_what_its_sub_projects_committed(client, po1, snapshot, po_one):
    from subprojects.models import CommittedResult, SubProject

    proposal = SubProject.objects.get(partner_organization=po_one).proposal
    CommittedResult.objects.create(proposal=proposal, indicator="ME_FINANCED", target=10)
    client.force_login(po1)

    page = client.get("/dashboard/").content.decode()

    assert "30.0 % of the 10 committed in the PO's approved proposals" in page
    assert "of the programme target of 80,000" not in page
    assert "Share of the programme's target: 0.00 %" in page  # shown, and labelled as such


def test_a_date_that_cannot_be_computed_now_says_so_and_can_be_asked_again(api, client, pmu, snapshot):
    holder = AggregationRun.objects.create(as_of=AS_OF, trigger="schedule", status=RunStatus.RUNNING)
    client.force_login(pmu)

    with aggregation_held_by(holder):
        page = client.get("/dashboard/", {"as_of": "2024-12-31"}).content.decode()
        answer = api.as_user(pmu).get("/api/v1/indicators/", {"as_of": "2024-12-31"})

    assert "computing them did not succeed" in page
    assert answer.status_code == 409  # nothing is being computed for it: not "accepted"
    assert answer.json()["status"] == "skipped"
    assert api.get("/api/v1/indicators/", {"as_of": "2024-12-31"}).status_code == 200  # asked again: computed


def test_a_date_after_today_is_refused_everywhere(api, client, pmu, snapshot):
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    client.force_login(pmu)

    page = client.get("/dashboard/", {"as_of": tomorrow}).content.decode()
    button = client.post("/dashboard/runs/new/", {"as_of": tomorrow}, follow=True).content.decode()
    api.as_user(pmu)
    indicators = api.get("/api/v1/indicators/", {"as_of": tomorrow})
    run = api.post("/api/v1/aggregation-runs/", {"as_of": tomorrow})

    assert "is after today" in page
    assert "is after today" in button
    assert indicators.status_code == 400
    assert "is after today" in field_errors(indicators)["as_of"][0]
    assert run.status_code == 400
    assert "is after today" in field_errors(run)["as_of"][0]
    assert not AggregationRun.objects.exists()  # a future snapshot would pass for the latest figures


def test_the_runs_api_refuses_a_date_before_the_programme(api, pmu, db):
    response = api.as_user(pmu).post("/api/v1/aggregation-runs/", {"as_of": "2023-07-31"})

    assert response.status_code == 400
    assert "programme began" in field_errors(response)["as_of"][0]
    assert not AggregationRun.objects.exists()


def test_a_snapshot_computed_before_an_indicator_existed_shows_no_figure_for_it(api, client, pmu, snapshot):
    IndicatorValue.objects.filter(indicator__code="WAGE_JOBS_MEN").delete()  # as in an older snapshot
    client.force_login(pmu)

    page = client.get("/dashboard/").content.decode()
    latest = {row["code"]: row["latest"] for row in api.as_user(pmu).get("/api/v1/indicators/").json()}

    assert 'data-testid="figure-WAGE_JOBS_MEN">—<' in page  # not a zero
    assert latest["WAGE_JOBS_MEN"] is None
    assert latest["ME_FINANCED"]["value"] == "5.0000"
