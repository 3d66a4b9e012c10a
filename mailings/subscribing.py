"""Sign-ups through a list's public form, with double opt-in (docs/audiences.md,
"Subscription form"). A sign-up is only a ``Subscription`` row and a mail with a link
(``make_token``/``read_token``: signed, naming the row, expiring); the client joins the
list when the person follows the link and confirms (``services.subscription_confirm``).

Every answer to the form is the same for an address already on the list, pending or new: the
page cannot be used to learn who is subscribed. Sign-ups are throttled per address and per
client address (``throttle``), in the cache shared by the web processes.
"""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils.translation import gettext as _

from accounts.throttling import Throttle
from mailings import links
from mailings.models import Subscription

SALT = "mailings.subscription-confirm"


def address_throttle() -> Throttle:
    return Throttle("subscribe", limit=settings.SUBSCRIBE_LIMIT_PER_HOUR, cooloff=3600)


def ip_throttle() -> Throttle:
    return Throttle("subscribe-ip", limit=settings.SUBSCRIBE_IP_LIMIT_PER_HOUR, cooloff=3600)


def make_token(subscription: Subscription) -> str:
    return signing.dumps(subscription.pk, salt=SALT, compress=False)


def read_token(token: str) -> Subscription:
    pk = links.read(token, salt=SALT, max_age=settings.SUBSCRIBE_CONFIRMATION_DAYS * 24 * 3600)
    if not isinstance(pk, int):
        raise links.LinkError("invalid")
    subscription = Subscription.objects.select_related("client_list__owner").filter(pk=pk).first()
    if subscription is None or not subscription.client_list.owner.is_active:
        raise links.LinkError("invalid")
    return subscription


def send_confirmation(subscription_id: int) -> bool:
    """The link to the address given (the worker sends it; a failure is raised for retry).
    Nothing of what the person typed but their address goes into the mail: a form cannot be
    used to send someone else a message of one's own."""
    subscription = (
        Subscription.objects.select_related("client_list__owner").filter(pk=subscription_id).first()
    )
    if subscription is None or subscription.confirmed_at is not None:
        return False
    client_list = subscription.client_list
    links.mail(
        to=subscription.email,
        language=subscription.language,
        subject=lambda: _("Confirm your subscription to “%(list)s”") % {"list": client_list.name},
        template="mailings/subscribe/confirm_email.txt",
        context={
            "list": client_list,
            "link": settings.SITE_URL
            + reverse("subscribe_confirm", args=[make_token(subscription)]),
            "days": settings.SUBSCRIBE_CONFIRMATION_DAYS,
        },
    )
    return True


def form_url(client_list) -> str:
    return settings.SITE_URL + reverse("subscribe", args=[client_list.token])
