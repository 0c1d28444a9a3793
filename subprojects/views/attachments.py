from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from core.errors import ActionRefused
from core.permissions import get_visible_or_404
from core.uploads import file_response
from safeguards import reviews
from subprojects import services
from subprojects.forms import AttachmentForm
from subprojects.models import Attachment, ConceptNote, Proposal
from subprojects.views.common import report_refusal


def attachment_response(attachment: Attachment) -> FileResponse:
    """The file as a download that the browser never renders nor keeps (pages and API alike)."""
    return file_response(attachment.file, name=attachment.original_name, content_type=attachment.mime_type)


def _upload(request: HttpRequest, owner: ConceptNote | Proposal) -> HttpResponse:
    form = AttachmentForm(request.POST, request.FILES)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect(owner.get_absolute_url() + "#attachments")
    try:
        with transaction.atomic():
            attachment = services.add_attachment(
                user=request.user,
                owner=owner,
                upload=form.cleaned_data["file"],
                description=form.cleaned_data["description"],
                mime_type=form.detected_mime,
            )
            if isinstance(owner, Proposal) and form.cleaned_data.get("is_esmp"):
                # The proposal's E&S management plan (safeguards.reviews).
                reviews.mark_esmp(user=request.user, attachment=attachment)
    except ActionRefused as exc:
        report_refusal(request, exc)
    else:
        messages.success(request, _("%(name)s attached.") % {"name": attachment.original_name})
    return redirect(owner.get_absolute_url() + "#attachments")


@require_POST
@login_required
def note_attachment_upload(request: HttpRequest, pk: int) -> HttpResponse:
    return _upload(request, get_visible_or_404(ConceptNote.objects.all(), request.user, pk=pk))


@require_POST
@login_required
def proposal_attachment_upload(request: HttpRequest, pk: int) -> HttpResponse:
    return _upload(request, get_visible_or_404(Proposal.objects.all(), request.user, pk=pk))


@require_POST
@login_required
def attachment_delete(request: HttpRequest, pk: int) -> HttpResponse:
    attachment = get_visible_or_404(
        Attachment.objects.select_related("concept_note", "proposal"), request.user, pk=pk
    )
    owner = attachment.owner
    try:
        services.remove_attachment(user=request.user, attachment=attachment)
    except ActionRefused as exc:
        report_refusal(request, exc)
    else:
        messages.success(request, _("%(name)s removed.") % {"name": attachment.original_name})
    return redirect(owner.get_absolute_url() + "#attachments")


@require_GET
@login_required
def attachment_download(request: HttpRequest, pk: int) -> FileResponse:
    """Files are served only through this view, to users who may see the note or proposal."""
    return attachment_response(get_visible_or_404(Attachment.objects.all(), request.user, pk=pk))
