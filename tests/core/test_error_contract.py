"""The API's one error contract (issue 16), the schema that documents it, and the schema served fast.

Every error answer is `{"code", "detail", "fields": {name: [{"code", "message"}]}}`: field problems by
dotted path with their machine codes, problems not about one field under `non_field_errors`, a refused
submission's problems each listed apart, a duplicate create naming the object it duplicates. The schema
documents those answers on every operation, with one `ErrorBody`, names the roles that may call each
operation (`x-roles`, checked here against real calls), declares JSON bodies everywhere but on upload
actions (multipart only), and is served from a per-process cache with an ETag and gzip.
"""

from __future__ import annotations

import gzip
import json
import time
from datetime import timedelta
from unittest import mock

import pytest
import yaml
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from rest_framework.exceptions import ErrorDetail, Throttled
from rest_framework.test import APIClient

from core.api.views import CurrentUserView
from core.roles import Role
from enterprises.models import Enterprise
from smart_portal.api import flat_errors
from smart_portal.api_docs import cached_schema
from subprojects.models import NoteStatus
from tests.core.test_constraint_races import with_error_answers
from tests.enterprises.factories import (
    EnterpriseFactory,
    TrainingSessionFactory,
    sub_project_for,
    training_module,
)
from tests.factories import make_user
from tests.subprojects.factories import CallFactory, ConceptNoteFactory, ProposalFactory

pytestmark = pytest.mark.django_db

ERROR_KEYS = {"code", "detail", "fields"}
NEW_ME = {
    "po_code": "ME-CONTRACT-1",
    "name": "Shapla Shoe Works",
    "owner_name": "Shapla Rani",
    "owner_gender": "female",
    "phone": "01712 000 999",
    "sub_sector": "leather-products",
    "district": "BD3048",  # Kishoreganj
    "upazila": "BD30480006",  # Bhairab
    "registered_on": "2024-10-01",
}


@pytest.fixture(autouse=True)
def _error_answers(settings):
    settings.MIDDLEWARE = with_error_answers(settings.MIDDLEWARE)


def assert_error(response, status: int, code: str) -> dict:
    """The answer is `status` in the one error body, with `code`; returns the body."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) >= ERROR_KEYS, body
    assert body["code"] == code, body
    assert isinstance(body["detail"], str), body
    assert body["detail"], body
    assert isinstance(body["fields"], dict), body
    for name, problems in body["fields"].items():
        assert name != "__all__"
        assert problems, body
        assert all(set(problem) == {"code", "message"} for problem in problems), body
    return body


@pytest.fixture
def sp_one(po1):
    return sub_project_for(po1.partner_organization)


@pytest.fixture
def me_one(sp_one):
    return EnterpriseFactory(sub_project=sp_one)


# --- Each status code's body -------------------------------------------------------------------------


def test_400_names_each_field_with_its_machine_code(api, po1, sp_one):
    response = api.as_user(po1).post(
        "/api/v1/enterprises/", {**NEW_ME, "name": "", "owner_gender": "robot", "sub_project": sp_one.pk}
    )

    body = assert_error(response, 400, "invalid")
    assert body["fields"]["name"] == [{"code": "blank", "message": "This field may not be blank."}]
    assert body["fields"]["owner_gender"][0]["code"] == "invalid_choice"
    assert body["detail"] == "The request has errors in 2 fields: name, owner_gender."


def test_400_a_missing_field_is_required(api, po1, sp_one):
    without_name = {key: value for key, value in NEW_ME.items() if key != "name"}

    body = assert_error(
        api.as_user(po1).post("/api/v1/enterprises/", {**without_name, "sub_project": sp_one.pk}),
        400,
        "invalid",
    )

    assert body["fields"] == {"name": [{"code": "required", "message": "This field is required."}]}
    assert body["detail"] == "The request has an error in 1 field: name."


def test_400_a_nested_field_is_named_by_its_dotted_path(api, po1, pmu):
    note = ConceptNoteFactory(
        call=CallFactory(created_by=pmu),
        partner_organization=po1.partner_organization,
        created_by=po1,
        status=NoteStatus.SHORTLISTED,
    )
    proposal = ProposalFactory(concept_note=note, invited_by=pmu)
    lines = [
        {
            "category": "csf",
            "description": "Recycling unit",
            "amount": "20000000.00",
            "financier": "world_bank",
        },
        {"category": "training", "description": "Trainings", "amount": "a lot", "financier": "pksf"},
    ]

    response = api.as_user(po1).patch(f"/api/v1/proposals/{proposal.pk}/", {"budget_lines": lines})

    body = assert_error(response, 400, "invalid")
    assert list(body["fields"]) == ["budget_lines.1.amount"]
    assert body["fields"]["budget_lines.1.amount"][0]["code"] == "invalid"


def test_400_a_body_that_is_not_json_is_a_parse_error(api, po1):
    response = api.as_user(po1).post(
        "/api/v1/enterprises/", data="{not json", content_type="application/json"
    )

    body = assert_error(response, 400, "parse_error")
    assert body["fields"] == {}


def test_400_a_nul_character_in_a_query_parameter(api, po1):
    body = assert_error(api.as_user(po1).get("/api/v1/enterprises/", {"search": "a\x00b"}), 400, "invalid")

    assert body["fields"] == {
        "search": [{"code": "null_characters", "message": "Null characters are not allowed."}]
    }


def test_401_without_a_token_and_with_a_bad_one():
    anonymous = APIClient().get("/api/v1/enterprises/")
    bad = APIClient(HTTP_AUTHORIZATION="Token not-a-token").get("/api/v1/enterprises/")

    assert assert_error(anonymous, 401, "not_authenticated")["fields"] == {}
    assert anonymous["WWW-Authenticate"] == "Token"
    assert_error(bad, 401, "authentication_failed")


def test_403_a_role_refused_by_the_view_and_by_the_service(api, po1, me_one):
    session = TrainingSessionFactory(sub_project=me_one.sub_project)
    api.as_user(po1)

    by_view = api.post("/api/v1/calls/", {"reference": "X", "title": "X"})
    by_service = api.post(
        f"/api/v1/trainings/{session.pk}/assign-module/", {"module": training_module().code}
    )

    assert assert_error(by_view, 403, "permission_denied")["fields"] == {}
    assert assert_error(by_service, 403, "forbidden")["fields"] == {}


def test_404_another_pos_object_answers_as_a_missing_one(api, po2, me_one):
    api.as_user(po2)

    foreign = api.get(f"/api/v1/enterprises/{me_one.pk}/")
    missing = api.get("/api/v1/enterprises/99999999/")

    assert_error(foreign, 404, "not_found")
    assert foreign.json() == missing.json()
    assert me_one.name not in foreign.content.decode()


def test_404_an_unknown_url(api, po1):
    body = assert_error(api.as_user(po1).get("/api/v1/no-such-resource/"), 404, "not_found")

    assert body["fields"] == {}


def test_405_406_415(api, po1, me_one):
    api.as_user(po1)

    not_allowed = api.delete(f"/api/v1/enterprises/{me_one.pk}/")
    not_acceptable = api.get("/api/v1/enterprises/", HTTP_ACCEPT="application/xml")
    form_to_json = api.post("/api/v1/enterprises/", {"name": "x"}, format="multipart")
    json_to_upload = api.post("/api/v1/import-jobs/", {"kind": "enterprises"}, format="json")

    assert_error(not_allowed, 405, "method_not_allowed")
    assert_error(not_acceptable, 406, "not_acceptable")
    assert_error(form_to_json, 415, "unsupported_media_type")
    assert_error(json_to_upload, 415, "unsupported_media_type")


def test_409_a_refused_transition_keeps_its_code(api, po1, pmu):
    note = ConceptNoteFactory(
        call=CallFactory(created_by=pmu),
        partner_organization=po1.partner_organization,
        created_by=po1,
        status=NoteStatus.SUBMITTED,
        submitted_at=timezone.now(),
    )

    body = assert_error(
        api.as_user(pmu).post(f"/api/v1/concept-notes/{note.pk}/shortlist/"), 409, "wrong_state"
    )

    assert body["fields"] == {}


def test_409_an_incomplete_submit_lists_each_problem_apart(api, po1, pmu):
    note = ConceptNoteFactory(
        call=CallFactory(created_by=pmu),
        partner_organization=po1.partner_organization,
        created_by=po1,
        title="",
        problem="",
        mes_targeted=0,
        women_led_mes_targeted=0,
        target_districts=[],
    )
    note.target_districts.clear()

    response = api.as_user(po1).post(f"/api/v1/concept-notes/{note.pk}/submit/")

    body = assert_error(response, 409, "incomplete")
    assert body["fields"] == {
        "title": [{"code": "required", "message": "Title is missing"}],
        "target_districts": [{"code": "required", "message": "Choose at least one target district"}],
        "mes_targeted": [{"code": "min_value", "message": "Number of MEs targeted must be more than zero"}],
        "problem": [{"code": "required", "message": "Problem addressed is missing"}],
    }
    assert body["detail"].startswith("The concept note is not complete: Title is missing; ")


def test_429_names_when_to_try_again(api, po1):
    with mock.patch.object(CurrentUserView, "get_object", side_effect=Throttled(wait=7)):
        response = api.as_user(po1).get("/api/v1/me/")

    body = assert_error(response, 429, "throttled")
    assert response["Retry-After"] == "7"
    assert body["fields"] == {}


def test_500_is_the_same_body_with_the_request_id(po1):
    client = APIClient(raise_request_exception=False)
    client.force_login(po1)

    with mock.patch.object(CurrentUserView, "get_object", side_effect=RuntimeError("boom")):
        response = client.get("/api/v1/me/", HTTP_X_REQUEST_ID="req-contract")

    body = assert_error(response, 500, "server_error")
    assert (body["fields"], body["request_id"]) == ({}, "req-contract")
    assert "boom" not in response.content.decode()


def test_a_duplicate_create_names_the_existing_object(api, po1, sp_one):
    api.as_user(po1)
    first = api.post("/api/v1/enterprises/", {**NEW_ME, "sub_project": sp_one.pk})
    assert first.status_code == 201, first.json()

    again = api.post("/api/v1/enterprises/", {**NEW_ME, "sub_project": sp_one.pk})

    body = assert_error(again, 400, "invalid")
    assert body["existing_id"] == first.json()["id"]
    assert list(body["fields"]) == ["po_code"]
    assert body["fields"]["po_code"][0]["code"] == "unique"
    assert Enterprise.objects.filter(po_code=NEW_ME["po_code"]).count() == 1


def test_a_duplicate_of_a_key_of_several_fields_names_the_existing_object(api, po1, sp_one):
    facility = {
        "sub_project": sp_one.pk,
        "name": "Bhairab Recycling Unit",
        "kind": "revenue",
        "sub_sector": "leather-products",
        "district": "BD3048",
        "status": "planned",
    }
    api.as_user(po1)
    first = api.post("/api/v1/facilities/", facility)
    assert first.status_code == 201, first.json()

    again = api.post("/api/v1/facilities/", facility)

    body = assert_error(again, 400, "invalid")
    assert body["existing_id"] == first.json()["id"]
    assert body["fields"] == {
        "non_field_errors": [
            {"code": "unique", "message": "This sub-project already has a facility with this name."}
        ]
    }


def test_another_pos_code_is_no_duplicate_and_names_nothing(api, po1, po2, sp_one):
    EnterpriseFactory(sub_project=sub_project_for(po2.partner_organization), po_code=NEW_ME["po_code"])

    response = api.as_user(po1).post("/api/v1/enterprises/", {**NEW_ME, "sub_project": sp_one.pk})

    assert response.status_code == 201, response.json()


def test_model_errors_never_appear_under___all__():
    nested = {
        "__all__": [ErrorDetail("Whole object.", code="invalid")],
        "lines": [{}, {"non_field_errors": [ErrorDetail("Line two.", code="invalid")]}],
        "tags": {0: [ErrorDetail("Not a tag.", code="invalid_choice")]},
    }

    assert flat_errors(nested) == {
        "non_field_errors": [{"code": "invalid", "message": "Whole object."}],
        "lines.1": [{"code": "invalid", "message": "Line two."}],
        "tags.0": [{"code": "invalid_choice", "message": "Not a tag."}],
    }


# --- The schema documents it -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def schema() -> dict:
    return cached_schema("en")


def operations(schema: dict):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield path, method.upper(), operation


def error_responses(schema: dict, operation: dict) -> dict[str, dict]:
    """The operation's error answers, references resolved."""
    found = {}
    for code, answer in operation["responses"].items():
        if code >= "400":
            if "$ref" in answer:
                answer = schema["components"]["responses"][answer["$ref"].rsplit("/", 1)[-1]]
            found[code] = answer
    return found


@pytest.mark.slow
def test_every_operation_documents_its_error_answers_with_the_one_body(schema):
    error_body = {"$ref": "#/components/schemas/ErrorBody"}
    for path, method, operation in operations(schema):
        errors = error_responses(schema, operation)
        where = f"{method} {path}"
        expected = {"400", "429"}
        security = operation.get("security") or [{}]
        if {} not in security:  # a token or a session is required
            expected |= {"401", "403"}
        if "{" in path:
            expected.add("404")
        if method != "GET":
            expected.add("409")
        if "requestBody" in operation:
            expected.add("415")
        assert expected <= set(errors), (where, sorted(errors))
        assert "Retry-After" in errors["429"]["headers"], where
        for code, answer in errors.items():
            reference = answer["content"]["application/json"]["schema"]["$ref"]
            body = schema["components"]["schemas"][reference.rsplit("/", 1)[-1]]
            assert {"code", "detail", "fields"} <= set(body["required"]), (where, code)
            if code in ("401", "403", "404", "429"):
                assert answer["content"]["application/json"]["schema"] == error_body, (where, code)
    body = schema["components"]["schemas"]["ErrorBody"]
    assert {"code", "detail", "fields"} <= set(body["required"])
    field_error = body["properties"]["fields"]["additionalProperties"]["items"]
    assert field_error == {"$ref": "#/components/schemas/FieldError"}


@pytest.mark.slow
def test_bodies_are_json_except_uploads_which_are_multipart_only(schema):
    uploads = set()
    for path, method, operation in operations(schema):
        media = set(operation.get("requestBody", {}).get("content", {}))
        assert media in (set(), {"application/json"}, {"multipart/form-data"}), (method, path, media)
        if media == {"multipart/form-data"}:
            uploads.add(f"{method} {path}")
    assert {
        "POST /api/v1/import-jobs/",
        "POST /api/v1/concept-notes/{id}/attachments/",
        "POST /api/v1/proposals/{id}/attachments/",
        "POST /api/v1/adoptions/",
        "POST /api/v1/public/grievances/",
        "POST /api/v1/grievances/",
        "POST /api/v1/clearances/",
        "POST /api/v1/verification-checks/{id}/confirm/",
    } <= uploads


# --- Who may call each operation ---------------------------------------------------------------------


def operation_at(schema: dict, method: str, path: str) -> dict:
    return schema["paths"][path][method.lower()]


@pytest.mark.slow
def test_each_operation_names_the_roles_that_may_call_it(schema):
    create_call = operation_at(schema, "POST", "/api/v1/calls/")
    list_enterprises = operation_at(schema, "GET", "/api/v1/enterprises/")
    invite = operation_at(schema, "POST", "/api/v1/concept-notes/{id}/invite/")
    submit = operation_at(schema, "POST", "/api/v1/concept-notes/{id}/submit/")
    token = operation_at(schema, "POST", "/api/v1/auth/token/")

    assert create_call["x-roles"] == [Role.PMU_OFFICER]
    assert create_call["description"].endswith("Who may call: PMU officer.")
    assert list_enterprises["x-roles"] == ["po_staff", "pmu_officer", "world_bank", "pksf_approver"]
    assert (
        "Who may call: PO staff, PMU officer, World Bank reviewer, PKSF approver."
        in (list_enterprises["description"])
    )
    assert invite["x-roles"] == ["pmu_officer"]  # the handler's own check (HANDLER_CHECKS)
    assert submit["x-roles"] == ["po_staff"]  # the rule's roles
    assert "Subject to the record's state and owner." in submit["description"]
    assert "Who may call: anyone, without signing in." in token["description"]
    every_code = {role.value for role in Role}
    for path, method, operation in operations(schema):
        assert set(operation["x-roles"]) <= every_code, (method, path)
        assert "Who may call:" in operation["description"], (method, path)


@pytest.mark.slow
def test_the_roles_come_from_the_permissions_alone_without_the_database(schema):
    from drf_spectacular.generators import SchemaGenerator

    from smart_portal.schema import callers_of

    # Every operation's callers were found from the roles: no permission read stored data.

    generator = SchemaGenerator()
    generator._initialise_endpoints()
    for path, _regex, method, callback in generator.endpoints:
        view = generator.create_view(callback, method)
        callers = callers_of(view, method, path)
        assert callers.undetermined == (), (method, path, callers.undetermined)


@pytest.mark.slow
def test_every_handler_check_names_an_operation(schema):
    from drf_spectacular.generators import SchemaGenerator

    from smart_portal.schema import HANDLER_CHECKS

    generator = SchemaGenerator()
    generator._initialise_endpoints()
    named = set()
    for _path, _regex, method, callback in generator.endpoints:
        view = generator.create_view(callback, method)
        action = getattr(view, "action", None) or method.lower()
        named |= {f"{type(view).__name__}.{action}", f"{type(view).__name__}.{action}.{method}"}
    assert set(HANDLER_CHECKS()) <= named, set(HANDLER_CHECKS()) - named


@pytest.fixture
def users_by_role(po_one, po1, pmu, tec1, wb, approver, verifier):
    return {
        Role.PO_STAFF: po1,
        Role.PMU_OFFICER: pmu,
        Role.TEC_MEMBER: tec1,
        Role.WORLD_BANK: wb,
        Role.PKSF_APPROVER: approver,
        Role.VERIFIER: verifier,
        Role.ES_OFFICER: make_user("es", Role.ES_OFFICER),
        Role.FINANCE_OFFICER: make_user("finance", Role.FINANCE_OFFICER),
        Role.GRIEVANCE_FOCAL_POINT: make_user("grm", Role.GRIEVANCE_FOCAL_POINT),
    }


@pytest.mark.slow
def test_x_roles_agree_with_real_calls(schema, api, users_by_role, po1, pmu):
    me = EnterpriseFactory(sub_project=sub_project_for(po1.partner_organization))
    session = TrainingSessionFactory(sub_project=me.sub_project)
    note = ConceptNoteFactory(
        call=CallFactory(created_by=pmu),
        partner_organization=po1.partner_organization,
        created_by=po1,
        status=NoteStatus.SHORTLISTED,
    )
    deadline = (timezone.now() + timedelta(days=20)).isoformat()
    calls = [
        ("POST", "/api/v1/calls/", "/api/v1/calls/", {}),
        ("POST", "/api/v1/enterprises/", "/api/v1/enterprises/", {}),
        ("POST", "/api/v1/import-jobs/", "/api/v1/import-jobs/", "upload"),
        (
            "POST",
            "/api/v1/concept-notes/{id}/invite/",
            f"/api/v1/concept-notes/{note.pk}/invite/",
            {"deadline": deadline},
        ),
        (
            "POST",
            "/api/v1/trainings/{id}/assign-module/",
            f"/api/v1/trainings/{session.pk}/assign-module/",
            {"module": training_module().code},
        ),
        ("GET", "/api/v1/enterprises/", "/api/v1/enterprises/", None),
        ("GET", "/api/v1/cluster-suggestions/", "/api/v1/cluster-suggestions/", None),
    ]
    for method, template, url, body in calls:
        listed = set(operation_at(schema, method, template)["x-roles"])
        assert listed, template
        for role, user in users_by_role.items():
            client = api.as_user(user)
            if method == "GET":
                response = client.get(url)
            elif body == "upload":
                response = client.post(
                    url, {"kind": "enterprises", "file": enterprises_csv(me.sub_project)}, format="multipart"
                )
            else:
                response = client.post(url, body)
            if role in listed:
                assert response.status_code not in (403, 404), (method, template, role, response.json())
            else:
                # Refused: for who they are (403), or the object is not theirs to see (404).
                assert response.status_code in (403, 404), (method, template, role, response.status_code)


def enterprises_csv(sub_project) -> SimpleUploadedFile:
    from tests.enterprises.test_imports import as_csv, enterprise_row

    return SimpleUploadedFile(
        "enterprises.csv", as_csv([enterprise_row(1, sub_project)]), content_type="text/csv"
    )


# --- Served fast, with an ETag and gzip ----------------------------------------------------------------


@pytest.mark.slow
def test_the_schema_is_served_from_the_cache_with_an_etag_and_gzip(client, po1):
    client.force_login(po1)
    cached_schema("en")  # the first request of a process generates it

    client.get("/api/schema/")  # ... and the first in each format renders it
    started = time.perf_counter()
    as_yaml = client.get("/api/schema/")
    elapsed = time.perf_counter() - started
    as_json = client.get("/api/schema/?format=json")
    zipped = client.get("/api/schema/?format=json", HTTP_ACCEPT_ENCODING="gzip, deflate")
    unchanged = client.get("/api/schema/", HTTP_IF_NONE_MATCH=as_yaml["ETag"])

    assert as_yaml.status_code == 200
    assert as_yaml["Content-Type"].startswith("application/vnd.oai.openapi")
    assert yaml.safe_load(as_yaml.content)["paths"]["/api/v1/enterprises/"]
    assert json.loads(as_json.content) == yaml.safe_load(as_yaml.content)
    assert zipped["Content-Encoding"] == "gzip"
    assert json.loads(gzip.decompress(zipped.content)) == json.loads(as_json.content)
    assert len(zipped.content) < len(as_json.content) / 5
    assert (unchanged.status_code, unchanged.content) == (304, b"")
    assert unchanged["ETag"] == as_yaml["ETag"] != as_json["ETag"]
    assert elapsed < 0.5  # milliseconds once rendered; generous for a loaded machine


@pytest.mark.slow
def test_the_schema_in_bangla(client, po1):
    client.force_login(po1)

    english = client.get("/api/schema/?format=json&lang=en").json()
    bangla = client.get("/api/schema/?format=json&lang=bn").json()

    assert "Who may call: PMU officer." in operation_at(english, "POST", "/api/v1/calls/")["description"]
    assert "PMU কর্মকর্তা" in operation_at(bangla, "POST", "/api/v1/calls/")["description"]


def test_an_upload_still_reads_multipart(api, po1):
    upload = SimpleUploadedFile("x.csv", b"po_code,name\n", content_type="text/csv")

    response = api.as_user(po1).post(
        "/api/v1/import-jobs/", {"kind": "enterprises", "file": upload}, format="multipart"
    )

    assert response.status_code in (201, 400), response.json()
    assert response.status_code != 415
