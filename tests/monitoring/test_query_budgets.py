"""Query budgets of the dashboard and the results pages (indicators, outcomes, framework, runs,
reports, data quality) and of their API: one item costs the same number of queries as several (see
tests/query_budget.py). The items of a results page are the POs, districts and dates it breaks the
figures down by."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from itertools import count

import pytest
from django.utils import timezone

from monitoring import aggregation
from monitoring.models import AggregationRun, Indicator, Milestone, ReportJob, RunStatus, RunTrigger
from tests.enterprises.factories import (
    AdoptionFactory,
    EnterpriseFactory,
    FinancialSupportFactory,
    KpiReadingFactory,
    kpi,
    sub_project_for,
)
from tests.factories import PartnerOrganizationFactory, district
from tests.query_budget import assert_flat_queries

MORE = 3
AS_OF = date(2025, 6, 30)
DISTRICTS = ["Kishoreganj", "Satkhira", "Khulna", "Bagerhat", "Jashore"]


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _fragments_drawn_every_time(settings):
    # The dashboard caches its fragments (monitoring.dashboard): measure the request that draws them,
    # the one that reads the N items.
    settings.DASHBOARD_CACHE_SECONDS = 0


def _results(po, district_name: str) -> None:
    """An ME of the PO in the district: financed, adopting a practice, with a baseline and a later
    electricity reading."""
    me = EnterpriseFactory(sub_project=sub_project_for(po), district=district(district_name))
    FinancialSupportFactory(enterprise=me, disbursed_on=date(2025, 1, 15))
    AdoptionFactory(enterprise=me, adopted_on=date(2025, 2, 1), verified_on=date(2025, 3, 1))
    KpiReadingFactory(enterprise=me, kpi=kpi(), period=date(2025, 1, 1), is_baseline=True, value=Decimal(500))
    KpiReadingFactory(enterprise=me, kpi=kpi(), period=date(2025, 5, 1), value=Decimal(400))


@pytest.fixture
def programme(po_one):
    """One PO with results in one district, and a snapshot; `more()` adds POs in other districts
    and snapshots of other dates (a longer trend)."""
    _results(po_one, DISTRICTS[0])
    aggregation.refresh_snapshot(AS_OF)

    def more(po=None) -> list[str]:
        added = []
        for index in range(1, MORE + 1):
            target = po or PartnerOrganizationFactory(code=f"PO-M{index}")
            _results(target, DISTRICTS[index])
            added.append(target.code if po is None else DISTRICTS[index])
        for months in range(1, MORE + 1):
            aggregation.refresh_snapshot(AS_OF - timedelta(days=31 * months))
        aggregation.refresh_snapshot(AS_OF)
        return added

    return more


def _shown_to(persona: str, more):
    """`more`, whose new POs only the programme-wide roles see (PO staff see their own PO's)."""
    return more if persona != "po1" else lambda: more() and None


# --- Pages ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["pmu", "wb", "approver"])
def test_dashboard(client, request, programme, persona):
    client.force_login(request.getfixturevalue(persona))

    assert_flat_queries(client, "/dashboard/", programme)


@pytest.mark.parametrize("indicator", ["ME_FINANCED", "ME_RECP_2PLUS"])
def test_dashboard_of_one_indicator(client, pmu, programme, indicator):
    client.force_login(pmu)

    assert_flat_queries(client, f"/dashboard/?indicator={indicator}", programme)


def test_dashboard_of_a_po(client, po1, po_one, programme):
    """A PO's staff: their PO's results in more districts, over more dates."""
    client.force_login(po1)

    assert_flat_queries(client, "/dashboard/", lambda: programme(po_one))


def test_dashboard_of_a_po_for_the_programme(client, wb, po_one, programme):
    client.force_login(wb)

    assert_flat_queries(client, f"/dashboard/?po={po_one.code}", lambda: programme(po_one))


@pytest.mark.parametrize("persona", ["pmu", "po1"])
def test_indicator_page(client, request, programme, persona):
    client.force_login(request.getfixturevalue(persona))

    assert_flat_queries(client, "/dashboard/indicators/ME_FINANCED/", _shown_to(persona, programme))


def test_indicator_page_with_its_changes(client, pmu):
    client.force_login(pmu)
    indicator = Indicator.objects.get(code="ME_FINANCED")
    indicator.data_source = "PO reports 0"
    indicator.save()

    def more():
        for n in range(1, MORE + 1):
            indicator.data_source = f"PO reports {n}"
            indicator.save()
        return [f"PO reports {MORE}"]

    assert_flat_queries(client, "/dashboard/indicators/ME_FINANCED/", more)


@pytest.mark.parametrize("persona", ["pmu", "po1"])
def test_outcomes(client, request, programme, persona):
    client.force_login(request.getfixturevalue(persona))

    assert_flat_queries(client, "/dashboard/outcomes/", _shown_to(persona, programme))


def _milestones(years) -> None:
    for indicator in Indicator.objects.all():
        for year in years:
            Milestone.objects.get_or_create(
                indicator=indicator, year=year, defaults={"target": Decimal(year)}
            )


@pytest.mark.parametrize(
    ("url", "persona"), [("/dashboard/framework/", "wb"), ("/dashboard/targets/", "pmu")]
)
def test_framework_and_targets(db, client, request, url, persona):
    """The indicators with their yearly milestones: more years, more milestones."""
    client.force_login(request.getfixturevalue(persona))
    _milestones([2030])

    assert_flat_queries(client, url, lambda: _milestones(range(2031, 2031 + MORE)))


def _run(n: int, pmu) -> AggregationRun:
    status = [RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.SKIPPED][n % 3]
    return AggregationRun.objects.create(
        as_of=AS_OF - timedelta(days=n),
        status=status,
        trigger=RunTrigger.BUTTON if n % 2 else RunTrigger.SCHEDULE,
        requested_by=pmu if n % 2 else None,
        started_at=timezone.now(),
        finished_at=timezone.now(),
        error="Lock held" if status == RunStatus.FAILED else "",
    )


def test_runs(client, pmu):
    client.force_login(pmu)
    _run(0, pmu)

    assert_flat_queries(
        client, "/dashboard/runs/", lambda: [f"{_run(n, pmu).as_of:%-d %b %Y}" for n in range(1, MORE + 1)]
    )


@pytest.fixture
def report_jobs(po_one, pmu, po1):
    numbers = count(1)

    def make(user) -> str:
        n = next(numbers)
        kind = "po" if user == po1 or n % 2 else "isr"
        job = ReportJob.objects.create(
            kind=kind,
            file_format="pdf" if n % 2 else "xlsx",
            as_of=AS_OF - timedelta(days=n),
            partner_organization=po_one if kind == "po" else None,
            status=[RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.FAILED][n % 3],
            requested_by=user,
            error="No snapshot" if n % 3 == 2 else "",
        )
        return job.as_of.isoformat()

    return make


@pytest.mark.parametrize("persona", ["pmu", "po1"])
def test_reports(client, request, report_jobs, persona):
    user = request.getfixturevalue(persona)
    client.force_login(user)
    report_jobs(user)

    assert_flat_queries(client, "/dashboard/reports/", lambda: [report_jobs(user) for _ in range(MORE)])


@pytest.mark.parametrize("persona", ["pmu", "po1"])
def test_data_quality(client, request, po_one, persona):
    """One line per PO (the PO's staff see theirs)."""
    client.force_login(request.getfixturevalue(persona))
    _results(po_one, DISTRICTS[0])

    def more():
        codes = []
        for index in range(1, MORE + 1):
            po = PartnerOrganizationFactory(code=f"PO-Q{index}")
            _results(po, DISTRICTS[index])
            codes.append(po.code)
        _results(po_one, DISTRICTS[1])
        return codes if persona == "pmu" else None

    assert_flat_queries(client, "/dashboard/data-quality/", more)


# --- API ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["pmu", "po1"])
@pytest.mark.parametrize(
    "url", ["/api/v1/indicators/", "/api/v1/indicators/ME_FINANCED/", "/api/v1/environmental-outcomes/"]
)
def test_api_results(api, request, programme, persona, url):
    api.as_user(request.getfixturevalue(persona))
    # The lists give programme (or PO) totals; one indicator's detail breaks them down by PO.
    breaks_down_by_po = url.endswith("/ME_FINANCED/")

    assert_flat_queries(api, url, _shown_to(persona if breaks_down_by_po else "po1", programme))


def test_api_aggregation_runs(api, pmu):
    api.as_user(pmu)
    _run(0, pmu)

    assert_flat_queries(
        api, "/api/v1/aggregation-runs/", lambda: [f'"id":{_run(n, pmu).pk}' for n in range(1, MORE + 1)]
    )


@pytest.mark.parametrize("persona", ["pmu", "po1"])
def test_api_results_reports(api, request, report_jobs, persona):
    user = request.getfixturevalue(persona)
    api.as_user(user)
    report_jobs(user)

    assert_flat_queries(api, "/api/v1/results-reports/", lambda: [report_jobs(user) for _ in range(MORE)])


def test_api_data_quality(api, pmu, po_one):
    api.as_user(pmu)
    _results(po_one, DISTRICTS[0])

    def more():
        codes = []
        for index in range(1, MORE + 1):
            po = PartnerOrganizationFactory(code=f"PO-Q{index}")
            _results(po, DISTRICTS[index])
            codes.append(po.code)
        return codes

    assert_flat_queries(api, "/api/v1/data-quality/", more)
