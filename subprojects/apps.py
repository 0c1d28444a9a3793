from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SubprojectsConfig(AppConfig):
    name = "subprojects"
    verbose_name = _("Sub-projects")

    def ready(self) -> None:
        from core import waiting
        from core.navigation import NavItem, register
        from core.roles import Role
        from subprojects import waiting as lifecycle_waiting
        from subprojects import workflow  # noqa: F401  (registers the lifecycles on core.lifecycle)

        programme = (Role.PMU_OFFICER, Role.WORLD_BANK, Role.PKSF_APPROVER)
        register(
            NavItem(
                _("Calls"),
                "subprojects:call-list",
                _("Calls for concept notes: open calls, deadlines and ceilings."),
                roles=(Role.PO_STAFF, *programme),
                order=20,
                group=_("Sub-projects"),
            ),
            NavItem(
                _("Concept notes"),
                "subprojects:note-list",
                _("Concept notes (SPCN): write and submit; screening queue with filters and export."),
                roles=(Role.PO_STAFF, *programme),
                order=21,
                group=_("Sub-projects"),
            ),
            NavItem(
                _("Proposals"),
                "subprojects:proposal-list",
                _("Sub-project proposals (SPP): budgets, results, screening, evaluation and approval."),
                roles=(Role.PO_STAFF, *programme),
                order=22,
                group=_("Sub-projects"),
            ),
            NavItem(
                _("Sub-projects"),
                "subprojects:subproject-list",
                _("Awarded sub-projects: agreements, dates, approved budget and status."),
                roles=(Role.PO_STAFF, *programme),
                order=23,
                group=_("Sub-projects"),
            ),
        )
        register(
            NavItem(
                _("TEC meetings"),
                "subprojects:meeting-list",
                _("Technical Evaluation Committee meetings: agendas, scores, decisions and minutes."),
                roles=(Role.TEC_MEMBER, *programme),
                order=24,
                group=_("Evaluation"),
            ),
            NavItem(
                _("My evaluations"),
                "subprojects:my-evaluations",
                _("Proposals on your agendas: declare conflicts of interest, score and submit."),
                roles=(Role.TEC_MEMBER,),
                order=25,
                group=_("Evaluation"),
            ),
        )
        waiting.register(lifecycle_waiting.calls_waiting)
        waiting.register(lifecycle_waiting.evaluations_waiting)
        waiting.register(lifecycle_waiting.conditions_waiting)
        waiting.register(lifecycle_waiting.concept_notes_waiting)
        waiting.register(lifecycle_waiting.proposals_waiting)
