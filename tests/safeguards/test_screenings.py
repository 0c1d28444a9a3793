"""ME screening on the engine, and the rule it feeds: an ME whose latest completed screening failed
receives no financial support, by page, API or import alike, each refusal changing nothing; a later
screening that passes lifts it."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from core import lifecycle
from core.errors import ActionRefused
from core.roles import Role
from enterprises.imports import import_file
from enterprises.models import FinancialSupport
from safeguards import screenings
from safeguards.models import (
    Clearance,
    ClearanceKind,
    ExclusionItem,
    MeScreening,
    MeScreeningOutcome,
    MeScreeningStatus,
)
from subprojects.models import Transition
from tests.assertions import field_errors
from tests.enterprises.factories import EnterpriseFactory, FinancialSupportFactory, sub_project_for
from tests.factories import make_user

pytestmark = pytest.mark.django_db

SUPPORT = {"kind": "loan", "amount": "150000", "financier": "po", "disbursed_on": "2024-10-01"}


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def me_one(po_one):
    return EnterpriseFactory(sub_project=sub_project_for(po_one), po_code="ME-0001", name="Rahima Shoe Works")


@pytest.fixture
def es(db):
    return make_user("es", Role.PMU_OFFICER, Role.ES_OFFICER)


def draft(enterprise, user, **answers) -> MeScreening:
    data = {
        "safe_working_conditions": True,
        "pollution_controlled": True,
        "child_labour_found": False,
        "clearance_category": "green",
        **answers,
    }
    return screenings.create_screening(user=user, enterprise=enterprise, data=data)


def complete(enterprise, user, **answers) -> MeScreening:
    return lifecycle.apply(draft(enterprise, user, **answers), "complete", user)


def count_rows() -> tuple[int, int]:
    return FinancialSupport.objects.count(), Transition.objects.count()


# --- The outcome ----------------------------------------------------------------------------------


def test_a_clean_checklist_passes_and_the_completion_is_logged(me_one, po1):
    screening = complete(me_one, po1)

    assert (screening.status, screening.outcome, screening.failure_reasons) == ("completed", "passed", "")
    assert screening.completed_at is not None
    assert list(screening.transitions.values_list("action", "actor__username")) == [("complete", "po1")]
    assert screenings.financing_refusal(me_one) is None


def test_an_unanswered_question_is_named_and_the_draft_stays_as_it_was(me_one, po1):
    screening = draft(me_one, po1, child_labour_found=None, clearance_category="")
    before = Transition.objects.count()

    with pytest.raises(ActionRefused) as refused:
        lifecycle.apply(screening, "complete", po1)

    assert "child labour found" in str(refused.value)
    assert "environmental clearance category" in str(refused.value)
    screening.refresh_from_db()
    assert (screening.status, screening.outcome) == (MeScreeningStatus.DRAFT, "")
    assert Transition.objects.count() == before


def test_each_reason_of_a_failure_is_named(me_one, po1):
    weapons = ExclusionItem.objects.get(code="weapons-munitions")
    screening = draft(
        me_one, po1, child_labour_found=True, safe_working_conditions=False, pollution_controlled=False
    )
    screening.exclusions_found.set([weapons])

    screening = lifecycle.apply(screening, "complete", po1)

    assert screening.outcome == MeScreeningOutcome.FAILED
    for words in (weapons.name, "child labour found", "working conditions are unsafe", "pollution is not"):
        assert words in screening.failure_reasons


def test_orange_and_red_need_a_doe_clearance_valid_on_the_screening_date(me_one, po1, es):
    today = timezone.localdate()
    refused = complete(me_one, po1, clearance_category="orange")
    Clearance.objects.create(
        partner_organization=me_one.partner_organization,
        enterprise=me_one,
        kind=ClearanceKind.DOE_ECC,
        number="DOE/ECC/1",
        category="orange",
        issued_on=today - timedelta(days=100),
        expires_on=today + timedelta(days=200),
    )
    # A BSTI certificate does not count.
    Clearance.objects.create(
        partner_organization=me_one.partner_organization,
        enterprise=me_one,
        kind=ClearanceKind.BSTI,
        number="BSTI/1",
        issued_on=today - timedelta(days=10),
        expires_on=today + timedelta(days=200),
    )
    # After a failure, only the PMU completes a new screening.
    red_before_issue = complete(me_one, es, clearance_category="red", screened_on=today - timedelta(days=150))
    passed = complete(me_one, es, clearance_category="orange")

    assert refused.outcome == "failed"
    assert "without a DoE environmental clearance" in refused.failure_reasons
    assert red_before_issue.outcome == "failed"
    assert passed.outcome == "passed"


# --- Disbursements are refused, by page, API and import ---------------------------------------------


@pytest.fixture
def failed_me(me_one, po1):
    complete(me_one, po1, child_labour_found=True)
    return me_one


def test_the_page_refuses_a_disbursement_naming_the_screening_and_changes_nothing(client, po1, failed_me):
    screening = MeScreening.objects.get(enterprise=failed_me)
    before = count_rows()
    client.force_login(po1)

    response = client.post(f"/enterprises/{failed_me.pk}/supports/new/", SUPPORT)

    page = response.content.decode()
    assert response.status_code == 200  # the form again, with the reason
    assert screening.reference in page
    assert "child labour found" in page
    assert count_rows() == before


def test_the_api_refuses_a_disbursement_on_the_enterprise_field_and_changes_nothing(api, po1, failed_me):
    before = count_rows()
    api.as_user(po1)

    response = api.post("/api/v1/financial-supports/", {"enterprise": failed_me.pk, **SUPPORT})

    assert response.status_code == 400
    body = field_errors(response)
    assert list(body) == ["enterprise"]
    screening = MeScreening.objects.get(enterprise=failed_me)
    assert screening.reference in body["enterprise"][0]
    assert screening.screened_on.isoformat() in body["enterprise"][0]
    assert "child labour found" in body["enterprise"][0]
    assert count_rows() == before


def supports_file(*codes: str) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(
        buffer, fieldnames=["enterprise_code", "kind", "amount", "financier", "disbursed_on", "reference"]
    )
    writer.writeheader()
    for code in codes:
        writer.writerow({"enterprise_code": code, **SUPPORT, "reference": ""})
    return buffer.getvalue().encode()


def run_import(data: bytes, po, user, commit=True):
    return import_file(
        "financial-supports",
        partner_organization=po,
        user=user,
        open_file=lambda: io.BytesIO(data),
        file_format="csv",
        commit=commit,
    )


def test_an_import_with_a_failed_me_is_refused_whole_and_writes_nothing(po_one, po1, failed_me):
    other = EnterpriseFactory(sub_project=failed_me.sub_project, po_code="ME-0002")
    before = count_rows()

    report = run_import(supports_file(other.po_code, failed_me.po_code), po_one, po1)

    errors = [error.as_dict() for error in report.errors]
    assert not report.ok
    assert [(e["row"], e["column"]) for e in errors] == [(3, "enterprise_code")]
    assert "child labour found" in errors[0]["message"]
    assert count_rows() == before


def test_the_import_looks_screenings_up_once_per_chunk_not_per_row(
    po_one, po1, me_one, django_assert_max_num_queries
):
    mes = [EnterpriseFactory(sub_project=me_one.sub_project, po_code=f"ME-1{n:03d}") for n in range(30)]
    for me in mes[:10]:
        complete(me, po1, child_labour_found=True)
    data = supports_file(*(me.po_code for me in mes))

    with django_assert_max_num_queries(30):
        report = run_import(data, po_one, po1, commit=False)

    assert report.error_count == 10


def _stored(support) -> tuple:
    support.refresh_from_db()
    return (support.amount, support.kind, support.disbursed_on, support.reference)


@pytest.fixture
def barred_support(me_one, po1):
    """A support recorded before the ME failed its screening."""
    support = FinancialSupportFactory(
        enterprise=me_one, financier="po", kind="loan", amount=150000, disbursed_on="2024-10-01", reference=""
    )
    complete(me_one, po1, child_labour_found=True)
    return support


def test_earlier_supports_stay_and_their_other_details_can_be_corrected(client, api, po1, barred_support):
    client.force_login(po1)
    api.as_user(po1)

    by_page = client.post(f"/financial-supports/{barred_support.pk}/edit/", {**SUPPORT, "reference": "LN-1"})
    by_api = api.patch(
        f"/api/v1/financial-supports/{barred_support.pk}/", {"reference": "LN-2", "financier": "pksf"}
    )

    assert by_page.status_code == 302
    assert by_api.status_code == 200
    barred_support.refresh_from_db()
    assert (barred_support.reference, barred_support.financier, barred_support.amount) == (
        "LN-2",
        "pksf",
        150000,
    )


@pytest.mark.parametrize(
    "change",
    [{"amount": "900000"}, {"disbursed_on": "today"}, {"kind": "grant"}],
    ids=["amount", "date", "kind"],
)
def test_the_page_refuses_changing_the_terms_of_a_barred_mes_support(client, po1, barred_support, change):
    change = {k: timezone.localdate().isoformat() if v == "today" else v for k, v in change.items()}
    before, rows = _stored(barred_support), count_rows()
    client.force_login(po1)

    response = client.post(f"/financial-supports/{barred_support.pk}/edit/", {**SUPPORT, **change})

    page = response.content.decode()
    assert response.status_code == 200  # the form again, with the reason
    assert MeScreening.objects.get().reference in page
    assert "cannot change" in page
    assert _stored(barred_support) == before
    assert count_rows() == rows


def test_the_api_refuses_changing_the_terms_of_a_barred_mes_support(api, po1, barred_support):
    before, rows = _stored(barred_support), count_rows()
    api.as_user(po1)
    url = f"/api/v1/financial-supports/{barred_support.pk}/"
    today = timezone.localdate().isoformat()

    raised = api.patch(url, {"amount": "900000"})
    moved = api.put(url, {"enterprise": barred_support.enterprise_id, **SUPPORT, "disbursed_on": today})

    assert raised.status_code == moved.status_code == 400
    assert list(raised.json()["fields"]) == ["amount"]
    assert list(moved.json()["fields"]) == ["disbursed_on"]
    assert "child labour found" in field_errors(raised)["amount"][0]
    assert _stored(barred_support) == before
    assert count_rows() == rows


def test_an_import_updating_a_barred_mes_support_is_refused_and_writes_nothing(po_one, po1, barred_support):
    other = EnterpriseFactory(sub_project=barred_support.enterprise.sub_project, po_code="ME-0002")
    before, rows = _stored(barred_support), count_rows()
    code = barred_support.enterprise.po_code
    # The same key (ME, type, date) with a higher amount: an update of the stored support.
    raised = supports_file(other.po_code, code).replace(
        b"%s,loan,150000" % code.encode(), b"%s,loan,900000" % code.encode()
    )

    report = run_import(raised, po_one, po1)

    errors = [error.as_dict() for error in report.errors]
    assert not report.ok
    assert [(e["row"], e["column"]) for e in errors] == [(3, "amount")]
    assert "child labour found" in errors[0]["message"]
    assert _stored(barred_support) == before
    assert count_rows() == rows
    corrected = run_import(supports_file(code).replace(b",\r\n", b",LN-9\r\n"), po_one, po1)
    # Correcting the reference only is an update the bar allows.
    assert corrected.ok, [e.as_dict() for e in corrected.errors]
    assert corrected.updated == 1
    barred_support.refresh_from_db()
    assert (barred_support.amount, barred_support.reference) == (150000, "LN-9")


def test_a_later_passing_screening_lifts_the_bar_on_page_api_and_import(
    client, api, po_one, po1, es, failed_me
):
    assert screenings.financing_refusal(failed_me)
    complete(failed_me, es)
    client.force_login(po1)
    api.as_user(po1)

    page = client.post(f"/enterprises/{failed_me.pk}/supports/new/", SUPPORT)
    by_api = api.post(
        "/api/v1/financial-supports/", {"enterprise": failed_me.pk, **SUPPORT, "disbursed_on": "2024-10-02"}
    )
    data = supports_file(failed_me.po_code).replace(b"2024-10-01", b"2024-10-03")
    imported = run_import(data, po_one, po1)

    assert page.status_code == 302
    assert by_api.status_code == 201
    assert imported.created == 1
    assert FinancialSupport.objects.filter(enterprise=failed_me).count() == 3
    assert screenings.financing_refusal(failed_me) is None


def test_a_draft_does_not_count_and_a_new_failure_bars_again(po1, me_one):
    complete(me_one, po1)
    draft(me_one, po1, child_labour_found=True)
    assert screenings.financing_refusal(me_one) is None

    complete(me_one, po1, pollution_controlled=False)

    assert "pollution is not controlled" in screenings.financing_refusal(me_one)
    assert list(screenings.failed_latest([me_one.pk]).values_list("enterprise_id", flat=True)) == [me_one.pk]


# --- Pages ------------------------------------------------------------------------------------------


def test_po_staff_screen_through_the_pages(client, po1, me_one):
    client.force_login(po1)
    assert "Not screened yet." in client.get(me_one.get_absolute_url()).content.decode()

    created = client.post(
        f"/safeguards/enterprises/{me_one.pk}/screenings/new/",
        {
            "screened_on": timezone.localdate().isoformat(),
            "safe_working_conditions": "true",
            "pollution_controlled": "true",
            "child_labour_found": "true",
            "clearance_category": "green",
        },
    )
    screening = MeScreening.objects.get()
    detail = client.get(created.url).content.decode()
    done = client.post(f"/safeguards/screenings/{screening.pk}/complete/")
    me_page = client.get(me_one.get_absolute_url()).content.decode()

    assert created.status_code == 302
    assert "Complete the screening" in detail
    assert done.status_code == 302
    screening.refresh_from_db()
    assert screening.outcome == "failed"
    assert screening.reference in me_page
    assert "no financial support can be recorded" in me_page


def test_the_page_names_unanswered_questions_and_keeps_the_draft(client, po1, me_one):
    screening = draft(me_one, po1, pollution_controlled=None)
    client.force_login(po1)

    response = client.post(f"/safeguards/screenings/{screening.pk}/complete/", {"complete-comment": "typed"})

    assert response.status_code == 409
    assert "pollution is controlled" in response.content.decode()
    screening.refresh_from_db()
    assert screening.status == "draft"


def test_the_pmu_and_its_es_officer_may_screen_any_po(client, pmu, es, me_one):
    for user in (pmu, es):
        client.force_login(user)
        screening = draft(me_one, user)
        assert client.post(f"/safeguards/screenings/{screening.pk}/complete/").status_code == 302
    assert MeScreening.objects.filter(status="completed").count() == 2
    assert client.get("/safeguards/screenings/", {"outcome": "passed"}).status_code == 200


def test_another_pos_staff_get_404_everywhere_and_change_nothing(client, api, po1, po2, me_one):
    screening = draft(me_one, po1)
    client.force_login(po2)
    api.as_user(po2)
    before = (MeScreening.objects.count(), Transition.objects.count())

    answers = [
        client.get(f"/safeguards/screenings/{screening.pk}/").status_code,
        client.post(f"/safeguards/screenings/{screening.pk}/complete/").status_code,
        client.post(f"/safeguards/screenings/{screening.pk}/edit/", {"notes": "x"}).status_code,
        client.post(f"/safeguards/screenings/{screening.pk}/delete/").status_code,
        client.get(f"/safeguards/enterprises/{me_one.pk}/screenings/new/").status_code,
        api.get(f"/api/v1/me-screenings/{screening.pk}/").status_code,
        api.post(f"/api/v1/me-screenings/{screening.pk}/complete/").status_code,
        api.patch(f"/api/v1/me-screenings/{screening.pk}/", {"notes": "x"}, format="json").status_code,
        api.delete(f"/api/v1/me-screenings/{screening.pk}/").status_code,
    ]

    assert answers == [404] * 9
    assert api.post("/api/v1/me-screenings/", {"enterprise": me_one.pk}, format="json").status_code == 400
    assert (MeScreening.objects.count(), Transition.objects.count()) == before
    assert client.get("/safeguards/screenings/").content.decode().count(screening.reference) == 0


def test_roles_that_may_not_screen_get_403_and_change_nothing(client, api, po1, wb, verifier, me_one):
    screening = draft(me_one, po1)
    before = (MeScreening.objects.count(), Transition.objects.count())

    client.force_login(wb)
    api.as_user(wb)
    assert client.get(f"/safeguards/screenings/{screening.pk}/").status_code == 200  # the Bank reads
    assert client.post(f"/safeguards/screenings/{screening.pk}/complete/").status_code == 403
    assert client.get(f"/safeguards/enterprises/{me_one.pk}/screenings/new/").status_code == 403
    assert api.post(f"/api/v1/me-screenings/{screening.pk}/complete/").status_code == 403
    assert api.post("/api/v1/me-screenings/", {"enterprise": me_one.pk}, format="json").status_code == 403
    assert api.delete(f"/api/v1/me-screenings/{screening.pk}/").status_code == 403
    client.force_login(verifier)
    assert client.get("/safeguards/screenings/").status_code == 403
    assert api.as_user(verifier).get("/api/v1/me-screenings/").status_code == 403

    assert (MeScreening.objects.count(), Transition.objects.count()) == before


# --- API ----------------------------------------------------------------------------------------------


def test_the_api_creates_changes_completes_and_filters(api, po1, me_one):
    api.as_user(po1)
    created = api.post(
        "/api/v1/me-screenings/",
        {"enterprise": me_one.pk, "safe_working_conditions": True, "exclusions_found": ["tobacco"]},
        format="json",
    )
    pk = created.json()["id"]
    incomplete = api.post(f"/api/v1/me-screenings/{pk}/complete/")
    api.patch(
        f"/api/v1/me-screenings/{pk}/",
        {"pollution_controlled": True, "child_labour_found": False, "clearance_category": "yellow"},
        format="json",
    )
    done = api.post(f"/api/v1/me-screenings/{pk}/complete/", {"comment": "Visited."}, format="json")
    again = api.post(f"/api/v1/me-screenings/{pk}/complete/")
    changed_after = api.patch(f"/api/v1/me-screenings/{pk}/", {"notes": "late"}, format="json")
    deleted_after = api.delete(f"/api/v1/me-screenings/{pk}/")
    failed = api.get("/api/v1/me-screenings/", {"outcome": "failed"}).json()

    assert created.status_code == 201
    assert created.json()["status"] == "draft"
    assert incomplete.status_code == 409
    assert "pollution is controlled" in incomplete.json()["detail"]
    assert done.status_code == 200
    assert done.json()["outcome"] == "failed"
    assert "Tobacco" in done.json()["failure_reasons"]
    assert (again.status_code, changed_after.status_code, deleted_after.status_code) == (409, 409, 409)
    assert [row["id"] for row in failed["results"]] == [pk]


def test_a_draft_may_be_deleted_by_its_po(api, po1, me_one):
    screening = draft(me_one, po1)
    api.as_user(po1)

    assert api.delete(f"/api/v1/me-screenings/{screening.pk}/").status_code == 204
    assert not MeScreening.objects.exists()


def test_a_draft_is_edited_and_deleted_through_the_pages_by_its_po(client, po1, me_one):
    screening = draft(me_one, po1, child_labour_found=None)
    client.force_login(po1)

    form = client.get(f"/safeguards/screenings/{screening.pk}/edit/")
    edited = client.post(
        f"/safeguards/screenings/{screening.pk}/edit/",
        {
            "screened_on": screening.screened_on.isoformat(),
            "exclusions_found": [ExclusionItem.objects.get(code="tobacco").pk],
            "safe_working_conditions": "true",
            "pollution_controlled": "unknown",
            "child_labour_found": "false",
            "clearance_category": "yellow",
            "notes": "Second visit.",
        },
    )
    screening.refresh_from_db()
    exclusions = list(screening.exclusions_found.values_list("code", flat=True))
    deleted = client.post(f"/safeguards/screenings/{screening.pk}/delete/")

    assert form.status_code == 200
    assert edited.status_code == 302
    assert (screening.pollution_controlled, screening.child_labour_found, screening.notes) == (
        None,
        False,
        "Second visit.",
    )
    assert exclusions == ["tobacco"]
    assert deleted.status_code == 302
    assert not MeScreening.objects.exists()


def test_a_completed_screening_is_kept(client, po1, me_one):
    screening = complete(me_one, po1)
    client.force_login(po1)

    assert client.post(f"/safeguards/screenings/{screening.pk}/delete/").status_code == 409
    assert client.get(f"/safeguards/screenings/{screening.pk}/edit/").status_code == 409
    assert MeScreening.objects.filter(pk=screening.pk, status="completed").exists()


# --- Re-screening after a failure: only the PMU completes it -----------------------------------------


def test_po_staff_may_draft_but_not_complete_a_screening_that_follows_a_failure(client, api, po1, failed_me):
    rows = (MeScreening.objects.count(), Transition.objects.count())
    by_page = draft(failed_me, po1)
    by_api = draft(failed_me, po1)
    client.force_login(po1)
    api.as_user(po1)
    before = (MeScreening.objects.count(), Transition.objects.count())

    detail = client.get(f"/safeguards/screenings/{by_page.pk}/").content.decode()
    page = client.post(f"/safeguards/screenings/{by_page.pk}/complete/")
    response = api.post(f"/api/v1/me-screenings/{by_api.pk}/complete/")
    with pytest.raises(ActionRefused) as refused:
        lifecycle.apply(by_api, "complete", po1)

    assert before[0] == rows[0] + 2  # the drafts were accepted
    assert 'data-testid="needs-pmu"' in detail
    assert page.status_code == 409
    assert "only when the PMU completes it" in page.content.decode()
    assert response.status_code == 409
    assert "only when the PMU completes it" in response.json()["detail"]
    assert refused.value.code == "pmu_rescreening"
    assert (MeScreening.objects.count(), Transition.objects.count()) == before
    assert set(
        MeScreening.objects.filter(pk__in=[by_page.pk, by_api.pk]).values_list("status", flat=True)
    ) == {"draft"}
    assert screenings.financing_refusal(failed_me)


def test_the_pmu_completes_a_po_drafted_screening_that_follows_a_failure(
    client, api, po1, pmu, es, failed_me
):
    first, second = draft(failed_me, po1, notes="Child no longer at work."), draft(failed_me, po1)
    client.force_login(es)

    assert client.post(f"/safeguards/screenings/{first.pk}/complete/").status_code == 302
    assert screenings.financing_refusal(failed_me) is None
    # The latest now passed: the PO completes its next screening itself again.
    assert lifecycle.apply(second, "complete", po1).outcome == "passed"
    assert api.as_user(pmu).get(f"/api/v1/me-screenings/{first.pk}/").json()["outcome"] == "passed"


def test_a_pos_own_es_officer_is_po_side_too(po_one, failed_me):
    po_es = make_user("po1es", Role.PO_STAFF, Role.ES_OFFICER, po=po_one)
    screening = draft(failed_me, po_es)
    with pytest.raises(ActionRefused, match="only when the PMU completes it"):
        lifecycle.apply(screening, "complete", po_es)


# --- The PMU's E&S officer without the PMU officer role ------------------------------------------------


@pytest.fixture
def es_only(db):
    return make_user("esonly", Role.ES_OFFICER)


def test_an_es_officer_of_no_po_sees_and_screens_every_po(client, api, es_only, po1, po2, me_one):
    other = EnterpriseFactory(sub_project=sub_project_for(po2.partner_organization), po_code="ME-0900")
    theirs = complete(other, po2, child_labour_found=True)
    client.force_login(es_only)
    api.as_user(es_only)

    listed = client.get("/safeguards/screenings/").content.decode()
    by_api = api.get("/api/v1/me-screenings/").json()
    detail = client.get(f"/safeguards/screenings/{theirs.pk}/")
    form = client.get(f"/safeguards/enterprises/{me_one.pk}/screenings/new/")
    mine = draft(other, es_only)
    done = client.post(f"/safeguards/screenings/{mine.pk}/complete/")

    assert theirs.reference in listed
    assert [row["id"] for row in by_api["results"]] == [theirs.pk]
    assert detail.status_code == 200
    assert form.status_code == 200
    assert done.status_code == 302
    assert MeScreening.objects.visible_to(es_only).count() == 2
    assert MeScreening.objects.visible_to(po1).count() == 0
