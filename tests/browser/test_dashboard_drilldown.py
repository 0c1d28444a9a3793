"""Browser journey: from a district of the map and a bar of a chart to the enterprises behind them."""

from __future__ import annotations

import re
from datetime import date

import pytest
from playwright.sync_api import Page, expect

from enterprises.models import Gender
from monitoring import aggregation
from tests.enterprises.factories import EnterpriseFactory, FinancialSupportFactory, sub_project_for
from tests.factories import PASSWORD, district

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

# A point of the element's box where the element itself is hit (a district's shape is no rectangle).
POINT_ON = """(element) => {
  element.scrollIntoView({ block: "center", behavior: "instant" });
  const box = element.getBoundingClientRect();
  for (let fy = 0.5; fy < 1; fy += 0.05) {
    for (const y of [box.top + box.height * fy, box.top + box.height * (1 - fy)]) {
      for (let fx = 0.05; fx < 1; fx += 0.05) {
        const x = box.left + box.width * fx;
        if (document.elementFromPoint(x, y) === element) { return { x, y }; }
      }
    }
  }
  return null;
}"""
# Where the chart draws its first bar or slice, in the canvas's own coordinates.
FIRST_BAR = """(canvas) => {
  const point = window.Chart.getChart(canvas).getDatasetMeta(0).data[0].getCenterPoint();
  return { x: point.x, y: point.y };
}"""


@pytest.fixture
def financed(po_one, po_two):
    """PO-T01: two MEs financed in Kishoreganj (a woman's and a man's), one in Satkhira; PO-T02: one in
    Kishoreganj. Snapshot of 30 Jun 2025."""
    for po, place, gender in (
        (po_one, "Kishoreganj", Gender.FEMALE),
        (po_one, "Kishoreganj", Gender.MALE),
        (po_one, "Satkhira", Gender.FEMALE),
        (po_two, "Kishoreganj", Gender.FEMALE),
    ):
        FinancialSupportFactory(
            enterprise=EnterpriseFactory(
                sub_project=sub_project_for(po), district=district(place), owner_gender=gender
            ),
            disbursed_on=date(2025, 1, 5),
        )
    aggregation.refresh_snapshot(date(2025, 6, 30))


def _dashboard(page: Page, live_server) -> None:
    page.goto(f"{live_server.url}/dashboard/?indicator=ME_FINANCED")
    expect(page.locator("#district-map path.leaflet-interactive")).to_have_count(64)


def test_a_district_and_a_bar_open_the_enterprises_behind_them(sign_in, live_server, pmu, financed):
    page: Page = sign_in("pmu", PASSWORD)
    _dashboard(page, live_server)
    expect(page.get_by_test_id("map-legend")).to_contain_text("no data")

    kishoreganj = page.locator("#district-map path[data-district='BD3048']")
    point = kishoreganj.evaluate(POINT_ON)
    assert point, "Kishoreganj is not visible on the map"
    page.mouse.move(point["x"], point["y"])
    expect(page.locator(".leaflet-tooltip")).to_have_text("Kishoreganj: 3")
    page.mouse.click(point["x"], point["y"])

    expect(page).to_have_url(
        re.compile(r"/enterprises/\?indicator=ME_FINANCED&as_of=2025-06-30&district=BD3048$")
    )
    expect(page.get_by_test_id("result-count")).to_have_text("3 enterprises")

    _dashboard(page, live_server)
    chart = page.get_by_test_id("chart-gender")
    chart.click(position=chart.evaluate(FIRST_BAR))

    expect(page).to_have_url(
        re.compile(r"/enterprises/\?indicator=ME_FINANCED&as_of=2025-06-30&owner_gender=female$")
    )
    expect(page.get_by_test_id("result-count")).to_have_text("3 enterprises")


def test_a_po_user_clicking_a_district_sees_their_own_enterprises(sign_in, live_server, po1, financed):
    page: Page = sign_in("po1", PASSWORD)
    _dashboard(page, live_server)

    kishoreganj = page.locator("#district-map path[data-district='BD3048']")
    point = kishoreganj.evaluate(POINT_ON)
    page.mouse.click(point["x"], point["y"])

    expect(page).to_have_url(re.compile(r"district=BD3048&partner_organization=PO-T01$"))
    expect(page.get_by_test_id("result-count")).to_have_text("2 enterprises")
