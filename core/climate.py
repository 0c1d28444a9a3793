"""Climate vulnerability of districts and upazilas, as the reference pages and the API list it: each
district with how many of its upazilas there are and how many are flagged, and "vulnerable" meaning
the district itself or any of its upazilas (the PMU sets the flags; enterprises inherit them)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext as _

from core.errors import Forbidden
from core.models import District, Upazila
from core.permissions import is_pmu


def districts_with_counts() -> QuerySet[District]:
    """Every district with `upazila_count` and `vulnerable_upazilas` (one grouped query)."""
    return District.objects.select_related("division").annotate(
        upazila_count=Count("upazilas", distinct=True),
        vulnerable_upazilas=Count("upazilas", filter=Q(upazilas__climate_vulnerable=True), distinct=True),
    )


def vulnerable_only(districts: QuerySet[District]) -> QuerySet[District]:
    """The districts flagged climate-vulnerable themselves or through any of their upazilas."""
    return districts.filter(Q(climate_vulnerable=True) | Q(upazilas__climate_vulnerable=True)).distinct()


def check_may_set_flags(user) -> None:
    """PMU officers set the flags (as on the district's page); anyone else: Forbidden."""
    if not is_pmu(user):
        raise Forbidden(_("Only PMU officers set climate vulnerability."))


def set_flags(user, area: District | Upazila, data: dict[str, Any]) -> District | Upazila:
    """The PMU flags a district or an upazila climate-vulnerable (or not) with its hazards, through the
    form of the reference page (core.forms), whose checks and the model's apply. `data` may give only
    what changes. Forbidden for anyone else; ValidationError by field."""
    from core.forms import DistrictClimateForm, UpazilaClimateForm

    check_may_set_flags(user)
    form_class = DistrictClimateForm if isinstance(area, District) else UpazilaClimateForm
    current = {"climate_vulnerable": area.climate_vulnerable, "climate_hazards": list(area.climate_hazards)}
    form = form_class({**current, **data}, instance=area)
    if not form.is_valid():
        raise ValidationError(form.errors.as_data())
    return form.save()
