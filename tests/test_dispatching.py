"""The scheduler tick: due mailings become runs exactly once; leases bring lost runs back."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from mailings import dispatching, services
from mailings.models import Attempt, Mailing
from tests.factories import MailingFactory, UserFactory

pytestmark = pytest.mark.django_db


def due_mailing(**fields):
    now = timezone.now()
    mailing = MailingFactory(
        start_at=fields.pop("start_at", now - timedelta(hours=1)),
        end_at=fields.pop("end_at", now + timedelta(days=10)),
        periodicity=fields.pop("periodicity", "daily"),
        **fields,
    )
    services.mailing_save(mailing=mailing)
    mailing.refresh_from_db()
    return mailing


def test_saving_a_mailing_with_an_open_window_makes_the_current_slot_due():
    mailing = due_mailing()

    assert mailing.next_run_at == mailing.start_at
    assert mailing.status == Mailing.Status.RUNNING


def test_a_future_mailing_waits_for_its_start():
    start = timezone.now() + timedelta(hours=3)
    mailing = due_mailing(start_at=start, end_at=start + timedelta(days=1))

    assert mailing.next_run_at == start
    assert mailing.status == Mailing.Status.CREATED
    assert dispatching.tick_until_idle() == []


def test_a_tick_creates_one_run_and_advances_the_schedule():
    mailing = due_mailing()

    first = dispatching.tick_until_idle()
    second = dispatching.tick_until_idle()

    assert len(first) == 1
    assert second == []
    attempt = Attempt.objects.get(pk=first[0])
    assert attempt.scheduled_for == mailing.start_at
    mailing.refresh_from_db()
    assert mailing.next_run_at == mailing.start_at + timedelta(days=1)


def test_after_a_week_of_downtime_one_run_is_sent_for_the_latest_slot():
    now = timezone.now()
    mailing = due_mailing(start_at=now - timedelta(days=7, minutes=5))
    Mailing.objects.filter(pk=mailing.pk).update(next_run_at=mailing.start_at)

    ids = dispatching.tick_until_idle(now=now)

    (attempt,) = Attempt.objects.filter(pk__in=ids)
    assert attempt.scheduled_for == mailing.start_at + timedelta(days=7)
    assert Attempt.objects.filter(mailing=mailing).count() == 1


def test_disabled_mailings_and_blocked_owners_are_not_dispatched():
    disabled = due_mailing(is_enabled=False)
    blocked_owner = UserFactory(is_active=False)
    blocked = due_mailing(owner=blocked_owner)

    assert dispatching.tick_until_idle() == []
    assert not Attempt.objects.filter(mailing__in=[disabled, blocked]).exists()


def test_a_run_whose_lease_ran_out_is_handed_out_again():
    due_mailing()
    (attempt_id,) = dispatching.tick_until_idle()
    Attempt.objects.filter(pk=attempt_id).update(available_at=timezone.now() - timedelta(seconds=1))

    again = dispatching.tick_until_idle()

    assert again == [attempt_id]
    assert Attempt.objects.get(pk=attempt_id).available_at > timezone.now()
    assert dispatching.tick_until_idle() == []  # the new lease holds


def test_a_once_mailing_is_finished_after_its_run():
    mailing = due_mailing(periodicity="once")

    dispatching.tick_until_idle()

    mailing.refresh_from_db()
    assert mailing.next_run_at is None
    assert mailing.status == Mailing.Status.FINISHED


def test_send_now_creates_a_run_and_refuses_a_second_while_it_is_open():
    mailing = due_mailing()

    first = services.mailing_send_now(mailing=mailing).attempt
    second = services.mailing_send_now(mailing=mailing)

    assert first is not None and first.scheduled_for == mailing.start_at
    assert (second.attempt, second.running) == (None, first)
    mailing.refresh_from_db()
    assert mailing.next_run_at > timezone.now()


def test_dispatch_due_command_sends_in_process(faulty_smtp):
    mailing = due_mailing()

    call_command("dispatch_due", "--sync")

    attempt = Attempt.objects.get(mailing=mailing)
    assert attempt.status == Attempt.Status.SUCCESS
    assert sum(faulty_smtp.accepted.values()) == mailing.clients.count()


def test_send_mailing_command_sends_the_current_slot(faulty_smtp, capsys):
    mailing = due_mailing()

    call_command("send_mailing", str(mailing.pk), "--sync")

    assert "Success" in capsys.readouterr().out
    assert sum(faulty_smtp.accepted.values()) == mailing.clients.count()
