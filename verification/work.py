"""What awaits independent verification: the work lists of the PMU officers and verifiers who belong
to no PO (the page *Awaiting independent verification* and the API resources
`verification-awaiting-adoptions` and `verification-awaiting-facilities` share these functions).

- An adoption awaits while nobody has verified it (`verified_on` empty), oldest adoption first.
- A facility awaits while its PO reports it operational and nobody has confirmed that it operates,
  the one opened earliest first.

`filters` narrows either list: a mapping (a form's or serializer's cleaned data) whose
`partner_organization` (a PartnerOrganization) and `district` (a District) are applied when given;
other keys are ignored. Who may see and act on these lists is verification.permissions.is_independent;
the actions themselves are enterprises.services.verify_adoption and confirm_facility_operational.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import QuerySet

from enterprises.models import Adoption, CommonServiceFacility, FacilityStatus


def awaiting_adoptions(filters: Mapping[str, Any] | None = None) -> QuerySet[Adoption]:
    """Adoptions POs reported that nobody has verified yet, oldest first, with the ME and place."""
    adoptions = (
        Adoption.objects.filter(verified_on__isnull=True)
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
        CommonServiceFacility.objects.filter(
            status=FacilityStatus.OPERATIONAL, operational_confirmed_on__isnull=True
        )
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
