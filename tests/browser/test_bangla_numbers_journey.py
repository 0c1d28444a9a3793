"""A PO field officer working in Bangla types a KPI reading with Bangla digits in Chromium: the browser
keeps what was typed (an <input type="number"> would have dropped it), the portal stores 420 and shows
it back with Bangla digits."""

from __future__ import annotations

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from enterprises.models import KpiReading
from tests.enterprises.factories import EnterpriseFactory, kpi, sub_project_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_a_reading_typed_with_bangla_digits_is_saved_and_shown_in_bangla(sign_in, live_server, po1, password):
    me = EnterpriseFactory(sub_project=sub_project_for(po1.partner_organization), po_code="ME-0420")
    po1.language = "bn"
    po1.save(update_fields=["language"])
    page = sign_in(po1.username, password)

    page.goto(f"{live_server.url}/enterprises/{me.pk}/readings/new/")
    value = page.locator("input[name=value]")
    expect(value).to_have_attribute("type", "text")
    expect(value).to_have_attribute("inputmode", "decimal")
    page.locator("select[name=kpi]").select_option(str(kpi().pk))
    page.locator("input[name=period]").fill("2024-09")
    page.locator("select[name=source]").select_option("meter")
    value.fill("৪২০")
    expect(value).to_have_value("৪২০")  # kept as typed
    page.locator("main form[method=post] button[type=submit]").click()

    expect(page).to_have_url(f"{live_server.url}/enterprises/{me.pk}/#kpis")
    assert KpiReading.objects.get(enterprise=me).value == Decimal("420")
    expect(page.locator("#kpis")).to_contain_text("৪২০")
    expect(page.locator("main")).to_contain_text("ME-0420")  # the code keeps its Latin digits
