"""Spending reports: the PO opens the report of a quarter and enters its lines while it is a draft;
it submits; the PMU's side accepts or returns it. Who may do what and when, the late flag, the lines'
rules (quarter, voucher, budget line, amount), the page's formset and the emails to the next actor."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from core import lifecycle
from core.errors import ActionRefused
from core.roles import Role
from finance import spending
from finance.models import Expenditure, SpendingReport
from subprojects.models import SubProjectStatus
from tests.assertions import assert_refused
from tests.factories import make_user
from tests.finance.factories import funded_sub_project

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate


def last_quarter():
    """The last complete calendar quarter (its end)."""
    return spending.last_complete_quarter_end(TODAY())


def in_quarter(quarter_end, day=10):
    return spending.quarter_start(quarter_end) + timedelta(days=day)


@pytest.fixture
def sp_one(po_one):
    return funded_sub_project(po_one)


@pytest.fixture
def sp_two(po_two):
    return funded_sub_project(po_two)


def budget_lines(sub_project):
    return [line for _number, line in spending.numbered_budget_lines(sub_project)]


def open_report(user, sub_project, quarter_end=None) -> SpendingReport:
    return spending.create_report(
        user=user, sub_project=sub_project, quarter_end=quarter_end or last_quarter()
    )


def add(user, report, line_index=0, amount="150000", voucher="PV-001", day=10, **values) -> Expenditure:
    data = {
        "budget_line": budget_lines(report.sub_project)[line_index],
        "spent_on": in_quarter(report.quarter_end, day),
        "amount": Decimal(amount),
        "voucher_reference": voucher,
        "description": "Cutting machine",
        **values,
    }
    return spending.add_line(user=user, report=report, data=data)


# --- Opening a report -----------------------------------------------------------------------------


def test_the_po_opens_the_report_of_a_quarter_logged_as_created(po1, sp_one):
    report = open_report(po1, sp_one)

    assert report.status == "draft"
    assert report.partner_organization_id == sp_one.partner_organization_id
    assert report.quarter_end == last_quarter()
    assert [(t.action, t.actor) for t in lifecycle.transitions_of(report)] == [("create", po1)]


def test_another_pos_sub_project_is_refused_as_one_that_does_not_exist(po2, sp_one, client):
    with pytest.raises(ValidationError) as refused:
        open_report(po2, sp_one)
    assert refused.value.message_dict == {"sub_project": ["No sub-project of your PO matches this."]}
    client.force_login(po2)
    response = client.post(
        reverse("finance:spending-report-create"),
        {"sub_project": sp_one.pk, "quarter": spending.quarter_label(last_quarter())},
    )
    assert response.status_code == 400
    assert not SpendingReport.objects.exists()


@pytest.mark.parametrize("which", ["future", "before_start", "twice", "suspended"])
def test_a_quarter_that_cannot_be_reported_is_refused_by_field(po1, sp_one, which):
    quarter = last_quarter()
    if which == "future":
        quarter = spending.quarter_end_of(spending.quarter_end_of(TODAY()) + timedelta(days=1))
    elif which == "before_start":
        quarter = spending.previous_quarter_end(spending.quarter_end_of(sp_one.start_date))
    elif which == "twice":
        open_report(po1, sp_one)
    else:
        sp_one = funded_sub_project(sp_one.partner_organization, status=SubProjectStatus.SUSPENDED)
    with pytest.raises(ValidationError) as refused:
        open_report(po1, sp_one, quarter)
    field = "sub_project" if which == "suspended" else "quarter"
    assert field in refused.value.message_dict
    assert SpendingReport.objects.count() == (1 if which == "twice" else 0)


def test_only_a_pos_staff_open_reports(finance, pmu, sp_one):
    for user in (finance, pmu):
        with pytest.raises(ActionRefused) as refused:
            open_report(user, sp_one)
        assert_refused(refused, 403)


# --- Lines ----------------------------------------------------------------------------------------


def test_lines_outside_the_quarter_in_the_future_or_of_no_budget_line_are_refused_by_field(
    po1, sp_one, sp_two
):
    report = open_report(po1, sp_one)
    cases = {
        "spent_on": {"spent_on": spending.quarter_start(report.quarter_end) - timedelta(days=1)},
        "amount": {"amount": Decimal("0")},
        "voucher_reference": {"voucher_reference": "  "},
        "budget_line": {"budget_line": budget_lines(sp_two)[0]},
    }
    for field, values in cases.items():
        with pytest.raises(ValidationError) as refused:
            add(po1, report, **values)
        assert list(refused.value.message_dict) == [field], field
    current = open_report(po1, sp_one, spending.quarter_end_of(TODAY()))
    with pytest.raises(ValidationError) as refused:
        add(po1, current, spent_on=TODAY() + timedelta(days=1))
    assert "future" in refused.value.message_dict["spent_on"][0]
    assert not Expenditure.objects.exists()


def test_a_voucher_is_entered_once_per_budget_line_across_reports(po1, sp_one):
    earlier = open_report(po1, sp_one, spending.previous_quarter_end(last_quarter()))
    add(po1, earlier, voucher="PV-7")
    report = open_report(po1, sp_one)
    with pytest.raises(ValidationError) as refused:
        add(po1, report, voucher="PV-7")
    assert "PV-7" in refused.value.message_dict["voucher_reference"][0]
    # Another budget line may carry the same voucher number.
    add(po1, report, line_index=1, voucher="PV-7")
    assert Expenditure.objects.filter(voucher_reference="PV-7").count() == 2


def test_lines_change_only_in_a_draft_and_only_by_the_pos_staff(po1, po2, pmu, sp_one):
    report = open_report(po1, sp_one)
    line = add(po1, report)
    with pytest.raises(ActionRefused) as refused:
        spending.update_line(user=pmu, line=line, data={"amount": Decimal("1")})
    assert_refused(refused, 403)
    with pytest.raises(ActionRefused) as refused:
        add(po2, report, voucher="X")
    assert_refused(refused, 403)
    lifecycle.apply(report, "submit", po1)
    with pytest.raises(ActionRefused) as refused:
        spending.delete_line(user=po1, line=line)
    assert_refused(refused, 409, code="wrong_state")
    line.refresh_from_db()
    assert line.amount == Decimal("150000")


# --- The lifecycle --------------------------------------------------------------------------------


def test_an_empty_report_cannot_be_submitted(po1, sp_one):
    report = open_report(po1, sp_one)
    with pytest.raises(ActionRefused) as refused:
        lifecycle.apply(report, "submit", po1)
    assert_refused(refused, 409, code="not_ready")
    assert "no line" in str(refused.value)
    report.refresh_from_db()
    assert report.status == "draft"
    assert report.submitted_at is None


def test_submit_accept_and_return_by_whom_with_emails_to_the_next_actor(
    po1, po2, po_finance, finance, pmu, wb, sp_one, django_capture_on_commit_callbacks
):
    finance.email, po1.email = "finance@example.org", "po1@example.org"
    finance.save()
    po1.save()
    make_user("other_po_staff", Role.PO_STAFF, po=po2.partner_organization, email="x@example.org")
    report = open_report(po1, sp_one)
    add(po1, report)
    for outsider in (po2, pmu, finance, wb):
        with pytest.raises(ActionRefused) as refused:
            lifecycle.apply(report, "submit", outsider)
        assert_refused(refused, 403)

    with django_capture_on_commit_callbacks(execute=True):
        report = lifecycle.apply(report, "submit", po1)
    assert report.status == "submitted"
    assert report.submitted_at is not None
    first_submission = report.submitted_at
    assert [m.to for m in mail.outbox] == [["finance@example.org"]]
    assert report.reference in mail.outbox[0].subject

    for outsider in (po1, po_finance, wb):
        with pytest.raises(ActionRefused) as refused:
            lifecycle.apply(report, "accept", outsider)
        assert_refused(refused, 403)
    with pytest.raises(ActionRefused) as refused:
        lifecycle.apply(report, "return", finance)
    assert_refused(refused, 409, code="comment_required")

    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        report = lifecycle.apply(report, "return", finance, comment="Voucher PV-001 is unreadable.")
    assert report.status == "draft"
    # The PO's staff hear of it (po_finance is staff of PO-T01 too), no other PO's.
    assert sorted(m.to[0] for m in mail.outbox) == ["po1@example.org", "po_finance@example.org"]
    assert "unreadable" in mail.outbox[0].body

    report = lifecycle.apply(report, "submit", po1)
    assert report.submitted_at == first_submission  # the first submission is kept
    report = lifecycle.apply(report, "accept", pmu)
    assert report.status == "accepted"
    log = [(t.action, t.from_state, t.to_state, t.actor) for t in lifecycle.transitions_of(report)]
    assert log == [
        ("create", "draft", "draft", po1),
        ("submit", "draft", "submitted", po1),
        ("return", "submitted", "draft", finance),
        ("submit", "draft", "submitted", po1),
        ("accept", "submitted", "accepted", pmu),
    ]


def test_a_report_submitted_after_its_due_day_is_late_and_shows_it(po1, sp_one, client):
    old = spending.quarter_end_of(sp_one.start_date)  # long past its due day
    assert spending.due_on(old) < TODAY()
    report = open_report(po1, sp_one, old)
    add(po1, report)
    client.force_login(po1)
    page = client.get(report.get_absolute_url()).content.decode()
    assert 'data-testid="overdue"' in page
    report = lifecycle.apply(report, "submit", po1)
    assert spending.submitted_late(report)
    assert spending.timing(report) == "late"
    page = client.get(report.get_absolute_url()).content.decode()
    assert 'data-testid="late"' in page
    listing = client.get(reverse("finance:spending-report-list"), {"late": "yes"}).content.decode()
    assert report.reference in listing


def test_waiting_lists(po1, finance, sp_one):
    report = open_report(po1, sp_one)
    assert [item.reference for item in spending.reports_waiting(po1)] == [report.reference]
    assert spending.reports_waiting(finance) == []
    add(po1, report)
    lifecycle.apply(report, "submit", po1)
    assert spending.reports_waiting(po1) == []
    assert [item.reference for item in spending.reports_waiting(finance)] == [report.reference]


# --- Pages ----------------------------------------------------------------------------------------


def formset_data(rows: list[dict], initial: int = 0) -> dict:
    data = {
        "lines-TOTAL_FORMS": str(len(rows)),
        "lines-INITIAL_FORMS": str(initial),
        "lines-MIN_NUM_FORMS": "0",
        "lines-MAX_NUM_FORMS": "1000",
    }
    for index, row in enumerate(rows):
        for name, value in row.items():
            data[f"lines-{index}-{name}"] = value
    return data


def test_the_report_page_adds_lines_keeps_what_was_typed_when_refused_and_warns_of_overruns(
    po1, sp_one, client
):
    report = open_report(po1, sp_one)
    client.force_login(po1)
    first, second = budget_lines(sp_one)[:2]
    day = in_quarter(report.quarter_end).isoformat()
    outside = (spending.quarter_start(report.quarter_end) - timedelta(days=3)).isoformat()
    rows = [
        {"budget_line": first.pk, "spent_on": day, "amount": "2500000", "voucher_reference": "PV-1"},
        {"budget_line": second.pk, "spent_on": outside, "amount": "1000", "voucher_reference": "PV-TYPED"},
        {"budget_line": "", "spent_on": "", "amount": "", "voucher_reference": ""},
    ]
    refused = client.post(report.get_absolute_url(), formset_data(rows))
    assert refused.status_code == 400
    page = refused.content.decode()
    assert "PV-TYPED" in page
    assert "outside the quarter" in page
    assert not Expenditure.objects.exists()

    rows[1]["spent_on"] = day
    rows[0]["amount"] = str(first.amount + 1)  # more than the line's approved amount
    saved = client.post(report.get_absolute_url(), formset_data(rows), follow=True)
    assert saved.status_code == 200
    page = saved.content.decode()
    assert "2 added" in page
    assert 'data-testid="overrun-warning"' in page
    assert 'data-testid="line-exceeds"' in page
    assert Expenditure.objects.filter(report=report).count() == 2

    line = Expenditure.objects.get(voucher_reference="PV-TYPED")
    edit = [
        {
            "id": line.pk,
            "budget_line": second.pk,
            "spent_on": day,
            "amount": "1000",
            "voucher_reference": "PV-TYPED",
            "DELETE": "on",
        },
    ]
    client.post(report.get_absolute_url(), formset_data(edit, initial=1))
    assert not Expenditure.objects.filter(pk=line.pk).exists()


def test_pages_answer_another_pos_report_as_missing_and_refuse_the_pmu_its_lines(
    po1, po2, finance, sp_one, client
):
    report = open_report(po1, sp_one)
    add(po1, report)
    client.force_login(po2)
    assert client.get(report.get_absolute_url()).status_code == 404
    assert (
        client.post(reverse("finance:spending-report-transition", args=[report.pk, "submit"])).status_code
        == 404
    )
    client.force_login(finance)
    page = client.get(report.get_absolute_url())
    assert page.status_code == 200
    assert 'data-testid="lines-form"' not in page.content.decode()
    assert client.post(report.get_absolute_url(), formset_data([])).status_code == 403
    client.force_login(po1)
    submitted = client.post(reverse("finance:spending-report-transition", args=[report.pk, "submit"]))
    assert submitted.status_code == 302
    client.force_login(finance)
    refused = client.post(reverse("finance:spending-report-transition", args=[report.pk, "return"]))
    assert refused.status_code == 409
    accepted = client.post(reverse("finance:spending-report-transition", args=[report.pk, "accept"]))
    assert accepted.status_code == 302
    report.refresh_from_db()
    assert report.status == "accepted"


def test_the_report_button_opens_or_finds_the_quarter(po1, sp_one, client):
    client.force_login(po1)
    form = client.get(reverse("finance:spending-report-create"), {"sub_project": sp_one.pk})
    assert form.status_code == 200
    quarter = spending.quarter_label(last_quarter())
    created = client.post(
        reverse("finance:spending-report-create"), {"sub_project": sp_one.pk, "quarter": quarter}
    )
    report = SpendingReport.objects.get()
    assert created["Location"] == report.get_absolute_url()
    again = client.post(
        reverse("finance:spending-report-create"), {"sub_project": sp_one.pk, "quarter": quarter}
    )
    assert again["Location"] == report.get_absolute_url()
    assert SpendingReport.objects.count() == 1


def test_the_spending_pages_refuse_people_without_a_money_role(db, client, po_one):
    outsider = make_user("tec9", Role.TEC_MEMBER)
    client.force_login(outsider)
    for name in ("finance:spending-report-list", "finance:expenditure-list", "finance:progress-list"):
        assert client.get(reverse(name)).status_code == 403
    assert client.get(reverse("finance:spending-report-create")).status_code == 403
