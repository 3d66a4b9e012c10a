"""The envelope of a run's messages: who they are from, where replies and bounces go, and
how each is built (``composing``) with its recipient's unsubscribe link."""

from __future__ import annotations

from django.conf import settings
from django.core.mail.message import sanitize_address

from mailings import bounces, composing, queue, senders, unsubscribe
from mailings.models import Attempt


class Envelope:
    """What every message of one run shares: the From (the run's sender, or the operator's
    address with the owner's name), the bounce address (the operator's, or one per delivery),
    the builder, the link signer."""

    def __init__(self, *, attempt_id: int, from_header: str, reply_to: str = "") -> None:
        self.attempt_id = attempt_id
        self.builder = composing.MessageBuilder(sender=from_header)
        # Encoded once for the run, as the From is (an address's IDN domain, a name).
        self.reply_to = sanitize_address(reply_to, "utf-8") if reply_to else ""
        self.sender = composing.envelope_address(settings.DEFAULT_FROM_EMAIL)
        self.domain = self.sender.rpartition("@")[2] or "localhost"
        self.verp = bool(settings.MAILINGS_BOUNCE_ADDRESS)
        self.link_prefix = unsubscribe.link_prefix()
        self.tokens = unsubscribe.Tokens()

    @classmethod
    def for_run(cls, attempt: Attempt) -> Envelope:
        if attempt.sender_email:
            return cls(
                attempt_id=attempt.pk,
                from_header=senders.mailbox(attempt.sender_name, attempt.sender_email),
                reply_to=attempt.reply_to,
            )
        return cls.for_owner(attempt.mailing.owner, attempt_id=attempt.pk)

    @classmethod
    def for_owner(cls, owner, *, attempt_id: int) -> Envelope:
        """No sender of the run's own: the operator's address with the owner's name, and
        replies to the owner."""
        from_header = senders.default_from(owner)
        return cls(attempt_id=attempt_id, from_header=from_header, reply_to=owner.email)

    def bounce_to(self, delivery_id: int) -> str:
        """The envelope sender of one delivery's message: where its bounces go. With
        ``MAILINGS_BOUNCE_ADDRESS``, an address of its own that names the delivery, signed
        (``bounces.verp_address``); else the operator's address."""
        return bounces.verp_address(delivery_id) if self.verp else self.sender

    def compose(self, attempt: Attempt, delivery: queue.Claimed) -> bytes:
        return composing.compose(
            self.builder,
            subject=attempt.subject,
            body=attempt.body,
            html=attempt.html,
            reply_to=self.reply_to,
            full_name=delivery.full_name,
            email=delivery.email,
            unsubscribe_url=self.link_prefix + self.tokens.for_client(delivery.client_id) + "/",
            # The same delivery always has the same id: a mail client can drop a message
            # it got twice.
            message_id=f"<mailing.d{delivery.pk}.a{self.attempt_id}@{self.domain}>",
        )
