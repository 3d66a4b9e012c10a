"""The dashboard panel: its figures equal the ledger, and its cost does not grow with it."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from mailings import ledger
from mailings.models import Attempt, Client, Delivery, Mailing
from tests.factories import MailingFactory, UserFactory

pytestmark = pytest.mark.django_db


def build_ledger(owner, *, attempts: int, per_attempt: int, days_ago: int = 1):
    mailing = MailingFactory(owner=owner)
    clients = Client.objects.bulk_create(
        Client(owner=owner, email=f"m{mailing.pk}-r{n}@example.org", full_name="R")
        for n in range(per_attempt)
    )
    statuses = ["sent", "sent", "failed", "skipped", "pending"]
    for a in range(attempts):
        attempt = Attempt.objects.create(
            mailing=mailing,
            scheduled_for=timezone.now() - timedelta(days=days_ago, minutes=a),
            status="success",
        )
        Delivery.objects.bulk_create(
            (
                Delivery(
                    attempt=attempt,
                    client=client,
                    email=client.email,
                    status=statuses[(n + a) % len(statuses)],
                )
                for n, client in enumerate(clients)
            ),
            batch_size=2000,
        )
        ledger.recount(attempt.pk)  # what the ledger does as it writes results
    return mailing


def sql_counts(owner=None):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT SUM(CASE WHEN d.status = 'sent' THEN 1 ELSE 0 END), "
            "SUM(CASE WHEN d.status = 'failed' THEN 1 ELSE 0 END) "
            "FROM mailings_delivery d JOIN mailings_attempt a ON a.id = d.attempt_id "
            "JOIN mailings_mailing m ON m.id = a.mailing_id "
            "WHERE %s IS NULL OR m.owner_id = %s",
            [owner and owner.pk, owner and owner.pk],
        )
        return cursor.fetchone()


def test_the_panel_shows_the_ledgers_figures(client):
    alice, bob = UserFactory(role="Users"), UserFactory(role="Users")
    build_ledger(alice, attempts=3, per_attempt=20)
    build_ledger(bob, attempts=2, per_attempt=10)
    Mailing.objects.filter(owner=alice).update(status="running")
    MailingFactory(owner=alice, is_enabled=False)
    client.force_login(alice)

    html = client.get("/admin/").content.decode()

    sent, failed = sql_counts(alice)
    assert 'data-figure="total">2<' in html
    assert 'data-figure="running">1<' in html
    assert 'data-figure="disabled">1<' in html
    assert f'data-figure="clients">{Client.objects.filter(owner=alice).count()}<' in html
    assert f'data-figure="sent">{sent}<' in html
    assert f'data-figure="failed">{failed}<' in html
    assert f'data-figure="success-rate">{round(100 * sent / (sent + failed), 1)}%<' in html
    assert "<svg" in html and html.count('fill="#2e7d5b"') == 30

    client.force_login(UserFactory(role="Managers"))
    site = client.get("/admin/").content.decode()
    all_sent, _ = sql_counts()
    assert "Mailings across the service" in site
    assert f'data-figure="sent">{all_sent}<' in site


def test_the_chart_speaks_svg_whatever_the_users_language(client):
    """Lengths in SVG take a decimal point: a Russian user's "54,0" was a console error for
    every bar (found by the browser journeys)."""
    from wagtail.users.models import UserProfile

    russian = UserFactory(role="Users")
    profile = UserProfile.get_for_user(russian)
    profile.preferred_language = "ru"
    profile.save()
    build_ledger(russian, attempts=1, per_attempt=3)
    client.force_login(russian)

    html = client.get("/admin/").content.decode()

    assert "Мои рассылки" in html
    lengths = re.findall(r'<rect x="([^"]*)" y="([^"]*)" width="([^"]*)" height="([^"]*)"', html)
    assert len(lengths) == 60
    assert [bar for bar in lengths if not all(re.fullmatch(r"-?\d+(\.\d+)?", v) for v in bar)] == []


@pytest.mark.parametrize(
    "path",
    [
        "/admin/",
        "/admin/mailings/failed-deliveries/",
        "/admin/mailings/attempts/",
        "/admin/mailings/mailings/",
    ],
)
def test_pages_cost_the_same_for_1000_and_100000_deliveries(client, path):
    owner = UserFactory(role="Users")
    client.force_login(owner)
    build_ledger(owner, attempts=1, per_attempt=1000)
    client.get(path)
    with CaptureQueriesContext(connection) as small:
        client.get(path)

    build_ledger(owner, attempts=99, per_attempt=1000, days_ago=2)
    with CaptureQueriesContext(connection) as large:
        response = client.get(path)

    assert response.status_code == 200
    assert Delivery.objects.count() == 100_000
    assert len(large) == len(small), [q["sql"][:120] for q in large.captured_queries]
