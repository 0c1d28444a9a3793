"""Interim financial reports and the funds received: who may do what and when (pages and API), the
report frozen once finalised (its figures kept whatever changes afterwards), corrections as new
versions, receipts of a closed quarter refused, due dates and overdue flags."""

from __future__ import annotations

import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from core import lifecycle
from core.errors import ActionRefused, Forbidden
from core.roles import Role
from finance import ifr
from finance.models import FinancialReport, ForecastLine, FundReceipt, ReportStatus
from tests.factories import make_user
from tests.finance.test_ifr_figures import QUARTER, build_money, make_release, make_spending

TODAY = timezone.localdate


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def finance2(db):
    """A second finance officer of the PMU: may review the first one's report."""
    return make_user("finance2", Role.FINANCE_OFFICER)


@pytest.fixture
def built(po_one, po_two, finance):
    return build_money(po_one, po_two, finance)


@pytest.fixture
def draft(built, finance) -> FinancialReport:
    return ifr.create_report(finance, QUARTER)


def finalised(report, reviewer, finance) -> FinancialReport:
    report = lifecycle.apply(report, "review", reviewer)
    return lifecycle.apply(report, "finalise", finance)


def actions(report) -> list[str]:
    return [t.action for t in lifecycle.transitions_of(report)]


# --- Creating -------------------------------------------------------------------------------------


def test_a_pmu_finance_officer_creates_the_report_of_an_ended_quarter(draft, finance):
    assert draft.status == "draft"
    assert draft.version == 1
    assert draft.prepared_by == finance
    assert draft.reference == "IFR 2025-Q1"
    assert actions(draft) == ["create"]
    # Its forecast of the next two quarters is prefilled from the pro-rated budget.
    lines = ForecastLine.objects.filter(report=draft)
    assert {line.quarter_end for line in lines} == {date(2025, 6, 30), date(2025, 9, 30)}
    planned = ifr.compute(QUARTER)["forecast_budget"]
    total = sum(Decimal(line["2025-06-30"]) for line in planned["lines"])
    assert sum(line.amount for line in lines if line.quarter_end == date(2025, 6, 30)) == total > 0


def test_a_quarter_not_ended_or_already_reported_is_refused_by_field(draft, finance):
    current = ifr.quarter_end_of(TODAY())
    for day, message in [
        (current, "has not ended yet"),
        (QUARTER, "already has a report (IFR 2025-Q1)"),
        (date(2025, 3, 30), "last day of a calendar quarter"),
        (date(2023, 6, 30), "before the programme started"),
    ]:
        with pytest.raises(ValidationError) as refused:
            ifr.create_report(finance, day)
        assert message in str(refused.value.message_dict["quarter_end"])
    assert FinancialReport.objects.count() == 1


@pytest.mark.parametrize("who", ["pmu", "po_finance", "wb", "po1"])
def test_only_a_pmu_finance_officer_creates_a_report(who, request, built):
    with pytest.raises(Forbidden):
        ifr.create_report(request.getfixturevalue(who), QUARTER)
    assert not FinancialReport.objects.exists()


# --- Reviewing, finalising, sending -----------------------------------------------------------------


def test_the_preparer_cannot_review_their_own_report_but_another_finance_officer_can(
    draft, finance, finance2
):
    with pytest.raises(Forbidden):
        lifecycle.apply(draft, "review", finance)
    draft.refresh_from_db()
    assert draft.status == "draft"

    reviewed = lifecycle.apply(draft, "review", finance2)
    assert reviewed.status == "reviewed"


@pytest.mark.parametrize("who", ["po_finance", "wb", "approver", "po1"])
def test_the_po_side_and_readers_cannot_review(who, request, draft):
    with pytest.raises(Forbidden):
        lifecycle.apply(draft, "review", request.getfixturevalue(who))
    draft.refresh_from_db()
    assert draft.status == "draft"
    assert actions(draft) == ["create"]


def test_a_pmu_officer_reviews_sends_back_with_a_comment_and_cannot_finalise(draft, pmu, finance):
    reviewed = lifecycle.apply(draft, "review", pmu)
    with pytest.raises(ActionRefused, match="needs a comment"):
        lifecycle.apply(reviewed, "send_back", pmu)
    back = lifecycle.apply(reviewed, "send_back", pmu, comment="Forecast of Q2 too low.")
    assert back.status == "draft"
    again = lifecycle.apply(back, "review", pmu)
    with pytest.raises(Forbidden):
        lifecycle.apply(again, "finalise", pmu)
    assert actions(again) == ["create", "review", "send_back", "review"]


def test_finalising_freezes_the_figures_and_stores_the_files(draft, pmu, finance):
    report = finalised(draft, pmu, finance)

    assert report.status == "finalised"
    assert report.finalised_at is not None
    assert report.figures["sources"] == ifr.compute(QUARTER)["sources"]
    assert report.figures["forecast"]["quarters"] == ["2025-06-30", "2025-09-30"]
    assert report.xlsx.name.endswith(".xlsx")
    assert report.pdf.name.endswith(".pdf")
    content, name, _type = ifr.report_file(report, "xlsx")
    assert name == "IFR-2025-Q1-v1.xlsx"
    assert "DRAFT" not in str(load_workbook(io.BytesIO(content))["Sources and uses"]["A2"].value or "")


def test_a_finalised_report_keeps_its_figures_when_the_transactions_change(
    draft, built, pmu, finance, client
):
    report = finalised(draft, pmu, finance)
    frozen = report.figures
    stored = ifr.report_file(report, "xlsx")[0]

    # Afterwards: a late spending report of the quarter, a late transfer dated in it.
    make_spending(
        built["early"],
        date(2025, 3, 31),
        "accepted",
        [("csf", "world_bank", date(2025, 3, 1), "777")],
        finance,
    )
    make_release(built["early"], 5, "1000", "0", date(2025, 3, 5), finance)

    live = ifr.compute(QUARTER)
    assert live["releases"]["total"] != frozen["releases"]["total"]
    report.refresh_from_db()
    assert report.figures == frozen
    assert ifr.figures_for(report) == frozen
    assert ifr.report_file(report, "xlsx")[0] == stored
    client.force_login(finance)
    page = client.get(report.get_absolute_url()).content.decode()
    assert 'data-testid="frozen"' in page


def test_a_finalised_report_refuses_edits_with_a_clear_message(draft, pmu, finance, client, api):
    report = finalised(draft, pmu, finance)
    line = ForecastLine.objects.filter(report=report).first()

    with pytest.raises(ActionRefused, match="never edited") as refused:
        ifr.set_notes(report, finance, "changed")
    assert refused.value.code == "locked"
    with pytest.raises(ActionRefused, match="never edited"):
        ifr.set_forecast(
            report,
            finance,
            [
                {
                    "quarter_end": line.quarter_end,
                    "category": line.category,
                    "financier": line.financier,
                    "amount": 1,
                }
            ],
        )
    client.force_login(finance)
    response = client.post(reverse("finance:ifr-notes", args=[report.pk]), {"notes": "changed"})
    assert response.status_code == 409
    assert "never edited" in response.content.decode()
    response = api.as_user(finance).patch(
        f"/api/v1/financial-reports/{report.pk}/", {"notes": "x"}, format="json"
    )
    assert response.status_code == 409
    report.refresh_from_db()
    assert report.notes == ""
    assert ForecastLine.objects.get(pk=line.pk).amount == line.amount


def test_sending_needs_a_day_not_in_the_future(draft, pmu, finance, client):
    report = finalised(draft, pmu, finance)
    with pytest.raises(ActionRefused, match="future"):
        lifecycle.apply(report, "send", finance, sent_on=TODAY() + timedelta(days=1))
    with pytest.raises(ActionRefused, match="Give the day"):
        lifecycle.apply(report, "send", finance)
    client.force_login(finance)
    refused = client.post(
        reverse("finance:ifr-send", args=[report.pk]), {"sent_on": "2999-01-01", "comment": "by email"}
    )
    assert refused.status_code == 409
    assert "by email" in refused.content.decode()
    report.refresh_from_db()
    assert report.status == "finalised"
    assert report.sent_on is None

    done = client.post(reverse("finance:ifr-send", args=[report.pk]), {"sent_on": TODAY().isoformat()})
    assert done.status_code == 302
    report.refresh_from_db()
    assert report.status == "sent"
    assert report.sent_on == TODAY()
    assert actions(report)[-1] == "send"


# --- Corrections ----------------------------------------------------------------------------------


def test_a_correction_is_a_new_draft_version_superseding_the_sent_one(draft, pmu, finance):
    report = finalised(draft, pmu, finance)
    report = lifecycle.apply(report, "send", finance, sent_on=TODAY())

    second = ifr.start_correction(report, finance)

    assert second.version == 2
    assert second.status == "draft"
    assert second.supersedes == report
    assert second.reference == "IFR 2025-Q1 v2"
    assert actions(report)[-1] == "correct"
    assert actions(second) == ["correct"]
    assert (
        ForecastLine.objects.filter(report=second).count()
        == ForecastLine.objects.filter(report=report).count()
    )
    report.refresh_from_db()
    assert report.status == "sent"
    assert report.figures
    assert list(FinancialReport.objects.live()) == [second]
    with pytest.raises(ActionRefused, match="already corrected"):
        ifr.start_correction(report, finance)
    with pytest.raises(ActionRefused, match="edit it"):
        ifr.start_correction(second, finance)
    with pytest.raises(Forbidden):
        ifr.start_correction(report, pmu)


def test_a_superseded_finalised_version_is_not_sent(draft, pmu, finance):
    report = finalised(draft, pmu, finance)
    ifr.start_correction(report, finance)
    with pytest.raises(ActionRefused, match="send the correction"):
        lifecycle.apply(report, "send", finance, sent_on=TODAY())
    report.refresh_from_db()
    assert (report.status, report.sent_on) == (ReportStatus.FINALISED, None)


# --- Funds received -------------------------------------------------------------------------------


def receipt_data(**overrides) -> dict:
    return {
        "source": "world_bank",
        "received_on": date(2025, 2, 20),
        "amount": Decimal("1500000.50"),
        "reference": "WA-NEW",
        "description": "Replenishment",
        **overrides,
    }


def test_receipts_of_a_closed_quarter_cannot_change_until_it_is_corrected(draft, pmu, finance):
    receipt = FundReceipt.objects.get(reference="WA-3")  # 15 Feb 2025
    report = finalised(draft, pmu, finance)

    with pytest.raises(ValidationError) as refused:
        ifr.record_receipt(finance, receipt_data())
    assert "IFR 2025-Q1 is finalised" in str(refused.value.message_dict["received_on"])
    with pytest.raises(ActionRefused, match="Start a correction"):
        ifr.update_receipt(receipt, finance, {"amount": Decimal("1")})
    with pytest.raises(ActionRefused):
        ifr.delete_receipt(receipt, finance)
    receipt.refresh_from_db()
    assert receipt.amount == Decimal("15000000")
    # Another quarter is open.
    assert ifr.record_receipt(finance, receipt_data(received_on=date(2025, 4, 20))).pk

    ifr.start_correction(report, finance)
    assert ifr.update_receipt(receipt, finance, {"amount": Decimal("14000000")}).amount == Decimal("14000000")


def test_a_receipt_with_mistakes_is_refused_by_field(built, finance):
    with pytest.raises(ValidationError) as refused:
        ifr.record_receipt(
            finance,
            receipt_data(received_on=TODAY() + timedelta(days=1), amount=Decimal("-5"), reference="WA-1"),
        )
    problems = refused.value.message_dict
    assert "future" in problems["received_on"][0]
    assert "more than zero" in problems["amount"][0]
    assert "already has this reference" in problems["reference"][0]
    with pytest.raises(Forbidden):
        ifr.record_receipt(make_user("pmu_only", Role.PMU_OFFICER), receipt_data())


def test_the_receipt_pages(built, finance, pmu, po_finance, client):
    client.force_login(finance)
    page = client.get(reverse("finance:receipt-list"))
    assert page.status_code == 200
    assert "WA-3" in page.content.decode()
    assert client.get(reverse("finance:receipt-list") + "?export=csv").status_code == 200

    refused = client.post(
        reverse("finance:receipt-add"),
        {"source": "world_bank", "received_on": "2999-01-01", "amount": "100", "reference": "WA-TYPED"},
    )
    assert refused.status_code == 400
    assert "cannot be in the future" in refused.content.decode()
    assert "WA-TYPED" in refused.content.decode()
    added = client.post(
        reverse("finance:receipt-add"),
        {"source": "pksf", "received_on": "2025-05-02", "amount": "2500000", "reference": "CP-9"},
    )
    assert added.status_code == 302
    receipt = FundReceipt.objects.get(reference="CP-9")
    assert receipt.recorded_by == finance

    client.force_login(pmu)
    assert client.get(reverse("finance:receipt-list")).status_code == 200
    assert client.get(reverse("finance:receipt-add")).status_code == 403
    assert client.post(reverse("finance:receipt-edit", args=[receipt.pk]), {"amount": "1"}).status_code == 403
    client.force_login(po_finance)
    assert client.get(reverse("finance:receipt-list")).status_code == 403
    assert FundReceipt.objects.get(pk=receipt.pk).amount == Decimal("2500000")


def test_the_receipts_api(built, finance, pmu, po_finance, po1, api):
    body = {"source": "pksf", "received_on": "2025-05-02", "amount": "2500000.00", "reference": "CP-API"}
    assert api.as_user(po_finance).get("/api/v1/fund-receipts/").status_code == 403
    assert api.as_user(po1).get("/api/v1/fund-receipts/").status_code == 403
    assert api.as_user(pmu).post("/api/v1/fund-receipts/", body, format="json").status_code == 403

    created = api.as_user(finance).post("/api/v1/fund-receipts/", body, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["quarter"] == "2025-Q2"
    assert created.json()["locked"] is False
    duplicate = api.as_user(finance).post("/api/v1/fund-receipts/", body, format="json")
    assert duplicate.status_code == 400
    assert "reference" in duplicate.json()["fields"]
    listed = api.as_user(pmu).get("/api/v1/fund-receipts/?source=pksf").json()
    assert {row["reference"] for row in listed["results"]} >= {"CP-1", "CP-2", "CP-API"}
    pk = created.json()["id"]
    assert (
        api.as_user(finance)
        .patch(f"/api/v1/fund-receipts/{pk}/", {"amount": "10"}, format="json")
        .json()["amount"]
        == "10.00"
    )
    assert api.as_user(finance).delete(f"/api/v1/fund-receipts/{pk}/").status_code == 204


# --- Pages and API of the reports ---------------------------------------------------------------------


def test_the_po_side_never_sees_a_whole_programme_report(draft, po1, po_finance, client, api):
    for user in (po1, po_finance):
        client.force_login(user)
        assert client.get(reverse("finance:ifr-list")).status_code == 403
        assert client.get(reverse("finance:ifr-detail", args=[draft.pk])).status_code == 403
        assert client.get(reverse("finance:ifr-download", args=[draft.pk, "xlsx"])).status_code == 403
        assert client.post(reverse("finance:ifr-transition", args=[draft.pk, "review"])).status_code == 403
        assert api.as_user(user).get("/api/v1/financial-reports/").status_code == 403
        assert api.as_user(user).get(f"/api/v1/financial-reports/{draft.pk}/").status_code == 403
    draft.refresh_from_db()
    assert draft.status == "draft"


@pytest.mark.parametrize("who", ["pmu", "wb", "approver", "finance"])
def test_the_pmu_side_reads_the_report_with_its_tables(who, request, draft, client):
    client.force_login(request.getfixturevalue(who))
    page = client.get(reverse("finance:ifr-detail", args=[draft.pk]))
    text = page.content.decode()
    assert page.status_code == 200
    assert 'data-testid="table-sources_uses"' in text
    assert 'data-testid="table-releases"' in text
    assert 'data-testid="live"' in text
    assert ("forecast-form" in text) == (who == "finance")
    listing = client.get(reverse("finance:ifr-list"))
    assert listing.status_code == 200
    assert "IFR 2025-Q1" in listing.content.decode()


def test_an_unknown_report_is_a_404(finance, client):
    client.force_login(finance)
    assert client.get(reverse("finance:ifr-detail", args=[999999])).status_code == 404


def test_the_lifecycle_on_pages(draft, finance, finance2, client):
    client.force_login(finance)
    own = client.post(reverse("finance:ifr-transition", args=[draft.pk, "review"]))
    assert own.status_code == 403
    client.force_login(finance2)
    assert client.post(reverse("finance:ifr-transition", args=[draft.pk, "review"])).status_code == 302
    refused = client.post(
        reverse("finance:ifr-transition", args=[draft.pk, "send_back"]), {"send_back-comment": ""}
    )
    assert refused.status_code == 409
    assert "needs a comment" in refused.content.decode()
    client.force_login(finance)
    assert client.post(reverse("finance:ifr-transition", args=[draft.pk, "finalise"])).status_code == 302
    draft.refresh_from_db()
    assert draft.status == "finalised"
    download = client.get(reverse("finance:ifr-download", args=[draft.pk, "pdf"]))
    assert download.status_code == 200
    assert download["Content-Type"] == "application/pdf"
    assert 'filename="IFR-2025-Q1-v1.pdf"' in download["Content-Disposition"]
    corrected = client.post(reverse("finance:ifr-correct", args=[draft.pk]))
    assert corrected.status_code == 302
    assert FinancialReport.objects.get(version=2).supersedes == draft


def test_the_create_page_offers_ended_quarters_without_a_report(built, finance, pmu, client):
    client.force_login(finance)
    page = client.get(reverse("finance:ifr-create"))
    assert page.status_code == 200
    assert 'value="2025-03-31"' in page.content.decode()
    assert f'value="{ifr.quarter_end_of(TODAY()).isoformat()}"' not in page.content.decode()
    created = client.post(reverse("finance:ifr-create"), {"quarter_end": "2025-03-31", "notes": "First"})
    assert created.status_code == 302
    again = client.post(reverse("finance:ifr-create"), {"quarter_end": "2025-03-31", "notes": "Typed"})
    assert again.status_code == 400
    assert "Typed" in again.content.decode()
    assert FinancialReport.objects.count() == 1
    client.force_login(pmu)
    assert client.get(reverse("finance:ifr-create")).status_code == 403


def test_the_forecast_form_saves_all_or_nothing(draft, finance, client):
    client.force_login(finance)
    lines = list(ForecastLine.objects.filter(report=draft))
    data = {f"line_{line.pk}": "123.45" for line in lines}
    data[f"line_{lines[0].pk}"] = "-1"
    refused = client.post(reverse("finance:ifr-forecast", args=[draft.pk]), data)
    assert refused.status_code == 400
    assert not ForecastLine.objects.filter(report=draft, amount=Decimal("123.45")).exists()

    data[f"line_{lines[0].pk}"] = "99"
    data.update(new_quarter_end="2025-06-30", new_category="other", new_financier="pksf", new_amount="5000")
    assert client.post(reverse("finance:ifr-forecast", args=[draft.pk]), data).status_code == 302
    assert ForecastLine.objects.get(pk=lines[0].pk).amount == Decimal("99")
    assert ForecastLine.objects.get(report=draft, category="other", financier="pksf").amount == Decimal(
        "5000"
    )
    assert actions(draft)[-1] == "edit_forecast"
    figures = ifr.figures_for(draft)
    assert Decimal(figures["forecast"]["by_category"]["other"]["2025-06-30"]) == Decimal("5000")


def test_the_reports_api(built, finance, finance2, pmu, api):
    created = api.as_user(finance).post(
        "/api/v1/financial-reports/", {"quarter_end": "2025-03-31"}, format="json"
    )
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    assert created.json()["quarter"] == "2025-Q1"
    assert created.json()["due_on"] == "2025-05-15"
    assert (
        api.as_user(pmu)
        .post("/api/v1/financial-reports/", {"quarter_end": "2024-12-31"}, format="json")
        .status_code
        == 403
    )
    bad = api.as_user(finance).post(
        "/api/v1/financial-reports/", {"quarter_end": "2025-03-31"}, format="json"
    )
    assert bad.status_code == 400
    assert "quarter_end" in bad.json()["fields"]

    detail = api.as_user(pmu).get(f"/api/v1/financial-reports/{pk}/").json()
    assert detail["figures"]["uses"]["total"]["quarter"] == "850001.00"
    assert [a["action"] for a in detail["available_actions"]] == ["review"]

    assert api.as_user(finance).post(f"/api/v1/financial-reports/{pk}/review/").status_code == 403
    assert api.as_user(finance2).post(f"/api/v1/financial-reports/{pk}/review/").status_code == 200
    forecast = api.as_user(finance).get(f"/api/v1/financial-reports/{pk}/forecast/").json()["lines"]
    forecast[0]["amount"] = "42.00"
    put = api.as_user(finance).put(
        f"/api/v1/financial-reports/{pk}/forecast/", {"lines": forecast[:1]}, format="json"
    )
    assert put.status_code == 200
    wrong = api.as_user(finance).put(
        f"/api/v1/financial-reports/{pk}/forecast/",
        {"lines": [{**forecast[0], "quarter_end": "2030-03-31"}]},
        format="json",
    )
    assert wrong.status_code == 400
    assert "lines.0.quarter_end" in wrong.json()["fields"]
    draft_file = api.as_user(pmu).get(f"/api/v1/financial-reports/{pk}/xlsx/")
    assert draft_file.status_code == 200
    assert "DRAFT" in draft_file["Content-Disposition"]

    finalised_ = api.as_user(finance).post(f"/api/v1/financial-reports/{pk}/finalise/")
    assert finalised_.status_code == 200
    assert finalised_.json()["status"] == "finalised"
    future = api.as_user(finance).post(
        f"/api/v1/financial-reports/{pk}/send/",
        {"sent_on": (TODAY() + timedelta(days=3)).isoformat()},
        format="json",
    )
    assert future.status_code == 409
    sent = api.as_user(finance).post(
        f"/api/v1/financial-reports/{pk}/send/", {"sent_on": TODAY().isoformat()}, format="json"
    )
    assert sent.status_code == 200
    assert sent.json()["sent_on"] == TODAY().isoformat()
    pdf = api.as_user(pmu).get(f"/api/v1/financial-reports/{pk}/pdf/")
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF")
    assert api.as_user(pmu).post(f"/api/v1/financial-reports/{pk}/correct/").status_code == 403
    correction = api.as_user(finance).post(f"/api/v1/financial-reports/{pk}/correct/")
    assert correction.status_code == 201
    assert correction.json()["version"] == 2
    old = api.as_user(pmu).get(f"/api/v1/financial-reports/{pk}/").json()
    assert old["is_current"] is False
    assert old["superseded_by"] == correction.json()["id"]


# --- Due dates, overdue, waiting ---------------------------------------------------------------------


def test_quarters_are_due_from_the_first_money_and_overdue_until_sent(built, finance, pmu, settings):
    rows = {row.label: row for row in ifr.quarter_rows()}
    # The first money moved in 2024-Q1 (a transfer on 1 March 2024).
    assert min(rows) == "2024-Q1"
    assert rows["2025-Q1"].due_on == date(2025, 5, 15)
    assert rows["2025-Q1"].overdue
    assert not rows["2025-Q1"].reports
    waiting = ifr.ifr_waiting(finance)
    assert any(item.reference == "IFR 2025-Q1" and item.overdue for item in waiting)
    assert (
        ifr.ifr_waiting(
            make_user("po9", Role.PO_STAFF, Role.FINANCE_OFFICER, po=built["main"].partner_organization)
        )
        == []
    )

    report = ifr.create_report(finance, QUARTER)
    assert [item.what for item in ifr.ifr_waiting(pmu) if item.url == report.get_absolute_url()] == [
        "Mark reviewed"
    ]
    assert not [item for item in ifr.ifr_waiting(finance) if item.url == report.get_absolute_url()]
    report = finalised(report, pmu, finance)
    lifecycle.apply(report, "send", finance, sent_on=TODAY())
    rows = {row.label: row for row in ifr.quarter_rows()}
    assert not rows["2025-Q1"].overdue


# --- Who hears of it ------------------------------------------------------------------------------


def test_the_people_whose_step_is_next_are_emailed_after_the_commit(
    built, finance, finance2, pmu, po_finance, wb, django_capture_on_commit_callbacks
):
    from django.core import mail

    with django_capture_on_commit_callbacks(execute=True):
        report = ifr.create_report(finance, QUARTER)
    # Reviewers of the PMU's side, not the preparer, never a PO's finance officer nor the Bank.
    assert sorted(message.to[0] for message in mail.outbox) == ["finance2@example.org", "pmu@example.org"]
    assert "IFR 2025-Q1" in mail.outbox[0].subject

    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        report = lifecycle.apply(report, "review", pmu)
    # Finance officers of the PMU finalise it.
    assert sorted(message.to[0] for message in mail.outbox) == ["finance2@example.org", "finance@example.org"]

    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.apply(report, "send_back", finance2, comment="Notes missing.")
    # Back to draft: the preparer, and the other reviewers.
    assert sorted(message.to[0] for message in mail.outbox) == ["finance@example.org", "pmu@example.org"]


def test_a_receipt_is_edited_or_deleted_on_its_page_unless_its_quarter_is_closed(draft, pmu, finance, client):
    client.force_login(finance)
    open_receipt = FundReceipt.objects.get(reference="WA-4")  # 1 April 2025: next quarter
    closed_receipt = FundReceipt.objects.get(reference="WA-3")
    page = client.get(reverse("finance:receipt-edit", args=[open_receipt.pk]))
    assert page.status_code == 200
    assert 'value="WA-4"' in page.content.decode()
    finalised(draft, pmu, finance)

    refused = client.post(reverse("finance:receipt-delete", args=[closed_receipt.pk]))
    assert refused.status_code == 409
    assert "IFR 2025-Q1 is finalised" in refused.content.decode()
    moved = client.post(
        reverse("finance:receipt-edit", args=[open_receipt.pk]),
        {"source": "world_bank", "received_on": "2025-03-20", "amount": "9000000", "reference": "WA-4"},
    )
    assert moved.status_code == 400  # into the closed quarter
    assert "Start a correction" in moved.content.decode()
    assert client.post(reverse("finance:receipt-delete", args=[open_receipt.pk])).status_code == 302
    assert not FundReceipt.objects.filter(pk=open_receipt.pk).exists()
    assert FundReceipt.objects.filter(pk=closed_receipt.pk).exists()


def test_home_shows_the_quarters_and_what_waits(built, finance, pmu, po_finance, client):
    client.force_login(finance)
    home = client.get("/").content.decode()
    assert 'data-testid="ifr-panel"' in home
    assert 'data-testid="ifr-panel-overdue"' in home
    assert "IFR 2025-Q1" in home  # waiting: to prepare, past its due day
    client.force_login(po_finance)
    assert 'data-testid="ifr-panel"' not in client.get("/").content.decode()


def test_the_demo_without_any_release_seeds_the_advances_and_runs_again_unchanged(po_one, pmu, finance):
    from demo import finance_ifr
    from tests.finance.factories import funded_sub_project

    funded_sub_project(po_one)  # started 15 Jul 2024, nothing released
    out = io.StringIO()
    finance_ifr.seed(out)

    assert "no transferred release yet: seeded the advances only" in out.getvalue()
    assert set(FundReceipt.objects.values_list("source", flat=True)) == {"world_bank", "pksf"}
    live = list(FinancialReport.objects.live().order_by("quarter_end"))
    assert live[0].quarter_end == date(2024, 9, 30)
    assert [report.status for report in live[-2:]] == ["finalised", "draft"]
    assert FinancialReport.objects.filter(version=2, status="sent").exists()
    counts = (FundReceipt.objects.count(), FinancialReport.objects.count())
    finance_ifr.seed(io.StringIO())
    assert (FundReceipt.objects.count(), FinancialReport.objects.count()) == counts
