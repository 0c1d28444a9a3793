"""The IFR's figures equal an independent computation in plain SQL (written here, not through the ORM),
on money built in the test and on the demo programme, on SQLite and PostgreSQL alike: sources, uses by
category and financier per period, the releases statement, the designated account and the cumulative
figures; uses reconcile (by category = by financier = the lines behind them); the budget is pro-rated
as stated; the XLSX's totals are the figures; the PDF names its quarter."""

from __future__ import annotations

import io
import re
import zlib
from collections import defaultdict
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.db import connection
from django.utils import timezone
from openpyxl import load_workbook

from core import lifecycle
from finance import ifr
from finance.models import (
    ExchangeRate,
    Expenditure,
    FinancialReport,
    FundReceipt,
    Release,
    SpendingReport,
    Tranche,
)
from subprojects.models import BudgetCategory, BudgetLine, Financier
from tests.finance.factories import funded_sub_project

CENT = Decimal("0.01")
QUARTER = date(2025, 3, 31)  # Q1 2025: the fiscal year to date runs from 1 July 2024


def money(value) -> Decimal:
    return Decimal(str(value or 0)).quantize(CENT, ROUND_HALF_UP)


# --- Money built in the test ----------------------------------------------------------------------


def make_release(sub_project, number, wb, pksf, on, user, status="transferred") -> Release:
    tranche = Tranche.objects.create(
        sub_project=sub_project,
        partner_organization=sub_project.partner_organization,
        number=number,
        title=f"Tranche {number}",
        amount_world_bank=Decimal(wb),
        amount_pksf=Decimal(pksf),
    )
    return Release.objects.create(
        sub_project=sub_project,
        partner_organization=sub_project.partner_organization,
        tranche=tranche,
        reference=f"REL-{sub_project.agreement_number}-T{number}",
        amount_world_bank=Decimal(wb),
        amount_pksf=Decimal(pksf),
        justification="As scheduled.",
        status=status,
        requested_by=user,
        requested_at=timezone.make_aware(datetime.combine(on - timedelta(days=10), time(10))),
        transferred_on=on if status == "transferred" else None,
        transfer_reference=f"TRF-{number}" if status == "transferred" else "",
    )


VOUCHERS = iter(range(1, 10_000))


def make_spending(sub_project, quarter_end, status, lines, user) -> SpendingReport:
    report = SpendingReport.objects.create(
        sub_project=sub_project,
        partner_organization=sub_project.partner_organization,
        quarter_end=quarter_end,
        status=status,
        created_by=user,
    )
    for category, financier, spent_on, amount in lines:
        Expenditure.objects.create(
            report=report,
            partner_organization=sub_project.partner_organization,
            sub_project=sub_project,
            budget_line=BudgetLine.objects.get(
                proposal__sub_project=sub_project, category=category, financier=financier
            ),
            spent_on=spent_on,
            amount=Decimal(amount),
            voucher_reference=f"V-{next(VOUCHERS)}",
        )
    return report


def build_money(po_one, po_two, user) -> dict:
    """Receipts, releases and spending around Q1 2025: in the quarter, earlier in the fiscal year, in
    the previous fiscal year and after the quarter; with what must not count (a draft spending report,
    a release not transferred) and a cancelled and a suspended sub-project."""
    csf, me, training, monitoring = (
        BudgetCategory.CSF,
        BudgetCategory.ME_FINANCE,
        BudgetCategory.TRAINING,
        BudgetCategory.MONITORING,
    )
    wb, pksf, po = Financier.WORLD_BANK, Financier.PKSF, Financier.PO
    early = funded_sub_project(po_one, start_date=date(2023, 10, 1), end_date=date(2025, 9, 30))
    main = funded_sub_project(po_one)  # 15 Jul 2024 to 30 Jun 2027
    suspended = funded_sub_project(
        po_two, start_date=date(2024, 10, 1), end_date=date(2026, 9, 30), status="suspended"
    )
    cancelled = funded_sub_project(po_two, status="cancelled")

    for source, day, amount, reference in [
        ("world_bank", date(2024, 5, 10), "30000000", "WA-1"),
        ("world_bank", date(2024, 8, 20), "20000000", "WA-2"),
        ("world_bank", date(2025, 2, 15), "15000000", "WA-3"),
        ("pksf", date(2024, 9, 1), "5000000", "CP-1"),
        ("pksf", date(2025, 3, 31), "2000000.50", "CP-2"),
        ("world_bank", date(2025, 4, 1), "9000000", "WA-4"),  # after the quarter
    ]:
        FundReceipt.objects.create(
            source=source, received_on=day, amount=Decimal(amount), reference=reference, recorded_by=user
        )

    make_release(early, 1, "2000000", "400000", date(2024, 3, 1), user)
    make_release(main, 1, "6000000", "1200000", date(2024, 8, 25), user)
    make_release(suspended, 1, "3000000", "500000.25", date(2025, 1, 15), user)
    make_release(main, 2, "4000000", "800000", date(2025, 3, 31), user)
    make_release(
        cancelled, 1, "1000000", "100000", date(2025, 2, 1), user, status="approved"
    )  # not transferred
    make_release(suspended, 2, "1500000", "0", date(2025, 4, 2), user)  # after the quarter

    make_spending(early, date(2024, 3, 31), "accepted", [(csf, wb, date(2024, 3, 15), "750000.75")], user)
    make_spending(
        main,
        date(2024, 9, 30),
        "accepted",
        [(csf, wb, date(2024, 8, 30), "1000000.10"), (monitoring, po, date(2024, 9, 10), "200000")],
        user,
    )
    make_spending(cancelled, date(2024, 12, 31), "accepted", [(me, wb, date(2024, 11, 11), "400000")], user)
    make_spending(
        main,
        date(2025, 3, 31),
        "submitted",
        [
            (csf, wb, date(2025, 1, 10), "500000.55"),
            (training, pksf, date(2025, 3, 31), "300000"),
            (monitoring, po, date(2025, 2, 2), "50000.45"),
        ],
        user,
    )
    make_spending(suspended, date(2025, 3, 31), "draft", [(csf, wb, date(2025, 2, 1), "999999")], user)
    make_spending(main, date(2025, 6, 30), "submitted", [(csf, wb, date(2025, 4, 5), "123")], user)

    ExchangeRate.objects.create(valid_from=date(2024, 1, 1), bdt_per_usd=Decimal("110"))
    ExchangeRate.objects.create(valid_from=date(2025, 1, 1), bdt_per_usd=Decimal("121.5"))
    ExchangeRate.objects.create(valid_from=date(2025, 4, 1), bdt_per_usd=Decimal("122"))
    return {"early": early, "main": main, "suspended": suspended, "cancelled": cancelled}


# --- The independent computation (plain SQL) -------------------------------------------------------


def spans(quarter_end: date) -> dict[str, tuple[date, date]]:
    """The periods as SPEC 8 and the IFR's notes state them (programme start: 1 Aug 2023)."""
    start = date(2023, 8, 1)
    quarter_first = date(quarter_end.year, quarter_end.month - 2, 1)
    fiscal_first = date(quarter_end.year if quarter_end.month >= 7 else quarter_end.year - 1, 7, 1)
    return {
        "quarter": (max(quarter_first, start), quarter_end),
        "ytd": (max(fiscal_first, start), quarter_end),
        "cumulative": (start, quarter_end),
    }


def _period_columns(column: str, amount: str, periods: dict) -> tuple[str, list]:
    parts, params = [], []
    for name, (first, last) in periods.items():
        parts.append(f"SUM(CASE WHEN {column} >= %s AND {column} <= %s THEN {amount} ELSE 0 END) AS {name}")
        params += [first.isoformat(), last.isoformat()]
    return ", ".join(parts), params


def sql_rows(sql: str, params: list) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def sql_uses(quarter_end: date) -> dict[tuple[str, str], dict[str, Decimal]]:
    periods = spans(quarter_end)
    columns, params = _period_columns("e.spent_on", "e.amount", periods)
    rows = sql_rows(
        f"""
        SELECT bl.category, bl.financier, {columns}
        FROM finance_expenditure e
        JOIN finance_spendingreport r ON r.id = e.report_id
        JOIN subprojects_budgetline bl ON bl.id = e.budget_line_id
        WHERE r.status IN ('submitted', 'accepted')
        GROUP BY bl.category, bl.financier
        """,  # noqa: S608 - the columns are this test's own
        params,
    )
    return {(row[0], row[1]): dict(zip(periods, map(money, row[2:]), strict=True)) for row in rows}


def sql_receipts(quarter_end: date) -> dict[str, dict[str, Decimal]]:
    periods = spans(quarter_end)
    columns, params = _period_columns("received_on", "amount", periods)
    rows = sql_rows(f"SELECT source, {columns} FROM finance_fundreceipt GROUP BY source", params)  # noqa: S608
    return {row[0]: dict(zip(periods, map(money, row[1:]), strict=True)) for row in rows}


def sql_released(quarter_end: date) -> dict[str, dict[str, Decimal]]:
    periods = spans(quarter_end)
    result = {}
    for fund, column in (("world_bank", "amount_world_bank"), ("pksf", "amount_pksf")):
        columns, params = _period_columns("transferred_on", column, periods)
        (row,) = sql_rows(f"SELECT {columns} FROM finance_release WHERE status = 'transferred'", params)  # noqa: S608
        result[fund] = dict(zip(periods, map(money, row), strict=True))
    return result


def sql_balance(quarter_end: date, fund: str) -> Decimal:
    column = "amount_world_bank" if fund == "world_bank" else "amount_pksf"
    ((received,),) = sql_rows(
        "SELECT SUM(amount) FROM finance_fundreceipt WHERE source = %s AND received_on <= %s",
        [fund, quarter_end.isoformat()],
    )
    ((released,),) = sql_rows(
        f"SELECT SUM({column}) FROM finance_release WHERE status = 'transferred' AND transferred_on <= %s",  # noqa: S608
        [quarter_end.isoformat()],
    )
    return money(received) - money(released)


def sql_statement(quarter_end: date) -> list[tuple]:
    first, last = spans(quarter_end)["quarter"]
    rows = sql_rows(
        """
        SELECT r.reference, r.transferred_on, po.code, r.amount_world_bank, r.amount_pksf
        FROM finance_release r JOIN core_partnerorganization po ON po.id = r.partner_organization_id
        WHERE r.status = 'transferred' AND r.transferred_on >= %s AND r.transferred_on <= %s
        ORDER BY r.transferred_on, r.reference
        """,
        [first.isoformat(), last.isoformat()],
    )
    return [(ref, str(day)[:10], code, money(wb), money(pksf)) for ref, day, code, wb, pksf in rows]


def sql_released_by_po(quarter_end: date) -> dict[str, tuple[Decimal, Decimal]]:
    first, last = spans(quarter_end)["cumulative"]
    rows = sql_rows(
        """
        SELECT po.code, SUM(r.amount_world_bank), SUM(r.amount_pksf)
        FROM finance_release r JOIN core_partnerorganization po ON po.id = r.partner_organization_id
        WHERE r.status = 'transferred' AND r.transferred_on >= %s AND r.transferred_on <= %s
        GROUP BY po.code
        """,
        [first.isoformat(), last.isoformat()],
    )
    return {code: (money(wb), money(pksf)) for code, wb, pksf in rows}


def sql_budget(quarter_end: date) -> dict[tuple[str, str], dict[str, Decimal]]:
    """The budget lines of budgeted sub-projects from SQL, pro-rated here day by day (the rule as the
    notes state it: each sub-project's share rounded to the paisa, then summed)."""
    rows = sql_rows(
        """
        SELECT sp.id, sp.start_date, sp.end_date, bl.category, bl.financier, SUM(bl.amount)
        FROM subprojects_budgetline bl
        JOIN subprojects_proposal p ON p.id = bl.proposal_id
        JOIN subprojects_subproject sp ON sp.proposal_id = p.id
        WHERE sp.status IN ('active', 'suspended', 'completed')
        GROUP BY sp.id, sp.start_date, sp.end_date, bl.category, bl.financier
        """,
        [],
    )
    periods = spans(quarter_end)
    result: dict = defaultdict(lambda: defaultdict(Decimal))
    for _sp, start, end, category, financier, amount in rows:
        start, end = date.fromisoformat(str(start)[:10]), date.fromisoformat(str(end)[:10])
        days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
        for name, (first, last) in periods.items():
            first = date.min if name == "cumulative" else first
            inside = sum(1 for day in days if first <= day <= last)
            share = (money(amount) * inside / len(days)).quantize(CENT, ROUND_HALF_UP)
            result[(category, financier)][name] += share
        result[(category, financier)]["approved"] += money(amount)
    return result


def check_against_sql(figures: dict, quarter_end: date) -> None:
    """Every total of `figures` equals the plain-SQL computation."""
    periods = list(spans(quarter_end))
    assert {name: (v["start"], v["end"]) for name, v in figures["periods"].items()} == {
        name: (first.isoformat(), last.isoformat()) for name, (first, last) in spans(quarter_end).items()
    }
    uses = sql_uses(quarter_end)
    zero = dict.fromkeys(periods, Decimal("0.00"))
    # Uses: each line, by category, by financier, total.
    lines = {(line["category"], line["financier"]): line for line in figures["uses"]["lines"]}
    for key, values in uses.items():
        if any(values.values()):
            assert {p: Decimal(lines[key][p]) for p in periods} == values, key
    for category in BudgetCategory.values:
        expected = {
            p: sum((v[p] for (c, _f), v in uses.items() if c == category), Decimal("0")) for p in periods
        }
        assert {p: Decimal(figures["uses"]["by_category"][category][p]) for p in periods} == expected, (
            category
        )
    for financier in Financier.values:
        expected = {
            p: sum((v[p] for (_c, f), v in uses.items() if f == financier), Decimal("0")) for p in periods
        }
        assert {p: Decimal(figures["uses"]["by_financier"][financier][p]) for p in periods} == expected, (
            financier
        )
    total = {p: sum((v[p] for v in uses.values()), Decimal("0")) for p in periods}
    assert {p: Decimal(figures["uses"]["total"][p]) for p in periods} == total

    # Sources: receipts by source, PO contribution = spending on PO lines; the account.
    receipts = sql_receipts(quarter_end)
    for source in ("world_bank", "pksf"):
        assert {p: Decimal(figures["sources"][source][p]) for p in periods} == receipts.get(source, zero), (
            source
        )
    po_spent = {p: sum((v[p] for (_c, f), v in uses.items() if f == "po"), Decimal("0")) for p in periods}
    assert {p: Decimal(figures["sources"]["po"][p]) for p in periods} == po_spent
    released = sql_released(quarter_end)
    for fund in ("world_bank", "pksf"):
        for p in periods:
            row = figures["account"][fund][p]
            assert Decimal(row["receipts"]) == receipts.get(fund, zero)[p]
            assert Decimal(row["releases"]) == released[fund][p]
            assert Decimal(row["opening"]) + Decimal(row["receipts"]) - Decimal(row["releases"]) == Decimal(
                row["closing"]
            )
            assert Decimal(row["closing"]) == sql_balance(quarter_end, fund), (fund, p)

    # The releases statement and the cumulative per PO.
    statement = [
        (
            row["reference"],
            row["transferred_on"],
            row["po_code"],
            Decimal(row["world_bank"]),
            Decimal(row["pksf"]),
        )
        for row in figures["releases"]["rows"]
    ]
    assert statement == sql_statement(quarter_end)
    assert Decimal(figures["releases"]["total"]["world_bank"]) == released["world_bank"]["quarter"]
    assert Decimal(figures["releases"]["total"]["pksf"]) == released["pksf"]["quarter"]
    by_po = {
        row["po_code"]: (Decimal(row["cumulative_world_bank"]), Decimal(row["cumulative_pksf"]))
        for row in figures["releases"]["by_po"]
    }
    assert by_po == sql_released_by_po(quarter_end)

    # Budget pro-rated, and the variance.
    budget = sql_budget(quarter_end)
    for category in BudgetCategory.values:
        for p in ("approved", *periods):
            expected = sum((v[p] for (c, _f), v in budget.items() if c == category), Decimal("0"))
            assert Decimal(figures["budget"]["by_category"][category][p]) == expected, (category, p)
    for p in periods:
        expected_budget = sum((v[p] for v in budget.values()), Decimal("0"))
        variance = figures["variance"]["total"][p]
        assert Decimal(variance["budget"]) == expected_budget
        assert Decimal(variance["actual"]) == total[p]
        assert Decimal(variance["variance"]) == expected_budget - total[p]


def check_reconciles(figures: dict) -> None:
    for p in ifr.PERIODS:
        total = Decimal(figures["uses"]["total"][p])
        assert sum(Decimal(v[p]) for v in figures["uses"]["by_category"].values()) == total
        assert sum(Decimal(v[p]) for v in figures["uses"]["by_financier"].values()) == total
        assert sum(Decimal(line[p]) for line in figures["uses"]["lines"]) == total
        sources = Decimal(figures["sources"]["total"][p])
        assert sources == sum(Decimal(figures["sources"][k][p]) for k in ("world_bank", "pksf", "po"))
        assert Decimal(figures["net"][p]) == sources - total
        for key in ("budget", "actual", "variance"):
            assert sum(Decimal(v[p][key]) for v in figures["variance"]["by_category"].values()) == Decimal(
                figures["variance"]["total"][p][key]
            )


# --- On money built here ---------------------------------------------------------------------------


@pytest.fixture
def built(po_one, po_two, finance):
    return build_money(po_one, po_two, finance)


def test_the_figures_equal_plain_sql_on_built_money(built):
    figures = ifr.compute(QUARTER)

    check_against_sql(figures, QUARTER)
    check_reconciles(figures)


def test_what_the_figures_count_and_leave_out(built):
    figures = ifr.compute(QUARTER)
    uses, sources = figures["uses"], figures["sources"]

    # The quarter: 500,000.55 + 300,000 (spent on its last day) + 50,000.45; not the draft report's
    # 999,999, nor the spending of 5 April.
    assert uses["total"] == {"quarter": "850001.00", "ytd": "2450001.10", "cumulative": "3200001.85"}
    # The cancelled sub-project's spending counts (it was spent); its budget does not.
    assert uses["by_category"]["me_finance"]["ytd"] == "400000.00"
    assert figures["budget"]["by_category"]["me_finance"]["approved"] == "24000000.00"  # 3 times 8 M, not 4
    assert sources["world_bank"] == {
        "quarter": "15000000.00",
        "ytd": "35000000.00",
        "cumulative": "65000000.00",
    }
    assert sources["pksf"]["quarter"] == "2000000.50"
    assert sources["po"]["cumulative"] == "250000.45"
    # Releases: the two transferred in the quarter (the one of its last day included); not the
    # approved one nor the one of 2 April.
    assert [row["reference"] for row in figures["releases"]["rows"]] == [
        f"REL-{built['suspended'].agreement_number}-T1",
        f"REL-{built['main'].agreement_number}-T2",
    ]
    assert figures["releases"]["total"] == {
        "world_bank": "7000000.00",
        "pksf": "1300000.25",
        "total": "8300000.25",
    }
    # The designated account: 65 M received by the World Bank, 15 M released, by the end of the quarter.
    assert figures["account"]["world_bank"]["cumulative"]["closing"] == "50000000.00"
    assert figures["account"]["world_bank"]["quarter"]["opening"] == "42000000.00"
    # USD at the rate valid on the quarter's last day (121.5).
    assert Decimal(figures["rate"]["bdt_per_usd"]) == Decimal("121.5")
    assert figures["usd"]["sources"]["world_bank"]["quarter"] == str(
        (Decimal("15000000") / Decimal("121.5")).quantize(CENT, ROUND_HALF_UP)
    )


def test_the_budget_is_pro_rated_by_the_days_elapsed():
    # A 10-day sub-project of 1,000: 3 days in the window is 300; none before or after; half a paisa up.
    assert ifr.prorated(
        Decimal("1000"), date(2025, 1, 1), date(2025, 1, 10), date(2025, 1, 8), date(2025, 3, 31)
    ) == Decimal("300.00")
    assert (
        ifr.prorated(
            Decimal("1000"), date(2025, 1, 1), date(2025, 1, 10), date(2025, 2, 1), date(2025, 3, 31)
        )
        == 0
    )
    assert ifr.prorated(
        Decimal("1000"), date(2025, 1, 1), date(2025, 1, 10), date.min, date(2026, 1, 1)
    ) == Decimal("1000.00")
    assert ifr.prorated(
        Decimal("0.05"), date(2025, 1, 1), date(2025, 1, 2), date.min, date(2025, 1, 1)
    ) == Decimal("0.03")


def test_the_figures_are_a_few_grouped_queries_whatever_the_volume(built, django_assert_max_num_queries):
    with django_assert_max_num_queries(12):
        ifr.compute(QUARTER)


def test_a_day_that_is_not_a_quarter_end_is_refused():
    with pytest.raises(ValueError, match="calendar quarter"):
        ifr.compute(date(2025, 3, 30))


# --- The files --------------------------------------------------------------------------------------


def pdf_texts(content: bytes) -> bytes:
    """The PDF's streams, inflated (WeasyPrint compresses them, its metadata included)."""
    chunks = [content]
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", content, re.DOTALL):
        try:
            chunks.append(zlib.decompress(stream))
        except zlib.error:
            continue
    return b"\n".join(chunks)


def rows_by_label(sheet) -> dict:
    """The rows of a sheet by their first cell (the first table's row when two tables share labels)."""
    rows: dict = {}
    for row in sheet.iter_rows(values_only=True):
        if row and row[0]:
            rows.setdefault(row[0], row)
    return rows


def as_money(value) -> Decimal:
    return money(Decimal(str(value)))


def test_the_xlsx_totals_are_the_figures_and_the_pdf_names_its_quarter(built, finance, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    report = ifr.create_report(finance, QUARTER)
    figures = ifr.figures_for(report)

    content, name, _content_type = ifr.report_file(report, "xlsx")

    assert name == "IFR-2025-Q1-v1-DRAFT.xlsx"
    book = load_workbook(io.BytesIO(content))
    assert book.sheetnames == [
        "Sources and uses",
        "Uses by category",
        "Budget variance",
        "Forecast",
        "Releases to POs",
        "Notes",
    ]
    flows = rows_by_label(book["Sources and uses"])
    assert "DRAFT" in str(book["Sources and uses"]["A2"].value)
    for label, key in (("Total sources", "sources"), ("Total uses", "uses")):
        values = [as_money(v) for v in flows[label][1:7]]
        assert values[:3] == [Decimal(figures[key]["total"][p]) for p in ifr.PERIODS]
        assert values[3:] == [Decimal(figures["usd"][key]["total"][p]) for p in ifr.PERIODS]
    by_category = rows_by_label(book["Uses by category"])
    for category, label in BudgetCategory.choices:
        assert [as_money(v) for v in by_category[label][1:4]] == [
            Decimal(figures["uses"]["by_category"][category][p]) for p in ifr.PERIODS
        ]
    releases = rows_by_label(book["Releases to POs"])
    total = releases["Total released in the quarter"]
    assert [as_money(v) for v in total[6:9]] == [
        Decimal(figures["releases"]["total"][k]) for k in ("world_bank", "pksf", "total")
    ]
    variance = rows_by_label(book["Budget variance"])
    assert as_money(variance["Total"][1]) == Decimal(figures["budget"]["total"]["approved"])

    pdf, pdf_name, pdf_type = ifr.report_file(report, "pdf")
    assert pdf.startswith(b"%PDF")
    assert len(pdf) > 5000
    assert pdf_name == "IFR-2025-Q1-v1-DRAFT.pdf"
    assert pdf_type == "application/pdf"
    assert b"2025-Q1" in pdf_texts(pdf)


# --- On the demo programme ----------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.django_db
class TestOnTheDemoProgramme:
    def test_every_demo_report_quarter_equals_plain_sql(self, demo_data):
        quarters = sorted(set(FinancialReport.objects.values_list("quarter_end", flat=True)))
        assert len(quarters) >= 3
        for quarter_end in quarters:
            figures = ifr.compute(quarter_end)
            check_against_sql(figures, quarter_end)
            check_reconciles(figures)

    def test_the_designated_account_never_goes_negative(self, demo_data):
        first = ifr.first_reporting_quarter()
        for quarter_end in ifr.quarters_between(first, ifr.quarter_end_of(timezone.localdate())):
            for fund in ("world_bank", "pksf"):
                assert sql_balance(quarter_end, fund) >= 0, (quarter_end, fund)
        # Day by day too: every transfer is covered by what was received by then.
        for day in Release.objects.filter(status="transferred").values_list("transferred_on", flat=True):
            for fund in ("world_bank", "pksf"):
                assert sql_balance(day, fund) >= 0, (day, fund)

    def test_the_demo_reports_tell_their_story(self, demo_data):
        live = list(FinancialReport.objects.live().order_by("quarter_end"))
        assert live[-1].status == "draft"
        assert live[-2].status == "finalised"
        assert live[-2].xlsx
        assert live[-2].pdf
        assert {report.status for report in live[:-2]} == {"sent"}
        assert all(report.figures for report in live[:-1])
        corrected = FinancialReport.objects.get(version=2)
        first = corrected.supersedes
        assert first.status == "sent"
        assert corrected.status == "sent"
        assert [t.action for t in lifecycle.transitions_of(first)][-1] == "correct"
        late = Decimal(corrected.figures["sources"]["pksf"]["quarter"]) - Decimal(
            first.figures["sources"]["pksf"]["quarter"]
        )
        assert late == Decimal("7500000.00")
        # Frozen figures of a sent report are the figures of the data as seeded.
        assert live[0].figures["sources"] == ifr.compute(live[0].quarter_end)["sources"]
