"""Environmental and social safeguards (issue 13): the exclusion list, E&S screening of proposals and
of MEs, DoE and BSTI clearances, and E&S incidents. Every status moves through core.lifecycle."""

from safeguards.models.clearances import Clearance, ClearanceKind, ClearanceQuerySet
from safeguards.models.incidents import (
    CorrectiveAction,
    CorrectiveActionStatus,
    Incident,
    IncidentKind,
    IncidentQuerySet,
    IncidentStatus,
    Severity,
)
from safeguards.models.screening import (
    EcrCategory,
    EsmpMeasure,
    EsReview,
    EsReviewStatus,
    ExclusionItem,
    MeScreening,
    MeScreeningOutcome,
    MeScreeningStatus,
)

__all__ = [
    "Clearance",
    "ClearanceKind",
    "ClearanceQuerySet",
    "CorrectiveAction",
    "CorrectiveActionStatus",
    "EcrCategory",
    "EsReview",
    "EsReviewStatus",
    "EsmpMeasure",
    "ExclusionItem",
    "Incident",
    "IncidentKind",
    "IncidentQuerySet",
    "IncidentStatus",
    "MeScreening",
    "MeScreeningOutcome",
    "MeScreeningStatus",
    "Severity",
]
