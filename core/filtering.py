"""How the filter bars of the lists read: yes/no filters offer "Any / Yes / No" (django-filter's
default says "Unknown" for "any"), and a drop-down's empty choice says what it means ("Any status",
"All POs") rather than "---------".

Every FilterSet of a list page derives from `PortalFilterSet`; a plain Django form used as a filter
bar goes through `label_filter_form`. A filter may name its empty choice itself
(`empty_label=_("All POs")`); otherwise it is "Any <label>".
"""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models.fields import BLANK_CHOICE_DASH
from django.utils.functional import Promise, lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django_filters.conf import settings as filter_settings
from django_filters.widgets import BooleanWidget

# The empty choice as Django and django-filter label it.
DASHES = frozenset({BLANK_CHOICE_DASH[0][1], filter_settings.EMPTY_CHOICE_LABEL})
# ... and as some filter bars labelled it by hand.
FILTER_BLANKS = DASHES | {"—", ""}
YES_NO_VALUES = ({"yes", "no"}, {"true", "false"})


class AnyYesNoSelect(BooleanWidget):
    """A yes/no filter: "Any" (no filter), "Yes", "No". It reads true/false (and 1/0) as
    django-filter's BooleanWidget does, so the addresses of filtered lists stay the same."""

    def __init__(self, attrs=None):
        super().__init__(attrs)
        self.choices = [("", _("Any")), ("true", _("Yes")), ("false", _("No"))]


def _any_of(label: str | Promise | None) -> str:
    thing = str(label or "").strip()
    if not thing:
        return gettext("Any")
    # "Status" → "any status", but "PO" stays "PO".
    if thing[:1].isupper() and not thing[1:2].isupper():
        thing = thing[:1].lower() + thing[1:]
    return gettext("Any %(thing)s") % {"thing": thing}


any_of = lazy(_any_of, str)


def _is_yes_no(field: forms.Field) -> bool:
    return isinstance(field, forms.NullBooleanField) or isinstance(
        field.widget, forms.NullBooleanSelect | BooleanWidget
    )


def _empty_label_for(field: forms.Field, choices: list) -> str | Promise:
    values = {str(value) for value, _label in choices if value not in ("", None)}
    # A yes/no choice ("Overdue: yes/no") reads best as "Any / yes / no".
    if values in YES_NO_VALUES:
        return _("Any")
    return any_of(field.label)


def label_filter_field(field: forms.Field) -> None:
    """Give one filter field the labels above (idempotent: a label already given stays)."""
    if _is_yes_no(field):
        if not isinstance(field.widget, AnyYesNoSelect):
            field.widget = AnyYesNoSelect(attrs=field.widget.attrs)
        return
    if isinstance(field, forms.MultipleChoiceField | forms.ModelMultipleChoiceField):
        return
    if isinstance(field, forms.ModelChoiceField):
        if field.empty_label is not None and str(field.empty_label) in FILTER_BLANKS:
            field.empty_label = any_of(field.label)
        return
    if not isinstance(field, forms.ChoiceField):
        return
    if hasattr(field, "empty_label"):
        # django-filter's ChoiceField adds its empty choice (read from here) before the others.
        if field.empty_label is not None and str(field.empty_label) in FILTER_BLANKS:
            field.empty_label = _empty_label_for(field, list(field.choices))
        # The widget draws the choices of this field: a field copied from one whose widget was
        # already bound (a filter's field built once for the API schema) would draw the other's.
        field.widget.choices = field.choices
        return
    choices = list(field.choices)
    if choices and choices[0][0] in ("", None):
        if str(choices[0][1]) in FILTER_BLANKS:
            field.choices = [("", _empty_label_for(field, choices)), *choices[1:]]
    elif not field.required:
        # A choice filter with no empty choice would always select its first value.
        field.choices = [("", _empty_label_for(field, choices)), *choices]


def label_filter_form(form: forms.BaseForm) -> forms.BaseForm:
    """A plain Django form used as a list's filter bar: the same labels as PortalFilterSet's."""
    for field in form.fields.values():
        label_filter_field(field)
    return form


class PortalFilterSet(django_filters.FilterSet):
    """The base of the FilterSets of list pages: Any/Yes/No and "Any <thing>" in their forms."""

    def get_form_class(self):
        form_class = super().get_form_class()
        for field in form_class.base_fields.values():
            label_filter_field(field)
        return form_class
