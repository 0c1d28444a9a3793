"""Lists of field records across enterprises (each filterable and exportable), training sessions,
common service facilities and the two catalogues."""

from __future__ import annotations

from collections.abc import Callable

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, F, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views import View
from django.views.decorators.http import require_GET

from core.errors import ActionRefused
from core.permissions import get_visible_or_404
from enterprises import exports, filters, services
from enterprises.forms import FacilityForm, SessionAttendanceForm, TrainingSessionForm
from enterprises.models import (
    Adoption,
    Attendance,
    CommonServiceFacility,
    FinancialSupport,
    Kpi,
    KpiReading,
    RecpPractice,
    RecpProfile,
    TrainingSession,
)
from enterprises.permissions import can_enter_for, field_data_reader
from enterprises.validation import plain_number
from enterprises.views.base import RecordListView, TableColumn, attach_errors


def _me_link(record) -> str:
    return reverse("enterprises:enterprise-detail", args=[record.enterprise_id])


ME_COLUMNS = (
    TableColumn(_lazy("ME code"), lambda r: r.enterprise.po_code, _me_link),
    TableColumn(_lazy("Enterprise"), lambda r: r.enterprise.name),
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
            _("Trainings on climate vulnerability."),
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
    return render(
        request,
        "enterprises/field_data.html",
        {"cards": cards, "can_enter": can_enter_for(user, user.partner_organization_id)},
    )


# --- Records across enterprises -------------------------------------------------------------------


class SupportList(RecordListView):
    title = _lazy("Financial support")
    model = FinancialSupport
    filterset_class = filters.FinancialSupportFilter
    related = ("enterprise__partner_organization",)
    ordering = ("-disbursed_on", "-pk")
    table = (
        *ME_COLUMNS,
        TableColumn(_lazy("PO"), lambda s: s.enterprise.partner_organization.code),
        TableColumn(_lazy("Type"), lambda s: s.get_kind_display()),
        TableColumn(_lazy("Amount (BDT)"), lambda s: f"{s.amount:,.0f}", numeric=True),
        TableColumn(_lazy("Disbursed on"), lambda s: s.disbursed_on),
        TableColumn(_lazy("Reference"), lambda s: s.reference),
    )
    export_columns = staticmethod(exports.financial_support_columns)
    export_name = "financial-supports"


class AttendanceList(RecordListView):
    title = _lazy("Training attendance")
    model = Attendance
    filterset_class = filters.AttendanceFilter
    related = ("enterprise__partner_organization", "session")
    ordering = ("-session__held_on", "-pk")
    table = (
        *ME_COLUMNS,
        TableColumn(_lazy("Session"), lambda a: a.session.po_code, lambda a: a.session.get_absolute_url()),
        TableColumn(_lazy("Topic"), lambda a: a.session.topic),
        TableColumn(_lazy("Held on"), lambda a: a.session.held_on),
        TableColumn(_lazy("Pre-test"), lambda a: a.pre_test_score, numeric=True),
        TableColumn(_lazy("Post-test"), lambda a: a.post_test_score, numeric=True),
    )
    export_columns = staticmethod(exports.attendance_columns)
    export_name = "attendances"


class AdoptionList(RecordListView):
    title = _lazy("RECP adoptions")
    model = Adoption
    filterset_class = filters.AdoptionFilter
    related = ("enterprise__partner_organization", "practice", "verified_by")
    ordering = ("-adopted_on", "-pk")
    table = (
        *ME_COLUMNS,
        TableColumn(_lazy("Practice"), lambda a: f"{a.practice.code} · {a.practice.name}"),
        TableColumn(_lazy("Category"), lambda a: a.practice.get_category_display()),
        TableColumn(_lazy("Adopted on"), lambda a: a.adopted_on),
        TableColumn(_lazy("Verified on"), lambda a: a.verified_on or "—"),
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
    table = (
        *ME_COLUMNS,
        TableColumn(_lazy("PO"), lambda p: p.enterprise.partner_organization.code),
        TableColumn(_lazy("Assessed on"), lambda p: p.assessment_date),
        TableColumn(_lazy("Status"), lambda p: p.get_status_display()),
        TableColumn(_lazy("Prepared on"), lambda p: p.prepared_on or "—"),
        TableColumn(_lazy("Validated on"), lambda p: p.validated_on or "—"),
    )
    export_columns = staticmethod(exports.profile_columns)
    export_name = "recp-profiles"


class ReadingList(RecordListView):
    title = _lazy("KPI readings")
    model = KpiReading
    filterset_class = filters.KpiReadingFilter
    related = ("enterprise__partner_organization", "kpi")
    ordering = ("-period", "-pk")
    table = (
        *ME_COLUMNS,
        TableColumn(_lazy("KPI"), lambda r: r.kpi.name),
        TableColumn(_lazy("Month"), lambda r: r.period.strftime("%Y-%m")),
        TableColumn(_lazy("Value"), lambda r: f"{plain_number(r.value)} {r.kpi.unit}", numeric=True),
        TableColumn(_lazy("Baseline"), lambda r: _("yes") if r.is_baseline else ""),
        TableColumn(_lazy("Source"), lambda r: r.get_source_display()),
    )
    export_columns = staticmethod(exports.reading_columns)
    export_name = "kpi-readings"


# --- Training sessions ----------------------------------------------------------------------------


class TrainingList(RecordListView):
    title = _lazy("Training sessions")
    model = TrainingSession
    filterset_class = filters.TrainingSessionFilter
    related = ("partner_organization", "sub_project", "district")
    ordering = ("-held_on", "-pk")
    table = (
        TableColumn(_lazy("Code"), lambda t: t.po_code, lambda t: t.get_absolute_url()),
        TableColumn(_lazy("Topic"), lambda t: t.topic),
        TableColumn(_lazy("PO"), lambda t: t.partner_organization.code),
        TableColumn(_lazy("Held on"), lambda t: t.held_on),
        TableColumn(_lazy("Place"), lambda t: t.place),
        TableColumn(_lazy("Attendees"), lambda t: t.attendee_count, numeric=True),
    )
    export_columns = staticmethod(exports.training_columns)
    export_name = "training-sessions"

    def base_queryset(self):
        return super().base_queryset().annotate(attendee_count=Count("attendances"))

    def extra_context(self):
        user = self.request.user
        if can_enter_for(user, user.partner_organization_id):
            return {
                "add_url": reverse("enterprises:training-create"),
                "add_label": _("Add a training session"),
            }
        return {}


def _session(request: HttpRequest, pk: int) -> TrainingSession:
    return get_visible_or_404(
        TrainingSession.objects.select_related("partner_organization", "sub_project", "district"),
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
        },
    )


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
    if request.method == "POST" and form.is_valid():
        try:
            saved = save(dict(form.cleaned_data))
        except ValidationError as exc:
            attach_errors(form, exc)
        else:
            messages.success(request, done(saved))
            return redirect(saved)
    return render(request, "enterprises/simple_form.html", {"form": form, "title": title, "back": back})


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
    intro = _lazy("CSF_ESTABLISHED counts operational facilities from their opening date.")
    model = CommonServiceFacility
    filterset_class = filters.FacilityFilter
    related = ("partner_organization", "sub_project", "sub_sector", "district", "upazila")
    ordering = ("name",)
    table = (
        TableColumn(_lazy("Name"), lambda f: f.name, lambda f: f.get_absolute_url()),
        TableColumn(_lazy("PO"), lambda f: f.partner_organization.code),
        TableColumn(_lazy("Kind"), lambda f: f.get_kind_display()),
        TableColumn(_lazy("Sub-sector"), lambda f: f.sub_sector.name),
        TableColumn(_lazy("District"), lambda f: f.district.name),
        TableColumn(_lazy("Status"), lambda f: f.get_status_display()),
        TableColumn(_lazy("Opened on"), lambda f: f.opened_on or "—"),
        TableColumn(_lazy("MEs served"), lambda f: f.served_count, numeric=True),
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
            "partner_organization", "sub_project", "sub_sector", "district", "upazila"
        ),
        request.user,
        pk=pk,
    )


@field_data_reader
@require_GET
def facility_detail(request: HttpRequest, pk: int) -> HttpResponse:
    facility = _facility(request, pk)
    return render(
        request,
        "enterprises/facility_detail.html",
        {
            "facility": facility,
            "served": facility.mes_served.order_by("po_code"),
            "can_enter": can_enter_for(request.user, facility.partner_organization_id),
            "history": facility.history.select_related("history_user")[:10],
        },
    )


def _facility_form(request: HttpRequest, facility: CommonServiceFacility | None) -> HttpResponse:
    def save(data: dict) -> CommonServiceFacility:
        data["mes_served"] = data.pop("mes_served_codes")
        return services.save_facility(user=request.user, data=data, facility=facility)

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
    table = (
        TableColumn(_lazy("Code"), lambda p: p.code),
        TableColumn(_lazy("Practice"), lambda p: p.name),
        TableColumn(_lazy("Category"), lambda p: p.get_category_display()),
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


class KpiList(CatalogueList):
    title = _lazy("Environmental KPIs")
    intro = _lazy("Readings outside a KPI's plausible range are refused as likely typing errors.")
    model = Kpi
    filterset_class = filters.KpiFilter
    ordering = ("position", "code")
    table = (
        TableColumn(_lazy("Code"), lambda k: k.code),
        TableColumn(_lazy("KPI"), lambda k: k.name),
        TableColumn(_lazy("Unit"), lambda k: k.unit),
        TableColumn(_lazy("Category"), lambda k: k.get_category_display()),
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
