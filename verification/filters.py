"""Filters of the checks list (pages and API): each an indexed column of the check itself."""

from __future__ import annotations

import django_filters
from django.utils.translation import gettext_lazy as _

from core.filtering import PortalFilterSet
from core.models import District, PartnerOrganization
from core.pickers import picker_select
from core.visibility import scope_filterset
from verification.models import CheckKind, CheckStatus, VerificationCheck, VerificationRound


class CheckFilter(PortalFilterSet):
    round = django_filters.ModelChoiceFilter(
        queryset=VerificationRound.objects.all(), label=_("Round"), empty_label=_("All rounds")
    )
    partner_organization = django_filters.ModelChoiceFilter(
        queryset=PartnerOrganization.objects.all(),
        to_field_name="code",
        label=_("PO"),
        empty_label=_("All POs"),
    )
    kind = django_filters.ChoiceFilter(
        choices=CheckKind.choices, label=_("What is checked"), empty_label=_("Anything checked")
    )
    status = django_filters.ChoiceFilter(choices=CheckStatus.choices, label=_("Result"))
    district = django_filters.ModelChoiceFilter(
        queryset=District.objects.order_by("name"),
        to_field_name="pcode",
        label=_("District"),
        empty_label=_("All districts"),
        widget=picker_select(),
    )

    class Meta:
        model = VerificationCheck
        fields = ["round", "partner_organization", "kind", "status", "district"]

    def __init__(self, data=None, queryset=None, *, request=None, prefix=None):
        super().__init__(data, queryset, request=request, prefix=prefix)
        # A PO's staff choose among what they may see: their own PO, the rounds of their checks.
        scope_filterset(self, getattr(request, "user", None))
