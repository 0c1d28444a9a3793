"""Lists of field records across enterprises (each filterable and exportable), training sessions
(and the PMU's mapping of sessions to modules), common service facilities (and their independent
confirmation) and the catalogues (RECP practices, KPIs, training modules)."""

from __future__ import annotations

from collections.abc import Callable

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, F, IntegerField, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import date as format_date
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views import View
from django.views.decorators.http import require_GET, require_POST

from core.errors import ActionRefused, Conflict
from core.lifecycle.views import raise_if_forbidden
from core.lists import Listing, SortSpec
from core.numbers import group
from core.permissions import get_visible_or_404, is_pmu
from core.reference_names import translated_name
from enterprises import exports, filters, services
from enterprises.decisions import decisions_of
from enterprises.forms import (
    AssignModuleForm,
    CommentForm,
    FacilityForm,
    SessionAttendanceForm,
    TrainingModuleForm,
    TrainingSessionForm,
    module_label,
)
from enterprises.models import (
    Adoption,
    Attendance,
    CommonServiceFacility,
    FinancialSupport,
    Kpi,
    KpiReading,
    RecpPractice,
    RecpProfile,
    TrainingModule,
    TrainingSession,
)
from enterprises.permissions import can_enter_for, field_data_reader, is_independent_checker
from enterprises.validation import plain_number
from enterprises.views.base import (
    RecordListView,
    TableColumn,
    attach_errors,
    confirmation_text,
    decisions_for,
    module_cell,
    programme_start_note,
    refuse,
    unmapped_badge,
    verification_text,
)
from subprojects.timeline import _display as display_value


def _me_link(record) -> str:
    return reverse("enterprises:enterprise-detail", args=[record.enterprise_id])


ME_COLUMNS = (
    TableColumn(
        _lazy("ME code"),
        lambda r: r.enterprise.po_code,
        _me_link,
        sort_key="me",
        sort_by=("enterprise__po_code",),
    ),
    TableColumn(
        _lazy("Enterprise"), lambda r: r.enterprise.name, sort_key="enterprise", sort_by=("enterprise__name",)
    ),
)


@field_data_reader
@require_GET
def field_data(request: HttpRequest) -> HttpResponse:
    """The hub: every field-data list, with its size in the user's scope (one count each)."""
    user = request.user
    sections = [
        (
            _("Financial support"),
            "enterprises:support-list",
            FinancialSupport,
            _("Loans and grants disbursed to MEs."),
        ),
        (
            _("Training sessions"),
            "enterprises:training-list",
            TrainingSession,
            _("Trainings held by the POs, each of a module of the PMU's catalogue."),
        ),
        (
            _("Training attendance"),
            "enterprises:attendance-list",
            Attendance,
            _("Who attended, with pre- and post-test scores."),
        ),
        (
            _("RECP adoptions"),
            "enterprises:adoption-list",
            Adoption,
            _("Practices adopted by MEs, and their verification."),
        ),
        (
            _("RECP profiles"),
            "enterprises:profile-list",
            RecpProfile,
            _("Climate-resilient RECP profiles: prepared by POs, validated by the PMU."),
        ),
        (
            _("KPI readings"),
            "enterprises:reading-list",
            KpiReading,
            _("Monthly environmental KPI values, with baselines."),
        ),
        (
            _("Common service facilities"),
            "enterprises:facility-list",
            CommonServiceFacility,
            _("Shared facilities of the sub-projects."),
        ),
    ]
    cards = [
        {"title": title, "url": reverse(url), "count": model.objects.visible_to(user).count(), "text": text}
        for title, url, model, text in sections
    ]
    unmapped = TrainingSession.objects.visible_to(user).filter(module__isnull=True).count()
    return render(
        request,
        "enterprises/field_data.html",
        {
            "cards": cards,
            "can_enter": can_enter_for(user, user.partner_organization_id),
            "unmapped_sessions": unmapped,
            "is_pmu": is_pmu(user),
        },
    )


def _disbursed_cell(support: FinancialSupport):
    if support.is_before_programme_start:
        return format_html(
            '{} <span class="badge text-bg-warning" data-testid="before-programme">{}</span>',
            format_date(support.disbursed_on, "DATE_FORMAT"),
            programme_start_note(),
        )
    return support.disbursed_on


# --- Records across enterprises -------------------------------------------------------------------


class SupportList(RecordListView):
    title = _lazy("Financial support")
    model = FinancialSupport
    filterset_class = filters.FinancialSupportFilter
    related = ("enterprise__partner_organization",)
    ordering = ("-disbursed_on", "-pk")
    default_sort = "-disbursed"
    nothing_yet = _lazy("No financial support has been recorded yet.")
    table = (
        *ME_COLUMNS,
        TableColumn(
            _lazy("PO"),
            lambda s: s.enterprise.partner_organization.code,
            sort_key="po",
            sort_by=("enterprise__partner_organization__code",),
        ),
        TableColumn(_lazy("Type"), lambda s: s.get_kind_display(), sort_key="kind"),
        TableColumn(_lazy("Amount (BDT)"), lambda s: group(s.amount), numeric=True, sort_key="amount"),
        TableColumn(_lazy("Financed by"), exports.financier_label, sort_key="financier"),
        TableColumn(_lazy("Disbursed on"), _disbursed_cell, sort_key="disbursed", sort_by=("disbursed_on",)),
        TableColumn(_lazy("Reference"), lambda s: s.reference, sort_key="reference"),
    )
    export_columns = staticmethod(exports.financial_support_columns)
    export_name = "financial-supports"


class AttendanceList(RecordListView):
    title = _lazy("Training attendance")
    model = Attendance
    filterset_class = filters.AttendanceFilter
    related = ("enterprise__partner_organization", "session__module")
    ordering = ("-session__held_on", "-pk")
    default_sort = "-held"
    keyset = True
    nothing_yet = _lazy("No training attendance has been recorded yet.")
    table = (
        *ME_COLUMNS,
        TableColumn(
            _lazy("Session"),
            lambda a: a.session.po_code,
            lambda a: a.session.get_absolute_url(),
            sort_key="session",
            sort_by=("session__po_code",),
        ),
        TableColumn(
            _lazy("Module"),
            lambda a: module_cell(a.session),
            sort_key="module",
            sort_by=("session__module__code",),
        ),
        TableColumn(
            _lazy("Held on"), lambda a: a.session.held_on, sort_key="held", sort_by=("session__held_on",)
        ),
        TableColumn(
            _lazy("Pre-test"),
            lambda a: a.pre_test_score,
            numeric=True,
            sort_key="pre",
            sort_by=("pre_test_score",),
        ),
        TableColumn(
            _lazy("Post-test"),
            lambda a: a.post_test_score,
            numeric=True,
            sort_key="post",
            sort_by=("post_test_score",),
        ),
    )
    export_columns = staticmethod(exports.attendance_columns)
    export_name = "attendances"


class AdoptionList(RecordListView):
    title = _lazy("RECP adoptions")
    model = Adoption
    filterset_class = filters.AdoptionFilter
    intro = _lazy(
        "PO staff report each adoption with what their officer saw; it counts once the PMU or a verifier "
        "has verified it."
    )
    related = ("enterprise__partner_organization", "practice", "reported_by", "verified_by")
    ordering = ("-adopted_on", "-pk")
    default_sort = "-adopted"
    keyset = True
    nothing_yet = _lazy("No RECP adoption has been reported yet.")
    table = (
        *ME_COLUMNS,
        TableColumn(
            _lazy("Practice"),
            lambda a: f"{a.practice.code} · {translated_name(a.practice.name)}",
            sort_key="practice",
            sort_by=("practice__code",),
        ),
        TableColumn(
            _lazy("Category"),
            lambda a: a.practice.get_category_display(),
            sort_key="category",
            sort_by=("practice__category",),
        ),
        TableColumn(_lazy("Adopted on"), lambda a: a.adopted_on, sort_key="adopted", sort_by=("adopted_on",)),
        TableColumn(
            _lazy("Seen in use on"),
            lambda a: a.evidence_observed_on or "—",
            sort_key="seen",
            sort_by=("evidence_observed_on",),
        ),
        TableColumn(_lazy("Verification"), verification_text),
    )
    export_columns = staticmethod(exports.adoption_columns)
    export_name = "recp-adoptions"


class ProfileList(RecordListView):
    title = _lazy("RECP profiles")
    intro = _lazy("PO staff prepare each profile; a PMU officer validates it (or returns it with a comment).")
    model = RecpProfile
    filterset_class = filters.RecpProfileFilter
    related = ("enterprise__partner_organization", "validated_by")
    ordering = ("-pk",)
    nothing_yet = _lazy("No RECP profile has been prepared yet.")
    table = (
        *ME_COLUMNS,
        TableColumn(
            _lazy("PO"),
            lambda p: p.enterprise.partner_organization.code,
            sort_key="po",
            sort_by=("enterprise__partner_organization__code",),
        ),
        TableColumn(
            _lazy("Assessed on"),
            lambda p: p.assessment_date,
            sort_key="assessed",
            sort_by=("assessment_date",),
        ),
        TableColumn(_lazy("Status"), lambda p: p.get_status_display(), sort_key="status"),
        TableColumn(
            _lazy("Prepared on"),
            lambda p: p.prepared_on or "—",
            sort_key="prepared",
            sort_by=("prepared_on",),
        ),
        TableColumn(
            _lazy("Validated on"),
            lambda p: p.validated_on or "—",
            sort_key="validated",
            sort_by=("validated_on",),
        ),
    )
    export_columns = staticmethod(exports.profile_columns)
    export_name = "recp-profiles"


class ReadingList(RecordListView):
    title = _lazy("KPI readings")
    model = KpiReading
    filterset_class = filters.KpiReadingFilter
    related = ("enterprise__partner_organization", "kpi")
    ordering = ("-period", "-pk")
    default_sort = "-month"
    keyset = True
    nothing_yet = _lazy("No KPI reading has been recorded yet.")
    table = (
        *ME_COLUMNS,
        TableColumn(
            _lazy("KPI"), lambda r: translated_name(r.kpi.name), sort_key="kpi", sort_by=("kpi__name",)
        ),
        TableColumn(
            _lazy("Month"), lambda r: r.period.strftime("%Y-%m"), sort_key="month", sort_by=("period",)
        ),
        TableColumn(
            _lazy("Value"), lambda r: f"{plain_number(r.value)} {r.kpi.unit}", numeric=True, sort_key="value"
        ),
        TableColumn(
            _lazy("Baseline"),
            lambda r: _("yes") if r.is_baseline else "",
            sort_key="baseline",
            sort_by=("is_baseline",),
        ),
        TableColumn(_lazy("Source"), lambda r: r.get_source_display(), sort_key="source"),
    )
    export_columns = staticmethod(exports.reading_columns)
    export_name = "kpi-readings"


# --- Training sessions ----------------------------------------------------------------------------


class TrainingList(RecordListView):
    title = _lazy("Training sessions")
    intro = _lazy(
        "Attendances count towards “increased knowledge on climate vulnerability” only at sessions of a "
        "module tagged climate vulnerability. A session not mapped to a module counts for no indicator."
    )
    model = TrainingSession
    filterset_class = filters.TrainingSessionFilter
    related = ("partner_organization", "sub_project", "district", "module")
    ordering = ("-held_on", "-pk")
    default_sort = "-held"
    nothing_yet = _lazy("No training session has been recorded yet.")
    table = (
        TableColumn(
            _lazy("Code"),
            lambda t: t.po_code,
            lambda t: t.get_absolute_url(),
            sort_key="code",
            sort_by=("po_code",),
        ),
        TableColumn(_lazy("Module"), module_cell, sort_key="module", sort_by=("module__code",)),
        TableColumn(_lazy("Title or notes"), lambda t: t.topic, sort_key="topic"),
        TableColumn(
            _lazy("PO"),
            lambda t: t.partner_organization.code,
            sort_key="po",
            sort_by=("partner_organization__code",),
        ),
        TableColumn(_lazy("Held on"), lambda t: t.held_on, sort_key="held", sort_by=("held_on",)),
        TableColumn(_lazy("Place"), lambda t: t.place, sort_key="place"),
        TableColumn(
            _lazy("Attendees"),
            lambda t: t.attendee_count,
            numeric=True,
            sort_key="attendees",
            sort_by=("attendee_count",),
        ),
    )
    export_columns = staticmethod(exports.training_columns)
    export_name = "training-sessions"
    # The module filters matter most here; the sub-project and climate tag still work in URLs.
    shown_filters = ("q", "partner_organization", "module", "mapped", "held_from", "held_to")

    def base_queryset(self):
        return super().base_queryset().annotate(attendee_count=Count("attendances"))

    def extra_context(self):
        user = self.request.user
        context = {
            "extra_links": [(reverse("enterprises:training-module-list"), _("The training-module catalogue"))]
        }
        if is_pmu(user):
            unmapped = TrainingSession.objects.filter(module__isnull=True).count()
            context["extra_links"].append(
                (reverse("enterprises:sessions-to-map"), _("Sessions to map (%(n)s)") % {"n": unmapped})
            )
        if can_enter_for(user, user.partner_organization_id):
            context.update(
                add_url=reverse("enterprises:training-create"), add_label=_("Add a training session")
            )
        return context


def _session(request: HttpRequest, pk: int) -> TrainingSession:
    return get_visible_or_404(
        TrainingSession.objects.select_related("partner_organization", "sub_project", "district", "module"),
        request.user,
        pk=pk,
    )


@field_data_reader
def training_detail(request: HttpRequest, pk: int) -> HttpResponse:
    session = _session(request, pk)
    can_enter = can_enter_for(request.user, session.partner_organization_id)
    form = SessionAttendanceForm(request.POST or None, session=session)
    if request.method == "POST":
        if not can_enter:
            raise PermissionDenied
        if form.is_valid():
            data = {key: form.cleaned_data[key] for key in ("pre_test_score", "post_test_score")}
            try:
                services.add_attendance(
                    user=request.user,
                    session=session,
                    enterprise=form.cleaned_data["enterprise_code"],
                    data=data,
                )
            except ValidationError as exc:
                attach_errors(form, exc)
            except ActionRefused as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, _("Attendance recorded."))
                return redirect(session)
    attendances = session.attendances.select_related("enterprise").order_by("enterprise__po_code")
    stats = attendances.aggregate(
        total=Count("pk"), improved=Count("pk", filter=Q(post_test_score__gt=F("pre_test_score")))
    )
    return render(
        request,
        "enterprises/training_detail.html",
        {
            "session": session,
            "attendances": attendances,
            "stats": stats,
            "form": form,
            "can_enter": can_enter,
            "module": module_cell(session),
            "assign_form": AssignModuleForm(initial={"module": session.module_id})
            if is_pmu(request.user)
            else None,
            "mappings": decisions_for([session], services.MODULE_MAPPED, services.MODULE_CHANGED).get(
                session.pk, []
            ),
        },
    )


# --- The PMU maps sessions to modules -------------------------------------------------------------


# The oldest first: mapped, they start counting for the indicators.
SESSIONS_TO_MAP_SORTS = SortSpec(
    {
        "held": ("held_on",),
        "po": ("partner_organization__code",),
        "session": ("po_code",),
        "topic": ("topic",),
        "attendees": ("attendee_count",),
    },
    default="held",
)


@field_data_reader
@require_GET
def sessions_to_map(request: HttpRequest) -> HttpResponse:
    """Sessions with no module (recorded before the catalogue, and not matched by their topic),
    oldest first: until mapped they count for no indicator."""
    if not is_pmu(request.user):
        raise PermissionDenied
    sessions = (
        TrainingSession.objects.filter(module__isnull=True)
        .select_related("partner_organization")
        .annotate(attendee_count=Count("attendances"))
    )
    listing = Listing(request, sort=SESSIONS_TO_MAP_SORTS, saved_filters=False)
    listed = listing.page(listing.order(sessions))
    # Read once for every row's choice (the form's choices would query the catalogue per row).
    modules = [(module.pk, module_label(module)) for module in AssignModuleForm().fields["module"].queryset]
    return render(
        request,
        "enterprises/sessions_to_map.html",
        {
            **listed,
            "modules": modules,
            "unmapped_badge": unmapped_badge(),
        },
    )


@field_data_reader
@require_POST
def training_assign_module(request: HttpRequest, pk: int) -> HttpResponse:
    session = _session(request, pk)
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = ""
    back = back or session.get_absolute_url()
    form = AssignModuleForm(request.POST)
    if not form.is_valid():
        if not is_pmu(request.user):
            raise PermissionDenied
        messages.error(request, _("Choose a module of the catalogue."))
        return redirect(back)
    try:
        services.assign_training_module(
            user=request.user, session=session, module=form.cleaned_data["module"]
        )
    except ActionRefused as exc:
        return refuse(request, exc, back)
    messages.success(
        request,
        _("Session %(code)s mapped to %(module)s.")
        % {"code": session.po_code, "module": form.cleaned_data["module"].code},
    )
    return redirect(back)


def _object_form(
    request: HttpRequest,
    instance: TrainingSession | CommonServiceFacility | None,
    form_class: type[forms.ModelForm],
    save: Callable[[dict], TrainingSession | CommonServiceFacility],
    *,
    title: str,
    back: str,
    done: Callable[[TrainingSession | CommonServiceFacility], str],
) -> HttpResponse:
    """Create or edit a training session or a facility (PO staff of its PO, else 403); `done` says
    what was saved."""
    user = request.user
    po_id = instance.partner_organization_id if instance else user.partner_organization_id
    if not can_enter_for(user, po_id):
        raise PermissionDenied
    form = form_class(request.POST or None, instance=instance, user=user)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            saved = save(dict(form.cleaned_data))
        except ValidationError as exc:
            attach_errors(form, exc)
        except Conflict as exc:  # saved by someone else at the same moment (core.integrity)
            form.add_error(None, exc.message)
        except services.FieldLocked as exc:
            # The form again, with what was typed and the reason on the field (403: not theirs to change).
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            status = 403
        else:
            messages.success(request, done(saved))
            return redirect(saved)
    return render(
        request, "enterprises/simple_form.html", {"form": form, "title": title, "back": back}, status=status
    )


def _session_form(request: HttpRequest, session: TrainingSession | None) -> HttpResponse:
    return _object_form(
        request,
        session,
        TrainingSessionForm,
        lambda data: services.save_training_session(user=request.user, data=data, session=session),
        title=_("Training session"),
        back=reverse("enterprises:training-list"),
        done=lambda saved: _("Training session %(code)s saved.") % {"code": saved.po_code},
    )


@field_data_reader
def training_create(request: HttpRequest) -> HttpResponse:
    return _session_form(request, None)


@field_data_reader
def training_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _session_form(request, _session(request, pk))


# --- Facilities -----------------------------------------------------------------------------------


class FacilityList(RecordListView):
    title = _lazy("Common service facilities")
    intro = _lazy(
        "A facility the PO reports operational counts as established once the PMU or a verifier has "
        "confirmed that it operates."
    )
    model = CommonServiceFacility
    filterset_class = filters.FacilityFilter
    related = (
        "partner_organization",
        "sub_project",
        "sub_sector",
        "district",
        "upazila",
        "operational_confirmed_by",
    )
    ordering = ("name",)
    default_sort = "name"
    nothing_yet = _lazy("No common service facility has been recorded yet.")
    table = (
        TableColumn(_lazy("Name"), lambda f: f.name, lambda f: f.get_absolute_url(), sort_key="name"),
        TableColumn(
            _lazy("PO"),
            lambda f: f.partner_organization.code,
            sort_key="po",
            sort_by=("partner_organization__code",),
        ),
        TableColumn(_lazy("Kind"), lambda f: f.get_kind_display(), sort_key="kind"),
        TableColumn(
            _lazy("Sub-sector"),
            lambda f: f.sub_sector.name,
            sort_key="sub_sector",
            sort_by=("sub_sector__name",),
        ),
        TableColumn(
            _lazy("District"), lambda f: f.district.name, sort_key="district", sort_by=("district__name",)
        ),
        TableColumn(_lazy("Status"), lambda f: f.get_status_display(), sort_key="status"),
        TableColumn(
            _lazy("Opened on"), lambda f: f.opened_on or "—", sort_key="opened", sort_by=("opened_on",)
        ),
        TableColumn(
            _lazy("Confirmation"),
            lambda f: confirmation_text(f) or "—",
            sort_key="confirmed",
            sort_by=("operational_confirmed_on",),
        ),
        TableColumn(
            _lazy("MEs served"),
            lambda f: f.served_count,
            numeric=True,
            sort_key="served",
            sort_by=("served_count",),
        ),
    )
    export_columns = staticmethod(exports.facility_columns)
    export_name = "facilities"

    def base_queryset(self):
        return super().base_queryset().annotate(served_count=Count("mes_served"))

    def extra_context(self):
        user = self.request.user
        if can_enter_for(user, user.partner_organization_id):
            return {"add_url": reverse("enterprises:facility-create"), "add_label": _("Add a facility")}
        return {}


def _facility(request: HttpRequest, pk: int) -> CommonServiceFacility:
    return get_visible_or_404(
        CommonServiceFacility.objects.select_related(
            "partner_organization",
            "sub_project",
            "sub_sector",
            "district",
            "upazila",
            "operational_confirmed_by",
        ),
        request.user,
        pk=pk,
    )


def _facility_page(
    request: HttpRequest,
    facility: CommonServiceFacility,
    confirm_form: CommentForm | None = None,
    *,
    status: int = 200,
    error: str = "",
) -> HttpResponse:
    may_confirm = is_independent_checker(request.user) and facility.awaits_confirmation
    return render(
        request,
        "enterprises/facility_detail.html",
        {
            "facility": facility,
            "served": facility.mes_served.order_by("po_code"),
            "can_enter": can_enter_for(request.user, facility.partner_organization_id),
            "history": facility.history.select_related("history_user")[:10],
            "confirmation": confirmation_text(facility),
            "confirm_form": (confirm_form or CommentForm()) if may_confirm else None,
            # Its history on the one engine: each status reported and each confirmation.
            "timeline": decisions_of(facility),
            "action_error": error,
        },
        status=status,
    )


@field_data_reader
@require_GET
def facility_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _facility_page(request, _facility(request, pk))


@field_data_reader
@require_POST
def facility_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    """A date that is not one (400) or a refusal (409) comes back on the facility's page with what
    was typed; 403 for anyone who may not confirm."""
    facility = _facility(request, pk)
    if not is_independent_checker(request.user):
        raise PermissionDenied
    form = CommentForm(request.POST)
    if not form.is_valid():
        return _facility_page(request, facility, form, status=400)
    try:
        services.confirm_facility_operational(
            user=request.user,
            facility=facility,
            on=form.cleaned_data["on"],
            comment=form.cleaned_data["comment"],
        )
    except ActionRefused as exc:
        raise_if_forbidden(exc)
        # Read again: the refusal may come from a confirmation recorded meanwhile.
        return _facility_page(request, _facility(request, pk), form, status=409, error=exc.message)
    messages.success(request, _("Confirmed: %(name)s operates.") % {"name": facility.name})
    return redirect(facility)


def _facility_form(request: HttpRequest, facility: CommonServiceFacility | None) -> HttpResponse:
    def save(data: dict) -> CommonServiceFacility:
        data["mes_served"] = data.pop("mes_served_codes")
        comment = data.pop("status_comment", "")
        try:
            return services.save_facility(user=request.user, data=data, facility=facility, comment=comment)
        except (services.FieldLocked, Conflict):
            raise
        except ActionRefused as exc:
            # A change of status the facility's lifecycle refuses: on the status field, the form as
            # typed (403 when it is about who asks).
            if exc.is_forbidden:
                raise services.FieldLocked("status", exc.message) from None
            raise ValidationError({"status": exc.message}) from None

    return _object_form(
        request,
        facility,
        FacilityForm,
        save,
        title=_("Common service facility"),
        back=reverse("enterprises:facility-list"),
        done=lambda saved: _("Facility %(name)s saved.") % {"name": saved.name},
    )


@field_data_reader
def facility_create(request: HttpRequest) -> HttpResponse:
    return _facility_form(request, None)


@field_data_reader
def facility_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _facility_form(request, _facility(request, pk))


# --- Catalogues -----------------------------------------------------------------------------------


class CatalogueList(RecordListView):
    def dispatch(self, request, *args, **kwargs):
        # Catalogues are reference data: every signed-in role may read them.
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        return View.dispatch(self, request, *args, **kwargs)

    def base_queryset(self):
        return self.model.objects.all()


class PracticeList(CatalogueList):
    title = _lazy("RECP practice catalogue")
    intro = _lazy(
        "Resource-Efficient and Cleaner Production practices, by category and sub-sector. "
        "The PMU maintains the catalogue."
    )
    model = RecpPractice
    filterset_class = filters.RecpPracticeFilter
    ordering = ("code",)
    default_sort = "code"
    nothing_yet = _lazy("The catalogue has no practice yet.")
    table = (
        TableColumn(_lazy("Code"), lambda p: p.code, sort_key="code"),
        TableColumn(_lazy("Practice"), lambda p: p.name, sort_key="name"),
        TableColumn(_lazy("Category"), lambda p: p.get_category_display(), sort_key="category"),
        TableColumn(
            _lazy("Sub-sectors"),
            lambda p: ", ".join(s.name for s in p.applicable_sub_sectors.all()) or _("all"),
        ),
        TableColumn(_lazy("What it is"), lambda p: p.description),
    )
    export_columns = staticmethod(exports.practice_columns)
    export_name = "recp-practices"

    def base_queryset(self):
        return RecpPractice.objects.prefetch_related("applicable_sub_sectors")


# --- Training modules (the PMU's catalogue) --------------------------------------------------------


class TrainingModuleList(RecordListView):
    title = _lazy("Training modules")
    intro = _lazy(
        "The PMU's catalogue of training modules. Attendances at sessions of a module tagged climate "
        "vulnerability count towards “MEs with increased knowledge on climate vulnerability” when the "
        "post-test score is above the pre-test score."
    )
    model = TrainingModule
    filterset_class = filters.TrainingModuleFilter
    ordering = ("position", "code")
    nothing_yet = _lazy("The catalogue has no training module yet.")
    table = (
        TableColumn(
            _lazy("Code"),
            lambda m: m.code,
            lambda m: reverse("enterprises:training-module-detail", args=[m.pk]),
            sort_key="code",
        ),
        TableColumn(_lazy("Module"), lambda m: m.name, sort_key="name"),
        TableColumn(
            _lazy("Climate vulnerability"),
            lambda m: _("yes") if m.climate_vulnerability else _("no"),
            sort_key="climate",
            sort_by=("climate_vulnerability",),
        ),
        TableColumn(
            _lazy("Offered"),
            lambda m: _("yes") if m.is_active else _("no longer"),
            sort_key="active",
            sort_by=("is_active",),
        ),
        TableColumn(
            _lazy("Sessions"),
            lambda m: m.session_count,
            numeric=True,
            sort_key="sessions",
            sort_by=("session_count",),
        ),
    )
    export_columns = staticmethod(exports.training_module_columns)
    export_name = "training-modules"

    def base_queryset(self):
        # Sessions in the user's scope only: a PO sees how often it used each module.
        sessions = TrainingSession.objects.visible_to(self.request.user).filter(module=OuterRef("pk"))
        return TrainingModule.objects.annotate(session_count=_count_of(sessions))

    def extra_context(self):
        if is_pmu(self.request.user):
            return {"add_url": reverse("enterprises:training-module-create"), "add_label": _("Add a module")}
        return {}


def _count_of(sessions) -> Coalesce:
    """The number of these sessions per module (a correlated subquery, counted in the database)."""
    counted = sessions.order_by().values("module").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def _history_rows(module: TrainingModule, limit: int = 50) -> list[tuple]:
    """The newest recorded versions, each with what changed from the one before (field, before,
    after), the values shown as in sub-projects' audit trails. One query: each version is paired in
    memory with the next older one (one more is read for the oldest shown)."""
    records = list(
        module.history.select_related("history_user").order_by("-history_date", "-history_id")[: limit + 1]
    )
    rows = []
    for record, previous in zip(records[:limit], [*records[1:], None], strict=False):
        changes = []
        if previous is not None and record.history_type == "~":
            changes = [
                (
                    TrainingModule._meta.get_field(change.field).verbose_name,
                    display_value(TrainingModule, change.field, change.old),
                    display_value(TrainingModule, change.field, change.new),
                )
                for change in record.diff_against(previous).changes
            ]
        rows.append((record, changes))
    return rows


@field_data_reader
@require_GET
def training_module_detail(request: HttpRequest, pk: int) -> HttpResponse:
    module = get_object_or_404(TrainingModule, pk=pk)
    return render(
        request,
        "enterprises/training_module_detail.html",
        {
            "module": module,
            "sessions": TrainingSession.objects.visible_to(request.user).filter(module=module).count(),
            "history": _history_rows(module),
            "can_edit": is_pmu(request.user),
        },
    )


def _module_form(request: HttpRequest, module: TrainingModule | None) -> HttpResponse:
    if not is_pmu(request.user):
        raise PermissionDenied
    form = TrainingModuleForm(request.POST or None, instance=module)
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.save_training_module(user=request.user, data=form.cleaned_data, module=module)
        except ValidationError as exc:
            attach_errors(form, exc)
        except Conflict as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("Training module %(code)s saved.") % {"code": saved.code})
            return redirect("enterprises:training-module-detail", pk=saved.pk)
    back = (
        reverse("enterprises:training-module-detail", args=[module.pk])
        if module
        else reverse("enterprises:training-module-list")
    )
    return render(
        request, "enterprises/simple_form.html", {"form": form, "title": _("Training module"), "back": back}
    )


@field_data_reader
def training_module_create(request: HttpRequest) -> HttpResponse:
    return _module_form(request, None)


@field_data_reader
def training_module_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _module_form(request, get_object_or_404(TrainingModule, pk=pk))


class KpiList(CatalogueList):
    title = _lazy("Environmental KPIs")
    intro = _lazy("Readings outside a KPI's plausible range are refused as likely typing errors.")
    model = Kpi
    filterset_class = filters.KpiFilter
    ordering = ("position", "code")
    nothing_yet = _lazy("The catalogue has no KPI yet.")
    table = (
        TableColumn(_lazy("Code"), lambda k: k.code, sort_key="code"),
        TableColumn(_lazy("KPI"), lambda k: k.name, sort_key="name"),
        TableColumn(_lazy("Unit"), lambda k: k.unit, sort_key="unit"),
        TableColumn(_lazy("Category"), lambda k: k.get_category_display(), sort_key="category"),
        TableColumn(_lazy("Better when"), lambda k: k.get_direction_display()),
        TableColumn(
            _lazy("Plausible range"),
            lambda k: (
                _("%(low)s to %(high)s")
                % {"low": plain_number(k.min_value), "high": plain_number(k.max_value)}
            ),
        ),
        TableColumn(_lazy("How to measure"), lambda k: k.description),
    )
    export_columns = staticmethod(exports.kpi_columns)
    export_name = "kpis"
