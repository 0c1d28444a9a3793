"""Bangla digits (০১২৩৪৫৬৭৮৯): shown in the Bangla interface, accepted everywhere numbers are typed.

- `to_bangla_digits` / `to_latin_digits` convert a string's digits (Latin, Bangla, and the Arabic-Indic
  digits a phone keyboard may produce).
- `BanglaDigitsMiddleware` shows a Bangla page's numbers with Bangla digits for users who want them
  (User.bangla_digits; visitors who are not signed in do): it rewrites the digits of the page's
  *text* only, after the page is rendered. Templates, views and tests keep working with plain
  digits, and everything a program or the browser reads stays Latin: tags and their attributes
  (links, form values, ids, data-*), scripts and styles, what a user types or copies (<textarea>,
  <pre>, <code>, <kbd>), any element marked `translate="no"`, and codes: words mixing Latin letters
  and digits ("ME-0001", "PKSF/SMART/SP/T001"), which people type and read out as they are.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import translation

LATIN_DIGITS = "0123456789"
BANGLA_DIGITS = "০১২৩৪৫৬৭৮৯"
ARABIC_INDIC_DIGITS = "٠١٢٣٤٥٦٧٨٩"
EXTENDED_ARABIC_INDIC_DIGITS = "۰۱۲۳۴۵۶۷۸۹"  # Persian/Urdu keyboards

_TO_BANGLA = str.maketrans(LATIN_DIGITS, BANGLA_DIGITS)
_TO_LATIN = str.maketrans(
    BANGLA_DIGITS + ARABIC_INDIC_DIGITS + EXTENDED_ARABIC_INDIC_DIGITS, LATIN_DIGITS * 3
)


def to_bangla_digits(text: str) -> str:
    """'12,345' -> '১২,৩৪৫'; anything other than Latin digits is kept."""
    return str(text).translate(_TO_BANGLA)


def to_latin_digits(text: str) -> str:
    """'১২,৩৪৫' (or Arabic-Indic '١٢') -> '12,345'; anything other than those digits is kept."""
    return str(text).translate(_TO_LATIN)


# --- HTML: digits of the text nodes only ----------------------------------------------------------

# Where a region whose digits stay Latin begins: a comment, an element whose content is code, typed
# text or a script (_KEEP_ELEMENT), or the attribute marking an element translate="no" (_MARKED; the
# element's tag starts at the "<" before it). Two searches with a literal start ("<", "translate")
# are much faster than one with alternatives or one that reads every tag's attributes.
_KEEP_ELEMENT = re.compile(
    r"<(?:!--|(?P<raw>script|style|textarea)\b|(?P<code>pre|code|kbd|samp)\b)", re.IGNORECASE
)
_MARKED = re.compile(r"""translate\s*=\s*(?:"no"|'no'|no\b)""", re.IGNORECASE)
_TAG_NAME = re.compile(r"<([a-zA-Z][a-zA-Z0-9-]*)")
# Elements without content: marking one translate="no" keeps only its own tag (always kept anyway).
_VOID = frozenset(
    ["area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"]
)
# Tags and character references (&#x27; has digits) are kept; the text between them is converted.
_MARKUP = re.compile(r"""(<(?:[^>"']|"[^"]*"|'[^']*')*>|&#?[0-9a-zA-Z]+;)""")
_DIGIT = re.compile(r"[0-9]")


def _end_of_tag(html: str, start: int) -> int:
    end = html.find(">", start)
    return len(html) if end == -1 else end + 1


def _end_of_element(html: str, name: str, start: int) -> int:
    """The end of the element `name` whose opening tag begins at `start`, counting nested elements of
    the same name; the end of the document if it is never closed (keeping too much is harmless)."""
    after_open = _end_of_tag(html, start)
    if name.lower() in _VOID or html[start:after_open].endswith("/>"):
        return after_open
    depth = 1
    pattern = re.compile(rf"<(/?){re.escape(name)}\b[^>]*>", re.IGNORECASE)
    for tag in pattern.finditer(html, after_open):
        if tag.group(1):
            depth -= 1
            if depth == 0:
                return tag.end()
        elif not tag.group(0).endswith("/>"):
            depth += 1
    return len(html)


# A word of Latin letters and digits, possibly joined by - / _ . ; it is a code when it has at least one
# letter and one digit ("ME-0001", "PKSF/SMART/SP/T001", "Q3"). Matched by a simple pattern and decided
# per word, so that a long run of such characters costs linear time.
_WORD = re.compile(r"[A-Za-z0-9]+(?:[-/_.][A-Za-z0-9]+)*")
_LETTER = re.compile(r"[A-Za-z]")
# What every code has and plain text with numbers ("Tranche 2", "26 Nov 2026") has not: a letter and a
# digit side by side or across one joiner. Texts without it skip the search for codes.
_LETTER_BY_DIGIT = re.compile(r"[A-Za-z][-/_.]?[0-9]|[0-9][-/_.]?[A-Za-z]")


def _word_to_bangla(match: re.Match) -> str:
    word = match[0]
    if _LETTER.search(word) and _DIGIT.search(word):
        return word  # a code, typed and read out as it is
    return word.translate(_TO_BANGLA)


def _convert_text(text: str) -> str:
    """Bangla digits in a run of text, except in codes, which people type and read out as they are."""
    if not _LETTER_BY_DIGIT.search(text):
        return text.translate(_TO_BANGLA)
    return _WORD.sub(_word_to_bangla, text)


def _text_to_bangla(html: str) -> str:
    """Convert the digits of the text between tags and character references of `html`."""
    if not _DIGIT.search(html):
        return html
    parts = _MARKUP.split(html)
    parts[::2] = [_convert_text(text) if _DIGIT.search(text) else text for text in parts[::2]]
    return "".join(parts)


def html_to_bangla_digits(html: str) -> str:
    """Bangla digits in the text of an HTML page or fragment; tags, attributes, comments and the
    kept elements (see the module's docstring) unchanged."""
    out: list[str] = []
    position = 0
    element = _KEEP_ELEMENT.search(html)
    marked = _MARKED.search(html)
    while element is not None or marked is not None:
        if marked is not None and (element is None or marked.start() < element.start()):
            start = html.rfind("<", position, marked.start())
            name = _TAG_NAME.match(html, start) if start != -1 else None
            if name is None or _end_of_tag(html, start) < marked.end():
                # "translate=no" in the text itself, not inside a tag: nothing to keep
                out.append(_text_to_bangla(html[position : marked.end()]))
                position = marked.end()
                marked = _MARKED.search(html, position)
                continue
            end = _end_of_element(html, name.group(1), start)
        elif element is not None:
            start = element.start()
            if element.group("raw"):  # no nesting inside script/style/textarea: their text is raw
                close = re.compile(rf"</{element.group('raw')}\s*>", re.IGNORECASE).search(html, start)
                end = len(html) if close is None else close.end()
            elif element.group("code"):
                end = _end_of_element(html, element.group("code"), start)
            else:  # a comment
                close_at = html.find("-->", start + 4)
                end = len(html) if close_at == -1 else close_at + 3
        out.append(_text_to_bangla(html[position:start]))
        out.append(html[start:end])
        position = end
        if element is not None and element.start() < position:
            element = _KEEP_ELEMENT.search(html, position)
        if marked is not None and marked.start() < position:
            marked = _MARKED.search(html, position)
    out.append(_text_to_bangla(html[position:]))
    return "".join(out)


def wants_bangla_digits(request: HttpRequest) -> bool:
    """Bangla interface, and the user did not turn Bangla digits off (visitors get them)."""
    if translation.get_language() != "bn":
        return False
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return True
    return bool(getattr(user, "bangla_digits", True))


class BanglaDigitsMiddleware:
    """Bangla digits in the text of HTML answers (pages and HTMX fragments) for those who want them.

    Place it after AuthenticationMiddleware and the middleware choosing the language: it reads the
    user's choice and the active language when the answer goes out. A regex pass over the rendered
    page (see html_to_bangla_digits); streaming answers, downloads and non-HTML are left alone."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.streaming
            or not response.get("Content-Type", "").startswith("text/html")
            or response.has_header("Content-Encoding")
            or response.get("Content-Disposition", "").startswith("attachment")
            or (response.charset or "").lower().replace("_", "-") not in {"utf-8", "utf8"}
            or not wants_bangla_digits(request)
        ):
            return response
        html = response.content.decode(response.charset)
        converted = html_to_bangla_digits(html)
        if converted != html:
            response.content = converted.encode(response.charset)
            if response.has_header("Content-Length"):
                response["Content-Length"] = str(len(response.content))
        return response
