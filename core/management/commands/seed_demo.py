from importlib import import_module

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.test.utils import override_settings

from demo.core import DEMO_NOTES, DEMO_PASSWORD, DEMO_USERS

# The demo data of each app live in the `demo` package, as `demo.<app label>.seed(stdout)`; they run in
# this order.
SEEDERS = (
    "core",
    "subprojects",
    "enterprises",
    "verification",
    "safeguards",
    "grievances",
    "finance",
    "monitoring",
)


class Command(BaseCommand):
    help = "Load the demo programme (POs, demo logins, calls, notes, enterprises...). Safe to run again."

    def add_arguments(self, parser):
        parser.add_argument(
            "--force", action="store_true", help="Run even with DEBUG off. Never on a production database."
        )

    def handle(self, *args, **options):
        if not settings.DEBUG and not options["force"]:
            raise CommandError(
                "seed_demo creates demo accounts with a published password, so it runs only with DEBUG=1 "
                "(or --force on a throw-away database)."
            )
        # Demo records are not edits anyone made: keep them out of the audit trail, and send no email
        # about the decisions the demo records (e.g. the verifier's visits).
        with override_settings(
            SIMPLE_HISTORY_ENABLED=False, EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend"
        ):
            for app in SEEDERS:
                module = import_module(f"demo.{app}")
                with transaction.atomic():
                    module.seed(self.stdout)
        self.stdout.write(
            self.style.SUCCESS(f"Demo data is in place. Demo logins (password: {DEMO_PASSWORD}):")
        )
        for username, role, _first, _last, po_code in DEMO_USERS:
            suffix = f" of {po_code}" if po_code else ""
            note = f" ({DEMO_NOTES[username]})" if username in DEMO_NOTES else ""
            self.stdout.write(f"  {username:<9} {role.label}{suffix}{note}")
