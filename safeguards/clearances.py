"""DoE and BSTI clearances of MEs and CSFs: who keeps them, their documents, and the reminders before
they expire.

- Who: the staff of the holder's PO, or a PMU officer / E&S officer belonging to no PO (`may_manage`,
  the same rule as screening an ME). Reading follows `Clearance.objects.visible_to` (PO staff their
  PO's, programme-wide roles all); another PO's clearance is a 404.
- The document is checked by its content (core.uploads: PDF, JPEG or PNG, at most
  settings.ATTACHMENT_MAX_MB); the original name is kept in the row, never used on disk.
- Reminders (`send_reminders`, run daily by the Celery task safeguards.tasks.send_clearance_reminders):
  each clearance is announced to its PO's staff once per threshold of settings.CLEARANCE_REMINDER_DAYS
  (e.g. 60, 30 and 7 days before expiry): `Clearance.last_reminder_days` keeps the threshold last
  announced, and each email is claimed (core.models.SentEmail) before it is sent, so a rerun or a
  task delivered twice never emails twice. A renewed clearance (new expiry date) is announced afresh.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from core.emails import in_language_of, send_once
from core.models import User
from core.roles import GROUP_NAMES, Role
from core.uploads import JPEG, PDF, PNG, check_upload
from enterprises.models import CommonServiceFacility, Enterprise
from safeguards.models import Clearance

DOCUMENT_KINDS = (PDF, JPEG, PNG)
EDITABLE_FIELDS = ("kind", "number", "category", "scope", "issued_on", "expires_on")
MANAGING_ROLES = (Role.PO_STAFF, Role.PMU_OFFICER, Role.ES_OFFICER)


# --- Who ------------------------------------------------------------------------------------------


def may_manage(user, holder: Clearance | Enterprise | CommonServiceFacility) -> bool:
    """The holder's PO's staff (or its E&S officer), or a PMU officer / E&S officer of no PO."""
    if not getattr(user, "is_authenticated", False) or not user.has_role(*MANAGING_ROLES):
        return False
    if user.partner_organization_id is not None:
        return user.partner_organization_id == holder.partner_organization_id
    return user.has_role(Role.PMU_OFFICER, Role.ES_OFFICER)


def may_manage_any(user) -> bool:
    if not getattr(user, "is_authenticated", False) or not user.has_role(*MANAGING_ROLES):
        return False
    return user.partner_organization_id is not None or user.has_role(Role.PMU_OFFICER, Role.ES_OFFICER)


def status_of(clearance: Clearance, on: date | None = None) -> str:
    """ "expired", "expiring" (within the first reminder threshold) or "valid"."""
    today = on or timezone.localdate()
    if clearance.expires_on < today:
        return "expired"
    if (clearance.expires_on - today).days <= max(settings.CLEARANCE_REMINDER_DAYS or (0,)):
        return "expiring"
    return "valid"


# --- Documents ------------------------------------------------------------------------------------


def document_problem(upload: UploadedFile | None) -> str:
    """Why an uploaded document is refused, or "" (PDF, JPEG or PNG by content, within the limit)."""
    if not upload:
        return ""
    try:
        check_upload(upload, DOCUMENT_KINDS, settings.ATTACHMENT_MAX_MB * 1024 * 1024)
    except ValidationError as exc:
        return exc.messages[0]
    return ""


def _attach(clearance: Clearance, upload: UploadedFile) -> None:
    kind = check_upload(upload, DOCUMENT_KINDS, settings.ATTACHMENT_MAX_MB * 1024 * 1024)
    clearance.document = upload
    clearance.document_name = (upload.name or "")[:200]
    clearance.document_type = kind.mime_types[0]
    clearance.document_size = upload.size


# --- Services -------------------------------------------------------------------------------------


def _check(clearance: Clearance) -> None:
    clearance.full_clean(exclude=["created_by", "document"])


def create_clearance(
    *,
    user,
    data: dict[str, Any],
    enterprise: Enterprise | None = None,
    facility: CommonServiceFacility | None = None,
    document: UploadedFile | None = None,
) -> Clearance:
    """Record a clearance of an ME or a CSF (one of them). 403 unless `may_manage`; bad input is a
    ValidationError by field (the document's under "document"); nothing is saved then."""
    holder = enterprise or facility
    if holder is None or (enterprise is not None and facility is not None):
        raise ValidationError({"enterprise": _("Give the enterprise or the facility holding the clearance.")})
    if not may_manage(user, holder):
        raise PermissionDenied(_("You may not record clearances of this holder."))
    clearance = Clearance(
        enterprise=enterprise,
        facility=facility,
        partner_organization_id=holder.partner_organization_id,
        created_by=user,
        **{name: data[name] for name in EDITABLE_FIELDS if name in data},
    )
    if document:
        try:
            _attach(clearance, document)
        except ValidationError as exc:
            raise ValidationError({"document": exc.messages}) from exc
    _check(clearance)
    with transaction.atomic():
        clearance.save()
    return clearance


def update_clearance(
    *, user, clearance: Clearance, data: dict[str, Any], document: UploadedFile | None = None
) -> Clearance:
    """Change a clearance (403 unless `may_manage`). A new expiry date starts its reminders afresh."""
    if not may_manage(user, clearance):
        raise PermissionDenied(_("You may not change this clearance."))
    with transaction.atomic():
        locked = Clearance.objects.select_for_update().get(pk=clearance.pk)
        old_expiry = locked.expires_on
        for name in EDITABLE_FIELDS:
            if name in data:
                setattr(locked, name, data[name])
        if document:
            try:
                _attach(locked, document)
            except ValidationError as exc:
                raise ValidationError({"document": exc.messages}) from exc
        _check(locked)
        if locked.expires_on != old_expiry:
            locked.last_reminder_days = None
        locked.save()
    return locked


def delete_clearance(*, user, clearance: Clearance) -> None:
    if not may_manage(user, clearance):
        raise PermissionDenied(_("You may not delete this clearance."))
    clearance.delete()


# --- Reminders ------------------------------------------------------------------------------------


def thresholds() -> list[int]:
    """The reminder thresholds, smallest first (e.g. [7, 30, 60])."""
    return sorted({int(days) for days in settings.CLEARANCE_REMINDER_DAYS if int(days) >= 0})


def due_reminders(on: date | None = None) -> list[tuple[Clearance, int]]:
    """The clearances whose next reminder is due, each with its threshold: still valid, expiring
    within a threshold not yet announced (one query per threshold)."""
    today = on or timezone.localdate()
    due: list[tuple[Clearance, int]] = []
    previous = -1
    for days in thresholds():
        window = (
            Clearance.objects.filter(
                expires_on__gt=today + timedelta(days=previous),
                expires_on__lte=today + timedelta(days=days),
            )
            .filter(Q(last_reminder_days__isnull=True) | Q(last_reminder_days__gt=days))
            .select_related("partner_organization", "enterprise", "facility")
        )
        due += [(clearance, days) for clearance in window]
        previous = days
    return due


def reminder_recipients(partner_organization_id: int) -> list[User]:
    return list(
        User.objects.filter(
            is_active=True,
            groups__name=GROUP_NAMES[Role.PO_STAFF],
            partner_organization_id=partner_organization_id,
        )
        .exclude(email="")
        .distinct()
        .order_by("pk")
    )


def build_reminder(clearance: Clearance, user: User, days_left: int) -> EmailMessage:
    link = settings.PORTAL_BASE_URL.rstrip("/") + clearance.get_absolute_url()
    subject = _("%(clearance)s of %(holder)s expires on %(date)s") % {
        "clearance": clearance,
        "holder": clearance.holder,
        "date": clearance.expires_on.isoformat(),
    }
    lines = [
        _("Dear %(name)s,") % {"name": user.get_full_name() or user.username},
        "",
        _(
            "%(clearance)s of %(holder)s expires in %(days)s days, on %(date)s. Please have it renewed "
            "and record the new certificate in the SMART Portal."
        )
        % {
            "clearance": clearance,
            "holder": clearance.holder,
            "days": days_left,
            "date": clearance.expires_on.isoformat(),
        },
        "",
        _("Open it: %(link)s") % {"link": link},
        "",
        _("— SMART Portal, PKSF"),
    ]
    return EmailMessage(subject, "\n".join(lines), settings.DEFAULT_FROM_EMAIL, [user.email])


def send_reminders(on: date | None = None) -> int:
    """Email the due reminders; returns the number of emails sent. Each email is claimed (SentEmail)
    before it is sent and the claim withdrawn if sending fails; the threshold is then recorded on the
    clearance, so no rerun announces it again."""
    today = on or timezone.localdate()
    sent = 0
    due = due_reminders(today)
    if not due:
        return 0
    recipients: dict[int, list[User]] = {}
    for clearance, days in due:
        po_id = clearance.partner_organization_id
        if po_id not in recipients:
            recipients[po_id] = reminder_recipients(po_id)
        days_left = (clearance.expires_on - today).days
        sent += send_once(
            (
                f"clearance:{clearance.pk}:{clearance.expires_on.isoformat()}:{days}:user:{user.pk}",
                in_language_of(user, partial(build_reminder, clearance, user, days_left)),
            )
            for user in recipients[po_id]
        )
        Clearance.objects.filter(pk=clearance.pk).filter(
            Q(last_reminder_days__isnull=True) | Q(last_reminder_days__gt=days)
        ).update(last_reminder_days=days)
    return sent


# --- Registration (safeguards.apps) ---------------------------------------------------------------


def ready() -> None:
    from core.navigation import NavItem, register

    readers = (Role.PO_STAFF, Role.PMU_OFFICER, Role.ES_OFFICER, Role.WORLD_BANK, Role.PKSF_APPROVER)
    register(
        NavItem(
            _lazy("Clearances"),
            "safeguards:clearance-list",
            _lazy("DoE environmental clearances and BSTI certifications of MEs and CSFs, with their expiry."),
            roles=readers,
            order=83,
        ),
        NavItem(
            _lazy("Expired clearances"),
            "safeguards:clearance-expired",
            _lazy("Clearances past their expiry date, per PO."),
            roles=readers,
            order=84,
        ),
        group=_lazy("Safeguards"),
    )
