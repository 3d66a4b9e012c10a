"""Benchmark: CSV import of clients, 100,000 rows, in bounded memory.

Prints rows per second and the peak growth of resident memory during the import, for a
1,000-row and a 100,000-row file, and the import's speed as a ratio of a plain
``bulk_create`` of the same rows (the floor: no CSV, no validation, no merging), all measured
in the same run.

    .venv/bin/python bench/import_clients.py [--rows 100000]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/mailing .venv/bin/python bench/import_clients.py

Target: peak memory growth under 100 MB at 100,000 rows.
"""

from __future__ import annotations

import argparse
import csv
import gc
import tempfile
import time
from pathlib import Path

from _django import bench_database, reset_rss_peak, rss_now_kb, rss_peak_kb

MEMORY_LIMIT_MB = 100


def write_csv(path: Path, rows: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(["email", "full_name", "comment"])
        for i in range(rows):
            # Every 50th row repeats an earlier address in another case; every 97th is broken.
            if i % 97 == 96:
                writer.writerow([f"broken-{i}", f"Broken {i}", ""])
            elif i % 50 == 49:
                writer.writerow([f"CLIENT{i - 10}@EXAMPLE.ORG", f"Client {i - 10} again", "dup"])
            else:
                writer.writerow([f"client{i}@example.org", f"Client {i}", f"imported row {i}"])


def measure_import(owner, path: Path) -> dict:
    from mailings.importing import clients_import

    gc.collect()
    before = rss_now_kb()
    exact = reset_rss_peak()
    started = time.perf_counter()
    with path.open("rb") as handle:
        report = clients_import(owner=owner, file=handle)
    seconds = time.perf_counter() - started
    growth_mb = (rss_peak_kb() - before) / 1024
    return {
        "rows": report.created + report.updated + report.merged + report.invalid,
        "created": report.created,
        "merged": report.merged,
        "invalid": report.invalid,
        "seconds": seconds,
        "rows_per_s": (report.created + report.merged + report.invalid) / seconds,
        "peak_growth_mb": growth_mb,
        "exact_peak": exact,
    }


def measure_bulk_create(owner, rows: int) -> float:
    from mailings.models import Client

    started = time.perf_counter()
    batch = []
    for i in range(rows):
        batch.append(Client(owner=owner, email=f"floor{i}@example.org", full_name=f"Floor {i}"))
        if len(batch) == 1000:
            Client.objects.bulk_create(batch)
            batch = []
    Client.objects.bulk_create(batch)
    return rows / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()

    with bench_database() as connection, tempfile.TemporaryDirectory() as tmp:
        from tests.factories import UserFactory

        small, large = Path(tmp) / "small.csv", Path(tmp) / "large.csv"
        write_csv(small, 1_000)
        write_csv(large, args.rows)

        results = {
            "1,000 rows": measure_import(UserFactory(), small),
            f"{args.rows:,} rows": measure_import(UserFactory(), large),
        }
        floor = measure_bulk_create(UserFactory(), args.rows)

        print(f"database: {connection.vendor}")
        header = f"{'file':>14} {'rows/s':>10} {'seconds':>8} {'peak RSS growth':>16}"
        print(header + "  created/merged/invalid")
        for name, r in results.items():
            print(
                f"{name:>14} {r['rows_per_s']:>10,.0f} {r['seconds']:>8.2f} "
                f"{r['peak_growth_mb']:>13.1f} MB  {r['created']}/{r['merged']}/{r['invalid']}"
                + ("" if r["exact_peak"] else "  (peak not resettable: upper bound)")
            )
        big = results[f"{args.rows:,} rows"]
        print(f"floor (bulk_create of {args.rows:,} prepared rows): {floor:,.0f} rows/s")
        print(f"ratio import / floor: {big['rows_per_s'] / floor:.2f}")
        verdict = "OK" if big["peak_growth_mb"] < MEMORY_LIMIT_MB else "OVER"
        print(
            f"peak memory growth at {args.rows:,} rows: {big['peak_growth_mb']:.1f} MB "
            f"(limit {MEMORY_LIMIT_MB} MB): {verdict}"
        )


if __name__ == "__main__":
    main()
