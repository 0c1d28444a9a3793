""" "Waiting on you" through the API: what the caller must act on now, oldest first, exactly the items
of the home page's panel (core.waiting.items_for, gathered from every app's providers), paginated.

Each item says what it opens: `kind`, the API resource of the object (read from the page it links
to), `object` its id and `api_url` its address in the API, when it has one."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.urls import NoReverseMatch, Resolver404, resolve, reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from core import waiting
from smart_portal.api import StandardPagination

# The page an item links to → the API resource of its object (the router's basename and its path).
RESOURCES: dict[str, tuple[str, str]] = {
    "subprojects:call-detail": ("call", "calls"),
    "subprojects:note-detail": ("concept-note", "concept-notes"),
    "subprojects:proposal-detail": ("proposal", "proposals"),
    "subprojects:subproject-detail": ("sub-project", "sub-projects"),
    "subprojects:meeting-detail": ("tec-meeting", "tec-meetings"),
    "safeguards:review-detail": ("es-review", "es-reviews"),
    "safeguards:incident-detail": ("incident", "incidents"),
    "safeguards:clearance-detail": ("clearance", "clearances"),
    "safeguards:screening-detail": ("me-screening", "me-screenings"),
    "finance:release-detail": ("release", "releases"),
    "finance:spending-report": ("spending-report", "spending-reports"),
    "finance:ifr-detail": ("financial-report", "financial-reports"),
    "finance:ifr-create": ("financial-report", "financial-reports"),
    "finance:subproject-finance": ("sub-project", "sub-projects"),
    "grievances:detail": ("grievance", "grievances"),
    "verification:check-detail": ("verification-check", "verification-checks"),
    "verification:round-detail": ("verification-round", "verification-rounds"),
}


class WaitingItemSerializer(serializers.Serializer):
    kind = serializers.CharField(
        help_text=_(
            "What the item opens: the API resource of its object (`proposals`, `incidents`, ...), or the "
            "name of the page when the object has no API resource (e.g. `agenda-item`)."
        )
    )
    object = serializers.IntegerField(
        allow_null=True, help_text=_("The object's id, when the item opens one.")
    )
    reference = serializers.CharField()
    title = serializers.CharField()
    action = serializers.CharField(help_text=_('What you are expected to do, e.g. "Shortlist · Reject".'))
    note = serializers.CharField(help_text=_("A detail: the PO, the comment of a return, ...; may be empty."))
    since = serializers.DateTimeField(help_text=_("Since when it waits for you."))
    due = serializers.DateTimeField(allow_null=True)
    overdue = serializers.BooleanField()
    url = serializers.URLField(help_text=_("The page to act on it in the portal."))
    api_url = serializers.URLField(allow_null=True, help_text=_("The object in the API, when it has one."))


def item_data(item: waiting.WaitingItem, request: Request) -> dict:
    """One panel item, with what it opens read from its page's address."""
    path = urlsplit(item.url).path
    kind, pk, api_url = "", None, None
    try:
        match = resolve(path)
    except Resolver404:
        match = None
    if match is not None:
        pk = match.kwargs.get("pk")
        pk = int(pk) if pk is not None and str(pk).isdigit() else None
        basename, kind = RESOURCES.get(match.view_name, (None, match.url_name or ""))
        if basename is not None and pk is not None:
            try:
                api_url = request.build_absolute_uri(reverse(f"{basename}-detail", args=[pk]))
            except NoReverseMatch:  # a resource not installed
                api_url = None
    return {
        "kind": kind,
        "object": pk,
        "reference": item.reference,
        "title": item.title,
        "action": item.what,
        "note": item.note,
        "since": item.since,
        "due": item.due,
        "overdue": item.overdue,
        "url": request.build_absolute_uri(item.url),
        "api_url": api_url,
    }


class WaitingViewSet(viewsets.GenericViewSet):
    """ "Waiting on you": what you must act on now, oldest first, as on your home page: concept notes
    and proposals to act on, evaluations to score, conditions, releases, reports, E&S reviews and
    incidents, grievances, verification checks... Every role may call it; each sees their own."""

    serializer_class = WaitingItemSerializer
    pagination_class = StandardPagination
    filter_backends: list = []

    @extend_schema(responses=WaitingItemSerializer(many=True))
    def list(self, request: Request) -> Response:
        items = waiting.items_for(request.user)
        page = self.paginate_queryset(items)
        rows = [item_data(item, request) for item in page]
        return self.get_paginated_response(self.get_serializer(rows, many=True).data)
