"""Pages of independent verification. Views stay thin: rules are in services, the lifecycle engine
(subprojects.workflow, hooks in verification.checks), verification.rates and the enterprise services.

Refusals: a role that may not act gets 403; another PO's check, or a pending one for PO staff, is a
404; a refused action shows the unchanged page again with the reason and what was typed (409), a form
with a mistake with the mistake named by field (400).
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.errors import ActionRefused
from core.permissions import get_visible_or_404, is_pmu
from enterprises import services as enterprise_services
from enterprises.models import Adoption, CommonServiceFacility
from subprojects import workflow
from verification import sampling, services, work
from verification.files import image_response
from verification.filters import CheckFilter
from verification.forms import AwaitingFilterForm, CheckResultForm, DrawRoundForm, PolicyForm, VerifyForm
from verification.models import CheckStatus, VerificationCheck, VerificationPolicy, VerificationRound
from verification.permissions import (
    allowed,
    can_follow_rounds,
    can_read_checks,
    can_read_policy,
    is_independent,
)
from verification.rates import confirmation_rates, overall

PAGE_SIZE = 50


def _querystring(request: HttpRequest, *without: str) -> str:
    params = request.GET.copy()
    for name in without:
        params.pop(name, None)
    return params.urlencode()


def _attach(form, exc: ValidationError) -> None:
    for name, errors in exc.message_dict.items():
        form.add_error(name if name in form.fields else None, errors)


# --- Rounds ---------------------------------------------------------------------------------------


def _rounds_page(request: HttpRequest, form: DrawRoundForm | None = None, status: int = 200) -> HttpResponse:
    rounds = VerificationRound.objects.select_related("drawn_by").annotate(
        sampled=Count("checks"), done=Count("checks", filter=~Q(checks__status=CheckStatus.PENDING))
    )
    can_draw = is_pmu(request.user)
    if can_draw and form is None:
        form = DrawRoundForm()
    return render(
        request,
        "verification/round_list.html",
        {
            "rounds": rounds,
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
        _attach(form, exc)
        return _rounds_page(request, form, status=400)
    except ActionRefused as exc:
        if exc.code == "forbidden":
            raise PermissionDenied(exc.message) from exc
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
    policy = VerificationPolicy.current()
    rates = confirmation_rates(round=round_, threshold=policy.threshold_percent)
    strata = list(round_.strata.select_related("partner_organization").order_by("partner_organization__code"))
    rows = [(stratum, rates.get(stratum.partner_organization_id)) for stratum in strata]
    totals = {
        "adoptions": sum(s.adoptions for s in strata),
        "profiles": sum(s.profiles for s in strata),
        "facilities": sum(s.facilities for s in strata),
        "population": sum(s.population for s in strata),
        "sample_size": sum(s.sample_size for s in strata),
    }
    return render(
        request,
        "verification/round_detail.html",
        {
            "round": round_,
            "rows": rows,
            "totals": totals,
            "overall": overall(rates, policy.threshold_percent),
            "policy": policy,
            "flagged": sum(1 for rate in rates.values() if rate.flagged),
        },
    )


# --- Checks ---------------------------------------------------------------------------------------


@allowed(can_read_checks)
@require_GET
def check_list(request: HttpRequest) -> HttpResponse:
    checks = VerificationCheck.objects.visible_to(request.user).select_related(
        "round", "partner_organization", "district", "checked_by"
    )
    filterset = CheckFilter(request.GET or None, queryset=checks, request=request)
    page = Paginator(
        filterset.qs.order_by("-round__year", "-round__quarter", "status", "pk"), PAGE_SIZE
    ).get_page(request.GET.get("page"))
    for field in filterset.form.fields.values():
        field.widget.attrs.setdefault("class", "form-select form-select-sm")
    return render(
        request,
        "verification/check_list.html",
        {
            "filter_form": filterset.form,
            "show_po": request.user.sees_whole_programme or is_independent(request.user),
            "page_obj": page,
            "paginator": page.paginator,
            "querystring": _querystring(request, "page"),
        },
    )


CHECK_DETAIL_RELATED = (
    "round",
    "partner_organization",
    "district",
    "checked_by",
    "adoption__enterprise__district",
    "adoption__enterprise__upazila",
    "adoption__practice",
    "adoption__reported_by",
    "adoption__verified_by",
    "profile__enterprise__district",
    "profile__enterprise__upazila",
    "profile__validated_by",
    "facility__district",
    "facility__upazila",
    "facility__operational_confirmed_by",
)


def _check_page(
    request: HttpRequest,
    check: VerificationCheck,
    *,
    form: CheckResultForm | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    rules = workflow.available_rules(request.user, check)
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
    return get_visible_or_404(
        VerificationCheck.objects.select_related(*CHECK_DETAIL_RELATED), request.user, pk=pk
    )


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
        rule = workflow.get_rule(VerificationCheck, action)
    except ActionRefused as exc:
        raise PermissionDenied(exc.message) from exc
    if not workflow.may_act(request.user, check, rule):
        raise PermissionDenied
    form = CheckResultForm(request.POST, request.FILES, check=check, action=action)
    if not form.is_valid():
        return _check_page(request, check, form=form, status=400)
    data = form.cleaned_data
    try:
        workflow.apply(
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
        if exc.code == "forbidden":
            raise PermissionDenied(exc.message) from exc
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


@require_GET
def adoption_photo(request: HttpRequest, pk: int) -> HttpResponse:
    """The PO's evidence photo of an adoption: to the independent verifiers (who read no field data
    otherwise) and to whoever may see the adoption."""
    if not request.user.is_authenticated:
        from django.contrib.auth.views import redirect_to_login

        return redirect_to_login(request.get_full_path())
    adoptions = (
        Adoption.objects.all() if is_independent(request.user) else Adoption.objects.visible_to(request.user)
    )
    return image_response(get_object_or_404(adoptions, pk=pk).evidence_photo)


# --- Awaiting independent verification ------------------------------------------------------------

AWAITING_KINDS = ("adoptions", "facilities")


def _awaiting_page(
    request: HttpRequest, *, kind: str = "", failed: dict | None = None, status: int = 200
) -> HttpResponse:
    kind = kind or request.GET.get("kind", "adoptions")
    if kind not in AWAITING_KINDS:
        kind = "adoptions"
    filters = AwaitingFilterForm(request.GET or None)
    chosen = filters.cleaned_data if filters.is_valid() else None
    querysets = {
        "adoptions": work.awaiting_adoptions(chosen),
        "facilities": work.awaiting_facilities(chosen),
    }
    for field in filters.fields.values():
        field.widget.attrs.setdefault("class", "form-select form-select-sm")
    other = "facilities" if kind == "adoptions" else "adoptions"
    page = Paginator(querysets[kind], PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "verification/awaiting.html",
        {
            "kind": kind,
            "counts": {kind: page.paginator.count, other: querysets[other].count()},
            "filter_form": filters,
            "page_obj": page,
            "paginator": page.paginator,
            "querystring": _querystring(request, "page"),
            "filter_querystring": _querystring(request, "page", "kind"),
            "action_querystring": request.GET.urlencode(),
            "failed": failed or {},
            "blank_form": VerifyForm(),
        },
        status=status,
    )


@allowed(is_independent)
@require_GET
def awaiting(request: HttpRequest) -> HttpResponse:
    return _awaiting_page(request)


def _verify_from_list(request: HttpRequest, kind: str, pk: int, call) -> HttpResponse | None:
    """Run the enterprise service with the row's date and comment. None when done; otherwise the list
    again, unchanged, with the row's form as typed and the reason."""
    form = VerifyForm(request.POST)
    if not form.is_valid():
        return _awaiting_page(request, kind=kind, failed={"pk": pk, "form": form}, status=400)
    try:
        call(on=form.cleaned_data["on"], comment=form.cleaned_data["comment"])
    except ActionRefused as exc:
        if exc.code == "forbidden":
            raise PermissionDenied(exc.message) from exc
        return _awaiting_page(
            request, kind=kind, failed={"pk": pk, "form": form, "error": exc.message}, status=409
        )
    except ValidationError as exc:
        error = " ".join(exc.messages)
        return _awaiting_page(request, kind=kind, failed={"pk": pk, "form": form, "error": error}, status=400)
    return None


def _back_to_list(request: HttpRequest) -> HttpResponse:
    # The action URLs carry the list's filters and page, so the person lands where they were.
    query = request.GET.urlencode()
    return redirect(reverse("verification:awaiting") + (f"?{query}" if query else ""))


@allowed(is_independent)
@require_POST
def awaiting_adoption_verify(request: HttpRequest, pk: int) -> HttpResponse:
    adoption = get_object_or_404(Adoption.objects.select_related("enterprise", "practice"), pk=pk)
    refused = _verify_from_list(
        request,
        "adoptions",
        pk,
        lambda on, comment: enterprise_services.verify_adoption(
            user=request.user, adoption=adoption, verified_on=on, comment=comment
        ),
    )
    if refused:
        return refused
    messages.success(
        request,
        _("%(practice)s at %(code)s · %(me)s verified.")
        % {
            "practice": adoption.practice.code,
            "code": adoption.enterprise.po_code,
            "me": adoption.enterprise.name,
        },
    )
    return _back_to_list(request)


@allowed(is_independent)
@require_POST
def awaiting_facility_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    facility = get_object_or_404(CommonServiceFacility, pk=pk)
    refused = _verify_from_list(
        request,
        "facilities",
        pk,
        lambda on, comment: enterprise_services.confirm_facility_operational(
            user=request.user, facility=facility, on=on, comment=comment
        ),
    )
    if refused:
        return refused
    messages.success(request, _("%(facility)s confirmed operational.") % {"facility": facility.name})
    return _back_to_list(request)


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
                _attach(form, exc)
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
