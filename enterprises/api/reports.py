"""The assessment report of a RECP profile through the API, as on the enterprise's page: `GET
recp-profiles/<id>/report/` downloads the stored file (the page's "report" link: the same readers,
another PO's profile 404), `PUT` uploads it (the page's profile form: PO staff of the ME's PO, while
the profile is a draft; PDF, DOCX, XLSX or an image, checked by content, as the form checks it)."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import FileResponse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.downloads import PDF, XLSX, DownloadNegotiation, file_responses
from core.uploads import check_document, file_response
from enterprises import recp
from enterprises.api import serializers as s
from enterprises.api import views
from smart_portal.api import ErrorSerializer

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


class RecpReportUploadSerializer(serializers.Serializer):
    report = serializers.FileField(
        help_text=_("The assessment report: PDF, DOCX, XLSX, JPEG or PNG, within the upload size limit.")
    )


class RecpProfileViewSet(views.RecpProfileViewSet):
    # RECP profiles (enterprises.api.views, whose description the schema keeps) with their assessment
    # report: downloaded (`GET report`) and uploaded (`PUT report`).

    @extend_schema(
        methods=["get"],
        responses={
            **file_responses(
                _("The stored report, with the type of the file uploaded."),
                PDF,
                DOCX,
                XLSX,
                "image/jpeg",
                "image/png",
            ),
            403: OpenApiResponse(ErrorSerializer, description=_("Your role does not read field data.")),
            404: OpenApiResponse(
                ErrorSerializer,
                description=_("No such profile, one of another PO, or a profile without a report."),
            ),
        },
    )
    @extend_schema(
        methods=["put"],
        request={"multipart/form-data": RecpReportUploadSerializer},
        responses={
            200: s.RecpProfileSerializer,
            400: OpenApiResponse(ErrorSerializer, description=_("Not an accepted file (type or size).")),
            403: OpenApiResponse(ErrorSerializer, description=_("Only the staff of the ME's PO upload it.")),
            404: OpenApiResponse(ErrorSerializer, description=_("No such profile, or one of another PO.")),
            409: OpenApiResponse(ErrorSerializer, description=_("The profile is no longer a draft.")),
        },
    )
    @action(
        detail=True,
        methods=["get", "put"],
        parser_classes=[MultiPartParser],
        content_negotiation_class=DownloadNegotiation,
    )
    def report(self, request: Request, pk=None) -> FileResponse | Response:
        """The profile's assessment report. `GET`: the file, downloaded as it was uploaded (404 when
        there is none: `has_report` says). `PUT` (multipart, field `report`): the staff of the ME's
        PO upload or replace it while the profile is a draft."""
        profile = self.get_object()
        if request.method == "GET":
            return file_response(profile.report, name=profile.report_name or "report")
        payload = RecpReportUploadSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        upload = payload.validated_data["report"]
        try:
            check_document(upload)
        except DjangoValidationError as exc:
            raise DjangoValidationError({"report": exc.error_list}) from exc
        recp.save_profile(
            user=request.user, enterprise=profile.enterprise, data={"report": upload}, profile=profile
        )
        return Response(
            s.RecpProfileSerializer(
                self.get_queryset().get(pk=profile.pk), context=self.get_serializer_context()
            ).data
        )
