"""Climate flags through the API, as the districts reference pages show and edit them: a district's
flag, hazards and flagged upazilas for every signed-in role; only PMU officers set them, with the
page form's checks (hazards only for a flagged area)."""

from __future__ import annotations

import pytest

from core.models import District, Upazila

DISTRICTS = "/api/v1/climate-flags/"
UPAZILAS = "/api/v1/upazila-climate-flags/"


@pytest.fixture
def bhola(db):
    district = District.objects.get(name="Bhola")
    district.climate_vulnerable = True
    district.climate_hazards = ["coastal"]
    district.save()
    return district


def test_every_role_reads_a_districts_flags_with_its_upazilas(api, po1, bhola):
    shyamnagar = Upazila.objects.get(name="Shyamnagar")
    shyamnagar.climate_vulnerable = True
    shyamnagar.save()

    body = api.as_user(po1).get(f"{DISTRICTS}{bhola.pk}/").json()
    satkhira = api.get(f"{DISTRICTS}{shyamnagar.district_id}/").json()

    assert (body["climate_vulnerable"], body["climate_hazards"]) == (True, ["coastal"])
    assert body["upazila_count"] == len(body["upazilas"]) == bhola.upazilas.count()
    assert body["vulnerable_upazilas"] == 0
    assert satkhira["climate_vulnerable"] is False
    assert satkhira["vulnerable_upazilas"] == 1
    assert {u["name"] for u in satkhira["upazilas"] if u["climate_vulnerable"]} == {"Shyamnagar"}


def test_the_vulnerable_filter_is_the_pages(api, client, po1, bhola):
    District.objects.exclude(pk=bhola.pk).update(climate_vulnerable=False)
    Upazila.objects.update(climate_vulnerable=False)
    Upazila.objects.filter(name="Shyamnagar").update(climate_vulnerable=True)  # in Satkhira
    client.force_login(po1)

    names = {
        row["name"]
        for row in api.as_user(po1)
        .get(DISTRICTS, {"climate_vulnerable": "true", "page_size": 100})
        .json()["results"]
    }
    others = api.get(DISTRICTS, {"climate_vulnerable": "false", "page_size": 100}).json()
    page = client.get("/reference/districts/", {"climate_vulnerable": "yes"}).context["districts"]

    assert names == {district.name for district in page} == {"Bhola", "Satkhira"}
    assert others["count"] == District.objects.count() - 2


def test_the_pmu_sets_a_districts_flag(api, pmu):
    khulna = District.objects.get(name="Khulna")

    response = api.as_user(pmu).patch(
        f"{DISTRICTS}{khulna.pk}/", {"climate_vulnerable": True, "climate_hazards": ["coastal", "cyclone"]}
    )

    assert response.status_code == 200, response.content
    assert response.json()["climate_hazards"] == ["coastal", "cyclone"]
    khulna.refresh_from_db()
    assert khulna.climate_vulnerable
    assert khulna.history.first().history_user == pmu


def test_the_pmu_sets_an_upazilas_flag_and_hazards_need_it(api, pmu):
    upazila = Upazila.objects.get(name="Shyamnagar")
    api.as_user(pmu)

    refused = api.patch(f"{UPAZILAS}{upazila.pk}/", {"climate_hazards": ["coastal"]})
    accepted = api.patch(
        f"{UPAZILAS}{upazila.pk}/", {"climate_vulnerable": True, "climate_hazards": ["coastal"]}
    )

    assert refused.status_code == 400
    assert "climate_hazards" in refused.json()["fields"]
    assert accepted.status_code == 200
    upazila.refresh_from_db()
    assert (upazila.climate_vulnerable, upazila.climate_hazards) == (True, ["coastal"])


@pytest.mark.parametrize("persona", ["po1", "wb", "tec1", "approver"])
def test_only_the_pmu_sets_flags(api, request, persona):
    district = District.objects.get(name="Khulna")
    upazila = Upazila.objects.get(name="Shyamnagar")
    api.as_user(request.getfixturevalue(persona))

    answers = [
        api.patch(f"{DISTRICTS}{district.pk}/", {"climate_vulnerable": True}),
        api.put(f"{UPAZILAS}{upazila.pk}/", {"climate_vulnerable": True, "climate_hazards": []}),
    ]

    assert [answer.status_code for answer in answers] == [403, 403]
    district.refresh_from_db()
    upazila.refresh_from_db()
    assert not district.climate_vulnerable
    assert not upazila.climate_vulnerable


def test_anonymous_callers_are_refused(api):
    assert api.get(DISTRICTS).status_code == 401
