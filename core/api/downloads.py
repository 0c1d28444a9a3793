"""API answers that are files (a PDF, a spreadsheet, a stored upload): the file with its own type
whatever the client accepts, and any refusal as the usual JSON error body."""

from __future__ import annotations

from django.utils.functional import Promise
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework.negotiation import DefaultContentNegotiation

PDF = "application/pdf"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV = "text/csv"


class DownloadNegotiation(DefaultContentNegotiation):
    """A file answers with its own type whatever `Accept` says; an error is rendered by the first
    renderer (JSON), so `Accept: application/pdf` gets a JSON refusal rather than a 406."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def file_responses(description: str | Promise, *media_types: str) -> dict:
    """The schema of a 200 answer that is a file of one of `media_types` (binary)."""
    return {
        (200, media_type): OpenApiResponse(OpenApiTypes.BINARY, description=description)
        for media_type in media_types
    }
