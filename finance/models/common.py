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


def is_po_money_staff(user, po_id: int | None = None) -> bool:
    """A PO's staff member or the PO's own finance officer (of this PO, when given): sees and records
    that PO's money, nothing of another PO's."""
    return bool(
        user is not None
        and user.is_authenticated
        and user.partner_organization_id is not None
        and user.has_role(Role.PO_STAFF, Role.FINANCE_OFFICER)
        and (po_id is None or user.partner_organization_id == po_id)
    )


def may_read_money(user) -> bool:
    """The money pages and API: the PMU's side (every PO's) and a PO's money staff (their PO's)."""
    return sees_all_money(user) or is_po_money_staff(user)


def is_pmu_money_side(user) -> bool:
    """A PMU officer or a finance officer belonging to no PO: decides on a PO's money (accepts spending,
    edits schedules, keeps the rates). A PO never does, whatever role it also holds."""
    return bool(
        user is not None
        and user.is_authenticated
        and user.partner_organization_id is None
        and user.has_role(Role.PMU_OFFICER, Role.FINANCE_OFFICER)
    )


def belongs_to_no_po(user, obj=None) -> bool:
    """WHO of the money rules: the PMU's side, i.e. belonging to no PO (the rule's roles are checked
    first)."""
    return user is not None and user.partner_organization_id is None
