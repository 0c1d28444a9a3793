"""Who may do what: role predicates shared by page views, API views and templates.

Reading is governed by scoping (`Model.objects.visible_to(user)`), so another PO's object is a 404
by construction. Acting is governed by roles, checked here, and answered with 403.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.mixins import AccessMixin
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import Http404
from rest_framework.permissions import SAFE_METHODS, BasePermission

from core.roles import Role


def has_role(user, *roles: Role) -> bool:
    return bool(user.is_authenticated and user.has_role(*roles))


def is_pmu(user) -> bool:
    return has_role(user, Role.PMU_OFFICER)


def is_po_staff(user) -> bool:
    return has_role(user, Role.PO_STAFF) and user.partner_organization_id is not None


def sees_whole_programme(user) -> bool:
    return bool(user.is_authenticated and user.sees_whole_programme)


def get_visible_or_404(queryset: QuerySet, user, **lookup) -> Model:
    """Fetch one object *for this user*: anything outside their scope is answered as missing."""
    try:
        return queryset.visible_to(user).get(**lookup)
    except queryset.model.DoesNotExist as exc:
        raise Http404(f"No {queryset.model._meta.verbose_name} matches the given query.") from exc


class RoleRequiredMixin(AccessMixin):
    """Page views: anonymous users go to the login page, users without one of the roles get 403."""

    required_roles: tuple[Role, ...] = ()

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if self.required_roles and not request.user.has_role(*self.required_roles):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)


def role_required(*roles: Role) -> Callable:
    """Function-view counterpart of RoleRequiredMixin."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.is_authenticated:
                from django.contrib.auth.views import redirect_to_login

                return redirect_to_login(request.get_full_path())
            if not request.user.has_role(*roles):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


class HasRole(BasePermission):
    """API: the user must hold one of `roles` (set by `HasRole.of(...)`)."""

    roles: tuple[Role, ...] = ()

    @classmethod
    def of(cls, *roles: Role) -> type[HasRole]:
        return type(f"HasRole_{'_'.join(roles)}", (cls,), {"roles": roles})

    def has_permission(self, request, view) -> bool:
        return has_role(request.user, *self.roles)


class ReadScopedWritePMU(BasePermission):
    """API: anyone signed in reads what their scope shows; only PMU officers write."""

    def has_permission(self, request, view) -> bool:
        if not request.user.is_authenticated:
            return False
        return request.method in SAFE_METHODS or is_pmu(request.user)
