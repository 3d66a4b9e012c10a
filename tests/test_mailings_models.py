"""The data model's invariants hold in the database itself, whatever writes to it."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from mailings.models import Attempt, Client, Delivery, Mailing, Message
from tests.factories import ClientFactory, MailingFactory, MessageFactory, UserFactory

pytestmark = pytest.mark.django_db


def raises_integrity():
    return pytest.raises(IntegrityError)


def test_client_email_is_unique_per_owner_ignoring_case():
    owner = UserFactory()
    ClientFactory(owner=owner, email="ann@example.org")

    with raises_integrity(), transaction.atomic():
        Client.objects.create(owner=owner, email="ANN@Example.org", full_name="Ann again")

    # Another owner may keep the same address.
    ClientFactory(owner=UserFactory(), email="ann@example.org")


def test_mailing_end_must_follow_start():
    owner = UserFactory()
    message = MessageFactory(owner=owner)
    now = timezone.now()

    with raises_integrity(), transaction.atomic():
        Mailing.objects.create(owner=owner, message=message, start_at=now, end_at=now)


def test_subject_with_a_line_break_is_refused_by_the_database():
    with raises_integrity(), transaction.atomic():
        Message.objects.create(owner=UserFactory(), subject="Hi\r\nBcc: x@y", body="b")


def test_mailing_cannot_use_another_owners_message():
    owner, stranger = UserFactory(), UserFactory()
    now = timezone.now()

    with raises_integrity(), transaction.atomic():
        Mailing.objects.create(
            owner=owner,
            message=MessageFactory(owner=stranger),
            start_at=now,
            end_at=now + timedelta(days=1),
        )


def test_mailing_cannot_include_another_owners_client():
    mailing = MailingFactory()
    strangers_client = ClientFactory(owner=UserFactory())

    with raises_integrity(), transaction.atomic():
        mailing.clients.add(strangers_client)

    assert not mailing.clients.filter(pk=strangers_client.pk).exists()


def test_mailing_cannot_switch_to_another_owners_message():
    mailing = MailingFactory()

    with raises_integrity(), transaction.atomic():
        Mailing.objects.filter(pk=mailing.pk).update(message=MessageFactory(owner=UserFactory()))


def test_clients_and_messages_never_change_owner():
    client, message = ClientFactory(), MessageFactory()

    with raises_integrity(), transaction.atomic():
        Client.objects.filter(pk=client.pk).update(owner=UserFactory())
    with raises_integrity(), transaction.atomic():
        Message.objects.filter(pk=message.pk).update(owner=UserFactory())


def test_one_attempt_per_slot_and_one_delivery_per_client():
    mailing = MailingFactory()
    slot = mailing.start_at
    attempt = Attempt.objects.create(mailing=mailing, scheduled_for=slot)
    client = mailing.clients.first()
    Delivery.objects.create(attempt=attempt, client=client, email=client.email)

    with raises_integrity(), transaction.atomic():
        Attempt.objects.create(mailing=mailing, scheduled_for=slot)
    with raises_integrity(), transaction.atomic():
        Delivery.objects.create(attempt=attempt, client=client, email=client.email)


def test_a_message_used_by_a_mailing_cannot_be_deleted():
    from django.db.models import ProtectedError

    mailing = MailingFactory()

    with pytest.raises(ProtectedError):
        mailing.message.delete()
