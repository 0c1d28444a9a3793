"""Serializers of the scorecard API: a PO's scorecard of a quarter with its measures, composite and rank
(the composite and rank with the weights in force when read), and the PMU's weights."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.models import PartnerOrganization, User
from finance import scorecards
from finance.models.scorecards import Scorecard, ScorecardMeasure, ScorecardWeight


class MeasureSerializer(serializers.Serializer):
    measure = serializers.ChoiceField(choices=ScorecardMeasure.choices)
    name = serializers.CharField()
    value = serializers.DecimalField(max_digits=18, decimal_places=2, allow_null=True)
    target = serializers.DecimalField(
        max_digits=18, decimal_places=2, allow_null=True, help_text="Null when the measure has no target."
    )
    score = serializers.FloatField(
        allow_null=True, help_text="0-100 (capped); null when the measure does not apply to the PO."
    )
    weight = serializers.IntegerField(help_text="The measure's weight in the composite, as set now.")


class ScorecardSerializer(serializers.ModelSerializer):
    partner_organization: serializers.SlugRelatedField[PartnerOrganization] = serializers.SlugRelatedField(
        slug_field="code", read_only=True
    )
    partner_organization_name = serializers.CharField(source="partner_organization.name", read_only=True)
    quarter = serializers.SerializerMethodField()
    to_date = serializers.SerializerMethodField()
    measures = serializers.SerializerMethodField()
    composite = serializers.SerializerMethodField()
    rank = serializers.SerializerMethodField()
    ranked_pos = serializers.SerializerMethodField()

    class Meta:
        model = Scorecard
        fields = [
            "id",
            "partner_organization",
            "partner_organization_name",
            "quarter_end",
            "quarter",
            "to_date",
            "composite",
            "rank",
            "ranked_pos",
            "measures",
            "computed_at",
            "updated_at",
        ]
        read_only_fields = fields

    # The weights and the ranks of the quarters on the page are read once per response.
    def _weights(self) -> dict[str, int]:
        cache = self.context.setdefault("scorecard_cache", {})
        if "weights" not in cache:
            cache["weights"] = scorecards.current_weights()
        return cache["weights"]

    def _ranked(self, card: Scorecard) -> scorecards.Ranked | None:
        """The card's ranked line; the ranks of every quarter in `context["quarters"]` (the page's) are
        read together, once."""
        cache = self.context.setdefault("scorecard_cache", {})
        ranks: dict = cache.setdefault("ranks", {})
        counts: dict = cache.setdefault("counts", {})
        if card.quarter_end not in counts:
            wanted = {card.quarter_end, *self.context.get("quarters", ())} - set(counts)
            ranked = scorecards.ranks_of(wanted, self._weights())
            ranks.update(ranked)
            for quarter in wanted:
                counts[quarter] = sum(1 for key in ranked if key[0] == quarter)
        return ranks.get((card.quarter_end, card.partner_organization_id))

    def get_quarter(self, card: Scorecard) -> str:
        return scorecards.quarter_label(card.quarter_end)

    def get_to_date(self, card: Scorecard) -> bool:
        return scorecards.is_to_date(card.quarter_end)

    @extend_schema_field(MeasureSerializer(many=True))
    def get_measures(self, card: Scorecard) -> Any:
        rows = scorecards.measure_rows(card, self._weights())
        return MeasureSerializer(
            [
                {
                    "measure": row.measure,
                    "name": row.label,
                    "value": row.value,
                    "target": row.target,
                    "score": row.score,
                    "weight": row.weight,
                }
                for row in rows
            ],
            many=True,
        ).data

    @extend_schema_field(serializers.FloatField(allow_null=True))
    def get_composite(self, card: Scorecard) -> float | None:
        return scorecards.composite(card.measures, self._weights())

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_rank(self, card: Scorecard) -> int | None:
        ranked = self._ranked(card)
        return ranked.rank if ranked else None

    @extend_schema_field(serializers.IntegerField())
    def get_ranked_pos(self, card: Scorecard) -> int:
        self._ranked(card)
        return self.context["scorecard_cache"]["counts"].get(card.quarter_end, 0)


class ScorecardWeightSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="get_measure_display", read_only=True)
    weight = serializers.IntegerField(min_value=0, max_value=100)
    updated_by: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )

    class Meta:
        model = ScorecardWeight
        fields = ["measure", "name", "weight", "updated_by", "updated_at"]
        read_only_fields = ["measure", "name", "updated_by", "updated_at"]


class WeightsSerializer(serializers.Serializer):
    """All eight weights at once (each a whole number from 0 to 100; at least one above 0)."""

    mes_reached = serializers.IntegerField(min_value=0, max_value=100)
    women_led = serializers.IntegerField(min_value=0, max_value=100)
    recp_verified = serializers.IntegerField(min_value=0, max_value=100)
    kpi_tracking = serializers.IntegerField(min_value=0, max_value=100)
    fund_utilisation = serializers.IntegerField(min_value=0, max_value=100)
    reporting_timeliness = serializers.IntegerField(min_value=0, max_value=100)
    data_quality = serializers.IntegerField(min_value=0, max_value=100)
    portfolio_quality = serializers.IntegerField(min_value=0, max_value=100)
