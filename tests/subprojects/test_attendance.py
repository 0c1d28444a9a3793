"""TEC meeting attendance (issue 15): the chair takes it when opening the meeting, every member listed
and none ticked until they say so; the minutes (page and PDF) show who was present, or that attendance
was not taken; the chair (or the PMU) corrects it, logged, until the minutes are final; nobody else."""

from __future__ import annotations

import re

import pytest

from core.errors import ActionRefused
from core.roles import Role
from subprojects import evaluation, workflow
from subprojects.models import ProposalStatus, TecMeeting, Transition
from tests.assertions import assert_refused
from tests.factories import make_user
from tests.subprojects.conftest import score


@pytest.fixture
def meeting(make_meeting, tec3):
    """Chaired by tec1, with tec1, tec2 and tec3; nothing on the agenda yet."""
    return make_meeting(tec3)


@pytest.fixture
def pdf_html(monkeypatch):
    """The HTML each minutes PDF is made of, recorded on its way to WeasyPrint (which still renders it)."""
    import weasyprint

    real = weasyprint.HTML
    rendered: list[str] = []

    def recording(string: str, base_url: str = ""):
        rendered.append(string)
        return real(string=string, base_url=base_url)

    monkeypatch.setattr(weasyprint, "HTML", recording)
    return rendered


def attendance_rows(html: str) -> dict[str, str]:
    """The minutes' attendance table: member → their "Present" cell."""
    table = re.search(r'<table[^>]*data-testid="attendance".*?</table>', html, re.S)
    assert table, "no attendance table in the minutes"
    rows = re.findall(r"<tr><td>([^<]+)</td><td>[^<]+</td><td>([^<]+)</td></tr>", table.group(0))
    return dict(rows)


def minutes_of(client, meeting, pdf_html) -> tuple[str, str]:
    page = client.get(f"/tec-meetings/{meeting.pk}/minutes/")
    pdf = client.get(f"/tec-meetings/{meeting.pk}/minutes.pdf")
    assert page.status_code == 200
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF")
    return page.content.decode(), pdf_html[-1]


def test_the_chair_takes_attendance_when_opening_the_meeting_and_the_minutes_show_it(
    client, tec1, tec2, tec3, meeting, pdf_html
):
    client.force_login(tec1)
    page = client.get(meeting.get_absolute_url()).content.decode()

    # Asked before scoring starts: every member listed, nobody ticked.
    assert 'data-testid="attendance-prompt"' in page
    form = re.search(r'<form[^>]*data-testid="attendance-form".*?</form>', page, re.S).group(0)
    boxes = re.findall(r'<input[^>]*name="present"[^>]*>', form)
    assert sorted(re.search(r'value="(\d+)"', box).group(1) for box in boxes) == sorted(
        str(member.pk) for member in (tec1, tec2, tec3)
    )
    assert not any("checked" in box for box in boxes)

    response = client.post(f"/tec-meetings/{meeting.pk}/attendance/", {"present": [tec1.pk, tec3.pk]})

    assert response.status_code == 302
    minutes, pdf = minutes_of(client, meeting, pdf_html)
    for html in (minutes, pdf):
        assert attendance_rows(html) == {"Tec1 Tester": "yes", "Tec2 Tester": "no", "Tec3 Tester": "yes"}
        assert "2 of 3 members present" in html
        assert "Attendance not taken" not in html
    logged = Transition.objects.get(action="take_attendance")
    assert (logged.subject, logged.actor, logged.to_state) == (meeting, tec1, "2 of 3 members present")
    assert "Absent: Tec2 Tester." in logged.comment
    page = client.get(meeting.get_absolute_url()).content.decode()
    assert 'data-testid="attendance-prompt"' not in page
    assert "2 of 3 members present" in page


def test_nothing_recorded_reads_attendance_not_taken_not_absent(client, pmu, meeting, pdf_html):
    client.force_login(pmu)

    minutes, pdf = minutes_of(client, meeting, pdf_html)

    for html in (minutes, pdf):
        assert "Attendance not taken." in html
        assert 'data-testid="attendance"' not in html  # no table saying "no" for everyone
        assert "Tec3 Tester" in html  # the members are still named


def test_a_member_who_is_not_the_chair_cannot_change_the_attendance(client, api, tec1, tec2, meeting):
    client.force_login(tec2)
    page = client.get(meeting.get_absolute_url()).content.decode()
    by_page = client.post(f"/tec-meetings/{meeting.pk}/attendance/", {"present": [tec2.pk]})
    by_api = api.as_user(tec2).post(
        f"/api/v1/tec-meetings/{meeting.pk}/attendance/", {"present": [tec2.pk]}, format="json"
    )

    assert 'data-testid="attendance-form"' not in page
    assert by_page.status_code == 403
    assert_refused(by_api, 403)
    meeting = TecMeeting.objects.get(pk=meeting.pk)
    assert (meeting.attendance_taken, list(meeting.attendees.all())) == (False, [])
    assert not Transition.objects.filter(action__endswith="attendance").exists()

    # Once the chair has taken it, still not theirs to correct.
    evaluation.take_attendance(user=tec1, meeting=meeting, present=[tec1, tec2])
    refused = client.post(f"/tec-meetings/{meeting.pk}/attendance/", {"present": [tec1.pk]})
    assert refused.status_code == 403
    assert set(TecMeeting.objects.get(pk=meeting.pk).attendees.all()) == {tec1, tec2}


def test_attendance_is_asked_explicitly(client, tec1, meeting):
    client.force_login(tec1)

    response = client.post(f"/tec-meetings/{meeting.pk}/attendance/", {"comment": "Opening."})

    assert response.status_code == 400
    assert "Tick the members who are present" in response.content.decode()
    assert "Opening." in response.content.decode()  # the comment as typed
    assert not TecMeeting.objects.get(pk=meeting.pk).attendance_taken


def test_the_chair_corrects_the_attendance_logged_until_the_minutes_are_final(
    client, tec1, tec2, tec3, meeting, on_agenda, proposal_in
):
    item = on_agenda(proposal_in(ProposalStatus.UNDER_EVALUATION), meeting=meeting)
    client.force_login(tec1)
    client.post(f"/tec-meetings/{meeting.pk}/attendance/", {"present": [tec1.pk, tec2.pk]})
    # Correcting starts from what is recorded.
    page = client.get(meeting.get_absolute_url()).content.decode()
    ticked = re.findall(r'<input[^>]*name="present"[^>]*value="(\d+)"[^>]*checked', page)
    assert sorted(ticked) == sorted([str(tec1.pk), str(tec2.pk)])

    corrected = client.post(
        f"/tec-meetings/{meeting.pk}/attendance/",
        {"present": [tec1.pk, tec2.pk, tec3.pk], "comment": "tec3 arrived late, before scoring."},
    )

    assert corrected.status_code == 302
    log = list(evaluation.attendance_log(meeting))
    assert [(entry.action, entry.from_state, entry.to_state) for entry in log] == [
        ("take_attendance", "", "2 of 3 members present"),
        ("correct_attendance", "2 of 3 members present", "3 of 3 members present"),
    ]
    assert "tec3 arrived late, before scoring." in log[1].comment
    assert "tec3 arrived late" in client.get(meeting.get_absolute_url()).content.decode()

    # Every proposal decided: the minutes are final, the attendance stays as it is.
    for member in (tec1, tec2, tec3):
        score(item, member, 8)
    workflow.apply(item.proposal, "recommend", tec1, comment="Sound.")
    page = client.get(meeting.get_absolute_url()).content.decode()
    refused = client.post(f"/tec-meetings/{meeting.pk}/attendance/", {"present": [tec1.pk]})

    assert 'data-testid="attendance-form"' not in page
    assert "the minutes are final" in page
    assert refused.status_code == 409
    assert "its minutes are final" in refused.content.decode()
    assert TecMeeting.objects.get(pk=meeting.pk).attendees.count() == 3
    assert len(evaluation.attendance_log(meeting)) == 2


def test_the_chair_is_prompted_on_the_agenda_item_before_scoring(
    client, tec1, tec2, meeting, on_agenda, proposal_in
):
    item = on_agenda(proposal_in(ProposalStatus.UNDER_EVALUATION), meeting=meeting)
    url = f"/tec/agenda/{item.pk}/"

    client.force_login(tec2)
    member_page = client.get(url).content.decode()
    client.force_login(tec1)
    chair_page = client.get(url).content.decode()
    evaluation.take_attendance(user=tec1, meeting=meeting, present=[tec1, tec2])
    after = client.get(url).content.decode()

    assert 'data-testid="attendance-prompt"' not in member_page
    assert 'data-testid="attendance-prompt"' in chair_page
    assert f"{meeting.get_absolute_url()}#attendance" in chair_page
    assert 'data-testid="attendance-prompt"' not in after


def test_the_meeting_form_no_longer_sets_attendance(client, pmu, meeting):
    client.force_login(pmu)

    page = client.get(f"/tec-meetings/{meeting.pk}/edit/").content.decode()

    assert 'name="attendees"' not in page
    assert 'name="members"' in page


# --- API ------------------------------------------------------------------------------------------


def test_the_api_reads_and_takes_attendance_for_the_same_people(api, pmu, tec1, tec2, tec3, meeting):
    url = f"/api/v1/tec-meetings/{meeting.pk}/attendance/"

    before = api.as_user(tec2).get(url).json()
    taken = api.as_user(tec1).post(url, {"present": [tec1.pk, tec2.pk]}, format="json")
    corrected = api.as_user(pmu).post(
        url, {"present": [tec1.pk, tec2.pk, tec3.pk], "comment": "tec3 joined by video."}, format="json"
    )
    detail = api.as_user(tec3).get(f"/api/v1/tec-meetings/{meeting.pk}/").json()

    assert (before["taken"], before["present_count"]) == (False, 0)
    assert {row["name"]: row["present"] for row in before["members"]} == {
        "Tec1 Tester": False,
        "Tec2 Tester": False,
        "Tec3 Tester": False,
    }
    assert taken.status_code == 200, taken.json()
    assert (taken.json()["taken"], taken.json()["taken_by"], taken.json()["present_count"]) == (
        True,
        tec1.pk,
        2,
    )
    assert corrected.status_code == 200
    assert detail["attendance"]["present_count"] == 3
    assert sorted(detail["attendees"]) == sorted([tec1.pk, tec2.pk, tec3.pk])
    assert [t.action for t in Transition.objects.order_by("pk")] == ["take_attendance", "correct_attendance"]


def test_the_api_refuses_attendance_naming_what_is_wrong(api, pmu, tec1, meeting):
    url = f"/api/v1/tec-meetings/{meeting.pk}/attendance/"

    stranger = api.as_user(tec1).post(url, {"present": [pmu.pk]}, format="json")
    nobody = api.as_user(tec1).post(url, {"present": []}, format="json")
    # The meeting's own write leaves attendance alone: it is read-only there.
    api.as_user(pmu).patch(f"/api/v1/tec-meetings/{meeting.pk}/", {"attendees": [tec1.pk]}, format="json")

    assert stranger.status_code == 400
    assert "present" in stranger.json()["fields"]
    assert_refused(nobody, 409, code="present")
    meeting = TecMeeting.objects.get(pk=meeting.pk)
    assert (meeting.attendance_taken, meeting.attendees.count()) == (False, 0)


def test_once_the_minutes_are_final_the_members_and_chair_stay_as_recorded(
    pmu, tec1, tec2, tec3, meeting, on_agenda, proposal_in
):
    item = on_agenda(proposal_in(ProposalStatus.UNDER_EVALUATION), meeting=meeting)
    evaluation.take_attendance(meeting=meeting, user=tec1, present=[tec1, tec2, tec3])
    for member in (tec1, tec2, tec3):
        score(item, member, 8)
    workflow.apply(item.proposal, "recommend", tec1, comment="Sound.")
    newcomer = make_user("tec-newcomer", Role.TEC_MEMBER)
    data = {"number": meeting.number, "held_on": meeting.held_on, "venue": meeting.venue, "chair": tec1}

    with pytest.raises(ActionRefused) as added:
        evaluation.save_meeting(
            user=pmu, meeting=meeting, data={**data, "members": [tec1, tec2, tec3, newcomer]}
        )
    with pytest.raises(ActionRefused) as new_chair:
        evaluation.save_meeting(
            user=pmu, meeting=meeting, data={**data, "chair": tec2, "members": [tec1, tec2, tec3]}
        )

    for refusal in (added, new_chair):
        assert_refused(refusal, 409)
        assert "minutes of this meeting are final" in str(refusal.value)
    meeting.refresh_from_db()
    assert meeting.chair == tec1
    assert set(meeting.members.all()) == {tec1, tec2, tec3}
    # The same members and chair (a change of venue, say) are still accepted.
    evaluation.save_meeting(
        user=pmu, meeting=meeting, data={**data, "venue": "PKSF Bhaban", "members": [tec1, tec2, tec3]}
    )
    assert TecMeeting.objects.get(pk=meeting.pk).venue == "PKSF Bhaban"
