"""Bad input found by the schemathesis runs (test_schemathesis.py) is a 400 naming the field, never a
500: one test per cause. A NUL character merely found nothing on SQLite (404) but was an error of
PostgreSQL (500); a body that is not an object was a 500 on both."""

from __future__ import annotations

import json

import pytest

from enterprises.models import Adoption, TrainingSession
from tests.assertions import field_errors
from tests.enterprises.factories import (
    AdoptionFactory,
    EnterpriseFactory,
    TrainingSessionFactory,
    sub_project_for,
)

NULL_REFUSED = ["Null characters are not allowed."]


def test_a_null_character_in_a_parameter_the_view_reads_itself_is_a_400_naming_it(api, pmu):
    """`?po=` of the data-quality panel and the dashboards is read by the view, not by a form."""
    api.as_user(pmu)

    response = api.get("/api/v1/data-quality/", {"po": "PO\x0001"})

    assert response.status_code == 400
    assert field_errors(response) == {"po": NULL_REFUSED}


def test_every_parameter_holding_a_null_character_is_named(api, pmu):
    api.as_user(pmu)

    response = api.get("/api/v1/enterprises/", {"search": "\x00", "district": "a\x00", "page": "1"})

    assert response.status_code == 400
    assert field_errors(response) == {"search": NULL_REFUSED, "district": NULL_REFUSED}


def test_a_null_character_in_a_page_address_is_a_400_not_a_server_error(client, pmu):
    client.force_login(pmu)

    in_path = client.get("/dashboard/indicators/PO%00-1/")
    in_query = client.get("/dashboard/", {"po": "\x00"})

    assert (in_path.status_code, in_query.status_code) == (400, 400)
    assert "Null characters are not allowed." in in_query.content.decode()


def test_the_refusal_keeps_the_request_from_reaching_the_view(api, pmu):
    """Without a token the API answers 401; a NUL in the address is refused before that, so no view
    (and no query) ever sees it."""
    response = api.get("/api/v1/me/", {"x": "\x00"})

    assert response.status_code == 400


@pytest.fixture
def unmapped_session(po_one) -> TrainingSession:
    session = TrainingSessionFactory(sub_project=sub_project_for(po_one))
    TrainingSession.objects.filter(pk=session.pk).update(module=None)
    return session


def test_a_null_character_in_a_module_code_is_a_400_naming_the_module(api, pmu, unmapped_session):
    api.as_user(pmu)

    response = api.post(
        f"/api/v1/trainings/{unmapped_session.pk}/assign-module/", {"module": "CV\x00-01"}, format="json"
    )

    assert response.status_code == 400
    assert field_errors(response) == {"module": NULL_REFUSED}
    unmapped_session.refresh_from_db()
    assert unmapped_session.module is None


@pytest.mark.parametrize("body", [0, "AQ-04"])
def test_an_adoption_body_that_is_not_an_object_is_refused(api, po1, po_one, body):
    """The check that a PO sends no verification field read the body before DRF checked that it is
    an object: `0` was a TypeError (500) on every database. An adoption is now written as
    multipart/form-data (with its evidence photo): a JSON body is refused before anything reads it."""
    adoption = AdoptionFactory(enterprise=EnterpriseFactory(sub_project=sub_project_for(po_one)))
    api.as_user(po1)

    sent = {"data": json.dumps(body), "content_type": "application/json"}
    created = api.post("/api/v1/adoptions/", **sent)
    changed = api.patch(f"/api/v1/adoptions/{adoption.pk}/", **sent)

    assert (created.status_code, changed.status_code) == (415, 415)
    assert created.json()["code"] == changed.json()["code"] == "unsupported_media_type"
    assert Adoption.objects.get() == adoption
