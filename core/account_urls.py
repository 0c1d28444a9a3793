"""The account pages under /accounts/ (sign-in and password pages are in smart_portal.urls)."""

from django.urls import path

from core import account_views as views
from core import language

app_name = "accounts"

urlpatterns = [
    path("two-factor/", views.two_factor_verify, name="two-factor-verify"),
    path("two-factor/setup/", views.two_factor_setup, name="two-factor-setup"),
    path("two-factor/recovery-codes/", views.recovery_codes_renew, name="recovery-codes"),
    path("two-factor/disable/", views.two_factor_disable, name="two-factor-disable"),
    path("preferences/", language.preferences, name="preferences"),
    path("security/", views.account_security, name="security"),
    path("security/sessions/<int:pk>/revoke/", views.session_revoke, name="session-revoke"),
    path("security/tokens/revoke/", views.token_revoke, name="token-revoke"),
    path("security/sign-out-elsewhere/", views.sign_out_everywhere_else, name="sign-out-elsewhere"),
]
