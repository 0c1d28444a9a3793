"""Editing calls, concept notes, proposals and sub-projects: who may edit what, when.

Pages and the API validate shape (forms, serializers) and then call these functions, which check the
rules and save inside one transaction: who may act (subprojects.permissions: `Forbidden`, 403), then
whether it is possible now (`ActionRefused`, 409). State changes are not here: see workflow.apply().
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import models, transaction
from django.utils.translation import gettext as _

from core.errors import ActionRefused
from subprojects import evaluation, workflow
from subprojects.models import (
    TARGETING_M2M,
    Activity,
    Attachment,
    BudgetLine,
    Call,
    CallStatus,
    CommittedResult,
    ConceptNote,
    Proposal,
    ProposalStatus,
    SubProject,
)
from subprojects.permissions import (
    may_amend_sub_project,
    may_change_deadline,
    may_edit_call,
    may_edit_note,
    may_edit_proposal,
    may_write_for_po,
    require,
)
from subprojects.validation import deadline_problem

CALL_M2M = ("eligible_sectors",)


def _assign(obj: models.Model, data: dict[str, Any], m2m: Iterable[str]) -> None:
    for name, value in data.items():
        if name not in m2m:
            setattr(obj, name, value)


def _assign_m2m(obj: models.Model, data: dict[str, Any], m2m: Iterable[str]) -> None:
    for name in m2m:
        if name in data:
            getattr(obj, name).set(data[name])


def _refuse_unless(condition: bool, message: str, code: str) -> None:
    """Not possible now (409); who may act is asked with `permissions.require` (403)."""
    if not condition:
        raise ActionRefused(message, code=code)


# --- Calls ----------------------------------------------------------------------------------------


def create_call(*, user, data: dict[str, Any]) -> Call:
    require(may_edit_call(user), _("Only PMU officers create calls."))
    with transaction.atomic():
        call = Call(created_by=user, status=CallStatus.DRAFT)
        _assign(call, data, CALL_M2M)
        call.full_clean(exclude=["created_by"])
        call.save()
        _assign_m2m(call, data, CALL_M2M)
        # Every call starts with SPEC 4's six criteria; the PMU adapts them until scoring starts.
        evaluation.seed_default_rubric(call)
    return call


def update_call(*, user, call: Call, data: dict[str, Any]) -> Call:
    require(may_edit_call(user), _("Only PMU officers edit calls."))
    with transaction.atomic():
        locked = Call.objects.select_for_update().get(pk=call.pk)
        _refuse_unless(locked.is_editable, _("A closed call cannot be edited."), "wrong_state")
        _assign(locked, data, CALL_M2M)
        locked.full_clean(exclude=["created_by"])
        locked.save()
        _assign_m2m(locked, data, CALL_M2M)
    return locked


# --- Concept notes --------------------------------------------------------------------------------


def _check_po_editor(user, obj: ConceptNote | Proposal) -> None:
    may_edit = may_edit_note if isinstance(obj, ConceptNote) else may_edit_proposal
    require(may_edit(user, obj), _("Only staff of %(po)s edit this.") % {"po": obj.partner_organization})


def create_concept_note(*, user, call: Call, data: dict[str, Any]) -> ConceptNote:
    require(may_write_for_po(user), _("Only PO staff write concept notes."))
    _refuse_unless(
        call.accepts_submissions(),
        _("The call %(call)s does not accept concept notes now (deadline %(deadline)s).")
        % {"call": call.reference, "deadline": workflow.format_moment(call.closes_at)},
        "wrong_state",
    )
    with transaction.atomic():
        note = ConceptNote(call=call, partner_organization_id=user.partner_organization_id, created_by=user)
        _assign(note, data, TARGETING_M2M)
        note.save()
        _assign_m2m(note, data, TARGETING_M2M)
    return note


def update_concept_note(*, user, note: ConceptNote, data: dict[str, Any]) -> ConceptNote:
    _check_po_editor(user, note)
    with transaction.atomic():
        locked = ConceptNote.objects.select_for_update().get(pk=note.pk)
        _refuse_unless(
            locked.is_editable,
            _("%(note)s is %(state)s and can no longer be edited.")
            % {"note": locked.reference, "state": locked.get_status_display()},
            "wrong_state",
        )
        _assign(locked, data, TARGETING_M2M)
        locked.save()
        _assign_m2m(locked, data, TARGETING_M2M)
    return locked


# --- Proposals ------------------------------------------------------------------------------------

# A proposal's child rows: their model, and the fields the proposal form gives for each row.
ChildModel = type[BudgetLine] | type[Activity] | type[CommittedResult]
CHILD_MODELS: dict[str, tuple[ChildModel, tuple[str, ...]]] = {
    "budget_lines": (BudgetLine, ("category", "description", "amount", "financier")),
    "activities": (Activity, ("description", "start_month", "end_month")),
    "committed_results": (CommittedResult, ("indicator", "target")),
}


def _sync_children(proposal: Proposal, relation: str, rows: list[dict[str, Any]]) -> None:
    """Make the proposal's child rows equal `rows` (each may carry the `id` of an existing row),
    saving only what changed so the audit trail shows real edits."""
    model, fields = CHILD_MODELS[relation]
    existing = {row.pk: row for row in getattr(proposal, relation).all()}
    kept = set()
    for values in rows:
        row_id = values.get("id")
        row_id = row_id.pk if isinstance(row_id, models.Model) else row_id
        if row_id in existing:
            row = existing[row_id]
            changed = [name for name in fields if getattr(row, name) != values[name]]
            if changed:
                for name in changed:
                    setattr(row, name, values[name])
                row.save(update_fields=changed)
            kept.add(row_id)
        else:
            model.objects.create(proposal=proposal, **{name: values[name] for name in fields})
    for row_id, row in existing.items():
        if row_id not in kept:
            row.delete()


def save_proposal(
    *,
    user,
    proposal: Proposal,
    data: dict[str, Any],
    children: dict[str, list[dict[str, Any]]] | None = None,
) -> Proposal:
    """Save the PO's edits. Editing an invited proposal starts it (invited → draft)."""
    _check_po_editor(user, proposal)
    with transaction.atomic():
        locked = Proposal.objects.select_for_update().get(pk=proposal.pk)
        _refuse_unless(
            locked.is_editable,
            _("%(spp)s is %(state)s and can no longer be edited.")
            % {"spp": locked.reference, "state": locked.get_status_display()},
            "wrong_state",
        )
        if locked.status == ProposalStatus.INVITED:
            locked = workflow.apply(locked, "start", user)
        _assign(locked, data, TARGETING_M2M)
        locked.save()
        _assign_m2m(locked, data, TARGETING_M2M)
        for relation, rows in (children or {}).items():
            _sync_children(locked, relation, rows)
    return locked


def change_proposal_deadline(*, user, proposal: Proposal, deadline: datetime) -> Proposal:
    require(may_change_deadline(user), _("Only PMU officers change proposal deadlines."))
    with transaction.atomic():
        locked = Proposal.objects.select_for_update().get(pk=proposal.pk)
        _refuse_unless(
            locked.awaits_submission,
            _("The deadline only matters before the proposal is submitted."),
            "wrong_state",
        )
        problem = deadline_problem(deadline)
        _refuse_unless(not problem, problem, "bad_deadline")
        locked.deadline = deadline
        locked._change_reason = "deadline changed"
        locked.save(update_fields=["deadline", "updated_at"])
    return locked


# --- Sub-projects ---------------------------------------------------------------------------------


def update_sub_project(*, user, sub_project: SubProject, data: dict[str, Any]) -> SubProject:
    require(may_amend_sub_project(user), _("Only PMU officers amend sub-projects."))
    with transaction.atomic():
        locked = SubProject.objects.select_for_update().get(pk=sub_project.pk)
        _refuse_unless(
            locked.is_amendable,
            _("A %(state)s sub-project cannot be amended.") % {"state": locked.get_status_display()},
            "wrong_state",
        )
        _assign(locked, data, ())
        locked.full_clean()
        locked.save()
    return locked


# --- Attachments ----------------------------------------------------------------------------------


def add_attachment(
    *, user, owner: ConceptNote | Proposal, upload, description: str, mime_type: str
) -> Attachment:
    _check_po_editor(user, owner)
    field = "concept_note" if isinstance(owner, ConceptNote) else "proposal"
    with transaction.atomic():
        # Locked, so that a submission at the same moment sees the proposal with or without the file.
        locked = _locked(owner)
        _refuse_unless(
            locked.is_editable,
            _("Attachments can only be added while %(ref)s is being drafted.") % {"ref": locked.reference},
            "wrong_state",
        )
        return Attachment.objects.create(
            **{field: locked},
            file=upload,
            original_name=upload.name[:200],
            description=description,
            mime_type=mime_type,
            size=upload.size,
            uploaded_by=user,
        )


def _locked(owner: ConceptNote | Proposal) -> ConceptNote | Proposal:
    return type(owner)._base_manager.select_for_update().get(pk=owner.pk)


def remove_attachment(*, user, attachment: Attachment) -> None:
    owner = attachment.owner
    _check_po_editor(user, owner)
    with transaction.atomic():
        locked = _locked(owner)
        _refuse_unless(
            locked.is_editable,
            _("Attachments can only be removed while %(ref)s is being drafted.") % {"ref": locked.reference},
            "wrong_state",
        )
        storage, name = attachment.file.storage, attachment.file.name
        attachment.delete()
        # The file goes once the row is gone for good (a rolled-back removal keeps both).
        transaction.on_commit(lambda: storage.delete(name))
