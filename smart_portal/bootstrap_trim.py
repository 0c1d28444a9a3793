"""Bootstrap's stylesheet trimmed to what the portal uses (issue 15: light pages on slow links).

`python manage.py trim_bootstrap` writes static/vendor/bootstrap/bootstrap.portal.min.css from the
full bootstrap.min.css beside it, keeping a rule only when every class its selector needs can appear
in a portal page. Where class names can come from:

- the portal's templates, and the crispy-forms (bootstrap5 pack) and django-filter templates that
  its forms render, every word in them: a class written anywhere in a template counts. In a class
  attribute, `alert-{{ level }}` keeps every class starting "alert-", and
  `btn-{% if a %}outline-danger{% else %}portal{% endif %}` keeps btn-outline-danger and btn-portal;
  so does `"text-bg-"|add:tone` anywhere;
- the portal's Python (widget attrs, classes chosen in views and template tags): the words of its
  string constants, a constant ending in "-" before a placeholder keeping the family
  (`f"text-bg-{tone}"`, `"badge-{}"`);
- the portal's own scripts under static/ (not the vendored libraries), `"name-" + value` and
  `name-${value}` keeping the family;
- SAFELIST: classes and attributes Bootstrap's own script adds at run time.

Selectors are filtered one by one; the arguments of :not() and other functional pseudo-classes never
count as needed, so a rule is kept rather than lost when in doubt. Rules without classes (element
styles, :root variables) are kept; so is a selector testing a data-* attribute (the dark colour
mode's data-bs-theme) only when that attribute appears in the portal.
The check `stale_selectors()` (used by the tests and `trim_bootstrap --check`) names the selectors a
fresh trim would keep that the committed file lacks, i.e. a class the portal started using since.
"""

from __future__ import annotations

import ast
import importlib.util
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
BOOTSTRAP_DIR = BASE_DIR / "static" / "vendor" / "bootstrap"
FULL_CSS = BOOTSTRAP_DIR / "bootstrap.min.css"
TRIMMED_CSS = BOOTSTRAP_DIR / "bootstrap.portal.min.css"

# The portal's Django apps (and the project package): their Python and their templates.
PORTAL_PACKAGES = (
    "smart_portal",
    "core",
    "subprojects",
    "enterprises",
    "monitoring",
    "verification",
    "safeguards",
    "grievances",
    "finance",
)
# Templates of installed packages that render inside portal pages: `|crispy` and `as_crispy_field`
# start from these (their literal includes are followed), and django-filter's range widget.
PACKAGE_TEMPLATES = {
    "crispy_bootstrap5": (
        "bootstrap5/uni_form.html",
        "bootstrap5/whole_uni_form.html",
        "bootstrap5/field.html",
    ),
    "django_filters": ("django_filters/widgets/multiwidget.html",),
}
# Python of installed packages that sets classes on portal widgets (crispy's field tag).
PACKAGE_PYTHON = ("crispy_forms/templatetags",)

# Classes (and the data-bs-* attribute that selectors test) that Bootstrap's script sets at run time:
# collapse and dropdown (the navigation), alerts' close button, and a modal, should a page add one.
# A word ending in "-" keeps every class starting with it.
SAFELIST = frozenset(
    {
        "show",
        "showing",
        "hiding",
        "fade",
        "collapse",
        "collapsing",
        "collapsed",
        "active",
        "disabled",
        "dropdown-menu-",
        "data-bs-popper",
        "modal-open",
        "modal-backdrop",
        "modal-static",
    }
)
# Words in templates and code that start every class of a Bootstrap family are kept as prefixes only
# from this length on ("-" alone, or a one-letter word, starts nothing).
MIN_PREFIX = 3

WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
INCLUDE = re.compile(r"""{%\s*(?:include|extends)\s+["']([^"']+)["']""")
CLASS_IN_SELECTOR = re.compile(r"\.(-?[A-Za-z_][A-Za-z0-9_-]*)")
DATA_ATTRIBUTE = re.compile(r"\[\s*(data-[A-Za-z0-9_-]+)")


# --- Where the portal's class names come from ---------------------------------------------------------


@dataclass
class Vocabulary:
    """The words that can be class names in a portal page, and the prefixes that stand for families."""

    words: set[str] = field(default_factory=set)
    prefixes: set[str] = field(default_factory=set)

    def add_words(self, text: str) -> None:
        self.words.update(word.rstrip("-") for word in WORD.findall(text))

    def add_prefix(self, prefix: str) -> None:
        if len(prefix) >= MIN_PREFIX:
            self.prefixes.add(prefix)

    def add_template(self, text: str) -> None:
        """Every word of a template; a class attribute's `name-{{ value }}` keeps the family, and
        `name-{% if %}a{% else %}b{% endif %}` keeps name-a and name-b."""
        self.add_words(text)
        for prefix in TEMPLATE_STRING_PREFIX.findall(text):
            self.add_prefix(prefix)
        for value in _class_values(text):
            for match in PREFIX_BEFORE_TAG.finditer(value):
                suffixes = _branches(value, match.end())
                if suffixes is None:
                    self.add_prefix(match.group(1))
                else:
                    self.words.update(match.group(1) + suffix for suffix in suffixes)

    def add_python(self, source: str) -> None:
        """The words of a module's string constants; one ending in "-" before a placeholder or at its
        end (an f-string's part) keeps the family."""
        for constant in _python_strings(source):
            self.add_words(constant)
            for prefix in PYTHON_PREFIX.findall(constant):
                self.add_prefix(prefix)

    def add_script(self, source: str) -> None:
        """Every word of a script; a string ending in "-" that is added to, or a template literal's
        `name-${value}`, keeps the family."""
        self.add_words(source)
        for added, template_literal in SCRIPT_PREFIX.findall(source):
            self.add_prefix(added or template_literal)

    def uses(self, name: str) -> bool:
        if name.startswith("data-"):  # an attribute, written out in full wherever it is set
            return name in self.words
        return name in self.words or any(name.startswith(prefix) for prefix in self.prefixes)


TEMPLATE_STRING_PREFIX = re.compile(r"""["']([A-Za-z][\w-]*-)["']\s*\|""")
PREFIX_BEFORE_TAG = re.compile(r"([A-Za-z][\w-]*-)(?={[{%])")
PYTHON_PREFIX = re.compile(r"([A-Za-z][\w-]*-)(?=[{%]|$)")
SCRIPT_PREFIX = re.compile(r"""["']([A-Za-z][\w-]*-)["']\s*\+|([A-Za-z][\w-]*-)\$\{""")
TAG = re.compile(r"{%\s*(\w+).*?%}")


def _class_values(text: str) -> Iterator[str]:
    """The values of the class attributes of a template, template tags inside them included."""
    for match in re.finditer(r"""\bclass\s*=\s*(["'])""", text):
        quote, index = match.group(1), match.end()
        while index < len(text) and text[index] != quote:
            if text.startswith(("{%", "{{"), index):
                close = text.find("%}" if text[index + 1] == "%" else "}}", index + 2)
                index = len(text) if close < 0 else close + 2
            else:
                index += 1
        yield text[match.end() : index]


def _branches(value: str, index: int) -> list[str] | None:
    """The words each branch of the {% if %} at value[index] writes; None when a branch writes a
    variable (or the tag is not a plain if)."""
    suffixes: list[str] = []
    depth, piece_start = 0, index
    for tag in TAG.finditer(value, index):
        if depth == 0 and tag.group(1) != "if":
            return None
        if depth == 1:
            piece = value[piece_start : tag.start()]
            if "{{" in piece:
                return None
            suffixes.append(re.match(r"[\w-]*", piece).group())
        if tag.group(1) == "if":
            depth += 1
            if depth > 1:
                return None
        elif tag.group(1) == "endif":
            return [suffix for suffix in suffixes if suffix]
        piece_start = tag.end()
    return None


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise LookupError(f"package {name} is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def _followed_templates(root: Path, entries: Iterable[str]) -> Iterator[Path]:
    """The entry templates under root and every template they include or extend by a literal name."""
    seen: set[str] = set()
    pending = list(entries)
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        path = root / name
        if path.is_file():
            yield path
            pending.extend(INCLUDE.findall(path.read_text(encoding="utf-8")))


def template_files() -> list[Path]:
    files = sorted((BASE_DIR / "templates").rglob("*.html"))
    for package in PORTAL_PACKAGES:
        files += sorted((BASE_DIR / package / "templates").rglob("*.html"))
    for package, entries in PACKAGE_TEMPLATES.items():
        files += list(_followed_templates(_package_dir(package) / "templates", entries))
    return files


def python_files() -> list[Path]:
    files = []
    for package in PORTAL_PACKAGES:
        files += [
            path
            for path in sorted((BASE_DIR / package).rglob("*.py"))
            if "migrations" not in path.parts and path.name != Path(__file__).name
        ]
    for folder in PACKAGE_PYTHON:
        package, _, rest = folder.partition("/")
        files += sorted((_package_dir(package) / rest).rglob("*.py"))
    return files


def script_files() -> list[Path]:
    static = BASE_DIR / "static"
    return [path for path in sorted(static.rglob("*.js")) if "vendor" not in path.relative_to(static).parts]


def _python_strings(source: str) -> Iterator[str]:
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.value


def portal_vocabulary(extra_templates: Iterable[str] = ()) -> Vocabulary:
    """Every word that can be a class in a portal page (extra_templates: more template text, for tests)."""
    vocabulary = Vocabulary()
    for path in template_files():
        vocabulary.add_template(path.read_text(encoding="utf-8"))
    for text in extra_templates:
        vocabulary.add_template(text)
    for path in python_files():
        vocabulary.add_python(path.read_text(encoding="utf-8"))
    for path in script_files():
        vocabulary.add_script(path.read_text(encoding="utf-8"))
    for name in SAFELIST:
        if name.endswith("-"):
            vocabulary.add_prefix(name)
        else:
            vocabulary.words.add(name)
    return vocabulary


# --- Bootstrap's minified stylesheet --------------------------------------------------------------


@dataclass
class Node:
    """A statement of the stylesheet: `prelude{body}` (a style rule, @font-face, a keyframe),
    `prelude{children}` (@media, @supports, @keyframes...), `prelude;` (@charset) or a comment."""

    prelude: str
    body: str | None = None
    children: list[Node] | None = None

    def css(self) -> str:
        if self.children is not None:
            return f"{self.prelude}{{{''.join(child.css() for child in self.children)}}}"
        if self.body is not None:
            return f"{self.prelude}{{{self.body}}}"
        return self.prelude


GROUPING_AT_RULES = ("@media", "@supports", "@container", "@layer", "@document", "@keyframes")


def _skip_string(css: str, index: int) -> int:
    """The index just past the string starting at css[index]."""
    quote = css[index]
    index += 1
    while css[index] != quote:
        index += 2 if css[index] == "\\" else 1
    return index + 1


def _until(css: str, index: int, stops: str) -> int:
    """The index of the first of `stops` at index or after, outside strings and brackets."""
    depth = 0
    while index < len(css):
        char = css[index]
        if char in "\"'":
            index = _skip_string(css, index)
            continue
        if char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        elif depth == 0 and char in stops:
            return index
        index += 1
    return index


def parse(css: str, index: int = 0, nested: bool = False) -> tuple[list[Node], int]:
    """The statements of css from index, up to the end (or the `}` closing a group when nested)."""
    nodes: list[Node] = []
    while index < len(css):
        if css[index].isspace():
            index += 1
        elif css.startswith("/*", index):
            end = css.index("*/", index) + 2
            if css.startswith("/*!", index):  # the licence comment stays
                nodes.append(Node(css[index:end]))
            index = end
        elif css[index] == "}":
            if not nested:
                raise ValueError(f"unexpected }} at {index}")
            return nodes, index + 1
        else:
            stop = _until(css, index, "{;}")
            prelude = css[index:stop].strip()
            if stop >= len(css) or css[stop] != "{":
                nodes.append(Node(prelude + ";"))
                index = stop + 1
            elif prelude.startswith(GROUPING_AT_RULES):
                children, index = parse(css, stop + 1, nested=True)
                nodes.append(Node(prelude, children=children))
            else:
                end = _until(css, stop + 1, "}")
                nodes.append(Node(prelude, body=css[stop + 1 : end]))
                index = end + 1
    if nested:
        raise ValueError("unclosed block")
    return nodes, index


def split_selectors(prelude: str) -> list[str]:
    selectors, start = [], 0
    while True:
        stop = _until(prelude, start, ",")
        selectors.append(prelude[start:stop].strip())
        if stop >= len(prelude):
            return selectors
        start = stop + 1


def _without(selector: str, brackets: str) -> str:
    """The selector with what these brackets hold left out (the brackets stay)."""
    out, depth = [], 0
    for char in selector:
        if char in brackets[::2]:
            depth += 1
            out.append(char)
        elif char in brackets[1::2]:
            depth -= 1
            out.append(char)
        elif depth == 0:
            out.append(char)
    return "".join(out)


def needs(selector: str) -> set[str]:
    """The classes (and data-* attributes) an element needs for the selector to match; what :not(),
    :is(), :where()... hold never counts, nor a dot inside an attribute test."""
    without_arguments = _without(selector, "()")
    classes = CLASS_IN_SELECTOR.findall(_without(without_arguments, "[]"))
    return set(classes) | set(DATA_ATTRIBUTE.findall(without_arguments))


def _trim_nodes(nodes: list[Node], vocabulary: Vocabulary) -> list[Node]:
    kept = []
    for node in nodes:
        if node.children is not None:
            if node.prelude.startswith("@keyframes"):
                kept.append(node)  # dropped afterwards when no kept rule names it
                continue
            children = _trim_nodes(node.children, vocabulary)
            if children:
                kept.append(Node(node.prelude, children=children))
        elif node.body is not None:
            selectors = [
                selector
                for selector in split_selectors(node.prelude)
                if all(vocabulary.uses(name) for name in needs(selector))
            ]
            if selectors:
                kept.append(Node(",".join(selectors), body=node.body))
        else:
            kept.append(node)
    return kept


def _drop_unused_keyframes(nodes: list[Node]) -> list[Node]:
    text = "".join(node.css() for node in nodes if not node.prelude.startswith("@keyframes"))
    return [
        node
        for node in nodes
        if not node.prelude.startswith("@keyframes")
        or re.search(rf"[\s:,]{re.escape(node.prelude.split()[1])}\b", text)
    ]


def trim(css: str, vocabulary: Vocabulary) -> str:
    """The stylesheet with only the rules (and selectors) the vocabulary can match."""
    nodes, _end = parse(css)
    return "".join(node.css() for node in _drop_unused_keyframes(_trim_nodes(nodes, vocabulary)))


NOTE = (
    "/* Trimmed by `python manage.py trim_bootstrap` (smart_portal/bootstrap_trim.py) to the classes the"
    " portal uses: do not edit. */"
)


def trimmed_stylesheet(extra_templates: Iterable[str] = ()) -> str:
    """What bootstrap.portal.min.css should hold now: the trim, its note after the licence."""
    css = trim(FULL_CSS.read_text(encoding="utf-8"), portal_vocabulary(extra_templates))
    licence_end = css.index("*/") + 2
    return f"{css[:licence_end]}\n{NOTE}\n{css[licence_end:]}\n"


def selectors_of(css: str) -> set[str]:
    """Every (group, selector) pair of a stylesheet: the same selector inside @media is another."""

    def walk(nodes: list[Node], group: str) -> Iterator[str]:
        for node in nodes:
            if node.children is not None and not node.prelude.startswith("@keyframes"):
                yield from walk(node.children, f"{group}{node.prelude} ")
            elif node.body is not None:
                yield from (f"{group}{selector}" for selector in split_selectors(node.prelude))

    return set(walk(parse(css)[0], ""))


def stale_selectors(committed: str | None = None, extra_templates: Iterable[str] = ()) -> list[str]:
    """Selectors a fresh trim keeps that the committed trimmed file lacks (empty: it is up to date)."""
    if committed is None:
        committed = TRIMMED_CSS.read_text(encoding="utf-8")
    return sorted(selectors_of(trimmed_stylesheet(extra_templates)) - selectors_of(committed))
