"""The ME loan portfolio at programme scale (PostgreSQL).

Every synthetic enterprise (demo.scale, 80,000 by default) gets one loan, disbursed between the
programme start and fifteen months later, with 24 monthly instalments (≈1.9 M rows) and a repayment
for each instalment paid by today (≈1.9 M rows): most on time, about 8 % of the loans paying
31-90 days late and 3 % more than 90 days late, a few written off. The rows are written in SQL
(INSERT … SELECT over generate_series) and vacuumed, as a database in service would be; then the
portfolio is computed as of two dates (eight and twenty months into the schedules of the last loans):

- `portfolio_by_po` (every PO's figures: one query) and `portfolio_totals` (the programme's);
- the hand-written SQL of finance.portfolio_reference (the independent computation the tests use)
  gives a floor to compare with, and the figures are checked equal.

The synthetic MEs' own loans and grants are kept aside meanwhile and put back at the end (also at the
start of the next run, should a run die half-way): the benchmark database is left as demo.scale made
it, for the other benchmarks and for `generate_scale --replace`.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from functools import partial

from django.conf import settings
from django.db import connection, transaction

from benchmarks._common import Report
from finance.portfolio import portfolio_by_po, portfolio_totals
from finance.portfolio_reference import reference_by_po

REPEATS = 3
INSTALMENTS = 24
SPREAD_DAYS = 450  # loans are disbursed over the programme's first fifteen months
SYNTHETIC = "SYN-%"
SAVED = "bench_finance_saved_supports"  # also named in generate()
TABLES = ("enterprises_financialsupport", "finance_instalment", "finance_repayment", "finance_writeoff")


def _median_seconds(action: Callable[[], object], repeats: int = REPEATS) -> float:
    timings = []
    for _repeat in range(repeats):
        started = time.perf_counter()
        action()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def _count(cursor, table: str) -> int:
    cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 - fixed table names
    return cursor.fetchone()[0]


def restore(cursor) -> bool:
    """Take the benchmark's rows away and put the synthetic MEs' own supports back (if a run left
    them aside). Returns whether there was anything to restore."""
    cursor.execute("SELECT to_regclass(%s)", [SAVED])
    if cursor.fetchone()[0] is None:
        return False
    bench = "SELECT id FROM enterprises_financialsupport WHERE reference LIKE 'BENCH-%%'"
    for table in ("finance_writeoff", "finance_repayment", "finance_instalment"):
        cursor.execute(f"DELETE FROM {table} WHERE loan_id IN ({bench})")  # noqa: S608 - fixed names
    cursor.execute("DELETE FROM enterprises_financialsupport WHERE reference LIKE 'BENCH-%%'")
    cursor.execute(f"INSERT INTO enterprises_financialsupport SELECT * FROM {SAVED}")  # noqa: S608
    cursor.execute(f"DROP TABLE {SAVED}")
    return True


def generate(cursor, start: date, today: date) -> None:
    """One loan per synthetic ME, its 24 instalments and its repayments (SQL only)."""
    params = {"pattern": SYNTHETIC, "start": start, "spread": SPREAD_DAYS, "n": INSTALMENTS, "today": today}
    # The synthetic MEs' own supports go aside; each ME gets one loan, dated so that its schedule runs
    # between the programme start and today.
    cursor.execute(
        """
        CREATE TABLE bench_finance_saved_supports AS SELECT s.* FROM enterprises_financialsupport s
        JOIN enterprises_enterprise e ON e.id = s.enterprise_id
        JOIN core_partnerorganization p ON p.id = e.partner_organization_id
        WHERE p.code LIKE %(pattern)s
        """,
        params,
    )
    cursor.execute(
        """
        DELETE FROM enterprises_financialsupport s USING enterprises_enterprise e, core_partnerorganization p
        WHERE s.enterprise_id = e.id AND e.partner_organization_id = p.id AND p.code LIKE %(pattern)s
        """,
        params,
    )
    cursor.execute(
        """
        INSERT INTO enterprises_financialsupport
            (enterprise_id, kind, amount, financier, disbursed_on, reference, created_at, updated_at)
        SELECT e.id, 'loan', 30000 + (e.id * 7919 %% 155) * 5000, 'world_bank',
               %(start)s::date + (e.id * 37 %% %(spread)s)::int, 'BENCH-' || e.id, now(), now()
        FROM enterprises_enterprise e JOIN core_partnerorganization p ON p.id = e.partner_organization_id
        WHERE p.code LIKE %(pattern)s
        """,
        params,
    )
    cursor.execute(
        """
        INSERT INTO finance_instalment (loan_id, number, due_on, principal, interest, principal_due_to_date,
                                        updated_at)
        SELECT s.id, n, (s.disbursed_on + make_interval(months => n))::date,
               CASE WHEN n < %(n)s THEN trunc(s.amount / %(n)s, 2)
                    ELSE s.amount - trunc(s.amount / %(n)s, 2) * (%(n)s - 1) END,
               round(s.amount * 0.12 / 12, 2),
               CASE WHEN n < %(n)s THEN trunc(s.amount / %(n)s, 2) * n ELSE s.amount END, now()
        FROM enterprises_financialsupport s CROSS JOIN generate_series(1, %(n)s) AS n
        WHERE s.reference LIKE 'BENCH-%%'
        """,
        params,
    )
    # Repayments: each instalment paid a few days after it falls due, except by 8 % of the loans,
    # which pay 45-85 days late, and 3 %, which pay 120-180 days late (so some are always behind);
    # nothing is paid after today.
    cursor.execute(
        """
        INSERT INTO finance_repayment
            (loan_id, paid_on, principal, interest, reference, created_at, updated_at)
        SELECT loan_id, paid_on, principal, interest, reference, now(), now() FROM (
            SELECT i.loan_id, i.principal, i.interest, 'R' || i.number AS reference,
                   i.due_on + CASE WHEN i.loan_id %% 100 < 3 THEN 120 + (i.loan_id %% 61)::int
                                   WHEN i.loan_id %% 100 < 11 THEN 45 + (i.loan_id %% 41)::int
                                   ELSE (i.loan_id %% 6)::int END AS paid_on
            FROM finance_instalment i JOIN enterprises_financialsupport s ON s.id = i.loan_id
            WHERE s.reference LIKE 'BENCH-%%'
        ) AS paid
        WHERE paid_on <= %(today)s::date
        """,
        params,
    )
    cursor.execute(
        """
        INSERT INTO finance_writeoff (loan_id, written_off_on, principal, reason, recorded_by_id, recorded_at,
                                      updated_at)
        SELECT s.id, %(today)s::date - 30, s.amount - coalesce(r.repaid, 0), 'Benchmark write-off',
               u.id, now(), now()
        FROM enterprises_financialsupport s
        LEFT JOIN (SELECT loan_id, sum(principal) AS repaid FROM finance_repayment GROUP BY loan_id) r
            ON r.loan_id = s.id
        CROSS JOIN (SELECT min(id) AS id FROM core_user) u
        WHERE s.reference LIKE 'BENCH-%%' AND s.id %% 500 = 0 AND s.id %% 100 < 3
          AND s.amount > coalesce(r.repaid, 0)
        """,
        params,
    )
    cursor.execute(
        "ANALYZE enterprises_financialsupport, finance_instalment, finance_repayment, finance_writeoff"
    )


def run(report: Report) -> None:
    today = date.today()
    start = settings.PROGRAMME_START
    last_disbursed = start + timedelta(days=SPREAD_DAYS)
    as_of_dates = {
        "midway": min(today, last_disbursed + timedelta(days=8 * 31)),
        "late": min(today, last_disbursed + timedelta(days=20 * 31)),
    }
    with connection.cursor() as cursor:
        with transaction.atomic():
            restore(cursor)
        try:
            started = time.perf_counter()
            with transaction.atomic():
                generate(cursor, start, today)
            for table in TABLES:  # as autovacuum leaves a table in service: statistics, visibility map
                cursor.execute(f"VACUUM ANALYZE {table}")
            report("finance_generate_seconds", time.perf_counter() - started, "s")
            for table, name in (
                ("enterprises_financialsupport WHERE reference LIKE 'BENCH-%%'", "loans"),
                ("finance_instalment", "instalments"),
                ("finance_repayment", "repayments"),
                ("finance_writeoff", "write_offs"),
            ):
                report(f"finance_{name}", _count(cursor, table), "rows")
            for label, as_of in as_of_dates.items():
                _measure(report, label, as_of)
        finally:
            with transaction.atomic():
                restore(cursor)
            cursor.execute("ANALYZE enterprises_financialsupport")


def _measure(report: Report, label: str, as_of: date) -> None:
    per_po = portfolio_by_po(as_of)  # warm the caches as for the SQL floor
    report(f"portfolio_{label}_as_of", int(as_of.strftime("%Y%m%d")), "date")
    report(f"portfolio_by_po_{label}_seconds", _median_seconds(partial(portfolio_by_po, as_of)), "s")
    report(f"portfolio_totals_{label}_seconds", _median_seconds(partial(portfolio_totals, as_of)), "s")
    report(f"portfolio_sql_floor_{label}_seconds", _median_seconds(partial(reference_by_po, as_of)), "s")
    totals = portfolio_totals(as_of)
    report(f"portfolio_pos_{label}", len(per_po), "POs")
    report(f"portfolio_active_loans_{label}", totals.loans, "loans")
    report(f"portfolio_outstanding_{label}", float(totals.outstanding), "BDT")
    report(f"portfolio_par30_{label}_percent", float(totals.par30_percent or Decimal(0)), "%")
    report(f"portfolio_par90_{label}_percent", float(totals.par90_percent or Decimal(0)), "%")
    report(f"portfolio_repayment_rate_{label}", float(totals.repayment_rate or Decimal(0)), "%")
    reference = reference_by_po(as_of)
    agrees = len(reference) == len(per_po) and all(
        {name: figures.as_dict()[name] for name in reference[po_id]} == reference[po_id]
        for po_id, figures in per_po.items()
    )
    report(f"portfolio_{label}_equals_sql", int(agrees), "bool")
