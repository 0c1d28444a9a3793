"""`GET /api/v1/deletions/`: the records deleted from the API's resources (core.tombstones), for
clients that synchronise with `updated_since` and must also learn what disappeared."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, viewsets
from rest_framework.exceptions import APIException, ErrorDetail, ValidationError
from rest_framework.filters import BaseFilterBackend

from core import tombstones, visibility
from core.models import Tombstone
from smart_portal.sync import SyncPagination, invalid, parse_timestamp

SINCE = "since"
RESOURCE = "resource"


class DeletionSerializer(serializers.ModelSerializer):
    partner_organization = serializers.SlugRelatedField(
        slug_field="code",
        read_only=True,
        allow_null=True,
        help_text=_("Code of the PO the record belonged to; null for records of no PO (reference data)."),
    )
    natural_key = serializers.DictField(
        read_only=True,
        allow_null=True,
        help_text=_(
            "The record's natural key, as the resource writes those fields (e.g. an enterprise's "
            "`partner_organization` and `po_code`; a reading's `enterprise`, `enterprise_code`, `kpi` "
            "and `period`); null when it has none. Delete by `object_id`: a natural key may be used "
            "again by a new record."
        ),
    )

    class Meta:
        model = Tombstone
        fields = ["id", "resource", "object_id", "natural_key", "partner_organization", "deleted_at"]
        extra_kwargs = {
            "resource": {"help_text": _("The resource the record was listed in, e.g. `kpi-readings`.")},
            "object_id": {"help_text": _("The deleted record's `id` in that resource.")},
            "deleted_at": {"help_text": _("When it was deleted.")},
        }


class DeletionPagination(SyncPagination):
    """Always keyset pages by (`deleted_at`, `id`), with the watermark of the run."""

    keyset_only = True

    def get_paginated_response_schema(self, schema: dict) -> dict:
        paginated = super().get_paginated_response_schema(schema)
        paginated["required"] = [*paginated.get("required", []), "watermark"]
        paginated["properties"]["watermark"]["description"] = str(
            _(
                "The time up to which this run is complete: every deletion before it has been listed. "
                "Pass it as `since` next time."
            )
        )
        return paginated


class DeletionFilter(BaseFilterBackend):
    """`since` (inclusive) and `resource`; a `since` older than the tombstones are kept is refused."""

    def filter_queryset(self, request, queryset: QuerySet, view) -> QuerySet:
        params = request.query_params
        if SINCE in params:
            since = parse_timestamp(params[SINCE], SINCE)
            if since < tombstones.horizon():
                raise ValidationError(
                    {
                        SINCE: [
                            ErrorDetail(
                                gettext(
                                    "Deletions are kept %(days)d days: this time is earlier. Synchronise "
                                    "the resource in full (without updated_since), then list deletions "
                                    "from its watermark."
                                )
                                % {"days": tombstones.keep_days()},
                                code="expired",
                            )
                        ]
                    }
                )
            queryset = queryset.filter(deleted_at__gte=since)
        if RESOURCE in params:
            resource = params[RESOURCE]
            if resource not in tombstones.resource_names():
                raise invalid(RESOURCE, gettext("Not a resource of this API: %(name)s.") % {"name": resource})
            queryset = queryset.filter(resource=resource)
        return queryset

    def get_schema_operation_parameters(self, view) -> list[dict]:
        return [
            {
                "name": SINCE,
                "required": False,
                "in": "query",
                "description": str(
                    _(
                        "Only deletions at or after this time (inclusive), ISO 8601 with a timezone: the "
                        "`watermark` of the previous run. Deletions are kept TOMBSTONE_KEEP_DAYS days "
                        "(90 by default); an earlier time is refused (400)."
                    )
                ),
                "schema": {"type": "string", "format": "date-time"},
            },
            {
                "name": RESOURCE,
                "required": False,
                "in": "query",
                "description": str(_("Only the deletions from this resource.")),
                "schema": {"type": "string", "enum": tombstones.resource_names()},
            },
        ]


def listable_resources(request) -> list[str]:
    """The resources whose list `request.user` may call (each resource's own permission classes)."""
    allowed = []
    for name, viewset in tombstones.viewsets_by_resource().items():
        view = viewset(action="list", request=request, format_kwarg=None, args=(), kwargs={})
        try:
            if all(permission.has_permission(request, view) for permission in view.get_permissions()):
                allowed.append(name)
        except (APIException, PermissionDenied, Http404):  # a permission that refuses by raising
            continue
    return allowed


def visible_deletions(user, resources: list[str]) -> QuerySet:
    """Tombstones `user` may see: of resources they may list; programme-wide roles every PO's, PO
    staff their own PO's; reference data (no PO) everyone's."""
    deletions = Tombstone.objects.filter(resource__in=resources)
    if getattr(user, "sees_whole_programme", False):
        return deletions
    reference = Q(partner_organization__isnull=True, model__in=sorted(visibility.PUBLIC))
    if user.partner_organization_id:
        return deletions.filter(reference | Q(partner_organization_id=user.partner_organization_id))
    return deletions.filter(reference)


@extend_schema_view(
    list=extend_schema(
        summary=_("Records deleted since a time"),
        description=_(
            "The records deleted from the API's resources, oldest first, in keyset pages (follow `next`; "
            "each page carries `watermark`, the next run's `since`). Programme-wide roles see every PO's "
            "deletions, PO staff their own PO's; deletions of reference data are listed to everyone, "
            "and only resources one may list. Apply them after the run's changes, by `object_id`."
        ),
    )
)
class DeletionViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = DeletionSerializer
    queryset = Tombstone.objects.none()
    pagination_class = DeletionPagination
    filter_backends = [DeletionFilter]
    sync_field = "deleted_at"

    def get_queryset(self) -> QuerySet:
        if getattr(self, "swagger_fake_view", False):
            return Tombstone.objects.none()
        resources = listable_resources(self.request)
        return visible_deletions(self.request.user, resources).select_related("partner_organization")
