"""The lifecycle of a verification check on the portal's one engine (core.lifecycle).

The rules (confirm / partly / not_found, from pending, by a PMU officer or a verifier) are the table
CHECK_RULES below; this module also holds their `who` check, guard and effect:

- who: `enterprises.permissions.is_independent_checker` (a PMU officer or verifier belonging to no
  PO), so a PO's own staff can never verify what their PO reported;
- guard: the visit is recorded (date, not in the future nor before the draw; GPS in Bangladesh, both or
  neither; a JPEG or PNG photo);
- effect: the evidence is stored on the check, the comment as the finding; confirming an adoption not
  yet verified verifies it (`enterprises.services.verify_adoption`, verified on the visit date), and
  confirming a facility not yet confirmed confirms it operational
  (`enterprises.services.confirm_facility_operational`). A refusal there refuses the whole action.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from core import lifecycle
from core.errors import ActionRefused
from core.uploads import check_photo
from enterprises import lifecycles as enterprises_lifecycles
from enterprises.validation import check_gps, today
from verification.models import VERIFYING_ROLES, CheckStatus, VerificationCheck

# Parameters of the three result actions, besides the comment (the finding).
RESULT_PARAMS = ("visited_on", "latitude", "longitude", "photo")


def photo_problem(photo: UploadedFile | None) -> str:
    """Why an uploaded photo is refused, or "" (a JPEG or PNG by its content, within the size limit)."""
    if not photo:
        return ""
    try:
        check_photo(photo)
    except ValidationError as exc:
        return exc.messages[0]
    return ""


def visit_problems(
    check: VerificationCheck,
    *,
    visited_on: date | None,
    latitude: Decimal | None = None,
    longitude: Decimal | None = None,
    photo: UploadedFile | None = None,
) -> dict[str, str]:
    """What is wrong with a visit's record, by field (the page form, the API and the guard share it)."""
    problems: dict[str, str] = {}
    if visited_on is None:
        problems["visited_on"] = _("Give the date of the visit.")
    elif visited_on > today():
        problems["visited_on"] = _("The visit date cannot be in the future (%(date)s is after today).") % {
            "date": visited_on.isoformat()
        }
    else:
        drawn_on = timezone.localdate(check.round.drawn_at)  # the day in Dhaka, as `visited_on` is
        if visited_on < drawn_on:
            problems["visited_on"] = _("The visit date cannot be before the sample was drawn (%(date)s).") % {
                "date": drawn_on.isoformat()
            }
    problems.update(check_gps(latitude, longitude))
    if isinstance(photo, UploadedFile):
        problem = photo_problem(photo)
        if problem:
            problems["photo"] = problem
    return problems


# --- Hooks of the lifecycle engine ----------------------------------------------------------------


# WHO: only a PMU officer or verifier belonging to no PO records a result: the one check that also
# guards verifying adoptions and confirming facilities (enterprises.lifecycles).
outside_any_po = enterprises_lifecycles.outside_any_po


def visit_recorded(check: VerificationCheck, **context) -> None:
    """GUARD: refuse (and change nothing) unless the visit is properly recorded."""
    problems = visit_problems(
        check,
        visited_on=context.get("visited_on"),
        latitude=context.get("latitude"),
        longitude=context.get("longitude"),
        photo=context.get("photo"),
    )
    if problems:
        raise ActionRefused(" ".join(str(problem) for problem in problems.values()), code="invalid")


def record_check_result(check: VerificationCheck, **context) -> list[str]:
    """EFFECT: keep the evidence on the check; a confirmation also verifies the item itself."""
    user = context["_user"]
    check.visited_on = context["visited_on"]
    check.finding = context["_comment"]
    check.latitude = context.get("latitude")
    check.longitude = context.get("longitude")
    check.checked_by = user
    changed = ["visited_on", "finding", "latitude", "longitude", "checked_by"]
    if context.get("photo"):
        check.photo = context["photo"]
        changed.append("photo")
    if context["_action"] == "confirm":
        _verify_subject(check, user, context["visited_on"], context["_comment"])
    return changed


def _verify_subject(check: VerificationCheck, user, visited_on: date, comment: str) -> None:
    # The enterprise services check the role again and refuse what already counts; only call them for
    # what still needs it (what awaits: verification.work), so a check of an item that already counts
    # can still be confirmed.
    from enterprises import services
    from enterprises.models import Adoption, CommonServiceFacility

    if check.adoption_id:
        adoption = Adoption.objects.select_related("verified_by").get(pk=check.adoption_id)
        if not adoption.is_verified_independently:
            services.verify_adoption(user=user, adoption=adoption, verified_on=visited_on, comment=comment)
    elif check.facility_id:
        facility = CommonServiceFacility.objects.get(pk=check.facility_id)
        if facility.operational_confirmed_on is None:
            services.confirm_facility_operational(
                user=user, facility=facility, on=visited_on, comment=comment
            )


# A verifier or PMU officer who belongs to no PO records what the visit found; confirming also
# verifies the adoption or the facility itself.
CHECK_RESULT = {
    "who": "outside_any_po",
    "guards": ("visit_recorded",),
    "effect": "record_check_result",
    "params": RESULT_PARAMS,
}
CHECK_RULES = [
    lifecycle.rule(
        "confirm",
        _lazy("Confirmed"),
        [CheckStatus.PENDING],
        CheckStatus.CONFIRMED,
        VERIFYING_ROLES,
        **CHECK_RESULT,
    ),
    lifecycle.rule(
        "partly",
        _lazy("Partly confirmed"),
        [CheckStatus.PENDING],
        CheckStatus.PARTLY,
        VERIFYING_ROLES,
        comment_required=True,
        style="secondary",
        **CHECK_RESULT,
    ),
    lifecycle.rule(
        "not_found",
        _lazy("Not found"),
        [CheckStatus.PENDING],
        CheckStatus.NOT_FOUND,
        VERIFYING_ROLES,
        comment_required=True,
        style="danger",
        **CHECK_RESULT,
    ),
]


def _notify(transition) -> None:
    # The PO hears what the visit found, by the same emails as the sub-project lifecycle.
    from subprojects import notifications

    notifications.transition_happened(transition.pk)


CHECK_LIFECYCLE = lifecycle.register(
    lifecycle.Lifecycle(
        VerificationCheck,
        CHECK_RULES,
        guards={"visit_recorded": visit_recorded},
        effects={"record_check_result": record_check_result},
        who={"outside_any_po": outside_any_po},
        follow_up=_notify,
    )
)
