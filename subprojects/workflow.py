"""The lifecycle of SPEC 3 as data, and the one function that moves anything along it.

Each rule says: this action, from these states, by these roles, leads to that state. Pages, the API,
tasks, buttons, "waiting on you" lists, notifications and the refusal tests all read the same table.
`apply()` locks the row, checks the rule and its guard, saves, writes the Transition log and queues
notifications after commit; any refusal raises ActionRefused and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Model
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from core.errors import ActionRefused
from core.permissions import is_pmu
from core.roles import Role
from subprojects import evaluation
from subprojects.models import (
    TARGETING_FIELDS,
    TARGETING_M2M,
    Call,
    CallStatus,
    ConceptNote,
    NoteStatus,
    Proposal,
    ProposalStatus,
    SubProject,
    SubProjectStatus,
    Transition,
)
from verification import checks as verification_checks
from verification.models import VERIFYING_ROLES, CheckStatus, VerificationCheck

Guard = Callable[..., None]  # raises ActionRefused when the action may not happen now


@dataclass(frozen=True)
class Rule:
    action: str
    label: str | Promise
    sources: frozenset[str]
    target: str
    roles: frozenset[Role]
    comment_required: bool = False
    # Buttons for irreversible or heavy actions ask for confirmation in the browser.
    confirm: str | Promise = ""
    # "primary", "danger" or "secondary": how the button looks.
    style: str = "primary"
    # Extra checks (deadline, completeness, ...) and side effects, by name in this module.
    guards: tuple[str, ...] = ()
    effect: str = ""
    # Actions taken by a PO's staff on their own PO's object.
    po_owned: bool = False
    # Parameters the action takes (besides the comment), validated by the guard/effect.
    params: tuple[str, ...] = field(default=())
    # Whether the object then "waits on" the role (home page list); optional actions don't.
    waits: bool = True
    # A further check of *who* may act, beyond the role (e.g. the meeting's chair), by name in WHO.
    who: str = ""


def _rule(action, label, sources, target, roles, **kwargs) -> Rule:
    return Rule(action, label, frozenset(sources), target, frozenset(roles), **kwargs)


PMU = {Role.PMU_OFFICER}
PO = {Role.PO_STAFF}
# The committee's decisions are recorded by the meeting's chair or by the PMU, after the TEC's checks.
TEC_DECIDES = {Role.PMU_OFFICER, Role.TEC_MEMBER}
DECISION = {
    "who": "chair_or_pmu",
    "guards": ("decision_ready",),
    "effect": "record_decision",
    "params": ("conditions", "override_reason"),
    "confirm": _lazy("Record the committee's decision? It cannot be changed afterwards."),
}

CALL_RULES = [
    _rule(
        "open",
        _lazy("Open the call"),
        [CallStatus.DRAFT],
        CallStatus.OPEN,
        PMU,
        waits=False,
        confirm=_lazy("Open the call? POs will see it and can submit concept notes."),
        guards=("call_can_open",),
    ),
    _rule(
        "close",
        _lazy("Close the call"),
        [CallStatus.OPEN],
        CallStatus.CLOSED,
        PMU,
        style="secondary",
        waits=False,
        confirm=_lazy("Close the call? No more concept notes can be submitted."),
    ),
]

NOTE_RULES = [
    _rule(
        "submit",
        _lazy("Submit to the PMU"),
        [NoteStatus.DRAFT],
        NoteStatus.SUBMITTED,
        PO,
        po_owned=True,
        guards=("call_accepts_notes", "note_complete"),
        effect="stamp_submitted",
        confirm=_lazy("Submit the concept note? You cannot edit it unless the PMU returns it."),
    ),
    _rule("start_review", _lazy("Start review"), [NoteStatus.SUBMITTED], NoteStatus.UNDER_REVIEW, PMU),
    _rule("shortlist", _lazy("Shortlist"), [NoteStatus.UNDER_REVIEW], NoteStatus.SHORTLISTED, PMU),
    _rule(
        "reject",
        _lazy("Reject"),
        [NoteStatus.UNDER_REVIEW],
        NoteStatus.REJECTED,
        PMU,
        comment_required=True,
        style="danger",
        confirm=_lazy("Reject the concept note? The PO will be told your reasons."),
    ),
    _rule(
        "return_for_revision",
        _lazy("Return for revision"),
        [NoteStatus.SUBMITTED, NoteStatus.UNDER_REVIEW],
        NoteStatus.DRAFT,
        PMU,
        comment_required=True,
        style="secondary",
        waits=False,
    ),
]

PROPOSAL_RULES = [
    _rule(
        "start",
        _lazy("Start the proposal"),
        [ProposalStatus.INVITED],
        ProposalStatus.DRAFT,
        PO,
        po_owned=True,
    ),
    _rule(
        "submit",
        _lazy("Submit the proposal"),
        [ProposalStatus.DRAFT],
        ProposalStatus.SUBMITTED,
        PO,
        po_owned=True,
        guards=("before_proposal_deadline", "proposal_complete"),
        effect="stamp_submitted",
        confirm=_lazy("Submit the proposal for evaluation? You cannot edit it afterwards."),
    ),
    _rule(
        "start_evaluation",
        _lazy("Put on a TEC agenda"),
        [ProposalStatus.SUBMITTED],
        ProposalStatus.UNDER_EVALUATION,
        PMU,
        params=("meeting",),
        guards=("meeting_ready",),
        effect="put_on_agenda",
    ),
    _rule(
        "recommend",
        _lazy("Recommend"),
        [ProposalStatus.UNDER_EVALUATION],
        ProposalStatus.RECOMMENDED,
        TEC_DECIDES,
        **DECISION,
    ),
    _rule(
        "recommend_with_conditions",
        _lazy("Recommend with conditions"),
        [ProposalStatus.UNDER_EVALUATION],
        ProposalStatus.RECOMMENDED_WITH_CONDITIONS,
        TEC_DECIDES,
        **DECISION,
    ),
    _rule(
        "request_revision",
        _lazy("Request revision"),
        [ProposalStatus.UNDER_EVALUATION],
        ProposalStatus.REVISION_REQUESTED,
        TEC_DECIDES,
        comment_required=True,
        style="secondary",
        **DECISION,
    ),
    _rule(
        "not_recommend",
        _lazy("Not recommended"),
        [ProposalStatus.UNDER_EVALUATION],
        ProposalStatus.NOT_RECOMMENDED,
        TEC_DECIDES,
        comment_required=True,
        style="danger",
        **DECISION,
    ),
    _rule(
        "revise",
        _lazy("Revise the proposal"),
        [ProposalStatus.REVISION_REQUESTED],
        ProposalStatus.DRAFT,
        PO,
        po_owned=True,
    ),
    _rule(
        "no_objection",
        _lazy("No objection"),
        [ProposalStatus.RECOMMENDED, ProposalStatus.RECOMMENDED_WITH_CONDITIONS],
        ProposalStatus.NO_OBJECTION,
        {Role.WORLD_BANK},
    ),
    _rule(
        "object",
        _lazy("Object"),
        [ProposalStatus.RECOMMENDED, ProposalStatus.RECOMMENDED_WITH_CONDITIONS],
        ProposalStatus.OBJECTION,
        {Role.WORLD_BANK},
        comment_required=True,
        style="danger",
        confirm=_lazy("Record the World Bank's objection? This ends the proposal."),
    ),
    _rule(
        "approve",
        _lazy("Approve"),
        [ProposalStatus.NO_OBJECTION],
        ProposalStatus.APPROVED,
        {Role.PKSF_APPROVER},
    ),
    _rule(
        "reject",
        _lazy("Reject"),
        [ProposalStatus.NO_OBJECTION],
        ProposalStatus.REJECTED,
        {Role.PKSF_APPROVER},
        comment_required=True,
        style="danger",
        confirm=_lazy("Reject the proposal? This ends it."),
    ),
    _rule(
        "award",
        _lazy("Award the sub-project"),
        [ProposalStatus.APPROVED],
        ProposalStatus.AWARDED,
        {Role.PKSF_APPROVER},
        guards=("award_terms_valid", "no_open_conditions"),
        effect="create_sub_project",
        params=(
            "agreement_number",
            "award_date",
            "start_date",
            "end_date",
            "budget_world_bank",
            "budget_pksf",
            "budget_po",
        ),
    ),
]

SUBPROJECT_RULES = [
    _rule(
        "suspend",
        _lazy("Suspend"),
        [SubProjectStatus.ACTIVE],
        SubProjectStatus.SUSPENDED,
        PMU,
        comment_required=True,
        style="secondary",
        waits=False,
    ),
    _rule("resume", _lazy("Resume"), [SubProjectStatus.SUSPENDED], SubProjectStatus.ACTIVE, PMU, waits=False),
    _rule(
        "complete",
        _lazy("Mark completed"),
        [SubProjectStatus.ACTIVE],
        SubProjectStatus.COMPLETED,
        PMU,
        waits=False,
        confirm=_lazy("Mark the sub-project completed?"),
    ),
    _rule(
        "cancel",
        _lazy("Cancel"),
        [SubProjectStatus.ACTIVE, SubProjectStatus.SUSPENDED],
        SubProjectStatus.CANCELLED,
        PMU,
        comment_required=True,
        style="danger",
        waits=False,
        confirm=_lazy("Cancel the sub-project? This cannot be undone."),
    ),
]

# Independent verification (verification app): a verifier or PMU officer who belongs to no PO records
# what the visit found (the role here, the rest by `who`: enterprises.permissions.is_independent_checker);
# confirming also verifies the adoption or the facility itself.
CHECK_RESULT = {
    "who": "outside_any_po",
    "guards": ("visit_recorded",),
    "effect": "record_check_result",
    "params": verification_checks.RESULT_PARAMS,
}
CHECK_RULES = [
    _rule(
        "confirm",
        _lazy("Confirmed"),
        [CheckStatus.PENDING],
        CheckStatus.CONFIRMED,
        set(VERIFYING_ROLES),
        **CHECK_RESULT,
    ),
    _rule(
        "partly",
        _lazy("Partly confirmed"),
        [CheckStatus.PENDING],
        CheckStatus.PARTLY,
        set(VERIFYING_ROLES),
        comment_required=True,
        style="secondary",
        **CHECK_RESULT,
    ),
    _rule(
        "not_found",
        _lazy("Not found"),
        [CheckStatus.PENDING],
        CheckStatus.NOT_FOUND,
        set(VERIFYING_ROLES),
        comment_required=True,
        style="danger",
        **CHECK_RESULT,
    ),
]

RULES: dict[type[Model], list[Rule]] = {
    Call: CALL_RULES,
    ConceptNote: NOTE_RULES,
    Proposal: PROPOSAL_RULES,
    SubProject: SUBPROJECT_RULES,
    VerificationCheck: CHECK_RULES,
}


def rules_for(model: type[Model]) -> list[Rule]:
    return RULES[model]


def get_rule(model: type[Model], action: str) -> Rule:
    for rule in RULES[model]:
        if rule.action == action:
            return rule
    raise ActionRefused(
        _("“%(action)s” is not an action of this kind of record.") % {"action": action}, code="unknown"
    )


def action_label(model: type[Model], action: str) -> str:
    """How an action logged in the Transition table reads to people (the invitation is not a rule)."""
    if action == "invite":
        return _("Invited")
    for rule in RULES.get(model, []):
        if rule.action == action:
            return str(rule.label)
    return action.replace("_", " ")


def _owns(user, obj: Model) -> bool:
    po_id = getattr(obj, "partner_organization_id", None)
    return po_id is not None and user.partner_organization_id == po_id


def may_act(user, obj: Model, rule: Rule) -> bool:
    """Role (and, for PO actions, ownership; for committee decisions, the chair) only; the state is
    checked separately."""
    if not user.is_authenticated or not user.has_role(*rule.roles):
        return False
    if rule.po_owned and not _owns(user, obj):
        return False
    return not rule.who or WHO[rule.who](user, obj)


def available_rules(user, obj: Model) -> list[Rule]:
    """The actions this user may take on this object now (for buttons)."""
    return [rule for rule in RULES[type(obj)] if obj.status in rule.sources and may_act(user, obj, rule)]


# --- Guards ---------------------------------------------------------------------------------------


def call_can_open(call: Call, **_kwargs) -> None:
    if call.closes_at <= timezone.now():
        raise ActionRefused(
            _("The call's deadline has already passed; set a later deadline before opening it.")
        )


def call_accepts_notes(note: ConceptNote, **_kwargs) -> None:
    call = note.call
    if call.status != CallStatus.OPEN:
        raise ActionRefused(_("The call %(call)s is not open for submissions.") % {"call": call.reference})
    now = timezone.now()
    if now > call.closes_at:
        raise ActionRefused(
            _(
                "The deadline of the call (%(deadline)s) has passed: the concept note can no longer be "
                "submitted. Your draft is kept."
            )
            % {"deadline": format_moment(call.closes_at)},
            code="deadline_passed",
        )
    if now < call.opens_at:
        raise ActionRefused(_("The call opens on %(opens)s.") % {"opens": format_moment(call.opens_at)})


def _refuse_problems(message: str, problems: list[str]) -> None:
    if problems:
        raise ActionRefused(message % {"problems": "; ".join(problems)})


def note_complete(note: ConceptNote, **_kwargs) -> None:
    from subprojects.validation import concept_note_problems

    _refuse_problems(_("The concept note is not complete: %(problems)s"), concept_note_problems(note))


def before_proposal_deadline(proposal: Proposal, **_kwargs) -> None:
    if timezone.now() > proposal.deadline:
        raise ActionRefused(
            _(
                "The deadline for this proposal (%(deadline)s) has passed: it can no longer be submitted. "
                "Your draft is kept; ask the PMU if the deadline can be extended."
            )
            % {"deadline": format_moment(proposal.deadline)},
            code="deadline_passed",
        )


def proposal_complete(proposal: Proposal, **_kwargs) -> None:
    from subprojects.validation import proposal_problems

    _refuse_problems(_("The proposal is not complete: %(problems)s"), proposal_problems(proposal))


def no_open_conditions(proposal: Proposal, **_kwargs) -> None:
    evaluation.open_conditions_block_award(proposal)


def award_terms_valid(proposal: Proposal, **params) -> None:
    from subprojects.validation import award_problems

    _refuse_problems(_("The award cannot be recorded: %(problems)s"), award_problems(proposal, params))


GUARDS: dict[str, Guard] = {
    "call_can_open": call_can_open,
    "call_accepts_notes": call_accepts_notes,
    "note_complete": note_complete,
    "before_proposal_deadline": before_proposal_deadline,
    "proposal_complete": proposal_complete,
    "award_terms_valid": award_terms_valid,
    "no_open_conditions": no_open_conditions,
    "meeting_ready": evaluation.meeting_ready,
    "decision_ready": evaluation.decision_ready,
    "visit_recorded": verification_checks.visit_recorded,
}

WHO: dict[str, Callable] = {
    "chair_or_pmu": evaluation.is_chair_or_pmu,
    "outside_any_po": verification_checks.outside_any_po,
}


# --- Effects --------------------------------------------------------------------------------------


def stamp_submitted(obj: ConceptNote | Proposal, **_kwargs) -> list[str]:
    obj.submitted_at = timezone.now()
    return ["submitted_at"]


def create_sub_project(proposal: Proposal, **params) -> list[str]:
    SubProject.objects.create(
        proposal=proposal,
        partner_organization=proposal.partner_organization,
        title=proposal.title,
        sector=proposal.sector,
        agreement_number=params["agreement_number"].strip(),
        award_date=params["award_date"],
        start_date=params["start_date"],
        end_date=params["end_date"],
        budget_world_bank=params["budget_world_bank"],
        budget_pksf=params["budget_pksf"],
        budget_po=params["budget_po"],
    )
    return []


EFFECTS: dict[str, Callable[..., list[str]]] = {
    "stamp_submitted": stamp_submitted,
    "create_sub_project": create_sub_project,
    "put_on_agenda": evaluation.put_on_agenda,
    "record_decision": evaluation.record_decision,
    "record_check_result": verification_checks.record_check_result,
}


# --- The one way to change a state ----------------------------------------------------------------


def apply(obj: Model, action: str, user, comment: str = "", **params: Any) -> Model:
    """Take `action` on `obj` as `user`. Returns the updated object; raises ActionRefused."""
    model = type(obj)
    rule = get_rule(model, action)
    comment = (comment or "").strip()
    with transaction.atomic():
        locked = model.objects.select_for_update().get(pk=obj.pk)
        if user is not None and not may_act(user, locked, rule):
            raise ActionRefused(
                _("Your role does not allow “%(action)s” on %(object)s.")
                % {"action": rule.label, "object": locked},
                code="forbidden",
            )
        if locked.status not in rule.sources:
            raise ActionRefused(
                _("“%(action)s” is not possible while %(object)s is %(state)s.")
                % {"action": rule.label, "object": locked.reference, "state": locked.get_status_display()},
                code="wrong_state",
            )
        if rule.comment_required and not comment:
            raise ActionRefused(
                _("“%(action)s” needs a comment saying why.") % {"action": rule.label},
                code="comment_required",
            )
        unknown = set(params) - set(rule.params)
        if unknown:
            raise ActionRefused(_("Unexpected details: %(names)s.") % {"names": ", ".join(sorted(unknown))})
        # Guards and effects see who acts and why, besides the action's own parameters.
        context = {"_user": user, "_action": rule.action, "_comment": comment, **params}
        for guard in rule.guards:
            GUARDS[guard](locked, **context)
        from_state = locked.status
        changed = ["status", "status_changed_at", "updated_at"]
        if rule.effect:
            changed += EFFECTS[rule.effect](locked, **context)
        locked.status = rule.target
        locked.status_changed_at = timezone.now()
        locked._change_reason = f"{rule.action}: {comment}" if comment else rule.action
        locked.save(update_fields=changed)
        _log(locked, rule.action, from_state, rule.target, user, comment)
    return locked


def _log(subject: Model, action: str, from_state: str, to_state: str, user, comment: str) -> None:
    """The Transition row, and the emails about it once the transaction commits."""
    from subprojects import notifications

    record = Transition.objects.create(
        subject=subject,
        action=action,
        from_state=from_state,
        to_state=to_state,
        actor=user,
        at=subject.status_changed_at,
        comment=comment,
    )
    transaction.on_commit(lambda: notifications.transition_happened(record.pk))


def invite_proposal(note: ConceptNote, user, *, deadline, comment: str = "") -> Proposal:
    """PMU invites a shortlisted concept note to a full proposal, pre-filled from the note."""
    with transaction.atomic():
        locked = ConceptNote.objects.select_for_update().get(pk=note.pk)
        if not is_pmu(user):
            raise ActionRefused(_("Only PMU officers invite proposals."), code="forbidden")
        if locked.status != NoteStatus.SHORTLISTED:
            raise ActionRefused(
                _("Only a shortlisted concept note can be invited to a proposal; %(note)s is %(state)s.")
                % {"note": locked.reference, "state": locked.get_status_display()},
                code="wrong_state",
            )
        if Proposal.objects.filter(concept_note=locked).exists():
            raise ActionRefused(
                _("%(note)s has already been invited.") % {"note": locked.reference}, code="exists"
            )
        if deadline is None or deadline <= timezone.now():
            raise ActionRefused(_("The proposal deadline must be in the future."), code="bad_deadline")
        copied = {name: getattr(locked, name) for name in TARGETING_FIELDS if name not in TARGETING_M2M}
        proposal = Proposal.objects.create(
            concept_note=locked,
            call=locked.call,
            partner_organization=locked.partner_organization,
            deadline=deadline,
            status=ProposalStatus.INVITED,
            invited_by=user,
            **copied,
        )
        for name in TARGETING_M2M:
            getattr(proposal, name).set(getattr(locked, name).all())
        _log(proposal, "invite", "", ProposalStatus.INVITED, user, (comment or "").strip())
    return proposal


def format_moment(moment: datetime) -> str:
    """A moment as refusal messages show it, in local time."""
    return timezone.localtime(moment).strftime("%d %b %Y %H:%M")
