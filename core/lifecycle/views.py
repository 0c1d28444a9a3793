"""The engine on pages: the buttons of the actions a person may take now, and the POST that takes one.

Refusals read the same everywhere: a person who may not act gets 403; an action not possible now
shows the page again, unchanged, with the reason and the comment as typed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, cast

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from core import lifecycle
from core.errors import ActionRefused
from core.permissions import get_visible_or_404


class _HasPage(Protocol):
    def get_absolute_url(self) -> str: ...


class TransitionForm(forms.Form):
    comment = forms.CharField(
        label=_lazy("Comment"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


def raise_if_forbidden(exc: ActionRefused) -> None:
    """A refusal about who asks is a 403 page, whatever the page would show otherwise."""
    if exc.is_forbidden:
        raise PermissionDenied(str(exc)) from exc


def report_refusal(request: HttpRequest, exc: ActionRefused) -> None:
    """The one way a page reports a refusal: 403 when it is about who asks, else a message."""
    raise_if_forbidden(exc)
    messages.error(request, str(exc))


def action_buttons(
    user,
    obj: Model,
    exclude: tuple[str, ...] = (),
    *,
    failed_action: str = "",
    typed_comment: str = "",
    explain_blocked: bool = False,
) -> list[dict]:
    """The transitions this user may take now, each with its comment form; the one that was just
    refused comes back open, with the comment as typed.

    An action that its guards would refuse now (`lifecycle.blockers`: the checks apply() runs) cannot
    succeed and is not offered: it is left out, or, with `explain_blocked`, listed without a form and
    with its `blocked` reasons, for a page that says why (subprojects/_actions.html does)."""
    url_name = lifecycle.lifecycle_of(obj).url_name
    buttons = []
    for rule in lifecycle.available_rules(user, obj):
        if rule.action in exclude or not rule.button:
            continue
        blocked = lifecycle.blockers(user, obj, rule)
        if blocked and not explain_blocked:
            continue
        refused = rule.action == failed_action
        form = None
        if not blocked:
            form = TransitionForm(prefix=rule.action, initial={"comment": typed_comment} if refused else None)
        buttons.append(
            {
                "rule": rule,
                "blocked": blocked,
                "form": form,
                "url": reverse(url_name, args=[obj.pk, rule.action]),
                "open": refused,
            }
        )
    return buttons


def handle_transition(
    request: HttpRequest,
    queryset: QuerySet,
    pk: int,
    action: str,
    show_page: Callable[..., HttpResponse],
) -> HttpResponse:
    """POST one action from an object page. `show_page(obj, error=, failed_action=, typed_comment=)`
    renders the page again when the action is refused."""
    obj = get_visible_or_404(queryset, request.user, pk=pk)
    try:
        rule = lifecycle.get_rule(type(obj), action)
    except ActionRefused as exc:
        raise PermissionDenied(str(exc)) from exc
    try:
        lifecycle.check_may_act(request.user, obj, rule)  # logged as a refused transition
    except ActionRefused as exc:
        raise PermissionDenied from exc
    comment = request.POST.get(f"{action}-comment", "")
    try:
        lifecycle.apply(obj, action, request.user, comment=comment)
    except ActionRefused as exc:
        raise_if_forbidden(exc)
        obj.refresh_from_db()
        return show_page(obj, error=str(exc), failed_action=action, typed_comment=comment)
    obj.refresh_from_db()
    states = lifecycle.lifecycle_of(obj)
    state = states.states.get(states.state_of(obj), "")
    messages.success(
        request,
        _("%(ref)s: %(action)s done. It is now %(state)s.")
        % {"ref": lifecycle.describe(obj), "action": rule.label, "state": state},
    )
    return redirect(cast(_HasPage, obj).get_absolute_url())
