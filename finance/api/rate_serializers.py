"""API shapes of the exchange-rate table. The rules are in finance.rates; serializers check the shape
only."""

from __future__ import annotations

from decimal import Decimal

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from finance.models import ExchangeRate
from finance.rates import RATE_DECIMALS


class ExchangeRateSerializer(serializers.ModelSerializer):
    bdt_per_usd = serializers.DecimalField(
        max_digits=10, decimal_places=RATE_DECIMALS, read_only=True, help_text=_("Taka for one US dollar.")
    )
    entered_by = serializers.SerializerMethodField(
        help_text=_("Who entered the rate (empty: set up with the portal).")
    )

    class Meta:
        model = ExchangeRate
        fields = ["id", "valid_from", "bdt_per_usd", "source", "entered_by", "updated_at"]
        read_only_fields = fields

    def get_entered_by(self, rate: ExchangeRate) -> str:
        return rate.created_by.get_display_name() if rate.created_by is not None else ""


class ExchangeRateSavedSerializer(ExchangeRateSerializer):
    warning = serializers.CharField(
        allow_null=True,
        read_only=True,
        help_text=_("Set when the rate is more than 10% away from the previous one: saved, but check it."),
    )

    class Meta(ExchangeRateSerializer.Meta):
        fields = [*ExchangeRateSerializer.Meta.fields, "warning"]
        read_only_fields = fields


class ExchangeRateInputSerializer(serializers.Serializer):
    """What the PMU gives to enter a rate (all three) or to correct one (any of them)."""

    valid_from = serializers.DateField(help_text=_("The first day the rate applies."))
    bdt_per_usd = serializers.DecimalField(
        max_digits=10,
        decimal_places=RATE_DECIMALS,
        min_value=Decimal("0.01"),
        help_text=_("Taka for one US dollar, above zero, up to 4 decimals."),
        error_messages={"min_value": _("The rate must be above zero (BDT for one USD).")},
    )
    source = serializers.CharField(  # type: ignore[assignment]
        max_length=120, required=False, allow_blank=True, default=""
    )
