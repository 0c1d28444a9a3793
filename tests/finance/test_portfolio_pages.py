"""The portfolio page, the loan list and the portfolio API: who sees what (a PO its own, the PMU's side
every PO), the "as of" date, filters and CSV/XLSX downloads."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from core.navigation import items_for
from core.roles import Role
from enterprises.models import Gender
from finance import loans
from tests.enterprises.factories import EnterpriseFactory, FinancialSupportFactory, sub_project_for
from tests.factories import make_user

pytestmark = pytest.mark.django_db

D = Decimal


def _csv(response) -> list[list[str]]:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


@pytest.fixture
def portfolio(po_one, po_two, po1, po2):
    """As of 15 Jan 2025, PO-T01: a woman's loan 39 days late (96,000 outstanding) and a man's on time
    (36,000); PO-T02: one loan, nothing repaid, 100 days late (50,000)."""
    sp1, sp2 = sub_project_for(po_one), sub_project_for(po_two)
    late = FinancialSupportFactory(
        enterprise=EnterpriseFactory(sub_project=sp1, po_code="ME-LATE", owner_gender=Gender.FEMALE),
        amount=D("120000"),
        disbursed_on=date(2024, 10, 1),
    )
    on_time = FinancialSupportFactory(
        enterprise=EnterpriseFactory(sub_project=sp1, po_code="ME-GOOD", owner_gender=Gender.MALE),
        amount=D("60000"),
        disbursed_on=date(2024, 10, 1),
    )
    other = FinancialSupportFactory(
        enterprise=EnterpriseFactory(sub_project=sp2, po_code="ME-OTHER", owner_gender=Gender.MALE),
        amount=D("50000"),
        disbursed_on=date(2024, 9, 1),
    )
    for loan, user in ((late, po1), (on_time, po1), (other, po2)):
        loans.generate_schedule(loan, term_months=10, first_due_on=date(2024, 10, 7), user=user)
    loans.add_repayment(user=po1, loan=late, paid_on=date(2024, 10, 7), principal=D("12000"))
    loans.add_repayment(user=po1, loan=late, paid_on=date(2024, 11, 7), principal=D("12000"))
    for paid_on in (date(2024, 10, 7), date(2024, 11, 7), date(2024, 12, 7), date(2025, 1, 7)):
        loans.add_repayment(user=po1, loan=on_time, paid_on=paid_on, principal=D("6000"))
    return {"late": late, "on_time": on_time, "other": other}


def test_the_pmu_side_sees_every_po_with_par_highlighted(client, portfolio, po_one, po_two):
    client.force_login(make_user("pksf-finance", Role.FINANCE_OFFICER))

    page = client.get("/finance/portfolio/?as_of=2025-01-15").content.decode()

    assert page.count('data-testid="po-row"') == 2
    assert f'data-po="{po_one.code}" class="par-danger"' in page  # 96,000 of 132,000 more than 30 days late
    assert f'data-po="{po_two.code}" class="par-danger"' in page
    assert 'data-testid="outstanding">1.82 lakh BDT' in page  # 96,000 + 36,000 + 50,000
    assert "Programme" in page


def test_a_po_sees_its_own_portfolio_only(client, portfolio, po1, po_one, po_two):
    client.force_login(po1)

    page = client.get("/finance/portfolio/?as_of=2025-01-15").content.decode()
    exported = _csv(client.get("/finance/portfolio/?as_of=2025-01-15&export=csv"))

    assert page.count('data-testid="po-row"') == 1
    assert po_two.code not in page
    assert 'data-testid="outstanding">1.32 lakh BDT' in page
    assert [row[0] for row in exported[1:]] == [po_one.code, "Programme"]
    assert exported[1][exported[0].index("Outstanding (BDT)")] == "132000.00"


def test_the_portfolio_exports_to_xlsx(client, portfolio, pmu, po_one, po_two):
    client.force_login(pmu)

    response = client.get("/finance/portfolio/?as_of=2025-01-15&export=xlsx")

    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert [row[0] for row in rows[1:]] == [po_one.code, po_two.code, "Programme"]
    header = list(rows[0])
    assert rows[-1][header.index("PAR>30 (BDT)")] == 96000 + 50000


def test_a_date_in_the_future_is_refused_with_the_reason(client, portfolio, pmu):
    client.force_login(pmu)

    response = client.get("/finance/portfolio/?as_of=2999-01-01")

    assert response.status_code == 400
    assert 'data-testid="as-of-error"' in response.content.decode()


def test_who_opens_the_portfolio_pages(client, portfolio, verifier, tec1, wb, approver):
    for user, expected in ((verifier, 403), (tec1, 403), (wb, 200), (approver, 200)):
        client.force_login(user)
        for path in ("/finance/portfolio/", "/finance/loans/"):
            assert client.get(path).status_code == expected, (user, path)
    client.logout()
    assert client.get("/finance/portfolio/").status_code == 302


def test_the_menu_offers_the_portfolio_to_its_readers(po1, verifier, wb):
    def names(user) -> set[str]:
        return {item.url_name for item in items_for(user)}

    assert {"finance:portfolio", "finance:loan-list"} <= names(po1)
    assert {"finance:portfolio", "finance:loan-list"} <= names(wb)
    assert {"finance:portfolio", "finance:loan-list"} <= names(
        make_user("pksf-finance", Role.FINANCE_OFFICER)
    )
    assert not {"finance:portfolio", "finance:loan-list"} & names(verifier)


def test_the_loan_list_filters_by_days_past_due_gender_and_po(client, portfolio, pmu, po_two):
    client.force_login(pmu)

    def codes(query: str) -> list[str]:
        page = client.get(f"/finance/loans/?as_of=2025-01-15&{query}").content.decode()
        return [code for code in ("ME-LATE", "ME-GOOD", "ME-OTHER") if f">{code}</a>" in page]

    assert codes("") == ["ME-LATE", "ME-GOOD", "ME-OTHER"]
    assert codes("days_past_due=31-90") == ["ME-LATE"]
    assert codes("days_past_due=over-90") == ["ME-OTHER"]
    assert codes("days_past_due=current") == ["ME-GOOD"]
    assert codes("gender=female") == ["ME-LATE"]
    assert codes(f"partner_organization={po_two.code}") == ["ME-OTHER"]
    assert codes("q=ME-GOOD") == ["ME-GOOD"]


def test_the_loan_list_shows_days_past_due_and_write_offs(client, portfolio, po1):
    loans.record_write_off(
        user=po1,
        loan=portfolio["late"],
        written_off_on=date(2025, 1, 10),
        principal=D("96000"),
        reason="Closed.",
    )
    client.force_login(po1)

    page = client.get("/finance/loans/?as_of=2025-01-15").content.decode()
    written_off = client.get("/finance/loans/?as_of=2025-01-15&written_off=yes").content.decode()

    assert "written off</span>" in page
    assert written_off.count('data-testid="loan-row"') == 1
    assert "ME-LATE" in written_off


def test_a_po_exports_only_its_own_loans(client, portfolio, po1, po_one):
    client.force_login(po1)

    rows = _csv(client.get("/finance/loans/?as_of=2025-01-15&export=csv"))
    other_po = client.get("/finance/loans/?as_of=2025-01-15&partner_organization=PO-T02&export=csv")

    header = rows[0]
    assert sorted(row[header.index("ME code")] for row in rows[1:]) == ["ME-GOOD", "ME-LATE"]
    assert {row[header.index("PO code")] for row in rows[1:]} == {po_one.code}
    late = next(row for row in rows[1:] if row[header.index("ME code")] == "ME-LATE")
    assert (late[header.index("Days past due")], late[header.index("Outstanding (BDT)")]) == (
        "39",
        "96000.00",
    )
    # Another PO's code is not a choice: refused as one that does not exist, nothing of that PO comes.
    assert {row[0] for row in _csv(other_po)[1:]} == {po_one.code}


def test_the_portfolio_api(api, portfolio, po1, po_one, po_two, pmu):
    api.as_user(pmu)
    everything = api.get("/api/v1/loan-portfolio/?as_of=2025-01-15").json()
    one_po = api.get(f"/api/v1/loan-portfolio/?as_of=2025-01-15&partner_organization={po_two.code}").json()

    assert everything["totals"]["outstanding"] == "182000.00"
    assert [row["partner_organization"] for row in everything["by_partner_organization"]] == [
        po_one.code,
        po_two.code,
    ]
    assert {row["owner_gender"] for row in everything["by_gender"]} == {"female", "male"}
    assert one_po["totals"]["outstanding"] == "50000.00"
    assert one_po["totals"]["par90_percent"] == "100.00"

    api.as_user(po1)
    own = api.get("/api/v1/loan-portfolio/?as_of=2025-01-15").json()
    assert [row["partner_organization"] for row in own["by_partner_organization"]] == [po_one.code]
    assert own["totals"]["outstanding"] == "132000.00"
    assert api.get(f"/api/v1/loan-portfolio/?partner_organization={po_two.code}").status_code == 404
    assert api.get("/api/v1/loan-portfolio/?partner_organization=PO-NONE").status_code == 404
    assert api.get("/api/v1/loan-portfolio/?as_of=yesterday").status_code == 400
