"""`make bench`: set up the benchmark database, make sure the 80,000-enterprise dataset is there,
then run every benchmark module of this package (or those named: `python -m benchmarks enterprises`).

Figures go to stdout, one `name: value unit` per line; progress goes to stderr. Settings are the
production ones (DEBUG off), on PostgreSQL: BENCH_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/smart_bench (created if missing). BENCH_ENTERPRISES sets the
dataset's size: 80000 by default, 800000 for the programme at ten times its size (generated through
COPY: ~1.5 M KPI readings at 80,000, ~15 M at 800,000). The machine's 1-minute load average is
printed before and after each module (and the generation).

The modules named in STANDALONE set up their own server and database (pages: weight and first
paint on a slow link): they run first, and `python -m benchmarks pages` needs no PostgreSQL.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import secrets
import sys
import time
import traceback
import warnings
from urllib.parse import urlparse

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/smart_bench"
# Modules that need neither the benchmark database nor Django set up in this process (the others
# import models at module level, so this is a list rather than an attribute of each module).
STANDALONE = {"pages"}


def report(name: str, value: float | int, unit: str) -> None:
    if isinstance(value, float):  # two significant places at least: 0.47 s against a 0.5 s goal
        value = round(value, 2) if value < 10 else round(value, 1) if value < 100 else round(value)
    print(f"{name}: {value} {unit}", flush=True)


def machine_load(module: str, when: str) -> None:
    """The 1-minute load average next to the cores: a figure measured on a busy machine says so."""
    report(
        f"{module}_machine_load_{when}", round(os.getloadavg()[0], 2), f"load (1 min, {os.cpu_count()} cores)"
    )


def server_memory() -> None:
    """PostgreSQL's shared buffers: the same run reads its records from them or from the operating
    system's cache, and the figures differ (README "PostgreSQL's memory")."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT setting::bigint * pg_size_bytes(unit) FROM pg_settings WHERE name = 'shared_buffers'"
            )
            report("postgresql_shared_buffers_mb", cursor.fetchone()[0] // 2**20, "MB")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def ensure_database(url: str) -> None:
    import psycopg2
    from psycopg2 import sql

    parts = urlparse(url)
    name = parts.path.lstrip("/")
    connection = psycopg2.connect(
        host=parts.hostname,
        port=parts.port or 5432,
        user=parts.username,
        password=parts.password,
        dbname="postgres",
    )
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if cursor.fetchone() is None:
            log(f"creating database {name}")
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    connection.close()


def configure() -> None:
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    # Production settings: DEBUG off, and what the in-process test client needs.
    os.environ["DATABASE_URL"] = url
    os.environ["DEBUG"] = "0"
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    os.environ["ALLOWED_HOSTS"] = "testserver"
    os.environ["SECURE_SSL_REDIRECT"] = "0"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    # The benchmark accounts sign in without a second factor: what is measured is the page, not 2FA.
    os.environ.setdefault("MFA_REQUIRED", "0")
    # ...nor the API's rate limit: walking to page 1,000 by cursor is 1,000 requests in a minute or
    # two, which production's 600 a minute per client would answer 429.
    os.environ.setdefault("API_THROTTLE_RATE", "1000000/minute")
    os.environ.setdefault("API_BULK_THROTTLE_RATE", "1000000/minute")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smart_portal.settings")
    if url.startswith("postgres"):
        ensure_database(url)


def main(argv: list[str]) -> int:
    import benchmarks

    names = sorted(
        name for _finder, name, _pkg in pkgutil.iter_modules(benchmarks.__path__) if not name.startswith("_")
    )
    unknown = [name for name in argv if name not in names]
    if unknown:
        log(f"no benchmark module {', '.join(unknown)}; there are: {', '.join(names)}")
        return 2
    wanted = argv or names
    failed = []
    # Modules that bring their own server and database run first, before this process is set up
    # for the benchmark database (and without one).
    standalone = [name for name in wanted if name in STANDALONE]
    for name in standalone:
        log(f"--- {name}")
        machine_load(name, "start")
        try:
            importlib.import_module(f"benchmarks.{name}").run(report)
        except Exception:  # noqa: BLE001 - one broken benchmark must not hide the others' figures
            log(f"benchmark {name} failed:\n{traceback.format_exc()}")
            failed.append(name)
        machine_load(name, "end")
    on_database = [name for name in wanted if name not in standalone]
    if on_database:
        failed += run_on_database(on_database)
    if failed:
        log(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


def run_on_database(names: list[str]) -> list[str]:
    """Set up the benchmark database and its dataset, then run these modules; those that failed."""
    configure()
    # Nothing is collected into STATIC_ROOT for a benchmark: WhiteNoise's notice about it is noise.
    warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.test.utils import override_settings

    from demo.scale import synthetic_enterprises

    # Set up as a production web worker is (its URL modules loaded, what it loaded at start frozen
    # out of the collector's full passes): the figures are those of the server, not of a bare process.
    importlib.import_module("smart_portal.wsgi")

    log("migrating the benchmark database")
    call_command("migrate", verbosity=0)
    server_memory()
    wanted = int(os.environ.get("BENCH_ENTERPRISES", "80000"))
    existing = synthetic_enterprises().count()
    if existing != wanted:
        log(f"generating the dataset ({wanted:,} enterprises; {existing:,} there now)")
        machine_load("generate_scale", "start")
        started, cpu = time.monotonic(), time.process_time()
        call_command("generate_scale", enterprises=wanted, replace=True, force=True, stdout=sys.stderr)
        report("generate_scale_seconds", time.monotonic() - started, "s")
        # This process's own CPU time (Python building the rows), apart from PostgreSQL's.
        report("generate_scale_python_cpu_seconds", time.process_time() - cpu, "s")
        machine_load("generate_scale", "end")
    failed = []
    # Benchmarks measure the application, not static files: plain static storage renders pages
    # without a collectstatic (production's manifest storage needs one).
    plain = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    with override_settings(STORAGES=plain):
        for name in names:
            log(f"--- {name}")
            machine_load(name, "start")
            try:
                importlib.import_module(f"benchmarks.{name}").run(report)
            except Exception:  # noqa: BLE001 - one broken benchmark must not hide the others' figures
                log(f"benchmark {name} failed:\n{traceback.format_exc()}")
                failed.append(name)
            machine_load(name, "end")
    return failed


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
