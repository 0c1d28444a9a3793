"""Amounts the Bangladeshi way: `{{ amount|bdt }}` (12,34,56,789) and `{{ amount|lakh_crore }}`
("12.35 crore", "4.2 lakh") for headline figures and summaries. Rules in core.numbers; Bangla digits
are added to the whole page by core.digits.BanglaDigitsMiddleware."""

from __future__ import annotations

from typing import Any

from django import template

from core import numbers

register = template.Library()


@register.filter
def bdt(value: Any) -> str:
    """12,34,56,789 (paisa only when there are some: 12,34,56,789.50)."""
    return numbers.bdt(value)


@register.filter
def lakh_crore(value: Any) -> str:
    """12.35 crore, 4.2 lakh; below 1 lakh the grouped amount (99,999)."""
    return numbers.lakh_crore(value)
