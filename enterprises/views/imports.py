"""Spreadsheet imports in the browser: upload → preview (every error, or what would be created,
updated and left unchanged) → import. Large files show their progress (htmx polls the job)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from core.errors import ActionRefused
from core.exports import XLSX_MIME
from core.permissions import get_visible_or_404, is_po_staff
from enterprises.decisions import decisions_of
from enterprises.forms import ImportForm
from enterprises.imports import IMPORTERS, template_csv, template_xlsx
from enterprises.imports.jobs import create_job, error_report_csv, may_commit, request_commit
from enterprises.models import ImportJob
from enterprises.permissions import field_data_reader
from enterprises.views.base import attach_errors, refuse


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
    page = Paginator(jobs, 25).get_page(request.GET.get("page"))
    kinds = [
        {"kind": kind, "label": importer.label, "columns": importer.columns}
        for kind, importer in IMPORTERS.items()
    ]
    return render(
        request,
        "enterprises/import_list.html",
        {
            "form": form,
            "page_obj": page,
            "paginator": page.paginator,
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
@require_GET
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job(request, pk)
    return render(request, "enterprises/import_detail.html", _job_context(request, job))


def _job_context(request: HttpRequest, job: ImportJob) -> dict:
    return {
        "job": job,
        "label": IMPORTERS[job.kind].label if job.kind in IMPORTERS else job.kind,
        "can_commit": may_commit(request.user, job),
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
