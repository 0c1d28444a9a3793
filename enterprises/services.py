"""Entering field data one record at a time (pages and API). Spreadsheets go through imports.py,
which applies the same model rules to many rows at once.

Each function checks who is acting, validates the whole object (model `clean()`, field rules from
enterprises.validation and the database constraints), saves inside one transaction, and raises
`ValidationError` (by field) or `ActionRefused` (403/409) without writing anything otherwise.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Set
from datetime import date
from typing import Any, TypeVar

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils.translation import gettext as _

from core import integrity, lifecycle
from core.errors import ActionRefused, Forbidden
from core.uploads import check_photo
from enterprises import duplicates
from enterprises.lifecycles import status_action
from enterprises.models import (
    Adoption,
    Attendance,
    CommonServiceFacility,
    Enterprise,
    FacilityStatus,
    FinancialSupport,
    KpiReading,
    TrainingModule,
    TrainingSession,
)
from enterprises.permissions import require_entry, require_independent_checker, require_pmu
from enterprises.validation import today
from subprojects.models import SubProject, Transition

# Set by the PMU or a verifier only (verify_adoption), never by the PO that reports the adoption.
VERIFICATION_FIELDS = ("verification", "verified_on", "verified_by")


class FieldLocked(Forbidden):
    """A refusal (403) to change one field: pages put the message on the field, imports on its column,
    the API answers 403 with it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _assign(obj: models.Model, data: dict[str, Any], skip: Set[str] = frozenset()) -> None:
    m2m = {f.name for f in obj._meta.many_to_many}
    for name, value in data.items():
        if name not in skip and name not in m2m:
            setattr(obj, name, value)


def _assign_m2m(obj: models.Model, data: dict[str, Any]) -> None:
    for field in obj._meta.many_to_many:
        if field.name in data:
            getattr(obj, field.name).set(data[field.name])


def _save_checked(obj: models.Model, exclude: list[str] | None = None) -> None:
    """Validate the whole object (model rules and the database's constraints, by field), then save.

    A concurrent identical request may pass the same check and commit first: the database then
    refuses this save on its constraint, and the check, run again, refuses it exactly as it refuses
    any duplicate (core.integrity); never a 500."""
    obj.full_clean(exclude=exclude)
    with integrity.refusing_races(
        lambda: obj.full_clean(exclude=exclude), where=f"saving a {type(obj).__name__}"
    ):
        obj.save()


def _check_unique(obj: models.Model) -> None:
    """The object's unique fields and constraints against what is stored now (ValidationError)."""
    obj.validate_unique()
    obj.validate_constraints()


# --- Objects of a sub-project: enterprises, training sessions, facilities -------------------------

# Set by the services (or the PMU's decisions), never from what was typed.
LOCKED_FIELDS = {"partner_organization", "created_by"}
ENTERPRISE_LOCKED_FIELDS = LOCKED_FIELDS | {"duplicate_of", "created_at"}

# What PO staff create in one of their sub-projects (each checked as itself).
InSubProject = TypeVar("InSubProject", Enterprise, TrainingSession, CommonServiceFacility)


def _require_entry_in_sub_project(
    user, data: dict[str, Any], instance: Enterprise | TrainingSession | CommonServiceFacility | None
) -> SubProject | None:
    """Refused (403) unless the user enters field data for the PO the object belongs to and for the
    PO of the sub-project it is created in or moved to. Returns that sub-project, if any."""
    if instance is not None:
        require_entry(user, instance.partner_organization_id)
    sub_project = data.get("sub_project")
    if sub_project is not None or instance is None:
        require_entry(user, sub_project.partner_organization_id if sub_project else None)
    return sub_project


def _save_in_sub_project(
    user,
    model: type[InSubProject],
    data: dict[str, Any],
    instance: InSubProject | None,
    sub_project: SubProject | None,
    skip: Set[str] = LOCKED_FIELDS,
    adjust: Callable[[InSubProject, InSubProject | None], None] | None = None,
) -> InSubProject:
    """Create (in `sub_project`, for its PO) or update under a row lock; validate all; save.
    `adjust(obj, stored)` may derive fields from the change (`stored`: the record before it)."""
    with transaction.atomic():
        if instance is None:
            if sub_project is None:  # never: a new object's sub-project is required before (403)
                raise ValueError("a new object is created in a sub-project")
            obj = model(partner_organization_id=sub_project.partner_organization_id, created_by=user)
            stored = None
        else:
            obj = model.objects.select_for_update().get(pk=instance.pk)
            stored = copy.copy(obj)
        _assign(obj, data, skip)
        if adjust is not None:
            adjust(obj, stored)
        _save_checked(obj, exclude=["created_by"])
        _assign_m2m(obj, data)
    return obj


# --- Enterprises ----------------------------------------------------------------------------------


def create_enterprise(*, user, data: dict[str, Any]) -> tuple[Enterprise, duplicates.Suspicion]:
    """Register an ME in one of the user's PO's sub-projects; flags possible duplicates at once."""
    return _save_enterprise(user, data, None)


def update_enterprise(
    *, user, enterprise: Enterprise, data: dict[str, Any]
) -> tuple[Enterprise, duplicates.Suspicion]:
    if data.get("district") is not None and not data.get("division"):
        # A new district brings its division, as in the form and the importer.
        data = {**data, "division": data["district"].division}
    return _save_enterprise(user, data, enterprise)


def _save_enterprise(
    user, data: dict[str, Any], enterprise: Enterprise | None
) -> tuple[Enterprise, duplicates.Suspicion]:
    sub_project = _require_entry_in_sub_project(user, data, enterprise)
    with transaction.atomic():
        saved = _save_in_sub_project(
            user, Enterprise, data, enterprise, sub_project, skip=ENTERPRISE_LOCKED_FIELDS
        )
        duplicates.flag_duplicates([saved.pk])
        duplicates.recheck_after_commit([saved.pk])
    return saved, duplicates.suspicion_for(saved)


# --- Records on one enterprise --------------------------------------------------------------------


# The records PO staff keep on one of their enterprises (each checked as itself).
Record = TypeVar("Record", FinancialSupport, KpiReading, Adoption)


def _create_record(
    user, model: type[Record], enterprise: Enterprise, data: dict[str, Any], **fixed: Any
) -> Record:
    require_entry(user, enterprise.partner_organization_id)
    with transaction.atomic():
        record = model(enterprise=enterprise, **fixed)
        _assign(record, data, {"enterprise"})
        _save_checked(record, exclude=[name for name in fixed if name.endswith("_by")])
        _assign_m2m(record, data)
    return record


# Who entered or checked a record: never taken from what was typed.
RECORD_LOCKED_FIELDS = {"enterprise", "created_by", "reported_by", *VERIFICATION_FIELDS}


def _update_record(
    user, record: Record, data: dict[str, Any], check: Callable[[Record], None] | None = None
) -> Record:
    """Update under a row lock; `check(locked)` may refuse on what is stored now, not on what the
    caller read earlier."""
    require_entry(user, record.enterprise.partner_organization_id)
    with transaction.atomic():
        locked = type(record).objects.select_for_update().get(pk=record.pk)
        if check is not None:
            check(locked)
        _assign(locked, data, RECORD_LOCKED_FIELDS)
        _save_checked(locked, exclude=["created_by", "reported_by", "verified_by"])
    return locked


def _record_decision(subject: models.Model, *, action: str, source: str, target: str, user, comment: str):
    """The audit trail of a check made on a PO's record (who, when, from, to, why), in the same
    table as the lifecycle transitions. Written directly: the workflow engine's notifications know
    only its own models."""
    return Transition.objects.create(
        subject=subject, action=action, from_state=source, to_state=target, actor=user, comment=comment
    )


def add_financial_support(*, user, enterprise: Enterprise, data: dict[str, Any]) -> FinancialSupport:
    return _create_record(user, FinancialSupport, enterprise, data, created_by=user)


def update_financial_support(*, user, support: FinancialSupport, data: dict[str, Any]) -> FinancialSupport:
    return _update_record(user, support, data)


def add_kpi_reading(*, user, enterprise: Enterprise, data: dict[str, Any]) -> KpiReading:
    return _create_record(user, KpiReading, enterprise, data, created_by=user)


def update_kpi_reading(*, user, reading: KpiReading, data: dict[str, Any]) -> KpiReading:
    return _update_record(user, reading, data)


def verification_not_by_po(field: str) -> str:
    """Why a PO may not send a verification field or column (pages, API and imports say the same)."""
    return _(
        "“%(field)s” cannot be given: an adoption is verified by the PMU or a verifier, not by the PO "
        "that reports it. Leave it out; give what your officer saw (seen in use on, photo, GPS)."
    ) % {"field": field}


def refuse_verification_fields(given: Iterable[str]) -> None:
    """A PO's adoption data that carries a verification field is refused, naming the field (never
    silently ignored: the sender would believe the adoption verified)."""
    errors = {field: verification_not_by_po(field) for field in VERIFICATION_FIELDS if field in given}
    if errors:
        raise ValidationError(errors)


def _evidence_photo(data: dict[str, Any]) -> dict[str, Any]:
    """A new photo is checked by its content (JPEG or PNG, size-limited); False clears it."""
    data = dict(data)
    photo = data.get("evidence_photo")
    if photo is False:
        data["evidence_photo"] = ""
    elif photo is None:
        data.pop("evidence_photo", None)
    elif hasattr(photo, "content_type"):  # an upload, not the stored file
        try:
            check_photo(photo)
        except ValidationError as exc:
            raise ValidationError({"evidence_photo": exc.messages}) from None
    return data


def add_adoption(*, user, enterprise: Enterprise, data: dict[str, Any]) -> Adoption:
    """A PO reports an adoption with its evidence; the reporting user is recorded. It counts once
    the PMU or a verifier has verified it (`verify_adoption`)."""
    require_entry(user, enterprise.partner_organization_id)
    refuse_verification_fields(data)
    return _create_record(user, Adoption, enterprise, _evidence_photo(data), reported_by=user)


def _refuse_if_verified(adoption: Adoption, message: str) -> None:
    if adoption.is_verified:
        raise ActionRefused(message, code="wrong_state")


def update_adoption(*, user, adoption: Adoption, data: dict[str, Any]) -> Adoption:
    """A verified adoption is evidence: refused (409) once a verification is recorded, checked on the
    locked row (a verification committed meanwhile wins)."""
    require_entry(user, adoption.enterprise.partner_organization_id)
    refuse_verification_fields(data)
    _refuse_if_verified(adoption, _("A verified adoption cannot be changed."))
    return _update_record(
        user,
        adoption,
        _evidence_photo(data),
        check=lambda locked: _refuse_if_verified(locked, _("A verified adoption cannot be changed.")),
    )


def verify_adoption(
    *, user, adoption: Adoption, verified_on: date | None = None, comment: str = ""
) -> Adoption:
    """A PMU officer or a verifier (never the PO's own staff) has checked that the practice is in
    use. Refused (403) for anyone else, (409) once verified independently or with a date before the
    adoption or in the future. An adoption recorded as verified that does not count (no verifier
    recorded, or one who belongs to a PO) is verified again. The decision is kept in the audit trail
    with the comment.

    The rule "verify" of the adoption's lifecycle (enterprises.lifecycles) decides and logs it; the
    refusals keep their wording here."""
    verified_on = verified_on or today()
    try:
        return lifecycle.apply(adoption, "verify", user, comment=comment, verified_on=verified_on)
    except ActionRefused as exc:
        if exc.is_forbidden:
            # Refused in today's words (the rule's `who` is the same test); else as the engine said.
            require_independent_checker(user, _("verifies an adoption"))
            raise
        if exc.code != "wrong_state":
            raise
        # The rule starts from every state but "verified (independently)".
        stored = Adoption.objects.get(pk=adoption.pk)
        if stored.verified_on is None:  # never: a verified adoption has its date (constraint)
            raise
        raise ActionRefused(
            _("This adoption was already verified on %(date)s.") % {"date": stored.verified_on.isoformat()},
            code="wrong_state",
        ) from None


def add_attendance(
    *, user, session: TrainingSession, enterprise: Enterprise, data: dict[str, Any]
) -> Attendance:
    require_entry(user, session.partner_organization_id)
    require_entry(user, enterprise.partner_organization_id)
    with transaction.atomic():
        attendance = Attendance(session=session, enterprise=enterprise)
        _assign(attendance, data, {"session", "enterprise"})
        _save_checked(attendance)
    return attendance


def update_attendance(*, user, attendance: Attendance, data: dict[str, Any]) -> Attendance:
    require_entry(user, attendance.enterprise.partner_organization_id)
    with transaction.atomic():
        locked = Attendance.objects.select_for_update().get(pk=attendance.pk)
        _assign(locked, data, {"session", "enterprise"})
        _save_checked(locked)
    return locked


def delete_record(*, user, record: FinancialSupport | KpiReading | Adoption | Attendance) -> None:
    """Remove a mistaken entry. Verified adoptions stay: they are evidence the PMU relies on (checked
    on the locked row, so a verification committed meanwhile wins)."""
    enterprise = record.enterprise
    require_entry(user, enterprise.partner_organization_id)
    with transaction.atomic():
        locked = type(record).objects.select_for_update().filter(pk=record.pk).first()
        if locked is None:  # deleted meanwhile: nothing left to do
            return
        if isinstance(locked, Adoption):
            _refuse_if_verified(locked, _("A verified adoption cannot be deleted."))
        if isinstance(locked, FinancialSupport) and locked.has_repayment_history():
            # The loan portfolio (finance) keeps its repayments and write-off: they are the PO's books.
            raise ActionRefused(
                _("This loan has repayments or a write-off recorded: it cannot be deleted."),
                code="wrong_state",
            )
        locked.delete()


# --- Training sessions ----------------------------------------------------------------------------


# The audit trail of a session's module: the PMU's mapping, and a PO's change of a module it had.
# A session without a module is stored as "" (shown as "no module").
MODULE_MAPPED = "assign_module"
MODULE_CHANGED = "change_module"


def sessions_mapped_by_pmu(session_ids: Iterable[int]) -> set[int]:
    """Of these sessions, those the PMU has mapped to a module (one query)."""
    return set(
        Transition.objects.filter(
            content_type=ContentType.objects.get_for_model(TrainingSession),
            object_id__in=list(session_ids),
            action=MODULE_MAPPED,
        ).values_list("object_id", flat=True)
    )


def module_locked_message(session: TrainingSession) -> str:
    """Why PO staff may not change a session's module (pages, API and imports say the same)."""
    return _(
        "The training module (“module”) of session %(code)s cannot be changed: the PMU mapped it. "
        "Ask the PMU if it is wrong."
    ) % {"code": session.po_code}


def _module_code(module_id: int | None) -> str:
    return TrainingModule.objects.get(pk=module_id).code if module_id else ""


def save_training_session(
    *, user, data: dict[str, Any], session: TrainingSession | None = None
) -> TrainingSession:
    """Every save names an active module of the catalogue (model rules). A module the PMU mapped is
    not changed by PO staff (403, on the locked row); changing a module the session had is kept in the
    audit trail."""
    sub_project = _require_entry_in_sub_project(user, data, session)
    changed: list[int | None] = []

    def guard_module(obj: TrainingSession, stored: TrainingSession | None) -> None:
        if stored is None or obj.module_id == stored.module_id:
            return
        if sessions_mapped_by_pmu([stored.pk]):
            raise FieldLocked("module", module_locked_message(stored))
        if stored.module_id is not None:
            changed.append(stored.module_id)

    with transaction.atomic():
        saved = _save_in_sub_project(user, TrainingSession, data, session, sub_project, adjust=guard_module)
        if changed:
            _record_decision(
                saved,
                action=MODULE_CHANGED,
                source=_module_code(changed[0]),
                target=_module_code(saved.module_id),
                user=user,
                comment="",
            )
    return saved


def assign_training_module(*, user, session: TrainingSession, module: TrainingModule) -> TrainingSession:
    """The PMU maps a session to a module of the catalogue (sessions recorded before the catalogue
    have none, and count for no indicator until mapped), or corrects a mapping. A retired module may
    be chosen: the mapping describes a session held in the past. Kept in the audit trail; from then
    on only the PMU changes the session's module."""
    require_pmu(user, _("map training sessions to modules"))
    with transaction.atomic():
        locked = TrainingSession.objects.select_for_update().get(pk=session.pk)
        previous = TrainingModule.objects.filter(pk=locked.module_id).first()
        if previous is not None and previous.pk == module.pk:
            raise ActionRefused(
                _("Session %(code)s is already mapped to %(module)s.")
                % {"code": locked.po_code, "module": module.code},
                code="wrong_state",
            )
        # Only the module changes: the session's own rules (date, sub-project open) are the PO's.
        locked.module = module
        locked.save(update_fields=["module"])
        _record_decision(
            locked,
            action=MODULE_MAPPED,
            source=previous.code if previous else "",
            target=module.code,
            user=user,
            comment="",
        )
    return locked


# --- Training modules (the PMU's catalogue) -------------------------------------------------------


def save_training_module(
    *, user, data: dict[str, Any], module: TrainingModule | None = None
) -> TrainingModule:
    """Add or edit a module of the catalogue (PMU officers only). Modules are never deleted:
    sessions keep theirs; a module no longer offered is made inactive."""
    require_pmu(user, _("maintain the training-module catalogue"))
    with transaction.atomic():
        obj = (
            TrainingModule()
            if module is None
            else TrainingModule.objects.select_for_update().get(pk=module.pk)
        )
        _assign(obj, data)
        # simple_history's author of the edit: an attribute it reads, not one the model declares.
        setattr(obj, "_history_user", user)  # noqa: B010
        _save_checked(obj)
    return obj


# --- Facilities -----------------------------------------------------------------------------------


def clear_stale_confirmation(facility: CommonServiceFacility, stored: CommonServiceFacility | None) -> bool:
    """A confirmation holds for the status and opening date it confirmed: when the PO changes
    either (pages, API or import), the facility awaits confirmation again."""
    if stored is None or facility.operational_confirmed_on is None:
        return False
    if (facility.status, facility.opened_on) == (stored.status, stored.opened_on):
        return False
    facility.operational_confirmed_by = None
    facility.operational_confirmed_on = None
    return True


def move_facility_status(
    *, user, facility: CommonServiceFacility, status: str, opened_on: date | None, comment: str = ""
) -> CommonServiceFacility:
    """Take the rule of the facility's lifecycle that leads to `status` (with the opening date an
    operational facility needs): checked, saved and logged by the engine, or refused (403/409)."""
    params = {"opened_on": opened_on} if status == FacilityStatus.OPERATIONAL else {}
    action = status_action(facility.status, status)
    return lifecycle.apply(facility, action, user, comment=comment, **params)


def save_facility(
    *, user, data: dict[str, Any], facility: CommonServiceFacility | None = None, comment: str = ""
) -> CommonServiceFacility:
    """PO staff create or edit their facility; changing the status or the opening date of a
    confirmed facility clears its confirmation.

    A new facility starts in the status given (creation is not a change of state). On an edit, the
    whole record is validated as sent, the other fields are saved, and a new status moves through
    the facility's lifecycle (`move_facility_status`, with `comment`), in the same transaction: a
    refused move changes nothing."""
    sub_project = _require_entry_in_sub_project(user, data, facility)
    served = data.get("mes_served")
    if served is not None:
        # The user enters for one PO only (checked above): the facility's.
        po_id = user.partner_organization_id
        outsiders = [me.po_code for me in served if me.partner_organization_id != po_id]
        if outsiders:
            raise ValidationError(
                {"mes_served": _("Not enterprises of this PO: %(codes)s.") % {"codes": ", ".join(outsiders)}}
            )
    if facility is None:
        return _save_in_sub_project(user, CommonServiceFacility, data, None, sub_project)
    with transaction.atomic():
        obj = CommonServiceFacility.objects.select_for_update().get(pk=facility.pk)
        stored = copy.copy(obj)
        _assign(obj, data, LOCKED_FIELDS)
        clear_stale_confirmation(obj, stored)
        obj.full_clean(exclude=["created_by"])
        status, opened_on = obj.status, obj.opened_on
        moving = status != stored.status
        if moving:
            # Saved as stored: the engine moves the status, with the opening date that goes with it.
            obj.status, obj.opened_on = stored.status, stored.opened_on
        # (Checked as typed above; a concurrent rename to the same name is refused like it.)
        with integrity.refusing_races(lambda: _check_unique(obj), where="save_facility"):
            obj.save()
        _assign_m2m(obj, data)
        if moving:
            obj = move_facility_status(
                user=user, facility=obj, status=status, opened_on=opened_on, comment=comment
            )
    return obj


def confirm_facility_operational(
    *, user, facility: CommonServiceFacility, on: date | None = None, comment: str = ""
) -> CommonServiceFacility:
    """A PMU officer or a verifier (never the PO's own staff) has seen the facility operating: it
    counts as established from then. Refused (403) for anyone else; (409) unless reported
    operational and not yet confirmed, or with a date before the opening or in the future.

    The rule "confirm_operational" of the facility's lifecycle (operational → operational) decides
    and logs it; the refusals keep their wording here."""
    try:
        return lifecycle.apply(facility, "confirm_operational", user, comment=comment, on=on or today())
    except ActionRefused as exc:
        if exc.is_forbidden:
            # Refused in today's words (the rule's `who` is the same test); else as the engine said.
            require_independent_checker(user, _("confirms that a facility operates"))
            raise
        stored = CommonServiceFacility.objects.get(pk=facility.pk)
        if exc.code != "wrong_state" or stored.status == FacilityStatus.OPERATIONAL:
            raise  # a date that does not fit, or already confirmed (the guard says so)
        raise ActionRefused(
            _("The facility is %(status)s: only a facility reported operational can be confirmed.")
            % {"status": stored.get_status_display()},
            code="wrong_state",
        ) from None


# --- Climate flags --------------------------------------------------------------------------------


def refresh_climate_flags(*, district_ids: list[int] | None = None) -> int:
    """Set-based: every ME without an override takes its upazila's or district's current flag."""
    following = Enterprise.objects.filter(climate_vulnerable_override__isnull=True)
    if district_ids:
        following = following.filter(district_id__in=district_ids)
    area_flagged = models.Q(upazila__climate_vulnerable=True) | models.Q(district__climate_vulnerable=True)
    changed = following.filter(area_flagged, climate_vulnerable=False).update(climate_vulnerable=True)
    changed += (
        following.filter(climate_vulnerable=True).exclude(area_flagged).update(climate_vulnerable=False)
    )
    return changed
