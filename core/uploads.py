"""Uploaded files: checks on the way in (the type is read from the content by libmagic, never trusted
from the name) and the one way stored files go out (`file_response`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db.models.fields.files import FieldFile
from django.http import FileResponse, Http404
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class FileKind:
    label: str
    extensions: tuple[str, ...]
    mime_types: tuple[str, ...]


PDF = FileKind("PDF", (".pdf",), ("application/pdf",))
DOCX = FileKind(
    "DOCX", (".docx",), ("application/vnd.openxmlformats-officedocument.wordprocessingml.document",)
)
XLSX = FileKind("XLSX", (".xlsx",), ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",))
CSV = FileKind("CSV", (".csv",), ("text/plain", "text/csv", "application/csv"))
JPEG = FileKind("JPEG", (".jpg", ".jpeg"), ("image/jpeg",))
PNG = FileKind("PNG", (".png",), ("image/png",))

DOCUMENT_KINDS = (PDF, DOCX, XLSX, JPEG, PNG)
SPREADSHEET_KINDS = (CSV, XLSX)
PHOTO_KINDS = (JPEG, PNG)


def sniff_mime_type(upload: UploadedFile) -> str:
    # Imported here so that the portal starts without libmagic; uploads need it (Debian: libmagic1).
    import magic

    # Office files are zip archives; libmagic needs more than the first block to tell them apart.
    upload.seek(0)
    head = upload.read(64 * 1024)
    upload.seek(0)
    return magic.from_buffer(head, mime=True)


def check_upload(upload: UploadedFile, kinds: tuple[FileKind, ...], max_bytes: int) -> FileKind:
    """Return the kind of `upload`, or raise a ValidationError naming the problem."""
    if upload.size > max_bytes:
        raise ValidationError(
            _("%(name)s is %(size)s; the limit is %(limit)s."),
            code="too_large",
            params={
                "name": upload.name,
                "size": filesizeformat(upload.size),
                "limit": filesizeformat(max_bytes),
            },
        )
    if upload.size == 0:
        raise ValidationError(_("%(name)s is empty."), code="empty", params={"name": upload.name})
    name = (upload.name or "").lower()
    allowed = ", ".join(kind.label for kind in kinds)
    by_extension = [kind for kind in kinds if name.endswith(kind.extensions)]
    if not by_extension:
        raise ValidationError(
            _("%(name)s is not an accepted file type (accepted: %(allowed)s)."),
            code="bad_extension",
            params={"name": upload.name, "allowed": allowed},
        )
    detected = sniff_mime_type(upload)
    for kind in by_extension:
        if detected in kind.mime_types:
            return kind
    raise ValidationError(
        _(
            "%(name)s does not contain what its name says (its content is %(detected)s); "
            "accepted: %(allowed)s."
        ),
        code="content_mismatch",
        params={"name": upload.name, "detected": detected, "allowed": allowed},
    )


def check_document(upload: UploadedFile) -> FileKind:
    """An attachment or report: one of DOCUMENT_KINDS, at most settings.ATTACHMENT_MAX_MB."""
    return check_upload(upload, DOCUMENT_KINDS, settings.ATTACHMENT_MAX_MB * 1024 * 1024)


def check_photo(upload: UploadedFile) -> FileKind:
    """Field evidence (an adoption seen in use, a verifier's visit): a JPEG or PNG, at most
    settings.ATTACHMENT_MAX_MB."""
    return check_upload(upload, PHOTO_KINDS, settings.ATTACHMENT_MAX_MB * 1024 * 1024)


# What a browser may show in the page rather than download: photos only (checked by content on upload).
INLINE_TYPES = {extension: kind.mime_types[0] for kind in PHOTO_KINDS for extension in kind.extensions}


def file_response(
    file: FieldFile, *, name: str | None = None, inline: bool = False, content_type: str | None = None
) -> FileResponse:
    """A stored file, for whoever the caller has allowed (pages and API alike): downloaded as `name`
    (default: the stored file's name) with `content_type` (default: guessed from the name), or with
    `inline` shown in the browser if it is a JPEG or PNG (anything else is then downloaded as
    application/octet-stream). Never cached, sandboxed (nothing in it runs or loads), and a file
    missing from storage is a 404, not a server error."""
    if not file:
        raise Http404(_("There is no file."))
    filename = name or PurePath(file.name).name
    shown_as = INLINE_TYPES.get(PurePath(file.name).suffix.lower()) if inline else None
    try:
        handle = file.open("rb")
    except FileNotFoundError as exc:
        raise Http404(_("The file is missing from storage.")) from exc
    response = FileResponse(
        handle,
        as_attachment=shown_as is None,
        filename=filename,
        content_type=shown_as or ("application/octet-stream" if inline else content_type),
    )
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response
