"""What every money record shares: who may see it (a PO its own; the PMU's side everything)."""

from __future__ import annotations

from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models

from core.roles import Role

# Amounts in BDT: up to a thousand crore with paisa.
MONEY = {"max_digits": 14, "decimal_places": 2}
POSITIVE = [MinValueValidator(Decimal("0.01"))]
NOT_NEGATIVE = [MinValueValidator(Decimal("0"))]


def is_pmu_finance(user) -> bool:
    """A finance officer of the PMU (belonging to no PO): sees and decides every PO's money."""
    return bool(
        user is not None
        and user.is_authenticated
        and user.has_role(Role.FINANCE_OFFICER)
        and user.partner_organization_id is None
    )


def sees_all_money(user) -> bool:
    """Programme-wide readers (PMU, World Bank, PKSF approver) and the PMU's finance officers."""
    return bool(
        user is not None and user.is_authenticated and (user.sees_whole_programme or is_pmu_finance(user))
    )


class MoneyQuerySet(models.QuerySet):
    """A PO's staff (and a PO's own finance officer) see their PO's records; the PMU's side sees all;
    anyone else nothing. Another PO's record is answered as if it did not exist."""

    po_field = "partner_organization"

    def visible_to(self, user):
        if user is None or not user.is_authenticated:
            return self.none()
        if sees_all_money(user):
            return self
        if user.partner_organization_id:
            return self.filter(**{f"{self.po_field}_id": user.partner_organization_id})
        return self.none()
