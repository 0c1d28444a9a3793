"""Pages of the Grievance Redress Mechanism: the public intake and status lookup (no sign-in), staff
logging, and the handlers' list and case pages. Views stay thin: the rules are in
grievances.handling (tiers, who handles, the lifecycle table), grievances.intake (abuse resistance)
and `Grievance.objects.visible_to` (who sees what).

Whoever may not see a case gets 404 for it, exactly as for a case that does not exist: on its page,
its attachments and its actions. A refused form comes back with what was typed (files excepted)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core import lifecycle
from core.errors import ActionRefused
from core.exports import Column, export_or_refuse
from core.lifecycle.views import action_buttons, handle_transition, raise_if_forbidden
from core.lists import Listing, SortSpec
from core.permissions import get_visible_or_404
from core.uploads import file_response
from enterprises.views.base import style_form
from grievances import handling, intake
from grievances.filters import GrievanceFilter
from grievances.forms import PublicGrievanceForm, ReclassifyForm, StaffGrievanceForm, StatusLookupForm
from grievances.models import Grievance, GrievanceAttachment
from subprojects.timeline import TimelineEntry, transition_entries

PAGE_SIZE = 50
# The tracking code of the grievance just lodged, shown once on the next page (never in a URL).
SESSION_CODE = "grievance_lodged_code"
# The grievance staff just logged, shown once on the next page (a refresh logs nothing twice).
SESSION_LOGGED = "grievance_logged_pk"


def _too_many(request: HttpRequest, wait: int) -> HttpResponse:
    response = render(request, "grievances/throttled.html", {"minutes": max(1, wait // 60)}, status=429)
    response["Retry-After"] = str(wait)
    return response


# --- The public page ------------------------------------------------------------------------------


# CSRF is checked by `_lodge_post`, once the size is known to be acceptable: the middleware would
# read (and store) the whole body first.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def lodge(request: HttpRequest) -> HttpResponse:
    """Anyone lodges a grievance, anonymously if they wish, and is given its tracking code. A body
    larger than the attachments allowed is refused (413) before any of it is read."""
    if request.method == "GET":
        return render(request, "grievances/lodge.html", {"form": PublicGrievanceForm()})
    if intake.body_too_large(request):
        return render(
            request,
            "grievances/lodge.html",
            {"form": PublicGrievanceForm(), "too_large": intake.body_too_large_message()},
            status=413,
        )
    return _lodge_post(request)


@csrf_protect
def _lodge_post(request: HttpRequest) -> HttpResponse:
    wait = intake.throttled(intake.LodgeThrottle, request)
    if wait is not None:
        return _too_many(request, wait)
    form = PublicGrievanceForm(request.POST, request.FILES)
    if form.honeypot_filled():
        # A bot: answered as if accepted, with a code that matches nothing; nothing is stored.
        request.session[SESSION_CODE] = intake.decoy_tracking_code()
        return redirect("grievances:lodged")
    if not form.is_valid():
        return render(request, "grievances/lodge.html", {"form": form}, status=400)
    grievance = handling.lodge(**form.lodge_kwargs())
    request.session[SESSION_CODE] = grievance.tracking_code
    return redirect("grievances:lodged")


@require_GET
def lodged(request: HttpRequest) -> HttpResponse:
    code = request.session.pop(SESSION_CODE, None)
    if not code:
        return redirect("grievances:lodge")
    response = render(
        request,
        "grievances/lodged.html",
        {
            "tracking_code": code,
            "acknowledge_days": settings.GRIEVANCE_ACKNOWLEDGE_DAYS,
            "resolve_days": settings.GRIEVANCE_RESOLVE_DAYS,
        },
    )
    response["Cache-Control"] = "private, no-store"
    return response


@require_http_methods(["GET", "POST"])
def status_lookup(request: HttpRequest) -> HttpResponse:
    """The status of a grievance by its tracking code: status, tier and dates, nothing else. The code
    is posted (not in the URL, which logs keep); any wrong code gets the same answer."""
    if request.method == "GET":
        return render(request, "grievances/status.html", {"form": StatusLookupForm()})
    wait = intake.throttled(intake.LookupThrottle, request)
    if wait is not None:
        return _too_many(request, wait)
    form = StatusLookupForm(request.POST)
    if not form.is_valid():
        return render(request, "grievances/status.html", {"form": form}, status=400)
    found = intake.public_status(form.cleaned_data["tracking_code"])
    response = render(
        request,
        "grievances/status.html",
        {"form": form, "found": found, "not_found": found is None},
        status=200 if found else 404,
    )
    response["Cache-Control"] = "private, no-store"
    return response


# --- Staff logging --------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def log(request: HttpRequest) -> HttpResponse:
    """PO staff and a PO's focal points log what their PO received; the PMU's focal points what was
    sent to PKSF or the Bank (any PO or none)."""
    if not handling.may_log(request.user):
        raise PermissionDenied
    if request.method == "GET":
        return render(request, "grievances/log.html", {"form": StaffGrievanceForm(user=request.user)})
    form = StaffGrievanceForm(request.POST, request.FILES, user=request.user)
    if not form.is_valid():
        return render(request, "grievances/log.html", {"form": form}, status=400)
    grievance = handling.lodge(**form.lodge_kwargs(), logged_by=request.user)
    request.session[SESSION_LOGGED] = grievance.pk
    return redirect("grievances:logged")


@login_required
@require_GET
def logged(request: HttpRequest) -> HttpResponse:
    """The grievance just logged, with the tracking code to give the complainant: shown once."""
    pk = request.session.pop(SESSION_LOGGED, None)
    grievance = Grievance.objects.filter(pk=pk, logged_by=request.user).first() if pk else None
    if grievance is None:
        return redirect("grievances:log")
    response = render(
        request,
        "grievances/logged.html",
        {
            "grievance": grievance,
            "can_open": Grievance.objects.visible_to(request.user).filter(pk=grievance.pk).exists(),
        },
    )
    response["Cache-Control"] = "private, no-store"
    return response


# --- The handlers' pages --------------------------------------------------------------------------


def _may_list(user) -> bool:
    return user.has_role(*handling.HANDLER_ROLES)


EXPORT_COLUMNS = [
    Column(_lazy("Reference"), lambda g: g.reference),
    Column(_lazy("Received at"), lambda g: g.received_at),
    Column(_lazy("PO"), lambda g: g.partner_organization.code if g.partner_organization else ""),
    Column(_lazy("Category"), lambda g: g.get_category_display()),
    Column(_lazy("Received by"), lambda g: g.get_channel_display()),
    Column(_lazy("Tier"), lambda g: g.tier),
    Column(_lazy("Status"), lambda g: g.get_status_display()),
    Column(_lazy("Subject"), lambda g: g.subject),
    Column(_lazy("District"), lambda g: g.district.name if g.district else ""),
    Column(_lazy("Anonymous"), lambda g: g.anonymous),
    Column(_lazy("Complainant gender"), lambda g: g.get_complainant_gender_display()),
    Column(_lazy("The complainant is"), lambda g: g.get_complainant_kind_display()),
    Column(_lazy("To be acknowledged by"), lambda g: g.acknowledge_by),
    Column(_lazy("To be resolved by"), lambda g: g.resolve_by),
    Column(_lazy("Overdue"), lambda g: handling.is_overdue(g)),
    Column(_lazy("Acknowledged at"), lambda g: g.acknowledged_at),
    Column(_lazy("Resolved at"), lambda g: g.resolved_at),
    Column(_lazy("Closed at"), lambda g: g.closed_at),
    Column(_lazy("Feedback"), lambda g: g.get_feedback_display()),
]


# The latest received first.
GRIEVANCE_SORTS = SortSpec(
    {
        "reference": ("pk",),
        "received": ("received_at",),
        "po": ("partner_organization__code",),
        "category": ("category",),
        "subject": ("subject",),
        "tier": ("tier",),
        "status": ("status",),
    },
    default="-received",
)


@login_required
@require_GET
def grievance_list(request: HttpRequest) -> HttpResponse:
    if not _may_list(request.user):
        raise PermissionDenied
    grievances = Grievance.objects.visible_to(request.user).select_related("partner_organization", "district")
    filterset = GrievanceFilter(request.GET or None, queryset=grievances, request=request)
    listing = Listing(request, sort=GRIEVANCE_SORTS, per_page=PAGE_SIZE)
    rows = listing.order(filterset.qs)
    if request.GET.get("export") == "csv":
        return export_or_refuse(request, rows, EXPORT_COLUMNS, "csv", "grievances")
    return render(
        request,
        "grievances/list.html",
        {
            "filter_form": style_form(filterset.form),
            **listing.page(handling.with_handling(rows, request.user)),
        },
    )


def _timeline(grievance: Grievance) -> list[TimelineEntry]:
    """The case's log, as every record's (subprojects.timeline); a case lodged on the public page was
    lodged by its complainant, not by the portal."""
    entries = transition_entries(grievance)
    for entry in entries:
        if entry.action == "lodge" and grievance.logged_by_id is None:
            entry.who = _("the complainant, on the public page")
    return entries


def _detail_page(
    request: HttpRequest,
    grievance: Grievance,
    *,
    error: str = "",
    failed_action: str = "",
    typed_comment: str = "",
    reclassify_form: ReclassifyForm | None = None,
    status: int = 200,
) -> HttpResponse:
    handler = handling.is_handler(request.user, grievance)
    reclassify_rule = lifecycle.get_rule(Grievance, "reclassify")
    may_reclassify = grievance.status in reclassify_rule.sources and lifecycle.may_act(
        request.user, grievance, reclassify_rule
    )
    response = render(
        request,
        "grievances/detail.html",
        {
            "grievance": grievance,
            "is_handler": handler,
            "overdue": handling.is_overdue(grievance),
            "attachments": grievance.attachments.all(),
            "actions": action_buttons(
                request.user, grievance, failed_action=failed_action, typed_comment=typed_comment
            ),
            "action_error": error,
            "timeline": _timeline(grievance),
            "handlers": handling.handlers(grievance) if handler else None,
            "reclassify_form": (reclassify_form or ReclassifyForm(grievance=grievance))
            if may_reclassify
            else None,
        },
        status=status if not error else 409,
    )
    response["Cache-Control"] = "private, no-store"
    return response


def _visible(request: HttpRequest, pk: int) -> Grievance:
    queryset = Grievance.objects.select_related("partner_organization", "district", "upazila", "logged_by")
    return get_visible_or_404(queryset, request.user, pk=pk)


@login_required
@require_GET
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _detail_page(request, _visible(request, pk))


@login_required
@require_POST
def transition(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    def show_page(obj, error="", failed_action="", typed_comment=""):
        return _detail_page(
            request,
            _visible(request, pk),
            error=error,
            failed_action=failed_action,
            typed_comment=typed_comment,
        )

    return handle_transition(request, Grievance.objects.all(), pk, action, show_page)


@login_required
@require_POST
def reclassify(request: HttpRequest, pk: int) -> HttpResponse:
    """The handler changes the category. A case moved into SEA/SH goes to the SEA/SH focal points and
    may leave the handler's sight: they are then sent to the list, told where it went."""
    grievance = _visible(request, pk)
    rule = lifecycle.get_rule(Grievance, "reclassify")
    try:
        lifecycle.check_may_act(request.user, grievance, rule)
    except ActionRefused as exc:
        raise PermissionDenied from exc
    form = ReclassifyForm(request.POST, grievance=grievance)
    if not form.is_valid():
        return _detail_page(request, grievance, reclassify_form=form, status=400)
    try:
        lifecycle.apply(
            grievance,
            "reclassify",
            request.user,
            comment=form.cleaned_data["comment"],
            category=form.cleaned_data["category"],
        )
    except ActionRefused as exc:
        raise_if_forbidden(exc)
        return _detail_page(request, _visible(request, pk), reclassify_form=form, error=str(exc))
    grievance = Grievance.objects.get(pk=pk)
    values = {"ref": grievance.reference, "category": grievance.get_category_display()}
    if Grievance.objects.visible_to(request.user).filter(pk=pk).exists():
        messages.success(request, _("%(ref)s is now in the category “%(category)s”.") % values)
        return redirect(grievance.get_absolute_url())
    messages.success(
        request,
        _(
            "%(ref)s is now in the category “%(category)s”: its own focal points handle it and have "
            "been told; you no longer see it."
        )
        % values,
    )
    return redirect("grievances:list")


@login_required
@require_GET
def attachment(request: HttpRequest, pk: int, attachment_pk: int) -> HttpResponse:
    grievance = _visible(request, pk)
    item = get_object_or_404(GrievanceAttachment, grievance=grievance, pk=attachment_pk)
    return file_response(item.file, name=item.original_name, content_type=item.mime_type)


urlpatterns = [
    path("grievances/lodge/", lodge, name="lodge"),
    path("grievances/lodge/done/", lodged, name="lodged"),
    path("grievances/status/", status_lookup, name="status"),
    path("grievances/", grievance_list, name="list"),
    path("grievances/new/", log, name="log"),
    path("grievances/new/done/", logged, name="logged"),
    path("grievances/<int:pk>/", detail, name="detail"),
    path("grievances/<int:pk>/files/<int:attachment_pk>/", attachment, name="attachment"),
    path("grievances/<int:pk>/reclassify/", reclassify, name="reclassify"),
    path("grievances/<int:pk>/<slug:action>/", transition, name="transition"),
]
