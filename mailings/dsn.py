"""Bounces mailed back: reading a delivery-status notification (RFC 3464, and the plain-text
reports of older servers), finding the delivery it is about (the signed VERP address the
message was sent from, ``bounces.verp_address``), and the bounce mailbox they arrive in (a
Maildir path or an IMAP folder). ``process`` marks what it understood and leaves the rest
where it was (docs/audiences.md, "Bounces").
"""

from __future__ import annotations

import email
import email.policy
import imaplib
import logging
import mailbox
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import Message
from email.parser import HeaderParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

from mailings import bounces
from mailings.models import Delivery

logger = logging.getLogger(__name__)

DELIVERY_STATUS = ("message/delivery-status", "message/global-delivery-status")
# Where the address a mail was delivered to is written on the way in.
RECIPIENT_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "To")
DAEMON = re.compile(r"mailer-daemon|postmaster|mail delivery (sub)?system", re.IGNORECASE)
FAILURE = re.compile(
    r"could not be delivered|undeliverable|delivery (status notification \(failure\)|"
    r"has failed|to the following recipients? failed)|failure notice|returned mail|"
    r"permanent (error|failure)|address(es)? failed",
    re.IGNORECASE,
)
# Where a plain-text report stops describing and starts quoting the message it returns.
QUOTED = re.compile(
    r"^(-+ ?this is a copy of|-+ ?below this line is a copy|-+ ?original message|"
    r"\s*-+ ?the header of the original message)",
    re.IGNORECASE | re.MULTILINE,
)

MARKED = "marked"  # a bounce of one of our deliveries: marked (or known already)
IGNORED = "ignored"  # about one of our deliveries, but nothing to do (delayed, policy)
UNKNOWN = "unknown"  # not a bounce we can read, or not about a delivery of ours: left alone


@dataclass
class Recipient:
    address: str = ""
    action: str = "failed"
    status: str = ""
    diagnostic: str = ""


@dataclass
class Report:
    delivery_id: int | None
    recipients: list[Recipient] = field(default_factory=list)

    def about(self, address: str) -> Recipient | None:
        """The block for ``address`` (the delivery's own), else the first that failed."""
        address = address.lower()
        for recipient in self.recipients:
            if recipient.address.lower() == address:
                return recipient
        failed = [r for r in self.recipients if r.action == "failed"]
        return (failed or self.recipients or [None])[0]


def _text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if payload is None:
        payload = part.get_payload()
        return payload if isinstance(payload, str) else ""
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, "replace")
    except LookupError:  # "unicode-1-1-utf-7" and other names Python does not know
        return payload.decode("utf-8" if charset.endswith("utf-8") else "latin-1", "replace")


def _field(block: Message, name: str) -> str:
    value = str(block.get(name, "") or "")
    value = " ".join(value.split())  # unfolded
    return value.split(";", 1)[1].strip() if ";" in value and name != "Action" else value


def _status_blocks(part: Message) -> list[Message]:
    """The header blocks of a delivery-status part: Python splits ``delivery-status``
    itself; ``global-delivery-status`` (RFC 6533, UTF-8) is split here."""
    payload = part.get_payload()
    if part.get_content_type() == "message/delivery-status" and isinstance(payload, list):
        return payload
    # Read as one embedded message, its text is the blocks.
    text = "\n".join(m.as_string() for m in payload) if isinstance(payload, list) else _text(part)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return [HeaderParser().parsestr(block) for block in re.split(r"\n\s*\n", text) if block]


def _recipients(message: Message) -> list[Recipient]:
    found = []
    for part in message.walk():
        if part.get_content_type() not in DELIVERY_STATUS:
            continue
        for block in _status_blocks(part)[1:]:  # the first block is about the message
            address = _field(block, "Final-Recipient") or _field(block, "Original-Recipient")
            if not address:
                continue
            found.append(
                Recipient(
                    address=address.strip("<>"),
                    action=_field(block, "Action").lower() or "failed",
                    status=_field(block, "Status"),
                    diagnostic=_field(block, "Diagnostic-Code"),
                )
            )
    return found


def _plain_report(message: Message) -> list[Recipient]:
    """Servers that write no delivery-status part (Exim's classic report, qmail, old
    Gmail): a report from the mail system whose text says the mail failed."""
    sender = f"{message.get('From', '')} {message.get('Return-Path', '')}"
    null_sender = str(message.get("Return-Path", "")).strip() == "<>"
    failed_header = str(message.get("X-Failed-Recipients", "") or "")
    if not (DAEMON.search(sender) or null_sender):
        return []  # a person's auto-reply, or anything else
    body = ""
    for part in message.walk():
        if part.get_content_maintype() == "text" and not part.is_multipart():
            body = _text(part)
            break
    subject = str(message.get("Subject", "") or "")
    if not (failed_header or FAILURE.search(subject) or FAILURE.search(body)):
        return []
    quoted = QUOTED.search(body)
    described = " ".join((body[: quoted.start()] if quoted else body).split())
    code = bounces.enhanced_code(described) or ""
    addresses = [a.strip() for a in failed_header.replace("\n", " ").split(",") if a.strip()]
    return [
        Recipient(address=a, status=code, diagnostic=described[:1000]) for a in addresses or [""]
    ]


def parse(raw: bytes) -> Report | None:
    """The report in a mail, or None if it is not a bounce (an auto-reply, a read receipt,
    a complaint report, anything else)."""
    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    report_type = (message.get_param("report-type") or "").lower()
    if message.get_content_type() == "multipart/report" and report_type not in (
        "delivery-status",
        "global-delivery-status",
    ):
        return None  # disposition-notification (read receipt), feedback-report (complaint)
    recipients = _recipients(message) or _plain_report(message)
    if not recipients:
        return None
    return Report(delivery_id=_delivery_id(message, raw), recipients=recipients)


def _delivery_id(message: Message, raw: bytes) -> int | None:
    """The delivery named by a signed VERP address: where the report was delivered, else
    anywhere in it (the returned message's Return-Path)."""
    for name in RECIPIENT_HEADERS:
        for value in message.get_all(name, []):
            found = bounces.delivery_of(str(value))
            if found is not None:
                return found
    return bounces.delivery_of(raw.decode("utf-8", "replace"))


def handle(raw: bytes) -> str:
    """Read one mail from the bounce mailbox and mark what it reports. ``MARKED``,
    ``IGNORED`` or ``UNKNOWN`` (see above)."""
    try:
        report = parse(raw)
    except Exception:  # a mail no parser expected: left for a person to read
        logger.exception("bounce mailbox: a mail could not be read")
        return UNKNOWN
    if report is None or report.delivery_id is None:
        return UNKNOWN
    delivery = Delivery.objects.filter(pk=report.delivery_id).only("pk", "email").first()
    if delivery is None:
        return IGNORED  # a signed address of a run deleted since
    recipient = report.about(delivery.email)
    kind = bounces.classify(recipient.status, recipient.diagnostic, action=recipient.action)
    if kind not in (bounces.HARD, bounces.SOFT):
        return IGNORED
    status = f"{recipient.status} " if recipient.status else ""
    reason = f"bounced ({kind}): {status}{recipient.diagnostic}".strip()
    bounces.mark({delivery.pk: kind}, reason={delivery.pk: reason})
    return MARKED


@dataclass
class Tally:
    marked: int = 0
    ignored: int = 0
    unknown: int = 0

    def add(self, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)


def process(location: str, *, limit: int = 1000) -> Tally:
    """Read up to ``limit`` mails of the bounce mailbox: a Maildir path, or
    ``imap(s)://user:password@host[:port]/folder``. What was marked or ignored moves to
    the mailbox's ``processed`` folder; what could not be read stays where it was."""
    tally = Tally()
    if location.startswith(("imap://", "imaps://")):
        for raw, done in _imap(location, limit):
            outcome = handle(raw)
            tally.add(outcome)
            if outcome != UNKNOWN:
                done()
    else:
        for raw, done in _maildir(Path(location), limit):
            outcome = handle(raw)
            tally.add(outcome)
            if outcome != UNKNOWN:
                done()
    return tally


def _maildir(path: Path, limit: int) -> Iterator[tuple[bytes, Callable[[], None]]]:
    box = mailbox.Maildir(path, factory=None, create=False)
    try:
        processed = box.get_folder("processed")
    except mailbox.NoSuchMailboxError:
        processed = box.add_folder("processed")
    for number, key in enumerate(list(box.iterkeys())):
        if number >= limit:
            return
        raw = box.get_bytes(key)

        def done(key=key, raw=raw) -> None:
            processed.add(raw)
            box.discard(key)

        yield raw, done


def _imap(url: str, limit: int) -> Iterator[tuple[bytes, Callable[[], None]]]:
    parts = urlsplit(url)
    client_class = imaplib.IMAP4_SSL if parts.scheme == "imaps" else imaplib.IMAP4
    folder = unquote(parts.path.lstrip("/")) or "INBOX"
    port = parts.port or (993 if parts.scheme == "imaps" else 143)
    with client_class(parts.hostname, port, timeout=30) as imap:
        imap.login(unquote(parts.username or ""), unquote(parts.password or ""))
        imap.create("processed")  # answers NO if it exists: fine
        imap.select(_quoted(folder))
        _typ, data = imap.uid("SEARCH", None, "ALL")
        uids = (data[0] or b"").split()[:limit]
        for uid in uids:
            _typ, fetched = imap.uid("FETCH", uid, "(BODY.PEEK[])")
            raw = next((item[1] for item in fetched if isinstance(item, tuple)), None)
            if raw is None:
                continue

            def done(uid=uid) -> None:
                # Deleted only once its copy is in "processed": never lost.
                answer, detail = imap.uid("COPY", uid, "processed")
                if answer != "OK":
                    raise imaplib.IMAP4.error(f"could not move a read mail to processed: {detail}")
                imap.uid("STORE", uid, "+FLAGS", r"(\Deleted)")

            yield raw, done
        imap.expunge()


def _quoted(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'
