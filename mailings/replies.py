"""What a mail server's reply, or the failure to get one, means for a message.

Classification (docs/sending.md):

- ``TEMPORARY_CONNECTION``: refused, timed out, dropped, a reply that is not SMTP, 421 or
  another 4xx outside a recipient: the connection is unusable, the rest of the chunk waits and
  is retried later with backoff.
- ``TEMPORARY``: a 4xx for one recipient (greylisting, mailbox busy): that delivery is retried
  later, the others go on.
- ``PERMANENT``: a 5xx for one recipient: that delivery failed, the others go on.
- ``FATAL``: a 5xx to the sender or to authentication: no message of the run can go out,
  until an operator fixes the configuration.
- ``AMBIGUOUS``: the whole message, final dot included, was sent and the server went quiet
  until the timeout. It may have queued the message (RFC 1047); it is not sent again. A
  server that closes or resets the connection instead is taken not to have accepted it.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass

SENT = "sent"
TEMPORARY_CONNECTION = "temporary-connection"
TEMPORARY = "temporary"
PERMANENT = "permanent"
FATAL = "fatal"
AMBIGUOUS = "ambiguous"

DESCRIBED = {
    TEMPORARY: "temporary",
    TEMPORARY_CONNECTION: "temporary",
    PERMANENT: "permanent",
    FATAL: "refused",
    AMBIGUOUS: "unknown outcome, not resent",
}


@dataclass(frozen=True)
class Outcome:
    kind: str  # SENT or one of the classes above
    code: int | None
    reply: str

    @property
    def sent(self) -> bool:
        return self.kind == SENT

    def describe(self) -> str:
        """One line for the ledger: the class, the code and what the server said."""
        if self.sent:
            return self.reply[:500]
        code = f"{self.code} " if self.code else ""
        return f"{DESCRIBED.get(self.kind, self.kind)}: {code}{self.reply}"[:1000]


def reply_text(reply: bytes | str | None) -> str:
    if reply is None:
        return ""
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return " ".join(text.split())[:1000]


def classify_code(code: int | None, reply: str, *, per_recipient: bool) -> Outcome:
    if code is not None and 500 <= code < 600:
        return Outcome(PERMANENT if per_recipient else FATAL, code, reply)
    if code is not None and 400 <= code < 500 and code != 421 and per_recipient:
        return Outcome(TEMPORARY, code, reply)
    if code is None or code < 200 or code >= 600:
        reply = f"not an SMTP reply: {reply}" if reply else "no SMTP reply"
    return Outcome(TEMPORARY_CONNECTION, code if code and code > 0 else None, reply)


def classify_exception(exc: BaseException) -> Outcome:
    if isinstance(exc, smtplib.SMTPResponseException):
        return classify_code(exc.smtp_code, reply_text(exc.smtp_error), per_recipient=False)
    if isinstance(exc, ConnectionRefusedError):
        return Outcome(TEMPORARY_CONNECTION, None, f"connection refused: {exc}")
    if timed_out(exc):
        return Outcome(TEMPORARY_CONNECTION, None, "timed out waiting for the mail server")
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return Outcome(TEMPORARY_CONNECTION, None, f"connection dropped: {exc}")
    if isinstance(exc, ssl.SSLError):
        return Outcome(TEMPORARY_CONNECTION, None, f"TLS error: {exc}")
    if isinstance(exc, OSError | smtplib.SMTPException | UnicodeError | ValueError):
        return Outcome(TEMPORARY_CONNECTION, None, f"{type(exc).__name__}: {exc}")
    raise exc


def timed_out(exc: BaseException) -> bool:
    # smtplib turns a timeout while reading a reply into SMTPServerDisconnected; the
    # original error stays as its context.
    while exc is not None:
        if isinstance(exc, TimeoutError):
            return True
        exc = exc.__cause__ or exc.__context__
    return False
