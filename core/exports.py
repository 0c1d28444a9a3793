"""CSV and XLSX downloads of any list, streamed so that large lists stay light on memory."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.encoding import force_str
from django.utils.translation import gettext as _
from openpyxl import Workbook

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


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


def export_response(
    rows: Iterable[Any], columns: list[Column], file_format: str, filename_stem: str
) -> HttpResponse | StreamingHttpResponse:
    """`file_format` is "csv" or "xlsx". Rows are read once, in order."""
    stamp = timezone.localdate().isoformat()
    filename = f"{filename_stem}-{stamp}.{file_format}"
    if file_format == "csv":
        writer = csv.writer(_Echo())

        def lines() -> Iterator[str]:
            yield "\ufeff"  # lets Excel open UTF-8 (Bangla names) correctly
            yield writer.writerow([force_str(column.header) for column in columns])
            for row in rows:
                yield writer.writerow([_csv_cell(column.value(row)) for column in columns])

        response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    elif file_format == "xlsx":
        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet(title=filename_stem[:31])
        sheet.append([force_str(column.header) for column in columns])
        for row in rows:
            sheet.append([_plain(column.value(row)) for column in columns])
        buffer = io.BytesIO()
        workbook.save(buffer)
        response = HttpResponse(buffer.getvalue(), content_type=XLSX_MIME)
    else:
        raise ValueError(f"unknown export format {file_format!r}")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# A download is built within one web request: beyond these sizes it would outlast the request
# (and an XLSX sheet holds at most 1,048,576 rows anyway). Bigger extracts: filter, or use the API.
EXPORT_LIMITS = {"csv": 200_000, "xlsx": 100_000}


def export_or_refuse(
    request: HttpRequest, queryset: QuerySet, columns: list[Column], file_format: str, filename_stem: str
) -> HttpResponse | StreamingHttpResponse:
    """The list as a download, or back to the list with a message if it is too big to download."""
    count = queryset.count()
    limit = EXPORT_LIMITS[file_format]
    if count > limit:
        messages.error(
            request,
            _(
                "This list has %(count)s rows; a %(format)s download holds at most %(limit)s. Filter the "
                "list first (for example by PO, sub-project, district or dates), or use the API."
            )
            % {"count": f"{count:,}", "format": file_format.upper(), "limit": f"{limit:,}"},
        )
        params = request.GET.copy()
        params.pop("export", None)
        return redirect(f"{request.path}?{params.urlencode()}")
    return export_response(queryset.iterator(chunk_size=2000), columns, file_format, filename_stem)
