"""Pages of clearances: the list (filters, CSV export), the expired ones per PO, one clearance, its
document, and the form to add or change one. The rules are in safeguards.clearances.

Refusals: a role that may not read or act gets 403; another PO's clearance, enterprise or facility is
a 404; a form with a mistake names it by field (400) and keeps what was typed (a refused document must
be chosen again).
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from core.exports import Column, export_or_refuse
from core.lists import Listing, SortSpec
from core.permissions import get_visible_or_404, role_required
from core.uploads import file_response
from enterprises.models import CommonServiceFacility, Enterprise
from enterprises.views.base import attach_errors
from safeguards import clearances as services
from safeguards.models import Clearance
from safeguards.screening_forms import ClearanceFilterForm, ClearanceForm
from safeguards.screening_views import READERS
from safeguards.screenings import holder_or_404

PAGE_SIZE = 50


def _clearances(user):
    return Clearance.objects.visible_to(user).select_related(
        "partner_organization", "enterprise", "facility", "created_by"
    )


def filter_clearances(queryset, data: dict):
    """The list's filters (pages; the API has its own filter set): kind, status, PO."""
    today = timezone.localdate()
    if data.get("kind"):
        queryset = queryset.filter(kind=data["kind"])
    status = data.get("status")
    if status == "expired":
        queryset = queryset.expired(today)
    elif status == "expiring":
        queryset = queryset.expiring_within(max(settings.CLEARANCE_REMINDER_DAYS or (0,)), today)
    elif status == "valid":
        queryset = queryset.filter(
            expires_on__gt=today + timedelta(days=max(settings.CLEARANCE_REMINDER_DAYS or (0,)))
        )
    if data.get("partner_organization"):
        queryset = queryset.filter(partner_organization=data["partner_organization"])
    return queryset


def export_columns() -> list[Column]:
    return [
        Column(_("PO"), lambda c: c.partner_organization.code),
        Column(_("Holder"), lambda c: str(c.holder)),
        Column(_("ME code"), lambda c: c.enterprise.po_code if c.enterprise_id else ""),
        Column(_("Kind"), lambda c: c.get_kind_display()),
        Column(_("Certificate number"), lambda c: c.number),
        Column(_("Category"), lambda c: c.get_category_display()),
        Column(_("Product or standard"), lambda c: c.scope),
        Column(_("Issued on"), lambda c: c.issued_on),
        Column(_("Expires on"), lambda c: c.expires_on),
        Column(_("Status"), lambda c: services.status_of(c)),
    ]


# The soonest to expire first (the expired list: by PO, as it groups them).
CLEARANCE_SORTS = SortSpec(
    {
        "po": ("partner_organization__code",),
        "holder": ("enterprise__po_code", "facility__name"),
        "kind": ("kind",),
        "number": ("number",),
        "category": ("category",),
        "issued": ("issued_on",),
        "expires": ("expires_on",),
    },
    default="expires",
)
EXPIRED_SORTS = SortSpec({"po": ("partner_organization__code", "expires_on")}, default="po")


def _listing(request: HttpRequest, template: str, *, expired_only: bool) -> HttpResponse:
    user = request.user
    form = ClearanceFilterForm(request.GET or None)
    queryset = _clearances(user)
    valid = form.is_valid() if form.is_bound else True
    data = dict(form.cleaned_data) if form.is_bound and valid else {}
    if expired_only:
        data["status"] = "expired"
    queryset = filter_clearances(queryset, data)
    listing = Listing(request, sort=EXPIRED_SORTS if expired_only else CLEARANCE_SORTS, per_page=PAGE_SIZE)
    queryset = listing.order(queryset)
    if request.GET.get("export") == "csv" and valid:
        return export_or_refuse(
            request, queryset, export_columns(), "csv", "expired-clearances" if expired_only else "clearances"
        )
    context = listing.page(queryset)
    for clearance in context["page_obj"].object_list:
        clearance.state = services.status_of(clearance)
    return render(
        request,
        template,
        {
            "filter_form": form,
            "show_po": user.sees_whole_programme,
            **context,
            "export_query": context["querystring"],
        },
        status=200 if valid else 400,
    )


@role_required(*READERS)
@require_GET
def clearance_list(request: HttpRequest) -> HttpResponse:
    return _listing(request, "safeguards/clearance_list.html", expired_only=False)


@role_required(*READERS)
@require_GET
def clearance_expired(request: HttpRequest) -> HttpResponse:
    """The expired clearances, per PO (the PMU sees every PO's, PO staff their own)."""
    return _listing(request, "safeguards/clearance_expired.html", expired_only=True)


@role_required(*READERS)
@require_GET
def clearance_detail(request: HttpRequest, pk: int) -> HttpResponse:
    clearance = get_visible_or_404(_clearances(request.user), request.user, pk=pk)
    clearance.state = services.status_of(clearance)
    return render(
        request,
        "safeguards/clearance_detail.html",
        {"clearance": clearance, "can_edit": services.may_manage(request.user, clearance)},
    )


@role_required(*READERS)
@require_GET
def clearance_document(request: HttpRequest, pk: int) -> HttpResponse:
    clearance = get_visible_or_404(Clearance.objects.all(), request.user, pk=pk)
    if not clearance.document:
        raise Http404(_("There is no document."))
    return file_response(
        clearance.document, name=clearance.document_name or None, content_type=clearance.document_type or None
    )


def _form_page(request, form, holder, clearance=None, status=200) -> HttpResponse:
    return render(
        request,
        "safeguards/clearance_form.html",
        {"form": form, "holder": holder, "clearance": clearance},
        status=status,
    )


def _holder(request: HttpRequest):
    """The ME (?enterprise=<id>) or CSF (?facility=<id>) a new clearance is for: 404 if not visible."""
    for name, model in (("enterprise", Enterprise), ("facility", CommonServiceFacility)):
        value = request.GET.get(name, "")
        if value:
            # ASCII digits only: str.isdigit() also accepts "²", which int() refuses (a 500).
            if not (value.isascii() and value.isdecimal()):
                raise Http404
            return name, holder_or_404(model.objects.all(), request.user, int(value))
    raise Http404(_("Say which enterprise or facility the clearance is for."))


@role_required(*READERS)
def clearance_create(request: HttpRequest) -> HttpResponse:
    kind, holder = _holder(request)
    if not services.may_manage(request.user, holder):
        raise PermissionDenied
    blank = Clearance(partner_organization_id=holder.partner_organization_id, **{kind: holder})
    form = ClearanceForm(request.POST or None, request.FILES or None, instance=blank)
    if request.method == "POST":
        if form.is_valid():
            data = dict(form.cleaned_data)
            document = data.pop("document", None)
            try:
                clearance = services.create_clearance(
                    user=request.user, data=data, document=document, **{kind: holder}
                )
            except ValidationError as exc:
                attach_errors(form, exc)
            else:
                messages.success(request, _("%(clearance)s recorded.") % {"clearance": clearance})
                return redirect(clearance.get_absolute_url())
        return _form_page(request, form, holder, status=400)
    return _form_page(request, form, holder)


@role_required(*READERS)
def clearance_edit(request: HttpRequest, pk: int) -> HttpResponse:
    clearance = get_visible_or_404(_clearances(request.user), request.user, pk=pk)
    if not services.may_manage(request.user, clearance):
        raise PermissionDenied
    form = ClearanceForm(request.POST or None, request.FILES or None, instance=clearance)
    if request.method == "POST":
        if form.is_valid():
            data = dict(form.cleaned_data)
            document = data.pop("document", None)
            try:
                services.update_clearance(
                    user=request.user, clearance=clearance, data=data, document=document
                )
            except ValidationError as exc:
                attach_errors(form, exc)
            else:
                messages.success(request, _("Saved."))
                return redirect(clearance.get_absolute_url())
        return _form_page(request, form, clearance.holder, clearance, status=400)
    return _form_page(request, form, clearance.holder, clearance)
