"""The admin's field-history pages, read-only.

simple_history's admin lets anyone who may *view* a record's history POST its "revert" form, which
saves the old version without the change permission and around the portal's rules (validation,
locks, the lifecycle engine). The field history is a record of what happened: in this portal it is
read, never written back from the admin. Corrections go through the record's own form or action.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from simple_history.admin import SimpleHistoryAdmin


class HistoryAdmin(SimpleHistoryAdmin):
    """SimpleHistoryAdmin whose old versions can be looked at but not restored."""

    def revert_disabled(self, request, obj=None) -> bool:
        return True

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method not in {"GET", "HEAD"}:
            raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)
