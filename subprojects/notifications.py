"""Who hears about a transition: the people who must act next, and the PO whose submission moved.

Recipients are read from the transition table, so a new rule notifies the right people by itself.
Emails are sent by a Celery task after the transaction commits.
"""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db.models import Q
from django.utils.translation import gettext as _

from core.lifecycle import rules_for
from core.models import User
from core.roles import GROUP_NAMES, Role
from subprojects.models import Call, CallStatus, Transition


def transition_happened(transition_id: int) -> None:
    from subprojects.tasks import send_transition_emails

    send_transition_emails.delay(transition_id)


def recipients(transition: Transition) -> list[User]:
    subject = transition.subject
    model = type(subject)
    active = User.objects.filter(is_active=True).exclude(email="")
    audience = Q(pk__in=[])
    for rule in rules_for(model):
        if transition.to_state not in rule.sources:
            continue
        role_filter = Q(groups__name__in=[GROUP_NAMES[role] for role in rule.roles])
        if rule.po_owned:
            role_filter &= Q(partner_organization_id=subject.partner_organization_id)
        audience |= role_filter
    po_id = getattr(subject, "partner_organization_id", None)
    if po_id:
        # The PO always hears what happened to its own submission.
        audience |= Q(groups__name=GROUP_NAMES[Role.PO_STAFF], partner_organization_id=po_id)
    if isinstance(subject, Call) and transition.to_state == CallStatus.OPEN:
        audience |= Q(groups__name=GROUP_NAMES[Role.PO_STAFF], partner_organization__is_active=True)
    users = active.filter(audience).distinct()
    actor = transition.actor
    if actor is not None:
        users = users.exclude(pk=actor.pk)
        if actor.partner_organization_id:
            # PO staff don't need emails about what a colleague just did.
            users = users.exclude(partner_organization_id=actor.partner_organization_id)
    return list(users.order_by("pk"))


def build_message(transition: Transition, user: User) -> EmailMessage:
    subject_obj = transition.subject
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
    messages = [build_message(transition, user) for user in recipients(transition)]
    if not messages:
        return 0
    with get_connection() as connection:
        return connection.send_messages(messages) or 0
