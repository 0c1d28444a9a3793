"""Pieces shared by the lifecycle pages: object pages with their actions and audit trail, transitions,
lists with filters, sorting, pagination and CSV/XLSX export."""

from __future__ import annotations

from django.db.models import Model
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from core.exports import Column, export_or_refuse
from core.lifecycle.views import (  # noqa: F401  (the lifecycle pages import them from here)
    action_buttons,
    handle_transition,
    report_refusal,
)
from core.lists import Listing, SortSpec
from subprojects.timeline import timeline

PAGE_SIZE = 25


def render_object_page(
    request: HttpRequest,
    template: str,
    obj: Model,
    context: dict,
    *,
    error: str = "",
    failed_action: str = "",
    typed_comment: str = "",
    exclude_actions: tuple[str, ...] = (),
    listed_on_page: tuple[str, ...] = (),
) -> HttpResponse:
    """An object's page with its actions: those that can succeed now as buttons, those its guards
    would refuse with why (the guards named in `listed_on_page` are detailed by the page itself,
    e.g. what a proposal lacks before submission, by section)."""
    actions = action_buttons(
        request.user,
        obj,
        exclude_actions,
        failed_action=failed_action,
        typed_comment=typed_comment,
        explain_blocked=True,
    )
    return render(
        request,
        template,
        {
            "object": obj,
            "actions": actions,
            "timeline": timeline(obj),
            "action_error": error,
            "listed_on_page": listed_on_page,
            **context,
        },
    )


def list_page(
    request: HttpRequest,
    *,
    template: str,
    filterset,
    columns: list[Column],
    export_name: str,
    context: dict | None = None,
    sort: SortSpec | None = None,
    keep: tuple[str, ...] = (),
) -> HttpResponse:
    """A filtered list, sorted by the columns of `sort` (core.lists); `?export=csv` or `?export=xlsx`
    downloads the same filtered rows in the same order."""
    listing = Listing(request, sort=sort, per_page=PAGE_SIZE, keep=keep)
    queryset = listing.order(filterset.qs)
    export = request.GET.get("export")
    if export in {"csv", "xlsx"}:
        return export_or_refuse(request, queryset, columns, export, export_name)
    page_context = listing.page(queryset)
    return render(
        request,
        template,
        {
            "filter": filterset,
            "rows": page_context["page_obj"].object_list,
            **page_context,
            **(context or {}),
        },
    )
