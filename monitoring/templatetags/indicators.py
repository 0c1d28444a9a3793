from decimal import Decimal

from django import template
from django.contrib.humanize.templatetags.humanize import intcomma
from django.utils.translation import gettext as _

from monitoring import dashboard
from monitoring.models import Unit

register = template.Library()


@register.filter
def figure(value, unit: str) -> str:
    """An indicator's value as people read it: 12,345 MEs; 7.7 M USD; 37.7 %."""
    if value is None:
        return "—"
    value = Decimal(value)
    if unit == Unit.USD:
        if abs(value) >= 1_000_000:
            return _("%(amount)s M USD") % {"amount": f"{value / 1_000_000:,.1f}"}
        return f"{intcomma(int(value.quantize(Decimal('1'))))} USD"
    if unit == Unit.PERCENT:
        return f"{value:.1f} %"
    return intcomma(int(value.quantize(Decimal("1"))))


@register.filter
def get_item(mapping: dict, key):
    return mapping.get(key, "")


@register.filter
def yearly(monthly):
    """A monthly amount at the same rate for twelve months."""
    return None if monthly is None else Decimal(monthly) * 12


@register.simple_tag
def drill_down(code: str, as_of, po=None) -> dict | None:
    """The link to the records behind an indicator's figure as of a date, within one PO or the
    programme: {"url", "label"}, or None when no list shows them (monitoring.dashboard.DRILL_DOWNS)."""
    url = dashboard.drill_down_url(code, as_of, po_code=po.code if po else None)
    return {"url": url, "label": dashboard.drill_down_label(code)} if url else None
