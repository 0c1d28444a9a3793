"""Page forms of verification. They check what was typed, by field; the rules are in services,
verification.checks and the lifecycle engine."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from core.models import District, PartnerOrganization
from core.pickers import picker_select
from enterprises.validation import today
from enterprises.views.base import style_form
from verification import checks, services
from verification.models import VerificationCheck, VerificationPolicy

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
GPS_FIELD = {"max_digits": 9, "decimal_places": 6, "required": False}


class BootstrapForm(forms.Form):
    """Bootstrap classes on every widget, and `is-invalid` on fields with errors."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        style_form(self)

    def full_clean(self):
        super().full_clean()
        for name in self.errors:
            if name in self.fields:
                widget = self.fields[name].widget
                widget.attrs["class"] = widget.attrs.get("class", "") + " is-invalid"


class DrawRoundForm(BootstrapForm):
    year = forms.IntegerField(label=_("Year"), min_value=2023, max_value=2100)
    quarter = forms.TypedChoiceField(
        label=_("Quarter"),
        coerce=int,
        choices=[
            (1, _("Q1 (January to March)")),
            (2, _("Q2 (April to June)")),
            (3, _("Q3 (July to September)")),
            (4, _("Q4 (October to December)")),
        ],
    )
    seed = forms.IntegerField(
        label=_("Random seed (optional)"),
        required=False,
        min_value=0,
        max_value=services.MAX_SEED,
        help_text=_("Leave empty for a random one. It is kept with the round, so the draw can be repeated."),
    )


class CheckResultForm(BootstrapForm):
    """What the verifier found. The button pressed says which result (confirm, partly, not_found)."""

    visited_on = forms.DateField(label=_("Visited on"), widget=DATE)
    finding = forms.CharField(
        label=_("What you found"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Required when the item is only partly confirmed or not found: say what you saw."),
    )
    latitude = forms.DecimalField(label=_("Latitude"), **GPS_FIELD)
    longitude = forms.DecimalField(label=_("Longitude"), **GPS_FIELD)
    photo = forms.FileField(
        label=_("Photo (JPEG or PNG)"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png"}),
    )

    def __init__(self, *args, check: VerificationCheck, action: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.check, self.action = check, action
        self.fields["visited_on"].widget.attrs["max"] = today().isoformat()

    def clean(self):
        cleaned = super().clean()
        if self.action in {"partly", "not_found"} and not cleaned.get("finding", "").strip():
            self.add_error("finding", _("Say what you found: it is required for this result."))
        if "visited_on" in cleaned:
            problems = checks.visit_problems(
                self.check,
                visited_on=cleaned.get("visited_on"),
                latitude=cleaned.get("latitude"),
                longitude=cleaned.get("longitude"),
                photo=cleaned.get("photo"),
            )
            for name, problem in problems.items():
                if name not in self.errors:
                    self.add_error(name if name in self.fields else None, problem)
        return cleaned


class PolicyForm(forms.ModelForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        style_form(self)

    class Meta:
        model = VerificationPolicy
        fields = ["threshold_percent", "margin_percent", "floor"]


class AwaitingFilterForm(forms.Form):
    partner_organization = forms.ModelChoiceField(
        label=_("PO"), queryset=PartnerOrganization.objects.all(), to_field_name="code", required=False
    )
    district = forms.ModelChoiceField(
        label=_("District"),
        queryset=District.objects.order_by("name"),
        to_field_name="pcode",
        required=False,
        widget=picker_select(),
    )
