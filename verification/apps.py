from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class VerificationConfig(AppConfig):
    name = "verification"
    verbose_name = _("Independent verification")

    def ready(self) -> None:
        from core import home, waiting
        from core.navigation import NavItem, register
        from core.roles import Role
        from enterprises.permissions import is_independent_checker
        from verification import checks, hooks  # noqa: F401  (checks registers the lifecycle of a check)

        readers = (Role.PMU_OFFICER, Role.VERIFIER, Role.WORLD_BANK, Role.PKSF_APPROVER)
        register(
            NavItem(
                _("Verification rounds"),
                "verification:round-list",
                _("Quarterly random samples of reported results, per PO, and their confirmation rates."),
                roles=readers,
                order=70,
            ),
            NavItem(
                _("Verification checks"),
                "verification:check-list",
                _("Each sampled adoption, profile or facility, and what the verifier found."),
                roles=(*readers, Role.PO_STAFF),
                order=71,
            ),
            NavItem(
                _("Awaiting verification"),
                "verification:awaiting",
                _("Reported adoptions not yet verified and facilities awaiting confirmation."),
                roles=(Role.PMU_OFFICER, Role.VERIFIER),
                condition=is_independent_checker,
                order=72,
            ),
            NavItem(
                _("Verification policy"),
                "verification:policy",
                _("Flagging threshold, margin of error and smallest sample per PO, with their history."),
                roles=readers,
                order=73,
            ),
            group=_("Verification"),
        )
        home.register(
            home.HomePanel(
                key="verification-verifier",
                template_name="verification/_home_verifier_panel.html",
                roles=(Role.VERIFIER,),
                get_context=hooks.verifier_panel,
                order=20,
            )
        )
        waiting.register(hooks.checks_waiting)
