"""Serving stored photos to whoever the caller has allowed (pages and API alike)."""

from __future__ import annotations

from django.db.models.fields.files import FieldFile
from django.http import FileResponse, Http404
from django.utils.translation import gettext as _

from core.uploads import file_response


def image_response(file: FieldFile) -> FileResponse:
    """A stored photo (core.uploads.file_response): shown in the browser if it is a JPEG or PNG,
    otherwise downloaded; never cached, and sandboxed."""
    if not file:
        raise Http404(_("There is no photo."))
    return file_response(file, inline=True)
