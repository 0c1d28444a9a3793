"""Spreadsheet imports in the browser: upload → preview (every error, or what would be created,
updated and left unchanged) → import. Large files show their progress (htmx polls the job). The PO's
staff retry a failed job or cancel one from its page (POST to the page with `?action=retry|cancel`)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core import lifecycle
from core.errors import ActionRefused
from core.exports import XLSX_MIME
from core.lists import Listing, SortSpec
from core.permissions import get_visible_or_404, is_po_staff
from enterprises.decisions import decisions_of
from enterprises.forms import ImportForm
from enterprises.imports import IMPORTERS, template_csv, template_xlsx
from enterprises.imports.jobs import (
    OWNER_ACTIONS,
    create_job,
    error_report_csv,
    may_commit,
    owner_action,
    request_commit,
)
from enterprises.models import ImportJob
from enterprises.permissions import field_data_reader
from enterprises.views.base import attach_errors, refuse

# The latest upload first.
IMPORT_SORTS = SortSpec(
    {
        "file": ("original_name",),
        "kind": ("kind",),
        "po": ("partner_organization__code",),
        "by": ("created_by__first_name", "created_by__last_name", "created_by__username"),
        "when": ("created_at",),
        "status": ("status",),
        "rows": ("rows_total",),
    },
    default="-when",
)


@field_data_reader
def import_list(request: HttpRequest) -> HttpResponse:
    """PO staff upload here; every reader sees the imports of their scope."""
    user = request.user
    form = ImportForm(request.POST or None, request.FILES or None, initial={"kind": request.GET.get("kind")})
    if request.method == "POST":
        if not is_po_staff(user):
            raise PermissionDenied
        if form.is_valid():
            try:
                job = create_job(user=user, kind=form.cleaned_data["kind"], upload=form.cleaned_data["file"])
            except ValidationError as exc:
                attach_errors(
                    form, ValidationError({"file": exc.messages}) if not hasattr(exc, "error_dict") else exc
                )
            else:
                return redirect(job)
    jobs = ImportJob.objects.visible_to(user).select_related("partner_organization", "created_by")
    # `?kind=` chooses what the upload form imports; the list has no filters.
    listing = Listing(request, sort=IMPORT_SORTS, per_page=25, keep=("kind",), saved_filters=False)
    listed = listing.page(listing.order(jobs))
    kinds = [
        {"kind": kind, "label": importer.label, "columns": importer.columns}
        for kind, importer in IMPORTERS.items()
    ]
    return render(
        request,
        "enterprises/import_list.html",
        {
            "form": form,
            **listed,
            "kinds": kinds,
            "labels": {kind: importer.label for kind, importer in IMPORTERS.items()},
            "can_import": is_po_staff(user),
        },
    )


def _job(request: HttpRequest, pk: int) -> ImportJob:
    return get_visible_or_404(
        ImportJob.objects.select_related("partner_organization", "created_by", "committed_by"),
        request.user,
        pk=pk,
    ).with_live_progress()


@field_data_reader
@require_http_methods(["GET", "POST"])
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The job's page; a POST with `?action=retry` or `?action=cancel` takes that action (the PO's
    own staff; anyone else 403, a job not in a state for it: the page again with the reason)."""
    job = _job(request, pk)
    if request.method == "POST":
        return _owner_action(request, job, request.GET.get("action", ""))
    return render(request, "enterprises/import_detail.html", _job_context(request, job))


def _owner_action(request: HttpRequest, job: ImportJob, action: str) -> HttpResponse:
    if action not in OWNER_ACTIONS:
        raise PermissionDenied
    try:
        job = owner_action(user=request.user, job=job, action=action)
    except ActionRefused as exc:
        return refuse(request, exc, job.get_absolute_url())
    done = {
        "retry": _("The file is being checked again. Import it once the check is done."),
        "cancel": _("The import is cancelled: nothing of this file will be imported."),
    }
    messages.success(request, done[action])
    return redirect(job)


def _job_context(request: HttpRequest, job: ImportJob) -> dict:
    return {
        "job": job,
        "label": IMPORTERS[job.kind].label if job.kind in IMPORTERS else job.kind,
        "can_commit": may_commit(request.user, job),
        # Retry and cancel, as the job's lifecycle allows this person now (buttons posting to the page).
        "owner_actions": [
            rule for rule in lifecycle.available_rules(request.user, job) if rule.action in OWNER_ACTIONS
        ],
        # Its history on the one engine: checked, import requested (by whom), imported or not.
        "timeline": decisions_of(job),
    }


@field_data_reader
@require_GET
def import_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """htmx polls this fragment while the job runs; once finished it returns the whole report, and
    tells htmx to stop polling (the fragment then carries no hx-trigger)."""
    job = _job(request, pk)
    return render(request, "enterprises/_import_status.html", _job_context(request, job))


@field_data_reader
@require_POST
def import_commit(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job(request, pk)
    try:
        job = request_commit(user=request.user, job=job)
    except ActionRefused as exc:
        return refuse(request, exc, job.get_absolute_url())
    if job.status == "done":
        messages.success(
            request,
            _("Imported: %(created)s created, %(updated)s updated, %(unchanged)s unchanged.")
            % {"created": job.created_count, "updated": job.updated_count, "unchanged": job.unchanged_count},
        )
    return redirect(job)


@field_data_reader
@require_GET
def import_errors(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job(request, pk)
    response = HttpResponse(error_report_csv(job), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-errors.csv"'
    return response


@field_data_reader
@require_GET
def import_template(request: HttpRequest, kind: str, file_format: str) -> HttpResponse:
    if kind not in IMPORTERS or file_format not in {"csv", "xlsx"}:
        raise Http404
    if file_format == "csv":
        response = HttpResponse(template_csv(kind), content_type="text/csv; charset=utf-8")
    else:
        po = request.user.partner_organization if is_po_staff(request.user) else None
        response = HttpResponse(template_xlsx(kind, po), content_type=XLSX_MIME)
    response["Content-Disposition"] = f'attachment; filename="smart-{kind}-template.{file_format}"'
    return response
