"""Signed, expiring tokens for the links we mail: confirming a new account, and confirming a
new e-mail address. A token names one account and is bound to that account's state, as
Django's password-reset tokens are: its address, password hash, last sign-in, confirmation
and activity. Any change of these (the account is confirmed, its password or address
changes) voids every link sent before it, so a link works once."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.utils.crypto import constant_time_compare, salted_hmac

SIGN_UP = "accounts.confirm"
EMAIL_CHANGE = "accounts.email-change"


class TokenExpiredError(Exception):
    pass


class TokenInvalidError(Exception):
    pass


@dataclass(frozen=True)
class Token:
    user_id: int
    state: str
    email: str = ""  # the new address, for an e-mail change


def state_of(user, purpose: str = SIGN_UP) -> str:
    """A digest of what a link must not outlive. A new address's link survives signing in
    meanwhile (its owner is signed in when asking for it); a sign-up link does not."""
    # Times without microseconds: some databases drop them, and a link made from the saved
    # object must match the object read back.
    value = "|".join(
        str(part)
        for part in (
            user.pk,
            user.email,
            user.password,
            purpose,
            purpose == SIGN_UP
            and user.last_login
            and user.last_login.replace(microsecond=0, tzinfo=None),
            user.email_confirmed_at and user.email_confirmed_at.replace(microsecond=0, tzinfo=None),
            user.is_active,
        )
    )
    return salted_hmac("accounts.tokens.state", value, algorithm="sha256").hexdigest()[:32]


def make_token(user, *, purpose: str = SIGN_UP, email: str = "") -> str:
    payload = [user.pk, state_of(user, purpose)] + ([email] if email else [])
    return signing.dumps(payload, salt=purpose)


def read_token(token: str, *, purpose: str = SIGN_UP) -> Token:
    max_age = settings.ACCOUNT_CONFIRMATION_DAYS * 24 * 3600
    try:
        value = signing.loads(token, salt=purpose, max_age=max_age)
    except signing.SignatureExpired:
        raise TokenExpiredError from None
    except signing.BadSignature:
        raise TokenInvalidError from None
    expected = 3 if purpose == EMAIL_CHANGE else 2
    if not isinstance(value, list) or len(value) != expected:
        raise TokenInvalidError
    if not isinstance(value[0], int) or not all(isinstance(part, str) for part in value[1:]):
        raise TokenInvalidError
    return Token(*value)


def matches(token: Token, user, *, purpose: str = SIGN_UP) -> bool:
    """Whether ``user`` is still in the state the link was made for."""
    return constant_time_compare(token.state, state_of(user, purpose))
