"""The schema tells the truth about what the API answers, checked without the fuzzer.

Answers the schema once described wrongly (a proposal not yet awarded had `sub_project: null` where
the schema said integer; the signed-in PMU officer's `partner_organization` is null; scores and
totals came out as JSON numbers where the schema said decimal strings; breakdowns and a member's
scores were untyped dictionaries; history, attachments and consolidation actions were documented
as paginated but answer plain arrays) are fetched from the demo programme and validated against
their operation's response schema in the schema the portal serves, with `jsonschema`.

Also: every example the schema carries is valid against the schema it illustrates, and no detail
action (`/<resource>/<id>/<action>/`) is documented as a paginated list.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import jsonschema
import pytest
from django.core.exceptions import FieldDoesNotExist
from drf_spectacular.generators import SchemaGenerator
from rest_framework import serializers

from monitoring.api.views import BreakdownsSerializer
from monitoring.models import Dimension

JSON = "application/json"


@pytest.fixture(scope="module")
def served_schema() -> dict:
    from smart_portal.api_docs import cached_schema

    return cached_schema("en")


# --- Validating against the served (OpenAPI 3.0) schema --------------------------------------------


def as_json_schema(node: Any) -> Any:
    """OpenAPI 3.0's `nullable: true` in JSON Schema terms (a `null` type, or `anyOf` with null)."""
    if isinstance(node, list):
        return [as_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: as_json_schema(value) for key, value in node.items()}
    if converted.get("nullable") is True:
        del converted["nullable"]
        if isinstance(converted.get("type"), str):
            converted["type"] = [converted["type"], "null"]
            if "enum" in converted:
                converted["enum"] = [*converted["enum"], None]
        else:
            converted = {"anyOf": [converted, {"type": "null"}]}
    return converted


def validator_for(schema: dict, target: dict) -> jsonschema.Draft7Validator:
    """A validator of `target` (a schema of the document, with its `$ref`s to the components)."""
    document = as_json_schema({"components": schema["components"], "x-target": target})
    return jsonschema.Draft7Validator(
        {**document, "$ref": "#/x-target"}, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
    )


def response_schema(schema: dict, path: str, method: str, status: int) -> dict:
    responses = schema["paths"][path][method]["responses"]
    assert str(status) in responses, f"{method.upper()} {path} does not document {status}"
    return responses[str(status)]["content"][JSON]["schema"]


def violations(schema: dict, target: dict, value: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, error.absolute_path)) or '(body)'}: {error.message}"
        for error in validator_for(schema, target).iter_errors(value)
    ]


def assert_answer_matches(schema: dict, api, template: str, method: str = "get", **ids: Any) -> Any:
    """Call the operation documented as `template` and check its answer against the documented
    response of that status; the body, for further assertions."""
    response = getattr(api, method)(template.format(**ids), HTTP_ACCEPT_ENCODING="identity")
    assert response.status_code in (200, 201), (template, response.status_code, response.content[:500])
    body = response.json()
    problems = violations(schema, response_schema(schema, template, method, response.status_code), body)
    assert not problems, f"{method.upper()} {template} answers what its schema does not say:\n" + "\n".join(
        problems
    )
    return body


# --- Examples and documented shapes (no database) -------------------------------------------------


def documented_examples(schema: dict) -> Iterator[tuple[str, dict, Any]]:
    """(where, the schema it illustrates, the example's value) of every example in the schema."""
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            bodies = [("request", operation.get("requestBody", {}))]
            bodies += [(f"response {status}", answer) for status, answer in operation["responses"].items()]
            for what, body in bodies:
                for media_type, content in body.get("content", {}).items():
                    for name, example in content.get("examples", {}).items():
                        where = f"{method.upper()} {path} {what} ({media_type}) example {name}"
                        yield where, content.get("schema", {}), example.get("value")


def test_the_main_operations_carry_realistic_examples(served_schema):
    illustrated = {
        where.split(" example ")[0] for where, _schema, _value in documented_examples(served_schema)
    }

    for operation in (
        "POST /api/v1/auth/token/ request",
        "POST /api/v1/auth/token/ response 200",
        "POST /api/v1/concept-notes/ request",
        "POST /api/v1/concept-notes/ response 201",
        "POST /api/v1/concept-notes/{id}/submit/ request",
        "POST /api/v1/concept-notes/{id}/submit/ response 200",
        "POST /api/v1/concept-notes/{id}/invite/ request",
        "PATCH /api/v1/proposals/{id}/ request",
        "GET /api/v1/proposals/{id}/ response 200",
        "POST /api/v1/enterprises/ request",
        "POST /api/v1/enterprises/ response 201",
        "POST /api/v1/kpi-readings/ request",
        "POST /api/v1/kpi-readings/ response 201",
        "GET /api/v1/indicators/{code}/ response 200",
        "POST /api/v1/scores/ request",
        "POST /api/v1/scores/ response 200",
        "POST /api/v1/proposals/{id}/award/ request",
        "POST /api/v1/proposals/{id}/award/ response 200",
    ):
        assert f"{operation} ({JSON})" in illustrated, f"{operation} has no example"


def test_every_example_is_valid_against_the_schema_it_illustrates(served_schema):
    wrong = []
    for where, target, value in documented_examples(served_schema):
        wrong += [f"{where}: {problem}" for problem in violations(served_schema, target, value)]

    assert not wrong, "\n".join(wrong)


def test_no_money_example_is_negative(served_schema):
    """Documentation tools draw examples from the patterns: a field that refuses negatives has an
    unsigned pattern and a plausible example (not `"budget_pksf": "-186524472390.1"`)."""
    award = served_schema["components"]["schemas"]["AwardRequestRequest"]["properties"]["budget_pksf"]

    assert award["pattern"].startswith("^\\d")
    assert Decimal(award["example"]) > 0
    for name, component in served_schema["components"]["schemas"].items():
        for field, definition in component.get("properties", {}).items():
            if definition.get("format") == "decimal":
                assert definition["type"] == "string", f"{name}.{field} is a decimal documented as a number"
                assert "example" in definition, f"{name}.{field} has no example"


def test_detail_actions_are_documented_as_what_they_answer_not_as_pages(served_schema):
    """History, attachments and consolidation answer plain arrays, and say so."""
    paged = [
        f"{method.upper()} {path}"
        for path, operations in served_schema["paths"].items()
        if path.rstrip("/").split("/")[-1][:1] != "{" and "}/" in path
        for method, operation in operations.items()
        if isinstance(operation, dict)
        and "Paginated"
        in str(operation.get("responses", {}).get("200", {}).get("content", {}).get(JSON, {}).get("schema"))
    ]

    assert not paged
    for path in (
        "/api/v1/proposals/{id}/history/",
        "/api/v1/concept-notes/{id}/attachments/",
        "/api/v1/tec-meetings/{id}/consolidation/",
    ):
        assert response_schema(served_schema, path, "get", 200)["type"] == "array"
        parameters = served_schema["paths"][path]["get"].get("parameters", [])
        assert not [p["name"] for p in parameters if p["in"] == "query"], f"{path} documents list filters"


def nullable_source(model, source: str) -> str | None:
    """The model field on the way to `source` that may be null (`Model.field`), if any."""
    for name in source.split("."):
        try:
            field = model._meta.get_field(name)
        except FieldDoesNotExist:
            return None
        if field.many_to_many or field.one_to_many:
            return None  # a list (perhaps empty), never null
        if (field.one_to_one and field.auto_created) or getattr(field, "null", False):
            return f"{model.__name__}.{name}"
        if not field.is_relation:
            return None
        model = field.related_model
    return None


def fields_that_can_be_null_but_say_not(serializer, seen: set) -> Iterator[str]:
    if type(serializer) in seen:
        return
    seen.add(type(serializer))
    model = getattr(getattr(serializer, "Meta", None), "model", None)
    for name, field in serializer.fields.items():
        nested = field.child if isinstance(field, serializers.ListSerializer) else field
        if isinstance(nested, serializers.BaseSerializer):
            yield from fields_that_can_be_null_but_say_not(nested, seen)
        if (
            model is None
            or field.source == "*"
            or field.write_only
            or field.allow_null
            or getattr(field, "null_on_read", False)
            or isinstance(field, serializers.SerializerMethodField | serializers.ManyRelatedField)
        ):
            continue
        where = nullable_source(model, field.source)
        if where:
            yield f"{type(serializer).__name__}.{name} (source {field.source}: {where} may be null)"


def test_a_field_whose_source_may_be_null_is_documented_as_nullable():
    """Declared read-only fields (`partner_organization`, `verified_by`, `parent`, ...) do not inherit
    their model field's nullability as generated ones do: each must say `allow_null`."""
    generator = SchemaGenerator()
    generator._initialise_endpoints()
    seen: set = set()
    wrong: set[str] = set()
    for _path, _regex, method, callback in generator.endpoints:
        view = generator.create_view(callback, method)
        classes = {getattr(view, "serializer_class", None), getattr(view, "update_serializer_class", None)}
        with contextlib.suppress(AssertionError, AttributeError, KeyError):
            classes.add(view.get_serializer_class())
        for serializer_class in classes - {None}:
            wrong.update(fields_that_can_be_null_but_say_not(serializer_class(), seen))

    assert not wrong, "\n".join(sorted(wrong))


def test_the_breakdowns_name_every_dimension_of_the_snapshots():
    assert set(BreakdownsSerializer().fields) == set(Dimension.values) - {Dimension.TOTAL}


# --- Answers of the demo programme ----------------------------------------------------------------


@pytest.mark.slow
class TestAnswersOfTheDemoProgramme:
    """Each fetched as the persona who sees it, and validated against the served schema."""

    @pytest.fixture
    def as_user(self, demo_data, api):
        from core.models import User

        def sign_in(username: str):
            return api.as_user(User.objects.get(username=username))

        return sign_in

    def test_the_current_user_of_no_po_and_of_a_po(self, served_schema, as_user):
        assert (
            assert_answer_matches(served_schema, as_user("pmu"), "/api/v1/me/")["partner_organization"]
            is None
        )
        assert assert_answer_matches(served_schema, as_user("po1"), "/api/v1/me/")["partner_organization"]

    def test_a_proposal_not_yet_awarded_and_an_awarded_one(self, served_schema, as_user):
        from subprojects.models import Proposal

        api = as_user("pmu")
        pending = Proposal.objects.filter(sub_project__isnull=True).first()
        awarded = Proposal.objects.filter(sub_project__isnull=False).first()

        body = assert_answer_matches(served_schema, api, "/api/v1/proposals/{id}/", id=pending.pk)
        assert body["sub_project"] is None
        body = assert_answer_matches(served_schema, api, "/api/v1/proposals/{id}/", id=awarded.pk)
        assert body["sub_project"] == awarded.sub_project.pk

    def test_lists_of_the_lifecycle_and_their_history(self, served_schema, as_user):
        from subprojects.models import Proposal, SubProject

        api = as_user("pmu")
        proposal = Proposal.objects.filter(attachments__isnull=False).first()
        sub_project = SubProject.objects.first()

        for template in ("/api/v1/proposals/", "/api/v1/sub-projects/", "/api/v1/concept-notes/"):
            assert_answer_matches(served_schema, api, template)
        history = assert_answer_matches(served_schema, api, "/api/v1/proposals/{id}/history/", id=proposal.pk)
        assert isinstance(history, list)
        assert history
        attachments = assert_answer_matches(
            served_schema, api, "/api/v1/proposals/{id}/attachments/", id=proposal.pk
        )
        assert isinstance(attachments, list)
        assert attachments
        assert isinstance(
            assert_answer_matches(
                served_schema, api, "/api/v1/sub-projects/{id}/history/", id=sub_project.pk
            ),
            list,
        )

    def test_a_score_sheet_and_the_consolidation_have_decimal_strings(self, served_schema, as_user):
        from subprojects.models import ScoreSheet

        api = as_user("pmu")
        sheet = ScoreSheet.objects.filter(status="submitted").select_related("agenda_item").first()

        body = assert_answer_matches(served_schema, api, "/api/v1/scores/{id}/", id=sheet.pk)
        assert isinstance(body["total"], str)
        assert all(isinstance(score["value"], str) for score in body["scores"])
        rows = assert_answer_matches(
            served_schema, api, "/api/v1/tec-meetings/{id}/consolidation/", id=sheet.agenda_item.meeting_id
        )
        scored = [member for row in rows for member in row["members"] if member["scores"]]
        assert scored
        assert all(isinstance(score["value"], str) for m in scored for score in m["scores"])
        rubric = assert_answer_matches(
            served_schema, api, "/api/v1/calls/{id}/rubric/", id=sheet.agenda_item.proposal.call_id
        )
        assert rubric["weights_total"] == "100.00"

    def test_an_indicator_with_its_breakdowns(self, served_schema, as_user):
        body = assert_answer_matches(
            served_schema, as_user("pmu"), "/api/v1/indicators/{code}/", code="ME_FINANCED"
        )
        assert body["breakdowns"]["po"]
        assert body["history"]
        po_view = assert_answer_matches(
            served_schema, as_user("po1"), "/api/v1/indicators/{code}/", code="ME_FINANCED"
        )
        assert "po" not in po_view["breakdowns"]  # PO staff see their own PO only
        assert_answer_matches(served_schema, as_user("pmu"), "/api/v1/indicators/")

    def test_field_data_whose_people_are_not_known_yet(self, served_schema, as_user):
        """Who verified, prepared or validated is null until someone has."""
        from enterprises.models import Adoption, RecpProfile

        api = as_user("pmu")
        unverified = Adoption.objects.filter(verified_by__isnull=True).first()
        unvalidated = RecpProfile.objects.filter(validated_by__isnull=True).first()

        body = assert_answer_matches(served_schema, api, "/api/v1/adoptions/{id}/", id=unverified.pk)
        assert body["verified_by"] is None
        body = assert_answer_matches(served_schema, api, "/api/v1/recp-profiles/{id}/", id=unvalidated.pk)
        assert body["validated_by"] is None
        for template in (
            "/api/v1/adoptions/",
            "/api/v1/recp-profiles/",
            "/api/v1/trainings/",
            "/api/v1/facilities/",
        ):
            assert_answer_matches(served_schema, api, template)
        assert_answer_matches(served_schema, api, "/api/v1/aggregation-runs/")
