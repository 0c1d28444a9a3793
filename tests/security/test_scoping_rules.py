"""The rules that keep related objects scoped hold for every serializer, filter and renderer, including
the ones written after these tests: a new writable relation, filter on a related object or view that
forgets them fails here, naming itself.

- A writable relation (serializer field) to anything but reference data narrows its choices to what
  the requesting user may see (smart_portal.api.ScopedRelations, or a field that scopes itself).
- Every filter set the API uses goes through smart_portal.api.ScopedFilterBackend, and every filter
  on a related object names a model whose visibility is stated (core.visibility).
- The browsable API draws its forms with smart_portal.api.ScopedBrowsableAPIRenderer.
"""

from __future__ import annotations

import django_filters
import pytest
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import serializers
from rest_framework.renderers import BrowsableAPIRenderer
from rest_framework.settings import api_settings

from core import visibility
from core.roles import Role
from smart_portal.api import ScopedBrowsableAPIRenderer, ScopedFilterBackend, ScopedRelations
from tests.factories import make_user
from tests.security.routes import api_routes, model_of, project_serializer_classes


def _relations(serializer: serializers.Serializer):
    for name, field in serializer.fields.items():
        relation = field.child_relation if isinstance(field, serializers.ManyRelatedField) else field
        if isinstance(relation, serializers.RelatedField) and not relation.read_only:
            yield name, relation


def _related_model(relation: serializers.RelatedField):
    if relation.queryset is not None:
        return relation.queryset.model
    return getattr(relation, "model", None)


def _instances():
    for cls in project_serializer_classes():
        try:
            serializer = cls(context={})
            serializer.fields  # noqa: B018 (abstract bases without Meta cannot build theirs)
        except (AssertionError, TypeError):
            continue
        if isinstance(serializer, serializers.Serializer):
            yield cls, serializer


def test_every_writable_relation_offers_only_what_the_user_may_see():
    unscoped, checked = [], 0
    for cls, serializer in _instances():
        for name, relation in _relations(serializer):
            model = _related_model(relation)
            assert model is not None, f"{cls.__qualname__}.{name}: which model does it relate to?"
            assert visibility.has_rule(model), (
                f"{cls.__qualname__}.{name} relates to {model.__name__}, whose visibility no rule states "
                "(add visible_to, a core.visibility.RULES entry, or list it in PUBLIC)"
            )
            if visibility.is_public(model):
                continue
            checked += 1
            scopes_itself = type(relation).get_queryset is not serializers.RelatedField.get_queryset
            if not (isinstance(serializer, ScopedRelations) or scopes_itself):
                unscoped.append(f"{cls.__module__}.{cls.__qualname__}.{name} → {model.__name__}")
    assert checked > 10, "the walk found too few relations to prove anything"
    assert not unscoped, "writable relations offering every object, whoever asks:\n" + "\n".join(unscoped)


def test_a_relation_without_a_request_offers_only_reference_data(db):
    from subprojects.api.serializers import ConceptNoteSerializer
    from tests.subprojects.factories import CallFactory

    CallFactory(created_by=make_user("pmu-x", Role.PMU_OFFICER))
    fields = ConceptNoteSerializer(context={}).fields
    assert not fields["call"].get_queryset().exists()
    assert fields["sector"].get_queryset().exists()  # reference data stays offered


def test_every_api_filter_goes_through_the_scoped_backend():
    wrong = []
    for route in api_routes():
        backends = getattr(route.view_class, "filter_backends", None) or []
        for backend in backends:
            if issubclass(backend, DjangoFilterBackend) and not issubclass(backend, ScopedFilterBackend):
                wrong.append(f"{route.view_class.__name__}: {backend.__name__}")
    assert not wrong, "API views filtering related ids without scoping them:\n" + "\n".join(
        sorted(set(wrong))
    )


def _api_filtersets():
    backend = ScopedFilterBackend()
    seen = set()
    for route in api_routes():
        view_class = route.view_class
        if view_class in seen or ScopedFilterBackend not in (
            getattr(view_class, "filter_backends", []) or []
        ):
            continue
        seen.add(view_class)
        model = model_of(route)
        if model is None:
            continue
        filterset = backend.get_filterset_class(view_class(), model._default_manager.none())
        if filterset is not None:
            yield view_class, filterset


def test_every_filter_on_a_related_object_names_a_model_with_a_visibility_rule():
    related = []
    for view_class, filterset in _api_filtersets():
        for name, filter_ in filterset.base_filters.items():
            if isinstance(filter_, django_filters.filters.QuerySetRequestMixin):
                queryset = filter_.queryset
                model = queryset.model if hasattr(queryset, "model") else None
                assert model is not None, f"{view_class.__name__}?{name}"
                assert visibility.has_rule(model), f"{view_class.__name__}?{name}"
                related.append(f"{view_class.__name__}?{name}")
    # The filters the issue named are among them, so the rule covers them.
    for expected in (
        "ConditionViewSet?proposal",
        "ConceptNoteViewSet?call",
        "ProposalViewSet?call",
        "ScoreSheetViewSet?agenda_item",
        "ScoreSheetViewSet?member",
        "ConflictDeclarationViewSet?agenda_item",
        "EnterpriseViewSet?cluster",
    ):
        assert expected in related, f"{expected} is not a filter on a related object any more"


def test_the_browsable_api_draws_scoped_forms():
    renderers = api_settings.DEFAULT_RENDERER_CLASSES
    assert ScopedBrowsableAPIRenderer in renderers
    plain = []
    for route in api_routes():
        for renderer in getattr(route.view_class, "renderer_classes", []) or []:
            if issubclass(renderer, BrowsableAPIRenderer) and not issubclass(
                renderer, ScopedBrowsableAPIRenderer
            ):
                plain.append(route.view_class.__name__)
    assert not plain, f"views drawing unscoped browsable forms: {sorted(set(plain))}"


@pytest.mark.parametrize(
    "label",
    sorted(visibility.PUBLIC),
)
def test_public_models_are_reference_data(label):
    """PUBLIC is for data with no owner; anything of a PO or a person needs its own rule."""
    from django.apps import apps

    model = apps.get_model(label)
    field_names = {f.name for f in model._meta.get_fields()}
    assert not field_names & {"partner_organization", "created_by", "member", "user"}, label
