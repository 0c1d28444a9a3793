"""Helpers shared by the enterprise models: field options, the checks on sub-projects and on the
enterprise a field record hangs on."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from subprojects.models import POScopedQuerySet, SubProject, SubProjectStatus

if TYPE_CHECKING:
    from enterprises.models.registry import Enterprise

__all__ = [
    "GPS",
    "OPEN_FOR_FIELD_RECORDS",
    "OPEN_FOR_NEW_ENTERPRISES",
    "SCORE",
    "FieldRecordQuerySet",
    "check_enterprise_open",
    "check_sub_project_open",
    "check_sub_project_po",
    "take_po_of_sub_project",
]


GPS = {"max_digits": 9, "decimal_places": 6, "null": True, "blank": True}
SCORE = {
    "max_digits": 4,
    "decimal_places": 1,
    "null": True,
    "blank": True,
    "validators": [MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(100))],
}


def _collect(errors: dict, field: str, check, *args) -> None:
    """Run one check of enterprises.validation and file its message under `field`."""
    try:
        check(*args)
    except ValidationError as exc:
        errors.setdefault(field, []).extend(exc.messages)


def _merge(errors: dict, found: dict[str, str]) -> None:
    for field, message in found.items():
        errors.setdefault(field, []).append(message)


# Sub-projects in which new field data may be entered: suspended and cancelled ones are frozen.
OPEN_FOR_NEW_ENTERPRISES = {SubProjectStatus.ACTIVE}
OPEN_FOR_FIELD_RECORDS = {SubProjectStatus.ACTIVE, SubProjectStatus.COMPLETED}


def take_po_of_sub_project(obj: models.Model) -> None:
    """Objects of a sub-project (enterprises, sessions, facilities) belong to the sub-project's PO."""
    if obj.sub_project_id and not obj.partner_organization_id:
        obj.partner_organization_id = obj.sub_project.partner_organization_id


def check_sub_project_po(obj: models.Model, errors: dict) -> None:
    if (
        obj.sub_project_id
        and obj.partner_organization_id
        and obj.partner_organization_id != obj.sub_project.partner_organization_id
    ):
        errors.setdefault("sub_project", []).append(str(_("This sub-project belongs to another PO.")))


def check_sub_project_open(sub_project: SubProject, statuses: set[str], message: str, errors: dict) -> None:
    """`message` names the sub-project as %(sp)s and its status as %(status)s."""
    if sub_project.status not in statuses:
        errors.setdefault("sub_project", []).append(
            str(message % {"sp": sub_project.agreement_number, "status": sub_project.get_status_display()})
        )


class FieldRecordQuerySet(POScopedQuerySet):
    """Records that hang on one enterprise: scoped through the enterprise's PO."""

    po_field = "enterprise__partner_organization"


def check_enterprise_open(enterprise: Enterprise | None, errors: dict) -> None:
    if enterprise is None:
        return
    status = enterprise.sub_project.status
    if status not in OPEN_FOR_FIELD_RECORDS:
        errors.setdefault("enterprise", []).append(
            str(
                _("The sub-project of %(me)s is %(status)s: no field data can be entered for it.")
                % {"me": enterprise.po_code, "status": enterprise.sub_project.get_status_display()}
            )
        )
