"""E&S screening of microenterprises (ME screening) on the portal's one engine, and the rule it feeds:
an ME whose latest completed screening failed receives no financial support.

The table is SCREENING_RULES below: `complete` (draft -> completed) by the ME's PO staff, or a PMU
officer / E&S officer of the PMU (`screener`). Its guards refuse a checklist with unanswered
questions (naming them), and a screening that follows a failed one unless the PMU completes it (PO
staff may draft it: otherwise a PO could lift the bar itself); its effect decides the outcome:

- failed when an activity on the exclusion list is found (each named), child labour is found,
  working conditions are unsafe, pollution is not controlled, or the ME is in the orange or red ECR
  category without a DoE environmental clearance certificate valid on the screening date;
- passed otherwise. `failure_reasons` says why, in words, as the refusal of a disbursement names it.

`financing_refusal(enterprise)` is the one eligibility check (FinancialSupport.clean() calls it for a
new disbursement, and for a change of the amount, type or date of a recorded one: page, API and
import alike); `failed_latest(enterprise_ids)` is its set-based twin
for imports (one query per chunk).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from core import lifecycle
from core.errors import ActionRefused
from core.permissions import get_visible_or_404
from core.roles import Role
from enterprises.models import Enterprise
from safeguards.models import (
    Clearance,
    ClearanceKind,
    EcrCategory,
    ExclusionItem,
    MeScreening,
    MeScreeningOutcome,
    MeScreeningStatus,
)
from safeguards.permissions import is_pmu_side

# Who may screen an ME: its PO's staff, or the PMU (a PMU officer or E&S officer belonging to no PO).
SCREENING_ROLES = (Role.PO_STAFF, Role.PMU_OFFICER, Role.ES_OFFICER)
# ECR 2023 categories that need a DoE environmental clearance certificate.
CATEGORIES_NEEDING_ECC = (EcrCategory.ORANGE, EcrCategory.RED)
# The checklist's questions: each must be answered before the screening is completed.
CHECKLIST = ("safe_working_conditions", "pollution_controlled", "child_labour_found", "clearance_category")
# What may be typed on a draft (the outcome is the engine's).
DRAFT_FIELDS = ("screened_on", *CHECKLIST, "notes")


# --- Who ------------------------------------------------------------------------------------------


def screener(user, obj: MeScreening | Enterprise) -> bool:
    """WHO: the staff (or E&S officer) of the ME's own PO, or a PMU officer / E&S officer belonging
    to no PO. Someone of another PO never (the role is checked first, by the engine)."""
    if not getattr(user, "is_authenticated", False) or not user.has_role(*SCREENING_ROLES):
        return False
    if user.partner_organization_id is not None:
        return user.partner_organization_id == obj.partner_organization_id
    return user.has_role(Role.PMU_OFFICER, Role.ES_OFFICER)


def may_screen_at_all(user) -> bool:
    """Whether the user may screen some ME (the "new screening" button; 403 otherwise)."""
    if not getattr(user, "is_authenticated", False) or not user.has_role(*SCREENING_ROLES):
        return False
    if user.partner_organization_id is not None:
        return True
    return user.has_role(Role.PMU_OFFICER, Role.ES_OFFICER)


def holder_or_404(queryset, user, pk: int):
    """The ME (or CSF) a screening or clearance page is about: the ones the user sees, and for the
    PMU's E&S officer (no PO, perhaps without the PMU officer role) any PO's; else 404."""
    if is_pmu_side(user):
        found = queryset.filter(pk=pk).first()
        if found is None:
            raise Http404
        return found
    return get_visible_or_404(queryset, user, pk=pk)


def may_edit_draft(user, screening: MeScreening) -> bool:
    return screening.status == MeScreeningStatus.DRAFT and screener(user, screening)


# --- Eligibility for financing --------------------------------------------------------------------


def _latest_completed_pk() -> Subquery:
    return Subquery(
        MeScreening.objects.filter(
            enterprise_id=OuterRef("enterprise_id"), status=MeScreeningStatus.COMPLETED
        )
        .order_by("-completed_at", "-pk")
        .values("pk")[:1]
    )


def failed_latest(enterprise_ids: Iterable[int] | None = None):
    """The latest completed screening of each ME whose latest one failed (a queryset; one query)."""
    screenings = MeScreening.objects.filter(
        status=MeScreeningStatus.COMPLETED, outcome=MeScreeningOutcome.FAILED, pk=_latest_completed_pk()
    )
    if enterprise_ids is not None:
        screenings = screenings.filter(enterprise_id__in=list(enterprise_ids))
    return screenings


def latest_screening(enterprise: Enterprise | int) -> MeScreening | None:
    """The ME's latest completed screening, the one that counts (None: never screened)."""
    enterprise_id = enterprise.pk if isinstance(enterprise, Enterprise) else enterprise
    return (
        MeScreening.objects.filter(enterprise_id=enterprise_id, status=MeScreeningStatus.COMPLETED)
        .order_by("-completed_at", "-pk")
        .first()
    )


def refusal_text(screening: MeScreening) -> str:
    """Why an ME with this failed screening receives no financial support (pages, API, imports)."""
    return _(
        "%(me)s failed its E&S screening %(ref)s of %(date)s (%(reasons)s): no financial support can be "
        "recorded until a new screening passes."
    ) % {
        "me": screening.enterprise.po_code,
        "ref": screening.reference,
        "date": screening.screened_on.isoformat(),
        "reasons": screening.failure_reasons.replace("\n", "; ") or _("no reason recorded"),
    }


def financing_refusal(enterprise: Enterprise | int) -> str | None:
    """Why the ME may receive no financial support now, or None if it may. An ME never screened
    may (its page says "not screened yet"); its latest completed screening decides."""
    latest = latest_screening(enterprise)
    if latest is None or latest.outcome != MeScreeningOutcome.FAILED:
        return None
    return refusal_text(latest)


def financing_refusals(enterprise_ids: Iterable[int]) -> dict[int, str]:
    """`financing_refusal` for many MEs at once (imports: one query per chunk), refused ones only."""
    return {
        screening.enterprise_id: refusal_text(screening)
        for screening in failed_latest(enterprise_ids).select_related("enterprise")
    }


# --- The outcome ----------------------------------------------------------------------------------


def unanswered(screening: MeScreening) -> list[str]:
    """The checklist's questions still unanswered, by their labels."""
    missing = []
    for name in CHECKLIST:
        value = getattr(screening, name)
        if value is None or value == "":
            missing.append(str(getattr(MeScreening._meta.get_field(name), "verbose_name", name)))
    return missing


def failure_reasons(screening: MeScreening) -> list[str]:
    """Why the screening fails, in words (empty: it passes)."""
    reasons = []
    found = list(screening.exclusions_found.order_by("position", "name").values_list("name", flat=True))
    if found:
        reasons.append(_("activities on the exclusion list: %(items)s") % {"items": ", ".join(found)})
    if screening.child_labour_found:
        reasons.append(_("child labour found"))
    if screening.safe_working_conditions is False:
        reasons.append(_("working conditions are unsafe"))
    if screening.pollution_controlled is False:
        reasons.append(_("pollution is not controlled"))
    if screening.clearance_category in CATEGORIES_NEEDING_ECC:
        has_ecc = (
            Clearance.objects.filter(enterprise_id=screening.enterprise_id, kind=ClearanceKind.DOE_ECC)
            .valid_on(screening.screened_on)
            .exists()
        )
        if not has_ecc:
            reasons.append(
                _("%(category)s category without a DoE environmental clearance certificate valid on %(date)s")
                % {
                    "category": EcrCategory(screening.clearance_category).label,
                    "date": screening.screened_on.isoformat(),
                }
            )
    return reasons


def checklist_answered(screening: MeScreening, **context: Any) -> None:
    """GUARD: every question answered, else refused naming the unanswered ones."""
    missing = unanswered(screening)
    if missing:
        raise ActionRefused(
            _("Answer every question before completing the screening; unanswered: %(fields)s.")
            % {"fields": ", ".join(missing)},
            code="incomplete",
        )


def follows_failure(screening: MeScreening) -> bool:
    """Whether this draft would follow a failed screening: the ME's latest completed one failed."""
    latest = latest_screening(screening.enterprise_id)
    return latest is not None and latest.pk != screening.pk and latest.outcome == MeScreeningOutcome.FAILED


def pmu_after_failure(screening: MeScreening, _user=None, **context: Any) -> None:
    """GUARD: a screening that follows a failed one lifts the bar on financing, so only the PMU may
    complete it (PO staff may still draft it): else the PO could re-screen its own ME with other
    answers until it passes."""
    if follows_failure(screening) and not is_pmu_side(_user):
        raise ActionRefused(
            _(
                "%(me)s failed its latest E&S screening: a new screening lifts that bar only when the PMU "
                "completes it. Keep this draft; a PMU officer or the PMU's E&S officer completes it."
            )
            % {"me": screening.enterprise.po_code},
            code="pmu_rescreening",
        )


def decide_outcome(screening: MeScreening, **context: Any) -> list[str]:
    """EFFECT: the outcome and its reasons, and when it was completed."""
    reasons = failure_reasons(screening)
    screening.outcome = MeScreeningOutcome.FAILED if reasons else MeScreeningOutcome.PASSED
    screening.failure_reasons = "; ".join(reasons)
    screening.completed_at = timezone.now()
    return ["outcome", "failure_reasons", "completed_at"]


SCREENING_RULES = [
    lifecycle.rule(
        "complete",
        _lazy("Complete the screening"),
        [MeScreeningStatus.DRAFT],
        MeScreeningStatus.COMPLETED,
        SCREENING_ROLES,
        who="screener",
        guards=("checklist_answered", "pmu_after_failure"),
        effect="decide_outcome",
        confirm=_lazy("Complete the screening? Its result then decides whether the ME may be financed."),
    ),
]


SCREENING_LIFECYCLE = lifecycle.Lifecycle(
    MeScreening,
    SCREENING_RULES,
    guards={"checklist_answered": checklist_answered, "pmu_after_failure": pmu_after_failure},
    effects={"decide_outcome": decide_outcome},
    who={"screener": screener},
    url_name="safeguards:screening-action",
)


# --- Services: drafts -----------------------------------------------------------------------------


def _check_draft(screening: MeScreening, exclusions: Iterable[ExclusionItem] | None) -> None:
    # Unanswered questions are allowed on a draft (completing it names them).
    unanswered_now = [name for name in CHECKLIST if getattr(screening, name) is None]
    screening.full_clean(exclude=["screened_by", "partner_organization", "enterprise", *unanswered_now])
    if exclusions is not None:
        retired = [item.name for item in exclusions if not item.active]
        if retired:
            raise ValidationError(
                {
                    "exclusions_found": _("No longer on the exclusion list: %(items)s.")
                    % {"items": ", ".join(retired)}
                }
            )


def create_screening(*, user, enterprise: Enterprise, data: dict[str, Any]) -> MeScreening:
    """A draft screening of `enterprise` (403 unless `screener`). Bad input: ValidationError by field."""
    if not screener(user, enterprise):
        raise PermissionDenied(_("You may not screen this enterprise."))
    exclusions = data.get("exclusions_found")
    with transaction.atomic():
        screening = MeScreening(
            enterprise=enterprise,
            partner_organization_id=enterprise.partner_organization_id,
            screened_by=user,
            **{name: data[name] for name in DRAFT_FIELDS if name in data},
        )
        if screening.screened_on is None:
            screening.screened_on = timezone.localdate()
        _check_draft(screening, exclusions)
        screening.save()
        if exclusions is not None:
            screening.exclusions_found.set(exclusions)
        # No log row yet: the transition log is append-only, and a draft may still be deleted. The
        # draft's edits are in its history; completing it writes the first row.
    return screening


def update_screening(*, user, screening: MeScreening, data: dict[str, Any]) -> MeScreening:
    """Change a draft (403 unless `screener`; 409 once completed)."""
    if not screener(user, screening):
        raise PermissionDenied(_("You may not change this screening."))
    exclusions = data.get("exclusions_found")
    with transaction.atomic():
        locked = MeScreening.objects.select_for_update().get(pk=screening.pk)
        if locked.status != MeScreeningStatus.DRAFT:
            raise ActionRefused(
                _("%(ref)s is completed: it can no longer change.") % {"ref": locked.reference}
            )
        for name in DRAFT_FIELDS:
            if name in data:
                setattr(locked, name, data[name])
        _check_draft(locked, exclusions)
        locked.save()
        if exclusions is not None:
            locked.exclusions_found.set(exclusions)
    return locked


def delete_screening(*, user, screening: MeScreening) -> None:
    """Delete a draft (403 unless `screener`; 409 once completed: the record stays)."""
    if not screener(user, screening):
        raise PermissionDenied(_("You may not delete this screening."))
    with transaction.atomic():
        locked = MeScreening.objects.select_for_update().get(pk=screening.pk)
        if locked.status != MeScreeningStatus.DRAFT:
            raise ActionRefused(_("%(ref)s is completed: it is kept.") % {"ref": locked.reference})
        locked.exclusions_found.clear()
        locked.delete()


# --- Registration (safeguards.apps) ---------------------------------------------------------------


def ready() -> None:
    from core.navigation import NavItem, register

    lifecycle.register(SCREENING_LIFECYCLE)
    readers = (Role.PO_STAFF, Role.PMU_OFFICER, Role.ES_OFFICER, Role.WORLD_BANK, Role.PKSF_APPROVER)
    register(
        NavItem(
            _lazy("ME screenings"),
            "safeguards:screening-list",
            _lazy(
                "E&S screening of enterprises: a failed one bars financial support until a new one passes."
            ),
            roles=readers,
            order=82,
        ),
        group=_lazy("Safeguards"),
    )
