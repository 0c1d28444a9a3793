"""Pieces shared by the lifecycle pages: object pages with their actions and audit trail, transitions,
lists with filters, pagination and CSV/XLSX export."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.db.models import Model
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from core.exports import Column, export_or_refuse
from core.lifecycle.views import (  # noqa: F401  (the lifecycle pages import them from here)
    action_buttons,
    handle_transition,
    report_refusal,
)
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
) -> HttpResponse:
    actions = action_buttons(
        request.user, obj, exclude_actions, failed_action=failed_action, typed_comment=typed_comment
    )
    return render(
        request,
        template,
        {
            "object": obj,
            "actions": actions,
            "timeline": timeline(obj),
            "action_error": error,
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
) -> HttpResponse:
    """A filtered list; `?export=csv` or `?export=xlsx` downloads the same filtered rows."""
    queryset = filterset.qs
    export = request.GET.get("export")
    if export in {"csv", "xlsx"}:
        return export_or_refuse(request, queryset, columns, export, export_name)
    paginator = Paginator(queryset, PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    return render(
        request,
        template,
        {
            "filter": filterset,
            "page_obj": page,
            "paginator": paginator,
            "rows": page.object_list,
            "querystring": params.urlencode(),
            **(context or {}),
        },
    )
