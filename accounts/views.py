"""Public account pages: sign up, confirm the address, send the link again."""

from __future__ import annotations

import logging

from django.contrib.auth import login
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts import services
from accounts.forms import ResendForm, SignUpForm
from accounts.models import User
from accounts.throttling import client_address, signup_throttle

logger = logging.getLogger(__name__)


def _throttled(request) -> bool:
    throttle = signup_throttle()
    address = client_address(request)
    if throttle.blocked(address=address):
        return True
    throttle.hit(address=address)
    return False


@require_http_methods(["GET", "POST"])
def signup(request):
    if request.user.is_authenticated:
        return redirect("wagtailadmin_home")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if _throttled(request):
            form.add_error(None, _("Too many sign-ups from your address. Please try later."))
            return render(request, "accounts/signup.html", {"form": form}, status=429)
        data = form.cleaned_data
        try:
            result = services.user_sign_up(
                email=data["email"],
                first_name=data["first_name"],
                last_name=data["last_name"],
                password=data["password1"],
            )
        except services.AccountExistsError:
            form.add_error(
                "email",
                _("An account with this address exists. Sign in, or reset your password."),
            )
        else:
            return render(
                request,
                "accounts/signup_done.html",
                {"email": result.user.email, "resent": result.resent, "sent": result.mail_sent},
            )
    status = 400 if request.method == "POST" else 200
    return render(request, "accounts/signup.html", {"form": form}, status=status)


def confirm(request, token: str):
    try:
        user = services.user_confirm(token=token)
    except services.ConfirmationError as error:
        return render(request, "accounts/confirm_failed.html", {"reason": error.reason}, status=400)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    return redirect("wagtailadmin_home")


@require_http_methods(["GET", "POST"])
def resend(request):
    form = ResendForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if _throttled(request):
            form.add_error(None, _("Too many requests from your address. Please try later."))
            return render(request, "accounts/resend.html", {"form": form}, status=429)
        user = User.objects.filter(email__iexact=form.cleaned_data["email"]).first()
        if user is not None and user.is_pending_confirmation:
            services.send_confirmation(user)
        # The same answer whether or not the address is known: it reveals no accounts.
        return render(request, "accounts/resend.html", {"form": None, "done": True})
    return render(request, "accounts/resend.html", {"form": form})
