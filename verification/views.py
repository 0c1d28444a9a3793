"""Pages of independent verification. Views stay thin: rules are in services, the lifecycle engine
(core.lifecycle, table and hooks in verification.checks), verification.rates and the enterprise services.

Refusals: a role that may not act gets 403; another PO's check, or a pending one for whoever belongs
to its PO, is a 404; a refused action shows the unchanged page again with the reason and what was
typed (409), a form with a mistake (a date that does not fit included) with the mistake named by
field (400), an unknown result 400.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Model
from django.forms import BoundField
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core import lifecycle
from core.errors import ActionRefused
from core.filtering import label_filter_form
from core.lifecycle.views import raise_if_forbidden
from core.lists import Listing, SortSpec
from core.permissions import get_visible_or_404, is_pmu
from enterprises.forms import CommentForm, VerifyAdoptionForm
from enterprises.models import Adoption
from enterprises.permissions import is_independent_checker
from enterprises.validation import today
from enterprises.views.base import attach_errors, querystring_without, style_form
from verification import sampling, services, work
from verification.files import image_response
from verification.filters import CheckFilter
from verification.forms import AwaitingFilterForm, CheckResultForm, DrawRoundForm, PolicyForm
from verification.models import VerificationCheck, VerificationPolicy, VerificationRound
from verification.permissions import allowed, can_follow_rounds, can_read_checks, can_read_policy, signed_in

PAGE_SIZE = 50


# --- Rounds ---------------------------------------------------------------------------------------


# The latest quarter first.
ROUND_SORTS = SortSpec(
    {
        "round": ("year", "quarter"),
        "drawn": ("drawn_at",),
        "margin": ("margin_percent",),
        "floor": ("floor",),
        "checks": ("checks_sampled",),
        "done": ("checks_done",),
    },
    default="-round",
)


def _rounds_page(request: HttpRequest, form: DrawRoundForm | None = None, status: int = 200) -> HttpResponse:
    rounds = VerificationRound.objects.with_progress().select_related("drawn_by")
    can_draw = is_pmu(request.user)
    if can_draw and form is None:
        form = DrawRoundForm()
    listing = Listing(request, sort=ROUND_SORTS, per_page=PAGE_SIZE, saved_filters=False)
    listed = listing.page(listing.order(rounds))
    return render(
        request,
        "verification/round_list.html",
        {
            **listed,
            "rounds": listed["page_obj"].object_list,
            "rule": sampling.RULE_TEXT,
            "policy": VerificationPolicy.current(),
            "form": form if can_draw else None,
        },
        status=status,
    )


@allowed(can_follow_rounds)
@require_GET
def round_list(request: HttpRequest) -> HttpResponse:
    return _rounds_page(request)


@allowed(is_pmu)
@require_POST
def round_draw(request: HttpRequest) -> HttpResponse:
    form = DrawRoundForm(request.POST)
    if not form.is_valid():
        return _rounds_page(request, form, status=400)
    try:
        round_ = services.draw_round(user=request.user, **form.cleaned_data)
    except ValidationError as exc:
        attach_errors(form, exc)
        return _rounds_page(request, form, status=400)
    except ActionRefused as exc:
        raise_if_forbidden(exc)
        form.add_error(None, exc.message)
        return _rounds_page(request, form, status=409)
    messages.success(
        request,
        _("%(round)s drawn: %(count)s checks.") % {"round": round_.reference, "count": round_.checks.count()},
    )
    return redirect(round_.get_absolute_url())


@allowed(can_follow_rounds)
@require_GET
def round_detail(request: HttpRequest, pk: int) -> HttpResponse:
    round_ = get_object_or_404(VerificationRound.objects.select_related("drawn_by"), pk=pk)
    return render(
        request,
        "verification/round_detail.html",
        {"round": round_, "summary": services.round_summary(round_)},
    )


# --- Checks ---------------------------------------------------------------------------------------


# By default the latest round first, checks still to do first within it.
CHECK_SORTS = SortSpec(
    {
        "check": ("pk",),
        "round": ("round__year", "round__quarter"),
        "po": ("partner_organization__code",),
        "kind": ("kind",),
        "district": ("district__name",),
        "result": ("status",),
        "visited": ("visited_on",),
    },
    fallback=("-round__year", "-round__quarter", "status", "pk"),
)


@allowed(can_read_checks)
@require_GET
def check_list(request: HttpRequest) -> HttpResponse:
    checks = VerificationCheck.objects.visible_to(request.user).select_related(
        "round", "partner_organization", "district", "checked_by"
    )
    filterset = CheckFilter(request.GET or None, queryset=checks, request=request)
    listing = Listing(request, sort=CHECK_SORTS, per_page=PAGE_SIZE)
    return render(
        request,
        "verification/check_list.html",
        {
            "filter_form": style_form(filterset.form),
            "show_po": request.user.sees_whole_programme or is_independent_checker(request.user),
            **listing.page(listing.order(filterset.qs)),
        },
    )


def _check_page(
    request: HttpRequest,
    check: VerificationCheck,
    *,
    form: CheckResultForm | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    rules = lifecycle.available_rules(request.user, check)
    if rules and form is None:
        form = CheckResultForm(check=check)
    return render(
        request,
        "verification/check_detail.html",
        {
            "check": check,
            "rules": rules,
            # A refused form comes back as typed, even when no result can be recorded any more.
            "form": form if rules or (form is not None and form.is_bound) else None,
            "action_error": error,
            "timeline": services.check_timeline(check),
            "can_see_rounds": can_follow_rounds(request.user),
        },
        status=status,
    )


def _visible_check(request: HttpRequest, pk: int) -> VerificationCheck:
    return get_visible_or_404(VerificationCheck.objects.with_subject(), request.user, pk=pk)


@allowed(can_read_checks)
@require_GET
def check_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _check_page(request, _visible_check(request, pk))


@allowed(can_read_checks)
@require_POST
def check_result(request: HttpRequest, pk: int) -> HttpResponse:
    """Record the result: the pressed button's action, with the visit's date, finding, GPS and photo."""
    check = _visible_check(request, pk)
    action = request.POST.get("action", "")
    try:
        rule = lifecycle.get_rule(VerificationCheck, action)
    except ActionRefused as exc:  # no such result: a malformed request, not a refusal
        return _check_page(request, check, error=exc.message, status=400)
    if not lifecycle.may_act(request.user, check, rule):
        raise PermissionDenied
    form = CheckResultForm(request.POST, request.FILES, check=check, action=action)
    if not form.is_valid():
        return _check_page(request, check, form=form, status=400)
    data = form.cleaned_data
    try:
        lifecycle.apply(
            check,
            action,
            request.user,
            comment=data["finding"],
            visited_on=data["visited_on"],
            latitude=data["latitude"],
            longitude=data["longitude"],
            photo=data["photo"],
        )
    except ActionRefused as exc:
        raise_if_forbidden(exc)
        return _check_page(request, _visible_check(request, pk), form=form, error=exc.message, status=409)
    check = _visible_check(request, pk)
    messages.success(
        request,
        _("%(ref)s: recorded as %(state)s.") % {"ref": check.reference, "state": check.get_status_display()},
    )
    return redirect(check.get_absolute_url())


@allowed(can_read_checks)
@require_GET
def check_photo(request: HttpRequest, pk: int) -> FileResponse:
    """The verifier's photo, to whoever may see the check."""
    return image_response(get_visible_or_404(VerificationCheck.objects.all(), request.user, pk=pk).photo)


@allowed(signed_in)
@require_GET
def adoption_photo(request: HttpRequest, pk: int) -> HttpResponse:
    """The PO's evidence photo of an adoption: to the independent verifiers (who read no field data
    otherwise) and to whoever may see the adoption."""
    adoptions = (
        Adoption.objects.all()
        if is_independent_checker(request.user)
        else Adoption.objects.visible_to(request.user)
    )
    return image_response(get_object_or_404(adoptions, pk=pk).evidence_photo)


# --- Awaiting independent verification ------------------------------------------------------------


@dataclass(frozen=True)
class AwaitingTab:
    """The page's side of a work list (verification.work): the enterprise page form it reuses, how an
    item is named in messages, and what is said once it is decided."""

    work_list: work.WorkList
    form: type[forms.Form]
    label: Callable[[Model], str]
    done: str  # %(item)s: the item's label


TABS = {
    "adoptions": AwaitingTab(
        work.ADOPTIONS,
        VerifyAdoptionForm,
        lambda adoption: (
            f"{adoption.practice.code} · {adoption.enterprise.po_code} · {adoption.enterprise.name}"
        ),
        _lazy("%(item)s verified."),
    ),
    "facilities": AwaitingTab(
        work.FACILITIES, CommentForm, lambda facility: facility.name, _lazy("%(item)s confirmed operational.")
    ),
}


@dataclass(frozen=True)
class RowForm:
    """The date and comment inputs of one row, as typed (or blank), with the row's error."""

    date: BoundField
    comment: BoundField
    error: str = ""

    @classmethod
    def of(cls, tab: AwaitingTab, form: forms.Form, error: str = "") -> RowForm:
        return cls(form[tab.work_list.date_field], form["comment"], error)


# Each tab's columns; by default the longest waiting first.
AWAITING_SORTS = {
    "adoptions": SortSpec(
        {
            "enterprise": ("enterprise__po_code",),
            "po": ("enterprise__partner_organization__code",),
            "where": ("enterprise__district__name", "enterprise__upazila__name"),
            "practice": ("practice__code",),
            "adopted": ("adopted_on",),
            "evidence": ("evidence_observed_on",),
        },
        default="adopted",
    ),
    "facilities": SortSpec(
        {
            "facility": ("name",),
            "po": ("partner_organization__code",),
            "where": ("district__name", "upazila__name"),
            "kind": ("kind",),
            "opened": ("opened_on",),
        },
        default="opened",
    ),
}


def _awaiting_page(
    request: HttpRequest, *, key: str = "", failed: dict | None = None, status: int = 200
) -> HttpResponse:
    """The list of one tab. `failed`: the item whose decision was refused (`pk`, `label`), its form
    as typed and the reason, shown in its row and above the list (the item may have left the list)."""
    key = key or request.GET.get("kind", "")
    tab = TABS.get(key) or TABS["adoptions"]
    key = tab.work_list.key
    filters = style_form(label_filter_form(AwaitingFilterForm(request.GET or None)))
    chosen = filters.cleaned_data if filters.is_valid() else None
    # The tab is not a filter: clearing the filters stays on it.
    listing = Listing(request, sort=AWAITING_SORTS[key], per_page=PAGE_SIZE, keep=("kind",))
    listed = listing.page(listing.order(tab.work_list.items(chosen)))
    page = listed["page_obj"]
    counts = {
        other: page.paginator.count if other == key else TABS[other].work_list.items(chosen).count()
        for other in TABS
    }
    return render(
        request,
        "verification/awaiting.html",
        {
            "kind": key,
            "counts": counts,
            "filter_form": filters,
            **listed,
            "filter_querystring": querystring_without(request, "page", "kind"),
            "action_querystring": request.GET.urlencode(),
            "failed": failed or {},
            "blank_row": RowForm.of(tab, tab.form(initial={tab.work_list.date_field: today()})),
        },
        status=status,
    )


@allowed(is_independent_checker)
@require_GET
def awaiting(request: HttpRequest) -> HttpResponse:
    return _awaiting_page(request)


@allowed(is_independent_checker)
@require_POST
def awaiting_decide(request: HttpRequest, key: str, pk: int) -> HttpResponse:
    """Verify an adoption or confirm a facility from its row, with the row's date and comment. Done:
    back to the list where the person was. Refused: the list again, unchanged, with the row's inputs
    as typed and the reason, in the row and above the list: 400 for a date that does not fit, 409 when
    someone else decided first or the facility is no longer reported operational."""
    tab = TABS[key]
    item = get_object_or_404(tab.work_list.model, pk=pk)
    label = tab.label(item)
    form = tab.form(request.POST)

    def refused(error: str, status: int) -> HttpResponse:
        failed = {"pk": pk, "label": label, "row": RowForm.of(tab, form, error), "error": error}
        return _awaiting_page(request, key=key, failed=failed, status=status)

    if not form.is_valid():
        return refused(" ".join(message for errors in form.errors.values() for message in errors), 400)
    date_field = tab.work_list.date_field
    try:
        work.decide(
            tab.work_list,
            user=request.user,
            item=item,
            on=form.cleaned_data.get(date_field),
            comment=form.cleaned_data.get("comment", ""),
        )
    except ActionRefused as exc:
        raise_if_forbidden(exc)
        return refused(exc.message, 409)
    except ValidationError as exc:
        attach_errors(form, exc)
        return refused(" ".join(exc.messages), 400)
    messages.success(request, tab.done % {"item": label})
    # The action URLs carry the list's filters and page, so the person lands where they were.
    query = request.GET.urlencode()
    return redirect(reverse("verification:awaiting") + (f"?{query}" if query else ""))


# --- Policy ---------------------------------------------------------------------------------------


@allowed(can_read_policy)
@require_http_methods(["GET", "POST"])
def policy(request: HttpRequest) -> HttpResponse:
    current = VerificationPolicy.current()
    can_edit = is_pmu(request.user)
    form = PolicyForm(instance=current) if can_edit else None
    status = 200
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied
        form = PolicyForm(request.POST, instance=VerificationPolicy.current())
        if form.is_valid():
            try:
                services.update_policy(user=request.user, **form.cleaned_data)
            except ValidationError as exc:
                attach_errors(form, exc)
            else:
                messages.success(request, _("Verification policy saved."))
                return redirect("verification:policy")
        status = 400
    return render(
        request,
        "verification/policy.html",
        {
            "policy": current,
            "form": form,
            "history": current.history.select_related("history_user").order_by("-history_date")[:50],
        },
        status=status,
    )
