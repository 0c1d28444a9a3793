"""`{{ district.name|tr_name }}`: a reference name (area, sector, KPI, practice, module, indicator) in the
active language, for templates that show `.name` rather than the object (core.reference_names)."""

import re

from django import template

from core.reference_names import translated_name

register = template.Library()


@register.filter
def tr_name(name: str | None) -> str:
    return translated_name(name) if name else ""


@register.filter
def tr_lines(text: str | None) -> str:
    """Text stored one statement a line in English (e.g. a screening's reasons, written when it was
    completed), each line in the active language where the catalogue has it, joined by "; "."""
    if not text:
        return ""
    return "; ".join(translated_name(line) for line in text.splitlines() if line.strip())


_SEPARATORS = re.compile(r"( · | — )")


@register.filter
def tr_parts(label: str | None) -> str:
    """A label stored in English from names joined by " · " or " — " (e.g. a verification check's
    sampled item: "WA-02 · Rainwater harvesting — PO-001 · Rahima Store"), each name in the active
    language where the catalogue has it."""
    if not label:
        return ""
    return "".join(
        part if _SEPARATORS.fullmatch(part) else translated_name(part) for part in _SEPARATORS.split(label)
    )
