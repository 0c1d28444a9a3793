from datetime import date

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from monitoring import aggregation
from monitoring.models import RunStatus, RunTrigger


class Command(BaseCommand):
    help = "Compute every indicator as of a date (default: today) and store the snapshot."

    def add_arguments(self, parser):
        parser.add_argument("--as-of", type=date.fromisoformat, help="YYYY-MM-DD (default: today)")
        parser.add_argument(
            "--backfill",
            action="store_true",
            help="Also compute every month-end since the data begin (trend lines).",
        )
        parser.add_argument(
            "--full",
            action="store_true",
            help="Recount every ME's facts from scratch instead of only those changed since the last run "
            "(the same figures; needed after PROGRAMME_START changes).",
        )

    def handle(self, *args, **options):
        try:
            run = aggregation.run_now(
                as_of=options["as_of"],
                trigger=RunTrigger.COMMAND,
                backfill=options["backfill"],
                full=options["full"],
            )
        except ValidationError as exc:  # a date outside the programme's span: nothing is run
            raise CommandError(" ".join(exc.messages)) from None
        if run.status == RunStatus.SKIPPED:
            raise CommandError(f"Skipped: {run.error}. Try again when it has finished.")
        if run.status == RunStatus.FAILED:
            raise CommandError(f"Failed: {run.error}. The previous snapshot is unchanged.")
        self.stdout.write(
            self.style.SUCCESS(
                f"Indicators as of {run.as_of}: {run.rows_written} values in {run.duration_seconds:.2f} s"
                + (" (with month-end history)" if options["backfill"] else "")
                + (" (facts recounted in full)" if options["full"] else "")
            )
        )
