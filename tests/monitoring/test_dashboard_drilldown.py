"""The dashboard's figures lead to the records behind them (charts, map, tables, cards), its map has a
legend of colour classes, and its trend and tooltips read in the page's language."""

from __future__ import annotations

import json
import re
from datetime import date
from decimal import Decimal
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone, translation

from enterprises.models import Gender
from monitoring import aggregation
from monitoring.dashboard import (
    NO_DATA,
    SHADES,
    class_of,
    colour_classes,
    drill_down_url,
    month_label,
    month_ticks,
    nice_ceiling,
)
from monitoring.models import Dimension, Indicator, IndicatorValue, Snapshot
from tests.enterprises.factories import (
    EnterpriseFactory,
    FacilityFactory,
    FinancialSupportFactory,
    sub_project_for,
)
from tests.factories import district

AS_OF = date(2025, 6, 30)


def _json(page: str, element_id: str):
    found = re.search(
        rf'<script id="{re.escape(element_id)}" type="application/json">(.*?)</script>', page, re.S
    )
    assert found, f"no {element_id} data on the page"
    return json.loads(found.group(1))


def _count(client, url: str) -> int:
    """How many records the list at `url` says it shows."""
    response = client.get(url)
    assert response.status_code == 200
    return response.context["paginator"].count


def _names(client, url: str) -> set[str]:
    page = client.get(url).content.decode()
    return {name for name in NAMES if name in page}


NAMES = (
    "Padma Kishoreganj Woman",
    "Padma Kishoreganj Man",
    "Padma Satkhira Woman",
    "Meghna Kishoreganj Woman",
    "Padma Financed Late",
    "Padma Never Financed",
)


@pytest.fixture
def programme(po_one, po_two):
    """MEs financed by 30 Jun 2025: PO-T01 two in Kishoreganj (a woman's, a man's) and one in
    Satkhira, PO-T02 one in Kishoreganj. Financed after that date or never: not behind its figures."""
    padma, meghna = sub_project_for(po_one), sub_project_for(po_two)

    def me(sp, name, place, gender=Gender.FEMALE, financed_on=date(2025, 1, 5)):
        enterprise = EnterpriseFactory(
            sub_project=sp, name=name, district=district(place), owner_gender=gender
        )
        if financed_on:
            FinancialSupportFactory(enterprise=enterprise, disbursed_on=financed_on)
        return enterprise

    me(padma, "Padma Kishoreganj Woman", "Kishoreganj")
    me(padma, "Padma Kishoreganj Man", "Kishoreganj", Gender.MALE)
    me(padma, "Padma Satkhira Woman", "Satkhira")
    me(meghna, "Meghna Kishoreganj Woman", "Kishoreganj")
    me(padma, "Padma Financed Late", "Kishoreganj", financed_on=date(2025, 9, 1))
    me(padma, "Padma Never Financed", "Kishoreganj", financed_on=None)
    aggregation.refresh_snapshot(date(2025, 3, 31))
    aggregation.refresh_snapshot(AS_OF)


def _figure(code: str, dimension: str, key: str, po=None) -> int:
    value = IndicatorValue.objects.get(
        as_of=AS_OF, indicator__code=code, dimension=dimension, key=key, scope_po=po
    ).value
    return int(value)


# --- Drill-down links -----------------------------------------------------------------------------


def test_map_districts_link_to_the_enterprises_behind_their_figure(client, pmu, programme):
    client.force_login(pmu)
    kishoreganj = district("Kishoreganj").pcode

    page = client.get("/dashboard/", {"indicator": "ME_FINANCED"}).content.decode()
    districts = _json(page, "map-data")["districts"]
    url = districts[kishoreganj]["url"]

    assert urlsplit(url).path == "/enterprises/"
    assert parse_qs(urlsplit(url).query) == {
        "indicator": ["ME_FINANCED"],
        "as_of": ["2025-06-30"],
        "district": [kishoreganj],
    }
    assert f'href="{url.replace("&", "&amp;")}"' in page  # the districts table has the same link
    assert _count(client, url) == _figure("ME_FINANCED", Dimension.DISTRICT, kishoreganj) == 3
    assert _names(client, url) == {
        "Padma Kishoreganj Woman",
        "Padma Kishoreganj Man",
        "Meghna Kishoreganj Woman",
    }


def test_every_bar_and_district_of_a_count_leads_to_exactly_as_many_enterprises(client, pmu, programme):
    client.force_login(pmu)

    page = client.get("/dashboard/", {"indicator": "ME_FINANCED"}).content.decode()
    charts = {
        dimension: _json(page, f"chart-{dimension}") for dimension in ("gender", "po", "division", "sector")
    }
    districts = _json(page, "map-data")["districts"]

    assert charts["gender"]["labels"] == ["female", "male"]
    for chart in charts.values():
        assert len(chart["links"]) == len(chart["values"])
        for url, value in zip(chart["links"], chart["values"], strict=True):
            assert _count(client, url) == value
    for district_data in districts.values():
        assert _count(client, district_data["url"]) == int(district_data["figure"])
    women = charts["gender"]["links"][0]
    assert _names(client, women) == {
        "Padma Kishoreganj Woman",
        "Padma Satkhira Woman",
        "Meghna Kishoreganj Woman",
    }


def test_a_po_user_drills_down_to_their_own_enterprises_only(client, po1, po_one, programme):
    client.force_login(po1)
    kishoreganj = district("Kishoreganj").pcode

    page = client.get("/dashboard/", {"indicator": "ME_FINANCED"}).content.decode()
    url = _json(page, "map-data")["districts"][kishoreganj]["url"]
    women = _json(page, "chart-gender")["links"][0]

    assert parse_qs(urlsplit(url).query)["partner_organization"] == ["PO-T01"]
    assert _count(client, url) == _figure("ME_FINANCED", Dimension.DISTRICT, kishoreganj, po_one) == 2
    assert _names(client, url) == {"Padma Kishoreganj Woman", "Padma Kishoreganj Man"}
    assert _names(client, women) == {"Padma Kishoreganj Woman", "Padma Satkhira Woman"}
    # Another PO's enterprises stay out of reach, whatever the address says.
    other = url.replace("PO-T01", "PO-T02")
    assert _names(client, other) == {"Padma Kishoreganj Woman", "Padma Kishoreganj Man"}
    assert (
        "Meghna Kishoreganj Woman" not in client.get(url.split("&partner_organization")[0]).content.decode()
    )


def test_a_pmu_looking_at_one_po_drills_down_within_it(client, pmu, programme):
    client.force_login(pmu)

    page = client.get("/dashboard/", {"indicator": "ME_FINANCED", "po": "PO-T02"}).content.decode()
    url = _json(page, "map-data")["districts"][district("Kishoreganj").pcode]["url"]

    assert _names(client, url) == {"Meghna Kishoreganj Woman"}
    assert 'data-testid="drill-ME_FINANCED"' in page
    assert "partner_organization=PO-T02" in page


def test_cards_link_figures_to_their_records_or_not_at_all(client, pmu, programme):
    client.force_login(pmu)

    page = client.get("/dashboard/").content.decode()

    assert re.search(
        r'href="/enterprises/\?indicator=ME_FINANCED&amp;as_of=2025-06-30" data-testid="drill-ME_FINANCED"',
        page,
    )
    assert (
        'href="/facilities/?indicator=CSF_ESTABLISHED&amp;as_of=2025-06-30" '
        'data-testid="drill-CSF_ESTABLISHED"' in page
    )
    assert (
        'href="/financial-supports/?project_financing=true&amp;disbursed_to=2025-06-30" '
        'data-testid="drill-MONEY_DISBURSED"' in page
    )
    assert (
        "/financial-supports/?project_financing=true&amp;disbursed_to=2025-06-30&amp;financier=world_bank"
        in page
    )
    # Money committed has no list "as of a date": no link.
    assert 'data-testid="drill-MONEY_COMMITTED"' not in page


def test_indicators_without_a_list_are_not_clickable(client, pmu, programme):
    client.force_login(pmu)

    page = client.get("/dashboard/", {"indicator": "MONEY_COMMITTED"}).content.decode()
    chart = _json(page, "chart-po")

    assert chart["links"] == [None] * len(chart["values"])
    assert "Choose a bar, a slice or a district" not in page
    assert not re.search(r'data-testid="table-po"><tbody><tr><td><a ', page)


def test_a_share_drills_down_to_the_mes_it_is_a_share_of(client, pmu, programme):
    client.force_login(pmu)

    page = client.get("/dashboard/", {"indicator": "WOMEN_LED_SHARE"}).content.decode()
    chart = _json(page, "chart-po")

    padma = chart["labels"].index(
        next(label for label in chart["labels"] if "PO-T01" in label or "Padma" in label)
    )
    assert chart["tooltips"][padma] == "66.7 % (2 / 3)"
    assert _count(client, chart["links"][padma]) == 3  # the MEs financed: the share's denominator


def test_facilities_drill_down_to_the_facility_list(client, pmu, po_one):
    sp = sub_project_for(po_one)
    for name in ("Confirmed Kishoreganj CSF", "Another Kishoreganj CSF"):
        FacilityFactory(sub_project=sp, name=name, operational_confirmed_on=date(2025, 2, 1))
    FacilityFactory(sub_project=sp, name="Unconfirmed Kishoreganj CSF")
    FacilityFactory(sub_project=sp, name="Confirmed Later CSF", operational_confirmed_on=date(2025, 8, 1))
    aggregation.refresh_snapshot(AS_OF)
    client.force_login(pmu)

    page = client.get("/dashboard/", {"indicator": "CSF_ESTABLISHED"}).content.decode()
    url = _json(page, "map-data")["districts"][district("Kishoreganj").pcode]["url"]
    listed = client.get(url).content.decode()

    assert urlsplit(url).path == "/facilities/"
    assert (
        _count(client, url)
        == _figure("CSF_ESTABLISHED", Dimension.DISTRICT, district("Kishoreganj").pcode)
        == 2
    )
    assert "Confirmed Kishoreganj CSF" in listed
    assert "Another Kishoreganj CSF" in listed
    assert "Unconfirmed Kishoreganj CSF" not in listed
    assert "Confirmed Later CSF" not in listed
    assert 'href="/facilities/?indicator=CSF_UNCONFIRMED&amp;as_of=2025-06-30"' in page


def test_money_disbursed_drills_down_to_the_disbursements(client, pmu, programme):
    client.force_login(pmu)

    page = client.get("/dashboard/", {"indicator": "MONEY_DISBURSED"}).content.decode()
    url = _json(page, "map-data")["districts"][district("Kishoreganj").pcode]["url"]
    listed = client.get(url).content.decode()

    assert urlsplit(url).path == "/financial-supports/"
    assert _count(client, url) == 3
    assert "Padma Financed Late" not in listed


def test_drill_down_urls_name_only_filters_the_lists_have():
    assert drill_down_url("ME_FINANCED", None) is None  # no snapshot, no date to ask for
    assert drill_down_url("MONEY_COMMITTED", AS_OF) is None
    assert drill_down_url("CSF_ESTABLISHED", AS_OF, dimension=Dimension.GENDER, key="female") is None
    assert drill_down_url("ME_FINANCED", AS_OF, dimension=Dimension.GENDER, key="") is None
    assert (
        drill_down_url("ME_KPI_TRACKING", AS_OF, po_code="PO-T01", dimension=Dimension.CLIMATE, key="true")
        == "/enterprises/?indicator=ME_KPI_TRACKING&as_of=2025-06-30&climate_vulnerable=true"
        "&partner_organization=PO-T01"
    )
    assert (
        drill_down_url("CSF_REVENUE", AS_OF, dimension=Dimension.SECTOR, key="footwear")
        == "/facilities/?indicator=CSF_ESTABLISHED&as_of=2025-06-30&kind=revenue&sector=footwear"
    )


def test_charts_and_the_map_have_text_alternatives(client, pmu, programme):
    client.force_login(pmu)

    page = unescape(client.get("/dashboard/", {"indicator": "ME_FINANCED"}).content.decode())

    map_tag = re.search(r'<div id="district-map"[^>]*>', page).group(0)
    assert 'role="region"' in map_tag
    assert 'role="img"' not in map_tag
    assert 'aria-label="Map of Bangladesh: MEs receiving financial support by district"' in map_tag
    assert 'aria-label="MEs receiving financial support by owner gender: female: 3; male: 1"' in page
    assert (
        'aria-label="MEs receiving financial support over time: 4 on 31 Mar 2025, 4 on 30 Jun 2025."' in page
    )
    assert "Districts as a table" in page


# --- Map legend -----------------------------------------------------------------------------------


def _ranges(*labels: str) -> list[str]:
    """Legend labels written with a hyphen where the legend shows an en dash between numbers."""
    return [re.sub(r"(?<=\d)-", "\u2013", label) for label in labels]


def _labels(values) -> list[str]:
    return [c.label for c in colour_classes([Decimal(v) for v in values])]


def test_no_values_no_classes():
    assert colour_classes([]) == []


def test_all_zero_is_one_class():
    classes = colour_classes([Decimal(0)] * 4)

    assert [(c.label, c.colour) for c in classes] == [("0", SHADES[0])]
    assert class_of(Decimal(0), classes) == 0


def test_a_single_value_is_one_class_of_that_value():
    assert [(c.label, c.colour) for c in colour_classes([Decimal(7)] * 3)] == [("7", SHADES[-1])]
    assert _labels([0, 7, 7]) == ["0", "7"]


def test_counts_get_five_contiguous_classes_with_round_bounds():
    values = [1, 3, 3, 8, 12, 45, 120, 450]
    classes = colour_classes([Decimal(v) for v in values])

    assert [c.label for c in classes] == _ranges("1-3", "4-8", "9-15", "16-150", "151-500")
    assert [c.colour for c in classes] == list(SHADES)
    assert [class_of(Decimal(v), classes) for v in values] == [0, 0, 0, 1, 2, 3, 3, 4]


def test_zero_has_a_class_of_its_own_and_the_lightest_colour():
    classes = colour_classes([Decimal(v) for v in range(0, 101)])

    assert [c.label for c in classes] == _ranges("0", "1-25", "26-50", "51-80", "81-100")
    assert classes[0].colour == SHADES[0]
    assert len({c.colour for c in classes}) == 5


def test_shares_and_money_get_fractional_classes_grouped_in_lakh_and_crore():
    assert _labels(["37.5", "12.5", "100", "0"]) == _ranges("0", "12.5-15", "15-40", "40-100")
    assert _labels(["12345.67", "250000.5", "10000000"]) == _ranges(
        "12,345-15,000", "15,000-3,00,000", "3,00,000-1,00,00,000"
    )


def test_jobs_lost_have_a_class_below_zero():
    classes = colour_classes([Decimal(v) for v in (-3, -1, 0, 4)])

    assert [c.label for c in classes] == _ranges("-3--1", "0", "4")
    assert classes[0].colour not in SHADES


def test_round_bounds():
    assert nice_ceiling(Decimal(7)) == 8
    assert nice_ceiling(Decimal(12)) == 15
    assert nice_ceiling(Decimal(450)) == 500
    assert nice_ceiling(Decimal("0.37")) == Decimal("0.4")
    assert nice_ceiling(Decimal("1.2"), whole=True) == 2


def test_the_map_shows_its_legend_and_colours_each_district_by_its_class(client, pmu, db):
    _stored({"BD3048": 120000, "BD4087": 450, "BD1004": 0})
    client.force_login(pmu)

    page = client.get("/dashboard/").content.decode()
    districts = _json(page, "map-data")["districts"]
    legend = re.findall(r'data-testid="legend-class">.*?</span> (.*?)</li>', page)

    assert legend == _ranges("0", "1-500", "501-1,50,000")
    assert 'data-testid="legend-no-data"' in page
    assert NO_DATA in page
    assert districts["BD3048"]["colour"] == SHADES[-1]
    assert districts["BD3048"]["figure"] == "1,20,000"  # lakh grouping in the tooltip
    assert districts["BD1004"]["colour"] == SHADES[0]
    assert _json(page, "map-data")["noData"] == {"colour": NO_DATA, "label": "no data"}


def _stored(by_district: dict[str, int]) -> None:
    """A snapshot of ME_FINANCED made of the given district figures only."""
    indicator = Indicator.objects.get(code="ME_FINANCED")
    Snapshot.objects.create(as_of=AS_OF, computed_at=timezone.now())
    total = sum(by_district.values())
    IndicatorValue.objects.create(as_of=AS_OF, indicator=indicator, dimension=Dimension.TOTAL, value=total)
    for key, value in by_district.items():
        IndicatorValue.objects.create(
            as_of=AS_OF, indicator=indicator, dimension=Dimension.DISTRICT, key=key, label=key, value=value
        )


# --- Dates and numbers in the page's language -------------------------------------------------------


def test_month_labels_follow_the_language():
    with translation.override("en"):
        assert month_label(AS_OF) == "Jun 2025"
    with translation.override("bn"):
        assert month_label(AS_OF) == "জুন 2025"


def test_the_trend_axis_names_at_most_eight_months():
    days = [date(2025, 1, 1), date(2025, 1, 2)] + [date(2025, month, 1) for month in range(2, 13)]
    with translation.override("en"):
        ticks = month_ticks(days)

    assert ticks == [
        "Jan 2025",
        "",
        "",
        "Mar 2025",
        "",
        "May 2025",
        "",
        "Jul 2025",
        "",
        "Sep 2025",
        "",
        "Nov 2025",
        "",
    ]


def test_the_trend_reads_in_english(client, pmu, programme):
    client.force_login(pmu)

    trend = _json(client.get("/dashboard/").content.decode(), "trend-data")

    assert trend["labels"] == ["Mar 2025", "Jun 2025"]
    assert trend["ticks"] == ["Mar 2025", "Jun 2025"]
    assert trend["titles"] == ["31 Mar 2025", "30 Jun 2025"]
    assert trend["tooltips"] == ["4", "4"]
    assert trend["locale"] == "en-IN"


@pytest.mark.parametrize(
    ("bangla_digits", "month", "day", "locale"),
    [(True, "জুন ২০২৫", "৩০ জুন ২০২৫", "bn-IN"), (False, "জুন 2025", "30 জুন 2025", "en-IN")],
)
def test_the_trend_reads_in_bangla_with_the_users_digits(
    client, pmu, programme, bangla_digits, month, day, locale
):
    pmu.language, pmu.bangla_digits = "bn", bangla_digits
    pmu.save(update_fields=["language", "bangla_digits"])
    client.force_login(pmu)

    trend = _json(client.get("/dashboard/").content.decode(), "trend-data")

    assert trend["labels"][-1] == month
    assert trend["titles"][-1] == day
    assert trend["locale"] == locale


def test_tooltips_group_figures_in_lakh_and_crore(client, pmu, db):
    _stored({"BD3048": 12345678})
    client.force_login(pmu)

    page = client.get("/dashboard/").content.decode()

    assert _json(page, "trend-data")["tooltips"] == ["1,23,45,678"]
    assert _json(page, "map-data")["districts"]["BD3048"]["figure"] == "1,23,45,678"
