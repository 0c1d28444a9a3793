"""Field data pushed by another system through the API: natural keys, and bulk writes of many items
(`POST /api/v1/<resource>/bulk/`).

A bulk item has the JSON shape of the resource's single create; it is turned into a row of the
spreadsheet import of the same kind (enterprises.imports) and judged by the import's own rules, the
same parse, lookups and model checks (no second rulebook), then written the way the import writes:
set-based (`bulk_create`, `bulk_update`, with history where the model keeps it), in one transaction,
under the PO's import lock. All or nothing: one bad item and nothing is written; every problem is
named by the item's index, field and a machine code (`BulkInvalid`).

Natural keys (what makes two items, or an item and a stored record, the same record):

- enterprises: the PO's ME code (`po_code`);
- KPI readings: enterprise + KPI + period (month);
- financial supports: enterprise + kind (loan/grant) + disbursement date (no reference or loan
  number is unique: `reference` is free text and optional);
- training sessions: the PO's session code (`po_code`);
- attendances: session + enterprise.

With `upsert` an item whose key is stored updates that record (or leaves it unchanged); without, it
is refused with code `unique` and the stored record's id (`existing_id`). A request larger than
settings.BULK_SYNC_MAX_ITEMS is checked here and then handed to an import job (`start_job`), which
writes it as an import (checked again, then written) while the client polls the job.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from core import background, outbox
from core.errors import Forbidden
from core.models import PartnerOrganization
from core.numbers import group
from core.permissions import is_po_staff
from enterprises.imports import IMPORTERS, get_importer
from enterprises.imports.base import CHUNK_SIZE, Importer, ImportReport, Planned
from enterprises.imports.files import RawRow
from enterprises.models import Enterprise, ImportJob, SupportKind, TrainingSession
from enterprises.validation import cell_text
from subprojects.models import SubProject

DEFAULT_MAX_ITEMS = 10_000
DEFAULT_SYNC_MAX_ITEMS = 2_000
# Item errors listed in a refusal (the detail gives the total).
MAX_REPORTED_ERRORS = 1000
NON_FIELD = "non_field_errors"


def max_items() -> int:
    return getattr(settings, "BULK_MAX_ITEMS", DEFAULT_MAX_ITEMS)


def sync_max_items() -> int:
    """Above this many items a bulk request is answered 202 with a job (settings.BULK_SYNC_MAX_ITEMS)."""
    return getattr(settings, "BULK_SYNC_MAX_ITEMS", DEFAULT_SYNC_MAX_ITEMS)


# --- Errors and results ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemError:
    index: int
    field: str
    code: str
    message: str
    existing_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "index": self.index,
            "field": self.field,
            "code": self.code,
            "message": self.message,
        }
        if self.existing_id is not None:
            body["existing_id"] = self.existing_id
        return body


class BulkInvalid(Exception):
    """Items break rules: nothing was written. `errors`: the first MAX_REPORTED_ERRORS, by index."""

    def __init__(self, errors: list[ItemError], unlisted: int = 0) -> None:
        self.total = len(errors) + unlisted
        self.errors = sorted(errors, key=lambda error: (error.index, error.field))[:MAX_REPORTED_ERRORS]
        indexes = {error.index for error in errors}
        message = ngettext(
            "%(count)s item breaks a rule; nothing was written.",
            "%(count)s items break rules; nothing was written.",
            len(indexes),
        ) % {"count": group(len(indexes))}
        if self.total > len(self.errors):
            message += " " + _("The first %(shown)s of %(total)s problems are listed.") % {
                "shown": group(len(self.errors)),
                "total": group(self.total),
            }
        super().__init__(message)
        self.message = message


@dataclass
class BulkResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    # One per item, in the items' order: {"index", "id", "status"}.
    results: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "results": self.results,
        }


STATUS_OF_ACTION = {"create": "created", "update": "updated", "unchanged": "unchanged"}


# --- The kinds ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reference:
    """A JSON field naming a record by id (as the single create does), written in the import's
    column by its code: only the PO's own records are found (another PO's id is a missing one).
    `code_field`: a JSON field naming it by that code instead (e.g. `enterprise_code`)."""

    field: str
    column: str
    model: type[models.Model]
    code_attribute: str
    code_field: str = ""

    def codes(self, po: PartnerOrganization, ids: set[int]) -> dict[int, str]:
        records = self.model._default_manager.filter(partner_organization=po, pk__in=ids)
        return dict(records.values_list("pk", self.code_attribute))


@dataclass(frozen=True)
class BulkKind:
    """How the items of one resource become import rows. `columns`: JSON field → import column
    (fields not named keep their name); `key_field`: the JSON field a duplicate is reported on (a
    repeated or a stored key); `references`: the fields naming another record, by id or by code."""

    kind: str  # the import kind, which is also the API resource (/api/v1/<kind>/bulk/)
    key_field: str
    columns: dict[str, str] = field(default_factory=dict)
    references: tuple[Reference, ...] = ()

    @property
    def importer(self) -> type[Importer]:
        return IMPORTERS[self.kind]

    def column_of(self, json_field: str) -> str:
        for reference in self.references:
            if json_field in (reference.field, reference.code_field):
                return reference.column
        return self.columns.get(json_field, json_field)

    def json_fields(self) -> dict[str, str]:
        """Import column → JSON field (by id for a reference)."""
        names = {column.name: column.name for column in self.importer.columns}
        names.update({column: json for json, column in self.columns.items()})
        names.update({reference.column: reference.field for reference in self.references})
        return names

    def accepted_fields(self) -> set[str]:
        fields = set(self.json_fields().values())
        fields.update(reference.code_field for reference in self.references if reference.code_field)
        return fields


ENTERPRISE = Reference("enterprise", "enterprise_code", Enterprise, "po_code", code_field="enterprise_code")
SUB_PROJECT = Reference("sub_project", "sub_project", SubProject, "agreement_number")

BULK_KINDS: dict[str, BulkKind] = {
    spec.kind: spec
    for spec in (
        BulkKind(
            "enterprises",
            key_field="po_code",
            references=(SUB_PROJECT,),
        ),
        BulkKind(
            "kpi-readings",
            key_field="period",
            columns={"kpi": "kpi_code"},
            references=(ENTERPRISE,),
        ),
        BulkKind(
            "financial-supports",
            key_field="disbursed_on",
            references=(ENTERPRISE,),
        ),
        BulkKind(
            "trainings",
            key_field="po_code",
            columns={"po_code": "session_code"},
            references=(SUB_PROJECT,),
        ),
        BulkKind(
            "attendances",
            key_field="enterprise",
            references=(
                Reference("session", "session_code", TrainingSession, "po_code", code_field="session_code"),
                ENTERPRISE,
            ),
        ),
    )
}


# --- Items → import rows --------------------------------------------------------------------------


ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _cell(value: Any) -> str | date | None:
    """A JSON value as a spreadsheet cell: the import's parsers then read it as they read a file. An
    ISO date (the API's format) is given as the date a spreadsheet's date cell gives, which the
    parsers take as it is (and which reads back as the same text where text is expected)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str) and ISO_DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return value  # not a day of the calendar: the parser says so
    return str(value)


def _as_id(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


@dataclass
class Converted:
    rows: list[RawRow]
    errors: list[ItemError]
    # Index → JSON field → how the item named it (the field reported for an import column).
    named: dict[int, dict[str, str]]


def convert(
    spec: BulkKind, po: PartnerOrganization, items: list[Any], ignored: Iterable[str] = ()
) -> Converted:
    """The items as import rows (numbered by their index), and the problems found in their shape:
    not an object, unknown fields, lists or objects as values, ids that are not the PO's."""
    accepted = spec.accepted_fields()
    ignored = set(ignored) - accepted
    errors: list[ItemError] = []
    shaped: list[tuple[int, dict[str, Any]]] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            errors.append(
                ItemError(index, NON_FIELD, "invalid", _("Each item is an object of the resource's fields."))
            )
            continue
        bad = False
        for name, value in item.items():
            if name in ignored:
                continue
            if name not in accepted:
                errors.append(
                    ItemError(
                        index,
                        str(name)[:100],
                        "unknown_field",
                        _("Unknown field. An item's fields are: %(fields)s.")
                        % {"fields": ", ".join(sorted(accepted))},
                    )
                )
                bad = True
            elif isinstance(value, (dict, list)):
                errors.append(
                    ItemError(
                        index, name, "invalid", _("A single value is expected, not a list or an object.")
                    )
                )
                bad = True
            elif isinstance(value, str) and "\x00" in value:
                errors.append(
                    ItemError(
                        index, name, "null_characters_not_allowed", _("Null characters are not allowed.")
                    )
                )
                bad = True
        if not bad:
            shaped.append((index, item))
    codes = _reference_codes(spec, po, [item for _index, item in shaped])
    rows, named = [], {}
    for index, item in shaped:
        cells: dict[str, Any] = {}
        names: dict[str, str] = {}
        ok = True
        for reference in spec.references:
            ok &= _resolve(reference, item, index, codes[reference.field], cells, names, errors)
        for name, value in item.items():
            if name in ignored or any(name in (r.field, r.code_field) for r in spec.references):
                continue
            cells[spec.column_of(name)] = _cell(value)
        if ok:
            rows.append(RawRow(index, cells))
            named[index] = names
    return Converted(rows, errors, named)


def _reference_codes(spec: BulkKind, po: PartnerOrganization, items: list[dict]) -> dict[str, dict[int, str]]:
    """The codes of the referenced ids, one query per kind of reference (the PO's records only)."""
    codes: dict[str, dict[int, str]] = {}
    for reference in spec.references:
        ids = {pk for item in items if (pk := _as_id(item.get(reference.field))) is not None}
        codes[reference.field] = {}
        for start in range(0, len(ids), 5000):
            chunk = set(sorted(ids)[start : start + 5000])
            codes[reference.field].update(reference.codes(po, chunk))
    return codes


def _resolve(
    reference: Reference,
    item: dict[str, Any],
    index: int,
    codes: dict[int, str],
    cells: dict[str, Any],
    names: dict[str, str],
    errors: list[ItemError],
) -> bool:
    """Fill the reference's column from its id (or from its code field); False when it is refused."""
    given = item.get(reference.field)
    by_code = item.get(reference.code_field) if reference.code_field else None
    if given is None:
        # Named by its code (or not at all: the importer says the column is required).
        cells[reference.column] = _cell(by_code)
        names[reference.column] = reference.code_field if by_code is not None else reference.field
        return True
    pk = _as_id(given)
    if pk is None and reference.model is SubProject and isinstance(given, str):
        # A sub-project may also be named by its agreement number, as in the import.
        cells[reference.column] = given
        names[reference.column] = reference.field
        return True
    if pk is None:
        errors.append(
            ItemError(
                index,
                reference.field,
                "incorrect_type",
                _("Incorrect type. Expected an id (a whole number), received %(type)s.")
                % {"type": type(given).__name__},
            )
        )
        return False
    code = codes.get(pk)
    if code is None:
        # Another PO's record is refused exactly as one that does not exist.
        errors.append(
            ItemError(
                index,
                reference.field,
                "does_not_exist",
                _("Invalid id “%(value)s”: no such object.") % {"value": pk},
            )
        )
        return False
    if by_code is not None and cell_text(by_code) != code:
        errors.append(
            ItemError(
                index,
                reference.code_field,
                "invalid",
                _("%(code_field)s “%(code)s” is not the code of %(field)s %(id)s (%(actual)s).")
                % {
                    "code_field": reference.code_field,
                    "code": by_code,
                    "field": reference.field,
                    "id": pk,
                    "actual": code,
                },
            )
        )
        return False
    cells[reference.column] = code
    names[reference.column] = reference.field
    return True


# --- Checking and writing -------------------------------------------------------------------------


def _require_entry(user) -> PartnerOrganization:
    if not is_po_staff(user):
        raise Forbidden(_("Only the PO's own staff enter its field data."))
    return user.partner_organization


def _chunks(sequence: list, size: int = CHUNK_SIZE) -> Iterator[list]:
    for start in range(0, len(sequence), size):
        yield sequence[start : start + size]


@dataclass
class Checked:
    importer: Importer
    rows: list[RawRow]
    plans: list[Planned]
    errors: list[ItemError]
    # Problems beyond those listed (the importer keeps the first MAX_STORED_ERRORS of a chunk).
    unlisted: int = 0


def check_items(kind: str, *, user, items: list[Any], upsert: bool, ignored: Iterable[str] = ()) -> Checked:
    """Every item judged as the import judges a row (nothing is written). Problems come back by
    index and JSON field; without `upsert` a stored key is one too (code `unique`, `existing_id`)."""
    spec = BULK_KINDS[kind]
    po = _require_entry(user)
    converted = convert(spec, po, items, ignored)
    errors = converted.errors
    rows = converted.rows
    importer = get_importer(kind, partner_organization=po, user=user)
    report = ImportReport(kind=kind)
    report_errors: list = []
    unlisted = 0
    seen: dict[Hashable, int] = {}
    plans: list[Planned] = []
    for chunk in _chunks(rows):
        plans += importer.plan_chunk(chunk, seen, report)
        report_errors += report.errors
        unlisted += report.error_count - len(report.errors)
        report.errors, report.error_count = [], 0
    fields = spec.json_fields()
    required = {column.name for column in spec.importer.columns if column.required}
    column_required = _("This column is required.")
    for problem in report_errors:
        column = problem.column
        name = converted.named.get(problem.row, {}).get(column) or fields.get(column, column) or NON_FIELD
        if problem.message == column_required and column in required:
            errors.append(ItemError(problem.row, name, "required", _("This field is required.")))
        elif problem.code == "unique":  # the key of an earlier item: named on the key's field
            errors.append(ItemError(problem.row, spec.key_field, "unique", problem.message))
        else:
            errors.append(ItemError(problem.row, name, "invalid", problem.message))
    if not upsert:
        for plan in plans:
            if plan.action != "create":
                errors.append(_stored_key_error(importer, spec, plan))
    return Checked(importer, rows, plans, errors, unlisted)


def key_rule(model: type[models.Model], key: Iterable[str]) -> str:
    """The message of the model's unique rule on this natural key (the PO, set by the services
    from who enters the record, aside): "This enterprise already has a reading of this KPI..."."""
    for constraint in model._meta.total_unique_constraints:
        if set(constraint.fields) - {"partner_organization"} == set(key):
            return str(constraint.get_violation_error_message())
    return _("%(record)s with this %(key)s is already stored.") % {
        "record": str(model._meta.verbose_name).capitalize(),
        "key": " + ".join(key),
    }


def _stored_key_error(importer: Importer, spec: BulkKind, plan: Planned) -> ItemError:
    existing = plan.instance.pk
    message = _('%(reason)s It has the id %(id)s: send the items with "upsert": true to update it.') % {
        "reason": key_rule(importer.model, importer.key_fields),
        "id": existing,
    }
    return ItemError(plan.number, spec.key_field, "unique", message, existing_id=existing)


def write_items(
    kind: str, *, user, items: list[Any], upsert: bool, ignored: Iterable[str] = ()
) -> BulkResult:
    """Check every item and, if none breaks a rule, write them all in one transaction under the PO's
    import lock (as an import commits). Raises BulkInvalid (nothing written) or Forbidden."""
    po = _require_entry(user)
    with transaction.atomic():
        # Serialises the PO's imports and bulk writes (enterprises.imports.base); NO KEY UPDATE
        # still lets others insert rows pointing to the PO.
        PartnerOrganization.objects.select_for_update(no_key=True).filter(pk=po.pk).first()
        checked = check_items(kind, user=user, items=items, upsert=upsert, ignored=ignored)
        if checked.errors:
            raise BulkInvalid(checked.errors, checked.unlisted)
        report = ImportReport(kind=kind)
        for chunk in _chunks(checked.plans):
            _write(checked.importer, chunk, report)
    result = BulkResult()
    for plan in sorted(checked.plans, key=lambda plan: plan.number):
        status = STATUS_OF_ACTION[plan.action]
        setattr(result, status, getattr(result, status) + 1)
        result.results.append({"index": plan.number, "id": plan.instance.pk, "status": status})
    return result


def _write(importer: Importer, plans: list[Planned], report: ImportReport) -> None:
    """Write one chunk as the import writes it, but for the updates of a kind the import writes
    plainly (no history, no write of its own: KPI readings, attendance): Django's `bulk_update`
    builds one CASE per field and row, slower than the check itself at 10,000 rows, so those go as
    one `INSERT ... ON CONFLICT (key) DO UPDATE` of the same fields (the rows exist: each is updated
    in place, its id kept)."""
    if importer.with_history or type(importer).write is not Importer.write:
        importer.write(plans, report)
        return
    model = importer.model
    creates = [plan.instance for plan in plans if plan.action == "create"]
    updates = [plan.instance for plan in plans if plan.action == "update"]
    if creates:
        model._default_manager.bulk_create(creates, batch_size=1000)
    if updates:
        fields = list(importer.write_fields())
        stamp = timezone.now()
        rows = []
        for instance in updates:
            if "updated_at" in fields:
                instance.updated_at = stamp  # type: ignore[attr-defined]
            # Without its id: the key finds the row (an id given too would be inserted as well).
            values = {f.attname: getattr(instance, f.attname) for f in model._meta.concrete_fields}
            values.pop(model._meta.pk.attname)
            rows.append(model(**values))
        model._default_manager.bulk_create(
            rows,
            batch_size=1000,
            update_conflicts=True,
            unique_fields=list(importer.key_fields),
            update_fields=fields,
        )
    importer.after_write(creates, updates, report)


# --- Larger requests: an import job ---------------------------------------------------------------


def _csv(spec: BulkKind, rows: list[RawRow]) -> bytes:
    """The rows as an import file of the kind (UTF-8 with a byte-order mark, like the templates).
    Values are written as given: the file is read by the importer only, never opened in Excel."""
    header = [column.name for column in spec.importer.columns]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if row.cells.get(name) is None else row.cells[name] for name in header])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def start_job(kind: str, *, user, items: list[Any], upsert: bool, ignored: Iterable[str] = ()) -> ImportJob:
    """Check the items now (a refusal is the same as for a smaller request), then hand them to an
    import job: the worker checks the file it makes of them again and imports it at once (the PO's
    staff asked for it by sending them). Poll the job (`/api/v1/import-jobs/<id>/`): its `row` n is
    item n - 2 (the file's header is row 1)."""
    spec = BULK_KINDS[kind]
    checked = check_items(kind, user=user, items=items, upsert=upsert, ignored=ignored)
    if checked.errors:
        raise BulkInvalid(checked.errors, checked.unlisted)
    name = f"api-bulk-{kind}-{len(items)}-items.csv"
    with transaction.atomic():  # the job and its start are saved together
        job = ImportJob.objects.create(
            kind=kind,
            partner_organization=user.partner_organization,
            file=ContentFile(_csv(spec, checked.rows), name=name),
            original_name=name,
            file_format="csv",
            created_by=user,
        )
        start(job.pk)
    job.refresh_from_db()
    return job


def start(job_id: int) -> None:
    """Run the job in the background as imports do (a Celery worker, else a thread; inline in tests)."""
    from enterprises.tasks import run_bulk_job

    if not outbox.in_process():
        outbox.enqueue(run_bulk_job, job_id)
    elif getattr(settings, "ENTERPRISES_IMPORTS_INLINE", False):
        run_bulk_job.delay(job_id)
    else:
        background.start_after_commit(f"bulk-job-{job_id}", run_job, job_id)


def run_job(job_id: int) -> str:
    """The task's body: check the job's file; if it passes, import it at once in the name of the
    person who sent the items (the rule "commit" of the import's lifecycle, logged as theirs)."""
    from enterprises.imports.jobs import request_commit
    from enterprises.imports.jobs import run_job as run_import_job

    outcome = run_import_job(job_id, commit=False)
    job = ImportJob.objects.select_related("created_by").get(pk=job_id)
    if outcome != "validated" or job.created_by is None:
        return outcome
    request_commit(user=job.created_by, job=job)
    return "committing"


def item_count_problem(items: Any) -> tuple[str, str] | None:
    """Why the request's `items` cannot be taken at all, as (code, message); None: they can."""
    if not isinstance(items, list):
        return "not_a_list", _("A list of items is expected.")
    if not items:
        return "empty", _("Send at least one item.")
    if len(items) > max_items():
        message = _("At most %(max)s items per request; this one has %(count)s.") % {
            "max": group(max_items()),
            "count": group(len(items)),
        }
        return "max_length", message
    return None


# --- The columns of the import templates, described for other systems -----------------------------


@dataclass(frozen=True)
class ColumnType:
    type: str  # string, integer, decimal, date, month, boolean, choice, reference, list
    # Where a reference's values come from (an API resource), and how it is named there.
    reference: str = ""
    choices: Callable[[], list[str]] | None = None


def _values(choices) -> Callable[[], list[str]]:
    return lambda: [value for value, _label in choices]


def _codes(queryset: Callable[[], models.QuerySet]) -> Callable[[], list[str]]:
    return lambda: list(queryset().values_list("code", flat=True))


def _column_types() -> dict[str, ColumnType]:
    from core.models import SubSector
    from enterprises.models import (
        FacilityKind,
        FacilityStatus,
        Gender,
        Kpi,
        ReadingSource,
        RecpPractice,
        TrainingModule,
    )
    from subprojects.models import Financier

    text, integer, decimal = ColumnType("string"), ColumnType("integer"), ColumnType("decimal")
    day, yes_no = ColumnType("date"), ColumnType("boolean")
    return {
        "po_code": text,
        "session_code": ColumnType("reference", "trainings (po_code)"),
        "enterprise_code": ColumnType("reference", "enterprises (po_code)"),
        "sub_project": ColumnType("reference", "sub-projects (agreement_number)"),
        "name": text,
        "owner_name": text,
        "owner_gender": ColumnType("choice", choices=_values(Gender.choices)),
        "phone": text,
        "is_formal": yes_no,
        "trade_licence_number": text,
        "sub_sector": ColumnType("reference", "sub-sectors (code or name)", _codes(SubSector.objects.all)),
        "division": ColumnType("reference", "divisions (pcode or name)"),
        "district": ColumnType("reference", "districts (pcode or name)"),
        "upazila": ColumnType("reference", "upazilas (pcode, or name within the district)"),
        "latitude": decimal,
        "longitude": decimal,
        "climate_vulnerable_override": yes_no,
        "self_employed": integer,
        "wage_employed_male": integer,
        "wage_employed_female": integer,
        "year_started": integer,
        "registered_on": day,
        "kind": ColumnType("choice", choices=_values(SupportKind.choices)),
        "amount": decimal,
        "financier": ColumnType("choice", choices=_values(Financier.choices)),
        "disbursed_on": day,
        "reference": text,
        "module": ColumnType(
            "reference",
            "training-modules (code)",
            _codes(lambda: TrainingModule.objects.filter(is_active=True)),
        ),
        "topic": text,
        "held_on": day,
        "place": text,
        "facilitator": text,
        "pre_test_score": decimal,
        "post_test_score": decimal,
        "practice_code": ColumnType(
            "reference", "recp-practices (code)", _codes(lambda: RecpPractice.objects.filter(is_active=True))
        ),
        "adopted_on": day,
        "seen_in_use_on": day,
        "note": text,
        "kpi_code": ColumnType(
            "reference", "kpis (code)", _codes(lambda: Kpi.objects.filter(is_active=True))
        ),
        "period": ColumnType("month"),
        "value": decimal,
        "is_baseline": yes_no,
        "source": ColumnType("choice", choices=_values(ReadingSource.choices)),
        "address": text,
        "services": text,
        "status": ColumnType("choice", choices=_values(FacilityStatus.choices)),
        "opened_on": day,
        "mes_served": ColumnType("list", "enterprises (po_code), separated by ;"),
        # A column named alike in two kinds, meaning something else in this one.
        "facilities.kind": ColumnType("choice", choices=_values(FacilityKind.choices)),
    }


def template_kinds() -> list[dict[str, Any]]:
    """Every kind of import with its columns: name, type, required, description, example, allowed
    values (choices and the catalogues' codes), where a reference's values come from, and the field
    a bulk item of the API gives it in (null for kinds without a bulk endpoint)."""
    types = _column_types()
    kinds = []
    for kind, importer in IMPORTERS.items():
        spec = BULK_KINDS.get(kind)
        api_fields = spec.json_fields() if spec else {}
        columns = []
        for column in importer.columns:
            column_type = types.get(f"{kind}.{column.name}") or types.get(column.name) or ColumnType("string")
            columns.append(
                {
                    "name": column.name,
                    "type": column_type.type,
                    "required": column.required,
                    "description": str(column.description),
                    "example": column.example,
                    "allowed_values": column_type.choices() if column_type.choices else None,
                    "reference": column_type.reference or None,
                    "api_field": api_fields.get(column.name) if spec else None,
                }
            )
        kinds.append(
            {
                "kind": kind,
                "label": str(importer.label),
                "bulk_resource": spec.kind if spec else None,
                "columns": columns,
            }
        )
    return kinds
