"""Numbers and dates the Bangladeshi way: lakh/crore grouping in both languages, Bangla digits in the
text of Bangla pages for those who want them (never in links, form values or codes), number fields and
filters that take Bangla digits and grouped numbers, amounts in lakh/crore words, one date format."""

# ruff: noqa: RUF001 - Bangla digits, which look like Latin ones to the linter, are what these tests are about.
from __future__ import annotations

import re
import time
from datetime import date, datetime
from decimal import Decimal

import pytest
from django import forms
from django.template import Context, Template
from django.utils import timezone, translation
from django.utils.formats import date_format

from core.digits import html_to_bangla_digits, to_bangla_digits, to_latin_digits
from core.numbers import lakh_crore, normalize_number
from core.roles import Role
from enterprises.models import FinancialSupport, KpiReading
from finance import spending
from finance.models import Expenditure
from tests.enterprises.factories import EnterpriseFactory, FinancialSupportFactory, kpi, sub_project_for
from tests.factories import make_user
from tests.finance.factories import funded_sub_project

BANGLA_CRORE = "১২,৩৪,৫৬,৭৮৯"


def render(source: str, language: str, **context) -> str:
    with translation.override(language):
        return Template("{% load humanize portal_format %}" + source).render(Context(context))


def set_language(user, language: str, *, bangla_digits: bool = True) -> None:
    user.language = language
    user.bangla_digits = bangla_digits
    user.save(update_fields=["language", "bangla_digits"])


@pytest.fixture
def sp_one(po_one):
    return sub_project_for(po_one, agreement_number="PKSF/SMART/SP/T001")


@pytest.fixture
def me_one(sp_one):
    return EnterpriseFactory(sub_project=sp_one, po_code="ME-0001", name="Rahima Shoe Works")


# --- Grouping -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["en", "bn"])
def test_amounts_group_by_lakh_and_crore_in_both_languages(language):
    shown = render(
        "{{ n|intcomma }} · {{ n|bdt }} · {{ d|floatformat:'0g' }} · {{ paisa|bdt }} · {{ round|bdt }}",
        language,
        n=123456789,
        d=Decimal("123456789"),
        paisa=Decimal("1234567.5"),
        round=Decimal("420000.00"),
    )

    assert shown == "12,34,56,789 · 12,34,56,789 · 12,34,56,789 · 12,34,567.50 · 4,20,000"


@pytest.mark.parametrize(
    ("amount", "words"),
    [
        (123456789, "12.35 crore"),
        (Decimal("420000"), "4.2 lakh"),
        (100000, "1 lakh"),
        (9999999, "1 crore"),  # rounds to 100 lakh: said as a crore
        (99999, "99,999"),  # below 1 lakh: the grouped amount
        (Decimal("-2500000"), "-25 lakh"),
        (None, ""),
    ],
)
def test_lakh_crore_words(amount, words):
    assert lakh_crore(amount) == words


def test_lakh_crore_words_in_bangla_come_from_the_catalogue(monkeypatch):
    translations = {"crore": "কোটি", "lakh": "লাখ"}
    monkeypatch.setattr("core.numbers.gettext", lambda text: translations[text])

    page = html_to_bangla_digits(f"<p>{lakh_crore(123456789)} · {lakh_crore(420000)}</p>")

    assert page == "<p>১২.৩৫ কোটি · ৪.২ লাখ</p>"


# --- Bangla digits on pages -------------------------------------------------------------------------


def test_digits_convert_both_ways():
    assert to_bangla_digits("12,34,567.89") == "১২,৩৪,৫৬৭.৮৯"
    assert to_latin_digits("১২,৩৪,৫৬৭.৮৯") == "12,34,567.89"
    assert to_latin_digits("٤٢٠ ۴۲۰") == "420 420"  # Arabic-Indic and Persian keyboards


def test_only_text_nodes_get_bangla_digits():
    page = (
        '<title>Page 2</title><a href="/x/12/?page=3" data-n="4" id="row-5">Row 12 &#x27;7&#x27;</a>'
        '<script>var n = 1;</script><script type="application/json">{"a": 2}</script>'
        "<style>p{margin:3px}</style>"
        '<textarea name="t">77</textarea><pre>88</pre><code>99</code><kbd>11</kbd><!-- 123 -->'
        '<span translate="no">9 <b>22</b></span> 44 <div translate="no"><div>55</div><div>66</div></div> 77'
        '<input name="v" value="12"> ME-0001 of PKSF/SMART/SP/T001, tranche 3'
    )

    assert html_to_bangla_digits(page) == (
        '<title>Page ২</title><a href="/x/12/?page=3" data-n="4" id="row-5">Row ১২ &#x27;৭&#x27;</a>'
        '<script>var n = 1;</script><script type="application/json">{"a": 2}</script>'
        "<style>p{margin:3px}</style>"
        '<textarea name="t">77</textarea><pre>88</pre><code>99</code><kbd>11</kbd><!-- 123 -->'
        '<span translate="no">9 <b>22</b></span> ৪৪ <div translate="no"><div>55</div><div>66</div></div> ৭৭'
        '<input name="v" value="12"> ME-0001 of PKSF/SMART/SP/T001, tranche ৩'
    )


def test_a_bangla_page_shows_bangla_digits_in_its_text_and_keeps_links_and_codes_latin(client, po1, me_one):
    support = FinancialSupportFactory(enterprise=me_one, amount=Decimal("123456789"))
    set_language(po1, "bn")
    client.force_login(po1)

    page = client.get(f"/enterprises/{me_one.pk}/").content.decode()

    assert BANGLA_CRORE in page
    assert "12,34,56,789" not in page
    assert f'href="/financial-supports/{support.pk}/edit/"' in page  # links keep their digits
    assert "ME-0001" in page  # a code people type keeps its digits
    assert not re.search(r"href=\"[^\"]*[০-৯]", page)


def test_a_bangla_form_keeps_latin_digits_in_its_values(client, po1, me_one):
    support = FinancialSupportFactory(enterprise=me_one, amount=Decimal("420000"))
    set_language(po1, "bn")
    client.force_login(po1)

    page = client.get(f"/financial-supports/{support.pk}/edit/").content.decode()

    assert re.search(r'name="amount" value="420000(\.00)?"', page)
    assert 'inputmode="decimal"' in page


def test_a_user_who_turned_bangla_digits_off_sees_latin_digits_in_bangla(client, po1, me_one):
    FinancialSupportFactory(enterprise=me_one, amount=Decimal("123456789"))
    set_language(po1, "bn", bangla_digits=False)
    client.force_login(po1)

    response = client.get(f"/enterprises/{me_one.pk}/")

    assert response["Content-Language"] == "bn"
    assert "12,34,56,789" in response.content.decode()
    assert BANGLA_CRORE not in response.content.decode()


def test_english_pages_and_json_keep_latin_digits(client, po1, me_one):
    FinancialSupportFactory(enterprise=me_one, amount=Decimal("123456789"))
    client.force_login(po1)

    assert "12,34,56,789" in client.get(f"/enterprises/{me_one.pk}/").content.decode()
    set_language(po1, "bn")
    api = client.get(f"/api/v1/enterprises/{me_one.pk}/", HTTP_ACCEPT_LANGUAGE="bn")
    assert api["Content-Type"].startswith("application/json")
    assert not re.search("[০-৯]", api.content.decode())


def test_htmx_fragments_get_bangla_digits_too(rf, po1):
    from django.http import HttpResponse

    from core.digits import BanglaDigitsMiddleware

    middleware = BanglaDigitsMiddleware(lambda request: HttpResponse('<td data-x="1">4,20,000</td>'))
    request = rf.get("/fragment/", HTTP_HX_REQUEST="true")
    request.user = po1
    with translation.override("bn"):
        fragment = middleware(request).content.decode()

    assert fragment == '<td data-x="1">৪,২০,০০০</td>'


@pytest.mark.slow
def test_converting_a_very_large_page_stays_well_under_a_second():
    """A 2,000-row list page (about 350 KB, twenty times the longest list page): 50-120 ms on the 2-core
    development machine; a linear pass, so a 100-row page costs a few milliseconds. The bound catches a
    pass that turned quadratic, not a slow machine."""
    row = (
        '<tr><td><a href="/enterprises/{n}/">ME-{n:05d}</a></td><td>Rahima Shoe Works {n}</td>'
        '<td class="text-end">{n},23,456</td><td>26 Nov 2026</td><td><span class="badge">3</span></td></tr>'
    )
    page = "<table>" + "".join(row.format(n=n) for n in range(2000)) + "</table>"
    html_to_bangla_digits(page)  # warm up the regexes

    started = time.perf_counter()
    converted = html_to_bangla_digits(page)
    elapsed = time.perf_counter() - started

    assert "২৬ Nov ২০২৬" in converted
    assert 'href="/enterprises/1999/"' in converted
    assert elapsed < 1.0, f"{elapsed * 1000:.0f} ms for {len(page) // 1024} KB"


# --- Typing numbers -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "value"),
    [("৪২০", "420"), ("4,20,000", "420000"), ("৪,২০,০০০", "420000"), ("420,000", "420000"), (" 420 ", "420")],
)
def test_number_text_is_normalised(typed, value):
    assert normalize_number(typed) == value


@pytest.mark.parametrize("typed", ["4,2a0", "4,2,0", "42,00", "four"])
def test_a_badly_grouped_number_is_refused_not_guessed(typed):
    field = forms.IntegerField(label="Workers")

    with pytest.raises(forms.ValidationError, match="Enter a whole number"):
        field.clean(typed)


def test_number_inputs_are_text_inputs_with_a_digit_keypad():
    whole = forms.IntegerField(min_value=0, max_value=10).widget.render("n", 5)
    decimal = forms.DecimalField(decimal_places=2).widget.render("d", 5)

    assert whole == '<input type="text" name="n" value="5" data-min="0" data-max="10" inputmode="numeric">'
    assert decimal == '<input type="text" name="d" value="5" data-step="0.01" inputmode="decimal">'


@pytest.mark.parametrize(
    ("typed", "stored"), [("৪,২০,০০০", Decimal("420000")), ("4,20,000", Decimal("420000"))]
)
def test_a_financial_support_amount_typed_with_bangla_digits_or_lakh_grouping_is_stored(
    client, po1, me_one, typed, stored
):
    client.force_login(po1)
    data = {"kind": "loan", "amount": typed, "financier": "world_bank", "disbursed_on": "2024-10-01"}

    response = client.post(f"/enterprises/{me_one.pk}/supports/new/", data)

    assert response.status_code == 302, response.content.decode()
    assert FinancialSupport.objects.get().amount == stored


def test_a_kpi_reading_typed_in_bangla_digits_is_stored(client, po1, me_one):
    set_language(po1, "bn")
    client.force_login(po1)
    data = {"kpi": kpi().pk, "period": "2024-09", "value": "৪২০", "source": "meter"}

    response = client.post(f"/enterprises/{me_one.pk}/readings/new/", data)

    assert response.status_code == 302, response.content.decode()
    assert KpiReading.objects.get().value == Decimal("420")


def test_a_mistyped_amount_is_refused_under_its_field_and_kept(client, po1, me_one):
    client.force_login(po1)
    data = {"kind": "loan", "amount": "4,2a0", "financier": "world_bank", "disbursed_on": "2024-10-01"}

    response = client.post(f"/enterprises/{me_one.pk}/supports/new/", data)

    assert response.status_code == 200
    assert response.context["form"].errors["amount"] == ["Enter a number."]
    page = response.content.decode()
    label = page.index('for="id_amount"')
    assert "Enter a number." in page[label : page.index('for="id_financier"')]  # under the field's label
    assert 'value="4,2a0"' in page  # what was typed is kept
    assert not FinancialSupport.objects.exists()


@pytest.fixture
def finance_lines(po_one):
    sub_project = funded_sub_project(po_one)
    po_staff = make_user("po-finance", Role.PO_STAFF, po=po_one)
    quarter_end = spending.last_complete_quarter_end(timezone.localdate())
    report = spending.create_report(user=po_staff, sub_project=sub_project, quarter_end=quarter_end)
    line = next(line for _number, line in spending.numbered_budget_lines(sub_project))
    day = spending.quarter_start(quarter_end)
    for voucher, amount in (("PV-SMALL", "150000"), ("PV-LARGE", "500000")):
        spending.add_line(
            user=po_staff,
            report=report,
            data={
                "budget_line": line,
                "spent_on": day,
                "amount": Decimal(amount),
                "voucher_reference": voucher,
                "description": "Cutting machine",
            },
        )
    return po_staff


def test_an_amount_filter_takes_bangla_digits_and_lakh_grouping(client, finance_lines):
    client.force_login(finance_lines)

    filtered = client.get("/finance/spending/lines/", {"amount_min": "৪,২০,০০০"})
    refused = client.get("/finance/spending/lines/", {"amount_min": "৪,২a০"})

    assert filtered.status_code == 200
    assert "PV-LARGE" in filtered.content.decode()
    assert "PV-SMALL" not in filtered.content.decode()
    assert Expenditure.objects.count() == 2
    assert "Enter a number." in refused.content.decode()


# --- Dates ------------------------------------------------------------------------------------------


def test_dates_read_26_nov_2026_in_english_and_26_november_in_bangla():
    day = date(2026, 11, 26)
    moment = timezone.make_aware(datetime(2026, 11, 26, 14, 5))

    with translation.override("en"):
        assert date_format(day, "DATE_FORMAT") == "26 Nov 2026"
        assert date_format(timezone.localtime(moment), "DATETIME_FORMAT") == "26 Nov 2026 14:05"
    with translation.override("bn"):
        assert date_format(day, "DATE_FORMAT") == "26 নভেম্বর 2026"
        assert html_to_bangla_digits(f"<p>{date_format(day, 'DATE_FORMAT')}</p>") == "<p>২৬ নভেম্বর ২০২৬</p>"
    assert render('{{ day|date:"DATE_FORMAT" }}', "en", day=day) == "26 Nov 2026"


def test_the_enterprise_search_reads_a_phone_typed_in_bangla_digits(client, db):

    me = EnterpriseFactory(phone="+8801712345678")
    EnterpriseFactory(phone="+8801899999999")
    client.force_login(make_user("pmu-searcher", Role.PMU_OFFICER))
    response = client.get("/enterprises/", {"q": "০১৭১২৩৪৫৬৭৮"})
    assert response.status_code == 200
    assert [row.pk for row in response.context["page_obj"].object_list] == [me.pk]
