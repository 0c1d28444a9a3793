"""Searchable drop-downs for the long lists of places (issue 15): 64 districts and 507 upazilas are too
many to scroll through on a phone. A select marked `data-picker` gets a type-to-filter box from
static/portal/picker.js; without JavaScript it is a plain select.

The box finds a place by its English or its Bangla name, whichever language the page is in: each option
carries both in `data-search` (the Bangla from the translation catalogue, core.reference_names), and
picker.js also compares Bangla typing with the English spelling by sound.

Forms mark their district and upazila fields with `mark_pickers(form)`; a filter declared on its own
takes `widget=picker_select()`.
"""

from __future__ import annotations

import functools

from django import forms
from django.utils import translation

from core.models import District, Upazila
from core.reference_names import translated_name

PICKER_ATTRS: dict[str, bool] = {"data-picker": True}
PICKED_MODELS = (District, Upazila)


@functools.lru_cache(maxsize=2048)
def search_words(name: str) -> str:
    """A place's name in English and in Bangla (the English alone while the catalogue has no Bangla).
    Remembered per name: the catalogue does not change while the process runs, and looking a name up
    in another language costs about 40 µs (64 districts in every list's filter bar)."""
    with translation.override("bn"):
        bangla = translated_name(name)
    return name if bangla == name else f"{name} {bangla}"


class PickerMixin:
    """Options with `data-search`: the name of the place they stand for, in both languages."""

    # The model whose names to look up when the choices are plain ids (grouped choices, see
    # subprojects.forms.GroupedModelMultipleChoiceField), read once per rendering.
    name_model: type | None = None

    def optgroups(self, name, value, attrs=None):
        self._names = None
        return super().optgroups(name, value, attrs)

    def _name_of(self, value) -> str | None:
        instance = getattr(value, "instance", None)
        if instance is not None:
            return getattr(instance, "name", None)
        if self.name_model is None or not str(value).isdigit():
            return None
        if self._names is None:
            self._names = dict(self.name_model.objects.values_list("pk", "name"))
        return self._names.get(int(value))

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex=subindex, attrs=attrs)
        place = self._name_of(value)
        if place:
            option["attrs"]["data-search"] = search_words(place)
        return option


class PickerSelect(PickerMixin, forms.Select):
    pass


class PickerSelectMultiple(PickerMixin, forms.SelectMultiple):
    pass


def picker_select(attrs: dict | None = None) -> PickerSelect:
    """A single-choice select with the type-to-filter box."""
    return PickerSelect(attrs={**PICKER_ATTRS, **(attrs or {})})


def _picker_widget(old: forms.Select, model: type) -> forms.Select:
    widget_class = PickerSelectMultiple if isinstance(old, forms.SelectMultiple) else PickerSelect
    widget = widget_class(attrs={**old.attrs, **PICKER_ATTRS})
    widget.choices = old.choices
    widget.is_required = old.is_required
    widget.is_localized = old.is_localized
    widget.name_model = model
    return widget


def mark_pickers(form: forms.BaseForm) -> forms.BaseForm:
    """Give every district or upazila drop-down of `form` (single or multiple choice) the filter box.
    Call it once the fields' querysets are set (a queryset set later still reaches the new widget)."""
    for field in form.fields.values():
        queryset = getattr(field, "queryset", None)
        if (
            queryset is not None
            and queryset.model in PICKED_MODELS
            and isinstance(field.widget, forms.Select)
            and not isinstance(field.widget, PickerMixin)
        ):
            field.widget = _picker_widget(field.widget, queryset.model)
    return form
