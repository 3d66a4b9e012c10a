"""What happens to accounts: signing up, confirming, blocking. Views and admin call these."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from wagtail.log_actions import log

from accounts import tokens
from accounts.models import User
from mailings.services import mailings_resume

logger = logging.getLogger(__name__)


class AccountExistsError(Exception):
    """The address belongs to a confirmed account."""


class ConfirmationError(Exception):
    def __init__(self, reason: str) -> None:  # "invalid", "expired" or "used"
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class SignUpResult:
    user: User
    resent: bool
    mail_sent: bool


@transaction.atomic
def user_sign_up(*, email: str, first_name: str, last_name: str, password: str) -> SignUpResult:
    """Create an inactive account and send its confirmation link; an address still waiting
    for confirmation gets a new link (and the new name and password) instead of an error."""
    existing = User.objects.select_for_update().filter(email__iexact=email).first()
    if existing is not None and not existing.is_pending_confirmation:
        raise AccountExistsError(email)
    if existing is None:
        user = User.objects.create_user(
            email, password, first_name=first_name, last_name=last_name, is_active=False
        )
    else:
        user = existing
        user.first_name, user.last_name = first_name, last_name
        user.set_password(password)
        user.save(update_fields=["first_name", "last_name", "password"])
    return SignUpResult(user, resent=existing is not None, mail_sent=send_confirmation(user))


def send_confirmation(user: User) -> bool:
    """Mail the confirmation link; a mail server that fails is logged, never raised."""
    link = settings.SITE_URL + reverse("accounts:confirm", args=[tokens.make_token(user.pk)])
    context = {"user": user, "link": link, "days": settings.ACCOUNT_CONFIRMATION_DAYS}
    try:
        send_mail(
            subject=_("Confirm your e-mail address"),
            message=render_to_string("accounts/email/confirm.txt", context),
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[user.email],
        )
    except Exception as exc:  # noqa: BLE001 - any mail failure: the user can resend
        logger.warning("confirmation mail to %s failed: %s", user.email, exc)
        return False
    return True


@transaction.atomic
def user_confirm(*, token: str) -> User:
    try:
        user_id = tokens.read_token(token)
    except tokens.TokenExpiredError:
        raise ConfirmationError("expired") from None
    except tokens.TokenInvalidError:
        raise ConfirmationError("invalid") from None
    user = User.objects.select_for_update().filter(pk=user_id).first()
    if user is None:
        raise ConfirmationError("invalid")
    if not user.is_pending_confirmation:
        raise ConfirmationError("used")
    user.is_active = True
    user.email_confirmed_at = timezone.now()
    user.save(update_fields=["is_active", "email_confirmed_at"])
    user.groups.add(Group.objects.get(name="Users"))
    logger.info("account %s confirmed", user.email)
    return user


class BlockRefusedError(Exception):
    pass


def user_block(*, user: User, by: User) -> None:
    if user.pk == by.pk:
        raise BlockRefusedError(_("You cannot block yourself."))
    if user.is_superuser:
        raise BlockRefusedError(_("A superuser cannot be blocked."))
    if user.is_blocked:
        return
    User.objects.filter(pk=user.pk).update(is_active=False, blocked_at=timezone.now())
    # Django no longer authenticates an inactive user, so their sessions end with their
    # next request; none of their mailings is dispatched while they are inactive.
    log(user, "accounts.block", user=by, data={"email": user.email})


def user_unblock(*, user: User, by: User) -> None:
    if not user.is_blocked:
        return
    User.objects.filter(pk=user.pk).update(is_active=True, blocked_at=None)
    log(user, "accounts.unblock", user=by, data={"email": user.email})
    mailings_resume(owner=user)
