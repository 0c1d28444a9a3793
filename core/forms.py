from __future__ import annotations

from django import forms
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from core.models import ClimateHazard, District, PartnerOrganization, Upazila
from core.pickers import mark_pickers
from core.roles import GROUP_NAMES, Role


class PartnerOrganizationForm(forms.ModelForm):
    website = forms.URLField(label=_("Website"), required=False, assume_scheme="https")

    class Meta:
        model = PartnerOrganization
        fields = [
            "code",
            "name",
            "short_name",
            "registration_authority",
            "registration_number",
            "registered_on",
            "pksf_partner_since",
            "head_office_address",
            "head_office_district",
            "contact_person",
            "contact_designation",
            "email",
            "phone",
            "website",
            "districts",
            "is_active",
        ]
        widgets = {
            "registered_on": forms.DateInput(attrs={"type": "date"}),
            "head_office_address": forms.Textarea(attrs={"rows": 2}),
            "districts": forms.SelectMultiple(attrs={"size": 12}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["districts"].queryset = District.objects.select_related("division").order_by(
            "division__name", "name"
        )
        self.fields["head_office_district"].queryset = District.objects.order_by("name")
        mark_pickers(self)


class ClimateFlagForm(forms.ModelForm):
    climate_hazards = forms.MultipleChoiceField(
        label=_("Climate hazards"),
        choices=ClimateHazard.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        fields = ["climate_vulnerable", "climate_hazards"]


class DistrictClimateForm(ClimateFlagForm):
    class Meta(ClimateFlagForm.Meta):
        model = District


class UpazilaClimateForm(ClimateFlagForm):
    class Meta(ClimateFlagForm.Meta):
        model = Upazila


def check_po_membership(groups, partner_organization) -> None:
    """A PO staff account belongs to exactly one PO, and only PO staff belong to a PO. A verifier
    checks what POs report, so belongs to none and is never PO staff as well."""
    names = {group.name for group in groups}
    is_po_staff = GROUP_NAMES[Role.PO_STAFF] in names
    if GROUP_NAMES[Role.VERIFIER] in names:
        if is_po_staff:
            raise ValidationError(
                {
                    "groups": _(
                        "A verifier checks what POs report and cannot also be PO staff: keep one of the "
                        "two roles."
                    )
                }
            )
        if partner_organization is not None:
            raise ValidationError(
                {
                    "partner_organization": _(
                        "A verifier belongs to no Partner Organization: leave the PO empty."
                    )
                }
            )
    if is_po_staff and partner_organization is None:
        raise ValidationError({"partner_organization": _("PO staff must belong to a Partner Organization.")})
    if partner_organization is not None and not is_po_staff:
        raise ValidationError(
            {
                "partner_organization": _(
                    "Only PO staff belong to a Partner Organization; add the PO staff role."
                )
            }
        )


class GroupChoiceMixin:
    def clean(self):
        cleaned = super().clean()
        groups = cleaned.get("groups", Group.objects.none())
        check_po_membership(list(groups), cleaned.get("partner_organization"))
        return cleaned
