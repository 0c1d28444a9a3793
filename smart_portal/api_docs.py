"""The OpenAPI schema and its interactive docs: for signed-in users (session or token) unless the
API_DOCS_PUBLIC setting opens them (on by default only with DEBUG). The map of every endpoint,
filter and field is not for anonymous visitors of a production site."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpResponseRedirect
from django.shortcuts import resolve_url
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.exceptions import AuthenticationFailed, NotAuthenticated
from rest_framework.permissions import BasePermission


def docs_are_public() -> bool:
    return bool(getattr(settings, "API_DOCS_PUBLIC", False))


class DocsPermission(BasePermission):
    """Read at each request, so the setting can be changed without reloading the URL conf."""

    def has_permission(self, request, view) -> bool:
        return docs_are_public() or bool(request.user and request.user.is_authenticated)


class SchemaView(SpectacularAPIView):
    permission_classes = [DocsPermission]


class DocsView(SpectacularSwaggerSplitView):
    permission_classes = [DocsPermission]

    def handle_exception(self, exc):
        # A person opening the docs page in a browser is sent to sign in, then back.
        if (
            isinstance(exc, NotAuthenticated | AuthenticationFailed)
            and not self.request.user.is_authenticated
        ):
            login = resolve_url(settings.LOGIN_URL)
            return HttpResponseRedirect(f"{login}?{urlencode({'next': self.request.get_full_path()})}")
        return super().handle_exception(exc)
