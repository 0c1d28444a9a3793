"""The audit trail of one object: its transitions and every recorded edit, newest first."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Model
from django.utils.translation import gettext as _

from subprojects.models import Activity, BudgetLine, CommittedResult, Proposal
from subprojects.workflow import action_label

# Saves that only move the state are shown as the transition, not as an edit.
BOOKKEEPING_FIELDS = {"status", "status_changed_at", "updated_at", "submitted_at"}
MAX_EDITS = 200


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

    def as_dict(self) -> dict:
        return {
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
    entries = []
    records = list(records.select_related("history_user").order_by("history_date", "history_id")[:MAX_EDITS])
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
                    {
                        "field": str(model._meta.get_field(change.field).verbose_name),
                        "old": _display(model, change.field, change.old),
                        "new": _display(model, change.field, change.new),
                    }
                    for change in record.diff_against(previous).changes
                    if change.field not in BOOKKEEPING_FIELDS
                ]
                if not changes:
                    continue
        entries.append(
            TimelineEntry(
                record.history_date,
                _who(record.history_user),
                "edit",
                summary % {"what": label},
                changes=changes,
            )
        )
    return entries


def _display(model: type[Model], field_name: str, value) -> str:
    model_field = model._meta.get_field(field_name)
    if isinstance(value, list):  # many-to-many changes come as lists of through-table rows
        related = model_field.related_model
        key = related._meta.model_name
        ids = [row.get(key) for row in value if isinstance(row, dict)]
        names = related.objects.in_bulk(ids)
        return ", ".join(str(names[pk]) for pk in ids if pk in names) or "—"
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if model_field.is_relation:
        related = model_field.related_model.objects.filter(pk=value).first()
        return str(related) if related else str(value)
    if model_field.choices:
        return str(dict(model_field.flatchoices).get(value, value))
    return str(value)[:300]


def timeline(obj: Model) -> list[TimelineEntry]:
    states = dict(obj._meta.get_field("status").flatchoices)
    entries = [
        TimelineEntry(
            t.at,
            _who(t.actor),
            "transition",
            _("%(action)s: %(from)s → %(to)s")
            % {
                "action": action_label(type(obj), t.action),
                "from": states.get(t.from_state, t.from_state) or "—",
                "to": states.get(t.to_state, t.to_state),
            },
            comment=t.comment,
            action=t.action,
            from_state=t.from_state,
            to_state=t.to_state,
        )
        for t in obj.transitions.select_related("actor")
    ]
    entries += _edits(obj.history.all(), str(obj._meta.verbose_name), type(obj))
    if isinstance(obj, Proposal):
        for model in (BudgetLine, Activity, CommittedResult):
            entries += _edits(model.history.filter(proposal_id=obj.pk), str(model._meta.verbose_name), model)
    return sorted(entries, key=lambda entry: entry.at, reverse=True)
