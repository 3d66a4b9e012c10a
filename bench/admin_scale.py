"""Benchmark: the admin's pages for a big business and a small one, side by side.

Seeds, with SQL (``generate_series``) on PostgreSQL: user **A** with ``--clients`` clients
(1,000,000), 200 mailings of 5,000 to 50,000 of them each, 10 runs per mailing (2,000) and
``--deliveries`` deliveries (5,000,000, 3 % failed) over those runs; user **B** with 1,000
clients, 60 mailings (one of all of them, the others of 20 to 500) with a run each and 5,000
deliveries over those runs: more than a page of every listing, so that both users see pages
of 50 rows and the ratio measures the cost of the data's size, not of the rows drawn. Then
asks each page as A and as B, once unmeasured and then seven times in turn (A, B, A, B, ...),
and prints the median time and the queries of each, side by side, with the ratio A / B. A
manager's and a superuser's listings are asked too. The searches are for "client 1": a full
page for both (B: 112 matches; A: 111,112, a tenth of the clients, to sort and count).

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
SMALL_MAILINGS = 60  # more than a page of each listing: both users see full pages
SMALL_DELIVERIES = 5_000
MAILINGS = 200
REPEAT = 7
PER_PAGE = 50
TARGET = 3.0


def seed(connection, *, clients: int, deliveries: int) -> None:
    """Write the data set with a handful of SQL statements. Each owner's clients are inserted
    by one statement, so their ids are contiguous: mailings' members and runs' deliveries are
    computed from ids (``first + i``) instead of being looked up, and the run's delivery keeps
    the client's address by the same formula that wrote it."""
    from django.utils import timezone

    from mailings.models import Attempt, Client, Delivery, Mailing
    from tests.factories import MailingFactory, MessageFactory, UserFactory

    big, small = UserFactory(role="Users"), UserFactory(role="Users")
    now = timezone.now()
    client_table = Client._meta.db_table
    link_table = Mailing.clients.through._meta.db_table
    delivery_table = Delivery._meta.db_table
    started = time.perf_counter()
    first = {}
    tables = [client_table, link_table, delivery_table]
    with connection.cursor() as cursor:
        # Foreign keys are checked by triggers and indexes kept up row by row; the rows
        # written here are right by construction, so the checks are skipped and the indexes
        # (but the constraints') built once at the end, from the whole table.
        cursor.execute("SET session_replication_role = replica")
        cursor.execute("SET synchronous_commit = off")
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY(%s) "
            "AND indexname NOT IN (SELECT conname FROM pg_constraint)",
            [tables],
        )
        indexes = cursor.fetchall()
        for name, _definition in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
        for owner, count in ((big, clients), (small, 1_000)):
            cursor.execute(
                f"INSERT INTO {client_table} (owner_id, email, full_name, comment, created_at, "  # noqa: S608
                "updated_at) SELECT %s, 'c' || i || '-' || %s || '@example.org', "
                "'Client ' || i, CASE WHEN i %% 10 = 0 THEN 'vip' ELSE '' END, "
                "%s - i * interval '1 second', %s - i * interval '1 second' "
                "FROM generate_series(1, %s) AS i RETURNING id",
                [owner.pk, owner.pk, now, now, count],
            )
            ids = [row[0] for row in cursor.fetchall()]
            assert ids == list(range(ids[0], ids[0] + count)), "client ids are not contiguous"
            first[owner.pk] = ids[0]
    step(started, "clients")
    message = MessageFactory(owner=big)
    mailings = [MailingFactory(owner=big, message=message) for _ in range(MAILINGS)]
    small_message = MessageFactory(owner=small)
    small_mailings = [
        MailingFactory(owner=small, message=small_message) for _ in range(SMALL_MAILINGS)
    ]
    members = [
        (mailing, small, (n * 37) % 500, 1_000 if n == 0 else 20 + (n * 480) // SMALL_MAILINGS)
        for n, mailing in enumerate(small_mailings)
    ]
    for n, mailing in enumerate(mailings):
        size = min(5_000 + (n * 45_000) // (MAILINGS - 1), clients)
        members.append((mailing, big, (n * 4_999) % max(clients - size, 1), size))
    with connection.cursor() as cursor:
        for mailing, owner, offset, size in members:
            cursor.execute(
                f"INSERT INTO {link_table} (mailing_id, client_id) "  # noqa: S608
                "SELECT %s, %s + i FROM generate_series(%s, %s) AS i",
                [mailing.pk, first[owner.pk], offset, offset + size - 1],
            )
    step(started, "mailings' clients")
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
        Attempt(
            mailing=mailing,
            scheduled_for=now - timezone.timedelta(days=n % 30, minutes=n),
            attempted_at=now - timezone.timedelta(days=n % 30, minutes=n),
            status="success",
        )
        for n, mailing in enumerate(small_mailings)
    )
    per_run = min(deliveries // len(runs), clients)
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        for owner, attempts, count, owned in (
            (big, runs, per_run, clients),
            (small, small_runs, SMALL_DELIVERIES // SMALL_MAILINGS, 1_000),
        ):
            # Run r's deliveries go to ``count`` consecutive clients (mod the owner's), from
            # a start that moves with the run; every 33rd client's delivery failed.
            cursor.execute(
                f"INSERT INTO {delivery_table} (attempt_id, client_id, email, status, response, "  # noqa: S608
                "tries, sent_at) SELECT a.id, %(first)s + k.n, "
                "'c' || (k.n + 1) || '-' || %(owner)s || '@example.org', "
                "CASE WHEN k.n %% 33 = 0 THEN 'failed' ELSE 'sent' END, "
                "CASE WHEN k.n %% 33 = 0 THEN '550 5.1.1 no such user' ELSE '250 ok' END, "
                "1, %(now)s FROM unnest(%(runs)s::bigint[]) AS a(id) CROSS JOIN LATERAL ("
                "SELECT ((a.id * 7919) %% %(owned)s + i) %% %(owned)s AS n "
                "FROM generate_series(0, %(count)s - 1) AS i) AS k",
                {
                    "first": first[owner.pk],
                    "owner": owner.pk,
                    "now": now,
                    "runs": [run.pk for run in attempts],
                    "owned": owned,
                    "count": count,
                },
            )
        step(started, "deliveries")
        cursor.execute(
            "UPDATE mailings_attempt AS a SET total = d.total, sent = d.sent, failed = d.failed "
            "FROM (SELECT attempt_id, count(*) AS total, "
            "count(*) FILTER (WHERE status = 'sent') AS sent, "
            "count(*) FILTER (WHERE status = 'failed') AS failed "
            "FROM mailings_delivery GROUP BY attempt_id) AS d WHERE d.attempt_id = a.id"
        )
        cursor.execute("SET session_replication_role = DEFAULT")
        step(started, "runs' counts")
        cursor.execute("SET maintenance_work_mem = '512MB'")
        for _name, definition in indexes:
            cursor.execute(definition)
        step(started, f"{len(indexes)} indexes")
        # The steady state of a live database, where autovacuum has run: statistics, and a
        # visibility map that lets index-only scans skip the table.
        cursor.execute("VACUUM ANALYZE")
    print(f"seeded in {time.perf_counter() - started:.0f} s", flush=True)


def step(started: float, what: str) -> None:
    print(f"  {what} written at {time.perf_counter() - started:.0f} s", flush=True)


def people() -> dict:
    """The big and the small owner of a seeded database, with the biggest mailing of each
    and a run: found from the data, so that a kept database is measured again as it is."""
    from django.db.models import Count

    from accounts.models import User
    from mailings.models import Attempt, Mailing

    owners = list(User.objects.annotate(n=Count("clients")).filter(n__gt=0).order_by("-n"))
    if len(owners) < 2:
        raise SystemExit("no seeded data in this database")
    found = {}
    for who, owner in (("A", owners[0]), ("B", owners[-1])):
        mailing = (
            Mailing.objects.filter(owner=owner).annotate(n=Count("clients")).order_by("-n").first()
        )
        # A run with failures (its page offers "Retry failed deliveries") and the most rows.
        runs = Attempt.objects.filter(mailing__owner=owner, failed__gt=0)
        run = runs.order_by("-total", "-pk").first()
        found[who] = (owner, mailing, run)
    return found


def deep_failed_page(owner) -> int:
    """Page 100 of the failed deliveries, or the last full page of a shorter report."""
    from mailings.models import Delivery

    failed = Delivery.objects.filter(attempt__mailing__owner=owner, status="failed").count()
    return max(min(100, failed // PER_PAGE), 1)


def asked(browser, url: str) -> tuple[float, int, int]:
    """One request: seconds, queries, status."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        started = time.perf_counter()
        response = browser.get(url)
        if response.streaming:
            for _chunk in response.streaming_content:
                pass
        took = time.perf_counter() - started
    return took, len(captured.captured_queries), response.status_code


def timed(requests: dict) -> dict:
    """Each of ``requests`` (who -> browser, url) asked once unmeasured, then ``REPEAT``
    times in turn (A, B, A, B, ...), so that a busy moment of the machine falls on both:
    median milliseconds, queries and status of each."""
    for browser, url in requests.values():
        asked(browser, url)
    times = {who: [] for who in requests}
    last = {}
    for _ in range(REPEAT):
        for who, (browser, url) in requests.items():
            took, queries, status = asked(browser, url)
            times[who].append(took)
            last[who] = (queries, status)
    return {who: (statistics.median(times[who]) * 1000, *last[who]) for who in requests}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=1_000_000)
    parser.add_argument("--deliveries", type=int, default=5_000_000)
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the seeded database for the next run with --keep (which then skips seeding)",
    )
    args = parser.parse_args()

    with bench_database(keep=args.keep) as connection:
        if connection.vendor != "postgresql":
            raise SystemExit("admin_scale.py seeds with PostgreSQL: set DATABASE_URL")
        from django.conf import settings
        from django.core.cache import cache
        from django.test import Client as Browser

        from accounts.models import User
        from home import counters
        from mailings.models import Client
        from tests.factories import SuperuserFactory, UserFactory

        settings.ALLOWED_HOSTS = ["testserver"]
        settings.MAILINGS_EXPORT_IN_BACKGROUND_FROM = 10**9
        if not (args.keep and Client.objects.exists()):
            seed(connection, clients=args.clients, deliveries=args.deliveries)
        found = people()
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
            ("client search", "/admin/mailings/clients/?q=client%201"),
            ("picker search", "/admin/mailings/clients/search/?q=client%201"),
            ("attempts listing", "/admin/mailings/attempts/"),
            ("a run's page", "/admin/mailings/attempts/inspect/{run}/"),
            ("failed deliveries", "/admin/mailings/failed-deliveries/"),
            ("failed, deep page", "/admin/mailings/failed-deliveries/?p={deep_failed}"),
        ]
        print(f"{'page':<22} {'A ms':>9} {'A q':>4} {'B ms':>9} {'B q':>4} {'A/B':>6}")
        worst = 0.0
        for name, pattern in pages:
            requests = {}
            for who, (owner, mailing, run) in found.items():
                browser = Browser()
                browser.force_login(owner)
                url = pattern.format(
                    mailing=mailing.pk,
                    run=run.pk,
                    last_page=max(owner.clients.count() // PER_PAGE, 1),
                    deep_failed=deep_failed_page(owner),
                )
                requests[who] = (browser, url)
            row = timed(requests)
            ratio = row["A"][0] / row["B"][0]
            worst = max(worst, ratio)
            flag = "" if ratio <= TARGET and row["A"][1] == row["B"][1] else "  <-"
            print(
                f"{name:<22} {row['A'][0]:>9.1f} {row['A'][1]:>4} {row['B'][0]:>9.1f} "
                f"{row['B'][1]:>4} {ratio:>6.1f}{flag}",
                flush=True,
            )
        manager = User.objects.filter(groups__name="Managers").first()
        superuser = User.objects.filter(is_superuser=True).first()
        others = (
            ("manager", manager or UserFactory(role="Managers")),
            ("superuser", superuser or SuperuserFactory()),
        )
        for who, user in others:
            browser = Browser()
            browser.force_login(user)
            for name, url in (
                ("mailings listing", "/admin/mailings/mailings/"),
                ("failed deliveries", "/admin/mailings/failed-deliveries/"),
            ):
                ms, queries, status = timed({who: (browser, url)})[who]
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
