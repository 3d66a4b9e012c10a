"""The scheduler tick: which mailings are due, which runs need a worker. The database decides.

A tick (the ``mailings.tasks.dispatch_due`` task, run by Celery beat every
MAILINGS_DISPATCH_INTERVAL seconds) claims due mailings with SELECT … FOR UPDATE SKIP LOCKED,
creates the run (``Attempt``, unique per slot) and advances ``next_run_at`` (each mailing on
its own time zone's clock) in the same transaction; only after the commit are the runs handed
to workers. Runs that are available again (a dead worker's lease ran out, a lost broker
message, a retry whose time came) are handed out again. A second scheduler, a lost message
or a crash therefore neither loses nor doubles a run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from mailings import ledger, schedule, sql
from mailings.models import Attempt, Mailing

logger = logging.getLogger(__name__)

# Due mailings per tick; a full batch runs the next tick at once (tasks.dispatch_due).
TICK_BATCH = 25


@dataclass
class Tick:
    attempt_ids: list[int]  # runs to hand to workers
    more: bool  # a batch was full: more is due, run another tick at once


def tick(*, now: datetime | None = None) -> Tick:
    """One scheduler tick: at most TICK_BATCH due mailings get their run, and at most
    TICK_BATCH runs that are available again are handed out again. Its cost does not depend
    on how many mailings there are or how many are due (bench/dispatch_scale.py); when a batch
    was full, ``more`` says so and the task runs the next tick right away."""
    now = now or timezone.now()
    created, due_full = _open_due_runs(now)
    again = _claim_available_runs(now)
    return Tick(created + again, more=due_full or len(again) == TICK_BATCH)


def tick_until_idle(*, now: datetime | None = None) -> list[int]:
    """Ticks until nothing is due (the ``dispatch_due`` command, tests). Returns the ids of
    the runs to hand to workers."""
    attempt_ids: list[int] = []
    while True:
        result = tick(now=now)
        attempt_ids += result.attempt_ids
        if not result.more:
            return attempt_ids


def _open_due_runs(now: datetime) -> tuple[list[int], bool]:
    """Create the runs of up to TICK_BATCH due mailings and plan their next slot, in four
    statements whatever the batch size. Returns the new runs and whether the batch was full."""
    with transaction.atomic():
        due = list(
            Mailing.objects.sendable()
            .select_for_update(skip_locked=True, of=("self",))
            .filter(next_run_at__lte=now)
            .values_list("pk", "start_at", "end_at", "periodicity", "time_zone", "next_run_at")
            .order_by("next_run_at")[:TICK_BATCH]
        )
        if not due:
            return [], False
        runs, plans = [], []
        for pk, start_at, end_at, periodicity, time_zone, next_run_at in due:
            args = (start_at, end_at, periodicity, ZoneInfo(time_zone))
            # After downtime: one run, for the latest slot that has come, while the window
            # is open; one that closed while the mailing waited gets none.
            slot = schedule.latest_slot(now, *args)
            if slot is None and now < end_at:
                slot = next_run_at
            if slot is None:
                plans.append((pk, None, schedule.FINISHED))
                continue
            runs.append((pk, slot))
            plan = schedule.plan_after_run(now, slot, *args)
            plans.append((pk, plan.next_run_at, plan.status))
        # A slot that already has its run (a "send now") is skipped, not doubled.
        ids = ledger.open_runs(runs, now=now) if runs else []
        sql.update_rows(Mailing, ("next_run_at", "status"), plans)
    logger.info("dispatch: %s due mailing(s), %s run(s) to send", len(due), len(ids))
    return ids, len(due) == TICK_BATCH


def _claim_available_runs(now: datetime) -> list[int]:
    with transaction.atomic():
        ids = list(
            Attempt.objects.sendable()
            .select_for_update(skip_locked=True, of=("self",))
            .filter(status=Attempt.Status.IN_PROGRESS, available_at__lte=now)
            .order_by("available_at")
            .values_list("pk", flat=True)[:TICK_BATCH]
        )
        if ids:
            ledger.hand_out(ids, now=now)
    if ids:
        logger.info("dispatch: %s run(s) available again handed out", len(ids))
    return ids
