"""The OpenAPI schema and its interactive docs: for signed-in users (session or token) unless the
API_DOCS_PUBLIC setting opens them (on by default only with DEBUG). The map of every endpoint,
filter and field is not for anonymous visitors of a production site."""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
from dataclasses import dataclass
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import resolve_url
from django.utils import translation
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiYamlRenderer
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.exceptions import AuthenticationFailed, NotAuthenticated
from rest_framework.permissions import BasePermission
from rest_framework.utils.encoders import JSONEncoder


def cached_schema(language: str | None = None) -> dict:
    """The OpenAPI schema as a dict, generated once per process and language (its descriptions are
    translated): the API's shape changes only with a deployment."""
    return _schema_in(language or translation.get_language() or settings.LANGUAGE_CODE)


@functools.lru_cache(maxsize=len(settings.LANGUAGES) + 1)
def _schema_in(language: str) -> dict:
    with translation.override(language):
        return SchemaGenerator().get_schema(request=None, public=True)


def docs_are_public() -> bool:
    return bool(getattr(settings, "API_DOCS_PUBLIC", False))


class DocsPermission(BasePermission):
    """Read at each request, so the setting can be changed without reloading the URL conf."""

    def has_permission(self, request, view) -> bool:
        return docs_are_public() or bool(request.user and request.user.is_authenticated)


@dataclass(frozen=True)
class RenderedSchema:
    """The schema as served in one language and format: its bytes, gzipped too, and their ETag."""

    body: bytes
    gzipped: bytes
    etag: str


@functools.lru_cache(maxsize=2 * (len(settings.LANGUAGES) + 1))
def rendered_schema(language: str, file_format: str) -> RenderedSchema:
    """`cached_schema(language)` as JSON (compact) or YAML, rendered and compressed once per process."""
    schema = cached_schema(language)
    with translation.override(language):
        if file_format == "json":
            body = json.dumps(schema, cls=JSONEncoder, ensure_ascii=False, separators=(",", ":")).encode()
        else:
            body = OpenApiYamlRenderer().render(schema)
    digest = hashlib.sha256(body).hexdigest()[:32]
    return RenderedSchema(
        body=body, gzipped=gzip.compress(body, compresslevel=9, mtime=0), etag=f'W/"{digest}"'
    )


def schema_language(request) -> str:
    """`?lang=` when it names a language of the portal, else the request's own."""
    asked = request.query_params.get("lang")
    if asked in dict(settings.LANGUAGES):
        return asked
    return translation.get_language() or settings.LANGUAGE_CODE


class SchemaView(SpectacularAPIView):
    """The schema, served from `rendered_schema()`: generated once per process and language, then
    answered in milliseconds, gzipped when the client accepts it, with an ETag (304 when unchanged).
    YAML or JSON by the `Accept` header or `?format=json|yaml`; `?lang=en|bn` for its descriptions."""

    permission_classes = [DocsPermission]

    @extend_schema(exclude=True)
    def get(self, request, *args, **kwargs):
        renderer = request.accepted_renderer
        file_format = "json" if renderer.format == "json" else "yaml"
        rendered = rendered_schema(schema_language(request), file_format)
        headers = {
            "ETag": rendered.etag,
            "Cache-Control": "private, no-cache",
            "Vary": "Accept, Accept-Encoding, Accept-Language, Authorization, Cookie",
        }
        # A request naming this ETag is answered 304 by smart_portal.sync.ConditionalGetMiddleware,
        # as every API GET is.
        compressed = "gzip" in request.headers.get("Accept-Encoding", "")
        response = HttpResponse(
            rendered.gzipped if compressed else rendered.body,
            content_type=f"{renderer.media_type}; charset=utf-8",
        )
        if compressed:
            response["Content-Encoding"] = "gzip"
        response["Content-Disposition"] = f'inline; filename="{self._get_filename(request, None)}"'
        for header, value in headers.items():
            response[header] = value
        return response


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
