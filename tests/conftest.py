from __future__ import annotations

import os
import time

import pytest

from core.roles import Role
from smart_portal.celery import app as celery_app
from tests.factories import PASSWORD, PartnerOrganizationFactory, district, make_user

# Playwright's sync API runs an event loop in the test thread; Django's ORM refuses to run there
# unless told it is safe, which it is for the test process only.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


@pytest.fixture(autouse=True)
def _tasks_in_process(request):
    """Tasks run in-process unless a test is about the real worker (CI runs those with a broker)."""
    if request.node.get_closest_marker("real_services"):
        if celery_app.conf.task_always_eager:
            pytest.skip("needs CELERY_BROKER_URL and a running worker (see .ci/run)")
        # Set up the database first (pytest-django's helper, which honours the test's django_db
        # marker), so that it is flushed only after the wait below.
        request.getfixturevalue("_django_db_helper")
        yield
        # Tasks queued by the test (e.g. the duplicate re-check after an import) may still be
        # running; flushing the tables under them would deadlock.
        wait_until_worker_is_idle()
        return
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


def wait_until_worker_is_idle(timeout: float = 60) -> None:
    """Wait until the broker's queue is empty and the worker reports nothing active or reserved,
    twice in a row (the solo worker answers only between tasks)."""
    deadline = time.monotonic() + timeout
    idle_in_a_row = 0
    while idle_in_a_row < 2:
        if time.monotonic() > deadline:
            raise AssertionError("the Celery worker is still busy after the test")
        with celery_app.connection_for_read() as connection:
            try:
                queued = connection.default_channel.queue_declare(
                    queue=celery_app.conf.task_default_queue, passive=True
                ).message_count
            except connection.channel_errors:  # Redis keeps no empty queue
                queued = 0
        inspect = celery_app.control.inspect(timeout=1, limit=1)
        active, reserved = inspect.active(), inspect.reserved()
        busy = queued or not active or any(active.values()) or not reserved or any(reserved.values())
        idle_in_a_row = 0 if busy else idle_in_a_row + 1
        time.sleep(0.2)


@pytest.fixture
def password() -> str:
    return PASSWORD


# --- Personas, named like the demo logins; po2 is the outsider of every refusal test ------------


@pytest.fixture
def po_one(db):
    return PartnerOrganizationFactory(
        code="PO-T01", name="Padma Test Sangstha", districts=[district("Kishoreganj")]
    )


@pytest.fixture
def po_two(db):
    return PartnerOrganizationFactory(
        code="PO-T02", name="Meghna Test Foundation", districts=[district("Satkhira")]
    )


@pytest.fixture
def pmu(db):
    return make_user("pmu", Role.PMU_OFFICER, is_staff=True)


@pytest.fixture
def approver(db):
    return make_user("approver", Role.PKSF_APPROVER)


@pytest.fixture
def wb(db):
    return make_user("wb", Role.WORLD_BANK)


@pytest.fixture
def tec1(db):
    return make_user("tec1", Role.TEC_MEMBER)


@pytest.fixture
def tec2(db):
    return make_user("tec2", Role.TEC_MEMBER)


@pytest.fixture
def tec3(db):
    return make_user("tec3", Role.TEC_MEMBER)


@pytest.fixture
def verifier(db):
    """Independent verification (third-party monitoring): belongs to no PO."""
    return make_user("verifier", Role.VERIFIER)


@pytest.fixture
def po1(po_one):
    return make_user("po1", Role.PO_STAFF, po=po_one)


@pytest.fixture
def po2(po_two):
    return make_user("po2", Role.PO_STAFF, po=po_two)


@pytest.fixture
def api(db):
    """A DRF test client; `api.as_user(user)` signs it in with a real token."""
    from rest_framework.test import APIClient

    class PortalAPIClient(APIClient):
        def as_user(self, user):
            from knox.models import AuthToken

            _instance, token = AuthToken.objects.create(user)
            self.credentials(HTTP_AUTHORIZATION=f"Token {token}")
            return self

    return PortalAPIClient()


# --- Browser tests ---------------------------------------------------------------------------------

# The database as the migrations left it (reference data, roles), captured before any browser test.
SERIALIZED_DATABASE: dict[str, str] = {}


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup):
    from django.db import connections

    for alias in connections:
        contents = getattr(connections[alias], "_test_serialized_contents", None)
        if contents:
            SERIALIZED_DATABASE[alias] = contents


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    # Debian's chromium, never a downloaded browser; no background calls to a network we don't have.
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }
