"""What happens to accounts: signing up, confirming, resetting a password, changing the
address, blocking. Views and admin call these; the mails go out through the worker.

Sign-up answers the same whatever the address: a new one gets a confirmation link, one
waiting for confirmation gets the link again (its password and name stay those of the first
sign-up, so a stranger cannot take over an account before its owner confirms it), and one
with an account gets a note saying so. Nothing on the page tells them apart."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.contrib.auth.models import Group
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from wagtail.log_actions import log

from accounts import tasks, tokens
from accounts.models import User
from accounts.throttling import password_reset_throttle
from mailings.services import mailings_resume
from mailings.tasks import enqueue_on_commit

logger = logging.getLogger(__name__)


class ConfirmationError(Exception):
    def __init__(self, reason: str) -> None:  # "invalid", "expired", "used" or "taken"
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class SignUpResult:
    email: str
    mail_queued: bool  # False: the broker refused the mail; the user should resend later


def mail_later(task, *args) -> bool:
    """Hand a mail to the worker once the rows it reads are committed. Returns False when
    the broker refused it (logged); inside an outer transaction the task is published when
    that commits, and success is assumed."""
    language = translation.get_language()  # the mail speaks the language of the page
    return enqueue_on_commit(task, *args, language)


def user_sign_up(*, email: str, first_name: str, last_name: str, password: str) -> SignUpResult:
    with transaction.atomic():
        user = User.objects.select_for_update().filter(email__iexact=email).first()
        if user is None:
            try:
                with transaction.atomic():
                    user = User.objects.create_user(
                        email, password, first_name=first_name, last_name=last_name, is_active=False
                    )
            except (IntegrityError, ValidationError):
                # A sign-up for the same address got there first: answer as for that one.
                user = User.objects.filter(email__iexact=email).first()
                if user is None:
                    raise
            else:
                logger.info("account %s signed up", user.email)
    if user.is_pending_confirmation:
        task = tasks.send_confirmation
    elif user.is_active:
        task = tasks.send_signup_notice
    else:  # blocked: nothing to send, and nothing to say about it
        return SignUpResult(email=email, mail_queued=True)
    return SignUpResult(email=email, mail_queued=mail_later(task, user.pk))


def confirmation_resend(*, email: str) -> bool:
    """Send the link again if ``email`` is waiting for confirmation; says only whether the
    broker took what there was to send."""
    user = User.objects.filter(email__iexact=email).first()
    if user is None or not user.is_pending_confirmation:
        return True
    return mail_later(tasks.send_confirmation, user.pk)


def _read(token: str, purpose: str) -> tuple[tokens.Token, User | None]:
    try:
        read = tokens.read_token(token, purpose=purpose)
    except tokens.TokenExpiredError:
        raise ConfirmationError("expired") from None
    except tokens.TokenInvalidError:
        raise ConfirmationError("invalid") from None
    return read, User.objects.select_for_update().filter(pk=read.user_id).first()


def _pending_for(token: str) -> User:
    read, user = _read(token, tokens.SIGN_UP)
    if user is None:
        raise ConfirmationError("invalid")
    if not user.is_pending_confirmation:
        raise ConfirmationError("used")
    if not tokens.matches(read, user):
        raise ConfirmationError("invalid")
    return user


@transaction.atomic
def confirmation_check(*, token: str) -> User:
    """The account a sign-up link would confirm; changes nothing (a GET, or a link scanner,
    must not confirm)."""
    return _pending_for(token)


@transaction.atomic
def user_confirm(*, token: str) -> User:
    user = _pending_for(token)
    user.is_active = True
    user.email_confirmed_at = timezone.now()
    user.save(update_fields=["is_active", "email_confirmed_at"])
    user.groups.add(Group.objects.get(name="Users"))
    logger.info("account %s confirmed", user.email)
    return user


def password_reset_request(*, email: str, client: str) -> None:
    """Mail a reset link to the active account at ``email``, if any, through the worker.
    Throttled per address typed and per client: past the limit nothing is sent, and the
    answer stays the same (it must not tell whether the account exists)."""
    throttle = password_reset_throttle()
    identities = {"account": email, "address": client}
    if throttle.blocked(**identities):
        logger.info("password reset for %s refused: too many requests", email)
        return
    throttle.hit(**identities)
    for user in User.objects.filter(email__iexact=email, is_active=True):
        if user.has_usable_password():
            mail_later(tasks.send_password_reset, user.pk)


class EmailTakenError(Exception):
    pass


def email_change_request(*, user: User, new_email: str) -> bool:
    """Mail a link to ``new_email``; the address changes only when it is followed. A change
    of case alone is the same mailbox and needs no proof."""
    if User.objects.filter(email__iexact=new_email).exclude(pk=user.pk).exists():
        raise EmailTakenError(new_email)
    if new_email.casefold() == user.email.casefold():
        if new_email != user.email:
            user.email = new_email
            user.save(update_fields=["email"])
        return True
    logger.info("account %s asked to change its address", user.email)
    return mail_later(tasks.send_email_change, user.pk, new_email)


def _email_change_for(token: str) -> tuple[User, str]:
    read, user = _read(token, tokens.EMAIL_CHANGE)
    if user is None or not tokens.matches(read, user, purpose=tokens.EMAIL_CHANGE):
        raise ConfirmationError("invalid")
    if User.objects.filter(email__iexact=read.email).exclude(pk=user.pk).exists():
        raise ConfirmationError("taken")
    return user, read.email


@transaction.atomic
def email_change_check(*, token: str) -> tuple[User, str]:
    return _email_change_for(token)


@transaction.atomic
def email_change_confirm(*, token: str) -> User:
    user, new_email = _email_change_for(token)
    old_email, user.email = user.email, new_email
    user.save(update_fields=["email"])
    log(user, "wagtail.edit", user=user, data={"email": new_email, "old_email": old_email})
    logger.info("account %s changed its address to %s", old_email, new_email)
    return user


class BlockRefusedError(Exception):
    pass


def _end_sessions(user: User) -> int:
    """Delete the user's sessions, so that unblocking later does not bring them back.
    Sessions are in the database; their data is encoded, so each live one is read."""
    ended = [
        session.pk
        for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator(
            chunk_size=500
        )
        if session.get_decoded().get("_auth_user_id") == str(user.pk)
    ]
    Session.objects.filter(pk__in=ended).delete()
    return len(ended)


def block_refusal(*, user: User, by: User) -> str:
    """Why ``by`` may not block ``user`` ('' if they may): asked before the confirmation."""
    if user.pk == by.pk:
        return _("You cannot block yourself.")
    if user.is_superuser:
        return _("A superuser cannot be blocked.")
    return ""


@transaction.atomic
def user_block(*, user: User, by: User) -> None:
    if refusal := block_refusal(user=user, by=by):
        raise BlockRefusedError(refusal)
    user = User.objects.select_for_update().get(pk=user.pk)
    if user.is_blocked:
        return
    changes = {"is_active": False, "blocked_at": timezone.now()}
    if user.is_active and user.email_confirmed_at is None:
        # An account that could sign in without a confirmation (made by an administrator)
        # counts as confirmed: unblocking gives it back its access, and only that.
        changes["email_confirmed_at"] = changes["blocked_at"]
    User.objects.filter(pk=user.pk).update(**changes)
    _end_sessions(user)
    log(user, "accounts.block", user=by, data={"email": user.email})


@transaction.atomic
def user_unblock(*, user: User, by: User) -> None:
    user = User.objects.select_for_update().get(pk=user.pk)
    if not user.is_blocked:
        return
    # An account blocked while waiting for confirmation goes back to waiting.
    confirmed = user.email_confirmed_at is not None
    User.objects.filter(pk=user.pk).update(is_active=confirmed, blocked_at=None)
    log(user, "accounts.unblock", user=by, data={"email": user.email})
    if confirmed:
        mailings_resume(owner=user)
