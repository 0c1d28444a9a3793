"""Requests refused before any view reads them."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.utils.translation import gettext as _

NUL = "\x00"


class RefuseNullCharactersMiddleware:
    """A NUL character in the URL's path or in a query parameter is refused with a 400 naming the
    parameter, for pages and API alike.

    No text the portal stores holds one, and forms and serializers refuse them in what they read; but
    a parameter a view reads itself (`?po=` of the dashboards, a code in the path) would reach the
    database, where PostgreSQL refuses it with an error: a 500 (SQLite merely finds nothing)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        where = null_characters_in(request)
        if where:
            message = _("Null characters are not allowed.")
            if request.path_info.startswith("/api/"):
                return JsonResponse({name: [message] for name in where}, status=400)
            return HttpResponseBadRequest(
                f"{', '.join(where)}: {message}", content_type="text/plain; charset=utf-8"
            )
        return self.get_response(request)


def null_characters_in(request: HttpRequest) -> list[str]:
    """The query parameters (and "path") holding a NUL character, NULs shown as `\\0`."""
    where = ["path"] if NUL in request.path_info else []
    for name, values in request.GET.lists():
        if NUL in name or any(NUL in value for value in values):
            where.append(name.replace(NUL, "\\0"))
    return where
