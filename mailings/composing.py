"""Turning a message into the e-mail one recipient gets: placeholders filled, headers set.

The preview, the "send a test to me" button and the sending engine all go through here, so
what the owner previews is what a client receives.
"""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.utils.translation import gettext as _

from mailings.placeholders import fill

logger = logging.getLogger(__name__)

SAMPLE_NAME = "Jane Sample"
SAMPLE_EMAIL = "jane.sample@example.com"


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str


def recipient_values(*, full_name: str, email: str, unsubscribe_url: str) -> dict[str, str]:
    return {"full_name": full_name, "email": email, "unsubscribe_url": unsubscribe_url}


def render(*, subject: str, body: str, values: dict[str, str]) -> Rendered:
    # A filled-in value may hold a line break (a client's name); a subject may not.
    filled_subject = " ".join(fill(subject, values).splitlines())
    return Rendered(subject=filled_subject, body=fill(body, values))


def example_unsubscribe_url() -> str:
    """Stands in for a recipient's signed link where there is no real recipient."""
    return f"{settings.SITE_URL}/unsubscribe/example/"


@dataclass(frozen=True)
class TestSendResult:
    ok: bool
    detail: str


def send_test(*, subject: str, body: str, to: str) -> TestSendResult:
    """Send one rendered message through the configured mail server; never raises."""
    values = recipient_values(
        full_name=SAMPLE_NAME, email=to, unsubscribe_url=example_unsubscribe_url()
    )
    rendered = render(subject=subject, body=body, values=values)
    email = EmailMessage(
        subject=_("[Test] %(subject)s") % {"subject": rendered.subject},
        body=rendered.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
    )
    try:
        connection = get_connection(fail_silently=False, timeout=settings.EMAIL_TIMEOUT)
        email.connection = connection
        email.send(fail_silently=False)
    except smtplib.SMTPResponseException as exc:
        reason = f"{exc.smtp_code} {_text(exc.smtp_error)}"
        logger.warning("test send to %s refused: %s", to, reason)
        return TestSendResult(False, reason)
    except smtplib.SMTPRecipientsRefused as exc:
        code, message = next(iter(exc.recipients.values()))
        reason = f"{code} {_text(message)}"
        logger.warning("test send to %s refused: %s", to, reason)
        return TestSendResult(False, reason)
    except (TimeoutError, smtplib.SMTPException, OSError) as exc:
        reason = f"{type(exc).__name__}: {exc}"
        logger.warning("test send to %s failed: %s", to, reason)
        return TestSendResult(False, reason)
    return TestSendResult(True, to)


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
