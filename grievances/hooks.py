"""How grievance handling plugs into core: the focal points' "waiting on you" items."""

from __future__ import annotations

from django.utils.translation import gettext as _

from core.waiting import WaitingItem
from grievances import handling
from grievances.models import Grievance, GrievanceStatus

PER_KIND_LIMIT = 100


def _due(grievance: Grievance):
    if grievance.status == GrievanceStatus.RECEIVED:
        return grievance.acknowledge_by
    if grievance.status == GrievanceStatus.ACKNOWLEDGED:
        return grievance.resolve_by
    return None


def grievances_waiting(user) -> list[WaitingItem]:
    """Focal points: each open grievance of the tier they handle, oldest first (at most 100)."""
    if not user.is_authenticated or not user.has_role(*handling.HANDLER_ROLES):
        return []
    rules = [rule for rule in handling.GRIEVANCE_RULES if rule.waits]
    states = set().union(*(rule.sources for rule in rules))
    grievances = (
        Grievance.objects.visible_to(user)
        .filter(handling.handled_by(user), status__in=states)
        .select_related("partner_organization")
        .order_by("status_changed_at", "pk")[:PER_KIND_LIMIT]
    )
    items = []
    for grievance in grievances:
        what = " · ".join(str(rule.label) for rule in rules if grievance.status in rule.sources)
        items.append(
            WaitingItem(
                reference=grievance.reference,
                title=_("%(category)s grievance, %(tier)s")
                % {"category": grievance.get_category_display(), "tier": grievance.get_tier_display()},
                url=grievance.get_absolute_url(),
                what=what,
                since=grievance.status_changed_at,
                due=_due(grievance),
                note=grievance.partner_organization.code if grievance.partner_organization else "",
            )
        )
    return items
