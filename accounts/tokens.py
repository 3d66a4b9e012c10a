"""Signed, expiring sign-up confirmation tokens. A token names one account; it is used up
when the account is confirmed (confirming twice finds the account already confirmed)."""

from __future__ import annotations

from django.conf import settings
from django.core import signing

SALT = "accounts.confirm"


class TokenExpiredError(Exception):
    pass


class TokenInvalidError(Exception):
    pass


def make_token(user_id: int) -> str:
    return signing.dumps(user_id, salt=SALT)


def read_token(token: str) -> int:
    max_age = settings.ACCOUNT_CONFIRMATION_DAYS * 24 * 3600
    try:
        value = signing.loads(token, salt=SALT, max_age=max_age)
    except signing.SignatureExpired:
        raise TokenExpiredError from None
    except signing.BadSignature:
        raise TokenInvalidError from None
    if not isinstance(value, int):
        raise TokenInvalidError
    return value
