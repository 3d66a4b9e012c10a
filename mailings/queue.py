"""The delivery queue of a run: its deliveries created once, then claimed by workers a chunk
at a time. A claim is a lease: the claimed deliveries are the worker's until the lease ends,
and no other claim takes them before (SKIP LOCKED on PostgreSQL); a worker that dies loses
them when the lease runs out, and the next claim takes them again.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime

from django.conf import settings

from mailings import sql
from mailings.ledger import lease_end
from mailings.models import Attempt, Delivery

SKIPPED_UNSUBSCRIBED = "unsubscribed"


@dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery leased to this worker, with what sending it needs."""

    pk: int
    client_id: int
    email: str
    tries: int
    full_name: str


# The delivery's own fields that a claim returns, in the order of ``Claimed`` (the client's
# full name comes last, from the client).
CLAIMED_FIELDS = ("client", "email", "tries")
assert [f.name for f in fields(Claimed)] == ["pk", "client_id", "email", "tries", "full_name"]


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
        skip_reason=SKIPPED_UNSUBSCRIBED,
    )


def claim(attempt_id: int, *, now: datetime) -> list[Claimed]:
    """Lease the run's next pending deliveries to this worker (none that another worker
    holds, none waiting for a retry), in id order."""
    rows = sql.claim_deliveries(
        attempt_id=attempt_id,
        pending=Delivery.Status.PENDING,
        now=now,
        until=lease_end(now),
        limit=settings.MAILINGS_CHUNK_SIZE,
        returning=CLAIMED_FIELDS,
    )
    return sorted((Claimed(*row) for row in rows), key=lambda d: d.pk)


def release(attempt_id: int, deliveries: list[Claimed]) -> None:
    """Give back claimed deliveries that were not tried (the connection failed first)."""
    if deliveries:
        Delivery.objects.filter(
            attempt_id=attempt_id, status=Delivery.Status.PENDING, pk__in=[d.pk for d in deliveries]
        ).update(available_at=None)
