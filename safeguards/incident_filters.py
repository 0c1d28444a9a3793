"""Filters of the incident list, shared by the page and the API."""

from __future__ import annotations

import django_filters
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.models import PartnerOrganization
from safeguards.models import CorrectiveAction, CorrectiveActionStatus, Incident, IncidentStatus, Severity
from subprojects.filters import ScopedFilterSet

YES_NO = (("yes", _("yes")), ("no", _("no")))


class IncidentFilter(ScopedFilterSet):
    status = django_filters.MultipleChoiceFilter(choices=IncidentStatus.choices, label=_("State"))
    severity = django_filters.MultipleChoiceFilter(choices=Severity.choices, label=_("Severity"))
    partner_organization = django_filters.ModelChoiceFilter(
        queryset=PartnerOrganization.objects.all(),
        to_field_name="code",
        label=_("PO"),
        empty_label=_("All POs"),
    )
    overdue = django_filters.ChoiceFilter(
        choices=YES_NO, method="filter_overdue", label=_("Overdue for the Bank")
    )
    q = django_filters.CharFilter(method="search", label=_("Title or reference"))

    class Meta:
        model = Incident
        fields = ["status", "severity", "partner_organization", "overdue"]

    def filter_overdue(self, queryset, name, value):
        overdue = queryset.bank_notification_overdue()
        if value == "yes":
            return overdue
        if value == "no":
            return queryset.exclude(pk__in=overdue.values("pk"))
        return queryset

    def search(self, queryset, name, value):
        value = value.strip()
        prefix, _sep, number = value.upper().partition("-")
        # ASCII digits only: str.isdigit() also accepts "²", which int() refuses (a 500).
        if number.isascii() and number.isdecimal() and prefix == Incident.REFERENCE_PREFIX:
            return queryset.filter(pk=int(number))
        return queryset.filter(Q(title__icontains=value) | Q(description__icontains=value))


class CorrectiveActionFilter(ScopedFilterSet):
    status = django_filters.MultipleChoiceFilter(choices=CorrectiveActionStatus.choices, label=_("State"))
    incident = django_filters.NumberFilter(field_name="incident_id", label=_("Incident (id)"))
    overdue = django_filters.ChoiceFilter(choices=YES_NO, method="filter_overdue", label=_("Overdue"))

    class Meta:
        model = CorrectiveAction
        fields = ["status", "incident", "overdue"]

    def filter_overdue(self, queryset, name, value):
        today = timezone.localdate()
        if value == "yes":
            return queryset.overdue(today)
        if value == "no":
            return queryset.exclude(pk__in=queryset.overdue(today).values("pk"))
        return queryset
