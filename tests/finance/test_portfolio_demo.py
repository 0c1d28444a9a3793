"""On the demo programme: the portfolio per PO, by owner gender and for the programme equals an
independent SQL computation (finance.portfolio_reference, and the plain SQL below) as of two dates, and
the demo's loans tell the story they should (schedules, repayments that add up, a few loans late, two
written off). Run on SQLite and on PostgreSQL."""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from demo import finance_loans
from enterprises.models import FinancialSupport, SupportKind
from finance.models import Instalment, Repayment, WriteOff
from finance.portfolio import (
    days_past_due,
    portfolio_by_gender,
    portfolio_by_po,
    portfolio_totals,
    with_figures,
)
from finance.portfolio_reference import reference_by_gender, reference_by_po, reference_totals

pytestmark = pytest.mark.django_db

CENT = Decimal("0.01")


def _fetch(sql: str, params: list) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


@pytest.mark.parametrize("days_ago", [0, 200])
def test_the_portfolio_equals_the_independent_sql(demo_data, days_ago):
    as_of = timezone.localdate() - timedelta(days=days_ago)

    mine = {po: figures.as_dict() for po, figures in portfolio_by_po(as_of).items()}
    reference = reference_by_po(as_of)
    totals = portfolio_totals(as_of).as_dict()
    genders = {key: figures.as_dict() for key, figures in portfolio_by_gender(as_of).items()}

    assert len(reference) >= 2
    assert set(mine) == set(reference)
    for po, row in reference.items():
        assert {name: mine[po][name] for name in row} == row, po
    assert {name: totals[name] for name in reference_totals(as_of)} == reference_totals(as_of)
    for key, row in reference_by_gender(as_of).items():
        assert {name: genders[key][name] for name in row} == row, key
    # The story has numbers in it: loans outstanding, some at risk, something repaid.
    assert totals["outstanding"] > 0
    assert totals["repaid"] > 0
    if days_ago == 0:
        assert totals["par30"] > 0
        assert totals["par90"] > 0
        assert totals["write_offs"] == 2


@pytest.mark.parametrize("days_ago", [0, 200])
def test_outstanding_and_par_equal_a_plain_sql_sum(demo_data, days_ago):
    """A third road, without the reference module: outstanding per PO straight from the tables, and
    PAR>30 from each loan's oldest unpaid instalment."""
    as_of = timezone.localdate() - timedelta(days=days_ago)
    rows = _fetch(
        """
        SELECT e.partner_organization_id,
               SUM(s.amount - (SELECT COALESCE(ROUND(SUM(r.principal), 2), 0) FROM finance_repayment r
                               WHERE r.loan_id = s.id AND r.paid_on <= %s))
        FROM enterprises_financialsupport s JOIN enterprises_enterprise e ON e.id = s.enterprise_id
        WHERE s.kind = 'loan' AND s.disbursed_on <= %s
          AND NOT EXISTS (SELECT 1 FROM finance_writeoff w WHERE w.loan_id = s.id AND w.written_off_on <= %s)
        GROUP BY e.partner_organization_id
        """,
        [as_of, as_of, as_of],
    )
    by_po = portfolio_by_po(as_of)

    assert {po: Decimal(str(total)).quantize(CENT) for po, total in rows} == {
        po: figures.outstanding
        for po, figures in by_po.items()
        if figures.loans_disbursed > figures.write_offs
    }
    late = {
        loan.pk: loan.outstanding
        for loan in with_figures(FinancialSupport.objects.all(), as_of)
        if days_past_due(loan, as_of) > 30
    }
    assert sum(late.values(), Decimal(0)) == portfolio_totals(as_of).par30


def test_the_demo_loans_have_schedules_and_repayments_that_add_up(demo_data):
    today = timezone.localdate()
    loans = FinancialSupport.objects.filter(kind=SupportKind.LOAN).exclude(
        enterprise__partner_organization__code__startswith="SYN-"
    )
    terms = _fetch(
        "SELECT loan_id, COUNT(*), SUM(principal), MAX(principal_due_to_date) "
        "FROM finance_instalment GROUP BY loan_id",
        [],
    )
    over_repaid = _fetch(
        """
        SELECT s.id FROM enterprises_financialsupport s
        JOIN finance_repayment r ON r.loan_id = s.id
        GROUP BY s.id, s.amount HAVING ROUND(SUM(r.principal), 2) > s.amount
        """,
        [],
    )
    amounts = dict(loans.values_list("pk", "amount"))

    assert len(terms) == len(amounts) > 1000
    assert {count for _loan, count, _sum, _last in terms} <= {12, 18, 24}
    assert all(Decimal(str(total)).quantize(CENT) == amounts[loan] for loan, _n, total, _last in terms)
    assert over_repaid == []
    assert not Repayment.objects.filter(paid_on__gt=today).exists()
    assert WriteOff.objects.count() == 2
    # Of the loans still being repaid, about 8 % are 31-90 days behind and 3 % more than 90.
    active = [loan for loan in with_figures(loans, today) if loan.outstanding > 0]
    days = [days_past_due(loan, today) for loan in active]
    late, very_late = sum(1 for d in days if 30 < d <= 90), sum(1 for d in days if d > 90)
    assert 0.05 < late / len(active) < 0.2
    assert 0.01 < very_late / len(active) < 0.08
    assert sum(1 for d in days if 0 < d <= 30) < late  # the others pay on time


def test_seeding_the_demo_again_adds_nothing(demo_data):
    counts = (Instalment.objects.count(), Repayment.objects.count(), WriteOff.objects.count())

    finance_loans.seed(io.StringIO())

    assert (Instalment.objects.count(), Repayment.objects.count(), WriteOff.objects.count()) == counts
