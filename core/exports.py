"""CSV and XLSX downloads of any list.

A list view hands its filtered rows and columns to `export_or_refuse`. A page's CSV is streamed at once
whatever its length (issue 17): the header leaves before the query runs, then the rows as the database
hands them, a chunk at a time through a server-side cursor, so memory stays flat and nothing is counted
first. An XLSX is a file that must be complete before it can be sent: a small one (up to
settings.EXPORT_INLINE_ROWS rows) is built in memory at once; a larger one is written in the background
(core.export_jobs): an ExportJob keeps the list's address and filters, the worker calls the same view
again as the user who asked (`capture_export`: the view hands over its rows instead of answering), and
the file waits under Downloads with a "ready" notice. The API (core.api.exports) still writes a long
CSV in the background too, for clients that fetch the file later. Either way the same writers make the
file, so a file written in the background holds exactly the rows and columns of the download made at
once. The rows are read from the read replica when there is one (smart_portal.db_routers).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import IO, Any

from django.conf import settings
from django.contrib import messages
from django.db import connections, transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_str
from django.utils.html import format_html
from django.utils.translation import gettext as _
from openpyxl import Workbook

from core.numbers import group
from smart_portal.db_routers import reading_from_replica

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "xlsx": XLSX_MIME}
# Rows read from the database at a time, and between two reports of progress.
CHUNK_ROWS = 2000


@dataclass(frozen=True)
class Column:
    header: str
    value: Callable[[Any], Any]


class _Echo:
    def write(self, value: str) -> str:
        return value


FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def safe_text(text: str) -> str:
    """Spreadsheet programs run cells starting with these as formulas (CSV/XLSX injection): a
    leading apostrophe makes them plain text, as Excel itself does."""
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def _plain(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return timezone.localtime(value).replace(tzinfo=None) if timezone.is_aware(value) else value
    if isinstance(value, (date, Decimal, int, float)):
        return value
    return safe_text(force_str(value))


def _csv_cell(value: Any) -> str:
    value = _plain(value)  # text is already made safe there; numbers stay numbers
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return str(value)


# --- The writers, shared by downloads made at once and those written in the background -------------

Progress = Callable[[int], None]


def csv_lines(rows: Iterable[Any], columns: list[Column], progress: Progress | None = None) -> Iterator[str]:
    """The file's text, line by line: a byte-order mark (lets Excel open UTF-8, i.e. Bangla names,
    correctly), the headers, then one line per row. `progress(rows so far)` every CHUNK_ROWS rows."""
    writer = csv.writer(_Echo())
    yield "\ufeff"
    yield writer.writerow([force_str(column.header) for column in columns])
    count = 0
    for row in rows:
        yield writer.writerow([_csv_cell(column.value(row)) for column in columns])
        count += 1
        if progress is not None and count % CHUNK_ROWS == 0:
            progress(count)
    if progress is not None:
        progress(count)


def write_csv(
    rows: Iterable[Any], columns: list[Column], out: IO[str], progress: Progress | None = None
) -> None:
    """The CSV file into `out` (a text file opened with newline=""), a line at a time."""
    for line in csv_lines(rows, columns, progress):
        out.write(line)


def write_xlsx(
    rows: Iterable[Any],
    columns: list[Column],
    out: str | IO[bytes],
    sheet_title: str,
    progress: Progress | None = None,
) -> None:
    """The XLSX workbook into `out` (a path or a binary file). openpyxl's write-only mode streams the
    rows to a temporary file as they come, so memory stays flat whatever the number of rows."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=sheet_title[:31] or "export")
    sheet.append([force_str(column.header) for column in columns])
    count = 0
    for row in rows:
        sheet.append([_plain(column.value(row)) for column in columns])
        count += 1
        if progress is not None and count % CHUNK_ROWS == 0:
            progress(count)
    if progress is not None:
        progress(count)
    workbook.save(out)


def read_where(queryset: QuerySet) -> QuerySet:
    """`queryset` bound to the database its rows are read from: the read replica when one is
    configured (smart_portal.db_routers), else the one database. Bound here, in the request, because a
    streamed file is read after the view has returned."""
    with reading_from_replica():
        return queryset.using(queryset.db)


def stream_rows(queryset: QuerySet) -> Iterator[Any]:
    """The rows of `queryset`, CHUNK_ROWS at a time through a server-side cursor. On PostgreSQL the
    cursor is read inside a transaction: outside one Django declares it WITH HOLD, and PostgreSQL then
    runs the whole query before handing over the first row. The transaction opens when the first row
    is asked for (after the file's header has left) and closes with the last, or when the download is
    cut off (the generator is closed)."""
    alias = queryset.db
    if connections[alias].vendor != "postgresql":
        yield from queryset.iterator(chunk_size=CHUNK_ROWS)
        return
    with transaction.atomic(using=alias):
        yield from queryset.iterator(chunk_size=CHUNK_ROWS)


def download_name(filename_stem: str, file_format: str, day: date | None = None) -> str:
    return f"{filename_stem}-{(day or timezone.localdate()).isoformat()}.{file_format}"


def export_response(
    rows: Iterable[Any], columns: list[Column], file_format: str, filename_stem: str
) -> HttpResponse | StreamingHttpResponse:
    """`file_format` is "csv" or "xlsx". Rows are read once, in order; a CSV as the response is sent
    (its header first), an XLSX before."""
    filename = download_name(filename_stem, file_format)
    response: HttpResponse | StreamingHttpResponse
    if file_format == "csv":
        response = StreamingHttpResponse(csv_lines(rows, columns), content_type=CONTENT_TYPES["csv"])
    elif file_format == "xlsx":
        buffer = io.BytesIO()
        write_xlsx(rows, columns, buffer, filename_stem)
        response = HttpResponse(buffer.getvalue(), content_type=XLSX_MIME)
    else:
        raise ValueError(f"unknown export format {file_format!r}")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# --- What a list hands over, and how big a download may be -----------------------------------------

# Beyond these sizes a download written in the background, or an XLSX, is refused (an XLSX sheet holds
# at most 1,048,576 rows anyway): filter the list, or use the API. A page's streamed CSV has no limit:
# it holds nothing in memory, and it is not counted first.
EXPORT_LIMITS = {"csv": 1_000_000, "xlsx": 300_000}


@dataclass(frozen=True)
class ExportSource:
    """What a list view gives to be downloaded: its rows (filtered and ordered as shown, in the scope
    of the user who asked), its columns, the format and the file's name."""

    queryset: QuerySet
    columns: list[Column]
    file_format: str
    filename_stem: str
    title: str


# Set on a request (a list to fill) by the background worker: the view's `export_or_refuse` then
# hands over its ExportSource instead of answering with a file.
CAPTURE_ATTRIBUTE = "_export_capture"


def capture_export(request: HttpRequest) -> list[ExportSource]:
    """Make `request` one whose list view hands over what it would download (see CAPTURE_ATTRIBUTE)."""
    captured: list[ExportSource] = []
    setattr(request, CAPTURE_ATTRIBUTE, captured)
    return captured


def inline_rows() -> int:
    """Lists up to this many rows are downloaded at once; longer ones are written in the background."""
    return int(getattr(settings, "EXPORT_INLINE_ROWS", 2000))


@dataclass(frozen=True)
class DownloadWay:
    """How a list's download is given, for the page and the API alike (core.api.exports): `stream`
    (a CSV streamed at once, not counted: count and limit None), `too_big` (refused: more rows than
    the format holds), `busy` (refused: the person's downloads already waiting), `inline` (the file at
    once) or `background` (an ExportJob)."""

    way: str
    count: int | None
    limit: int | None


def download_way(
    request: HttpRequest, queryset: QuerySet, file_format: str, *, stream_csv: bool = False
) -> DownloadWay:
    """`stream_csv`: a CSV of any length is streamed at once (the page); else a long one is written in
    the background (the API's choice, for clients that fetch the file later)."""
    if stream_csv and file_format == "csv":
        return DownloadWay("stream", None, None)
    count = queryset.count()
    limit = EXPORT_LIMITS[file_format]
    if count > limit:
        return DownloadWay("too_big", count, limit)
    if count <= inline_rows():
        return DownloadWay("inline", count, limit)
    from core import export_jobs

    if export_jobs.too_many_waiting(request.user, request.path, request.GET, file_format):
        return DownloadWay("busy", count, limit)
    return DownloadWay("background", count, limit)


def _back_to_list(request: HttpRequest) -> HttpResponse:
    params = request.GET.copy()
    params.pop("export", None)
    query = params.urlencode()
    return redirect(f"{request.path}?{query}" if query else request.path)


def export_or_refuse(
    request: HttpRequest,
    queryset: QuerySet,
    columns: list[Column],
    file_format: str,
    filename_stem: str,
    *,
    title: str | None = None,
) -> HttpResponse | StreamingHttpResponse:
    """The list as a download: a CSV streamed at once whatever its length; an XLSX at once when it is
    small, written in the background when it is large (back to the list with a message saying where
    the file will be), refused with a message when it is too big for any download. `title` names the
    list on the Downloads page (default: its menu entry). The rows are those `queryset` gives: the
    view has built them in the user's scope, whichever way the file is made."""
    captured = getattr(request, CAPTURE_ATTRIBUTE, None)
    if captured is not None:
        captured.append(ExportSource(queryset, columns, file_format, filename_stem, title or filename_stem))
        return HttpResponse(status=204)
    queryset = read_where(queryset)
    # EXPORT_STREAM_CSV off (tests of the background machinery): a long CSV is written in the background.
    decided = download_way(request, queryset, file_format, stream_csv=settings.EXPORT_STREAM_CSV)
    if decided.way in ("stream", "inline"):
        return export_response(stream_rows(queryset), columns, file_format, filename_stem)
    count, limit = decided.count or 0, decided.limit or 0
    if decided.way == "too_big":
        messages.error(
            request,
            _(
                "This list has %(count)s rows; a %(format)s download holds at most %(limit)s. Filter the "
                "list first (for example by PO, sub-project, district or dates), or use the API."
            )
            % {"count": f"{count:,}", "format": file_format.upper(), "limit": f"{limit:,}"},
        )
        return _back_to_list(request)
    from core import export_jobs

    if decided.way == "busy":
        messages.error(
            request,
            _(
                "You already have %(count)s downloads being prepared. Wait until one is ready "
                "(see Downloads), then ask again."
            )
            % {"count": export_jobs.ACTIVE_PER_USER},
        )
        return _back_to_list(request)
    job = export_jobs.request_export(
        request, file_format=file_format, title=title, filename_stem=filename_stem, row_count=count
    )
    messages.info(
        request,
        format_html(
            '{} <a class="alert-link" href="{}">{}</a>',
            _(
                "Your download is being prepared (%(count)s rows, %(format)s); you will find it "
                "under Downloads."
            )
            % {"count": group(count), "format": job.file_format.upper()},
            reverse("core:downloads"),
            _("Open Downloads"),
        ),
    )
    return _back_to_list(request)
