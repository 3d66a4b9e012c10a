"""Benchmark: the admin's pages for a big business and a small one, side by side.

Seeds, with SQL (``generate_series``) on PostgreSQL: user **A** with ``--clients`` clients
(1,000,000), 200 mailings of 5,000 to 50,000 of them each, 10 runs per mailing (2,000) and
``--deliveries`` deliveries (5,000,000, 3 % failed) over those runs; user **B** with 1,000
clients, one mailing of all of them and two runs of 2,500 deliveries (5,000). Then asks each
page as A and as B, five times, and prints the median time and the queries of each, side by
side, with the ratio A / B. A manager's and a superuser's listings are asked too.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/mailing .venv/bin/python bench/admin_scale.py
    ... --clients 100000 --deliveries 500000     # a tenth, for a quicker look

Targets (issue 25): every page's time for A at most 3 x B's; the same number of queries.
"""

from __future__ import annotations

import argparse
import statistics
import time

from _django import bench_database

RUNS_PER_MAILING = 10
MAILINGS = 200
REPEAT = 5
TARGET = 3.0


def seed(connection, *, clients: int, deliveries: int) -> dict:
    from django.utils import timezone

    from mailings.models import Attempt, Client, Delivery, Mailing
    from tests.factories import MailingFactory, MessageFactory, UserFactory

    big, small = UserFactory(role="Users"), UserFactory(role="Users")
    now = timezone.now()
    client_table = Client._meta.db_table
    link_table = Mailing.clients.through._meta.db_table
    delivery_table = Delivery._meta.db_table
    started = time.perf_counter()
    with connection.cursor() as cursor:
        for owner, count in ((big, clients), (small, 1_000)):
            cursor.execute(
                f"INSERT INTO {client_table} (owner_id, email, full_name, comment, created_at, "  # noqa: S608
                "updated_at) SELECT %s, 'c' || i || '-' || %s || '@example.org', "
                "'Client ' || i, CASE WHEN i %% 10 = 0 THEN 'vip' ELSE '' END, %s, %s "
                "FROM generate_series(1, %s) AS i",
                [owner.pk, owner.pk, now, now, count],
            )
    message = MessageFactory(owner=big)
    mailings = [MailingFactory(owner=big, message=message) for _ in range(MAILINGS)]
    small_mailing = MailingFactory(owner=small, message=MessageFactory(owner=small))
    with connection.cursor() as cursor:
        for n, mailing in enumerate(mailings):
            size = 5_000 + (n * 45_000) // (MAILINGS - 1)
            cursor.execute(
                f"INSERT INTO {link_table} (mailing_id, client_id) "  # noqa: S608
                f"SELECT %s, id FROM {client_table} WHERE owner_id = %s "
                "ORDER BY id OFFSET %s LIMIT %s ON CONFLICT DO NOTHING",
                [mailing.pk, big.pk, (n * 4_999) % max(clients - size, 1), size],
            )
        cursor.execute(
            f"INSERT INTO {link_table} (mailing_id, client_id) "  # noqa: S608
            f"SELECT %s, id FROM {client_table} WHERE owner_id = %s ON CONFLICT DO NOTHING",
            [small_mailing.pk, small.pk],
        )
    runs = Attempt.objects.bulk_create(
        Attempt(
            mailing=mailing,
            scheduled_for=now - timezone.timedelta(days=day, minutes=n),
            attempted_at=now - timezone.timedelta(days=day, minutes=n),
            status="success",
        )
        for n, mailing in enumerate(mailings)
        for day in range(RUNS_PER_MAILING)
    )
    small_runs = Attempt.objects.bulk_create(
        Attempt(mailing=small_mailing, scheduled_for=now - timezone.timedelta(days=day))
        for day in range(2)
    )
    per_run = deliveries // len(runs)
    with connection.cursor() as cursor:
        for owner, attempts, count in ((big, runs, per_run), (small, small_runs, 2_500)):
            cursor.execute(
                f"INSERT INTO {delivery_table} (attempt_id, client_id, email, status, response, "  # noqa: S608
                "tries, sent_at) SELECT a.id, c.id, c.email, "
                "CASE WHEN c.id %% 33 = 0 THEN 'failed' ELSE 'sent' END, "
                "CASE WHEN c.id %% 33 = 0 THEN '550 5.1.1 no such user' ELSE '250 ok' END, "
                "1, %s FROM unnest(%s::bigint[]) AS a(id) CROSS JOIN LATERAL ("
                f"SELECT id, email FROM {client_table} "
                "WHERE owner_id = %s ORDER BY id OFFSET (a.id %% 97) * 10 LIMIT %s) AS c",
                [now, [run.pk for run in attempts], owner.pk, count],
            )
        cursor.execute(
            "UPDATE mailings_attempt AS a SET total = d.total, sent = d.sent, failed = d.failed "
            "FROM (SELECT attempt_id, count(*) AS total, "
            "count(*) FILTER (WHERE status = 'sent') AS sent, "
            "count(*) FILTER (WHERE status = 'failed') AS failed "
            "FROM mailings_delivery GROUP BY attempt_id) AS d WHERE d.attempt_id = a.id"
        )
        cursor.execute("ANALYZE")
    print(f"seeded in {time.perf_counter() - started:.0f} s", flush=True)
    biggest = max(mailings, key=lambda m: m.clients.count())
    return {
        "A": (big, biggest, runs[-1]),
        "B": (small, small_mailing, small_runs[0]),
    }


def timed(browser, url: str) -> tuple[float, int, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    times, queries, status = [], 0, 0
    for _ in range(REPEAT):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = browser.get(url)
            if response.streaming:
                for _chunk in response.streaming_content:
                    pass
            times.append(time.perf_counter() - started)
        queries, status = len(captured.captured_queries), response.status_code
    return statistics.median(times) * 1000, queries, status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=1_000_000)
    parser.add_argument("--deliveries", type=int, default=5_000_000)
    args = parser.parse_args()

    with bench_database() as connection:
        if connection.vendor != "postgresql":
            raise SystemExit("admin_scale.py seeds with PostgreSQL: set DATABASE_URL")
        from django.conf import settings
        from django.core.cache import cache
        from django.test import Client as Browser

        from home import counters
        from tests.factories import SuperuserFactory, UserFactory

        settings.ALLOWED_HOSTS = ["testserver"]
        settings.MAILINGS_EXPORT_IN_BACKGROUND_FROM = 10**9
        people = seed(connection, clients=args.clients, deliveries=args.deliveries)
        counters.refresh()
        pages = [
            ("dashboard", "/admin/"),
            ("mailings listing", "/admin/mailings/mailings/"),
            ("mailings by runs", "/admin/mailings/mailings/?ordering=-runs"),
            ("mailing edit", "/admin/mailings/mailings/edit/{mailing}/"),
            ("mailing inspect", "/admin/mailings/mailings/inspect/{mailing}/"),
            ("clients page 1", "/admin/mailings/clients/"),
            ("clients last page", "/admin/mailings/clients/?p={last_page}"),
            ("clients by email", "/admin/mailings/clients/?ordering=email"),
            ("clients by updated", "/admin/mailings/clients/?ordering=-updated_at"),
            ("client search", "/admin/mailings/clients/?q=client%2099"),
            ("picker search", "/admin/mailings/clients/search/?q=client%2099"),
            ("attempts listing", "/admin/mailings/attempts/"),
            ("a run's page", "/admin/mailings/attempts/inspect/{run}/"),
            ("failed deliveries", "/admin/mailings/failed-deliveries/"),
            ("failed, page 100", "/admin/mailings/failed-deliveries/?p=100"),
        ]
        print(f"{'page':<22} {'A ms':>9} {'A q':>4} {'B ms':>9} {'B q':>4} {'A/B':>6}")
        worst = 0.0
        for name, pattern in pages:
            row = {}
            for who, (owner, mailing, run) in people.items():
                browser = Browser()
                browser.force_login(owner)
                count = owner.clients.count()
                url = pattern.format(mailing=mailing.pk, run=run.pk, last_page=max(count // 50, 1))
                row[who] = timed(browser, url)
            ratio = row["A"][0] / row["B"][0]
            worst = max(worst, ratio)
            flag = "" if ratio <= TARGET and row["A"][1] == row["B"][1] else "  <-"
            print(
                f"{name:<22} {row['A'][0]:>9.1f} {row['A'][1]:>4} {row['B'][0]:>9.1f} "
                f"{row['B'][1]:>4} {ratio:>6.1f}{flag}",
                flush=True,
            )
        others = (("manager", UserFactory(role="Managers")), ("superuser", SuperuserFactory()))
        for who, user in others:
            browser = Browser()
            browser.force_login(user)
            for name, url in (
                ("mailings listing", "/admin/mailings/mailings/"),
                ("failed deliveries", "/admin/mailings/failed-deliveries/"),
            ):
                ms, queries, status = timed(browser, url)
                print(f"{who} {name:<30} {ms:>9.1f} ms {queries:>4} q ({status})")
        anonymous = Browser()
        cold = []
        for _ in range(REPEAT):
            cache.clear()
            started = time.perf_counter()
            anonymous.get("/")
            cold.append(time.perf_counter() - started)
        print(f"home page, cold cache: {statistics.median(cold) * 1000:.1f} ms")
        print(f"worst ratio A / B: {worst:.1f} (target {TARGET:.0f})")


if __name__ == "__main__":
    main()
