"""Fault injection on the real services: PostgreSQL, Redis, Celery workers and a gunicorn server that
the tests start, stop, cut off and SIGKILL themselves.

The tests run only on PostgreSQL with FAULTS_REDIS_URL naming a Redis database they may empty
(e.g. redis://127.0.0.1:6379/13); otherwise they are skipped (the SQLite `make test` run). CI runs
them in their own step, with no worker of its own running (see .ci/run):

    FAULTS_REDIS_URL=redis://127.0.0.1:6379/13 DATABASE_URL=postgres://postgres@127.0.0.1:5432/x \\
        .venv/bin/python -m pytest -p no:xdist --create-db -m faults

Each test works in a transactional test database (committed data, visible to the processes it
starts), named `test_<name>` by pytest-django; the workers and the web server get its address.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis

from smart_portal.celery import app as celery_app
from tests.faults.processes import WebServer, Worker
from tests.faults.proxy import TcpProxy
from tests.faults.services import point_web_side_at, subprocess_env, wait_for_sessions_to_end

FAULTS_REDIS_URL = os.environ.get("FAULTS_REDIS_URL", "")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "faults: fault injection on real PostgreSQL + Redis with workers the tests start and kill",
    )


def services_missing() -> str:
    """Why the fault tests cannot run here ("" when they can)."""
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        return "fault tests need PostgreSQL (DATABASE_URL=postgres://...)"
    if not FAULTS_REDIS_URL:
        return "fault tests need FAULTS_REDIS_URL (a Redis database they may empty)"
    return ""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = services_missing()
    if reason:
        for item in items:
            if item.get_closest_marker("faults"):
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(autouse=True)
def _tasks_in_process():
    """Replaces the suite's fixture of that name: here the tests choose where tasks go (`web_broker`);
    whatever they chose is undone afterwards."""
    from core import outbox

    eager, url = celery_app.conf.task_always_eager, celery_app.conf.broker_url
    yield
    point_web_side_at(url, eager=eager)
    outbox._broker_down_until = 0.0  # a broker seen down in this test is not down in the next


# --- Services -------------------------------------------------------------------------------------


@pytest.fixture
def redis_db() -> Iterator[redis.Redis]:
    """The fault tests' Redis database (broker and cache of the processes they start), empty at the
    start and at the end of each test (messages left by a killed worker must not reach the next)."""
    client = redis.Redis.from_url(FAULTS_REDIS_URL)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def faults_dir(tmp_path: Path) -> Path:
    for name in ("media", "mail", "logs"):
        (tmp_path / name).mkdir()
    return tmp_path


@pytest.fixture
def shared_files(settings, faults_dir: Path) -> Path:
    """Uploads where the worker looks for them, and the Redis cache the worker writes progress to."""
    settings.MEDIA_ROOT = faults_dir / "media"
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": FAULTS_REDIS_URL}
    }
    return faults_dir


@pytest.fixture
def process_env(shared_files: Path, redis_db) -> dict[str, str]:
    """The environment of the workers: production settings (DEBUG off) on the test database and
    the fault tests' Redis, reading uploads from this test's media folder."""
    return subprocess_env(FAULTS_REDIS_URL, media=shared_files / "media", mail=shared_files / "mail")


@pytest.fixture
def broker_url(redis_db) -> str:
    """The broker's real address (the workers always use it; the web side may, or the proxy)."""
    return FAULTS_REDIS_URL


@pytest.fixture
def web_broker() -> Callable[[str], None]:
    """`web_broker(url)`: this process publishes its tasks to `url` (the proxy, or Redis itself)."""
    return point_web_side_at


@pytest.fixture
def broker_proxy() -> Iterator[TcpProxy]:
    """A proxy to the fault tests' Redis, up; `.down()`, `.blackhole()`, `.up()` change that."""
    address = urlsplit(FAULTS_REDIS_URL)
    proxy = TcpProxy((address.hostname or "127.0.0.1", address.port or 6379))
    proxy.up()
    proxy.url = f"redis://127.0.0.1:{proxy.port}{address.path or '/0'}"
    yield proxy
    proxy.close()


@pytest.fixture
def start_worker(process_env: dict[str, str], faults_dir: Path) -> Iterator[Callable[..., Worker]]:
    """`start_worker()` starts a Celery worker (not waiting for it: `.wait_ready()`); every worker
    started is stopped at the end of the test, before the database is emptied."""
    started: list[Worker] = []

    def start() -> Worker:
        worker = Worker(process_env, faults_dir / "logs", FAULTS_REDIS_URL)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        if worker.alive:
            worker.kill()  # the test is over: no need to wait for a warm shutdown
        # Shown with a failing test's report (pytest prints a passing test's output nowhere).
        print(f"--- log of {worker.hostname} (last lines) ---\n{worker.tail()}")
    wait_for_sessions_to_end("faults-worker-%")


@pytest.fixture(scope="module")
def web_server(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[WebServer]:
    """gunicorn on the test database (for the tests of a module), with its database connections
    kept between requests (the production default) and the fault tests' Redis as broker (no worker
    takes its messages: each test empties that database)."""
    files = tmp_path_factory.mktemp("web")
    with django_db_blocker.unblock():
        env = subprocess_env(FAULTS_REDIS_URL, media=files, mail=files)
    env.update(
        DB_CONN_MAX_AGE="60",
        ALLOWED_HOSTS="127.0.0.1",
        SECURE_SSL_REDIRECT="0",
        SESSION_COOKIE_SECURE="0",
        CSRF_COOKIE_SECURE="0",
        SECURE_HSTS_SECONDS="0",
        MFA_REQUIRED="0",
    )
    server = WebServer(env, files).wait_ready()
    yield server
    server.stop()
    print(f"--- log of gunicorn (last lines) ---\n{server.tail()}")
    with django_db_blocker.unblock():
        wait_for_sessions_to_end("faults-web")


# --- Data -----------------------------------------------------------------------------------------


@pytest.fixture
def sp_one(po_one):
    """An active footwear sub-project of po1's PO."""
    from tests.enterprises.factories import sub_project_for

    return sub_project_for(po_one, agreement_number="PKSF/SMART/SP/T001")
