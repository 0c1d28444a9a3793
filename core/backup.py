"""Backups of the database and the uploaded files, and their restore with a check of both.

A backup is one directory, `<BACKUP_ROOT>/<UTC time>/` (BACKUP_ROOT is `var/backups/` by default),
that appears only once complete:

- `database.dump` (PostgreSQL, `pg_dump -Fc`) or `database.sqlite3` (SQLite, the online backup API);
- `media.tar`: every file under MEDIA_ROOT;
- `manifest.json`: the format version, when, the database vendor, the row count of every table,
  every media file's path, size and SHA-256, the files that rows refer to but that were missing
  already (`missing_files`), those that were deleted while the backup ran (`deleted_during_backup`),
  and the portal's revision.

The database is copied as of one moment while the portal keeps running. On PostgreSQL the rows are
counted in a REPEATABLE READ transaction that exports its snapshot, and pg_dump reads that same
snapshot (`--snapshot`), so the manifest's counts are exactly the dump's. The media files are copied
after the snapshot: a row in the dump was committed before it, with its file already written, so a
file a dumped row names is in the archive (files uploaded later are there as harmless extras) unless
it was deleted meanwhile: deleting an upload removes the file before its row, so a file can vanish
after the snapshot while the dump keeps its row. Which named files exist is therefore checked while
the snapshot is still held: those missing then were missing at backup time (`missing_files`); those
that existed then but are not in the archive were deleted during the backup
(`deleted_during_backup`), and `backup` and `restore` warn that restored rows name them.

`restore()` loads a backup into a database (refusing one that already holds tables unless told to
replace it) and the files into a folder, then `verify()` compares the restored database's row counts
and the files' checksums with the manifest and lists files that rows refer to but that are missing.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from glob import glob
from pathlib import Path
from typing import Any, BinaryIO

from django.apps import apps
from django.conf import settings
from django.db import connections
from django.db.models import FileField

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
PG_DUMP_FILE = "database.dump"
SQLITE_FILE = "database.sqlite3"
MEDIA_FILE = "media.tar"
# pg_dump waits this long for a table lock (a migration under way) before giving up.
PG_LOCK_WAIT = "120s"
CHUNK = 1024 * 1024


class BackupError(Exception):
    """A backup or a restore that cannot be done (the message says why and what to do)."""


# --- Where and what -------------------------------------------------------------------------------


def backup_root() -> Path:
    """Where `backup` writes (setting BACKUP_ROOT, by default `<VAR_DIR>/backups`)."""
    root = getattr(settings, "BACKUP_ROOT", None)
    return Path(root) if root else Path(getattr(settings, "VAR_DIR", settings.BASE_DIR / "var")) / "backups"


def list_backups(root: Path | None = None) -> list[Path]:
    """Complete backups under `root`, oldest first."""
    root = root or backup_root()
    if not root.is_dir():
        return []
    return sorted(path for path in root.iterdir() if path.is_dir() and (path / MANIFEST).is_file())


def resolve_backup(name: str | Path | None, root: Path | None = None) -> Path:
    """A backup by path, by name under `root`, or the latest one (None or "latest")."""
    if name and str(name) != "latest":
        path = Path(name)
        if not path.is_absolute() and not path.exists():
            path = (root or backup_root()) / path
        if not (path / MANIFEST).is_file():
            raise BackupError(f"{path} is not a backup (no {MANIFEST} in it)")
        return path
    backups = list_backups(root)
    if not backups:
        raise BackupError(f"no backup under {root or backup_root()}")
    return backups[-1]


def load_manifest(backup: Path) -> dict[str, Any]:
    manifest = json.loads((backup / MANIFEST).read_text())
    if manifest.get("format") != FORMAT_VERSION:
        raise BackupError(
            f"{backup}: backup format {manifest.get('format')!r}, this portal reads {FORMAT_VERSION}"
        )
    return manifest


def file_columns() -> list[tuple[str, str]]:
    """(table, column) of every file field of the portal's models: the rows that name a media file."""
    columns = set()
    for model in apps.get_models():
        if model._meta.proxy or not model._meta.managed:
            continue
        for model_field in model._meta.local_concrete_fields:
            if isinstance(model_field, FileField):
                columns.add((model._meta.db_table, model_field.column))
    return sorted(columns)


def portal_revision() -> str | None:
    """The portal's git revision, when it runs from a checkout (or PORTAL_REVISION says it)."""
    if os.environ.get("PORTAL_REVISION"):
        return os.environ["PORTAL_REVISION"]
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"],  # noqa: S607 - git from PATH, if any
            cwd=settings.BASE_DIR,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return (result.stdout.strip() or None) if result.returncode == 0 else None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


# --- Database access without Django's connection (a target database is not a Django alias) ------


def database_config(url: str | None = None, alias: str = "default") -> dict[str, Any]:
    """Settings of a database: from a URL (as DATABASE_URL), or Django's `alias`."""
    if url:
        import dj_database_url

        return dict(dj_database_url.parse(url))
    return dict(connections[alias].settings_dict)


def vendor_of(config: dict[str, Any]) -> str:
    engine = config.get("ENGINE", "")
    if "postgresql" in engine:
        return "postgresql"
    if "sqlite3" in engine:
        return "sqlite"
    raise BackupError(f"backups support PostgreSQL and SQLite, not {engine!r}")


def _pg_params(config: dict[str, Any], dbname: str | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {"dbname": dbname or config["NAME"]}
    for key, name in (("USER", "user"), ("PASSWORD", "password"), ("HOST", "host"), ("PORT", "port")):
        if config.get(key):
            params[name] = str(config[key])
    for key, value in (config.get("OPTIONS") or {}).items():
        if key in {"connect_timeout", "sslmode", "sslrootcert", "sslcert", "sslkey", "application_name"}:
            params[key] = value
    return params


def _pg_env(config: dict[str, Any]) -> dict[str, str]:
    """The environment for pg_dump/pg_restore: connection settings without a password in argv."""
    env = dict(os.environ)
    names = {"host": "PGHOST", "port": "PGPORT", "user": "PGUSER", "password": "PGPASSWORD"}
    # TLS settings too: without them pg_dump fails where psycopg2 connects with client certificates.
    names |= {
        "sslmode": "PGSSLMODE",
        "sslrootcert": "PGSSLROOTCERT",
        "sslcert": "PGSSLCERT",
        "sslkey": "PGSSLKEY",
        "connect_timeout": "PGCONNECT_TIMEOUT",
        "application_name": "PGAPPNAME",
    }
    for key, value in _pg_params(config).items():
        if key in names:
            env[names[key]] = str(value)
    return env


@contextmanager
def _pg_connect(config: dict[str, Any], dbname: str | None = None) -> Iterator[Any]:
    import psycopg2

    connection = psycopg2.connect(**_pg_params(config, dbname))
    try:
        yield connection
    finally:
        connection.close()


def _sqlite_path(config: dict[str, Any]) -> str:
    return str(config["NAME"])


def _sqlite_connect(path: str) -> sqlite3.Connection:
    # Django's in-memory test database is a shared-cache URI; a file is a plain path.
    return sqlite3.connect(path, uri=path.startswith("file:"), timeout=20)


def _pg_tables(cursor: Any) -> list[tuple[str, str]]:
    cursor.execute(
        "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
        "AND n.nspname NOT LIKE 'pg\\_%' ORDER BY 1, 2"
    )
    return list(cursor.fetchall())


def _table_key(schema: str, table: str) -> str:
    return table if schema == "public" else f"{schema}.{table}"


def _pg_counts(cursor: Any) -> dict[str, int]:
    from psycopg2 import sql

    counts = {}
    for schema, table in _pg_tables(cursor):
        cursor.execute(
            sql.SQL("SELECT count(*) FROM {}.{}").format(sql.Identifier(schema), sql.Identifier(table))
        )
        counts[_table_key(schema, table)] = cursor.fetchone()[0]
    return counts


def _sqlite_counts(connection: sqlite3.Connection) -> dict[str, int]:
    tables = [
        row[0]
        for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
            "ORDER BY name"
        )
    ]
    # Identifiers from the schema itself, quoted.
    query = "SELECT count(*) FROM {}"
    return {table: connection.execute(query.format(_quote(table))).fetchone()[0] for table in tables}


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _referenced_files(execute: Any, tables: set[str]) -> set[str]:
    """Media paths named by rows, through `execute(sql) -> rows` (tables missing are skipped)."""
    names: set[str] = set()
    for table, column in file_columns():
        if table not in tables:
            continue
        # Identifiers from the models' metadata, quoted.
        query = "SELECT DISTINCT {column} FROM {table} WHERE {column} IS NOT NULL AND {column} <> ''"
        rows = execute(query.format(column=_quote(column), table=_quote(table)))
        names.update(row[0] for row in rows)
    return names


def count_rows(config: dict[str, Any]) -> dict[str, int]:
    """Rows of every table of a database (for verify)."""
    if vendor_of(config) == "postgresql":
        with _pg_connect(config) as connection, connection.cursor() as cursor:
            return _pg_counts(cursor)
    with closing(_sqlite_connect(_sqlite_path(config))) as connection:
        return _sqlite_counts(connection)


def referenced_files(config: dict[str, Any]) -> set[str]:
    """Media paths that rows of a database name."""
    if vendor_of(config) == "postgresql":
        with _pg_connect(config) as connection, connection.cursor() as cursor:
            tables = {table for schema, table in _pg_tables(cursor) if schema == "public"}

            def execute(query: str) -> list:
                cursor.execute(query)
                return cursor.fetchall()

            return _referenced_files(execute, tables)
    with closing(_sqlite_connect(_sqlite_path(config))) as connection:
        return _referenced_files(
            lambda query: connection.execute(query).fetchall(), set(_sqlite_counts(connection))
        )


# --- PostgreSQL client programs -------------------------------------------------------------------

_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)")


def _tool_major(path: str) -> int | None:
    try:
        result = subprocess.run(  # noqa: S603 - a client program found by find_pg_tool
            [path, "--version"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    match = _VERSION.search(result.stdout)
    return int(match.group(1)) if match else None


def find_pg_tool(name: str, server_major: int) -> tuple[str, int]:
    """pg_dump or pg_restore for a server of this major version: the same major if there is one
    (a newer client may emit settings an older server refuses), else the oldest newer one; from
    PATH or Debian's /usr/lib/postgresql/<version>/bin. BackupError if there is none."""
    candidates = [shutil.which(name), *sorted(glob(f"/usr/lib/postgresql/*/bin/{name}"))]
    found: dict[int, str] = {}
    for path in filter(None, candidates):
        major = _tool_major(path)
        if major is not None and major >= server_major:
            found.setdefault(major, path)
    if not found:
        raise BackupError(
            f"{name} for PostgreSQL {server_major} or newer not found "
            f"(Debian: apt-get install postgresql-client-{server_major})"
        )
    major = server_major if server_major in found else min(found)
    return found[major], major


def _run(command: list[str], env: dict[str, str]) -> None:
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise BackupError(
            f"{Path(command[0]).name} failed ({result.returncode}): {result.stderr.strip()[-2000:]}"
        )


# --- Backup ---------------------------------------------------------------------------------------


@dataclass
class DatabaseCopy:
    file: str
    counts: dict[str, int]
    referenced: set[str]  # media paths the copied rows name
    missing: set[str]  # of those, the ones that did not exist while the snapshot was held
    details: dict[str, Any] = field(default_factory=dict)


def missing_files(names: set[str], media_root: Path) -> set[str]:
    """The media paths of `names` that are not files under `media_root` now."""
    return {name for name in names if not (media_root / name).is_file()}


def _dump_postgresql(config: dict[str, Any], target: Path, media_root: Path) -> DatabaseCopy:
    import psycopg2.extensions

    with _pg_connect(config) as connection:
        server_major = connection.server_version // 10000
        pg_dump, dump_major = find_pg_tool("pg_dump", server_major)
        connection.set_session(
            isolation_level=psycopg2.extensions.ISOLATION_LEVEL_REPEATABLE_READ, readonly=True
        )
        with connection.cursor() as cursor:
            # The first statement fixes the transaction's snapshot: counts, file names and pg_dump
            # all read the database as of this moment, whatever commits meanwhile.
            cursor.execute("SELECT pg_export_snapshot()")
            snapshot = cursor.fetchone()[0]
            counts = _pg_counts(cursor)

            def execute(query: str) -> list:
                cursor.execute(query)
                return cursor.fetchall()

            referenced = _referenced_files(execute, set(counts))
            # Before the (long) dump, in the snapshot's transaction: a file gone now was missing at
            # backup time; one that goes later was deleted during the backup (module doc).
            missing = missing_files(referenced, media_root)
            _run(
                [
                    pg_dump,
                    "--format=custom",
                    f"--snapshot={snapshot}",
                    f"--lock-wait-timeout={PG_LOCK_WAIT}",
                    f"--file={target}",
                    f"--dbname={config['NAME']}",
                ],
                _pg_env(config),
            )
        connection.rollback()
    return DatabaseCopy(
        PG_DUMP_FILE,
        counts,
        referenced,
        missing,
        {"server_major": server_major, "pg_dump_major": dump_major, "name": config["NAME"]},
    )


def _dump_sqlite(config: dict[str, Any], target: Path, media_root: Path) -> DatabaseCopy:
    source_path = _sqlite_path(config)
    if not source_path.startswith("file:") and not Path(source_path).is_file():
        raise BackupError(f"no SQLite database at {source_path}")
    with closing(_sqlite_connect(source_path)) as source, closing(sqlite3.connect(target)) as copy:
        # A read transaction on the source holds its state until the files are checked below (no
        # write commits meanwhile); the copy, in one step, is of that same moment.
        source.isolation_level = None
        source.execute("BEGIN")
        try:
            source.execute("SELECT count(*) FROM sqlite_master").fetchone()
            source.backup(copy)
            copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
            counts = _sqlite_counts(copy)
            referenced = _referenced_files(lambda query: copy.execute(query).fetchall(), set(counts))
            missing = missing_files(referenced, media_root)
        finally:
            source.execute("ROLLBACK")
    return DatabaseCopy(SQLITE_FILE, counts, referenced, missing, {"sqlite_version": sqlite3.sqlite_version})


class _HashingReader:
    """Reads a file for tarfile while computing its SHA-256 (one pass over each file)."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.handle.read(size)
        self.digest.update(data)
        return data


def _media_files(media_root: Path, skip: list[Path]) -> Iterator[Path]:
    for directory, subdirectories, names in os.walk(media_root):
        here = Path(directory)
        subdirectories[:] = sorted(d for d in subdirectories if (here / d).resolve() not in skip)
        for name in sorted(names):
            path = here / name
            if path.is_file() and not path.is_symlink():
                yield path


def archive_media(media_root: Path, target: Path, skip: list[Path] | None = None) -> list[dict[str, Any]]:
    """Write every file under `media_root` to the tar `target`: [{"path", "size", "sha256"}]."""
    files = []
    skip = [path.resolve() for path in skip or []]
    with tarfile.open(target, "w", format=tarfile.PAX_FORMAT) as tar:
        if media_root.is_dir():
            for path in _media_files(media_root, skip):
                relative = path.relative_to(media_root).as_posix()
                try:
                    handle = open(path, "rb")  # noqa: SIM115 - closed below
                except FileNotFoundError:  # deleted since the listing
                    continue
                with handle:
                    stat = os.fstat(handle.fileno())
                    info = tarfile.TarInfo(relative)
                    info.size, info.mtime, info.mode = stat.st_size, int(stat.st_mtime), 0o644
                    reader = _HashingReader(handle)
                    tar.addfile(info, reader)
                files.append({"path": relative, "size": stat.st_size, "sha256": reader.digest.hexdigest()})
    return files


def create_backup(root: Path | None = None, alias: str = "default") -> Path:
    """Back up the database `alias` and MEDIA_ROOT into a new directory under `root`; its path."""
    root = Path(root or backup_root())
    root.mkdir(parents=True, exist_ok=True)
    created = datetime.now(UTC)
    name = created.strftime("%Y%m%dT%H%M%S%fZ")
    partial = root / f".{name}.partial"
    partial.mkdir()
    try:
        config = database_config(alias=alias)
        vendor = vendor_of(config)
        dump = _dump_postgresql if vendor == "postgresql" else _dump_sqlite
        media_root = Path(settings.MEDIA_ROOT)
        database = dump(
            config, partial / (PG_DUMP_FILE if vendor == "postgresql" else SQLITE_FILE), media_root
        )
        # After the snapshot: every file a dumped row names was written before it (module doc).
        files = archive_media(media_root, partial / MEDIA_FILE, skip=[root])
        archived = {entry["path"] for entry in files}
        not_archived = database.referenced - archived
        manifest = {
            "format": FORMAT_VERSION,
            "created_at": created.isoformat(),
            "portal_revision": portal_revision(),
            "database": {"vendor": vendor, "file": database.file, **database.details},
            "tables": database.counts,
            "media": {"file": MEDIA_FILE, "root": str(media_root), "files": files},
            # Rows that already named a missing file: the backup cannot bring these back.
            "missing_files": sorted(not_archived & database.missing),
            # Files that existed at the snapshot but were deleted before they were archived: the
            # dump's rows name them, so restored rows will name files that are not there.
            "deleted_during_backup": sorted(not_archived - database.missing),
        }
        (partial / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
        final = root / name
        partial.rename(final)  # a backup directory exists only complete
        return final
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise


def prune_backups(keep: int, root: Path | None = None) -> list[Path]:
    """Delete all but the `keep` newest backups (and leftovers of interrupted ones); the deleted."""
    root = Path(root or backup_root())
    backups = list_backups(root)
    doomed = backups[: max(0, len(backups) - keep)] if keep > 0 else []
    doomed += [path for path in root.glob(".*.partial") if path.is_dir()] if root.is_dir() else []
    for path in doomed:
        shutil.rmtree(path)
    return doomed


# --- Restore and verify ---------------------------------------------------------------------------


def database_is_empty(config: dict[str, Any]) -> bool:
    """No table at all (a database just created, or a SQLite file that does not exist yet)."""
    if vendor_of(config) == "postgresql":
        with _pg_connect(config) as connection, connection.cursor() as cursor:
            return not _pg_tables(cursor)
    path = _sqlite_path(config)
    if not path.startswith("file:") and not Path(path).exists():
        return True
    with closing(_sqlite_connect(path)) as connection:
        return not _sqlite_counts(connection)


def ensure_pg_database(config: dict[str, Any]) -> bool:
    """Create the PostgreSQL database of `config` if it does not exist; whether it was created."""
    import psycopg2
    from psycopg2 import sql

    with _pg_connect(config, dbname="postgres") as connection:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [config["NAME"]])
            if cursor.fetchone():
                return False
            try:
                cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(config["NAME"])))
            except psycopg2.Error as exc:
                raise BackupError(f"cannot create database {config['NAME']}: {exc}".strip()) from exc
    return True


def _restore_postgresql(backup: Path, config: dict[str, Any]) -> None:
    ensure_pg_database(config)
    with _pg_connect(config) as connection:
        server_major = connection.server_version // 10000
    pg_restore, _major = find_pg_tool("pg_restore", server_major)
    _run(
        [
            pg_restore,
            "--no-owner",
            "--no-privileges",
            "--clean",
            "--if-exists",
            "--exit-on-error",
            "--single-transaction",
            f"--dbname={config['NAME']}",
            str(backup / PG_DUMP_FILE),
        ],
        _pg_env(config),
    )


def _restore_sqlite(backup: Path, config: dict[str, Any]) -> None:
    path = _sqlite_path(config)
    if not path.startswith("file:"):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(backup / SQLITE_FILE)) as source, closing(_sqlite_connect(path)) as target:
        source.backup(target)  # replaces the whole target database


def restore_media(backup: Path, media_root: Path) -> None:
    media_root.mkdir(parents=True, exist_ok=True)
    with tarfile.open(backup / MEDIA_FILE) as tar:
        # "data": no absolute paths, no "..", no links out, no device files, plain permissions.
        tar.extractall(media_root, filter="data")


def _media_has_files(media_root: Path) -> bool:
    return media_root.is_dir() and any(_media_files(media_root, []))


@dataclass
class Verification:
    """The restored database and files compared with a backup's manifest."""

    tables: list[tuple[str, int | None, int | None]]  # (table, in the manifest, restored)
    files_checked: int
    bad_files: list[tuple[str, str]]  # (path, "missing" | "size" | "checksum")
    missing_referenced: list[str]  # rows name them, the folder lacks them, the backup had them
    missing_at_backup: list[str]  # rows named them and they were already missing at backup time
    # Rows name them; they existed at the backup's snapshot but were deleted before being archived.
    deleted_during_backup: list[str] = field(default_factory=list)

    @property
    def table_mismatches(self) -> list[tuple[str, int | None, int | None]]:
        return [row for row in self.tables if row[1] != row[2]]

    @property
    def ok(self) -> bool:
        """Database and files are the backup's. Files deleted during the backup do not make it fail
        (a deletion racing the backup is a normal event) but are warned about (`warning`)."""
        return not self.table_mismatches and not self.bad_files and not self.missing_referenced

    @property
    def warning(self) -> str | None:
        """What a restore that matches the backup still lacks, in one sentence (None: nothing)."""
        if not self.deleted_during_backup:
            return None
        return (
            f"{len(self.deleted_during_backup)} file(s) named by restored rows were deleted while the "
            "backup ran, so these rows name files that are not there: "
            + ", ".join(self.deleted_during_backup[:20])
            + (", ..." if len(self.deleted_during_backup) > 20 else "")
        )

    def lines(self) -> list[str]:
        """A readable comparison, mismatches marked."""
        width = max([len(table) for table, _a, _b in self.tables] + [5])
        out = [f"{'table':<{width}}  {'backup':>9}  {'restored':>9}"]
        for table, expected, actual in self.tables:
            mark = "" if expected == actual else "  MISMATCH"
            shown = ["-" if value is None else str(value) for value in (expected, actual)]
            out.append(f"{table:<{width}}  {shown[0]:>9}  {shown[1]:>9}{mark}")
        mismatched = len(self.table_mismatches)
        out.append(f"tables: {len(self.tables)} compared, {mismatched} mismatched")
        out.append(f"files: {self.files_checked} compared, {len(self.bad_files)} missing or different")
        out.extend(f"  {problem}: {path}" for path, problem in self.bad_files)
        if self.missing_referenced:
            out.append(f"files named by rows but missing: {len(self.missing_referenced)}")
            out.extend(f"  missing: {path}" for path in self.missing_referenced)
        if self.missing_at_backup:
            out.append(
                "files named by rows and already missing when the backup was taken: "
                f"{len(self.missing_at_backup)}"
            )
            out.extend(f"  missing at backup: {path}" for path in self.missing_at_backup)
        if self.deleted_during_backup:
            out.append(
                "WARNING: files named by rows and deleted while the backup was taken (the rows are "
                f"restored, the files are not there): {len(self.deleted_during_backup)}"
            )
            out.extend(f"  deleted during backup: {path}" for path in self.deleted_during_backup)
        if not self.ok:
            out.append("verification: FAILED")
        elif self.deleted_during_backup:
            # Never a bare "OK" here: restored rows name files that are not there.
            out.append(
                "verification: WARNING (database and files match the backup, but "
                f"{len(self.deleted_during_backup)} file(s) named by restored rows were deleted "
                "during the backup; see above)"
            )
        else:
            out.append("verification: OK")
        return out


def verify(backup: Path, config: dict[str, Any], media_root: Path) -> Verification:
    """Compare a restored database and media folder with the backup's manifest."""
    manifest = load_manifest(backup)
    expected: dict[str, int] = manifest["tables"]
    actual = count_rows(config)
    tables = [
        (table, expected.get(table), actual.get(table)) for table in sorted(set(expected) | set(actual))
    ]
    bad_files = []
    for entry in manifest["media"]["files"]:
        path = media_root / entry["path"]
        if not path.is_file():
            bad_files.append((entry["path"], "missing"))
        elif path.stat().st_size != entry["size"]:
            bad_files.append((entry["path"], "size"))
        elif _sha256(path) != entry["sha256"]:
            bad_files.append((entry["path"], "checksum"))
    known_missing = set(manifest.get("missing_files", []))
    deleted = set(manifest.get("deleted_during_backup", []))  # absent from backups made before it
    missing = sorted(missing_files(referenced_files(config), media_root))
    return Verification(
        tables=tables,
        files_checked=len(manifest["media"]["files"]),
        bad_files=bad_files,
        missing_referenced=[name for name in missing if name not in known_missing | deleted],
        missing_at_backup=[name for name in missing if name in known_missing],
        deleted_during_backup=[name for name in missing if name in deleted],
    )


def restore(backup: Path, config: dict[str, Any], media_root: Path, *, force: bool = False) -> Verification:
    """Restore `backup` into the database of `config` and the folder `media_root`, then verify.
    Refuses a database that holds tables, or a folder that holds files, unless `force`."""
    manifest = load_manifest(backup)
    vendor = vendor_of(config)
    if manifest["database"]["vendor"] != vendor:
        raise BackupError(
            f"the backup is of a {manifest['database']['vendor']} database, the target is {vendor}"
        )
    if not force:
        if vendor == "postgresql":
            ensure_pg_database(config)
        if not database_is_empty(config):
            raise BackupError(
                f"the database {config['NAME']} is not empty: restore into a new database, "
                "or pass --force to replace its contents"
            )
        if _media_has_files(media_root):
            raise BackupError(f"{media_root} already holds files: use an empty folder, or pass --force")
    if vendor == "postgresql":
        _restore_postgresql(backup, config)
    else:
        _restore_sqlite(backup, config)
    restore_media(backup, media_root)
    return verify(backup, config, media_root)
