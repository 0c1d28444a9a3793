"""Deletions for the API's synchronising clients: each record deleted from a resource the API
publishes leaves a `Tombstone` (its resource, id, natural key and PO), listed by
`GET /api/v1/deletions/` (core.api.deletions) and kept TOMBSTONE_KEEP_DAYS days.

The tombstone is written by a `post_delete` receiver in the deleting transaction: it exists exactly
when the deletion committed, whatever deleted the record (the API, a page, the admin site, a cascade).
A model published by two resources (financial supports, also listed as `loans`) leaves one per
resource, so that a client syncing either learns of it.

Not published: grievances, incidents and their corrective actions (SEA/SH cases are seen only by their
focal points), TEC score sheets and conflict declarations (blind scoring): who may know such a record
existed is not a matter of its PO, and those records are never deleted in the portal anyway.
"""

from __future__ import annotations

import functools
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.db.models.signals import post_delete
from django.utils import timezone

UNPUBLISHED = frozenset({"grievances", "incidents", "corrective-actions", "scores", "conflict-declarations"})

# A related record named in a natural key by its code, in the order looked for.
CODE_FIELDS = ("code", "pcode")
# Natural keys stated here win over the model's unique constraints.
NATURAL_KEYS: dict[str, tuple[str, ...]] = {
    "core.partnerorganization": ("code",),
    "enterprises.enterprise": ("partner_organization", "po_code"),
    "enterprises.trainingsession": ("partner_organization", "po_code"),
    "enterprises.kpireading": ("enterprise", "kpi", "period"),
    "enterprises.attendance": ("session", "enterprise"),
    "enterprises.financialsupport": ("enterprise", "kind", "disbursed_on"),
    "enterprises.adoption": ("enterprise", "practice"),
}


def keep_days() -> int:
    return int(getattr(settings, "TOMBSTONE_KEEP_DAYS", 90))


def synced_models() -> list[type[models.Model]]:
    """The models whose records the API publishes with `updated_at` (auto_now): every model behind a
    resource (the lead's groundwork gave them all one); historical copies excluded."""
    found = []
    for model in apps.get_models():
        try:
            field = model._meta.get_field("updated_at")
        except FieldDoesNotExist:
            continue
        if getattr(field, "auto_now", False) and not model._meta.label_lower.startswith("core.tombstone"):
            found.append(model)
    return found


@functools.cache
def resources_by_model() -> dict[str, tuple[str, ...]]:
    """`app.model` → the API resources (router prefixes) listing its records."""
    from smart_portal.urls import build_api_router

    found: dict[str, list[str]] = {}
    for prefix, viewset, _basename in build_api_router().registry:
        model = resource_model(viewset)
        if model is None or prefix in UNPUBLISHED or "/" in prefix:
            continue
        found.setdefault(model._meta.label_lower, []).append(prefix)
    return {label: tuple(prefixes) for label, prefixes in found.items()}


@functools.cache
def viewsets_by_resource() -> dict[str, type]:
    from smart_portal.urls import build_api_router

    labels = {prefix for prefixes in resources_by_model().values() for prefix in prefixes}
    return {prefix: viewset for prefix, viewset, _ in build_api_router().registry if prefix in labels}


def resource_names() -> list[str]:
    return sorted(viewsets_by_resource())


def resource_model(viewset) -> type[models.Model] | None:
    """The model whose records a viewset's list answers (its queryset's, else its serializer's), if
    that model has `updated_at`; None for computed resources (reports, panels)."""
    from rest_framework import serializers

    serializer = getattr(viewset, "serializer_class", None)
    serializer_model = None
    if serializer is not None and issubclass(serializer, serializers.ModelSerializer):
        serializer_model = getattr(serializer.Meta, "model", None)
    queryset = getattr(viewset, "queryset", None)
    model = queryset.model if queryset is not None else serializer_model
    if model is None or model is not serializer_model:
        return None
    return model if any(f.name == "updated_at" for f in model._meta.concrete_fields) else None


# --- The receiver ---------------------------------------------------------------------------------


def record_deletion(sender, instance, using, origin=None, **kwargs) -> None:
    """post_delete: one tombstone per resource publishing the record, in the deleting transaction."""
    from core.models import Tombstone

    label = sender._meta.label_lower
    resources = resources_by_model().get(label)
    if not resources or instance.pk is None:
        return
    natural_key = natural_key_of(instance, using)
    po_id = partner_organization_of(instance, using)
    now = timezone.now()
    Tombstone.objects.using(using).bulk_create(
        [
            Tombstone(
                resource=resource,
                model=label,
                object_id=instance.pk,
                natural_key=natural_key,
                partner_organization_id=po_id,
                deleted_at=now,
            )
            for resource in resources
        ]
    )


def connect_signals() -> None:
    for model in synced_models():
        post_delete.connect(
            record_deletion, sender=model, dispatch_uid=f"tombstone-{model._meta.label_lower}", weak=False
        )


# --- Natural keys and POs -------------------------------------------------------------------------


def natural_key_fields(model: type[models.Model]) -> tuple[str, ...]:
    """The fields that identify a record without its id: stated in NATURAL_KEYS, else a unique code
    field, else the model's first unconditional unique constraint, else a one-to-one relation; ()
    if none."""
    stated = NATURAL_KEYS.get(model._meta.label_lower)
    if stated:
        return stated
    unique = [f for f in model._meta.concrete_fields if f.unique and not f.primary_key]
    names = [f.name for f in unique]
    for name in (*CODE_FIELDS, "number", "reference"):
        if name in names:
            return (name,)
    for constraint in model._meta.constraints:
        if (
            isinstance(constraint, models.UniqueConstraint)
            and constraint.fields
            and constraint.condition is None
        ):
            return tuple(constraint.fields)
    for together in model._meta.unique_together:
        return tuple(together)
    for field in unique:
        if field.is_relation:
            return (field.name,)
    return ()


def natural_key_of(instance: models.Model, using: str) -> dict[str, Any] | None:
    """The record's natural key as the API writes those fields: a related record by its code (a PO,
    a KPI, a district) or by its id, with its `po_code` beside it as `<field>_code` (an enterprise, a
    training session)."""
    names = natural_key_fields(type(instance))
    if not names:
        return None
    key: dict[str, Any] = {}
    for name in names:
        field = instance._meta.get_field(name)
        if field.is_relation and (field.many_to_one or field.one_to_one):
            related_id = getattr(instance, field.attname)
            key.update(_related_key(field, related_id, using))
        else:
            key[name] = _json_value(getattr(instance, name))
    return key


def _related_key(field, related_id, using: str) -> dict[str, Any]:
    related = field.related_model
    if related_id is None:
        return {field.name: None}
    related_fields = {f.name for f in related._meta.concrete_fields}
    for code in CODE_FIELDS:
        if code in related_fields:
            value = (
                related._base_manager.using(using).filter(pk=related_id).values_list(code, flat=True).first()
            )
            return {field.name: value if value is not None else related_id}
    key: dict[str, Any] = {field.name: related_id}
    if "po_code" in related_fields:
        code = (
            related._base_manager.using(using).filter(pk=related_id).values_list("po_code", flat=True).first()
        )
        if code is not None:
            key[f"{field.name}_code"] = code
    return key


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    return value


@functools.cache
def po_paths(model: type[models.Model]) -> tuple[tuple[str, ...], ...]:
    """The chains of foreign keys from `model` to its PartnerOrganization, shortest first (at most
    three steps: `partner_organization`, or e.g. `enterprise`, `partner_organization`); a record
    belongs to the PO the first chain that is not empty leads to (an attachment: its concept note's
    or its proposal's)."""
    from core.models import PartnerOrganization

    if model is PartnerOrganization:
        return ()
    # Not through a person: whoever entered or verified a record is not what it belongs to.
    people = apps.get_model(settings.AUTH_USER_MODEL)
    found: list[tuple[str, ...]] = []
    level: list[tuple[type[models.Model], tuple[str, ...]]] = [(model, ())]
    for _depth in range(3):
        following = []
        for current, path in level:
            for field in _relations(current, people):
                if field.related_model is PartnerOrganization:
                    found.append((*path, field.name))
                else:
                    following.append((field.related_model, (*path, field.name)))
        if found:
            break
        level = following
    found.sort(key=lambda path: path[-1] != "partner_organization")
    return tuple(found)


def _relations(model: type[models.Model], people) -> list:
    relations = [
        f
        for f in model._meta.concrete_fields
        if f.is_relation and (f.many_to_one or f.one_to_one) and f.related_model not in (None, people, model)
    ]
    return sorted(relations, key=lambda f: f.name != "partner_organization")


def partner_organization_of(instance: models.Model, using: str) -> int | None:
    """The id of the PO the deleted record belonged to, if any."""
    for path in po_paths(type(instance)):
        first = instance._meta.get_field(path[0])
        first_id = getattr(instance, first.attname)
        if first_id is None:
            continue
        if len(path) == 1:
            return first_id
        lookup = "__".join(path[1:])
        found = (
            first.related_model._base_manager.using(using)
            .filter(pk=first_id)
            .values_list(lookup, flat=True)
            .first()
        )
        if found is not None:
            return found
    return None


# --- Keeping --------------------------------------------------------------------------------------


def horizon() -> datetime:
    """Deletions earlier than this may have been forgotten already."""
    return timezone.now() - timedelta(days=keep_days())


def prune() -> int:
    """Forget the tombstones older than TOMBSTONE_KEEP_DAYS (the periodic cleanup, core.tasks)."""
    from core.models import Tombstone

    deleted, _ = Tombstone.objects.filter(deleted_at__lt=horizon()).delete()
    return deleted
