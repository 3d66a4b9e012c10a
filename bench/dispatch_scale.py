"""Benchmark: one scheduler tick with 1,000 and with 100,000 mailings in the database, 1 %
of them due. Prints the queries and the time of each tick, and the ratios.

    .venv/bin/python bench/dispatch_scale.py
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/mailing .venv/bin/python bench/dispatch_scale.py

Targets (issue 8): the same number of queries at both sizes; time ratio 100k/1k at most 2.
"""

from __future__ import annotations

import time
from datetime import timedelta

from _django import bench_database


def populate(owner, message, total: int, *, due_share: float = 0.01) -> None:
    from django.utils import timezone

    from mailings.models import Mailing

    now = timezone.now()
    due = int(total * due_share)
    batch = []
    for n in range(total):
        start = now - timedelta(hours=1) if n < due else now + timedelta(days=1 + n % 300)
        batch.append(
            Mailing(
                owner=owner,
                message=message,
                start_at=start,
                end_at=start + timedelta(days=30),
                periodicity="daily",
                next_run_at=start,
            )
        )
        if len(batch) == 5000:
            Mailing.objects.bulk_create(batch)
            batch = []
    Mailing.objects.bulk_create(batch)


def tick() -> tuple[int, float, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from mailings import dispatching

    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        runs = dispatching.dispatch_due()
        seconds = time.perf_counter() - started
    return len(queries), seconds, len(runs)


def main() -> None:
    with bench_database() as connection:
        from mailings.models import Attempt, Mailing, Message
        from tests.factories import UserFactory

        results = {}
        for total in (1_000, 100_000):
            Attempt.objects.all().delete()
            Mailing.objects.all().delete()
            owner = UserFactory()
            message = Message.objects.create(owner=owner, subject="S", body="B")
            populate(owner, message, total)
            results[total] = tick()

        print(f"database: {connection.vendor}")
        for total, (queries, seconds, runs) in results.items():
            line = f"{total:>7,} mailings: {runs:>5} runs created, {queries:>3} queries"
            print(f"{line}, {seconds:.3f} s")
        small, large = results[1_000], results[100_000]
        print(
            f"queries 100k/1k: {large[0]} vs {small[0]}"
            f" ({'same' if large[0] == small[0] else 'DIFFERENT'})"
        )
        print(f"time ratio 100k/1k: {large[1] / small[1]:.2f} (target at most 2)")


if __name__ == "__main__":
    main()
