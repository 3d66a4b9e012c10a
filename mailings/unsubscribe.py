"""Signed unsubscribe links: a token names one client and cannot be forged or altered."""

from __future__ import annotations

from django.core import signing

SALT = "mailings.unsubscribe"


def make_token(client_id: int) -> str:
    return Signer().token(client_id)


class Signer:
    """``make_token`` for many clients: the signer (and its key) set up once."""

    def __init__(self) -> None:
        self.signer = signing.TimestampSigner(salt=SALT)

    def token(self, client_id: int) -> str:
        return self.signer.sign_object(client_id)


def read_token(token: str) -> int:
    """The client id in a token; ``signing.BadSignature`` when it was tampered with."""
    value = signing.loads(token, salt=SALT)
    if not isinstance(value, int):
        raise signing.BadSignature("not a client token")
    return value
