"""Forms of the exclusion list and of the PMU's E&S review (shape only; the rules are in
safeguards.exclusions and safeguards.reviews)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from core.filtering import label_filter_form
from safeguards.models import EsReviewStatus, ExclusionItem


class ExclusionItemForm(forms.ModelForm):
    class Meta:
        model = ExclusionItem
        fields = ["code", "name", "description", "position", "active"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}
        help_texts = {"code": _("A short stable identifier, e.g. “tobacco” (letters, digits and hyphens).")}


class ConditionsForm(forms.Form):
    """The E&S officer's "clear with conditions": one condition a line, and the comment."""

    conditions = forms.CharField(
        label=_("E&S conditions, one a line"),
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
        help_text=_("Each line becomes a condition the PO must meet (with evidence) before the award."),
    )
    comment = forms.CharField(label=_("Comment"), widget=forms.Textarea(attrs={"rows": 2}), required=False)


class ReviewFilterForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), choices=EsReviewStatus.choices, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        label_filter_form(self)
