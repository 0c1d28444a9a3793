"""Back up the database and the uploaded files into one directory (core.backup)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core import backup


class Command(BaseCommand):
    help = (
        "Back up the database (PostgreSQL: pg_dump in one consistent snapshot; SQLite: online backup) "
        "and MEDIA_ROOT into <BACKUP_ROOT>/<UTC time>/ with a manifest of row counts and file checksums."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--output", type=Path, help="the folder to write backups in (default: BACKUP_ROOT)"
        )
        parser.add_argument(
            "--keep", type=int, default=0, help="then delete all but this many newest backups (0: keep all)"
        )
        parser.add_argument("--database", default="default", help="the Django database alias to back up")

    def handle(self, *args, output: Path | None, keep: int, database: str, **options) -> None:
        try:
            path = backup.create_backup(output, alias=database)
        except backup.BackupError as exc:
            raise CommandError(str(exc)) from exc
        manifest = backup.load_manifest(path)
        files = manifest["media"]["files"]
        self.stdout.write(
            f"backup written: {path}\n"
            f"  database: {manifest['database']['vendor']}, {len(manifest['tables'])} tables, "
            f"{sum(manifest['tables'].values())} rows\n"
            f"  media: {len(files)} files, {sum(entry['size'] for entry in files)} bytes"
        )
        if manifest["missing_files"]:
            self.stderr.write(
                f"  {len(manifest['missing_files'])} file(s) named by rows were already missing: "
                + ", ".join(manifest["missing_files"][:20])
            )
        deleted = manifest.get("deleted_during_backup", [])
        if deleted:
            self.stderr.write(
                f"  WARNING: {len(deleted)} file(s) were deleted while the backup ran; rows in the "
                "backup still name them, so the restored rows will name files that are not there: "
                + ", ".join(deleted[:20])
                + (", ..." if len(deleted) > 20 else "")
            )
        if keep:
            for old in backup.prune_backups(keep, path.parent):
                self.stdout.write(f"  deleted old backup {old}")
