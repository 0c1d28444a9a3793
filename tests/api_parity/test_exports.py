"""List downloads through the API (`exports`): made by the list's own page as its "Download" link
makes them, so the rows are exactly the page's download for that user and those filters; a short list
is answered at once, a long one becomes an export written in the background, followed and downloaded
by its owner only."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from core.api.exports import EXPORTABLE_LISTS
from core.exports import EXPORT_LIMITS
from core.models import ExportJob, ExportStatus
from core.roles import Role
from tests.enterprises.factories import EnterpriseFactory
from tests.factories import make_user

URL = "/api/v1/exports/"


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.fixture
def five(sp_one):
    return [EnterpriseFactory(sub_project=sp_one, name=f"Shoe Works {i}") for i in range(5)]


@pytest.mark.parametrize("name", sorted(EXPORTABLE_LISTS))
def test_every_list_offered_downloads_as_its_page_does(api, client, pmu, name):
    # The PMU reads every list but the grievances, which the PMU's grievance focal point reads.
    user = make_user("gfp", Role.GRIEVANCE_FOCAL_POINT) if name == "grievances" else pmu
    client.force_login(user)
    page = client.get(reverse(EXPORTABLE_LISTS[name]), {"export": "csv"})

    response = api.as_user(user).post(URL, {"list": name}, format="json")

    assert response.status_code == page.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == page["Content-Disposition"]
    assert body(response) == body(page)


def test_a_short_list_is_the_pages_download_at_once(api, client, pmu, five):
    client.force_login(pmu)
    page = client.get("/enterprises/", {"export": "csv", "district": "BD3048"})

    response = api.as_user(pmu).post(
        URL, {"list": "enterprises", "file_format": "csv", "filters": {"district": "BD3048"}}, format="json"
    )

    assert response.status_code == 200
    assert response["Content-Type"] == page["Content-Type"]
    assert response["Content-Disposition"] == page["Content-Disposition"]
    content = body(response)
    assert content == body(page)
    assert content.decode("utf-8-sig").count("Shoe Works") == 5
    assert not ExportJob.objects.exists()


def test_an_xlsx_download(api, pmu, five):
    response = api.as_user(pmu).post(URL, {"list": "enterprises", "file_format": "xlsx"}, format="json")

    assert response.status_code == 200
    rows = list(load_workbook(io.BytesIO(body(response)), read_only=True).active.iter_rows(values_only=True))
    assert len(rows) == 6  # the headers and five enterprises


def test_po_staff_get_their_own_pos_rows_only(api, po1, po2, five, sp_two):
    EnterpriseFactory(sub_project=sp_two, name="Satkhira Leather")

    mine = body(api.as_user(po1).post(URL, {"list": "enterprises"}, format="json")).decode("utf-8-sig")
    theirs = body(api.as_user(po2).post(URL, {"list": "enterprises"}, format="json")).decode("utf-8-sig")

    assert mine.count("Shoe Works") == 5
    assert "Satkhira Leather" not in mine
    assert "Shoe Works" not in theirs
    assert "Satkhira Leather" in theirs


def test_a_list_the_role_may_not_read_is_refused_as_on_the_page(api, client, tec1):
    client.force_login(tec1)

    response = api.as_user(tec1).post(URL, {"list": "enterprises"}, format="json")

    assert client.get("/enterprises/", {"export": "csv"}).status_code == 403
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


def test_a_filter_the_page_does_not_read_is_refused(api, pmu, five):
    response = api.as_user(pmu).post(
        URL, {"list": "enterprises", "filters": {"distrct": "BD3048"}}, format="json"
    )

    assert response.status_code == 400
    error = response.json()["fields"]["filters.distrct"][0]
    assert error["code"] == "unknown_parameter"
    assert "district" in error["message"]


def test_a_format_the_list_does_not_offer_is_refused(api, pmu):
    response = api.as_user(pmu).post(URL, {"list": "clearances", "file_format": "xlsx"}, format="json")

    assert response.status_code == 400
    assert "file_format" in response.json()["fields"]


def test_an_unknown_list_is_refused(api, pmu):
    response = api.as_user(pmu).post(URL, {"list": "passwords"}, format="json")

    assert response.status_code == 400
    assert response.json()["fields"]["list"][0]["code"] == "invalid_choice"


def test_a_long_list_is_written_in_the_background_and_downloaded_by_its_owner(
    api, client, pmu, po1, five, settings, django_capture_on_commit_callbacks
):
    client.force_login(pmu)
    at_once = body(client.get("/enterprises/", {"export": "csv", "district": "BD3048"}))
    settings.EXPORT_INLINE_ROWS = 2
    api.as_user(pmu)

    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            URL,
            {"list": "enterprises", "file_format": "csv", "filters": {"district": "BD3048"}},
            format="json",
        )

    assert response.status_code == 202
    job = response.json()
    assert job["list"] == "enterprises"
    assert job["filters"] == {"district": "BD3048"}
    assert response["Location"].endswith(f"/api/v1/exports/{job['id']}/")
    followed = api.get(f"{URL}{job['id']}/").json()
    assert followed["status"] == ExportStatus.READY
    assert (followed["row_count"], followed["rows_written"], followed["percent"]) == (5, 5, 100)
    assert followed["file_url"].endswith(f"/api/v1/exports/{job['id']}/file/")
    assert body(api.get(followed["file_url"])) == at_once
    assert [row["id"] for row in api.get(URL).json()["results"]] == [job["id"]]
    # Another user: as a download that does not exist.
    api.as_user(po1)
    assert api.get(f"{URL}{job['id']}/").status_code == 404
    assert api.get(f"{URL}{job['id']}/file/").status_code == 404
    assert api.get(f"{URL}{job['id'] + 1000}/file/").json() == api.get(f"{URL}{job['id']}/file/").json()
    assert api.get(URL).json()["results"] == []


def test_a_file_not_ready_yet_answers_409(api, pmu, five, settings, django_capture_on_commit_callbacks):
    settings.EXPORT_INLINE_ROWS = 2
    api.as_user(pmu)
    with django_capture_on_commit_callbacks(execute=False):
        job = api.post(URL, {"list": "enterprises"}, format="json").json()

    response = api.get(f"{URL}{job['id']}/file/")

    assert job["status"] == ExportStatus.QUEUED
    assert job["file_url"] is None
    assert response.status_code == 409
    assert response.json()["code"] == "not_ready"


def test_an_export_whose_worker_died_is_failed_when_followed_and_its_file_answers_409(api, pmu, settings):
    """A client polls `exports/<id>/`, never the list: the export whose worker is gone must say so
    there, not stay "running" for ever."""
    job = ExportJob.objects.create(user=pmu, title="Enterprises", path="/enterprises/", file_format="csv")
    ExportJob.objects.filter(pk=job.pk).update(
        status=ExportStatus.RUNNING, heartbeat_at=timezone.now() - timedelta(minutes=10)
    )
    settings.JOB_HEARTBEAT_TIMEOUT_SECONDS = 60  # without PostgreSQL's locks: silent long enough
    api.as_user(pmu)

    followed = api.get(f"{URL}{job.pk}/")
    response = api.get(f"{URL}{job.pk}/file/")

    assert followed.status_code == 200
    assert followed.json()["status"] == ExportStatus.FAILED
    assert response.status_code == 409
    assert response.json()["code"] == "failed"
    assert "The worker writing this file stopped" in response.json()["detail"]


def test_a_list_longer_than_a_file_holds_is_refused_naming_the_filters(api, pmu, five, monkeypatch):
    monkeypatch.setitem(EXPORT_LIMITS, "xlsx", 4)

    response = api.as_user(pmu).post(URL, {"list": "enterprises", "file_format": "xlsx"}, format="json")

    assert response.status_code == 400
    assert [error["code"] for error in response.json()["fields"]["filters"]] == ["too_many_rows"]
    assert not ExportJob.objects.exists()


def test_at_most_three_downloads_wait_per_person(
    api, pmu, five, settings, django_capture_on_commit_callbacks
):
    settings.EXPORT_INLINE_ROWS = 2
    api.as_user(pmu)
    answers = []
    with django_capture_on_commit_callbacks(execute=False):
        for q in ("Shoe", "Works", "Shoe Works", "Shoe Works"):  # the last: the same list again
            answers.append(api.post(URL, {"list": "enterprises", "filters": {"q": q}}, format="json"))
        fourth = api.post(URL, {"list": "enterprises", "filters": {"q": "S"}}, format="json")

    assert [answer.status_code for answer in answers] == [202, 202, 202, 202]
    assert answers[3].json()["id"] == answers[2].json()["id"]
    assert fourth.status_code == 409
    assert fourth.json()["code"] == "too_many_exports"
    assert ExportJob.objects.count() == 3


def test_anonymous_callers_are_refused(api):
    assert api.post(URL, {"list": "enterprises"}, format="json").status_code == 401
    assert api.get(URL).status_code == 401
