from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MonitoringConfig(AppConfig):
    name = "monitoring"
    verbose_name = _("Results monitoring")

    def ready(self) -> None:
        from core.navigation import NavItem, register
        from core.roles import Role

        register(
            NavItem(
                _("Dashboard"),
                "monitoring:dashboard",
                _("The results indicators against their targets: trends, breakdowns and a map."),
                roles=(Role.PMU_OFFICER, Role.WORLD_BANK, Role.PKSF_APPROVER, Role.PO_STAFF),
                order=5,
            )
        )
        register(
            NavItem(
                _("Targets and milestones"),
                "monitoring:targets",
                _("End-of-project targets and yearly milestones of the indicators."),
                roles=(Role.PMU_OFFICER,),
                order=60,
            ),
            NavItem(
                _("Aggregation runs"),
                "monitoring:runs",
                _("When the indicators were last computed; recompute them now."),
                roles=(Role.PMU_OFFICER,),
                order=61,
            ),
            group=_("Results"),
        )
