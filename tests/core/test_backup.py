"""Backups (core.backup, `manage.py backup` / `restore`): a backup taken while the portal writes restores
to the database and files of one moment, checked by row counts and checksums; a restore refuses to
overwrite a database in use, and a missing or altered file fails the check."""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.contrib.sessions.models import Session
from django.core.files.base import ContentFile
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.utils import timezone

from core import backup
from enterprises.models import ImportJob
from tests.factories import PartnerOrganizationFactory

pytestmark = pytest.mark.slow


@pytest.fixture
def media(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def upload(po, content: bytes, name: str = "members.csv") -> ImportJob:
    """A row naming an uploaded file, written as an upload writes it (file first, then the row)."""
    return ImportJob.objects.create(
        kind="enterprises",
        partner_organization=po,
        file=ContentFile(content, name=name),
        original_name=name,
        file_format="csv",
    )


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def some_data(media: Path) -> list[ImportJob]:
    po = PartnerOrganizationFactory()
    jobs = [upload(po, f"name,phone\nMe {n},017\n".encode() * (n + 1)) for n in range(3)]
    (media / "stray").mkdir(parents=True)
    (media / "stray" / "notes.txt").write_bytes(b"a file no row names\n")
    return jobs


def restore_command(backup_dir: Path, url: str, media_root: Path, *options: str) -> str:
    out = StringIO()
    call_command(
        "restore",
        str(backup_dir),
        "--database-url",
        url,
        "--media-root",
        str(media_root),
        *options,
        stdout=out,
    )
    return out.getvalue()


# --- PostgreSQL: a backup under load --------------------------------------------------------------


@pytest.fixture
def postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only (DATABASE_URL=postgres://...)")


@pytest.fixture
def scratch_database(postgresql):
    """A database beside the test database to restore into, dropped afterwards."""
    from psycopg2 import sql

    config = backup.database_config(alias="default")
    config["NAME"] = f"{config['NAME']}_restore"[:63]

    def drop():
        with backup._pg_connect(config, dbname="postgres") as admin:
            admin.autocommit = True
            with admin.cursor() as cursor:
                cursor.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(config["NAME"]))
                )

    drop()
    yield config
    drop()


def pg_url(config: dict) -> str:
    host = config.get("HOST") or "127.0.0.1"
    auth = config.get("USER") or "postgres"
    if config.get("PASSWORD"):
        auth += f":{config['PASSWORD']}"
    return f"postgres://{auth}@{host}:{config.get('PORT') or 5432}/{config['NAME']}"


class Load(threading.Thread):
    """Writes one change after another, each touching three tables and a new file in one transaction,
    until stopped; `done` counts the committed ones."""

    def __init__(self, po):
        super().__init__(daemon=True)
        self.po = po
        self.done = 0
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                with transaction.atomic():
                    Group.objects.create(name=f"load-{self.done}")
                    Session.objects.create(
                        session_key=f"load{self.done:08d}{uuid.uuid4().hex[:20]}",
                        session_data="",
                        expire_date=timezone.now() + timedelta(days=1),
                    )
                    upload(self.po, f"load {self.done}\n".encode(), name=f"load-{self.done}.csv")
                self.done += 1
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc
        finally:
            connection.close()

    def wait_for(self, count: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while self.done < count and self.error is None:
            assert time.monotonic() < deadline, "the load thread makes no progress"
            time.sleep(0.01)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_backup_taken_under_load_restores_to_the_rows_and_files_of_one_moment(
    media, tmp_path, scratch_database
):
    jobs = some_data(media)
    load = Load(jobs[0].partner_organization)
    load.start()
    try:
        load.wait_for(5)
        committed_before = load.done
        backup_dir = backup.create_backup(tmp_path / "backups")
        committed_after = load.done
        load.wait_for(committed_after + 3)  # the source moves on after the backup
    finally:
        load.stop.set()
        load.join(30)
    assert load.error is None
    assert committed_after > committed_before, "no change was committed while the backup ran"

    manifest = backup.load_manifest(backup_dir)
    loaded = manifest["tables"]["auth_group"] - Group.objects.exclude(name__startswith="load-").count()
    # The dump is of one moment during the backup: the changes committed by then, all three tables alike.
    assert committed_before <= loaded <= committed_after
    assert manifest["tables"]["django_session"] == loaded
    assert manifest["tables"]["enterprises_importjob"] == len(jobs) + loaded
    assert ImportJob.objects.count() > manifest["tables"]["enterprises_importjob"]  # the source went on

    restored_media = tmp_path / "restored-media"
    output = restore_command(backup_dir, pg_url(scratch_database), restored_media)

    assert "verification: OK" in output
    assert backup.count_rows(scratch_database) == manifest["tables"]
    with backup._pg_connect(scratch_database) as restored, restored.cursor() as cursor:
        cursor.execute("SELECT name FROM auth_group WHERE name LIKE 'load-%%'")
        names = {row[0] for row in cursor.fetchall()}
    assert names == {f"load-{n}" for n in range(loaded)}  # exactly the first ones, none missing
    # Every file of the moment, byte for byte the source's; every row's file is there.
    for entry in manifest["media"]["files"]:
        assert sha256(restored_media / entry["path"]) == sha256(media / entry["path"]) == entry["sha256"]
    for job in jobs:
        assert sha256(restored_media / job.file.name) == sha256(media / job.file.name)
    assert (restored_media / "stray" / "notes.txt").read_bytes() == b"a file no row names\n"
    assert manifest["missing_files"] == []


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_restore_refuses_a_database_that_holds_tables(media, tmp_path, scratch_database):
    some_data(media)
    backup_dir = backup.create_backup(tmp_path / "backups")
    url = pg_url(scratch_database)
    restore_command(backup_dir, url, tmp_path / "first")

    with pytest.raises(CommandError, match="is not empty"):
        restore_command(backup_dir, url, tmp_path / "second")

    assert "verification: OK" in restore_command(backup_dir, url, tmp_path / "third", "--force")


# --- SQLite ---------------------------------------------------------------------------------------


@pytest.fixture
def sqlite():
    if connection.vendor != "sqlite":
        pytest.skip("SQLite only")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_sqlite_backup_restores_and_verifies(sqlite, media, tmp_path):
    jobs = some_data(media)
    out = StringIO()
    call_command("backup", "--output", str(tmp_path / "backups"), stdout=out)
    assert "backup written" in out.getvalue()
    [backup_dir] = backup.list_backups(tmp_path / "backups")
    manifest = backup.load_manifest(backup_dir)
    assert manifest["database"]["vendor"] == "sqlite"
    assert manifest["tables"]["enterprises_importjob"] == 3
    assert {entry["path"] for entry in manifest["media"]["files"]} == {
        *(job.file.name for job in jobs),
        "stray/notes.txt",
    }

    target = tmp_path / "restored.sqlite3"
    output = restore_command(backup_dir, f"sqlite:///{target}", tmp_path / "restored-media")

    assert "verification: OK" in output
    assert (
        backup.count_rows({"ENGINE": "django.db.backends.sqlite3", "NAME": str(target)}) == manifest["tables"]
    )
    for job in jobs:
        assert sha256(tmp_path / "restored-media" / job.file.name) == sha256(media / job.file.name)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_restore_refuses_a_sqlite_database_in_use_and_a_folder_with_files(sqlite, media, tmp_path):
    some_data(media)
    backup_dir = backup.create_backup(tmp_path / "backups")
    target = f"sqlite:///{tmp_path / 'restored.sqlite3'}"
    restore_command(backup_dir, target, tmp_path / "restored-media")

    with pytest.raises(CommandError, match="is not empty"):
        restore_command(backup_dir, target, tmp_path / "other-media")
    with pytest.raises(CommandError, match="already holds files"):
        restore_command(backup_dir, f"sqlite:///{tmp_path / 'new.sqlite3'}", tmp_path / "restored-media")


# --- Verification fails on what differs (either database) ----------------------------------------


def new_database(tmp_path, request) -> tuple[dict, str]:
    """A new database to restore into (SQLite file, or a scratch PostgreSQL database): (settings, URL)."""
    if connection.vendor == "postgresql":
        config = request.getfixturevalue("scratch_database")
        return config, pg_url(config)
    url = f"sqlite:///{tmp_path / 'restored.sqlite3'}"
    return backup.database_config(url), url


@pytest.fixture
def restored(media, tmp_path, request):
    """A backup of some data restored into a new database (SQLite file, or a scratch PostgreSQL
    database) and folder: (backup, database settings, media folder, the jobs)."""
    jobs = some_data(media)
    backup_dir = backup.create_backup(tmp_path / "backups")
    config, url = new_database(tmp_path, request)
    restore_command(backup_dir, url, tmp_path / "restored-media")
    return backup_dir, config, tmp_path / "restored-media", jobs, url


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_check_fails_on_each_kind_of_difference(restored):
    backup_dir, config, media_root, jobs, url = restored
    assert backup.verify(backup_dir, config, media_root).ok

    (media_root / jobs[0].file.name).write_bytes(b"name,phone\nTampered,017\n")
    (media_root / jobs[1].file.name).unlink()
    same_size = media_root / jobs[2].file.name
    same_size.write_bytes(bytes(reversed(same_size.read_bytes())))
    manifest_path = backup_dir / backup.MANIFEST
    manifest = json.loads(manifest_path.read_text())
    manifest["tables"]["auth_group"] += 1
    manifest_path.write_text(json.dumps(manifest))

    result = backup.verify(backup_dir, config, media_root)

    assert not result.ok
    assert dict(result.bad_files) == {
        jobs[0].file.name: "size",
        jobs[1].file.name: "missing",
        jobs[2].file.name: "checksum",
    }
    assert result.missing_referenced == [jobs[1].file.name]  # a row names it
    assert [row[0] for row in result.table_mismatches] == ["auth_group"]
    with pytest.raises(CommandError, match="differ from the backup"):
        restore_command(backup_dir, url, media_root, "--verify-only")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_files_missing_when_the_backup_is_taken_are_listed_in_the_manifest(media, tmp_path):
    jobs = some_data(media)
    (media / jobs[0].file.name).unlink()

    backup_dir = backup.create_backup(tmp_path / "backups")

    assert backup.load_manifest(backup_dir)["missing_files"] == [jobs[0].file.name]
    assert backup.load_manifest(backup_dir)["deleted_during_backup"] == []


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_file_deleted_while_the_backup_runs_is_reported_by_backup_and_restore(
    media, tmp_path, request, monkeypatch
):
    jobs = some_data(media)
    (media / jobs[0].file.name).unlink()  # already missing: the backup cannot help it
    racing = jobs[1].file.name
    archive_media = backup.archive_media

    def delete_then_archive(*args, **kwargs):
        # After the snapshot (its row is in the dump), before the files are copied: as removing an
        # attachment does, file first, row later.
        (media / racing).unlink()
        return archive_media(*args, **kwargs)

    monkeypatch.setattr(backup, "archive_media", delete_then_archive)
    out, err = StringIO(), StringIO()
    call_command("backup", "--output", str(tmp_path / "backups"), stdout=out, stderr=err)

    [backup_dir] = backup.list_backups(tmp_path / "backups")
    manifest = backup.load_manifest(backup_dir)
    assert manifest["tables"]["enterprises_importjob"] == 3
    assert manifest["missing_files"] == [jobs[0].file.name]
    assert manifest["deleted_during_backup"] == [racing]
    assert racing not in {entry["path"] for entry in manifest["media"]["files"]}
    assert "1 file(s) were deleted while the backup ran" in err.getvalue()
    assert racing in err.getvalue()
    assert "files that are not there" in err.getvalue()

    # The restore succeeds (exit 0) but says so distinctly, never a bare "OK".
    config, url = new_database(tmp_path, request)
    restored_media = tmp_path / "restored-media"
    for options in ((), ("--verify-only",)):
        out, err = StringIO(), StringIO()
        call_command(
            "restore",
            str(backup_dir),
            "--database-url",
            url,
            "--media-root",
            str(restored_media),
            *options,
            stdout=out,
            stderr=err,
        )
        assert f"  deleted during backup: {racing}" in out.getvalue()
        assert f"  missing at backup: {jobs[0].file.name}" in out.getvalue()
        assert "verification: WARNING" in out.getvalue()
        assert "verification: OK" not in out.getvalue()
        assert "WARNING: 1 file(s) named by restored rows were deleted" in err.getvalue()
        assert racing in err.getvalue()
    assert not (restored_media / racing).exists()

    result = backup.verify(backup_dir, config, restored_media)
    assert result.ok
    assert result.deleted_during_backup == [racing]
    assert result.missing_at_backup == [jobs[0].file.name]
    assert result.missing_referenced == []

    # A file missing from the restored folder that the backup did have still fails the check.
    (restored_media / jobs[2].file.name).unlink()
    with pytest.raises(CommandError, match="differ from the backup"):
        restore_command(backup_dir, url, restored_media, "--verify-only")


# --- PostgreSQL client programs: connection settings ----------------------------------------------


def test_pg_dump_gets_the_tls_settings_of_the_database_options(monkeypatch):
    for name in ("PGSSLMODE", "PGSSLCERT", "PGSSLKEY", "PGSSLROOTCERT", "PGPASSWORD"):
        monkeypatch.delenv(name, raising=False)
    config = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "smart",
        "USER": "smart",
        "PASSWORD": "secret",
        "HOST": "db.example.org",
        "PORT": 5432,
        "OPTIONS": {
            "sslmode": "verify-full",
            "sslcert": "/etc/smart/client.crt",
            "sslkey": "/etc/smart/client.key",
            "sslrootcert": "/etc/smart/ca.crt",
        },
    }

    env = backup._pg_env(config)

    assert env["PGSSLMODE"] == "verify-full"
    assert env["PGSSLCERT"] == "/etc/smart/client.crt"
    assert env["PGSSLKEY"] == "/etc/smart/client.key"
    assert env["PGSSLROOTCERT"] == "/etc/smart/ca.crt"
    assert (env["PGHOST"], env["PGPORT"], env["PGUSER"], env["PGPASSWORD"]) == (
        "db.example.org",
        "5432",
        "smart",
        "secret",
    )

    # Only the options that are set: no certificate when the settings name none.
    env = backup._pg_env({**config, "OPTIONS": {"sslmode": "require"}})
    assert env["PGSSLMODE"] == "require"
    assert not {"PGSSLCERT", "PGSSLKEY", "PGSSLROOTCERT"} & set(env)
    assert not {"PGSSLMODE", "PGSSLCERT"} & set(backup._pg_env({**config, "OPTIONS": {}}))


@pytest.mark.django_db
def test_pg_dump_honours_the_tls_mode_of_the_database_options(postgresql):
    with connection.cursor() as cursor:
        cursor.execute("SHOW ssl")
        if cursor.fetchone()[0] == "on":
            pytest.skip("the test server accepts TLS")
    config = backup.database_config(alias="default")
    pg_dump, _major = backup.find_pg_tool("pg_dump", connection.pg_version // 10000)
    command = [pg_dump, "--schema-only", f"--dbname={config['NAME']}", "--file=/dev/null"]
    backup._run(command, backup._pg_env(config))  # plain: it connects

    config["OPTIONS"] = {**config.get("OPTIONS", {}), "sslmode": "require"}
    with pytest.raises(backup.BackupError, match="SSL"):
        backup._run(command, backup._pg_env(config))


def test_an_unknown_backup_is_refused(tmp_path):
    with pytest.raises(CommandError, match="no backup under"):
        call_command("restore", "--backup-root", str(tmp_path), "--media-root", str(tmp_path / "m"))
    (tmp_path / "nothing").mkdir()
    with pytest.raises(CommandError, match="is not a backup"):
        call_command("restore", str(tmp_path / "nothing"), "--media-root", str(tmp_path / "m"))


def test_keep_prunes_old_backups_and_leftovers(tmp_path):
    for name in ("20250101T000000000000Z", "20250102T000000000000Z", "20250103T000000000000Z"):
        (tmp_path / name).mkdir()
        (tmp_path / name / backup.MANIFEST).write_text("{}")
    (tmp_path / ".20250104T000000000000Z.partial").mkdir()

    deleted = backup.prune_backups(2, tmp_path)

    assert sorted(path.name for path in deleted) == [
        ".20250104T000000000000Z.partial",
        "20250101T000000000000Z",
    ]
    assert [path.name for path in backup.list_backups(tmp_path)] == [
        "20250102T000000000000Z",
        "20250103T000000000000Z",
    ]
