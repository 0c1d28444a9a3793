"""Handling grievances on the portal's one lifecycle engine (core.lifecycle).

Tiers: 1 the PO's grievance committee, 2 the PMU's, 3 the appeal (also heard by the PMU). A grievance
with no PO (the complainant did not know which) starts at tier 2.

Who handles a tier (the rules' `who` check `handles_tier`, and whose eyes see the complainant's
identity): ordinary cases the grievance focal points, SEA/SH cases the SEA/SH focal points:
- tier 1: those of the grievance's PO; a PO that has none leaves its tier 1 to the PMU's;
- tiers 2 and 3: the PMU's (focal points belonging to no PO).

The table (GRIEVANCE_RULES):
- acknowledge: received -> acknowledged;
- resolve: acknowledged -> resolved; the comment is the resolution proposed (required);
- record_feedback_satisfied: resolved -> closed (the complainant accepts);
- appeal: resolved -> received at the next tier (the complainant is not satisfied), below tier 3;
- close_not_satisfied: resolved -> closed with feedback "not satisfied", at tier 3 only (the appeal
  was the last step);
- escalate: received/acknowledged -> received at the next tier, below tier 3; by a handler with a
  comment, or by the portal (`grievances.tasks.escalate_overdue`) once a deadline has passed, from
  tier 1 to tier 2 only: tier 3 is the complainant's appeal, which the portal never spends for them,
  so an overdue case at tier 2 or 3 stays where it is and the lists flag it overdue;
- close_out_of_scope: received/acknowledged -> closed (comment required);
- reclassify: received/acknowledged/resolved, state kept: the handler changes the category (param
  `category`, comment required). Only a SEA/SH focal point moves a case out of SEA/SH; moving one
  into SEA/SH hands it to the SEA/SH focal points (who are told), out of its former handler's sight.

A case starts with its tier's deadlines counted from when it was received (`received_at`, earlier
than now for a letter logged late). Moving to a tier resets `tier_received_at` and the tier's
deadlines (settings GRIEVANCE_ACKNOWLEDGE_DAYS, GRIEVANCE_RESOLVE_DAYS from then). The new tier's
handlers get one email; steps written with a time more than NEWS_WITHIN ago (history replayed for
the demo or carried over) email nobody.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from core import lifecycle
from core.errors import ActionRefused, Forbidden
from core.roles import Role
from grievances.models import (
    Category,
    Channel,
    Feedback,
    Grievance,
    GrievanceAttachment,
    GrievanceStatus,
    Tier,
)

HANDLER_ROLES = (Role.GRIEVANCE_FOCAL_POINT, Role.SEAH_FOCAL_POINT)
# The channels of staff logging (the public page is "web").
STAFF_CHANNELS = [choice for choice in Channel.choices if choice[0] != Channel.WEB]
PO_CHANNELS = [choice for choice in STAFF_CHANNELS if choice[0] not in {Channel.PKSF, Channel.WORLD_BANK}]


# --- Deadlines and tiers ----------------------------------------------------------------------------


def deadlines(since: datetime) -> tuple[datetime, datetime]:
    """(acknowledge by, resolve by) for a tier that received the case at `since`."""
    return (
        since + timedelta(days=settings.GRIEVANCE_ACKNOWLEDGE_DAYS),
        since + timedelta(days=settings.GRIEVANCE_RESOLVE_DAYS),
    )


def starting_tier(partner_organization_id: int | None) -> int:
    return Tier.PO if partner_organization_id else Tier.PMU


def overdue_q(now: datetime | None = None) -> Q:
    """Past the current tier's deadline: not acknowledged in time, or acknowledged and not resolved."""
    now = now or timezone.now()
    return Q(status=GrievanceStatus.RECEIVED, acknowledge_by__lt=now) | Q(
        status=GrievanceStatus.ACKNOWLEDGED, resolve_by__lt=now
    )


def is_overdue(grievance: Grievance, now: datetime | None = None) -> bool:
    now = now or timezone.now()
    if grievance.status == GrievanceStatus.RECEIVED:
        return grievance.acknowledge_by < now
    if grievance.status == GrievanceStatus.ACKNOWLEDGED:
        return grievance.resolve_by < now
    return False


# --- Who handles the current tier -------------------------------------------------------------------


def _role_for(category: str) -> Role:
    return Role.SEAH_FOCAL_POINT if category == Category.SEAH else Role.GRIEVANCE_FOCAL_POINT


def _pos_with(role: Role) -> QuerySet:
    """The POs that have an active focal point of `role` of their own."""
    from core.models import User
    from core.roles import GROUP_NAMES

    return User.objects.filter(
        is_active=True, groups__name=GROUP_NAMES[role], partner_organization__isnull=False
    ).values("partner_organization_id")


def handled_by(user) -> Q:
    """The grievances whose current tier `user` handles (a condition on Grievance)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return Q(pk__in=[])
    condition = Q(pk__in=[])
    po_id = user.partner_organization_id
    for role, category in (
        (Role.GRIEVANCE_FOCAL_POINT, ~Q(category=Category.SEAH)),
        (Role.SEAH_FOCAL_POINT, Q(category=Category.SEAH)),
    ):
        if not user.has_role(role):
            continue
        if po_id:
            condition |= category & Q(tier=Tier.PO, partner_organization_id=po_id)
        else:
            pmu_tier_one = Q(tier=Tier.PO) & (
                Q(partner_organization__isnull=True) | ~Q(partner_organization_id__in=_pos_with(role))
            )
            condition |= category & (Q(tier__gte=Tier.PMU) | pmu_tier_one)
    return condition


def po_has_own_handler(grievance: Grievance) -> bool:
    """Whether the grievance's PO has an active focal point of its own for the case's kind (else the
    PMU's handle its tier 1). Cached on the instance (`_own_handler`), which callers may also set."""
    cached = grievance.__dict__.get("_own_handler")
    if cached is None:
        role = _role_for(grievance.category)
        cached = _pos_with(role).filter(partner_organization_id=grievance.partner_organization_id).exists()
        grievance.__dict__["_own_handler"] = cached
    return cached


def is_handler(user, grievance: Grievance) -> bool:
    """Whether `user` handles the grievance's current tier (acts on it and sees who complained); the
    same rule as `handled_by`, on one object."""
    if user is None or not user.is_authenticated or not getattr(user, "is_active", True):
        return False
    if not user.has_role(_role_for(grievance.category)):
        return False
    po_id = user.partner_organization_id
    if grievance.tier == Tier.PO and grievance.partner_organization_id:
        if po_id:
            return po_id == grievance.partner_organization_id
        return not po_has_own_handler(grievance)
    return po_id is None


def with_handling(queryset: QuerySet, user) -> QuerySet:
    """Annotate `handled_by_you` (one query for a whole list)."""
    return queryset.annotate(handled_by_you=ExpressionWrapper(handled_by(user), output_field=BooleanField()))


def shows_identity(user, grievance: Grievance) -> bool:
    annotated = getattr(grievance, "handled_by_you", None)
    if annotated is not None:
        return bool(annotated)
    return is_handler(user, grievance)


def handlers(grievance: Grievance) -> QuerySet:
    """The people who handle the grievance's current tier (active, by role and PO)."""
    from core.models import User
    from core.roles import GROUP_NAMES

    role = _role_for(grievance.category)
    holders = User.objects.filter(is_active=True, groups__name=GROUP_NAMES[role])
    po_id = grievance.partner_organization_id
    if grievance.tier == Tier.PO and po_id:
        own = holders.filter(partner_organization_id=po_id)
        if own.exists():
            return own.distinct()
    return holders.filter(partner_organization__isnull=True).distinct()


# --- Logging a grievance (the public page, the API, staff) ------------------------------------------


def may_log(user) -> bool:
    """PO staff and a PO's focal points log grievances for their PO; the PMU's focal points any."""
    if user is None or not user.is_authenticated:
        return False
    if user.partner_organization_id:
        return user.has_role(Role.PO_STAFF, *HANDLER_ROLES)
    return user.has_role(*HANDLER_ROLES)


def lodge(
    *,
    category: str,
    subject: str,
    description: str,
    channel: str = Channel.WEB,
    partner_organization=None,
    district=None,
    upazila=None,
    anonymous: bool = False,
    complainant_name: str = "",
    complainant_phone: str = "",
    complainant_email: str = "",
    complainant_address: str = "",
    complainant_gender: str = "",
    complainant_kind: str = "",
    received_at: datetime | None = None,
    logged_by=None,
    attachments: Iterable[tuple[UploadedFile, str]] = (),
) -> Grievance:
    """Register a grievance (checked input) at its first tier, with its deadlines counted from
    `received_at` (a time in the future is taken as now), its first log row
    ("lodged") and its attachments `(file, detected mime type)`; its handlers hear of it by email.
    An anonymous grievance keeps no name or contact details, whatever was sent."""
    now = timezone.now()
    received_at = min(received_at or now, now)
    if anonymous:
        complainant_name = complainant_phone = complainant_email = complainant_address = ""
    po_id = partner_organization.pk if partner_organization else None
    # The first tier's clock starts when the grievance was received, not when it was typed in.
    acknowledge_by, resolve_by = deadlines(received_at)
    with transaction.atomic():
        grievance = Grievance.objects.create(
            partner_organization=partner_organization,
            category=category,
            channel=channel,
            tier=starting_tier(po_id),
            subject=subject.strip(),
            description=description.strip(),
            district=district,
            upazila=upazila,
            anonymous=anonymous,
            complainant_name=complainant_name.strip(),
            complainant_phone=complainant_phone.strip(),
            complainant_email=complainant_email.strip(),
            complainant_address=complainant_address.strip(),
            complainant_gender=complainant_gender or Grievance._meta.get_field("complainant_gender").default,
            complainant_kind=complainant_kind or Grievance._meta.get_field("complainant_kind").default,
            received_at=received_at,
            tier_received_at=received_at,
            acknowledge_by=acknowledge_by,
            resolve_by=resolve_by,
            status_changed_at=now,
            logged_by=logged_by,
        )
        for upload, mime_type in attachments:
            GrievanceAttachment.objects.create(
                grievance=grievance,
                file=upload,
                original_name=(upload.name or "")[:200],
                mime_type=mime_type,
                size=upload.size or 0,
            )
        lifecycle.record(grievance, "lodge", logged_by, "", from_state="", to_state=grievance.status, at=now)
    return grievance


# --- Hooks of the lifecycle engine --------------------------------------------------------------------


def handles_tier(user, grievance: Grievance) -> bool:
    """WHO: the focal points handling the grievance's current tier."""
    return is_handler(user, grievance)


def below_appeal_tier(grievance: Grievance, **context: Any) -> None:
    """GUARD: there is a next tier."""
    if grievance.tier >= Tier.APPEAL:
        raise ActionRefused(
            _("%(ref)s is already at the appeal, the last tier: there is no tier to move it to.")
            % {"ref": grievance.reference},
            code="last_tier",
        )


def at_appeal_tier(grievance: Grievance, **context: Any) -> None:
    """GUARD: the complainant's "not satisfied" closes the case only after the appeal."""
    if grievance.tier < Tier.APPEAL:
        raise ActionRefused(
            _(
                "%(ref)s is not at the appeal yet: a complainant who is not satisfied appeals to the "
                "next tier."
            )
            % {"ref": grievance.reference},
            code="not_last_tier",
        )


def overdue_when_by_portal(grievance: Grievance, **context: Any) -> None:
    """GUARD: the portal escalates only what is past its deadline, and only from tier 1 to tier 2:
    tier 3 is the complainant's appeal, never used up by the portal (read on the locked row: a second
    run, or one running at the same time, finds the fresh deadlines and changes nothing)."""
    if context.get("_user") is not None:
        return
    if grievance.tier != Tier.PO:
        raise ActionRefused(
            _(
                "%(ref)s is at tier %(tier)s: the portal escalates overdue cases from tier 1 only, so "
                "that the appeal stays the complainant's."
            )
            % {"ref": grievance.reference, "tier": grievance.tier},
            code="not_portal_tier",
        )
    if not is_overdue(grievance):
        raise ActionRefused(
            _("%(ref)s is not past its deadline.") % {"ref": grievance.reference}, code="not_overdue"
        )


def category_change_allowed(grievance: Grievance, **context: Any) -> None:
    """GUARD of `reclassify`: a known category other than the current one; only a SEA/SH focal point
    takes a case out of SEA/SH (moving one into it is any handler's duty)."""
    category = context.get("category") or ""
    if category not in Category.values:
        raise ActionRefused(_("Choose the new category among those offered."), code="unknown_category")
    if category == grievance.category:
        raise ActionRefused(
            _("%(ref)s is already in the category “%(category)s”.")
            % {"ref": grievance.reference, "category": grievance.get_category_display()},
            code="same_category",
        )
    user = context.get("_user")
    if grievance.category == Category.SEAH and (user is None or not user.has_role(Role.SEAH_FOCAL_POINT)):
        raise Forbidden(_("Only a SEA/SH focal point moves a case out of SEA/SH."))


def mark_acknowledged(grievance: Grievance, **context: Any) -> list[str]:
    grievance.acknowledged_at = timezone.now()
    return ["acknowledged_at"]


def record_resolution(grievance: Grievance, **context: Any) -> list[str]:
    grievance.resolution = context["_comment"]
    grievance.resolved_at = timezone.now()
    return ["resolution", "resolved_at"]


def close_satisfied(grievance: Grievance, **context: Any) -> list[str]:
    grievance.feedback = Feedback.SATISFIED
    grievance.closed_at = timezone.now()
    return ["feedback", "closed_at"]


def close_unsatisfied(grievance: Grievance, **context: Any) -> list[str]:
    grievance.feedback = Feedback.NOT_SATISFIED
    grievance.closed_at = timezone.now()
    return ["feedback", "closed_at"]


def close(grievance: Grievance, **context: Any) -> list[str]:
    grievance.closed_at = timezone.now()
    return ["closed_at"]


def set_category(grievance: Grievance, **context: Any) -> list[str]:
    """EFFECT of `reclassify`. Moving into or out of SEA/SH changes who handles the case: those new
    handlers are told (`_notify` reads the mark left here)."""
    was_seah = grievance.is_seah
    grievance.category = context["category"]
    grievance.__dict__.pop("_own_handler", None)  # the handling role changed with the category
    grievance.__dict__["_handlers_changed"] = was_seah != grievance.is_seah
    return ["category"]


def to_next_tier(grievance: Grievance, **context: Any) -> list[str]:
    """EFFECT: the next tier receives the case afresh: its own deadlines from now; what the previous
    tier acknowledged or proposed stays in the history."""
    now = timezone.now()
    grievance.tier = grievance.tier + 1
    grievance.tier_received_at = now
    grievance.acknowledge_by, grievance.resolve_by = deadlines(now)
    grievance.acknowledged_at = None
    grievance.resolved_at = None
    grievance.resolution = ""
    changed = ["tier", "tier_received_at", "acknowledge_by", "resolve_by", "acknowledged_at"]
    changed += ["resolved_at", "resolution"]
    if context["_action"] == "appeal":
        grievance.feedback = Feedback.NOT_SATISFIED
        changed.append("feedback")
    return changed


RECEIVED = GrievanceStatus.RECEIVED
ACKNOWLEDGED = GrievanceStatus.ACKNOWLEDGED
RESOLVED = GrievanceStatus.RESOLVED
CLOSED = GrievanceStatus.CLOSED
HANDLER = {"who": "handles_tier"}

GRIEVANCE_RULES = [
    lifecycle.rule(
        "acknowledge",
        _lazy("Acknowledge"),
        [RECEIVED],
        ACKNOWLEDGED,
        HANDLER_ROLES,
        effect="mark_acknowledged",
        **HANDLER,
    ),
    lifecycle.rule(
        "resolve",
        _lazy("Propose a resolution"),
        [ACKNOWLEDGED],
        RESOLVED,
        HANDLER_ROLES,
        comment_required=True,
        effect="record_resolution",
        **HANDLER,
    ),
    lifecycle.rule(
        "record_feedback_satisfied",
        _lazy("Complainant satisfied: close"),
        [RESOLVED],
        CLOSED,
        HANDLER_ROLES,
        effect="close_satisfied",
        **HANDLER,
    ),
    lifecycle.rule(
        "appeal",
        _lazy("Complainant not satisfied: appeal to the next tier"),
        [RESOLVED],
        RECEIVED,
        HANDLER_ROLES,
        style="secondary",
        guards=("below_appeal_tier",),
        effect="to_next_tier",
        **HANDLER,
    ),
    lifecycle.rule(
        "close_not_satisfied",
        _lazy("Complainant not satisfied after the appeal: close"),
        [RESOLVED],
        CLOSED,
        HANDLER_ROLES,
        comment_required=True,
        style="secondary",
        guards=("at_appeal_tier",),
        effect="close_unsatisfied",
        **HANDLER,
    ),
    lifecycle.rule(
        "escalate",
        _lazy("Escalate to the next tier"),
        [RECEIVED, ACKNOWLEDGED],
        RECEIVED,
        HANDLER_ROLES,
        comment_required=True,
        style="secondary",
        guards=("below_appeal_tier", "overdue_when_by_portal"),
        effect="to_next_tier",
        by_portal=True,
        waits=False,
        **HANDLER,
    ),
    lifecycle.rule(
        "reclassify",
        _lazy("Change the category"),
        [RECEIVED, ACKNOWLEDGED, RESOLVED],
        lifecycle.SAME_STATE,
        HANDLER_ROLES,
        comment_required=True,
        guards=("category_change_allowed",),
        effect="set_category",
        params=("category",),
        waits=False,
        button=False,  # from its own small form on the grievance's page
        **HANDLER,
    ),
    lifecycle.rule(
        "close_out_of_scope",
        _lazy("Close as out of scope"),
        [RECEIVED, ACKNOWLEDGED],
        CLOSED,
        HANDLER_ROLES,
        comment_required=True,
        style="danger",
        confirm=_lazy("Close this grievance as out of scope?"),
        effect="close",
        waits=False,
        **HANDLER,
    ),
]

# The actions that hand the case to another tier: its handlers hear of it.
NEW_TIER_ACTIONS = {"lodge", "escalate", "appeal"}
# Steps older than this are history being written (demo data, records carried over): no email.
NEWS_WITHIN = timedelta(hours=1)


def _notify(transition) -> None:
    if transition.at < timezone.now() - NEWS_WITHIN:
        return
    new_handlers = transition.action in NEW_TIER_ACTIONS or (
        transition.action == "reclassify"
        and getattr(transition.subject, "__dict__", {}).get("_handlers_changed", False)
    )
    if new_handlers:
        from core import outbox

        outbox.enqueue("grievances.tasks.send_grievance_emails", transition.pk)


GRIEVANCE_LIFECYCLE = lifecycle.Lifecycle(
    Grievance,
    GRIEVANCE_RULES,
    guards={
        "below_appeal_tier": below_appeal_tier,
        "at_appeal_tier": at_appeal_tier,
        "overdue_when_by_portal": overdue_when_by_portal,
        "category_change_allowed": category_change_allowed,
    },
    effects={
        "mark_acknowledged": mark_acknowledged,
        "record_resolution": record_resolution,
        "close_satisfied": close_satisfied,
        "close_unsatisfied": close_unsatisfied,
        "close": close,
        "to_next_tier": to_next_tier,
        "set_category": set_category,
    },
    who={"handles_tier": handles_tier},
    follow_up=_notify,
    event_labels={"lodge": _lazy("Lodged")},
    url_name="grievances:transition",
)


def escalate_overdue(now: datetime | None = None) -> int:
    """Escalate, by the portal, each grievance past its deadline at tier 1 to tier 2; each once (the
    engine locks the row and the guard reads the fresh deadlines). Overdue cases at tier 2 stay there
    (tier 3 is the complainant's appeal, not the portal's to use) and at tier 3: the lists flag them
    overdue. Returns how many were escalated."""
    now = now or timezone.now()
    due = Grievance.objects.filter(overdue_q(now), tier=Tier.PO).order_by("pk")
    escalated = 0
    for grievance in due.iterator():
        missed = (
            _("the deadline to acknowledge it (%(date)s)")
            if grievance.status == GrievanceStatus.RECEIVED
            else _("the deadline to resolve it (%(date)s)")
        ) % {
            "date": timezone.localtime(
                grievance.acknowledge_by
                if grievance.status == GrievanceStatus.RECEIVED
                else grievance.resolve_by
            ).strftime("%Y-%m-%d %H:%M")
        }
        comment = _("Escalated by the portal: tier %(tier)s missed %(missed)s.") % {
            "tier": grievance.tier,
            "missed": missed,
        }
        try:
            lifecycle.apply(grievance, "escalate", None, comment=comment)
        except ActionRefused:
            continue  # moved meanwhile (acknowledged, escalated by another run): nothing to do
        escalated += 1
    return escalated


def ready() -> None:
    from core import waiting
    from core.navigation import NavItem, register
    from grievances import hooks

    lifecycle.register(GRIEVANCE_LIFECYCLE)
    register(
        NavItem(
            _lazy("Grievances"),
            "grievances:list",
            _lazy("Grievances your tier handles or follows, with their deadlines."),
            roles=HANDLER_ROLES,
            order=90,
        ),
        NavItem(
            _lazy("Log a grievance"),
            "grievances:log",
            _lazy(
                "Record a grievance received by phone, letter, in person, at a CSF, or sent to PKSF or "
                "the Bank."
            ),
            roles=(Role.PO_STAFF, *HANDLER_ROLES),
            condition=may_log,
            order=91,
        ),
        NavItem(
            _lazy("Public grievance page"),
            "grievances:lodge",
            _lazy("The page where anyone lodges a grievance, and its status lookup."),
            roles=(Role.PO_STAFF, Role.PMU_OFFICER, *HANDLER_ROLES),
            order=92,
        ),
        group=_lazy("Grievances"),
    )
    waiting.register(hooks.grievances_waiting)
