"""Django's makemessages, which also extracts `_lazy("...")` (modules that need both gettext and
gettext_lazy import the lazy one as `_lazy`) and `ngettext_noop(singular, plural)` (core.reference_names),
keywords xgettext does not know by itself."""

from django.core.management.commands import makemessages


class Command(makemessages.Command):
    xgettext_options = [
        *makemessages.Command.xgettext_options,
        "--keyword=_lazy",
        "--keyword=ngettext_noop:1,2",
    ]
