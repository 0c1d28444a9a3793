from importlib import import_module

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

# Each part registers its lifecycles, menu entries, home panels and "waiting on you" lists in `ready()`.
PARTS = ("reviews", "screenings", "clearances", "incidents")


class SafeguardsConfig(AppConfig):
    name = "safeguards"
    verbose_name = _("Environmental and social safeguards")

    def ready(self) -> None:
        for part in PARTS:
            module = import_module(f"safeguards.{part}")
            ready = getattr(module, "ready", None)
            if ready is not None:
                ready()
