"""The portal's URLs as the security tests walk them: every pattern of the URL conf, with what each
API route serves (its view set, actions, model, filter set) and, for the pages, the model behind
their ids."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.contrib.auth.models import AnonymousUser
from django.db.models import Model
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework import serializers
from rest_framework.test import APIRequestFactory

APPS = ("core", "subprojects", "enterprises", "monitoring", "verification")


@dataclass
class Route:
    """One pattern of the URL conf."""

    pattern: str  # e.g. "api/v1/^proposals/(?P<pk>[^/.]+)/submit/$" or "proposals/<int:pk>/"
    name: str  # the URL name, with its namespace
    callback: object
    params: list[str] = field(default_factory=list)

    @property
    def is_api(self) -> bool:
        return self.pattern.startswith("api/v1/")

    @property
    def is_admin(self) -> bool:
        return self.pattern.startswith("admin/")

    @property
    def view_class(self):
        return getattr(self.callback, "cls", None) or getattr(self.callback, "view_class", None)

    @property
    def actions(self) -> dict[str, str]:
        """A view set's HTTP method → action (empty for other views)."""
        return dict(getattr(self.callback, "actions", None) or {})


def _walk(patterns, prefix: str = "", namespace: str | None = None) -> Iterator[Route]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = namespace
            if pattern.namespace:
                inner = f"{namespace}:{pattern.namespace}" if namespace else pattern.namespace
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        elif isinstance(pattern, URLPattern):
            name = f"{namespace}:{pattern.name}" if namespace else (pattern.name or "")
            params = list(pattern.pattern.regex.groupindex)
            yield Route(prefix + str(pattern.pattern), name, pattern.callback, params)


def all_routes() -> list[Route]:
    """Every pattern of the URL conf, less the format-suffix twins of the API's routes."""
    routes = []
    for route in _walk(get_resolver().url_patterns):
        if "format" in route.params:
            continue
        routes.append(route)
    return routes


def api_routes() -> list[Route]:
    return [route for route in all_routes() if route.is_api and route.view_class is not None]


def model_of(route: Route) -> type[Model] | None:
    """The model an API route serves (from its view set's queryset), if any."""
    view_class = route.view_class
    view = view_class()
    request = APIRequestFactory().get("/")
    request.user = AnonymousUser()
    view.request = request
    view.args, view.kwargs, view.format_kwarg = (), {}, None
    view.action = next(iter(route.actions.values()), None)
    view.swagger_fake_view = True  # some views answer an empty queryset for the schema
    try:
        queryset = view.get_queryset()
    except Exception:  # noqa: BLE001 (a view without a queryset, e.g. an aggregate)
        queryset = getattr(view_class, "queryset", None)
    return getattr(queryset, "model", None)


def project_serializer_classes() -> list[type[serializers.BaseSerializer]]:
    """Every serializer class defined in the portal's apps (their modules imported first)."""
    for app in APPS:
        package = importlib.import_module(app)
        for module in pkgutil.walk_packages(package.__path__, f"{app}."):
            if ".migrations" in module.name or ".management" in module.name:
                continue
            importlib.import_module(module.name)
    found: list[type] = []

    def walk(cls: type) -> None:
        for sub in cls.__subclasses__():
            if sub.__module__.split(".")[0] in APPS and sub not in found:
                found.append(sub)
            walk(sub)

    walk(serializers.BaseSerializer)
    return found
