"""RECP profiles: draft → prepared → validated, as a small table of rules.

The PO's staff write the profile and mark it prepared; a PMU officer validates it (it then counts
in RECP_PROFILES_VALIDATED from `validated_on`), or returns it to draft with a comment. A validated
profile can be reopened by the PMU (with a comment) if it must be corrected; it stops counting until
validated again. Pages, the API and the buttons read the same table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db import transaction
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from core.errors import ActionRefused
from core.roles import Role
from enterprises.models import Enterprise, ProfileStatus, RecpProfile
from enterprises.permissions import require_entry
from enterprises.validation import check_action_date, today


@dataclass(frozen=True)
class ProfileRule:
    action: str
    label: str | Promise
    sources: frozenset[str]
    target: str
    role: Role
    comment_required: bool = False
    style: str = "primary"
    confirm: str | Promise = ""


PROFILE_RULES = [
    ProfileRule(
        "prepare",
        _lazy("Mark prepared"),
        frozenset({ProfileStatus.DRAFT}),
        ProfileStatus.PREPARED,
        Role.PO_STAFF,
        confirm=_lazy("Send the profile to the PMU for validation? You cannot edit it meanwhile."),
    ),
    ProfileRule(
        "validate",
        _lazy("Validate"),
        frozenset({ProfileStatus.PREPARED}),
        ProfileStatus.VALIDATED,
        Role.PMU_OFFICER,
    ),
    ProfileRule(
        "return",
        _lazy("Return to the PO"),
        frozenset({ProfileStatus.PREPARED}),
        ProfileStatus.DRAFT,
        Role.PMU_OFFICER,
        comment_required=True,
        style="secondary",
    ),
    ProfileRule(
        "reopen",
        _lazy("Reopen"),
        frozenset({ProfileStatus.VALIDATED}),
        ProfileStatus.DRAFT,
        Role.PMU_OFFICER,
        comment_required=True,
        style="danger",
        confirm=_lazy("Reopen the validated profile? It stops counting until validated again."),
    ),
]
RULES_BY_ACTION = {rule.action: rule for rule in PROFILE_RULES}


def may_act(user, profile: RecpProfile, rule: ProfileRule) -> bool:
    if not user.is_authenticated or not user.has_role(rule.role):
        return False
    if rule.role == Role.PO_STAFF:
        return user.partner_organization_id == profile.enterprise.partner_organization_id
    return True


def available_rules(user, profile: RecpProfile) -> list[ProfileRule]:
    return [rule for rule in PROFILE_RULES if profile.status in rule.sources and may_act(user, profile, rule)]


def profile_problems(profile: RecpProfile) -> list[str]:
    """What a profile needs before the PMU can review it."""
    problems = []
    if not profile.baseline.strip():
        problems.append(_("describe the baseline situation"))
    if not profile.climate_risks.strip():
        problems.append(_("list the climate risks"))
    if not profile.opportunities.strip():
        problems.append(_("describe the RECP opportunities"))
    if not profile.recommended_practices.exists():
        problems.append(_("recommend at least one RECP practice"))
    return problems


def apply_profile_action(
    *, user, profile: RecpProfile, action: str, comment: str = "", on: date | None = None
) -> RecpProfile:
    rule = RULES_BY_ACTION.get(action)
    if rule is None:
        raise ActionRefused(
            _("“%(action)s” is not an action on RECP profiles.") % {"action": action}, code="unknown"
        )
    if not may_act(user, profile, rule):
        raise ActionRefused(
            _("Your role may not take “%(action)s” on this profile.") % {"action": rule.label},
            code="forbidden",
        )
    comment = (comment or "").strip()
    with transaction.atomic():
        locked = RecpProfile.objects.select_for_update().get(pk=profile.pk)
        if locked.status not in rule.sources:
            raise ActionRefused(
                _("The profile is %(status)s: “%(action)s” is not possible now.")
                % {"status": locked.get_status_display(), "action": rule.label},
                code="wrong_state",
            )
        if rule.comment_required and not comment:
            raise ActionRefused(_("Say why in the comment."), code="comment_required")
        update = ["status", "review_comment"]
        if action == "prepare":
            problems = profile_problems(locked)
            if problems:
                raise ActionRefused(
                    _("The profile is not complete: %(problems)s.") % {"problems": "; ".join(problems)},
                    code="incomplete",
                )
            locked.prepared_by, locked.prepared_on = user, today()
            update += ["prepared_by", "prepared_on"]
        elif action == "validate":
            on = on or today()
            check_action_date(
                on,
                what=_("The validation date"),
                not_before=locked.assessment_date,
                too_early=_("A profile is validated after its assessment."),
            )
            locked.validated_by, locked.validated_on = user, on
            update += ["validated_by", "validated_on"]
        elif action == "reopen":
            locked.validated_by, locked.validated_on = None, None
            update += ["validated_by", "validated_on"]
        locked.status = rule.target
        locked.review_comment = comment
        locked.save(update_fields=update)
    return locked


def save_profile(
    *, user, enterprise: Enterprise, data: dict[str, Any], profile: RecpProfile | None = None
) -> RecpProfile:
    """Create or edit the profile of an ME (PO staff of its PO, while the profile is a draft)."""
    require_entry(user, enterprise.partner_organization_id)
    with transaction.atomic():
        if profile is None:
            profile = RecpProfile(enterprise=enterprise)
        else:
            profile = RecpProfile.objects.select_for_update().get(pk=profile.pk)
            if not profile.is_editable:
                raise ActionRefused(
                    _("The profile is %(status)s: only a draft can be edited.")
                    % {"status": profile.get_status_display()},
                    code="wrong_state",
                )
        for name in ("assessment_date", "baseline", "climate_risks", "opportunities"):
            if name in data:
                setattr(profile, name, data[name])
        report = data.get("report")
        if report:
            profile.report = report
            profile.report_name = report.name[:200]
        profile.full_clean(exclude=["report"])
        profile.save()
        if "recommended_practices" in data:
            profile.recommended_practices.set(data["recommended_practices"])
    return profile
