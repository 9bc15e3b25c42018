"""Forms of the web pages. They parse input; services decide and write."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _

from celltrace.audit.choices import Action
from celltrace.core.choices import Role
from celltrace.core.models import Organisation


class LoginForm(AuthenticationForm):
    error_messages = {
        "invalid_login": _("The username or password is not correct."),
        "inactive": _("This account is inactive."),
    }


class LoginCodeForm(forms.Form):
    otp_token = forms.CharField(
        label=_("Code from your authenticator"),
        max_length=12,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )


class SignForm(forms.Form):
    meaning = forms.CharField(widget=forms.HiddenInput)
    #: the record's digest as the page showed it (``record_sign(expected_digest=…)``)
    expected_digest = forms.CharField(widget=forms.HiddenInput, max_length=64, min_length=64)
    password = forms.CharField(
        label=_("Password"), widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )
    otp_token = forms.CharField(label=_("One-time code"), required=False, max_length=12)
    comment = forms.CharField(
        label=_("Comment"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class ReviewForm(forms.Form):
    conclusion = forms.CharField(
        label=_("Conclusion"), max_length=5000, widget=forms.Textarea(attrs={"rows": 4})
    )


class TokenForm(forms.Form):
    name = forms.CharField(label=_("Token name"), max_length=100)


class PasswordChangeForm(forms.Form):
    old_password = forms.CharField(label=_("Current password"), widget=forms.PasswordInput)
    new_password = forms.CharField(
        label=_("New password"),
        widget=forms.PasswordInput,
        help_text=_("At least 15 characters. Spaces are allowed."),
    )
    new_password2 = forms.CharField(label=_("New password again"), widget=forms.PasswordInput)

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        if data.get("new_password") != data.get("new_password2"):
            self.add_error("new_password2", _("The two new passwords differ."))
        return data


class UserCreateForm(forms.Form):
    organisation = forms.ModelChoiceField(
        label=_("Organisation"), queryset=Organisation.objects.all()
    )
    username = forms.CharField(label=_("Username"), max_length=150)
    full_name = forms.CharField(label=_("Printed name"), max_length=200)
    email = forms.EmailField(label=_("E-mail"), required=False)
    roles = forms.MultipleChoiceField(
        label=_("Roles"), choices=Role.choices, widget=forms.CheckboxSelectMultiple
    )
    password = forms.CharField(
        label=_("Temporary password"),
        widget=forms.PasswordInput,
        help_text=_("The user must change it at first login."),
    )


class OrganisationCreateForm(forms.Form):
    """A client company (there is one operator, created at installation)."""

    name = forms.CharField(label=_("Name"), max_length=200)
    code = forms.SlugField(
        label=_("Code"),
        max_length=40,
        help_text=_("A short unique identifier: letters, digits and hyphens."),
    )
    country = forms.CharField(
        label=_("Country"), max_length=2, required=False, help_text=_("ISO 3166 code, e.g. CN")
    )
    address = forms.CharField(label=_("Address"), required=False, widget=forms.Textarea)

    def clean_country(self) -> str:
        country = str(self.cleaned_data.get("country") or "").strip().upper()
        if country and not (len(country) == 2 and country.isascii() and country.isalpha()):
            raise forms.ValidationError(_("Two letters, e.g. CN, DE, SG."))
        return country


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=1000)


class RolesForm(ReasonForm):
    roles = forms.MultipleChoiceField(
        label=_("Roles"), choices=Role.choices, widget=forms.CheckboxSelectMultiple
    )


class ResetPasswordForm(ReasonForm):
    new_password = forms.CharField(label=_("Temporary password"), widget=forms.PasswordInput)


class TotpConfirmForm(forms.Form):
    """A first authenticator is confirmed with the password; a replacement with a code of the
    current one (``core.services.totp_confirm``)."""

    password = forms.CharField(
        label=_("Password"),
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        required=False,
    )
    current_token = forms.CharField(
        label=_("Code from your current authenticator"), max_length=12, required=False
    )
    token = forms.CharField(label=_("Code from your authenticator"), max_length=12)

    def __init__(self, *args: Any, replacing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if replacing:
            self.fields["current_token"].required = True
            self.fields["token"].label = _("Code from the new authenticator")
            del self.fields["password"]
        else:
            self.fields["password"].required = True
            del self.fields["current_token"]


class LedgerFilterForm(forms.Form):
    entity_type = forms.CharField(label=_("Object type"), required=False, max_length=60)
    entity_id = forms.CharField(label=_("Object id"), required=False, max_length=64)
    actor = forms.IntegerField(label=_("User id"), required=False, min_value=1)
    action = forms.ChoiceField(
        label=_("Action"), required=False, choices=[("", _("any")), *Action.choices]
    )
    event_type = forms.CharField(label=_("Event"), required=False, max_length=60)
    since = forms.DateTimeField(
        label=_("From (UTC)"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    until = forms.DateTimeField(
        label=_("Until (UTC)"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    after = forms.IntegerField(label=_("After entry #"), required=False, min_value=0)
    attempts = forms.BooleanField(
        label=_("Only failed logins, failed signings and lockouts"), required=False
    )
    before = forms.IntegerField(required=False, widget=forms.HiddenInput, min_value=1)
