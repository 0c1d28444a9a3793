"""Issue 15: the reference data the migrations load is named in Bangla in the Bangla interface."""

from __future__ import annotations

import pytest
from django.template import Context, Template
from django.utils import translation

from core.models import BusinessArea, District, Division, Sector, SubSector, Upazila
from core.reference_names import NAMES, translated_name
from enterprises.models import Kpi, RecpPractice, TrainingModule
from monitoring.models import Indicator

pytestmark = pytest.mark.django_db

REFERENCE_MODELS = [
    BusinessArea,
    Sector,
    SubSector,
    Kpi,
    RecpPractice,
    TrainingModule,
    Indicator,
    Division,
    District,
    Upazila,
]


@pytest.mark.parametrize("model", REFERENCE_MODELS, ids=lambda model: model.__name__)
def test_every_reference_name_loaded_by_the_migrations_is_in_the_catalogue(model):
    names = set(model.objects.values_list("name", flat=True))
    assert names, f"the migrations load {model.__name__} rows"
    assert names - set(NAMES) == set()
    with translation.override("bn"):
        untranslated = {name for name in names if translated_name(name) == name}
    assert untranslated == set()


def test_objects_and_the_template_filter_show_the_name_in_the_active_language():
    district = District.objects.get(name="Kishoreganj")
    practice = RecpPractice.objects.get(code="WA-02")
    template = Template("{% load reference %}{{ district.name|tr_name }}|{{ district }}|{{ practice }}")
    context = Context({"district": district, "practice": practice})
    assert template.render(context) == "Kishoreganj|Kishoreganj|WA-02 · Rainwater harvesting"
    with translation.override("bn"):
        assert template.render(context) == "কিশোরগঞ্জ|কিশোরগঞ্জ|WA-02 · বৃষ্টির পানি সংরক্ষণ"


def test_a_name_the_catalogue_does_not_know_is_shown_as_typed():
    with translation.override("bn"):
        assert translated_name("Kishoreganj Sadar East (new)") == "Kishoreganj Sadar East (new)"
        assert translated_name("") == ""


def test_labels_stored_in_english_are_shown_part_by_part_in_the_active_language():
    template = Template("{% load reference %}{{ label|tr_parts }}|{{ reasons|tr_lines }}")
    context = Context(
        {
            "label": "WA-02 · Rainwater harvesting — PUS-00016 · Nobin Shoe Works",
            "reasons": "child labour found\nno DoE certificate on file",
        }
    )
    with translation.override("bn"):
        rendered = template.render(context)
    assert rendered.startswith("WA-02 · বৃষ্টির পানি সংরক্ষণ — PUS-00016 · Nobin Shoe Works|")
    # A line the catalogue has is translated; one it does not have is shown as stored.
    assert rendered.endswith("; no DoE certificate on file")
    assert "child labour found" not in rendered
