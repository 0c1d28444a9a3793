"""The results framework (levels, baselines, yearly targets, sources), the indicator pages with their
rule in words, the one "% of target" rule, and the environmental outcomes page and API."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest

from finance.models import ExchangeRate
from monitoring import aggregation, dashboard
from monitoring.models import Indicator, Milestone
from subprojects.models import BudgetCategory, BudgetLine, CommittedResult, Financier, SubProject
from tests.enterprises.factories import (
    EnterpriseFactory,
    FinancialSupportFactory,
    KpiReadingFactory,
    kpi,
    sub_project_for,
)

AS_OF = date(2025, 6, 30)


def flat_rate(rate: int = 100) -> None:
    """One BDT/USD rate for every day: the rate table's only row (finance.rates)."""
    ExchangeRate.objects.all().delete()
    ExchangeRate.objects.create(valid_from=date(2023, 8, 1), bdt_per_usd=Decimal(rate))


@pytest.fixture
def programme(po_one, po_two):
    """Three financed MEs of PO 1 (one of them also before the start), one of PO 2, electricity
    readings, and PO 1's commitments in its approved proposal."""
    flat_rate(100)
    sp_one, sp_two = sub_project_for(po_one), sub_project_for(po_two)
    for index in range(3):
        enterprise = EnterpriseFactory(sub_project=sp_one)
        FinancialSupportFactory(
            enterprise=enterprise,
            disbursed_on=date(2025, 1, 1),
            amount=Decimal("100000"),
            financier="world_bank",
        )
        KpiReadingFactory(
            enterprise=enterprise,
            kpi=kpi("ELECTRICITY"),
            period=date(2025, 1, 1),
            is_baseline=True,
            value=500,
        )
        KpiReadingFactory(
            enterprise=enterprise, kpi=kpi("ELECTRICITY"), period=date(2025, 4, 1), value=400 + index
        )
    FinancialSupportFactory(enterprise=enterprise, disbursed_on=date(2023, 6, 1), amount=Decimal("70000"))
    FinancialSupportFactory(enterprise=EnterpriseFactory(sub_project=sp_two), disbursed_on=date(2025, 2, 1))
    proposal = SubProject.objects.get(partner_organization=po_one).proposal
    CommittedResult.objects.create(proposal=proposal, indicator="ME_FINANCED", target=12)
    BudgetLine.objects.create(
        proposal=proposal,
        category=BudgetCategory.ME_FINANCE,
        description="Loans to footwear MEs",
        amount=Decimal("1200000"),
        financier=Financier.WORLD_BANK,
    )
    aggregation.refresh_snapshot(AS_OF)


def figure(page: str, code: str) -> str:
    return re.search(rf'data-testid="figure-{code}">([^<]*)<', page).group(1)


# --- Indicator pages ------------------------------------------------------------------------------


def test_the_indicator_page_states_the_rule_and_its_place_in_the_framework(client, pmu, programme):
    client.force_login(pmu)

    page = client.get("/dashboard/indicators/ME_CLIMATE_KNOWLEDGE/").content.decode()

    assert "tagged “climate vulnerability”" in page
    assert "post-test score was above their pre-test score" in page
    assert "Intermediate results" in page
    assert "Training attendance with pre- and post-test scores" in page
    assert "72,000" in page


def test_the_financing_pages_show_what_the_programme_start_leaves_out(client, pmu, po1, programme):
    client.force_login(pmu)

    page = client.get("/dashboard/indicators/ME_FINANCED/").content.decode()

    assert "Excluded: 1 disbursement of 70000 BDT dated before the programme began on 1 Aug 2023." in page
    assert figure(page, "ME_FINANCED") == "4"
    client.force_login(po1)
    assert "Excluded: 1 disbursement" in client.get("/dashboard/indicators/MONEY_DISBURSED/").content.decode()


def test_another_pos_exclusions_are_not_counted_for_a_po(client, po2, programme):
    client.force_login(po2)

    page = client.get("/dashboard/indicators/ME_FINANCED/").content.decode()

    assert "nothing is excluded" in page
    assert figure(page, "ME_FINANCED") == "1"


def test_an_unknown_indicator_is_a_404_and_tec_members_see_none(client, pmu, tec1, programme):
    client.force_login(pmu)
    assert client.get("/dashboard/indicators/NOPE/").status_code == 404

    client.force_login(tec1)
    assert client.get("/dashboard/indicators/ME_FINANCED/").status_code == 403
    assert client.get("/dashboard/framework/").status_code == 403
    assert client.get("/dashboard/outcomes/").status_code == 403


# --- The framework --------------------------------------------------------------------------------


def test_the_framework_lists_every_indicator_by_level(client, wb, programme):
    Milestone.objects.create(indicator=Indicator.objects.get(code="ME_FINANCED"), year=2026, target=30000)
    client.force_login(wb)

    page = client.get("/dashboard/framework/").content.decode()

    assert (
        page.index("Development objective (PDO)")
        < page.index("Intermediate results")
        < page.index("Also tracked")
    )
    assert 'data-testid="row-ME_RECP_2PLUS"' in page
    assert "30,000" in page  # the 2026 target, in its year's column
    assert (
        "edit" not in re.sub(r"<[^>]+>", " ", page.split('data-testid="framework"')[1]).split()
    )  # read-only


def test_the_pmu_edits_an_indicators_framework_with_history(client, pmu):
    client.force_login(pmu)

    response = client.post(
        "/dashboard/indicators/ME_KPI_TRACKING/edit/",
        {
            "level": "intermediate",
            "baseline_value": "120",
            "baseline_date": "2024-01-31",
            "target": "52000",
            "data_source": "KPI readings",
            "frequency": "semi_annual",
            "responsible_unit": "PMU environment unit",
            "milestones-TOTAL_FORMS": "1",
            "milestones-INITIAL_FORMS": "0",
            "milestones-MIN_NUM_FORMS": "0",
            "milestones-MAX_NUM_FORMS": "1000",
            "milestones-0-year": "2026",
            "milestones-0-target": "20000",
        },
    )

    assert response.status_code == 302
    indicator = Indicator.objects.get(code="ME_KPI_TRACKING")
    assert (indicator.level, indicator.baseline_value, indicator.target) == ("intermediate", 120, 52000)
    assert indicator.history.first().history_user == pmu
    assert list(indicator.milestones.values_list("year", "target")) == [(2026, 20000)]


def test_a_baseline_without_its_date_is_refused_and_what_was_typed_is_kept(client, pmu):
    client.force_login(pmu)

    response = client.post(
        "/dashboard/indicators/ME_KPI_TRACKING/edit/",
        {
            "level": "pdo",
            "baseline_value": "120",
            "baseline_date": "",
            "target": "52000",
            "data_source": "Readings typed by the PMU",
            "frequency": "quarterly",
            "responsible_unit": "PMU",
            "milestones-TOTAL_FORMS": "0",
            "milestones-INITIAL_FORMS": "0",
        },
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert "Give the baseline value and its date together, or neither." in page
    assert 'value="Readings typed by the PMU"' in page
    assert Indicator.objects.get(code="ME_KPI_TRACKING").target == 50000


@pytest.mark.parametrize("persona", ["po1", "wb", "approver", "tec1"])
def test_only_the_pmu_edits_the_framework(db, client, request, persona):
    client.force_login(request.getfixturevalue(persona))

    response = client.post("/dashboard/indicators/ME_FINANCED/edit/", {"level": "tracked", "target": "1"})

    assert response.status_code == 403
    assert Indicator.objects.get(code="ME_FINANCED").level == "pdo"


def test_the_api_describes_the_framework_and_only_the_pmu_changes_it(api, pmu, po1, db):
    body = api.as_user(po1).get("/api/v1/indicators/ME_RECP_2PLUS/").json()

    assert body["level"] == "pdo"
    assert body["baseline_value"] == "0.00"
    assert body["baseline_date"] == "2023-08-01"
    assert "verifier" in body["definition"]
    assert api.patch("/api/v1/indicators/ME_RECP_2PLUS/", {"level": "tracked"}).status_code == 403
    changed = api.as_user(pmu).patch(
        "/api/v1/indicators/ME_RECP_2PLUS/", {"responsible_unit": "Third-party monitoring firm"}
    )
    assert changed.status_code == 200
    assert Indicator.objects.get(code="ME_RECP_2PLUS").responsible_unit == "Third-party monitoring firm"
    assert api.patch("/api/v1/indicators/ME_RECP_2PLUS/", {"definition": "anything"}).json()[
        "definition"
    ] != ("anything")  # the rule is the portal's, not editable


# --- One "% of target" ----------------------------------------------------------------------------


def test_a_pos_percent_of_target_is_the_same_number_on_the_dashboard_and_in_the_api(
    client, api, po1, pmu, programme
):
    client.force_login(po1)
    page = client.get("/dashboard/").content.decode()
    own = api.as_user(po1).get("/api/v1/indicators/ME_FINANCED/").json()["latest"]
    seen_by_pmu = api.as_user(pmu).get("/api/v1/indicators/ME_FINANCED/", {"po": "PO-T01"}).json()["latest"]

    assert own == seen_by_pmu
    assert (own["value"], own["target"], own["target_basis"]) == ("3.0000", "12.00", "po_commitment")
    assert own["percent_of_target"] == 25.0
    assert own["percent_of_programme_target"] == pytest.approx(3 / 80000 * 100)
    assert "25.0 % of the 12 committed in the PO's approved proposals" in page
    financed = Indicator.objects.get(code="ME_FINANCED")
    progress = dashboard.progress(financed, Decimal("3"), po_id=po1.partner_organization_id)
    assert progress.percent == own["percent_of_target"]


def test_programme_figures_are_measured_against_the_programme_targets(api, wb, programme):
    latest = api.as_user(wb).get("/api/v1/indicators/ME_FINANCED/").json()["latest"]

    assert (latest["target"], latest["target_basis"]) == ("80000.00", "programme")
    assert latest["percent_of_target"] == pytest.approx(4 / 80000 * 100)
    assert latest["percent_of_programme_target"] is None


def test_a_pos_disbursements_are_measured_against_its_budget_line_for_financing_mes(api, po1, programme):
    body = api.as_user(po1).get("/api/v1/indicators/").json()
    latest = {row["code"]: row["latest"] for row in body}

    # 300,000 BDT disbursed of the 1,200,000 BDT approved for financing MEs (USD at 100 BDT).
    assert (latest["MONEY_DISBURSED"]["value"], latest["MONEY_DISBURSED"]["target"]) == (
        "3000.0000",
        "12000.00",
    )
    assert latest["MONEY_DISBURSED"]["percent_of_target"] == 25.0
    assert latest["MONEY_DISBURSED_WORLD_BANK"]["percent_of_target"] == 25.0
    assert latest["MONEY_DISBURSED_PKSF"]["target"] is None  # nothing committed from PKSF for this
    assert latest["ME_KPI_TRACKING"]["target_basis"] == ""  # no commitment: no percentage


def test_a_proposal_that_is_not_yet_approved_commits_nothing(po_one, programme):
    from tests.subprojects.factories import ProposalFactory

    draft = ProposalFactory(concept_note__partner_organization=po_one)
    CommittedResult.objects.create(proposal=draft, indicator="ME_FINANCED", target=1000)

    assert dashboard.po_commitments(po_one.pk)["ME_FINANCED"] == 12


# --- Environmental outcomes -----------------------------------------------------------------------


def test_the_outcomes_page_shows_savings_with_the_rule_and_jobs(client, pmu, programme):
    client.force_login(pmu)

    page = client.get("/dashboard/outcomes/").content.decode()

    assert 'data-testid="outcome-ELECTRICITY"' in page
    assert "Electricity consumption" in page
    assert ">297<" in page  # kWh a month saved: 1,500 at baseline, 1,203 latest
    assert "Concentrations (PM2.5" in page
    assert 'data-testid="jobs"' in page


def test_outcomes_by_po_are_for_programme_roles_and_po_staff_see_their_own(client, po2, programme):
    client.force_login(po2)

    page = client.get("/dashboard/outcomes/", {"po": "PO-T01", "by": "po"}).content.decode()

    assert "No ME has a baseline and a later reading of any KPI yet." in page  # PO 2's own, not PO 1's
    assert 'data-testid="outcome-ELECTRICITY"' not in page
    assert '<select class="form-select form-select-sm" id="po"' not in page  # no scope to choose


def test_the_outcomes_api_by_district_and_for_one_po(api, pmu, po1, po2, programme):
    body = api.as_user(pmu).get("/api/v1/environmental-outcomes/", {"breakdown": "district"}).json()

    electricity = next(section for section in body["outcomes"] if section["quantity"] == "ELECTRICITY")
    assert body["as_of"] == "2025-06-30"
    assert electricity["rows"] == [
        {
            "key": "BD3048",
            "label": "Kishoreganj",
            "mes": 3,
            "mes_improved": 3,
            "baseline_total": "1500.000",
            "latest_total": "1203.000",
            "improvement": "297.000",
        }
    ]
    assert "baseline reading" in body["rule"]
    assert (
        api.as_user(po1).get("/api/v1/environmental-outcomes/").json()["outcomes"][0]["rows"][0]["mes"] == 3
    )
    assert api.as_user(po2).get("/api/v1/environmental-outcomes/", {"po": "PO-T01"}).status_code == 404
    assert api.as_user(po1).get("/api/v1/environmental-outcomes/", {"breakdown": "po"}).status_code == 400
    assert api.get("/api/v1/environmental-outcomes/", {"breakdown": "colour"}).status_code == 400


def test_the_outcomes_api_refuses_tec_members(api, tec1, programme):
    assert api.as_user(tec1).get("/api/v1/environmental-outcomes/").status_code == 403


def test_the_api_applies_the_baseline_rule_of_the_page(api, pmu, db):
    api.as_user(pmu)

    alone = api.patch("/api/v1/indicators/WOMEN_LED_SHARE/", {"baseline_value": "35"})  # it has no baseline
    dropped = api.patch("/api/v1/indicators/ME_KPI_TRACKING/", {"baseline_date": None})

    assert alone.status_code == 400
    assert "baseline_date" in alone.json()["fields"]
    assert dropped.status_code == 400
    assert Indicator.objects.get(code="WOMEN_LED_SHARE").baseline_value is None
    assert Indicator.objects.get(code="ME_KPI_TRACKING").baseline_date is not None
    both = api.patch(
        "/api/v1/indicators/WOMEN_LED_SHARE/", {"baseline_value": "35", "baseline_date": "2024-01-31"}
    )
    assert both.json()["baseline_value"] == "35.00"


def test_a_po_share_of_a_percentage_target_is_not_given(api, po1, programme):
    Indicator.objects.filter(code="WOMEN_LED_SHARE").update(target=50)

    latest = api.as_user(po1).get("/api/v1/indicators/WOMEN_LED_SHARE/").json()["latest"]

    assert latest["percent_of_programme_target"] is None  # a share of a share means nothing


def test_a_pos_commitments_are_those_of_the_date(api, po1, pmu, programme):
    """Commitments of sub-projects awarded after the date, or cancelled by then, do not count."""
    from django.utils import timezone

    from subprojects import workflow

    sub_project = SubProject.objects.get(partner_organization__code="PO-T01")
    early = api.as_user(po1).get("/api/v1/indicators/ME_FINANCED/", {"as_of": "2024-06-30"})
    workflow.apply(sub_project, "cancel", pmu, comment="The PO withdrew.")
    aggregation.refresh_snapshot(timezone.localdate())

    assert early.status_code == 200
    assert early.json()["latest"]["target"] is None  # awarded on 1 July 2024
    mid_2025 = api.get("/api/v1/indicators/ME_FINANCED/", {"as_of": "2025-06-30"}).json()["latest"]
    assert mid_2025["target"] == "12.00"  # then it was a sub-project
    assert api.get("/api/v1/indicators/ME_FINANCED/").json()["latest"]["target"] is None  # cancelled today
