from importlib import import_module

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

# Each part registers its lifecycles, menu entries, home panels and "waiting on you" lists in `ready()`.
PARTS = ("releases", "spending", "portfolio", "ifr", "rates", "scorecards")


class FinanceConfig(AppConfig):
    name = "finance"
    verbose_name = _("Money")

    def ready(self) -> None:
        for part in PARTS:
            module = import_module(f"finance.{part}")
            ready = getattr(module, "ready", None)
            if ready is not None:
                ready()
