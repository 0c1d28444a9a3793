"""The form of an exchange rate. It checks the shape only; finance.rates decides (unique date, no change
in a finalised IFR's period) and warns of a jump."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from finance.models import ExchangeRate
from finance.rates import RATE_DECIMALS


class ExchangeRateForm(forms.ModelForm):
    bdt_per_usd = forms.DecimalField(
        label=_("BDT per USD"),
        min_value=Decimal("0.01"),
        max_digits=10,
        decimal_places=RATE_DECIMALS,
        help_text=_("Taka for one US dollar, up to 4 decimals, e.g. 117.00."),
        error_messages={
            "min_value": _("The rate must be above zero (BDT for one USD)."),
            "max_decimal_places": _("Give the rate with at most %(max)s decimals."),
        },
    )

    class Meta:
        model = ExchangeRate
        fields = ["valid_from", "bdt_per_usd", "source"]
        widgets = {"valid_from": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")}
        help_texts = {
            "valid_from": _("The first day the rate applies; it applies until the day before the next rate."),
            "source": _("Where the rate comes from, e.g. Bangladesh Bank mid-rate of that day."),
        }

    def validate_unique(self) -> None:
        """finance.rates checks the date is free (with a message saying what to do instead)."""
