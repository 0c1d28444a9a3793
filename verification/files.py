"""Serving stored photos to whoever the caller has allowed (pages and API alike)."""

from __future__ import annotations

from pathlib import PurePath

from django.db.models.fields.files import FieldFile
from django.http import FileResponse, Http404
from django.utils.translation import gettext as _

IMAGE_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png"}


def image_response(file: FieldFile) -> FileResponse:
    """A stored photo, for whoever the caller allowed: shown in the browser if it is a JPEG or PNG,
    otherwise downloaded; never cached, and sandboxed."""
    if not file:
        raise Http404(_("There is no photo."))
    try:
        handle = file.open("rb")
    except FileNotFoundError as exc:
        raise Http404(_("The file is missing from storage.")) from exc
    content_type = IMAGE_TYPES.get(PurePath(file.name).suffix.lower())
    response = FileResponse(
        handle,
        as_attachment=content_type is None,
        filename=PurePath(file.name).name,
        content_type=content_type or "application/octet-stream",
    )
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    return response
