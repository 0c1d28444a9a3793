"""A PO field officer imports a small spreadsheet: preview first, then the import, in Chromium."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from enterprises.models import Enterprise
from tests.enterprises.test_imports import as_xlsx, enterprise_row

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_po_staff_preview_a_spreadsheet_then_import_it(sign_in, live_server, po1, sp_one, password):
    rows = [enterprise_row(i, sp_one) for i in range(1, 4)]
    rows[1]["owner_gender"] = "unknown"
    page = sign_in(po1.username, password)

    page.get_by_role("link", name="Imports").first.click()
    page.get_by_label("The file contains").select_option("enterprises")
    page.locator("input[type=file]").set_input_files(
        {"name": "mes.xlsx", "mimeType": "application/octet-stream", "buffer": as_xlsx(rows)}
    )
    page.get_by_role("button", name="Check the file").click()

    expect(page.get_by_test_id("import-errors")).to_contain_text(
        "The file has 1 problem: nothing was imported."
    )
    expect(page.get_by_test_id("error-table")).to_contain_text("owner_gender")
    assert not Enterprise.objects.exists()

    rows[1]["owner_gender"] = "female"
    page.get_by_role("link", name="Imports").first.click()
    page.locator("input[type=file]").set_input_files(
        {"name": "mes-corrected.xlsx", "mimeType": "application/octet-stream", "buffer": as_xlsx(rows)}
    )
    page.get_by_role("button", name="Check the file").click()

    expect(page.get_by_test_id("import-preview")).to_contain_text("would create 3")
    expect(page.get_by_test_id("preview-create")).to_contain_text("ME-00002 · Shoe Works 2")
    assert not Enterprise.objects.exists()
    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Import 3 rows").click()

    expect(page.get_by_test_id("import-done")).to_contain_text("3 created, 0 updated, 0 unchanged")
    navigation = page.get_by_role("navigation", name="Main navigation")
    navigation.get_by_role("button", name="Field data").click()
    navigation.get_by_role("link", name="Enterprises", exact=True).click()
    expect(page).to_have_url(re.compile(r"/enterprises/$"))
    expect(page.get_by_test_id("enterprise-table")).to_contain_text("Shoe Works 2")
    assert Enterprise.objects.filter(partner_organization=sp_one.partner_organization).count() == 3
