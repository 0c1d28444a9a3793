"""The admin site: the PMU maintains the catalogues and reads field data there."""

import pytest

from tests.enterprises.factories import FacilityFactory, FinancialSupportFactory, KpiReadingFactory

pytestmark = pytest.mark.django_db

MODELS = [
    "enterprise", "financialsupport", "trainingsession", "attendance", "adoption", "recpprofile",
    "kpireading", "commonservicefacility", "cluster", "duplicatesuspect", "importjob", "recppractice", "kpi",
]  # fmt: skip


def test_pmu_opens_every_field_data_admin_page(client, pmu, me_one, sp_one):
    FinancialSupportFactory(enterprise=me_one)
    KpiReadingFactory(enterprise=me_one)
    FacilityFactory(sub_project=sp_one)
    client.force_login(pmu)

    for model in MODELS:
        assert client.get(f"/admin/enterprises/{model}/").status_code == 200, model
    assert client.get(f"/admin/enterprises/enterprise/{me_one.pk}/change/").status_code == 200


def test_pmu_edits_the_catalogues_but_only_reads_enterprises(client, pmu, me_one):
    client.force_login(pmu)

    assert client.get("/admin/enterprises/recppractice/add/").status_code == 200
    assert client.get("/admin/enterprises/kpi/add/").status_code == 200
    assert client.get("/admin/enterprises/enterprise/add/").status_code == 403
