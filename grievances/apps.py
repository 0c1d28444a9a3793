from importlib import import_module

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

# Each part registers its lifecycle, menu entries, home panels and "waiting on you" lists in `ready()`.
PARTS = ("handling", "statistics")


class GrievancesConfig(AppConfig):
    name = "grievances"
    verbose_name = _("Grievance redress")

    def ready(self) -> None:
        for part in PARTS:
            module = import_module(f"grievances.{part}")
            ready = getattr(module, "ready", None)
            if ready is not None:
                ready()
