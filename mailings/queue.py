"""The delivery queue of a run: its deliveries created once, then claimed by workers a chunk
at a time. A claim is a lease: the claimed deliveries are the worker's until the lease ends,
and no other claim takes them before (SKIP LOCKED on PostgreSQL). The worker renews the lease
while it sends (``Hold.renew``), so a slow mail server never lets a delivery go to a second
worker while the first still holds it; a worker that dies stops renewing (its ``Keeper``
thread dies with it), and the next claim after the lease takes its deliveries again.

Whether a delivery may still be sent is asked again at every claim and before every flush's
messages go (``Hold.check``, or a renewal): a client who unsubscribed, left the mailing or
was deleted since the run began is skipped.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, fields
from datetime import datetime

from django.conf import settings
from django.db import DatabaseError, connection
from django.utils import timezone

from mailings import sql
from mailings.ledger import lease_end
from mailings.models import Attempt, Delivery

logger = logging.getLogger(__name__)

SKIP_REASONS = {
    "deleted": "client deleted",
    "unsubscribed": "unsubscribed",
    "bounced": "bounced",
    "removed": "removed from the mailing",
}


@dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery leased to this worker, with what sending it needs."""

    pk: int
    client_id: int | None
    email: str
    tries: int
    full_name: str
    skip_reason: str  # why it must not be sent after all, or ""


# The delivery's own fields that a claim returns, in the order of ``Claimed`` (the client's
# full name and the skip reason come last, from the client and the mailing).
CLAIMED_FIELDS = ("client", "email", "tries")
assert [f.name for f in fields(Claimed)] == [
    "pk",
    "client_id",
    "email",
    "tries",
    "full_name",
    "skip_reason",
]


def fill(attempt: Attempt) -> None:
    """Create the run's deliveries, once: one per client of the mailing, unsubscribed ones
    ``skipped``. One statement, so a crash cannot leave a run with half its recipients, and
    the recipients never travel through this process (memory stays flat for any list)."""
    if attempt.status != Attempt.Status.IN_PROGRESS or attempt.deliveries.exists():
        return
    sql.insert_deliveries(
        attempt_id=attempt.pk,
        mailing_id=attempt.mailing_id,
        pending=Delivery.Status.PENDING,
        skipped=Delivery.Status.SKIPPED,
        reasons=SKIP_REASONS,
    )


@dataclass(frozen=True)
class Renewal:
    asked: frozenset[int]  # the deliveries asked about
    held: dict[int, str]  # delivery id -> why not to send it after all (or ""), still held
    sendable: bool | None  # whether the mailing may still send (None: nothing held to ask)


class Hold:
    """Deliveries claimed by this worker and the lease it holds them under. The lease ends
    at a moment this worker set (at the claim, then at each renewal); a renewal extends it
    only where it still ends then, so a delivery another worker claimed meanwhile is never
    taken back. The send loop and its ``Keeper`` renew it in turn, never at once."""

    def __init__(self, *, mailing_id: int, until: datetime, deliveries: list[Claimed]) -> None:
        self.mailing_id = mailing_id
        self.until = until
        self.deliveries = deliveries
        self.renewed_at = self.progress_at = time.monotonic()
        self.lock = threading.Lock()

    def age(self) -> float:
        """Seconds since the lease was taken or last renewed."""
        return time.monotonic() - self.renewed_at

    def progress(self) -> None:
        """The send loop is alive and moving (before and after each message)."""
        self.progress_at = time.monotonic()

    def renew(self, ids: list[int]) -> Renewal:
        with self.lock:
            return self._ask(ids, extend=True)

    def check(self, ids: list[int]) -> Renewal:
        """What a renewal says, without extending the lease: a read, no write (the send
        loop asks before every flush; the lease itself is renewed a few times per lease)."""
        with self.lock:
            return self._ask(ids, extend=False)

    def _ask(self, ids: list[int], *, extend: bool) -> Renewal:
        until = lease_end(timezone.now()) if extend else None
        rows = sql.renew_deliveries(
            ids=ids,
            mailing_id=self.mailing_id,
            pending=Delivery.Status.PENDING,
            held_until=self.until,
            until=until,
            reasons=SKIP_REASONS,
        )
        if until is not None:
            # None still held (taken by others, or all recorded): the old moment stays the fence.
            self.until = until if rows else self.until
            self.renewed_at = time.monotonic()
        sendable = all(row[2] for row in rows) if rows else None
        return Renewal(frozenset(ids), {pk: reason for pk, reason, _ in rows}, sendable)

    def keep(self, *, stalled_after: float) -> bool:
        """The keeper's renewal: all that is still held, when a third of the lease has gone
        by without one and the send loop moved within ``stalled_after`` seconds (a loop stuck
        longer than a message can take lets its lease lapse). Never waits for the loop."""
        if not self.lock.acquire(blocking=False):
            return False
        try:
            fresh = self.age() < settings.MAILINGS_LEASE_SECONDS / 3
            stalled = time.monotonic() - self.progress_at > stalled_after
            if fresh or stalled:
                return False
            self._ask([d.pk for d in self.deliveries], extend=True)
            return True
        finally:
            self.lock.release()

    def release(self, deliveries: list[Claimed]) -> None:
        """Give back deliveries that were not tried (the connection failed first, the mailing
        was paused): claimable again at once. Only those this worker still holds."""
        if deliveries:
            with self.lock:
                Delivery.objects.filter(
                    status=Delivery.Status.PENDING,
                    available_at=self.until,
                    pk__in=[d.pk for d in deliveries],
                ).update(available_at=None)


class Keeper(threading.Thread):
    """Keeps a hold's lease while its worker lives, whatever the send loop is waiting for (a
    slow server answers within two EMAIL_TIMEOUTs): so a lease can be short, and a worker
    killed mid-run lets its deliveries go within one lease (docs/sending.md). A thread of the
    worker's own process: it dies with it."""

    def __init__(self, hold: Hold) -> None:
        super().__init__(name="lease-keeper", daemon=True)
        self.hold = hold
        self.every = max(settings.MAILINGS_LEASE_SECONDS / 6, 0.2)
        self.stalled_after = 2 * settings.EMAIL_TIMEOUT + settings.MAILINGS_LEASE_SECONDS / 3
        self.done = threading.Event()

    def __enter__(self) -> Keeper:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.done.set()

    def run(self) -> None:
        try:
            while not self.done.wait(self.every):
                try:
                    self.hold.keep(stalled_after=self.stalled_after)
                except DatabaseError as exc:  # the next round tries again
                    logger.warning("could not renew a lease: %s", exc)
        finally:
            connection.close()  # this thread's own database connection


def claim(attempt: Attempt, *, now: datetime, limit: int) -> Hold:
    """Lease up to ``limit`` of the run's next pending deliveries to this worker (none that
    another worker holds, none waiting for a retry), in id order."""
    until = lease_end(now)
    rows = sql.claim_deliveries(
        attempt_id=attempt.pk,
        mailing_id=attempt.mailing_id,
        pending=Delivery.Status.PENDING,
        now=now,
        until=until,
        limit=limit,
        returning=CLAIMED_FIELDS,
        reasons=SKIP_REASONS,
    )
    deliveries = sorted((Claimed(*row) for row in rows), key=lambda d: d.pk)
    return Hold(mailing_id=attempt.mailing_id, until=until, deliveries=deliveries)


def claim_size(seconds_per_message: float | None) -> int:
    """How many deliveries to claim: a chunk, or fewer when the mail server is so slow that
    a chunk could not be sent within half a lease (the renewals keep the lease anyway; a
    smaller claim leaves more of the run to other workers)."""
    chunk = settings.MAILINGS_CHUNK_SIZE
    if not seconds_per_message:
        return chunk
    fits = int(settings.MAILINGS_LEASE_SECONDS / 2 / seconds_per_message)
    return max(1, min(chunk, fits))
