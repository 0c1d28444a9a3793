"""Every state in the portal moves through the one engine (core.lifecycle) and leaves one log row.

- every model with a status (a field named like one, with choices) has a registered lifecycle;
- saving a changed state of any of them outside `apply()` is refused;
- no runtime module changes a state with a bulk `update(...)`, which would bypass both.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.apps import apps
from django.db.models.signals import pre_save

from core import lifecycle
from core.lifecycle import StateChangedOutsideLifecycle
from subprojects.models import ProposalStatus, SubProjectStatus, Transition
from tests.subprojects.factories import ProposalFactory, SubProjectFactory

ROOT = Path(__file__).resolve().parents[2]
PORTAL_APPS = {"core", "subprojects", "enterprises", "monitoring", "verification"}
# Names that mean "where this record is in its life"; a new one should be added here as it appears.
STATE_FIELD_NAMES = {"status", "state", "verification"}


def _portal_models():
    return [model for model in apps.get_models() if model._meta.app_label in PORTAL_APPS]


def _state_fields(model) -> list[str]:
    return [
        f.name
        for f in model._meta.concrete_fields
        if f.choices and (f.name in STATE_FIELD_NAMES or f.name.endswith("_status"))
    ]


def test_every_model_with_a_status_has_a_lifecycle():
    registered = lifecycle.registered()
    missing = [
        f"{model._meta.label}.{name}"
        for model in _portal_models()
        if not model.__name__.startswith("Historical")
        for name in _state_fields(model)
        if model not in registered or registered[model].state_field != name
    ]
    assert not missing, f"states that do not move through core.lifecycle: {missing}"


def test_every_lifecycle_names_a_real_state_field_and_only_its_states():
    for model, table in lifecycle.registered().items():
        states = set(table.states)
        assert states, f"{model.__name__}.{table.state_field} has no choices"
        for rule in table.rules:
            assert rule.sources <= states, f"{model.__name__}.{rule.action}: unknown source state"
            assert rule.target in states or rule.target == lifecycle.SAME_STATE, (
                f"{model.__name__}.{rule.action}: unknown target state"
            )


@pytest.mark.parametrize("model", list(lifecycle.registered()), ids=lambda m: m.__name__)
def test_a_state_saved_outside_the_engine_is_refused(model, monkeypatch):
    """For every registered model: the guard is connected and refuses a changed state."""
    table = lifecycle.registered()[model]
    first, second, *_ = list(table.states)
    instance = model()
    instance.pk = 1
    instance._state.adding = False
    setattr(instance, table.state_field, second)
    monkeypatch.setattr(lifecycle, "stored_state", lambda *args: first)
    with pytest.raises(StateChangedOutsideLifecycle):
        pre_save.send(sender=model, instance=instance, raw=False, using="default", update_fields=None)
    # The same save without a change of state, or not touching the state, passes.
    setattr(instance, table.state_field, first)
    pre_save.send(sender=model, instance=instance, raw=False, using="default", update_fields=None)
    setattr(instance, table.state_field, second)
    pre_save.send(sender=model, instance=instance, raw=False, using="default", update_fields=["pk"])


def test_saving_a_changed_status_directly_is_refused_and_changes_nothing(db):
    proposal = ProposalFactory(status=ProposalStatus.SUBMITTED)
    proposal.status = ProposalStatus.APPROVED
    with pytest.raises(StateChangedOutsideLifecycle):
        proposal.save()
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.SUBMITTED
    assert not Transition.objects.exists()


def test_a_stale_copy_cannot_undo_a_transition(db, pmu):
    """A copy loaded before a transition and saved afterwards would put the old state back."""
    sub_project = SubProjectFactory()
    stale = type(sub_project).objects.get(pk=sub_project.pk)
    lifecycle.apply(sub_project, "suspend", pmu, comment="Audit findings")
    stale.title = "Edited on an old copy"
    with pytest.raises(StateChangedOutsideLifecycle):
        stale.save()
    sub_project.refresh_from_db()
    assert sub_project.status == SubProjectStatus.SUSPENDED
    assert Transition.objects.filter(action="suspend", actor=pmu).count() == 1


def test_a_long_comment_is_kept_whole_in_the_log_and_cut_only_in_the_field_history(db, pmu):
    """The history's change-reason column holds 100 characters; PostgreSQL refused longer ones (500)."""
    sub_project = SubProjectFactory()
    comment = "Audit findings: " + " ".join(["the procurement file lacks three quotations."] * 8)
    lifecycle.apply(sub_project, "suspend", pmu, comment=comment)
    assert Transition.objects.get(action="suspend").comment == comment
    reason = sub_project.history.latest().history_change_reason
    assert reason.startswith("suspend: Audit findings")
    assert len(reason) <= lifecycle.HISTORY_REASON_MAX_LENGTH


def _runtime_sources() -> list[Path]:
    skipped = {"tests", "migrations", ".venv", "node_modules", "benchmarks"}
    return [path for path in ROOT.rglob("*.py") if not skipped & set(path.relative_to(ROOT).parts)]


QUERYSET_METHODS = {"filter", "exclude", "all", "objects", "select_for_update", "order_by", "using"}


def _bulk_state_writes(path: Path, state_fields: set[str], root: Path = ROOT) -> list[str]:
    """`<queryset>.update(status=...)` and `bulk_update(..., ["status"])` calls in one file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        receiver = node.func.value
        on_queryset = (isinstance(receiver, ast.Call) and isinstance(receiver.func, ast.Attribute)) and (
            receiver.func.attr in QUERYSET_METHODS
        )
        on_queryset |= isinstance(receiver, ast.Attribute) and receiver.attr == "objects"
        keywords = {kw.arg for kw in node.keywords}
        strings = {
            c.value for c in ast.walk(node) if isinstance(c, ast.Constant) and isinstance(c.value, str)
        }
        if (node.func.attr == "update" and on_queryset and keywords & state_fields) or (
            node.func.attr == "bulk_update" and strings & state_fields
        ):
            found.append(f"{path.relative_to(root)}:{node.lineno}")
    return found


def test_no_runtime_code_changes_a_state_in_bulk():
    state_fields = {table.state_field for table in lifecycle.registered().values()}
    offenders = [hit for path in _runtime_sources() for hit in _bulk_state_writes(path, state_fields)]
    assert not offenders, f"state changed by a bulk update, outside core.lifecycle: {offenders}"


def test_the_bulk_write_detector_finds_what_it_must(tmp_path):
    """The scan above is only worth something if it recognises the patterns it forbids."""
    sample = tmp_path / "sample.py"
    sample.write_text(
        "Proposal.objects.filter(pk=1).update(status='approved')\n"
        "Run.objects.update(status='failed')\n"
        "Proposal.objects.bulk_update(rows, ['status'])\n"
        "health.update(status='error')\n"
    )
    found = _bulk_state_writes(sample, {"status"}, root=tmp_path)
    assert found == ["sample.py:1", "sample.py:2", "sample.py:3"]


def test_no_admin_form_edits_a_state(rf, admin_user):
    """Staff change records in the admin, but a state only moves on the portal's pages and API."""
    from django.contrib import admin

    request = rf.get("/admin/")
    request.user = admin_user
    editable = []
    for model, table in lifecycle.registered().items():
        model_admin = admin.site._registry.get(model)
        if model_admin is None:
            continue
        instance = model()
        if not model_admin.has_change_permission(request, instance):
            continue
        if table.state_field not in model_admin.get_readonly_fields(request, instance):
            editable.append(model.__name__)
    assert not editable, f"the admin lets staff edit the state of: {editable}"
