"""Who may read and enter field data (SPEC 2): one set of predicates for pages, API and templates.

Reading: PO staff (their own PO's data, by `visible_to`) and the programme-wide roles (PMU, World
Bank, PKSF approver). TEC members see no enterprise data: their pages answer 403.
Entering: PO staff, for their own PO's sub-projects only. The PMU validates RECP profiles, resolves
duplicates, manages clusters and the catalogues (RECP practices, KPIs, training modules).
Checking what POs report (verifying adoptions, confirming facilities operational): PMU officers and
verifiers, and only those belonging to no PO, so that no PO ever checks its own results. Verifiers
read no field data through these pages: they work through the verification pages.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.mixins import AccessMixin
from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _
from rest_framework.permissions import SAFE_METHODS, BasePermission

from core.errors import Forbidden
from core.permissions import has_role, is_pmu, is_po_staff, sees_whole_programme
from verification.models import VERIFYING_ROLES


def can_read_field_data(user) -> bool:
    return sees_whole_programme(user) or is_po_staff(user)


def can_see_cluster_suggestions(user) -> bool:
    """The cluster suggestions are the PMU's working list (pages and API alike): they group
    enterprises of several POs, and only the PMU acts on them."""
    return is_pmu(user)


def can_enter_for(user, partner_organization_id: int | None) -> bool:
    return is_po_staff(user) and partner_organization_id == user.partner_organization_id


def require_entry(user, partner_organization_id: int | None) -> None:
    """Raise (403) unless the user is staff of this PO."""
    if not can_enter_for(user, partner_organization_id):
        raise Forbidden(_("Only the PO's own staff enter its field data."))


def require_pmu(user, what: str) -> None:
    if not is_pmu(user):
        raise Forbidden(_("Only PMU officers %(what)s.") % {"what": what})


def is_independent_checker(user) -> bool:
    """A PMU officer or a verifier who belongs to no PO: may verify what POs report."""
    return has_role(user, *VERIFYING_ROLES) and user.partner_organization_id is None


def require_independent_checker(user, what: str) -> None:
    """Raise (403) unless the user may check a PO's results; `what` completes "Only ... %(what)s"."""
    if not is_independent_checker(user):
        raise Forbidden(_("Only a PMU officer or a verifier, belonging to no PO, %(what)s.") % {"what": what})


class FieldDataReaderMixin(AccessMixin):
    """Page views: signed in, and a role that reads field data (else 403)."""

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if not can_read_field_data(request.user):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)


def field_data_reader(view: Callable) -> Callable:
    """Function-view counterpart of FieldDataReaderMixin: signed in (else the login page) and a role
    that reads field data (else 403)."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_authenticated:
            from django.contrib.auth.views import redirect_to_login

            return redirect_to_login(request.get_full_path())
        if not can_read_field_data(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapped


class FieldDataReader(BasePermission):
    """API: any field-data reader, whatever the method; for actions whose service decides who may act
    (403/409), and for what every reader may download (import templates)."""

    def has_permission(self, request, view) -> bool:
        return can_read_field_data(request.user)


class FieldDataPermission(BasePermission):
    """API: field-data readers read; PO staff write (their own PO's, by scoping and the services)."""

    def has_permission(self, request, view) -> bool:
        if not can_read_field_data(request.user):
            return False
        return request.method in SAFE_METHODS or is_po_staff(request.user)


class FieldDataReadPMUWrite(BasePermission):
    """API: field-data readers read; PMU officers write (catalogues, clusters)."""

    def has_permission(self, request, view) -> bool:
        if not can_read_field_data(request.user):
            return False
        return request.method in SAFE_METHODS or is_pmu(request.user)
