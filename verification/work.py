"""What awaits independent verification: the work lists of the PMU officers and verifiers who belong
to no PO (the page *Awaiting independent verification* and the API resources
`verification-awaiting-adoptions` and `verification-awaiting-facilities` share this module).

- An adoption awaits while it does not count as verified independently
  (`Adoption.objects.awaiting_verification()`, the exact complement of `verified_independently()`),
  oldest adoption first.
- A facility awaits while its PO reports it operational and nobody has confirmed that it operates
  (`CommonServiceFacility.objects.awaiting_confirmation()`), the one opened earliest first.

`filters` narrows either list: a mapping (a form's or serializer's cleaned data) whose
`partner_organization` (a PartnerOrganization) and `district` (a District) are applied when given;
other keys are ignored. Who may see and act on these lists is
enterprises.permissions.is_independent_checker; the decisions themselves are
enterprises.services.verify_adoption and confirm_facility_operational, run through `decide`.

`WORK_LISTS` describes both lists, so that pages and API handle them with one implementation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Model, QuerySet

from core.errors import ActionRefused
from enterprises import services
from enterprises.models import Adoption, CommonServiceFacility


def awaiting_adoptions(filters: Mapping[str, Any] | None = None) -> QuerySet[Adoption]:
    """Adoptions POs reported that do not count as verified yet, oldest first, with the ME and place."""
    adoptions = (
        Adoption.objects.awaiting_verification()
        .select_related(
            "enterprise__partner_organization", "enterprise__district", "enterprise__upazila", "practice"
        )
        .order_by("adopted_on", "pk")
    )
    po, district = _chosen(filters)
    if po:
        adoptions = adoptions.filter(enterprise__partner_organization=po)
    if district:
        adoptions = adoptions.filter(enterprise__district=district)
    return adoptions


def awaiting_facilities(filters: Mapping[str, Any] | None = None) -> QuerySet[CommonServiceFacility]:
    """Facilities reported operational whose operation nobody has confirmed yet, opened earliest first."""
    facilities = (
        CommonServiceFacility.objects.awaiting_confirmation()
        .select_related("partner_organization", "district", "upazila")
        .order_by("opened_on", "pk")
    )
    po, district = _chosen(filters)
    if po:
        facilities = facilities.filter(partner_organization=po)
    if district:
        facilities = facilities.filter(district=district)
    return facilities


def _chosen(filters: Mapping[str, Any] | None) -> tuple[Any, Any]:
    filters = filters or {}
    return filters.get("partner_organization"), filters.get("district")


def _verify_adoption(user, adoption: Adoption, on: date | None, comment: str) -> Adoption:
    return services.verify_adoption(user=user, adoption=adoption, verified_on=on, comment=comment)


def _confirm_facility(
    user, facility: CommonServiceFacility, on: date | None, comment: str
) -> CommonServiceFacility:
    return services.confirm_facility_operational(user=user, facility=facility, on=on, comment=comment)


@dataclass(frozen=True)
class WorkList:
    """One list of what awaits, and the decision that takes an item off it."""

    key: str  # "adoptions" or "facilities": the page's tab and the end of the API resource's name
    model: type[Model]
    items: Callable[[Mapping[str, Any] | None], QuerySet]
    # The decision's date as the page form and the API request name it (the enterprise page form and
    # API serializer that both reuse: enterprises.forms, enterprises.api.serializers).
    date_field: str
    run: Callable[[Any, Model, date | None, str], Model]


ADOPTIONS = WorkList("adoptions", Adoption, awaiting_adoptions, "verified_on", _verify_adoption)
FACILITIES = WorkList("facilities", CommonServiceFacility, awaiting_facilities, "on", _confirm_facility)
WORK_LISTS = {work_list.key: work_list for work_list in (ADOPTIONS, FACILITIES)}


def decide(work_list: WorkList, *, user, item: Model, on: date | None, comment: str = "") -> Model:
    """Verify the adoption or confirm the facility (seen on `on`, today by default). The enterprise
    service refuses a date in the future or before the adoption or opening as an action (code
    `invalid`); here the date is a field the person typed, so it is a `ValidationError` naming the
    field (400). Other refusals pass unchanged: 403 for the wrong person, 409 when someone decided
    first or the facility is no longer reported operational."""
    try:
        return work_list.run(user, item, on, comment or "")
    except ActionRefused as exc:
        if exc.code != "invalid":
            raise
        raise ValidationError({work_list.date_field: [exc.message]}) from exc
