"""A run sends one version, to the right people, once, while the world changes under it:
the message is edited, clients unsubscribe, leave the mailing or are deleted, the mailing is
disabled, "Send now" is pressed twice, the schedule is moved.

The mail server changes the world at a chosen message (``on_accept``, from its own thread
and database connection), so these tests commit for real (transactional)."""

from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.policy import default as default_policy

import pytest
from django.db import connections
from django.utils import timezone

from mailings import dispatching, sending, services
from mailings.ledger import Step
from mailings.models import Attempt, Client, Delivery, Mailing, Message
from tests.factories import AttemptFactory, MailingFactory, MessageFactory, UserFactory
from tests.support.runs import run_until_done

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def make_run(recipients: int):
    owner = UserFactory(role="Users")
    clients = Client.objects.bulk_create(
        Client(owner=owner, email=f"reader{n:05}@example.org", full_name=f"Reader {n}")
        for n in range(recipients)
    )
    message = MessageFactory(owner=owner, subject="Version 1", body="Text 1 for {full_name}")
    mailing = MailingFactory(owner=owner, message=message, clients=clients, start_at=timezone.now())
    return AttemptFactory(mailing=mailing), clients


def at_message(number: int, change):
    """An ``on_accept`` hook: ``change()`` once, when the server accepts message ``number``;
    returns how many messages the server had accepted then."""
    seen = {}

    def hook(server):
        if "at" in seen or sum(server.accepted.values()) < number:
            return
        seen["at"] = sum(server.accepted.values())
        try:
            change()
        finally:
            connections.close_all()  # this thread's own connections

    return hook, seen


def test_a_message_edited_mid_run_does_not_split_the_run(faulty_smtp, client):
    attempt, _ = make_run(3000)
    message = attempt.mailing.message

    def edit():
        Message.objects.filter(pk=message.pk).update(subject="Version 2", body="Text 2")

    faulty_smtp.on_accept, seen = at_message(25, edit)  # after the first flush (20)

    done = run_until_done(attempt.pk)

    assert seen["at"] == 25
    subjects = {
        message_from_bytes(raw, policy=default_policy)["Subject"] for raw in faulty_smtp.messages
    }
    assert subjects == {"Version 1"}
    assert (done.sent, done.subject) == (3000, "Version 1")
    client.force_login(attempt.mailing.owner)
    page = client.get(f"/admin/mailings/attempts/inspect/{attempt.pk}/").content.decode()
    assert 'data-field="subject">Version 1<' in page
    assert 'data-field="body" style="white-space: pre-wrap">Text 1 for {full_name}<' in page
    # The edit applies to the next run.
    later = AttemptFactory(mailing=attempt.mailing, scheduled_for=timezone.now())
    assert run_until_done(later.pk).subject == "Version 2"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (
            lambda c, m: Client.objects.filter(pk=c.pk).update(unsubscribed_at=timezone.now()),
            "unsubscribed",
        ),
        (lambda c, m: m.clients.remove(c), "removed from the mailing"),
        (lambda c, m: Client.objects.filter(pk=c.pk).delete(), "client deleted"),
    ],
    ids=["unsubscribed", "removed", "deleted"],
)
def test_a_client_who_leaves_mid_run_gets_nothing_more(faulty_smtp, change, reason):
    attempt, clients = make_run(100)
    leaving = clients[60]
    faulty_smtp.on_accept, seen = at_message(10, lambda: change(leaving, attempt.mailing))

    done = run_until_done(attempt.pk)

    assert seen["at"] == 10
    assert faulty_smtp.accepted[leaving.email] == 0
    delivery = Delivery.objects.get(attempt=attempt, email=leaving.email)
    assert (delivery.status, delivery.response) == ("skipped", reason)
    assert (done.total, done.sent, done.skipped) == (100, 99, 1)  # the ledger keeps them all
    others = [c for c in clients if c.pk != leaving.pk]
    assert [faulty_smtp.accepted[c.email] for c in others] == [1] * 99


def test_disabling_mid_run_stops_within_one_flush_and_enabling_resumes_at_once(
    faulty_smtp, settings
):
    attempt, clients = make_run(200)
    mailing = attempt.mailing

    def disable():
        Mailing.objects.filter(pk=mailing.pk).update(is_enabled=False)

    faulty_smtp.on_accept, seen = at_message(30, disable)
    sending.prepare(attempt.pk)

    assert sending.work(attempt.pk, budget=60) == Step.PAUSED

    after_disable = sum(faulty_smtp.accepted.values()) - seen["at"]
    assert 0 <= after_disable <= settings.MAILINGS_FLUSH_EVERY
    paused = Attempt.objects.get(pk=attempt.pk)
    assert paused.status == "in_progress" and paused.available_at > timezone.now()

    faulty_smtp.on_accept = None
    mailing.refresh_from_db()
    services.mailing_set_enabled(mailing=mailing, enabled=True, by=None)

    assert attempt.pk in dispatching.tick().attempt_ids  # available at once, not at lease end
    done = run_until_done(attempt.pk)
    assert done.sent == 200
    assert [faulty_smtp.accepted[c.email] for c in clients] == [1] * 200


def test_send_now_twice_sends_once_and_asks_before_sending_again(faulty_smtp, client):
    owner = UserFactory(role="Users")
    mailing = MailingFactory(owner=owner, start_at=timezone.now() - timedelta(hours=1))
    client.force_login(owner)
    url = f"/admin/mailings/mailings/send-now/{mailing.pk}/"

    first = client.post(url, {"seen_run": "0"}, follow=True)
    run_until_done(Attempt.objects.get(mailing=mailing).pk)  # a short run, already over
    second = client.post(url, {"seen_run": "0"}, follow=True)  # the same page, pressed again

    assert "The mailing is being sent." in first.content.decode()
    assert "Nothing more was sent" in second.content.decode()
    assert Attempt.objects.filter(mailing=mailing).count() == 1
    confirm = second.content.decode()  # the confirmation again, naming the run
    assert "data-latest-run" in confirm and "2 of 2 recipients got it" in confirm
    (run,) = Attempt.objects.filter(mailing=mailing)
    again = client.post(url, {"seen_run": str(run.pk)}, follow=True)
    assert "The mailing is being sent." in again.content.decode()
    assert Attempt.objects.filter(mailing=mailing).count() == 2
    for garbage in ("", "x", "-1", "1" * 40, "²"):
        client.post(url, {"seen_run": garbage})
    assert Attempt.objects.filter(mailing=mailing).count() == 2


def test_send_now_twice_in_the_same_moment_is_no_error(faulty_smtp):
    mailing = MailingFactory(start_at=timezone.now() - timedelta(hours=1))
    moment = timezone.now()
    first = services.mailing_send_now(mailing=mailing, now=moment).attempt
    run_until_done(first.pk)

    second = services.mailing_send_now(mailing=mailing, now=moment)  # same slot and moment
    third = services.mailing_send_now(mailing=mailing, now=moment)

    assert second.attempt is not None  # the current slot was sent: a run of its own
    assert third.attempt is None and third.unconfirmed is None and third.running == second.attempt
    run_until_done(second.attempt.pk)
    fourth = services.mailing_send_now(mailing=mailing, now=moment)
    assert (fourth.attempt, fourth.unconfirmed) == (None, second.attempt)


def test_moving_a_daily_mailings_hour_does_not_send_todays_issue_again(settings):
    settings.TIME_ZONE = "UTC"
    today_9 = datetime(2026, 6, 10, 9, 0, tzinfo=UTC)
    mailing = MailingFactory(start_at=today_9 - timedelta(days=3), periodicity="daily")
    mailing.end_at = today_9 + timedelta(days=30)
    mailing.save()
    now = today_9 + timedelta(hours=1)  # 10:00: today's 09:00 issue went out
    services.mailing_save(mailing=mailing, now=now)
    (sent_today,) = dispatching.tick_until_idle(now=now)

    for hour, minute in ((9, 30), (9, 45)):  # moved later, still in the past; twice
        mailing.start_at = mailing.start_at.replace(hour=hour, minute=minute)
        mailing.save()
        services.mailing_save(mailing=mailing, now=now)
        assert dispatching.tick_until_idle(now=now) == []

    mailing.refresh_from_db()
    assert mailing.next_run_at == datetime(2026, 6, 11, 9, 45, tzinfo=UTC)
    assert Attempt.objects.filter(mailing=mailing).count() == 1
    assert Attempt.objects.get(pk=sent_today).scheduled_for == today_9
