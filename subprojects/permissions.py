"""Who may do what with calls, concept notes, proposals, sub-projects and their evaluation.

Each right is stated once, here, and asked everywhere it matters:

- the services (subprojects.services, subprojects.evaluation) `require()` it: `Forbidden`, a 403 on
  pages (core.lifecycle.views.report_refusal) and in the API (smart_portal.api.exception_handler);
- the pages gate on it (`page_requires`, or a check on the fetched object: 403) and hand its answer
  to their templates as the booleans that show buttons (`can_edit`, `can_invite`, ...);
- the API gates writes on it (`WritesNeed`) or lets the service's `Forbidden` answer.

Who may take a *transition* is in the rule tables (subprojects.workflow on core.lifecycle); whether
something is possible *now* (a state, a deadline) is the services' and the guards' business (409).
Reading is scoping (`visible_to`): another PO's object is a 404, never a 403.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps

from django.core.exceptions import PermissionDenied
from rest_framework.permissions import SAFE_METHODS, BasePermission

from core import lifecycle
from core.errors import Forbidden
from core.permissions import has_role, is_pmu, is_po_staff
from core.roles import Role


def require(allowed: bool, message: str) -> None:
    """How the services ask a right: `Forbidden` (403) with `message` unless `allowed`."""
    if not allowed:
        raise Forbidden(message)


# --- Calls, concept notes, proposals, sub-projects ---------------------------------------------


def may_edit_call(user) -> bool:
    """PMU officers create calls and edit them (whether a call may still change is its state's)."""
    return is_pmu(user)


def may_write_for_po(user) -> bool:
    """Staff of a PO write concept notes and proposals, for their own PO only."""
    return is_po_staff(user)


def _writes_for(user, obj) -> bool:
    return may_write_for_po(user) and user.partner_organization_id == obj.partner_organization_id


def may_edit_note(user, note) -> bool:
    """The staff of the note's PO edit it (and its attachments) while it is a draft."""
    return _writes_for(user, note)


def may_edit_proposal(user, proposal) -> bool:
    """The staff of the proposal's PO edit it (and its attachments) while it is invited or a draft."""
    return _writes_for(user, proposal)


def may_invite(user) -> bool:
    """PMU officers invite a shortlisted concept note to a full proposal."""
    return is_pmu(user)


def may_change_deadline(user) -> bool:
    """PMU officers move the submission deadline of a proposal."""
    return is_pmu(user)


def may_amend_sub_project(user) -> bool:
    """PMU officers amend a sub-project's dates, title and budget shares."""
    return is_pmu(user)


# --- Technical evaluation -----------------------------------------------------------------------


def may_edit_rubric(user) -> bool:
    """PMU officers set a call's rubric (until scores are submitted under it)."""
    return is_pmu(user)


def may_organise_meetings(user) -> bool:
    """PMU officers organise TEC meetings and set their agendas."""
    return is_pmu(user)


def may_take_attendance(user, meeting) -> bool:
    """The meeting's chair records who is present (when opening the meeting) and corrects it until
    the minutes are final; the PMU, who organises the meeting, may too (e.g. when the chair is away)."""
    return is_pmu(user) or (has_role(user, Role.TEC_MEMBER) and meeting.chair_id == user.pk)


def is_tec_member(user) -> bool:
    """TEC members open the pages of their meetings' agendas, declare and score."""
    return has_role(user, Role.TEC_MEMBER)


def may_score(user, item) -> bool:
    """A TEC member sitting on the item's meeting declares conflicts and scores its proposal."""
    return is_tec_member(user) and item.meeting.members.filter(pk=user.pk).exists()


def may_decide(user, proposal) -> bool:
    """Who records the committee's decisions: the rule tables' `who` (the chair, or the PMU)."""
    return any(
        lifecycle.may_act(user, proposal, rule)
        for rule in lifecycle.rules_for(type(proposal))
        if rule.effect == "record_decision"
    )


def may_meet_conditions(user) -> bool:
    """PMU officers check the conditions of a recommendation off (until the award)."""
    return is_pmu(user)


def may_add_evidence(user, proposal) -> bool:
    """The staff of the proposal's PO add their evidence that a condition is met."""
    return user.has_role(Role.PO_STAFF) and user.partner_organization_id == proposal.partner_organization_id


# --- Gates: pages and API -----------------------------------------------------------------------


def page_requires(right: Callable[[object], bool]) -> Callable:
    """Page views: signed in (else the login page) and `right(user)` (else 403)."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.is_authenticated:
                from django.contrib.auth.views import redirect_to_login

                return redirect_to_login(request.get_full_path())
            if not right(request.user):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


class WritesNeed(BasePermission):
    """API: anyone signed in reads (scoping decides what); writes need `right(user)`.

    `WritesNeed.to(right)` checks every write (its transitions too); `WritesNeed.to(right, actions=...)`
    only those actions of the viewset (the others ask their own right, or are transitions)."""

    right: Callable = staticmethod(lambda user: False)
    actions: frozenset[str] | None = None

    @classmethod
    def to(cls, right: Callable[[object], bool], actions: Iterable[str] | None = None) -> type[WritesNeed]:
        return type(
            f"WritesNeed_{right.__name__}",
            (cls,),
            {"right": staticmethod(right), "actions": None if actions is None else frozenset(actions)},
        )

    def has_permission(self, request, view) -> bool:
        if not request.user.is_authenticated:
            return False
        if request.method in SAFE_METHODS:
            return True
        if self.actions is not None and getattr(view, "action", None) not in self.actions:
            return True
        return self.right(request.user)


MODEL_WRITES = ("create", "update", "partial_update")
