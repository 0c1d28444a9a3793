"""What each user may see of every model: the one rule behind the lists, the related-object choices
(API forms and writable relations, filter drop-downs and filters by id) and the admin.

`visible(model, user)` is `Model.objects.visible_to(user)` for the models that have it. The few
models without one get their rule here (`RULES`), and reference data (`PUBLIC`: geography,
sectors, catalogues) is visible to anyone signed in. A model with none of these is visible to no
one: a relation nobody thought about offers no choice rather than everyone's objects.

Whatever uses these rules answers "not yours" exactly as "does not exist": a related id outside the
visible set is refused with the same message as an id that was never used.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db.models import Model, Q, QuerySet

# Reference data: the same for everyone signed in, whatever their role or PO.
PUBLIC: frozenset[str] = frozenset(
    {
        "core.businessarea",
        "core.sector",
        "core.subsector",
        "core.division",
        "core.district",
        "core.upazila",
        "enterprises.recppractice",
        "enterprises.kpi",
        "enterprises.trainingmodule",
        "monitoring.indicator",
        "monitoring.milestone",
    }
)


def _label(model: type[Model]) -> str:
    return model._meta.label_lower


def is_public(model: type[Model]) -> bool:
    return _label(model) in PUBLIC


def _signed_in(user) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


# --- Rules of the models without `visible_to` ---------------------------------------------------


def visible_users(user) -> QuerySet:
    """The people a user may see named (by username, in choices and filters).

    Programme-wide roles see everyone. Anyone else sees themself, the staff of their own PO and, for
    TEC members, the members of the meetings they sit on. Another PO's staff, and the TEC members
    evaluating a PO's proposals, are nobody a PO's staff may look up."""
    from core.models import User
    from subprojects.models import TecMeeting

    if not _signed_in(user):
        return User.objects.none()
    if user.sees_whole_programme:
        return User.objects.all()
    condition = Q(pk=user.pk)
    if user.partner_organization_id:
        condition |= Q(partner_organization_id=user.partner_organization_id)
    meetings = TecMeeting.objects.visible_to(user)
    condition |= Q(pk__in=TecMeeting.members.through.objects.filter(tecmeeting__in=meetings).values("user"))
    return User.objects.filter(condition)


def _agenda_items(user) -> QuerySet:
    from subprojects.models import AgendaItem, TecMeeting

    return AgendaItem.objects.filter(meeting__in=TecMeeting.objects.visible_to(user))


def _declarations(user) -> QuerySet:
    from subprojects.models import ConflictDeclaration, TecMeeting

    return ConflictDeclaration.objects.filter(agenda_item__meeting__in=TecMeeting.objects.visible_to(user))


def _conditions(user) -> QuerySet:
    from subprojects.models import Condition, Proposal

    return Condition.objects.filter(proposal__in=Proposal.objects.visible_to(user))


def _rubrics(user) -> QuerySet:
    from subprojects.models import Call, Rubric

    return Rubric.objects.filter(call__in=Call.objects.visible_to(user))


def _criteria(user) -> QuerySet:
    from subprojects.models import Call, Criterion

    return Criterion.objects.filter(rubric__call__in=Call.objects.visible_to(user))


def _cluster_suggestions(user) -> QuerySet:
    from enterprises.clusters import visible_suggestions

    return visible_suggestions(user)


def _verification_rounds(user) -> QuerySet:
    """Those who follow the rounds see them all; PO staff the rounds of the checks they may see."""
    from verification.models import VerificationCheck, VerificationRound
    from verification.permissions import can_follow_rounds

    if not _signed_in(user):
        return VerificationRound.objects.none()
    if can_follow_rounds(user):
        return VerificationRound.objects.all()
    return VerificationRound.objects.filter(pk__in=VerificationCheck.objects.visible_to(user).values("round"))


def _report_jobs(user) -> QuerySet:
    from monitoring.reports import visible_jobs

    return visible_jobs(user)


def _own_sessions(user) -> QuerySet:
    from core.models import UserSession

    return UserSession.objects.filter(user_id=user.pk)


def _own_exports(user) -> QuerySet:
    from core.export_jobs import exports_of

    return exports_of(user)


def _own_saved_filters(user) -> QuerySet:
    from core.models import SavedFilter

    return SavedFilter.objects.filter(user_id=user.pk)


RULES: dict[str, Callable[[object], QuerySet]] = {
    "core.user": visible_users,
    "core.usersession": _own_sessions,
    "core.exportjob": _own_exports,
    "core.savedfilter": _own_saved_filters,
    "subprojects.agendaitem": _agenda_items,
    "subprojects.conflictdeclaration": _declarations,
    "subprojects.condition": _conditions,
    "subprojects.rubric": _rubrics,
    "subprojects.criterion": _criteria,
    "enterprises.clustersuggestion": _cluster_suggestions,
    "verification.verificationround": _verification_rounds,
    "monitoring.reportjob": _report_jobs,
}


def has_rule(model: type[Model]) -> bool:
    """Whether the model's visibility is stated (else nobody sees it through a relation)."""
    return is_public(model) or _label(model) in RULES or hasattr(model._default_manager.all(), "visible_to")


def visible(model: type[Model], user) -> QuerySet:
    """Every object of `model` that `user` may see."""
    manager = model._default_manager
    if not _signed_in(user):
        return manager.none()
    if is_public(model):
        return manager.all()
    rule = RULES.get(_label(model))
    if rule is not None:
        return rule(user)
    everything = manager.all()
    if hasattr(everything, "visible_to"):
        return everything.visible_to(user)
    return manager.none()


def narrowed(queryset: QuerySet, user) -> QuerySet:
    """`queryset` (with its own conditions, e.g. "submitted proposals") less what `user` may not see;
    still lazy, so it can be built before the request reads it."""
    model = queryset.model
    if is_public(model):
        return queryset  # reference data, whoever asks (the views require signing in)
    return queryset.filter(pk__in=visible(model, user).values("pk"))


# --- Filter sets (pages and API) ----------------------------------------------------------------


def labels_only(queryset: QuerySet, to_field_name: str | None = None) -> QuerySet:
    """A drop-down's queryset reading only what its options show, when its model names the columns
    its label reads (`CHOICE_LABEL_FIELDS`): an option needs its key and its label, not the row's other
    columns (the enterprise list's 100 sub-projects took 4 ms to fetch and build whole, per request).
    The chosen object is the same row; a column left out is read if something asks for it."""
    fields = getattr(queryset.model, "CHOICE_LABEL_FIELDS", None)
    if not fields:
        return queryset
    return queryset.only(*fields, *([to_field_name] if to_field_name else []))


def scope_filterset(filterset, user) -> None:
    """Narrow every filter on a related object (its drop-down and the ids it accepts) to what `user`
    may see: another PO's id, a draft call's, a meeting one does not sit on are refused exactly as an
    id that does not exist ("Select a valid choice"), and never offered."""
    import django_filters

    request = getattr(filterset, "request", None)
    form = getattr(filterset, "_form", None)  # built already (e.g. styled in __init__)
    for name, filter_ in filterset.filters.items():
        if not isinstance(filter_, django_filters.filters.QuerySetRequestMixin):
            continue
        queryset = filter_.get_queryset(request)
        if queryset is None:
            continue
        filter_.queryset = labels_only(narrowed(queryset, user), filter_.extra.get("to_field_name"))
        if form is not None and name in form.fields:
            form.fields[name].queryset = filter_.queryset


class VisibleAdminMixin:
    """ModelAdmin: the admin lists and opens what the portal shows the signed-in user, no more (e.g. a
    PO's concept note never submitted stays the PO's own, as on the portal)."""

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if is_public(queryset.model) or not has_rule(queryset.model):
            return queryset
        return narrowed(queryset, request.user)
