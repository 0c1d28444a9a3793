import pytest

from core.models import BusinessArea, District, Division, Sector, SubSector, Upazila

SPEC_SUB_SECTORS = {
    "Horticulture": ["High-value Crops"],
    "Livestock": ["Cattle and Buffalo", "Poultry"],
    "Aquaculture": ["Pisciculture"],
    "Footwear and Leather Products": ["Leather Products"],
    "Mini Textile": ["Mini Garments", "Loom", "High-value Handicrafts"],
    "Light Engineering": [
        "Machinery and Equipment",
        "Eco-friendly Construction Materials",
        "Metal Products (imitation, metallic, steel)",
    ],
    "Plastic Recycling": ["Plastic Recycling"],
    "Food Processing": [
        "Salt Processing",
        "Dry Fish Processing and Trade",
        "Rice Mill",
        "Jaggery Processing",
    ],
    "Service": [
        "Eco-friendly Tourism Development",
        "New Logistics, Packaging, Transportation including courier service, IT Services",
        "Waste Management Services",
        "Restaurants, Street and Bakery Food",
        "Automobile Workshop",
    ],
}


@pytest.mark.django_db
def test_migrations_load_the_programmes_sectors_exactly():
    assert list(BusinessArea.objects.values_list("name", flat=True)) == [
        "Agriculture",
        "Manufacturing and processing",
        "Service",
    ]
    assert Sector.objects.count() == 9
    assert SubSector.objects.count() == 21
    loaded = {
        sector.name: [sub.name for sub in sector.sub_sectors.all()]
        for sector in Sector.objects.prefetch_related("sub_sectors")
    }
    assert loaded == SPEC_SUB_SECTORS
    assert Sector.objects.get(name="Food Processing").business_area.name == "Manufacturing and processing"


@pytest.mark.django_db
def test_migrations_load_bangladeshs_divisions_districts_and_upazilas():
    assert Division.objects.count() == 8
    assert District.objects.count() == 64
    assert Upazila.objects.count() == 507
    assert set(Division.objects.values_list("name", flat=True)) == {
        "Barishal",
        "Chattogram",
        "Dhaka",
        "Khulna",
        "Mymensingh",
        "Rajshahi",
        "Rangpur",
        "Sylhet",
    }
    bhairab = Upazila.objects.select_related("district__division").get(name="Bhairab")
    assert (bhairab.district.name, bhairab.district.division.name) == ("Kishoreganj", "Dhaka")
    assert District.objects.filter(upazilas__isnull=True).count() == 0


def test_reference_api_is_read_only(api, pmu):
    api.as_user(pmu)

    assert api.get("/api/v1/sectors/").json()["count"] == 9
    assert api.post("/api/v1/sectors/", {"name": "Mining"}).status_code == 405
    assert api.patch("/api/v1/districts/1/", {"climate_vulnerable": True}).status_code == 405


def test_reference_api_filters_by_parent(api, po1):
    api.as_user(po1)

    sub_sectors = api.get("/api/v1/sub-sectors/", {"sector": "food-processing"}).json()
    upazilas = api.get("/api/v1/upazilas/", {"district": "BD3048", "page_size": 100}).json()

    assert [row["name"] for row in sub_sectors["results"]] == [
        "Salt Processing",
        "Dry Fish Processing and Trade",
        "Rice Mill",
        "Jaggery Processing",
    ]
    assert upazilas["count"] == 13
    assert "Bhairab" in {row["name"] for row in upazilas["results"]}


def test_reference_api_needs_authentication(client, db):
    assert client.get("/api/v1/districts/").status_code == 401


def test_pmu_flags_a_district_climate_vulnerable(client, pmu):
    satkhira = District.objects.get(name="Satkhira")
    client.force_login(pmu)

    response = client.post(
        f"/reference/districts/{satkhira.pk}/climate/",
        {"climate_vulnerable": "on", "climate_hazards": ["coastal", "cyclone"]},
    )

    assert response.status_code == 302
    satkhira.refresh_from_db()
    assert satkhira.climate_vulnerable
    assert satkhira.climate_hazards == ["coastal", "cyclone"]
    assert satkhira.history.first().history_user == pmu


def test_hazards_without_the_flag_are_refused_and_nothing_changes(client, pmu):
    upazila = Upazila.objects.get(name="Shyamnagar")
    client.force_login(pmu)

    response = client.post(f"/reference/upazilas/{upazila.pk}/climate/", {"climate_hazards": ["coastal"]})

    assert response.status_code == 200
    assert "Hazards can only be recorded for an area flagged climate-vulnerable." in response.content.decode()
    upazila.refresh_from_db()
    assert upazila.climate_hazards == []


@pytest.mark.parametrize("persona", ["po1", "wb", "tec1", "approver"])
def test_only_pmu_sets_climate_flags(client, db, request, persona):
    client.force_login(request.getfixturevalue(persona))
    district = District.objects.get(name="Khulna")

    response = client.post(f"/reference/districts/{district.pk}/climate/", {"climate_vulnerable": "on"})

    assert response.status_code == 403
    district.refresh_from_db()
    assert not district.climate_vulnerable


def test_district_pages_show_the_flag(client, po1):
    district = District.objects.get(name="Bhola")
    district.climate_vulnerable = True
    district.climate_hazards = ["coastal"]
    district.save()
    client.force_login(po1)

    listing = client.get("/reference/districts/", {"climate_vulnerable": "yes"}).content.decode()
    detail = client.get(f"/reference/districts/{district.pk}/").content.decode()

    assert "Bhola" in listing
    assert "Kishoreganj" not in listing
    assert "Coastal / salinity" in detail
    assert "Set climate vulnerability" not in detail  # PO staff read, PMU edits
