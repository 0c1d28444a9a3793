from importlib import import_module

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.utils.translation import gettext_lazy as _
from rest_framework.routers import DefaultRouter

from core import account_views
from core import language as core_language
from core import views as core_views
from core.api import views as core_api_views
from smart_portal import api_docs

admin.site.site_header = _("SMART Portal administration")
admin.site.site_title = _("SMART Portal")


PORTAL_APPS = (
    "core",
    "subprojects",
    "enterprises",
    "monitoring",
    "verification",
    "safeguards",
    "grievances",
    "finance",
)


def _optional_module(name: str):
    try:
        return import_module(name)
    except ModuleNotFoundError as exc:
        if not name.startswith(exc.name or "\0"):
            raise
        return None


def build_api_router() -> DefaultRouter:
    """One router for the whole API; each app lists its resources in `<app>/api/routes.py`."""
    router = DefaultRouter()
    for app in PORTAL_APPS:
        routes = _optional_module(f"{app}.api.routes")
        for prefix, viewset, basename in routes.ROUTES if routes else ():
            router.register(prefix, viewset, basename=basename)
    return router


def app_page_urls() -> list:
    """Each app's pages (`<app>/urls.py`), mounted at the site root."""
    return [path("", include(f"{app}.urls")) for app in PORTAL_APPS if _optional_module(f"{app}.urls")]


api_urls = [
    path("auth/token/", core_api_views.ObtainTokenView.as_view(), name="api-token"),
    path("auth/logout/", core_api_views.LogoutView.as_view(), name="api-logout"),
    path("auth/logout-all/", core_api_views.LogoutAllView.as_view(), name="api-logout-all"),
    path("me/", core_api_views.CurrentUserView.as_view(), name="api-me"),
    path("", include(build_api_router().urls)),
]

urlpatterns = [
    path("", core_views.home, name="home"),
    *app_page_urls(),
    # Sign-in with lockout and, for an account with an authenticator, a second step (core.account_views).
    path("accounts/login/", account_views.SignInView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path("accounts/password/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("accounts/", include("core.account_urls")),
    # The language switch also remembers the choice on the account (core.language).
    path("i18n/setlang/", core_language.set_language, name="set_language"),
    # Liveness (the container's health check) and readiness (a load balancer): core.health.
    path("healthz", core_views.healthz, name="healthz"),
    path("readyz", core_views.readyz, name="readyz"),
    # The admin site has no sign-in page of its own: the portal's, with its lockout and second factor.
    path("admin/login/", account_views.admin_login, name="admin-login"),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_urls)),
    path("api/schema/", api_docs.SchemaView.as_view(), name="api-schema"),
    path("api/docs/", api_docs.DocsView.as_view(url_name="api-schema"), name="api-docs"),
]
