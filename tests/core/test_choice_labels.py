"""Drop-downs say what their empty choice means: "Any …" / "All POs" in the filter bars, Any/Yes/No
for yes/no filters, "Choose…" in a form's required drop-down; never "---------" or "Unknown"."""

from __future__ import annotations

import re

import django_filters
import pytest
from django import forms
from django.urls import reverse

from core.filtering import PortalFilterSet, label_filter_form
from core.forms_rendering import PortalFormRenderer
from core.models import PartnerOrganization
from core.roles import Role
from tests.factories import make_user

LIST_PAGES = [
    "core:po-list",
    "enterprises:enterprise-list",
    "enterprises:support-list",
    "enterprises:attendance-list",
    "enterprises:adoption-list",
    "enterprises:profile-list",
    "enterprises:reading-list",
    "enterprises:training-list",
    "enterprises:training-module-list",
    "enterprises:facility-list",
    "enterprises:practice-list",
    "enterprises:kpi-list",
    "enterprises:duplicate-list",
    "enterprises:cluster-list",
    "enterprises:suggestion-list",
    "enterprises:sessions-to-map",
    "enterprises:import-list",
    "subprojects:call-list",
    "subprojects:note-list",
    "subprojects:proposal-list",
    "subprojects:meeting-list",
    "subprojects:subproject-list",
    "finance:loan-list",
    "finance:release-list",
    "finance:subproject-finance-list",
    "finance:receipt-list",
    "finance:spending-report-list",
    "finance:expenditure-list",
    "finance:progress-list",
    "finance:rate-list",
    "safeguards:screening-list",
    "safeguards:clearance-list",
    "safeguards:clearance-expired",
    "safeguards:review-list",
    "safeguards:incident-list",
    "grievances:list",
    "verification:round-list",
    "verification:check-list",
    "verification:awaiting",
]


@pytest.fixture
def reader(db):
    """The PMU's side, with the roles that open every list."""
    return make_user("lists", Role.PMU_OFFICER, Role.GRIEVANCE_FOCAL_POINT, is_staff=True)


def _options(html: str) -> list[str]:
    return [re.sub(r"\s+", " ", text).strip() for text in re.findall(r"<option[^>]*>([^<]*)</option>", html)]


@pytest.mark.parametrize("name", LIST_PAGES)
def test_no_list_shows_dashes_or_unknown_in_its_drop_downs(client, reader, name):
    client.force_login(reader)
    response = client.get(reverse(name))
    assert response.status_code == 200
    options = _options(response.content.decode())
    assert "---------" not in options
    assert "Unknown" not in options
    assert "—" not in options


def test_yes_no_filters_offer_any_yes_no_and_filter_by_them(client, reader, po_one, po_two):
    PartnerOrganization.objects.filter(pk=po_two.pk).update(is_active=False)

    class ActiveFilter(PortalFilterSet):
        is_active = django_filters.BooleanFilter(label="Active")

        class Meta:
            model = PartnerOrganization
            fields: list[str] = []

    html = str(ActiveFilter().form["is_active"])
    assert _options(html) == ["Any", "Yes", "No"]
    queryset = PartnerOrganization.objects.filter(pk__in=[po_one.pk, po_two.pk])
    assert list(ActiveFilter({"is_active": "true"}, queryset=queryset).qs) == [po_one]
    assert list(ActiveFilter({"is_active": "false"}, queryset=queryset).qs) == [po_two]
    assert set(ActiveFilter({"is_active": ""}, queryset=queryset).qs) == {po_one, po_two}


def test_a_grievance_lists_yes_no_and_tier_filters_read_any(client, reader):
    client.force_login(reader)
    body = client.get(reverse("grievances:list")).content.decode()
    overdue = re.search(r'<select name="overdue".*?</select>', body, re.S).group(0)
    assert _options(overdue) == ["Any", "Yes", "No"]
    tier = re.search(r'<select name="tier".*?</select>', body, re.S).group(0)
    assert _options(tier)[0] == "Any tier"
    po = re.search(r'<select name="partner_organization".*?</select>', body, re.S).group(0)
    assert _options(po)[0] == "All POs"


def test_a_plain_filter_form_gets_any_labels_and_a_blank_choice_where_it_had_none():
    class StatusFilterForm(forms.Form):
        status = forms.ChoiceField(
            label="Status", choices=[("open", "open"), ("closed", "closed")], required=False
        )
        overdue = forms.ChoiceField(
            label="Overdue", choices=[("", "—"), ("yes", "yes"), ("no", "no")], required=False
        )

    form = label_filter_form(StatusFilterForm())
    assert _options(str(form["status"])) == ["Any status", "open", "closed"]
    assert _options(str(form["overdue"])) == ["Any", "yes", "no"]


def test_a_forms_required_drop_down_says_choose_and_an_optional_one_none():
    class PlaceForm(forms.Form):
        district = forms.ChoiceField(choices=[("", "---------"), ("1", "Satkhira")])
        upazila = forms.ChoiceField(choices=[("", "---------"), ("2", "Kaliganj")], required=False)

    form = PlaceForm(renderer=PortalFormRenderer())
    assert _options(str(form["district"])) == ["Choose…", "Satkhira"]
    assert _options(str(form["upazila"])) == ["(none)", "Kaliganj"]


def test_the_enterprise_form_asks_to_choose_in_its_required_drop_downs(client, po1, po_one):
    from tests.enterprises.factories import sub_project_for

    sub_project_for(po_one)
    client.force_login(po1)
    response = client.get(reverse("enterprises:enterprise-create"))
    assert response.status_code == 200
    options = _options(response.content.decode())
    assert "---------" not in options
    owner_gender = re.search(
        r'<select name="owner_gender".*?</select>', response.content.decode(), re.S
    ).group(0)
    assert _options(owner_gender)[0] == "Choose…"
