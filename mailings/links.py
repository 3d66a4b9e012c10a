"""Links mailed to an address to prove it is its owner's: a sender address (``senders``), a
sign-up to a list (``subscribing``). Each is a value signed with a salt of its own, read back
within its age, and mailed in the language of the page that asked for it."""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.utils import translation


class LinkError(Exception):
    def __init__(self, reason: str) -> None:  # "invalid" or "expired"
        super().__init__(reason)
        self.reason = reason


def read(token: str, *, salt: str, max_age: int):
    """The value a link was made for; ``LinkError`` for a link expired, cut or made up."""
    try:
        return signing.loads(token, salt=salt, max_age=max_age)
    except signing.SignatureExpired:
        raise LinkError("expired") from None
    except signing.BadSignature:
        raise LinkError("invalid") from None


def mail(*, to: str, language: str, subject, template: str, context: dict) -> None:
    """The mail with the link, from the operator's address, in ``language`` (``subject`` may
    be lazy: it is translated there). A mail server failure is raised, for the task's retry."""
    with translation.override(language or settings.LANGUAGE_CODE):
        send_mail(
            subject=str(subject() if callable(subject) else subject),
            message=render_to_string(template, context),
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[to],
        )
