"""E&S screening of proposals and the PMU's E&S review of high-risk ones (issue 13), by page and API.

Must hold: a high-risk proposal without an E&S plan cannot be submitted; an exclusion-list item ticked
refuses submission, naming it; one with an open E&S condition cannot be awarded; each refusal changes
nothing. Only an E&S officer of the PMU decides (a PMU officer without the role: 403); another PO's
staff get 404.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from core import lifecycle
from core.roles import Role
from safeguards import reviews
from safeguards.models import EsmpMeasure, EsReview, EsReviewStatus, ExclusionItem
from subprojects import evaluation, services, workflow
from subprojects.models import Condition, Proposal, ProposalStatus, SubProject, Transition
from tests.factories import make_user
from tests.subprojects import conftest as subprojects_fixtures

# The sub-project lifecycle's fixtures: a complete proposal of po1's PO in a given state.
open_call = subprojects_fixtures.open_call
proposal_in = subprojects_fixtures.proposal_in

PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture
def es(db):
    return make_user("es", Role.PMU_OFFICER, Role.ES_OFFICER, email="es@example.org")


def _award_form() -> dict:
    today = timezone.localdate()
    return {
        "agreement_number": "PKSF/SMART/SP-ES/001",
        "award_date": today.isoformat(),
        "start_date": (today + timedelta(days=10)).isoformat(),
        "end_date": (today + timedelta(days=900)).isoformat(),
        "budget_world_bank": "20000000",
        "budget_pksf": "3750000",
        "budget_po": "1250000",
    }


def _with_esmp(proposal: Proposal, po1) -> Proposal:
    """The complete E&S plan: a measure and the ESMP attachment."""
    reviews.save_screening(
        user=po1,
        proposal=proposal,
        measures=[
            {
                "risk": "Tannery effluent",
                "measure": "Pre-treatment before the drain",
                "responsible": "PO engineer",
                "timing": "Before operation",
            }
        ],
    )
    upload = SimpleUploadedFile("esmp.pdf", PDF, content_type="application/pdf")
    attachment = services.add_attachment(
        user=po1, owner=proposal, upload=upload, description="ESMP", mime_type="application/pdf"
    )
    reviews.mark_esmp(user=po1, attachment=attachment)
    return proposal


def _submit_transitions(proposal: Proposal) -> int:
    return Transition.objects.filter(object_id=proposal.pk, action="submit").count()


def _reviewed(proposal: Proposal, status: str) -> EsReview:
    """A review as if opened at submission and decided (history through the engine)."""
    review = EsReview.objects.create(proposal=proposal)
    if status != EsReviewStatus.PENDING:
        decider = make_user("es-past", Role.PMU_OFFICER, Role.ES_OFFICER)
        action = {
            "cleared": "clear",
            "cleared_with_conditions": "clear_with_conditions",
            "not_cleared": "not_clear",
        }
        lifecycle.replay_history(
            review, [(action[status], EsReviewStatus.PENDING, status, decider, timezone.now(), "past")]
        )
    return review


# --- Submission -----------------------------------------------------------------------------------


def test_a_high_risk_proposal_without_an_es_plan_cannot_be_submitted_by_page(client, po1, proposal_in):
    proposal = proposal_in(ProposalStatus.DRAFT, risk_category="high")
    client.force_login(po1)

    response = client.post(f"/proposals/{proposal.pk}/do/submit/")

    page = response.content.decode()
    assert "E&amp;S management plan" in page
    assert "mitigation measure" in page
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.DRAFT
    assert proposal.submitted_at is None
    assert not EsReview.objects.exists()
    assert _submit_transitions(proposal) == 0


def test_a_high_risk_proposal_without_an_es_plan_cannot_be_submitted_by_api(api, po1, proposal_in):
    proposal = proposal_in(ProposalStatus.DRAFT, risk_category="high")
    # Measures alone are not enough: the plan itself must be attached.
    reviews.save_screening(
        user=po1,
        proposal=proposal,
        measures=[{"risk": "Dust", "measure": "Wetting", "responsible": "ME owner", "timing": "Daily"}],
    )

    response = api.as_user(po1).post(f"/api/v1/proposals/{proposal.pk}/submit/", {}, format="json")

    assert response.status_code == 409
    assert "Attach the E&S management plan" in response.json()["detail"]
    assert "mitigation measure" not in response.json()["detail"]
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.DRAFT
    assert not EsReview.objects.exists()
    assert _submit_transitions(proposal) == 0


def test_substantial_risk_needs_the_plan_too_and_low_risk_does_not(po1, proposal_in):
    substantial = proposal_in(ProposalStatus.DRAFT, risk_category="substantial")
    low = proposal_in(ProposalStatus.DRAFT, risk_category="low", mitigation_measures="")
    missing_category = proposal_in(ProposalStatus.DRAFT, risk_category="")

    assert len(reviews.screening_problems(substantial)) == 2
    assert reviews.screening_problems(low) == []
    assert reviews.screening_problems(missing_category) == [
        "Environmental and social risk category is missing"
    ]
    workflow.apply(low, "submit", po1)
    assert not EsReview.objects.exists()  # only high risk goes to the PMU's E&S review


@pytest.mark.parametrize("channel", ["page", "api"])
def test_an_exclusion_item_ticked_refuses_submission_naming_it(client, api, po1, proposal_in, channel):
    proposal = _with_esmp(proposal_in(ProposalStatus.DRAFT, risk_category="high"), po1)
    tobacco = ExclusionItem.objects.get(code="tobacco")
    asbestos = ExclusionItem.objects.get(code="asbestos")
    reviews.save_screening(user=po1, proposal=proposal, exclusions=[tobacco, asbestos])

    if channel == "page":
        client.force_login(po1)
        message = client.post(f"/proposals/{proposal.pk}/do/submit/").content.decode()
    else:
        response = api.as_user(po1).post(f"/api/v1/proposals/{proposal.pk}/submit/", {}, format="json")
        assert response.status_code == 409
        message = response.json()["detail"]

    assert "exclusion list" in message
    assert tobacco.name in message
    assert "Asbestos" in message
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.DRAFT
    assert not EsReview.objects.exists()
    assert _submit_transitions(proposal) == 0


def test_a_retired_exclusion_item_no_longer_refuses(po1, proposal_in):
    proposal = _with_esmp(proposal_in(ProposalStatus.DRAFT, risk_category="high"), po1)
    item = ExclusionItem.objects.get(code="gambling")
    reviews.save_screening(user=po1, proposal=proposal, exclusions=[item])
    ExclusionItem.objects.filter(pk=item.pk).update(active=False)

    workflow.apply(proposal, "submit", po1)

    assert Proposal.objects.get(pk=proposal.pk).status == ProposalStatus.SUBMITTED


def test_submitting_a_high_risk_proposal_opens_its_review_and_tells_the_es_officers(
    po1, es, proposal_in, django_capture_on_commit_callbacks
):
    proposal = _with_esmp(proposal_in(ProposalStatus.DRAFT, risk_category="high"), po1)
    # A PO's own E&S officer is not the PMU's: no email for them.
    make_user("po-es", Role.PO_STAFF, Role.ES_OFFICER, po=po1.partner_organization, email="po-es@example.org")

    with django_capture_on_commit_callbacks(execute=True):
        workflow.apply(proposal, "submit", po1)

    review = EsReview.objects.get(proposal=proposal)
    assert review.status == EsReviewStatus.PENDING
    opened = lifecycle.transitions_of(review).get()
    assert (opened.action, opened.actor, opened.to_state) == ("open", po1, "pending")
    assert [message.to for message in mail.outbox if review.reference in message.subject] == [[es.email]]
    assert reviews.reviews_waiting(es)[0].reference == review.reference


# --- The PO's screening on the proposal form and in the API --------------------------------------


def test_the_po_records_the_screening_on_the_proposal_form(client, po1, proposal_in):
    from tests.subprojects.test_pages import _proposal_post, management_form

    proposal = proposal_in(ProposalStatus.DRAFT)
    tobacco = ExclusionItem.objects.get(code="tobacco")
    client.force_login(po1)
    data = _proposal_post(proposal, risk_category="high", exclusions_found=[tobacco.pk])
    data.update(management_form("esmp_measures", 1))
    data.update(
        {
            "esmp_measures-0-risk": "Solvent fumes",
            "esmp_measures-0-measure": "Water-based adhesives",
            "esmp_measures-0-responsible": "Workshop owners",
            "esmp_measures-0-timing": "Month 1-6",
        }
    )

    response = client.post(f"/proposals/{proposal.pk}/edit/", data)

    assert response.status_code == 302
    proposal.refresh_from_db()
    assert proposal.risk_category == "high"
    assert list(proposal.exclusions_found.all()) == [tobacco]
    assert list(proposal.esmp_measures.values_list("risk", "responsible")) == [
        ("Solvent fumes", "Workshop owners")
    ]
    detail = client.get(proposal.get_absolute_url()).content.decode()
    assert "Solvent fumes" in detail
    assert tobacco.name in detail


def test_a_refused_screening_form_keeps_what_was_typed(client, po1, proposal_in):
    from tests.subprojects.test_pages import _proposal_post, management_form

    proposal = proposal_in(ProposalStatus.DRAFT)
    client.force_login(po1)
    data = _proposal_post(proposal, risk_category="high")
    data.update(management_form("esmp_measures", 1))
    data.update({"esmp_measures-0-risk": "Solvent fumes", "esmp_measures-0-measure": "Masks"})  # no party

    response = client.post(f"/proposals/{proposal.pk}/edit/", data)

    assert response.status_code == 200
    page = response.content.decode()
    assert 'value="Solvent fumes"' in page
    assert "Masks" in page
    assert not EsmpMeasure.objects.exists()
    assert Proposal.objects.get(pk=proposal.pk).risk_category == "moderate"


def test_the_api_reads_and_writes_the_screening(api, po1, proposal_in):
    proposal = proposal_in(ProposalStatus.DRAFT)
    weapons = ExclusionItem.objects.get(code="weapons-munitions")
    client = api.as_user(po1)

    response = client.patch(
        f"/api/v1/proposals/{proposal.pk}/",
        {
            "risk_category": "high",
            "exclusions_found": [weapons.pk],
            "esmp_measures": [
                {"risk": "Noise", "measure": "Enclosures", "responsible": "PO", "timing": "Month 2"}
            ],
        },
        format="json",
    )
    upload = client.post(
        f"/api/v1/proposals/{proposal.pk}/attachments/",
        {"file": SimpleUploadedFile("plan.pdf", PDF, content_type="application/pdf"), "is_esmp": "true"},
        format="multipart",
    )

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["exclusions_found"] == [weapons.pk]
    assert body["esmp_measures"][0]["risk"] == "Noise"
    assert body["es_review"] is None
    assert upload.status_code == 201, upload.json()
    assert upload.json()["is_esmp"] is True
    # Sent back with its id, the line keeps its identity.
    line = body["esmp_measures"][0]
    again = client.patch(
        f"/api/v1/proposals/{proposal.pk}/",
        {"esmp_measures": [{**line, "timing": "Month 3"}], "exclusions_found": []},
        format="json",
    ).json()
    assert again["esmp_measures"] == [{**line, "timing": "Month 3"}]
    assert again["exclusions_found"] == []


def test_another_po_cannot_change_the_screening(api, po2, proposal_in):
    proposal = proposal_in(ProposalStatus.DRAFT)

    response = api.as_user(po2).patch(
        f"/api/v1/proposals/{proposal.pk}/",
        {"esmp_measures": [{"risk": "X", "measure": "Y", "responsible": "Z", "timing": "T"}]},
        format="json",
    )

    assert response.status_code == 404
    assert not EsmpMeasure.objects.exists()


# --- The E&S review's decisions -----------------------------------------------------------------


@pytest.fixture
def submitted_high(po1, proposal_in):
    proposal = _with_esmp(proposal_in(ProposalStatus.DRAFT, risk_category="high"), po1)
    workflow.apply(proposal, "submit", po1)
    return EsReview.objects.get(proposal=proposal)


def test_a_pmu_officer_without_the_es_role_may_not_decide(client, api, pmu, submitted_high):
    review = submitted_high
    client.force_login(pmu)

    page = client.post(f"/es-reviews/{review.pk}/do/clear/", {"clear-comment": "fine"})
    response = api.as_user(pmu).post(f"/api/v1/es-reviews/{review.pk}/clear/", {}, format="json")
    detail = client.get(f"/es-reviews/{review.pk}/")

    assert page.status_code == 403
    assert response.status_code == 403
    assert detail.status_code == 200
    assert 'data-action="clear"' not in detail.content.decode()
    review.refresh_from_db()
    assert review.status == EsReviewStatus.PENDING
    assert review.decided_by is None
    assert lifecycle.transitions_of(review).count() == 1  # only its opening


def test_a_pos_own_es_officer_may_not_clear_its_proposal(api, po1, submitted_high):
    po_es = make_user("po-es", Role.PO_STAFF, Role.ES_OFFICER, po=po1.partner_organization)

    response = api.as_user(po_es).post(f"/api/v1/es-reviews/{submitted_high.pk}/clear/", {}, format="json")

    assert response.status_code == 403
    assert EsReview.objects.get(pk=submitted_high.pk).status == EsReviewStatus.PENDING


def test_another_pos_staff_get_404(client, api, po2, submitted_high):
    client.force_login(po2)

    assert client.get(f"/es-reviews/{submitted_high.pk}/").status_code == 404
    assert client.post(f"/es-reviews/{submitted_high.pk}/do/clear/").status_code == 404
    assert api.as_user(po2).get(f"/api/v1/es-reviews/{submitted_high.pk}/").status_code == 404
    assert api.as_user(po2).post(f"/api/v1/es-reviews/{submitted_high.pk}/clear/", {}).status_code == 404
    assert api.as_user(po2).get("/api/v1/es-reviews/").json()["count"] == 0


def test_the_pos_own_staff_read_their_review(client, api, po1, submitted_high):
    client.force_login(po1)

    assert client.get(f"/es-reviews/{submitted_high.pk}/").status_code == 200
    listed = api.as_user(po1).get("/api/v1/es-reviews/").json()
    assert [row["id"] for row in listed["results"]] == [submitted_high.pk]
    assert listed["results"][0]["available_actions"] == []


def test_a_decision_needs_its_details(api, es, submitted_high):
    client = api.as_user(es)

    no_comment = client.post(f"/api/v1/es-reviews/{submitted_high.pk}/not-clear/", {}, format="json")
    no_condition = client.post(
        f"/api/v1/es-reviews/{submitted_high.pk}/clear-with-conditions/", {"conditions": [" "]}, format="json"
    )

    assert no_comment.status_code == 409
    assert no_condition.status_code == 409
    assert "at least one" in no_condition.json()["detail"]
    assert EsReview.objects.get(pk=submitted_high.pk).status == EsReviewStatus.PENDING
    assert not Condition.objects.exists()


def test_the_es_officer_clears_with_conditions_on_the_page(
    client, es, po1, submitted_high, django_capture_on_commit_callbacks
):
    client.force_login(es)
    page = client.get(f"/es-reviews/{submitted_high.pk}/").content.decode()
    assert 'data-testid="conditions-form"' in page

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/es-reviews/{submitted_high.pk}/do/clear_with_conditions/",
            {
                "clear_with_conditions-conditions": (
                    "Effluent pre-treatment installed\n\nPPE issued to workers"
                ),
                "clear_with_conditions-comment": "Acceptable with conditions.",
            },
        )

    assert response.status_code == 302
    review = EsReview.objects.get(pk=submitted_high.pk)
    assert review.status == EsReviewStatus.CLEARED_WITH_CONDITIONS
    assert (review.decided_by, review.decided_at is not None) == (es, True)
    assert list(review.conditions.values_list("text", "decision")) == [
        ("Effluent pre-treatment installed", None),
        ("PPE issued to workers", None),
    ]
    decided = lifecycle.transitions_of(review).last()
    assert (decided.action, decided.actor, decided.comment) == (
        "clear_with_conditions",
        es,
        "Acceptable with conditions.",
    )
    to_the_po = [message for message in mail.outbox if message.to == [po1.email]]
    assert any("PPE issued" in message.body for message in to_the_po)


def test_a_refused_conditions_form_keeps_the_comment(client, es, submitted_high):
    client.force_login(es)

    response = client.post(
        f"/es-reviews/{submitted_high.pk}/do/clear_with_conditions/",
        {"clear_with_conditions-conditions": "", "clear_with_conditions-comment": "Typed comment"},
    )

    assert response.status_code == 409
    assert "Typed comment" in response.content.decode()
    assert EsReview.objects.get(pk=submitted_high.pk).status == EsReviewStatus.PENDING


def test_resubmission_sends_a_decided_review_back_to_pending(po1, proposal_in):
    proposal = proposal_in(ProposalStatus.REVISION_REQUESTED, risk_category="high")
    review = _reviewed(proposal, EsReviewStatus.NOT_CLEARED)

    proposal = workflow.apply(proposal, "revise", po1)
    _with_esmp(proposal, po1)
    workflow.apply(proposal, "submit", po1)

    review.refresh_from_db()
    assert review.status == EsReviewStatus.PENDING
    assert review.decided_by is None
    reopened = lifecycle.transitions_of(review).last()
    assert (reopened.action, reopened.actor, reopened.from_state) == ("reopen", None, "not_cleared")


# --- The award --------------------------------------------------------------------------------


@pytest.mark.parametrize("channel", ["page", "api"])
def test_an_open_es_condition_blocks_the_award(client, api, approver, po1, proposal_in, channel):
    proposal = proposal_in(ProposalStatus.APPROVED, risk_category="high")
    review = _reviewed(proposal, EsReviewStatus.CLEARED_WITH_CONDITIONS)
    Condition.objects.create(proposal=proposal, es_review=review, text="Fire exits marked")

    if channel == "page":
        client.force_login(approver)
        message = client.post(f"/proposals/{proposal.pk}/award/", _award_form()).content.decode()
    else:
        response = api.as_user(approver).post(
            f"/api/v1/proposals/{proposal.pk}/award/", _award_form(), format="json"
        )
        assert response.status_code == 409
        message = response.json()["detail"]

    assert "E&amp;S condition" in message or "E&S condition" in message
    assert Proposal.objects.get(pk=proposal.pk).status == ProposalStatus.APPROVED
    assert not SubProject.objects.exists()


def test_once_its_es_condition_is_met_the_award_goes_through(client, pmu, po1, approver, proposal_in):
    proposal = proposal_in(ProposalStatus.APPROVED, risk_category="high")
    review = _reviewed(proposal, EsReviewStatus.CLEARED_WITH_CONDITIONS)
    condition = Condition.objects.create(proposal=proposal, es_review=review, text="Fire exits marked")
    # The existing evidence and check-off flow, on the proposal's page.
    client.force_login(po1)
    assert "Fire exits marked" in client.get(proposal.get_absolute_url()).content.decode()
    evaluation.add_evidence(user=po1, condition=condition, evidence="Photos of the marked exits")
    evaluation.meet_condition(user=pmu, condition=condition, note="Seen on the visit")
    client.force_login(approver)

    response = client.post(f"/proposals/{proposal.pk}/award/", _award_form())

    assert response.status_code == 302
    assert Proposal.objects.get(pk=proposal.pk).status == ProposalStatus.AWARDED


@pytest.mark.parametrize("status", [None, EsReviewStatus.PENDING, EsReviewStatus.NOT_CLEARED])
def test_a_high_risk_proposal_is_awarded_only_once_cleared(api, approver, proposal_in, status):
    proposal = proposal_in(ProposalStatus.APPROVED, risk_category="high")
    if status:
        _reviewed(proposal, status)

    response = api.as_user(approver).post(
        f"/api/v1/proposals/{proposal.pk}/award/", _award_form(), format="json"
    )

    assert response.status_code == 409
    assert "E&S review" in response.json()["detail"] or "E&S clearance" in response.json()["detail"]
    assert not SubProject.objects.exists()


def test_the_es_officer_sees_pending_reviews_waiting(es, pmu, submitted_high):
    assert [item.reference for item in reviews.reviews_waiting(es)] == [submitted_high.reference]
    assert reviews.reviews_waiting(pmu) == []


def test_the_po_marks_its_upload_as_the_esmp_on_the_page(client, po1, proposal_in):
    proposal = proposal_in(ProposalStatus.DRAFT, risk_category="high")
    client.force_login(po1)
    assert 'name="is_esmp"' in client.get(proposal.get_absolute_url()).content.decode()

    response = client.post(
        f"/proposals/{proposal.pk}/attachments/",
        {"file": SimpleUploadedFile("plan.pdf", PDF, content_type="application/pdf"), "is_esmp": "on"},
    )

    assert response.status_code == 302
    assert proposal.attachments.get().is_esmp is True
    assert "Attach the E&S management plan" not in " ".join(reviews.screening_problems(proposal))


def test_each_review_email_is_sent_once(po1, es, submitted_high):
    opened = lifecycle.transitions_of(submitted_high).get()
    mail.outbox.clear()

    first = reviews.send_review_emails(opened.pk)
    again = reviews.send_review_emails(opened.pk)

    assert (first, again) == (1, 0)
    assert [message.to for message in mail.outbox] == [[es.email]]


# --- A review once opened stays in charge -----------------------------------------------------------


@pytest.mark.parametrize("status", [EsReviewStatus.PENDING, EsReviewStatus.NOT_CLEARED])
def test_lowering_the_risk_class_does_not_lift_an_uncleared_review(api, approver, proposal_in, status):
    proposal = proposal_in(ProposalStatus.APPROVED, risk_category="low")  # lowered on revision
    _reviewed(proposal, status)

    response = api.as_user(approver).post(
        f"/api/v1/proposals/{proposal.pk}/award/", _award_form(), format="json"
    )

    assert response.status_code == 409
    assert "E&S review" in response.json()["detail"]
    assert not SubProject.objects.exists()


def test_resubmitted_with_a_lower_risk_class_the_review_still_reopens(po1, proposal_in):
    proposal = proposal_in(ProposalStatus.REVISION_REQUESTED, risk_category="high")
    review = _reviewed(proposal, EsReviewStatus.NOT_CLEARED)
    proposal = workflow.apply(proposal, "revise", po1)
    reviews.save_screening(user=po1, proposal=proposal, exclusions=[])
    Proposal.objects.filter(pk=proposal.pk).update(risk_category="low")
    proposal.refresh_from_db()

    workflow.apply(proposal, "submit", po1)

    review.refresh_from_db()
    assert review.status == EsReviewStatus.PENDING


def test_reopening_a_review_withdraws_its_unmet_conditions(po1, proposal_in):
    proposal = proposal_in(ProposalStatus.REVISION_REQUESTED, risk_category="high")
    review = _reviewed(proposal, EsReviewStatus.CLEARED_WITH_CONDITIONS)
    Condition.objects.create(proposal=proposal, es_review=review, text="Old condition")
    proposal = workflow.apply(proposal, "revise", po1)
    _with_esmp(proposal, po1)

    workflow.apply(proposal, "submit", po1)

    assert not Condition.objects.filter(proposal=proposal, met=False).exists()


def test_a_decision_with_too_many_or_too_long_conditions_is_refused(api, es, submitted_high):
    review = submitted_high
    client = api.as_user(es)
    url = f"/api/v1/es-reviews/{review.pk}/clear-with-conditions/"

    many = client.post(url, {"conditions": [f"Condition {n}" for n in range(60)]}, format="json")
    long = client.post(url, {"conditions": ["x" * 3000]}, format="json")

    assert many.status_code == 409
    assert long.status_code == 409
    assert EsReview.objects.get(pk=review.pk).status == EsReviewStatus.PENDING
    assert not Condition.objects.filter(es_review=review).exists()


def test_a_patch_with_an_incomplete_measure_names_the_missing_fields(api, po1, proposal_in):
    proposal = proposal_in(ProposalStatus.DRAFT)

    response = api.as_user(po1).patch(
        f"/api/v1/proposals/{proposal.pk}/", {"esmp_measures": [{"measure": "x"}]}, format="json"
    )
    lines = api.as_user(po1).patch(
        f"/api/v1/proposals/{proposal.pk}/", {"budget_lines": [{"description": "x"}]}, format="json"
    )

    assert response.status_code == 400
    assert "esmp_measures.0.risk" in response.json()["fields"]
    assert lines.status_code == 400
    assert "budget_lines.0.amount" in lines.json()["fields"]
    assert not EsmpMeasure.objects.filter(proposal=proposal).exists()


def test_the_upgrade_opens_the_review_of_a_high_risk_proposal_already_submitted(proposal_in):
    """safeguards/0005, run on today's models: without it the proposal could never be awarded."""
    from importlib import import_module

    from django.apps import apps

    upgrade = import_module("safeguards.migrations.0005_reviews_of_high_risk_proposals_already_submitted")
    waiting = proposal_in(ProposalStatus.APPROVED, risk_category="high")
    low = proposal_in(ProposalStatus.APPROVED, risk_category="low")

    upgrade.open_missing_reviews(apps, None)
    upgrade.open_missing_reviews(apps, None)  # run again: nothing more

    review = EsReview.objects.get(proposal=waiting)
    assert review.status == EsReviewStatus.PENDING
    assert [row.action for row in lifecycle.transitions_of(review)] == ["open"]
    assert not EsReview.objects.filter(proposal=low).exists()
