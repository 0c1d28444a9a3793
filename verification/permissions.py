"""Who may open what in verification (pages and API share these predicates).

- Record results, draw nothing: verifiers and PMU officers belonging to no PO
  (`enterprises.permissions.is_independent_checker`, the one test wherever it is asked).
- Draw rounds and edit the policy: PMU officers only.
- Follow rounds and every check: the independent, and the programme-wide readers (PMU, World Bank,
  PKSF approver).
- PO staff: their own PO's checks once done (scoping by `VerificationCheck.objects.visible_to`).
- TEC members have nothing here. Verifiers are not field-data readers: they see enterprises only
  through these pages.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.core.exceptions import PermissionDenied
from rest_framework.permissions import SAFE_METHODS, BasePermission

from core.permissions import is_pmu, is_po_staff, sees_whole_programme
from enterprises.permissions import is_independent_checker


def can_follow_rounds(user) -> bool:
    return sees_whole_programme(user) or is_independent_checker(user)


def can_read_checks(user) -> bool:
    return can_follow_rounds(user) or is_po_staff(user)


def can_read_policy(user) -> bool:
    return bool(user.is_authenticated and user.is_active and (user.roles or user.is_superuser))


def signed_in(user) -> bool:
    """Anyone signed in (the view scopes what they get)."""
    return bool(user.is_authenticated)


def allowed(predicate: Callable[[object], bool]) -> Callable:
    """Page views: signed in (else the login page) and `predicate(user)` (else 403). Unlike
    core.permissions.role_required (roles only) and enterprises.permissions.field_data_reader (one
    fixed test), it takes any test: belonging to no PO is not a role."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.is_authenticated:
                from django.contrib.auth.views import redirect_to_login

                return redirect_to_login(request.get_full_path())
            if not predicate(request.user):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


class Allowed(BasePermission):
    """API: `Allowed.to(read, write)`: safe methods need `read(user)`, others `write(user)`."""

    read: Callable = staticmethod(lambda user: False)
    write: Callable = staticmethod(lambda user: False)

    @classmethod
    def to(cls, read: Callable, write: Callable = is_pmu) -> type[Allowed]:
        return type(
            f"Allowed_{read.__name__}_{write.__name__}",
            (cls,),
            {"read": staticmethod(read), "write": staticmethod(write)},
        )

    def has_permission(self, request, view) -> bool:
        if not request.user.is_authenticated:
            return False
        if request.method in SAFE_METHODS:
            return self.read(request.user)
        return self.read(request.user) and self.write(request.user)
