"""The send loop: one run of a mailing (an attempt) worked through a chunk at a time, and the
policy for each kind of failure. Listmonk's "pipe": the scheduler tick (``dispatching``)
finds the work, this module does it, the queue (``queue``) hands out deliveries and the ledger
(``ledger``) records what became of them.

``work`` claims a chunk of pending deliveries, sends it over one SMTP session, marks a
delivery ``sent`` only after the server's 2xx to the final dot, and writes results in bulk
every few messages. Several workers can share a run. A recipient gets a message twice only if
a worker dies between sending and writing its results (at most one flush, docs/sending.md).
"""

from __future__ import annotations

import itertools
import logging
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from mailings import composing, ledger, queue, replies, smtp, unsubscribe
from mailings.envelope import Envelope
from mailings.guards import CircuitBreaker, RateLimiter
from mailings.ledger import Step
from mailings.models import Attempt, Message

logger = logging.getLogger(__name__)


def prepare(attempt_id: int) -> None:
    """A worker takes up a run: its deliveries exist (created once), the try is stamped and
    what the run sends is fixed."""
    queue.fill(Attempt.objects.get(pk=attempt_id))
    ledger.start_try(attempt_id)


def work(attempt_id: int, *, budget: float | None = None) -> Step:
    """Send the run's pending deliveries until none is left to claim or ``budget`` seconds
    have passed."""
    budget = settings.MAILINGS_WORK_BUDGET if budget is None else budget
    deadline = time.monotonic() + budget
    config = smtp.ServerConfig.from_settings(settings)
    breaker = CircuitBreaker(
        config.key,
        threshold=settings.MAILINGS_BREAKER_THRESHOLD,
        cooldown=settings.MAILINGS_BREAKER_COOLDOWN,
    )
    limiter = RateLimiter(settings.MAILINGS_RATE_LIMIT)
    pace: float | None = None  # seconds per message at the last chunk
    envelope: Envelope | None = None  # what a run sends is fixed when it starts: built once
    may_send = Exists(Attempt.objects.sendable().filter(pk=OuterRef("pk")))
    while True:
        attempt = (
            Attempt.objects.select_related("mailing__owner")
            .annotate(may_send=may_send)
            .get(pk=attempt_id)
        )
        if attempt.status != Attempt.Status.IN_PROGRESS:
            return Step.DONE
        now = timezone.now()
        if not attempt.may_send:
            return pause(attempt_id)
        envelope = envelope or Envelope.for_run(attempt)
        state = breaker.allow()
        if state.open:
            retry_at = datetime.fromtimestamp(state.retry_at, tz=timezone.get_current_timezone())
            ledger.postpone(attempt_id, retry_at)
            return Step.LATER
        hold = queue.claim(attempt, now=now, limit=queue.claim_size(pace))
        if not hold.deliveries:
            return ledger.finish_or_wait(attempt_id)
        attempt.available_at = ledger.renew_lease(
            attempt_id, now=now, held_until=attempt.available_at
        )
        started = time.monotonic()
        end = send_chunk(attempt, hold, envelope, config, limiter)
        if end.sent:
            pace = (time.monotonic() - started) / end.sent
        if end.paused:
            return pause(attempt_id)
        if end.failure is None:
            breaker.success()
        else:
            if end.failure.kind == replies.TEMPORARY_CONNECTION:
                breaker.failure()
            return after_connection_failure(attempt, end.failure)
        if time.monotonic() >= deadline:
            return Step.MORE


def pause(attempt_id: int) -> Step:
    """The mailing was disabled or its owner blocked: the run waits (enabling it again
    makes it available at once, ``services.mailing_set_enabled``)."""
    ledger.postpone(attempt_id, ledger.lease_end(timezone.now()), "paused: mailing disabled")
    return Step.PAUSED


@dataclass
class ChunkEnd:
    sent: int = 0  # messages handed to the server (whatever it answered)
    failure: replies.Outcome | None = None  # the session-level failure that stopped the chunk
    paused: bool = False  # the mailing may no longer send


def send_chunk(
    attempt: Attempt,
    hold: queue.Hold,
    envelope: Envelope,
    config: smtp.ServerConfig,
    limiter: RateLimiter,
) -> ChunkEnd:
    """Send claimed deliveries over one SMTP session; every message's result is recorded
    whatever happens. Every few messages (a flush, or a third of the lease) the results
    are written and the hold renewed, which also says what may still go: a delivery whose
    client left is skipped, one this worker no longer holds is dropped, and a mailing that
    may no longer send stops the chunk."""
    flush_every = settings.MAILINGS_FLUSH_EVERY
    renew_every = settings.MAILINGS_LEASE_SECONDS / 3
    end = ChunkEnd()
    tally = ledger.Tally()
    ledger.skip({d.pk: d.skip_reason for d in hold.deliveries if d.skip_reason}, tally)
    pending = deque(d for d in hold.deliveries if not d.skip_reason)
    results: list[ledger.Result] = []
    try:
        with queue.Keeper(hold), smtp.Connection(config) as session:
            upcoming = (pending[0].pk, envelope.compose(attempt, pending[0])) if pending else None
            while pending:
                if len(results) >= flush_every or hold.age() >= renew_every:
                    ledger.record(results, tally)
                    results = []
                    if time.monotonic() - tally.added_at >= 1:
                        tally.add_to(attempt.pk)
                    pending, end.paused = renew(attempt, hold, pending, session, tally)
                    if end.paused or not pending:
                        break
                delivery = pending[0]
                if upcoming is None or upcoming[0] != delivery.pk:
                    upcoming = (delivery.pk, envelope.compose(attempt, delivery))
                raw = upcoming[1]
                limiter.wait()
                hold.progress()
                # The next message is built first, so that its envelope can travel with
                # this one's final dot: announced, it must follow.
                after = pending[1] if len(pending) > 1 else None
                upcoming = (after.pk, envelope.compose(attempt, after)) if after else None
                outcome = session.send(
                    sender=envelope.bounce_to(delivery.pk),
                    recipient=delivery.email,
                    message=raw,
                    next_recipient=after.email if after else None,
                    next_sender=envelope.bounce_to(after.pk) if after else None,
                )
                pending.popleft()
                end.sent += 1
                results.append(ledger.Result(delivery.pk, outcome, delivery.tries + 1))
    except smtp.ConnectionFailedError as exc:
        end.failure = exc.outcome
        if end.failure.kind == replies.AMBIGUOUS and pending:
            # The message in flight may have been accepted: never send it again.
            results.append(ledger.Result(pending[0].pk, end.failure, pending[0].tries + 1))
            pending.popleft()
        logger.warning("attempt %s: mail server failure: %s", attempt.pk, end.failure.reply)
    ledger.record(results, tally)
    tally.add_to(attempt.pk)
    hold.release(list(pending))
    return end


def renew(
    attempt: Attempt,
    hold: queue.Hold,
    pending: deque[queue.Claimed],
    session: smtp.Connection,
    tally: ledger.Tally,
) -> tuple[deque[queue.Claimed], bool]:
    """Ask whether what the next flush sends may still go (renewing the hold on all that is
    left when a third of the lease has gone by); returns what may still go, and whether the
    mailing was paused. The delivery whose envelope is already on its way (pipelining) goes
    out with this flush unless it is no longer this worker's or the mailing was paused:
    then the session is abandoned, which the server takes as no message."""
    if hold.age() >= settings.MAILINGS_LEASE_SECONDS / 3:
        renewal = hold.renew([d.pk for d in pending])
    else:  # only what the next flush sends: the rest is asked before its own turn
        renewal = hold.check(
            [d.pk for d in itertools.islice(pending, settings.MAILINGS_FLUSH_EVERY)]
        )
    attempt.available_at = ledger.renew_lease(
        attempt.pk, now=timezone.now(), held_until=attempt.available_at
    )
    announced = session.announced is not None
    if renewal.sendable is False or (announced and pending[0].pk not in renewal.held):
        session.abandon()
        return deque(pending), renewal.sendable is False
    kept: deque[queue.Claimed] = deque()
    skips = {}
    for index, delivery in enumerate(pending):
        if delivery.pk not in renewal.asked:
            kept.append(delivery)
            continue
        if delivery.pk not in renewal.held:
            continue  # another worker's now: its lease ran out here
        reason = renewal.held[delivery.pk]
        if reason and not (index == 0 and announced):
            skips[delivery.pk] = reason
        else:
            kept.append(delivery)
    ledger.skip(skips, tally)
    return kept, False


def after_connection_failure(attempt: Attempt, failure: replies.Outcome) -> Step:
    """The session broke: go on at once (an ambiguous message is recorded), wait and retry
    with backoff, or, after the last try or a refusal that no retry mends, give up."""
    if failure.kind == replies.AMBIGUOUS:
        return Step.MORE
    if failure.kind == replies.FATAL or attempt.retries + 1 >= settings.MAILINGS_MAX_TRIES:
        ledger.give_up(attempt.pk, failure)
        return ledger.finish_or_wait(attempt.pk)
    delay = timedelta(seconds=ledger.backoff(attempt.retries + 1))
    ledger.retry_later(attempt.pk, timezone.now() + delay, failure.describe())
    return Step.LATER


@dataclass(frozen=True)
class SendTestResult:
    ok: bool
    detail: str  # the address it went to, or why it did not go


def send_test(
    *, message: Message, to: str, full_name: str, email: str | None = None
) -> SendTestResult:
    """Send a test to me: the message as a run would build it (placeholders, headers, the
    unsubscribe link of a recipient), through the same SMTP session code; never raises.
    ``full_name`` and ``email`` (default: ``to``) fill the placeholders."""
    envelope = Envelope.for_owner(message.owner, attempt_id=0)
    raw = composing.compose(
        envelope.builder,
        subject=message.subject,
        body=message.text,
        html=message.html,
        reply_to=envelope.reply_to,
        full_name=full_name,
        email=email or to,
        to=to,
        unsubscribe_url=unsubscribe.example_url(),
        message_id=f"<mailing.test.m{message.pk}.{time.time_ns()}@{envelope.domain}>",
    )
    try:
        with smtp.Connection(smtp.ServerConfig.from_settings(settings)) as session:
            outcome = session.send(sender=envelope.sender, recipient=to, message=raw)
    except smtp.ConnectionFailedError as exc:
        outcome = exc.outcome
    if outcome.sent:
        return SendTestResult(True, to)
    logger.warning("test send to %s failed: %s", to, outcome.describe())
    return SendTestResult(False, outcome.describe() or _("no answer from the mail server"))
