"""List downloads through the API (`exports`), made by the lists' own pages exactly as their "Download
CSV/XLSX" links make them (core.exports, core.export_jobs).

`POST /api/v1/exports/` names a list, a format and the list's filters (the query parameters of its
page). The list's page view is called as the caller, with those filters and the export switch, the
way the background worker replays it (core.export_jobs.read_list): the page decides who may read the
list (403) and in which scope, and hands over its rows and columns. Then, as on the page:

- a list of at most settings.EXPORT_INLINE_ROWS rows is answered at once: the file (200);
- a longer one becomes an ExportJob written in the background (202 with the job; follow it with
  `GET exports/<id>/` until `status` is `ready`, then `GET exports/<id>/file/`), at most
  core.export_jobs.ACTIVE_PER_USER waiting or being written per person (409 `too_many_exports`); the
  same list asked again while its export waits gives that export back;
- a list beyond core.exports.EXPORT_LIMITS rows is refused (400 `too_many_rows`): filter it first.

A filter the list's page does not read is refused (400 naming it), rather than silently ignored. The
exports are the caller's own (the Downloads page lists the same ones): anyone else's answers 404.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponseBase, QueryDict
from django.urls import NoReverseMatch, Resolver404, resolve, reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ErrorDetail, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from core import export_jobs
from core.api.downloads import CSV, XLSX, DownloadNegotiation, file_responses
from core.errors import ActionRefused
from core.exports import capture_export, download_way, export_response, read_where, stream_rows
from core.models import ExportJob, ExportStatus
from core.numbers import group
from smart_portal.api import ErrorSerializer
from smart_portal.db_routers import reading_from_replica

# The lists that download, by the name the API gives them (mostly their resource's): the URL name of
# their page. Each page decides who may read it and which formats it offers (grievances and
# clearances: CSV only).
EXPORTABLE_LISTS: dict[str, str] = {
    "concept-notes": "subprojects:note-list",
    "proposals": "subprojects:proposal-list",
    "sub-projects": "subprojects:subproject-list",
    "enterprises": "enterprises:enterprise-list",
    "financial-supports": "enterprises:support-list",
    "attendances": "enterprises:attendance-list",
    "adoptions": "enterprises:adoption-list",
    "recp-profiles": "enterprises:profile-list",
    "kpi-readings": "enterprises:reading-list",
    "trainings": "enterprises:training-list",
    "training-modules": "enterprises:training-module-list",
    "facilities": "enterprises:facility-list",
    "recp-practices": "enterprises:practice-list",
    "kpis": "enterprises:kpi-list",
    "duplicate-suspects": "enterprises:duplicate-list",
    "clusters": "enterprises:cluster-list",
    "releases": "finance:release-list",
    "sub-project-money": "finance:subproject-finance-list",
    "spending-reports": "finance:spending-report-list",
    "expenditures": "finance:expenditure-list",
    "financial-reports": "finance:ifr-list",
    "fund-receipts": "finance:receipt-list",
    "loans": "finance:loan-list",
    "incidents": "safeguards:incident-list",
    "clearances": "safeguards:clearance-list",
    "expired-clearances": "safeguards:clearance-expired",
    "grievances": "grievances:list",
}
FORMATS = ("csv", "xlsx")
CONTENT_TYPES = {"csv": CSV, "xlsx": XLSX}


def list_path(name: str) -> str:
    return reverse(EXPORTABLE_LISTS[name])


def list_name(path: str) -> str | None:
    """The API's name of the list an export was made from (None: a list the API does not offer)."""
    try:
        match = resolve(path)
    except Resolver404:
        return None
    return next((name for name, url_name in EXPORTABLE_LISTS.items() if url_name == match.view_name), None)


# --- Asking the list's page for its rows ------------------------------------------------------------


def _recording(query: QueryDict, read: set[str]) -> QueryDict:
    """`query` as a QueryDict that notes in `read` every parameter the page looks at (its copies too):
    the filters the page reads, so that one it does not is refused instead of ignored."""

    class Recording(QueryDict):
        def __getitem__(self, key):
            read.add(key)
            return super().__getitem__(key)

        def __contains__(self, key):
            read.add(key)
            return super().__contains__(key)

        def get(self, key, default=None):
            read.add(key)
            return super().get(key, default)

        def getlist(self, key, default=None):
            read.add(key)
            return super().getlist(key, default)

    recording = Recording(mutable=True)
    for key, values in query.lists():
        recording.setlist(key, values)
    return recording


def _filters_query(filters: dict[str, Any]) -> QueryDict:
    query = QueryDict(mutable=True)
    for name, value in filters.items():
        query.setlist(name, [str(v) for v in value] if isinstance(value, list) else [str(value)])
    return query


class ListSource:
    """What the list's page handed over for a download (core.exports.ExportSource), with the request
    it was asked with (for core.export_jobs.request_export)."""

    def __init__(self, request: HttpRequest, source) -> None:
        self.request = request
        self.source = source


def read_list(user, name: str, file_format: str, filters: dict[str, Any]) -> ListSource:
    """Call the page of list `name` as `user`, with `filters` and the export switch, as the background
    worker does: its refusal (PermissionDenied, Http404) propagates; a filter it does not read, or a
    format it does not offer, is a ValidationError."""
    path = list_path(name)
    query = _filters_query(filters)
    job = ExportJob(
        user=user,
        path=path,
        query=query.urlencode(),
        file_format=file_format,
        language=translation.get_language() or "en",
    )
    request = export_jobs.replayed_request(job, user)
    read: set[str] = set()
    request.GET = _recording(request.GET, read)
    match = resolve(path)
    request.resolver_match = match
    captured = capture_export(request)
    response = match.func(request, *match.args, **match.kwargs)
    unknown = sorted(set(filters) - read)
    if unknown:
        known = ", ".join(sorted(read - {export_jobs.EXPORT_PARAM})) or _("none")
        raise ValidationError(
            {
                f"filters.{name}": [
                    ErrorDetail(
                        _("Not a filter of this list. Its filters: %(known)s.") % {"known": known},
                        code="unknown_parameter",
                    )
                ]
                for name in unknown
            }
        )
    handed_over = captured and getattr(response, "status_code", None) == 204
    if not handed_over or captured[0].file_format != file_format:
        raise ValidationError(
            {
                "file_format": [
                    ErrorDetail(
                        _("This list does not download as %(format)s.") % {"format": file_format.upper()},
                        code="invalid_choice",
                    )
                ]
            }
        )
    return ListSource(request, captured[0])


def export(user, name: str, file_format: str, filters: dict[str, Any]) -> HttpResponseBase | ExportJob:
    """The list's download as the page gives it: the file at once (an HttpResponse) when the list is
    short, else the ExportJob writing it in the background."""
    # The list's rows from the read replica when there is one (smart_portal.db_routers); the export
    # job, if any, on the primary.
    with reading_from_replica():
        found = read_list(user, name, file_format, filters)
        queryset = read_where(found.source.queryset)
    source, request = found.source, found.request
    decided = download_way(request, queryset, file_format)
    count, limit = decided.count or 0, decided.limit or 0
    if decided.way == "too_big":
        raise ValidationError(
            {
                "filters": [
                    ErrorDetail(
                        _(
                            "This list has %(count)s rows; a %(format)s download holds at most %(limit)s. "
                            "Filter the list first, or read it page by page through its API resource."
                        )
                        % {"count": group(count), "format": file_format.upper(), "limit": group(limit)},
                        code="too_many_rows",
                    )
                ]
            }
        )
    if decided.way == "inline":
        return export_response(stream_rows(queryset), source.columns, file_format, source.filename_stem)
    if decided.way == "busy":
        raise ActionRefused(
            _("You already have %(count)s downloads being prepared. Wait until one is ready, then ask again.")
            % {"count": export_jobs.ACTIVE_PER_USER},
            code="too_many_exports",
        )
    title = None if source.title == source.filename_stem else source.title
    return export_jobs.request_export(
        request, file_format=file_format, title=title, filename_stem=source.filename_stem, row_count=count
    )


# --- Serializers ---------------------------------------------------------------------------------------

FILTER_VALUES = {
    "type": "object",
    "additionalProperties": {
        "oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
    },
}


@extend_schema_field(FILTER_VALUES)
class FiltersField(serializers.DictField):
    """The list's filters: each a string, or a list of strings for a filter taking several values."""

    def to_internal_value(self, data):
        data = super().to_internal_value(data)
        for name, value in data.items():
            values = value if isinstance(value, list) else [value]
            if not values or not all(isinstance(v, str | int | float) for v in values):
                raise ValidationError({name: [_("Give a string, or a list of strings.")]})
            if name == export_jobs.EXPORT_PARAM:
                raise ValidationError({name: [_("Give the format as `file_format`.")]})
        return data


class ExportRequestSerializer(serializers.Serializer):
    list = serializers.ChoiceField(
        choices=sorted(EXPORTABLE_LISTS),
        help_text=_lazy("The list to download (most are named after their API resource)."),
    )
    file_format = serializers.ChoiceField(choices=FORMATS, default="csv")
    filters = FiltersField(
        required=False,
        default=dict,
        help_text=_lazy(
            "The list's filters, as the query parameters of its page (e.g. for `enterprises`: "
            '`{"district": "12", "q": "shoe"}`), `sort` included. A filter the page does not read '
            "is refused (400)."
        ),
    )


class ExportJobSerializer(serializers.ModelSerializer):
    list = serializers.SerializerMethodField(help_text=_lazy("The list's API name; null for another page's."))
    filters = serializers.SerializerMethodField()
    percent = serializers.SerializerMethodField(help_text=_lazy("How far the file is written, 0 to 100."))
    file_url = serializers.SerializerMethodField(help_text=_lazy("Where to download the file once ready."))

    class Meta:
        model = ExportJob
        fields = [
            "id",
            "list",
            "title",
            "filters",
            "file_format",
            "status",
            "row_count",
            "rows_written",
            "percent",
            "error",
            "requested_at",
            "finished_at",
            "file_url",
        ]
        read_only_fields = fields

    def get_list(self, job: ExportJob) -> str | None:
        return list_name(job.path)

    @extend_schema_field(FILTER_VALUES)
    def get_filters(self, job: ExportJob) -> dict[str, Any]:
        return {
            name: values[0] if len(values) == 1 else values for name, values in QueryDict(job.query).lists()
        }

    def get_percent(self, job: ExportJob) -> int:
        return export_jobs.percent(job)

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_file_url(self, job: ExportJob) -> str | None:
        if job.status != ExportStatus.READY:
            return None
        url = reverse("export-file", args=[job.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request is not None else url


class ExportFilter(filters.FilterSet):
    status = filters.ChoiceFilter(choices=ExportStatus.choices)
    file_format = filters.ChoiceFilter(choices=[(f, f) for f in FORMATS])

    class Meta:
        model = ExportJob
        fields = ["status", "file_format"]


REFUSED = {
    400: OpenApiResponse(
        ErrorSerializer,
        description=_lazy(
            "A filter the list does not have (`filters.<name>`), a format it does not offer, or more rows "
            "than a file holds (`too_many_rows`)."
        ),
    ),
    403: OpenApiResponse(ErrorSerializer, description=_lazy("Your role may not read this list.")),
    409: OpenApiResponse(
        ErrorSerializer,
        description=_lazy("Too many of your downloads are being prepared (`too_many_exports`)."),
    ),
}


@extend_schema_view(
    list=extend_schema(
        description=_lazy(
            "Your downloads, newest first: those of the last EXPORT_KEEP_DAYS days, as on the Downloads page."
        )
    ),
    retrieve=extend_schema(
        description=_lazy("One of your downloads, with its progress; anyone else's answers 404."),
        responses={200: ExportJobSerializer, 404: ErrorSerializer},
    ),
)
class ExportViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """List downloads (CSV or XLSX) of the portal's lists, as their pages make them: a short list at
    once, a long one written in the background and kept under your downloads."""

    serializer_class = ExportJobSerializer
    filterset_class = ExportFilter
    ordering_fields = ["requested_at"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False) or not self.request.user.is_authenticated:
            return ExportJob.objects.none()
        return export_jobs.exports_of(self.request.user)

    def initial(self, request: Request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)
        # As the Downloads page, on every read (a client polls `exports/<id>/`, not the list): the
        # expired exports go, and those whose worker died say so instead of running for ever.
        if self.action in {"list", "retrieve", "file"} and request.user.is_authenticated:
            export_jobs.prune(user=request.user)
            export_jobs.fail_lost(request.user)

    @extend_schema(
        request=ExportRequestSerializer,
        responses={
            **file_responses(
                _lazy("A short list (up to EXPORT_INLINE_ROWS rows): the file at once."), CSV, XLSX
            ),
            202: OpenApiResponse(
                ExportJobSerializer,
                description=_lazy(
                    "A longer list: written in the background; follow the job (`Location`) until it is ready."
                ),
            ),
            **REFUSED,
        },
    )
    def create(self, request: Request, *args, **kwargs) -> HttpResponseBase:
        """Download a list with the filters of its page: the file at once when it is short, else an
        export written in the background (202). The page decides who may read the list and what
        you see of it."""
        payload = ExportRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        try:
            answer = export(request.user, data["list"], data["file_format"], data["filters"])
        except NoReverseMatch as exc:  # a list whose page is not installed
            raise Http404 from exc
        if isinstance(answer, HttpResponseBase):
            answer["Cache-Control"] = "private, no-store"
            return answer
        body = self.get_serializer(answer).data
        location = request.build_absolute_uri(reverse("export-detail", args=[answer.pk]))
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": location})

    @extend_schema(
        responses={
            **file_responses(_lazy("The export's file."), CSV, XLSX),
            404: OpenApiResponse(ErrorSerializer, description=_lazy("Not one of your downloads.")),
            409: OpenApiResponse(
                ErrorSerializer, description=_lazy("Not ready (`not_ready`), or failed (`failed`).")
            ),
        }
    )
    @action(detail=True, methods=["get"], content_negotiation_class=DownloadNegotiation)
    def file(self, request: Request, pk=None) -> HttpResponseBase:
        """The file of a ready export (as the Downloads page gives it; it then counts as seen)."""
        from core.download_views import download_file

        job = self.get_object()
        if job.status == ExportStatus.FAILED:
            raise ActionRefused(job.error or _("This download failed."), code="failed")
        if job.status != ExportStatus.READY:
            raise ActionRefused(
                _("This download is %(status)s: ask again in a moment.")
                % {"status": job.get_status_display()},
                code="not_ready",
            )
        return download_file(request._request, job.pk)
