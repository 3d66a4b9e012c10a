"""Benchmark: preparing a run whose recipients come from lists.

A run of 100,000 recipients drawn from three overlapping lists (each client in one, two or
three of them) against today's path, the same 100,000 clients chosen one by one, prepared in
the same run of this script: ``queue.fill``, one ``INSERT … SELECT`` each. Prints seconds
for each (best of ``--rounds``) and the ratio lists / single clients.

    .venv/bin/python bench/prepare_lists.py [--recipients 100000]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/mailing .venv/bin/python bench/prepare_lists.py

Target (issue 18): the same time order as today, ratio at most 3.
"""

from __future__ import annotations

import argparse
import time
from datetime import timedelta

from _django import bench_database

TARGET = 3.0


def build(recipients: int):
    from django.utils import timezone

    from mailings.models import Client, ClientList, Membership
    from tests.factories import MailingFactory, UserFactory

    owner = UserFactory()
    Client.objects.bulk_create(
        (
            Client(owner=owner, email=f"reader{i}@example.org", full_name=f"Reader {i}")
            for i in range(recipients)
        ),
        batch_size=5000,
    )
    ids = list(Client.objects.filter(owner=owner).order_by("pk").values_list("pk", flat=True))
    lists = [ClientList.objects.create(owner=owner, name=f"List {n}") for n in range(3)]
    # Overlapping thirds: [0, 45 %), [30 %, 75 %), [60 %, 100 %).
    bounds = [(0, 0.45), (0.30, 0.75), (0.60, 1.0)]
    for client_list, (low, high) in zip(lists, bounds, strict=True):
        chosen = ids[int(low * recipients) : int(high * recipients)]
        Membership.objects.bulk_create(
            (Membership(client_list=client_list, client_id=pk) for pk in chosen),
            batch_size=5000,
        )
    start = timezone.now() + timedelta(days=1)
    by_lists = MailingFactory(owner=owner, clients=[], start_at=start)
    by_lists.lists.set(lists)
    one_by_one = MailingFactory(owner=owner, clients=[], start_at=start)
    one_by_one.clients.set(ids)
    return by_lists, one_by_one


def prepare_seconds(mailing, day: int) -> tuple[float, int]:
    from mailings import queue
    from tests.factories import AttemptFactory

    attempt = AttemptFactory(mailing=mailing, scheduled_for=mailing.start_at + timedelta(days=day))
    started = time.perf_counter()
    queue.fill(attempt)
    seconds = time.perf_counter() - started
    return seconds, attempt.deliveries.count()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    with bench_database() as connection:
        by_lists, one_by_one = build(args.recipients)
        best = {"lists": float("inf"), "clients": float("inf")}
        for day in range(args.rounds):
            for name, mailing in (("clients", one_by_one), ("lists", by_lists)):
                seconds, made = prepare_seconds(mailing, day)
                assert made == args.recipients, (name, made)
                best[name] = min(best[name], seconds)
        ratio = best["lists"] / best["clients"]
        print(f"database: {connection.vendor}; {args.recipients:,} recipients per run")
        print(f"one by one (today's path): {best['clients']:.2f} s")
        print(f"from three overlapping lists: {best['lists']:.2f} s")
        verdict = "OK" if ratio <= TARGET else "OVER"
        print(f"ratio lists / one by one: {ratio:.2f} (target at most {TARGET:.0f}): {verdict}")


if __name__ == "__main__":
    main()
