"""Restore a backup (core.backup) into a database and a media folder, then verify both."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from core import backup


class Command(BaseCommand):
    help = (
        "Restore a backup into a database (--database-url, default DATABASE_URL) and a media folder "
        "(--media-root, default MEDIA_ROOT), then compare row counts and file checksums with the "
        "backup's manifest; exits non-zero on any difference (files deleted while the backup ran are "
        "a warning). Refuses a database that holds tables "
        "or a folder that holds files unless --force."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "backup", nargs="?", default="latest", help="a backup folder or name (default: the latest)"
        )
        parser.add_argument(
            "--backup-root", type=Path, help="where backups are looked for (default: BACKUP_ROOT)"
        )
        parser.add_argument(
            "--database-url", help="the database to restore into, e.g. postgres://user@host/smart_restore"
        )
        parser.add_argument("--media-root", type=Path, help="the folder to restore the uploaded files into")
        parser.add_argument(
            "--force", action="store_true", help="replace a database or folder that is not empty"
        )
        parser.add_argument(
            "--verify-only",
            action="store_true",
            help="restore nothing: compare the database and folder with the backup",
        )

    def handle(self, *args, **options) -> None:
        try:
            path = backup.resolve_backup(options["backup"], options["backup_root"])
            config = backup.database_config(options["database_url"])
            media_root = Path(options["media_root"] or settings.MEDIA_ROOT)
            self.stdout.write(f"backup: {path}\ndatabase: {config.get('NAME')}\nmedia: {media_root}")
            if options["verify_only"]:
                result = backup.verify(path, config, media_root)
            else:
                result = backup.restore(path, config, media_root, force=options["force"])
        except backup.BackupError as exc:
            raise CommandError(str(exc)) from exc
        for line in result.lines():
            self.stdout.write(line)
        if not result.ok:
            raise CommandError("the restored database or files differ from the backup (see above)")
        if result.warning:
            # Not a failure (a deletion racing the backup is normal), but not silent either.
            self.stderr.write(f"WARNING: {result.warning}")
