"""The one way anything in the portal changes state: rule tables as data, and one `apply()`.

Each model with a status registers a `Lifecycle`: its rules (this action, from these states, by
these roles, leads to that state), the guards and effects the rules name, and who else may act.
Pages, the API, tasks, buttons, "waiting on you" lists, notifications and the tests read the same
tables. `apply()` locks the row, checks the rule (403 when *who* may not, 409 when it is not
possible *now*), runs the guards and the effect, saves, and writes one Transition row with the
actor, the time, the states and the comment. Any refusal raises ActionRefused and changes nothing.

A save that changes a registered model's state anywhere else is refused (`StateChangedOutsideLifecycle`),
so no state can move without its log row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.models import Model
from django.db.models.signals import pre_save
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.text import Truncator
from django.utils.translation import gettext as _

from core.audit import audit, describe_object
from core.errors import ActionRefused, Forbidden
from core.roles import Role

# simple_history's `history_change_reason` column.
HISTORY_REASON_MAX_LENGTH = 100
# A rule's target for an action that keeps the state it is taken from (e.g. reopening a call's scoring,
# whether the call is still open or closed): logged like any transition, from and to the same state.
SAME_STATE = "="

Guard = Callable[..., None]  # raises ActionRefused when the action may not happen now
Effect = Callable[..., list[str]]  # changes the object; returns the further fields to save
Who = Callable[[Any, Any], bool]  # (user, obj) -> may this person act, beyond the role?
M = TypeVar("M", bound=Model)


@dataclass(frozen=True)
class Rule:
    action: str
    label: str | Promise
    sources: frozenset[str]
    target: str
    # Empty: only the portal itself (a scheduled task) takes the action.
    roles: frozenset[Role]
    comment_required: bool = False
    # Buttons for irreversible or heavy actions ask for confirmation in the browser.
    confirm: str | Promise = ""
    # "primary", "danger" or "secondary": how the button looks.
    style: str = "primary"
    # Extra checks (deadline, completeness, ...) and the side effect, by name in the lifecycle.
    guards: tuple[str, ...] = ()
    effect: str = ""
    # Actions taken by a PO's staff on their own PO's object.
    po_owned: bool = False
    # Parameters the action takes (besides the comment), validated by its guards and effect.
    params: tuple[str, ...] = field(default=())
    # Whether the object then "waits on" the role (home page list); optional actions don't.
    waits: bool = True
    # A further check of *who* may act, beyond the role (e.g. the meeting's chair), by name.
    who: str = ""
    # The portal may also take it on its own (user None), e.g. closing a call at its deadline.
    by_portal: bool = False
    # Whether the page shows a button for it (actions taken from their own form or by tasks don't).
    button: bool = True
    # The guards asked before the action is offered (its button, the top of its form): those that read
    # the object as it is, not the details the person is about to give. None: every guard of a rule
    # without parameters, none of a rule with parameters (its guards check what is given).
    prechecks: tuple[str, ...] | None = None

    @property
    def checked_before(self) -> tuple[str, ...]:
        """The guards `blockers()` asks before offering the action (see `prechecks`)."""
        if self.prechecks is not None:
            return self.prechecks
        return () if self.params else self.guards

    def target_from(self, source: str) -> str:
        """The state the action leads to from `source` (itself, for a SAME_STATE rule)."""
        return source if self.target == SAME_STATE else self.target


def rule(
    action: str,
    label: str | Promise,
    sources: Iterable[str],
    target: str,
    roles: Iterable[Role],
    **kwargs: Any,
) -> Rule:
    return Rule(action, label, frozenset(sources), target, frozenset(roles), **kwargs)


def _owning_po(obj: Model) -> int | None:
    return getattr(obj, "partner_organization_id", None)


@dataclass
class Lifecycle:
    model: type[Model]
    rules: list[Rule]
    guards: dict[str, Guard] = field(default_factory=dict)
    effects: dict[str, Effect] = field(default_factory=dict)
    who: dict[str, Who] = field(default_factory=dict)
    state_field: str = "status"
    # Set to the moment of each transition, when the model has that field.
    changed_at_field: str | None = "status_changed_at"
    # The PO that owns an object, for `po_owned` rules.
    owner: Callable[[Any], int | None] = _owning_po
    # Called with the Transition row inside the transition's transaction, to queue what must follow
    # (emails...) through core.outbox: it runs once the transaction commits, and never without it.
    follow_up: Callable[[Any], None] | None = None
    # Labels of logged events that are not rules (e.g. "invite" creates a proposal).
    event_labels: dict[str, str | Promise] = field(default_factory=dict)
    # The URL name of the page endpoint that takes an action: reverse(url_name, args=[pk, action]).
    url_name: str = ""
    # The auto_now timestamps, which a save only writes when they are named in update_fields.
    also_saved: tuple[str, ...] = field(init=False, default=())

    def __post_init__(self) -> None:
        names = {f.name for f in self.model._meta.concrete_fields}
        if self.changed_at_field not in names:
            self.changed_at_field = None
        # auto_now timestamps are only written when named in update_fields.
        self.also_saved = tuple(
            f.name for f in self.model._meta.concrete_fields if getattr(f, "auto_now", False)
        )
        # A table that names a missing guard or repeats an action is a programming error: fail at start.
        actions = [r.action for r in self.rules]
        duplicated = {a for a in actions if actions.count(a) > 1}
        if duplicated:
            raise ImproperlyConfigured(f"{self.model.__name__}: actions defined twice: {duplicated}")
        for r in self.rules:
            missing = [g for g in r.guards if g not in self.guards]
            missing += [r.effect] if r.effect and r.effect not in self.effects else []
            missing += [r.who] if r.who and r.who not in self.who else []
            if missing:
                raise ImproperlyConfigured(f"{self.model.__name__}.{r.action}: unknown {missing}")
            # A precheck is one of the rule's own guards: what is offered is what apply() would allow.
            strays = [g for g in r.prechecks or () if g not in r.guards]
            if strays:
                raise ImproperlyConfigured(f"{self.model.__name__}.{r.action}: prechecks not guards {strays}")

    @property
    def states(self) -> dict[str, str]:
        state_field = self.model._meta.get_field(self.state_field)
        return {str(k): str(v) for k, v in getattr(state_field, "flatchoices", ())}

    def get_rule(self, action: str) -> Rule:
        for candidate in self.rules:
            if candidate.action == action:
                return candidate
        raise ActionRefused(
            _("“%(action)s” is not an action of this kind of record.") % {"action": action}, code="unknown"
        )

    def state_of(self, obj: Model) -> str:
        return getattr(obj, self.state_field)


_LIFECYCLES: dict[type[Model], Lifecycle] = {}


def register(lifecycle: Lifecycle) -> Lifecycle:
    _LIFECYCLES[lifecycle.model] = lifecycle
    pre_save.connect(
        _refuse_state_change_outside,
        sender=lifecycle.model,
        dispatch_uid=f"lifecycle-{lifecycle.model._meta.label}",
    )
    return lifecycle


def registered() -> dict[type[Model], Lifecycle]:
    return dict(_LIFECYCLES)


def lifecycle_of(model_or_obj: type[Model] | Model) -> Lifecycle:
    given = model_or_obj if isinstance(model_or_obj, type) else type(model_or_obj)
    model = given._meta.concrete_model or given
    try:
        return _LIFECYCLES[model]
    except KeyError:
        raise LookupError(f"{model.__name__} has no registered lifecycle") from None


def rules_for(model: type[Model]) -> list[Rule]:
    return lifecycle_of(model).rules


def get_rule(model: type[Model], action: str) -> Rule:
    return lifecycle_of(model).get_rule(action)


def action_label(model: type[Model], action: str) -> str:
    """How a logged action reads to people."""
    lifecycle = _LIFECYCLES.get(model)
    if lifecycle is not None:
        if action in lifecycle.event_labels:
            return str(lifecycle.event_labels[action])
        for candidate in lifecycle.rules:
            if candidate.action == action:
                return str(candidate.label)
    return action.replace("_", " ")


def may_act(user, obj: Model, rule: Rule) -> bool:
    """Who may act: the role, the PO for PO actions, and the rule's own `who` check. The state is
    checked separately (by `apply`)."""
    if user is None:
        return rule.by_portal
    if not user.is_authenticated or not user.has_role(*rule.roles):
        return False
    lifecycle = lifecycle_of(obj)
    if rule.po_owned:
        po_id = lifecycle.owner(obj)
        if po_id is None or user.partner_organization_id != po_id:
            return False
    return not rule.who or lifecycle.who[rule.who](user, obj)


def available_rules(user, obj: Model) -> list[Rule]:
    """The actions this user may take on this object now."""
    lifecycle = lifecycle_of(obj)
    state = lifecycle.state_of(obj)
    return [r for r in lifecycle.rules if state in r.sources and may_act(user, obj, r)]


@dataclass(frozen=True)
class Blocker:
    """One reason an action would be refused now: the refusing guard's name ("" for the state), its
    message and its code, as apply() would raise them."""

    guard: str
    message: str
    code: str

    def __str__(self) -> str:
        return self.message


def blockers(user, obj: Model, rule: Rule) -> list[Blocker]:
    """Why `rule` would be refused now, each reason as apply() would give it: the state, then every
    guard of `rule.checked_before` (all of them, not only the first that refuses). The guards are the
    very functions apply() runs, asked without the action's parameters; who may act is not asked (see
    `may_act`). Empty: nothing stops the action but what the person is about to give."""
    lifecycle = lifecycle_of(obj)
    found: list[Blocker] = []
    refusal = wrong_state(obj, rule)
    if refusal is not None:
        found.append(Blocker("", str(refusal.message), refusal.code))
    context = {"_user": user, "_action": rule.action, "_comment": ""}
    for name in rule.checked_before:
        try:
            lifecycle.guards[name](obj, **context)
        except ActionRefused as exc:
            found.append(Blocker(name, str(exc.message), exc.code))
    return found


def offered_rules(user, obj: Model) -> list[tuple[Rule, list[Blocker]]]:
    """The actions this user may take on this object in its state (`available_rules`), each with
    what stops it now (`blockers`): an action with blockers cannot succeed and is not offered."""
    return [(rule, blockers(user, obj, rule)) for rule in available_rules(user, obj)]


def describe(obj: Model) -> str:
    return str(getattr(obj, "reference", None) or obj)


def refuse_who(rule: Rule, obj: Model) -> Forbidden:
    message = _("Your role does not allow “%(action)s” on %(object)s.")
    return Forbidden(message % {"action": rule.label, "object": describe(obj)})


def check_state(obj: Model, rule: Rule, user: Any = None) -> None:
    """409 when the object is not in a state the rule starts from (`user`: who asked, for the log)."""
    refusal = wrong_state(obj, rule)
    if refusal is not None:
        raise audit_refusal(refusal, user, obj, rule.action)


def wrong_state(obj: Model, rule: Rule) -> ActionRefused | None:
    """The refusal of a rule not starting from the object's state (None when it does)."""
    lifecycle = lifecycle_of(obj)
    state = lifecycle.state_of(obj)
    if state in rule.sources:
        return None
    return ActionRefused(
        _("“%(action)s” is not possible while %(object)s is %(state)s.")
        % {"action": rule.label, "object": describe(obj), "state": lifecycle.states.get(state, state)},
        code="wrong_state",
    )


def check_may_act(user, obj: Model, rule: Rule) -> None:
    """403 when this person may not take the action (whatever the state)."""
    if not may_act(user, obj, rule):
        raise audit_refusal(refuse_who(rule, obj), user, obj, rule.action)


def audit_refusal(refusal: ActionRefused, user: Any, obj: Model, action: str) -> ActionRefused:
    """Log a refused transition once (core.audit: a structured line, never a database row, since
    the refusal changes nothing), wherever it is refused: the pre-checks of pages and API, or
    apply() itself. Returns the refusal, to be raised."""
    if not getattr(refusal, "audited", False):
        audit(
            "transition_refused",
            user=user,
            object=describe_object(obj),
            action=action,
            code=refusal.code,
            status=403 if refusal.is_forbidden else 409,
            reason=str(refusal.message),
        )
        refusal.audited = True  # type: ignore[attr-defined]
    return refusal


# --- The one way to change a state ----------------------------------------------------------------


def apply(obj: M, action: str, user, comment: str = "", **params: Any) -> M:
    """Take `action` on `obj` as `user` (None: the portal itself). Returns the updated object;
    raises ActionRefused (Forbidden for who, code "wrong_state" etc. for when) and changes nothing."""
    try:
        return _apply(obj, action, user, comment, **params)
    except ActionRefused as exc:
        # Refusals are security-relevant (someone tried what they may not, or not now).
        audit_refusal(exc, user, obj, action)
        raise


def _apply(obj: M, action: str, user, comment: str = "", **params: Any) -> M:
    lifecycle = lifecycle_of(obj)
    model = lifecycle.model
    rule = lifecycle.get_rule(action)
    comment = (comment or "").strip()
    with transaction.atomic():
        locked = model._base_manager.select_for_update().get(pk=obj.pk)
        check_may_act(user, locked, rule)
        check_state(locked, rule, user)
        if rule.comment_required and not comment:
            raise ActionRefused(
                _("“%(action)s” needs a comment saying why.") % {"action": rule.label},
                code="comment_required",
            )
        unknown = set(params) - set(rule.params)
        if unknown:
            raise ActionRefused(_("Unexpected details: %(names)s.") % {"names": ", ".join(sorted(unknown))})
        # Guards and effects see who acts and why, besides the action's own parameters.
        context = {"_user": user, "_action": rule.action, "_comment": comment, **params}
        for guard in rule.guards:
            lifecycle.guards[guard](locked, **context)
        from_state = lifecycle.state_of(locked)
        now = timezone.now()
        changed: list[str] = [lifecycle.state_field, *lifecycle.also_saved]
        if rule.effect:
            changed += lifecycle.effects[rule.effect](locked, **context)
        to_state = rule.target_from(from_state)
        setattr(locked, lifecycle.state_field, to_state)
        if lifecycle.changed_at_field:
            setattr(locked, lifecycle.changed_at_field, now)
            changed.append(lifecycle.changed_at_field)
        # simple_history's reason for the edit (its column holds 100 characters: the full comment is
        # on the Transition row), and the pass for the guard below.
        reason = f"{rule.action}: {comment}" if comment else rule.action
        setattr(locked, "_change_reason", Truncator(reason).chars(HISTORY_REASON_MAX_LENGTH))  # noqa: B010
        setattr(locked, "_lifecycle_moving", True)  # noqa: B010
        try:
            locked.save(update_fields=list(dict.fromkeys(changed)))
        finally:
            setattr(locked, "_lifecycle_moving", False)  # noqa: B010
        record(locked, rule.action, user, comment, from_state=from_state, to_state=to_state, at=now)
    # Read through `lifecycle.model`, the concrete model of `type(obj)`: the same class (no proxy is
    # registered), which the checker cannot see through the registry.
    return cast(M, locked)


def record(
    subject: Model,
    action: str,
    user,
    comment: str = "",
    *,
    from_state: str | None = None,
    to_state: str | None = None,
    at=None,
):
    """The log row of a transition, or of an event in the object's life that is not a state change
    (an invitation that creates it, a correction of a reviewed field): who, when, from, to, why.
    Objects without a lifecycle (e.g. a training session whose module is remapped) log events too,
    naming what changed in `from_state`/`to_state`."""
    lifecycle = _LIFECYCLES.get(type(subject)._meta.concrete_model or type(subject))
    state = lifecycle.state_of(subject) if lifecycle else ""
    transition_model = apps.get_model("subprojects", "Transition")
    row = transition_model.objects.create(
        subject=subject,
        action=action,
        from_state=state if from_state is None else from_state,
        to_state=state if to_state is None else to_state,
        actor=user,
        at=at or timezone.now(),
        comment=(comment or "").strip(),
    )
    if lifecycle is not None and lifecycle.follow_up is not None:
        lifecycle.follow_up(row)
    return row


def transitions_of(obj: Model):
    """The log rows of one object, oldest first, with their actors."""
    from django.contrib.contenttypes.models import ContentType

    transition_model = apps.get_model("subprojects", "Transition")
    return transition_model.objects.filter(
        content_type=ContentType.objects.get_for_model(obj), object_id=obj.pk
    ).select_related("actor")


def replay_history(obj: Model, steps: Iterable[tuple[str, str, str, Any, Any, str]]) -> Model:
    """Write a past history (demo data, records carried over from an earlier system): each step
    `(action, from_state, to_state, actor, at, comment)` must follow the table (the action exists and
    leads from that state to that one; events such as "invite" are logged as they are), and the object
    is left in the last state, as of the last step."""
    lifecycle = lifecycle_of(obj)
    last_at = None
    with transaction.atomic():
        for action, from_state, to_state, actor, at, comment in steps:
            if action not in lifecycle.event_labels:
                step_rule = lifecycle.get_rule(action)
                if from_state not in step_rule.sources or to_state != step_rule.target_from(from_state):
                    raise ImproperlyConfigured(
                        f"{lifecycle.model.__name__}: {action} does not lead from {from_state} to {to_state}"
                    )
            record(obj, action, actor, comment, from_state=from_state, to_state=to_state, at=at)
            setattr(obj, lifecycle.state_field, to_state)
            last_at = at
        if lifecycle.changed_at_field and last_at is not None:
            setattr(obj, lifecycle.changed_at_field, last_at)
        setattr(obj, "_lifecycle_moving", True)  # noqa: B010
        try:
            obj.save()
        finally:
            setattr(obj, "_lifecycle_moving", False)  # noqa: B010
    return obj


# --- Nothing changes state elsewhere --------------------------------------------------------------


class StateChangedOutsideLifecycle(RuntimeError):
    """A programming error: a state was about to change without its rule and its log row."""


def stored_state(model: type[Model], pk: Any, state_field: str) -> str | None:
    return model._base_manager.filter(pk=pk).values_list(state_field, flat=True).first()


def _refuse_state_change_outside(sender, instance, raw=False, update_fields=None, **kwargs) -> None:
    if raw or instance._state.adding or getattr(instance, "_lifecycle_moving", False):
        return
    lifecycle = _LIFECYCLES[sender._meta.concrete_model]
    # Compared with the row as stored, not as loaded: a stale copy saved back would undo a transition.
    state_field = lifecycle.state_field
    if update_fields is not None and state_field not in update_fields:
        return
    if state_field not in instance.__dict__:  # deferred: not being changed
        return
    stored = stored_state(sender, instance.pk, state_field)
    if stored is not None and stored != getattr(instance, state_field):
        raise StateChangedOutsideLifecycle(
            f"{sender.__name__} {instance.pk}: {state_field} {stored!r} → {getattr(instance, state_field)!r} "
            "outside core.lifecycle.apply()"
        )
