"""RECP profiles: the PO prepares, the PMU validates or returns; each step only by its role, only
from its state. The assessment report is downloadable by those who may see the enterprise."""

from __future__ import annotations

from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from core import lifecycle
from core.lifecycle import StateChangedOutsideLifecycle, transitions_of
from enterprises.models import ProfileStatus, RecpProfile
from enterprises.recp import PROFILE_RULES
from tests.enterprises.factories import RecpProfileFactory, practice

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def act(client, profile, action, **data):
    return client.post(f"/enterprises/{profile.enterprise_id}/recp-profile/do/{action}/", data)


def test_po_staff_write_the_profile_with_its_report(client, po1, me_one):
    client.force_login(po1)

    response = client.post(
        f"/enterprises/{me_one.pk}/recp-profile/",
        {
            "assessment_date": "2024-11-20",
            "baseline": "Off-cuts burnt",
            "climate_risks": "Floods",
            "opportunities": "Recycling",
            "recommended_practices": [practice("WS-04").pk],
            "report": SimpleUploadedFile("assessment.pdf", PDF, content_type="application/pdf"),
        },
    )

    assert response.status_code == 302
    profile = RecpProfile.objects.get()
    assert (profile.status, profile.report_name) == (ProfileStatus.DRAFT, "assessment.pdf")
    download = client.get(f"/enterprises/{me_one.pk}/recp-profile/report/")
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == PDF
    assert 'filename="assessment.pdf"' in download["Content-Disposition"]


def test_a_report_that_is_not_what_its_name_says_is_refused(client, po1, me_one):
    client.force_login(po1)

    response = client.post(
        f"/enterprises/{me_one.pk}/recp-profile/",
        {
            "assessment_date": "2024-11-20",
            "report": SimpleUploadedFile("report.pdf", b"<html><script>x</script></html>"),
        },
    )

    assert "does not contain what its name says" in response.content.decode()
    assert not RecpProfile.objects.exists()


def test_another_po_cannot_download_the_report(client, po1, po2, me_one):
    profile = RecpProfileFactory(enterprise=me_one)
    profile.report = SimpleUploadedFile("r.pdf", PDF)
    profile.report_name = "r.pdf"
    profile.save()
    client.force_login(po2)

    assert client.get(f"/enterprises/{me_one.pk}/recp-profile/report/").status_code == 404


def test_the_full_path_draft_prepared_validated(client, po1, pmu, me_one):
    profile = RecpProfileFactory(enterprise=me_one)
    client.force_login(po1)
    act(client, profile, "prepare")
    profile.refresh_from_db()
    assert (profile.status, profile.prepared_by) == (ProfileStatus.PREPARED, po1)
    client.force_login(pmu)

    act(client, profile, "validate", on="2025-01-15")

    profile.refresh_from_db()
    assert (profile.status, profile.validated_by, profile.validated_on) == (
        ProfileStatus.VALIDATED,
        pmu,
        date(2025, 1, 15),
    )


def test_an_incomplete_profile_cannot_be_marked_prepared(client, po1, me_one):
    profile = RecpProfileFactory(enterprise=me_one, climate_risks="", recommended_practices=[])
    client.force_login(po1)

    response = act(client, profile, "prepare")

    page = response.content.decode()
    assert response.status_code == 409
    assert "list the climate risks" in page
    assert "recommend at least one RECP practice" in page
    profile.refresh_from_db()
    assert profile.status == ProfileStatus.DRAFT


def test_po_staff_cannot_validate_their_own_profile(client, po1, me_one):
    profile = RecpProfileFactory(enterprise=me_one, status=ProfileStatus.PREPARED)
    client.force_login(po1)

    assert act(client, profile, "validate").status_code == 403
    profile.refresh_from_db()
    assert profile.status == ProfileStatus.PREPARED


def test_another_po_cannot_touch_the_profile(client, po2, me_one):
    profile = RecpProfileFactory(enterprise=me_one)
    client.force_login(po2)

    assert act(client, profile, "prepare").status_code == 404
    assert client.get(f"/enterprises/{me_one.pk}/recp-profile/").status_code == 404


def test_returning_needs_a_comment_which_the_po_then_sees(client, po1, pmu, me_one):
    profile = RecpProfileFactory(enterprise=me_one, status=ProfileStatus.PREPARED)
    client.force_login(pmu)

    refused = act(client, profile, "return", comment="")
    act(client, profile, "return", comment="Add the baseline electricity bill.")

    assert refused.status_code == 409
    profile.refresh_from_db()
    assert (profile.status, profile.review_comment) == (
        ProfileStatus.DRAFT,
        "Add the baseline electricity bill.",
    )
    client.force_login(po1)
    assert "Add the baseline electricity bill." in client.get(f"/enterprises/{me_one.pk}/").content.decode()


def test_a_validated_profile_cannot_be_validated_again_and_keeps_what_was_typed(client, pmu, me_one):
    profile = RecpProfileFactory(
        enterprise=me_one, status=ProfileStatus.VALIDATED, validated_on=date(2025, 1, 1)
    )
    client.force_login(pmu)

    response = act(client, profile, "validate")

    assert response.status_code == 409
    page = response.content.decode()
    assert "“Validate” is not possible while RECP profile of" in page
    assert "is validated." in page


def test_reopening_a_validated_profile_stops_it_counting(client, pmu, me_one):
    profile = RecpProfileFactory(
        enterprise=me_one, status=ProfileStatus.VALIDATED, validated_on=date(2025, 1, 1)
    )
    client.force_login(pmu)

    act(client, profile, "reopen", comment="The baseline figures were copied from another ME.")

    profile.refresh_from_db()
    assert (profile.status, profile.validated_on) == (ProfileStatus.DRAFT, None)


def test_a_prepared_profile_cannot_be_edited(client, po1, me_one):
    RecpProfileFactory(enterprise=me_one, status=ProfileStatus.PREPARED)
    client.force_login(po1)

    response = client.post(
        f"/enterprises/{me_one.pk}/recp-profile/", {"assessment_date": "2024-11-01"}, follow=True
    )

    assert "only a draft can be edited" in response.content.decode()
    assert RecpProfile.objects.get().assessment_date == date(2024, 11, 20)


@pytest.mark.parametrize("rule", PROFILE_RULES, ids=lambda rule: rule.action)
@pytest.mark.parametrize("persona", ["po1", "pmu", "wb", "approver"])
def test_every_action_refused_to_a_role_not_in_the_table(api, request, db, me_one, rule, persona):
    """Generated from the rules: a role that may not take an action gets 403 and nothing changes."""
    user = request.getfixturevalue(persona)
    source = sorted(rule.sources)[0]
    profile = RecpProfileFactory(
        enterprise=me_one, status=source, validated_on=date(2025, 1, 1) if source == "validated" else None
    )
    allowed = user.has_role(*rule.roles)

    response = api.as_user(user).post(
        f"/api/v1/recp-profiles/{profile.pk}/{rule.action}/", {"comment": "Because."}
    )

    profile.refresh_from_db()
    if allowed:
        assert response.status_code == 200, response.json()
        assert profile.status == rule.target
    else:
        assert response.status_code == 403
        assert profile.status == source
        assert not transitions_of(profile).exists()


def test_api_answers_409_for_an_action_from_the_wrong_state_and_404_to_another_po(api, pmu, po2, me_one):
    profile = RecpProfileFactory(enterprise=me_one)

    response = api.as_user(pmu).post(f"/api/v1/recp-profiles/{profile.pk}/validate/", {})

    assert response.status_code == 409
    assert response.json()["code"] == "wrong_state"
    assert api.as_user(po2).post(f"/api/v1/recp-profiles/{profile.pk}/prepare/", {}).status_code == 404


@pytest.mark.parametrize(
    ("on", "reason"),
    [
        ("2099-01-01", "The validation date cannot be in the future"),
        ("2024-11-19", "A profile is validated after its assessment."),
    ],
)
def test_a_validation_date_in_the_future_or_before_the_assessment_is_refused(api, pmu, me_one, on, reason):
    profile = RecpProfileFactory(enterprise=me_one, status=ProfileStatus.PREPARED)

    response = api.as_user(pmu).post(f"/api/v1/recp-profiles/{profile.pk}/validate/", {"on": on})

    assert response.status_code == 409
    assert reason in response.json()["detail"]
    profile.refresh_from_db()
    assert (profile.status, profile.validated_on) == (ProfileStatus.PREPARED, None)


# --- Every decision on the engine: one log row each, shown on the page and in the API --------------


def log_of(profile) -> list[tuple]:
    return [
        (row.action, row.from_state, row.to_state, row.actor, row.comment) for row in transitions_of(profile)
    ]


def test_each_decision_writes_one_log_row_with_who_from_to_and_why(client, po1, pmu, me_one):
    profile = RecpProfileFactory(enterprise=me_one)
    client.force_login(po1)
    act(client, profile, "prepare", comment="Ready for review.")
    client.force_login(pmu)
    act(client, profile, "return", comment="Add the electricity bill.")
    client.force_login(po1)
    act(client, profile, "prepare")
    client.force_login(pmu)
    act(client, profile, "validate", on="2025-01-15", comment="Checked on site.")
    act(client, profile, "reopen", comment="Figures copied from another ME.")

    assert log_of(profile) == [
        ("prepare", "draft", "prepared", po1, "Ready for review."),
        ("return", "prepared", "draft", pmu, "Add the electricity bill."),
        ("prepare", "draft", "prepared", po1, ""),
        ("validate", "prepared", "validated", pmu, "Checked on site."),
        ("reopen", "validated", "draft", pmu, "Figures copied from another ME."),
    ]
    profile.refresh_from_db()
    # Reopening clears the validation on the profile; the log keeps who validated it and when.
    assert (profile.status, profile.validated_by, profile.validated_on) == (ProfileStatus.DRAFT, None, None)
    assert profile.review_comment == "Figures copied from another ME."


def test_the_decisions_show_on_the_enterprise_page_and_in_the_api(client, api, po1, pmu, me_one):
    profile = RecpProfileFactory(enterprise=me_one, status=ProfileStatus.PREPARED)
    lifecycle.apply(profile, "return", pmu, comment="Add the baseline electricity bill.")
    client.force_login(po1)

    page = client.get(f"/enterprises/{me_one.pk}/").content.decode()

    assert 'data-testid="profile-history"' in page
    assert "Return to the PO: prepared → draft" in page
    assert pmu.get_display_name() in page
    history = api.as_user(po1).get(f"/api/v1/recp-profiles/{profile.pk}/history/").json()
    assert [(e["action"], e["from_state"], e["to_state"], e["who"], e["comment"]) for e in history] == [
        ("return", "prepared", "draft", pmu.get_display_name(), "Add the baseline electricity bill.")
    ]


@pytest.mark.parametrize(
    ("persona", "status", "action", "data", "answer"),
    [
        ("po1", ProfileStatus.PREPARED, "validate", {}, 403),
        ("pmu", ProfileStatus.DRAFT, "validate", {}, 409),
        ("pmu", ProfileStatus.PREPARED, "return", {"comment": ""}, 409),
        ("pmu", ProfileStatus.PREPARED, "validate", {"on": "2099-01-01"}, 409),
        ("po1", ProfileStatus.DRAFT, "reopen", {"comment": "?"}, 403),
    ],
)
def test_a_refused_decision_changes_nothing_and_logs_nothing(
    api, request, me_one, persona, status, action, data, answer
):
    profile = RecpProfileFactory(enterprise=me_one, status=status)

    response = api.as_user(request.getfixturevalue(persona)).post(
        f"/api/v1/recp-profiles/{profile.pk}/{action}/", data
    )

    assert response.status_code == answer
    profile.refresh_from_db()
    assert (profile.status, profile.validated_on) == (status, None)
    assert not transitions_of(profile).exists()


def test_an_incomplete_profile_refused_on_the_page_logs_nothing(client, po1, me_one):
    profile = RecpProfileFactory(enterprise=me_one, baseline="")
    client.force_login(po1)

    assert act(client, profile, "prepare").status_code == 409
    assert not transitions_of(profile).exists()


def test_the_status_cannot_be_changed_outside_the_engine(me_one):
    profile = RecpProfileFactory(enterprise=me_one, status=ProfileStatus.PREPARED)
    profile.status = ProfileStatus.VALIDATED
    profile.validated_on = date(2025, 1, 1)

    with pytest.raises(StateChangedOutsideLifecycle):
        profile.save()
