"""The portal's form renderer (settings.FORM_RENDERER): Django's, except that the empty choice of a
drop-down says what it is. Django and its model forms show "---------"; a required drop-down shows
"Choose…" instead, an optional one "(none)". Filter bars give theirs a meaning of their own first
("Any status", core.filtering), so only the dashes left are replaced, in every form at once.
"""

from __future__ import annotations

from typing import Any

from django.forms.renderers import DjangoTemplates
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


class PortalFormRenderer(DjangoTemplates):
    def render(self, template_name: str, context: dict[str, Any], request=None) -> str:
        widget = context.get("widget") if isinstance(context, dict) else None
        if isinstance(widget, dict) and "optgroups" in widget:
            label_blank_choice(widget)
        return super().render(template_name, context, request=request)
