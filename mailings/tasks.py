"""Celery tasks: thin wrappers around the scheduler tick and the send loop. They take ids, are
idempotent, and are enqueued only after the transaction that made their work commits; a
broker that is down is logged, never raised (the next tick finds the work in the database)."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import OperationalError, transaction
from wagtail.log_actions import log

from mailings import composing, dispatching, dsn, jobs, senders, sending, subscribing
from mailings.ledger import Step
from mailings.models import Client, Message
from mailings.permissions import policy_for

logger = logging.getLogger(__name__)

DB_RETRY = {
    "autoretry_for": (OperationalError,),
    "retry_backoff": 2,
    "retry_backoff_max": 60,
    "retry_jitter": True,
    "max_retries": 5,
}
# A link mailed to an address: a mail server failure is retried with backoff (sending it twice
# is harmless).
MAIL_RETRY = {
    "ignore_result": True,
    "autoretry_for": (OSError,),
    "retry_backoff": 30,
    "retry_backoff_max": 600,
    "retry_jitter": True,
    "max_retries": 5,
}


@shared_task(name="mailings.tasks.dispatch_due", ignore_result=True, **DB_RETRY)
def dispatch_due() -> int:
    """One scheduler tick: create due runs, then hand them (and stale ones) to workers.
    If more is due than one tick takes, the next tick follows at once."""
    result = dispatching.tick()
    start_runs(result.attempt_ids)
    if result.more:
        enqueue(dispatch_due)
    return len(result.attempt_ids)


@shared_task(name="mailings.tasks.send_attempt", ignore_result=True, **DB_RETRY)
def send_attempt(attempt_id: int) -> None:
    """Prepare a run's deliveries and start its chunk workers."""
    sending.prepare(attempt_id)
    for _ in range(max(settings.MAILINGS_PARALLELISM, 1)):
        enqueue(send_chunks, attempt_id)


@shared_task(name="mailings.tasks.send_chunks", ignore_result=True, **DB_RETRY)
def send_chunks(attempt_id: int) -> str:
    """Send chunks of a run for a while; come back if there is more."""
    step = sending.work(attempt_id)
    if step == Step.MORE:
        enqueue(send_chunks, attempt_id)
    return step


@shared_task(
    name="mailings.tasks.send_test",
    ignore_result=True,
    soft_time_limit=120,
    time_limit=150,
    **DB_RETRY,
)
def send_test(message_id: int, user_id: int, client_id: int | None = None) -> bool:
    """Send a test to me, away from the web request: the result goes to the message's
    log (``mailings.test_sent`` / ``mailings.test_failed``), which the preview page shows.
    Sent at most once: a mail server that fails is reported, not retried. The placeholders
    are the client's the preview showed (one of the message owner's), else a sample's."""
    message = Message.objects.filter(pk=message_id).first()
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if message is None or user is None:
        return False
    client = (
        policy_for(Client).instances_owned_by(message.owner).filter(pk=client_id).first()
        if client_id
        else None
    )
    name, email = (
        (client.full_name, client.email) if client else (composing.SAMPLE_NAME, user.email)
    )
    result = sending.send_test(message=message, to=user.email, full_name=name, email=email)
    action = "mailings.test_sent" if result.ok else "mailings.test_failed"
    log(message, action, user=user, data={"to": user.email, "detail": result.detail})
    return result.ok


def enqueue(task, *args) -> bool:
    """Publish a task; a broker that is down is logged, not raised: the scheduler tick will
    find the work in the database and hand it out again."""
    try:
        task.apply_async(args=args, retry=True)
    except Exception as exc:  # noqa: BLE001 - any broker failure
        logger.warning("could not enqueue %s%s: %s", task.name, args, exc)
        return False
    return True


def enqueue_on_commit(task, *args) -> bool:
    """Publish once the rows the task reads are committed. Outside a transaction that is
    now, and the answer says whether the broker took it; inside one, success is assumed
    (a refusal then is logged by ``enqueue``)."""
    outcome: list[bool] = []
    transaction.on_commit(lambda: outcome.append(enqueue(task, *args)))
    return all(outcome)


def start_runs(attempt_ids: list[int], *, sync: bool = False) -> None:
    """Hand runs to the workers, or with ``sync`` send them in this process, without a
    broker (the commands' ``--sync``)."""
    for attempt_id in attempt_ids:
        if not sync:
            enqueue(send_attempt, attempt_id)
            continue
        sending.prepare(attempt_id)
        while sending.work(attempt_id, budget=3600) == Step.MORE:
            pass


@shared_task(name="mailings.tasks.send_sender_confirmation", **MAIL_RETRY)
def send_sender_confirmation(sender_id: int, language: str) -> bool:
    """The link that confirms a sender address, mailed to that address (a mail server
    failure is retried with backoff; sending it twice is harmless)."""
    return senders.send_confirmation(sender_id, language=language)


@shared_task(name="mailings.tasks.process_bounces", ignore_result=True, **DB_RETRY)
def process_bounces() -> None:
    """Read the bounce mailbox, when one is configured (beat, every
    ``MAILINGS_BOUNCE_INTERVAL`` seconds). A mailbox that does not answer is logged."""
    if not settings.MAILINGS_BOUNCE_MAILBOX:
        return
    try:
        tally = dsn.process(settings.MAILINGS_BOUNCE_MAILBOX)
    except (OSError, dsn.mailbox.Error, dsn.imaplib.IMAP4.error) as exc:
        logger.warning("bounce mailbox not read: %s", exc)
        return
    if tally.marked or tally.unknown:
        logger.info(
            "bounce mailbox: %s marked, %s ignored, %s left unread",
            tally.marked,
            tally.ignored,
            tally.unknown,
        )


@shared_task(name="mailings.tasks.send_subscription_confirmation", **MAIL_RETRY)
def send_subscription_confirmation(subscription_id: int) -> bool:
    """The link that confirms a sign-up through a list's form, mailed to the address given
    (in the language of the page it was given on)."""
    return subscribing.send_confirmation(subscription_id)


@shared_task(
    name="mailings.tasks.run_job",
    ignore_result=True,
    soft_time_limit=3 * 3600,
    time_limit=3 * 3600 + 60,
)
def run_job(job_id: int) -> str | None:
    """An import or an export (mailings/jobs.py). A million rows take about a minute; the
    time limit only stops one that hangs."""
    return jobs.run(job_id)


@shared_task(name="mailings.tasks.sweep_jobs", ignore_result=True, **DB_RETRY)
def sweep_jobs() -> int:
    """Beat, every minute: queue again the jobs whose worker stopped, expire old files."""
    again = jobs.sweep()
    for job_id in again:
        enqueue(run_job, job_id)
    return len(again)
