"""Sign-up, sign-in, resend, password-reset and address-change forms. Sign-in is Wagtail's
login form with two additions: it says why an inactive account cannot sign in (to whoever
knows its password), and it is throttled against guessing. Password reset is Wagtail's form
whose mail goes out through the worker."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from wagtail.admin.forms.auth import LoginForm as WagtailLoginForm
from wagtail.admin.forms.auth import PasswordResetForm as WagtailPasswordResetForm

from accounts import services
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
        inactive = email and User.objects.filter(email__iexact=email, is_active=False).first()
        if inactive:
            # Django's backend would hash the password and then refuse the account anyway.
            # Hash it once, here: a wrong password costs the same for every kind of account,
            # so timing tells nobody which addresses are waiting or blocked.
            if inactive.check_password(password):
                self._explain_inactive(inactive)
            throttle.hit(**identities)
            raise self.get_invalid_login_error()
        try:
            cleaned = super().clean()
        except ValidationError:
            throttle.hit(**identities)
            raise
        throttle.clear(account=email)
        return cleaned

    def _explain_inactive(self, user: User) -> None:
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


class PasswordResetForm(WagtailPasswordResetForm):
    """Wagtail's form; the mail is queued for the worker and the requests are throttled."""

    def save(self, request=None, **kwargs) -> None:
        services.password_reset_request(
            email=self.cleaned_data["email"], client=client_address(request)
        )


class EmailChangeForm(forms.ModelForm):
    """The address in the account settings. A new address takes effect once the link mailed
    to it is followed; until then the account keeps the old one."""

    email = forms.EmailField(label=_("E-mail address"), max_length=254, required=False)

    class Meta:
        model = User
        fields: list[str] = []

    def __init__(self, *args, request=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.request = request
        self.fields["email"].initial = self.instance.email

    def clean_email(self) -> str:
        if not self.cleaned_data["email"]:
            return self.instance.email  # left out of the form: unchanged
        email = User.objects.normalize_email(self.cleaned_data["email"])
        taken = User.objects.filter(email__iexact=email).exclude(pk=self.instance.pk)
        if taken.exists():
            raise ValidationError(_("Another account uses this address."), code="taken")
        return email

    def save(self, commit: bool = True) -> User:
        new_email = self.cleaned_data["email"]
        if new_email == self.instance.email:
            return self.instance
        if new_email.casefold() == self.instance.email.casefold():
            services.email_change_request(user=self.instance, new_email=new_email)
        elif services.email_change_request(user=self.instance, new_email=new_email):
            messages.info(
                self.request,
                _(
                    "We sent a link to %(email)s. Your address changes when you follow it; "
                    "until then it stays %(old)s."
                )
                % {"email": new_email, "old": self.instance.email},
            )
        else:
            messages.warning(
                self.request,
                _(
                    "The link to confirm %(email)s could not be sent just now. Your address "
                    "is unchanged; please try again in a few minutes."
                )
                % {"email": new_email},
            )
        return self.instance
