"""The mails the accounts side sends: the sign-up link, the note to an existing account that
someone tried to sign up with its address, the password-reset link and the link that
confirms a new address. The worker sends them (``accounts.tasks``); each function reads the
account afresh and sends nothing if the mail no longer applies. A mail server failure is
raised, for the task to retry."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _

from accounts import tokens
from accounts.models import User

GREETING_NAME_LENGTH = 20


def greeting_name(user: User) -> str:
    """The first word of the first name, if it is short; else no name at all. A greeting,
    not a place to relay text that an anonymous sign-up typed, to whatever address it named."""
    words = user.first_name.split()
    name = words[0] if words else ""
    return name if len(name) <= GREETING_NAME_LENGTH else ""


def _send(*, to: str, subject: str, template: str, context: dict) -> None:
    send_mail(
        subject=subject,
        message=render_to_string(template, context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[to],
    )


def send_confirmation(user_id: int, *, language: str) -> bool:
    user = User.objects.filter(pk=user_id).first()
    if user is None or not user.is_pending_confirmation:
        return False
    with translation.override(language):
        link = settings.SITE_URL + reverse("accounts:confirm", args=[tokens.make_token(user)])
        _send(
            to=user.email,
            subject=_("Confirm your e-mail address"),
            template="accounts/email/confirm.txt",
            context={
                "name": greeting_name(user),
                "link": link,
                "days": settings.ACCOUNT_CONFIRMATION_DAYS,
            },
        )
    return True


def send_signup_notice(user_id: int, *, language: str) -> bool:
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return False
    with translation.override(language):
        _send(
            to=user.email,
            subject=_("You already have an account"),
            template="accounts/email/signup_notice.txt",
            context={
                "name": greeting_name(user),
                "sign_in": settings.SITE_URL + reverse("wagtailadmin_login"),
                "reset": settings.SITE_URL + reverse("wagtailadmin_password_reset"),
            },
        )
    return True


def send_password_reset(user_id: int, *, language: str) -> bool:
    """Wagtail's own reset mail, with Django's reset token, made here instead of in the
    request."""
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or not user.has_usable_password():
        return False
    site = urlsplit(settings.SITE_URL)
    context = {
        "email": user.email,
        "domain": site.netloc,
        "site_name": settings.WAGTAIL_SITE_NAME,
        "uid": urlsafe_base64_encode(force_bytes(user.pk)),
        "user": user,
        "token": default_token_generator.make_token(user),
        "protocol": site.scheme,
    }
    with translation.override(language):
        subject = render_to_string("wagtailadmin/account/password_reset/email_subject.txt", context)
        _send(
            to=user.email,
            subject="".join(subject.splitlines()),
            template="wagtailadmin/account/password_reset/email.txt",
            context=context,
        )
    return True


def send_email_change(user_id: int, new_email: str, *, language: str) -> bool:
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return False
    token = tokens.make_token(user, purpose=tokens.EMAIL_CHANGE, email=new_email)
    with translation.override(language):
        _send(
            to=new_email,
            subject=_("Confirm your new e-mail address"),
            template="accounts/email/email_change.txt",
            context={
                "name": greeting_name(user),
                "link": settings.SITE_URL + reverse("accounts:email_confirm", args=[token]),
                "days": settings.ACCOUNT_CONFIRMATION_DAYS,
            },
        )
    return True
