from __future__ import annotations

from django import template

from grievances import handling
from grievances.models import Grievance, GrievanceStatus

register = template.Library()


@register.filter
def due_by(grievance: Grievance):
    """The current tier's next deadline (to acknowledge, or to resolve), or None."""
    if grievance.status == GrievanceStatus.RECEIVED:
        return grievance.acknowledge_by
    if grievance.status == GrievanceStatus.ACKNOWLEDGED:
        return grievance.resolve_by
    return None


@register.filter
def is_overdue(grievance: Grievance) -> bool:
    return handling.is_overdue(grievance)
