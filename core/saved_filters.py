"""Saved filters: a user names the filters of a list to reopen it filtered the same way.

Each user sees and deletes only their own (another user's saved filter is a 404, as one that does
not exist). A list keeps at most MAX_PER_LIST of them per user; saving under a name already used for
that list replaces what it selects. What is stored is the list's address and its query without the
page number and the export format.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, QueryDict
from django.shortcuts import get_object_or_404, redirect
from django.urls import Resolver404, resolve
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.lists import NOT_SAVED, SAVED_FILTER_REFUSAL, query_without
from core.models import SavedFilter, User

MAX_PER_LIST = 20
NAME_MAX_LENGTH = SavedFilter._meta.get_field("name").max_length
PATH_MAX_LENGTH = SavedFilter._meta.get_field("path").max_length
QUERY_MAX_LENGTH = 2000


def saved_filters_of(user, path: str) -> QuerySet[SavedFilter]:
    """The user's saved filters of one list, by name."""
    return SavedFilter.objects.filter(user=user, path=path).order_by("name")


def is_list_path(path: str) -> bool:
    """A path of this site (no scheme, no host) that leads to one of its pages."""
    if not path.startswith("/") or path.startswith("//") or len(path) > PATH_MAX_LENGTH:
        return False
    if not url_has_allowed_host_and_scheme(path, allowed_hosts=None):
        return False
    try:
        resolve(path)
    except Resolver404:
        return False
    return True


def clean_query(query: str) -> str:
    """The query as it will be stored: without the page number and the export format."""
    return query_without(QueryDict(query), NOT_SAVED).urlencode()


def save_filter(*, user: User, path: str, name: str, query: str) -> tuple[SavedFilter, bool]:
    """Save the filters of the list at `path` under `name`; (the saved filter, whether it is new).

    Raises ValidationError by field: `name` blank, too long, or one too many for this list;
    `query` too long to keep."""
    name = " ".join(name.split())
    query = clean_query(query)
    if not name:
        raise ValidationError({"name": _("Name: give these filters a name.")})
    if len(name) > NAME_MAX_LENGTH:
        raise ValidationError(
            {
                "name": _("Name: at most %(max)d characters (this one has %(n)d).")
                % {"max": NAME_MAX_LENGTH, "n": len(name)}
            }
        )
    if len(query) > QUERY_MAX_LENGTH:
        raise ValidationError({"query": _("Filters: too many filters to save; remove some and try again.")})
    with transaction.atomic():
        # One save at a time per user: two at once could both pass the limit below.
        list(User.objects.select_for_update().filter(pk=user.pk).values_list("pk", flat=True))
        existing = SavedFilter.objects.filter(user=user, path=path, name=name).first()
        if existing is not None:
            existing.query = query
            existing.save(update_fields=["query"])
            return existing, False
        if saved_filters_of(user, path).count() >= MAX_PER_LIST:
            raise ValidationError(
                {
                    "name": _(
                        "Name: this list already has %(max)d saved filters, the most it keeps. Delete one "
                        "first, or save under the name of one to replace it."
                    )
                    % {"max": MAX_PER_LIST}
                }
            )
        return SavedFilter.objects.create(user=user, path=path, name=name, query=query), True


def _list_url(path: str, query: str) -> str:
    return f"{path}?{query}" if query else path


@login_required
@require_POST
def saved_filter_save(request: HttpRequest) -> HttpResponse:
    path = request.POST.get("path", "")
    if not is_list_path(path):
        return HttpResponseBadRequest(_("List address: not a page of the portal."), content_type="text/plain")
    name = request.POST.get("name", "")
    query = request.POST.get("query", "")
    try:
        saved, created = save_filter(user=request.user, path=path, name=name, query=query)
    except ValidationError as exc:
        # Back to the list as it was, with the name as typed and the reason next to it.
        request.session[SAVED_FILTER_REFUSAL] = {
            "path": path,
            "name": name[: NAME_MAX_LENGTH * 2],
            "error": " ".join(exc.messages),
        }
        messages.error(request, " ".join(exc.messages))
        return redirect(_list_url(path, clean_query(query)))
    if created:
        messages.success(request, _("Filters saved as “%(name)s”.") % {"name": saved.name})
    else:
        messages.success(
            request, _("Saved filters “%(name)s” replaced with these filters.") % {"name": saved.name}
        )
    return redirect(_list_url(saved.path, saved.query))


@login_required
@require_POST
def saved_filter_delete(request: HttpRequest, pk: int) -> HttpResponse:
    saved = get_object_or_404(SavedFilter, pk=pk, user=request.user)
    saved.delete()
    messages.success(request, _("Saved filters “%(name)s” deleted.") % {"name": saved.name})
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        back = saved.path
    return redirect(back)
