"""The OpenAPI schema tells the truth about errors and callers (DEFAULT_SCHEMA_CLASS).

Every operation documents, besides what it documents itself (never overridden):

- the errors it can answer, each with the one error body (`ErrorBody`, smart_portal.api): 400 on every
  operation (a body or a query parameter refused, an unknown query parameter), 401 where a token or
  session is read, 403 where a role or the record's owner may be refused, 404 where the path names an
  object, 409 on writes (a refused action or transition, a concurrent change), 415 where a body is
  read, 422 on POST (an Idempotency-Key reused with another body), 429 everywhere (with `Retry-After`);
- on every POST, the optional `Idempotency-Key` header (smart_portal.idempotency);
- the roles that may call it: an `x-roles` extension (role codes of core.roles) and a sentence of its
  description. They are found by asking the operation's own permission classes (`has_permission`,
  the very predicates that answer 403) about one user of each role, built in memory (nothing is
  read from or written to the database), for the operation's method and action; a transition also
  asks its rule (its roles, PO ownership); an action whose handler or service checks the role
  itself names that check in `HANDLER_CHECKS`. What the record's state, its owner or a meeting's
  membership decide is checked on the record and said in words.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.db import connections
from django.http import HttpRequest
from django.utils.translation import gettext
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework.permissions import AllowAny
from rest_framework.request import Request

from core.errors import ActionRefused
from core.roles import Role
from smart_portal.api import ErrorBodySerializer

UNSAFE = ("POST", "PUT", "PATCH", "DELETE")

# Specialist roles (core.roles) are held by PMU staff or by a PO's staff: each is asked both ways.
SPECIALISTS = frozenset(
    {Role.ES_OFFICER, Role.GRIEVANCE_FOCAL_POINT, Role.SEAH_FOCAL_POINT, Role.FINANCE_OFFICER}
)
# The in-memory users' ids: never those of stored rows.
PERSONA_USER_ID = -1
PERSONA_PO_ID = -1


@dataclass(frozen=True)
class Persona:
    """A user of one role, belonging to a PO (`in_po`) or not."""

    role: Role
    in_po: bool


def personas() -> list[Persona]:
    found = []
    for role in Role:
        if role == Role.PO_STAFF:
            found.append(Persona(role, True))
        elif role in SPECIALISTS:
            found += [Persona(role, False), Persona(role, True)]
        else:
            found.append(Persona(role, False))
    return found


def persona_user(persona: Persona):
    """An unsaved user holding only `persona.role`, of a PO or of none; reading its roles or its PO
    asks nothing of the database."""
    from core.models import PartnerOrganization, User

    user = User(id=PERSONA_USER_ID, username=f"schema-{persona.role.value}", is_active=True)
    user.__dict__["roles"] = frozenset({persona.role})
    if persona.in_po:
        user.partner_organization_id = PERSONA_PO_ID
        po = PartnerOrganization(id=PERSONA_PO_ID, code="PO-SCHEMA", name="Schema")
        user._state.fields_cache["partner_organization"] = po
    return user


class DatabaseAsked(Exception):
    """A permission read the database: its answer depends on stored data, not on the role alone."""


def _refuse_queries(execute, sql, params, many, context):
    raise DatabaseAsked(sql)


@contextmanager
def no_database() -> Iterator[None]:
    with connections["default"].execute_wrapper(_refuse_queries):
        yield


# Role checks made by an action's handler or by the service it calls, not by the view's permission
# classes: `<view class>.<action>` (or `<view class>.<action>.<METHOD>`) → the right asked of the user.
# Where the handler asks it of the record too (the meeting's chair, the note's PO), the right any
# record could grant. tests/core/test_error_contract.py checks that every key names an operation.
def _handler_checks() -> dict[str, Callable[[Any], bool]]:
    from core.permissions import is_pmu, is_po_staff
    from finance import ifr, releases, spending
    from grievances import handling
    from safeguards import incidents
    from subprojects.permissions import (
        is_tec_member,
        may_change_deadline,
        may_invite,
        may_meet_conditions,
        may_write_for_po,
    )

    def pmu_or_tec_member(user) -> bool:  # the PMU, or the meeting's chair
        return is_pmu(user) or is_tec_member(user)

    def minutes_reader(user) -> bool:
        return user.sees_whole_programme or is_tec_member(user)

    return {
        "ConceptNoteViewSet.invite": may_invite,
        "ConceptNoteViewSet.attachments.POST": may_write_for_po,
        "ProposalViewSet.attachments.POST": may_write_for_po,
        "ProposalViewSet.deadline": may_change_deadline,
        "AttachmentViewSet.destroy": may_write_for_po,
        "ConditionViewSet.meet": may_meet_conditions,
        "ScoreSheetViewSet.create": is_tec_member,
        "ConditionViewSet.evidence": is_po_staff,
        "TecMeetingViewSet.attendance.POST": pmu_or_tec_member,
        "TecMeetingViewSet.acting_chair": pmu_or_tec_member,
        # The minutes are read by the programme-wide roles and the meeting's members, as on the page.
        "TecMeetingViewSet.minutes": minutes_reader,
        "TecMeetingViewSet.minutes_pdf": minutes_reader,
        "TrainingSessionViewSet.assign_module": is_pmu,
        "ImportJobViewSet.create": is_po_staff,
        "IncidentViewSet.create": incidents.may_report,
        "CorrectiveActionViewSet.create": incidents.is_follow_up_officer,
        "GrievanceViewSet.create": handling.may_log,
        "SpendingReportViewSet.create": spending.may_report,
        "ExpenditureViewSet.create": spending.may_report,
        "ExpenditureViewSet.partial_update": spending.may_report,
        "ExpenditureViewSet.destroy": spending.may_report,
        "FinancialReportViewSet.create": ifr.may_prepare,
        "FinancialReportViewSet.partial_update": ifr.may_prepare,
        "FinancialReportViewSet.correct": ifr.may_prepare,
        "FinancialReportViewSet.forecast.PUT": ifr.may_prepare,
        "ReleaseViewSet.create": releases.is_po_staff,
    }


HANDLER_CHECKS: Callable[[], dict[str, Callable[[Any], bool]]] = cache(_handler_checks)


def handler_check(view, action: str, method: str) -> Callable[[Any], bool] | None:
    checks = HANDLER_CHECKS()
    name = f"{type(view).__name__}.{action}"
    return checks.get(f"{name}.{method}") or checks.get(name)


@dataclass(frozen=True)
class Callers:
    """Who may call an operation: the roles, those only of a PO or only of the PMU, and whether the
    record decides further (its state, owner, a meeting's membership)."""

    roles: tuple[Role, ...]
    only_in_po: frozenset[Role]
    only_outside_po: frozenset[Role]
    anyone: bool = False
    record_decides: bool = False
    undetermined: tuple[str, ...] = ()


def fake_request(method: str, user) -> Request:
    django_request = HttpRequest()
    django_request.method = method
    django_request.user = user
    django_request.META = {"SERVER_NAME": "schema.invalid", "SERVER_PORT": "443"}
    request = Request(django_request)
    request._user = user
    request._auth = None
    return request


def may_call(view, method: str, user, check: Callable[[Any], bool] | None, rule) -> bool:
    """Whether `user` passes the view's permission classes for `method` (and the rule, the handler's
    own check). Raises DatabaseAsked when a permission reads stored data."""
    request = fake_request(method, user)
    saved = getattr(view, "request", None)
    view.request = request
    try:
        with no_database():
            if not all(permission.has_permission(request, view) for permission in view.get_permissions()):
                return False
            if check is not None and not check(user):
                return False
    finally:
        view.request = saved
    if rule is not None:
        if not user.has_role(*rule.roles):
            return False
        if rule.po_owned and user.partner_organization_id is None:
            return False
    return True


def model_of(view):
    """The model a view serves (None when it serves none), without asking the database."""
    queryset = getattr(view, "queryset", None)
    if queryset is None:
        try:
            with no_database():
                queryset = view.get_queryset()
        except Exception:  # noqa: BLE001 - a view without a queryset serves no model
            return None
    return getattr(queryset, "model", None)


def rule_of(view, action: str):
    """The lifecycle rule an action takes: the one it was made for (core.lifecycle.api), or the rule
    of the served model's table named as the action (an action calling `lifecycle.apply(obj, action)`
    through its service)."""
    from core import lifecycle

    rule = getattr(getattr(view, action, None), "lifecycle_rule", None)
    if rule is not None:
        return rule
    model = model_of(view)
    if model is None or action in ("create", "update", "partial_update", "destroy", "list", "retrieve"):
        return None
    try:
        return lifecycle.get_rule(model, action)
    except (LookupError, ActionRefused):
        return None


def callers_of(view, method: str, path: str) -> Callers:
    action = getattr(view, "action", None) or method.lower()
    rule = rule_of(view, action)
    check = handler_check(view, action, method)
    if any(isinstance(permission, AllowAny) for permission in view.get_permissions()) and not (rule or check):
        return Callers(tuple(Role), frozenset(), frozenset(), anyone=True)
    passed: dict[Role, set[bool]] = {}
    undetermined = []
    for persona in personas():
        try:
            allowed = may_call(view, method, persona_user(persona), check, rule)
        except DatabaseAsked:
            undetermined.append(f"{persona.role.value}{' of a PO' if persona.in_po else ''}")
            continue
        if allowed:
            passed.setdefault(persona.role, set()).add(persona.in_po)
    roles = tuple(role for role in Role if role in passed)
    asked_both = {role for role in roles if role in SPECIALISTS}
    only_in_po = frozenset(role for role in asked_both if passed[role] == {True})
    only_outside = frozenset(role for role in asked_both if passed[role] == {False})
    record_decides = bool(rule and (rule.who or rule.po_owned)) or (method in UNSAFE and "{" in path)
    return Callers(
        roles, only_in_po, only_outside, record_decides=record_decides, undetermined=tuple(undetermined)
    )


def callers_sentence(callers: Callers) -> str:
    if callers.anyone:
        return gettext("Who may call: anyone, without signing in.")
    if not callers.roles:
        return gettext("Who may call: no role (the portal itself).")
    if len(callers.roles) == len(Role) and not (callers.only_in_po or callers.only_outside_po):
        sentence = gettext("Who may call: every role (anyone signed in).")
        if callers.record_decides:
            sentence += " " + gettext("Subject to the record's state and owner.")
        return sentence
    names = []
    for role in callers.roles:
        if role in callers.only_in_po:
            names.append(gettext("%(role)s (of a PO)") % {"role": role.label})
        elif role in callers.only_outside_po:
            names.append(gettext("%(role)s (of the PMU)") % {"role": role.label})
        else:
            names.append(str(role.label))
    sentence = gettext("Who may call: %(roles)s.") % {"roles": ", ".join(names)}
    if callers.record_decides:
        sentence += " " + gettext("Subject to the record's state and owner.")
    return sentence


# --- Error answers ------------------------------------------------------------------------------


def _error_descriptions() -> dict[str, Any]:
    return {
        "400": gettext(
            "The request is invalid: a body or query parameter is refused (`code` `invalid` or "
            "`parse_error`, each problem under `fields`), or a query parameter is unknown "
            "(`unknown_parameter`)."
        ),
        "401": gettext(
            "No valid credentials: the token (`Authorization: Token <token>`) or session is missing, "
            "invalid or expired (`not_authenticated`, `authentication_failed`)."
        ),
        "403": gettext(
            "Your role, or your relation to the record, does not allow this (`permission_denied`, "
            "`forbidden`); see who may call it."
        ),
        "404": gettext("No such object, or not one you may see (another PO's answers the same)."),
        "409": gettext(
            "Refused in the record's current state, or by a concurrent change: `code` says why "
            "(`wrong_state`, `incomplete`, `conflict`, `idempotency_key_in_use`, ...), `fields` lists "
            "each problem."
        ),
        "415": gettext("The body's media type is not the one this operation reads."),
        "422": gettext("The Idempotency-Key was already used with another body (`idempotency_key_reused`)."),
        "429": gettext("Too many requests (`throttled`): wait for the seconds `Retry-After` gives."),
    }


ERROR_RESPONSE_NAMES = {
    "400": "BadRequest",
    "401": "Unauthorized",
    "403": "Forbidden",
    "404": "NotFound",
    "409": "Conflict",
    "415": "UnsupportedMediaType",
    "422": "IdempotencyKeyReused",
    "429": "TooManyRequests",
}
RETRY_AFTER = {
    "Retry-After": {
        "schema": {"type": "integer", "minimum": 0},
        "description": "Seconds to wait before trying again.",
    }
}


class PortalAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema, with every operation's error answers and callers."""

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        self._add_error_responses(operation)
        if self.method == "POST":
            self._add_idempotency_key(operation)
        if "x-roles" not in operation:
            callers = callers_of(self.view, self.method, path)
            operation["x-roles"] = [role.value for role in callers.roles]
            sentence = callers_sentence(callers)
            description = operation.get("description", "")
            operation["description"] = f"{description}\n\n{sentence}" if description else sentence
        return operation

    def _add_idempotency_key(self, operation: dict) -> None:
        """Every POST takes an `Idempotency-Key` header (smart_portal.idempotency)."""
        from smart_portal.idempotency import openapi_parameter

        parameter = openapi_parameter()
        parameters = operation.setdefault("parameters", [])
        if not any(p.get("in") == "header" and p.get("name") == parameter["name"] for p in parameters):
            parameters.append(parameter)

    def _error_codes(self, operation: dict) -> list[str]:
        permissions = self.view.get_permissions()
        open_to_all = any(isinstance(permission, AllowAny) for permission in permissions)
        reads_credentials = bool(self.view.get_authenticators())
        codes = ["400"]
        if reads_credentials:
            codes.append("401")
        if not open_to_all or self.method in UNSAFE:
            codes.append("403")
        # A path naming an object, or a `?po=` naming a PO the caller may not see (views that scope by
        # it say so with `po_not_found = True`: monitoring.dashboard.scope_po answers 404 there).
        if "{" in self.path or getattr(self.view, "po_not_found", False):
            codes.append("404")
        if self.method in UNSAFE:
            codes.append("409")
        if "requestBody" in operation:
            codes.append("415")
        if self.method == "POST":
            codes.append("422")
        codes.append("429")
        return codes

    def _add_error_responses(self, operation: dict) -> None:
        """The error answers the operation does not document itself, each a reference to one shared
        response (`components/responses`), all with the one error body."""
        responses = operation.setdefault("responses", {})
        error = self._get_response_for_code(ErrorBodySerializer, "400")["content"]
        for code, answer in responses.items():
            if code < "400" or "$ref" in answer:
                continue
            # An error the operation documents without a body answers the one error body; a 429
            # always says when to try again.
            answer.setdefault("content", error)
            if code == "429":
                answer.setdefault("headers", RETRY_AFTER)
        descriptions = _error_descriptions()
        for code in self._error_codes(operation):
            if code in responses:
                continue
            answer = {"description": str(descriptions[code]), "content": error}
            if code == "429":
                answer["headers"] = RETRY_AFTER
            component = ResolvedComponent(
                name=ERROR_RESPONSE_NAMES[code],
                type=ResolvedComponent.RESPONSE,
                schema=answer,
                object=ERROR_RESPONSE_NAMES[code],
            )
            self.registry.register_on_missing(component)
            responses[code] = component.ref
        operation["responses"] = dict(sorted(responses.items()))
