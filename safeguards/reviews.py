"""E&S screening of proposals and the PMU's E&S review of high-risk ones (issue 13).

The rules, as plain functions that the sub-project lifecycle's guards, the pages and the API share:

- **exclusion list**: a proposal on which its PO ticked an item in force cannot be submitted; the
  refusal names the item(s) (`exclusion_refusal`, guard `outside_exclusion_list` of `submit`);
- **screening**: a risk category is required; substantial and high risk need an E&S management plan:
  an attachment marked as the ESMP *and* at least one structured mitigation measure (risk, measure,
  responsible party, timing); moderate risk needs mitigation measures, in words or structured
  (`screening_problems`, listed with the rest of what the proposal lacks by `proposal_complete`);
- **E&S review**: submitting a high-risk proposal opens its review (`pending`), or sends a decided one
  back to `pending` (the portal's own rule `reopen`, logged). Only an E&S officer belonging to no PO
  decides: `clear`, `clear_with_conditions` (at least one condition: subprojects.Condition rows with
  `es_review` set, which join the award-blocking conditions) or `not_clear` (with a comment). A
  high-risk proposal is awarded only once its review is cleared, with or without conditions
  (`review_blocks_award`, guard `es_review_cleared` of `award`).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from core import lifecycle
from core.emails import in_language_of, send_once
from core.errors import ActionRefused, Forbidden, Problem
from core.roles import GROUP_NAMES, Role
from safeguards.models import EsmpMeasure, EsReview, EsReviewStatus, ExclusionItem
from safeguards.permissions import is_pmu_es_officer
from subprojects.models import Attachment, Condition, Proposal, ProposalStatus, RiskCategory

# Risk classes that need an E&S management plan (attachment and structured measures).
NEEDS_ESMP = frozenset({RiskCategory.SUBSTANTIAL, RiskCategory.HIGH})
# The risk class that needs the PMU's E&S review.
NEEDS_REVIEW = RiskCategory.HIGH
# The decisions that let a high-risk proposal be awarded.
CLEARED_STATES = frozenset({EsReviewStatus.CLEARED, EsReviewStatus.CLEARED_WITH_CONDITIONS})
MEASURE_FIELDS = ("risk", "measure", "responsible", "timing")


# --- The screening rules ---------------------------------------------------------------------------


def exclusions_ticked(proposal: Proposal) -> list[ExclusionItem]:
    """The items in force that the PO declared the proposal's activities match."""
    return list(proposal.exclusions_found.filter(active=True).order_by("position", "name"))


def exclusion_refusal(proposal: Proposal) -> str:
    """Why the proposal may not be submitted because of the exclusion list, or ""."""
    items = exclusions_ticked(proposal)
    if not items:
        return ""
    return _(
        "The proposal includes activities on the exclusion list, which the programme never finances: "
        "%(items)s. Remove those activities (and untick them) before submitting."
    ) % {"items": "; ".join(item.name for item in items)}


def screening_problems(proposal: Proposal) -> list[Problem]:
    """What the proposal's E&S screening still lacks before submission, each named."""
    risk = proposal.risk_category
    if not risk:
        return [Problem(_("Environmental and social risk category is missing"), "risk_category", "required")]
    problems = []
    has_measures = proposal.esmp_measures.exists()
    if risk in NEEDS_ESMP:
        label = RiskCategory(risk).label
        if not proposal.attachments.filter(is_esmp=True).exists():
            problems.append(
                Problem(
                    _(
                        "Attach the E&S management plan (ESMP), required for %(risk)s risk (mark the "
                        "attachment as the ESMP)"
                    )
                    % {"risk": label},
                    "attachments",
                    "required",
                )
            )
        if not has_measures:
            problems.append(
                Problem(
                    _(
                        "Add at least one E&S mitigation measure (risk, measure, responsible party, timing), "
                        "required for %(risk)s risk"
                    )
                    % {"risk": label},
                    "esmp_measures",
                    "required",
                )
            )
    elif risk == RiskCategory.MODERATE and not (proposal.mitigation_measures.strip() or has_measures):
        problems.append(
            Problem(
                _("Mitigation measures are required for moderate risk"), "mitigation_measures", "required"
            )
        )
    return problems


def review_blocks_award(proposal: Proposal) -> str:
    """Why a proposal may not be awarded yet because of its E&S review, or "". A review, once opened,
    governs the award whatever the risk class says now (a class lowered after the review opened
    does not lift it); a high-risk proposal without one is not awarded."""
    review = EsReview.objects.filter(proposal=proposal).first()
    if review is None:
        if proposal.risk_category != NEEDS_REVIEW:
            return ""
        return _(
            "%(spp)s is high-risk and has no E&S review: it cannot be awarded before the PMU's E&S clearance."
        ) % {"spp": proposal.reference}
    if review.status not in CLEARED_STATES:
        return _(
            "The E&S review of %(spp)s (%(review)s) is %(state)s: it can only be awarded once an E&S "
            "officer has cleared it."
        ) % {"spp": proposal.reference, "review": review.reference, "state": review.get_status_display()}
    return ""


# Guards of the sub-project lifecycle (subprojects.workflow names them).


def outside_exclusion_list(proposal: Proposal, **_context: Any) -> None:
    """GUARD (submit): refuse, naming the item(s), when an exclusion-list item is ticked."""
    message = exclusion_refusal(proposal)
    if message:
        raise ActionRefused(message, code="excluded")


def es_review_cleared(proposal: Proposal, **_context: Any) -> None:
    """GUARD (award): a high-risk proposal waits for its E&S clearance."""
    message = review_blocks_award(proposal)
    if message:
        raise ActionRefused(message, code="es_review_pending")


# --- The PO's screening: exclusion answers, ESMP measures, the ESMP attachment ---------------------


def _require_editor(user, proposal: Proposal) -> None:
    from subprojects.permissions import may_edit_proposal

    if not may_edit_proposal(user, proposal):
        raise Forbidden(_("Only staff of %(po)s edit this.") % {"po": proposal.partner_organization})


def save_screening(
    *,
    user,
    proposal: Proposal,
    exclusions: list[ExclusionItem] | None = None,
    measures: list[dict[str, Any]] | None = None,
) -> Proposal:
    """Save the exclusion answers and/or the ESMP measures of a proposal its PO is drafting (`None`:
    left as they are). `measures` replace the proposal's lines; a line sent back with its `id` keeps
    its identity, and only what changed is saved (the audit trail shows real edits)."""
    _require_editor(user, proposal)
    with transaction.atomic():
        locked = Proposal.objects.select_for_update().get(pk=proposal.pk)
        if not locked.is_editable:
            raise ActionRefused(
                _("%(spp)s is %(state)s and can no longer be edited.")
                % {"spp": locked.reference, "state": locked.get_status_display()},
                code="wrong_state",
            )
        if exclusions is not None:
            locked.exclusions_found.set(exclusions)
        if measures is not None:
            _sync_measures(locked, measures)
    return locked


def _sync_measures(proposal: Proposal, rows: list[dict[str, Any]]) -> None:
    existing = {row.pk: row for row in proposal.esmp_measures.all()}
    kept = set()
    for position, values in enumerate(rows):
        row_id = values.get("id")
        row_id = getattr(row_id, "pk", row_id)
        wanted = {name: values[name] for name in MEASURE_FIELDS}
        wanted["position"] = position
        if row_id in existing:
            row = existing[row_id]
            changed = [name for name, value in wanted.items() if getattr(row, name) != value]
            if changed:
                for name in changed:
                    setattr(row, name, wanted[name])
                row.save(update_fields=changed)
            kept.add(row_id)
        else:
            EsmpMeasure.objects.create(proposal=proposal, **wanted)
    for row_id, row in existing.items():
        if row_id not in kept:
            row.delete()


def mark_esmp(*, user, attachment: Attachment, is_esmp: bool = True) -> Attachment:
    """Mark (or unmark) a proposal's attachment as its E&S management plan, while it is drafted."""
    proposal = attachment.proposal
    if proposal is None:
        raise ActionRefused(_("Only a proposal's attachment can be its E&S management plan."), code="invalid")
    _require_editor(user, proposal)
    with transaction.atomic():
        # Locked, like the submission that checks for the plan.
        locked = Proposal.objects.select_for_update().get(pk=proposal.pk)
        if not locked.is_editable:
            raise ActionRefused(
                _("Attachments can only be changed while %(ref)s is being drafted.")
                % {"ref": locked.reference},
                code="wrong_state",
            )
        if attachment.is_esmp != is_esmp:
            attachment.is_esmp = is_esmp
            attachment.save(update_fields=["is_esmp"])
    return attachment


def proposal_es_context(proposal: Proposal, user) -> dict[str, Any]:
    """The E&S section of the proposal's page: the screening, the ESMP and the review (a fixed number
    of queries whatever the proposal holds)."""
    review = EsReview.objects.visible_to(user).filter(proposal=proposal).select_related("decided_by").first()
    return {
        "exclusions": list(proposal.exclusions_found.all()),
        "measures": list(proposal.esmp_measures.all()),
        "esmp_attachments": [attachment for attachment in proposal.attachments.all() if attachment.is_esmp],
        "needs_esmp": proposal.risk_category in NEEDS_ESMP,
        "needs_review": proposal.risk_category == NEEDS_REVIEW,
        "review": review,
        # Asked whether or not there is a review, so the page costs the same queries either way.
        "conditions": list(
            Condition.objects.filter(proposal=proposal, es_review__isnull=False)
            .filter(es_review__in=EsReview.objects.visible_to(user))
            .order_by("position", "pk")
        ),
    }


# --- Opening the review when a high-risk proposal is submitted -----------------------------------


def open_review(proposal: Proposal, user) -> EsReview | None:
    """Called by the `submit` effect (inside its transaction): a high-risk proposal gets its review in
    `pending`, a new one logged as opened or a decided one sent back by the portal's `reopen` rule."""
    review = EsReview.objects.select_for_update().filter(proposal=proposal).first()
    if review is None:
        if proposal.risk_category != NEEDS_REVIEW:
            return None
        # A review once opened stays in charge, even if the class is lowered on revision (below).
        review = EsReview.objects.create(proposal=proposal, status=EsReviewStatus.PENDING)
        lifecycle.record(
            review, "open", user, "", from_state="", to_state=EsReviewStatus.PENDING, at=timezone.now()
        )
        return review
    if review.status != EsReviewStatus.PENDING:
        return lifecycle.apply(
            review,
            "reopen",
            None,
            comment=_("%(spp)s was submitted again.") % {"spp": proposal.reference},
        )
    return review


# --- The review's lifecycle ----------------------------------------------------------------------

ES = {Role.ES_OFFICER}


def es_officer_outside_any_po(user, review: EsReview) -> bool:
    """WHO: only the PMU's E&S officers (belonging to no PO) decide; never the PO's own staff."""
    return user.partner_organization_id is None


def proposal_submitted(review: EsReview, **_context: Any) -> None:
    """GUARD: the decision is taken on the proposal as submitted, not while its PO revises it."""
    proposal = review.proposal
    if proposal.awaits_submission or proposal.status in {
        ProposalStatus.OBJECTION,
        ProposalStatus.REJECTED,
        ProposalStatus.NOT_RECOMMENDED,
    }:
        raise ActionRefused(
            _("%(spp)s is %(state)s: its E&S review is decided on the proposal as submitted.")
            % {"spp": proposal.reference, "state": proposal.get_status_display()},
            code="wrong_state",
        )


def clean_conditions(conditions: Any) -> list[str]:
    if isinstance(conditions, str):
        conditions = conditions.splitlines()
    return [str(text).strip() for text in (conditions or []) if str(text).strip()]


MAX_CONDITIONS = 50
MAX_CONDITION_LENGTH = 2000


def conditions_listed(review: EsReview, **context: Any) -> None:
    """GUARD (clear_with_conditions): at least one condition, and a reasonable list."""
    conditions = clean_conditions(context.get("conditions"))
    if not conditions:
        raise ActionRefused(_("List the E&S conditions of the clearance (at least one)."), code="conditions")
    if len(conditions) > MAX_CONDITIONS:
        raise ActionRefused(
            _("At most %(count)s conditions can be set at once.") % {"count": MAX_CONDITIONS},
            code="conditions",
        )
    if any(len(text) > MAX_CONDITION_LENGTH for text in conditions):
        raise ActionRefused(
            _("A condition can be at most %(length)s characters long.") % {"length": MAX_CONDITION_LENGTH},
            code="conditions",
        )


def record_decision(review: EsReview, **context: Any) -> list[str]:
    """EFFECT: who decided and when; the conditions of a clearance with conditions, one row each."""
    review.decided_by = context["_user"]
    review.decided_at = timezone.now()
    if context["_action"] == "clear_with_conditions":
        start = review.conditions.count()
        for offset, text in enumerate(clean_conditions(context.get("conditions"))):
            Condition.objects.create(
                proposal_id=review.proposal_id, es_review=review, text=text, position=start + offset
            )
    return ["decided_by", "decided_at"]


def forget_decision(review: EsReview, **_context: Any) -> list[str]:
    """EFFECT (reopen): the new decision is still to take (the old one stays in the log). The unmet
    conditions of the old decision go with it: the new decision sets its own, and an old one must not
    block the award of a revised proposal (they stay in the conditions' history)."""
    Condition.objects.filter(es_review=review, met=False).delete()
    review.decided_by = None
    review.decided_at = None
    return ["decided_by", "decided_at"]


DECIDES = {"who": "es_officer_outside_any_po", "guards": ("proposal_submitted",), "effect": "record_decision"}
REVIEW_RULES = [
    lifecycle.rule("clear", _lazy("Clear"), [EsReviewStatus.PENDING], EsReviewStatus.CLEARED, ES, **DECIDES),
    lifecycle.rule(
        "clear_with_conditions",
        _lazy("Clear with conditions"),
        [EsReviewStatus.PENDING],
        EsReviewStatus.CLEARED_WITH_CONDITIONS,
        ES,
        who="es_officer_outside_any_po",
        guards=("proposal_submitted", "conditions_listed"),
        effect="record_decision",
        params=("conditions",),
        style="secondary",
    ),
    lifecycle.rule(
        "not_clear",
        _lazy("Not cleared"),
        [EsReviewStatus.PENDING],
        EsReviewStatus.NOT_CLEARED,
        ES,
        comment_required=True,
        style="danger",
        confirm=_lazy(
            "Refuse the E&S clearance? The proposal cannot be awarded unless it is submitted again."
        ),
        **DECIDES,
    ),
    lifecycle.rule(
        "reopen",
        _lazy("Back to E&S review (proposal submitted again)"),
        [EsReviewStatus.CLEARED, EsReviewStatus.CLEARED_WITH_CONDITIONS, EsReviewStatus.NOT_CLEARED],
        EsReviewStatus.PENDING,
        (),
        by_portal=True,
        button=False,
        waits=False,
        effect="forget_decision",
    ),
]
DECISION_ACTIONS = ("clear", "clear_with_conditions", "not_clear")


def _follow_up(transition) -> None:
    from core import outbox

    outbox.enqueue(send_review_emails, transition.pk)


REVIEW_LIFECYCLE = lifecycle.register(
    lifecycle.Lifecycle(
        EsReview,
        REVIEW_RULES,
        guards={"proposal_submitted": proposal_submitted, "conditions_listed": conditions_listed},
        effects={"record_decision": record_decision, "forget_decision": forget_decision},
        who={"es_officer_outside_any_po": es_officer_outside_any_po},
        follow_up=_follow_up,
        event_labels={"open": _lazy("Opened on submission")},
        url_name="safeguards:review-transition",
    )
)


# --- Emails: E&S officers when a review opens, the PO when it is decided --------------------------


def email_recipients(transition) -> list:
    from core.models import User

    review = transition.subject
    active = User.objects.filter(is_active=True).exclude(email="")
    if transition.to_state == EsReviewStatus.PENDING:
        audience = Q(groups__name=GROUP_NAMES[Role.ES_OFFICER], partner_organization__isnull=True)
    elif transition.action in DECISION_ACTIONS:
        audience = Q(
            groups__name=GROUP_NAMES[Role.PO_STAFF],
            partner_organization_id=review.proposal.partner_organization_id,
        )
    else:
        return []
    users = active.filter(audience).distinct()
    if transition.actor_id:
        users = users.exclude(pk=transition.actor_id)
    return list(users.order_by("pk"))


def build_message(transition, user) -> EmailMessage:
    review = transition.subject
    proposal = review.proposal
    values = {"review": review.reference, "spp": proposal.reference, "title": proposal.title}
    if transition.to_state == EsReviewStatus.PENDING:
        link = settings.PORTAL_BASE_URL.rstrip("/") + review.get_absolute_url()
        title = _("[SMART] E&S review %(review)s of %(spp)s awaits you") % values
        body = (
            _(
                "The high-risk proposal %(spp)s (%(title)s) was submitted: its E&S review %(review)s awaits "
                "a decision (clear, clear with conditions, or not cleared)."
            )
            % values
        )
    else:
        link = settings.PORTAL_BASE_URL.rstrip("/") + proposal.get_absolute_url()
        values["state"] = review.get_status_display()
        title = _("[SMART] E&S review of %(spp)s: %(state)s") % values
        body = _("The PMU's E&S review of %(spp)s (%(title)s) is decided: %(state)s.") % values
    lines = [_("Dear %(name)s,") % {"name": user.get_display_name()}, "", body]
    conditions = list(review.conditions.filter(met=False).values_list("text", flat=True))
    if transition.action == "clear_with_conditions" and conditions:
        lines += ["", _("E&S conditions to meet before the award:")] + [f"- {text}" for text in conditions]
    if transition.comment:
        lines += ["", _("Comment:"), transition.comment]
    lines += ["", _("Open it in the SMART Portal: %(link)s") % {"link": link}, "", _("— SMART Portal, PKSF")]
    return EmailMessage(title, "\n".join(lines), settings.DEFAULT_FROM_EMAIL, [user.email])


@shared_task(
    name="safeguards.reviews.send_review_emails", autoretry_for=(OSError,), retry_backoff=True, max_retries=5
)
def send_review_emails(transition_id: int) -> int:
    """Email each recipient of one review transition once (core.emails.send_once): a retry or a
    second delivery skips who already got it."""
    from subprojects.models import Transition

    transition = Transition.objects.select_related("actor", "content_type").get(pk=transition_id)
    return send_once(
        (
            f"es-review:{transition.pk}:user:{user.pk}",
            in_language_of(user, partial(build_message, transition, user)),
        )
        for user in email_recipients(transition)
    )


# --- "Waiting on you" and the menu -----------------------------------------------------------------

PER_KIND_LIMIT = 100


def reviews_waiting(user) -> list:
    """E&S officers of the PMU: each pending review of a submitted proposal, oldest first."""
    from core.waiting import WaitingItem

    if not is_pmu_es_officer(user):
        return []
    reviews = (
        EsReview.objects.filter(status=EsReviewStatus.PENDING)
        .exclude(proposal__status__in=Proposal.AWAITING_SUBMISSION)
        .select_related("proposal__partner_organization")
        .order_by("status_changed_at", "pk")[:PER_KIND_LIMIT]
    )
    what = " · ".join(str(rule.label) for rule in REVIEW_RULES if rule.action in DECISION_ACTIONS)
    return [
        WaitingItem(
            reference=review.reference,
            title=_("E&S review of %(spp)s: %(title)s")
            % {"spp": review.proposal.reference, "title": review.proposal.title},
            url=review.get_absolute_url(),
            what=what,
            since=review.status_changed_at,
            note=str(review.proposal.partner_organization),
        )
        for review in reviews
    ]


def may_read_reviews(user) -> bool:
    return bool(
        user.is_authenticated
        and (
            user.sees_whole_programme
            or is_pmu_es_officer(user)
            or (user.has_role(Role.PO_STAFF) and user.partner_organization_id is not None)
        )
    )


def ready() -> None:
    from core import waiting
    from core.navigation import NavItem, register

    register(
        NavItem(
            _lazy("E&S reviews"),
            "safeguards:review-list",
            _lazy("The PMU's E&S review of high-risk proposals: decisions and conditions."),
            roles=(Role.ES_OFFICER, Role.PMU_OFFICER, Role.WORLD_BANK, Role.PKSF_APPROVER, Role.PO_STAFF),
            condition=may_read_reviews,
            order=80,
        ),
        NavItem(
            _lazy("Exclusion list"),
            "safeguards:exclusion-list",
            _lazy("Activities the programme never finances, kept by the PMU."),
            order=81,
        ),
        group=_lazy("Safeguards"),
    )
    waiting.register(reviews_waiting)
