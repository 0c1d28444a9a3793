from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MonitoringConfig(AppConfig):
    name = "monitoring"
    verbose_name = _("Results monitoring")

    def ready(self) -> None:
        from core.navigation import NavItem, register
        from core.roles import Role
        from monitoring import lifecycles  # noqa: F401  (registers the lifecycles of runs and reports)

        register(
            NavItem(
                _("Dashboard"),
                "monitoring:dashboard",
                _("The results indicators against their targets: trends, breakdowns and a map."),
                roles=(Role.PMU_OFFICER, Role.WORLD_BANK, Role.PKSF_APPROVER, Role.PO_STAFF),
                order=5,
            )
        )
        readers = (Role.PMU_OFFICER, Role.WORLD_BANK, Role.PKSF_APPROVER, Role.PO_STAFF)
        register(
            NavItem(
                _("Results framework"),
                "monitoring:framework",
                _("Every indicator's level, baseline, yearly targets, data source and rule in words."),
                roles=readers,
                order=58,
            ),
            NavItem(
                _("Environment and jobs"),
                "monitoring:outcomes",
                _("Resources saved and emissions avoided by the MEs, and wage jobs in the MEs financed."),
                roles=readers,
                order=59,
            ),
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
        # Results reports and the data-quality panel (monitoring.reports, monitoring.quality).
        register(
            NavItem(
                _("Results reports"),
                "monitoring:reports",
                _("The ISR results table and PO results reports, as Excel or PDF files."),
                roles=readers,
                order=62,
            ),
            NavItem(
                _("Data quality"),
                "monitoring:data-quality",
                _("Per PO: readings overdue, unverified adoptions, verification, duplicates and imports."),
                roles=readers,
                order=63,
            ),
            group=_("Results"),
        )
