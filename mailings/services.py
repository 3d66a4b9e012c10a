"""What happens to mailings and their runs, as the admin, the commands, the accounts app and
the API ask for it. Each service does the write, the audit-log entry and the hand-off to the
workers (after the transaction commits), so a view or a command makes one call.

Who may call which service for which row is the permission policy's question
(``mailings.permissions``), asked by the caller before the call.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone
from wagtail.log_actions import log

from mailings import dispatching, ledger, schedule, sending, tasks
from mailings.models import Attempt, Mailing, Message
from mailings.permissions import policy_for


def mailing_save(*, mailing: Mailing, now: datetime | None = None) -> None:
    """After a mailing is created or edited: plan its next run; if one is due, a scheduler
    tick runs once the transaction commits."""
    now = now or timezone.now()
    last_slot = (
        mailing.attempts.order_by("-scheduled_for").values_list("scheduled_for", flat=True).first()
    )
    plan = schedule.plan(
        now,
        mailing.start_at,
        mailing.end_at,
        mailing.periodicity,
        dispatching.site_timezone(),
        last_slot=last_slot,
    )
    mailing.next_run_at, mailing.status = plan.next_run_at, plan.status
    Mailing.objects.filter(pk=mailing.pk).update(next_run_at=plan.next_run_at, status=plan.status)
    if plan.next_run_at is not None and plan.next_run_at <= now and mailing.is_enabled:
        tasks.enqueue_on_commit(tasks.dispatch_due)


def mailing_send_now(
    *, mailing: Mailing, by=None, now: datetime | None = None, sync: bool = False
) -> Attempt | None:
    """A run of the mailing right now ("Send now"): the current slot if it has not been
    sent, else a run of its own at this moment. None if a run is still in progress."""
    now = (now or timezone.now()).replace(microsecond=0)
    with transaction.atomic():
        locked = Mailing.objects.select_for_update().get(pk=mailing.pk)
        if locked.attempts.filter(status=Attempt.Status.IN_PROGRESS).exists():
            return None
        tz = dispatching.site_timezone()
        args = (locked.start_at, locked.end_at, locked.periodicity, tz)
        current = schedule.latest_slot(now, *args)
        unsent = current and not locked.attempts.filter(scheduled_for=current).exists()
        attempt = ledger.open_run(mailing_id=locked.pk, slot=current if unsent else now, now=now)
        plan = schedule.plan(now, *args, last_slot=current)
        Mailing.objects.filter(pk=locked.pk).update(
            next_run_at=plan.next_run_at, status=plan.status
        )
        log(mailing, "mailings.send_now", user=by, data={"attempt": attempt.pk})
        if not sync:
            tasks.enqueue_on_commit(tasks.send_attempt, attempt.pk)
    if sync:
        tasks.start_runs([attempt.pk], sync=True)
    return attempt


def mailing_set_enabled(*, mailing: Mailing, enabled: bool, by) -> None:
    """Switch a mailing off (nothing more is sent) or on again (its next slot goes out as
    scheduled; a current one at once)."""
    with transaction.atomic():
        Mailing.objects.filter(pk=mailing.pk).update(is_enabled=enabled)
        mailing.is_enabled = enabled
        if enabled:
            mailing_save(mailing=mailing)
        log(
            mailing,
            "mailings.enable" if enabled else "mailings.disable",
            user=by,
            data={"owner": mailing.owner.email},
        )


def attempt_retry_failed(*, attempt: Attempt, by, now: datetime | None = None) -> int:
    """Send a finished run's failed deliveries once more, through the normal engine.
    Returns how many were put back; 0 (and nothing changes) if the run is still going or
    none failed, so asking twice sends nothing twice."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = Attempt.objects.select_for_update().get(pk=attempt.pk)
        if locked.status == Attempt.Status.IN_PROGRESS:
            return 0
        count = ledger.reopen_failed(locked.pk, now=now)
        if count:
            log(
                attempt.mailing,
                "mailings.retry_failed",
                user=by,
                data={"attempt": attempt.pk, "deliveries": count},
            )
            tasks.enqueue_on_commit(tasks.send_attempt, attempt.pk)
    return count


def mailings_resume(*, owner) -> None:
    """An owner was unblocked: their enabled mailings resume; a current slot that was not
    sent while they were blocked goes out at once."""
    mailings = policy_for(Mailing).instances_owned_by(owner).sendable()
    for mailing in mailings.filter(next_run_at__isnull=False):
        mailing_save(mailing=mailing)


def dispatch_due(*, sync: bool = False, now: datetime | None = None) -> list[int]:
    """Scheduler ticks until nothing is due, then the runs to workers (or, with ``sync``,
    sent in this process). Returns the runs' ids."""
    attempt_ids = dispatching.tick_until_idle(now=now)
    tasks.start_runs(attempt_ids, sync=sync)
    return attempt_ids


def message_send_test(*, message: Message, to: str, full_name: str) -> sending.SendTestResult:
    """ "Send a test to me": the message as a run builds it, to ``to``, now."""
    return sending.send_test(message=message, to=to, full_name=full_name)
