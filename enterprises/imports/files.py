"""Reading CSV and XLSX files row by row (memory stays flat whatever the file's size), and writing
the downloadable templates."""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font

from core.exports import safe_text

OpenFile = Callable[[], IO[bytes]]


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


def _rows_from_cells(header: list[str], rows: Iterator[tuple]) -> Iterator[RawRow]:
    width = len(header)
    for index, values in enumerate(rows, start=2):
        values = tuple(values)[:width] if values else ()
        cells = {header[i]: values[i] if i < len(values) else None for i in range(width) if header[i]}
        row = RawRow(index, cells)
        if not row.is_blank():
            yield row


@contextmanager
def open_sheet(open_file: OpenFile, file_format: str) -> Iterator[Sheet]:
    """The first sheet of an XLSX file, or a CSV file (comma, semicolon or tab separated)."""
    stream = open_file()
    try:
        if file_format == "xlsx":
            workbook = load_workbook(stream, read_only=True, data_only=True)
            try:
                sheet = workbook.worksheets[0]
                iterator = sheet.iter_rows(values_only=True)
                raw_header = [str(v).strip() if v is not None else "" for v in next(iterator, ())]
                # Trailing empty header cells are formatting, not columns.
                while raw_header and not raw_header[-1]:
                    raw_header.pop()
                header = [normalise_header(v) for v in raw_header]
                total = (sheet.max_row - 1) if sheet.max_row else None
                yield Sheet(header, raw_header, _rows_from_cells(header, iterator), total)
            finally:
                workbook.close()
        else:
            head = stream.read(64 * 1024)
            lines = head.count(b"\n")
            while chunk := stream.read(1024 * 1024):
                lines += chunk.count(b"\n")
            stream.seek(0)
            text = io.TextIOWrapper(stream, encoding=_detect_encoding(head), newline="", errors="replace")
            sample = head.decode("utf-8", errors="ignore").splitlines()[0] if head else ""
            delimiter = max(",;\t", key=sample.count) if sample else ","
            reader = csv.reader(text, delimiter=delimiter)
            raw_header = [value.strip().lstrip("\ufeff") for value in next(reader, [])]
            while raw_header and not raw_header[-1]:
                raw_header.pop()
            header = [normalise_header(v) for v in raw_header]
            ends_with_newline = head.endswith(b"\n") or lines > 0
            total = max(0, lines - 1) if ends_with_newline else None
            yield Sheet(header, raw_header, _rows_from_cells(header, reader), total)
    finally:
        stream.close()


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
