"""The persona-by-URL matrix: every demo persona opens every URL of the URL conf with real ids of the
demo programme (plus the canaries of tests/security/canaries.py), and no answer leaks what the
persona may not see (tests/security/scope.py says what that is).

For each persona (the demo logins):

- API, every route under /api/v1/ with its view set's actions: lists and GET actions as JSON; the
  browsable API's HTML page of every list and detail that draws forms (writes, filters); OPTIONS of
  every list. An id outside the route's own queryset for the persona answers exactly as an id that
  does not exist (GET, and OPTIONS of the detail); every write to it (POST actions, PUT, PATCH,
  DELETE) is refused (403 or 404) and changes nothing; every filter on a related object answers an
  id the persona may not see exactly as one that does not exist.
- Pages, every other pattern of the URL conf: the lists and their CSV export, and each page of an
  object the persona may not see (GET, and a POST that must change nothing). The pages of objects in
  scope are read by the link crawl (tests/core/test_link_crawl.py), which checks them for leaks too.
- Admin (staff): every change list, and the change and history pages of objects the persona may not
  see (refused, as the portal refuses them).

Ids are sampled (one in the persona's scope, one out of it, canaries first), so the matrix stays
within seconds per persona while covering every route; a page pattern whose ids the matrix cannot
fill fails it, so a new URL is covered from the day it is added.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import django_filters
import pytest
from django.apps import apps
from django.contrib import admin
from django.db.models import Max, Model
from django.test import Client
from rest_framework.test import APIRequestFactory

from core import visibility
from core.models import District, ExportJob, PartnerOrganization, SavedFilter, Upazila, User, UserSession
from demo.core import DEMO_USERS
from enterprises.models import (
    Adoption,
    Cluster,
    ClusterSuggestion,
    CommonServiceFacility,
    DuplicateSuspect,
    Enterprise,
    FinancialSupport,
    ImportJob,
    KpiReading,
    TrainingModule,
    TrainingSession,
)
from finance.models import (
    ExchangeRate,
    FinancialReport,
    FundReceipt,
    Milestone,
    Release,
    Repayment,
    SpendingReport,
    Tranche,
)
from grievances.models import Grievance, GrievanceAttachment
from monitoring.models import ReportJob
from safeguards.models import Clearance, CorrectiveAction, EsReview, ExclusionItem, Incident, MeScreening
from smart_portal.api import ScopedFilterBackend
from subprojects.models import (
    AgendaItem,
    Attachment,
    Call,
    ConceptNote,
    Condition,
    Proposal,
    SubProject,
    TecMeeting,
)
from tests.security.canaries import CANARIES, canaries  # noqa: F401  (fixture)
from tests.security.routes import Route, all_routes, model_of
from tests.security.scope import Scope, scope_of
from verification.models import VerificationCheck, VerificationRound

# Pages: the model behind the ids of each pattern, by the pattern's text before its id.
PAGE_MODELS: dict[str, type[Model]] = {
    "partner-organizations/": PartnerOrganization,
    "reference/districts/": District,
    "reference/upazilas/": Upazila,
    "calls/": Call,
    "concept-notes/": ConceptNote,
    "proposals/": Proposal,
    "attachments/": Attachment,
    "tec-meetings/": TecMeeting,
    "tec/agenda/": AgendaItem,
    "conditions/": Condition,
    "sub-projects/": SubProject,
    "enterprises/": Enterprise,
    "financial-supports/": FinancialSupport,
    "kpi-readings/": KpiReading,
    "adoptions/": Adoption,
    "field-data/<slug:kind>/": FinancialSupport,
    "trainings/": TrainingSession,
    "training-modules/": TrainingModule,
    "facilities/": CommonServiceFacility,
    "field-data/imports/": ImportJob,
    "enterprises/duplicates/": DuplicateSuspect,
    "clusters/": Cluster,
    "clusters/suggestions/": ClusterSuggestion,
    "dashboard/reports/": ReportJob,
    "verification/rounds/": VerificationRound,
    "verification/checks/": VerificationCheck,
    "verification/adoptions/": Adoption,
    "verification/awaiting/adoptions/": Adoption,
    "verification/awaiting/facilities/": CommonServiceFacility,
    "accounts/security/sessions/": UserSession,
    # Safeguards and grievances (issue 13).
    "es-reviews/": EsReview,
    "exclusion-list/": ExclusionItem,
    "safeguards/screenings/": MeScreening,
    "safeguards/enterprises/": Enterprise,
    "safeguards/clearances/": Clearance,
    "safeguards/incidents/": Incident,
    "safeguards/corrective-actions/": CorrectiveAction,
    "grievances/": Grievance,
    # Issue 15: one's own background downloads and saved filters.
    "downloads/": ExportJob,
    "saved-filters/": SavedFilter,
    # Money (issue 14).
    "finance/sub-projects/": SubProject,
    "finance/tranches/": Tranche,
    "finance/releases/": Release,
    "finance/milestones/": Milestone,
    "finance/spending/": SpendingReport,
    "finance/loans/": FinancialSupport,
    "finance/repayments/": Repayment,
    "finance/ifr/": FinancialReport,
    "finance/receipts/": FundReceipt,
    "finance/exchange-rates/": ExchangeRate,
    "finance/scorecards/po/": PartnerOrganization,
}
# Ids of a page pattern after its first one (`<int:attachment_pk>`): the model they name. The first id
# is an object out of the persona's scope; these are then one of that object's, if any, else one out
# of scope too.
PAGE_PARAM_MODELS: dict[str, tuple[type[Model], str]] = {
    "attachment_pk": (GrievanceAttachment, "grievance"),
}
# Other parameters of page patterns: a value that names something real.
PAGE_VALUES = {"action": "submit", "kind": "support", "file_format": "csv", "code": "ME_FINANCED"}
# Not opened: signing out (and the language switch), the schema and its docs (another test's), files
# only the demo's media folder holds, the minutes PDF (the minutes page says the same, faster) and
# the data-quality panel (seconds a request; scoped per role in tests/monitoring/test_quality.py).
SKIPPED = {
    "monitoring:data-quality",
    "data-quality-list",
    "logout",
    "set_language",
    "api-logout",
    "api-logout-all",
    "api-token",
    "api-schema",
    "api-docs",
    "subprojects:meeting-minutes-pdf",
    "tec-meeting-minutes-pdf",  # the API's twin of the minutes PDF: `tec-meeting-minutes` says the same
    "enterprises:adoption-photo",
    "enterprises:profile-report",
    "verification:check-photo",
    "verification:adoption-photo",
    "verification-check-photo",
    "verification-check-evidence-photo",
    "verification-awaiting-adoption-photo",
    # The import templates and their columns: the same for everyone, no record of any PO in them
    # (tests/enterprises/test_bulk_api.py reads them).
    "import-template-detail",
    "import-template-file",
}
# Lookups anyone may make who holds the object's secret (the public grievance status by its long random
# tracking code, issue 13): an object out of the persona's scope answers there as it does to anyone,
# so only the leak check applies (the answer shows status and dates, never a name or text).
PUBLIC_BY_SECRET = {"public-grievance-status-detail"}
WRITES = ("post", "put", "patch", "delete")
REFUSED = {403, 404, 405}


@dataclass
class Findings:
    leaks: list[str] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    requests: int = 0

    def check(self, scope: Scope, what: str, response) -> None:
        self.requests += 1
        if response.status_code >= 500:
            self.errors.append(f"{what}: {response.status_code}")
        content = _head(response) if response.streaming else response.content
        leaked = scope.leaks(content.decode("utf-8", "replace"))
        if leaked:
            self.leaks.append(f"{what} ({response.status_code}): {sorted(leaked)[:5]}")


STREAMED_BYTES = 256 * 1024  # of a streamed export (tens of thousands of rows), its first rows


def _head(response) -> bytes:
    read = bytearray()
    for chunk in response.streaming_content:
        read += chunk
        if len(read) >= STREAMED_BYTES:
            break
    # Stop the export here. The test client wraps the content in a generator that, when closed, closes
    # the response with request_finished's close_old_connections held off; response.close() itself
    # would send the signal again afterwards and close the test's own connection on PostgreSQL.
    response._iterator.close()
    return bytes(read)


def _body(response) -> str:
    return response.content.decode("utf-8", "replace")


# --- Ids ---------------------------------------------------------------------------------------


def _missing_id(model: type[Model]) -> int:
    return (model._default_manager.aggregate(top=Max("pk"))["top"] or 0) + 100_000


def _pick(queryset, preferred=None):
    """A pk of the queryset, a canary one when there is one."""
    if preferred is not None:
        canary = queryset.filter(preferred).values_list("pk", flat=True).first()
        if canary is not None:
            return canary
    return queryset.order_by("-pk").values_list("pk", flat=True).first()


def _canary(model):
    return CANARIES.get(model)


def view_queryset(route: Route, user):
    """The route's own queryset for this user (its view set's get_queryset)."""
    request = APIRequestFactory().get("/")
    request.user = user
    view = route.view_class()
    view.request, view.args, view.kwargs, view.format_kwarg = request, (), {}, None
    view.action = next(iter(route.actions.values()), None)
    try:
        return view.get_queryset()
    except Exception:  # noqa: BLE001 (views whose queryset depends on the action's own lookups)
        return None


def _fill_api(route: Route, value) -> str:
    path = "/" + route.pattern.replace("^", "").replace("$", "")
    return re.sub(r"\(\?P<(\w+)>[^)]*\)", str(value), path).replace("\\.", ".")


def _fill_page(route: Route, ids: dict[str, object]) -> str:
    def value(match):
        name = match.group(2)
        return str(ids.get(name, PAGE_VALUES.get(name, "x")))

    return "/" + re.sub(r"<(\w+:)?(\w+)>", value, route.pattern)


def _page_model(route: Route) -> type[Model] | None:
    before = route.pattern.split("<int:", 1)[0]
    return PAGE_MODELS.get(before)


def _count_everything() -> dict[str, int]:
    counts = {}
    for model in apps.get_models():
        if model._meta.app_label in {
            "core",
            "subprojects",
            "enterprises",
            "monitoring",
            "verification",
            "safeguards",
            "grievances",
        }:
            counts[model._meta.label] = model._default_manager.count()
    return counts


# --- The matrix ------------------------------------------------------------------------------


def _draws_forms(route: Route) -> bool:
    """Whether the browsable API's page of this route draws forms (filters, or a write): only those
    need reading as HTML too; the rest of the page is the JSON."""
    view_class = route.view_class
    has_filters = bool(
        getattr(view_class, "filterset_class", None) or getattr(view_class, "filterset_fields", None)
    )
    return has_filters or bool(set(route.actions) & {"post", "put", "patch"})


def _detail_draws_other_forms(route: Route) -> bool:
    """Whether the browsable page of a detail draws a form the list's page does not (the list's
    POST form has the same fields as the detail's PUT form, unless updates take another serializer)."""
    if not set(route.actions) & {"put", "patch"}:
        return False
    view_class = route.view_class
    same_serializer = getattr(
        view_class, "update_serializer_class", None
    ) is None and "get_serializer_class" not in vars(view_class)
    return not (hasattr(view_class, "create") and same_serializer)


def _same_answer(client, method: str, url: str, missing: str) -> tuple[object, str]:
    """The answer to `url` (out of scope), and how it differs from the answer to `missing` ("" if not)."""
    json_ = {"HTTP_ACCEPT": "application/json"}
    answer = getattr(client, method)(url, **json_)
    unknown = getattr(client, method)(missing, **json_)
    ids = (missing.strip("/").split("/")[-1], url.strip("/").split("/")[-1])
    if (answer.status_code, _body(answer)) == (unknown.status_code, _body(unknown).replace(*ids)):
        return answer, ""
    return answer, (
        f"{method.upper()} {url}: {answer.status_code} {_body(answer)[:120]!r}, but an unknown id: "
        f"{unknown.status_code} {_body(unknown)[:120]!r}"
    )


def api_matrix(client: Client, scope: Scope, found: Findings, writes: list) -> None:
    """Every API route. Per view set, the HTML page and OPTIONS of its list and of its detail; per
    route, the JSON of an object in the route's queryset and of one out of it (as an unknown id)."""
    json_, html = {"HTTP_ACCEPT": "application/json"}, {"HTTP_ACCEPT": "text/html"}
    ids: dict[type, tuple] = {}  # view set -> (model, in scope, out of scope)
    for route in all_routes():
        if not route.is_api or route.name in SKIPPED:
            continue
        if route.view_class is None or not route.actions:  # plain API views (me)
            url = "/" + route.pattern
            found.check(scope, f"GET {url}", client.get(url, **json_))
            continue
        methods = set(route.actions)
        actions = set(route.actions.values())
        if not route.params:  # a list, or an action on the list
            url = _fill_api(route, "")
            if "get" in methods:
                found.check(scope, f"GET {url}", client.get(url, **json_))
                related_id_filters(client, scope, found, route, url)
            if "list" in actions or "create" in actions:
                if _draws_forms(route):
                    found.check(scope, f"GET {url} (HTML)", client.get(url, **html))
                found.check(scope, f"OPTIONS {url}", client.options(url, **json_))
            continue
        if route.view_class not in ids:
            model, queryset = model_of(route), view_queryset(route, scope.user)
            if model is None or queryset is None:
                found.errors.append(f"{route.pattern}: the matrix cannot tell which objects it serves")
                continue
            outside = model._default_manager.exclude(pk__in=queryset.values("pk"))
            ids[route.view_class] = (model, _pick(queryset), _pick(outside, _canary(model)))
        model, in_scope, out_of_scope = ids[route.view_class]
        lookup = route.view_class.lookup_field

        def value_of(pk, model=model, lookup=lookup):
            if lookup == "pk":
                return pk
            return model._default_manager.filter(pk=pk).values_list(lookup, flat=True).first()

        detail = "retrieve" in actions
        if in_scope is not None:
            url = _fill_api(route, value_of(in_scope))
            if "get" in methods:
                found.check(scope, f"GET {url}", client.get(url, **json_))
            if detail and _detail_draws_other_forms(route):
                found.check(scope, f"GET {url} (HTML)", client.get(url, **html))
        if out_of_scope is not None:
            url = _fill_api(route, value_of(out_of_scope))
            missing = _fill_api(route, _missing_id(model) if lookup == "pk" else "no-such-code")
            for method in ("get", "options"):
                if (method == "get" and "get" not in methods) or (method == "options" and not detail):
                    continue
                answer, difference = _same_answer(client, method, url, missing)
                found.check(scope, f"{method.upper()} {url} (out of scope)", answer)
                if difference and route.name not in PUBLIC_BY_SECRET:
                    found.mismatches.append(difference)
            for method in WRITES:
                if method in methods:
                    writes.append((method, url, model, out_of_scope))


def related_id_filters(client, scope: Scope, found: Findings, route: Route, url: str) -> None:
    """Each filter on a related object: an id the persona may not see answers as one that does not
    exist."""
    model = model_of(route)
    backends = getattr(route.view_class, "filter_backends", None) or []
    if model is None or ScopedFilterBackend not in backends:
        return
    filterset = ScopedFilterBackend().get_filterset_class(route.view_class(), model._default_manager.none())
    for name, filter_ in filterset.base_filters.items() if filterset else []:
        if not isinstance(filter_, django_filters.filters.QuerySetRequestMixin):
            continue
        related = filter_.queryset.model
        hidden = _pick(
            related._default_manager.exclude(pk__in=visibility.visible(related, scope.user).values("pk")),
            _canary(related),
        )
        if hidden is None:
            continue
        field_name = filter_.extra.get("to_field_name") or "pk"
        value = related._default_manager.filter(pk=hidden).values_list(field_name, flat=True).first()
        by_id = field_name in {"pk", related._meta.pk.name}
        unknown_value = _missing_id(related) if by_id else "no-such-value"
        answer = client.get(url, {name: value}, HTTP_ACCEPT="application/json")
        unknown = client.get(url, {name: unknown_value}, HTTP_ACCEPT="application/json")
        found.check(scope, f"GET {url}?{name}={value} (out of scope)", answer)
        if answer.status_code != unknown.status_code or _body(answer) != _body(unknown).replace(
            str(unknown_value), str(value)
        ):
            found.mismatches.append(
                f"GET {url}?{name}={value}: {answer.status_code} {_body(answer)[:120]!r}, but "
                f"?{name}={unknown_value}: {unknown.status_code} {_body(unknown)[:120]!r}"
            )


def _other_ids(route: Route, scope: Scope, out_of_scope) -> dict[str, object]:
    """The ids after the first (`PAGE_PARAM_MODELS`): one of the out-of-scope object's own, else one
    out of the persona's scope."""
    ids = {}
    for name in route.params:
        if name not in PAGE_PARAM_MODELS:
            continue
        model, parent = PAGE_PARAM_MODELS[name]
        manager = model._default_manager
        own = manager.filter(**{f"{parent}_id": out_of_scope}).values_list("pk", flat=True).first()
        hidden = manager.exclude(pk__in=visibility.visible(model, scope.user).values("pk"))
        ids[name] = own or _pick(hidden, _canary(model)) or _missing_id(model)
    return ids


def page_matrix(client: Client, scope: Scope, found: Findings, writes: list) -> None:
    """Every page pattern: the lists (and their CSV export), and the pages of an object the persona
    may not see."""
    for route in all_routes():
        if route.is_api or route.is_admin or route.name in SKIPPED or route.pattern.startswith("api/"):
            continue
        ints = [name for name in route.params if name in {"pk", "call_pk", "enterprise_pk"}]
        if not ints:
            url = _fill_page(route, {})
            page = client.get(url)
            found.check(scope, f"GET {url}", page)
            if page.status_code == 200 and b"export=csv" in page.content:
                found.check(scope, f"GET {url}?export=csv", client.get(url, {"export": "csv"}))
            continue
        model = _page_model(route)
        if model is None:
            found.errors.append(f"page {route.pattern} ({route.name}): which model do its ids name?")
            continue
        visible = visibility.visible(model, scope.user)
        out_of_scope = _pick(model._default_manager.exclude(pk__in=visible.values("pk")), _canary(model))
        if out_of_scope is not None:
            ids = dict.fromkeys(ints, out_of_scope) | _other_ids(route, scope, out_of_scope)
            url = _fill_page(route, ids)
            found.check(scope, f"GET {url} (out of scope)", client.get(url))
            writes.append(("post", url, model, out_of_scope))


def admin_matrix(client: Client, scope: Scope, found: Findings) -> None:
    """The admin's list, change and history pages of every kind of record of which something is
    hidden from the persona (the link crawl opens the others)."""
    for model in admin.site._registry:
        if not visibility.has_rule(model) or visibility.is_public(model):
            continue
        hidden = _pick(
            model._default_manager.exclude(pk__in=visibility.visible(model, scope.user).values("pk")),
            _canary(model),
        )
        if hidden is None:
            continue
        meta = model._meta
        base = f"/admin/{meta.app_label}/{meta.model_name}/"
        found.check(scope, f"GET {base}", client.get(base))
        for page in ("change/", "history/"):
            answer = client.get(f"{base}{hidden}/{page}")
            found.check(scope, f"GET {base}{hidden}/{page} (out of scope)", answer)
            if answer.status_code == 200:
                found.mismatches.append(f"GET {base}{hidden}/{page}: the admin opens what the portal hides")


def foreign_writes(client: Client, scope: Scope, found: Findings, writes: list) -> None:
    before = _count_everything()
    for method, url, model, pk in writes:
        row = model._default_manager.filter(pk=pk).values().first()
        answer = getattr(client, method)(url, {}, content_type="application/json")
        found.check(scope, f"{method.upper()} {url} (out of scope)", answer)
        # The API answers by the route's own queryset: refused. A page may serve more than the
        # model's list does (a verifier's work list), so there only "changes nothing" is asked.
        if url.startswith("/api/") and answer.status_code not in REFUSED:
            found.mismatches.append(f"{method.upper()} {url}: answered {answer.status_code}, not refused")
        if model._default_manager.filter(pk=pk).values().first() != row:
            found.mismatches.append(f"{method.upper()} {url}: changed {model.__name__} {pk}")
    after = _count_everything()
    changed = {label: (before[label], after[label]) for label in before if before[label] != after[label]}
    if changed:
        found.mismatches.append(f"writes out of scope changed row counts: {changed}")


MIRRORED_PERSONAS = {"po2", "tec3", "approver"}


@pytest.mark.slow
@pytest.mark.django_db
class TestPersonaMatrix:
    # One persona of each kind of sight: po2, tec3 and the approver see as po1, tec2 and the World Bank
    # do (the link crawl still checks every demo persona's pages for the same leaks).
    @pytest.mark.parametrize("username", [u for u, *_ in DEMO_USERS if u not in MIRRORED_PERSONAS])
    @pytest.mark.usefixtures("canaries")
    def test_no_answer_leaks_what_the_persona_may_not_see(self, username, settings):
        # /readyz gives each check half a second, which a test process sharing two cores with
        # another may not have: its 503 is about the machine, not about what the persona sees.
        settings.HEALTH_CHECK_TIMEOUT_SECONDS = 30
        user = User.objects.get(username=username)
        scope = scope_of(user)
        assert scope.titles, f"{username}: nothing out of scope to look for; the matrix would prove nothing"
        client = Client(raise_request_exception=False)
        client.force_login(user)
        found, writes = Findings(), []

        api_matrix(client, scope, found, writes)
        page_matrix(client, scope, found, writes)
        if user.is_staff:
            admin_matrix(client, scope, found)
        foreign_writes(client, scope, found, writes)

        report = [*found.leaks, *found.mismatches, *found.errors]
        assert not report, f"{username}, {found.requests} requests:\n" + "\n".join(report)
