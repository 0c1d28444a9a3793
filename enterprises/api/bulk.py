"""Pushing field data from another system: upserts by natural key, bulk writes, import templates.

- `POST /api/v1/<resource>/?upsert=true` (`NaturalKeyMixin`): the object with the item's natural key
  (enterprises.bulk) is updated (200), else created (201), by the same serializers, services and
  permissions as update and create. Without `upsert` a stored key is a 400 naming the key field (code
  `unique`) with `existing_id`.
- `POST /api/v1/<resource>/bulk/` (`BulkMixin`): `{"items": [...], "upsert": bool}`, the items in the
  single create's shape, judged by the spreadsheet import's rules and written all together or not at
  all (enterprises.bulk). Up to settings.BULK_SYNC_MAX_ITEMS items: 200 with what happened to each;
  more: 202 with the import job writing them (`Location`, `status_url`).
- `GET /api/v1/import-templates/` and `.../{kind}/file/?file_format=csv|xlsx`: the import templates
  and their columns (`ImportTemplateViewSet`).

The views stay thin: the rules are in enterprises.bulk and enterprises.imports.
"""

from __future__ import annotations

import inspect

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ErrorDetail
from rest_framework.exceptions import ValidationError as DRFValidationError
from rest_framework.response import Response

from core.api.downloads import CSV, XLSX, DownloadNegotiation, file_responses
from core.permissions import is_po_staff
from enterprises import bulk
from enterprises.api.serializers import ImportJobSerializer
from enterprises.imports import IMPORTERS, template_csv, template_xlsx
from enterprises.permissions import FieldDataReader
from smart_portal.api import ErrorBodySerializer, ErrorSerializer, ItemErrorSerializer

UPSERT = OpenApiParameter(
    "upsert",
    OpenApiTypes.BOOL,
    OpenApiParameter.QUERY,
    required=False,
    description=(
        "true: if an object with this natural key is stored, update it (200) instead of refusing the "
        "duplicate (400 `unique` with `existing_id`); otherwise create it (201)."
    ),
)

TRUE_VALUES = {"true", "1", "yes"}
FALSE_VALUES = {"false", "0", "no"}


def upsert_requested(request) -> bool:
    raw = request.query_params.get("upsert")
    if raw is None:
        return False
    value = raw.strip().casefold()
    if value in TRUE_VALUES | FALSE_VALUES:
        return value in TRUE_VALUES
    raise DRFValidationError({"upsert": [ErrorDetail(_("Write true or false."), code="invalid")]})


def refusal(view, exc: Exception, **extra) -> Response:
    """The error answer the API's exception handler gives `exc`, with `extra` members in its body
    (`existing_id`, `items`)."""
    response = view.handle_exception(exc)
    if isinstance(response.data, dict):
        response.data.update(extra)
    return response


# --- Schema ---------------------------------------------------------------------------------------


class BulkItemErrorSerializer(ItemErrorSerializer):
    existing_id = serializers.IntegerField(
        required=False,
        help_text=_lazy("Code `unique` on a stored key (without upsert): the stored object's id."),
    )


class BulkErrorSerializer(ErrorBodySerializer):
    """A bulk request refused: nothing was written; each problem by the item's index."""

    items = BulkItemErrorSerializer(
        many=True,
        required=False,
        help_text=_lazy("Each problem by the item's position (index from 0), field and code."),
    )


class BulkItemResultSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text=_lazy("The item's position in the request, from 0."))
    id = serializers.IntegerField(help_text=_lazy("The id of the object created, updated or unchanged."))
    status = serializers.ChoiceField(choices=["created", "updated", "unchanged"])


class BulkResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    results = BulkItemResultSerializer(many=True, help_text=_lazy("One per item, in the items' order."))


class BulkJobSerializer(ImportJobSerializer):
    """The import job writing a large bulk request: poll `status_url` until its `status` is `done`
    (or `invalid`: its `errors` name the item n - 2 as `row` n, by the import's column; or `failed`)."""

    status_url = serializers.SerializerMethodField()

    class Meta(ImportJobSerializer.Meta):
        fields = [*ImportJobSerializer.Meta.fields, "status_url"]
        read_only_fields = fields

    def get_status_url(self, job) -> str:
        return self.context["status_url"]


ITEMS_HELP = _lazy(
    "Up to 10,000 objects, each in the shape of the single create. A referenced enterprise (or "
    "session) may be given by its id or by its code (`enterprise_code`, `session_code`); another PO's "
    "id is refused as a missing one. An item is the whole record, as an import row: optional fields "
    "left out are stored empty (or at their default) when a stored record is updated."
)

BULK_DOC = """

**Bulk** (`POST .../bulk/`, PO staff of the PO): `{"items": [...], "upsert": false}`. The items are
judged by the spreadsheet import's rules and written all together or not at all, under the PO's import
lock. A natural key repeated among the items, or (without `upsert`) already stored, is refused with
code `unique`. 400: nothing written, each problem in `items` (`index`, `field`, `code`, `message`).
Up to BULK_SYNC_MAX_ITEMS (2,000) items: 200 with the counts and each item's id and status. More: 202
with the import job writing them (`Location` header, `status_url`); poll it until `done`."""


def _create_doc(view: type, key: tuple[str, ...]) -> str:
    own = inspect.cleandoc(view.__doc__ or "")
    return (
        f"{own}\n\nNatural key: {' + '.join(f'`{name}`' for name in key)}. With `?upsert=true` an object "
        "whose key is stored is updated (200, as a `PUT`), otherwise it is created (201). Without it a "
        "stored key is refused: 400 on the key field with code `unique` and `existing_id`."
    )


# --- Upserts by natural key -----------------------------------------------------------------------


class NaturalKeyMixin:
    """Create by natural key. `natural_key`: the validated fields naming the object; `bulk_kind`: the
    kind in enterprises.bulk (whose `key_field` a duplicate is reported on)."""

    natural_key: tuple[str, ...] = ()
    bulk_kind: str = ""

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        serializer = getattr(cls, "serializer_class", None)
        if not cls.natural_key or serializer is None:
            return
        extend_schema_view(
            create=extend_schema(
                description=_create_doc(cls, cls.natural_key),
                parameters=[UPSERT],
                responses={
                    201: OpenApiResponse(serializer, description="Created."),
                    200: OpenApiResponse(serializer, description="`upsert`: the stored object, updated."),
                    400: ErrorSerializer,
                    403: ErrorSerializer,
                },
            )
        )(cls)

    def stored_by_natural_key(self, data: dict):
        if any(name not in data for name in self.natural_key):
            return None
        lookup = {name: data[name] for name in self.natural_key}
        return self.get_queryset().filter(**lookup).order_by("pk").first()

    def create(self, request, *args, **kwargs):
        upsert = upsert_requested(request)
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        stored = self.stored_by_natural_key(serializer.validated_data)
        if stored is None:
            try:
                self.perform_create(serializer)
            except DjangoValidationError:
                # A concurrent identical request committed between the lookup and the write (the
                # model's own unique check saw it): answered as the ordinary duplicate is.
                stored = self.stored_by_natural_key(serializer.validated_data)
                if stored is None:
                    raise
            else:
                headers = self.get_success_headers(serializer.data)
                return Response(serializer.data, status=status.HTTP_201_CREATED, headers=headers)
        if not upsert:
            return self.refuse_duplicate(stored)
        self.check_object_permissions(request, stored)
        serializer_class = getattr(self, "update_serializer_class", None) or self.get_serializer_class()
        update = serializer_class(stored, data=request.data, context=self.get_serializer_context())
        update.is_valid(raise_exception=True)
        self.perform_update(update)
        return Response(update.data)

    def refuse_duplicate(self, stored) -> Response:
        """400 on the key field, code `unique`, in the model's own words, with the stored object's id."""
        key_field = bulk.BULK_KINDS[self.bulk_kind].key_field
        message = _("%(reason)s It has the id %(id)s: send it with ?upsert=true to update it.") % {
            "reason": bulk.key_rule(type(stored), self.natural_key),
            "id": stored.pk,
        }
        exc = DRFValidationError({key_field: [ErrorDetail(message, code="unique")]})
        return refusal(self, exc, existing_id=stored.pk)


# --- Bulk -----------------------------------------------------------------------------------------


class BulkMixin:
    """`POST .../bulk/` for the resource of `bulk_kind` (see enterprises.bulk). Its throttle is the
    generous bulk one (smart_portal.throttling): the action sets `throttle_scope`, which DRF accepts
    only on a view declaring it."""

    bulk_kind: str = ""
    throttle_scope: str | None = None

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        serializer = getattr(cls, "serializer_class", None)
        if not cls.bulk_kind or serializer is None:
            return
        name = serializer.__name__.removesuffix("Serializer")
        request = inline_serializer(
            name=f"{name}BulkRequest",
            fields={
                "items": serializer(many=True, help_text=ITEMS_HELP),
                "upsert": serializers.BooleanField(
                    default=False,
                    help_text=_lazy(
                        "true: an item whose natural key is stored updates that object (or leaves it "
                        "unchanged); false: it is refused with code `unique`."
                    ),
                ),
            },
        )
        extend_schema_view(
            bulk=extend_schema(
                summary=f"Create or update many {bulk.BULK_KINDS[cls.bulk_kind].kind} at once",
                description=inspect.cleandoc(BULK_DOC),
                request=request,
                responses={
                    200: BulkResultSerializer,
                    202: OpenApiResponse(
                        BulkJobSerializer, description="Written by a job: poll `status_url`."
                    ),
                    400: BulkErrorSerializer,
                    403: ErrorSerializer,
                },
            )
        )(cls)

    @action(detail=False, methods=["post"], url_path="bulk", throttle_scope="bulk")
    def bulk(self, request, *args, **kwargs):
        items, upsert = self._bulk_payload(request.data)
        ignored = [name for name, field in self.get_serializer().fields.items() if field.read_only]
        arguments = {"user": request.user, "items": items, "upsert": upsert, "ignored": ignored}
        try:
            if len(items) > bulk.sync_max_items():
                job = bulk.start_job(self.bulk_kind, **arguments)
            else:
                result = bulk.write_items(self.bulk_kind, **arguments)
                # Plain data already (BulkResultSerializer documents it): 10,000 results are not
                # worth a serializer's field-by-field pass.
                return Response(result.as_dict())
        except bulk.BulkInvalid as exc:
            summary = DRFValidationError({"non_field_errors": [ErrorDetail(exc.message, code="invalid")]})
            return refusal(self, summary, items=[error.as_dict() for error in exc.errors])
        url = request.build_absolute_uri(reverse("import-job-detail", args=[job.pk]))
        body = BulkJobSerializer(job, context={"request": request, "status_url": url}).data
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": url})

    def _bulk_payload(self, data) -> tuple[list, bool]:
        if not isinstance(data, dict):
            raise DRFValidationError(
                {"non_field_errors": [ErrorDetail(_("Send an object with `items`."), code="invalid")]}
            )
        errors = {}
        unknown = sorted(set(data) - {"items", "upsert"})
        for name in unknown:
            errors[name] = [ErrorDetail(_("Unknown field: send `items` and `upsert`."), code="unknown_field")]
        upsert = data.get("upsert", False)
        if not isinstance(upsert, bool):
            errors["upsert"] = [ErrorDetail(_("Must be true or false."), code="invalid")]
        items = data.get("items")
        if items is None:
            errors["items"] = [ErrorDetail(_("This field is required."), code="required")]
        else:
            problem = bulk.item_count_problem(items)
            if problem is not None:
                errors["items"] = [ErrorDetail(problem[1], code=problem[0])]
        if errors:
            raise DRFValidationError(errors)
        return items, upsert


# --- Import templates -----------------------------------------------------------------------------


COLUMN_TYPES = ["string", "integer", "decimal", "date", "month", "boolean", "choice", "reference", "list"]


@extend_schema_field({"type": "string", "enum": COLUMN_TYPES})
class ColumnTypeField(serializers.CharField):
    """The type of a column's values (an enumeration inline: "type" is too common a name for a
    component of its own)."""


class TemplateColumnSerializer(serializers.Serializer):
    name = serializers.CharField(help_text=_lazy("The column's header in the file."))
    type = ColumnTypeField(
        help_text=_lazy(
            "How the cell is read: month is YYYY-MM, date YYYY-MM-DD (or DD/MM/YYYY), boolean yes/no, "
            "a reference a code of another resource."
        )
    )
    required = serializers.BooleanField()
    description = serializers.CharField()
    example = serializers.CharField(allow_blank=True)
    allowed_values = serializers.ListField(
        child=serializers.CharField(),
        allow_null=True,
        help_text=_lazy("The values a choice (or a catalogue's codes) may take; null: any."),
    )
    reference = serializers.CharField(
        allow_null=True, help_text=_lazy("Where a reference's values come from (API resource and field).")
    )
    api_field = serializers.CharField(
        allow_null=True,
        help_text=_lazy("The field of a bulk item giving this column; null for a kind without bulk."),
    )


class ImportTemplateSerializer(serializers.Serializer):
    kind = serializers.CharField()
    label = serializers.CharField()
    bulk_resource = serializers.CharField(
        allow_null=True, help_text=_lazy("The resource whose `bulk/` takes these records, if any.")
    )
    columns = TemplateColumnSerializer(many=True)


FILE_FORMAT = OpenApiParameter(
    "file_format",
    str,
    OpenApiParameter.QUERY,
    required=False,
    enum=["csv", "xlsx"],
    default="csv",
    description="csv: the header row; xlsx: the header, a help sheet and the lists of allowed values.",
)


class ImportTemplateViewSet(viewsets.ViewSet):
    """The spreadsheet import templates (as the browser offers them) and their columns: what other
    systems fill in for an import, or for a bulk request of the same records."""

    permission_classes = [FieldDataReader]
    lookup_field = "kind"
    lookup_value_regex = "[a-z-]+"

    @extend_schema(responses={200: ImportTemplateSerializer(many=True), 403: ErrorSerializer})
    def list(self, request):
        """Every kind of import with its columns."""
        return Response(ImportTemplateSerializer(bulk.template_kinds(), many=True).data)

    @extend_schema(responses={200: ImportTemplateSerializer, 403: ErrorSerializer, 404: ErrorSerializer})
    def retrieve(self, request, kind=None):
        """One kind of import with its columns."""
        found = next((entry for entry in bulk.template_kinds() if entry["kind"] == kind), None)
        if found is None:
            raise Http404
        return Response(ImportTemplateSerializer(found).data)

    @extend_schema(
        parameters=[FILE_FORMAT],
        responses={
            **file_responses("The template file.", CSV, XLSX),
            400: ErrorSerializer,
            403: ErrorSerializer,
            404: ErrorSerializer,
        },
    )
    @action(detail=True, methods=["get"], content_negotiation_class=DownloadNegotiation)
    def file(self, request, kind=None):
        """The template file, the same the import page offers (xlsx: with the lists of your PO)."""
        if kind not in IMPORTERS:
            raise Http404
        file_format = request.query_params.get("file_format", "csv")
        if file_format == "csv":
            response = HttpResponse(template_csv(kind), content_type=f"{CSV}; charset=utf-8")
        elif file_format == "xlsx":
            po = request.user.partner_organization if is_po_staff(request.user) else None
            response = HttpResponse(template_xlsx(kind, po), content_type=XLSX)
        else:
            raise DRFValidationError(
                {"file_format": [ErrorDetail(_("Choose csv or xlsx."), code="invalid_choice")]}
            )
        response["Content-Disposition"] = f'attachment; filename="smart-{kind}-template.{file_format}"'
        return response
