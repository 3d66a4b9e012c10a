"""Celery tasks: thin wrappers around the scheduler tick and the send loop. They take ids, are
idempotent, and are enqueued only after the transaction that made their work commits; a
broker that is down is logged, never raised (the next tick finds the work in the database)."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.db import OperationalError, transaction

from mailings import dispatching, sending
from mailings.ledger import Step

logger = logging.getLogger(__name__)

DB_RETRY = {
    "autoretry_for": (OperationalError,),
    "retry_backoff": 2,
    "retry_backoff_max": 60,
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


def enqueue(task, *args) -> bool:
    """Publish a task; a broker that is down is logged, not raised: the scheduler tick will
    find the work in the database and hand it out again."""
    try:
        task.apply_async(args=args, retry=True)
    except Exception as exc:  # noqa: BLE001 - any broker failure
        logger.warning("could not enqueue %s%s: %s", task.name, args, exc)
        return False
    return True


def enqueue_on_commit(task, *args) -> None:
    transaction.on_commit(lambda: enqueue(task, *args))


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
