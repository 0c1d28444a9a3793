"""Number fields that take numbers as people in Bangladesh type them: Bangla digits, lakh/crore or
thousands grouping, stray spaces ("১২৩", "4,20,000", "১২,৩৪,৫৬৭", "420,000", " 420 ").

`install()` (called once from CoreConfig.ready) changes Django's form fields in one place, so that
every form gets it — the portal's forms, ModelForms, the admin and django-filter's number filters:

- `forms.IntegerField`, `FloatField` and `DecimalField` normalise what was typed (`normalize_number`)
  before their own parsing and validation, which are otherwise unchanged: a mistyped number gets the
  field's usual message ("Enter a whole number.") under the field's label, and min/max/decimal places
  are checked as before. A grouping that is not one ("4,2,0") is not guessed at: it is refused.
- `forms.NumberInput` renders as <input type="text" inputmode="numeric|decimal">: browsers empty an
  <input type="number"> holding Bangla digits or commas (the form then said "This field is required"),
  while inputmode still brings up the digit keypad on phones. Its min/max/step move to data-min,
  data-max and data-step (meaningless on a text input); the server checks them as before.

The REST API's serializer fields are not Django form fields and keep taking JSON numbers.

Showing amounts: `bdt` (12,34,56,789; paisa only when there are some) and `lakh_crore` ("12.35 crore",
"4.2 lakh"), also template filters (core.templatetags.portal_format). They group by the active
language's NUMBER_GROUPING (smart_portal/formats); Bangla digits come from core.digits.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django import forms
from django.utils import formats
from django.utils.translation import gettext

from core.digits import to_latin_digits

# Arabic decimal and thousands separators and the minus sign, as some phone keyboards type them.
_SEPARATORS = str.maketrans({"\u066b": ".", "\u066c": ",", "\u2212": "-"})
# Thousands (420,000; 1,234,567) or lakh/crore (4,20,000; 12,34,56,789) grouping, with optional decimals.
# The first group never starts with 0: "0,500" is a decimal comma typed by mistake, not 500.
_GROUPED = re.compile(r"[+-]?(?:[1-9]\d{0,2}(?:,\d{3})+|[1-9]\d?(?:,\d{2})*,\d{3})(?:\.\d*)?", re.ASCII)
_INSTALLED = "_portal_accepts_bangla_digits"


def normalize_number(value: Any) -> Any:
    """A typed number with Latin digits, no grouping commas and no surrounding spaces; anything that is
    not a string (already a number, or None) as it is. Text that is not a well-grouped number keeps its
    commas so that the field refuses it."""
    if not isinstance(value, str):
        return value
    text = to_latin_digits(value).translate(_SEPARATORS).strip()
    if "," in text and _GROUPED.fullmatch(text):
        text = text.replace(",", "")
    return text


def _normalizing(to_python: Callable[[forms.Field, Any], Any]) -> Callable[[forms.Field, Any], Any]:
    @functools.wraps(to_python)
    def normalized_to_python(self: forms.Field, value: Any) -> Any:
        return to_python(self, normalize_number(value))

    setattr(normalized_to_python, _INSTALLED, True)
    return normalized_to_python


def _as_text_input(get_context: Callable[..., dict]) -> Callable[..., dict]:
    @functools.wraps(get_context)
    def get_context_as_text(self: forms.NumberInput, name: str, value: Any, attrs: dict | None) -> dict:
        context = get_context(self, name, value, attrs)
        widget_attrs = context["widget"]["attrs"]
        for limit in ("min", "max", "step"):
            if limit in widget_attrs:
                widget_attrs[f"data-{limit}"] = widget_attrs.pop(limit)
        # Decided here, not by the field, because forms imported before install() (the admin's) have
        # their widgets already; a fractional or "any" step is that of a FloatField or DecimalField.
        step = str(widget_attrs.get("data-step", "1")).lower()
        fractional = step == "any" or "." in step or "e" in step
        widget_attrs.setdefault("inputmode", "decimal" if fractional else "numeric")
        return context

    setattr(get_context_as_text, _INSTALLED, True)
    return get_context_as_text


def install() -> None:
    """Make Django's number form fields and NumberInput behave as the module's docstring says.
    Idempotent."""
    for field_class in (forms.IntegerField, forms.FloatField, forms.DecimalField):
        own = field_class.__dict__["to_python"]
        if not getattr(own, _INSTALLED, False):
            field_class.to_python = _normalizing(own)  # type: ignore[method-assign]
    if not getattr(forms.NumberInput.get_context, _INSTALLED, False):
        forms.NumberInput.input_type = "text"
        forms.NumberInput.get_context = _as_text_input(forms.NumberInput.get_context)  # type: ignore[method-assign]


# --- Showing amounts ---------------------------------------------------------------------------------

LAKH = Decimal(100_000)
CRORE = Decimal(10_000_000)
_PAISA = Decimal("0.01")


def as_decimal(value: Any) -> Decimal | None:
    """A number (or numeric text, Bangla digits and grouping included) as a Decimal; None otherwise."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(
            str(normalize_number(value)).replace(",", "") if isinstance(value, str) else str(value)
        )
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def group(number: Decimal | int, decimal_pos: int = 0) -> str:
    """`number` rounded half up to `decimal_pos` places, grouped the active language's way."""
    rounded = Decimal(number).quantize(Decimal(1).scaleb(-decimal_pos), ROUND_HALF_UP)
    return formats.number_format(rounded, decimal_pos, use_l10n=True, force_grouping=True)


def bdt(value: Any) -> str:
    """An amount of taka: 12,34,56,789, or 12,34,56,789.50 when there are paisa. Not a number: as given
    ("" for None)."""
    amount = as_decimal(value)
    if amount is None:
        return "" if value is None else str(value)
    amount = amount.quantize(_PAISA, ROUND_HALF_UP)
    return group(amount, 0 if amount == amount.to_integral_value() else 2)


def _short(quotient: Decimal) -> str:
    """Up to two decimals, without trailing zeros: 12.35, 4.2, 1."""
    rounded = quotient.quantize(_PAISA, ROUND_HALF_UP)
    places = next(p for p in (0, 1, 2) if rounded == rounded.quantize(Decimal(1).scaleb(-p)))
    return group(rounded, places)


def lakh_crore(value: Any) -> str:
    """An amount in words as summaries read it: "12.35 crore" from 1 crore (1,00,00,000), "4.2 lakh"
    from 1 lakh (1,00,000), the grouped amount below (bdt). Not a number: as given."""
    amount = as_decimal(value)
    if amount is None:
        return "" if value is None else str(value)
    sign = "-" if amount < 0 else ""
    size = abs(amount)
    if size < LAKH:
        return bdt(amount)
    if (size / LAKH).quantize(_PAISA, ROUND_HALF_UP) >= 100:  # 99,99,999 is "1 crore", not "100 lakh"
        return f"{sign}{_short(size / CRORE)} {gettext('crore')}"
    return f"{sign}{_short(size / LAKH)} {gettext('lakh')}"
