"""Senders: whom a user's mail comes from. An address is usable once its user followed a
link mailed to it (``make_token``/``read_token``, the mail in ``send_confirmation``); a
mailing without a confirmed sender goes out from the operator's address with the owner's
name (``default_from``). The envelope sender is always the operator's: bounces come back to
the service, not to the user's mailbox (docs/composing.md, "Senders").
"""

from __future__ import annotations

from email.utils import parseaddr

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext as _

from mailings import links
from mailings.models import Sender

SALT = "mailings.sender-confirm"


def domain_of(address: str) -> str:
    return address.rpartition("@")[2].lower().rstrip(".")


def domain_allowed(address: str) -> bool:
    """Whether the operator signs mail for this address's domain (or any, if it names none)."""
    allowed = settings.MAILINGS_SENDER_DOMAINS
    domain = domain_of(address)
    return not allowed or any(domain == d or domain.endswith("." + d) for d in allowed)


def state_of(sender: Sender) -> str:
    """What a link must not outlive: the address it was sent to, and the confirmation."""
    confirmed = sender.confirmed_at.replace(microsecond=0) if sender.confirmed_at else ""
    value = f"{sender.pk}|{sender.owner_id}|{sender.email.lower()}|{confirmed}"
    return salted_hmac(SALT, value, algorithm="sha256").hexdigest()[:32]


def make_token(sender: Sender) -> str:
    return signing.dumps([sender.pk, state_of(sender)], salt=SALT)


def read_token(token: str) -> Sender:
    """The unconfirmed sender a link was made for, in the state it was made in."""
    value = links.read(token, salt=SALT, max_age=settings.ACCOUNT_CONFIRMATION_DAYS * 24 * 3600)
    if not (isinstance(value, list) and len(value) == 2 and isinstance(value[0], int)):
        raise links.LinkError("invalid")
    sender = Sender.objects.select_related("owner").filter(pk=value[0]).first()
    if sender is None or not constant_time_compare(str(value[1]), state_of(sender)):
        raise links.LinkError("invalid")
    return sender


def send_confirmation(sender_id: int, *, language: str) -> bool:
    """The link to the address itself (the worker sends it; a failure is raised for retry)."""
    sender = Sender.objects.select_related("owner").filter(pk=sender_id).first()
    if sender is None or sender.confirmed_at is not None or not sender.owner.is_active:
        return False
    links.mail(
        to=sender.email,
        language=language,
        subject=lambda: _("Confirm that we may send mail from this address"),
        template="mailings/senders/confirm_email.txt",
        context={
            "sender": sender,
            "account": sender.owner.email,
            "link": settings.SITE_URL + reverse("sender_confirm", args=[make_token(sender)]),
            "days": settings.ACCOUNT_CONFIRMATION_DAYS,
        },
    )
    return True


def display_name(user) -> str:
    return user.get_full_name().strip() or parseaddr(settings.DEFAULT_FROM_EMAIL)[0]


def mailbox(name: str, address: str) -> str:
    """``"Name" <address>``, the name quoted whatever it holds (commas, quotes, Cyrillic):
    the message builder encodes it for the header (``sanitize_address``)."""
    quoted = name.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{quoted}" <{address}>' if name else address


def default_from(user) -> str:
    """The operator's address with the user's name: a mailing with no confirmed sender."""
    return mailbox(display_name(user), parseaddr(settings.DEFAULT_FROM_EMAIL)[1])


def from_header(sender: Sender) -> str:
    return mailbox(sender.name, sender.email)
