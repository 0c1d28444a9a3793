"""Compressed pages for slow links (issue 15): an HTML page gzipped is a fifth of its size or less.

Compressing a page that holds a secret next to text an attacker chooses (a reflected parameter)
lets someone who sees the encrypted lengths guess the secret a character at a time (BREACH). Here:
- the CSRF token is masked afresh in every response (Django), so it never repeats to be guessed;
- Django's GZipMiddleware pads each compressed body with random bytes ("Heal The Breach"), so
  lengths no longer tell one guess from another;
- pages that show a secret in full (the authenticator's setup key, recovery codes on sign-in, the
  sessions and tokens page; all of them `never_cache`, i.e. `Cache-Control: no-store`) are not
  compressed at all: their few kilobytes are not worth any doubt.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponseBase
from django.middleware.gzip import GZipMiddleware

# Text compresses to a fraction; spreadsheets, PDFs and images are compressed already.
COMPRESSIBLE_TYPES = ("text/", "application/json", "application/javascript", "application/xml", "image/svg")


class PageCompressionMiddleware(GZipMiddleware):
    """GZipMiddleware for text (pages, partials, API answers, CSV), except what must not be stored:
    the pages that show secrets."""

    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        if "no-store" in response.get("Cache-Control", ""):
            return response
        if not response.get("Content-Type", "").startswith(COMPRESSIBLE_TYPES):
            return response
        return super().process_response(request, response)
