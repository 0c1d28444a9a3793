"""The exclusion list, kept by the PMU as data: who may change it, and the changes themselves.

Every signed-in user reads the list (pages and API); PMU officers and E&S officers who belong to no
PO add items, edit them and retire them (an item is never deleted: proposals and ME screenings that
named it keep the record). Pages and the API validate shape, then call these functions.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from core.errors import ActionRefused, Forbidden
from safeguards.models import ExclusionItem
from safeguards.permissions import is_pmu_side

EDITABLE_FIELDS = ("code", "name", "description", "active", "position")


def may_manage_exclusions(user) -> bool:
    """PMU officers and the PMU's E&S officers (never a PO's staff, whatever else they hold)."""
    return is_pmu_side(user)


def _require_manager(user) -> None:
    if not may_manage_exclusions(user):
        raise Forbidden(_("Only the PMU (PMU officers and E&S officers) keeps the exclusion list."))


def _code_taken(code: str, exclude_pk: int | None = None) -> bool:
    items = ExclusionItem.objects.filter(code=code)
    if exclude_pk is not None:
        items = items.exclude(pk=exclude_pk)
    return items.exists()


def create_item(*, user, data: dict[str, Any]) -> ExclusionItem:
    _require_manager(user)
    with transaction.atomic():
        if _code_taken(data["code"]):
            raise ActionRefused(
                _("The code %(code)s is already used on the exclusion list.") % {"code": data["code"]},
                code="exists",
            )
        item = ExclusionItem(**{name: data[name] for name in EDITABLE_FIELDS if name in data})
        item._change_reason = "added"
        item.save()
    return item


def update_item(*, user, item: ExclusionItem, data: dict[str, Any]) -> ExclusionItem:
    _require_manager(user)
    with transaction.atomic():
        locked = ExclusionItem.objects.select_for_update().get(pk=item.pk)
        if "code" in data and _code_taken(data["code"], exclude_pk=locked.pk):
            raise ActionRefused(
                _("The code %(code)s is already used on the exclusion list.") % {"code": data["code"]},
                code="exists",
            )
        changed = [name for name in EDITABLE_FIELDS if name in data and getattr(locked, name) != data[name]]
        for name in changed:
            setattr(locked, name, data[name])
        if changed:
            locked._change_reason = "retired" if changed == ["active"] and not locked.active else "edited"
            locked.save(update_fields=[*changed, "updated_at"])
    return locked


def retire_item(*, user, item: ExclusionItem) -> ExclusionItem:
    """Take an item out of force; it stays on record for whatever named it."""
    return update_item(user=user, item=item, data={"active": False})
