"""Emails about grievances: the focal points of the tier that receives a case hear of it, once each
(as do those who take it over when it is reclassified into or out of SEA/SH).

The email names the reference, the tier and the deadline, never the complainant or the text: the
details are read on the portal, by those allowed to see them."""

from __future__ import annotations

from functools import partial

from django.conf import settings
from django.core.mail import EmailMessage
from django.utils import timezone
from django.utils.translation import gettext as _

from core.emails import in_language_of, send_once
from core.models import User
from grievances import handling
from grievances.models import Grievance
from subprojects.models import Transition


def recipients(transition: Transition) -> list[User]:
    grievance = transition.subject
    if not isinstance(grievance, Grievance):
        return []
    users = handling.handlers(grievance).exclude(email="")
    if transition.actor_id:
        users = users.exclude(pk=transition.actor_id)
    return list(users.order_by("pk"))


def build_message(transition: Transition, grievance: Grievance, user: User) -> EmailMessage:
    link = settings.PORTAL_BASE_URL.rstrip("/") + grievance.get_absolute_url()
    values = {
        "ref": grievance.reference,
        "tier": grievance.get_tier_display(),
        "due": timezone.localtime(grievance.acknowledge_by).strftime("%Y-%m-%d"),
    }
    if transition.action == "escalate":
        what = _("%(ref)s has been escalated to you (%(tier)s).") % values
    elif transition.action == "reclassify":
        values["category"] = grievance.get_category_display()
        what = _("%(ref)s has been reclassified as “%(category)s” and now awaits you (%(tier)s).") % values
    elif transition.action == "appeal":
        what = _("The complainant of %(ref)s is not satisfied and appeals to you (%(tier)s).") % values
    else:
        what = _("A new grievance, %(ref)s, awaits you (%(tier)s).") % values
    lines = [
        _("Dear %(name)s,") % {"name": user.get_display_name()},
        "",
        what,
        _("Acknowledge it by %(due)s.") % values,
        "",
        _("Open it in the SMART Portal: %(link)s") % {"link": link},
        "",
        _("— SMART Portal, PKSF"),
    ]
    title = _("[SMART] Grievance %(ref)s awaits you") % values
    return EmailMessage(title, "\n".join(lines), settings.DEFAULT_FROM_EMAIL, [user.email])


def send_for(transition_id: int) -> int:
    """Each recipient once: the email is claimed (SentEmail) before it is sent, and the claim
    withdrawn if sending fails, so a retry or a second delivery of the task sends nothing twice."""
    transition = Transition.objects.select_related("content_type").get(pk=transition_id)
    grievance = Grievance.objects.get(pk=transition.object_id)
    transition.subject = grievance
    return send_once(
        (
            f"grievance:{transition.pk}:user:{user.pk}",
            in_language_of(user, partial(build_message, transition, grievance, user)),
        )
        for user in recipients(transition)
    )
