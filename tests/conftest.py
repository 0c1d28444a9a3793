from __future__ import annotations

import fcntl
import hashlib
import os
import sqlite3
import time
from contextlib import closing
from importlib import metadata
from pathlib import Path
from unittest import mock

import pytest
from pytest_django.plugin import blocking_manager_key

from core.roles import Role
from smart_portal.celery import app as celery_app
from tests.factories import PASSWORD, PartnerOrganizationFactory, district, make_user

# Playwright's sync API runs an event loop in the test thread; Django's ORM refuses to run there
# unless told it is safe, which it is for the test process only.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


# --- Slow tests -------------------------------------------------------------------------------------
# `make test` runs everything; `make test-fast` leaves out the browser journeys and the tests marked
# `slow` (seconds each: demo data, large files, crawls). Mark a slow test where it is written
# (`@pytest.mark.slow`); the tests below are marked here until their files say so themselves.
SLOW_ELSEWHERE = [
    # (file, start of the test's name)
    ("tests/enterprises/test_imports.py", "test_a_10000_row_file"),
    ("tests/enterprises/test_demo_and_scale.py", "test_demo_gives_each_active_sub_project"),
    ("tests/enterprises/test_demo_and_scale.py", "test_demo_adoptions_are_verified"),
    ("tests/enterprises/test_demo_and_scale.py", "test_generate_scale_builds"),
]


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    for item in items:
        path = item.nodeid.split("::", 1)[0]
        if any(path == file and item.name.startswith(name) for file, name in SLOW_ELSEWHERE):
            item.add_marker(pytest.mark.slow)
    # On PostgreSQL, the tests that use the demo programme after the others, in their order (see
    # DemoBlock); pytest-django then puts the transactional tests after both, keeping this order.
    from django.db import connection

    if connection.vendor == "postgresql":
        items[:] = [item for item in items if not _uses_demo(item)] + [
            item for item in items if _uses_demo(item)
        ]


@pytest.fixture(autouse=True)
def _default_language():
    """Each test starts in the default language: a request activates its user's language in the
    thread, and Django leaves it active after the response (a server's next request activates its
    own), so a Bangla request would otherwise decide the language of the next test's messages."""
    from django.utils import translation

    yield
    translation.deactivate()


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


# --- The test database: migrated from scratch, or a copy of the last migrated one (--reuse-db) -----
#
# Migrating takes most of the time of creating the test database (Django re-renders the migration
# state at each operation). With `--reuse-db` (`make test`, `make test-fast`), the first run migrates
# the SQLite test database from scratch as always and keeps a copy of it, as the migrations left it,
# in var/test-databases/, named by a hash of everything the migrations read (their files, the roles,
# the reference data, the installed packages' versions). Later runs copy that file into their
# in-memory database instead of migrating again; a changed migration changes the hash, so the next run
# migrates from scratch again. `--create-db` always migrates from scratch.
# The copy is never a database tests have used (transactional tests leave theirs flushed), which is
# why pytest-django's own keep-the-database mode is off. On PostgreSQL the copy is a database,
# <name>_migrated_<hash>, and each test database is created from it as a template; CI drops it first,
# so that each CI run migrates PostgreSQL from scratch once and its later steps copy that result.

ROOT = Path(__file__).resolve().parents[1]
MIGRATED_DATABASES = ROOT / "var" / "test-databases"
MIGRATED_KEPT = 3  # copies of other migration states kept (e.g. for switching branches)


def migrations_key() -> str:
    """A hash of what the migrated database depends on."""
    digest = hashlib.sha256()
    sources = [*ROOT.glob("*/migrations/*.py"), ROOT / "core" / "roles.py", *ROOT.glob("core/data/**/*")]
    for path in sorted(p for p in sources if p.is_file()):
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    for dist in sorted(f"{d.metadata['Name']}=={d.version}" for d in metadata.distributions()):
        digest.update(dist.encode())
    return digest.hexdigest()[:20]


@pytest.fixture(scope="session")
def django_db_keepdb() -> bool:
    # Never keep a used database; --reuse-db reuses the migrated copy instead (see above).
    return False


def _migrated_copy(request, connection):
    """Wrap `connection.creation.create_test_db` so that its `migrate` restores the migrated copy when
    there is one, and otherwise migrates and keeps a copy (`_copy_or_migrate`)."""
    from django.core import management

    template = MIGRATED_DATABASES / f"{migrations_key()}.sqlite3"
    real_create, real_call_command = connection.creation.create_test_db, management.call_command

    def restore(name, *args, **options):
        if name != "migrate" or options.get("database", "default") != connection.alias:
            return real_call_command(name, *args, **options)
        connection.ensure_connection()
        with closing(sqlite3.connect(f"file:{template}?mode=ro", uri=True)) as source:
            source.backup(connection.connection)
        return None

    def migrate_and_keep(name, *args, **options):
        result = real_call_command(name, *args, **options)
        if name != "migrate" or options.get("database", "default") != connection.alias:
            return result
        partial = template.with_name(f"{template.name}.{os.getpid()}.part")
        with closing(sqlite3.connect(partial)) as copy:
            connection.connection.backup(copy)
        os.replace(partial, template)  # readers see the whole copy or none
        copies = sorted(MIGRATED_DATABASES.glob("*.sqlite3"), key=lambda path: path.stat().st_mtime)
        for old in copies[: -(MIGRATED_KEPT + 1)]:
            old.unlink(missing_ok=True)
        return result

    def create_test_db(*args, **kwargs):
        def with_command(command):
            with mock.patch.object(management, "call_command", command):
                return real_create(*args, **kwargs)

        return _copy_or_migrate(
            request,
            MIGRATED_DATABASES / "lock",
            template.exists,
            from_copy=lambda: with_command(restore),
            migrate_and_keep=lambda: with_command(migrate_and_keep),
            migrate_alone=lambda: real_create(*args, **kwargs),
        )

    return create_test_db


def _copy_or_migrate(request, lock_path: Path, copy_exists, *, from_copy, migrate_and_keep, migrate_alone):
    """Create the test database from the migrated copy, or migrate it and keep the copy. One process
    makes the copy while the others wait for it (copying takes a second; migrating beside it would
    only take a core from whatever else runs). With --create-db (and --reuse-db) every process
    migrates; one keeps its result."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as lock:
        if request.config.getvalue("create_db"):
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # another process is keeping its copy
                return migrate_alone()
        else:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the process making the copy is done
            if copy_exists():
                return from_copy()
        return migrate_and_keep()


def _migrated_template(request, connection):
    """PostgreSQL's `_migrated_copy`: the test database is created as a copy of a database kept as the
    migrations left it (CREATE DATABASE ... TEMPLATE, a second), or migrated, and then copied to that
    template for the next test process or run. Templates of other migration states are dropped."""
    from django.core import management

    base = connection.settings_dict["NAME"]
    template = f"{base}_migrated_{migrations_key()}"[:63]
    real_create, real_call_command = connection.creation.create_test_db, management.call_command
    quote = connection.ops.quote_name

    def is_migrate(name, options) -> bool:
        return name == "migrate" and options.get("database", "default") == connection.alias

    def template_exists() -> bool:
        with connection._nodb_cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [template])
            return cursor.fetchone() is not None

    def copied(name, *args, **options):
        return None if is_migrate(name, options) else real_call_command(name, *args, **options)

    def migrate_and_keep(name, *args, **options):
        result = real_call_command(name, *args, **options)
        if not is_migrate(name, options):
            return result
        migrated = connection.settings_dict["NAME"]
        connection.close()  # a database is copied only while nobody is connected to it
        partial = f"{template[:58]}_part"
        with connection._nodb_cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {quote(partial)}")
            cursor.execute(f"CREATE DATABASE {quote(partial)} TEMPLATE {quote(migrated)}")
            cursor.execute(f"DROP DATABASE IF EXISTS {quote(template)}")
            cursor.execute(f"ALTER DATABASE {quote(partial)} RENAME TO {quote(template)}")
            cursor.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE %s AND datname <> %s",
                [f"{base}\\_migrated\\_%", template],
            )
            for (old,) in cursor.fetchall():
                cursor.execute(f"DROP DATABASE IF EXISTS {quote(old)}")
        return result

    def create_test_db(*args, **kwargs):
        def from_copy():
            connection.settings_dict["TEST"]["TEMPLATE"] = template
            try:
                with mock.patch.object(management, "call_command", copied):
                    return real_create(*args, **kwargs)
            finally:
                del connection.settings_dict["TEST"]["TEMPLATE"]

        def keep():
            with mock.patch.object(management, "call_command", migrate_and_keep):
                return real_create(*args, **kwargs)

        return _copy_or_migrate(
            request,
            MIGRATED_DATABASES / f"{template}.lock",
            template_exists,
            from_copy=from_copy,
            migrate_and_keep=keep,
            migrate_alone=lambda: real_create(*args, **kwargs),
        )

    return create_test_db


@pytest.fixture(scope="session")
def django_db_modify_db_settings(request, django_db_modify_db_settings_parallel_suffix):
    """With --reuse-db, the test database starts as a copy of the migrated one: an in-memory SQLite
    database from a file, a PostgreSQL one from a template database."""
    from django.db import connections

    if not request.config.getvalue("reuse_db"):
        return
    for connection in connections.all(initialized_only=False):
        if connection.settings_dict["TEST"].get("MIRROR"):
            continue  # the replica alias mirrors the default database's test database
        if connection.vendor == "sqlite" and connection.creation.is_in_memory_db(
            connection.creation._get_test_db_name()
        ):
            connection.creation.create_test_db = _migrated_copy(request, connection)
        elif connection.vendor == "postgresql":
            connection.creation.create_test_db = _migrated_template(request, connection)


# --- Browser tests ---------------------------------------------------------------------------------

# The database as the migrations left it (reference data, roles), captured before any browser test.
SERIALIZED_DATABASE: dict[str, str] = {}


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    from django.db import connections

    for alias in connections:
        contents = getattr(connections[alias], "_test_serialized_contents", None)
        if contents:
            SERIALIZED_DATABASE[alias] = contents
    with django_db_blocker.unblock():
        MIGRATED.update(in_memory=_in_memory_sqlite(), copy=_copy_of_database())


# --- The demo programme (`seed_demo`), loaded once per test process --------------------------------
#
# Loading the demo data takes seconds. On the in-memory SQLite test database it is loaded once per
# test process, into the database as the migrations left it, and kept as an in-memory copy; the tests
# that use it get that copy restored, and what was there before afterwards. On PostgreSQL it is
# loaded in a transaction for each class (or module) that uses it, and rolled back after it.

MIGRATED: dict = {}  # the database as the migrations left it (in-memory SQLite only)
DEMO: dict = {}  # the demo programme (in-memory SQLite only) and seed_demo's output


def _in_memory_sqlite() -> bool:
    from django.db import connection

    return connection.vendor == "sqlite" and connection.is_in_memory_db()


def _copy_of_database() -> sqlite3.Connection | None:
    """An in-memory copy of the in-memory SQLite test database, or None on another database."""
    from django.db import connection

    if not _in_memory_sqlite():
        return None
    connection.ensure_connection()
    copy = sqlite3.connect(":memory:", check_same_thread=False)
    connection.connection.backup(copy)
    return copy


def _restore(copy: sqlite3.Connection) -> None:
    from django.db import connection

    assert not connection.in_atomic_block, "a database is restored outside any transaction"
    connection.ensure_connection()
    copy.backup(connection.connection)


def _seed_demo() -> str:
    """Run `seed_demo` (with tasks in-process), as inside a test's transaction: the notifications of
    the demo's transitions are not sent. Returns its output."""
    import io

    from django.core.management import call_command
    from django.db import connection, transaction

    from core.models import OutboxMessage

    out = io.StringIO()
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    try:
        with transaction.atomic():
            call_command("seed_demo", "--force", stdout=out)
            # Nothing queued by the demo is sent: neither the callbacks nor their outbox messages.
            connection.run_on_commit = []
            OutboxMessage.objects.all().delete()
    finally:
        celery_app.conf.task_always_eager = eager
    return out.getvalue()


@pytest.fixture(scope="session")
def demo_programme(django_db_setup, django_db_blocker) -> dict:
    """On SQLite: the demo programme, seeded once per test process into the migrated database."""
    if MIGRATED["in_memory"] and "copy" not in DEMO:
        with django_db_blocker.unblock():
            before = _copy_of_database()
            _restore(MIGRATED["copy"])
            DEMO["output"] = _seed_demo()
            DEMO["copy"] = _copy_of_database()
            _restore(before)
    return DEMO


@pytest.fixture(scope="class")
def demo_data(request):
    """The demo programme in the database, for `db` tests (`demo_data_committed` is for transactional
    ones); its value is what `seed_demo` printed. In a test class, for the tests of the class, and gone
    after them; outside any class, for the rest of the module from the first test that asks for it
    (so use it in modules whose tests all want it, or in a class). On PostgreSQL it stays from one
    test that uses it to the next, and is gone before any other (DemoBlock)."""
    in_class = request.cls is not None
    return request.getfixturevalue("_demo_data_for_class" if in_class else "_demo_data_for_module")


def _demo_data_loaded(request, demo_programme, django_db_blocker):
    with django_db_blocker.unblock():
        if MIGRATED["in_memory"]:
            before = _copy_of_database()
            _restore(demo_programme["copy"])
            yield demo_programme["output"]
            _restore(before)
            return
        yield request.getfixturevalue("_demo_block").open()


class DemoBlock:
    """On PostgreSQL: the demo programme seeded in a transaction left open while the tests that use
    it run (each in its own savepoint, as pytest-django nests them), and rolled back before any other
    test. The tests that use the demo are run last in each process (pytest_collection_modifyitems
    below), so that it is seeded about once per process rather than once per class or module."""

    def __init__(self) -> None:
        self.atomic = None
        self.output = ""

    def open(self) -> str:
        from django.db import connection, transaction

        if self.atomic is None:
            self.atomic = transaction.atomic()
            self.atomic.__enter__()
            self.output = _seed_demo()
            # The foreign keys' deferred checks of the seeding, once: each test's teardown checks the
            # pending ones (Django's TestCase), and in its savepoint, rolled back, they stay pending.
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        return self.output

    def close(self) -> None:
        from django.db import transaction

        if self.atomic is not None:
            atomic, self.atomic = self.atomic, None
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


DEMO_BLOCK = DemoBlock()
DEMO_FIXTURES = {"demo_data", "_demo_data_for_class", "_demo_data_for_module"}


def _uses_demo(item) -> bool:
    marker = item.get_closest_marker("django_db")
    transactional = marker is not None and (
        marker.kwargs.get("transaction") or "transactional_db" in getattr(item, "fixturenames", ())
    )
    return bool(DEMO_FIXTURES & set(getattr(item, "fixturenames", ()))) and not transactional


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """A test that does not use the demo programme never sees it: the demo's transaction is rolled
    back before the test's own fixtures begin (PostgreSQL; see DemoBlock)."""
    if DEMO_BLOCK.atomic is not None and not _uses_demo(item):
        with item.config.stash[blocking_manager_key].unblock():
            DEMO_BLOCK.close()


@pytest.fixture(scope="session")
def _demo_block(django_db_setup, django_db_blocker):
    """DEMO_BLOCK, rolled back at the end of the session before the test database goes."""
    yield DEMO_BLOCK
    with django_db_blocker.unblock():
        DEMO_BLOCK.close()


@pytest.fixture(scope="class")
def _demo_data_for_class(request, demo_programme, django_db_blocker):
    yield from _demo_data_loaded(request, demo_programme, django_db_blocker)


@pytest.fixture(scope="module")
def _demo_data_for_module(request, demo_programme, django_db_blocker):
    yield from _demo_data_loaded(request, demo_programme, django_db_blocker)


@pytest.fixture
def demo_data_committed(transactional_db, demo_programme):
    """The demo programme in the database of a transactional test (a browser journey): the test's
    end empties the database as always."""
    if MIGRATED["in_memory"]:
        _restore(demo_programme["copy"])
        return demo_programme["output"]
    return _seed_demo()


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
