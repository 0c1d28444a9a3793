"""How decimal fields appear in the OpenAPI schema: strings with their scale whose pattern and example
respect the field's bounds.

Decimals are strings in JSON (DRF's COERCE_DECIMAL_TO_STRING), so drf-spectacular documents them by a
pattern only (`minimum`/`maximum` apply to numbers). Left alone, the pattern admits a sign even where
the field refuses negatives, and documentation tools draw their examples from it
(`"budget_pksf": "-186524472390.1"`). Here a field that refuses negatives (`min_value` ≥ 0, from the
serializer or the model's validators) gets an unsigned pattern, its bounds are stated in the
description, and every decimal gets a plausible example within them.

Imported by core.api.serializers, so the extension is registered whenever the API is loaded.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from rest_framework import serializers

# Plausible coordinates in Bangladesh (Dhaka) for the fields named so.
COORDINATE_EXAMPLES = {"latitude": Decimal("23.810332"), "longitude": Decimal("90.412518")}


def decimal_example(field: serializers.DecimalField) -> Decimal:
    """A value of the field's scale within its bounds: a coordinate in Bangladesh for coordinates,
    otherwise 2.5 times a power of ten suited to its digits (250000.00 for money, 25.00 for a score)."""
    name = field.field_name or ""
    example = next((value for key, value in COORDINATE_EXAMPLES.items() if name.endswith(key)), None)
    if example is None:
        whole_digits = (field.max_digits or 12) - (field.decimal_places or 0)
        example = Decimal("2.5") * Decimal(10) ** max(0, min(5, whole_digits - 2))
    if field.max_value is not None and example > Decimal(field.max_value):
        example = Decimal(field.max_value)
    if field.min_value is not None and example < Decimal(field.min_value):
        example = Decimal(field.min_value)
    if field.decimal_places is not None:
        example = example.quantize(Decimal(1).scaleb(-field.decimal_places))
    return example


def bounds_sentence(field: serializers.DecimalField) -> str:
    """The field's bounds in words (in the language the schema is generated in), or ""."""
    low, high = field.min_value, field.max_value
    if low is not None and high is not None:
        return _("A decimal string from %(low)s to %(high)s.") % {"low": low, "high": high}
    if low is not None:
        return _("A decimal string, at least %(low)s.") % {"low": low}
    if high is not None:
        return _("A decimal string, at most %(high)s.") % {"high": high}
    return ""


class DecimalFieldExtension(OpenApiSerializerFieldExtension):
    target_class = serializers.DecimalField
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction) -> dict[str, Any]:
        field: serializers.DecimalField = self.target
        schema = auto_schema._map_serializer_field(field, direction, bypass_extensions=True)
        if schema.get("type") != "string":  # COERCE_DECIMAL_TO_STRING off for this field
            return schema
        if field.min_value is not None and Decimal(field.min_value) >= 0 and "pattern" in schema:
            schema["pattern"] = schema["pattern"].replace("^-?", "^", 1)
        if not field.help_text:  # a help text replaces this description (drf-spectacular)
            description = bounds_sentence(field)
            if description:
                schema["description"] = description
        schema["example"] = str(decimal_example(field))
        return schema
