"""A loan's schedule, repayments and write-off: the rules (finance.loans), the loan page and its forms,
and the API, with who may do what."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from core.errors import ActionRefused, Forbidden
from core.roles import Role
from enterprises.models import FinancialSupport, SupportKind
from finance import loans
from finance.models import Instalment, Repayment, WriteOff
from tests.assertions import field_errors as answer_field_errors
from tests.enterprises.factories import EnterpriseFactory, FinancialSupportFactory, sub_project_for
from tests.factories import make_user

pytestmark = pytest.mark.django_db

D = Decimal


def loan_of(po, amount: str = "120000", disbursed_on: date = date(2024, 10, 1), **kwargs) -> FinancialSupport:
    """A loan to a new enterprise of `po`."""
    sub_project = kwargs.pop("sub_project", None) or sub_project_for(po)
    me = kwargs.pop("enterprise", None) or EnterpriseFactory(sub_project=sub_project, **kwargs.pop("me", {}))
    return FinancialSupportFactory(enterprise=me, amount=D(amount), disbursed_on=disbursed_on, **kwargs)


def schedule(loan, user, term: int = 12, first: date = date(2024, 11, 1), rate=0) -> list[Instalment]:
    return loans.generate_schedule(
        loan, term_months=term, first_due_on=first, annual_interest_rate=rate, user=user
    )


def field_errors(exc: pytest.ExceptionInfo) -> dict[str, list[str]]:
    return exc.value.message_dict


@pytest.fixture
def loan(po_one):
    return loan_of(po_one)


@pytest.fixture
def other_loan(po_two):
    return loan_of(po_two)


# --- Schedule ----------------------------------------------------------------------------------------


def test_equal_monthly_principal_with_the_rounding_on_the_last_instalment(po_one, po1):
    loan = loan_of(po_one, amount="100000")

    rows = schedule(loan, po1, term=12, rate=D("12"))

    stored = list(Instalment.objects.filter(loan=loan).order_by("number"))
    assert len(rows) == len(stored) == 12
    assert [i.principal for i in stored[:11]] == [D("8333.33")] * 11
    assert stored[-1].principal == D("8333.37")
    assert sum(i.principal for i in stored) == D("100000")
    assert [i.principal_due_to_date for i in stored[:3]] == [D("8333.33"), D("16666.66"), D("24999.99")]
    assert stored[-1].principal_due_to_date == D("100000")
    assert {i.interest for i in stored} == {D("1000.00")}  # 12 % flat on 100,000 over 12 months
    assert [i.due_on for i in stored[:3]] == [date(2024, 11, 1), date(2024, 12, 1), date(2025, 1, 1)]


def test_due_dates_keep_the_day_of_the_month_or_the_months_last_day(po_one, po1):
    loan = loan_of(po_one, disbursed_on=date(2024, 12, 15))

    schedule(loan, po1, term=4, first=date(2025, 1, 31))

    assert list(Instalment.objects.filter(loan=loan).values_list("due_on", flat=True).order_by("number")) == [
        date(2025, 1, 31),
        date(2025, 2, 28),
        date(2025, 3, 31),
        date(2025, 4, 30),
    ]


def test_a_schedule_is_replaced_while_the_loan_has_no_repayment(loan, po1):
    schedule(loan, po1, term=12)

    schedule(loan, po1, term=6, first=date(2024, 12, 1))

    first = Instalment.objects.filter(loan=loan).order_by("number").first()
    assert (first.number, first.due_on) == (1, date(2024, 12, 1))
    assert Instalment.objects.filter(loan=loan).count() == 6


def test_no_schedule_for_a_grant(po_one, po1):
    grant = loan_of(po_one, kind=SupportKind.GRANT)

    with pytest.raises(ActionRefused, match="grant"):
        schedule(grant, po1)
    assert not Instalment.objects.exists()


def test_no_new_schedule_once_the_loan_has_repayments_and_the_old_one_stays(loan, po1):
    schedule(loan, po1, term=12)
    loans.add_repayment(user=po1, loan=loan, paid_on=date(2024, 11, 2), principal=D("10000"))

    with pytest.raises(ActionRefused, match="already has repayments"):
        schedule(loan, po1, term=6)
    assert Instalment.objects.filter(loan=loan).count() == 12


@pytest.mark.parametrize(
    ("term", "first", "rate", "field", "message"),
    [
        (0, date(2024, 11, 1), 0, "term_months", "from 1 to 60"),
        (61, date(2024, 11, 1), 0, "term_months", "from 1 to 60"),
        (12, date(2024, 10, 1), 0, "first_due_on", "after the disbursement"),
        (12, date(2025, 10, 3), 0, "first_due_on", "within a year of the disbursement"),
        (12, date(2024, 11, 1), D("101"), "annual_interest_rate", "from 0 to 100"),
        (12, date(2024, 11, 1), D("-1"), "annual_interest_rate", "from 0 to 100"),
        (12, date(2024, 11, 1), D("10.555"), "annual_interest_rate", "two decimals"),
    ],
)
def test_bad_terms_are_refused_by_field_and_nothing_is_written(loan, po1, term, first, rate, field, message):
    with pytest.raises(ValidationError) as refused:
        schedule(loan, po1, term=term, first=first, rate=rate)

    assert list(field_errors(refused)) == [field]
    assert message in field_errors(refused)[field][0]
    assert not Instalment.objects.exists()


def test_only_the_loans_po_staff_make_its_schedule(loan, po2, pmu, po_one):
    pmu_finance = make_user("pksf-finance", Role.FINANCE_OFFICER)
    po_finance_only = make_user("po-fin-only", Role.FINANCE_OFFICER, po=po_one)

    for user in (po2, pmu, pmu_finance):
        with pytest.raises(Forbidden):
            schedule(loan, user)
    assert not Instalment.objects.exists()
    schedule(loan, po_finance_only)  # the PO's own finance officer may
    assert Instalment.objects.filter(loan=loan).count() == 12


# --- Repayments ----------------------------------------------------------------------------------------


def test_a_repayment_is_recorded_with_who_entered_it(loan, po1):
    repayment = loans.add_repayment(
        user=po1,
        loan=loan,
        paid_on=date(2024, 11, 3),
        principal=D("10000"),
        interest=D("1200"),
        reference=" RC-1 ",
    )

    assert (repayment.principal, repayment.interest, repayment.reference, repayment.created_by) == (
        D("10000"),
        D("1200"),
        "RC-1",
        po1,
    )
    assert repayment.history.count() == 1


@pytest.mark.parametrize(
    ("paid_on", "principal", "interest", "field", "message"),
    [
        (date(2024, 9, 30), D("1000"), D("0"), "paid_on", "before the loan's disbursement"),
        (None, D("1000"), D("0"), "paid_on", "in the future"),
        (date(2024, 11, 1), D("120000.01"), D("0"), "principal", "Only 1,20,000.00 BDT"),
        (date(2024, 11, 1), D("0"), D("0"), "principal", "both are zero"),
        (date(2024, 11, 1), D("-5"), D("0"), "principal", "0"),
    ],
)
def test_a_bad_repayment_is_refused_by_field_and_nothing_is_written(
    loan, po1, paid_on, principal, interest, field, message
):
    paid_on = paid_on or timezone.localdate() + timedelta(days=1)

    with pytest.raises(ValidationError) as refused:
        loans.add_repayment(user=po1, loan=loan, paid_on=paid_on, principal=principal, interest=interest)

    assert field in field_errors(refused)
    assert message in " ".join(field_errors(refused)[field])
    assert not Repayment.objects.exists()


def test_repayments_never_add_up_to_more_than_was_lent(loan, po1):
    loans.add_repayment(user=po1, loan=loan, paid_on=date(2024, 11, 1), principal=D("100000"))

    with pytest.raises(ValidationError) as refused:
        loans.add_repayment(user=po1, loan=loan, paid_on=date(2024, 12, 1), principal=D("20000.01"))

    assert "Only 20,000.00 BDT" in field_errors(refused)["principal"][0]
    loans.add_repayment(
        user=po1, loan=loan, paid_on=date(2024, 12, 1), principal=D("20000"), reference="last"
    )
    assert Repayment.objects.filter(loan=loan).count() == 2


def test_the_same_receipt_twice_is_refused_on_the_reference(loan, po1):
    loans.add_repayment(user=po1, loan=loan, paid_on=date(2024, 11, 1), principal=D("1000"), reference="RC-9")

    with pytest.raises(ValidationError) as refused:
        loans.add_repayment(
            user=po1, loan=loan, paid_on=date(2024, 11, 1), principal=D("1000"), reference="RC-9"
        )

    assert "already recorded" in field_errors(refused)["reference"][0]
    assert Repayment.objects.count() == 1


def test_a_grant_is_not_repaid(po_one, po1):
    grant = loan_of(po_one, kind=SupportKind.GRANT)

    with pytest.raises(ActionRefused, match="grant"):
        loans.add_repayment(user=po1, loan=grant, paid_on=date(2024, 11, 1), principal=D("1000"))
    assert not Repayment.objects.exists()


def test_another_po_records_no_repayment_and_deletes_none(loan, po1, po2, pmu):
    repayment = loans.add_repayment(user=po1, loan=loan, paid_on=date(2024, 11, 1), principal=D("1000"))

    for user in (po2, pmu):
        with pytest.raises(Forbidden):
            loans.add_repayment(user=user, loan=loan, paid_on=date(2024, 11, 2), principal=D("1000"))
        with pytest.raises(Forbidden):
            loans.delete_repayment(user=user, repayment=repayment)
    assert Repayment.objects.count() == 1
    loans.delete_repayment(user=po1, repayment=repayment)
    assert not Repayment.objects.exists()


# --- Write-offs ----------------------------------------------------------------------------------------


def test_a_write_off_of_what_was_outstanding_that_day(loan, po1):
    loans.add_repayment(user=po1, loan=loan, paid_on=date(2024, 11, 1), principal=D("20000"))

    write_off = loans.record_write_off(
        user=po1, loan=loan, written_off_on=date(2025, 6, 1), principal=D("100000"), reason="Business closed."
    )

    assert (write_off.principal, write_off.recorded_by, write_off.reason) == (
        D("100000"),
        po1,
        "Business closed.",
    )
    with pytest.raises(ActionRefused, match="already written off"):
        loans.record_write_off(
            user=po1, loan=loan, written_off_on=date(2025, 6, 2), principal=D("1"), reason="Again."
        )
    # Written off: no principal is left to repay, and the schedule can no longer change.
    with pytest.raises(ValidationError):
        loans.add_repayment(user=po1, loan=loan, paid_on=date(2025, 6, 5), principal=D("1"))
    with pytest.raises(ActionRefused, match="written off"):
        schedule(loan, po1)


def test_a_write_off_above_what_was_outstanding_that_day_is_refused(loan, po1):
    loans.add_repayment(user=po1, loan=loan, paid_on=date(2024, 11, 1), principal=D("20000"))
    loans.add_repayment(user=po1, loan=loan, paid_on=date(2025, 8, 1), principal=D("30000"))

    with pytest.raises(ValidationError) as before:
        loans.record_write_off(
            user=po1, loan=loan, written_off_on=date(2024, 10, 15), principal=D("120000"), reason="x"
        )
    with pytest.raises(ValidationError) as later:
        loans.record_write_off(
            user=po1, loan=loan, written_off_on=date(2025, 6, 1), principal=D("100000"), reason="x"
        )

    assert "only 1,20,000.00 BDT" not in field_errors(before)["principal"][0]  # nothing repaid by then...
    assert "after 1 Jun 2025" in field_errors(later)["principal"][0]  # ...but later repayments count
    assert not WriteOff.objects.exists()


def test_a_write_off_needs_a_reason_a_past_date_and_the_loans_po(loan, po1, po2):
    with pytest.raises(ValidationError) as refused:
        loans.record_write_off(
            user=po1,
            loan=loan,
            written_off_on=timezone.localdate() + timedelta(days=1),
            principal=D("1000"),
            reason="  ",
        )
    assert set(field_errors(refused)) == {"written_off_on", "reason"}
    with pytest.raises(Forbidden):
        loans.record_write_off(
            user=po2, loan=loan, written_off_on=date(2025, 1, 1), principal=D("1"), reason="x"
        )
    assert not WriteOff.objects.exists()


# --- The loan page ---------------------------------------------------------------------------------


def page_of(loan) -> str:
    return f"/finance/loans/{loan.pk}/"


def test_the_loans_po_sees_its_schedule_repayments_and_forms(client, loan, po1):
    schedule(loan, po1, term=12)
    loans.add_repayment(
        user=po1, loan=loan, paid_on=date(2024, 11, 2), principal=D("10000"), reference="RC-1"
    )
    client.force_login(po1)

    page = client.get(page_of(loan) + "?as_of=2025-01-15").content.decode()

    assert page.count('data-testid="instalment"') == 12
    assert page.count('data-testid="repayment"') == 1
    assert 'data-testid="repayment-form"' in page
    assert 'data-testid="write-off-form"' in page
    assert 'data-testid="schedule-form"' not in page  # it has repayments
    # As of 15 Jan 2025: 30,000 due (Nov to Jan) and 10,000 repaid; December's instalment is 45 days late.
    assert 'data-testid="days-past-due"><span class="badge text-bg-warning">45</span>' in page
    assert "1,10,000.00 BDT" in page


def test_the_pmu_side_reads_the_loan_without_forms_and_another_po_finds_nothing(
    client, loan, po2, wb, verifier
):
    reader = make_user("pksf-finance", Role.FINANCE_OFFICER)
    for user in (reader, wb):
        client.force_login(user)
        page = client.get(page_of(loan)).content.decode()
        assert 'data-testid="loan-figures"' in page
        assert "repayment-form" not in page
        assert "schedule-form" not in page
    client.force_login(po2)
    assert client.get(page_of(loan)).status_code == 404
    client.force_login(verifier)
    assert client.get(page_of(loan)).status_code == 403
    client.logout()
    assert client.get(page_of(loan)).status_code == 302


def test_a_repayment_entered_on_the_page(client, loan, po1):
    client.force_login(po1)

    response = client.post(
        f"/finance/loans/{loan.pk}/repayments/",
        {"paid_on": "2024-11-05", "principal": "12500", "interest": "", "reference": "RC-7"},
    )

    assert response.status_code == 302
    assert response["Location"].endswith("#repayments")
    assert Repayment.objects.get().principal == D("12500")


def test_a_refused_repayment_comes_back_as_typed_with_the_field_named(client, loan, po1):
    client.force_login(po1)

    response = client.post(
        f"/finance/loans/{loan.pk}/repayments/",
        {"paid_on": "2024-09-01", "principal": "999999", "interest": "0", "reference": "RC-typed"},
    )

    page = response.content.decode()
    assert response.status_code == 400
    assert 'data-testid="error-paid_on"' in page
    assert "before the loan&#x27;s disbursement" in page
    assert 'data-testid="error-principal"' in page
    assert 'value="RC-typed"' in page
    assert 'value="999999"' in page
    assert not Repayment.objects.exists()


def test_only_the_loans_po_posts_to_it(client, loan, po2, pmu):
    client.force_login(po2)
    for path in ("repayments/", "schedule/", "write-off/"):
        assert client.post(f"/finance/loans/{loan.pk}/{path}", {}).status_code == 404
    client.force_login(make_user("pksf-finance", Role.FINANCE_OFFICER))
    assert client.post(f"/finance/loans/{loan.pk}/repayments/", {}).status_code == 403
    client.force_login(pmu)
    assert client.post(f"/finance/loans/{loan.pk}/schedule/", {}).status_code == 403
    assert not Repayment.objects.exists()
    assert not Instalment.objects.exists()


def test_schedule_and_write_off_on_the_page(client, loan, po1):
    client.force_login(po1)

    made = client.post(
        f"/finance/loans/{loan.pk}/schedule/",
        {"term_months": "6", "first_due_on": "2024-11-01", "annual_interest_rate": ""},
    )
    refused = client.post(
        f"/finance/loans/{loan.pk}/write-off/",
        {"written_off_on": "2025-05-01", "principal": "130000", "reason": "Closed."},
    )
    written = client.post(
        f"/finance/loans/{loan.pk}/write-off/",
        {"written_off_on": "2025-05-01", "principal": "120000", "reason": "Closed."},
    )
    again = client.post(
        f"/finance/loans/{loan.pk}/write-off/",
        {"written_off_on": "2025-05-02", "principal": "1", "reason": "Again."},
    )

    assert made.status_code == 302
    assert Instalment.objects.filter(loan=loan).count() == 6
    assert refused.status_code == 400
    assert "only 1,20,000.00 BDT" in refused.content.decode()
    assert written.status_code == 302
    assert WriteOff.objects.get().principal == D("120000")
    assert again.status_code == 409
    assert "already written off" in again.content.decode()


def test_a_repayment_deleted_on_the_page(client, loan, po1, po2):
    repayment = loans.add_repayment(user=po1, loan=loan, paid_on=date(2024, 11, 1), principal=D("1000"))
    client.force_login(po2)
    assert client.post(f"/finance/repayments/{repayment.pk}/delete/").status_code == 404
    client.force_login(po1)

    assert client.post(f"/finance/repayments/{repayment.pk}/delete/").status_code == 302
    assert not Repayment.objects.exists()


def test_the_enterprise_page_links_each_loan_to_its_page(client, po_one, po1):
    loan = loan_of(po_one)
    FinancialSupportFactory(
        enterprise=loan.enterprise, kind=SupportKind.GRANT, disbursed_on=date(2024, 12, 1)
    )
    client.force_login(po1)

    page = client.get(loan.enterprise.get_absolute_url()).content.decode()

    assert page.count('data-testid="loan-link"') == 1
    assert f'href="/finance/loans/{loan.pk}/"' in page


# --- API -------------------------------------------------------------------------------------------------


def test_repayments_through_the_api(api, loan, other_loan, po1, po2):
    api.as_user(po1)

    created = api.post(
        "/api/v1/repayments/",
        {
            "loan": loan.pk,
            "paid_on": "2024-11-05",
            "principal": "10000",
            "interest": "900",
            "reference": "A-1",
        },
        format="json",
    )
    too_much = api.post(
        "/api/v1/repayments/",
        {"loan": loan.pk, "paid_on": "2024-12-05", "principal": "200000"},
        format="json",
    )
    not_ours = api.post(
        "/api/v1/repayments/",
        {"loan": other_loan.pk, "paid_on": "2024-12-05", "principal": "1"},
        format="json",
    )
    missing = api.post(
        "/api/v1/repayments/", {"loan": 999999, "paid_on": "2024-12-05", "principal": "1"}, format="json"
    )

    assert created.status_code == 201, created.content
    assert created.json()["principal"] == "10000.00"
    assert too_much.status_code == 400
    assert "principal" in too_much.json()["fields"]
    assert not_ours.status_code == 400
    assert answer_field_errors(not_ours) == {
        "loan": [m.replace("999999", str(other_loan.pk)) for m in answer_field_errors(missing)["loan"]]
    }
    assert Repayment.objects.count() == 1
    # The other PO sees none of it, and cannot delete it.
    api.as_user(po2)
    assert api.get("/api/v1/repayments/").json()["count"] == 0
    assert api.delete(f"/api/v1/repayments/{created.json()['id']}/").status_code == 404
    api.as_user(po1)
    assert api.delete(f"/api/v1/repayments/{created.json()['id']}/").status_code == 204
    assert not Repayment.objects.exists()


def test_the_pmu_side_reads_repayments_and_write_offs_but_records_none(api, loan, po1, wb, verifier):
    loans.add_repayment(user=po1, loan=loan, paid_on=date(2024, 11, 5), principal=D("1000"))
    loans.record_write_off(
        user=po1, loan=loan, written_off_on=date(2025, 1, 5), principal=D("119000"), reason="x"
    )
    finance = make_user("pksf-finance", Role.FINANCE_OFFICER)

    for user in (finance, wb):
        api.as_user(user)
        assert api.get("/api/v1/repayments/").json()["count"] == 1
        assert api.get("/api/v1/write-offs/").json()["results"][0]["principal"] == "119000.00"
        refused = api.post(
            "/api/v1/repayments/", {"loan": loan.pk, "paid_on": "2024-12-05", "principal": "1"}, format="json"
        )
        assert refused.status_code == 403
    api.as_user(verifier)
    for resource in ("loans", "instalments", "repayments", "write-offs", "loan-portfolio"):
        assert api.get(f"/api/v1/{resource}/").status_code == 403, resource


def test_a_write_off_through_the_api(api, loan, po1):
    api.as_user(po1)

    refused = api.post(
        "/api/v1/write-offs/",
        {"loan": loan.pk, "written_off_on": "2025-01-05", "principal": "120000.01", "reason": "Gone."},
        format="json",
    )
    done = api.post(
        "/api/v1/write-offs/",
        {"loan": loan.pk, "written_off_on": "2025-01-05", "principal": "120000", "reason": "Gone."},
        format="json",
    )
    again = api.post(
        "/api/v1/write-offs/",
        {"loan": loan.pk, "written_off_on": "2025-01-06", "principal": "1", "reason": "Gone."},
        format="json",
    )

    assert refused.status_code == 400
    assert "principal" in refused.json()["fields"]
    assert done.status_code == 201
    assert again.status_code == 409
    assert "already written off" in again.json()["detail"]


def test_loans_and_instalments_through_the_api(api, loan, other_loan, po1, pmu):
    schedule(loan, po1, term=12)
    loans.add_repayment(user=po1, loan=loan, paid_on=date(2024, 11, 2), principal=D("10000"))
    api.as_user(po1)

    listed = api.get("/api/v1/loans/?as_of=2025-01-15").json()
    late = api.get("/api/v1/loans/?as_of=2025-01-15&days_past_due=31-90").json()
    current = api.get("/api/v1/loans/?as_of=2024-11-15&days_past_due=current").json()
    recent = api.get("/api/v1/loans/?as_of=2024-12-15&days_past_due=1-30").json()
    instalments = api.get(f"/api/v1/instalments/?loan={loan.pk}").json()
    bad_date = api.get("/api/v1/loans/?as_of=2099-01-01")

    assert [row["id"] for row in listed["results"]] == [loan.pk]
    row = listed["results"][0]
    # As of 15 Jan 2025: three instalments due (30,000), one repaid; December's is 45 days late.
    assert (row["due"], row["repaid"], row["outstanding"], row["arrears"], row["days_past_due"]) == (
        "30000.00",
        "10000.00",
        "110000.00",
        "20000.00",
        45,
    )
    assert late["count"] == current["count"] == recent["count"] == 1
    assert instalments["count"] == 12
    assert bad_date.status_code == 400
    assert "as_of" in bad_date.json()["fields"]
    assert api.get(f"/api/v1/loans/{other_loan.pk}/").status_code == 404
    assert api.get(f"/api/v1/instalments/?loan={other_loan.pk}").json()["count"] == 0
    api.as_user(pmu)
    assert api.get("/api/v1/loans/").json()["count"] == 2
    # The PMU's finance officer (no programme-wide role) filters every PO's records by loan.
    api.as_user(make_user("pksf-finance", Role.FINANCE_OFFICER))
    assert api.get(f"/api/v1/instalments/?loan={loan.pk}").json()["count"] == 12
    assert api.get(f"/api/v1/repayments/?loan={loan.pk}").json()["count"] == 1
