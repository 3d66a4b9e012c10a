"""Talking to the mail server: one connection for many messages, a timeout on every call, and
every failure classified (``mailings/replies.py`` says what each reply means). No Django
models here; the sending engine decides what to record.
"""

from __future__ import annotations

import re
import smtplib
import ssl
from dataclasses import dataclass

import idna

from mailings.replies import (
    AMBIGUOUS,
    FATAL,
    PERMANENT,
    SENT,
    TEMPORARY_CONNECTION,
    Outcome,
    classify_code,
    classify_exception,
    reply_text,
    timed_out,
)

CRLF = b"\r\n"
# Addresses that can go on a command line as they are (anything else takes smtplib's path).
PLAIN_ADDRESS = re.compile(r"[\x21-\x3b\x3d\x3f-\x7e]+")


@dataclass(frozen=True)
class ServerConfig:
    host: str
    port: int
    username: str = ""
    password: str = ""
    use_tls: bool = False
    use_ssl: bool = False
    timeout: float = 10.0

    @property
    def key(self) -> str:
        return f"{self.host}:{self.port}"

    @classmethod
    def from_settings(cls, settings) -> ServerConfig:
        """The mail server Django's settings name (``EMAIL_*``)."""
        return cls(
            host=settings.EMAIL_HOST,
            port=settings.EMAIL_PORT,
            username=settings.EMAIL_HOST_USER,
            password=settings.EMAIL_HOST_PASSWORD,
            use_tls=settings.EMAIL_USE_TLS,
            use_ssl=settings.EMAIL_USE_SSL,
            timeout=settings.EMAIL_TIMEOUT,
        )


class UnsupportedAddressError(ValueError):
    """An address this server cannot be given (it fails that recipient only)."""


class ConnectionFailedError(Exception):
    """The server cannot take messages now (or ever, if ``outcome.kind`` is FATAL)."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.reply)
        self.outcome = outcome


class Connection:
    """One SMTP session. ``send`` reports each message's outcome; a broken session raises
    ``ConnectionFailedError`` and must be closed."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.smtp: smtplib.SMTP | None = None
        self.pipelining = False
        # The envelope already sent behind the previous message, its replies not yet read.
        self.announced: tuple[str, str] | None = None

    def __enter__(self) -> Connection:
        self.open()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def open(self) -> None:
        config = self.config
        try:
            smtp_class = smtplib.SMTP_SSL if config.use_ssl else smtplib.SMTP
            smtp = smtp_class(config.host, config.port, timeout=config.timeout)
            try:
                smtp.ehlo_or_helo_if_needed()
                if config.use_tls:
                    smtp.starttls(context=ssl.create_default_context())
                    smtp.ehlo()
                if config.username:
                    smtp.login(config.username, config.password)
            except BaseException:
                smtp.close()
                raise
        except Exception as exc:
            outcome = classify_exception(exc)
            if isinstance(exc, smtplib.SMTPAuthenticationError):
                outcome = Outcome(FATAL, exc.smtp_code, reply_text(exc.smtp_error))
            raise ConnectionFailedError(outcome) from exc
        self.smtp = smtp
        self.pipelining = smtp.does_esmtp and smtp.has_extn("pipelining")

    def close(self) -> None:
        announced, self.announced = self.announced, None
        if self.smtp is None:
            return
        if announced is not None:
            # The server waits for the text of a message that will not come: QUIT would be
            # read as that text. Dropping the connection ends the transaction unsent.
            self.smtp.close()
        else:
            try:
                self.smtp.quit()
            except Exception:  # noqa: BLE001 - the session is over either way
                self.smtp.close()
        self.smtp = None

    def abandon(self) -> None:
        """End the session now, without sending the message whose envelope went ahead."""
        self.close()

    def send(
        self,
        *,
        sender: str,
        recipient: str,
        message: bytes,
        next_recipient: str | None = None,
        next_sender: str | None = None,
    ) -> Outcome:
        """Send one message to one recipient; only a 2xx after the final dot is "sent".

        ``next_recipient`` names the next message's recipient (from ``next_sender``, by
        default the same sender). When the server offers
        PIPELINING, that message's envelope (MAIL, RCPT, DATA) goes out in the same write as
        this message's final dot (RFC 2920 allows message content first in a group), so each
        message costs one round trip. The next ``send`` must then be for that recipient:
        it reads the envelope's replies instead of sending it."""
        if self.smtp is None:
            raise RuntimeError("the connection is not open")
        announced, self.announced = self.announced, None
        if announced is not None and announced != (sender, recipient):
            raise RuntimeError(f"the envelope sent ahead was for {announced}")
        if announced is None and not recipient.isascii():
            try:
                recipient = self._wire_address(recipient)
            except UnsupportedAddressError as exc:
                return Outcome(PERMANENT, None, f"address not supported: {exc}")
        try:
            if announced is not None:
                refusal = self._envelope_replies()
            elif self.pipelining and _plain(sender) and _plain(recipient):
                self.smtp.send(_envelope_command(sender, recipient))
                refusal = self._envelope_replies()
            else:
                refusal = self._envelope(sender, recipient)
            if refusal is not None:
                return refusal
            payload = _dot_stuffed(message)
            ahead, ahead_from = next_recipient, next_sender or sender
            if ahead is not None and self.pipelining and _plain(ahead_from) and _plain(ahead):
                payload += _envelope_command(ahead_from, ahead)
                self.announced = (ahead_from, ahead)
            self.smtp.send(payload)
        except ConnectionFailedError:
            raise
        except Exception as exc:
            raise ConnectionFailedError(classify_exception(exc)) from exc
        return self._final_reply()

    def _wire_address(self, address: str) -> str:
        """A non-ASCII address as it goes on the wire: the domain in its ASCII (IDNA) form;
        a non-ASCII mailbox name only to a server that offers SMTPUTF8 (RFC 6531), else the
        address cannot be sent to here (a problem of this recipient, not of the server)."""
        local, at, domain = address.rpartition("@")
        if not at or not local:
            raise UnsupportedAddressError("no domain")
        try:
            domain = idna.encode(domain, uts46=True).decode("ascii")
        except idna.IDNAError as exc:
            raise UnsupportedAddressError(f"the domain is not a valid IDN ({exc})") from exc
        if not local.isascii() and not self.smtp.has_extn("smtputf8"):
            raise UnsupportedAddressError(
                "the mail server does not take non-ASCII mailbox names (no SMTPUTF8)"
            )
        return f"{local}@{domain}"

    def _envelope(self, sender: str, recipient: str) -> Outcome | None:
        """MAIL, RCPT and DATA one at a time. None when the server waits for the message."""
        smtp = self.smtp
        options = () if recipient.isascii() else ("SMTPUTF8",)
        code, reply = smtp.mail(sender, options)
        if code != 250:
            self._sender_refused(code, reply)
        code, reply = smtp.rcpt(recipient)
        if code not in (250, 251):
            return self._refused(code, reply)
        code, reply = smtp.docmd("data")
        if code != 354:
            return self._refused(code, reply)
        return None

    def _envelope_replies(self) -> Outcome | None:
        """The replies to a pipelined MAIL, RCPT and DATA, with the same outcomes as in
        turns. None when the server waits for the message."""
        smtp = self.smtp
        mail_code, mail_reply = smtp.getreply()
        rcpt_code, rcpt_reply = smtp.getreply()
        data_code, data_reply = smtp.getreply()
        if data_code == 354 and (mail_code != 250 or rcpt_code not in (250, 251)):
            # A server that opened DATA for no recipient: end the empty message.
            smtp.send(b".\r\n")
            smtp.getreply()
        if mail_code != 250:
            self._sender_refused(mail_code, mail_reply)
        if rcpt_code not in (250, 251):
            return self._refused(rcpt_code, rcpt_reply)
        if data_code != 354:
            return self._refused(data_code, data_reply)
        return None

    def _sender_refused(self, code: int, reply: bytes) -> None:
        """MAIL FROM refused: no message can go over this session (raises)."""
        self._reset()
        raise ConnectionFailedError(classify_code(code, reply_text(reply), per_recipient=False))

    def _final_reply(self) -> Outcome:
        """The server's answer to the final dot: only a 2xx is "sent"."""
        try:
            code, reply = self.smtp.getreply()
        except Exception as exc:
            if timed_out(exc):
                # The server has the whole message and went quiet: it may have queued it
                # (RFC 1047). Sending it again could deliver it twice.
                raise ConnectionFailedError(
                    Outcome(AMBIGUOUS, None, f"no answer after the message was sent: {exc}")
                ) from exc
            # Closed or reset instead: taken as not accepted, so it is sent again.
            raise ConnectionFailedError(classify_exception(exc)) from exc
        if 200 <= code < 300:
            return Outcome(SENT, code, reply_text(reply))
        return self._refused(code, reply, reset=False)

    def _refused(self, code: int, reply: bytes, *, reset: bool = True) -> Outcome:
        """A refusal of this message; a broken session raises instead."""
        outcome = classify_code(code, reply_text(reply), per_recipient=True)
        if outcome.kind == TEMPORARY_CONNECTION:
            raise ConnectionFailedError(outcome)
        if reset:
            self._reset()
        return outcome

    def _reset(self) -> None:
        try:
            self.smtp.rset()
        except Exception as exc:
            raise ConnectionFailedError(classify_exception(exc)) from exc


def _plain(address: str) -> bool:
    return PLAIN_ADDRESS.fullmatch(address) is not None


def _envelope_command(sender: str, recipient: str) -> bytes:
    """MAIL, RCPT and DATA in one write (RFC 2920): two round trips saved per message."""
    return f"MAIL FROM:<{sender}>\r\nRCPT TO:<{recipient}>\r\nDATA\r\n".encode()


def _dot_stuffed(message: bytes) -> bytes:
    """The DATA payload: line endings as CRLF, leading dots doubled, then the final dot."""
    text = message.replace(CRLF, b"\n").replace(b"\r", b"\n")
    if not text.endswith(b"\n"):
        text += b"\n"
    if text.startswith(b"."):
        text = b"." + text
    return text.replace(b"\n.", b"\n..").replace(b"\n", CRLF) + b"." + CRLF
