"""Finding work: which mailings are due, which runs need a worker. The database decides.

A scheduler tick (``dispatch_due``, run by Celery beat every MAILINGS_DISPATCH_INTERVAL
seconds) claims due mailings with SELECT ... FOR UPDATE SKIP LOCKED, creates the run
(``Attempt``, unique per slot) and advances ``next_run_at`` in the same transaction, and only
after the commit hands the runs to workers. Runs whose lease ran out (a dead worker, a lost
broker message, a retry whose time came) are handed out again. A second scheduler, a lost
message or a crash therefore neither loses nor doubles a run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from mailings import bulk, schedule, sending
from mailings.models import Attempt, Mailing

logger = logging.getLogger(__name__)

# Due mailings per tick; a full batch runs the next tick at once (tasks.dispatch_due).
TICK_BATCH = 25


def site_timezone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def plan(mailing: Mailing, *, now: datetime, last_slot: datetime | None) -> None:
    """Set ``next_run_at`` and ``status`` from the schedule (not saved).

    The next run is the current slot if it has not been sent (so saving a mailing whose
    window is open sends now), else the first slot after ``now``.
    """
    tz = site_timezone()
    args = (mailing.start_at, mailing.end_at, mailing.periodicity, tz)
    current = schedule.latest_slot(now, *args)
    if current is not None and (last_slot is None or current > last_slot):
        mailing.next_run_at = current
    else:
        mailing.next_run_at = schedule.next_slot_after(max(now, last_slot or now), *args)
    mailing.status = schedule.status_at(now, *args)
    if mailing.next_run_at is not None and mailing.status == Mailing.Status.FINISHED:
        mailing.status = Mailing.Status.RUNNING  # its last slot is still to be sent


def mailing_saved(mailing: Mailing, *, now: datetime | None = None) -> None:
    """After a mailing is created or edited: plan it, and if a run is due, dispatch on commit."""
    now = now or timezone.now()
    last_slot = (
        mailing.attempts.order_by("-scheduled_for").values_list("scheduled_for", flat=True).first()
    )
    plan(mailing, now=now, last_slot=last_slot)
    Mailing.objects.filter(pk=mailing.pk).update(
        next_run_at=mailing.next_run_at, status=mailing.status
    )
    if mailing.next_run_at is not None and mailing.next_run_at <= now and mailing.is_enabled:
        from mailings.tasks import enqueue_dispatch

        transaction.on_commit(enqueue_dispatch)


@dataclass
class Tick:
    attempt_ids: list[int]  # runs to hand to workers
    more: bool  # a batch was full: more is due, run another tick at once


def tick(*, now: datetime | None = None) -> Tick:
    """One scheduler tick: at most TICK_BATCH due mailings get their run, and at most
    TICK_BATCH runs whose lease ran out are handed out again. Its cost does not depend on
    how many mailings there are or how many are due (bench/dispatch_scale.py); when a batch
    was full, ``more`` says so and the task runs the next tick right away."""
    now = now or timezone.now()
    created, due_full = _claim_due_batch(now)
    expired = _claim_expired_runs(now)
    return Tick(created + expired, more=due_full or len(expired) == TICK_BATCH)


def dispatch_due(*, now: datetime | None = None) -> list[int]:
    """Ticks until nothing is due (the ``dispatch_due`` command, tests). Returns the ids of
    the runs to hand to workers."""
    attempt_ids: list[int] = []
    while True:
        result = tick(now=now)
        attempt_ids += result.attempt_ids
        if not result.more:
            return attempt_ids


def _claim_due_batch(now: datetime) -> tuple[list[int], bool]:
    """Create the runs of up to TICK_BATCH due mailings and plan their next slot, in four
    statements whatever the batch size. Returns the new runs and whether the batch was full."""
    tz = site_timezone()
    lease = now + timedelta(seconds=settings.MAILINGS_LEASE_SECONDS)
    with transaction.atomic():
        due = list(
            Mailing.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(is_enabled=True, next_run_at__lte=now, owner__is_active=True)
            .values_list("pk", "start_at", "end_at", "periodicity", "next_run_at")
            .order_by("next_run_at")[:TICK_BATCH]
        )
        if not due:
            return [], False
        runs, plans = [], []
        for pk, start_at, end_at, periodicity, next_run_at in due:
            args = (start_at, end_at, periodicity, tz)
            # After downtime: one run, for the latest slot that has come.
            slot = schedule.latest_slot(now, *args) or next_run_at
            runs.append((pk, slot))
            following = schedule.next_slot_after(slot, *args)
            status = schedule.status_at(now, *args)
            if following is not None and status == Mailing.Status.FINISHED:
                status = Mailing.Status.RUNNING
            plans.append((pk, following, status))
        # A slot that already has its run (a "send now") is skipped, not doubled.
        ids = bulk.insert_rows(
            Attempt, ("mailing", "scheduled_for"), runs, values={"lease_until": lease}
        )
        bulk.update_rows(Mailing, ("next_run_at", "status"), plans)
    logger.info("dispatch: %s due mailing(s), %s run(s) to send", len(due), len(ids))
    return ids, len(due) == TICK_BATCH


def _claim_expired_runs(now: datetime) -> list[int]:
    lease = now + timedelta(seconds=settings.MAILINGS_LEASE_SECONDS)
    with transaction.atomic():
        ids = list(
            Attempt.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(
                status=Attempt.Status.IN_PROGRESS,
                lease_until__lte=now,
                mailing__is_enabled=True,
                mailing__owner__is_active=True,
            )
            .order_by("lease_until")
            .values_list("pk", flat=True)[:TICK_BATCH]
        )
        if ids:
            Attempt.objects.filter(pk__in=ids).update(lease_until=lease)
    if ids:
        logger.info("dispatch: %s run(s) whose lease ran out handed out again", len(ids))
    return ids


def send_now(mailing: Mailing, *, now: datetime | None = None) -> Attempt | None:
    """Create a run for the mailing right now ("Send now"). The current slot if it has not
    been sent, else a run of its own at this moment. None if a run is still in progress."""
    now = (now or timezone.now()).replace(microsecond=0)
    with transaction.atomic():
        locked = Mailing.objects.select_for_update().get(pk=mailing.pk)
        if locked.attempts.filter(status=Attempt.Status.IN_PROGRESS).exists():
            return None
        tz = site_timezone()
        current = schedule.latest_slot(now, locked.start_at, locked.end_at, locked.periodicity, tz)
        unsent = current and not locked.attempts.filter(scheduled_for=current).exists()
        attempt = Attempt.objects.create(
            mailing=locked,
            scheduled_for=current if unsent else now,
            lease_until=now + timedelta(seconds=settings.MAILINGS_LEASE_SECONDS),
        )
        plan(locked, now=now, last_slot=current)
        Mailing.objects.filter(pk=locked.pk).update(
            next_run_at=locked.next_run_at, status=locked.status
        )
    return attempt


def retry_failed(attempt: Attempt, *, now: datetime | None = None) -> int:
    """Send a finished run's failed deliveries once more, through the normal engine.
    Returns how many were put back; 0 (and nothing changes) if the run is still going or
    none failed, so asking twice sends nothing twice."""
    from mailings.models import Delivery

    now = now or timezone.now()
    with transaction.atomic():
        locked = Attempt.objects.select_for_update().get(pk=attempt.pk)
        if locked.status == Attempt.Status.IN_PROGRESS:
            return 0
        count = Delivery.objects.filter(attempt=locked, status=Delivery.Status.FAILED).update(
            status=Delivery.Status.PENDING, lease_until=None
        )
        if count:
            Attempt.objects.filter(pk=locked.pk).update(
                status=Attempt.Status.IN_PROGRESS,
                finished_at=None,
                retries=0,
                lease_until=now + timedelta(seconds=settings.MAILINGS_LEASE_SECONDS),
            )
            # The engine counts results as they come; the failed ones are pending again.
            sending.refresh(locked.pk)
    return count
