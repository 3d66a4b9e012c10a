"""One run of a mailing (an attempt): its deliveries, the SMTP conversation, the ledger.

``prepare`` creates one delivery per client in bulk (unsubscribed clients are ``skipped``).
``work`` then claims pending deliveries a chunk at a time (several workers can share a run:
a claim is a lease, taken with SKIP LOCKED), sends each chunk over one SMTP connection,
marks a delivery ``sent`` only after the server's 2xx to the final dot, and writes results
in bulk every few messages. The attempt's counts and status are kept current.

Everything here is idempotent: running it twice, or two workers at once, sends nothing
twice; a crashed worker's claimed deliveries are claimed again when their lease runs out.
The rules for each kind of failure are in docs/sending.md.
"""

from __future__ import annotations

import logging
import random
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Case, Count, Exists, F, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from mailings import bulk, composing, smtp
from mailings.models import Attempt, Client, Delivery, Mailing
from mailings.throttling import CircuitBreaker, RateLimiter
from mailings.unsubscribe import Signer

logger = logging.getLogger(__name__)

DONE, MORE, LATER, PAUSED = "done", "more", "later", "paused"


def server_config() -> smtp.ServerConfig:
    return smtp.ServerConfig(
        host=settings.EMAIL_HOST,
        port=settings.EMAIL_PORT,
        username=settings.EMAIL_HOST_USER,
        password=settings.EMAIL_HOST_PASSWORD,
        use_tls=settings.EMAIL_USE_TLS,
        use_ssl=settings.EMAIL_USE_SSL,
        timeout=settings.EMAIL_TIMEOUT,
    )


def backoff(tries: int) -> float:
    """Seconds before try number ``tries + 1``: exponential, capped, with full jitter."""
    ceiling = min(
        settings.MAILINGS_RETRY_BASE_DELAY * 2 ** max(tries - 1, 0),
        settings.MAILINGS_RETRY_MAX_DELAY,
    )
    return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not secrecy


def unsubscribe_url_prefix() -> str:
    """The unsubscribe link without its token (resolved once, not per message)."""
    url = settings.SITE_URL + reverse("unsubscribe", args=["token"])
    assert url.endswith("/token/")
    return url[: -len("token/")]


# --- Preparing a run -------------------------------------------------------------------------


def prepare(attempt_id: int) -> Attempt:
    """Create the run's deliveries (once) and stamp the try."""
    attempt = Attempt.objects.get(pk=attempt_id)
    if attempt.status == Attempt.Status.IN_PROGRESS and not attempt.deliveries.exists():
        _create_deliveries(attempt)
    Attempt.objects.filter(pk=attempt.pk).update(attempted_at=timezone.now())
    refresh(attempt.pk)
    attempt.refresh_from_db()
    return attempt


def _create_deliveries(attempt: Attempt) -> None:
    """One delivery per client of the mailing, in one ``INSERT … SELECT``: the recipients
    never travel through this process (memory stays flat for any list), and one statement
    is all or nothing, so a crash cannot leave a run with half its recipients. Unsubscribed
    clients are skipped with the reason; a second prepare of the same run adds nothing."""
    quote = connection.ops.quote_name
    deliveries, _, *targets = _names(
        Delivery, "attempt", "client", "email", "status", "response", "tries"
    )
    clients, pk, email, unsubscribed_at, full_name = _names(
        Client, "email", "unsubscribed_at", "full_name"
    )
    link = Mailing._meta.get_field("clients")
    through = quote(link.remote_field.through._meta.db_table)
    unsubscribed = f"c.{unsubscribed_at} IS NOT NULL"
    sql = (
        f"INSERT INTO {deliveries} ({', '.join(targets)}) "  # noqa: S608
        f"SELECT %s, c.{pk}, c.{email}, CASE WHEN {unsubscribed} THEN %s ELSE %s END, "
        f"CASE WHEN {unsubscribed} THEN %s ELSE '' END, 0 "
        f"FROM {clients} AS c INNER JOIN {through} AS m "
        f"ON m.{quote(link.m2m_reverse_name())} = c.{pk} "
        f"WHERE m.{quote(link.m2m_column_name())} = %s "
        f"ORDER BY c.{full_name}, c.{email}, c.{pk} ON CONFLICT DO NOTHING"
    )
    params = [
        attempt.pk,
        Delivery.Status.SKIPPED,
        Delivery.Status.PENDING,
        "unsubscribed",
        attempt.mailing_id,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


# --- Working through a run -------------------------------------------------------------------


@dataclass
class Result:
    delivery_id: int
    outcome: smtp.Outcome
    tries: int


@dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery leased to this worker, with what sending it needs."""

    pk: int
    client_id: int
    email: str
    tries: int
    full_name: str


@dataclass
class Chunk:
    deliveries: list[Claimed]
    results: list[Result] = field(default_factory=list)


def work(attempt_id: int, *, budget: float | None = None) -> str:
    """Send the run's pending deliveries until none is left to claim or ``budget`` seconds
    have passed. Returns DONE, MORE (call again), LATER (retry at the attempt's lease) or
    PAUSED (the mailing was disabled or its owner blocked)."""
    budget = settings.MAILINGS_WORK_BUDGET if budget is None else budget
    deadline = time.monotonic() + budget
    config = server_config()
    breaker = CircuitBreaker(
        config.key,
        threshold=settings.MAILINGS_BREAKER_THRESHOLD,
        cooldown=settings.MAILINGS_BREAKER_COOLDOWN,
    )
    limiter = RateLimiter(settings.MAILINGS_RATE_LIMIT)
    while True:
        attempt = Attempt.objects.select_related("mailing__message", "mailing__owner").get(
            pk=attempt_id
        )
        if attempt.status != Attempt.Status.IN_PROGRESS:
            return DONE
        mailing = attempt.mailing
        if not (mailing.is_enabled and mailing.owner.is_active):
            _postpone(attempt_id, settings.MAILINGS_LEASE_SECONDS, "paused: mailing disabled")
            return PAUSED
        state = breaker.allow()
        if state.open:
            retry_at = datetime.fromtimestamp(state.retry_at, tz=timezone.get_current_timezone())
            _postpone_until(attempt_id, retry_at, attempt.server_response)
            return LATER
        chunk = claim(attempt_id, attempt.lease_until)
        if not chunk.deliveries:
            return finish_or_wait(attempt_id)
        failure = send_chunk(attempt, chunk, config, limiter)
        if failure is None:
            breaker.success()
        else:
            if failure.kind == smtp.TEMPORARY_CONNECTION:
                breaker.failure()
            return _after_connection_failure(attempt_id, failure)
        if time.monotonic() >= deadline:
            return MORE


def claim(attempt_id: int, run_lease_until: datetime | None) -> Chunk:
    """Lease the next pending deliveries to this worker (none that another worker holds),
    in one statement that also returns what sending them needs."""
    now = timezone.now()
    lease = timedelta(seconds=settings.MAILINGS_LEASE_SECONDS)
    rows = _lease_pending(attempt_id, now, now + lease, settings.MAILINGS_CHUNK_SIZE)
    if rows and (run_lease_until is None or run_lease_until < now + lease / 2):
        # Renew the run's lease when half of it is gone, not at every claim: workers
        # sharing a run would otherwise all write its row.
        Attempt.objects.filter(
            Q(lease_until__isnull=True) | Q(lease_until__lt=now + lease / 2), pk=attempt_id
        ).update(lease_until=now + lease, attempted_at=now)
    return Chunk(sorted((Claimed(*row) for row in rows), key=lambda d: d.pk))


def _lease_pending(attempt_id: int, now: datetime, until: datetime, limit: int) -> list[tuple]:
    """``UPDATE … WHERE id IN (the next free pending ids, FOR UPDATE SKIP LOCKED) RETURNING``
    the fields of ``Claimed``: one round trip instead of select, update and load (the ORM
    cannot return rows from an UPDATE). Table and column names come from the models."""
    table, pk, attempt, status, lease, client_id, email, tries = _names(
        Delivery, "attempt", "status", "lease_until", "client", "email", "tries"
    )
    clients, client_pk, full_name = _names(Client, "full_name")
    skip_locked = connection.features.has_select_for_update_skip_locked
    sql = (
        f"UPDATE {table} SET {lease} = %s WHERE {pk} IN ("  # noqa: S608
        f"SELECT {pk} FROM {table} WHERE {attempt} = %s AND {status} = %s"
        f" AND ({lease} IS NULL OR {lease} <= %s) ORDER BY {pk} LIMIT %s"
        f"{' FOR UPDATE SKIP LOCKED' if skip_locked else ''})"
        f" RETURNING {pk}, {client_id}, {email}, {tries},"
        f" (SELECT c.{full_name} FROM {clients} AS c WHERE c.{client_pk} = {table}.{client_id})"
    )
    lease_field = Delivery._meta.get_field("lease_until")
    params = [
        lease_field.get_db_prep_value(until, connection),
        attempt_id,
        Delivery.Status.PENDING,
        lease_field.get_db_prep_value(now, connection),
        limit,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _names(model, *fields: str) -> list[str]:
    """The quoted table, primary-key and ``fields`` column names of ``model``."""
    quote = connection.ops.quote_name
    meta = model._meta
    columns = [meta.pk.column, *(meta.get_field(name).column for name in fields)]
    return [quote(meta.db_table), *(quote(column) for column in columns)]


def send_chunk(
    attempt: Attempt, chunk: Chunk, config: smtp.ServerConfig, limiter: RateLimiter
) -> smtp.Outcome | None:
    """Send a claimed chunk over one connection. Returns the connection-level failure that
    stopped it, if any; every message's result is recorded either way."""
    message = attempt.mailing.message
    sender = settings.DEFAULT_FROM_EMAIL
    envelope_from = _address_of(sender)
    domain = envelope_from.rpartition("@")[2] or "localhost"
    flush_every = settings.MAILINGS_FLUSH_EVERY
    builder = composing.MessageBuilder(sender=sender)
    link_prefix = unsubscribe_url_prefix()
    signer = Signer()

    def compose(delivery: Claimed) -> bytes:
        return build(
            builder,
            message,
            delivery,
            link=link_prefix + signer.token(delivery.client_id) + "/",
            # The same delivery always has the same id: a mail client can drop a message
            # it got twice.
            message_id=f"<mailing.d{delivery.pk}.a{attempt.pk}@{domain}>",
        )

    pending = deque(chunk.deliveries)
    failure: smtp.Outcome | None = None
    tally = Tally()
    try:
        with smtp.Connection(config) as connection:
            upcoming = compose(pending[0]) if pending else b""
            while pending:
                delivery, raw = pending[0], upcoming
                limiter.wait()
                # The next message is built first, so that its envelope can travel with
                # this one's final dot: announced, it must follow.
                nxt = pending[1] if len(pending) > 1 else None
                upcoming = compose(nxt) if nxt else b""
                outcome = connection.send(
                    sender=envelope_from,
                    recipient=delivery.email,
                    message=raw,
                    then=nxt.email if nxt else None,
                )
                pending.popleft()
                chunk.results.append(Result(delivery.pk, outcome, delivery.tries + 1))
                if len(chunk.results) >= flush_every:
                    record(attempt.pk, chunk.results, tally)
                    chunk.results = []
                    if time.monotonic() - tally.added_at >= 1:
                        tally.add_to(attempt.pk)
    except smtp.ConnectionFailedError as exc:
        failure = exc.outcome
        if failure.kind == smtp.AMBIGUOUS and pending:
            # The message in flight may have been accepted: never send it again.
            chunk.results.append(Result(pending[0].pk, failure, pending[0].tries + 1))
            pending.popleft()
        logger.warning("attempt %s: mail server failure: %s", attempt.pk, failure.reply)
    record(attempt.pk, chunk.results, tally)
    chunk.results = []
    tally.add_to(attempt.pk)
    release(attempt.pk, list(pending))
    return failure


def build(
    builder: composing.MessageBuilder, message, delivery: Claimed, *, link: str, message_id: str
) -> bytes:
    rendered = composing.render(
        subject=message.subject,
        body=message.body,
        values=composing.recipient_values(
            full_name=delivery.full_name, email=delivery.email, unsubscribe_url=link
        ),
    )
    return builder.build(
        to=delivery.email,
        subject=rendered.subject,
        body=rendered.body,
        headers={
            "Message-ID": message_id,
            "List-Unsubscribe": f"<{link}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )


# --- The ledger ------------------------------------------------------------------------------


def record(attempt_id: int, results: list[Result], tally: Tally) -> None:
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
        retry = outcome.kind == smtp.TEMPORARY and result.tries < max_tries
        if outcome.sent:
            status = Delivery.Status.SENT
        elif retry:
            status = Delivery.Status.PENDING
        else:
            status = Delivery.Status.FAILED
        rows.append(
            (
                result.delivery_id,
                status,
                outcome.code,
                outcome.reply[:500] if outcome.sent else _explain(outcome),
                result.tries,
                now if outcome.sent else None,
                now + timedelta(seconds=backoff(result.tries)) if retry else None,
            )
        )
    written = Counter(  # one statement: atomic by itself
        bulk.update_rows(
            Delivery,
            ("status", "smtp_code", "response", "tries", "sent_at", "lease_until"),
            rows,
            only_if={"status": Delivery.Status.PENDING},
            returning="status",
        )
    )
    tally.sent += written[Delivery.Status.SENT]
    tally.failed += written[Delivery.Status.FAILED]
    last_problem = next((r.outcome for r in reversed(results) if not r.outcome.sent), None)
    if last_problem is not None:
        tally.problem = _explain(last_problem)


@dataclass
class Tally:
    """Results written to deliveries but not yet added to the run's counts. They are added
    once per chunk, and at least every second, rather than at every flush: two workers on one
    run would otherwise queue for its row 50 times a second. If a worker dies before adding
    them, the run is recounted from its deliveries when it is picked up again or ends."""

    sent: int = 0
    failed: int = 0
    problem: str | None = None
    added_at: float = field(default_factory=time.monotonic)

    def add_to(self, attempt_id: int) -> None:
        changes = {}
        if self.sent:
            changes["sent"] = F("sent") + self.sent
        if self.failed:
            changes["failed"] = F("failed") + self.failed
        if self.problem:
            changes["server_response"] = self.problem
        if changes:
            # Not once the run has ended: its final recount already holds these.
            Attempt.objects.filter(pk=attempt_id, status=Attempt.Status.IN_PROGRESS).update(
                **changes
            )
        self.sent = self.failed = 0
        self.problem = None
        self.added_at = time.monotonic()


def release(attempt_id: int, deliveries: list[Claimed]) -> None:
    """Give back claimed deliveries that were not tried (the connection failed first)."""
    if deliveries:
        Delivery.objects.filter(
            attempt_id=attempt_id, status=Delivery.Status.PENDING, pk__in=[d.pk for d in deliveries]
        ).update(lease_until=None)


def refresh(attempt_id: int) -> None:
    """Recount the attempt from its deliveries (one statement)."""
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


def finish_or_wait(attempt_id: int) -> str:
    """No deliveries to claim now: the run is over, or some wait for a retry or a lease."""
    now = timezone.now()
    waiting = Delivery.objects.filter(attempt_id=attempt_id, status=Delivery.Status.PENDING)
    if waiting.exists():
        next_at = waiting.order_by("lease_until").values_list("lease_until", flat=True).first()
        _postpone_until(attempt_id, max(next_at or now, now), None)
        return LATER
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
        lease_until=None,
        server_response=Case(
            When(~Q(server_response=""), then=F("server_response")),
            When(failed, then=Value("")),
            default=Value("250 all messages accepted"),
            output_field=Attempt._meta.get_field("server_response"),
        ),
    )
    if ended:
        attempt = Attempt.objects.get(pk=attempt_id)
        logger.info(
            "attempt %s finished: %s sent, %s failed, %s skipped of %s",
            attempt_id,
            attempt.sent,
            attempt.failed,
            attempt.skipped,
            attempt.total,
        )
    return DONE


def _after_connection_failure(attempt_id: int, failure: smtp.Outcome) -> str:
    if failure.kind == smtp.AMBIGUOUS:
        return MORE  # the ambiguous message is recorded; the rest can go on at once
    attempt = Attempt.objects.get(pk=attempt_id)
    if failure.kind == smtp.FATAL or attempt.retries + 1 >= settings.MAILINGS_MAX_TRIES:
        _fail_pending(attempt_id, failure)
        return finish_or_wait(attempt_id)
    delay = backoff(attempt.retries + 1)
    Attempt.objects.filter(pk=attempt_id).update(retries=F("retries") + 1)
    _postpone(attempt_id, delay, _explain(failure))
    return LATER


def _fail_pending(attempt_id: int, failure: smtp.Outcome) -> None:
    Delivery.objects.filter(attempt_id=attempt_id, status=Delivery.Status.PENDING).update(
        status=Delivery.Status.FAILED,
        smtp_code=failure.code,
        response=_explain(failure) + " (gave up)",
        lease_until=None,
    )
    Attempt.objects.filter(pk=attempt_id).update(server_response=_explain(failure))


def _postpone(attempt_id: int, seconds: float, response: str | None) -> None:
    _postpone_until(attempt_id, timezone.now() + timedelta(seconds=seconds), response)


def _postpone_until(attempt_id: int, moment: datetime, response: str | None) -> None:
    changes = {"lease_until": moment}
    if response:
        changes["server_response"] = response
    Attempt.objects.filter(pk=attempt_id, status=Attempt.Status.IN_PROGRESS).update(**changes)


def _explain(outcome: smtp.Outcome) -> str:
    prefix = {
        smtp.TEMPORARY: "temporary",
        smtp.TEMPORARY_CONNECTION: "temporary",
        smtp.PERMANENT: "permanent",
        smtp.FATAL: "refused",
        smtp.AMBIGUOUS: "unknown outcome, not resent",
    }.get(outcome.kind, outcome.kind)
    code = f"{outcome.code} " if outcome.code else ""
    return f"{prefix}: {code}{outcome.reply}"[:1000]


def _address_of(sender: str) -> str:
    from email.utils import parseaddr

    return parseaddr(sender)[1] or sender
