"""The portal's form renderer (settings.FORM_RENDERER): Django's, except that the empty choice of a
drop-down says what it is. Django and its model forms show "---------"; a required drop-down shows
"Choose…" instead, an optional one "(none)". Filter bars give theirs a meaning of their own first
("Any status", core.filtering), so only the dashes left are replaced, in every form at once.

Drop-downs are also written here, in Python, as Django's select.html and select_option.html write
them (the same HTML, character for character): through the templates, each option is an include,
and the enterprise list's filter bar (100 POs, 64 districts, the sub-projects...) spent more time in
its option templates than in its database queries.
"""

from __future__ import annotations

from typing import Any

from django.forms.renderers import DjangoTemplates
from django.utils.formats import localize
from django.utils.html import conditional_escape, escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.timezone import template_localtime
from django.utils.translation import gettext as _

from core.filtering import DASHES


def label_blank_choice(widget: dict[str, Any]) -> None:
    """Replace the dashes of a select's empty choice in its rendering context (in place)."""
    required = bool(widget.get("required") or widget.get("attrs", {}).get("required"))
    for _group, options, _index in widget.get("optgroups", ()):
        for option in options:
            if option.get("value") in ("", None) and str(option.get("label")) in DASHES:
                option["label"] = _("Choose…") if required else _("(none)")
                return


SELECT_TEMPLATE = "django/forms/widgets/select.html"
OPTION_TEMPLATE = "django/forms/widgets/select_option.html"


def _formatted(value: Any) -> str:
    """`{{ value|stringformat:'s' }}`: the value as text, escaped unless it is already safe HTML."""
    return conditional_escape(value) if isinstance(value, str) else escape(str(value))


def _shown(value: Any) -> str:
    """`{{ value }}`: localized as a template shows it, then escaped unless safe."""
    value = localize(template_localtime(value))
    return conditional_escape(value if isinstance(value, str) else str(value))


def _attrs(attrs: dict[str, Any]) -> str:
    """django/forms/widgets/attrs.html."""
    return "".join(
        f" {conditional_escape(name)}" + ("" if value is True else f'="{_formatted(value)}"')
        for name, value in attrs.items()
        if value is not False
    )


def render_select(widget: dict[str, Any]) -> SafeString | None:
    """The select as Django's templates render it; None when an option has a template of its own."""
    parts = [f'<select name="{_shown(widget["name"])}"{_attrs(widget["attrs"])}>']
    for group_name, options, _index in widget["optgroups"]:
        if group_name:
            parts.append(f'\n  <optgroup label="{_shown(group_name)}">')
        for option in options:
            if option.get("template_name") != OPTION_TEMPLATE:
                return None
            parts.append(
                f'\n  <option value="{_formatted(option["value"])}"{_attrs(option["attrs"])}>'
                f"{_shown(option['label'])}</option>\n"  # select_option.html's last line
            )
        if group_name:
            parts.append("\n  </optgroup>")
    parts.append("\n</select>")
    return mark_safe("".join(parts))  # noqa: S308 - every value above is escaped as the templates do


class PortalFormRenderer(DjangoTemplates):
    def render(self, template_name: str, context: dict[str, Any], request=None) -> str:
        widget = context.get("widget") if isinstance(context, dict) else None
        if isinstance(widget, dict) and "optgroups" in widget:
            label_blank_choice(widget)
            if template_name == SELECT_TEMPLATE and (html := render_select(widget)) is not None:
                return html
        return super().render(template_name, context, request=request)
