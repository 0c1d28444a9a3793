"""What waits on a user in the lifecycle, read from the transition table (see core.waiting)."""

from __future__ import annotations

from django.contrib.contenttypes.models import ContentType
from django.db.models import OuterRef, Prefetch, Q, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from core.permissions import is_po_staff
from core.roles import Role
from core.waiting import WaitingItem
from subprojects import evaluation
from subprojects.models import (
    AgendaItem,
    Call,
    CallStatus,
    ConceptNote,
    Condition,
    ConflictDeclaration,
    NoteStatus,
    Proposal,
    ProposalStatus,
    ScoreSheet,
    ScoreSheetStatus,
    Transition,
)
from subprojects.workflow import RULES, may_act

PER_KIND_LIMIT = 100


def _waiting_rules(user, model):
    return [rule for rule in RULES[model] if rule.waits and user.has_role(*rule.roles)]


def _last_comments(model, ids: list[int]) -> dict[int, Transition]:
    """The latest transition of each object (by time, then id), in one query however many objects."""
    content_type = ContentType.objects.get_for_model(model)
    latest = (
        Transition.objects.filter(content_type=content_type, object_id=OuterRef("object_id"))
        .order_by("-at", "-pk")
        .values("pk")[:1]
    )
    rows = Transition.objects.filter(content_type=content_type, object_id__in=ids, pk=Subquery(latest))
    return {row.object_id: row for row in rows}


def _actions_text(rules, obj) -> str:
    return " · ".join(str(rule.label) for rule in rules if obj.status in rule.sources)


def concept_notes_waiting(user) -> list[WaitingItem]:
    rules = _waiting_rules(user, ConceptNote)
    if not rules:
        return []
    states = set().union(*(rule.sources for rule in rules))
    notes = ConceptNote.objects.visible_to(user).filter(status__in=states)
    # A draft whose call no longer takes submissions waits on nobody.
    notes = notes.exclude(
        Q(status=NoteStatus.DRAFT)
        & (~Q(call__status=CallStatus.OPEN) | Q(call__closes_at__lt=timezone.now()))
    )
    notes = list(
        notes.select_related("call", "partner_organization").order_by("status_changed_at")[:PER_KIND_LIMIT]
    )
    last = _last_comments(ConceptNote, [note.pk for note in notes])
    items = []
    for note in notes:
        transition = last.get(note.pk)
        note_text = ""
        if transition and transition.action == "return_for_revision":
            note_text = _("Returned for revision: %(comment)s") % {"comment": transition.comment}
        elif user.sees_whole_programme:
            note_text = str(note.partner_organization)
        items.append(
            WaitingItem(
                reference=note.reference,
                title=note.title,
                url=note.get_absolute_url(),
                what=_actions_text(rules, note),
                since=note.status_changed_at,
                due=note.call.closes_at if note.status == NoteStatus.DRAFT else None,
                note=note_text,
            )
        )
    return items


def proposals_waiting(user) -> list[WaitingItem]:
    rules = _waiting_rules(user, Proposal)
    if not rules:
        return []
    states = set().union(*(rule.sources for rule in rules))
    proposals = Proposal.objects.visible_to(user).filter(status__in=states)
    proposals = proposals.select_related("partner_organization").order_by("status_changed_at")
    if any(rule.who or rule.effect == "record_decision" for rule in rules):
        # The committee's rules read each proposal's current agenda item (who chairs it, who declared
        # a conflict, whether the scores are in): fetched for the whole list at once, see
        # evaluation.current_agenda_item() and evaluation.presides().
        proposals = proposals.prefetch_related(
            Prefetch(
                "agenda_items",
                queryset=AgendaItem.objects.select_related("meeting").prefetch_related("declarations"),
            )
        )
    proposals = list(proposals[:PER_KIND_LIMIT])
    last = _last_comments(Proposal, [proposal.pk for proposal in proposals])
    # Some rules narrow who may act beyond the role (the meeting's chair for TEC decisions).
    mine_by_pk = {
        proposal.pk: [
            rule for rule in rules if proposal.status in rule.sources and may_act(user, proposal, rule)
        ]
        for proposal in proposals
    }
    # The committee's decision waits for the scores first.
    deciding = [p for p in proposals if mine_by_pk[p.pk] and mine_by_pk[p.pk][0].effect == "record_decision"]
    complete = _scores_complete(deciding)
    items = []
    for proposal in proposals:
        mine = mine_by_pk[proposal.pk]
        if not mine or (mine[0].effect == "record_decision" and proposal.pk not in complete):
            continue  # nothing for this user; or the committee's decision waits for the scores first
        transition = last.get(proposal.pk)
        note_text = ""
        if (
            transition
            and transition.comment
            and proposal.status
            in {
                ProposalStatus.REVISION_REQUESTED,
                ProposalStatus.INVITED,
                ProposalStatus.RECOMMENDED_WITH_CONDITIONS,
            }
        ):
            note_text = transition.comment
        elif user.sees_whole_programme:
            note_text = str(proposal.partner_organization)
        items.append(
            WaitingItem(
                reference=proposal.reference,
                title=proposal.title,
                url=proposal.get_absolute_url(),
                what=_actions_text(mine, proposal),
                since=proposal.status_changed_at,
                due=proposal.deadline if proposal.awaits_submission else None,
                note=note_text[:200],
            )
        )
    return items


def calls_waiting(user) -> list[WaitingItem]:
    """PO staff: open calls for which their PO has not written a concept note yet."""
    if not is_po_staff(user):
        return []
    now = timezone.now()
    calls = (
        Call.objects.filter(status=CallStatus.OPEN, opens_at__lte=now, closes_at__gte=now)
        .exclude(concept_notes__partner_organization_id=user.partner_organization_id)
        .order_by("opens_at")
    )
    return [
        WaitingItem(
            reference=call.reference,
            title=call.title,
            url=call.get_absolute_url(),
            what=_("Write a concept note"),
            since=call.status_changed_at,
            due=call.closes_at,
        )
        for call in calls
    ]


def _scores_complete(proposals: list[Proposal]) -> set[int]:
    """The proposals (pks) whose current agenda item has every member's scores: one consolidation
    for all of them (a fixed number of queries)."""
    items = {}
    for proposal in proposals:
        item = evaluation.current_agenda_item(proposal)
        if item is not None:
            items[proposal.pk] = item
    consolidations = evaluation.consolidate_many(items.values()) if items else {}
    return {pk for pk, item in items.items() if consolidations[item.pk].complete}


def evaluations_waiting(user) -> list[WaitingItem]:
    """TEC members: declare conflicts of interest, then score and submit, for each agenda item."""
    if not user.has_role(Role.TEC_MEMBER):
        return []
    agenda = evaluation.member_agenda(user)
    # The member's declarations and score sheets for the whole queue, in two queries.
    mine = {"member": user, "agenda_item__in": agenda}
    declarations = {d.agenda_item_id: d for d in ConflictDeclaration.objects.filter(**mine)}
    sheets = {sheet.agenda_item_id: sheet for sheet in ScoreSheet.objects.filter(**mine)}
    items = []
    for item in agenda:
        declaration, sheet = declarations.get(item.pk), sheets.get(item.pk)
        if declaration is None:
            what = _("Declare conflicts of interest, then score")
        elif declaration.has_conflict or (sheet and sheet.status == ScoreSheetStatus.SUBMITTED):
            continue
        elif sheet is None:
            what = _("Score")
        else:
            what = _("Finish and submit your scores")
        items.append(
            WaitingItem(
                reference=item.proposal.reference,
                title=item.proposal.title,
                url=item.get_absolute_url(),
                what=what,
                since=item.added_at,
                due=item.meeting.held_on,
                note=str(item.meeting),
            )
        )
    return items


def conditions_waiting(user) -> list[WaitingItem]:
    """PO staff: evidence for their open conditions; PMU: conditions to check off."""
    conditions = Condition.objects.filter(met=False).exclude(proposal__status=ProposalStatus.AWARDED)
    if user.has_role(Role.PMU_OFFICER):
        what = _("Check off the condition")
    elif is_po_staff(user):
        conditions = conditions.filter(
            proposal__partner_organization_id=user.partner_organization_id, evidence=""
        )
        what = _("Send evidence that the condition is met")
    else:
        return []
    return [
        WaitingItem(
            reference=condition.proposal.reference,
            title=condition.text,
            url=condition.proposal.get_absolute_url() + "#conditions",
            what=what,
            # A TEC decision's condition, or one of the PMU's E&S clearance (safeguards).
            since=condition.evidence_at
            or (condition.decision.decided_at if condition.decision_id else None)
            or (condition.es_review.decided_at if condition.es_review_id else None)
            or condition.proposal.status_changed_at,
            note=_("Evidence: %(evidence)s") % {"evidence": condition.evidence}
            if condition.evidence
            else (_("E&S condition") if condition.es_review_id else ""),
        )
        for condition in conditions.select_related("proposal", "decision", "es_review").order_by("pk")[
            :PER_KIND_LIMIT
        ]
    ]
