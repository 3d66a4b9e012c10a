"""Issue 15, item 3: a client with an internationalised address gets its mail when it can be
sent (the domain in IDNA form; a non-ASCII mailbox name over SMTPUTF8), else that one
delivery fails with the reason. It never fails the run, and never counts against the mail
server (the circuit breaker, shared by every user, stays closed)."""

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.utils import timezone

from mailings import smtp
from mailings.guards import CircuitBreaker
from mailings.models import Attempt, Delivery
from tests.factories import AttemptFactory, ClientFactory, MailingFactory, UserFactory
from tests.support.runs import run_until_done
from tests.support.smtp import TestSMTPServer, point_django_mail_at

pytestmark = pytest.mark.django_db

IDN_DOMAIN = "user@пример.рф"
IDN_MAILBOX = "пользователь@пример.рф"
PUNYCODE = "xn--e1afmkfd.xn--p1ai"


def run_to(addresses):
    owner = UserFactory(role="Users")
    clients = [ClientFactory(owner=owner, email=address) for address in addresses]
    mailing = MailingFactory(owner=owner, clients=clients, start_at=timezone.now())
    attempt = AttemptFactory(mailing=mailing)
    return run_until_done(attempt.pk), clients


def breaker_failures() -> int:
    config = smtp.ServerConfig.from_settings(django_settings)
    key = CircuitBreaker(config.key, threshold=1, cooldown=1).key
    return cache.get(f"{key}:failures") or 0, cache.get(f"{key}:open_until")


@pytest.mark.parametrize("smtputf8", [False, True], ids=["plain-server", "smtputf8-server"])
def test_an_idn_client_never_fails_the_run_or_the_server(settings, smtputf8):
    settings.MAILINGS_BREAKER_THRESHOLD = 2
    with TestSMTPServer(smtputf8=smtputf8) as server:
        point_django_mail_at(settings, server.port)
        done, _ = run_to(["a@example.com", IDN_DOMAIN, IDN_MAILBOX, "z@example.com"])
        recipients = sorted(r for message in server.received for r in message.rcpt_tos)

    by_address = {
        d.client.email: d for d in Delivery.objects.filter(attempt=done).select_related("client")
    }
    assert by_address["a@example.com"].status == by_address["z@example.com"].status == "sent"
    assert by_address[IDN_DOMAIN].status == "sent"
    expected = ["a@example.com", f"user@{PUNYCODE}", "z@example.com"]
    if smtputf8:
        expected.insert(0, f"пользователь@{PUNYCODE}")
        assert (done.status, done.sent, done.failed) == (Attempt.Status.SUCCESS, 4, 0)
    else:
        failed = by_address[IDN_MAILBOX]
        assert failed.status == "failed"
        assert failed.response == (
            "permanent: address not supported: the mail server does not take non-ASCII "
            "mailbox names (no SMTPUTF8)"
        )
        assert (done.sent, done.failed) == (3, 1)
    assert sorted(recipients) == sorted(expected)
    assert breaker_failures() == (0, None)


def test_an_address_whose_domain_is_no_valid_idn_fails_alone(settings):
    with TestSMTPServer() as server:
        point_django_mail_at(settings, server.port)
        done, _ = run_to(["a@example.com", "b@bad-\u0378.рф"])
        delivered = [r for message in server.received for r in message.rcpt_tos]

    assert delivered == ["a@example.com"]
    failed = Delivery.objects.get(attempt=done, status="failed")
    assert failed.response.startswith("permanent: address not supported: the domain is not")
    assert breaker_failures() == (0, None)
