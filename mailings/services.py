"""What happens to mailings and their runs, as the admin, the commands, the accounts app and
the API ask for it. Each service does the write, the audit-log entry and the hand-off to the
workers (after the transaction commits), so a view or a command makes one call.

Who may call which service for which row is the permission policy's question
(``mailings.permissions``), asked by the caller before the call.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from wagtail.log_actions import log

from mailings import dispatching, jobs, ledger, schedule, tasks
from mailings.models import (
    Attempt,
    Client,
    ClientList,
    Job,
    Mailing,
    MailingsLogEntry,
    Membership,
    Message,
    Sender,
    Subscription,
)
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
        mailing.zone,
        last_slot=last_slot,
    )
    mailing.next_run_at, mailing.status = plan.next_run_at, plan.status
    Mailing.objects.filter(pk=mailing.pk).update(next_run_at=plan.next_run_at, status=plan.status)
    if plan.next_run_at is not None and plan.next_run_at <= now and mailing.is_enabled:
        tasks.enqueue_on_commit(tasks.dispatch_due)


@dataclass(frozen=True)
class SendNow:
    """What became of a "Send now": a new run, or why not."""

    attempt: Attempt | None = None
    running: Attempt | None = None  # a run is still in progress: nothing was done
    unconfirmed: Attempt | None = None  # a run went out since the asker last looked


def latest_run(mailing: Mailing) -> Attempt | None:
    return mailing.attempts.order_by("-created_at", "-pk").first()


def mailing_send_now(
    *,
    mailing: Mailing,
    by=None,
    seen_run: int | None = None,
    now: datetime | None = None,
    sync: bool = False,
) -> SendNow:
    """A run of the mailing right now ("Send now"): the current slot if it has not been
    sent, else a run of its own at this moment. Nothing happens while a run is in progress,
    or if ``seen_run`` (the id of the latest run the asker was shown, 0 for none) is no longer
    the latest: a second press must not send everything again unseen (the asker is shown
    that run, and confirms again). ``None`` skips that check (the command line)."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = Mailing.objects.select_for_update().get(pk=mailing.pk)
        latest = latest_run(locked)
        if latest is not None and latest.status == Attempt.Status.IN_PROGRESS:
            return SendNow(running=latest)
        if seen_run is not None and (latest.pk if latest else 0) != seen_run:
            return SendNow(unconfirmed=latest)
        args = (locked.start_at, locked.end_at, locked.periodicity, locked.zone)
        current = schedule.latest_slot(now, *args)
        unsent = current and not locked.attempts.filter(scheduled_for=current).exists()
        slot = current if unsent else now
        try:
            with transaction.atomic():
                attempt = ledger.open_run(mailing_id=locked.pk, slot=slot, now=now)
        except IntegrityError:  # this very moment already has its run
            return SendNow(unconfirmed=latest_run(locked))
        plan = schedule.plan(now, *args, last_slot=slot)
        Mailing.objects.filter(pk=locked.pk).update(
            next_run_at=plan.next_run_at, status=plan.status
        )
        log(mailing, "mailings.send_now", user=by, data={"attempt": attempt.pk})
        if not sync:
            tasks.enqueue_on_commit(tasks.send_attempt, attempt.pk)
    if sync:
        tasks.start_runs([attempt.pk], sync=True)
    return SendNow(attempt=attempt)


def mailing_set_enabled(*, mailing: Mailing, enabled: bool, by) -> None:
    """Switch a mailing off (nothing more is sent: a run under way stops at its next flush)
    or on again (a paused run resumes at once, the next slot goes out as scheduled, a
    current one at once).

    Switching off records whether a moderator did it (``by`` is not the owner), which the
    policy asks before anyone switches it on; the owner switching off a mailing a moderator
    already stopped does not take that mark away. Whether ``by`` may do this is the
    caller's question (``policy.instances_user_may_enable`` for on)."""
    with transaction.atomic():
        locked = Mailing.objects.select_for_update().get(pk=mailing.pk)
        if enabled:
            by_moderator = False
        else:
            by_moderator = policy_for(Mailing).disables_as_moderator(by, locked) or (
                not locked.is_enabled and locked.disabled_by_moderator
            )
        Mailing.objects.filter(pk=mailing.pk).update(
            is_enabled=enabled, disabled_by_moderator=by_moderator
        )
        mailing.is_enabled, mailing.disabled_by_moderator = enabled, by_moderator
        if enabled:
            resume(mailing)
        log(
            mailing,
            "mailings.enable" if enabled else "mailings.disable",
            user=by,
            data={"owner": mailing.owner.email, "by_moderator": by_moderator},
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
    """An owner was unblocked: their enabled mailings resume; a paused run and a current
    slot that was not sent while they were blocked go out at once."""
    for mailing in policy_for(Mailing).instances_owned_by(owner).sendable():
        resume(mailing)


def resume(mailing: Mailing) -> None:
    """A mailing may send again: its paused runs are handed out at the next tick, which
    runs once the transaction commits, and its plan is brought up to date."""
    paused = ledger.make_available([mailing.pk], now=timezone.now())
    mailing_save(mailing=mailing)
    if paused:
        tasks.enqueue_on_commit(tasks.dispatch_due)


def dispatch_due(*, sync: bool = False, now: datetime | None = None) -> list[int]:
    """Scheduler ticks until nothing is due, then the runs to workers (or, with ``sync``,
    sent in this process). Returns the runs' ids."""
    attempt_ids = dispatching.tick_until_idle(now=now)
    tasks.start_runs(attempt_ids, sync=sync)
    return attempt_ids


TEST_SEND_ACTIONS = ("mailings.test_queued", "mailings.test_sent", "mailings.test_failed")


def message_send_test(*, message: Message, by, client=None) -> bool:
    """ "Send a test to me": the message as a run builds it for ``client`` (their name and
    address in the placeholders; a sample without one), to ``by``'s address, sent by a
    worker (a slow mail server never holds a web request). Logged as queued, before the
    worker can log the result (``message_last_test``). False if the broker cannot take it,
    which is logged as the test's failure."""
    log(message, "mailings.test_queued", user=by, data={"to": by.email})
    if tasks.enqueue(tasks.send_test, message.pk, by.pk, client.pk if client else None):
        return True
    log(
        message,
        "mailings.test_failed",
        user=by,
        data={"to": by.email, "detail": _("the background service is not reachable")},
    )
    return False


@dataclass(frozen=True)
class TestSend:
    state: str  # "queued", "sent" or "failed"
    at: datetime
    to: str
    detail: str


def message_last_test(*, message: Message, by) -> TestSend | None:
    """The latest "send a test to me" of ``message`` by ``by``, and what became of it."""
    entry = (
        MailingsLogEntry.objects.for_instance(message)
        .filter(action__in=TEST_SEND_ACTIONS, user=by)
        .order_by("-timestamp", "-pk")
        .first()
    )
    if entry is None:
        return None
    data = entry.data or {}
    return TestSend(
        state=entry.action.rpartition("_")[2],
        at=entry.timestamp,
        to=data.get("to", ""),
        detail=data.get("detail", ""),
    )


def sender_save(*, sender: Sender, by, address_changed: bool) -> bool:
    """After a sender is created, or its address changed: it is unconfirmed until the link
    mailed to that address is followed. Returns False if the mail could not be queued."""
    if not address_changed:
        return True
    Sender.objects.filter(pk=sender.pk).update(confirmed_at=None)
    sender.confirmed_at = None
    log(sender, "mailings.sender_link_sent", user=by, data={"email": sender.email})
    return sender_send_link(sender=sender)


def sender_send_link(*, sender: Sender) -> bool:
    language = translation.get_language()  # the link's page speaks the asker's language
    return tasks.enqueue_on_commit(tasks.send_sender_confirmation, sender.pk, language)


def sender_confirm(*, sender: Sender) -> None:
    """Its address proved: mailings may come from it from their next run."""
    if sender.confirmed_at is None:
        sender.confirmed_at = timezone.now()
        Sender.objects.filter(pk=sender.pk).update(confirmed_at=sender.confirmed_at)
        log(sender, "mailings.sender_confirmed", user=None, data={"email": sender.email})


def message_from_post(*, post, by) -> Message:
    """ "Mail this post": a message of the user's whose body is the post's block (its image,
    title, teaser and link), titled after it, to edit before it goes anywhere."""
    message = Message(owner=by, subject=post.title[:255], body="")
    message.content = [("post", {"page": post, "link_label": ""})]
    message.save()
    log(message, "wagtail.create", user=by, data={"from_post": post.pk})
    return message


def subscription_sign_up(
    *, client_list: ClientList, email: str, full_name: str, ip: str | None, user_agent: str
) -> bool:
    """A sign-up through the list's form: recorded, and the confirmation link mailed to the
    address (in the language of the page) once the transaction commits. Whether the address
    is on the list already changes nothing here (no answer may tell). False if the mail could
    not be queued."""
    subscription = Subscription.objects.create(
        client_list=client_list,
        email=email,
        full_name=full_name,
        language=translation.get_language() or "",
        ip=ip or None,
        user_agent=user_agent[:300],
    )
    return tasks.enqueue_on_commit(tasks.send_subscription_confirmation, subscription.pk)


def subscription_confirm(*, subscription: Subscription, ip: str | None) -> Client:
    """The person followed the link and confirmed: they are a client of the list's owner
    (one found by address is subscribed again: this is their consent, and the link reached
    their mailbox), in the list. Confirming twice changes nothing."""
    client_list = subscription.client_list
    owner = client_list.owner
    with transaction.atomic():
        Subscription.objects.select_for_update().filter(pk=subscription.pk).first()
        clients = policy_for(Client).instances_owned_by(owner)
        client = clients.filter(email__iexact=subscription.email).first()
        if client is None:
            try:
                with transaction.atomic():
                    client = Client.objects.create(
                        owner=owner, email=subscription.email, full_name=subscription.full_name
                    )
            except IntegrityError:  # the same address confirmed at the same moment
                client = clients.get(email__iexact=subscription.email)
        else:
            clients.filter(pk=client.pk).update(
                unsubscribed_at=None, bounced_at=None, bounce_reason="", updated_at=timezone.now()
            )
        Membership.objects.get_or_create(
            client_list=client_list, client=client, defaults={"source": Membership.Source.FORM}
        )
        if subscription.confirmed_at is None:
            subscription.confirmed_at = timezone.now()
            subscription.confirmed_ip = ip or None
            Subscription.objects.filter(pk=subscription.pk, confirmed_at__isnull=True).update(
                confirmed_at=subscription.confirmed_at, confirmed_ip=subscription.confirmed_ip
            )
    return client


class ImportBusyError(Exception):
    """The user has an import waiting or running: one at a time."""


def import_start(*, owner, upload, client_list: ClientList | None) -> Job:
    """Store an uploaded CSV file and hand its import to a worker (mailings/jobs.py).
    Refused with ``ImportBusyError`` while another import of the owner's waits or runs."""
    name = jobs.new_file(".csv")
    target = jobs.folder() / name
    size = jobs.copy_upload(upload, target)
    try:
        with transaction.atomic():
            job = Job.objects.create(
                owner=owner,
                kind=Job.Kind.IMPORT,
                name=_shown_name(upload.name or "clients.csv"),
                path=name,
                size=size,
                client_list=client_list,
                params={"language": translation.get_language() or ""},
                lease_until=timezone.now() + jobs.LEASE,
            )
            tasks.enqueue_on_commit(tasks.run_job, job.pk)
    except IntegrityError:
        target.unlink(missing_ok=True)
        raise ImportBusyError from None
    return job


def import_apply(*, job: Job) -> Job:
    """Run an import its owner reviewed (it changes clients already stored), for real."""
    try:
        with transaction.atomic():
            updated = Job.objects.filter(pk=job.pk, state=Job.State.REVIEW).update(
                state=Job.State.QUEUED,
                params={**job.params, "apply": True},
                lease_until=timezone.now() + jobs.LEASE,
                expires_at=None,
            )
            if updated:
                tasks.enqueue_on_commit(tasks.run_job, job.pk)
    except IntegrityError:
        raise ImportBusyError from None
    job.refresh_from_db()
    return job


def export_start(*, owner, path: str, query: str, export_format: str, total: int, name: str) -> Job:
    """Hand an export from an admin listing (``path`` and its ``query``) to a worker, which
    asks the same view as ``owner``, in the current language and time zone."""
    with transaction.atomic():
        job = Job.objects.create(
            owner=owner,
            kind=Job.Kind.EXPORT,
            name=f"{name}.{export_format}",
            total=total,
            params={
                "path": path,
                "query": query,
                "format": export_format,
                "language": translation.get_language() or "",
                "zone": timezone.get_current_timezone_name(),
            },
            lease_until=timezone.now() + jobs.LEASE,
        )
        tasks.enqueue_on_commit(tasks.run_job, job.pk)
    return job


def _shown_name(name: str) -> str:
    """An uploaded file's name as the job's page shows it: its last part, printable, short."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(char for char in name if char.isprintable()).strip()
    return (name or "clients.csv")[:200]
