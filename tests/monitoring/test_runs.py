"""The aggregation runs: schedule, on demand, no overlap, failures keep the last good snapshot, the
management command, and agreement with an independent SQL count."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command
from django.db import OperationalError, connection
from django.utils import timezone

from core import jobs, lifecycle, outbox
from core.roles import Role
from enterprises.models import FacilityKind, FacilityStatus, Gender, TrainingModule
from finance.models import ExchangeRate
from monitoring import aggregation, rollup
from monitoring.models import (
    AggregationLock,
    AggregationRun,
    Dimension,
    IndicatorValue,
    RunStatus,
    RunTrigger,
    Snapshot,
)
from monitoring.reference_sql import HEADLINE, headline_counts, other_figures
from tests.core.test_jobs_sweeper import aggregation_held_by, other_session_holds
from tests.enterprises.factories import (
    AdoptionFactory,
    AttendanceFactory,
    EnterpriseFactory,
    FacilityFactory,
    FinancialSupportFactory,
    KpiReadingFactory,
    RecpProfileFactory,
    TrainingSessionFactory,
    practice,
    sub_project_for,
)
from tests.factories import make_user

AS_OF = date(2025, 6, 30)


def exact_totals(as_of=AS_OF) -> dict[str, Decimal]:
    rows = IndicatorValue.objects.filter(as_of=as_of, scope_po=None, dimension=Dimension.TOTAL)
    return dict(rows.values_list("indicator__code", "value"))


def totals(as_of=AS_OF) -> dict[str, int]:
    return {code: int(value) for code, value in exact_totals(as_of).items()}


def assert_usd(stored: Decimal, oracle: Decimal) -> None:
    """A stored USD figure (4 decimals) equals the independent computation, up to that rounding."""
    assert abs(stored - oracle) < Decimal("0.0001"), (stored, oracle)


@pytest.fixture
def programme(po_one, po_two, pmu, po1):
    """A small programme with every kind of record, including what the seed-exact rules leave out:
    sessions of modules not about climate vulnerability or not mapped, adoptions "verified" by the
    PO's own staff, facilities not confirmed, financing before the programme start, and a change of
    the BDT/USD rate between disbursements."""
    ExchangeRate.objects.all().delete()
    ExchangeRate.objects.create(valid_from=date(2023, 8, 1), bdt_per_usd=Decimal("100"))
    ExchangeRate.objects.create(valid_from=date(2025, 3, 1), bdt_per_usd=Decimal("122.5"))
    verifier = make_user("verifier", Role.VERIFIER)
    modules = {code: TrainingModule.objects.get(code=code) for code in ("CV-01", "RE-01")}
    enterprises = []
    for po in (po_one, po_two):
        sp = sub_project_for(po)
        for index in range(12):
            me = EnterpriseFactory(
                sub_project=sp,
                duplicate_of=enterprises[0] if index == 11 and enterprises else None,
                owner_gender=Gender.MALE if index % 3 else Gender.FEMALE,
                wage_employed_male=index % 4,
            )
            if index % 5 == 1:
                me.wage_employed_male += 2  # grew since registration
                me.save()
            enterprises.append(me)
            if index % 2 == 0:
                FinancialSupportFactory(
                    enterprise=me,
                    disbursed_on=date(2025, 1, 1) + timedelta(days=40 * (index % 5)),
                    financier=("world_bank", "pksf", "po")[index % 3],
                )
            if index == 9:
                FinancialSupportFactory(enterprise=me, disbursed_on=date(2023, 7, 15))  # before the start
            if index % 3 == 0:
                module = modules["CV-01"] if index % 2 == 0 else modules["RE-01"] if index != 9 else None
                session = TrainingSessionFactory(sub_project=sp, module=module)
                AttendanceFactory(
                    session=session, enterprise=me, pre_test_score=40, post_test_score=40 + index
                )
            if index % 4 == 0:
                by = (pmu, verifier, po1)[index % 3]  # po1's "verifications" must never count
                for code in ("AQ-04", "EE-01"):
                    AdoptionFactory(
                        enterprise=me, practice=practice(code), verified_by=by, verified_on=date(2025, 4, 1)
                    )
            if index % 4 == 1:
                for code in ("AQ-04", "EE-01"):
                    AdoptionFactory(enterprise=me, practice=practice(code), adopted_on=date(2025, 2, 1))
            if index % 5 == 0:
                KpiReadingFactory(enterprise=me, period=date(2025, 1, 1), is_baseline=True)
                KpiReadingFactory(enterprise=me, period=date(2025, 2, 1) + timedelta(days=31 * index))
            if index % 6 == 0:
                RecpProfileFactory(
                    enterprise=me, status="validated", validated_by=pmu, validated_on=date(2025, 5, 1)
                )
        FacilityFactory(
            sub_project=sp, operational_confirmed_by=verifier, operational_confirmed_on=date(2025, 2, 1)
        )
        FacilityFactory(sub_project=sp, kind=FacilityKind.NON_REVENUE)  # reported, not confirmed
        FacilityFactory(sub_project=sp, status=FacilityStatus.PLANNED, opened_on=None)
    return enterprises


@pytest.fixture
def running(db) -> Iterator[AggregationRun]:
    """A run in progress in a live worker, holding the aggregation lock (tests.core.test_jobs_sweeper)."""
    holder = AggregationRun.objects.create(as_of=AS_OF, trigger=RunTrigger.SCHEDULE, status=RunStatus.RUNNING)
    with aggregation_held_by(holder):
        yield holder


@pytest.mark.parametrize("as_of", [date(2025, 3, 31), AS_OF, date(2026, 12, 31)])
def test_indicator_values_equal_an_independent_sql_count(programme, as_of):
    aggregation.refresh_snapshot(as_of)

    computed = totals(as_of)
    exact = exact_totals(as_of)
    oracle = other_figures(as_of)

    assert {code: computed[code] for code in HEADLINE} == headline_counts(as_of)
    assert {code: computed[code] for code in ("CSF_REVENUE", "CSF_NON_REVENUE", "CSF_UNCONFIRMED")} == {
        code: int(oracle[code]) for code in ("CSF_REVENUE", "CSF_NON_REVENUE", "CSF_UNCONFIRMED")
    }
    assert computed["ME_RECP_2PLUS_PENDING"] == oracle["ME_RECP_2PLUS_PENDING"]
    # Money in USD, each amount at the rate of its own day (100 BDT to the USD, 122.5 from March 2025).
    assert_usd(exact["MONEY_COMMITTED"], oracle["COMMITTED_WORLD_BANK_USD"] + oracle["COMMITTED_PKSF_USD"])
    assert_usd(exact["MONEY_COMMITTED_WORLD_BANK"], oracle["COMMITTED_WORLD_BANK_USD"])
    assert_usd(exact["MONEY_COMMITTED_PKSF"], oracle["COMMITTED_PKSF_USD"])
    assert_usd(exact["MONEY_COMMITTED_PO"], oracle["COMMITTED_PO_USD"])
    assert_usd(exact["MONEY_DISBURSED"], oracle["DISBURSED_USD"])
    for financier in ("WORLD_BANK", "PKSF", "PO"):
        assert_usd(exact[f"MONEY_DISBURSED_{financier}"], oracle[f"DISBURSED_{financier}_USD"])
    # Awarded in July 2024, at 100 BDT; the disbursements on both sides of the change.
    assert exact["MONEY_COMMITTED"] * 100 == oracle["COMMITTED_WORLD_BANK_BDT"] + oracle["COMMITTED_PKSF_BDT"]
    if as_of >= date(2025, 3, 1):
        assert (
            oracle["DISBURSED_BDT"] / Decimal("122.5")
            < exact["MONEY_DISBURSED"]
            < oracle["DISBURSED_BDT"] / 100
        )
    shares = {
        row.indicator.code: (row.numerator, row.denominator)
        for row in IndicatorValue.objects.filter(
            as_of=as_of,
            indicator__code__startswith="WOMEN_LED_SHARE",
            scope_po=None,
            dimension=Dimension.TOTAL,
        ).select_related("indicator")
    }
    assert shares["WOMEN_LED_SHARE"] == (oracle["FINANCED_WOMEN_LED"], computed["ME_FINANCED"])
    assert shares["WOMEN_LED_SHARE_REGISTERED"] == (oracle["REGISTERED_WOMEN_LED"], oracle["REGISTERED"])
    for code in ("WAGE_JOBS_WOMEN", "WAGE_JOBS_MEN", "WAGE_JOBS_WOMEN_ADDED", "WAGE_JOBS_MEN_ADDED"):
        assert exact[code] == oracle[code], code


@pytest.mark.parametrize("as_of", [AS_OF, date(2026, 12, 31)])
def test_each_pos_figures_equal_its_row_of_the_programme_breakdown_by_po(programme, as_of):
    aggregation.refresh_snapshot(as_of)
    values = IndicatorValue.objects.filter(as_of=as_of).select_related("indicator", "scope_po")

    by_po_breakdown = {
        (v.indicator.code, v.key): v.value
        for v in values
        if v.scope_po is None and v.dimension == Dimension.PARTNER_ORGANIZATION
    }
    within_po = {
        (v.indicator.code, v.scope_po.code): v.value
        for v in values
        if v.scope_po is not None
        and v.dimension == Dimension.TOTAL
        and not v.indicator.code.startswith("WOMEN")
    }

    assert within_po
    assert within_po == {
        key: value for key, value in by_po_breakdown.items() if not key[0].startswith("WOMEN")
    }


def test_a_cancellation_counts_from_the_day_it_happened_in_dhaka(programme, pmu, po_two):
    """01:00 in Dhaka on 1 July is still 30 June in UTC: the sub-project was committed all of 30 June."""
    cancelled = sub_project_for(po_two)
    moment = datetime(2025, 7, 1, 1, 0, tzinfo=ZoneInfo("Asia/Dhaka"))
    # Its history as recorded then: cancelled by the PMU at that moment (the engine's one way to write a
    # past transition).
    lifecycle.replay_history(cancelled, [("cancel", "active", "cancelled", pmu, moment, "Closed down.")])

    for as_of, counted in ((date(2025, 6, 30), True), (date(2025, 7, 1), False)):
        aggregation.refresh_snapshot(as_of)
        oracle = other_figures(as_of)
        assert_usd(exact_totals(as_of)["MONEY_COMMITTED_PO"], oracle["COMMITTED_PO_USD"])
        assert exact_totals(as_of)["MONEY_COMMITTED_PO"] * 100 == oracle["COMMITTED_PO_BDT"], as_of
        with_it = oracle["COMMITTED_PO_BDT"] == 3 * cancelled.budget_po
        assert with_it is counted, as_of


def test_the_same_data_gives_the_same_figures_on_every_database(programme):
    """This exact expectation runs on SQLite (make test) and on PostgreSQL (CI)."""
    aggregation.refresh_snapshot(AS_OF)

    assert {code: value for code, value in totals().items() if code in HEADLINE} == {
        "ME_FINANCED": 12,
        # Index 6 of each PO: a climate-module session with a higher post-test (index 0 did not
        # improve; indexes 3 and 9 attended a resource-efficiency session and an unmapped one).
        "ME_CLIMATE_KNOWLEDGE": 2,
        "ME_RECP_2PLUS": 4,  # verified by the PMU or the verifier, not by po1
        "ME_KPI_TRACKING": 2,
        "RECP_PROFILES_VALIDATED": 4,
        "CSF_ESTABLISHED": 2,  # confirmed ones only
    }
    assert totals()["ME_RECP_2PLUS_PENDING"] == 8
    assert totals()["CSF_UNCONFIRMED"] == 2


def test_a_run_while_another_is_running_is_skipped_and_writes_nothing(programme, running):
    run = aggregation.run_now(as_of=AS_OF, trigger=RunTrigger.BUTTON)

    assert run.status == RunStatus.SKIPPED
    assert str(running.pk) in run.error
    assert not IndicatorValue.objects.exists()
    assert not Snapshot.objects.exists()
    assert AggregationLock.objects.get().held_by == running  # the skipped run leaves the lock alone


@pytest.mark.skipif(connection.vendor != "postgresql", reason="advisory locks are PostgreSQL's")
def test_a_run_skipped_while_an_unnamed_run_holds_the_lock_says_another_run(db):
    """A run has just taken the aggregation lock and not yet written its name on the lock row."""
    with other_session_holds((jobs.LockSpace.AGGREGATION, 0)):
        run = aggregation.run_now(as_of=AS_OF, trigger=RunTrigger.BUTTON)

    assert (run.status, run.error) == (RunStatus.SKIPPED, "another run was in progress")


def test_a_request_whose_task_cannot_be_queued_leaves_no_run_waiting_for_ever(programme):
    with (
        mock.patch.object(outbox, "enqueue", side_effect=OperationalError("connection lost")),
        pytest.raises(OperationalError),
    ):
        aggregation.request_run(as_of=AS_OF, trigger=RunTrigger.API)

    assert not AggregationRun.objects.exists()


def test_a_lock_left_by_a_dead_run_expires(programme):
    dead = AggregationRun.objects.create(as_of=AS_OF, trigger=RunTrigger.SCHEDULE, status=RunStatus.RUNNING)
    AggregationLock.objects.create(
        name=aggregation.LOCK_NAME, held_by=dead, held_until=timezone.now() - timedelta(seconds=1)
    )

    assert aggregation.run_now(as_of=AS_OF).status == RunStatus.SUCCEEDED


def test_a_failed_run_leaves_the_last_good_snapshot(programme):
    aggregation.run_now(as_of=AS_OF)
    good = totals()
    computed_at = Snapshot.objects.get(as_of=AS_OF).computed_at
    FinancialSupportFactory(enterprise=programme[1], disbursed_on=date(2025, 1, 1))

    # The run fails mid-write, after the changed values were rewritten.
    write = rollup.write

    def write_then_fail(*args, **kwargs):
        write(*args, **kwargs)
        raise RuntimeError("disk full")

    with mock.patch.object(rollup, "write", side_effect=write_then_fail):
        failed = aggregation.run_now(as_of=AS_OF)

    assert failed.status == RunStatus.FAILED
    assert "disk full" in failed.error
    assert totals() == good
    assert Snapshot.objects.get(as_of=AS_OF).computed_at == computed_at
    assert aggregation.run_now(as_of=AS_OF).status == RunStatus.SUCCEEDED  # the lock was released


def test_without_any_exchange_rate_a_run_with_money_to_convert_fails_and_keeps_the_snapshot(programme):
    """No USD figure is stored as NULL or zero: the run fails saying why, and the dashboard keeps the
    last good snapshot."""
    aggregation.run_now(as_of=AS_OF)
    good = totals()
    ExchangeRate.objects.all().delete()

    failed = aggregation.run_now(as_of=AS_OF)

    assert failed.status == RunStatus.FAILED
    assert "No BDT/USD exchange rate has been entered" in failed.error
    assert totals() == good


def test_the_command_computes_and_backfills_month_ends(programme):
    out = io.StringIO()

    call_command("aggregate_indicators", "--as-of", "2025-06-15", "--backfill", stdout=out)

    dates = list(Snapshot.objects.order_by("as_of").values_list("as_of", flat=True))
    assert dates[0] == date(2024, 7, 31)  # the first award (1 July 2024) starts the history
    assert dates[-2:] == [date(2025, 5, 31), date(2025, 6, 15)]
    assert len(dates) == 12
    assert "Indicators as of 2025-06-15" in out.getvalue()
    trend = IndicatorValue.objects.trend().filter(indicator__code="ME_FINANCED").order_by("as_of")
    assert [int(v) for v in trend.values_list("value", flat=True)] == [0] * 6 + [4, 6, 8, 8, 10, 12]


def test_the_command_says_when_it_was_skipped(programme, running):
    with pytest.raises(CommandError, match="Skipped"):
        call_command("aggregate_indicators", stdout=io.StringIO())


def test_the_nightly_schedule_is_configured(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["nightly-indicators"]

    assert entry["task"] == "monitoring.tasks.nightly_aggregation"
    assert (entry["schedule"].hour, entry["schedule"].minute) == ({1}, {30})


def test_the_pmu_button_queues_a_run(client, pmu, programme, django_capture_on_commit_callbacks):
    client.force_login(pmu)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/dashboard/runs/new/")

    run = AggregationRun.objects.get()
    assert response.status_code == 302
    assert (run.trigger, run.requested_by, run.status) == (RunTrigger.BUTTON, pmu, RunStatus.SUCCEEDED)
    assert Snapshot.objects.filter(as_of=timezone.localdate()).exists()


@pytest.mark.parametrize("persona", ["po1", "wb", "tec1", "approver"])
def test_only_pmu_triggers_runs(db, client, request, persona):
    client.force_login(request.getfixturevalue(persona))

    assert client.post("/dashboard/runs/new/").status_code == 403
    assert not AggregationRun.objects.exists()


@pytest.mark.real_services
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_run_requested_by_api_runs_on_the_real_worker(api, pmu, po_one):
    FinancialSupportFactory(
        enterprise=EnterpriseFactory(sub_project=sub_project_for(po_one)), disbursed_on=date(2025, 1, 1)
    )

    response = api.as_user(pmu).post("/api/v1/aggregation-runs/", {"as_of": "2025-06-30"})

    assert response.status_code == 202
    run_id = response.json()["id"]
    for _attempt in range(60):
        status = api.get(f"/api/v1/aggregation-runs/{run_id}/").json()["status"]
        if status not in {"queued", "running"}:
            break
        time.sleep(0.5)
    assert status == "succeeded"
    assert totals()["ME_FINANCED"] == 1


# --- A failed run is run again; nothing stays running ---------------------------------------------


def failed_run(as_of=AS_OF) -> AggregationRun:
    with mock.patch.object(aggregation, "refresh_snapshot", side_effect=RuntimeError("disk full")):
        return aggregation.run_now(as_of=as_of, trigger=RunTrigger.SCHEDULE)


def test_the_pmu_runs_a_failed_run_again_from_the_runs_page(
    client, pmu, programme, django_capture_on_commit_callbacks
):
    failed = failed_run(date(2025, 3, 31))
    client.force_login(pmu)

    page = client.get("/dashboard/runs/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/dashboard/runs/new/", {"again": failed.pk}, follow=True)

    again = AggregationRun.objects.exclude(pk=failed.pk).get()
    assert f'data-testid="run-again-{failed.pk}"' in page
    assert (again.as_of, again.trigger, again.requested_by) == (date(2025, 3, 31), RunTrigger.BUTTON, pmu)
    assert again.status == RunStatus.SUCCEEDED
    assert f"Run {failed.pk} is being run again as of 2025-03-31" in response.content.decode()
    assert AggregationRun.objects.get(pk=failed.pk).status == RunStatus.FAILED  # its record stays


def test_a_run_that_succeeded_or_runs_is_not_run_again_and_only_the_pmu_may(client, pmu, wb, programme):
    done = aggregation.run_now(as_of=AS_OF)
    failed = failed_run()
    client.force_login(pmu)

    page = client.get("/dashboard/runs/").content.decode()
    refused = client.post("/dashboard/runs/new/", {"again": done.pk}, follow=True).content.decode()
    unknown = client.post("/dashboard/runs/new/", {"again": 999999})
    not_an_id = client.post("/dashboard/runs/new/", {"again": "9" * 40})
    client.force_login(wb)
    by_wb = client.post("/dashboard/runs/new/", {"again": failed.pk})
    wb_page = client.get("/dashboard/runs/").content.decode()

    assert f'data-testid="run-again-{done.pk}"' not in page
    assert f"Run {done.pk} has the status “succeeded”: only a failed or skipped run can be run" in refused
    assert (unknown.status_code, not_an_id.status_code, by_wb.status_code) == (404, 404, 403)
    assert "run-again-" not in wb_page
    assert AggregationRun.objects.count() == 2


def test_the_api_runs_a_failed_run_again(api, pmu, wb, programme, django_capture_on_commit_callbacks):
    failed = failed_run()
    done = aggregation.run_now(as_of=AS_OF)

    by_wb = api.as_user(wb).post(f"/api/v1/aggregation-runs/{failed.pk}/run-again/")
    on_done = api.as_user(pmu).post(f"/api/v1/aggregation-runs/{done.pk}/run-again/")
    unknown = api.post("/api/v1/aggregation-runs/999999/run-again/")
    assert (by_wb.status_code, on_done.status_code, unknown.status_code) == (403, 409, 404)
    assert on_done.json()["code"] == "wrong_state"
    assert AggregationRun.objects.count() == 2

    with django_capture_on_commit_callbacks(execute=True):
        again = api.post(f"/api/v1/aggregation-runs/{failed.pk}/run-again/")

    assert again.status_code == 202
    body = api.get(f"/api/v1/aggregation-runs/{again.json()['id']}/").json()
    assert (body["as_of"], body["trigger"], body["status"]) == ("2025-06-30", "api", "succeeded")


def test_the_runs_page_stops_polling_once_the_sweeper_fails_a_run_whose_worker_died(
    client, pmu, programme, settings
):
    from core import jobs

    settings.JOB_HEARTBEAT_TIMEOUT_SECONDS = 60
    stuck = lifecycle.apply(
        AggregationRun.objects.create(as_of=AS_OF, trigger=RunTrigger.SCHEDULE), "start", None
    )
    AggregationRun.objects.filter(pk=stuck.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=5))
    client.force_login(pmu)
    htmx = {"HX-Request": "true"}

    polling = client.get("/dashboard/runs/", headers=htmx).content.decode()
    jobs.sweep()
    settled = client.get("/dashboard/runs/", headers=htmx).content.decode()

    assert 'hx-trigger="every 3s"' in polling
    assert "hx-trigger" not in settled
    assert "no sign of life since" in settled
    assert f'data-testid="run-again-{stuck.pk}"' in settled
    assert aggregation.run_now(as_of=AS_OF).status == RunStatus.SUCCEEDED
