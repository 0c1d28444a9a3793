"""The portfolio as of a date, worked out by hand on a small programme: per loan (due, repaid,
outstanding, days past due), per PO, by owner gender and for the programme, and the same figures from
the independent SQL (finance.portfolio_reference)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.roles import Role
from enterprises.models import FinancialSupport, Gender, SupportKind
from finance import loans
from finance.portfolio import (
    Figures,
    days_past_due,
    in_bucket,
    portfolio_by_gender,
    portfolio_by_po,
    portfolio_totals,
    with_figures,
)
from finance.portfolio_reference import reference_by_gender, reference_by_po, reference_totals
from tests.enterprises.factories import EnterpriseFactory, FinancialSupportFactory, sub_project_for
from tests.factories import make_user

pytestmark = pytest.mark.django_db

D = Decimal
AS_OF = date(2025, 3, 15)


def _loan(sub_project, amount: str, disbursed_on: date, gender: str, **me) -> FinancialSupport:
    enterprise = EnterpriseFactory(sub_project=sub_project, owner_gender=gender, **me)
    return FinancialSupportFactory(enterprise=enterprise, amount=D(amount), disbursed_on=disbursed_on)


def _pay(loan, user, *months: int, each: str, year_of=lambda m: 2024 if m >= 10 else 2025) -> None:
    for month in months:
        loans.add_repayment(
            user=user,
            loan=loan,
            paid_on=date(year_of(month), month, 3),
            principal=D(each),
            reference=f"M{month}",
        )


@pytest.fixture
def programme(po_one, po_two):
    """PO-T01: A (120,000, woman) 104 days late, B (60,000, man) 42 days late, C (36,000, woman) on
    time, D (24,000, man) written off, a grant and a loan disbursed after the date. PO-T02: G (50,000)
    to a confirmed duplicate of A's enterprise, with no schedule yet."""
    po1 = make_user("po1", Role.PO_STAFF, po=po_one)
    sp1, sp2 = sub_project_for(po_one), sub_project_for(po_two)
    a = _loan(sp1, "120000", date(2024, 10, 1), Gender.FEMALE)
    b = _loan(sp1, "60000", date(2024, 10, 1), Gender.MALE)
    c = _loan(sp1, "36000", date(2024, 12, 1), Gender.FEMALE)
    d = _loan(sp1, "24000", date(2024, 10, 1), Gender.MALE)
    FinancialSupportFactory(enterprise=a.enterprise, kind=SupportKind.GRANT, disbursed_on=date(2024, 10, 1))
    _loan(sp1, "99000", date(2025, 4, 1), Gender.FEMALE)
    g = _loan(sp2, "50000", date(2024, 12, 1), Gender.MALE, duplicate_of=a.enterprise)
    for loan, first in (
        (a, date(2024, 11, 1)),
        (b, date(2024, 11, 1)),
        (c, date(2025, 1, 1)),
        (d, date(2024, 11, 1)),
    ):
        loans.generate_schedule(loan, term_months=12, first_due_on=first, user=po1)
    _pay(a, po1, 11, each="10000")
    _pay(b, po1, 11, 12, 1, each="5000")
    _pay(c, po1, 1, 2, 3, each="3000")
    loans.record_write_off(
        user=po1, loan=d, written_off_on=date(2025, 2, 1), principal=D("24000"), reason="Closed."
    )
    return {"a": a, "b": b, "c": c, "d": d, "g": g}


def test_each_loans_figures_as_of_the_date(programme):
    figures = {loan.pk: loan for loan in with_figures(FinancialSupport.objects.all(), AS_OF)}
    a, b, c, d, g = (figures[programme[key].pk] for key in "abcdg")

    assert (a.due, a.repaid, a.outstanding, a.arrears, days_past_due(a, AS_OF)) == (
        D("50000"),
        D("10000"),
        D("110000"),
        D("40000"),
        104,  # December's instalment, due 1 Dec 2024
    )
    assert (b.due, b.repaid, b.outstanding, b.arrears, days_past_due(b, AS_OF)) == (
        D("25000"),
        D("15000"),
        D("45000"),
        D("10000"),
        42,
    )
    assert (c.outstanding, c.arrears, days_past_due(c, AS_OF)) == (D("27000"), D("0"), 0)
    assert (d.outstanding, d.written_off, d.written_off_on, days_past_due(d, AS_OF)) == (
        D("0"),
        D("24000"),
        date(2025, 2, 1),
        0,
    )
    assert (g.due, g.outstanding, days_past_due(g, AS_OF)) == (D("0"), D("50000"), 0)
    assert len(figures) == 5  # no grant, nothing disbursed after the date
    scoped = with_figures(FinancialSupport.objects.all(), AS_OF)
    assert {loan.pk for loan in in_bucket(scoped, "over-90", AS_OF)} == {a.pk}
    assert {loan.pk for loan in in_bucket(scoped, "31-90", AS_OF)} == {b.pk}
    assert {loan.pk for loan in in_bucket(scoped, "current", AS_OF)} == {c.pk, g.pk}


def test_each_pos_portfolio(programme, po_one, po_two):
    by_po = portfolio_by_po(AS_OF)

    one, two = by_po[po_one.pk], by_po[po_two.pk]
    assert one == Figures(
        loans_disbursed=4,
        disbursed=D("240000"),
        loans=3,
        borrowers=3,
        women_borrowers=2,
        men_borrowers=1,
        outstanding=D("182000"),
        par30=D("155000"),
        par90=D("110000"),
        par30_loans=2,
        par90_loans=1,
        due=D("94000"),
        repaid=D("34000"),
        repaid_against_due=D("34000"),
        arrears=D("50000"),
        write_offs=1,
        written_off=D("24000"),
    )
    assert (one.par30_percent, one.par90_percent, one.repayment_rate) == (D("85.16"), D("60.44"), D("36.17"))
    # G's enterprise is a confirmed duplicate of A's: it counts as A's (a woman's) in PO-T02.
    assert (two.loans, two.borrowers, two.women_borrowers, two.men_borrowers, two.outstanding) == (
        1,
        1,
        1,
        0,
        D("50000"),
    )
    assert (two.par30_percent, two.repayment_rate) == (D("0.00"), None)


def test_the_programme_counts_each_borrower_once(programme):
    totals = portfolio_totals(AS_OF)

    assert (totals.loans, totals.borrowers, totals.women_borrowers, totals.men_borrowers) == (4, 3, 2, 1)
    assert totals.outstanding == D("232000")
    assert totals.par30 == D("155000")


def test_by_owner_gender(programme):
    by_gender = portfolio_by_gender(AS_OF)

    assert set(by_gender) == {Gender.FEMALE, Gender.MALE}
    assert by_gender[Gender.FEMALE].outstanding == D("110000") + D("27000") + D("50000")
    assert by_gender[Gender.MALE].outstanding == D("45000")
    assert by_gender[Gender.MALE].write_offs == 1


def test_before_anything_fell_due_and_before_any_loan(programme, po_one):
    early = portfolio_by_po(date(2024, 10, 15))

    assert set(early) == {po_one.pk}
    assert (early[po_one.pk].outstanding, early[po_one.pk].due, early[po_one.pk].repayment_rate) == (
        D("204000"),
        D("0"),
        None,
    )
    assert portfolio_by_po(date(2024, 9, 1)) == {}
    assert portfolio_totals(date(2024, 9, 1)) == Figures()


@pytest.mark.parametrize("as_of", [date(2024, 10, 15), date(2024, 12, 31), AS_OF, date(2025, 11, 30)])
def test_the_independent_sql_agrees(programme, as_of):
    mine = {po: figures.as_dict() for po, figures in portfolio_by_po(as_of).items()}
    reference = reference_by_po(as_of)

    assert set(mine) == set(reference)
    for po, row in reference.items():
        assert {name: mine[po][name] for name in row} == row
    totals = portfolio_totals(as_of).as_dict()
    assert {name: totals[name] for name in reference_totals(as_of)} == reference_totals(as_of)
    genders = {key: figures.as_dict() for key, figures in portfolio_by_gender(as_of).items()}
    for key, row in reference_by_gender(as_of).items():
        assert {name: genders[key][name] for name in row} == row


def test_one_query_whatever_the_number_of_loans(programme, po_one):
    with CaptureQueriesContext(connection) as few:
        portfolio_by_po(AS_OF)
    sp = sub_project_for(po_one)
    for _ in range(5):
        _loan(sp, "10000", date(2024, 11, 1), Gender.FEMALE)
    with CaptureQueriesContext(connection) as more:
        portfolio_by_po(AS_OF)

    assert len(few) == len(more) == 1
