"""What a persona must never read: the leak check of the security tests.

The scope of a persona is what `core.visibility` lets them see; a response leaks when it contains
any of these, whatever its status, format (HTML, JSON, CSV) or method (OPTIONS included):

- titles of objects outside the persona's scope: concept notes, proposals, sub-projects, calls (so a
  draft call, for everyone but the roles that read the whole programme), attachments' file names,
  and, for the roles that read field data or none (PO staff, TEC members), clusters, enterprises and
  facilities. For PO staff these are another PO's objects; for the PMU, the World Bank and the
  approver, the drafts a PO never submitted. A title that also belongs to something the persona may
  see (a proposal keeps its note's title) is not a leak.
- incidents, corrective actions, clearances and grievances (subject, text, resolution, attachments)
  outside the persona's scope; and the complainants' names and contact details of the grievances
  whose current tier the persona does not handle (seeing a case is not seeing who lodged it).
- usernames of people outside the persona's scope:
  - PO staff: the staff of every other PO and the TEC members (who evaluate their proposals);
  - TEC members: every PO's staff, and the members of meetings they do not sit on;
  - verifiers: the TEC members (PO staff who reported what they check, and PMU officers, they may
    see named);
  - programme-wide roles (PMU, World Bank, approver): anyone may be named.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.db.models import Model

from core import visibility
from core.models import User
from core.roles import Role
from enterprises.models import Cluster, CommonServiceFacility, Enterprise
from enterprises.permissions import can_read_field_data, is_independent_checker
from finance.models import is_pmu_finance
from grievances.models import Grievance, GrievanceAttachment
from safeguards.models import Clearance, CorrectiveAction, Incident
from subprojects.models import Attachment, Call, ConceptNote, Proposal, SubProject, TecMeeting

# (model, field): the titles that say what an object is.
TITLES: list[tuple[type[Model], str]] = [
    (ConceptNote, "title"),
    (Proposal, "title"),
    (SubProject, "title"),
    (Call, "title"),
    (Call, "reference"),
    (Attachment, "original_name"),
    # Safeguards and grievances (issue 13): each model's visible_to says who sees them (a grievance:
    # its PO's and the PMU's grievance focal points; an SEA/SH case: the SEA/SH focal points only).
    (Incident, "title"),
    (Incident, "description"),
    (CorrectiveAction, "description"),
    (Clearance, "number"),
    (Clearance, "document_name"),
    (Grievance, "subject"),
    (Grievance, "description"),
    (Grievance, "resolution"),
    (GrievanceAttachment, "original_name"),
]
# Who complained: shown only to those handling the case's current tier (grievances.handling), not to
# everyone who sees the case.
IDENTITY_FIELDS = ("complainant_name", "complainant_phone", "complainant_email", "complainant_address")
FIELD_DATA_TITLES: list[tuple[type[Model], str]] = [
    (Cluster, "name"),
    (Enterprise, "name"),
    (CommonServiceFacility, "name"),
]
MAX_PER_MODEL = 25  # of the many enterprises of other POs, a sample (scanning every name is slow)
SHORTEST = 8  # shorter titles are words that occur anywhere


@dataclass
class Scope:
    """One persona's forbidden strings and usernames, and a check of a response against them."""

    user: User
    titles: set[str] = field(default_factory=set)
    usernames: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        names = "|".join(re.escape(name) for name in sorted(self.usernames, key=len, reverse=True))
        # A username as a whole word: "po2" but not "po21" or "PO-002".
        self._usernames = re.compile(rf"(?<![\w-])(?:{names})(?![\w-])") if names else None

    def leaks(self, text: str) -> list[str]:
        found = [title for title in self.titles if title in text]
        if self._usernames is not None:
            found += sorted({f"username {match}" for match in self._usernames.findall(text)})
        return found


def _sample(values: list[str]) -> list[str]:
    if len(values) <= MAX_PER_MODEL:
        return values
    step = len(values) / MAX_PER_MODEL
    return [values[int(i * step)] for i in range(MAX_PER_MODEL)]


def forbidden_usernames(user: User) -> set[str]:
    if user.sees_whole_programme:
        return set()
    staff = User.objects.filter(groups__name="PO staff")
    tec = User.objects.filter(groups__name="TEC member")
    if user.has_role(Role.PO_STAFF):
        outsiders = staff.exclude(partner_organization_id=user.partner_organization_id).union(tec)
    elif user.has_role(Role.TEC_MEMBER):
        colleagues = TecMeeting.members.through.objects.filter(
            tecmeeting__in=TecMeeting.objects.visible_to(user)
        ).values("user")
        outsiders = staff.union(tec.exclude(pk__in=colleagues))
    elif is_independent_checker(user) or is_pmu_finance(user):
        # Verifiers name the PO staff who reported what they check; PKSF finance those who requested
        # releases and submitted spending.
        outsiders = tec
    else:
        outsiders = staff.union(tec)
    return {name for name in outsiders.values_list("username", flat=True) if name != user.username}


def scope_of(user: User, *, extra_titles: list[tuple[type[Model], str]] | None = None) -> Scope:
    """The persona's scope, from the same rules as the portal's lists (core.visibility)."""
    titled = list(TITLES)
    # Verifiers see the enterprises and facilities they check, through the checks: not a leak.
    if can_read_field_data(user) or user.has_role(Role.TEC_MEMBER):
        titled += FIELD_DATA_TITLES
    titled += extra_titles or []
    seen: set[str] = set()
    hidden: list[str] = []
    for model, name in titled:
        visible = visibility.visible(model, user)
        seen.update(v for v in visible.values_list(name, flat=True) if v)
        others = model._default_manager.exclude(pk__in=visible.values("pk")).order_by("pk")
        hidden += _sample([v for v in others.values_list(name, flat=True) if v and len(v) >= SHORTEST])
    titles = {title for title in hidden if not any(title in allowed for allowed in seen)}
    titles |= hidden_identities(user)
    return Scope(user=user, titles=titles, usernames=forbidden_usernames(user))


def hidden_identities(user: User) -> set[str]:
    """The complainants' names and contact details of the grievances whose tier `user` does not
    handle (the handlers' own are theirs to see)."""
    from grievances.handling import handled_by

    handled = Grievance.objects.filter(handled_by(user))
    seen = {v for field in IDENTITY_FIELDS for v in handled.values_list(field, flat=True) if v}
    others = Grievance.objects.exclude(pk__in=handled.values("pk"))
    hidden = {v for field in IDENTITY_FIELDS for v in others.values_list(field, flat=True) if v}
    return {value for value in hidden - seen if len(value) >= SHORTEST}
