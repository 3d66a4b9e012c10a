"""A development SMTP server that accepts every message and keeps it as a file.

``manage.py mailsink`` runs it for ``make run`` so that sign-up confirmations, test sends and
mailings can be read under ``var/mail/`` without a real mail server.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path

logger = logging.getLogger("mailsink")


class MailSinkHandler:
    """aiosmtpd handler: one ``.eml`` file and one log line per accepted message."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd's name
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode("utf-8", "surrogateescape")
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        path = self.directory / f"{stamp}-{uuid.uuid4().hex[:8]}.eml"
        path.write_bytes(content)
        subject = message_from_bytes(content, policy=default_policy).get("Subject", "")
        logger.info(
            "stored %s from=%s to=%s subject=%r",
            path.name,
            envelope.mail_from,
            ",".join(envelope.rcpt_tos),
            str(subject),
        )
        return "250 Message accepted for delivery"
