"""Writing a batch of delivery results in one statement (see ``mailings.bulk``), guarded by
``status = 'pending'``; it returns the statuses it actually wrote, so the run's counts can grow
by exactly that."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from mailings import bulk
from mailings.models import Delivery

FIELDS = ("status", "smtp_code", "response", "tries", "sent_at", "lease_until")


@dataclass(frozen=True)
class DeliveryResult:
    pk: int
    status: str
    smtp_code: int | None
    response: str
    tries: int
    sent_at: datetime | None
    lease_until: datetime | None


def write_results(rows: list[DeliveryResult]) -> Counter:
    """Write each row to its delivery if that delivery is still pending. Returns how many
    rows were written per new status."""
    written = bulk.update_rows(
        Delivery,
        FIELDS,
        [(r.pk, *(getattr(r, name) for name in FIELDS)) for r in rows],
        only_if={"status": Delivery.Status.PENDING},
        returning="status",
    )
    return Counter(written)
