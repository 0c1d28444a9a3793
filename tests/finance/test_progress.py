"""Financial progress per sub-project: approved, released, spent, balance, burn rate and the flags,
computed set-based; the same figures by an independent SQL computation on the demo data; the
contracts used by the scorecards (utilisation and reporting timeliness); the page, its export and the
API, each showing a PO only its own sub-projects."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from core import lifecycle
from finance import progress as money
from finance import spending
from finance.models import Expenditure, Release, ReleaseStatus, SpendingReport, Tranche
from subprojects.models import SubProject
from tests.finance.factories import funded_sub_project

TODAY = timezone.localdate


# --- Building blocks ------------------------------------------------------------------------------


def transfer(sub_project, world_bank, pksf, on: date, user) -> Release:
    """A transferred release (the releases part's lifecycle is not what is tested here)."""
    number = Tranche.objects.filter(sub_project=sub_project).count() + 1
    tranche = Tranche.objects.create(
        sub_project=sub_project,
        partner_organization_id=sub_project.partner_organization_id,
        number=number,
        title=f"Tranche {number}",
        amount_world_bank=Decimal(world_bank),
        amount_pksf=Decimal(pksf),
    )
    return Release.objects.create(
        sub_project=sub_project,
        partner_organization_id=sub_project.partner_organization_id,
        tranche=tranche,
        reference=f"REL-{sub_project.pk}-{number}",
        amount_world_bank=Decimal(world_bank),
        amount_pksf=Decimal(pksf),
        justification="Advance",
        status=ReleaseStatus.TRANSFERRED,
        requested_by=user,
        requested_at=timezone.now(),
        transferred_on=on,
    )


def report_with(user, sub_project, quarter_end, amounts: dict[int, str], *, submit=True) -> SpendingReport:
    """A report of `quarter_end` with one line per budget line index → amount, submitted or not."""
    report = spending.create_report(user=user, sub_project=sub_project, quarter_end=quarter_end)
    lines = [line for _n, line in spending.numbered_budget_lines(sub_project)]
    spending.save_lines(
        user=user,
        report=report,
        changes=[
            spending.LineChange(
                values={
                    "budget_line": lines[index],
                    "spent_on": spending.quarter_start(quarter_end) + timedelta(days=5),
                    "amount": Decimal(amount),
                    "voucher_reference": f"V-{quarter_end:%Y%m}-{index}",
                }
            )
            for index, amount in amounts.items()
        ],
    )
    if submit:
        report = lifecycle.apply(report, "submit", user)
    return report


@pytest.fixture
def scenario(po_one, po_two, po1, po2):
    """Two sub-projects of PO-T01 and one of PO-T02, started two years ago, three years long."""
    start = TODAY() - timedelta(days=730)
    dates = {
        "start_date": start,
        "end_date": start + timedelta(days=1095),
        "award_date": start - timedelta(days=14),
    }
    steady, slow = funded_sub_project(po_one, **dates), funded_sub_project(po_one, **dates)
    other = funded_sub_project(po_two, **dates)
    q2 = spending.last_complete_quarter_end(TODAY())
    q1 = spending.previous_quarter_end(q2)
    # 25 M approved each (WB 20 M: lines 0 and 1; PKSF 3.75 M: lines 2 and 3; PO 1.25 M: line 4).
    transfer(steady, "12000000", "2000000", start + timedelta(days=10), po1)
    transfer(steady, "2000000", "500000", q2 + timedelta(days=1), po1)  # after q2: not by then
    report_with(po1, steady, q1, {0: "6000000", 1: "4000000", 2: "1000000", 4: "600000"})
    report_with(po1, steady, q2, {0: "3000000", 3: "500000", 4: "300000"})
    spending.create_report(
        user=po1, sub_project=steady, quarter_end=spending.quarter_end_of(TODAY())
    )  # draft
    transfer(slow, "1000000", "1000000", start + timedelta(days=10), po1)
    report_with(po1, slow, q2, {3: "1600000", 2: "100000"})  # line 3 above its 1.5 M approved
    report_with(po1, slow, q1, {1: "50000"}, submit=False)  # a draft: not spending
    transfer(other, "5000000", "0", start + timedelta(days=10), po2)
    report_with(po2, other, q2, {0: "4000000"})
    return {"steady": steady, "slow": slow, "other": other, "q1": q1, "q2": q2}


def test_progress_figures_and_flags(scenario):
    rows = {row.sub_project_id: row for row in money.progress(TODAY(), SubProject.objects.all())}
    steady, slow = rows[scenario["steady"].pk], rows[scenario["slow"].pk]

    assert (steady.approved_world_bank, steady.approved_pksf, steady.approved_po) == (
        Decimal("20000000"),
        Decimal("3750000"),
        Decimal("1250000"),
    )
    assert steady.released == Decimal("16500000")
    assert (steady.spent_world_bank, steady.spent_pksf, steady.spent_po) == (
        Decimal("13000000"),
        Decimal("1500000"),
        Decimal("900000"),
    )
    assert steady.balance == Decimal("2000000")  # 16.5 M released, 14.5 M spent on WB + PKSF lines
    assert steady.spent_of_released == Decimal("87.9")
    assert steady.spent_of_approved == Decimal("61.6")  # 15.4 M of 25 M
    assert steady.elapsed == Decimal("66.7")
    assert steady.flags == []
    # The slow one spent 1.7 M of PKSF's 1 M (and 1.6 M on a 1.5 M line): overrun; and it lags.
    assert slow.spent_funded == Decimal("1700000")
    assert slow.released == Decimal("2000000")
    assert slow.lines_overrun == 1
    assert not slow.overspent_releases
    assert slow.flags == ["lagging", "overrun"]
    assert slow.lag_points > settings.SPENDING_LAG_POINTS

    # As of the end of the first quarter: only what was spent and released by then.
    earlier = {row.sub_project_id: row for row in money.progress(scenario["q1"], SubProject.objects.all())}
    assert earlier[scenario["steady"].pk].spent == Decimal("11600000")
    assert earlier[scenario["steady"].pk].released == Decimal("14000000")
    assert earlier[scenario["slow"].pk].spent == Decimal("0")


def test_progress_is_computed_in_a_fixed_number_of_queries(scenario, po_one, po1):
    for _ in range(5):
        funded_sub_project(po_one)
    with CaptureQueriesContext(connection) as queries:
        rows = money.progress(TODAY(), SubProject.objects.all())
    assert len(rows) == 8
    assert len(queries) == 4


def test_utilisation_and_timeliness_by_po(scenario, po_one, po_two):
    used = money.utilisation_by_po(TODAY())
    assert used == {
        po_one.pk: (Decimal("18500000"), Decimal("16200000")),
        po_two.pk: (Decimal("5000000"), Decimal("4000000")),
    }
    due = spending.timeliness_by_po(scenario["q2"])
    # Four quarters, two active sub-projects of PO-T01 started long before: 8 due; submitted on time only
    # if submitted by the due day (today's submissions of past quarters are late but for the last).
    on_time_q2 = spending.due_on(scenario["q2"]) >= TODAY()
    on_time_q1 = spending.due_on(scenario["q1"]) >= TODAY()
    assert due[po_one.pk] == (8, 2 * on_time_q2 + on_time_q1)
    assert due[po_two.pk] == (4, int(on_time_q2))


# --- Pages, export and API ------------------------------------------------------------------------


def test_the_progress_page_shows_a_po_only_its_own(scenario, po1, finance, client):
    client.force_login(po1)
    page = client.get(reverse("finance:progress-list")).content.decode()
    assert shown(scenario["steady"], page)
    assert shown(scenario["slow"], page)
    assert scenario["other"].agreement_number not in page
    assert 'data-testid="flag-overrun"' in page
    flagged = client.get(reverse("finance:progress-list"), {"flag": "overrun"}).content.decode()
    assert shown(scenario["slow"], flagged)
    assert not shown(scenario["steady"], flagged)
    exported = client.get(reverse("finance:progress-list"), {"export": "csv"})
    rows = list(csv.reader(io.StringIO(b"".join(exported.streaming_content).decode("utf-8-sig"))))
    assert {row[0] for row in rows[1:]} == {
        scenario["steady"].agreement_number,
        scenario["slow"].agreement_number,
    }
    client.force_login(finance)
    page = client.get(reverse("finance:progress-list")).content.decode()
    assert shown(scenario["other"], page)


def shown(sub_project, page: str) -> bool:
    return f'data-agreement="{sub_project.agreement_number}"' in page


def test_the_progress_api_as_of_a_day_and_po_isolation(scenario, po2, finance, api):
    answer = api.as_user(po2).get("/api/v1/financial-progress/")
    assert answer.status_code == 200
    assert [row["agreement_number"] for row in answer.json()["results"]] == [
        scenario["other"].agreement_number
    ]
    answer = api.as_user(finance).get("/api/v1/financial-progress/", {"as_of": scenario["q1"].isoformat()})
    rows = {row["agreement_number"]: row for row in answer.json()["results"]}
    assert len(rows) == 3
    assert Decimal(rows[scenario["steady"].agreement_number]["spent"]) == Decimal("11600000")
    assert api.get("/api/v1/financial-progress/", {"as_of": "yesterday"}).status_code == 400


# --- The demo data, against an independent SQL computation -----------------------------------------


def _decimal(value) -> Decimal:
    if value is None:
        return Decimal("0")
    if isinstance(value, float):
        return Decimal(repr(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return Decimal(value).quantize(Decimal("0.01"))


SQL_RELEASED = """
    SELECT sub_project_id, SUM(amount_world_bank), SUM(amount_pksf)
    FROM finance_release
    WHERE status = 'transferred' AND transferred_on <= %s
    GROUP BY sub_project_id
"""
SQL_SPENT = """
    SELECT e.sub_project_id, b.financier, SUM(e.amount)
    FROM finance_expenditure e
    JOIN finance_spendingreport r ON r.id = e.report_id
    JOIN subprojects_budgetline b ON b.id = e.budget_line_id
    WHERE r.status IN ('submitted', 'accepted') AND e.spent_on <= %s
    GROUP BY e.sub_project_id, b.financier
"""
SQL_OVERRUN = """
    SELECT t.sub_project_id, COUNT(*) FROM (
        SELECT e.sub_project_id AS sub_project_id, e.budget_line_id, b.amount AS approved,
               SUM(e.amount) AS spent
        FROM finance_expenditure e
        JOIN finance_spendingreport r ON r.id = e.report_id
        JOIN subprojects_budgetline b ON b.id = e.budget_line_id
        WHERE r.status IN ('submitted', 'accepted') AND e.spent_on <= %s
        GROUP BY e.sub_project_id, e.budget_line_id, b.amount
        HAVING SUM(e.amount) > b.amount
    ) t GROUP BY t.sub_project_id
"""
SQL_SUB_PROJECTS = """
    SELECT id, budget_world_bank, budget_pksf, budget_po, start_date, end_date FROM subprojects_subproject
"""
SQL_UTILISATION = """
    SELECT p.partner_organization_id,
           (SELECT SUM(amount_world_bank + amount_pksf) FROM finance_release x
            WHERE x.partner_organization_id = p.partner_organization_id
              AND x.status = 'transferred' AND x.transferred_on <= %s),
           (SELECT SUM(e.amount) FROM finance_expenditure e
            JOIN finance_spendingreport r ON r.id = e.report_id
            JOIN subprojects_budgetline b ON b.id = e.budget_line_id
            WHERE e.partner_organization_id = p.partner_organization_id
              AND r.status IN ('submitted', 'accepted') AND e.spent_on <= %s
              AND b.financier IN ('world_bank', 'pksf'))
    FROM (SELECT DISTINCT partner_organization_id FROM finance_release
          WHERE status = 'transferred' AND transferred_on <= %s) p
"""


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def independent_progress(as_of: date) -> dict[int, dict]:
    with connection.cursor() as cursor:
        cursor.execute(SQL_SUB_PROJECTS)
        figures = {
            pk: {
                "approved": _decimal(wb) + _decimal(pksf) + _decimal(po),
                "start": _as_date(start),
                "end": _as_date(end),
                "released": Decimal("0"),
                "world_bank": Decimal("0"),
                "pksf": Decimal("0"),
                "po": Decimal("0"),
                "overrun_lines": 0,
            }
            for pk, wb, pksf, po, start, end in cursor.fetchall()
        }
        cursor.execute(SQL_RELEASED, [as_of])
        for pk, wb, pksf in cursor.fetchall():
            figures[pk]["released"] = _decimal(wb) + _decimal(pksf)
        cursor.execute(SQL_SPENT, [as_of])
        for pk, financier, total in cursor.fetchall():
            figures[pk][financier] = _decimal(total)
        cursor.execute(SQL_OVERRUN, [as_of])
        for pk, count in cursor.fetchall():
            figures[pk]["overrun_lines"] = count
    for row in figures.values():
        funded = row["world_bank"] + row["pksf"]
        spent = funded + row["po"]
        row["balance"] = row["released"] - funded
        duration = (row["end"] - row["start"]).days
        elapsed = Decimal(min(max((as_of - row["start"]).days, 0), duration)) * 100 / Decimal(duration)
        spent_share = spent * 100 / row["approved"]
        row["lagging"] = (
            elapsed.quantize(Decimal("0.1"), ROUND_HALF_UP)
            - spent_share.quantize(Decimal("0.1"), ROUND_HALF_UP)
            > settings.SPENDING_LAG_POINTS
        )
        row["overrun"] = funded > row["released"] or row["overrun_lines"] > 0
    return figures


@pytest.mark.slow
@pytest.mark.django_db
class TestOnTheDemoData:
    """The demo programme (`seed_demo`, loaded once per test process), for the tests of this class."""

    def test_progress_equals_an_independent_sql_computation(self, demo_data):
        assert Expenditure.objects.exists(), "the demo has spending reports"
        for as_of in (TODAY(), spending.last_complete_quarter_end(TODAY()) - timedelta(days=200)):
            expected = independent_progress(as_of)
            rows = money.progress(as_of, SubProject.objects.all())
            assert len(rows) == len(expected)
            for row in rows:
                sql = expected[row.sub_project_id]
                assert row.approved == sql["approved"]
                assert row.released == sql["released"]
                assert (row.spent_world_bank, row.spent_pksf, row.spent_po) == (
                    sql["world_bank"],
                    sql["pksf"],
                    sql["po"],
                )
                assert row.balance == sql["balance"]
                assert row.lines_overrun == sql["overrun_lines"]
                assert (row.lagging, row.overrun) == (sql["lagging"], sql["overrun"]), row.agreement_number

    def test_utilisation_equals_an_independent_sql_computation(self, demo_data):
        as_of = TODAY()
        with connection.cursor() as cursor:
            cursor.execute(SQL_UTILISATION, [as_of, as_of, as_of])
            expected = {
                po: (_decimal(released), _decimal(spent)) for po, released, spent in cursor.fetchall()
            }
        assert money.utilisation_by_po(as_of) == expected
        assert expected

    def test_the_demo_tells_its_story(self, demo_data):
        rows = money.progress(TODAY(), SubProject.objects.filter(releases__status="transferred").distinct())
        assert rows
        assert all(row.spent_funded < row.released for row in rows)
        assert [row.lines_overrun for row in rows].count(1) == 1
        assert sum(row.lines_overrun for row in rows) == 1
        assert not rows[0].flags  # the first, with its second tranche: on track
        assert any("lagging" in row.flags and row.spent_of_approved < 25 for row in rows)
        reports = SpendingReport.objects.all()
        assert reports.filter(status="accepted").count() > reports.exclude(status="accepted").count()
        assert sum(spending.submitted_late(report) for report in reports) == 1
        assert all(lifecycle.transitions_of(report).filter(action="create").exists() for report in reports)
        output = demo_data
        assert "Spending:" in output
