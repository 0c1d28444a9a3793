import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from demo import scale


class Command(BaseCommand):
    help = (
        "Create programme-scale synthetic field data for benchmarks: POs SYN-001…, one sub-project each, "
        "N enterprises with support, trainings, RECP, profiles, ~1.5 M KPI readings at 80,000 MEs, 100 CSFs."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--enterprises", type=int, default=80_000, help="number of enterprises (default 80000)"
        )
        parser.add_argument(
            "--pos", type=int, default=100, help="synthetic POs, one sub-project each (default 100)"
        )
        parser.add_argument(
            "--seed", type=int, default=2024, help="random seed (the same seed gives the same data)"
        )
        parser.add_argument("--replace", action="store_true", help="remove existing synthetic data first")
        parser.add_argument(
            "--force", action="store_true", help="run with DEBUG off. Never on a production database."
        )

    def handle(self, *args, **options):
        if not settings.DEBUG and not options["force"]:
            raise CommandError(
                "generate_scale fills the database with synthetic data, so it runs only with DEBUG=1 "
                "(or --force on a throw-away database)."
            )
        wanted, pos = options["enterprises"], options["pos"]
        if wanted < 1 or pos < 1:
            raise CommandError("--enterprises and --pos must be at least 1.")
        existing = scale.synthetic_enterprises().count()
        if existing and not options["replace"]:
            if existing >= wanted:
                self.stdout.write(f"{existing:,} synthetic enterprises are already there; nothing to do.")
                return
            raise CommandError(
                f"{existing:,} synthetic enterprises exist (fewer than {wanted:,}); "
                "add --replace to start again."
            )
        started = time.monotonic()
        if existing:
            self.stdout.write(f"Removing {existing:,} synthetic enterprises and their data…")
            scale.remove_synthetic()
        self.stdout.write(f"Generating {wanted:,} enterprises over {pos} synthetic POs…")
        counts = scale.generate(enterprises=wanted, pos=pos, seed=options["seed"], report=self.stdout.write)
        elapsed = time.monotonic() - started
        for label, count in counts.items():
            self.stdout.write(f"  {label}: {count:,}")
        self.stdout.write(self.style.SUCCESS(f"Synthetic programme ready in {elapsed:.0f} s."))
