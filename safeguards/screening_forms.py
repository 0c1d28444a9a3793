"""Page forms of ME screenings and clearances. They check what was typed, by field; the rules are in
safeguards.screenings and safeguards.clearances."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from core.filtering import label_filter_form
from core.models import PartnerOrganization
from enterprises.views.base import style_form
from safeguards.clearances import document_problem
from safeguards.models import Clearance, ClearanceKind, ExclusionItem, MeScreening, MeScreeningOutcome

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
ANSWER = [("unknown", _("— not answered yet —")), ("true", _("yes")), ("false", _("no"))]


class StyledModelForm(forms.ModelForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        style_form(self)


class ScreeningForm(StyledModelForm):
    """The checklist of a draft screening. Unanswered questions may be left for later; completing the
    screening then names them."""

    class Meta:
        model = MeScreening
        fields = [
            "screened_on",
            "exclusions_found",
            "safe_working_conditions",
            "pollution_controlled",
            "child_labour_found",
            "clearance_category",
            "notes",
        ]
        widgets = {
            "screened_on": DATE,
            "exclusions_found": forms.CheckboxSelectMultiple,
            "notes": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("safe_working_conditions", "pollution_controlled", "child_labour_found"):
            self.fields[name].widget.choices = ANSWER
        self.fields["exclusions_found"].queryset = ExclusionItem.objects.filter(active=True)
        self.fields["exclusions_found"].help_text = _("Tick every activity of the ME on the exclusion list.")
        self.fields["exclusions_found"].widget.attrs.pop("class", None)
        self.fields["clearance_category"].help_text = _(
            "Orange and red need a DoE environmental clearance certificate valid on the screening date."
        )

    def _get_validation_exclusions(self):
        # An unanswered question is allowed on a draft: completing it names what is missing.
        exclude = super()._get_validation_exclusions()
        for name in ("safe_working_conditions", "pollution_controlled", "child_labour_found"):
            if self.cleaned_data.get(name) is None:
                exclude.add(name)
        return exclude


class ScreeningFilterForm(forms.Form):
    outcome = forms.ChoiceField(
        label=_("Result"),
        required=False,
        choices=[("draft", _("not completed")), *MeScreeningOutcome.choices],
    )
    partner_organization = forms.ModelChoiceField(
        label=_("PO"),
        required=False,
        queryset=PartnerOrganization.objects.order_by("code"),
        to_field_name="code",
        empty_label=_("All POs"),
    )
    q = forms.CharField(label=_("ME code or name"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        label_filter_form(self)
        style_form(self)


class ClearanceForm(StyledModelForm):
    class Meta:
        model = Clearance
        fields = ["kind", "number", "category", "scope", "issued_on", "expires_on"]
        widgets = {"issued_on": DATE, "expires_on": DATE}

    document = forms.FileField(
        label=_("Document (PDF, JPEG or PNG)"),
        required=False,
        help_text=_("The scanned certificate. Leave empty to keep the current one."),
    )

    def clean_document(self):
        upload = self.cleaned_data.get("document")
        problem = document_problem(upload)
        if problem:
            raise forms.ValidationError(problem)
        return upload


STATUS_CHOICES = [
    ("valid", _("valid")),
    ("expiring", _("expiring soon")),
    ("expired", _("expired")),
]


class ClearanceFilterForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), required=False, choices=ClearanceKind.choices)
    status = forms.ChoiceField(label=_("Status"), required=False, choices=STATUS_CHOICES)
    partner_organization = forms.ModelChoiceField(
        label=_("PO"),
        required=False,
        queryset=PartnerOrganization.objects.order_by("code"),
        to_field_name="code",
        empty_label=_("All POs"),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        label_filter_form(self)
        style_form(self)
