"""How verification plugs into core: the verifiers' "waiting on you" items and their home panel."""

from __future__ import annotations

from django.db.models import Count, Min
from django.utils.translation import gettext as _

from core.permissions import has_role
from core.roles import Role
from core.waiting import WaitingItem
from enterprises.permissions import is_independent_checker
from verification.checks import CHECK_RULES
from verification.models import CheckStatus, VerificationCheck

PER_KIND_LIMIT = 100
PANEL_ROWS = 10


def _is_field_verifier(user) -> bool:
    # Pending checks wait on verifiers. PMU officers may record results too, but they follow rounds
    # on the rounds page: a quarter's sample would otherwise bury their other work.
    return has_role(user, Role.VERIFIER) and is_independent_checker(user)


def _pending():
    return VerificationCheck.objects.filter(status=CheckStatus.PENDING)


def checks_waiting(user) -> list[WaitingItem]:
    """Verifiers: each pending check, oldest first (at most 100)."""
    if not _is_field_verifier(user):
        return []
    what = " · ".join(str(rule.label) for rule in CHECK_RULES)
    checks = (
        _pending()
        .select_related("round", "partner_organization", "district")
        .order_by("status_changed_at", "pk")[:PER_KIND_LIMIT]
    )
    return [
        WaitingItem(
            reference=check.reference,
            title=_("%(kind)s: %(item)s") % {"kind": check.get_kind_display(), "item": check.subject_label},
            url=check.get_absolute_url(),
            what=_("Visit and record: %(results)s") % {"results": what},
            since=check.status_changed_at,
            note=" · ".join(
                part
                for part in (check.district.name if check.district else "", check.partner_organization.code)
                if part
            ),
        )
        for check in checks
    ]


def verifier_panel(user) -> dict | None:
    """Verifiers' home panel: pending checks by district (one grouped query) and the first few."""
    if not _is_field_verifier(user):
        return None
    by_district = list(
        _pending()
        .order_by()
        .values("district__pcode", "district__name")
        .annotate(count=Count("pk"), since=Min("status_changed_at"))
        .order_by("district__name")
    )
    first = list(
        _pending()
        .select_related("round", "partner_organization", "district")
        .order_by("status_changed_at", "district__name", "pk")[:PANEL_ROWS]
    )
    return {"by_district": by_district, "checks": first, "total": sum(row["count"] for row in by_district)}
