"""Senders (issue 17): a user's own From address, usable once the link mailed to it was
followed; the From of every message of a run; the envelope sender stays the operator's."""

import re
import warnings
from email.utils import parseaddr

import pytest
from django.core.cache.backends.base import CacheKeyWarning
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from mailings import senders
from mailings.models import Mailing, Sender
from tests.factories import (
    AttemptFactory,
    ClientFactory,
    MailingFactory,
    MessageFactory,
    UserFactory,
)
from tests.support.runs import run_until_done

pytestmark = pytest.mark.django_db

ADD = reverse("mailings_senders:add")


@pytest.fixture(autouse=True)
def any_sender_domain(settings):
    """Whatever the operator's environment restricts (CI exports a list): a test that is
    about the list sets its own."""
    settings.MAILINGS_SENDER_DOMAINS = []


def link_in(received) -> str:
    body = received.message.get_content()
    url = re.search(r"https?://\S+/senders/confirm/\S+/", body)[0]
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


def test_a_sender_is_usable_once_the_link_mailed_to_it_is_followed(
    owner, client, smtp_server, committed, settings
):
    response = committed(
        client.post, ADD, {"name": "Anna’s Bakery", "email": "news@bakery.example"}
    )

    assert response.status_code == 302
    sender = Sender.objects.get(owner=owner)
    assert sender.confirmed_at is None
    (mail,) = smtp_server.received
    assert mail.rcpt_tos == ["news@bakery.example"]
    assert owner.email in mail.message.get_content()
    link = link_in(mail)

    visitor = Client()  # the mailbox's owner need not be signed in
    page = visitor.get(link)
    assert page.status_code == 200 and "Confirm" in page.content.decode()
    sender.refresh_from_db()
    assert sender.confirmed_at is None  # a GET (a link scanner) confirms nothing
    assert visitor.post(link).status_code == 200
    sender.refresh_from_db()
    assert sender.confirmed_at is not None
    # A link works once: the state it was made for is gone.
    assert visitor.post(link).status_code == 400


@pytest.mark.parametrize("token", ["garbage", "x" * 5000, "MQ:1abc:def", "%00", "ünïcode-токен"])
def test_a_broken_link_is_a_clear_400(client, token):
    with warnings.catch_warnings():
        # The public page cache stays out of it: no key is made of what a visitor typed.
        warnings.simplefilter("error", CacheKeyWarning)
        response = client.get(f"/senders/confirm/{token}/")

    assert response.status_code == 400
    assert "not valid" in response.content.decode()


def test_changing_the_address_asks_for_a_new_confirmation(owner, client, committed, smtp_server):
    sender = Sender.objects.create(
        owner=owner, name="Shop", email="a@shop.example", confirmed_at=timezone.now()
    )
    edit = reverse("mailings_senders:edit", args=[sender.pk])

    committed(client.post, edit, {"name": "Shop news", "email": "A@shop.example"})
    sender.refresh_from_db()
    assert sender.confirmed_at is not None  # the case alone: the same mailbox
    assert smtp_server.received == []

    committed(client.post, edit, {"name": "Shop news", "email": "b@shop.example"})
    sender.refresh_from_db()
    assert sender.confirmed_at is None
    assert [m.rcpt_tos for m in smtp_server.received] == [["b@shop.example"]]


def test_an_unconfirmed_sender_cannot_be_chosen_and_the_form_says_why(owner, client):
    waiting = Sender.objects.create(owner=owner, name="Shop", email="news@shop.example")
    message = MessageFactory(owner=owner)
    reader = ClientFactory(owner=owner)
    form = {
        "name": "Weekly",
        "message": message.pk,
        "sender": waiting.pk,
        "clients": str(reader.pk),
        "start_at": "2030-01-01 10:00",
        "end_at": "2030-02-01 10:00",
        "periodicity": "weekly",
        "time_zone": "UTC",
        "is_enabled": "on",
    }

    response = client.post(reverse("mailings_mailings:add"), form)

    assert response.status_code == 200
    assert "news@shop.example is not confirmed yet" in response.content.decode()
    assert not Mailing.objects.filter(owner=owner).exists()
    waiting.confirmed_at = timezone.now()
    waiting.save()
    assert client.post(reverse("mailings_mailings:add"), form).status_code == 302
    assert Mailing.objects.get(owner=owner).sender == waiting


def test_another_users_sender_is_no_choice(owner, client):
    theirs = Sender.objects.create(
        owner=UserFactory(role="Users"), name="X", email="x@x.example", confirmed_at=timezone.now()
    )
    form = {"name": "W", "message": MessageFactory(owner=owner).pk, "sender": theirs.pk}

    response = client.post(reverse("mailings_mailings:add"), form)

    assert "Select a valid choice" in response.content.decode()
    assert client.get(reverse("mailings_senders:edit", args=[theirs.pk])).status_code == 404
    assert client.get(reverse("mailings_senders:send_link", args=[theirs.pk])).status_code == 404
    assert client.post(reverse("mailings_senders:send_link", args=[theirs.pk])).status_code == 404
    assert "x@x.example" not in client.get(reverse("mailings_senders:index")).content.decode()


@pytest.mark.parametrize(
    "address, allowed",
    [
        ("news@shop.example", True),
        ("news@mail.shop.example", True),  # a subdomain
        ("news@SHOP.EXAMPLE", True),
        ("news@evilshop.example", False),
        ("news@gmail.com", False),
    ],
)
def test_the_operator_restricts_sender_domains(owner, client, settings, address, allowed):
    settings.MAILINGS_SENDER_DOMAINS = ["shop.example"]

    response = client.post(ADD, {"name": "Shop", "email": address})

    assert Sender.objects.filter(owner=owner).exists() is allowed
    if not allowed:
        assert "only from addresses at shop.example" in response.content.decode()


def test_a_confirmed_sender_is_the_from_of_every_message_of_the_run(smtp_server, settings):
    settings.DEFAULT_FROM_EMAIL = "Mail service <bounces@service.example>"
    settings.MAILINGS_BOUNCE_ADDRESS = ""  # no VERP: one envelope sender for all
    owner = UserFactory(role="Users")
    sender = Sender.objects.create(
        owner=owner,
        name='Anna "Bakery", Ltd — Пекарня',
        email="news@bakery.example",
        reply_to="anna@bakery.example",
        confirmed_at=timezone.now(),
    )
    readers = [ClientFactory(owner=owner) for _ in range(5)]
    mailing = MailingFactory(owner=owner, clients=readers, start_at=timezone.now(), sender=sender)

    run_until_done(AttemptFactory(mailing=mailing).pk)

    assert len(smtp_server.received) == 5
    for received in smtp_server.received:
        mail = received.message
        assert mail["From"].addresses[0].display_name == 'Anna "Bakery", Ltd — Пекарня'
        assert mail["From"].addresses[0].addr_spec == "news@bakery.example"
        assert str(mail["Reply-To"]) == "anna@bakery.example"
        assert received.mail_from == "bounces@service.example"  # bounces come to the service


def test_without_a_sender_the_service_address_carries_the_owners_name(smtp_server, settings):
    settings.DEFAULT_FROM_EMAIL = "Mail service <bounces@service.example>"
    owner = UserFactory(role="Users", first_name="Nina", last_name="Novak")
    unconfirmed = Sender.objects.create(owner=owner, name="Not yet", email="n@n.example")
    mailing = MailingFactory(
        owner=owner, clients=[ClientFactory(owner=owner)], start_at=timezone.now()
    )
    Mailing.objects.filter(pk=mailing.pk).update(sender=unconfirmed)  # confirmation undone

    run_until_done(AttemptFactory(mailing=mailing).pk)

    (received,) = smtp_server.received
    assert parseaddr(str(received.message["From"])) == ("Nina Novak", "bounces@service.example")
    assert str(received.message["Reply-To"]) == owner.email
    assert senders.default_from(owner) == '"Nina Novak" <bounces@service.example>'


def test_a_run_keeps_the_sender_it_started_with(smtp_server):
    owner = UserFactory(role="Users")
    first = Sender.objects.create(
        owner=owner, name="First", email="first@shop.example", confirmed_at=timezone.now()
    )
    mailing = MailingFactory(
        owner=owner, clients=[ClientFactory(owner=owner)], start_at=timezone.now(), sender=first
    )
    attempt = AttemptFactory(mailing=mailing)
    from mailings import sending

    sending.prepare(attempt.pk)
    Sender.objects.filter(pk=first.pk).update(name="Renamed", email="other@shop.example")

    run_until_done(attempt.pk)

    assert smtp_server.received[0].message["From"].addresses[0].addr_spec == "first@shop.example"


def test_a_manager_sees_a_mailings_sender_but_no_senders_menu(client):
    owner = UserFactory(role="Users")
    sender = Sender.objects.create(
        owner=owner, name="Shop", email="news@shop.example", confirmed_at=timezone.now()
    )
    mailing = MailingFactory(owner=owner, sender=sender)
    client.force_login(UserFactory(role="Managers"))

    inspect = client.get(reverse("mailings_mailings:inspect", args=[mailing.pk]))

    assert "news@shop.example" in inspect.content.decode()
    assert client.get(reverse("mailings_senders:index")).status_code in (302, 403)
