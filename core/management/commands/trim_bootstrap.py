"""Write static/vendor/bootstrap/bootstrap.portal.min.css: Bootstrap's stylesheet trimmed to the
classes the portal uses (smart_portal.bootstrap_trim). Run it after using a Bootstrap class that no
template used before; tests/core/test_static_assets.py fails until then."""

from django.core.management.base import BaseCommand, CommandError, CommandParser

from smart_portal import bootstrap_trim


class Command(BaseCommand):
    help = (
        "Trim Bootstrap's stylesheet to the classes the portal's templates, Python and scripts use, "
        "into static/vendor/bootstrap/bootstrap.portal.min.css (--check: only say whether it is stale)."
    )
    # Reads files only: it runs even while a half-made change elsewhere fails the system checks.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--check", action="store_true", help="write nothing; fail if the committed file lacks a rule"
        )

    def handle(self, *args, check: bool, **options) -> None:
        path = bootstrap_trim.TRIMMED_CSS
        if check:
            stale = bootstrap_trim.stale_selectors()
            if stale:
                shown = "\n  ".join(stale[:20])
                raise CommandError(
                    f"{path.name} lacks {len(stale)} selector(s) the portal now uses, e.g.:\n  {shown}\n"
                    "Run `python manage.py trim_bootstrap`."
                )
            self.stdout.write(f"{path.name} is up to date.")
            return
        css = bootstrap_trim.trimmed_stylesheet()
        path.write_text(css, encoding="utf-8")
        full = bootstrap_trim.FULL_CSS.stat().st_size
        self.stdout.write(
            f"wrote {path}: {len(css.encode()):,} bytes "
            f"({len(css.encode()) * 100 // full}% of the full {full:,})"
        )
