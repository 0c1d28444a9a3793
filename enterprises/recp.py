"""RECP profiles: draft → prepared → validated, as a rule table on the portal's one engine
(core.lifecycle).

The PO's staff write the profile and mark it prepared; a PMU officer validates it (it then counts
in RECP_PROFILES_VALIDATED from `validated_on`), or returns it to draft with a comment. A validated
profile can be reopened by the PMU (with a comment) if it must be corrected; it stops counting until
validated again. Every step goes through `lifecycle.apply(profile, action, user, comment=..., on=...)`,
which logs who, when, from, to and the comment; pages, the API and the buttons read the same table.

- who: `prepare` is for the staff of the enterprise's own PO (`po_owned`, the owner being the
  enterprise's PO);
- guards: a profile is complete before it is prepared (`profile_problems`); the validation date
  (`on`, today by default) is neither in the future nor before the assessment;
- effects: preparing and validating stamp who and when; reopening clears the validation (the log
  keeps who validated); every step keeps its comment as the profile's `review_comment`.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from core import lifecycle
from core.errors import ActionRefused, Problem
from core.roles import Role
from enterprises.models import Enterprise, ProfileStatus, RecpProfile
from enterprises.permissions import require_entry
from enterprises.validation import check_action_date, today

PMU = {Role.PMU_OFFICER}


def profile_problems(profile: RecpProfile) -> list[Problem]:
    """What a profile needs before the PMU can review it."""
    problems = []
    if not profile.baseline.strip():
        problems.append(Problem(_("describe the baseline situation"), "baseline", "required"))
    if not profile.climate_risks.strip():
        problems.append(Problem(_("list the climate risks"), "climate_risks", "required"))
    if not profile.opportunities.strip():
        problems.append(Problem(_("describe the RECP opportunities"), "opportunities", "required"))
    if not profile.recommended_practices.exists():
        problems.append(
            Problem(_("recommend at least one RECP practice"), "recommended_practices", "required")
        )
    return problems


# --- Hooks of the lifecycle engine ----------------------------------------------------------------


def profile_complete(profile: RecpProfile, **context: Any) -> None:
    """GUARD: the PMU only reviews a complete profile."""
    problems = profile_problems(profile)
    if problems:
        raise ActionRefused(
            _("The profile is not complete: %(problems)s.") % {"problems": "; ".join(problems)},
            code="incomplete",
            problems=problems,
        )


def validation_date(profile: RecpProfile, **context: Any) -> None:
    """GUARD: the validation date (today unless given) is not in the future nor before the assessment."""
    check_action_date(
        context.get("on") or today(),
        what=_("The validation date"),
        not_before=profile.assessment_date,
        too_early=_("A profile is validated after its assessment."),
    )


def _keep_comment(profile: RecpProfile, context: dict[str, Any]) -> list[str]:
    # The PMU's last word stays on the profile, where the PO reads it (a new step clears it).
    profile.review_comment = context["_comment"]
    return ["review_comment"]


def stamp_prepared(profile: RecpProfile, **context: Any) -> list[str]:
    """EFFECT: who prepared the profile, and when."""
    profile.prepared_by, profile.prepared_on = context["_user"], today()
    return ["prepared_by", "prepared_on", *_keep_comment(profile, context)]


def stamp_validated(profile: RecpProfile, **context: Any) -> list[str]:
    """EFFECT: who validated the profile, and as of which date (it counts from then)."""
    on: date = context.get("on") or today()
    profile.validated_by, profile.validated_on = context["_user"], on
    return ["validated_by", "validated_on", *_keep_comment(profile, context)]


def returned(profile: RecpProfile, **context: Any) -> list[str]:
    """EFFECT: back to the PO, with the PMU's comment."""
    return _keep_comment(profile, context)


def clear_validation(profile: RecpProfile, **context: Any) -> list[str]:
    """EFFECT: a reopened profile stops counting until validated again (the log keeps who validated)."""
    profile.validated_by, profile.validated_on = None, None
    return ["validated_by", "validated_on", *_keep_comment(profile, context)]


PROFILE_RULES = [
    lifecycle.rule(
        "prepare",
        _lazy("Mark prepared"),
        [ProfileStatus.DRAFT],
        ProfileStatus.PREPARED,
        {Role.PO_STAFF},
        po_owned=True,
        guards=("profile_complete",),
        effect="stamp_prepared",
        confirm=_lazy("Send the profile to the PMU for validation? You cannot edit it meanwhile."),
    ),
    lifecycle.rule(
        "validate",
        _lazy("Validate"),
        [ProfileStatus.PREPARED],
        ProfileStatus.VALIDATED,
        PMU,
        guards=("validation_date",),
        effect="stamp_validated",
        params=("on",),
    ),
    lifecycle.rule(
        "return",
        _lazy("Return to the PO"),
        [ProfileStatus.PREPARED],
        ProfileStatus.DRAFT,
        PMU,
        comment_required=True,
        style="secondary",
        effect="returned",
        waits=False,
    ),
    lifecycle.rule(
        "reopen",
        _lazy("Reopen"),
        [ProfileStatus.VALIDATED],
        ProfileStatus.DRAFT,
        PMU,
        comment_required=True,
        style="danger",
        effect="clear_validation",
        waits=False,
        confirm=_lazy("Reopen the validated profile? It stops counting until validated again."),
    ),
]

PROFILE_LIFECYCLE = lifecycle.register(
    lifecycle.Lifecycle(
        RecpProfile,
        PROFILE_RULES,
        guards={"profile_complete": profile_complete, "validation_date": validation_date},
        effects={
            "stamp_prepared": stamp_prepared,
            "stamp_validated": stamp_validated,
            "returned": returned,
            "clear_validation": clear_validation,
        },
        owner=lambda profile: profile.enterprise.partner_organization_id,
    )
)


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
