"""The import engine: every kind of field record goes through the same two passes.

Pass 1 (the check, and the whole of a dry run) reads the file chunk by chunk: each row is parsed
(cells → values, references looked up in one query per chunk), validated by the model's own rules
(`clean_fields()` + `clean()`, the same code forms and the API use), checked against the other rows
(the row's stable key must not repeat) and classified against the database: create, update or
unchanged. Every problem is reported with its spreadsheet row, column and reason.

Pass 2 runs only when the whole file is valid, inside one transaction with the PO's row locked (two
imports of a PO do not interleave). Each row is validated once: the rows checked in pass 1 are kept,
and under the lock the engine only rechecks, in a few set-based queries, what could have changed
since: the reference data the rows were checked against (sub-projects, areas, KPIs...) and the stored
records the file's keys matched (their ids and `updated_at`, which the database moves on every
update; a key stored meanwhile shows up too). When nothing changed the kept rows are written as they
are: on PostgreSQL through COPY into a staging table and one `INSERT … SELECT` for the rows and their
history (imports/copy.py), elsewhere with `bulk_create`. When something changed, the file is read and
checked again under the lock (the former second pass), so a row the change made invalid is named as
before. Any problem found then rolls everything back: a file is imported completely or not at all.
Re-importing the same file finds every row unchanged and writes nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, models, transaction
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from core.models import PartnerOrganization
from enterprises import validation
from enterprises.imports import copy
from enterprises.imports.files import Deadline, FileRefused, Limits, OpenFile, RawRow, open_sheet

CHUNK_SIZE = 1000
# Rows written per COPY (and per follow-up, e.g. duplicate flags), with a progress report after each.
WRITE_BATCH = settings.ENTERPRISES_IMPORT_WRITE_BATCH
PREVIEW_ROWS = 20
# Stored for the report; the total is always counted.
MAX_STORED_ERRORS = 1000

Progress = Callable[[str, int, int | None], None]


@dataclass(frozen=True)
class Column:
    name: str
    description: str | Promise
    required: bool = False
    example: str = ""
    # The model field this column sets (for error messages from the model's rules).
    field: str = ""

    @property
    def model_field(self) -> str:
        return self.field or self.name


@dataclass(frozen=True)
class RowError:
    row: int
    column: str
    message: str
    # A machine code for API clients (bulk requests): "unique" for a repeated key, else "invalid".
    code: str = "invalid"

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "message": self.message}


@dataclass
class ImportReport:
    kind: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0
    # Rows matching an existing enterprise (enterprise imports): possible duplicates.
    duplicates: int = 0
    preview: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {"create": [], "update": [], "unchanged": []}
    )
    committed: bool = False

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    def add_error(self, row: int, column: str, message: str, code: str = "invalid") -> None:
        self.error_count += 1
        if len(self.errors) < MAX_STORED_ERRORS:
            self.errors.append(RowError(row, column, str(message), code))


class ImportAborted(Exception):
    """Pass 2 found a problem pass 1 did not (the database changed meanwhile)."""


class RowProblems:
    """The problems of one row, by column."""

    def __init__(self, number: int) -> None:
        self.number = number
        self.items: list[tuple[str, str]] = []
        self.codes: dict[str, str] = {}  # column → a code other than "invalid"

    def add(self, column: str, message: str | Promise, code: str = "invalid") -> None:
        self.items.append((column, str(message)))
        if code != "invalid":
            self.codes[column] = code

    def __bool__(self) -> bool:
        return bool(self.items)


@dataclass
class Planned:
    number: int
    key: Hashable
    values: dict[str, Any]
    instance: models.Model
    action: str  # "create" | "update" | "unchanged"
    changes: list[str] = field(default_factory=list)
    # Stored values of the changed fields, before the file's values were applied.
    before: dict[str, Any] = field(default_factory=dict)


def _same(old: Any, new: Any) -> bool:
    if isinstance(old, models.Model) or isinstance(new, models.Model):
        return getattr(old, "pk", old) == getattr(new, "pk", new)
    if isinstance(old, Decimal) or isinstance(new, Decimal):
        if old is None or new is None:
            return old is new
        return Decimal(old) == Decimal(new)
    if old in (None, "") and new in (None, ""):
        return True
    return old == new


def _current(instance: models.Model, name: str) -> Any:
    """A field's stored value; for a foreign key its id (no query), compared with the new object's pk."""
    field = instance._meta.get_field(name)
    if field.many_to_one or field.one_to_one:
        return getattr(instance, field.attname)
    return getattr(instance, name)


def _shown(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    if isinstance(value, models.Model):
        return str(getattr(value, "code", None) or getattr(value, "agreement_number", None) or value)
    return str(value)


class Importer:
    """One kind of record. Subclasses declare columns and implement the hooks below."""

    kind: str = ""
    label: str | Promise = ""
    model: type[models.Model]
    columns: tuple[Column, ...] = ()
    # The model fields of a row's stable key: a row whose key is stored updates that record.
    key_fields: tuple[str, ...] = ()
    # Fields computed from the columns (not read from the file) that an update writes too.
    derived_fields: tuple[str, ...] = ()
    # Written on update: the columns' fields that are not part of the key, and the derived ones.
    update_fields: tuple[str, ...] = ()
    with_history: bool = False
    # Kinds whose checked rows are kept and written without a second check when nothing they depend
    # on changed meanwhile (they implement `reference_state` and `stored_state`). Others check the
    # file again under the lock.
    keeps_checked_rows: bool = False
    # Kinds whose new rows go through COPY on PostgreSQL (no per-row Python hook at their creation).
    copy_creates: bool = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not hasattr(cls, "model"):
            return
        many_to_many = {f.name for f in cls.model._meta.many_to_many}
        cls.update_fields = (
            *(
                column.model_field
                for column in cls.columns
                if column.model_field not in cls.key_fields and column.model_field not in many_to_many
            ),
            *cls.derived_fields,
        )

    def __init__(self, *, partner_organization: PartnerOrganization, user=None) -> None:
        self.po = partner_organization
        self.user = user
        self.prepare()

    # --- hooks --------------------------------------------------------------------------------

    def prepare(self) -> None:
        """Small lookups (sub-projects, sub-sectors, geography...): loaded for the check, and again
        inside the writing transaction so that changes made since the check are seen."""

    def lookup_chunk(self, rows: list[RawRow]) -> None:
        """References of one chunk (e.g. enterprises by ME code), fetched in one query each."""

    def parse(self, row: RawRow, problems: RowProblems) -> dict[str, Any]:
        raise NotImplementedError

    def key(self, values: dict[str, Any]) -> Hashable | None:
        """The row's key (related objects by id); None when a part of it did not parse."""
        parts = tuple(getattr(values[name], "pk", values[name]) for name in self.key_fields)
        return None if any(part is None for part in parts) else parts

    def key_column(self) -> str:
        return self.columns[0].name

    def existing_queryset(self) -> models.QuerySet:
        """Where stored records are looked for (e.g. only the PO's own)."""
        return self.model.objects.all()

    def existing(self, keys: list[Hashable]) -> dict[Hashable, models.Model]:
        """The stored records of these keys, in one query."""
        lookups = {f"{name}__in": {key[index] for key in keys} for index, name in enumerate(self.key_fields)}
        return {
            tuple(_current(record, name) for name in self.key_fields): record
            for record in self.existing_queryset().filter(**lookups)
        }

    def new_instance(self, values: dict[str, Any]) -> models.Model:
        raise NotImplementedError

    def extra_checks(self, plan: Planned, problems: RowProblems) -> None:
        """Checks needing more than the row (another row, the database)."""

    def prepare_instance(self, instance: models.Model) -> None:
        """Derived fields before validation and writing."""

    def describe(self, values: dict[str, Any]) -> str:
        """How a row is named in the preview and in messages."""
        raise NotImplementedError

    def after_write(
        self, created: list[models.Model], updated: list[models.Model], report: ImportReport
    ) -> None:
        """Follow-up writes inside the import's transaction (duplicate flags, many-to-many...)."""

    def after_check(self, plans: list[Planned], report: ImportReport) -> None:
        """Extra information for the preview (e.g. possible duplicates)."""

    def reference_state(self) -> Hashable:
        """What the rows' verdicts depend on among the lookups `prepare()` loaded (kinds keeping
        their checked rows): compared before and after the lock, a change checks the file again."""
        raise NotImplementedError

    def forget(self) -> None:
        """Before a check that keeps its rows: clear what `remember` noted."""

    def remember(self, plans: list[Planned]) -> None:
        """During the check (kinds keeping their checked rows): note the stored records these rows'
        verdicts depend on, as `stored_state` will find them again."""
        raise NotImplementedError

    def remembered_state(self) -> Hashable:
        raise NotImplementedError

    def stored_state(self, plans: list[Planned]) -> Hashable:
        """Under the lock: the same stored records as `remembered_state()`, read again (few queries)."""
        raise NotImplementedError

    # --- helpers for subclasses ---------------------------------------------------------------

    def text(self, row: RawRow, column: str) -> str:
        return validation.cell_text(row.cells.get(column))

    def required_text(
        self, row: RawRow, column: str, problems: RowProblems, max_length: int | None = None
    ) -> str:
        value = self.text(row, column)
        if not value:
            problems.add(column, _("This column is required."))
        elif max_length is not None and len(value) > max_length:
            # Never cut a key short: a truncated code could no longer be found by later imports.
            problems.add(
                column,
                _("At most %(max)s characters (this one has %(length)s).")
                % {"max": max_length, "length": len(value)},
            )
        return value

    def convert(self, problems: RowProblems, column: str, parser, *args, required: bool = False):
        """Run a parser of enterprises.validation on one cell; file its error under the column."""
        try:
            value = parser(*args)
        except ValidationError as exc:
            problems.add(column, " ".join(exc.messages))
            return None
        if required and value in (None, ""):
            problems.add(column, _("This column is required."))
        return value

    # --- the engine ---------------------------------------------------------------------------

    @property
    def column_names(self) -> list[str]:
        return [column.name for column in self.columns]

    def _column_for_field(self, field_name: str) -> str:
        if field_name == NON_FIELD_ERRORS:
            return ""
        for column in self.columns:
            if column.model_field == field_name:
                return column.name
        return field_name

    def check_header(self, header: list[str], raw_header: list[str], report: ImportReport) -> bool:
        known = set(self.column_names)
        for name, raw in zip(header, raw_header, strict=True):
            if raw and name not in known:
                report.add_error(
                    1,
                    raw,
                    _("Unknown column “%(name)s”. The columns of this file are: %(columns)s.")
                    % {"name": raw, "columns": ", ".join(self.column_names)},
                )
        repeated = sorted(name for name, times in Counter(header).items() if name and times > 1)
        for name in repeated:
            report.add_error(1, name, _("The column “%(name)s” appears twice.") % {"name": name})
        present = set(header)
        for column in self.columns:
            if column.required and column.name not in present:
                report.add_error(
                    1, column.name, _("The required column “%(name)s” is missing.") % {"name": column.name}
                )
        return report.ok

    def _validate_instance(self, instance: models.Model, problems: RowProblems) -> None:
        # Foreign keys come from lookups, so their (per-row) existence queries are skipped.
        relations = [f.name for f in instance._meta.concrete_fields if f.is_relation]
        try:
            instance.clean_fields(exclude=relations)
        except ValidationError as exc:
            for field_name, messages in exc.message_dict.items():
                for message in messages:
                    problems.add(self._column_for_field(field_name), message)
        try:
            instance.clean()
        except ValidationError as exc:
            if hasattr(exc, "error_dict"):
                for field_name, messages in exc.message_dict.items():
                    for message in messages:
                        problems.add(self._column_for_field(field_name), message)
            else:
                for message in exc.messages:
                    problems.add("", message)

    def plan_chunk(
        self, rows: list[RawRow], seen: dict[Hashable, int], report: ImportReport
    ) -> list[Planned]:
        """Parse, validate and classify one chunk; problems go to the report."""
        self.lookup_chunk(rows)
        parsed: list[tuple[RawRow, Hashable, dict[str, Any], RowProblems]] = []
        for row in rows:
            problems = RowProblems(row.number)
            values = self.parse(row, problems)
            key = self.key(values)
            if key is None:  # a part of the key did not parse: its cell is already reported
                self._report(problems, report)
                continue
            if key in seen:
                problems.add(
                    self.key_column(),
                    _("Row %(first)s already has this key (%(key)s): each record appears once in a file.")
                    % {"first": seen[key], "key": self.describe(values)},
                    code="unique",
                )
                self._report(problems, report)
                continue
            seen[key] = row.number
            parsed.append((row, key, values, problems))
        existing = self.existing([key for _row, key, _values, _problems in parsed]) if parsed else {}
        plans = []
        for row, key, values, problems in parsed:
            instance = existing.get(key)
            if instance is None:
                plan = Planned(row.number, key, values, self.new_instance(values), "create")
            else:
                changes, before = [], {}
                m2m = {f.name for f in instance._meta.many_to_many}
                for name, value in values.items():
                    if name in m2m:
                        continue
                    if name in self.update_fields and not _same(_current(instance, name), value):
                        before[name] = _current(instance, name)
                        # Only a changed relation is fetched, to show what it was.
                        changes.append(f"{name}: {_shown(getattr(instance, name))} → {_shown(value)}")
                    # Every value is assigned, changed or not, so related objects come from the
                    # lookups (cached) and validation needs no query per row.
                    setattr(instance, name, value)
                action = "update" if changes else "unchanged"
                plan = Planned(row.number, key, values, instance, action, changes, before)
            if plan.action != "unchanged" or problems:
                # The model's rules run even when a cell did not parse, so the row's report is
                # complete; a column already reported is not reported twice.
                found = RowProblems(row.number)
                self.prepare_instance(plan.instance)
                self._validate_instance(plan.instance, found)
                reported = {column for column, _message in problems.items}
                for column, message in found.items:
                    if column not in reported:
                        problems.add(column, message)
            if not problems:
                self.extra_checks(plan, problems)
            if problems:
                self._report(problems, report)
                continue
            plans.append(plan)
        return plans

    def _report(self, problems: RowProblems, report: ImportReport) -> None:
        for column, message in problems.items:
            report.add_error(problems.number, column, message, problems.codes.get(column, "invalid"))

    def _count(self, plans: Iterable[Planned], report: ImportReport, preview: bool) -> None:
        for plan in plans:
            if plan.action == "create":
                report.created += 1
            elif plan.action == "update":
                report.updated += 1
            else:
                report.unchanged += 1
            bucket = report.preview[plan.action]
            if preview and len(bucket) < PREVIEW_ROWS:
                bucket.append(
                    {"row": plan.number, "record": self.describe(plan.values), "changes": plan.changes[:12]}
                )

    def _chunks(self, rows: Iterator[RawRow]) -> Iterator[list[RawRow]]:
        chunk: list[RawRow] = []
        for row in rows:
            chunk.append(row)
            if len(chunk) >= CHUNK_SIZE:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    def check(
        self,
        open_file: OpenFile,
        file_format: str,
        progress: Progress | None = None,
        *,
        keep: list[Planned] | None = None,
    ) -> ImportReport:
        """Pass 1: the dry run. Nothing is written. The file is measured before its rows are read
        (size, header width, row count: settings ENTERPRISES_IMPORT_MAX_*) and the whole check keeps
        to a time budget (ENTERPRISES_IMPORT_PARSE_SECONDS); a file outside them is refused whole.
        `keep`: a list that receives the rows to write (created or updated), for the commit."""
        report = ImportReport(kind=self.kind)
        if keep is not None:
            self.forget()
        deadline = Deadline.from_settings()
        try:
            with open_sheet(open_file, file_format, Limits.from_settings(), deadline) as sheet:
                if not self.check_header(sheet.header, sheet.raw_header, report):
                    return report
                seen: dict[Hashable, int] = {}
                for chunk in self._chunks(sheet.rows):
                    report.rows += len(chunk)
                    plans = self.plan_chunk(chunk, seen, report)
                    self._count(plans, report, preview=True)
                    self.after_check(plans, report)
                    if keep is not None and report.ok:
                        self.remember(plans)
                        keep.extend(plan for plan in plans if plan.action != "unchanged")
                    if progress:
                        progress("checking", report.rows, sheet.total)
                    deadline.check(chunk[-1].number)
        except FileRefused as refusal:
            # The whole file is refused: its rows' own problems (if any were found) would mislead.
            refused = ImportReport(kind=self.kind, rows=report.rows)
            refused.add_error(refusal.row, refusal.column, refusal.message)
            return refused
        if report.rows == 0:
            report.add_error(2, "", _("The file has no data rows under its header."))
        report.errors.sort(key=lambda error: error.row)
        return report

    def commit(self, open_file: OpenFile, file_format: str, progress: Progress | None = None) -> ImportReport:
        """Check the whole file; if it is valid, write it in one transaction."""
        kept: list[Planned] | None = [] if self.keeps_checked_rows else None
        checked_reference = self.reference_state() if kept is not None else None
        report = self.check(open_file, file_format, progress, keep=kept)
        if not report.ok or (report.created == 0 and report.updated == 0):
            report.committed = report.ok
            return report
        if progress:
            progress("writing", 0, report.rows)
        written = ImportReport(kind=self.kind)
        try:
            with transaction.atomic():
                # Serialises imports of one PO; NO KEY UPDATE still lets others insert rows pointing to it.
                PartnerOrganization.objects.select_for_update(no_key=True).filter(pk=self.po.pk).first()
                # Reload the lookups: a sub-project suspended since the check must refuse its rows.
                self.prepare()
                if kept is not None and self._unchanged_since_check(checked_reference, kept):
                    self._write_checked(kept, report, written, progress)
                else:
                    self._check_and_write(open_file, file_format, report, written, progress)
        except (ImportAborted, IntegrityError) as exc:
            if isinstance(exc, IntegrityError) and written.ok:
                written.add_error(
                    0,
                    "",
                    _(
                        "The data changed while the file was imported; nothing was written. "
                        "Import the file again."
                    ),
                )
            written.committed = False
            written.preview = report.preview
            return written
        written.preview = report.preview
        written.committed = True
        return written

    def _unchanged_since_check(self, checked_reference: Hashable, kept: list[Planned]) -> bool:
        """Under the lock: whether the lookups and the stored records the rows were checked against
        are as the check saw them (then the checked rows stand as they are)."""
        if self.reference_state() != checked_reference:
            return False
        return self.stored_state(kept) == self.remembered_state()

    def _write_checked(
        self, kept: list[Planned], report: ImportReport, written: ImportReport, progress: Progress | None
    ) -> None:
        """Write the rows the check kept, in batches (each followed by its follow-up writes)."""
        written.rows = report.rows
        written.created, written.updated, written.unchanged = report.created, report.updated, report.unchanged
        for start in range(0, len(kept), WRITE_BATCH):
            batch = kept[start : start + WRITE_BATCH]
            self.write(batch, written)
            if progress:
                last = start + WRITE_BATCH >= len(kept)
                progress("writing", report.rows if last else batch[-1].number - 1, report.rows)

    def _check_and_write(
        self,
        open_file: OpenFile,
        file_format: str,
        report: ImportReport,
        written: ImportReport,
        progress: Progress | None,
    ) -> None:
        """The file checked again under the lock, chunk by chunk, each chunk written once checked
        (kinds that keep no checked rows, or data changed since the check)."""
        with open_sheet(open_file, file_format) as sheet:
            seen: dict[Hashable, int] = {}
            for chunk in self._chunks(sheet.rows):
                written.rows += len(chunk)
                plans = self.plan_chunk(chunk, seen, written)
                if not written.ok:
                    raise ImportAborted
                self._count(plans, written, preview=False)
                self.write(plans, written)
                if progress:
                    progress("writing", written.rows, report.rows)

    def write(self, plans: list[Planned], report: ImportReport) -> None:
        creates = [plan.instance for plan in plans if plan.action == "create"]
        updates = [plan.instance for plan in plans if plan.action == "update"]
        model = self.model
        if creates:
            if self.copy_creates and copy.supports():
                copy.copy_create(
                    model,
                    creates,
                    [model._meta.get_field(name).attname for name in self.key_fields],
                    with_history=self.with_history,
                    history_user_id=self._history_user_id(creates[0]),
                )
            elif self.with_history:
                creates = bulk_create_with_history(creates, model, batch_size=500, default_user=self.user)
            else:
                creates = model.objects.bulk_create(creates, batch_size=1000)
        if updates:
            fields = list(self.write_fields())
            if "updated_at" in fields:
                stamp = timezone.now()
                for instance in updates:
                    instance.updated_at = stamp
            if self.with_history:
                bulk_update_with_history(updates, model, fields, batch_size=500, default_user=self.user)
            else:
                model.objects.bulk_update(updates, fields, batch_size=500)
        self.after_write(creates, updates, report)

    def _history_user_id(self, instance: models.Model) -> int | None:
        """Who the history names, as `bulk_create_with_history` picks them: the importing user, else
        simple-history's default (the request's user, if any)."""
        if not self.with_history:
            return None
        user = self.user or self.model.history.model.get_default_history_user(instance)
        return getattr(user, "pk", None)

    def write_fields(self) -> Iterable[str]:
        fields = list(self.update_fields)
        names = {f.name for f in self.model._meta.concrete_fields}
        if "updated_at" in names:
            fields.append("updated_at")
        return fields
