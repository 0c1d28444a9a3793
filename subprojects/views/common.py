"""Pieces shared by the lifecycle pages: object pages with their actions and audit trail, transitions,
lists with filters, pagination and CSV/XLSX export."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from core.errors import ActionRefused
from core.exports import Column, export_or_refuse
from core.permissions import get_visible_or_404
from subprojects import workflow
from subprojects.forms import TransitionForm
from subprojects.timeline import timeline

PAGE_SIZE = 25


URL_PREFIX = {"call": "call", "conceptnote": "note", "proposal": "proposal", "subproject": "subproject"}


def report_refusal(request: HttpRequest, exc: ActionRefused) -> None:
    """A role that may not act gets 403; any other refusal becomes a message for the page."""
    if exc.code == "forbidden":
        raise PermissionDenied(str(exc)) from exc
    messages.error(request, str(exc))


def action_buttons(user, obj: Model, exclude: tuple[str, ...] = ()) -> list[dict]:
    """The transitions this user may take now, each with its own comment form."""
    prefix = URL_PREFIX[obj._meta.model_name]
    return [
        {
            "rule": rule,
            "form": TransitionForm(prefix=rule.action),
            "url": reverse(f"subprojects:{prefix}-transition", args=[obj.pk, rule.action]),
        }
        for rule in workflow.available_rules(user, obj)
        if rule.action not in exclude
    ]


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
    actions = action_buttons(request.user, obj, exclude_actions)
    for action in actions:
        if action["rule"].action == failed_action:
            action["form"] = TransitionForm(prefix=failed_action, initial={"comment": typed_comment})
            action["open"] = True
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


def handle_transition(
    request: HttpRequest,
    queryset: QuerySet,
    pk: int,
    action: str,
    show_page: Callable[..., HttpResponse],
) -> HttpResponse:
    """POST a transition from an object page. Wrong role: 403; not possible now: the page again,
    unchanged, with the reason and the comment as typed."""
    obj = get_visible_or_404(queryset, request.user, pk=pk)
    try:
        rule = workflow.get_rule(type(obj), action)
    except ActionRefused as exc:
        raise PermissionDenied(str(exc)) from exc
    if not workflow.may_act(request.user, obj, rule):
        raise PermissionDenied
    comment = request.POST.get(f"{action}-comment", "")
    try:
        workflow.apply(obj, action, request.user, comment=comment)
    except ActionRefused as exc:
        if exc.code == "forbidden":
            raise PermissionDenied(str(exc)) from exc
        obj.refresh_from_db()
        return show_page(obj, error=str(exc), failed_action=action, typed_comment=comment)
    obj.refresh_from_db()
    messages.success(
        request,
        _("%(ref)s: %(action)s done. It is now %(state)s.")
        % {"ref": obj.reference, "action": rule.label, "state": obj.get_status_display()},
    )
    return redirect(obj.get_absolute_url())


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
