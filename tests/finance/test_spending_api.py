"""The spending API and the PMU's query of expenditure lines (page, export, API): PO isolation,
filters, totals, and the refusals (403 role, 404 another PO's, 409 not a draft, 400 by field)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from finance import spending
from finance.models import Expenditure, SpendingReport
from tests.assertions import assert_refused
from tests.finance.factories import funded_sub_project
from tests.finance.test_spending import add, budget_lines, in_quarter, last_quarter, open_report

pytestmark = pytest.mark.django_db


@pytest.fixture
def sp_one(po_one):
    return funded_sub_project(po_one)


@pytest.fixture
def sp_two(po_two):
    return funded_sub_project(po_two)


def test_the_po_opens_fills_and_submits_a_report_through_the_api(api, po1, finance, sp_one):
    client = api.as_user(po1)
    quarter = spending.quarter_label(last_quarter())
    opened = client.post("/api/v1/spending-reports/", {"sub_project": sp_one.pk, "quarter": quarter})
    assert opened.status_code == 201, opened.json()
    report = opened.json()
    assert report["status"] == "draft"
    assert report["quarter"] == quarter
    assert [a["action"] for a in report["available_actions"]] == ["submit"]

    empty = client.post(f"/api/v1/spending-reports/{report['id']}/submit/")
    assert_refused(empty, 409, code="not_ready")

    first = budget_lines(sp_one)[0]
    line = {
        "report": report["id"],
        "budget_line": first.pk,
        "spent_on": in_quarter(last_quarter()).isoformat(),
        "amount": "250000.50",
        "voucher_reference": "PV-9",
        "description": "Cutting machine",
    }
    created = client.post("/api/v1/expenditures/", line)
    assert created.status_code == 201, created.json()
    assert created.json()["budget_line_number"] == 1
    assert created.json()["financier"] == "world_bank"
    again = client.post("/api/v1/expenditures/", line)
    assert again.status_code == 400
    assert "voucher_reference" in again.json()["fields"]
    outside = client.post(
        "/api/v1/expenditures/", {**line, "voucher_reference": "PV-10", "spent_on": "2020-01-01"}
    )
    assert outside.status_code == 400
    assert "spent_on" in outside.json()["fields"]
    changed = client.patch(f"/api/v1/expenditures/{created.json()['id']}/", {"amount": "300000"})
    assert changed.status_code == 200
    assert Decimal(changed.json()["amount"]) == Decimal("300000")

    submitted = client.post(f"/api/v1/spending-reports/{report['id']}/submit/")
    assert submitted.status_code == 200
    assert submitted.json()["status"] == "submitted"
    assert Decimal(submitted.json()["total"]) == Decimal("300000")
    late_change = client.patch(f"/api/v1/expenditures/{created.json()['id']}/", {"amount": "1"})
    assert_refused(late_change, 409, code="wrong_state")

    pmu_side = api.as_user(finance)
    assert pmu_side.post(f"/api/v1/spending-reports/{report['id']}/return/").status_code == 409  # comment
    accepted = pmu_side.post(f"/api/v1/spending-reports/{report['id']}/accept/")
    assert accepted.status_code == 200
    assert accepted.json()["status"] == "accepted"


def test_the_api_answers_another_pos_report_and_lines_as_missing(api, po1, po2, sp_one, sp_two, finance):
    report = open_report(po1, sp_one)
    line = add(po1, report)
    client = api.as_user(po2)
    assert client.get(f"/api/v1/spending-reports/{report.pk}/").status_code == 404
    assert client.get(f"/api/v1/expenditures/{line.pk}/").status_code == 404
    assert client.delete(f"/api/v1/expenditures/{line.pk}/").status_code == 404
    assert client.post(f"/api/v1/spending-reports/{report.pk}/submit/").status_code == 404
    assert client.get("/api/v1/expenditures/").json()["count"] == 0
    # Another PO's sub-project or report is refused as one that does not exist.
    opened = client.post(
        "/api/v1/spending-reports/",
        {"sub_project": sp_one.pk, "quarter": spending.quarter_label(last_quarter())},
    )
    assert opened.status_code == 400
    assert "sub_project" in opened.json()["fields"]
    foreign = client.post(
        "/api/v1/expenditures/",
        {
            "report": report.pk,
            "budget_line": budget_lines(sp_one)[0].pk,
            "spent_on": in_quarter(report.quarter_end).isoformat(),
            "amount": "10",
            "voucher_reference": "X",
        },
    )
    assert foreign.status_code == 400
    assert "report" in foreign.json()["fields"]
    # The PMU's side reads it, but enters nothing.
    pmu_side = api.as_user(finance)
    assert pmu_side.get(f"/api/v1/expenditures/{line.pk}/").status_code == 200
    assert_refused(pmu_side.delete(f"/api/v1/expenditures/{line.pk}/"), 403)
    opened = pmu_side.post(
        "/api/v1/spending-reports/",
        {"sub_project": sp_one.pk, "quarter": spending.quarter_label(last_quarter())},
    )
    assert_refused(opened, 403)
    assert Expenditure.objects.count() == 1
    assert SpendingReport.objects.count() == 1


# --- The PMU's query of the lines -----------------------------------------------------------------


@pytest.fixture
def lines(po1, po2, sp_one, sp_two):
    mine = open_report(po1, sp_one)
    add(po1, mine, 0, "100000", "PV-A1", day=3)
    add(po1, mine, 2, "40000", "PV-A2", day=20)
    add(po1, mine, 4, "7000", "PV-A3", day=40)
    earlier = open_report(po1, sp_one, spending.previous_quarter_end(last_quarter()))
    add(po1, earlier, 1, "55000", "PV-B1")
    theirs = open_report(po2, sp_two)
    add(po2, theirs, 0, "900000", "PV-Z9")
    return {"mine": mine, "earlier": earlier, "theirs": theirs}


def test_the_pmu_queries_lines_by_filters_with_totals(lines, finance, client, sp_one, po_one):
    client.force_login(finance)
    url = reverse("finance:expenditure-list")
    everything = client.get(url)
    assert everything.context["totals"]["total"] == Decimal("1102000")
    assert everything.context["paginator"].count == 5
    cases = [
        ({"partner_organization": po_one.code}, Decimal("202000")),
        ({"sub_project": sp_one.pk, "financier": "pksf"}, Decimal("40000")),
        ({"category": "monitoring"}, Decimal("7000")),
        ({"quarter": spending.quarter_label(last_quarter())}, Decimal("1047000")),
        ({"amount_min": "50000", "amount_max": "100000"}, Decimal("155000")),
        ({"voucher": "a2"}, Decimal("40000")),
        (
            {
                "spent_from": in_quarter(last_quarter(), 15).isoformat(),
                "spent_to": in_quarter(last_quarter(), 45).isoformat(),
            },
            Decimal("47000"),
        ),
    ]
    for params, total in cases:
        answer = client.get(url, params)
        assert answer.status_code == 200
        assert answer.context["totals"]["total"] == total, params
    api_answer = client.get("/api/v1/expenditures/", {"voucher": "a2"}, HTTP_ACCEPT="application/json")
    assert [row["voucher_reference"] for row in api_answer.json()["results"]] == ["PV-A2"]


def test_a_po_sees_and_exports_only_its_own_lines(lines, po1, client, sp_two):
    client.force_login(po1)
    url = reverse("finance:expenditure-list")
    page = client.get(url)
    assert page.context["totals"]["total"] == Decimal("202000")
    assert "PV-Z9" not in page.content.decode()
    # Asking for another PO's sub-project finds nothing, as for one that does not exist.
    assert client.get(url, {"sub_project": sp_two.pk}).status_code == 200
    for file_format in ("csv", "xlsx"):
        exported = client.get(url, {"export": file_format})
        assert exported.status_code == 200
    exported = client.get(url, {"export": "csv"})
    rows = list(csv.reader(io.StringIO(b"".join(exported.streaming_content).decode("utf-8-sig"))))
    assert sorted(row[9] for row in rows[1:]) == ["PV-A1", "PV-A2", "PV-A3", "PV-B1"]
    reports = client.get(reverse("finance:spending-report-list"), {"export": "csv"})
    rows = list(csv.reader(io.StringIO(b"".join(reports.streaming_content).decode("utf-8-sig"))))
    assert {row[1] for row in rows[1:]} == {"PO-T01"}


def test_the_report_list_filters_by_state_and_quarter(lines, finance, client, po1):
    from core import lifecycle

    lifecycle.apply(lines["earlier"], "submit", po1)
    client.force_login(finance)
    url = reverse("finance:spending-report-list")
    submitted = client.get(url, {"status": "submitted"})
    assert [r.pk for r in submitted.context["rows"]] == [lines["earlier"].pk]
    quarter = client.get(url, {"quarter": spending.quarter_label(last_quarter())})
    assert {r.pk for r in quarter.context["rows"]} == {lines["mine"].pk, lines["theirs"].pk}
    api_answer = client.get(
        "/api/v1/spending-reports/",
        {"status": "draft", "partner_organization": "PO-T02"},
        HTTP_ACCEPT="application/json",
    )
    assert [r["id"] for r in api_answer.json()["results"]] == [lines["theirs"].pk]


def test_lines_dated_in_the_quarter_but_not_after_today(po1, sp_one):
    current = open_report(po1, sp_one, spending.quarter_end_of(spending.timezone.localdate()))
    today = spending.timezone.localdate()
    line = add(po1, current, spent_on=today)
    assert line.spent_on == today
    with pytest.raises(Exception, match="future"):
        add(po1, current, voucher="PV-2", spent_on=today + timedelta(days=1))
