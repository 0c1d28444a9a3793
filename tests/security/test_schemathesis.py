"""Schemathesis over every operation of the API: whatever a signed-in client sends, no answer is a 5xx
and every answer is what the schema says.

The schema is the one the portal serves (drf-spectacular's generator, as `/api/schema/`). For each of
three demo personas (PMU officer, PO staff, TEC member) and each operation it may use, Hypothesis draws
a few requests, bounded and deterministic (a fixed seed per persona and operation, no example database, no
shrinking). The PMU officer tries every operation; the PO staff and TEC member skip those on a
resource whose list refuses them (403), which refuse them before reading the input. The requests:

- schemathesis' cases, valid ones (positive mode) and invalid ones (negative mode: wrong types,
  missing or unknown fields, out-of-range values);
- often on an object the persona can see (a path id taken from the lists it reads), so that updates
  and transitions reach their validation rather than a 404;
- sometimes with one query parameter or body field replaced by a value that forms should refuse and
  that databases choke on (an integer past 64 bits, a NUL character, an impossible date, ...);
- once, a JSON body that is not an object (`0`).

Every request goes through the WSGI application, in a savepoint rolled back afterwards (each starts
from the demo data), and schemathesis' checks judge the answer, with zero tolerance:

- `not_a_server_error`: no 5xx;
- `status_code_conformance`: the status is one the operation documents;
- `content_type_conformance`: the media type is one documented for that status;
- `response_headers_conformance`: documented headers are present and valid;
- `response_schema_conformance`: the body validates against the documented schema (nullability,
  decimal strings, enums, lists that are lists).

The test fails listing every violating operation, what was wrong, and the request that reproduces it
(a curl command). Three examples per operation and persona (FUZZ_EXAMPLES): about 3,100 requests
over some 390 operations, 7 to 8 minutes for the three personas on two cores (most of it the demo
data and building the schema's strategies).
"""

from __future__ import annotations

import functools
import os
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, Phase, Verbosity, given, seed, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = pytest.mark.slow

PERSONAS = ("pmu", "po1", "tec1")  # demo logins: PMU officer, PO staff, TEC member
EVERY_OPERATION_AS = "pmu"  # the others skip the resources whose list they are refused
# Requests per operation and persona; FUZZ_EXAMPLES=50 (say) searches deeper on a developer's machine.
EXAMPLES_PER_OPERATION = int(os.environ.get("FUZZ_EXAMPLES", "3"))
SAMPLE_IDS = 3  # objects of each list a persona reads, used as path ids
LIST_PAGE_SIZE = 5  # lists asked without a page size: serializing 50 demo rows proves nothing more

# Values that forms and serializers must refuse, and that reach the database when one does not:
# PostgreSQL then fails (bigint overflow, NUL in text, impossible dates, numeric overflow).
HOSTILE_VALUES: tuple[Any, ...] = (
    2**63,
    -(2**63) - 1,
    "9" * 40,
    "\x00",
    "a\x00b",
    "0000-00-00",
    "2024-02-30",
    "99999-01-01",
    "1e400",
    "NaN",
)

JSON = "application/json"
# The WSGI transport hands schemathesis the bytes as served: ask for them uncompressed (GZipMiddleware
# compresses for clients that accept it, and an HTTP client would decompress before parsing).
PLAIN = {"Accept-Encoding": "identity"}

# Every answer is judged by all of them: zero tolerance for a 5xx or an answer the schema does not describe.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
if os.environ.get("FUZZ_SKIP_STATUS_CODES"):  # a developer's escape hatch while statuses are being documented
    CHECKS.remove(status_code_conformance)

SETTINGS = settings(
    max_examples=EXAMPLES_PER_OPERATION,
    database=None,
    deadline=None,
    phases=[Phase.generate],  # no shrinking: every 5xx is recorded, none raised
    suppress_health_check=list(HealthCheck),
    verbosity=Verbosity.quiet,
)


@functools.cache
def api_schema() -> schemathesis.BaseSchema:
    """The portal's OpenAPI schema, calling the WSGI application in-process."""
    from django.core.wsgi import get_wsgi_application
    from drf_spectacular.generators import SchemaGenerator

    config = SchemathesisConfig.from_dict({"generation": {"database": "none"}})
    schema = schemathesis.openapi.from_dict(
        SchemaGenerator().get_schema(request=None, public=True), config=config
    )
    schema.app = get_wsgi_application()
    return schema


@functools.cache
def operations() -> list:
    return [result.ok() for result in api_schema().get_all_operations()]


def body_fields(operation) -> list[str]:
    """The top-level fields of the operation's request body (JSON, form or multipart)."""
    components = operation.schema.raw_schema.get("components", {}).get("schemas", {})
    names: set[str] = set()
    for content in operation.definition.raw.get("requestBody", {}).get("content", {}).values():
        body = content.get("schema", {})
        if "$ref" in body:
            body = components[body["$ref"].rsplit("/", 1)[-1]]
        names.update(body.get("properties", {}))
    return sorted(names)


DRAWS: dict[str, st.SearchStrategy] = {}  # built once per operation (building one takes time)


def draws_for(operation) -> st.SearchStrategy:
    """(case, which visible object to aim at or None, hostile (location, name, value) or None)."""
    if operation.label not in DRAWS:
        DRAWS[operation.label] = build_draws(operation)
    return DRAWS[operation.label]


def build_draws(operation) -> st.SearchStrategy:
    case = st.one_of(
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )
    has_id = "id" in {parameter.name for parameter in operation.path_parameters}
    target = st.one_of(st.none(), st.integers(0, SAMPLE_IDS - 1)) if has_id else st.none()
    places = [("path", parameter.name) for parameter in operation.path_parameters]
    places += [("query", parameter.name) for parameter in operation.query]
    places += [("body", name) for name in body_fields(operation)]
    spoil = st.none()
    if places:
        spoil = st.one_of(st.none(), st.tuples(st.sampled_from(places), st.sampled_from(HOSTILE_VALUES)))
    return st.tuples(case, target, spoil)


def prepared(case, target: int | None, spoil, ids: list[int]):
    """The drawn case aimed at a visible object and spoilt by a hostile value, as drawn."""
    if target is not None and ids:
        case.path_parameters = {**case.path_parameters, "id": ids[target % len(ids)]}
    if spoil is not None:
        (location, name), value = spoil
        if location == "path":
            case.path_parameters = {**case.path_parameters, name: value}
        elif location == "query":
            case.query = {**(case.query or {}), name: value}
        elif isinstance(case.body, dict):
            case.body = {**case.body, name: value}
    if case.method.upper() == "GET" and "{" not in case.path and pages(case.operation):
        case.query = {"page_size": LIST_PAGE_SIZE, **(case.query or {})}
    return case


def pages(operation) -> bool:
    """Whether the operation documents `page_size` (any other query parameter is refused)."""
    return "page_size" in {parameter.name for parameter in operation.query}


@contextmanager
def requests_inside_the_test_transaction() -> Iterator[None]:
    """Let WSGI requests share the test's connection and transaction, as Django's test client does
    (at its end a request would otherwise close the connection, transaction and all)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def what_the_persona_reads(api) -> tuple[dict[str, list[int]], set[str]]:
    """For each list (`/api/v1/<resource>/`) the persona reads, the ids of its first objects; and
    the lists it is refused (403)."""
    ids: dict[str, list[int]] = {}
    refused: set[str] = set()
    for operation in operations():
        if operation.method.upper() != "GET" or "{" in operation.path:
            continue
        response = api.get(operation.path, {"page_size": SAMPLE_IDS} if pages(operation) else {})
        if response.status_code == 403:
            refused.add(operation.path)
        body = response.json() if response.status_code == 200 else None
        rows = body.get("results") if isinstance(body, dict) else body
        if isinstance(rows, list):
            found = [row["id"] for row in rows if isinstance(row, dict) and isinstance(row.get("id"), int)]
            if found:
                ids[operation.path] = found
    return ids, refused


def violations(operation, persona: str, token: str, ids: list[int]) -> tuple[int, list[str]]:
    """Send the operation's examples as `persona`: how many were sent, and each answer that is a 5xx
    or not what the schema says, with how to reproduce it."""
    sent, failures = 0, []

    def send(case) -> None:
        nonlocal sent
        with transaction.atomic():
            response = case.call(headers={"Authorization": f"Token {token}", **PLAIN})
            transaction.set_rollback(True)
        sent += 1
        try:
            case.validate_response(response, checks=CHECKS)
        except BaseExceptionGroup as failure:  # schemathesis' FailureGroup, with a curl command
            failures.append(f"{operation.label} as {persona}: {failure}")

    @seed(zlib.crc32(f"{persona} {operation.label}".encode()))
    @SETTINGS
    @given(drawn=draws_for(operation))
    def examples(drawn) -> None:
        send(prepared(*drawn, ids=ids))

    examples()
    if JSON in {body.media_type for body in operation.body}:
        # Always once, as drawing it is rare: a JSON body that is not an object, which code reading
        # the body before the serializer's own check must not take for one.
        path = {parameter.name: ids[0] if ids else 1 for parameter in operation.path_parameters}
        send(operation.Case(path_parameters=path, body=0, media_type=JSON))
    return sent, failures


@pytest.mark.parametrize("persona", PERSONAS)
def test_every_answer_is_what_the_schema_says(persona, demo_data, db, api):
    from knox.models import AuthToken

    from core.models import User

    _instance, token = AuthToken.objects.create(User.objects.get(username=persona))
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api.get("/api/v1/me/").json()["username"] == persona  # really signed in
    ids, refused = what_the_persona_reads(api)
    assert ids, "the persona sees no object: no detail, update or transition would be reached"

    started, sent, tried, failures = time.process_time(), 0, 0, []
    with requests_inside_the_test_transaction():
        for operation in operations():
            collection = operation.path.split("{", 1)[0]
            if persona != EVERY_OPERATION_AS and collection in refused:
                continue  # refused before its input is read (the PMU officer tries it)
            ops_sent, ops_failures = violations(operation, persona, token, ids.get(collection, []))
            sent, tried, failures = sent + ops_sent, tried + 1, failures + ops_failures
    cpu = time.process_time() - started
    print(f"{persona}: {tried} of {len(operations())} operations, {sent} requests, {cpu:.1f} s CPU")
    assert len(operations()) > 150, "the schema lost most of its operations"
    if failures:
        wrong = sorted({failure.split(" as ", 1)[0] for failure in failures})
        pytest.fail(
            f"{len(failures)} answer(s) of {len(wrong)} operation(s) are 5xx or not what the schema says "
            f"({', '.join(wrong)}):\n\n" + "\n\n".join(failures),
            pytrace=False,
        )
