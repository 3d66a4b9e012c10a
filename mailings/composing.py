"""Turning a message into the e-mail one recipient gets: placeholders filled, headers set,
bytes built. No sending here: the engine (``sending``) sends what ``compose`` builds, for a
run and for "send a test to me" alike, so a test is the same bytes a client receives.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from email.charset import QP, Charset
from email.header import Header
from email.utils import formatdate, parseaddr
from html import escape

from django.conf import settings
from django.core.mail.message import sanitize_address

from mailings.placeholders import fill

SAMPLE_NAME = "Jane Sample"
SAMPLE_EMAIL = "jane.sample@example.com"

MAX_LINE = 998  # RFC 5322: longer lines go quoted-printable, as Django does
QP_CHARSET = Charset("utf-8")
QP_CHARSET.body_encoding = QP
# Addresses that go into a header as they are (anything else takes Django's sanitizer).
SIMPLE_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+")


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str
    html: str = ""


def recipient_values(*, full_name: str, email: str, unsubscribe_url: str) -> dict[str, str]:
    return {"full_name": full_name, "email": email, "unsubscribe_url": unsubscribe_url}


def render(*, subject: str, body: str, values: dict[str, str], html: str = "") -> Rendered:
    """One recipient's subject, text and HTML (values escaped there) from the templates."""
    # A filled-in value may hold a line break (a client's name); a subject may not.
    filled_subject = " ".join(fill(subject, values).splitlines())
    filled_html = fill(html, {k: escape(v) for k, v in values.items()}) if html else ""
    return Rendered(subject=filled_subject, body=fill(body, values), html=filled_html)


def envelope_address(sender: str) -> str:
    """The bare address of a ``Name <address>`` sender, for MAIL FROM."""
    return parseaddr(sender)[1] or sender


class MessageBuilder:
    """The bytes of one recipient's e-mail: what Django's ``EmailMessage(...).message()``
    gives (tests/test_composing.py parses both and compares), built in a few microseconds.

    Django's e-mail classes run every header through the ``email`` package's folding, which
    cost more per message than the SMTP conversation (docs/benchmarks.md). Here the sender is
    encoded once per run, and a header goes through ``email.header`` only when it needs it
    (non-ASCII or longer than a line)."""

    def __init__(self, *, sender: str) -> None:
        self.from_value = sanitize_address(sender, settings.DEFAULT_CHARSET)
        self.localtime = settings.EMAIL_USE_LOCALTIME

    def build(
        self, *, to: str, subject: str, body: str, headers: dict[str, str], html: str = ""
    ) -> bytes:
        """Plain text alone, or (with ``html``) ``multipart/alternative``: text, then HTML."""
        to_value = to if SIMPLE_ADDRESS.fullmatch(to) else sanitize_address(to, "utf-8")
        if html:
            boundary = f"=_{secrets.token_hex(16)}"
            content_head = [
                f'Content-Type: multipart/alternative; boundary="{boundary}"',
                "MIME-Version: 1.0",
            ]
            dash = f"--{boundary}".encode()
            parts = [_part("plain", body), _part("html", html)]
            payload = b"".join(dash + b"\r\n" + part + b"\r\n" for part in parts) + dash + b"--\r\n"
        else:
            encoding, payload = _encoded(body)
            content_head = [
                'Content-Type: text/plain; charset="utf-8"',
                "MIME-Version: 1.0",
                f"Content-Transfer-Encoding: {encoding}",
            ]
        lines = [
            *content_head,
            _header("Subject", subject),
            _header("From", self.from_value),
            _header("To", to_value),
            f"Date: {formatdate(localtime=self.localtime)}",
            *(_header(name, value) for name, value in headers.items()),
        ]
        head = "\r\n".join(lines).encode("ascii")
        return head + b"\r\n\r\n" + payload


def _encoded(text: str) -> tuple[str, bytes]:
    """A text part's transfer encoding and its bytes, lines ending in CRLF: 7 or 8 bits as
    it is, quoted-printable when a line is longer than RFC 5322 allows."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    payload = text.encode("utf-8")
    if max(map(len, payload.split(b"\n"))) > MAX_LINE:  # counted in C, not in a loop
        return "quoted-printable", QP_CHARSET.body_encode(text).encode("ascii").replace(
            b"\n", b"\r\n"
        )
    return ("7bit" if payload.isascii() else "8bit"), payload.replace(b"\n", b"\r\n")


def _part(subtype: str, text: str) -> bytes:
    encoding, payload = _encoded(text)
    head = (
        f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
        f"Content-Transfer-Encoding: {encoding}\r\n\r\n"
    )
    return head.encode("ascii") + payload


def compose(
    builder: MessageBuilder,
    *,
    subject: str,
    body: str,
    full_name: str,
    email: str,
    unsubscribe_url: str,
    message_id: str,
    to: str | None = None,
    html: str = "",
    reply_to: str = "",
) -> bytes:
    """One recipient's e-mail: placeholders filled (in the text, and escaped in the HTML of
    a composed message), with the one-click unsubscribe headers (RFC 8058) every message
    carries. ``to`` (default: ``email``) is the address it goes to, for a test that shows a
    client's values to the sender."""
    rendered = render(
        subject=subject,
        body=body,
        html=html,
        values=recipient_values(full_name=full_name, email=email, unsubscribe_url=unsubscribe_url),
    )
    return builder.build(
        to=to or email,
        subject=rendered.subject,
        body=rendered.body,
        html=rendered.html,
        headers={
            "Message-ID": message_id,
            **({"Reply-To": reply_to} if reply_to else {}),
            "List-Unsubscribe": f"<{unsubscribe_url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )


def _header(name: str, value: str) -> str:
    if "\n" in value or "\r" in value:
        raise ValueError(f"{name} holds a line break")  # a header cannot be smuggled in
    line = f"{name}: {value}"
    if line.isascii() and (len(line) <= 78 or " " not in value):
        return line  # short, or nowhere to fold (a link)
    charset = "us-ascii" if value.isascii() else "utf-8"
    return f"{name}: " + Header(value, charset, header_name=name).encode(linesep="\r\n")
