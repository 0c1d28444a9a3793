"""Each user's interface language and digits, remembered on their account (User.language,
User.bangla_digits) so that it follows them to every device and every sign-in.

- Signed in, the account's language wins over the browser's cookie and Accept-Language
  (UserLanguageMiddleware); the cookie is brought in line so pages served before sign-in match.
- Choosing a language (the footer switcher, the sign-in page) stores it on the account; chosen while
  signed out, it is stored at the next sign-in on that browser.
- The API keeps Django's choice (cookie or Accept-Language): programs ask for the language they want.
"""

from __future__ import annotations

from collections.abc import Callable

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import check_for_language
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST
from django.views.i18n import set_language as django_set_language

from core.models import User

# A language chosen while signed out, to store on the account at the next sign-in on this browser.
CHOSEN_BEFORE_SIGN_IN = "language_chosen_before_sign_in"


def _is_language(code: str | None) -> bool:
    return bool(code) and code in dict(settings.LANGUAGES) and check_for_language(code)


class UserLanguageMiddleware:
    """After AuthenticationMiddleware: serve a signed-in user's pages in the language of their account."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and not request.path.startswith("/api/")
            and _is_language(user.language)
            and user.language != translation.get_language()
        ):
            translation.activate(user.language)
            request.LANGUAGE_CODE = user.language
        response = self.get_response(request)
        # request.user after the view: the one who just signed in, too.
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and _is_language(user.language)
            and request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME) != user.language
            and settings.LANGUAGE_COOKIE_NAME not in response.cookies
        ):
            response.set_cookie(
                settings.LANGUAGE_COOKIE_NAME,
                user.language,
                max_age=settings.LANGUAGE_COOKIE_AGE,
                path=settings.LANGUAGE_COOKIE_PATH,
                domain=settings.LANGUAGE_COOKIE_DOMAIN,
                secure=settings.LANGUAGE_COOKIE_SECURE,
                httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
                samesite=settings.LANGUAGE_COOKIE_SAMESITE,
            )
        return response


@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """Django's language switch, which also remembers the choice on the account."""
    response = django_set_language(request)
    language = request.POST.get("language")
    if _is_language(language):
        if request.user.is_authenticated:
            if request.user.language != language:
                request.user.language = language
                request.user.save(update_fields=["language"])
        else:
            request.session[CHOSEN_BEFORE_SIGN_IN] = language
    return response


def store_language_chosen_before_sign_in(sender, request: HttpRequest, user: User, **kwargs) -> None:
    """user_logged_in: a language picked on the sign-in page becomes the account's."""
    if request is None or not hasattr(request, "session"):
        return
    chosen = request.session.pop(CHOSEN_BEFORE_SIGN_IN, None)
    if _is_language(chosen) and chosen != user.language:
        user.language = chosen
        user.save(update_fields=["language"])
    if _is_language(user.language):
        translation.activate(user.language)
        request.LANGUAGE_CODE = user.language


def connect_signals() -> None:
    from django.contrib.auth.signals import user_logged_in

    user_logged_in.connect(store_language_chosen_before_sign_in, dispatch_uid="core-language-at-sign-in")


class PreferencesForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ["language", "bangla_digits"]
        labels = {"language": _("Interface language"), "bangla_digits": _("Bangla digits")}
        help_texts = {
            "language": _(
                "The portal, its emails and its PDFs use this language on every device you sign in on."
            ),
            "bangla_digits": _(
                "In the Bangla interface, show numbers and dates with Bangla digits (১২,৩৪,৫৬৭)."
            ),
        }
        widgets = {"language": forms.RadioSelect}


@login_required
def preferences(request: HttpRequest) -> HttpResponse:
    form = PreferencesForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        form.save()
        translation.activate(request.user.language)
        request.LANGUAGE_CODE = request.user.language
        messages.success(request, _("Your preferences are saved."))
        return redirect("accounts:preferences")
    return render(request, "core/preferences.html", {"form": form})
