"""The ledger of a run: what became of each delivery, and the run's own row (its counts, its
status, when it may be handed out again). Every write to a run's row is one of the named
functions here. How the counts are kept: docs/sending.md, "Ledger".
"""

from __future__ import annotations

import enum
import logging
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Case, Count, Exists, F, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from mailings import bounces, replies, sql
from mailings.models import Attempt, Delivery, Mailing

logger = logging.getLogger(__name__)


class Step(enum.StrEnum):
    """Where a worker left a run."""

    DONE = "done"  # nothing left to send
    MORE = "more"  # the time budget ran out: call again
    LATER = "later"  # waiting for a retry or another worker's lease: the tick comes back
    PAUSED = "paused"  # the mailing was disabled or its owner blocked


def lease_end(now: datetime) -> datetime:
    """How long a worker holds what it claimed (a run, a chunk of deliveries)."""
    return now + timedelta(seconds=settings.MAILINGS_LEASE_SECONDS)


def backoff(tries: int) -> float:
    """Seconds before try number ``tries + 1``: exponential, capped, with full jitter."""
    ceiling = min(
        settings.MAILINGS_RETRY_BASE_DELAY * 2 ** max(tries - 1, 0),
        settings.MAILINGS_RETRY_MAX_DELAY,
    )
    return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not secrecy


@dataclass
class Result:
    delivery_id: int
    outcome: replies.Outcome
    tries: int


@dataclass
class Tally:
    """Results written to deliveries, not yet added to the run's counts: added once per
    chunk and at least every second, not at every flush (two workers on one run would queue
    for its row). A worker that dies first leaves them to the recount at pick-up or end."""

    sent: int = 0
    failed: int = 0
    skipped: int = 0
    problem: str | None = None
    added_at: float = field(default_factory=time.monotonic)

    def add_to(self, attempt_id: int) -> None:
        counts = {"sent": self.sent, "failed": self.failed, "skipped": self.skipped}
        changes = {name: F(name) + n for name, n in counts.items() if n}
        if self.problem:
            changes["server_response"] = self.problem
        if changes:
            # Not once the run has ended: its final recount already holds these.
            Attempt.objects.filter(pk=attempt_id, status=Attempt.Status.IN_PROGRESS).update(
                **changes
            )
        self.sent = self.failed = self.skipped = 0
        self.problem = None
        self.added_at = time.monotonic()


def record(results: list[Result], tally: Tally) -> None:
    """Write a batch of results to their deliveries in one statement, and tally what changed
    for the run's counts. Only deliveries still pending are written (a late duplicate worker
    cannot undo a result), so the counts grow by exactly the rows that changed."""
    if not results:
        return
    now = timezone.now()
    max_tries = settings.MAILINGS_MAX_TRIES
    rows = []
    for result in results:
        outcome = result.outcome
        retry = outcome.kind == replies.TEMPORARY and result.tries < max_tries
        status = Delivery.Status.SENT if outcome.sent else Delivery.Status.FAILED
        if retry:
            status = Delivery.Status.PENDING
        rows.append(
            (
                result.delivery_id,
                status,
                outcome.code,
                outcome.describe(),
                result.tries,
                now if outcome.sent else None,
                now + timedelta(seconds=backoff(result.tries)) if retry else None,
            )
        )
    written = Counter(  # one statement: atomic by itself
        sql.update_rows(
            Delivery,
            ("status", "smtp_code", "response", "tries", "sent_at", "available_at"),
            rows,
            only_if={"status": Delivery.Status.PENDING},
            returning="status",
        )
    )
    tally.sent += written[Delivery.Status.SENT]
    tally.failed += written[Delivery.Status.FAILED]
    bounces.from_results(results)  # a refusal that says the address is dead suppresses it
    last_problem = next((r.outcome for r in reversed(results) if not r.outcome.sent), None)
    if last_problem is not None:
        tally.problem = last_problem.describe()


def skip(skips: dict[int, str], tally: Tally) -> None:
    """Deliveries not to send after all, in one statement (id -> why: the client left)."""
    if not skips:
        return
    written = sql.update_rows(
        Delivery,
        ("status", "response", "available_at"),
        [(pk, Delivery.Status.SKIPPED, reason, None) for pk, reason in skips.items()],
        only_if={"status": Delivery.Status.PENDING},
        returning="status",
    )
    tally.skipped += len(written)


def give_up(attempt_id: int, failure: replies.Outcome) -> None:
    """The mail server will not take the run's messages: its pending deliveries fail."""
    Delivery.objects.filter(attempt_id=attempt_id, status=Delivery.Status.PENDING).update(
        status=Delivery.Status.FAILED,
        smtp_code=failure.code,
        response=failure.describe() + " (gave up)",
        available_at=None,
    )
    Attempt.objects.filter(pk=attempt_id).update(server_response=failure.describe())


def open_run(*, mailing_id: int, slot: datetime, now: datetime) -> Attempt:
    """A new run of a mailing for ``slot``, held by whoever opens it."""
    return Attempt.objects.create(
        mailing_id=mailing_id, scheduled_for=slot, available_at=lease_end(now)
    )


def open_runs(slots: list[tuple[int, datetime]], *, now: datetime) -> list[int]:
    """New runs for (mailing id, slot) pairs in one statement; a slot that already has its
    run is skipped, not doubled. Returns the ids of the new runs."""
    return sql.insert_rows(
        Attempt, ("mailing", "scheduled_for"), slots, values={"available_at": lease_end(now)}
    )


def hand_out(attempt_ids: list[int], *, now: datetime) -> None:
    """Runs given to workers again (their lease ran out), for a new lease."""
    Attempt.objects.filter(pk__in=attempt_ids).update(available_at=lease_end(now))


RUN_COPIES_MESSAGE = {"subject": "subject", "body": "text", "html": "html"}  # run: message
RUN_COPIES_SENDER = {"sender_name": "name", "sender_email": "email", "reply_to": "reply_to"}


def start_try(attempt_id: int) -> None:
    """A worker takes the run up: stamp the try, fix what the run sends (message, sender)
    unless fixed, and recount, in one statement: two workers fix the same version."""
    mailing = Mailing.objects.filter(pk=OuterRef("mailing_id"))
    sender = mailing.filter(sender__confirmed_at__isnull=False)  # none: senders.default_from

    def fixed(field: str, rows, path: str):
        out = Attempt._meta.get_field(field)
        copy = Coalesce(Subquery(rows.values(path)[:1]), Value(""), output_field=out)
        return Case(When(Q(subject=""), then=copy), default=F(field), output_field=out)

    Attempt.objects.filter(pk=attempt_id).update(
        attempted_at=timezone.now(),
        **{f: fixed(f, mailing, f"message__{p}") for f, p in RUN_COPIES_MESSAGE.items()},
        **{f: fixed(f, sender, f"sender__{p}") for f, p in RUN_COPIES_SENDER.items()},
        **_recount(),
    )


def renew_lease(attempt_id: int, *, now: datetime, held_until: datetime | None) -> datetime | None:
    """Keep the run held while a worker sends it; returns when its lease now ends. Renewed
    when half of it is gone, not at every claim: workers sharing a run would all write it."""
    half_gone = lease_end(now) - timedelta(seconds=settings.MAILINGS_LEASE_SECONDS / 2)
    if held_until is not None and held_until >= half_gone:
        return held_until
    until = lease_end(now)
    Attempt.objects.filter(
        Q(available_at__isnull=True) | Q(available_at__lt=half_gone), pk=attempt_id
    ).update(available_at=until, attempted_at=now)
    return until


def make_available(mailing_ids, *, now: datetime) -> int:
    """The unfinished runs of these mailings may be handed out at once (a mailing enabled
    again, an owner unblocked), not when the lease of their pause runs out. How many."""
    return Attempt.objects.filter(
        mailing_id__in=mailing_ids, status=Attempt.Status.IN_PROGRESS
    ).update(available_at=now)


def postpone(attempt_id: int, until: datetime, response: str | None = None) -> None:
    """Nothing to do before ``until`` (a retry, a paused mailing, an open breaker)."""
    changes = {"available_at": until, **({"server_response": response} if response else {})}
    Attempt.objects.filter(pk=attempt_id, status=Attempt.Status.IN_PROGRESS).update(**changes)


def retry_later(attempt_id: int, until: datetime, response: str) -> None:
    """One more connection failure of the run: it waits until ``until``."""
    Attempt.objects.filter(pk=attempt_id, status=Attempt.Status.IN_PROGRESS).update(
        retries=F("retries") + 1, available_at=until, server_response=response
    )


def reopen_failed(attempt_id: int, *, now: datetime) -> int:
    """Put a finished run's failed deliveries back to pending and the run in progress, for
    one more try through the engine. Returns how many; the caller holds the run's lock."""
    count = Delivery.objects.filter(attempt_id=attempt_id, status=Delivery.Status.FAILED).update(
        status=Delivery.Status.PENDING, available_at=None
    )
    if count:
        Attempt.objects.filter(pk=attempt_id).update(
            status=Attempt.Status.IN_PROGRESS,
            finished_at=None,
            retries=0,
            available_at=lease_end(now),
            **_recount(),
        )
    return count


def recount(attempt_id: int) -> None:
    Attempt.objects.filter(pk=attempt_id).update(**_recount())


def _recount() -> dict:
    """The run's counts as subqueries over its deliveries, for an UPDATE of the run."""

    def count(**filters):
        deliveries = Delivery.objects.filter(attempt_id=OuterRef("pk"), **filters)
        number = deliveries.order_by().values("attempt_id").annotate(n=Count("pk")).values("n")
        return Coalesce(Subquery(number), 0)

    return {
        "total": count(),
        "sent": count(status=Delivery.Status.SENT),
        "failed": count(status=Delivery.Status.FAILED),
        "skipped": count(status=Delivery.Status.SKIPPED),
    }


def finish_or_wait(attempt_id: int) -> Step:
    """No deliveries to claim now: the run is over, or some wait for a retry or a lease."""
    now = timezone.now()
    waiting = Delivery.objects.filter(attempt_id=attempt_id, status=Delivery.Status.PENDING)
    if waiting.exists():
        next_at = waiting.order_by("available_at").values_list("available_at", flat=True).first()
        postpone(attempt_id, max(next_at or now, now))
        return Step.LATER
    # Recount and end in one statement, only if the run is still open. Another worker's
    # counts that arrive later are not added (Tally.add_to): the recount already has them.
    failed = Exists(
        Delivery.objects.filter(attempt_id=OuterRef("pk"), status=Delivery.Status.FAILED)
    )
    ended = Attempt.objects.filter(pk=attempt_id, status=Attempt.Status.IN_PROGRESS).update(
        **_recount(),
        status=Case(
            When(failed, then=Value(Attempt.Status.FAILURE)), default=Value(Attempt.Status.SUCCESS)
        ),
        finished_at=now,
        available_at=None,
        # A run that ended well says so, whatever went wrong on the way (a retried
        # connection); one that ended with failures keeps the server's last word.
        server_response=Case(
            When(~failed, then=Value("250 all messages accepted")),
            default=F("server_response"),
            output_field=Attempt._meta.get_field("server_response"),
        ),
    )
    if ended:
        counts = Attempt.objects.values_list("sent", "failed", "skipped", "total")
        logger.info(
            "attempt %s finished: %s sent, %s failed, %s skipped of %s",
            *(attempt_id, *counts.get(pk=attempt_id)),
        )
    return Step.DONE
