"""Pages of the exclusion list and of the PMU's E&S review of high-risk proposals. Views stay thin:
the rules are in safeguards.exclusions, safeguards.reviews and the lifecycle engine.

Refusals: a role that may not act gets 403; a review of another PO's proposal is a 404, exactly like a
missing one; a decision not possible now shows the page again, unchanged, with the reason and what
was typed (409).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from core import lifecycle
from core.errors import ActionRefused
from core.lifecycle.views import action_buttons, raise_if_forbidden
from core.lists import Listing, SortSpec
from core.permissions import get_visible_or_404
from safeguards import exclusions, reviews
from safeguards.models import EsReview, ExclusionItem
from safeguards.review_forms import ConditionsForm, ExclusionItemForm, ReviewFilterForm
from subprojects.timeline import timeline

PAGE_SIZE = 50


# --- E&S reviews ---------------------------------------------------------------------------------


def _reviews(user):
    return EsReview.objects.visible_to(user).select_related(
        "proposal__partner_organization", "proposal__call", "decided_by"
    )


# The longest waiting in its state first.
REVIEW_SORTS = SortSpec(
    {
        "review": ("pk",),
        "proposal": ("proposal_id",),
        "po": ("proposal__partner_organization__code",),
        "status": ("status",),
        "since": ("status_changed_at",),
        "decided_by": ("decided_by__first_name", "decided_by__last_name", "decided_by__username"),
    },
    default="since",
)


@login_required
def review_list(request: HttpRequest) -> HttpResponse:
    if not reviews.may_read_reviews(request.user):
        raise PermissionDenied
    form = ReviewFilterForm(request.GET or None)
    queryset = _reviews(request.user)
    if form.is_valid() and form.cleaned_data["status"]:
        queryset = queryset.filter(status=form.cleaned_data["status"])
    listing = Listing(request, sort=REVIEW_SORTS, per_page=PAGE_SIZE)
    return render(
        request,
        "safeguards/review_list.html",
        {
            "filter_form": form,
            **listing.page(listing.order(queryset)),
            "show_po": request.user.sees_whole_programme,
        },
    )


def _review_page(
    request: HttpRequest,
    review: EsReview,
    *,
    error: str = "",
    failed_action: str = "",
    typed_comment: str = "",
    conditions_form: ConditionsForm | None = None,
    status: int = 200,
) -> HttpResponse:
    user = request.user
    clear_with_conditions = lifecycle.get_rule(EsReview, "clear_with_conditions")
    may_condition = clear_with_conditions in lifecycle.available_rules(user, review)
    if may_condition and conditions_form is None:
        conditions_form = ConditionsForm(prefix="clear_with_conditions")
    proposal = review.proposal
    return render(
        request,
        "safeguards/review_detail.html",
        {
            "review": review,
            "proposal": proposal,
            "actions": action_buttons(
                user,
                review,
                ("clear_with_conditions",),
                failed_action=failed_action,
                typed_comment=typed_comment,
            ),
            "conditions_form": conditions_form if may_condition else None,
            "action_error": error,
            "es": reviews.proposal_es_context(proposal, user),
            "timeline": timeline(review),
        },
        status=status,
    )


@login_required
def review_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _review_page(request, get_visible_or_404(_reviews(request.user), request.user, pk=pk))


@require_POST
@login_required
def review_transition(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """One decision from the review's page; "clear with conditions" takes its conditions, one a line."""
    review = get_visible_or_404(_reviews(request.user), request.user, pk=pk)
    try:
        rule = lifecycle.get_rule(EsReview, action)
    except ActionRefused as exc:
        raise PermissionDenied(str(exc)) from exc
    try:
        lifecycle.check_may_act(request.user, review, rule)  # logged as a refused transition
    except ActionRefused as exc:
        raise PermissionDenied from exc
    params = {}
    conditions_form = None
    if action == "clear_with_conditions":
        conditions_form = ConditionsForm(request.POST, prefix=action)
        conditions_form.is_valid()  # free text: always valid in shape
        comment = conditions_form.cleaned_data.get("comment", "")
        params["conditions"] = reviews.clean_conditions(conditions_form.cleaned_data.get("conditions", ""))
    else:
        comment = request.POST.get(f"{action}-comment", "")
    try:
        lifecycle.apply(review, action, request.user, comment=comment, **params)
    except ActionRefused as exc:
        raise_if_forbidden(exc)
        review = get_visible_or_404(_reviews(request.user), request.user, pk=pk)
        return _review_page(
            request,
            review,
            error=str(exc),
            failed_action=action,
            typed_comment=comment,
            conditions_form=conditions_form,
            status=409,
        )
    review.refresh_from_db()
    messages.success(
        request,
        _("%(ref)s: %(action)s done. It is now %(state)s.")
        % {"ref": review.reference, "action": rule.label, "state": review.get_status_display()},
    )
    return redirect(review.get_absolute_url())


# --- The exclusion list ----------------------------------------------------------------------------


@login_required
def exclusion_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "safeguards/exclusion_list.html",
        {
            "items": ExclusionItem.objects.visible_to(request.user).order_by("-active", "position", "name"),
            "can_manage": exclusions.may_manage_exclusions(request.user),
        },
    )


def _require_manager(request: HttpRequest) -> None:
    if not exclusions.may_manage_exclusions(request.user):
        raise PermissionDenied(_("Only the PMU (PMU officers and E&S officers) keeps the exclusion list."))


def _exclusion_form(request: HttpRequest, item: ExclusionItem | None) -> HttpResponse:
    _require_manager(request)
    form = ExclusionItemForm(request.POST or None, instance=item)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = {name: form.cleaned_data[name] for name in exclusions.EDITABLE_FIELDS}
            try:
                if item is None:
                    saved = exclusions.create_item(user=request.user, data=data)
                else:
                    saved = exclusions.update_item(user=request.user, item=item, data=data)
            except ActionRefused as exc:
                raise_if_forbidden(exc)
                form.add_error(None, str(exc))
                status = 409
            else:
                messages.success(request, _("Exclusion-list item “%(name)s” saved.") % {"name": saved.name})
                return redirect("safeguards:exclusion-list")
        else:
            status = 400
    return render(request, "safeguards/exclusion_form.html", {"form": form, "item": item}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def exclusion_create(request: HttpRequest) -> HttpResponse:
    return _exclusion_form(request, None)


@login_required
@require_http_methods(["GET", "POST"])
def exclusion_edit(request: HttpRequest, pk: int) -> HttpResponse:
    _require_manager(request)
    return _exclusion_form(request, get_object_or_404(ExclusionItem, pk=pk))


@login_required
@require_POST
def exclusion_retire(request: HttpRequest, pk: int) -> HttpResponse:
    _require_manager(request)
    item = get_object_or_404(ExclusionItem, pk=pk)
    try:
        exclusions.retire_item(user=request.user, item=item)
    except ActionRefused as exc:
        raise_if_forbidden(exc)
        messages.error(request, str(exc))
    else:
        messages.success(request, _("“%(name)s” is no longer in force.") % {"name": item.name})
    return redirect("safeguards:exclusion-list")
