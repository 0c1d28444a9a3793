"""`{{ district.name|tr_name }}`: a reference name (area, sector, KPI, practice, module, indicator) in the
active language, for templates that show `.name` rather than the object (core.reference_names)."""

from django import template

from core.reference_names import translated_name

register = template.Library()


@register.filter
def tr_name(name: str | None) -> str:
    return translated_name(name) if name else ""
