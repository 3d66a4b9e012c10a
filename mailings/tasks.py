"""Celery tasks: thin wrappers around dispatching and sending. They take ids, are
idempotent, and are enqueued only after the transaction that made their work commits."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.db import OperationalError, transaction

from mailings import dispatching, sending

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
    for attempt_id in result.attempt_ids:
        enqueue(send_attempt, attempt_id)
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
    state = sending.work(attempt_id)
    if state == sending.MORE:
        enqueue(send_chunks, attempt_id)
    return state


def enqueue(task, *args) -> bool:
    """Publish a task; a broker that is down is logged, not raised: the scheduler tick will
    find the work in the database and hand it out again."""
    try:
        task.apply_async(args=args, retry=True)
    except Exception as exc:  # noqa: BLE001 - any broker failure
        logger.warning("could not enqueue %s%s: %s", task.name, args, exc)
        return False
    return True


def enqueue_dispatch() -> None:
    enqueue(dispatch_due)


def run_sync(attempt_ids: list[int]) -> None:
    """Send runs in this process, without a broker (``--sync`` of the commands)."""
    for attempt_id in attempt_ids:
        sending.prepare(attempt_id)
        while sending.work(attempt_id, budget=3600) == sending.MORE:
            pass


def on_commit_enqueue(task, *args) -> None:
    transaction.on_commit(lambda: enqueue(task, *args))
