"""Drop-downs are written in Python (core.forms_rendering.render_select) for speed: the HTML must be
Django's own select.html / select_option.html, character for character, whatever the choices hold."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django import forms
from django.forms.renderers import DjangoTemplates
from django.test import RequestFactory
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy, override

from core.forms_rendering import OPTION_TEMPLATE, SELECT_TEMPLATE, PortalFormRenderer, label_blank_choice
from core.roles import Role
from enterprises.filters import EnterpriseFilter
from enterprises.models import Enterprise
from tests.factories import make_user


class TemplatesOnly(DjangoTemplates):
    """Django's renderer, with the blank choice labelled as the portal labels it."""

    def render(self, template_name, context, request=None):
        if "optgroups" in context.get("widget", {}):
            label_blank_choice(context["widget"])
        return super().render(template_name, context, request=request)


def by_templates(widget: forms.Widget, name: str, value) -> str:
    return widget.render(name, value, {"id": f"id_{name}"}, renderer=TemplatesOnly())


class PythonOnly(PortalFormRenderer):
    """The portal's renderer, failing if a select or an option falls back to its template: the
    comparisons below must compare the Python rendering, not the templates with themselves."""

    def get_template(self, template_name):
        assert template_name not in (SELECT_TEMPLATE, OPTION_TEMPLATE), (
            f"{template_name} drawn by its template"
        )
        return super().get_template(template_name)


def by_portal(widget: forms.Widget, name: str, value) -> str:
    return widget.render(name, value, {"id": f"id_{name}"}, renderer=PythonOnly())


AWKWARD = [
    ("", "---------"),
    ("a&b", 'Tom & "Jerry" <b>'),
    ("safe", mark_safe("<em>already safe</em>")),  # a trusted label, as a form may give
    ("lazy", gettext_lazy("Choose…")),
    (3, 2025),
    (Decimal("1.50"), Decimal("1.50")),
    (datetime.date(2025, 1, 31), datetime.date(2025, 1, 31)),
    ("Group <1>", [("g1", "In a group"), ("g2", "Also 'quoted'")]),
    ("বাংলা", "ঢাকা বিভাগ"),
]


@pytest.mark.parametrize(
    ("widget", "value"),
    [
        (forms.Select(choices=AWKWARD), "a&b"),
        (forms.Select(choices=AWKWARD, attrs={"required": True, "data-x": 'say "hi"'}), None),
        (
            forms.Select(choices=AWKWARD, attrs={"disabled": False, "aria-label": gettext_lazy("Filter")}),
            "g2",
        ),
        (forms.SelectMultiple(choices=AWKWARD), ["g1", "lazy", "3"]),
        (forms.NullBooleanSelect(), True),
        (forms.Select(choices=[]), None),
    ],
    ids=["selected", "required-attrs", "optgroup-selected", "multiple", "null-boolean", "empty"],
)
@pytest.mark.parametrize("language", ["en", "bn"])
def test_a_select_is_written_exactly_as_the_templates_write_it(widget, value, language):
    with override(language):
        assert by_portal(widget, "choice", value) == by_templates(widget, "choice", value)


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["en", "bn"])
def test_the_enterprise_filter_bar_is_written_exactly_as_the_templates_write_it(db, language):
    """The real thing: POs, sub-projects, the district and upazila pickers (data attributes for
    type-to-filter), the sub-sectors, Any/Yes/No and ordering, unbound and with choices made."""
    request = RequestFactory().get("/enterprises/")
    request.user = make_user(Role.PMU_OFFICER)
    bound = {"district": "BD3048", "owner_gender": "female", "has_gps": "true", "ordering": "-code"}
    with override(language):
        for data in (None, bound):
            form = EnterpriseFilter(data, queryset=Enterprise.objects.all(), request=request).form
            form.is_valid()
            selects = [name for name, field in form.fields.items() if isinstance(field.widget, forms.Select)]
            assert len(selects) >= 10
            for name in selects:
                bound_field = form[name]
                widget, value = bound_field.field.widget, bound_field.value()
                assert by_portal(widget, bound_field.html_name, value) == by_templates(
                    widget, bound_field.html_name, value
                ), name
