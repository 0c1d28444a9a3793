"""Personas of the money pages: the PMU's finance officer, and a finance officer who belongs to a PO
(sees only that PO's money)."""

import pytest

from core.roles import Role
from tests.factories import make_user


@pytest.fixture
def finance(db):
    """PKSF finance (no PO): approves and records releases, prepares the IFRs."""
    return make_user("finance", Role.FINANCE_OFFICER)


@pytest.fixture
def po_finance(po_one):
    """A finance officer of PO-T01: a PO's staff member as far as money goes."""
    return make_user("po_finance", Role.FINANCE_OFFICER, Role.PO_STAFF, po=po_one)
