from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.mixins import LoginRequiredMixin
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django.views.generic import CreateView, DetailView, ListView, UpdateView

from core import climate, health, navigation
from core import home as home_panels
from core.forms import DistrictClimateForm, PartnerOrganizationForm, UpazilaClimateForm
from core.lists import Listing, SortSpec
from core.models import BusinessArea, District, Division, PartnerOrganization, Upazila
from core.permissions import RoleRequiredMixin, get_visible_or_404, is_pmu, role_required
from core.roles import Role


@login_required
def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    return render(
        request,
        "core/home.html",
        {
            "role_sections": navigation.items_by_role(user),
            "common_items": navigation.common_items(user),
            "panels": home_panels.panels_for(user),
        },
    )


# --- Partner Organizations ------------------------------------------------------------------------


PO_SORTS = SortSpec(
    {
        "code": ("code",),
        "name": ("name",),
        "contact": ("contact_person",),
        "districts": ("district_count",),
        "status": ("is_active",),
    },
    default="code",
)


class PartnerOrganizationListView(LoginRequiredMixin, ListView):
    """Sorted and paginated by core.lists (a page past the end shows the last one, not a 404)."""

    template_name = "core/po_list.html"
    context_object_name = "partner_organizations"

    def get_queryset(self):
        queryset = PartnerOrganization.objects.visible_to(self.request.user).annotate(
            district_count=Count("districts", distinct=True)
        )
        query = self.request.GET.get("q", "").strip()
        if query:
            queryset = queryset.filter(
                Q(code__icontains=query) | Q(name__icontains=query) | Q(short_name__icontains=query)
            )
        district = self.request.GET.get("district", "")
        if district.isdigit():
            queryset = queryset.filter(districts__pk=int(district))
        active = self.request.GET.get("active", "")
        if active in {"yes", "no"}:
            queryset = queryset.filter(is_active=(active == "yes"))
        return queryset

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        listing = Listing(self.request, sort=PO_SORTS, per_page=25)
        context.update(listing.page(listing.order(self.object_list)))
        context.update(
            {
                "partner_organizations": context["page_obj"].object_list,
                "districts": District.objects.order_by("name"),
                "query": self.request.GET.get("q", ""),
                "selected_district": self.request.GET.get("district", ""),
                "selected_active": self.request.GET.get("active", ""),
                "can_create": is_pmu(self.request.user),
            }
        )
        return context


class PartnerOrganizationDetailView(LoginRequiredMixin, DetailView):
    template_name = "core/po_detail.html"
    context_object_name = "po"

    def get_object(self, queryset=None):
        return get_visible_or_404(
            PartnerOrganization.objects.prefetch_related("districts__division"),
            self.request.user,
            pk=self.kwargs["pk"],
        )

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user = self.request.user
        context["can_edit"] = is_pmu(user)
        if user.sees_whole_programme:
            context["history"] = self.object.history.select_related("history_user")[:20]
            context["staff"] = self.object.staff.filter(is_active=True).order_by("username")
        return context


class PartnerOrganizationCreateView(RoleRequiredMixin, CreateView):
    required_roles = (Role.PMU_OFFICER,)
    model = PartnerOrganization
    form_class = PartnerOrganizationForm
    template_name = "core/po_form.html"

    def form_valid(self, form):
        response = super().form_valid(form)
        messages.success(self.request, _("Partner Organization %(po)s created.") % {"po": self.object})
        return response


class PartnerOrganizationUpdateView(RoleRequiredMixin, UpdateView):
    required_roles = (Role.PMU_OFFICER,)
    model = PartnerOrganization
    form_class = PartnerOrganizationForm
    template_name = "core/po_form.html"

    def form_valid(self, form):
        response = super().form_valid(form)
        messages.success(self.request, _("Changes to %(po)s saved.") % {"po": self.object})
        return response


@role_required(Role.PO_STAFF)
def my_organization(request: HttpRequest) -> HttpResponse:
    if request.user.partner_organization_id is None:
        raise Http404(_("Your account is not linked to a Partner Organization."))
    return redirect("core:po-detail", pk=request.user.partner_organization_id)


# --- Reference data -------------------------------------------------------------------------------


@login_required
def sector_list(request: HttpRequest) -> HttpResponse:
    areas = BusinessArea.objects.prefetch_related("sectors__sub_sectors")
    return render(request, "core/sector_list.html", {"business_areas": areas})


@login_required
def district_list(request: HttpRequest) -> HttpResponse:
    districts = climate.districts_with_counts()
    only_vulnerable = request.GET.get("climate_vulnerable") == "yes"
    if only_vulnerable:
        districts = climate.vulnerable_only(districts)
    division = request.GET.get("division", "")
    if division.isdigit():
        districts = districts.filter(division_id=int(division))
    return render(
        request,
        "core/district_list.html",
        {
            "districts": districts.order_by("division__name", "name"),
            "divisions": Division.objects.all(),
            "selected_division": division,
            "only_vulnerable": only_vulnerable,
        },
    )


@login_required
def district_detail(request: HttpRequest, pk: int) -> HttpResponse:
    district = get_object_or_404(District.objects.select_related("division"), pk=pk)
    can_edit = is_pmu(request.user)
    context = {
        "district": district,
        "upazilas": district.upazilas.order_by("name"),
        "can_edit": can_edit,
    }
    if can_edit:
        context["form"] = DistrictClimateForm(instance=district)
        context["history"] = district.history.select_related("history_user")[:10]
    return render(request, "core/district_detail.html", context)


def _edit_climate_flag(
    request: HttpRequest, instance, form_class, template: str, context: dict
) -> HttpResponse:
    form = form_class(request.POST or None, instance=instance)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Climate vulnerability of %(area)s saved.") % {"area": instance})
        return redirect(context["back_url"])
    return render(request, template, {**context, "form": form, "area": instance})


@role_required(Role.PMU_OFFICER)
def district_climate_edit(request: HttpRequest, pk: int) -> HttpResponse:
    district = get_object_or_404(District, pk=pk)
    return _edit_climate_flag(
        request,
        district,
        DistrictClimateForm,
        "core/climate_flag_form.html",
        {"back_url": reverse("core:district-detail", args=[pk])},
    )


@role_required(Role.PMU_OFFICER)
def upazila_climate_edit(request: HttpRequest, pk: int) -> HttpResponse:
    upazila = get_object_or_404(Upazila.objects.select_related("district"), pk=pk)
    return _edit_climate_flag(
        request,
        upazila,
        UpazilaClimateForm,
        "core/climate_flag_form.html",
        {"back_url": reverse("core:district-detail", args=[upazila.district_id])},
    )


# --- Health ---------------------------------------------------------------------------------------


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness, for the container's health check and operators (no authentication, no data): the
    state of the database, the broker, the cache and the outbox's backlog, within about a second
    whatever is down (core.health). 503 only when the database does not answer; a broker or cache
    that is down makes the status "degraded" (requests still succeed, work waits in the outbox)."""
    body, alive = health.health()
    return JsonResponse(body, status=200 if alive else 503)


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness, for a load balancer: 200 when the database answers and has every migration of
    this code applied (a new release before its `migrate`), else 503."""
    body, ready = health.readiness()
    return JsonResponse(body, status=200 if ready else 503)
