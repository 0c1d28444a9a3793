from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EnterprisesConfig(AppConfig):
    name = "enterprises"
    verbose_name = _("Enterprises and field data")

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from core import home
        from core.models import District, Upazila
        from core.navigation import NavItem, register
        from core.roles import Role

        # Besides the hooks: clusters, duplicates, recp and lifecycles register their rule tables
        # (cluster suggestions, duplicate decisions, RECP profiles; adoption verification, facility
        # status, import jobs) on core.lifecycle when they load; load them now, so that no state
        # moves without its log row.
        from enterprises import clusters, duplicates, hooks, lifecycles, recp  # noqa: F401

        readers = (Role.PO_STAFF, Role.PMU_OFFICER, Role.WORLD_BANK, Role.PKSF_APPROVER)
        register(
            NavItem(
                _("Enterprises"),
                "enterprises:enterprise-list",
                _("The microenterprises of the sub-projects, with their support, training, RECP and KPIs."),
                roles=readers,
                order=40,
                group=_("Field data"),
            ),
            NavItem(
                _("Field data"),
                "enterprises:field-data",
                _(
                    "Financial support, trainings, RECP adoptions and profiles, KPI readings, facilities, "
                    "clusters."
                ),
                roles=readers,
                order=41,
                group=_("Field data"),
            ),
            NavItem(
                _("Imports"),
                "enterprises:import-list",
                _("Import enterprises and field records from CSV or Excel files, with a preview first."),
                roles=(Role.PO_STAFF,),
                order=42,
                group=_("Field data"),
            ),
            NavItem(
                _("Training modules"),
                "enterprises:training-module-list",
                _("The PMU's catalogue of training modules; the PMU maps older sessions to them."),
                roles=readers,
                order=44,
                group=_("Field data"),
            ),
            NavItem(
                _("Duplicates"),
                "enterprises:duplicate-list",
                _("Enterprises that may be registered twice, across POs: confirm or dismiss."),
                roles=(Role.PMU_OFFICER,),
                order=43,
                group=_("Field data"),
            ),
        )
        home.register(
            home.HomePanel(
                key="enterprises-pmu-review",
                template_name="enterprises/_home_pmu_panel.html",
                roles=(Role.PMU_OFFICER,),
                get_context=hooks.pmu_review,
                order=40,
            )
        )
        home.register(
            home.HomePanel(
                key="enterprises-po-field-data",
                template_name="enterprises/_home_po_panel.html",
                roles=(Role.PO_STAFF,),
                get_context=hooks.po_field_data,
                order=40,
            )
        )
        # The PMU flags areas climate-vulnerable in core's pages; enterprises there follow the flag.
        post_save.connect(hooks.area_flag_saved, sender=District, dispatch_uid="enterprises-district-flag")
        post_save.connect(hooks.area_flag_saved, sender=Upazila, dispatch_uid="enterprises-upazila-flag")
