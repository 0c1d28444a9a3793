"""Browser journey of a PMU officer opening the results dashboard."""

from __future__ import annotations

from datetime import date

import pytest
from playwright.sync_api import Page, expect

from monitoring import aggregation
from monitoring.dashboard import NO_DATA
from tests.enterprises.factories import EnterpriseFactory, FinancialSupportFactory, sub_project_for
from tests.factories import PASSWORD, district

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_pmu_opens_the_dashboard_and_looks_at_an_indicator(sign_in, live_server, pmu, po_one):
    sp = sub_project_for(po_one)
    for name in ("Kishoreganj", "Kishoreganj", "Satkhira"):
        FinancialSupportFactory(
            enterprise=EnterpriseFactory(sub_project=sp, district=district(name)),
            disbursed_on=date(2025, 1, 5),
        )
    aggregation.refresh_snapshot(date(2025, 6, 30))
    page: Page = sign_in("pmu", PASSWORD)

    page.get_by_role("navigation", name="Main navigation").get_by_role("link", name="Dashboard").click()

    expect(page.get_by_test_id("snapshot-time")).to_contain_text("Figures as of 30 Jun 2025")
    expect(page.get_by_test_id("figure-ME_FINANCED")).to_have_text("3")
    page.get_by_label("Indicator in detail").select_option(label="MEs receiving financial support")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("heading", name="MEs receiving financial support", level=2).last).to_be_visible()
    # The district map is drawn from the portal's own GeoJSON: 64 districts, two of them shaded.
    expect(page.locator("#district-map path.leaflet-interactive")).to_have_count(64)
    expect(page.locator(f"#district-map path[fill='{NO_DATA}']")).to_have_count(62)
    page.get_by_text("Districts as a table").click()
    expect(page.get_by_role("link", name="Kishoreganj")).to_be_visible()
