"""Forms of the scorecard pages: the quarter picker and the PMU's weights."""

from __future__ import annotations

from datetime import date
from typing import cast

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from finance import scorecards
from finance.models.scorecards import ScorecardMeasure


class QuarterForm(forms.Form):
    """The quarters that have scorecards, newest first (the quarter under way says "to date")."""

    quarter = forms.TypedChoiceField(label=_("Quarter"), coerce=date.fromisoformat, required=False)

    def __init__(self, *args, quarters: list[date], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        field = cast(forms.TypedChoiceField, self.fields["quarter"])
        field.choices = [(quarter.isoformat(), scorecards.quarter_label(quarter)) for quarter in quarters]
        field.widget.attrs["class"] = "form-select form-select-sm"


class WeightsForm(forms.Form):
    """One whole number from 0 to 100 per measure; at least one above 0."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for measure in ScorecardMeasure:
            self.fields[measure.value] = forms.IntegerField(
                label=measure.label,
                min_value=0,
                max_value=100,
                error_messages={
                    "required": _("Enter a whole number from 0 to 100."),
                    "invalid": _("Enter a whole number from 0 to 100."),
                    "min_value": _("Enter a whole number from 0 to 100."),
                    "max_value": _("Enter a whole number from 0 to 100."),
                },
            )

    def clean(self) -> dict:
        cleaned = super().clean() or {}
        if not self.errors:
            try:
                scorecards.check_weights(cleaned)
            except ValidationError as error:
                raise ValidationError(error.messages) from error
        return cleaned
