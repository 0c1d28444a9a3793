"""The audit trail of one object: its transitions and every recorded edit, newest first."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from django.db.models import Model
from django.utils import formats
from django.utils.translation import gettext as _
from simple_history import utils
from simple_history.models import ModelChange

from core import lifecycle
from core.lifecycle import action_label
from subprojects.models import Activity, BudgetLine, CommittedResult, Proposal

# Saves that only move the state are shown as the transition, not as an edit; so are the fields a
# transition records (the no-objection's letter), shown with it (`transition_details`).
BOOKKEEPING_FIELDS = {
    "status",
    "status_changed_at",
    "updated_at",
    "submitted_at",
    "no_objection_reference",
    "no_objection_date",
}
MAX_EDITS = 200
# Columns of a history many-to-many row that are not part of the relation (as in `diff_against`).
M2M_SKIPPED = {"id", "m2m_history_id", "history"}


@dataclass
class TimelineEntry:
    at: datetime
    who: str
    kind: str  # "transition" or "edit"
    summary: str
    comment: str = ""
    changes: list[dict] = field(default_factory=list)
    # For transitions: the action's code and the states' codes, for programs reading the API.
    action: str = ""
    from_state: str = ""
    to_state: str = ""
    # For transitions that record details (the no-objection's letter): label and value, as shown.
    details: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "details": self.details,
            "at": self.at,
            "who": self.who,
            "kind": self.kind,
            "action": self.action,
            "from_state": self.from_state,
            "to_state": self.to_state,
            "summary": self.summary,
            "comment": self.comment,
            "changes": self.changes,
        }


def _who(user) -> str:
    return user.get_display_name() if user is not None else _("the portal")


def _edits(records, label: str, model: type[Model]) -> list[TimelineEntry]:
    records = list(records.select_related("history_user").order_by("history_date", "history_id")[:MAX_EDITS])
    m2m_rows = _m2m_rows(records, model)
    # First the changes of every record, then the objects they name, fetched once per related model.
    pending: list[tuple[object, str, list]] = []
    previous_by_id: dict[int, object] = {}
    for record in records:
        previous = previous_by_id.get(record.id)
        previous_by_id[record.id] = record
        changes = []
        if record.history_type == "+":
            summary = _("%(what)s added")
        elif record.history_type == "-":
            summary = _("%(what)s removed")
        else:
            summary = _("%(what)s edited")
            # Without a previous record (the object predates the audit trail, e.g. demo data) there
            # is no diff to show; a save that only moved the state is shown as its transition.
            if previous is not None:
                changes = [
                    change
                    for change in _diff(record, previous, m2m_rows)
                    if change.field not in BOOKKEEPING_FIELDS
                ]
                if not changes:
                    continue
        pending.append((record, summary, changes))
    related = _related_objects(model, [change for *_rest, changes in pending for change in changes])
    return [
        TimelineEntry(
            record.history_date,
            _who(record.history_user),
            "edit",
            summary % {"what": label},
            changes=[
                {
                    "field": str(model._meta.get_field(change.field).verbose_name),
                    "old": _display(model, change.field, change.old, related),
                    "new": _display(model, change.field, change.new, related),
                }
                for change in changes
            ],
        )
        for record, summary, changes in pending
    ]


def _m2m_rows(records: list, model: type[Model]) -> dict[tuple[str, int], list[dict]]:
    """The many-to-many rows of each history record, by (field name, history id): one query per
    many-to-many field for all the records, in the order and shape `diff_against` compares them."""
    rows: dict[tuple[str, int], list[dict]] = {}
    if not records:
        return rows
    history_model = type(records[0])
    history_ids = [record.history_id for record in records]
    for m2m_field in history_model._history_m2m_fields:
        through = getattr(history_model, m2m_field.name).model
        names = [f.name for f in through._meta.fields if f.editable and f.name not in M2M_SKIPPED]
        order = utils.get_m2m_reverse_field_name(model._meta.get_field(m2m_field.name))
        values = (
            through._default_manager.filter(history_id__in=history_ids)
            .order_by("history_id", order)
            .values_list("history_id", *names)
        )
        for history_id, *row in values:
            rows.setdefault((m2m_field.name, history_id), []).append(dict(zip(names, row, strict=True)))
    return rows


def _diff(record, previous, m2m_rows: dict[tuple[str, int], list[dict]]) -> list[ModelChange]:
    """`record.diff_against(previous).changes`, with the many-to-many rows read beforehand."""
    m2m_names = [field.name for field in previous._history_m2m_fields]
    plain = {f.name for f in previous.tracked_fields if f.editable} - set(m2m_names)
    changes = list(record.diff_against(previous, included_fields=plain).changes)
    for name in m2m_names:
        old = m2m_rows.get((name, previous.history_id), [])
        new = m2m_rows.get((name, record.history_id), [])
        if old != new:
            changes.append(ModelChange(name, old, new))
    changes.sort(key=lambda change: change.field)
    return changes


def _related_objects(model: type[Model], changes: list[ModelChange]) -> dict[type[Model], dict]:
    """The objects that changed relations name, by related model and pk: one query per model."""
    wanted: dict[type[Model], set] = {}
    for change in changes:
        model_field = model._meta.get_field(change.field)
        if not model_field.is_relation:
            continue
        related = model_field.related_model
        for value in (change.old, change.new):
            if isinstance(value, list):
                key = related._meta.model_name
                wanted.setdefault(related, set()).update(
                    row.get(key) for row in value if isinstance(row, dict) and row.get(key) is not None
                )
            elif value is not None and value != "" and not isinstance(value, bool):
                wanted.setdefault(related, set()).add(value)
    return {related: related.objects.in_bulk(list(ids)) for related, ids in wanted.items() if ids}


def _display(
    model: type[Model], field_name: str, value, related_objects: dict[type[Model], dict] | None = None
) -> str:
    """How a value of a field reads. Related objects come from `related_objects` (see
    _related_objects(), no query); without it they are fetched for this value alone."""
    if related_objects is None:
        related_objects = _related_objects(model, [ModelChange(field_name, value, None)])
    model_field = model._meta.get_field(field_name)
    if isinstance(value, list):  # many-to-many changes come as lists of through-table rows
        related = model_field.related_model
        key = related._meta.model_name
        ids = [row.get(key) for row in value if isinstance(row, dict)]
        names = related_objects.get(related, {})
        return ", ".join(str(names[pk]) for pk in ids if pk in names) or "—"
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if model_field.is_relation:
        found = related_objects.get(model_field.related_model, {}).get(value)
        return str(found) if found is not None else str(value)
    if model_field.choices:
        return str(dict(model_field.flatchoices).get(value, value))
    return str(value)[:300]


def log_entries(model: type[Model], rows: Iterable) -> list[TimelineEntry]:
    """Log rows (core.lifecycle) of objects of `model` as timeline entries, in the rows' order: who,
    when, which action, from which state to which, and why."""
    states = lifecycle.lifecycle_of(model).states
    entries = []
    for row in rows:
        label = action_label(model, row.action)
        summary = label
        # A decision that leaves the state as it was (a confirmation) reads as the decision alone.
        if row.from_state != row.to_state:
            summary = _("%(action)s: %(from)s → %(to)s") % {
                "action": label,
                "from": states.get(row.from_state, row.from_state) or "—",
                "to": states.get(row.to_state, row.to_state),
            }
        entries.append(
            TimelineEntry(
                row.at,
                _who(row.actor),
                "transition",
                summary,
                comment=row.comment,
                action=row.action,
                from_state=row.from_state,
                to_state=row.to_state,
            )
        )
    return entries


def transition_entries(obj: Model) -> list[TimelineEntry]:
    """The log rows of any object with a lifecycle, oldest first."""
    return log_entries(type(obj)._meta.concrete_model or type(obj), lifecycle.transitions_of(obj))


def transition_details(obj: Model, action: str) -> list[dict]:
    """What a transition recorded on the object besides its state, as the timeline shows it with the
    transition: the World Bank's letter of a proposal's no-objection."""
    if isinstance(obj, Proposal) and action == "no_objection" and obj.no_objection_reference:
        return [
            {
                "field": str(Proposal._meta.get_field(name).verbose_name),
                "value": formats.date_format(value, "DATE_FORMAT") if isinstance(value, date) else str(value),
            }
            for name in ("no_objection_reference", "no_objection_date")
            if (value := getattr(obj, name)) not in (None, "")
        ]
    return []


def timeline(obj: Model) -> list[TimelineEntry]:
    """Transitions and recorded edits (where the model keeps an edit history), newest first."""
    entries = transition_entries(obj)
    for entry in entries:
        entry.details = transition_details(obj, entry.action)
    if hasattr(obj, "history"):
        entries += _edits(obj.history.all(), str(obj._meta.verbose_name), type(obj))
    if isinstance(obj, Proposal):
        for model in (BudgetLine, Activity, CommittedResult):
            entries += _edits(model.history.filter(proposal_id=obj.pk), str(model._meta.verbose_name), model)
    return sorted(entries, key=lambda entry: entry.at, reverse=True)
