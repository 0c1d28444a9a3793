"""Who hears about a transition: the people who must act next, the PO whose submission moved, and
the TEC member whose submitted scores the PMU reopened.

Recipients are read from the transition table, so a new rule notifies the right people by itself.
Emails are sent by a Celery task after the transaction commits.
"""

from __future__ import annotations

from functools import partial

from django.conf import settings
from django.core.mail import EmailMessage
from django.db.models import Q
from django.utils.translation import gettext as _

from core.emails import in_language_of, send_once
from core.lifecycle import rules_for
from core.models import User
from core.roles import GROUP_NAMES, Role
from subprojects.models import Call, CallStatus, ScoreSheet, Transition


def transition_happened(transition_id: int) -> None:
    from core import outbox
    from subprojects.tasks import send_transition_emails

    outbox.enqueue(send_transition_emails, transition_id)


def recipients(transition: Transition) -> list[User]:
    subject = transition.subject
    model = type(subject)
    active = User.objects.filter(is_active=True).exclude(email="")
    if isinstance(subject, ScoreSheet):
        # A score sheet concerns its member alone (only its reopening is announced).
        return list(active.filter(pk=subject.member_id))
    audience = Q(pk__in=[])
    # An action that keeps the state (reopening a call's scoring) leaves nothing new to do to anyone;
    # nor is such an action anyone's next step.
    next_rules = [] if transition.from_state == transition.to_state else rules_for(model)
    for rule in next_rules:
        if transition.to_state not in rule.sources or rule.target_from(transition.to_state) in rule.sources:
            continue
        role_filter = Q(groups__name__in=[GROUP_NAMES[role] for role in rule.roles])
        if rule.po_owned:
            role_filter &= Q(partner_organization_id=subject.partner_organization_id)
        audience |= role_filter
    po_id = getattr(subject, "partner_organization_id", None)
    if po_id:
        # The PO always hears what happened to its own submission.
        audience |= Q(groups__name=GROUP_NAMES[Role.PO_STAFF], partner_organization_id=po_id)
    if isinstance(subject, Call) and transition.action == "open" and transition.to_state == CallStatus.OPEN:
        audience |= Q(groups__name=GROUP_NAMES[Role.PO_STAFF], partner_organization__is_active=True)
    users = active.filter(audience).distinct()
    actor = transition.actor
    if actor is not None:
        users = users.exclude(pk=actor.pk)
        if actor.partner_organization_id:
            # PO staff don't need emails about what a colleague just did.
            users = users.exclude(partner_organization_id=actor.partner_organization_id)
    return list(users.order_by("pk"))


def sheet_reopened_message(transition: Transition, user: User) -> EmailMessage:
    """To a member whose submitted scores the PMU's "reopen scoring" put back to draft."""
    sheet = transition.subject
    item = sheet.agenda_item
    link = settings.PORTAL_BASE_URL.rstrip("/") + item.get_absolute_url()
    values = {"spp": item.proposal.reference, "meeting": item.meeting}
    lines = [
        _("Dear %(name)s,") % {"name": user.get_display_name()},
        "",
        _(
            "Your submitted scores on %(spp)s (%(meeting)s) are a draft again: the PMU reopened the "
            "scoring of the call. Review them and submit them again."
        )
        % values,
    ]
    if transition.comment:
        lines += ["", transition.comment]
    lines += ["", _("Open it in the SMART Portal: %(link)s") % {"link": link}, "", _("— SMART Portal, PKSF")]
    title = _("[SMART] Your scores on %(spp)s are reopened") % values
    return EmailMessage(title, "\n".join(lines), settings.DEFAULT_FROM_EMAIL, [user.email])


def build_message(transition: Transition, user: User) -> EmailMessage:
    subject_obj = transition.subject
    if isinstance(subject_obj, ScoreSheet):
        return sheet_reopened_message(transition, user)
    state = subject_obj.get_status_display()
    link = settings.PORTAL_BASE_URL.rstrip("/") + subject_obj.get_absolute_url()
    actor = transition.actor.get_display_name() if transition.actor else _("the portal")
    title = _("[SMART] %(ref)s is now %(state)s") % {"ref": subject_obj.reference, "state": state}
    lines = [
        _("Dear %(name)s,") % {"name": user.get_display_name()},
        "",
        _("%(object)s is now %(state)s (%(action)s by %(actor)s).")
        % {
            "object": subject_obj,
            "state": state,
            "action": transition.action.replace("_", " "),
            "actor": actor,
        },
    ]
    if transition.comment:
        lines += ["", _("Comment:"), transition.comment]
    lines += ["", _("Open it in the SMART Portal: %(link)s") % {"link": link}, "", _("— SMART Portal, PKSF")]
    return EmailMessage(title, "\n".join(lines), settings.DEFAULT_FROM_EMAIL, [user.email])


def send_for(transition: Transition) -> int:
    """Email each recipient once (core.emails.send_once): a retry after a mail-server error, or the
    task delivered again (even two copies running at once), skips whoever already got it."""
    return send_once(
        (
            f"transition:{transition.pk}:user:{user.pk}",
            in_language_of(user, partial(build_message, transition, user)),
        )
        for user in recipients(transition)
    )
