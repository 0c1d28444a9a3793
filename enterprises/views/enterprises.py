"""Pages of the enterprise registry: the list, one enterprise with everything about it, and the
forms that add field records to it."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Sum
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from core import lifecycle
from core.errors import ActionRefused, Conflict
from core.exports import export_or_refuse
from core.lifecycle.views import raise_if_forbidden
from core.lists import Listing, SortSpec
from core.models import Upazila
from core.permissions import get_visible_or_404
from core.uploads import file_response
from enterprises import duplicates, recp, services
from enterprises.charts import kpi_charts
from enterprises.decisions import decisions_of
from enterprises.exports import ENTERPRISE_RELATED, enterprise_columns
from enterprises.filters import EnterpriseFilter
from enterprises.forms import (
    AdoptionForm,
    AttendanceForm,
    CommentForm,
    EnterpriseForm,
    FinancialSupportForm,
    KpiReadingForm,
    RecpProfileForm,
    VerifyAdoptionForm,
)
from enterprises.models import (
    Adoption,
    Attendance,
    DuplicateSuspect,
    Enterprise,
    FinancialSupport,
    KpiReading,
    RecpProfile,
)
from enterprises.permissions import can_enter_for, field_data_reader, is_independent_checker
from enterprises.views.base import (
    attach_errors,
    programme_start_note,
    refuse,
    style_form,
    timelines_for,
    verification_text,
)


def _enterprise(request: HttpRequest, pk: int) -> Enterprise:
    return get_visible_or_404(
        Enterprise.objects.select_related(
            "partner_organization",
            "sub_project__sector",
            "sub_sector__sector__business_area",
            "division",
            "district",
            "upazila",
            "cluster",
        ),
        request.user,
        pk=pk,
    )


def _require_entry(request: HttpRequest, enterprise: Enterprise) -> None:
    if not can_enter_for(request.user, enterprise.partner_organization_id):
        raise PermissionDenied


# --- List -----------------------------------------------------------------------------------------

# The columns of the list that sort it (the figures computed per page do not); newest first by default.
ENTERPRISE_SORTS = SortSpec(
    {
        "code": ("po_code",),
        "name": ("name",),
        "owner": ("owner_name",),
        "sub_sector": ("sub_sector__name",),
        "place": ("district__name", "upazila__name"),
        "po": ("partner_organization__code",),
        "profile": ("recp_profile__status",),
        "registered": ("registered_on",),
    },
    fallback=("-pk",),
)
# What a row of the page shows. Only these are joined: with the export's eleven tables PostgreSQL
# spent 15-35 ms planning the join order of a query that runs in 1 ms.
ROW_RELATED = ("partner_organization", "sub_sector", "district", "upazila", "recp_profile")


@field_data_reader
@require_GET
def enterprise_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    base = Enterprise.objects.visible_to(user)
    filterset = EnterpriseFilter(request.GET or None, queryset=base, request=request)
    # `?ordering=` (the API's, and older links') is kept when no column is asked for. 80,000 rows:
    # paged by position (Next/Previous), the count capped (core.lists.KeysetPage).
    listing = Listing(request, sort=ENTERPRISE_SORTS, keep=("ordering",), keyset=True)
    queryset = filterset.qs
    if listing.sorting.asked or not request.GET.get("ordering"):
        queryset = listing.order(queryset)
    else:
        listing.keyset = False  # the filter set's order: numbered pages
    file_format = request.GET.get("export")
    if file_format in {"csv", "xlsx"}:
        rows = queryset.select_related(*ENTERPRISE_RELATED, "duplicate_of__partner_organization")
        return export_or_refuse(request, rows, enterprise_columns(user), file_format, "enterprises")
    context = listing.page(queryset.select_related(*ROW_RELATED))
    page = context["page_obj"]
    ids = [me.pk for me in page.object_list]
    # Per-page figures: one grouped query each, for the 50 rows shown only.
    practices = dict(
        Adoption.objects.verified_independently()
        .filter(enterprise_id__in=ids)
        .values_list("enterprise_id")
        .annotate(n=Count("practice_id", distinct=True))
    )
    supported = dict(
        FinancialSupport.objects.filter(enterprise_id__in=ids)
        .values_list("enterprise_id")
        .annotate(total=Sum("amount"))
    )
    suspected = set()
    for pair in (
        DuplicateSuspect.objects.open()
        .involving_any(ids)
        .values_list("enterprise_id", "matched_enterprise_id")
    ):
        suspected.update(pair)
    rows = [
        {
            "me": me,
            "practices": practices.get(me.pk, 0),
            "support": supported.get(me.pk),
            "suspected": me.pk in suspected,
            "profile": getattr(me, "recp_profile", None),
        }
        for me in page.object_list
    ]
    form = style_form(filterset.form)
    main = {"q", "partner_organization", "sub_sector", "district", "owner_gender"}
    # Upazilas (507) and clusters are filters for URLs and the API; a select of them helps nobody.
    # The order is chosen by the columns' headers.
    hidden = {"upazila", "cluster", "ordering"} | (
        set() if user.sees_whole_programme else {"partner_organization"}
    )
    return render(
        request,
        "enterprises/enterprise_list.html",
        {
            "filter_form": form,
            "more_filters": [form[name] for name in form.fields if name not in main | hidden],
            "rows": rows,
            **context,
            "can_enter": can_enter_for(user, user.partner_organization_id),
            "show_po": user.sees_whole_programme,
        },
    )


# --- One enterprise -------------------------------------------------------------------------------


def _detail_context(request: HttpRequest, enterprise: Enterprise) -> dict:
    from safeguards.screening_views import enterprise_section

    user = request.user
    readings = list(enterprise.kpi_readings.select_related("kpi").order_by("kpi__position", "period"))
    profile = (
        RecpProfile.objects.filter(enterprise=enterprise)
        .select_related("enterprise", "prepared_by", "validated_by")
        .prefetch_related("recommended_practices")
        .first()
    )
    adoptions = list(enterprise.adoptions.select_related("practice", "reported_by", "verified_by"))
    # Each adoption's verification and its history (core.lifecycle's log rows), in one query.
    histories = timelines_for(adoptions)
    for adoption in adoptions:
        adoption.verification_label = verification_text(adoption)
        adoption.history = histories.get(adoption.pk, [])
    context = {
        "enterprise": enterprise,
        "supports": enterprise.financial_supports.all(),
        "support_total": enterprise.financial_supports.aggregate(total=Sum("amount"))["total"],
        "programme_start_note": programme_start_note(),
        "attendances": enterprise.attendances.select_related("session__module").order_by("-session__held_on"),
        "adoptions": adoptions,
        "profile": profile,
        "profile_actions": lifecycle.available_rules(user, profile) if profile else [],
        "profile_history": decisions_of(profile) if profile else [],
        "comment_form": CommentForm(),
        "readings": readings,
        "charts": kpi_charts(readings),
        "facilities": enterprise.facilities_used.all(),
        "can_enter": can_enter_for(user, enterprise.partner_organization_id),
        # Never the PO's own staff: verification is independent of whoever reported the adoption.
        "can_verify": is_independent_checker(user),
        "verify_form": VerifyAdoptionForm(),
        "history": enterprise.history.select_related("history_user")[:10],
        # Its E&S screening (which gates financial support) and clearances (safeguards).
        "safeguards": enterprise_section(user, enterprise),
    }
    if user.sees_whole_programme:
        context["suspects"] = (
            DuplicateSuspect.objects.visible_to(user)
            .involving(enterprise)
            .select_related("enterprise__partner_organization", "matched_enterprise__partner_organization")
        )
        if enterprise.duplicate_of_id:
            context["original"] = Enterprise.objects.select_related("partner_organization").get(
                pk=enterprise.duplicate_of_id
            )
    else:
        # The PO learns that a match exists elsewhere, never which enterprise it is.
        context["suspicion"] = duplicates.suspicion_for(enterprise)
    return context


@field_data_reader
@require_GET
def enterprise_detail(request: HttpRequest, pk: int) -> HttpResponse:
    enterprise = _enterprise(request, pk)
    return render(request, "enterprises/enterprise_detail.html", _detail_context(request, enterprise))


def _announce_suspicion(request: HttpRequest, suspicion: duplicates.Suspicion) -> None:
    if suspicion.in_other_po:
        messages.warning(
            request,
            _(
                "A possible duplicate of this enterprise is registered with another PO. "
                "The PMU will review it; "
                "you do not need to do anything unless they ask."
            ),
        )
    if suspicion.own_matches:
        messages.warning(
            request,
            _(
                "It may be the same enterprise as your %(codes)s "
                "(same phone, trade licence or name in the upazila)."
            )
            % {"codes": ", ".join(me.po_code for me in suspicion.own_matches)},
        )


@field_data_reader
def enterprise_create(request: HttpRequest) -> HttpResponse:
    if not can_enter_for(request.user, request.user.partner_organization_id):
        raise PermissionDenied
    form = EnterpriseForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            enterprise, suspicion = services.create_enterprise(user=request.user, data=form.cleaned_data)
        except ValidationError as exc:
            attach_errors(form, exc)
        except Conflict as exc:  # saved by someone else at the same moment (core.integrity)
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("Enterprise %(me)s registered.") % {"me": enterprise})
            _announce_suspicion(request, suspicion)
            return redirect(enterprise)
    return render(request, "enterprises/enterprise_form.html", {"form": form})


@field_data_reader
def enterprise_edit(request: HttpRequest, pk: int) -> HttpResponse:
    enterprise = _enterprise(request, pk)
    _require_entry(request, enterprise)
    form = EnterpriseForm(request.POST or None, instance=enterprise, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            enterprise, suspicion = services.update_enterprise(
                user=request.user, enterprise=enterprise, data=form.cleaned_data
            )
        except ValidationError as exc:
            attach_errors(form, exc)
        except Conflict as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("Changes to %(me)s saved.") % {"me": enterprise})
            _announce_suspicion(request, suspicion)
            return redirect(enterprise)
    return render(
        request,
        "enterprises/enterprise_form.html",
        {"form": form, "enterprise": enterprise},
    )


@field_data_reader
@require_GET
def upazila_options(request: HttpRequest) -> HttpResponse:
    """htmx: the <option>s of one district's upazilas, for the district select's change."""
    district = request.GET.get("district", "")
    if not district.isdigit():
        for key, value in request.GET.items():
            if key.endswith("district") and value.isdigit():
                district = value
                break
    upazilas = Upazila.objects.filter(district_id=district).order_by("name") if district.isdigit() else []
    return render(request, "enterprises/_upazila_options.html", {"upazilas": upazilas})


# --- Records on the enterprise --------------------------------------------------------------------


def _record_form(request, enterprise, form_class, save, title, *, instance=None, anchor="", files=False):
    _require_entry(request, enterprise)
    form = form_class(
        request.POST or None,
        request.FILES or None if files else None,
        instance=instance,
        enterprise=enterprise,
    )
    if request.method == "POST" and form.is_valid():
        try:
            save(form.cleaned_data)
        except ValidationError as exc:
            attach_errors(form, exc)
        except ActionRefused as exc:
            raise_if_forbidden(exc)
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("Saved."))
            return redirect(enterprise.get_absolute_url() + anchor)
    return render(
        request,
        "enterprises/record_form.html",
        {"form": form, "enterprise": enterprise, "title": title, "anchor": anchor},
    )


@field_data_reader
def support_create(request: HttpRequest, pk: int) -> HttpResponse:
    enterprise = _enterprise(request, pk)
    return _record_form(
        request,
        enterprise,
        FinancialSupportForm,
        lambda data: services.add_financial_support(user=request.user, enterprise=enterprise, data=data),
        _("Record financial support"),
        anchor="#support",
    )


@field_data_reader
def support_edit(request: HttpRequest, pk: int) -> HttpResponse:
    support = get_visible_or_404(FinancialSupport.objects.select_related("enterprise"), request.user, pk=pk)
    enterprise = _enterprise(request, support.enterprise_id)
    return _record_form(
        request,
        enterprise,
        FinancialSupportForm,
        lambda data: services.update_financial_support(user=request.user, support=support, data=data),
        _("Edit financial support"),
        instance=support,
        anchor="#support",
    )


@field_data_reader
def attendance_create(request: HttpRequest, pk: int) -> HttpResponse:
    enterprise = _enterprise(request, pk)

    def save(data):
        session = data.pop("session")
        services.add_attendance(user=request.user, session=session, enterprise=enterprise, data=data)

    return _record_form(
        request, enterprise, AttendanceForm, save, _("Record training attendance"), anchor="#trainings"
    )


@field_data_reader
def adoption_create(request: HttpRequest, pk: int) -> HttpResponse:
    enterprise = _enterprise(request, pk)
    return _record_form(
        request,
        enterprise,
        AdoptionForm,
        lambda data: services.add_adoption(user=request.user, enterprise=enterprise, data=data),
        _("Report a RECP practice adopted"),
        anchor="#recp",
        files=True,
    )


@field_data_reader
def adoption_edit(request: HttpRequest, pk: int) -> HttpResponse:
    adoption = get_visible_or_404(Adoption.objects.select_related("enterprise"), request.user, pk=pk)
    enterprise = _enterprise(request, adoption.enterprise_id)
    if adoption.is_verified and can_enter_for(request.user, enterprise.partner_organization_id):
        messages.error(request, _("A verified adoption cannot be changed."))
        return redirect(enterprise.get_absolute_url() + "#recp")
    return _record_form(
        request,
        enterprise,
        AdoptionForm,
        lambda data: services.update_adoption(user=request.user, adoption=adoption, data=data),
        _("Edit a reported RECP practice"),
        instance=adoption,
        anchor="#recp",
        files=True,
    )


@field_data_reader
@require_GET
def adoption_photo(request: HttpRequest, pk: int) -> FileResponse:
    """The evidence photo, only to those who may see the adoption's PO."""
    adoption = get_visible_or_404(Adoption.objects.all(), request.user, pk=pk)
    return file_response(adoption.evidence_photo, inline=True)


@field_data_reader
@require_POST
def adoption_verify(request: HttpRequest, pk: int) -> HttpResponse:
    """A refusal or a date that is not one comes back on the enterprise's page, with what was typed
    in that adoption's form: 400 with the field's error, 409 with the reason (the state or the date
    does not fit); 403 for anyone who may not verify."""
    adoption = get_visible_or_404(
        Adoption.objects.select_related("enterprise", "practice"), request.user, pk=pk
    )
    if not is_independent_checker(request.user):
        raise PermissionDenied
    back = adoption.enterprise.get_absolute_url() + "#recp"
    form = VerifyAdoptionForm(request.POST)
    if not form.is_valid():
        return _detail_again(request, adoption, form, status=400)
    try:
        services.verify_adoption(
            user=request.user,
            adoption=adoption,
            verified_on=form.cleaned_data["verified_on"],
            comment=form.cleaned_data["comment"],
        )
    except ActionRefused as exc:
        raise_if_forbidden(exc)
        return _detail_again(request, adoption, form, status=409, error=exc.message)
    messages.success(request, _("Adoption of %(code)s verified.") % {"code": adoption.practice.code})
    return redirect(back)


def _detail_again(
    request: HttpRequest, adoption: Adoption, form: VerifyAdoptionForm, *, status: int, error: str = ""
) -> HttpResponse:
    """The enterprise's page again, unchanged, with this adoption's verify form as it was sent."""
    context = _detail_context(request, _enterprise(request, adoption.enterprise_id))
    for shown in context["adoptions"]:
        if shown.pk == adoption.pk:
            shown.verify_form = form
    context["action_error"] = error
    return render(request, "enterprises/enterprise_detail.html", context, status=status)


@field_data_reader
def reading_create(request: HttpRequest, pk: int) -> HttpResponse:
    enterprise = _enterprise(request, pk)
    return _record_form(
        request,
        enterprise,
        KpiReadingForm,
        lambda data: services.add_kpi_reading(user=request.user, enterprise=enterprise, data=data),
        _("Record a KPI reading"),
        anchor="#kpis",
    )


@field_data_reader
def reading_edit(request: HttpRequest, pk: int) -> HttpResponse:
    reading = get_visible_or_404(KpiReading.objects.select_related("enterprise"), request.user, pk=pk)
    enterprise = _enterprise(request, reading.enterprise_id)
    return _record_form(
        request,
        enterprise,
        KpiReadingForm,
        lambda data: services.update_kpi_reading(user=request.user, reading=reading, data=data),
        _("Edit a KPI reading"),
        instance=reading,
        anchor="#kpis",
    )


RECORD_MODELS = {
    "support": FinancialSupport,
    "attendance": Attendance,
    "adoption": Adoption,
    "reading": KpiReading,
}
ANCHORS = {"support": "#support", "attendance": "#trainings", "adoption": "#recp", "reading": "#kpis"}


@field_data_reader
@require_POST
def record_delete(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    model = RECORD_MODELS.get(kind)
    if model is None:
        raise Http404
    record = get_visible_or_404(model.objects.select_related("enterprise"), request.user, pk=pk)
    back = record.enterprise.get_absolute_url() + ANCHORS[kind]
    try:
        services.delete_record(user=request.user, record=record)
    except ActionRefused as exc:
        return refuse(request, exc, back)
    messages.success(request, _("Deleted."))
    return redirect(back)


# --- RECP profile ---------------------------------------------------------------------------------


@field_data_reader
def profile_edit(request: HttpRequest, pk: int) -> HttpResponse:
    enterprise = _enterprise(request, pk)
    profile = RecpProfile.objects.filter(enterprise=enterprise).first()
    if profile is not None and not profile.is_editable:
        messages.error(
            request,
            _("The profile is %(status)s: only a draft can be edited.")
            % {"status": profile.get_status_display()},
        )
        return redirect(enterprise.get_absolute_url() + "#recp-profile")
    return _record_form(
        request,
        enterprise,
        RecpProfileForm,
        lambda data: recp.save_profile(user=request.user, enterprise=enterprise, data=data, profile=profile),
        _("RECP profile"),
        instance=profile,
        anchor="#recp-profile",
        files=True,
    )


@field_data_reader
@require_POST
def profile_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    enterprise = _enterprise(request, pk)
    profile = RecpProfile.objects.filter(enterprise=enterprise).first()
    if profile is None:
        raise Http404
    try:
        rule = lifecycle.get_rule(RecpProfile, action)
    except ActionRefused as exc:
        raise PermissionDenied(str(exc)) from exc
    form = CommentForm(request.POST)
    form.is_valid()
    comment = form.cleaned_data.get("comment", "")
    # The rule's own parameters (the validation date `on`), when given; the rule's guard checks them.
    params = {name: form.cleaned_data[name] for name in rule.params if form.cleaned_data.get(name)}
    try:
        lifecycle.apply(profile, action, request.user, comment=comment, **params)
    except ActionRefused as exc:
        raise_if_forbidden(exc)
        # The page again, unchanged, with the reason and what was typed.
        context = _detail_context(request, enterprise)
        context.update(action_error=str(exc), comment_form=CommentForm(initial={"comment": comment}))
        return render(request, "enterprises/enterprise_detail.html", context, status=409)
    messages.success(request, _("RECP profile: %(action)s done.") % {"action": rule.label})
    return redirect(enterprise.get_absolute_url() + "#recp-profile")


@field_data_reader
@require_GET
def profile_report(request: HttpRequest, pk: int) -> FileResponse:
    profile = get_visible_or_404(RecpProfile.objects.all(), request.user, enterprise_id=pk)
    return file_response(profile.report, name=profile.report_name or "report")
