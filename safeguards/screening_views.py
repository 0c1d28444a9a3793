"""Pages of ME screenings. Views stay thin: the rules are in safeguards.screenings (services and the
lifecycle table) and core.lifecycle.

Refusals: a role that may not read or act gets 403; another PO's screening or enterprise is a 404; a
refused action shows the unchanged page again with the reason (409); a form with a mistake names it
by field (400) and keeps what was typed.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from core.errors import ActionRefused
from core.lifecycle.views import action_buttons, handle_transition, raise_if_forbidden
from core.lists import Listing, SortSpec
from core.permissions import get_visible_or_404, role_required
from core.roles import Role
from enterprises.models import Enterprise
from enterprises.views.base import attach_errors
from safeguards import screenings
from safeguards.models import MeScreening, MeScreeningStatus
from safeguards.screening_forms import ScreeningFilterForm, ScreeningForm
from subprojects.timeline import timeline

READERS = (Role.PO_STAFF, Role.PMU_OFFICER, Role.ES_OFFICER, Role.WORLD_BANK, Role.PKSF_APPROVER)
PAGE_SIZE = 50


def _screenings(user):
    return MeScreening.objects.visible_to(user).select_related(
        "enterprise", "partner_organization", "screened_by"
    )


# The latest screened first.
SCREENING_SORTS = SortSpec(
    {
        "screening": ("pk",),
        "po": ("partner_organization__code",),
        "enterprise": ("enterprise__po_code",),
        "screened": ("screened_on",),
        "category": ("clearance_category",),
        "result": ("status", "outcome"),
    },
    default="-screened",
)


@role_required(*READERS)
@require_GET
def screening_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    form = ScreeningFilterForm(request.GET or None)
    queryset = _screenings(user)
    if form.is_valid():
        data = form.cleaned_data
        if data["outcome"] == "draft":
            queryset = queryset.filter(status=MeScreeningStatus.DRAFT)
        elif data["outcome"]:
            queryset = queryset.filter(outcome=data["outcome"])
        if data["partner_organization"]:
            queryset = queryset.filter(partner_organization=data["partner_organization"])
        if data["q"]:
            queryset = queryset.filter(
                Q(enterprise__po_code__icontains=data["q"]) | Q(enterprise__name__icontains=data["q"])
            )
    listing = Listing(request, sort=SCREENING_SORTS, per_page=PAGE_SIZE)
    return render(
        request,
        "safeguards/screening_list.html",
        {
            "filter_form": form,
            "show_po": user.sees_whole_programme,
            **listing.page(listing.order(queryset)),
        },
        status=200 if not form.is_bound or form.is_valid() else 400,
    )


def _detail_page(
    request: HttpRequest,
    screening: MeScreening,
    *,
    error: str = "",
    failed_action: str = "",
    typed_comment: str = "",
) -> HttpResponse:
    return render(
        request,
        "safeguards/screening_detail.html",
        {
            "screening": screening,
            "exclusions": screening.exclusions_found.all(),
            "actions": action_buttons(
                request.user, screening, failed_action=failed_action, typed_comment=typed_comment
            ),
            "can_edit": screenings.may_edit_draft(request.user, screening),
            "needs_pmu": screening.status == MeScreeningStatus.DRAFT
            and screenings.follows_failure(screening),
            "unanswered": screenings.unanswered(screening)
            if screening.status == MeScreeningStatus.DRAFT
            else [],
            "action_error": error,
            "timeline": timeline(screening),
        },
        status=409 if error else 200,
    )


@role_required(*READERS)
@require_GET
def screening_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _detail_page(request, get_visible_or_404(_screenings(request.user), request.user, pk=pk))


@role_required(*READERS)
@require_POST
def screening_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    return handle_transition(
        request,
        _screenings(request.user),
        pk,
        action,
        lambda obj, **kwargs: _detail_page(request, obj, **kwargs),
    )


def _form_page(request, form, enterprise, screening=None, status=200) -> HttpResponse:
    return render(
        request,
        "safeguards/screening_form.html",
        {"form": form, "enterprise": enterprise, "screening": screening},
        status=status,
    )


@role_required(*READERS)
def screening_create(request: HttpRequest, enterprise_pk: int) -> HttpResponse:
    enterprise = screenings.holder_or_404(
        Enterprise.objects.select_related("partner_organization"), request.user, enterprise_pk
    )
    if not screenings.screener(request.user, enterprise):
        raise PermissionDenied
    form = ScreeningForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            try:
                screening = screenings.create_screening(
                    user=request.user, enterprise=enterprise, data=form.cleaned_data
                )
            except ValidationError as exc:
                attach_errors(form, exc)
            else:
                messages.success(
                    request,
                    _("%(ref)s started. Complete it once every question is answered.")
                    % {"ref": screening.reference},
                )
                return redirect(screening.get_absolute_url())
        return _form_page(request, form, enterprise, status=400)
    return _form_page(request, form, enterprise)


@role_required(*READERS)
def screening_edit(request: HttpRequest, pk: int) -> HttpResponse:
    screening = get_visible_or_404(_screenings(request.user), request.user, pk=pk)
    if not screenings.screener(request.user, screening):
        raise PermissionDenied
    if screening.status != MeScreeningStatus.DRAFT:
        return _detail_page(
            request,
            screening,
            error=_("%(ref)s is completed: it can no longer change.") % {"ref": screening.reference},
        )
    form = ScreeningForm(request.POST or None, instance=screening)
    if request.method == "POST":
        if form.is_valid():
            try:
                screenings.update_screening(user=request.user, screening=screening, data=form.cleaned_data)
            except ValidationError as exc:
                attach_errors(form, exc)
            except ActionRefused as exc:
                raise_if_forbidden(exc)
                form.add_error(None, exc.message)
            else:
                messages.success(request, _("Saved."))
                return redirect(screening.get_absolute_url())
        return _form_page(request, form, screening.enterprise, screening, status=400)
    return _form_page(request, form, screening.enterprise, screening)


@role_required(*READERS)
@require_POST
def screening_delete(request: HttpRequest, pk: int) -> HttpResponse:
    screening = get_visible_or_404(_screenings(request.user), request.user, pk=pk)
    if not screenings.screener(request.user, screening):
        raise PermissionDenied
    try:
        screenings.delete_screening(user=request.user, screening=screening)
    except ActionRefused as exc:
        raise_if_forbidden(exc)
        return _detail_page(request, screening, error=exc.message)
    messages.success(request, _("%(ref)s deleted.") % {"ref": screening.reference})
    return redirect(screening.enterprise.get_absolute_url())


def enterprise_section(user, enterprise: Enterprise) -> dict:
    """The safeguards section of an enterprise's page: its latest screening (and a draft in progress),
    whether it may be financed, and its clearances."""
    from safeguards.clearances import may_manage, status_of

    latest = screenings.latest_screening(enterprise)
    drafts = list(
        MeScreening.objects.filter(enterprise=enterprise, status=MeScreeningStatus.DRAFT).order_by("-pk")[:3]
    )
    clearances = list(enterprise.clearances.all())
    for clearance in clearances:
        clearance.state = status_of(clearance)
    return {
        "latest_screening": latest,
        "draft_screenings": drafts,
        "financing_refusal": screenings.refusal_text(latest) if latest and latest.outcome == "failed" else "",
        "can_screen": screenings.screener(user, enterprise),
        "me_clearances": clearances,
        "can_add_clearance": may_manage(user, enterprise),
    }
