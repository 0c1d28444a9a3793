"""Checks on uploaded files: the type is read from the content (libmagic), never trusted from the name."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
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
