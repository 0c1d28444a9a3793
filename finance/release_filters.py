"""Filters of the release lists, shared by the pages and the API. The sub-projects offered (and
accepted) are those whose money the user may see: another PO's id is refused as one that does not
exist."""

from __future__ import annotations

import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.models import PartnerOrganization
from finance.models import Milestone, MilestoneStatus, Release, ReleaseStatus, Tranche
from finance.releases import FINANCIER_CHOICES, FINANCIERS, sub_projects_for
from subprojects.filters import ScopedFilterSet
from subprojects.models import SubProjectStatus


class _SubProjectChoices(ScopedFilterSet):
    sub_project = django_filters.ChoiceFilter(field_name="sub_project_id", label=_("Sub-project"))

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, user=user, **kwargs)
        user = user or getattr(self.request, "user", None)
        choices = [
            (str(pk), number)
            for pk, number in sub_projects_for(user)
            .order_by("agreement_number")
            .values_list("pk", "agreement_number")
        ]
        self.filters["sub_project"].extra["choices"] = choices
        # The form is built already (styled by ScopedFilterSet): it validates against these choices
        # (its empty choice, "Any sub-project", is added by the field itself).
        self.form.fields["sub_project"].choices = choices


class ReleaseFilter(_SubProjectChoices):
    status = django_filters.MultipleChoiceFilter(choices=ReleaseStatus.choices, label=_("State"))
    partner_organization = django_filters.ModelChoiceFilter(
        queryset=PartnerOrganization.objects.all(),
        to_field_name="code",
        label=_("PO"),
        empty_label=_("All POs"),
    )
    financier = django_filters.ChoiceFilter(
        choices=FINANCIER_CHOICES, method="filter_financier", label=_("Financier")
    )
    q = django_filters.CharFilter(method="search", label=_("Reference"))

    class Meta:
        model = Release
        fields = ["status", "partner_organization", "sub_project", "financier"]

    def filter_financier(self, queryset, name, value):
        for financier in FINANCIERS:
            if financier.code == value:
                return queryset.filter(**{f"{financier.amount_field}__gt": 0})
        return queryset

    def search(self, queryset, name, value):
        value = value.strip()
        return queryset.filter(
            Q(reference__icontains=value) | Q(sub_project__agreement_number__icontains=value)
        )


class TrancheFilter(_SubProjectChoices):
    class Meta:
        model = Tranche
        fields = ["sub_project"]


class MilestoneFilter(_SubProjectChoices):
    status = django_filters.MultipleChoiceFilter(choices=MilestoneStatus.choices, label=_("State"))

    class Meta:
        model = Milestone
        fields = ["sub_project", "status"]


class SubProjectMoneyFilter(ScopedFilterSet):
    """The sub-projects' money list."""

    status = django_filters.MultipleChoiceFilter(choices=SubProjectStatus.choices, label=_("State"))
    partner_organization = django_filters.ModelChoiceFilter(
        queryset=PartnerOrganization.objects.all(),
        to_field_name="code",
        label=_("PO"),
        empty_label=_("All POs"),
    )
    q = django_filters.CharFilter(method="search", label=_("Agreement or title"))

    def search(self, queryset, name, value):
        value = value.strip()
        return queryset.filter(Q(agreement_number__icontains=value) | Q(title__icontains=value))
