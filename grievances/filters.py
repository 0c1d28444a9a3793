"""Filters of the grievance list (pages, export and API alike). They narrow a queryset that is already
`Grievance.objects.visible_to(user)`: a search never reaches a case the user may not see."""

from __future__ import annotations

import re

import django_filters
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from core.filtering import PortalFilterSet
from core.models import PartnerOrganization
from core.visibility import scope_filterset
from grievances import handling, intake
from grievances.models import Category, Grievance, GrievanceStatus, Tier

REFERENCE = re.compile(r"^\s*(?:GRV-?)?0*(\d{1,9})\s*$", re.IGNORECASE)


class GrievanceFilter(PortalFilterSet):
    q = django_filters.CharFilter(method="search", label=_("Reference, code or subject"))
    status = django_filters.ChoiceFilter(choices=GrievanceStatus.choices, label=_("Status"))
    tier = django_filters.TypedChoiceFilter(choices=Tier.choices, coerce=int, label=_("Tier"))
    category = django_filters.ChoiceFilter(choices=Category.choices, label=_("Category"))
    partner_organization = django_filters.ModelChoiceFilter(
        queryset=PartnerOrganization.objects.order_by("code"),
        to_field_name="code",
        label=_("PO"),
        empty_label=_("All POs"),
    )
    overdue = django_filters.BooleanFilter(method="filter_overdue", label=_("Past the tier's deadline"))

    class Meta:
        model = Grievance
        fields = ["q", "status", "tier", "category", "partner_organization", "overdue"]

    def __init__(self, data=None, queryset=None, *, request=None, prefix=None):
        super().__init__(data, queryset, request=request, prefix=prefix)
        scope_filterset(self, getattr(request, "user", None))

    def search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        value = (value or "").strip()
        if not value:
            return queryset
        condition = Q(subject__icontains=value)
        match = REFERENCE.match(value)
        if match:
            condition |= Q(pk=int(match.group(1)))
        code = intake.normalise_code(value)
        if code:
            condition |= Q(tracking_code=code)
        return queryset.filter(condition)

    def filter_overdue(self, queryset: QuerySet, name: str, value: bool | None) -> QuerySet:
        if value is None:
            return queryset
        overdue = handling.overdue_q()
        return queryset.filter(overdue) if value else queryset.exclude(overdue)
