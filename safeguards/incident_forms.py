"""Forms of the incident pages: the PO's report, the root cause, a corrective action."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from core.pickers import mark_pickers
from enterprises.models import CommonServiceFacility, Enterprise
from safeguards.incidents import REPORT_FIELDS
from safeguards.models import CorrectiveAction, Incident
from subprojects.models import SubProject

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _style(form: forms.Form) -> None:
    for field in form.fields.values():
        widget = field.widget
        if isinstance(widget, forms.Select):
            widget.attrs.setdefault("class", "form-select")
        else:
            widget.attrs.setdefault("class", "form-control")


class IncidentReportForm(forms.ModelForm):
    """The PO's report: the sub-project, enterprise and facility offered are the PO's own only (another
    PO's id is refused as one that does not exist)."""

    class Meta:
        model = Incident
        fields = list(REPORT_FIELDS)
        widgets = {
            "occurred_on": DATE,
            "learned_on": DATE,
            "description": forms.Textarea(attrs={"rows": 4}),
            "immediate_actions": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        po_id = user.partner_organization_id
        self.fields["sub_project"].queryset = SubProject.objects.filter(partner_organization_id=po_id)
        self.fields["enterprise"].queryset = Enterprise.objects.filter(
            partner_organization_id=po_id
        ).order_by("name")
        self.fields["facility"].queryset = CommonServiceFacility.objects.filter(partner_organization_id=po_id)
        self.fields["district"].queryset = self.fields["district"].queryset.order_by("name")
        _style(self)
        mark_pickers(self)

    def _post_clean(self) -> None:
        # The model's own checks run in the service (safeguards.incidents.report_incident), once the PO,
        # the reporter and the time are set.
        pass


class RootCauseForm(forms.Form):
    root_cause = forms.CharField(label=_("Root cause"), widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _style(self)


class CorrectiveActionForm(forms.ModelForm):
    class Meta:
        model = CorrectiveAction
        fields = ["description", "responsible", "due_on"]
        widgets = {"due_on": DATE, "description": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _style(self)

    def _post_clean(self) -> None:
        pass
