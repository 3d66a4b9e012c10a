"""Benchmark: one scheduler tick with 1,000 and with 100,000 mailings in the database, 1 %
of them due. Prints the queries and the time of each tick, and the ratios; and, for scale, how
long the ticks that follow each other take to dispatch every due mailing.

    .venv/bin/python bench/dispatch_scale.py
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/mailing .venv/bin/python bench/dispatch_scale.py

Targets (issue 8): the same number of queries at both sizes; time ratio 100k/1k at most 2.
"""

from __future__ import annotations

import statistics
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


def one_tick(repeat: int = 7) -> tuple[int, float, int]:
    """One scheduler tick, as the beat task runs it: queries, seconds (the median of
    ``repeat`` ticks, the same mailings made due again before each), runs created."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from mailings import dispatching
    from mailings.models import Attempt, Mailing

    times = []
    for n in range(repeat + 1):
        if n == 0:  # counted, not timed: capturing SQL costs time per parameter
            with CaptureQueriesContext(connection) as queries:
                result = dispatching.tick()
        else:
            started = time.perf_counter()
            result = dispatching.tick()
            times.append(time.perf_counter() - started)
        # Undo it: the same mailings are due again for the next measurement.
        runs = Attempt.objects.filter(pk__in=result.attempt_ids)
        for mailing_id, slot in runs.values_list("mailing_id", "scheduled_for"):
            Mailing.objects.filter(pk=mailing_id).update(next_run_at=slot)
        runs.delete()
        settle()
    return len(queries), statistics.median(times), len(result.attempt_ids)


def settle() -> None:
    """SQLite: fold the write-ahead log into the database now, so that a checkpoint caused by
    setting up (100,000 inserts) is not paid inside a measured tick."""
    from django.db import connection

    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def all_due() -> tuple[int, float, int]:
    """Ticks until nothing is due (a full tick is followed by the next at once)."""
    from mailings import dispatching

    started = time.perf_counter()
    ids = dispatching.tick_until_idle()
    return 0, time.perf_counter() - started, len(ids)


def main() -> None:
    with bench_database() as connection:
        from mailings.dispatching import TICK_BATCH
        from mailings.models import Attempt, Mailing, Message
        from tests.factories import UserFactory

        results = {}
        for total in (1_000, 100_000):
            for measure in (one_tick, all_due):
                Attempt.objects.all().delete()
                Mailing.objects.all().delete()
                owner = UserFactory()
                message = Message.objects.create(owner=owner, subject="S", body="B")
                populate(owner, message, total)
                measure()  # warm: the first statement of a kind pays for planning
                Attempt.objects.all().delete()
                Mailing.objects.all().delete()
                populate(owner, message, total)
                settle()
                results[total, measure.__name__] = measure()

        print(f"database: {connection.vendor}, at most {TICK_BATCH} due mailings per tick")
        for total in (1_000, 100_000):
            queries, seconds, runs = results[total, "one_tick"]
            _, all_seconds, all_runs = results[total, "all_due"]
            print(
                f"{total:>7,} mailings, {total // 100:>5,} due: one tick {queries} queries,"
                f" {seconds * 1000:7.1f} ms, {runs:>4} runs | all due: {all_runs:>5} runs in"
                f" {all_seconds:.3f} s"
            )
        small, large = results[1_000, "one_tick"], results[100_000, "one_tick"]
        same = "same" if large[0] == small[0] else "DIFFERENT"
        print(f"tick queries 100k/1k: {large[0]} vs {small[0]} ({same})")
        ratio = large[1] / small[1]
        verdict = "OK" if ratio <= 2 else "ABOVE"
        print(f"tick time ratio 100k/1k: {ratio:.2f} (target at most 2) {verdict}")


if __name__ == "__main__":
    main()
