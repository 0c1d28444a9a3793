"""Forms of the account pages: second-factor codes."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class SecondFactorForm(forms.Form):
    """A code of the authenticator app, or a recovery code."""

    code = forms.CharField(
        label=_("Code"),
        max_length=20,
        help_text=_("The 6-digit code your authenticator app shows now, or one of your recovery codes."),
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "autofocus": True, "spellcheck": "false"}
        ),
    )


class AuthenticatorCodeForm(forms.Form):
    """The current code of the authenticator app (to confirm it, or before changing the setup)."""

    code = forms.CharField(
        label=_("Code from the app"),
        max_length=10,
        help_text=_("The 6-digit code the app shows now."),
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "spellcheck": "false"}
        ),
    )

    def clean_code(self) -> str:
        code = "".join(self.cleaned_data["code"].split())
        if not (code.isdigit() and len(code) == 6):
            raise forms.ValidationError(_("Enter the 6 digits the app shows, e.g. 123456."))
        return code
