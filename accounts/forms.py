"""Sign-up, sign-in and resend forms. Sign-in is Wagtail's login form with two additions:
it says why an inactive account cannot sign in, and it is throttled against guessing."""

from __future__ import annotations

from django import forms
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from wagtail.admin.forms.auth import LoginForm as WagtailLoginForm

from accounts.models import User
from accounts.throttling import client_address, login_throttle


class LoginForm(WagtailLoginForm):
    error_messages = {
        **WagtailLoginForm.error_messages,
        "throttled": _(
            "Too many failed sign-in attempts. Please wait %(minutes)s minutes and try again."
        ),
        "blocked": _("This account is blocked. Please contact the service's managers."),
        "unconfirmed": _(
            "Please confirm your e-mail address first: follow the link we sent you. "
            '<a href="%(resend)s">Send the link again</a>.'
        ),
    }

    def clean(self):
        email = (self.cleaned_data.get("username") or "").strip()
        password = self.cleaned_data.get("password") or ""
        throttle = login_throttle()
        identities = {"account": email, "address": client_address(self.request)}
        if throttle.blocked(**identities):
            raise ValidationError(
                self.error_messages["throttled"],
                code="throttled",
                params={"minutes": max(throttle.cooloff // 60, 1)},
            )
        self._explain_inactive(email, password)
        try:
            cleaned = super().clean()
        except ValidationError:
            throttle.hit(**identities)
            raise
        throttle.clear(account=email)
        return cleaned

    def _explain_inactive(self, email: str, password: str) -> None:
        user = User.objects.filter(email__iexact=email).first() if email else None
        if user is None or user.is_active or not user.check_password(password):
            return
        if user.is_blocked:
            raise ValidationError(self.error_messages["blocked"], code="blocked")
        raise ValidationError(
            format_html(
                str(self.error_messages["unconfirmed"]).replace("%(resend)s", "{}"),
                reverse("accounts:resend"),
            ),
            code="unconfirmed",
        )


class SignUpForm(forms.Form):
    email = forms.EmailField(label=_("E-mail address"), max_length=254)
    first_name = forms.CharField(label=_("First name"), max_length=150)
    last_name = forms.CharField(label=_("Last name"), max_length=150, required=False)
    password1 = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )
    password2 = forms.CharField(
        label=_("Password again"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self):
        cleaned = super().clean()
        password1, password2 = cleaned.get("password1"), cleaned.get("password2")
        if password1 and password2 and password1 != password2:
            self.add_error("password2", _("The two passwords differ."))
        elif password1:
            candidate = User(
                email=cleaned.get("email", ""),
                first_name=cleaned.get("first_name", ""),
                last_name=cleaned.get("last_name", ""),
            )
            try:
                password_validation.validate_password(password1, candidate)
            except ValidationError as error:
                self.add_error("password1", error)
        return cleaned


class ResendForm(forms.Form):
    email = forms.EmailField(label=_("E-mail address"), max_length=254)
