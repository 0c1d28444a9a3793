"""The data-quality panel: each metric on hand-made data with its edge cases, scoped per role on the
page and in the API, and a number of queries that does not grow with the number of POs."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from enterprises.models import DuplicateStatus, DuplicateSuspect, ImportJob, ImportStatus
from monitoring import quality
from tests.enterprises.factories import (
    AdoptionFactory,
    EnterpriseFactory,
    FinancialSupportFactory,
    KpiReadingFactory,
    kpi,
    practice,
    sub_project_for,
)
from tests.factories import PartnerOrganizationFactory
from verification.models import (
    CheckKind,
    CheckStatus,
    VerificationCheck,
    VerificationPolicy,
    VerificationRound,
)

TODAY = date(2025, 7, 15)  # the window of readings starts on 1 April 2025 (April, May, June complete)


def aware(*args) -> datetime:
    return timezone.make_aware(datetime(*args))


def readings(me, *months, baseline: str | None = None, code: str = "ELECTRICITY") -> None:
    """A baseline reading for `baseline` (YYYY-MM) and ordinary readings for each month."""
    if baseline:
        KpiReadingFactory(
            enterprise=me, kpi=kpi(code), period=date.fromisoformat(f"{baseline}-01"), is_baseline=True
        )
    for month in months:
        KpiReadingFactory(enterprise=me, kpi=kpi(code), period=date.fromisoformat(f"{month}-01"))


def checks(po, round_, **counts) -> None:
    for status, count in counts.items():
        for index in range(count):
            VerificationCheck.objects.create(
                round=round_,
                partner_organization=po,
                kind=CheckKind.ADOPTION,
                subject_label=f"{po.code} {status} {index}",
                status=status,
                visited_on=None if status == CheckStatus.PENDING else date(2025, 6, 1),
            )


def import_job(po, status, days_ago: int) -> ImportJob:
    return ImportJob.objects.create(
        kind="enterprises",
        partner_organization=po,
        file="imports/x.csv",
        original_name="mes.csv",
        file_format="csv",
        status=status,
        created_at=timezone.make_aware(datetime.combine(TODAY, datetime.min.time()))
        - timedelta(days=days_ago),
    )


@pytest.fixture
def data(po_one, po_two, pmu, po1):
    sp1, sp2 = sub_project_for(po_one), sub_project_for(po_two)
    one = [EnterpriseFactory(sub_project=sp1) for _index in range(8)]
    two = [EnterpriseFactory(sub_project=sp2) for _index in range(2)]
    # Readings (window from April 2025): 0 recent, 1 stale, 2 fresh baseline of the current month,
    # 3 baseline only (stale), 4 none at all, 5 a reading on the window's first day, 6 a recent
    # reading of another KPI, 7 a confirmed duplicate of 0 (counted once, as its original).
    readings(one[0], "2025-05", baseline="2025-01")
    readings(one[1], "2025-03", baseline="2025-01")
    readings(one[2], baseline="2025-07")
    readings(one[3], baseline="2025-03")
    readings(one[5], "2025-04", baseline="2025-01")
    readings(one[6], baseline="2025-01")
    readings(one[6], "2025-06", code="WATER")
    one[7].duplicate_of = one[0]
    one[7].save()
    readings(one[7], baseline="2025-01")
    readings(two[0], baseline="2025-01")
    # Adoptions of PO 1: verified by the PMU (2), "verified" by the PO's own staff (1), not at all (1).
    AdoptionFactory(
        enterprise=one[0], practice=practice("AQ-04"), verified_by=pmu, verified_on=date(2025, 4, 1)
    )
    AdoptionFactory(
        enterprise=one[0], practice=practice("EE-01"), verified_by=pmu, verified_on=date(2025, 4, 1)
    )
    AdoptionFactory(
        enterprise=one[1], practice=practice("AQ-04"), verified_by=po1, verified_on=date(2025, 4, 1)
    )
    AdoptionFactory(enterprise=one[2], practice=practice("AQ-04"))
    # Verification: PO 1 (3 + 0.5) / 5 done = 70 % → flagged below 90 %; PO 2 100 %.
    round_ = VerificationRound.objects.create(year=2025, quarter=2, seed=1, margin_percent=5, floor=10)
    checks(po_one, round_, confirmed=3, partly=1, not_found=1, pending=1)
    checks(po_two, round_, confirmed=2)
    # Duplicates: an open pair inside PO 1, an open pair across the two POs, a dismissed pair.
    DuplicateSuspect.objects.create(enterprise=one[4], matched_enterprise=one[3])
    DuplicateSuspect.objects.create(enterprise=two[1], matched_enterprise=one[5])
    DuplicateSuspect.objects.create(
        enterprise=one[6], matched_enterprise=one[5], status=DuplicateStatus.DISMISSED
    )
    # Imports of PO 1: refused 10 and 89 days ago, failed 30 days ago count; 91 days ago and a
    # successful one do not.
    import_job(po_one, ImportStatus.INVALID, 10)
    import_job(po_one, ImportStatus.INVALID, 89)
    import_job(po_one, ImportStatus.FAILED, 30)
    import_job(po_one, ImportStatus.INVALID, 91)
    import_job(po_one, ImportStatus.DONE, 5)
    return one, two


def test_the_readings_window_is_the_last_complete_months():
    assert quality.readings_window_start(date(2025, 7, 15)) == date(2025, 4, 1)
    assert quality.readings_window_start(date(2025, 2, 1)) == date(2024, 11, 1)
    assert quality.readings_window_start(date(2025, 1, 31), months=1) == date(2024, 12, 1)


def test_each_metric_on_hand_made_data(data, po_one, po_two):
    panel = quality.panel(today=TODAY)

    one, two = panel.row(po_one.pk), panel.row(po_two.pk)
    # MEs 0, 1, 2, 3, 5, 6 have a baseline (7 is a duplicate, 4 has none); 1 and 3 are overdue.
    assert (one.mes_with_baseline, one.readings_overdue) == (6, 2)
    assert one.readings_overdue_percent == Decimal("33.3")
    assert (two.mes_with_baseline, two.readings_overdue) == (1, 1)
    assert (one.adoptions_reported, one.adoptions_unverified, one.adoptions_unverified_percent) == (4, 2, 50)
    assert (two.adoptions_reported, two.adoptions_unverified_percent) == (0, None)
    assert (one.checks_sampled, one.checks_done, one.confirmation_rate, one.flagged) == (
        6,
        5,
        Decimal("70.0"),
        True,
    )
    assert (two.confirmation_rate, two.flagged) == (Decimal("100.0"), False)
    assert (one.duplicates_pending, two.duplicates_pending) == (2, 1)
    assert (one.imports_refused, two.imports_refused) == (3, 0)
    assert panel.threshold == Decimal("90")


def test_the_flag_follows_the_pmu_threshold(data, po_one):
    policy = VerificationPolicy.current()
    policy.threshold_percent = Decimal("70")
    policy.save()

    row = quality.panel(today=TODAY).row(po_one.pk)

    assert (row.confirmation_rate, row.flagged) == (Decimal("70.0"), False)


def test_a_po_without_any_data_has_empty_figures(data):
    quiet = PartnerOrganizationFactory(code="PO-T03")

    row = quality.panel(today=TODAY).row(quiet.pk)

    assert (row.mes_with_baseline, row.readings_overdue, row.readings_overdue_percent) == (0, 0, None)
    assert (row.confirmation_rate, row.flagged, row.duplicates_pending, row.imports_refused) == (
        None,
        False,
        0,
        0,
    )
    assert row.last_entry is None


def test_last_data_entry_is_the_latest_record_of_any_kind(po_one, po_two):
    sp1, sp2 = sub_project_for(po_one), sub_project_for(po_two)
    me = EnterpriseFactory(sub_project=sp1, created_at=aware(2025, 1, 10, 9, 0))
    FinancialSupportFactory(enterprise=me, created_at=aware(2025, 3, 1, 9, 0))
    KpiReadingFactory(enterprise=me, is_baseline=True, created_at=aware(2025, 7, 1, 10, 30))
    EnterpriseFactory(sub_project=sp2, created_at=aware(2025, 2, 1, 8, 0))

    panel = quality.panel(today=TODAY)

    assert panel.row(po_one.pk).last_entry == aware(2025, 7, 1, 10, 30)
    assert panel.row(po_two.pk).last_entry == aware(2025, 2, 1, 8, 0)


def test_one_po_only(data, po_one, po_two):
    panel = quality.panel(po_id=po_two.pk, today=TODAY)

    assert [row.po for row in panel.rows] == [po_two]
    # A pair across POs still counts for the PO asked about.
    assert panel.row(po_two.pk).duplicates_pending == 1


def _populate(po) -> None:
    me, other = (EnterpriseFactory(sub_project=sub_project_for(po)) for _index in range(2))
    readings(me, baseline="2025-01")
    AdoptionFactory(enterprise=me)
    DuplicateSuspect.objects.create(enterprise=other, matched_enterprise=me)
    import_job(po, ImportStatus.FAILED, 3)


def test_the_panel_costs_the_same_queries_for_one_or_many_pos(po_one, client, pmu):
    _populate(po_one)
    VerificationPolicy.current()
    client.force_login(pmu)
    client.get("/dashboard/data-quality/")  # the session and the policy are set up once

    with CaptureQueriesContext(connection) as one_po:
        quality.panel(today=TODAY)
    with CaptureQueriesContext(connection) as page_one_po:
        client.get("/dashboard/data-quality/")
    for index in range(4):
        _populate(PartnerOrganizationFactory(code=f"PO-Q{index}"))
    with CaptureQueriesContext(connection) as five_pos:
        panel = quality.panel(today=TODAY)
    with CaptureQueriesContext(connection) as page_five_pos:
        page = client.get("/dashboard/data-quality/")

    assert len(panel.rows) == 5
    assert all(row.imports_refused == 1 and row.duplicates_pending == 1 for row in panel.rows)
    assert len(one_po) == len(five_pos) <= 8
    assert len(page_one_po) == len(page_five_pos)
    assert page.content.decode().count('data-testid="quality-PO-') == 5


# --- Page -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["pmu", "wb", "approver"])
def test_programme_roles_see_every_po_with_the_rules(data, client, request, persona):
    client.force_login(request.getfixturevalue(persona))

    page = client.get("/dashboard/data-quality/").content.decode()

    assert 'data-testid="quality-PO-T01"' in page
    assert 'data-testid="quality-PO-T02"' in page
    assert 'data-testid="flag"' in page  # PO 1 is below the threshold
    since = quality.readings_window_start(timezone.localdate()).strftime("%B %Y")
    assert f"no reading of any KPI for a month from {since} on" in page
    assert "below 90 % (the PMU&#x27;s threshold)" in page


def test_programme_roles_can_narrow_to_one_po(data, client, wb):
    client.force_login(wb)

    page = client.get("/dashboard/data-quality/", {"po": "PO-T02"}).content.decode()

    assert 'data-testid="quality-PO-T02"' in page
    assert 'data-testid="quality-PO-T01"' not in page
    assert client.get("/dashboard/data-quality/", {"po": "NOPE"}).status_code == 404


def test_po_staff_see_their_own_row_only(data, client, po1):
    client.force_login(po1)

    page = client.get("/dashboard/data-quality/").content.decode()
    asked_for_other = client.get("/dashboard/data-quality/", {"po": "PO-T02"}).content.decode()

    assert 'data-testid="quality-PO-T01"' in page
    assert "PO-T02" not in page
    assert "Meghna Test Foundation" not in asked_for_other  # whatever the address asks for
    assert 'data-testid="quality-PO-T01"' in asked_for_other


def test_tec_members_and_strangers_are_refused(data, client, tec1):
    assert client.get("/dashboard/data-quality/").status_code == 302  # to the sign-in page
    client.force_login(tec1)
    assert client.get("/dashboard/data-quality/").status_code == 403


def test_the_page_is_in_the_navigation(client, po1):
    client.force_login(po1)

    assert 'href="/dashboard/data-quality/"' in client.get("/").content.decode()


# --- API ------------------------------------------------------------------------------------------


def test_api_lists_every_po_for_programme_roles(data, api, pmu):
    body = api.as_user(pmu).get("/api/v1/data-quality/").json()

    assert body["count"] == 2
    one = next(row for row in body["results"] if row["po"] == "PO-T01")
    assert one["mes_with_baseline"] == 6
    assert one["readings_since"] == quality.readings_window_start(timezone.localdate()).isoformat()
    assert one["verification"]["rate"] == "70.0"
    assert one["verification"]["flagged"] is True
    assert one["verification"]["threshold"] == 90.0
    assert one["duplicates_pending"] == 2
    assert one["adoptions_unverified_percent"] == "50.0"


def test_api_filters_by_po_code(data, api, approver):
    body = api.as_user(approver).get("/api/v1/data-quality/", {"po": "PO-T02"}).json()

    assert [row["po"] for row in body["results"]] == ["PO-T02"]


def test_api_po_staff_get_their_row_and_404_for_another_po(data, api, po1):
    client = api.as_user(po1)

    assert [row["po"] for row in client.get("/api/v1/data-quality/").json()["results"]] == ["PO-T01"]
    assert client.get("/api/v1/data-quality/", {"po": "PO-T02"}).status_code == 404


def test_api_refuses_tec_members_and_anonymous_clients(data, api, tec1):
    assert api.get("/api/v1/data-quality/").status_code == 401
    assert api.as_user(tec1).get("/api/v1/data-quality/").status_code == 403


def test_readings_entered_on_a_confirmed_duplicate_count_for_its_original(po_one):
    sp = sub_project_for(po_one)
    original, silent = EnterpriseFactory(sub_project=sp), EnterpriseFactory(sub_project=sp)
    duplicate = EnterpriseFactory(sub_project=sp, duplicate_of=original)
    readings(original, baseline="2025-01")
    readings(duplicate, "2025-06")  # the recent reading sits on the duplicate's record
    readings(silent, "2025-01", baseline="2024-12")

    row = quality.panel(po_id=po_one.pk, today=TODAY).row(po_one.pk)

    assert (row.mes_with_baseline, row.readings_overdue) == (2, 1)  # only `silent` is overdue
