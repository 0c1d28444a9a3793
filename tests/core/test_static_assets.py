"""Light pages on slow links (issue 15): compressed pages, Bootstrap trimmed to what the portal uses
(and kept up to date), chart and map code only on the dashboard and never in the way of the first
paint, static files pre-compressed and cached for good in production."""

from __future__ import annotations

import gzip
import io
import re
from datetime import date

import pytest
from django.core.management import CommandError, call_command
from django.templatetags.static import static
from django.test import RequestFactory
from django.urls import reverse
from whitenoise.middleware import WhiteNoiseMiddleware

from monitoring import aggregation
from smart_portal import bootstrap_trim
from tests.enterprises.factories import EnterpriseFactory, FinancialSupportFactory, sub_project_for
from tests.factories import district

BROWSER_ENCODINGS = "gzip, deflate, br, zstd"
CHART_AND_MAP = ("chart.umd", "leaflet", "bd_districts", "dashboard.js")


# --- Compressed pages ---------------------------------------------------------------------------------


def test_a_page_is_gzipped_for_a_browser_that_accepts_it(client, po1):
    client.force_login(po1)

    zipped = client.get("/", headers={"accept-encoding": BROWSER_ENCODINGS})
    plain = client.get("/")

    assert zipped.status_code == plain.status_code == 200
    assert zipped["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in zipped["Vary"]
    html = gzip.decompress(zipped.content).decode()
    assert "Main navigation" in html
    assert len(zipped.content) * 3 < len(html.encode())
    # A client that does not say it reads gzip gets the page as it is.
    assert not plain.has_header("Content-Encoding")
    assert "Main navigation" in plain.content.decode()


def test_a_page_showing_a_secret_is_not_compressed(client, po1):
    """The authenticator's setup key next to a reflected `next`: no compression, no BREACH."""
    client.force_login(po1)

    response = client.get(
        reverse("accounts:two-factor-setup"), {"next": "/enterprises/"}, headers={"accept-encoding": "gzip"}
    )

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert not response.has_header("Content-Encoding")
    assert "<form" in response.content.decode()


def test_api_answers_are_gzipped_too(client, po1, po_one):
    EnterpriseFactory.create_batch(3, sub_project=sub_project_for(po_one))
    client.force_login(po1)

    response = client.get("/api/v1/enterprises/", headers={"accept-encoding": "gzip"})

    assert response.status_code == 200
    assert response["Content-Encoding"] == "gzip"
    assert b'"results"' in gzip.decompress(response.content)


# --- What the pages load ----------------------------------------------------------------------------


def _scripts_and_styles(html: str) -> tuple[list[str], list[str]]:
    return re.findall(r"<script\b[^>]*\bsrc=[^>]*>", html), re.findall(r"<link\b[^>]*stylesheet[^>]*>", html)


@pytest.mark.parametrize("path", ["/", "/enterprises/", "/kpi-readings/", "/accounts/security/"])
def test_pages_load_the_trimmed_bootstrap_deferred_scripts_and_no_chart_code(client, po1, path):
    client.force_login(po1)

    html = client.get(path).content.decode()

    scripts, styles = _scripts_and_styles(html)
    assert [style for style in styles if "bootstrap" in style] == [
        f'<link rel="stylesheet" href="{static("vendor/bootstrap/bootstrap.portal.min.css")}">'
    ]
    assert scripts
    assert all(" defer" in script for script in scripts), scripts
    for asset in CHART_AND_MAP:
        assert asset not in html, f"{path} loads {asset}"


def test_the_sign_in_page_loads_no_chart_code(client):
    html = client.get(reverse("login")).content.decode()

    assert "bootstrap.portal.min.css" in html
    assert not any(asset in html for asset in CHART_AND_MAP)


def test_the_dashboard_loads_its_chart_and_map_code_after_the_content(client, pmu, po_one):
    sp = sub_project_for(po_one)
    FinancialSupportFactory(
        enterprise=EnterpriseFactory(sub_project=sp, district=district("Kishoreganj")),
        disbursed_on=date(2025, 1, 5),
    )
    aggregation.refresh_snapshot(date(2025, 6, 30))
    client.force_login(pmu)

    html = client.get(reverse("monitoring:dashboard")).content.decode()

    head = html[: html.index("</head>")]
    end_of_content = html.index("</main>")
    loads = {tag.group(): tag.start() for tag in re.finditer(r"<(?:script|link)\b[^>]*>", html)}
    for asset in ("chart.umd.min.js", "leaflet.js", "leaflet.css", "bd_districts.geojson", "dashboard.js"):
        assert asset not in head, f"{asset} holds up the first paint"
        (position,) = [start for tag, start in loads.items() if asset in tag]
        assert position > end_of_content
    scripts, _styles = _scripts_and_styles(html)
    assert all(" defer" in script for script in scripts), scripts
    # No htmx either, which only pages with hx- attributes need (the body's CSRF header aside).
    assert "htmx" not in html
    assert re.findall(r"\shx-[a-z-]+=", html) == [" hx-headers="]
    # The district shapes are fetched with the scripts, as the script's fetch() will ask for them.
    assert re.search(
        r'<link rel="preload" href="[^"]*bd_districts[^"]*" as="fetch" crossorigin="anonymous">', html
    )


# --- Bootstrap trimmed to the portal ------------------------------------------------------------------


def test_the_trimmed_bootstrap_has_every_rule_the_portal_uses():
    stale = bootstrap_trim.stale_selectors()

    assert not stale, (
        f"static/vendor/bootstrap/bootstrap.portal.min.css lacks {len(stale)} rule(s) for classes the portal "
        f"now uses, e.g. {stale[:10]}: run `DEBUG=1 python manage.py trim_bootstrap` and commit the file."
    )


def test_a_bootstrap_class_new_to_the_templates_makes_the_trimmed_file_stale():
    stale = bootstrap_trim.stale_selectors(
        extra_templates=[
            '<div class="carousel-item">',
            '<div class="offcanvas offcanvas-{% if wide %}end{% else %}start{% endif %}">',
            '<div class="accordion"><button class="accordion-{{ part }}">',
        ]
    )

    assert ".carousel-item" in stale
    # Both branches of the {% if %}, and no other member of the family.
    assert {".offcanvas.offcanvas-end", ".offcanvas.offcanvas-start"} <= set(stale)
    assert ".offcanvas.offcanvas-top" not in stale
    # A class named by a variable keeps the whole family.
    assert {".accordion-button", ".accordion-body"} <= set(stale)


def test_the_trimmed_bootstrap_is_a_fraction_of_the_full_one_and_keeps_its_licence():
    trimmed = bootstrap_trim.TRIMMED_CSS.read_text(encoding="utf-8")
    full = bootstrap_trim.FULL_CSS.read_text(encoding="utf-8")

    assert len(trimmed) * 2 < len(full)
    assert "Licensed under MIT" in trimmed
    # What every page uses is there; components no page has are not.
    selectors = bootstrap_trim.selectors_of(trimmed)
    assert {
        "@media (min-width:992px) .navbar-expand-lg .navbar-collapse",
        ".alert-dismissible .btn-close",
        ".visually-hidden-focusable:not(:focus):not(:focus-within)",
    } <= selectors
    assert not any(".carousel" in selector or ".toast" in selector for selector in selectors)


@pytest.mark.slow
def test_the_command_writes_the_trimmed_file_and_checks_it(tmp_path, monkeypatch):
    target = tmp_path / "bootstrap.portal.min.css"
    target.write_text(":root{--bs-blue:#0d6efd}\n.btn{display:inline-block}\n")
    monkeypatch.setattr(bootstrap_trim, "TRIMMED_CSS", target)

    with pytest.raises(
        CommandError, match=r"(?s)lacks \d+ selector.*\.alert-danger.*Run `python manage.py trim_bootstrap`"
    ):
        call_command("trim_bootstrap", "--check", stdout=io.StringIO())
    call_command("trim_bootstrap", stdout=io.StringIO())
    out = io.StringIO()
    call_command("trim_bootstrap", "--check", stdout=out)

    written = target.read_text()
    assert written == bootstrap_trim.trimmed_stylesheet()
    assert written.startswith('@charset "UTF-8";/*!')
    assert ".navbar-toggler" in written
    assert "is up to date" in out.getvalue()


@pytest.mark.parametrize(
    ("selector", "needed"),
    [
        (".btn-group>.btn:not(.dropdown-toggle)", {"btn-group", "btn"}),
        (".dropdown-menu[data-bs-popper]", {"dropdown-menu", "data-bs-popper"}),
        ("[data-bs-theme=dark] .navbar-toggler-icon", {"data-bs-theme", "navbar-toggler-icon"}),
        ('a[href^="http://x.y"]', set()),
        (".form-control::-webkit-file-upload-button", {"form-control"}),
    ],
)
def test_what_a_selector_needs_leaves_out_negations_and_attribute_values(selector, needed):
    assert bootstrap_trim.needs(selector) == needed


# --- Static files in production -----------------------------------------------------------------------


@pytest.mark.slow
def test_collected_static_files_are_served_compressed_and_cached_for_good(settings, tmp_path):
    """Production (DEBUG off): hashed names from the manifest, brotli and gzip copies made by
    collectstatic, and WhiteNoise telling browsers never to ask again."""
    settings.STATIC_ROOT = tmp_path
    settings.STATICFILES_FINDERS = ["django.contrib.staticfiles.finders.FileSystemFinder"]
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
    settings.WHITENOISE_USE_FINDERS = False
    settings.WHITENOISE_AUTOREFRESH = False
    call_command("collectstatic", interactive=False, verbosity=0)
    middleware = WhiteNoiseMiddleware(get_response=lambda request: pytest.fail(f"{request.path} not served"))
    url = static("vendor/bootstrap/bootstrap.portal.min.css")
    assert re.search(r"bootstrap\.portal\.min\.[0-9a-f]{12}\.css$", url)

    brotli = middleware(RequestFactory().get(url, headers={"accept-encoding": BROWSER_ENCODINGS}))
    gzipped = middleware(RequestFactory().get(url, headers={"accept-encoding": "gzip"}))

    assert brotli.status_code == gzipped.status_code == 200
    assert brotli["Content-Encoding"] == "br"
    assert gzipped["Content-Encoding"] == "gzip"
    full_size = bootstrap_trim.TRIMMED_CSS.stat().st_size
    assert int(brotli["Content-Length"]) < int(gzipped["Content-Length"]) < full_size / 4
    for response in (brotli, gzipped):
        assert response["Cache-Control"] == "max-age=315360000, public, immutable"
        assert "Accept-Encoding" in response["Vary"]
