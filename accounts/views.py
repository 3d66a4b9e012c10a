"""Public account pages: sign up, confirm the address, send the link again, confirm a new
address. A link from a mail only shows a page with a button (GET); the button (POST) does
it: link scanners and forged links opened in a victim's browser change nothing."""

from __future__ import annotations

import logging

from django.contrib import messages
from django.contrib.auth import login
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts import services
from accounts.forms import ResendForm, SignUpForm
from accounts.throttling import client_address, signup_throttle

logger = logging.getLogger(__name__)


def _throttled(request, *, email: str) -> bool:
    throttle = signup_throttle()
    identities = {"address": client_address(request), "account": email}
    if throttle.blocked(**identities):
        return True
    throttle.hit(**identities)
    return False


@require_http_methods(["GET", "POST"])
def signup(request):
    if request.user.is_authenticated:
        return redirect("wagtailadmin_home")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if _throttled(request, email=data["email"]):
            form.add_error(None, _("Too many sign-ups from your address. Please try later."))
            return render(request, "accounts/signup.html", {"form": form}, status=429)
        result = services.user_sign_up(
            email=data["email"],
            first_name=data["first_name"],
            last_name=data["last_name"],
            password=data["password1"],
        )
        # The same page for a new address, one waiting for confirmation and one with an
        # account: what each gets is in the mail, which only the address's owner reads.
        return render(
            request,
            "accounts/signup_done.html",
            {"email": result.email, "sent": result.mail_queued},
        )
    status = 400 if request.method == "POST" else 200
    return render(request, "accounts/signup.html", {"form": form}, status=status)


@require_http_methods(["GET", "POST"])
def confirm(request, token: str):
    try:
        if request.method == "POST":
            user = services.user_confirm(token=token)
        else:
            user = services.confirmation_check(token=token)
    except services.ConfirmationError as error:
        return render(request, "accounts/confirm_failed.html", {"reason": error.reason}, status=400)
    if request.method == "GET":
        return render(request, "accounts/confirm.html", {"email": user.email})
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    return redirect("wagtailadmin_home")


@require_http_methods(["GET", "POST"])
def resend(request):
    form = ResendForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"]
        if _throttled(request, email=email):
            form.add_error(None, _("Too many requests from your address. Please try later."))
            return render(request, "accounts/resend.html", {"form": form}, status=429)
        sent = services.confirmation_resend(email=email)
        # The same answer whether or not the address is known: it reveals no accounts.
        return render(request, "accounts/resend.html", {"form": None, "done": True, "sent": sent})
    return render(request, "accounts/resend.html", {"form": form})


@require_http_methods(["GET", "POST"])
def email_confirm(request, token: str):
    try:
        if request.method == "POST":
            user = services.email_change_confirm(token=token)
        else:
            user, new_email = services.email_change_check(token=token)
    except services.ConfirmationError as error:
        return render(request, "accounts/email_confirm.html", {"reason": error.reason}, status=400)
    if request.method == "GET":
        return render(request, "accounts/email_confirm.html", {"old": user.email, "new": new_email})
    messages.success(request, _("Your e-mail address is now %(email)s.") % {"email": user.email})
    if request.user.is_authenticated and request.user.pk == user.pk:
        return redirect("wagtailadmin_account")
    return redirect("wagtailadmin_login")
