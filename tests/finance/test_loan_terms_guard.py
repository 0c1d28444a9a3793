"""A loan the PO's books already repay keeps its terms, and is never deleted (its repayments and its
write-off would go with it)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from core.errors import ActionRefused
from enterprises import services
from enterprises.models import FinancialSupport, SupportKind
from finance import loans
from finance.models import Repayment
from tests.finance.test_loans import loan_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def repaid_loan(po_one, po1):
    loan = loan_of(po_one, amount="120000", disbursed_on=date(2024, 10, 1))
    loans.generate_schedule(loan, term_months=12, first_due_on=date(2024, 11, 1), user=po1)
    Repayment.objects.create(loan=loan, paid_on=date(2024, 11, 1), principal=Decimal("10000"), reference="R1")
    return loan


def test_a_repaid_loan_cannot_become_a_grant_shrink_or_move_after_its_repayments(repaid_loan, po1):
    with pytest.raises(ValidationError) as refused:
        services.update_financial_support(
            user=po1,
            support=repaid_loan,
            data={"kind": SupportKind.GRANT, "amount": Decimal("5000"), "disbursed_on": date(2024, 12, 1)},
        )
    errors = refused.value.message_dict
    assert "cannot become a grant" in errors["kind"][0]
    assert "10,000.00 BDT" in errors["amount"][0]
    assert "2024-11-01" in errors["disbursed_on"][0]
    stored = FinancialSupport.objects.get(pk=repaid_loan.pk)
    assert (stored.kind, stored.amount) == (SupportKind.LOAN, Decimal("120000.00"))


def test_its_reference_may_still_be_corrected(repaid_loan):
    repaid_loan.reference = "LN-2024-0001"
    repaid_loan.full_clean()


def test_a_loan_without_repayments_may_still_change(po_one):
    loan = loan_of(po_one, amount="120000")
    loan.amount = Decimal("90000")
    loan.full_clean()


def test_a_repaid_loan_is_not_deleted(repaid_loan, po1):
    with pytest.raises(ActionRefused, match="cannot be deleted"):
        services.delete_record(user=po1, record=repaid_loan)
    assert FinancialSupport.objects.filter(pk=repaid_loan.pk).exists()
    assert Repayment.objects.filter(loan=repaid_loan).count() == 1
