"""What every `import_<kind>` command shares: same rules as the browser import (check every row,
report each bad row with its column and reason, write nothing unless the whole file is valid)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from core.models import PartnerOrganization, User
from core.permissions import is_po_staff
from enterprises.imports import IMPORTERS, file_format_of, import_file, template_csv

SHOWN_ERRORS = 50


class ImportCommand(BaseCommand):
    kind = ""

    @property
    def help(self) -> str:
        label = str(IMPORTERS[self.kind].label).lower()
        return (
            f"Import {label} of one PO from a CSV or XLSX file: every row is checked, nothing is written "
            "unless the whole file is valid, and importing the same file again changes nothing."
        )

    def add_arguments(self, parser):
        parser.add_argument("file", nargs="?", help="the .csv or .xlsx file to import")
        parser.add_argument("--po", help="code of the Partner Organization the rows belong to, e.g. PO-001")
        parser.add_argument(
            "--dry-run", action="store_true", help="check the file and show what would change"
        )
        parser.add_argument(
            "--user", help="username recorded as the one who imported (a staff member of the PO)"
        )
        parser.add_argument(
            "--template", metavar="FILE", help="write the CSV template (its header row) and stop"
        )

    def handle(self, *args, **options):
        if options["template"]:
            Path(options["template"]).write_bytes(template_csv(self.kind))
            self.stdout.write(f"Template written to {options['template']}.")
            return
        if not options["file"] or not options["po"]:
            raise CommandError("Give the FILE to import and --po CODE (or --template FILE).")
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"{path} does not exist.")
        try:
            file_format = file_format_of(path.name)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        po = PartnerOrganization.objects.filter(code=options["po"]).first()
        if po is None:
            raise CommandError(f"No Partner Organization has the code {options['po']}.")
        user = None
        if options["user"]:
            user = User.objects.filter(username=options["user"]).first()
            # The same rule as the browser and the API: only the PO's own staff import its data.
            if not (user and is_po_staff(user) and user.partner_organization_id == po.pk):
                raise CommandError(f"{options['user']} is not a staff member of {po.code}.")

        def progress(phase: str, done: int, total: int | None) -> None:
            if sys.stderr.isatty():
                self.stderr.write(f"\r  {phase}: {done:,}{f' / {total:,}' if total else ''} rows", ending="")

        started = time.monotonic()
        report = import_file(
            self.kind,
            partner_organization=po,
            user=user,
            open_file=lambda: path.open("rb"),
            file_format=file_format,
            commit=not options["dry_run"],
            progress=progress,
        )
        if sys.stderr.isatty():
            self.stderr.write("")
        elapsed = time.monotonic() - started
        if not report.ok:
            for error in report.errors[:SHOWN_ERRORS]:
                column = f" [{error.column}]" if error.column else ""
                self.stderr.write(f"  row {error.row}{column}: {error.message}")
            if report.error_count > SHOWN_ERRORS:
                self.stderr.write(f"  … and {report.error_count - SHOWN_ERRORS:,} more problems.")
            raise CommandError(
                f"{path.name}: {report.error_count:,} problem(s) in {report.rows:,} rows; "
                "nothing was imported."
            )
        verb = "would be" if options["dry_run"] else "were"
        self.stdout.write(
            f"{path.name}: {report.rows:,} rows checked in {elapsed:.1f} s: "
            f"{report.created:,} {verb} created, {report.updated:,} {verb} updated, "
            f"{report.unchanged:,} unchanged."
        )
        if report.duplicates:
            self.stdout.write(
                f"  {report.duplicates:,} enterprise(s) match one already registered; "
                "the PMU will review them."
            )
        if not options["dry_run"]:
            self.stdout.write(self.style.SUCCESS("Imported."))
