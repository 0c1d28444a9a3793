"""The loan portfolio's figures restated in plain, hand-written SQL: the independent computation the
tests (tests/finance/test_portfolio_figures.py) and the benchmark (benchmarks/finance.py) hold
finance.portfolio to, on SQLite and PostgreSQL.

It shares no code with finance.portfolio and takes other roads on purpose: the principal due is the
largest `principal_due_to_date` of the instalments due (not the last instalment's), the days past due
come from the earliest uncovered instalment's date compared with the date less 30 / 90 days (not from
the principal due by then), and everything is joins over grouped subqueries (no correlated subquery).
Sums of repayments are rounded to paisa: SQLite adds decimals as floats.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection

CENT = Decimal("0.01")

PER_LOAN = """
WITH loans AS (
    SELECT s.id, s.amount, e.partner_organization_id AS po,
           COALESCE(e.duplicate_of_id, e.id) AS me,
           COALESCE(original.owner_gender, e.owner_gender) AS gender
    FROM enterprises_financialsupport s
    JOIN enterprises_enterprise e ON e.id = s.enterprise_id
    LEFT JOIN enterprises_enterprise original ON original.id = e.duplicate_of_id
    WHERE s.kind = 'loan' AND s.disbursed_on <= %(as_of)s
),
paid AS (
    SELECT loan_id, ROUND(SUM(principal), 2) AS repaid FROM finance_repayment
    WHERE paid_on <= %(as_of)s GROUP BY loan_id
),
owed AS (
    SELECT loan_id, MAX(principal_due_to_date) AS due FROM finance_instalment
    WHERE due_on <= %(as_of)s GROUP BY loan_id
),
uncovered AS (
    SELECT i.loan_id, MIN(i.due_on) AS since
    FROM finance_instalment i LEFT JOIN paid ON paid.loan_id = i.loan_id
    WHERE i.due_on <= %(as_of)s AND i.principal_due_to_date > COALESCE(paid.repaid, 0)
    GROUP BY i.loan_id
),
closed AS (
    SELECT loan_id, principal FROM finance_writeoff WHERE written_off_on <= %(as_of)s
),
per_loan AS (
    SELECT loans.po, loans.me, loans.gender, loans.amount,
           COALESCE(paid.repaid, 0) AS repaid, COALESCE(owed.due, 0) AS due,
           uncovered.since, closed.principal AS written_off,
           CASE WHEN closed.loan_id IS NULL AND loans.amount > COALESCE(paid.repaid, 0)
                THEN loans.amount - COALESCE(paid.repaid, 0) ELSE 0 END AS outstanding
    FROM loans
    LEFT JOIN paid ON paid.loan_id = loans.id
    LEFT JOIN owed ON owed.loan_id = loans.id
    LEFT JOIN uncovered ON uncovered.loan_id = loans.id
    LEFT JOIN closed ON closed.loan_id = loans.id
)
"""

FIGURES = """
SELECT {key}
    COUNT(*) AS loans_disbursed,
    SUM(amount) AS disbursed,
    SUM(CASE WHEN outstanding > 0 THEN 1 ELSE 0 END) AS loans,
    COUNT(DISTINCT CASE WHEN outstanding > 0 THEN me END) AS borrowers,
    COUNT(DISTINCT CASE WHEN outstanding > 0 AND gender = 'female' THEN me END) AS women_borrowers,
    COUNT(DISTINCT CASE WHEN outstanding > 0 AND gender = 'male' THEN me END) AS men_borrowers,
    SUM(outstanding) AS outstanding,
    SUM(CASE WHEN since < %(day_31)s THEN outstanding ELSE 0 END) AS par30,
    SUM(CASE WHEN since < %(day_91)s THEN outstanding ELSE 0 END) AS par90,
    SUM(due) AS due,
    SUM(repaid) AS repaid,
    SUM(CASE WHEN repaid > due THEN due ELSE repaid END) AS repaid_against_due,
    SUM(CASE WHEN written_off IS NULL AND due > repaid THEN due - repaid ELSE 0 END) AS arrears,
    COUNT(written_off) AS write_offs,
    SUM(COALESCE(written_off, 0)) AS written_off
FROM per_loan
{group}
"""

COUNTS = {"loans_disbursed", "loans", "borrowers", "women_borrowers", "men_borrowers", "write_offs"}


def _clean(name: str, value: Any) -> Any:
    if name in COUNTS:
        return int(value or 0)
    return Decimal(str(value or 0)).quantize(CENT)


def _run(as_of: date, key: str | None) -> list[dict[str, Any]]:
    # "More than 30 days past due": the earliest uncovered instalment fell due before as_of - 30 days.
    params = {"as_of": as_of, "day_31": as_of - timedelta(days=30), "day_91": as_of - timedelta(days=90)}
    sql = PER_LOAN + FIGURES.format(
        key=f"{key} AS group_key," if key else "", group=f"GROUP BY {key}" if key else ""
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [column[0] for column in cursor.description]
        rows = cursor.fetchall()
    return [
        {
            name: value if name == "group_key" else _clean(name, value)
            for name, value in zip(names, row, strict=True)
        }
        for row in rows
    ]


def reference_by_po(as_of: date) -> dict[int, dict[str, Any]]:
    return {row.pop("group_key"): row for row in _run(as_of, "po")}


def reference_by_gender(as_of: date) -> dict[str, dict[str, Any]]:
    return {row.pop("group_key"): row for row in _run(as_of, "gender")}


def reference_totals(as_of: date) -> dict[str, Any]:
    return _run(as_of, None)[0]
