"""Lists as a mailing's audience, resolved at each run; bounces during the SMTP conversation;
the envelope sender that names each delivery (VERP)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.test import Client as Browser
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from mailings import bounces, queue
from mailings.models import Attempt, Client, ClientList, Delivery, Membership
from tests.factories import AttemptFactory, ClientFactory, MailingFactory, UserFactory
from tests.support.runs import run_until_done


def make_list(owner, name, clients):
    client_list = ClientList.objects.create(owner=owner, name=name)
    Membership.objects.bulk_create(Membership(client_list=client_list, client=c) for c in clients)
    return client_list


def next_run(mailing, days: int) -> Attempt:
    return AttemptFactory(mailing=mailing, scheduled_for=mailing.start_at + timedelta(days=days))


@pytest.fixture
def audience(db):
    owner = UserFactory(role="Users")
    clients = [ClientFactory(owner=owner, email=f"c{i}@example.org") for i in range(5)]
    first = make_list(owner, "Customers", clients[:3])
    second = make_list(owner, "Newsletter", clients[2:4])  # clients[2] is in both
    mailing = MailingFactory(owner=owner, clients=[clients[4]], start_at=timezone.now())
    mailing.lists.set([first, second])
    return mailing, clients, first


def test_a_client_added_to_the_list_later_gets_the_next_run_and_one_in_two_lists_gets_one(
    faulty_smtp, audience
):
    mailing, clients, first = audience

    run_until_done(next_run(mailing, 0).pk)
    assert dict(faulty_smtp.accepted) == {c.email: 1 for c in clients}  # c2 once, not twice

    newcomer = ClientFactory(owner=mailing.owner, email="late@example.org")
    Membership.objects.create(client_list=first, client=newcomer)
    done = run_until_done(next_run(mailing, 1).pk)

    assert faulty_smtp.accepted["late@example.org"] == 1
    assert dict(faulty_smtp.accepted) == {**{c.email: 2 for c in clients}, newcomer.email: 1}
    assert (done.total, done.sent) == (6, 6)


def test_unsubscribed_and_bounced_clients_are_skipped_and_counted_apart(faulty_smtp, audience):
    mailing, clients, _first = audience
    now = timezone.now()
    Client.objects.filter(pk=clients[0].pk).update(unsubscribed_at=now)
    Client.objects.filter(pk=clients[1].pk).update(bounced_at=now, bounce_reason="550 5.1.1")

    done = run_until_done(next_run(mailing, 0).pk)

    assert (done.total, done.sent, done.skipped) == (5, 3, 2)
    skipped = dict(
        Delivery.objects.filter(attempt=done, status="skipped").values_list("client", "response")
    )
    assert skipped == {clients[0].pk: "unsubscribed", clients[1].pk: "bounced"}
    assert clients[0].email not in faulty_smtp.accepted
    assert clients[1].email not in faulty_smtp.accepted
    browser = Browser()
    browser.force_login(mailing.owner)
    page = browser.get(f"/admin/mailings/attempts/inspect/{done.pk}/").content.decode()
    assert re.search(r"Skipped:\s*bounced 1, unsubscribed 1", page)


def test_a_550_5_1_1_bounces_the_client_and_the_next_run_skips_it(faulty_smtp, audience):
    mailing, clients, _first = audience
    faulty_smtp.reject = {clients[3].email}

    first = run_until_done(next_run(mailing, 0).pk)

    dead = Client.objects.get(pk=clients[3].pk)
    assert dead.bounced_at is not None
    assert "5.1.1" in dead.bounce_reason
    delivery = Delivery.objects.get(attempt=first, client=dead)
    assert (delivery.status, delivery.bounce) == ("failed", "hard")

    faulty_smtp.reject = set()  # it would accept now: the run must not even try
    second = run_until_done(next_run(mailing, 1).pk)

    assert Delivery.objects.get(attempt=second, client=dead).response == "bounced"
    assert (second.sent, second.skipped) == (4, 1)
    assert faulty_smtp.accepted[dead.email] == 0


def test_a_refusal_of_the_message_itself_does_not_suppress_the_address(faulty_smtp, audience):
    mailing, clients, _first = audience
    faulty_smtp.reject_data = {clients[0].email}  # 554 5.7.1 refused for its content

    done = run_until_done(next_run(mailing, 0).pk)

    assert Delivery.objects.get(attempt=done, client=clients[0]).status == "failed"
    assert Client.objects.get(pk=clients[0].pk).bounced_at is None


def test_soft_bounces_in_a_row_suppress_after_the_limit(faulty_smtp, audience, settings):
    mailing, clients, _first = audience
    settings.MAILINGS_MAX_TRIES = 1
    settings.MAILINGS_SOFT_BOUNCE_LIMIT = 2
    faulty_smtp.greylist = {clients[0].email}  # a 451 each time: greylisted is reset below

    for day in range(2):
        faulty_smtp.greylisted.clear()
        run_until_done(next_run(mailing, day).pk)
        if day == 0:
            assert Client.objects.get(pk=clients[0].pk).bounced_at is None  # one is not enough

    bounced = Client.objects.get(pk=clients[0].pk)
    assert bounced.bounced_at is not None
    assert list(Delivery.objects.filter(client=bounced).values_list("bounce", flat=True)) == [
        "soft",
        "soft",
    ]


def test_a_run_s_recipients_are_one_statement_whatever_the_lists(audience):
    mailing, _clients, first = audience
    owner = mailing.owner

    def statements_to_fill(extra: int) -> int:
        new = Client.objects.bulk_create(
            Client(owner=owner, email=f"x{extra}-{i}@example.org", full_name="X")
            for i in range(extra)
        )
        Membership.objects.bulk_create(Membership(client_list=first, client=c) for c in new)
        attempt = next_run(mailing, extra)
        with CaptureQueriesContext(connection) as queries:
            queue.fill(attempt)
        assert attempt.deliveries.count() == 5 + extra
        return sum(1 for q in queries.captured_queries if q["sql"].startswith("INSERT"))

    assert statements_to_fill(0) == statements_to_fill(300) == 1


def test_the_database_refuses_a_list_member_or_a_mailing_list_of_another_owner(audience):
    mailing, _clients, first = audience
    stranger = ClientFactory()
    other_list = ClientList.objects.create(owner=stranger.owner, name="Theirs")

    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(client_list=first, client=stranger)
    with pytest.raises(IntegrityError), transaction.atomic():
        mailing.lists.add(other_list)


def test_the_envelope_sender_names_each_delivery_and_is_signed(faulty_smtp, audience, settings):
    settings.MAILINGS_BOUNCE_ADDRESS = "bounces@bounce.example.com"
    mailing, _clients, _first = audience

    done = run_until_done(next_run(mailing, 0).pk)

    by_address = {rcpt[0]: sender for sender, rcpt in faulty_smtp.envelopes}
    for delivery in Delivery.objects.filter(attempt=done):
        sender = by_address[delivery.email]
        assert sender.startswith("bounces+") and sender.endswith("@bounce.example.com")
        assert len(sender.partition("@")[0]) <= 64
        assert bounces.delivery_of(sender) == delivery.pk
        assert bounces.delivery_of(sender.upper()) == delivery.pk  # servers may fold case


def test_a_forged_or_foreign_verp_address_names_nothing(settings):
    settings.MAILINGS_BOUNCE_ADDRESS = "bounces@bounce.example.com"
    real = bounces.verp_address(12345)
    token, _signature = real.partition("+")[2].partition("@")[0].split("-")
    other = bounces.verp_address(12346).partition("+")[2].partition("@")[0].split("-")[1]

    assert bounces.delivery_of(real) == 12345
    assert bounces.delivery_of(real.replace(token, "9iy", 1)) is None  # another id, same seal
    assert bounces.delivery_of(f"bounces+{token}-{other}@bounce.example.com") is None
    assert bounces.delivery_of(f"bounces+{token}-{'0' * 16}@bounce.example.com") is None
    assert bounces.delivery_of("bounces@bounce.example.com") is None
    assert bounces.delivery_of("") is None

    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a-new-key-after-rotation-" + "x" * 40
    assert bounces.delivery_of(real) == 12345  # mail sent before a key rotation still counts


@pytest.mark.parametrize(
    ("status", "diagnostic", "action", "kind"),
    [
        (
            "5.1.1",
            "smtp; 550 5.1.1 <a@b>: Recipient address rejected: User unknown",
            "failed",
            "hard",
        ),
        (
            "5.0.0",
            "smtp; 550-5.1.1 The email account that you tried to reach does not exist",
            "failed",
            "hard",
        ),
        ("5.1.10", "smtp; 550 5.1.10 RESOLVER.ADR.RecipientNotFound; not found", "failed", "hard"),
        (
            "5.5.0",
            "smtp; 550 5.5.0 Requested action not taken: mailbox unavailable (S2017062302)",
            "failed",
            "hard",
        ),
        (
            "5.4.1",
            "smtp; 550 5.4.1 Recipient address rejected: Access denied. AS(201806281)",
            "failed",
            "hard",
        ),
        ("5.0.0", "smtp; 552 1 Requested mail action aborted, mailbox not found", "failed", "hard"),
        ("5.2.2", "smtp; 552 5.2.2 The email account is over quota", "failed", "soft"),
        ("4.4.7", "delivery time expired", "failed", "soft"),
        (
            "5.7.1",
            "smtp; 550 5.7.1 Part of their network is on our block list (S3150)",
            "failed",
            "policy",
        ),
        ("5.7.9", "smtp; 554 5.7.9 Message not accepted for policy reasons", "failed", "policy"),
        (
            "5.7.26",
            "smtp; 550 5.7.26 Unauthenticated email is not accepted (DMARC)",
            "failed",
            "policy",
        ),
        ("4.4.1", "smtp; 421 4.4.1 connection timed out", "delayed", ""),
        ("2.0.0", "smtp; 250 2.0.0 OK", "delivered", ""),
    ],
)
def test_what_a_refusal_means(status, diagnostic, action, kind):
    assert bounces.classify(status, diagnostic, action=action) == kind
