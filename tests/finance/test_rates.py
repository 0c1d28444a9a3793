"""The BDT/USD rate table: the rate of a day (boundaries, cache), USD figures at the rate of each day
(results indicators, a PO's commitments, the report's statement of rates), the rates page and its
refusals, and the API."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal
from types import SimpleNamespace
from unittest import mock

import pytest
from django.db.models import Sum
from django.urls import reverse

from core.navigation import items_for
from core.roles import Role
from finance import rates
from finance.models import ExchangeRate, FinancialReport
from monitoring import aggregation, dashboard, reports
from monitoring.models import Dimension, IndicatorValue
from subprojects.models import BudgetCategory, Financier
from tests.enterprises.factories import EnterpriseFactory, FinancialSupportFactory
from tests.factories import make_user
from tests.finance.factories import funded_sub_project

AS_OF = date(2025, 6, 30)
CHANGE = date(2024, 5, 8)


def set_rates(*rows: tuple[date, str]) -> list[ExchangeRate]:
    """Replace the table (the migration's row included) with these rates."""
    ExchangeRate.objects.all().delete()
    return [ExchangeRate.objects.create(valid_from=day, bdt_per_usd=Decimal(rate)) for day, rate in rows]


@pytest.fixture
def two_rates(db) -> list[ExchangeRate]:
    """100 BDT per USD from the programme start, 125 from 8 May 2024."""
    return set_rates((date(2023, 8, 1), "100"), (CHANGE, "125"))


def finalised_ifr(quarter_end: date, user, status: str = "finalised") -> FinancialReport:
    return FinancialReport.objects.create(
        quarter_end=quarter_end, status=status, figures={}, prepared_by=user
    )


def total(code: str, as_of: date = AS_OF) -> Decimal:
    aggregation.refresh_snapshot(as_of)
    return IndicatorValue.objects.get(
        as_of=as_of, indicator__code=code, scope_po=None, dimension=Dimension.TOTAL
    ).value


# --- The rate of a day ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2023, 7, 31), "100"),  # before the first rate: the first rate
        (date(2023, 8, 1), "100"),  # on the first rate's date
        (date(2024, 5, 7), "100"),  # the day before the change
        (CHANGE, "125"),  # on the new rate's date
        (date(2026, 1, 1), "125"),  # after the last rate
    ],
)
def test_the_rate_of_a_day_is_the_latest_valid_on_or_before_it(two_rates, day, expected):
    assert rates.bdt_per_usd(day) == Decimal(expected)
    assert rates.rate_in_force(day).bdt_per_usd == Decimal(expected)


def test_the_rate_in_sql_is_the_same_rate_as_in_python(two_rates, po_one):
    sub_project = funded_sub_project(po_one)
    enterprise = EnterpriseFactory(sub_project=sub_project)
    for day in (date(2023, 8, 1), date(2024, 5, 7), CHANGE, date(2025, 1, 1)):
        FinancialSupportFactory(enterprise=enterprise, disbursed_on=day, amount=Decimal("1000"))
    rows = enterprise.financial_supports.annotate(rate=rates.rate_on("disbursed_on")).order_by("disbursed_on")

    assert [(row.disbursed_on, row.rate) for row in rows] == [
        (row.disbursed_on, rates.bdt_per_usd(row.disbursed_on)) for row in rows
    ]
    assert [row.rate for row in rows] == [Decimal("100"), Decimal("100"), Decimal("125"), Decimal("125")]


def test_a_sum_in_usd_converts_each_amount_at_its_own_days_rate_without_integer_division(db, po_one):
    set_rates((date(2023, 8, 1), "110"), (CHANGE, "120"))  # whole numbers: SQLite stores them as integers
    enterprise = EnterpriseFactory(sub_project=funded_sub_project(po_one))
    FinancialSupportFactory(enterprise=enterprise, disbursed_on=date(2024, 1, 1), amount=Decimal("1000"))
    FinancialSupportFactory(enterprise=enterprise, disbursed_on=date(2024, 6, 1), amount=Decimal("1000"))

    usd = enterprise.financial_supports.aggregate(usd=Sum(rates.in_usd("amount", "disbursed_on")))["usd"]

    assert usd == pytest.approx(Decimal("1000") / 110 + Decimal("1000") / 120, abs=Decimal("0.000001"))


def test_without_any_rate_no_usd_figure_is_made_up(db):
    ExchangeRate.objects.all().delete()

    with pytest.raises(rates.NoExchangeRate, match="No BDT/USD exchange rate"):
        rates.bdt_per_usd(date(2025, 1, 1))
    assert rates.rate_in_force(date(2025, 1, 1)) is None


def test_the_table_is_kept_per_process_and_a_new_rate_is_seen_at_once(two_rates, django_assert_num_queries):
    rates.clear_cache()
    outside = SimpleNamespace(in_atomic_block=False)
    with mock.patch.object(rates, "connection", outside):  # as outside any transaction
        assert rates.bdt_per_usd(date(2025, 1, 1)) == Decimal("125")
        with django_assert_num_queries(0):
            assert rates.bdt_per_usd(date(2024, 1, 1)) == Decimal("100")
        ExchangeRate.objects.create(valid_from=date(2025, 1, 1), bdt_per_usd=Decimal("130"))
        assert rates.bdt_per_usd(date(2025, 1, 1)) == Decimal("130")
    rates.clear_cache()


def test_inside_a_transaction_the_table_itself_is_read(two_rates, django_assert_num_queries):
    """A transaction may have written a rate others cannot see yet: never cached from there."""
    with django_assert_num_queries(2):
        rates.bdt_per_usd(date(2025, 1, 1))
        rates.bdt_per_usd(date(2025, 1, 1))


# --- USD figures at the rate of each day ----------------------------------------------------------


def test_money_disbursed_converts_each_disbursement_at_the_rate_of_its_day(two_rates, po_one):
    sub_project = funded_sub_project(po_one)
    before = EnterpriseFactory(sub_project=sub_project)
    after = EnterpriseFactory(sub_project=sub_project)
    FinancialSupportFactory(
        enterprise=before, disbursed_on=date(2024, 5, 7), amount=Decimal("100000"), financier="world_bank"
    )
    FinancialSupportFactory(enterprise=after, disbursed_on=CHANGE, amount=Decimal("100000"), financier="pksf")

    assert total("MONEY_DISBURSED") == Decimal("1800")  # 1,000 USD at 100 + 800 USD at 125
    assert total("MONEY_DISBURSED_WORLD_BANK") == Decimal("1000")
    assert total("MONEY_DISBURSED_PKSF") == Decimal("800")
    # A later rate leaves those days' figures as they were.
    ExchangeRate.objects.create(valid_from=date(2025, 1, 1), bdt_per_usd=Decimal("140"))
    assert total("MONEY_DISBURSED") == Decimal("1800")


def test_money_committed_converts_each_budget_at_the_rate_of_its_award_date(two_rates, po_one, po_two):
    funded_sub_project(po_one, award_date=date(2024, 1, 15))  # 20 M World Bank, 3.75 M PKSF, 1.25 M PO
    funded_sub_project(po_two, award_date=date(2024, 7, 1))

    assert total("MONEY_COMMITTED_WORLD_BANK") == Decimal("200000") + Decimal("160000")
    assert total("MONEY_COMMITTED_PKSF") == Decimal("37500") + Decimal("30000")
    assert total("MONEY_COMMITTED_PO") == Decimal("12500") + Decimal("10000")
    assert total("MONEY_COMMITTED") == Decimal("237500") + Decimal("190000")
    assert total("MONEY_COMMITTED", date(2024, 3, 31)) == Decimal("237500")


def test_a_pos_commitment_for_financing_mes_is_in_usd_at_its_award_dates_rate(two_rates, po_one):
    lines = [
        (BudgetCategory.ME_FINANCE, Financier.WORLD_BANK, Decimal("1000000")),
        (BudgetCategory.ME_FINANCE, Financier.PKSF, Decimal("250000")),
    ]
    funded_sub_project(po_one, lines=lines, award_date=date(2024, 1, 15))
    funded_sub_project(po_one, lines=lines, award_date=date(2024, 7, 1))

    commitments = dashboard.po_commitments(po_one.pk, AS_OF)

    assert commitments["MONEY_DISBURSED_WORLD_BANK"] == Decimal("10000") + Decimal("8000")
    assert commitments["MONEY_DISBURSED_PKSF"] == Decimal("2500") + Decimal("2000")
    assert commitments["MONEY_DISBURSED"] == Decimal("22500")
    assert dashboard.po_commitments(po_one.pk, date(2024, 3, 31))["MONEY_DISBURSED"] == Decimal("12500")


def test_the_reports_name_the_rates_their_figures_used(two_rates):
    ExchangeRate.objects.create(valid_from=date(2026, 1, 1), bdt_per_usd=Decimal("130.25"))

    units = dict(reports._common_rules(dashboard.AsOf(requested=AS_OF, snapshot=None)))["Units"]

    assert "each amount at the BDT/USD rate of its own day" in units
    assert "100 from 2023-08-01; 125 from 2024-05-08." in units
    assert "130.25" not in units  # not in force by the reporting date


# --- The rates page ------------------------------------------------------------------------------


@pytest.mark.parametrize("reader", ["finance", "po_finance", "pmu", "po1", "wb", "approver"])
def test_the_pmu_side_and_po_staff_read_the_table(client, request, two_rates, reader):
    user = request.getfixturevalue(reader)
    client.force_login(user)

    page = client.get(reverse("finance:rate-list"))

    assert page.status_code == 200
    html = page.content.decode()
    assert "8 May 2024" in html
    assert "125.00" in html
    assert "100.00" in html
    assert "7 May 2024" in html  # the end of the first rate's period
    may_add = reader in ("finance", "pmu")
    assert (reverse("finance:rate-create") in html) is may_add


@pytest.mark.parametrize("outsider", ["tec1", "verifier"])
def test_others_do_not_read_the_table(client, request, two_rates, outsider):
    client.force_login(request.getfixturevalue(outsider))

    assert client.get(reverse("finance:rate-list")).status_code == 403
    assert client.get("/api/v1/exchange-rates/").status_code == 403


def test_signed_out_visitors_are_sent_to_sign_in(client, two_rates):
    page = client.get(reverse("finance:rate-list"))

    assert page.status_code == 302
    assert "/accounts/login/" in page["Location"]


def test_the_menu_offers_the_rates_to_finance_and_pmu_officers(finance, pmu, po1, tec1):
    def offered(user) -> bool:
        return any(item.url_name == "finance:rate-list" for item in items_for(user))

    assert offered(finance)
    assert offered(pmu)
    assert not offered(po1)
    assert not offered(tec1)


def test_the_table_downloads_as_csv_and_xlsx(client, finance, two_rates):
    client.force_login(finance)

    csv = b"".join(client.get(reverse("finance:rate-list"), {"export": "csv"}).streaming_content).decode()
    xlsx = client.get(reverse("finance:rate-list"), {"export": "xlsx"})

    assert "Valid from,Valid to,BDT per USD,Source,Entered by" in csv
    assert "2024-05-08,,125.0000" in csv
    assert "2023-08-01,2024-05-07,100.0000" in csv
    assert xlsx["Content-Type"].startswith("application/vnd.openxmlformats")


@pytest.mark.parametrize("keeper", ["finance", "pmu"])
def test_the_finance_officer_and_the_pmu_add_a_rate(client, request, two_rates, keeper):
    user = request.getfixturevalue(keeper)
    client.force_login(user)

    answer = client.post(
        reverse("finance:rate-create"),
        {"valid_from": "2025-01-01", "bdt_per_usd": "122.5", "source": "Bangladesh Bank"},
        follow=True,
    )

    assert answer.status_code == 200
    rate = ExchangeRate.objects.get(valid_from=date(2025, 1, 1))
    assert (rate.bdt_per_usd, rate.source, rate.created_by) == (Decimal("122.5"), "Bangladesh Bank", user)
    assert rate.history.get().history_user == user
    html = answer.content.decode()
    assert "The rate of 122.50 BDT per USD from 2025-01-01 is saved." in html
    assert "122.50" in html
    assert user.get_display_name() in html
    assert "more than 10%" not in html
    assert rates.bdt_per_usd(date(2025, 1, 1)) == Decimal("122.5")


def test_a_jump_of_more_than_ten_percent_is_saved_with_a_warning(client, finance, two_rates):
    client.force_login(finance)

    answer = client.post(
        reverse("finance:rate-create"), {"valid_from": "2025-01-01", "bdt_per_usd": "140"}, follow=True
    )

    assert ExchangeRate.objects.filter(valid_from=date(2025, 1, 1), bdt_per_usd=140).exists()
    assert (
        "The rate 140.00 is 12.0% above the previous one (125.00 from 2024-05-08)" in answer.content.decode()
    )


@pytest.mark.parametrize("who", ["po1", "po_finance", "wb", "tec1"])
def test_others_cannot_add_a_rate(client, request, two_rates, who):
    client.force_login(request.getfixturevalue(who))

    assert client.get(reverse("finance:rate-create")).status_code == 403
    answer = client.post(reverse("finance:rate-create"), {"valid_from": "2025-01-01", "bdt_per_usd": "122"})

    assert answer.status_code == 403
    assert not ExchangeRate.objects.filter(valid_from=date(2025, 1, 1)).exists()
    rate = two_rates[1]
    assert (
        client.post(
            reverse("finance:rate-edit", args=[rate.pk]), {"valid_from": "2024-05-08", "bdt_per_usd": "1"}
        ).status_code
        == 403
    )
    rate.refresh_from_db()
    assert rate.bdt_per_usd == Decimal("125")


def test_a_date_already_in_the_table_is_refused_and_what_was_typed_is_kept(client, finance, two_rates):
    client.force_login(finance)

    answer = client.post(
        reverse("finance:rate-create"),
        {"valid_from": "2024-05-08", "bdt_per_usd": "118.25", "source": "typed"},
    )

    assert answer.status_code == 400
    form = answer.context["form"]
    assert form.errors["valid_from"] == [
        "A rate valid from 2024-05-08 is already entered: edit that one instead."
    ]
    assert 'value="118.25"' in answer.content.decode()
    assert 'value="typed"' in answer.content.decode()
    assert ExchangeRate.objects.get(valid_from=CHANGE).bdt_per_usd == Decimal("125")


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("0", "The rate must be above zero (BDT for one USD)."),
        ("-5", "The rate must be above zero (BDT for one USD)."),
        ("117.12345", "Give the rate with at most 4 decimals."),
        ("", "This field is required."),
    ],
)
def test_a_rate_not_above_zero_or_too_precise_is_refused(client, finance, two_rates, typed, message):
    client.force_login(finance)

    answer = client.post(reverse("finance:rate-create"), {"valid_from": "2025-01-01", "bdt_per_usd": typed})

    assert answer.status_code == 400
    assert answer.context["form"].errors["bdt_per_usd"] == [message]
    assert not ExchangeRate.objects.filter(valid_from=date(2025, 1, 1)).exists()


def test_a_rate_used_by_a_finalised_ifr_cannot_change(client, finance, two_rates):
    finalised_ifr(date(2024, 6, 30), finance)
    client.force_login(finance)
    rate = two_rates[1]  # from 8 May 2024: used by the quarter ending 30 June 2024

    form = client.get(reverse("finance:rate-edit", args=[rate.pk]))
    answer = client.post(
        reverse("finance:rate-edit", args=[rate.pk]), {"valid_from": "2024-05-08", "bdt_per_usd": "126"}
    )

    assert "IFR 2024-Q2 (quarter ending 2024-06-30) is finalised and used this rate" in form.content.decode()
    assert answer.status_code == 409
    assert (
        "The rates from 2024-05-08 on were used by IFR 2024-Q2 (quarter ending 2024-06-30), which is already "
        "finalised" in answer.content.decode()
    )
    assert 'value="126"' in answer.content.decode()
    rate.refresh_from_db()
    assert rate.bdt_per_usd == Decimal("125")
    # Nor can a rate be slipped in before the end of that quarter; after it, it can.
    refused = client.post(reverse("finance:rate-create"), {"valid_from": "2024-06-01", "bdt_per_usd": "126"})
    assert refused.status_code == 409
    assert not ExchangeRate.objects.filter(valid_from=date(2024, 6, 1)).exists()
    assert (
        client.post(
            reverse("finance:rate-create"), {"valid_from": "2024-07-01", "bdt_per_usd": "126"}
        ).status_code
        == 302
    )


def test_a_rate_sent_to_the_bank_keeps_its_value_but_its_source_can_be_corrected(client, finance, two_rates):
    finalised_ifr(date(2024, 9, 30), finance, status="sent")
    client.force_login(finance)
    rate = two_rates[1]

    answer = client.post(
        reverse("finance:rate-edit", args=[rate.pk]),
        {"valid_from": "2024-05-08", "bdt_per_usd": "125", "source": "Bangladesh Bank, 8 May 2024"},
    )

    assert answer.status_code == 302
    rate.refresh_from_db()
    assert rate.source == "Bangladesh Bank, 8 May 2024"
    assert rate.history.first().history_user == finance


def test_a_draft_ifr_does_not_hold_a_rate_and_a_correction_is_kept_in_the_history(
    client, pmu, finance, two_rates
):
    FinancialReport.objects.create(quarter_end=date(2024, 6, 30), prepared_by=finance)  # a draft
    finalised_ifr(date(2024, 3, 31), finance)  # before this rate
    client.force_login(pmu)
    rate = two_rates[1]

    answer = client.post(
        reverse("finance:rate-edit", args=[rate.pk]),
        {"valid_from": "2024-05-09", "bdt_per_usd": "117", "source": ""},
    )

    assert answer.status_code == 302
    rate.refresh_from_db()
    assert (rate.valid_from, rate.bdt_per_usd) == (date(2024, 5, 9), Decimal("117"))
    page = client.get(reverse("finance:rate-edit", args=[rate.pk])).content.decode()
    history = page[page.index('data-testid="rate-history"') :]
    assert history.index("9 May 2024") < history.index("8 May 2024")  # the correction, then what it was
    assert "117.0000" in history
    assert "125.0000" in history
    assert "corrected" in history


# --- API -----------------------------------------------------------------------------------------

URL = "/api/v1/exchange-rates/"


@pytest.mark.parametrize(
    ("on", "expected"),
    [
        ("2023-07-01", "100.0000"),
        ("2024-05-07", "100.0000"),
        ("2024-05-08", "125.0000"),
        ("2030-01-01", "125.0000"),
    ],
)
def test_the_api_gives_the_rate_valid_on_a_day(api, po1, two_rates, on, expected):
    answer = api.as_user(po1).get(URL, {"on": on})

    assert answer.status_code == 200
    assert [row["bdt_per_usd"] for row in answer.json()["results"]] == [expected]


def test_the_api_lists_and_reads_rates_newest_first(api, finance, two_rates):
    listed = api.as_user(finance).get(URL).json()["results"]
    one = api.get(f"{URL}{two_rates[0].pk}/").json()

    assert [row["valid_from"] for row in listed] == ["2024-05-08", "2023-08-01"]
    assert one.pop("updated_at")  # when it last changed, for clients that sync
    assert one == {
        "id": two_rates[0].pk,
        "valid_from": "2023-08-01",
        "bdt_per_usd": "100.0000",
        "source": "",
        "entered_by": "",
    }


def test_the_api_refuses_a_day_that_is_not_a_date(api, po1, two_rates):
    answer = api.as_user(po1).get(URL, {"on": "8 May"})

    assert answer.status_code == 400
    assert "on" in answer.json()["fields"]


def test_the_api_enters_a_rate_with_a_warning_on_a_jump(api, finance, two_rates):
    answer = api.as_user(finance).post(
        URL, {"valid_from": "2025-01-01", "bdt_per_usd": "99.5", "source": "BB"}, format="json"
    )

    assert answer.status_code == 201
    body = answer.json()
    assert (body["valid_from"], body["bdt_per_usd"], body["entered_by"]) == (
        "2025-01-01",
        "99.5000",
        finance.get_display_name(),
    )
    assert body["warning"].startswith(
        "The rate 99.50 is 20.4% below the previous one (125.00 from 2024-05-08)"
    )
    calm = api.post(URL, {"valid_from": "2025-06-01", "bdt_per_usd": "100"}, format="json").json()
    assert calm["warning"] is None


@pytest.mark.parametrize("who", ["po1", "po_finance", "wb"])
def test_the_api_refuses_a_rate_from_anyone_else(api, request, two_rates, who):
    answer = api.as_user(request.getfixturevalue(who)).post(
        URL, {"valid_from": "2025-01-01", "bdt_per_usd": "122"}, format="json"
    )

    assert answer.status_code == 403
    assert not ExchangeRate.objects.filter(valid_from=date(2025, 1, 1)).exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"valid_from": "2024-05-08", "bdt_per_usd": "120"}, "valid_from"),
        ({"valid_from": "2025-01-01", "bdt_per_usd": "0"}, "bdt_per_usd"),
        ({"valid_from": "2025-01-01"}, "bdt_per_usd"),
        ({"valid_from": "someday", "bdt_per_usd": "120"}, "valid_from"),
    ],
)
def test_the_api_names_the_field_of_a_refused_rate(api, finance, two_rates, body, field):
    answer = api.as_user(finance).post(URL, body, format="json")

    assert answer.status_code == 400
    assert field in answer.json()["fields"]
    assert ExchangeRate.objects.count() == 2


def test_the_api_refuses_a_change_in_a_finalised_ifrs_period(api, finance, pmu, two_rates):
    finalised_ifr(date(2024, 6, 30), finance)
    rate = two_rates[1]

    changed = api.as_user(pmu).patch(f"{URL}{rate.pk}/", {"bdt_per_usd": "126"}, format="json")
    added = api.post(URL, {"valid_from": "2024-06-30", "bdt_per_usd": "126"}, format="json")
    source = api.patch(f"{URL}{rate.pk}/", {"source": "Bangladesh Bank"}, format="json")

    assert changed.status_code == 409
    assert "IFR 2024-Q2" in changed.json()["detail"]
    assert added.status_code == 409
    assert source.status_code == 200
    assert source.json()["source"] == "Bangladesh Bank"
    rate.refresh_from_db()
    assert rate.bdt_per_usd == Decimal("125")


def test_the_schema_describes_the_rate_endpoint(api, pmu):
    schema = api.as_user(pmu).get("/api/schema/", {"format": "json"}).json()

    parameters = schema["paths"]["/api/v1/exchange-rates/"]["get"]["parameters"]
    assert any(parameter["name"] == "on" for parameter in parameters)
    assert "post" in schema["paths"]["/api/v1/exchange-rates/"]


def test_a_role_check_holds_for_a_pmu_officer_of_a_po(client, po_one, two_rates):
    """A PMU officer role held by someone of a PO does not make them a keeper of the table."""
    odd = make_user("odd", Role.PMU_OFFICER, Role.PO_STAFF, po=po_one)

    assert not rates.may_keep_rates(odd)


def test_the_demo_rates_keep_the_migrations_row_and_can_be_seeded_again(finance):
    from demo import finance_rates

    first = ExchangeRate.objects.get()  # the migration's: the former setting, from the programme start
    out = io.StringIO()

    finance_rates.seed(out)
    finance_rates.seed(out)

    table = list(ExchangeRate.objects.order_by("valid_from").values_list("valid_from", "bdt_per_usd"))
    assert table == [
        (date(2023, 8, 1), first.bdt_per_usd),
        (date(2023, 9, 1), Decimal("109.50")),
        (date(2024, 5, 8), Decimal("117.00")),
        (date(2025, 1, 1), Decimal("122.00")),
    ]
    assert ExchangeRate.objects.filter(created_by=finance).count() == 3
    assert "4 in the table (0 added)" in out.getvalue()
