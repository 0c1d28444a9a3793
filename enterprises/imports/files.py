"""Reading CSV and XLSX files row by row (memory stays flat whatever the file's size), and writing
the downloadable templates.

Before a file is checked row by row it is measured (`Limits`): its size, then its header's width,
then its rows are counted by streaming and the count stops at the limit, so an oversized file is
refused in seconds whatever it holds (a 50,000-column header, a 400,000-row sheet, a zip bomb);
the reading keeps to a time budget (`Deadline`)."""

from __future__ import annotations

import codecs
import csv
import io
import re
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font

from core.exports import safe_text

OpenFile = Callable[[], IO[bytes]]

# An XLSX file is a zip of XML: text compresses about tenfold, so a workbook expanding to more than
# this many times the upload limit is not a spreadsheet of field data but a zip bomb.
XLSX_MAX_EXPANSION = 30
# How often (in rows) the time budget is looked at.
DEADLINE_EVERY = 500
# One row's XML is at most a few hundred KB (100 columns of long text); far more is not field data.
MAX_ROW_XML = 16 * 1024 * 1024


class FileRefused(Exception):
    """The file is refused as a whole before its rows are checked (too big, too wide, too long, or
    too slow to read): `row` and `column` say where, as the error report shows them."""

    def __init__(self, message: str, *, row: int = 0, column: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.row = row
        self.column = column


@dataclass(frozen=True)
class Limits:
    max_bytes: int
    max_rows: int
    max_columns: int

    @classmethod
    def from_settings(cls) -> Limits:
        return cls(
            max_bytes=getattr(settings, "ENTERPRISES_IMPORT_MAX_MB", 25) * 1024 * 1024,
            max_rows=getattr(settings, "ENTERPRISES_IMPORT_MAX_ROWS", 100_000),
            max_columns=getattr(settings, "ENTERPRISES_IMPORT_MAX_COLUMNS", 100),
        )


def _now() -> float:
    return time.monotonic()


class Deadline:
    """A time budget: `check()` refuses the file once it is spent."""

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self.ends = _now() + seconds if seconds else None

    @classmethod
    def from_settings(cls) -> Deadline:
        return cls(getattr(settings, "ENTERPRISES_IMPORT_PARSE_SECONDS", 300))

    def check(self, row: int = 0) -> None:
        if self.ends is not None and _now() > self.ends:
            raise FileRefused(
                _(
                    "Checking the file took more than %(seconds)s seconds, so it was stopped and "
                    "nothing was imported: split it into smaller files."
                )
                % {"seconds": f"{self.seconds:g}"},
                row=row,
            )


NO_DEADLINE = Deadline(None)


@dataclass(frozen=True)
class RawRow:
    number: int  # as the spreadsheet shows it: the header is row 1
    cells: dict[str, Any]

    def is_blank(self) -> bool:
        return all(value is None or str(value).strip() == "" for value in self.cells.values())


@dataclass
class Sheet:
    header: list[str]  # normalised column names, in file order
    raw_header: list[str]
    rows: Iterator[RawRow]
    # Data rows in the file (an estimate for CSV files with line breaks inside cells); None if unknown.
    total: int | None


def normalise_header(name: Any) -> str:
    text = str(name or "").strip().lower().rstrip("*").strip()
    for char in " -./":
        text = text.replace(char, "_")
    while "__" in text:
        text = text.replace("__", "_")
    return text.strip("_")


def _detect_encoding(head: bytes) -> str:
    """UTF-8 (with or without BOM) is what the templates and modern Excel write; older Excel
    "CSV (Comma delimited)" files come in the Windows code page."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        # A multi-byte character may be cut at the end of the sample: ignore only that.
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:
            return "cp1252"
    return "utf-8"


def _rows_from_cells(header: list[str], rows: Iterable[tuple], deadline: Deadline) -> Iterator[RawRow]:
    width = len(header)
    for index, values in enumerate(rows, start=2):
        if index % DEADLINE_EVERY == 0:
            deadline.check(index)
        values = tuple(values)[:width] if values else ()
        cells = {header[i]: values[i] if i < len(values) else None for i in range(width) if header[i]}
        row = RawRow(index, cells)
        if not row.is_blank():
            yield row


def _is_blank(values: Iterable[Any]) -> bool:
    return all(value is None or str(value).strip() == "" for value in values)


def _count_rows(rows: Iterable[tuple], limits: Limits, deadline: Deadline) -> int:
    """The data rows (blank ones left out), counted by streaming; stops at the first row past the
    limit, so a file ten times too long costs no more than one just too long."""
    count = 0
    for index, values in enumerate(rows, start=2):
        if index % DEADLINE_EVERY == 0:
            deadline.check(index)
        if values and not _is_blank(values):
            count += 1
            if count > limits.max_rows:
                raise FileRefused(_too_long(limits), row=index)
    return count


def _check_size(stream: IO[bytes], limits: Limits) -> None:
    stream.seek(0, io.SEEK_END)
    size = stream.tell()
    stream.seek(0)
    if size > limits.max_bytes:
        raise FileRefused(
            _("The file is %(size)s MB; at most %(max)s MB can be imported: split it into smaller files.")
            % {"size": f"{size / 1024 / 1024:.1f}", "max": f"{limits.max_bytes / 1024 / 1024:g}"}
        )


def _check_expansion(stream: IO[bytes], limits: Limits) -> None:
    """A workbook's unpacked size, read from the zip's directory without unpacking anything."""
    try:
        with zipfile.ZipFile(stream) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    finally:
        stream.seek(0)
    if unpacked > XLSX_MAX_EXPANSION * limits.max_bytes:
        raise FileRefused(
            _(
                "The workbook unpacks to %(size)s MB, far more than a spreadsheet of field data: "
                "save only the sheet to import, or split it into smaller files."
            )
            % {"size": f"{unpacked / 1024 / 1024:,.0f}"}
        )


# The worksheet XML, read as bytes: the end of each row, and a cell value (<v>) or inline string (<is>),
# with or without a namespace prefix (some writers use <x:row>).
_ROW_END = re.compile(rb"</(?:[\w.-]+:)?row>")
_VALUE = re.compile(rb"<(?:[\w.-]+:)?(?:v|is)[\s/>]")
# The first <sheet> of xl/workbook.xml names its relation (r:id); the relation gives the XML's path.
_FIRST_SHEET = re.compile(rb"<(?:[\w.-]+:)?sheet\s[^>]*?\b[\w.-]+:id=\"([^\"]+)\"")
_RELATION = re.compile(rb"<(?:[\w.-]+:)?Relationship\s[^>]*>")
_ATTRIBUTE = re.compile(rb"\b(Id|Target)=\"([^\"]*)\"")


def _first_sheet_path(archive: zipfile.ZipFile) -> str | None:
    """Where the first sheet's XML is in the workbook (the sheet openpyxl opens as worksheets[0]),
    found by pattern rather than by an XML parser: these two files are untrusted input too."""
    try:
        workbook, relations = archive.read("xl/workbook.xml"), archive.read("xl/_rels/workbook.xml.rels")
    except KeyError:
        return None
    first = _FIRST_SHEET.search(workbook)
    if first is None:
        return None
    for element in _RELATION.finditer(relations):
        attributes = dict(_ATTRIBUTE.findall(element.group()))
        if attributes.get(b"Id") == first.group(1):
            target = attributes.get(b"Target", b"").decode("utf-8", "replace")
            return target.lstrip("/") if target.startswith("/") else f"xl/{target}"
    return None


def _measure_xlsx(stream: IO[bytes], limits: Limits, deadline: Deadline) -> int | None:
    """The header's width and the data rows holding a value, read from the first sheet's raw XML
    (a fast scan, no spreadsheet parsing, before the workbook is even opened) and stopped at the
    limit. None if the sheet cannot be found this way (openpyxl will say what is wrong)."""
    try:
        with zipfile.ZipFile(stream) as archive:
            path = _first_sheet_path(archive)
            if path is None or path not in archive.namelist():
                return None
            rows, header_seen, pending = 0, False, b""
            with archive.open(path) as xml:
                while chunk := xml.read(1024 * 1024):
                    deadline.check()
                    pending += chunk
                    start = 0
                    for end in _ROW_END.finditer(pending):
                        row_xml = pending[start : end.start()]
                        start = end.end()
                        if not header_seen:
                            header_seen = True
                            _check_width([""] * len(_VALUE.findall(row_xml)), limits)
                            continue
                        if _VALUE.search(row_xml):
                            rows += 1
                            if rows > limits.max_rows:
                                raise FileRefused(_too_long(limits), row=limits.max_rows + 2)
                    pending = pending[start:]
                    if len(pending) > MAX_ROW_XML:
                        raise FileRefused(
                            _("A row of the sheet is too large to be read: save the file again."),
                            row=rows + 2,
                        )
            return rows
    finally:
        stream.seek(0)


def _too_long(limits: Limits) -> str:
    return _("The file has more than %(max)s rows: split it into smaller files.") % {
        "max": f"{limits.max_rows:,}"
    }


def _check_width(raw_header: list[str], limits: Limits) -> None:
    if len(raw_header) > limits.max_columns:
        raise FileRefused(
            ngettext(
                "The header row has %(count)s column; at most %(max)s can be read.",
                "The header row has %(count)s columns; at most %(max)s can be read: "
                "keep only the template's columns.",
                len(raw_header),
            )
            % {"count": f"{len(raw_header):,}", "max": limits.max_columns},
            row=1,
        )


def _header(values: Iterable[Any]) -> list[str]:
    raw = [str(v).strip().lstrip("\ufeff") if v is not None else "" for v in values]
    # Trailing empty header cells are formatting, not columns.
    while raw and not raw[-1]:
        raw.pop()
    return raw


@contextmanager
def open_sheet(
    open_file: OpenFile,
    file_format: str,
    limits: Limits | None = None,
    deadline: Deadline = NO_DEADLINE,
) -> Iterator[Sheet]:
    """The first sheet of an XLSX file, or a CSV file (comma, semicolon or tab separated). With
    `limits`, the file is measured first and refused (FileRefused) before any row is checked; the
    rows are then read within the `deadline`."""
    stream = open_file()
    try:
        if limits is not None:
            _check_size(stream, limits)
        if file_format == "xlsx":
            measured = None
            if limits is not None:
                _check_expansion(stream, limits)
                measured = _measure_xlsx(stream, limits, deadline)
            workbook = load_workbook(stream, read_only=True, data_only=True)
            try:
                sheet = workbook.worksheets[0]
                declared_rows = sheet.max_row
                # The declared size may be wrong: a row past it would be silently left out, and
                # every row would be padded to a declared width of thousands of empty columns.
                sheet.reset_dimensions()
                raw_header = _header(next(sheet.iter_rows(max_row=1, values_only=True), ()))
                if limits is not None:
                    _check_width(raw_header, limits)
                width = max(1, len(raw_header))
                header = [normalise_header(v) for v in raw_header]
                total: int | None = measured
                if limits is not None and measured is None:
                    # Not measured from the XML (an unusual layout): counted row by row instead.
                    total = _count_rows(
                        sheet.iter_rows(min_row=2, max_col=width, values_only=True), limits, deadline
                    )
                elif total is None:
                    total = (declared_rows - 1) if declared_rows else None
                rows = sheet.iter_rows(min_row=2, max_col=width, values_only=True)
                yield Sheet(header, raw_header, _rows_from_cells(header, rows, deadline), total)
            finally:
                workbook.close()
        else:
            head = stream.read(64 * 1024)
            stream.seek(0)
            encoding = _detect_encoding(head)
            sample = head.decode("utf-8", errors="ignore").splitlines()[0] if head else ""
            delimiter = max(",;\t", key=sample.count) if sample else ","

            def reader() -> Iterator[list[str]]:
                stream.seek(0)
                text = io.TextIOWrapper(stream, encoding=encoding, newline="", errors="replace")
                # The stream is shared by the passes: the wrapper must not close it when collected.
                try:
                    yield from csv.reader(text, delimiter=delimiter)
                finally:
                    if not stream.closed:
                        text.detach()

            # Without limits, the line count (for progress) is taken before the reader buffers.
            total = None if limits is not None else _count_lines(stream, head)
            records = reader()
            raw_header = _header(next(records, []))
            if limits is not None:
                _check_width(raw_header, limits)
            header = [normalise_header(v) for v in raw_header]
            if limits is not None:
                total = _count_rows(records, limits, deadline)
                records.close()
                records = reader()
                next(records, None)
            try:
                yield Sheet(header, raw_header, _rows_from_cells(header, records, deadline), total)
            finally:
                records.close()
    finally:
        stream.close()


def _count_lines(stream: IO[bytes], head: bytes) -> int | None:
    """About how many data rows a CSV file has (line breaks inside cells count too): for progress."""
    lines = 0
    while chunk := stream.read(1024 * 1024):
        lines += chunk.count(b"\n")
    stream.seek(0)
    ends_with_newline = head.endswith(b"\n") or lines > 0
    return max(0, lines - 1) if ends_with_newline else None


# --- Writing ---------------------------------------------------------------------------------------


def csv_bytes(header: list[str], rows: list[list[Any]] = ()) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow(
            ["" if value is None else safe_text(value) if isinstance(value, str) else value for value in row]
        )
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def xlsx_bytes(sheets: list[tuple[str, list[str], list[list[Any]]]]) -> bytes:
    """Sheets of (title, header, rows); headers in bold and the first row frozen."""
    workbook = Workbook()
    workbook.remove(workbook.active)
    bold = Font(bold=True)
    for title, header, rows in sheets:
        sheet = workbook.create_sheet(title=title[:31])
        sheet.append(header)
        for cell in sheet[1]:
            cell.font = bold
        for row in rows:
            sheet.append([safe_text(value) if isinstance(value, str) else value for value in row])
        sheet.freeze_panes = "A2"
        for index, name in enumerate(header, start=1):
            width = max([len(str(name))] + [len(str(row[index - 1] or "")) for row in rows[:200]]) + 2
            sheet.column_dimensions[sheet.cell(row=1, column=index).column_letter].width = min(60, width)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
