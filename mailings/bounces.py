"""Bounces: what a refusal says about the recipient's address, and what it does to the
client (docs/audiences.md, "Bounces").

A refusal comes either during the SMTP conversation (the ledger hands each failed result
here) or later, in a delivery-status notification read from the bounce mailbox
(``dsn.py``). Either way it is classified the same:

- ``HARD``: the address does not exist or cannot take mail (5.1.1 user unknown, 5.1.10 null
  MX, …). The client is *bounced* at once: later runs skip them until the owner reactivates
  them.
- ``SOFT``: a problem that may pass (4.x.x given up on, 5.2.2 mailbox full). Counted on the
  delivery; ``MAILINGS_SOFT_BOUNCE_LIMIT`` of a client's latest deliveries in a row all
  soft-bounced make the client bounced too.
- ``POLICY``: refused for the sender or the message (5.7.x spam, block lists, DMARC, size):
  not the recipient's fault, never suppresses.
- ``NONE``: nothing to do (delayed, delivered, not a refusal).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.conf import settings
from django.db.models import OuterRef, Subquery
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from mailings import replies
from mailings.models import Client, Delivery

HARD = "hard"
SOFT = "soft"
POLICY = "policy"
NONE = ""

# RFC 3463 enhanced status codes, the first in a text.
ENHANCED = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
# Recipient-permanent (RFC 3463 §3): bad mailbox, bad system, bad syntax, moved, null MX;
# 5.4.4: no route to the domain (does not exist); 5.2.1: disabled.
HARD_CODES = {"5.1.1", "5.1.2", "5.1.3", "5.1.6", "5.1.10", "5.4.4", "5.2.1"}
# Persistent but maybe transient: the mailbox is full.
SOFT_CODES = {"5.2.2", "4.2.2"}
# What a server says when the mailbox does not exist, whatever code it gives (Outlook.com's
# "550 5.5.0 mailbox unavailable", Yahoo's "552 1 mailbox not found", qmail's "no mailbox").
UNKNOWN_USER = re.compile(
    r"user unknown|unknown user|no such (user|mailbox|recipient)|mailbox (not found|unavailable"
    r"|does not exist)|recipient (not found|unknown|address rejected: user)|does not exist"
    r"|recipientnotfound|invalid (recipient|mailbox)|no mailbox here"
    r"|account (is )?disabled|account has been disabled",
    re.IGNORECASE,
)
# Exchange Online's directory-based edge blocking: "5.4.1 Recipient address rejected: Access
# denied. AS(201806281)" means the recipient does not exist.
EXCHANGE_NOT_FOUND = re.compile(r"access denied\. ?as\(\d+\)", re.IGNORECASE)
# Refusals about the sender or the message, whatever code they carry.
ABOUT_US = re.compile(
    r"spam|block ?list|blacklist|blocked|dmarc|spf|dkim|reputation|policy|too large|"
    r"message size|content rejected",
    re.IGNORECASE,
)
FULL = re.compile(r"quota|mailbox (is )?full|over ?quota|insufficient storage", re.IGNORECASE)


VERP_SALT = "mailings.bounces.verp"
# bounces+<delivery id in base 36>-<16 hex digits of signature>@domain: lower case only (some
# servers fold case), no "=" (VERP and SRS use it), 64 octets at most for the local part.
VERP = re.compile(r"\+([0-9a-z]{1,13})-([0-9a-f]{16})@", re.IGNORECASE)


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if not number:
            return out


def _signature(token: str, secret: str | None = None) -> str:
    return salted_hmac(VERP_SALT, token, secret=secret, algorithm="sha256").hexdigest()[:16]


def verp_address(delivery_id: int) -> str:
    """The envelope sender of one delivery's message: a bounce mailed back to it names the
    delivery, and nobody without the secret key can make up one that does."""
    local, _at, domain = settings.MAILINGS_BOUNCE_ADDRESS.partition("@")
    token = _base36(delivery_id)
    return f"{local.partition('+')[0]}+{token}-{_signature(token)}@{domain}"


def delivery_of(text: str) -> int | None:
    """The delivery a VERP address found in ``text`` names, if its signature holds (under the
    secret key or one of its fallbacks); None for none or a forged one."""
    for match in VERP.finditer(text or ""):
        token, signature = match.group(1).lower(), match.group(2).lower()
        secrets = [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]
        if any(constant_time_compare(signature, _signature(token, key)) for key in secrets):
            return int(token, 36)
    return None


def enhanced_code(text: str) -> str | None:
    match = ENHANCED.search(text or "")
    return ".".join(match.groups()) if match else None


def classify(status: str | None, diagnostic: str = "", *, action: str = "failed") -> str:
    """The kind of a refusal from its status code (``5.1.1``; or one found in the
    diagnostic when the status is missing or says only ``X.0.0``) and the server's text."""
    action = (action or "failed").strip().lower()
    if action not in ("failed", ""):
        return NONE  # delayed, delivered, relayed, expanded
    code = (status or "").strip().split(" ")[0]
    if not ENHANCED.fullmatch(code) or code.endswith(".0.0"):
        code = enhanced_code(diagnostic) or code
    text = diagnostic or ""
    if code in SOFT_CODES or FULL.search(text):
        return SOFT
    if code in HARD_CODES or EXCHANGE_NOT_FOUND.search(text):
        return HARD
    if ABOUT_US.search(text):
        return POLICY
    if UNKNOWN_USER.search(text):
        return HARD
    if code.startswith(("5.7.", "5.6.", "5.3.4", "5.2.3")):
        return POLICY
    if code.startswith("4."):
        return SOFT
    return NONE


def of_reply(outcome: replies.Outcome, *, last_try: bool) -> str:
    """The kind of a failed delivery from the server's reply during the conversation: a 5xx
    for this recipient, or a 4xx it kept giving until the last try."""
    if outcome.kind == replies.PERMANENT:
        kind = classify(enhanced_code(outcome.reply), outcome.reply)
        return kind if kind else (HARD if UNKNOWN_USER.search(outcome.reply) else NONE)
    if outcome.kind == replies.TEMPORARY and last_try:
        return SOFT
    return NONE


def from_results(results: Iterable) -> None:
    """The ledger's results (``delivery_id``, ``outcome``, ``tries``) that bounced."""
    last = settings.MAILINGS_MAX_TRIES
    found = {}
    for result in results:
        if not result.outcome.sent:
            kind = of_reply(result.outcome, last_try=result.tries >= last)
            if kind in (HARD, SOFT):
                found[result.delivery_id] = kind
    if found:
        mark(found)


def mark(kinds: dict[int, str], *, reason: dict[int, str] | None = None) -> int:
    """Mark failed or sent deliveries as bounced (id -> ``HARD`` or ``SOFT``; a delivery
    bounces once) and suppress their clients as the rules say. ``reason`` (id -> text)
    replaces the delivery's own server reply as the client's reason. How many deliveries."""
    now = timezone.now()
    changed = 0
    for kind in (HARD, SOFT):
        ids = [pk for pk, k in kinds.items() if k == kind]
        if not ids:
            continue
        rows = Delivery.objects.filter(
            pk__in=ids,
            bounce="",
            status__in=[Delivery.Status.SENT, Delivery.Status.FAILED],
        )
        for pk, text in (reason or {}).items():
            if pk in ids:
                rows.filter(pk=pk).update(response=text[:1000])
        changed += rows.update(bounce=kind)
        if kind == HARD:
            suppress(Delivery.objects.filter(pk__in=ids).values("client_id"), now)
        else:
            _soft_streaks(ids, now)
    return changed


def suppress(client_ids, now) -> int:
    """These clients are bounced (the reason: their latest bounced delivery's reply)."""
    latest = (
        Delivery.objects.filter(client_id=OuterRef("pk"))
        .exclude(bounce="")
        .order_by("-pk")
        .values("response")[:1]
    )
    return Client.objects.filter(pk__in=client_ids, bounced_at__isnull=True).update(
        bounced_at=now, bounce_reason=Subquery(latest)
    )


def _soft_streaks(delivery_ids: list[int], now) -> None:
    """Clients whose latest ``MAILINGS_SOFT_BOUNCE_LIMIT`` deliveries that went out (or
    failed) all soft-bounced. Soft bounces are few: one query per client is fine."""
    limit = settings.MAILINGS_SOFT_BOUNCE_LIMIT
    client_ids = set(
        Delivery.objects.filter(pk__in=delivery_ids, client__isnull=False).values_list(
            "client_id", flat=True
        )
    )
    streaked = []
    for client_id in client_ids:
        latest = list(
            Delivery.objects.filter(
                client_id=client_id, status__in=[Delivery.Status.SENT, Delivery.Status.FAILED]
            )
            .order_by("-pk")
            .values_list("bounce", flat=True)[:limit]
        )
        if len(latest) >= limit and all(b == SOFT for b in latest):
            streaked.append(client_id)
    if streaked:
        suppress(streaked, now)


def reactivate(clients) -> int:
    """The owner says the address works again: runs send to these clients once more."""
    return clients.filter(bounced_at__isnull=False).update(bounced_at=None, bounce_reason="")
