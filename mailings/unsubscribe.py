"""Signed unsubscribe links: a token names one client and cannot be forged or altered."""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.urls import reverse

SALT = "mailings.unsubscribe"


class Tokens:
    """Makes the tokens of many clients with one signer (its key derived once)."""

    def __init__(self) -> None:
        self.signer = signing.TimestampSigner(salt=SALT)

    def for_client(self, client_id: int) -> str:
        return self.signer.sign_object(client_id)


def read_token(token: str) -> int:
    """The client id in a token; ``signing.BadSignature`` when it was tampered with."""
    value = signing.loads(token, salt=SALT)
    if not isinstance(value, int):
        raise signing.BadSignature("not a client token")
    return value


def link_prefix() -> str:
    """The absolute unsubscribe link without its token, resolved once per run: a recipient's
    link is this plus their token and a slash."""
    url = settings.SITE_URL + reverse("unsubscribe", args=["token"])
    if not url.endswith("/token/"):
        raise ValueError(f"the unsubscribe URL pattern changed: {url}")
    return url[: -len("token/")]


def example_url() -> str:
    """Stands in for a recipient's signed link where there is no real recipient (a preview)."""
    return link_prefix() + "example/"
