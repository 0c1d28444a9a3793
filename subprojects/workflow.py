"""The lifecycle of SPEC 3 as data: calls, concept notes, proposals and sub-projects.

Each rule says: this action, from these states, by these roles, leads to that state. The tables are
registered on the portal's one engine (core.lifecycle), which checks them, moves the state and logs
each transition; this module holds the sub-projects' rules, guards and effects, and re-exports the
engine's functions for the code that works with these records.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from django.db import transaction
from django.db.models import Model
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from core import lifecycle
from core.errors import ActionRefused
from core.lifecycle import (  # noqa: F401  (the engine, as the sub-project code calls it)
    Guard,
    Rule,
    action_label,
    apply,
    available_rules,
    blockers,
    get_rule,
    may_act,
    rules_for,
)
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
    ScoreSheet,
    ScoreSheetStatus,
    SubProject,
    SubProjectStatus,
    Transition,
)
from subprojects.permissions import may_invite, require
from subprojects.validation import deadline_problem


def _rule(action, label, sources, target, roles, **kwargs) -> Rule:
    return lifecycle.rule(action, label, sources, target, roles, **kwargs)


# The parameters of the World Bank's no-objection: its letter, stored on the proposal.
NO_OBJECTION_LETTER = ("no_objection_reference", "no_objection_date")
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

# The PMU's explicit, logged correction of a locked rubric: every submitted score sheet of the call goes
# back to draft (the sheets' own "reopen" rule), the members are emailed, the rubric can change again.
# The call stays in its state, open (its proposals may be scored while it is open) or closed.
REOPEN_SCORING = {
    "comment_required": True,
    "style": "danger",
    "waits": False,
    "guards": ("scoring_reopenable",),
    "effect": "reopen_scoring",
    "confirm": _lazy(
        "Reopen scoring? Every submitted score sheet of this call goes back to draft, its member is "
        "emailed to submit again, and the rubric can be corrected."
    ),
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
        # The portal closes open calls at their deadline (subprojects.tasks).
        by_portal=True,
        confirm=_lazy("Close the call? No more concept notes can be submitted."),
    ),
    _rule(
        "reopen_scoring",
        _lazy("Reopen scoring"),
        [CallStatus.OPEN, CallStatus.CLOSED],
        lifecycle.SAME_STATE,
        PMU,
        **REOPEN_SCORING,
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
        # The exclusion list first (the refusal names the items), then everything missing at once,
        # the E&S screening included (safeguards.reviews).
        guards=("before_proposal_deadline", "outside_exclusion_list", "proposal_complete"),
        effect="submit_proposal",
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
    # The Bank's no-objection is recorded with its letter (reference and date), on a page of its own.
    _rule(
        "no_objection",
        _lazy("No objection"),
        [ProposalStatus.RECOMMENDED, ProposalStatus.RECOMMENDED_WITH_CONDITIONS],
        ProposalStatus.NO_OBJECTION,
        {Role.WORLD_BANK},
        params=NO_OBJECTION_LETTER,
        guards=("no_objection_letter_given",),
        effect="record_no_objection_letter",
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
        guards=("award_terms_valid", "es_review_cleared", "no_open_conditions"),
        # What blocks the award whatever its terms: shown at the top of the award form, before any field.
        prechecks=("es_review_cleared", "no_open_conditions"),
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

# A TEC member's score sheet: submitting locks it for good (the scores form submits it, no button).
SHEET_RULES = [
    _rule(
        "submit",
        _lazy("Submit my scores"),
        [ScoreSheetStatus.DRAFT],
        ScoreSheetStatus.SUBMITTED,
        {Role.TEC_MEMBER},
        who="sheet_owner",
        effect="stamp_submitted",
        button=False,
        waits=False,
    ),
    # Taken by the portal only, for the PMU's "reopen scoring" of the call (which names who and why).
    _rule(
        "reopen",
        _lazy("Reopen for scoring"),
        [ScoreSheetStatus.SUBMITTED],
        ScoreSheetStatus.DRAFT,
        set(),
        by_portal=True,
        effect="clear_submitted",
        button=False,
        waits=False,
    ),
]

RULES: dict[type[Model], list[Rule]] = {
    Call: CALL_RULES,
    ConceptNote: NOTE_RULES,
    Proposal: PROPOSAL_RULES,
    SubProject: SUBPROJECT_RULES,
}


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


def _refuse_problems(message: str, problems: list[str], code: str = "refused") -> None:
    """One refusal naming every problem, each also listed apart (the API's `fields`)."""
    if problems:
        raise ActionRefused(message % {"problems": "; ".join(problems)}, code=code, problems=problems)


def note_complete(note: ConceptNote, **_kwargs) -> None:
    from subprojects.validation import concept_note_problems

    _refuse_problems(
        _("The concept note is not complete: %(problems)s"), concept_note_problems(note), "incomplete"
    )


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

    _refuse_problems(
        _("The proposal is not complete: %(problems)s"), proposal_problems(proposal), "incomplete"
    )


def no_open_conditions(proposal: Proposal, **_kwargs) -> None:
    evaluation.open_conditions_block_award(proposal)


def outside_exclusion_list(proposal: Proposal, **kwargs) -> None:
    from safeguards import reviews

    reviews.outside_exclusion_list(proposal, **kwargs)


def es_review_cleared(proposal: Proposal, **kwargs) -> None:
    from safeguards import reviews

    reviews.es_review_cleared(proposal, **kwargs)


def award_terms_valid(proposal: Proposal, **params) -> None:
    from subprojects.validation import award_problems

    _refuse_problems(_("The award cannot be recorded: %(problems)s"), award_problems(proposal, params))


def no_objection_letter_given(proposal: Proposal, **params) -> None:
    """The no-objection names the Bank's letter: its reference and its date (a programme date, not in
    the future: the field's own validators)."""
    from subprojects.validation import no_objection_letter_problems

    problems = no_objection_letter_problems(params)
    if problems:
        raise ActionRefused(
            _("The no-objection cannot be recorded: %(problems)s") % {"problems": "; ".join(problems)},
            code="no_objection_letter",
            problems=problems,
        )


GUARDS: dict[str, Guard] = {
    "call_can_open": call_can_open,
    "call_accepts_notes": call_accepts_notes,
    "note_complete": note_complete,
    "before_proposal_deadline": before_proposal_deadline,
    "proposal_complete": proposal_complete,
    "award_terms_valid": award_terms_valid,
    "no_objection_letter_given": no_objection_letter_given,
    "no_open_conditions": no_open_conditions,
    "outside_exclusion_list": outside_exclusion_list,
    "es_review_cleared": es_review_cleared,
    "meeting_ready": evaluation.meeting_ready,
    "decision_ready": evaluation.decision_ready,
    "scoring_reopenable": evaluation.scoring_reopenable,
}


def sheet_owner(user, sheet: ScoreSheet) -> bool:
    return sheet.member_id == user.pk


WHO: dict[str, Callable] = {
    "sheet_owner": sheet_owner,
    "chair_or_pmu": evaluation.is_chair_or_pmu,
}


def award_blockers(user, proposal: Proposal) -> list[lifecycle.Blocker]:
    """What stops the award now, whatever its terms: the award rule's own checks as apply() runs them
    (its state, then its prechecks: the E&S review, the open conditions), a missing earlier step
    named in words. The award form shows them before any field."""
    found = lifecycle.blockers(user, proposal, get_rule(Proposal, "award"))
    if found and found[0].code == "wrong_state":
        # The steps that lead to the award, from the table: the one the proposal waits for is named.
        for step, message in (
            ("no_objection", _("The World Bank's no-objection is not recorded yet (%(spp)s is %(state)s).")),
            ("approve", _("PKSF's approval is not recorded yet (%(spp)s is %(state)s).")),
        ):
            if proposal.status in get_rule(Proposal, step).sources:
                text = message % {"spp": proposal.reference, "state": proposal.get_status_display()}
                found[0] = lifecycle.Blocker("", text, "wrong_state")
                break
    return found


# --- Effects --------------------------------------------------------------------------------------


def stamp_submitted(obj: ConceptNote | Proposal | ScoreSheet, **_kwargs) -> list[str]:
    obj.submitted_at = timezone.now()
    return ["submitted_at"]


def submit_proposal(proposal: Proposal, **context) -> list[str]:
    """Stamp the submission; a high-risk proposal goes to the PMU's E&S review (safeguards.reviews)."""
    from safeguards import reviews

    reviews.open_review(proposal, context.get("_user"))
    return stamp_submitted(proposal)


def create_sub_project(proposal: Proposal, **params) -> list[str]:
    from finance.releases import create_default_schedule

    sub_project = SubProject.objects.create(
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
    # The release schedule is set at award: the advance, then the tranches against milestones.
    create_default_schedule(sub_project)
    return []


def record_no_objection_letter(proposal: Proposal, **params) -> list[str]:
    proposal.no_objection_reference = str(params["no_objection_reference"]).strip()
    proposal.no_objection_date = params["no_objection_date"]
    return list(NO_OBJECTION_LETTER)


EFFECTS: dict[str, Callable[..., list[str]]] = {
    "stamp_submitted": stamp_submitted,
    "submit_proposal": submit_proposal,
    "create_sub_project": create_sub_project,
    "record_no_objection_letter": record_no_objection_letter,
    "put_on_agenda": evaluation.put_on_agenda,
    "record_decision": evaluation.record_decision,
    "reopen_scoring": evaluation.reopen_scoring,
    "clear_submitted": evaluation.clear_submitted,
}


# --- Registered on the one engine ---------------------------------------------------------------


def _notify(transition: Transition) -> None:
    from subprojects import notifications

    notifications.transition_happened(transition.pk)


for _model, _rules in RULES.items():
    lifecycle.register(
        lifecycle.Lifecycle(
            _model,
            _rules,
            guards=GUARDS,
            effects=EFFECTS,
            who=WHO,
            follow_up=_notify,
            event_labels={"invite": _lazy("Invited")},
            url_name=f"subprojects:{str(_model._meta.model_name).replace('conceptnote', 'note')}-transition",
        )
    )


def _notify_member(transition: Transition) -> None:
    """Scores are blind until the committee decides: a submission emails nobody. A sheet reopened by
    the PMU emails its member, who must submit again."""
    if transition.action == "reopen":
        _notify(transition)


lifecycle.register(
    lifecycle.Lifecycle(
        ScoreSheet, SHEET_RULES, effects=EFFECTS, who=WHO, owner=lambda sheet: None, follow_up=_notify_member
    )
)


def invite_proposal(note: ConceptNote, user, *, deadline, comment: str = "") -> Proposal:
    """PMU invites a shortlisted concept note to a full proposal, pre-filled from the note."""
    with transaction.atomic():
        locked = ConceptNote.objects.select_for_update().get(pk=note.pk)
        require(may_invite(user), _("Only PMU officers invite proposals."))
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
        problem = deadline_problem(deadline)
        if problem:
            raise ActionRefused(problem, code="bad_deadline")
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
        lifecycle.record(proposal, "invite", user, comment, from_state="", to_state=ProposalStatus.INVITED)
    return proposal


def format_moment(moment: datetime) -> str:
    """A moment as refusal messages show it, in local time."""
    return date_format(timezone.localtime(moment), "DATETIME_FORMAT")
