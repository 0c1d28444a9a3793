"""Page weight and first paint on a slow link (issue 15): what PO field staff see at 400 kbit/s.

Runs without PostgreSQL (`python -m benchmarks pages`): the module sets up what it measures itself.

1. Seeds the demo programme into an SQLite file in a temporary directory (`seed_demo` runs only with
   DEBUG=1), then serves that same file with production settings: DEBUG off, `collectstatic` into a
   temporary STATIC_ROOT (WhiteNoise's manifest storage with gzip and brotli copies), gunicorn. Only
   what production gets over TLS is relaxed for plain http on 127.0.0.1 (secure cookies, the HTTPS
   redirect, HSTS), and two-factor sign-in is off (MFA_REQUIRED=0) so the demo logins sign in with
   their password.
2. Drives Debian's chromium (Playwright) through the DevTools protocol's network emulation: 400 ms of
   latency on every request and 50,000 bytes/s (400 kbit/s) down and up.
3. Signs in as po2 (PO staff) and pmu, and opens ten key pages (tests/key_pages.py): nine of po2's
   (all but its concept-note list, which is a list like the enterprise and KPI-reading lists) and the
   pmu's results dashboard. Each page is opened with an empty cache (cold), then again as a second
   visit (warm), BENCH_PAGES_RUNS times (default 3; the median is reported).

Printed per page: bytes transferred (cold and warm), first contentful paint (cold and warm), and for
the dashboard the time until its charts and its district map are drawn; each against its budget,
with PASS or FAIL; and, as a guide to reading a FAIL, how long the server takes to answer the page
(the same request timed off the slow link: a busy machine shows there first). Pages come gzipped
(Django), static files brotli-compressed (WhiteNoise; Chromium asks 127.0.0.1 for brotli as it asks
an https site), as production serves them.

BENCH_PAGES_DIR=path keeps the seeded database there between runs (seeding takes a minute or two);
without it everything goes into a temporary directory that is removed afterwards.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

Report = Callable[[str, float, str], None]

BASE_DIR = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
PASSWORD = "smart-demo"  # noqa: S105 - the demo logins' published password (demo.core.DEMO_PASSWORD)

# The slow link: 400 kbit/s each way, 400 ms added to every request.
LATENCY_MS = 400
BYTES_PER_SECOND = 50_000

# Budgets (ms, bytes). Weight of a cold visit: what the link carries in two seconds, so that a page
# is complete soon after its first paint; the dashboard adds its chart and map code and data (five
# seconds of the link, its drawing budget).
FCP_COLD_MS = 3000
FCP_WARM_MS = 1000
DRAWN_MS = 5000
WEIGHT_BYTES = 100_000
DASHBOARD_WEIGHT_BYTES = 250_000

# (login, label in tests/key_pages.py): ten pages.
PAGES = [
    ("po2", "home"),
    ("po2", "concept note"),
    ("po2", "proposal form"),
    ("po2", "enterprises"),
    ("po2", "new enterprise"),
    ("po2", "enterprise"),
    ("po2", "KPI readings"),
    ("po2", "imports"),
    ("po2", "sub-project"),
    ("pmu", "dashboard"),
]
DASHBOARD = ("pmu", "dashboard")

# In the page: the time (ms since the navigation started) once every chart has been drawn by
# Chart.js and the district map has its district shapes; false until then.
DRAWN_JS = """() => {
  const canvases = document.querySelectorAll("#trend-chart, canvas.breakdown-chart");
  if (!canvases.length || !window.Chart) { return false; }
  for (const canvas of canvases) { if (!window.Chart.getChart(canvas)) { return false; } }
  const map = document.getElementById("district-map");
  if (map && !map.querySelector("path.leaflet-interactive")) { return false; }
  return performance.now();
}"""
FCP_JS = """() => {
  const entry = performance.getEntriesByName("first-contentful-paint")[0];
  return entry ? entry.startTime : null;
}"""

# Variables of the developer's shell that would point the server elsewhere.
CLEARED_ENV = (
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "CELERY_RESULT_BACKEND",
    "CACHE_URL",
    "EMAIL_HOST",
    "MEDIA_ROOT",
    "BACKUP_ROOT",
)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def server_env(work: Path, *, debug: bool, secret_key: str) -> dict[str, str]:
    """The environment of manage.py and gunicorn: the work directory's SQLite file and static root."""
    env = {name: value for name, value in os.environ.items() if name not in CLEARED_ENV}
    env |= {
        "DJANGO_SETTINGS_MODULE": "smart_portal.settings",
        "VAR_DIR": str(work / "var"),
        "STATIC_ROOT": str(work / "static"),
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    if debug:
        return env | {"DEBUG": "1"}
    return env | {
        "DEBUG": "0",
        "SECRET_KEY": secret_key,
        "ALLOWED_HOSTS": "127.0.0.1",
        # Plain http on 127.0.0.1, for this benchmark only: production sends these over TLS.
        "SECURE_SSL_REDIRECT": "0",
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
        "SECURE_HSTS_SECONDS": "0",
        # The demo logins of the PMU roles would otherwise be sent to set up an authenticator.
        "MFA_REQUIRED": "0",
    }


def manage(env: dict[str, str], *args: str, capture: bool = False) -> str:
    result = subprocess.run(  # noqa: S603 - our own manage.py with fixed arguments
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=env,
        check=False,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"manage.py {' '.join(args)} failed:\n{result.stdout[-2000:]}{result.stderr[-4000:]}"
        )
    return result.stdout if capture else ""


def prepare(work: Path, secret_key: str) -> dict[str, list[tuple[str, str]]]:
    """Seed the demo into the work directory (once) and collect the static files; the key pages' paths."""
    debug_env = server_env(work, debug=True, secret_key=secret_key)
    (work / "var").mkdir(parents=True, exist_ok=True)
    seeded = work / "var" / "seeded"
    if not seeded.exists():
        log(f"seeding the demo programme into {work / 'var'} (a minute or two)")
        manage(debug_env, "migrate", "--no-input")
        manage(debug_env, "seed_demo")
        seeded.touch()
    else:
        log(f"using the demo programme seeded in {work / 'var'}")
        manage(debug_env, "migrate", "--no-input")
    log("collecting static files (manifest, gzip and brotli copies)")
    manage(server_env(work, debug=False, secret_key=secret_key), "collectstatic", "--no-input", "--clear")
    logins = sorted({login for login, _label in PAGES})
    code = (
        "import json; from tests.key_pages import key_pages; "
        f"print(json.dumps({{login: key_pages(login) for login in {logins!r}}}))"
    )
    output = manage(debug_env, "shell", "-c", code, capture=True)
    return {
        login: [tuple(pair) for pair in pairs]
        for login, pairs in json.loads(output.strip().splitlines()[-1]).items()
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def gunicorn(work: Path, secret_key: str) -> Iterator[str]:
    """The portal served by gunicorn with production settings; yields its base URL."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    log_path = work / "gunicorn.log"
    with log_path.open("w") as log_file:
        process = subprocess.Popen(  # noqa: S603 - gunicorn from this virtual environment
            [
                sys.executable,
                "-m",
                "gunicorn",
                "smart_portal.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
                "--timeout",
                "120",
            ],
            cwd=BASE_DIR,
            env=server_env(work, debug=False, secret_key=secret_key),
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    with urllib.request.urlopen(f"{base_url}/healthz", timeout=5) as answer:  # noqa: S310 - our server
                        if answer.status == 200:
                            break
                except (urllib.error.URLError, ConnectionError, TimeoutError):
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"gunicorn did not start:\n{log_path.read_text()[-4000:]}")
                time.sleep(0.5)
            yield base_url
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@dataclass
class Visit:
    weight: int
    fcp_ms: float | None
    # How long the server took to answer the page (the same request, off the slow link).
    server_ms: float
    drawn_ms: float | None = None


@dataclass
class PageFigures:
    cold: list[Visit] = field(default_factory=list)
    warm: list[Visit] = field(default_factory=list)


class SlowLink:
    """A Playwright page whose requests go through the emulated slow link, counting bytes received."""

    def __init__(self, page) -> None:
        self.page = page
        self.cdp = page.context.new_cdp_session(page)
        self.cdp.send("Network.enable")
        self.received = 0
        self.cdp.on("Network.loadingFinished", self._finished)

    def _finished(self, event: dict) -> None:
        # Bytes on the wire (headers included; 0 for what came from the cache).
        self.received += int(event.get("encodedDataLength", 0))

    def throttle(self) -> None:
        self.cdp.send(
            "Network.emulateNetworkConditions",
            {
                "offline": False,
                "latency": LATENCY_MS,
                "downloadThroughput": BYTES_PER_SECOND,
                "uploadThroughput": BYTES_PER_SECOND,
            },
        )

    def visit(self, url: str, *, cold: bool, dashboard: bool) -> Visit:
        page = self.page
        page.goto("about:blank")
        if cold:
            self.cdp.send("Network.clearBrowserCache")
        self.received = 0
        drawn = None
        if dashboard:
            page.goto(url, wait_until="commit")
            drawn = float(page.wait_for_function(DRAWN_JS, polling="raf", timeout=120_000).json_value())
        else:
            page.goto(url, wait_until="load", timeout=120_000)
        page.wait_for_load_state("load", timeout=120_000)
        page.wait_for_load_state("networkidle", timeout=120_000)
        fcp = page.evaluate(FCP_JS)
        started = time.perf_counter()
        answer = page.context.request.get(url)  # the browser's cookies, not its emulated link
        server_ms = (time.perf_counter() - started) * 1000
        if not answer.ok:
            raise RuntimeError(f"{url} answered {answer.status}")
        return Visit(self.received, None if fcp is None else float(fcp), server_ms, drawn)


def sign_in(page, base_url: str, username: str) -> None:
    answer = page.goto(f"{base_url}/accounts/login/")
    if answer is None or answer.status != 200:
        raise RuntimeError(f"the sign-in page answered {answer and answer.status} (see gunicorn.log)")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state("load")
    if "/accounts/login/" in page.url:
        raise RuntimeError(f"{username} could not sign in to the benchmark server")


def measure(
    base_url: str, paths: dict[str, list[tuple[str, str]]], runs: int
) -> dict[tuple[str, str], PageFigures]:
    from playwright.sync_api import sync_playwright

    figures: dict[tuple[str, str], PageFigures] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
            for login in dict.fromkeys(login for login, _label in PAGES):
                context = browser.new_context(viewport={"width": 1280, "height": 900})
                page = context.new_page()
                sign_in(page, base_url, login)
                link = SlowLink(page)
                link.throttle()
                by_label = dict(paths[login])
                for page_login, label in PAGES:
                    if page_login != login:
                        continue
                    url = base_url + by_label[label]
                    log(f"{login} {label}: {by_label[label]}")
                    result = figures.setdefault((login, label), PageFigures())
                    for _run in range(runs):
                        dashboard = (login, label) == DASHBOARD
                        result.cold.append(link.visit(url, cold=True, dashboard=dashboard))
                        result.warm.append(link.visit(url, cold=False, dashboard=dashboard))
                context.close()
        finally:
            browser.close()
    return figures


def _median(values: list[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return statistics.median(present) if present else None


def report_figures(report: Report, figures: dict[tuple[str, str], PageFigures]) -> int:
    """Print each figure against its budget; the number of budgets missed."""
    failures = 0

    def against(name: str, value: float | None, budget: int, unit: str) -> None:
        nonlocal failures
        verdict = "PASS" if value is not None and value <= budget else "FAIL"
        failures += verdict == "FAIL"
        report(name, -1 if value is None else round(value), f"{unit} (budget {budget} {unit}: {verdict})")

    for (login, label), result in figures.items():
        name = f"pages_{login}_{label.lower().replace(' ', '_').replace('-', '_')}"
        dashboard = (login, label) == DASHBOARD
        weight_budget = DASHBOARD_WEIGHT_BYTES if dashboard else WEIGHT_BYTES
        against(f"{name}_weight_cold", _median([visit.weight for visit in result.cold]), weight_budget, "B")
        report(f"{name}_weight_warm", round(_median([visit.weight for visit in result.warm]) or 0), "B")
        against(f"{name}_fcp_cold", _median([visit.fcp_ms for visit in result.cold]), FCP_COLD_MS, "ms")
        against(f"{name}_fcp_warm", _median([visit.fcp_ms for visit in result.warm]), FCP_WARM_MS, "ms")
        # Not a budget: how long the server took (a loaded machine shows here first).
        report(
            f"{name}_server",
            round(_median([visit.server_ms for visit in result.cold + result.warm]) or 0),
            "ms",
        )
        if dashboard:
            against(f"{name}_drawn_cold", _median([visit.drawn_ms for visit in result.cold]), DRAWN_MS, "ms")
            against(f"{name}_drawn_warm", _median([visit.drawn_ms for visit in result.warm]), DRAWN_MS, "ms")
    report("pages_budgets_missed", failures, "budgets")
    return failures


def run(report: Report) -> None:
    runs = int(os.environ.get("BENCH_PAGES_RUNS", "3"))
    kept = os.environ.get("BENCH_PAGES_DIR")
    work = Path(kept) if kept else Path(tempfile.mkdtemp(prefix="smart-pages-bench-"))
    secret_key = secrets.token_urlsafe(50)
    try:
        paths = prepare(work, secret_key)
        with gunicorn(work, secret_key) as base_url:
            log(
                f"serving on {base_url} (DEBUG off, gunicorn, WhiteNoise); link: {LATENCY_MS} ms, "
                f"{BYTES_PER_SECOND * 8 // 1000} kbit/s; {runs} run(s) per page"
            )
            try:
                figures = measure(base_url, paths, runs)
            except Exception:
                log(f"the server's log ends:\n{(work / 'gunicorn.log').read_text()[-3000:]}")
                raise
        report_figures(report, figures)
    finally:
        if not kept:
            shutil.rmtree(work, ignore_errors=True)
