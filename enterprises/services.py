"""Entering field data one record at a time (pages and API). Spreadsheets go through imports.py,
which applies the same model rules to many rows at once.

Each function checks who is acting, validates the whole object (model `clean()`, field rules from
enterprises.validation and the database constraints), saves inside one transaction, and raises
`ValidationError` (by field) or `ActionRefused` (403/409) without writing anything otherwise.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils.translation import gettext as _

from core.errors import ActionRefused
from core.permissions import is_pmu
from enterprises import duplicates
from enterprises.models import (
    Adoption,
    Attendance,
    CommonServiceFacility,
    Enterprise,
    FinancialSupport,
    KpiReading,
    TrainingSession,
)
from enterprises.permissions import require_entry
from enterprises.validation import check_action_date, today
from subprojects.models import SubProject


def _assign(obj: models.Model, data: dict[str, Any], skip: set[str] = frozenset()) -> None:
    m2m = {f.name for f in obj._meta.many_to_many}
    for name, value in data.items():
        if name not in skip and name not in m2m:
            setattr(obj, name, value)


def _assign_m2m(obj: models.Model, data: dict[str, Any]) -> None:
    for field in obj._meta.many_to_many:
        if field.name in data:
            getattr(obj, field.name).set(data[field.name])


# --- Objects of a sub-project: enterprises, training sessions, facilities -------------------------

# Set by the services (or the PMU's decisions), never from what was typed.
LOCKED_FIELDS = {"partner_organization", "created_by"}
ENTERPRISE_LOCKED_FIELDS = LOCKED_FIELDS | {"duplicate_of", "created_at"}


def _require_entry_in_sub_project(
    user, data: dict[str, Any], instance: models.Model | None
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
    model: type[models.Model],
    data: dict[str, Any],
    instance: models.Model | None,
    sub_project: SubProject | None,
    skip: set[str] = LOCKED_FIELDS,
) -> models.Model:
    """Create (in `sub_project`, for its PO) or update under a row lock; validate all; save."""
    with transaction.atomic():
        if instance is None:
            obj = model(partner_organization_id=sub_project.partner_organization_id, created_by=user)
        else:
            obj = model.objects.select_for_update().get(pk=instance.pk)
        _assign(obj, data, skip)
        obj.full_clean(exclude=["created_by"])
        obj.save()
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


def _create_record(user, model: type[models.Model], enterprise: Enterprise, data: dict[str, Any], **fixed):
    require_entry(user, enterprise.partner_organization_id)
    with transaction.atomic():
        record = model(enterprise=enterprise, **fixed)
        _assign(record, data, {"enterprise"})
        record.full_clean(exclude=[name for name in fixed if name.endswith("_by")])
        record.save()
        _assign_m2m(record, data)
    return record


def _update_record(user, record: models.Model, data: dict[str, Any]):
    require_entry(user, record.enterprise.partner_organization_id)
    with transaction.atomic():
        locked = type(record).objects.select_for_update().get(pk=record.pk)
        _assign(locked, data, {"enterprise", "created_by", "verified_by"})
        locked.full_clean(exclude=["created_by", "verified_by"])
        locked.save()
    return locked


def add_financial_support(*, user, enterprise: Enterprise, data: dict[str, Any]) -> FinancialSupport:
    return _create_record(user, FinancialSupport, enterprise, data, created_by=user)


def update_financial_support(*, user, support: FinancialSupport, data: dict[str, Any]) -> FinancialSupport:
    return _update_record(user, support, data)


def add_kpi_reading(*, user, enterprise: Enterprise, data: dict[str, Any]) -> KpiReading:
    return _create_record(user, KpiReading, enterprise, data, created_by=user)


def update_kpi_reading(*, user, reading: KpiReading, data: dict[str, Any]) -> KpiReading:
    return _update_record(user, reading, data)


def add_adoption(*, user, enterprise: Enterprise, data: dict[str, Any]) -> Adoption:
    """A PO records an adoption; a `verified_on` given with it is verified by this user."""
    fixed = {"verified_by": user} if data.get("verified_on") else {}
    return _create_record(user, Adoption, enterprise, data, **fixed)


def update_adoption(*, user, adoption: Adoption, data: dict[str, Any]) -> Adoption:
    if adoption.is_verified:
        raise ActionRefused(_("A verified adoption cannot be changed."), code="wrong_state")
    return _update_record(user, adoption, {key: value for key, value in data.items() if key != "verified_on"})


def verify_adoption(*, user, adoption: Adoption, verified_on: date | None = None) -> Adoption:
    """The PO's field officer (or a PMU officer) has seen the practice in use."""
    if not is_pmu(user):
        require_entry(user, adoption.enterprise.partner_organization_id)
    verified_on = verified_on or today()
    with transaction.atomic():
        locked = (
            Adoption.objects.select_for_update().select_related("enterprise__sub_project").get(pk=adoption.pk)
        )
        if locked.is_verified:
            raise ActionRefused(
                _("This adoption was already verified on %(date)s.")
                % {"date": locked.verified_on.isoformat()},
                code="wrong_state",
            )
        check_action_date(
            verified_on,
            what=_("The verification date"),
            not_before=locked.adopted_on,
            too_early=_("A practice is verified after it is adopted."),
        )
        locked.verified_on = verified_on
        locked.verified_by = user
        locked.save(update_fields=["verified_on", "verified_by"])
    return locked


def add_attendance(
    *, user, session: TrainingSession, enterprise: Enterprise, data: dict[str, Any]
) -> Attendance:
    require_entry(user, session.partner_organization_id)
    require_entry(user, enterprise.partner_organization_id)
    with transaction.atomic():
        attendance = Attendance(session=session, enterprise=enterprise)
        _assign(attendance, data, {"session", "enterprise"})
        attendance.full_clean()
        attendance.save()
    return attendance


def update_attendance(*, user, attendance: Attendance, data: dict[str, Any]) -> Attendance:
    require_entry(user, attendance.enterprise.partner_organization_id)
    with transaction.atomic():
        locked = Attendance.objects.select_for_update().get(pk=attendance.pk)
        _assign(locked, data, {"session", "enterprise"})
        locked.full_clean()
        locked.save()
    return locked


def delete_record(*, user, record: models.Model) -> None:
    """Remove a mistaken entry. Verified adoptions stay: they are evidence the PMU relies on."""
    enterprise = record.enterprise
    require_entry(user, enterprise.partner_organization_id)
    if isinstance(record, Adoption) and record.is_verified:
        raise ActionRefused(_("A verified adoption cannot be deleted."), code="wrong_state")
    record.delete()


# --- Training sessions ----------------------------------------------------------------------------


def save_training_session(
    *, user, data: dict[str, Any], session: TrainingSession | None = None
) -> TrainingSession:
    sub_project = _require_entry_in_sub_project(user, data, session)
    return _save_in_sub_project(user, TrainingSession, data, session, sub_project)


# --- Facilities -----------------------------------------------------------------------------------


def save_facility(
    *, user, data: dict[str, Any], facility: CommonServiceFacility | None = None
) -> CommonServiceFacility:
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
    return _save_in_sub_project(user, CommonServiceFacility, data, facility, sub_project)


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
