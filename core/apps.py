from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = _("Accounts, Partner Organizations and reference data")

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from core import append_only, home, waiting

        # The transition log and field history refuse UPDATE/DELETE on PostgreSQL (core.append_only).
        post_migrate.connect(
            append_only.install_after_migrate, sender=self, dispatch_uid="core-append-only-history"
        )
        from core import accounts

        # Refused sign-ins to the audit log, the lockout notice, the record of signed-in sessions.
        accounts.connect_signals()
        from core import language

        # A language picked on the sign-in page becomes the account's (core.language).
        language.connect_signals()
        from core import jobs, outbox

        # Queued tasks are marked done by the worker; a starting worker publishes what waits.
        outbox.connect_signals()
        from core import request_context

        # Log lines written inside a task name its task id.
        request_context.connect_signals()
        # The lifecycle of large exports, watched by the sweeper, and their tasks (core.export_jobs).
        from core import export_jobs  # noqa: F401

        jobs.connect_signals()  # a starting worker fails the jobs whose worker died (core.jobs)
        from core import tombstones

        # A record deleted from a resource of the API leaves a tombstone (GET /api/v1/deletions/).
        tombstones.connect_signals()
        from core import numbers

        # Number form fields take Bangla digits and grouped numbers, as text inputs (core.numbers).
        numbers.install()
        from core.navigation import NavItem, register
        from core.roles import Role

        home.register(
            home.HomePanel(
                key="waiting",
                template_name="core/_waiting_panel.html",
                roles=tuple(Role),
                get_context=lambda user: {"items": waiting.items_for(user)},
                order=10,
            )
        )

        everyone_but_po = (Role.PMU_OFFICER, Role.WORLD_BANK, Role.PKSF_APPROVER, Role.TEC_MEMBER)
        register(
            NavItem(
                _("My organization"),
                "core:my-po",
                _("Your Partner Organization's registration, contacts and districts."),
                roles=(Role.PO_STAFF,),
                order=10,
            )
        )
        register(
            NavItem(
                _("Partner Organizations"),
                "core:po-list",
                _("The POs of the programme: registration, contacts, districts of operation."),
                roles=everyone_but_po,
                order=80,
            ),
            NavItem(
                _("Districts"),
                "core:district-list",
                _("Divisions, districts and upazilas with their climate-vulnerability flags."),
                order=90,
            ),
            NavItem(
                _("Sectors"),
                "core:sector-list",
                _("The 3 business areas, 9 sectors and 21 sub-sectors of the programme."),
                order=91,
            ),
            NavItem(
                _("API documentation"),
                "api-docs",
                _("The REST API for other systems and scripts, with a token from your login."),
                order=95,
            ),
            group=_("Reference"),
        )
