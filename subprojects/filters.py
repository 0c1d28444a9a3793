"""Filters shared by the list pages and the API (screening queue, proposals, sub-projects)."""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.filtering import PortalFilterSet
from core.models import District, PartnerOrganization, Sector
from core.pickers import mark_pickers
from core.visibility import scope_filterset
from subprojects.models import (
    Call,
    ConceptNote,
    NoteStatus,
    Proposal,
    ProposalStatus,
    SubProject,
    SubProjectStatus,
)


def style_filter_form(filterset: django_filters.FilterSet) -> None:
    for field in filterset.form.fields.values():
        widget = field.widget
        if isinstance(widget, forms.SelectMultiple):
            widget.attrs.update({"class": "form-select form-select-sm", "size": 3})
        elif isinstance(widget, forms.Select):
            widget.attrs["class"] = "form-select form-select-sm"
        else:
            widget.attrs["class"] = "form-control form-control-sm"
    mark_pickers(filterset.form)


class ScopedFilterSet(PortalFilterSet):
    """The drop-downs of calls and POs offer, and accept, only what the user may see (no draft call,
    no other PO): on the pages (`user=`) and in the API (the request's user)."""

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        user = user or getattr(self.request, "user", None)
        scope_filterset(self, user)
        style_filter_form(self)


class LifecycleFilter(ScopedFilterSet):
    call = django_filters.ModelChoiceFilter(
        queryset=Call.objects.all(), label=_("Call"), empty_label=_("All calls")
    )
    sector = django_filters.ModelChoiceFilter(
        queryset=Sector.objects.all(), to_field_name="code", label=_("Sector")
    )
    district = django_filters.ModelChoiceFilter(
        field_name="target_districts",
        queryset=District.objects.order_by("name"),
        to_field_name="pcode",
        label=_("District"),
        empty_label=_("All districts"),
        distinct=True,
    )
    partner_organization = django_filters.ModelChoiceFilter(
        queryset=PartnerOrganization.objects.all(),
        to_field_name="code",
        label=_("PO"),
        empty_label=_("All POs"),
    )
    q = django_filters.CharFilter(method="search", label=_("Title or reference"))

    def search(self, queryset, name, value):
        value = value.strip()
        prefix, _sep, number = value.upper().partition("-")
        if number.isdigit() and prefix == queryset.model.REFERENCE_PREFIX:
            return queryset.filter(pk=int(number))
        return queryset.filter(Q(title__icontains=value) | Q(partner_organization__name__icontains=value))


class ConceptNoteFilter(LifecycleFilter):
    status = django_filters.MultipleChoiceFilter(choices=NoteStatus.choices, label=_("State"))

    class Meta:
        model = ConceptNote
        fields = ["call", "sector", "district", "partner_organization", "status"]


class ProposalFilter(LifecycleFilter):
    status = django_filters.MultipleChoiceFilter(choices=ProposalStatus.choices, label=_("State"))

    class Meta:
        model = Proposal
        fields = ["call", "sector", "district", "partner_organization", "status"]


class SubProjectFilter(ScopedFilterSet):
    call = django_filters.ModelChoiceFilter(
        field_name="proposal__call", queryset=Call.objects.all(), label=_("Call"), empty_label=_("All calls")
    )
    sector = django_filters.ModelChoiceFilter(
        queryset=Sector.objects.all(), to_field_name="code", label=_("Sector")
    )
    partner_organization = django_filters.ModelChoiceFilter(
        queryset=PartnerOrganization.objects.all(),
        to_field_name="code",
        label=_("PO"),
        empty_label=_("All POs"),
    )
    status = django_filters.MultipleChoiceFilter(choices=SubProjectStatus.choices, label=_("State"))

    class Meta:
        model = SubProject
        fields = ["call", "sector", "partner_organization", "status"]
