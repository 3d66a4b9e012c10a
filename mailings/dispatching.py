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
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from mailings import schedule
from mailings.models import Attempt, Mailing

logger = logging.getLogger(__name__)

TICK_BATCH = 500


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


def dispatch_due(*, now: datetime | None = None) -> list[int]:
    """One scheduler tick. Returns the ids of the runs to hand to workers."""
    now = now or timezone.now()
    attempt_ids: list[int] = []
    while True:
        created = _claim_due_batch(now)
        attempt_ids += created
        if len(created) < TICK_BATCH:
            break
    attempt_ids += _claim_expired_runs(now)
    return attempt_ids


def _claim_due_batch(now: datetime) -> list[int]:
    tz = site_timezone()
    lease = now + timedelta(seconds=settings.MAILINGS_LEASE_SECONDS)
    with transaction.atomic():
        due = list(
            Mailing.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(is_enabled=True, next_run_at__lte=now, owner__is_active=True)
            .only("pk", "start_at", "end_at", "periodicity", "next_run_at", "status")
            .order_by("next_run_at")[:TICK_BATCH]
        )
        if not due:
            return []
        runs = []
        for mailing in due:
            args = (mailing.start_at, mailing.end_at, mailing.periodicity, tz)
            # After downtime: one run, for the latest slot that has come.
            slot = schedule.latest_slot(now, *args) or mailing.next_run_at
            runs.append(Attempt(mailing_id=mailing.pk, scheduled_for=slot, lease_until=lease))
            mailing.next_run_at = schedule.next_slot_after(slot, *args)
            mailing.status = schedule.status_at(now, *args)
            if mailing.next_run_at is not None and mailing.status == Mailing.Status.FINISHED:
                mailing.status = Mailing.Status.RUNNING
        Attempt.objects.bulk_create(runs, ignore_conflicts=True)
        Mailing.objects.bulk_update(due, ["next_run_at", "status"])
        slots = {(run.mailing_id, run.scheduled_for) for run in runs}
        ids = [
            pk
            for pk, mailing_id, scheduled_for in Attempt.objects.filter(
                mailing_id__in=[m.pk for m in due],
                scheduled_for__in=[run.scheduled_for for run in runs],
                status=Attempt.Status.IN_PROGRESS,
            ).values_list("pk", "mailing_id", "scheduled_for")
            if (mailing_id, scheduled_for) in slots
        ]
    logger.info("dispatch: %s due mailing(s), %s run(s) to send", len(due), len(ids))
    return ids


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
    return count
