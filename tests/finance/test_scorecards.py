"""PO scorecards: the measures against hand-built data, the composite with the PMU's weights, the
ranking, the scheduled task and the cost of computing (finance.scorecards)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.errors import Forbidden
from enterprises.models import Gender
from finance import scorecards
from finance.models.scorecards import Scorecard, ScorecardMeasure, ScorecardWeight
from finance.tasks import compute_scorecards
from monitoring.quality import QualityRow
from subprojects.models import CommittedResult
from tests.enterprises.factories import (
    AdoptionFactory,
    EnterpriseFactory,
    FinancialSupportFactory,
    KpiReadingFactory,
    practice,
)
from tests.factories import PartnerOrganizationFactory
from tests.finance.factories import funded_sub_project

TODAY = date(2025, 8, 15)  # the third quarter of 2025 is under way
Q2 = date(2025, 6, 30)
Q1 = date(2025, 3, 31)


@dataclass
class Figures:
    outstanding: Decimal
    par30: Decimal
    par30_percent: Decimal | None
    loans: int


@pytest.fixture
def other_parts(monkeypatch):
    """The money parts' figures (finance.progress, finance.spending, finance.portfolio), set per test."""
    figures: dict[str, dict] = {"utilisation": {}, "timeliness": {}, "portfolio": {}}
    monkeypatch.setattr("finance.progress.utilisation_by_po", lambda as_of: figures["utilisation"])
    monkeypatch.setattr("finance.spending.timeliness_by_po", lambda quarter_end: figures["timeliness"])
    monkeypatch.setattr("finance.portfolio.portfolio_by_po", lambda as_of: figures["portfolio"])
    return figures


def commit(sub_project, **targets: int) -> None:
    for indicator, target in targets.items():
        CommittedResult.objects.create(proposal=sub_project.proposal, indicator=indicator, target=target)


def financed_me(sub_project, gender=Gender.FEMALE, on=date(2024, 10, 1)):
    me = EnterpriseFactory(sub_project=sub_project, owner_gender=gender)
    FinancialSupportFactory(enterprise=me, disbursed_on=on)
    return me


def measures_of(po, quarter=Q2) -> dict:
    return Scorecard.objects.get(partner_organization=po, quarter_end=quarter).measures


# --- Quarters ---------------------------------------------------------------------------------------


def test_quarters():
    assert scorecards.quarter_end_of(date(2025, 2, 10)) == Q1
    assert scorecards.quarter_end_of(date(2025, 12, 1)) == date(2025, 12, 31)
    assert scorecards.previous_quarter_end(Q1) == date(2024, 12, 31)
    assert scorecards.last_complete_quarter_end(TODAY) == Q2
    assert scorecards.quarters_to_compute(TODAY) == [Q2, date(2025, 9, 30)]
    assert scorecards.quarter_label(Q2, TODAY) == "2025 Q2"
    assert scorecards.quarter_label(date(2025, 9, 30), TODAY) == "2025 Q3 (to date)"


def test_timeliness_is_read_up_to_the_latest_quarter_whose_reports_were_due(settings):
    settings.SPENDING_REPORT_DUE_DAYS = 30
    assert scorecards.timeliness_date(Q2, TODAY) == Q2  # due 30 July
    assert scorecards.timeliness_date(date(2025, 9, 30), TODAY) == Q2  # to date
    assert scorecards.timeliness_date(Q2, date(2025, 7, 10)) == Q1  # Q2's reports not due yet


# --- Measures ---------------------------------------------------------------------------------------


def test_measures_from_hand_built_data(po_one, pmu, verifier, other_parts):
    sub_project = funded_sub_project(po_one)  # proposal: 400 MEs targeted, 120 women-led
    commit(sub_project, ME_FINANCED=4, ME_RECP_2PLUS=2, ME_KPI_TRACKING=4)
    woman, _other_woman = financed_me(sub_project), financed_me(sub_project)
    financed_me(sub_project, gender=Gender.MALE)
    financed_me(sub_project, on=date(2025, 7, 2))  # after the quarter: not counted
    EnterpriseFactory(sub_project=sub_project)  # registered, never financed
    # Two practices verified independently: counts. A third reported, unverified.
    AdoptionFactory(
        enterprise=woman, practice=practice("AQ-04"), verified_by=pmu, verified_on=date(2025, 3, 1)
    )
    AdoptionFactory(
        enterprise=woman, practice=practice("EE-01"), verified_by=verifier, verified_on=date(2025, 3, 1)
    )
    AdoptionFactory(enterprise=_other_woman, practice=practice("EE-01"))
    KpiReadingFactory(enterprise=woman, period=date(2025, 1, 1), is_baseline=True)
    KpiReadingFactory(enterprise=woman, period=date(2025, 4, 1))
    other_parts["utilisation"] = {po_one.pk: (Decimal("1000000"), Decimal("600000"))}
    other_parts["timeliness"] = {po_one.pk: (4, 3)}
    other_parts["portfolio"] = {po_one.pk: Figures(Decimal("900000"), Decimal("112500"), Decimal("12.5"), 10)}

    assert scorecards.compute(Q2, today=TODAY) == 1

    measures = measures_of(po_one)
    assert measures["mes_reached"] == {"value": 3, "target": 4, "score": 75.0}
    assert measures["women_led"] == {"value": 2, "target": 120, "score": 1.7}
    assert measures["recp_verified"] == {"value": 1, "target": 2, "score": 50.0}
    assert measures["kpi_tracking"] == {"value": 1, "target": 4, "score": 25.0}
    assert measures["fund_utilisation"] == {"value": "600000.00", "target": "1000000.00", "score": 60.0}
    assert measures["reporting_timeliness"] == {"value": 3, "target": 4, "score": 75.0}
    assert measures["portfolio_quality"]["score"] == 75.0  # 100 - 2 x 12.5
    assert measures["portfolio_quality"]["value"] == "12.50"
    # Data quality: 2 of 3 adoptions verified (66.7) and the ME with a baseline read since (100);
    # no verification check done yet, no duplicate pending.
    quality = measures["data_quality"]
    assert quality["score"] == 83.4
    assert quality["parts"] == {
        "verification": None,
        "adoptions_verified": 66.7,
        "readings_up_to_date": 100.0,
        "duplicates_pending": 0,
    }


def test_without_committed_mes_the_proposals_mes_targeted_count(po_one, other_parts):
    """Per sub-project: its ME_FINANCED commitment, or its proposal's MEs targeted if it has none."""
    committed = funded_sub_project(po_one)
    commit(committed, ME_FINANCED=10)
    funded_sub_project(po_one)  # no commitment: its 400 MEs targeted
    for _ in range(5):
        financed_me(committed)

    scorecards.compute(Q2, today=TODAY)

    measures = measures_of(po_one)
    assert measures["mes_reached"] == {"value": 5, "target": 410, "score": 1.2}
    assert measures["women_led"]["target"] == 240


def test_measures_that_do_not_apply_are_null(po_one, other_parts):
    """Nothing committed (RECP, KPI), nothing released, no report due, no loans, no data-quality figure."""
    funded_sub_project(po_one, proposal__mes_targeted=0, proposal__women_led_mes_targeted=0)
    other_parts["portfolio"] = {po_one.pk: Figures(Decimal(0), Decimal(0), None, 0)}

    scorecards.compute(Q2, today=TODAY)

    measures = measures_of(po_one)
    for measure in ScorecardMeasure.values:
        assert measures[measure]["score"] is None, measure
    assert scorecards.composite(measures, scorecards.current_weights()) is None


def test_scores_are_capped_at_100(po_one, other_parts):
    sub_project = funded_sub_project(po_one)
    commit(sub_project, ME_FINANCED=1)
    financed_me(sub_project), financed_me(sub_project)
    other_parts["utilisation"] = {po_one.pk: (Decimal("100"), Decimal("150"))}  # overspent
    other_parts["portfolio"] = {po_one.pk: Figures(Decimal(1), Decimal(1), Decimal("60"), 3)}

    scorecards.compute(Q2, today=TODAY)

    measures = measures_of(po_one)
    assert measures["mes_reached"]["score"] == 100.0
    assert measures["fund_utilisation"]["score"] == 100.0
    assert measures["portfolio_quality"]["score"] == 0.0  # 100 - 120, floored


def test_only_pos_with_an_awarded_sub_project_get_a_scorecard(po_one, po_two, other_parts):
    funded_sub_project(po_one)
    funded_sub_project(po_two, award_date=date(2025, 7, 10))  # awarded after the quarter

    assert scorecards.compute(Q2, today=TODAY) == 1
    assert list(Scorecard.objects.values_list("partner_organization__code", flat=True)) == ["PO-T01"]
    assert scorecards.compute(date(2025, 9, 30), today=TODAY) == 2


def test_computing_again_updates_the_same_scorecard(po_one, other_parts):
    sub_project = funded_sub_project(po_one)
    commit(sub_project, ME_FINANCED=4)
    scorecards.compute(Q2, today=TODAY)
    first = Scorecard.objects.get()
    financed_me(sub_project)

    scorecards.compute(Q2, today=TODAY)

    again = Scorecard.objects.get()
    assert again.pk == first.pk
    assert again.measures["mes_reached"]["value"] == 1
    assert again.computed_at >= first.computed_at


def test_a_date_that_is_not_a_quarters_end_is_refused(db):
    with pytest.raises(ValidationError):
        scorecards.compute(date(2025, 6, 29), today=TODAY)
    assert not Scorecard.objects.exists()


def test_data_quality_formula():
    from core.models import PartnerOrganization

    row = QualityRow(po=PartnerOrganization(code="X"))
    assert scorecards.data_quality(row) == (
        None,
        {
            "verification": None,
            "adoptions_verified": None,
            "readings_up_to_date": None,
            "duplicates_pending": 0,
        },
    )
    row = QualityRow(
        po=PartnerOrganization(code="X"),
        confirmation_rate=Decimal("90.0"),
        adoptions_reported=10,
        adoptions_unverified=2,
        mes_with_baseline=4,
        readings_overdue=1,
        duplicates_pending=3,
    )
    # mean(90, 80, 75) = 81.67, minus 2 x 3 pending duplicates
    assert scorecards.data_quality(row)[0] == 75.7
    row.duplicates_pending = 50  # the penalty stops at 20 points
    assert scorecards.data_quality(row)[0] == 61.7


def test_portfolio_score():
    assert scorecards.portfolio_score(None) is None
    assert scorecards.portfolio_score(Decimal("0")) == 100.0
    assert scorecards.portfolio_score(Decimal("7.25")) == 85.5
    assert scorecards.portfolio_score(Decimal("51")) == 0.0


# --- Composite and ranking --------------------------------------------------------------------------


def card(po, quarter=Q2, **scores) -> Scorecard:
    return Scorecard.objects.create(
        partner_organization=po,
        quarter_end=quarter,
        measures={
            measure: {"value": None, "target": None, "score": scores.get(measure)}
            for measure in ScorecardMeasure.values
        },
        computed_at=timezone.now(),
    )


def set_weights_directly(**weights: int) -> None:
    for measure in ScorecardMeasure.values:
        ScorecardWeight.objects.update_or_create(
            measure=measure, defaults={"weight": weights.get(measure, 0)}
        )


def test_composite_counts_only_the_measures_that_apply():
    weights = {"mes_reached": 20, "fund_utilisation": 10, "portfolio_quality": 10}
    measures = {
        "mes_reached": {"score": 80.0},
        "fund_utilisation": {"score": 50.0},
        "portfolio_quality": {"score": None},  # no loans: left out, weight and all
    }
    assert scorecards.composite(measures, weights) == 70.0  # (20x80 + 10x50) ÷ 30


def test_changed_weights_re_rank_without_recomputing(po_one, po_two):
    card(po_one, mes_reached=90.0, fund_utilisation=20.0)
    card(po_two, mes_reached=40.0, fund_utilisation=95.0)
    set_weights_directly(mes_reached=30, fund_utilisation=10)
    computed = list(Scorecard.objects.values_list("pk", "computed_at"))

    before = scorecards.ranking(Q2)
    assert [(row.po.code, row.rank, row.composite) for row in before] == [
        ("PO-T01", 1, 72.5),
        ("PO-T02", 2, 53.8),
    ]

    set_weights_directly(mes_reached=10, fund_utilisation=30)

    after = scorecards.ranking(Q2)
    assert [(row.po.code, row.rank, row.composite) for row in after] == [
        ("PO-T02", 1, 81.3),
        ("PO-T01", 2, 37.5),
    ]
    assert list(Scorecard.objects.values_list("pk", "computed_at")) == computed


def test_ranking_order_ties_and_unranked(po_one, po_two):
    third = PartnerOrganizationFactory(code="PO-T03")
    fourth = PartnerOrganizationFactory(code="PO-T04")
    set_weights_directly(mes_reached=10)
    card(fourth, mes_reached=50.0)
    card(po_two, mes_reached=80.0)
    card(po_one, mes_reached=80.0)
    card(third)  # nothing applies

    rows = scorecards.ranking(Q2)

    assert [(row.po.code, row.rank) for row in rows] == [
        ("PO-T01", 1),
        ("PO-T02", 1),
        ("PO-T04", 3),
        ("PO-T03", None),
    ]


def test_ranking_shows_the_change_since_the_previous_quarter(po_one, po_two):
    set_weights_directly(mes_reached=10)
    card(po_one, quarter=Q1, mes_reached=70.0)
    card(po_two, quarter=Q1, mes_reached=60.0)
    card(po_one, quarter=Q2, mes_reached=65.0)
    card(po_two, quarter=Q2, mes_reached=90.0)

    rows = {row.po.code: row for row in scorecards.ranking(Q2)}

    assert (rows["PO-T02"].rank, rows["PO-T02"].rank_change, rows["PO-T02"].composite_change) == (1, 1, 30.0)
    assert (rows["PO-T01"].rank, rows["PO-T01"].rank_change, rows["PO-T01"].composite_change) == (2, -1, -5.0)


def test_trend_of_the_last_eight_quarters(po_one, po_two):
    set_weights_directly(mes_reached=10)
    quarter = Q2
    ends = []
    for step in range(10):
        card(po_one, quarter=quarter, mes_reached=float(10 * step))
        ends.append(quarter)
        quarter = scorecards.previous_quarter_end(quarter)
    card(po_two, quarter=Q2, mes_reached=50.0)

    points = scorecards.trend(po_one.pk, Q2)

    assert [point.quarter_end for point in points] == sorted(ends[:8])
    assert points[-1].composite == 0.0
    assert points[-1].rank == 2
    assert points[-1].of == 2
    assert points[0].composite == 70.0
    assert scorecards.sparkline(points).count(",") == 8


# --- Weights ----------------------------------------------------------------------------------------


def test_pmu_sets_the_weights_with_history(pmu):
    weights = dict.fromkeys(ScorecardMeasure.values, 5) | {"mes_reached": 50}

    scorecards.set_weights(pmu, weights)

    assert scorecards.current_weights() == weights
    record = ScorecardWeight.history.filter(measure="mes_reached").latest("history_date")
    assert (record.weight, record.history_user) == (50, pmu)
    assert ScorecardWeight.objects.get(measure="mes_reached").updated_by == pmu


@pytest.mark.parametrize("persona", ["po1", "wb", "approver", "finance", "po_finance", "verifier"])
def test_only_a_pmu_officer_sets_the_weights(db, persona, request):
    user = request.getfixturevalue(persona)
    before = scorecards.current_weights()
    with pytest.raises(Forbidden):
        scorecards.set_weights(user, dict.fromkeys(ScorecardMeasure.values, 10))
    assert scorecards.current_weights() == before


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"mes_reached": 101}, "mes_reached"),
        ({"women_led": -1}, "women_led"),
        ({"kpi_tracking": "ten"}, "kpi_tracking"),
        ({"data_quality": None}, "data_quality"),
    ],
)
def test_bad_weights_are_refused_naming_the_field(pmu, change, field):
    before = scorecards.current_weights()
    with pytest.raises(ValidationError) as refused:
        scorecards.set_weights(pmu, before | change)
    assert field in refused.value.message_dict
    assert scorecards.current_weights() == before


def test_all_weights_zero_is_refused(pmu):
    before = scorecards.current_weights()
    with pytest.raises(ValidationError, match="At least one weight"):
        scorecards.set_weights(pmu, dict.fromkeys(ScorecardMeasure.values, 0))
    assert scorecards.current_weights() == before


# --- The task and the cost of computing -------------------------------------------------------------


def test_the_task_computes_the_last_complete_and_the_current_quarter(po_one, other_parts):
    funded_sub_project(po_one)

    written = compute_scorecards(TODAY.isoformat())

    assert written == {"2025-06-30": 1, "2025-09-30": 1}
    assert sorted(Scorecard.objects.values_list("quarter_end", flat=True)) == [Q2, date(2025, 9, 30)]


def test_recompute_now_queues_the_task_through_the_outbox(
    po_one, pmu, other_parts, django_capture_on_commit_callbacks
):
    from core.models import OutboxMessage

    funded_sub_project(po_one)
    with django_capture_on_commit_callbacks(execute=True):
        scorecards.request_recompute(pmu)

    message = OutboxMessage.objects.get(task="finance.tasks.compute_scorecards")
    assert message.done_at is not None
    today = timezone.localdate()
    assert set(Scorecard.objects.values_list("quarter_end", flat=True)) == set(
        scorecards.quarters_to_compute(today)
    )


@pytest.mark.parametrize("persona", ["po1", "wb", "approver", "po_finance"])
def test_recompute_is_refused_to_others(db, persona, request):
    from core.models import OutboxMessage

    with pytest.raises(Forbidden):
        scorecards.request_recompute(request.getfixturevalue(persona))
    assert not OutboxMessage.objects.filter(task="finance.tasks.compute_scorecards").exists()


def _po_with_data(code: str, pmu) -> None:
    po = PartnerOrganizationFactory(code=code)
    sub_project = funded_sub_project(po)
    commit(sub_project, ME_FINANCED=3, ME_RECP_2PLUS=1, ME_KPI_TRACKING=1)
    me = financed_me(sub_project)
    financed_me(sub_project, gender=Gender.MALE)
    AdoptionFactory(enterprise=me, practice=practice("AQ-04"), verified_by=pmu, verified_on=date(2025, 3, 1))
    AdoptionFactory(enterprise=me, practice=practice("EE-01"), verified_by=pmu, verified_on=date(2025, 3, 1))
    KpiReadingFactory(enterprise=me, period=date(2025, 1, 1), is_baseline=True)
    KpiReadingFactory(enterprise=me, period=date(2025, 4, 1))


def test_the_number_of_queries_does_not_grow_with_the_pos(pmu):
    """One grouped query per measure over every PO (the other parts' real functions included)."""
    for code in ("PO-Q01", "PO-Q02"):
        _po_with_data(code, pmu)
    scorecards.compute(Q2, today=TODAY)  # warm the caches (content types, policy)

    with CaptureQueriesContext(connection) as two:
        assert scorecards.compute(Q2, today=TODAY) == 2
    for code in ("PO-Q03", "PO-Q04", "PO-Q05"):
        _po_with_data(code, pmu)
    with CaptureQueriesContext(connection) as five:
        assert scorecards.compute(Q2, today=TODAY) == 5

    assert len(five) == len(two), [query["sql"] for query in five.captured_queries]
    assert Scorecard.objects.filter(quarter_end=Q2).count() == 5
    assert {card.measures["recp_verified"]["score"] for card in Scorecard.objects.all()} == {100.0}
