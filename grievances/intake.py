"""The public side of the grievance mechanism: abuse resistance shared by the page and the API.

- Throttling per client address (core.accounts.client_ip, the same trusted-proxy rule as DRF): one
  count of lodging attempts (settings.GRIEVANCE_LODGE_RATE) and one of status lookups
  (settings.GRIEVANCE_LOOKUP_RATE), each shared by the page and the API. Counted in the cache.
- Attachments: at most MAX_ATTACHMENTS, JPEG, PNG or PDF by their content, at most
  ATTACHMENT_MAX_BYTES each.
- Body size: a public POST larger than all the attachments allowed plus a margin for the fields
  (MAX_BODY_BYTES) is refused with 413 from its Content-Length, before any of it is read.
- Text limits: SUBJECT_MAX, DESCRIPTION_MAX characters.
- The honeypot: a hidden field people never fill; a request that fills it is answered as if
  accepted, and nothing is stored.
- Tracking codes are long and random; a lookup of a wrong code answers exactly as any other wrong code,
  and reveals status, tier and dates only.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework.throttling import SimpleRateThrottle

from core.accounts import client_ip
from core.uploads import JPEG, PDF, PNG, check_upload
from grievances.models import Grievance, new_tracking_code

MAX_ATTACHMENTS = 3
ATTACHMENT_MAX_BYTES = 5 * 1024 * 1024
ATTACHMENT_KINDS = (JPEG, PNG, PDF)
SUBJECT_MAX = 200
DESCRIPTION_MAX = 5000
HONEYPOT_FIELD = "website"
# The largest public POST read: every attachment at its largest, and 64 KB for the fields and the
# multipart framing.
MAX_BODY_BYTES = MAX_ATTACHMENTS * ATTACHMENT_MAX_BYTES + 64 * 1024


def body_too_large(request) -> bool:
    """Whether a POST's body is too large to read, from its headers alone (call it before anything
    reads request.POST, FILES or data). A missing or invalid Content-Length counts as too large
    only for a multipart body (the one that carries files)."""
    meta = request.META
    try:
        length = int(meta.get("CONTENT_LENGTH") or "")
    except ValueError:
        return (meta.get("CONTENT_TYPE") or "").lower().startswith("multipart/")
    return length < 0 or length > MAX_BODY_BYTES


def body_too_large_message() -> str:
    return _(
        "What you sent is too large: at most %(count)s files of %(size)s MB each, with the form. "
        "Send smaller or fewer files."
    ) % {"count": MAX_ATTACHMENTS, "size": ATTACHMENT_MAX_BYTES // (1024 * 1024)}


class _AddressThrottle(SimpleRateThrottle):
    """Requests per client address; the rate is read from the settings when asked (tests change it)."""

    setting = ""

    def get_rate(self) -> str:
        return getattr(settings, self.setting)

    def get_cache_key(self, request, view) -> str:
        address = client_ip(request) or "unknown"
        ident = hashlib.sha256(address.encode()).hexdigest()[:32]
        return self.cache_format % {"scope": self.scope, "ident": ident}


class LodgeThrottle(_AddressThrottle):
    scope = "grievance_lodge"
    setting = "GRIEVANCE_LODGE_RATE"


class LookupThrottle(_AddressThrottle):
    scope = "grievance_lookup"
    setting = "GRIEVANCE_LOOKUP_RATE"


def throttled(throttle_class: type[_AddressThrottle], request) -> int | None:
    """Count this request; None when allowed, else the seconds to wait (for pages; the API uses the
    same classes as DRF throttles, so both count against one limit)."""
    throttle = throttle_class()
    if throttle.allow_request(request, None):
        return None
    wait = throttle.wait()
    return max(1, int(wait or 1))


def attachment_problems(files: list[UploadedFile]) -> tuple[list[tuple[UploadedFile, str]], list[str]]:
    """The accepted attachments with their detected type, or the problems (each naming the file)."""
    problems: list[str] = []
    if len(files) > MAX_ATTACHMENTS:
        problems.append(
            _("Attach at most %(count)s files (%(sent)s were sent).")
            % {"count": MAX_ATTACHMENTS, "sent": len(files)}
        )
        return [], problems
    accepted = []
    for upload in files:
        try:
            kind = check_upload(upload, ATTACHMENT_KINDS, ATTACHMENT_MAX_BYTES)
        except ValidationError as exc:
            problems.extend(exc.messages)
            continue
        accepted.append((upload, kind.mime_types[0]))
    return accepted, problems


def normalise_code(code: str) -> str:
    """What a person types (spaces, small letters, no dashes) as the stored form XXXXX-XXXXX-..."""
    raw = "".join(ch for ch in (code or "").upper() if ch.isalnum())
    if len(raw) != 20:
        return ""
    return "-".join(raw[i : i + 5] for i in range(0, 20, 5))


@dataclass(frozen=True)
class PublicStatus:
    """All the public status page shows: never a name, a text, the PO or the category."""

    status: str
    status_label: str
    tier: int
    tier_label: str
    received_on: date
    acknowledged_on: date | None
    resolved_on: date | None


def _day(moment) -> date | None:
    return timezone.localdate(moment) if moment else None


def public_status(code: str) -> PublicStatus | None:
    """The status of the grievance with this tracking code, or None (any wrong code alike)."""
    normalised = normalise_code(code)
    grievance = (
        Grievance.objects.filter(tracking_code=normalised)
        .only("status", "tier", "received_at", "acknowledged_at", "resolved_at")
        .first()
        if normalised
        else None
    )
    if grievance is None:
        return None
    return PublicStatus(
        status=grievance.status,
        status_label=str(grievance.get_status_display()),
        tier=grievance.tier,
        tier_label=str(grievance.get_tier_display()),
        received_on=_day(grievance.received_at),
        acknowledged_on=_day(grievance.acknowledged_at),
        resolved_on=_day(grievance.resolved_at),
    )


def decoy_tracking_code() -> str:
    """The answer to a request that filled the honeypot: looks like a real code, matches nothing."""
    return new_tracking_code()
